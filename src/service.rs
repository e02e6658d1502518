//! `slipguard run`: the process around the daemon. Logging to stderr (journald picks it up
//! under systemd), the tokio runtime, systemd notifications, and signals: SIGTERM and SIGINT
//! stop accepting and drain within the stop timeout, then the process exits 0. SIGHUP, and a
//! change to the configuration file or the profile directory, reload: a configuration that
//! does not load is refused with its error and the running one stays.

use crate::config::Config;
use crate::daemon::{notify, Daemon};
use crate::profiles::Profiles;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Log lines go to stderr; `SLIPGUARD_LOG` (as `info`, `debug`, `slipguard=debug`) sets how
/// much. Set once per process.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// The profile search path: `--profile-dir`, else the configuration's `profile_dir`.
pub fn profiles_for(cli_dir: Option<&Path>, cfg: &Config) -> Profiles {
    Profiles::new(cli_dir.or(cfg.profile_dir.as_deref()))
}

/// Run the daemon until SIGTERM or SIGINT. `profile_dir`: `--profile-dir`, which wins over
/// the configuration's.
pub fn run(cfg: Config, profile_dir: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging();
    no_core_dumps();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("slipguard")
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(serve(cfg, profile_dir))?;
    // A device write stuck on a printer that stopped reading must not hold up the exit.
    rt.shutdown_background();
    Ok(())
}

/// Listening sockets systemd handed over (socket activation, `LISTEN_FDS`).
fn inherited_sockets() -> Vec<std::net::TcpListener> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut out = Vec::new();
    for i in 0..fds.len() {
        match fds.take_tcp_listener(i) {
            Ok(Some(l)) => out.push(l),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(fd = i + 3, error = %e, "a socket from systemd is not a TCP listener")
            }
        }
    }
    out
}

/// Watch the configuration file and the profile directory; every relevant event is a
/// message on the returned channel. (Editors replace files by renaming: the file's
/// directory is watched, and events for other files in it are ignored.)
fn watch_files(
    cfg: &Config,
    profile_dir: Option<&Path>,
) -> (
    Option<::notify::RecommendedWatcher>,
    mpsc::UnboundedReceiver<()>,
) {
    use ::notify::Watcher as _;
    let (tx, rx) = mpsc::unbounded_channel();
    let config = cfg.origin.clone();
    let profiles = profile_dir
        .map(Path::to_path_buf)
        .or(cfg.profile_dir.clone());
    if config.is_none() && profiles.is_none() {
        return (None, rx);
    }
    let (c, p) = (config.clone(), profiles.clone());
    let watcher = ::notify::recommended_watcher(move |res: ::notify::Result<::notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, ::notify::EventKind::Access(_)) {
            return;
        }
        let relevant = ev.paths.iter().any(|x| {
            c.as_deref()
                .is_some_and(|c| x == c || x.file_name() == c.file_name())
                || p.as_deref().is_some_and(|p| x.starts_with(p))
        });
        if relevant {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the configuration for changes; SIGHUP reloads");
            return (None, rx);
        }
    };
    let dirs = [
        config
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf),
        profiles,
    ];
    for d in dirs.into_iter().flatten() {
        let d = if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d
        };
        if let Err(e) = watcher.watch(&d, ::notify::RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "cannot watch for changes; SIGHUP reloads");
        }
    }
    (Some(watcher), rx)
}

/// Load the configuration again and apply it; on any error the running one stays.
async fn reload(daemon: &mut Daemon, current: &mut Config, profile_dir: Option<&Path>, why: &str) {
    let Some(path) = current.origin.clone() else {
        tracing::info!("{why}: running the embedded default; there is no file to reload");
        return;
    };
    let cfg = match Config::load(Some(&path)) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("{why}: configuration not reloaded, the running one stays: {e:#}");
            return;
        }
    };
    let profiles = profiles_for(profile_dir, &cfg);
    match daemon.reload(&cfg, &profiles).await {
        Ok(()) => {
            tracing::info!(
                printers = cfg.printers.len(),
                listeners = cfg.listeners.len(),
                "{why}: configuration reloaded"
            );
            *current = cfg;
        }
        Err(e) => {
            tracing::error!("{why}: configuration not reloaded, the running one stays: {e:#}")
        }
    }
}

