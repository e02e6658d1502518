//! The daemon: listeners take jobs from clients, each job is redacted whole (DESIGN §5) and
//! queued for its printer, and one worker per printer delivers the queue in order, one job at
//! a time. Runs on the caller's tokio runtime, so tests start it in-process on port 0.
//!
//! What it logs: one line per job (id, listener, printer, sizes, counts per kind, time,
//! outcome) and printer state changes. Never slip text.

pub mod control;
mod device;
pub mod folder;
pub mod job;
pub mod lpd;
pub mod notify;
pub mod printer;
mod raw;

use crate::config::{Config, Limits, Protocol};
use crate::core::profile::Profile;
use crate::core::redact::Redactor;
use crate::profiles::Profiles;
use anyhow::Context as _;
use job::{Ids, Job};
use printer::Stats;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

/// What every listener and worker shares.
pub(crate) struct Shared {
    limits: Limits,
    redactor: Redactor,
    ids: Ids,
    tracker: Tracker,
}

/// Where a listener's jobs go.
#[derive(Clone)]
pub(crate) struct Route {
    printer: String,
    profile: Arc<Profile>,
    queue: mpsc::UnboundedSender<Job>,
    stats: Arc<Stats>,
}

/// Counts tasks in flight (client connections), to wait for them when stopping.
#[derive(Default)]
pub(crate) struct Tracker(Arc<TrackerInner>);

#[derive(Default)]
struct TrackerInner {
    running: AtomicUsize,
    idle: Notify,
}

/// Counts one task down when it ends, even by panic.
struct TrackGuard(Arc<TrackerInner>);

impl Drop for TrackGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tracker {
    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        let guard = TrackGuard(self.0.clone());
        tokio::spawn(async move {
            let _g = guard;
            fut.await;
        });
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.0.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A running daemon.
pub struct Daemon {
    addrs: Vec<SocketAddr>,
    stop_accepting: watch::Sender<bool>,
    give_up: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    routes: Vec<Route>,
    shared: Arc<Shared>,
    view: Arc<control::View>,
    control: Option<std::path::PathBuf>,
}

impl Daemon {
    /// Load every printer's profile, bind every listener, start every worker.
    pub async fn start(cfg: &Config, profiles: &Profiles) -> anyhow::Result<Daemon> {
        Self::start_with(cfg, profiles, Vec::new()).await
    }

    /// [`Daemon::start`], using sockets handed over by systemd (`LISTEN_FDS`) for the
    /// listeners whose address they are bound to instead of binding those.
    pub async fn start_with(
        cfg: &Config,
        profiles: &Profiles,
        mut inherited: Vec<std::net::TcpListener>,
    ) -> anyhow::Result<Daemon> {
        let shared = Arc::new(Shared {
            limits: cfg.limits.clone(),
            redactor: Redactor::new(cfg.redact.clone()),
            ids: Ids::new(),
            tracker: Tracker::default(),
        });
        let (stop_accepting, stop_rx) = watch::channel(false);
        let (give_up, give_up_rx) = watch::channel(false);
        let mut routes = Vec::new();
        let mut workers = Vec::new();
        for p in &cfg.printers {
            let profile = profiles
                .load(&p.profile)
                .with_context(|| format!("printer `{}`", p.name))?;
            let (tx, rx) = mpsc::unbounded_channel();
            let stats = Arc::new(Stats::default());
            workers.push(tokio::spawn(printer::worker(
                p.clone(),
                rx,
                shared.clone(),
                stats.clone(),
                give_up_rx.clone(),
            )));
            routes.push(Route {
                printer: p.name.clone(),
                profile: Arc::new(profile),
                queue: tx,
                stats,
            });
        }
        let mut addrs = Vec::new();
        let mut listeners = Vec::new();
        for l in &cfg.listeners {
            let route = routes
                .iter()
                .find(|r| r.printer == l.printer)
                .expect("checked at load")
                .clone();
            let stop = stop_rx.clone();
            let Some(address) = l.protocol.address() else {
                if let Protocol::Folder { path } = &l.protocol {
                    listeners.push(folder::watch(path, route, shared.clone(), stop)?);
                }
                continue;
            };
            let handed = inherited
                .iter()
                .position(|s| s.local_addr().is_ok_and(|a| a == address));
            let tcp = match handed {
                Some(i) => {
                    let s = inherited.swap_remove(i);
                    s.set_nonblocking(true)?;
                    tokio::net::TcpListener::from_std(s)?
                }
                None => tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address}"))?,
            };
            addrs.push(tcp.local_addr()?);
            listeners.push(match &l.protocol {
                Protocol::Raw { .. } => tokio::spawn(raw::serve(tcp, route, shared.clone(), stop)),
                Protocol::Lpd { .. } => tokio::spawn(lpd::serve(tcp, route, shared.clone(), stop)),
                Protocol::Folder { .. } => unreachable!("folders have no address"),
            });
        }
        for s in inherited {
            tracing::warn!(
                address = ?s.local_addr().ok(),
                "a socket from systemd matches no listener in the configuration; not used"
            );
        }
        let view = Arc::new(control::View {
            started: Instant::now(),
            printers: cfg
                .printers
                .iter()
                .zip(&routes)
                .map(|(p, r)| {
                    (
                        p.name.clone(),
                        p.profile.clone(),
                        p.device.to_string(),
                        r.stats.clone(),
                    )
                })
                .collect(),
        });
        Ok(Daemon {
            addrs,
            stop_accepting,
            give_up,
            listeners,
            workers,
            routes,
            shared,
            view,
            control: None,
        })
    }

