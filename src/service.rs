//! `slipguard run`: the process around the daemon. Logging to stderr (journald picks it up
//! under systemd), the tokio runtime, systemd notifications, and signals: SIGTERM and SIGINT
//! stop accepting and drain within the stop timeout, then the process exits 0.

use crate::config::Config;
use crate::daemon::{notify, Daemon};
use crate::profiles::Profiles;
use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

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

/// Run the daemon until SIGTERM or SIGINT.
pub fn run(cfg: Config, profiles: Profiles) -> anyhow::Result<()> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("slipguard")
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(serve(cfg, profiles))?;
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

async fn serve(cfg: Config, profiles: Profiles) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut daemon = Daemon::start_with(&cfg, &profiles, inherited_sockets()).await?;
    let control = cfg
        .runtime_dir_or_default()
        .join(crate::daemon::control::SOCKET);
    daemon.listen_control(&control)?;
    match &cfg.origin {
        Some(p) => eprintln!("slipguard: configuration {}", p.display()),
        None => eprintln!(
            "slipguard: no configuration file ({}): running the embedded default",
            crate::config::DEFAULT_PATH
        ),
    }
    let mut addrs = daemon.addrs().iter();
    for l in &cfg.listeners {
        let printer = cfg
            .printers
            .iter()
            .find(|p| p.name == l.printer)
            .expect("checked at load");
        let at = match &l.protocol {
            crate::config::Protocol::Folder { path } => path.display().to_string(),
            _ => addrs.next().expect("bound").to_string(),
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
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => tracing::warn!(
                "SIGHUP: reloading is not available in this version; restart to apply changes"
            ),
        }
    }
    tracing::info!("stopping: no new jobs; finishing the ones in flight");
    notify::notify("STOPPING=1");
    if let Some(w) = watchdog {
        w.abort();
    }
    let unprinted = daemon.shutdown(cfg.limits.stop_timeout).await;
    tracing::info!(unprinted, "stopped");
    Ok(())
}
