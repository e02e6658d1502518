//! The control socket: a Unix socket in the runtime directory (mode 0600) that answers
//! `slipguard status`. One request line, one JSON answer, then the connection closes. It
//! reports counts and states only, never slip content.

use super::printer::Stats;
use super::spooling::{lock, SharedSpool};
use crate::core::redact::Kind;
use crate::spool::{EntryId, Meta, State, SweepReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::watch;

/// The name of the control socket in the runtime directory.
pub const SOCKET: &str = "control.sock";

/// What `status` answers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub uptime_s: u64,
    pub printers: Vec<PrinterStatus>,
    /// Jobs in redaction now, the most at once since start, and the limit
    /// (`max_redactions`).
    #[serde(default)]
    pub redactions: RedactionStatus,
    /// Job bytes held in memory now (being received, or waiting for a printer), the most at
    /// once since start, and the limit (`max_held_bytes`).
    #[serde(default)]
    pub held: HeldStatus,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeldStatus {
    pub bytes: u64,
    pub peak: u64,
    pub limit: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RedactionStatus {
    pub running: u64,
    pub peak: u64,
    pub limit: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrinterStatus {
    pub name: String,
    pub profile: String,
    pub device: String,
    /// `unknown` (no job has reached it since the daemon started), `ready`, `busy` (sending a
    /// job), `stuck` (the printer has held a job longer than
    /// `device_timeout` without finishing it: a network printer that took it and has not
    /// closed, a USB write that blocks; it is not sent again) or `offline` (unreachable;
    /// jobs wait and are retried).
    pub state: String,
    /// Unreachable since (seconds since 1970), when offline.
    pub offline_since: Option<u64>,
    /// Holding the job under way without finishing it since (seconds since 1970), when
    /// stuck.
    #[serde(default)]
    pub stuck_since: Option<u64>,
    pub queued: u64,
    pub printed: u64,
    /// Accepted, then not printed (the daemon stopped before the printer took them).
    pub failed: u64,
    /// Refused when they came in (the client was told why).
    #[serde(default)]
    pub refused: u64,
    /// Dropped because their retention window ended before they printed.
    #[serde(default)]
    pub expired: u64,
    /// Values redacted in printed jobs since start, by kind.
    pub redacted: BTreeMap<String, u64>,
}

/// A printer as the control socket shows it: name, profile, device, counters.
pub(super) type PrinterRow = (String, String, String, Arc<Stats>);

/// What the control socket reports on.
pub(super) struct View {
    pub started: Instant,
    /// Name, profile, device, counters (replaced on reload).
    pub printers: std::sync::RwLock<Vec<PrinterRow>>,
    /// Where reprints go (replaced on reload; emptied when stopping).
    pub routes: std::sync::RwLock<Vec<super::Route>>,
    pub spool: Option<SharedSpool>,
    pub redactions: Arc<super::Redactions>,
    pub budget: Arc<super::budget::Budget>,
}

/// One spool entry as `spool list` shows it: ids, times, sizes, counts. No slip content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpoolEntry {
    pub id: String,
    /// The daemon's job id, as in the log.
    pub job: String,
    pub printer: String,
    pub listener: String,
    pub state: String,
    /// Unix seconds.
    pub created: u64,
    pub expires: u64,
    pub bytes: u64,
    pub redacted: BTreeMap<String, u64>,
}

impl SpoolEntry {
    fn of(m: &Meta) -> SpoolEntry {
        SpoolEntry {
            id: m.id.to_string(),
            job: m.job.clone(),
            printer: m.printer.clone(),
            listener: m.listener.clone(),
            state: m.state.label().to_string(),
            created: m.created,
            expires: m.expires,
            bytes: m.bytes,
            redacted: Kind::ALL
                .iter()
                .map(|k| (k.label().to_string(), m.redacted[*k as usize]))
                .collect(),
        }
    }
}

impl View {
    /// Count the jobs a sweep found expired before they printed, on their printers.
    pub fn count_expired(&self, report: &SweepReport) {
        let printers = self.printers.read().expect("not poisoned");
        for m in &report.expired_unprinted {
            tracing::warn!(job = %m.job, entry = %m.id, printer = %m.printer, outcome = "expired", "job not printed within its retention window; dropped");
            if let Some((.., s)) = printers.iter().find(|p| p.0 == m.printer) {
                s.expired.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Answer one `spool …` request (the words after `spool`).
    fn spool(&self, args: &[&str], ids: &super::Ids) -> Result<serde_json::Value, String> {
        let sp = self
            .spool
            .as_ref()
            .ok_or("the spool is not open (see the daemon's log)")?;
        match args {
            ["list"] => {
                let entries: Vec<SpoolEntry> =
                    lock(sp).list().iter().map(SpoolEntry::of).collect();
                Ok(serde_json::json!({ "entries": entries }))
            }
            ["reprint", which, rest @ ..] => {
                let id = match *which {
                    "--last" => lock(sp)
                        .list()
                        .iter()
                        .rev()
                        .find(|m| m.state != State::Expired)
                        .map(|m| m.id)
                        .ok_or("the spool is empty")?,
                    id => id.parse::<EntryId>().map_err(|e| format!("entry id: {e}"))?,
                };
                let printer = match rest {
                    [] => lock(sp)
                        .meta(id)
                        .map(|m| m.printer.clone())
                        .ok_or(format!("no entry {id} in the spool"))?,
                    ["--printer", name] => name.to_string(),
                    _ => return Err("usage: spool reprint (ID | --last) [--printer NAME]".into()),
                };
                let route = self
                    .routes
                    .read()
                    .expect("not poisoned")
                    .iter()
                    .find(|r| r.printer == printer)
                    .cloned()
                    .ok_or(format!("no printer `{printer}` in the configuration"))?;
                let job = super::spooling::reprint(sp, id, &route, ids).map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "reprinted": id.to_string(), "job": job, "printer": printer }))
            }
            ["purge", "--all"] => {
                let n = lock(sp).purge_all().map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "purged": n }))
            }
            ["purge", id] => {
                let id = id.parse::<EntryId>().map_err(|e| format!("entry id: {e}"))?;
                lock(sp).purge(id).map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "purged": 1 }))
            }
            _ => Err("usage: spool list | spool reprint (ID | --last) [--printer NAME] | spool purge (ID | --all)".into()),
        }
    }

    fn status(&self) -> Status {
        let (limit, running, peak) = self.redactions.counts();
        let (bytes, held_peak, held_limit) = self.budget.counts();
        Status {
            held: HeldStatus {
                bytes,
                peak: held_peak,
                limit: held_limit,
            },
            uptime_s: self.started.elapsed().as_secs(),
            redactions: RedactionStatus {
                running: running as u64,
                peak: peak as u64,
                limit: limit as u64,
            },
            printers: self
                .printers
                .read()
                .expect("not poisoned")
                .iter()
                .map(|(name, profile, device, s)| {
                    let off = s.offline_since.load(Ordering::Relaxed);
                    let stuck = s.stuck_since.load(Ordering::Relaxed);
                    let state = state_of(s);
                    PrinterStatus {
                        name: name.clone(),
                        profile: profile.clone(),
                        device: device.clone(),
                        state: state.into(),
                        offline_since: (off != 0 && state == "offline").then_some(off),
                        stuck_since: (stuck != 0).then_some(stuck),
                        queued: s.queued.load(Ordering::Relaxed),
                        printed: s.printed.load(Ordering::Relaxed),
                        failed: s.failed.load(Ordering::Relaxed),
                        refused: s.refused.load(Ordering::Relaxed),
                        expired: s.expired.load(Ordering::Relaxed),
                        redacted: Kind::ALL
                            .iter()
                            .map(|k| {
                                (
                                    k.label().to_string(),
                                    s.redacted[*k as usize].load(Ordering::Relaxed),
                                )
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

/// A printer's state as `status` and the HTTP listener show it: `stuck`, `offline`, `busy`
/// or `ready`. Stuck comes first: an attempt that holds the device is what matters then,
/// whatever an earlier one found.
pub(super) fn state_of(s: &Stats) -> &'static str {
    if s.stuck_since.load(Ordering::Relaxed) != 0 {
        "stuck"
    } else if s.offline_since.load(Ordering::Relaxed) != 0 {
        "offline"
    } else if s.busy.load(Ordering::Relaxed) {
        "busy"
    } else if !s.reached.load(Ordering::Relaxed) {
        // Nothing has been sent yet: an absent USB node or a printer switched off looks
        // the same as a working one until a job tries it.
        "unknown"
    } else {
        "ready"
    }
}

/// Bind the control socket at `path` (mode 0600). A socket left by a daemon that is gone is
/// replaced; one that answers belongs to a running daemon and is an error.
pub(super) fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    use anyhow::Context as _;
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            // Mode 0700 from the start (not changed after: no moment when others may enter).
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another slipguard is running with the control socket {}",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let l = UnixListener::bind(path)
        .with_context(|| format!("cannot create the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

pub(super) async fn serve(
    l: UnixListener,
    view: Arc<View>,
    ids: Arc<super::Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let conn = tokio::select! {
            c = l.accept() => c,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = conn else { continue };
        let (view, shared) = (view.clone(), ids.clone());
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            let mut r = tokio::io::BufReader::new(r);
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), r.read_line(&mut line))
                    .await;
            if !matches!(read, Ok(Ok(_))) {
                return;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let answer = match words.as_slice() {
                ["status"] => serde_json::to_string(&view.status()).expect("serializable"),
                ["spool", args @ ..] => {
                    // Spool calls read and write files: off the async threads.
                    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                    let answer = tokio::task::spawn_blocking(move || {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        view.spool(&args, &shared.ids)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("internal error: {e}")));
                    match answer {
                        Ok(v) => v.to_string(),
                        Err(e) => serde_json::json!({ "error": e }).to_string(),
                    }
                }
                _ => serde_json::json!({
                    "error": format!("unknown request `{}` (known: status, spool)", line.trim().chars().take(32).collect::<String>())
                })
                .to_string(),
            };
            let _ = w.write_all(format!("{answer}\n").as_bytes()).await;
        });
    }
}

/// Ask the daemon whose control socket is at `path` (blocking; for the command line).
pub fn request(path: &Path, what: &str) -> anyhow::Result<String> {
    let mut s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("{}", unreachable(path, &e)))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    s.write_all(format!("{what}\n").as_bytes())?;
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer)?;
    Ok(answer)
}

/// Why the daemon at `path` cannot be asked, and what to do: the system service's socket is
/// root's (mode 0600, in a 0700 directory), and a normal user's commands look in that user's
/// own runtime directory unless told otherwise.
fn unreachable(path: &Path, e: &std::io::Error) -> String {
    let system = Path::new(crate::config::DEFAULT_RUNTIME_DIR).join(SOCKET);
    let root = rustix::process::getuid().is_root();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot reach the daemon at {}: permission denied. Its control socket is for the \
             daemon's user only: run the command as root (`sudo slipguard …`)",
            path.display()
        ),
        _ if !root && path != system && system.parent().is_some_and(Path::exists) => format!(
            "no daemon answers at {} (this user's runtime directory). The system service \
             keeps its control socket in {}, which only root may use: run the command with \
             `sudo`",
            path.display(),
            system.display()
        ),
        _ => format!(
            "cannot reach the daemon at {}: {e} (is `slipguard run` running with this \
             configuration?)",
            path.display()
        ),
    }
}

/// Seconds since 1970, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `for 3 min (since 14:02)`: how long ago `t` (seconds since 1970) was, and its clock time in
/// the system's time zone (with the date when it was not today).
pub fn when(t: u64, now: u64) -> String {
    let age = now.saturating_sub(t);
    let ago = match age {
        0..=59 => format!("{age} s"),
        60..=3599 => format!("{} min", age / 60),
        3600..=86_399 => format!("{} h {} min", age / 3600, age % 3600 / 60),
        _ => format!("{} d {} h", age / 86_400, age % 86_400 / 3600),
    };
    format!("for {ago} (since {})", clock(t, now))
}

/// `t` (seconds since 1970) as a clock time in the system's time zone: `14:02` on the day
/// of `now`, `2026-12-02 14:02` on another.
pub fn clock(t: u64, now: u64) -> String {
    let tz = jiff::tz::TimeZone::system();
    let at = |s: u64| {
        jiff::Timestamp::from_second(i64::try_from(s).unwrap_or(i64::MAX))
            .ok()
            .map(|ts| ts.to_zoned(tz.clone()))
    };
    match (at(t), at(now)) {
        (Some(then), Some(today)) if then.date() == today.date() => {
            then.strftime("%H:%M:%S").to_string()
        }
        (Some(then), _) => then.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        (None, _) => format!("{t} (unix time)"),
    }
}

/// `status` as a table for people.
pub fn render(st: &Status) -> String {
    let r = &st.redactions;
    let h = &st.held;
    let mut out = format!(
        "up {}s; redacting {} (at most {} at once so far, limit {}); job bytes in memory {} \
         (at most {} so far, limit {})\n",
        st.uptime_s, r.running, r.peak, r.limit, h.bytes, h.peak, h.limit
    );
    let now = unix_now();
    for p in &st.printers {
        let state = match (p.stuck_since, p.offline_since) {
            (Some(t), _) => format!(
                "stuck {}: the printer holds a job and has not finished it; it is not sent again",
                when(t, now)
            ),
            (None, Some(t)) => format!("offline {}", when(t, now)),
            (None, None) if p.state == "unknown" => {
                "unknown (no job has reached it since the daemon started)".to_string()
            }
            (None, None) => p.state.clone(),
        };
        let redacted: Vec<String> = p
            .redacted
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!(
            "{}: {} ({}, {})\n  queued {}, printed {}, refused {}, failed {}, expired {}; redacted in printed jobs: {}\n",
            p.name,
            state,
            p.profile,
            p.device,
            p.queued,
            p.printed,
            p.refused,
            p.failed,
            p.expired,
            if redacted.is_empty() {
                "nothing yet".to_string()
            } else {
                redacted.join(", ")
            }
        ));
    }
    out
}