    /// Answer `slipguard status` on a Unix socket at `path` (mode 0600).
    pub fn listen_control(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let l = control::bind(path)?;
        self.listeners.push(tokio::spawn(control::serve(
            l,
            self.view.clone(),
            self.stop_accepting.subscribe(),
        )));
        self.control = Some(path.to_path_buf());
        Ok(())
    }

    /// Where the network listeners listen, in configuration order (folders left out).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A printer's counters.
    pub fn stats(&self, printer: &str) -> Option<Arc<Stats>> {
        self.routes
            .iter()
            .find(|r| r.printer == printer)
            .map(|r| r.stats.clone())
    }

    /// Stop accepting, let the jobs in flight finish and the queues drain within `deadline`,
    /// then give up on what is left (counted and logged). Returns the jobs left unprinted.
    pub async fn shutdown(self, deadline: Duration) -> u64 {
        let until = Instant::now() + deadline;
        let _ = self.stop_accepting.send(true);
        for l in self.listeners {
            let _ = l.await;
        }
        let _ = tokio::time::timeout_at(until.into(), self.shared.tracker.wait_idle()).await;
        let stats: Vec<Arc<Stats>> = self.routes.iter().map(|r| r.stats.clone()).collect();
        drop(self.routes); // the workers end once their queues are empty
        let mut workers = self.workers;
        let drained = tokio::time::timeout_at(until.into(), async {
            for w in workers.iter_mut() {
                let _ = w.await;
            }
        })
        .await
        .is_ok();
        // Jobs still queued now are given up (counted as failed by their workers).
        let unprinted = stats.iter().map(|s| s.queued.load(Ordering::Relaxed)).sum();
        if !drained {
            let _ = self.give_up.send(true);
            // A handle awaited to completion above must not be awaited again.
            for w in workers.into_iter().filter(|w| !w.is_finished()) {
                let _ = tokio::time::timeout(Duration::from_millis(200), w).await;
            }
        }
        if let Some(p) = &self.control {
            let _ = std::fs::remove_file(p);
        }
        if unprinted > 0 {
            tracing::warn!(unprinted, "stopped with jobs not printed");
        }
        unprinted
    }
}

/// Redact a complete job and queue it for its printer; a job that fails closed is refused
/// with a log line that says why (offsets and command names, never text).
async fn accept(bytes: Vec<u8>, listener: &'static str, route: &Route, shared: &Arc<Shared>) {
    let accepted = Instant::now();
    let id = shared.ids.next();
    let bytes_in = bytes.len();
    let (s, profile) = (shared.clone(), route.profile.clone());
    let max_segment = shared.limits.max_segment_bytes;
    let result = tokio::task::spawn_blocking(move || {
        let (segments, report) = s.redactor.segments(&profile, &bytes);
        let mut out = Vec::with_capacity(bytes.len());
        for seg in segments {
            if seg.end - seg.start > max_segment {
                return Err(format!(
                    "segment {}-{} is larger than max_segment_bytes ({max_segment} bytes)",
                    seg.start, seg.end
                ));
            }
            out.extend(seg.output.map_err(|b| format!("fails closed: {b}"))?);
        }
        Ok((out, report))
    })
    .await;
    match result {
        Ok(Ok((out, report))) => {
            route.stats.queued.fetch_add(1, Ordering::Relaxed);
            let job = Job {
                id,
                listener,
                bytes_in,
                bytes: out,
                report,
                accepted,
            };
            if route.queue.send(job).is_err() {
                route.stats.queued.fetch_sub(1, Ordering::Relaxed);
                tracing::warn!(printer = %route.printer, "job refused: the daemon is stopping");
            }
        }
        Ok(Err(blocked)) => {
            route.stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                job = %id,
                listener,
                printer = %route.printer,
                bytes_in,
                outcome = "refused",
                "job not printed: {blocked}"
            );
        }
        Err(e) => tracing::error!(job = %id, "redaction task failed: {e}"),
    }
}