async fn serve(cfg: Config, profile_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let profiles = profiles_for(profile_dir.as_deref(), &cfg);
    let mut daemon = Daemon::start_with(&cfg, &profiles, inherited_sockets()).await?;
    let control = cfg
        .runtime_dir_or_default()
        .join(crate::daemon::control::SOCKET);
    daemon.listen_control(&control)?;
    match &cfg.origin {
        Some(p) => eprintln!("slipguard: configuration {}", p.display()),
        None => eprintln!(
            "slipguard: running the embedded default configuration (a raw listener on 127.0.0.1:9100, one file per job into ./{}); {} is not read",
            crate::config::DEFAULT_OUT_DIR,
            crate::config::DEFAULT_PATH
        ),
    }
    let mut addrs = daemon.addrs().into_iter();
    for l in &cfg.listeners {
        let at = match &l.protocol {
            crate::config::Protocol::Folder { path } => path.display().to_string(),
            _ => addrs.next().expect("bound").to_string(),
        };
        let Some(printer) = cfg
            .printers
            .iter()
            .find(|p| Some(&p.name) == l.printer.as_ref())
        else {
            eprintln!(
                "slipguard: listening on {} {at} for every printer",
                l.protocol.name()
            );
            continue;
        };
        eprintln!(
            "slipguard: listening on {} {at} for printer `{}` ({}), printing to {}",
            l.protocol.name(),
            printer.name,
            printer.profile,
            printer.device
        );
    }
    eprintln!("slipguard: control socket {}", control.display());
    if daemon.spooling() {
        let secs = cfg.retention.duration().as_secs();
        let window = match secs % 60 {
            0 => format!("{}m", secs / 60),
            _ => format!("{secs}s"),
        };
        eprintln!(
            "slipguard: spool {} (keys in {}), jobs kept {window}",
            cfg.state_dir_or_default().join("spool").display(),
            cfg.runtime_dir_or_default().join("keys").display()
        );
    } else {
        eprintln!("slipguard: no spool (see the error above): every job is refused until it can be opened (restart once the disk is fixed)");
    }
    notify::notify("READY=1");
    let watchdog = notify::watchdog_interval().map(|every| {
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                notify::notify("WATCHDOG=1");
            }
        })
    });
    let (_watcher, mut changes) = watch_files(&cfg, profile_dir.as_deref());
    let mut current = cfg;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&mut daemon, &mut current, profile_dir.as_deref(), "SIGHUP").await,
            Some(()) = changes.recv() => {
                // Let a burst of changes (an editor saving, a deployment) settle first.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                while changes.try_recv().is_ok() {}
                reload(&mut daemon, &mut current, profile_dir.as_deref(), "file changed").await;
            }
        }
    }
    tracing::info!("stopping: no new jobs; finishing the ones in flight");
    notify::notify("STOPPING=1");
    if let Some(w) = watchdog {
        w.abort();
    }
    let unprinted = daemon.shutdown(current.limits.stop_timeout).await;
    tracing::info!(unprinted, "stopped");
    Ok(())
}

/// Keep slips and spool keys out of core dumps and out of other processes' reach, before
/// any job arrives: the process is made non-dumpable (`PR_SET_DUMPABLE` 0: no core file,
/// and its `/proc/PID` files, memory included, belong to root, so another process of the
/// same user can neither read them nor attach a debugger), and its core size limit is set to
/// 0 (which systemd-coredump and apport honour even where `fs.suid_dumpable` is 2 and would
/// dump a non-dumpable process for root). The unit also sets `LimitCORE=0`; its seccomp
/// filter refuses `setrlimit`, which is then logged at debug level only.
pub fn no_core_dumps() {
    use rustix::process::{set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit};
    if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        tracing::warn!(error = %e, "cannot make the process non-dumpable (prctl PR_SET_DUMPABLE); a crash could leave a core dump with slip text");
    }
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = setrlimit(Resource::Core, none) {
        tracing::debug!(error = %e, "core size limit not set to 0 here (setrlimit)");
    }
}
