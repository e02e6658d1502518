//! The daemon: listeners take jobs from clients, each job is redacted whole (DESIGN §5) and
//! queued for its printer, and one worker per printer delivers the queue in order, one job at
//! a time. Runs on the caller's tokio runtime, so tests start it in-process on port 0.
//!
//! What it logs: one line per job (id, listener, printer, sizes, counts per kind, time,
//! outcome) and printer state changes. Never slip text.

mod budget;
mod buffer;
pub mod control;
mod device;
pub mod folder;
mod http;
pub mod job;
pub mod lpd;
pub mod notify;
pub mod printer;
mod raw;
mod safe_fs;
pub(crate) mod sniff;
mod spooling;
mod state_lock;
mod warm;

use crate::config::{Config, Limits, ListenConf, PrinterConf, Protocol};
use crate::core::profile::Profile;
use crate::core::redact::{Redactor, Report};
use crate::core::tokenize::{Token, Tokenizer};
use crate::profiles::Profiles;
use crate::spool;
use anyhow::Context as _;
use job::{Ids, Job};
use printer::Stats;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

/// What every listener and worker shares. The limits and the redactor are replaced when the
/// configuration is reloaded; a job uses those in force when it arrived.
pub(crate) struct Shared {
    limits: RwLock<Limits>,
    redactor: RwLock<Arc<Redactor>>,
    ids: Ids,
    tracker: Tracker,
    /// The encrypted spool; `None` when it could not be opened (every job is then refused).
    spool: Option<spooling::SharedSpool>,
    /// The retention window, also of jobs the spool could not take (as it was at start,
    /// like the spool's).
    retention: spool::Retention,
    redactions: Arc<Redactions>,
    /// Job bytes held in memory, against `max_held_bytes`.
    budget: Arc<budget::Budget>,
}

/// The gate that keeps at most `max_redactions` jobs in redaction at once: each holds a
/// permit while it is redacted and stored. Memory is then bounded by the limits
/// (`max_redactions` times redaction's working memory for a job of `max_job_bytes`), not by
/// how many clients send at once. Also counts, for `status`, how many ran at once at most.
pub(crate) struct Redactions {
    /// Replaced when a reload changes the number; jobs in redaction keep their old permits.
    gate: RwLock<(usize, Arc<tokio::sync::Semaphore>)>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Redactions {
    fn new(max: usize) -> Self {
        Redactions {
            gate: RwLock::new((max, Arc::new(tokio::sync::Semaphore::new(max)))),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn resize(&self, max: usize) {
        let mut g = self.gate.write().expect("not poisoned");
        if g.0 != max {
            *g = (max, Arc::new(tokio::sync::Semaphore::new(max)));
        }
    }

    /// Wait for a turn; the job is counted as running until the returned guard drops.
    async fn enter(self: &Arc<Self>) -> RedactionTurn {
        let gate = self.gate.read().expect("not poisoned").1.clone();
        let permit = gate.acquire_owned().await.expect("never closed");
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        RedactionTurn {
            _permit: permit,
            of: self.clone(),
        }
    }

    /// (the limit, running now, the most that ran at once since start)
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let limit = self.gate.read().expect("not poisoned").0;
        (
            limit,
            self.running.load(Ordering::SeqCst),
            self.peak.load(Ordering::SeqCst),
        )
    }
}

struct RedactionTurn {
    _permit: tokio::sync::OwnedSemaphorePermit,
    of: Arc<Redactions>,
}

impl Drop for RedactionTurn {
    fn drop(&mut self) {
        self.of.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn limits(&self) -> Limits {
        self.limits.read().expect("not poisoned").clone()
    }

    fn redactor(&self) -> Arc<Redactor> {
        self.redactor.read().expect("not poisoned").clone()
    }
}

/// Where a listener's jobs go: one per printer, shared by its listeners.
#[derive(Clone)]
pub(crate) struct Route {
    printer: String,
    profile: Arc<RwLock<Arc<Profile>>>,
    queue: mpsc::UnboundedSender<Job>,
    stats: Arc<Stats>,
    /// The printer connection opened while a job is redacted ([`warm`]).
    warm: Arc<warm::Warm>,
}

impl Route {
    fn profile(&self) -> Arc<Profile> {
        self.profile.read().expect("not poisoned").clone()
    }
}

/// A running printer worker.
struct PrinterEntry {
    route: Route,
    conf: watch::Sender<PrinterConf>,
    worker: JoinHandle<()>,
}

/// A running listener.
struct ListenerEntry {
    conf: ListenConf,
    addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// A listener made ready before a configuration is applied (so a reload that cannot bind
/// changes nothing).
enum Ready {
    Tcp(tokio::net::TcpListener),
    Folder,
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
        drop(self.spawn_handle(fut));
    }

    /// [`Tracker::spawn`], returning the task's handle. The task runs to its end whether
    /// or not the handle is awaited (dropping a handle does not cancel its task).
    fn spawn_handle<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> JoinHandle<T> {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        let guard = TrackGuard(self.0.clone());
        tokio::spawn(async move {
            let _g = guard;
            fut.await
        })
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
    printers: Vec<PrinterEntry>,
    listeners: Vec<ListenerEntry>,
    /// Workers of printers a reload removed, finishing their queues.
    retired: Vec<JoinHandle<()>>,
    give_up: watch::Sender<bool>,
    shared: Arc<Shared>,
    view: Arc<control::View>,
    control: Option<(std::path::PathBuf, watch::Sender<bool>, JoinHandle<()>)>,
    /// Removes spool entries as their windows end.
    sweeper: Option<JoinHandle<()>>,
    /// The spool's directory and window, which apply from the next start.
    spool_at: (std::path::PathBuf, spool::Retention),
    /// The lock on the state directory, held while the daemon lives.
    _state_lock: std::fs::File,
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
        inherited: Vec<std::net::TcpListener>,
    ) -> anyhow::Result<Daemon> {
        // One daemon per state directory: locked before the spool is opened, so a second
        // daemon touches nothing.
        let state_lock = state_lock::take(&cfg.state_dir_or_default())?;
        // The spool is cleaned up before anything is served.
        let (spool, pending) = spooling::open(cfg)?;
        let redactions = Arc::new(Redactions::new(cfg.limits.max_redactions));
        let budget = Arc::new(budget::Budget::new(cfg.limits.max_held_bytes));
        let mut d = Daemon {
            printers: Vec::new(),
            listeners: Vec::new(),
            retired: Vec::new(),
            give_up: watch::channel(false).0,
            shared: Arc::new(Shared {
                limits: RwLock::new(cfg.limits.clone()),
                redactor: RwLock::new(Arc::new(Redactor::new(cfg.redact.clone()))),
                ids: Ids::new(),
                tracker: Tracker::default(),
                spool: spool.clone(),
                retention: cfg.retention,
                redactions: redactions.clone(),
                budget: budget.clone(),
            }),
            view: Arc::new(control::View {
                started: Instant::now(),
                printers: RwLock::new(Vec::new()),
                routes: RwLock::new(Vec::new()),
                spool: spool.clone(),
                redactions,
                budget,
            }),
            control: None,
            sweeper: None,
            spool_at: (cfg.state_dir_or_default(), cfg.retention),
            _state_lock: state_lock,
        };
        d.apply(cfg, profiles, inherited).await?;
        if let Some(sp) = spool {
            let routes: Vec<Route> = d.printers.iter().map(|e| e.route.clone()).collect();
            spooling::requeue(&sp, pending, &routes, &d.shared.ids);
            let view = d.view.clone();
            d.sweeper = Some(tokio::spawn(spool::run_sweeper(
                sp,
                std::future::pending(),
                move |report| view.count_expired(&report),
            )));
        }
        Ok(d)
    }

    /// Apply a new configuration without a restart: unchanged listeners keep their sockets
    /// and connections, printers keep their queues (a changed device or profile applies from
    /// the next job), new ones start, removed ones stop (a removed printer finishes its
    /// queue). A configuration that cannot be applied (a profile that does not load, an
    /// address that cannot be bound) changes nothing and is returned as the error.
    pub async fn reload(&mut self, cfg: &Config, profiles: &Profiles) -> anyhow::Result<()> {
        self.apply(cfg, profiles, Vec::new()).await
    }

    async fn apply(
        &mut self,
        cfg: &Config,
        profiles: &Profiles,
        mut inherited: Vec<std::net::TcpListener>,
    ) -> anyhow::Result<()> {
        // Everything that can fail, first.
        let mut loaded = Vec::new();
        for p in &cfg.printers {
            let profile = profiles
                .load(&p.profile)
                .with_context(|| format!("printer `{}`", p.name))?;
            loaded.push(Arc::new(profile));
        }
        let mut ready = Vec::new();
        for l in &cfg.listeners {
            if self.listeners.iter().any(|e| e.conf == *l) {
                ready.push(None);
                continue;
            }
            let Some(address) = l.protocol.address() else {
                ready.push(Some(Ready::Folder));
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
                None => match tokio::net::TcpListener::bind(address).await {
                    Ok(t) => t,
                    // The address may be held by a listener this configuration removes or
                    // changes: it is bound again once that one has stopped.
                    Err(_) if self.listeners.iter().any(|e| e.addr == Some(address)) => {
                        ready.push(None);
                        continue;
                    }
                    Err(e) => return Err(e).with_context(|| format!("cannot listen on {address}")),
                },
            };
            ready.push(Some(Ready::Tcp(tcp)));
        }
        for s in inherited {
            tracing::warn!(
                address = ?s.local_addr().ok(),
                "a socket from systemd matches no listener in the configuration; not used"
            );
        }

        // Then the change.
        if self.spool_at != (cfg.state_dir_or_default(), cfg.retention) && !self.printers.is_empty()
        {
            tracing::warn!("state_dir and retention changes apply at the next start");
        }
        *self.shared.limits.write().expect("not poisoned") = cfg.limits.clone();
        self.shared.redactions.resize(cfg.limits.max_redactions);
        self.shared.budget.set_max(cfg.limits.max_held_bytes);
        *self.shared.redactor.write().expect("not poisoned") =
            Arc::new(Redactor::new(cfg.redact.clone()));
        let mut printers = Vec::new();
        for (p, profile) in cfg.printers.iter().zip(loaded) {
            let entry = match self.printers.iter().position(|e| e.route.printer == p.name) {
                Some(i) => {
                    let e = self.printers.swap_remove(i);
                    *e.route.profile.write().expect("not poisoned") = profile;
                    e.conf.send_replace(p.clone());
                    e
                }
                None => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let stats = Arc::new(Stats::default());
                    let (conf, conf_rx) = watch::channel(p.clone());
                    let warm = Arc::new(warm::Warm::new(conf_rx.clone()));
                    let worker = tokio::spawn(printer::worker(
                        conf_rx,
                        rx,
                        self.shared.clone(),
                        stats.clone(),
                        warm.clone(),
                        self.give_up.subscribe(),
                    ));
                    PrinterEntry {
                        route: Route {
                            printer: p.name.clone(),
                            profile: Arc::new(RwLock::new(profile)),
                            queue: tx,
                            stats,
                            warm,
                        },
                        conf,
                        worker,
                    }
                }
            };
            printers.push(entry);
        }
        // Printers no longer configured finish their queues once their listeners stop.
        for gone in std::mem::replace(&mut self.printers, printers) {
            tracing::info!(printer = %gone.route.printer, "printer removed from the configuration");
            self.retired.push(gone.worker);
        }
        // Listeners no longer configured (or changed) stop; their connections finish.
        let (keep, stop): (Vec<_>, Vec<_>) = std::mem::take(&mut self.listeners)
            .into_iter()
            .partition(|e| cfg.listeners.contains(&e.conf));
        for e in stop {
            let _ = e.stop.send(true);
            let _ = e.task.await;
        }
        let mut listeners = Vec::new();
        let mut keep = keep;
        for (l, r) in cfg.listeners.iter().zip(ready) {
            if let Some(i) = keep.iter().position(|e| e.conf == *l) {
                listeners.push(keep.swap_remove(i));
                continue;
            }
            let route = l.printer.as_ref().map(|name| {
                self.printers
                    .iter()
                    .find(|e| e.route.printer == *name)
                    .expect("checked at load")
                    .route
                    .clone()
            });
            let (stop, stop_rx) = watch::channel(false);
            let sh = self.shared.clone();
            let (addr, task) = match (r, &l.protocol) {
                (Some(Ready::Folder), Protocol::Folder { path }) => (
                    None,
                    folder::watch(
                        path,
                        route.expect("a folder has a printer"),
                        sh,
                        stop_rx,
                        cfg.retention.duration(),
                    )?,
                ),
                (tcp, proto) => {
                    let tcp = match tcp {
                        Some(Ready::Tcp(t)) => t,
                        _ => {
                            let a = proto.address().expect("a network listener");
                            tokio::net::TcpListener::bind(a)
                                .await
                                .with_context(|| format!("cannot listen on {a}"))?
                        }
                    };
                    let addr = tcp.local_addr()?;
                    let task = match (proto, route) {
                        (
                            Protocol::Http {
                                allowed_origins, ..
                            },
                            only,
                        ) => {
                            let conf = http::Conf {
                                only: only.map(|r| r.printer),
                                allowed_origins: allowed_origins.clone(),
                                loopback: addr.ip().is_loopback(),
                            };
                            tokio::spawn(http::serve(tcp, conf, self.view.clone(), sh, stop_rx))
                        }
                        (Protocol::Lpd { .. }, Some(route)) => {
                            tokio::spawn(lpd::serve(tcp, route, sh, stop_rx))
                        }
                        (_, route) => tokio::spawn(raw::serve(
                            tcp,
                            route.expect("a raw listener has a printer"),
                            sh,
                            stop_rx,
                        )),
                    };
                    (Some(addr), task)
                }
            };
            listeners.push(ListenerEntry {
                conf: l.clone(),
                addr,
                stop,
                task,
            });
        }
        self.listeners = listeners;
        *self.view.printers.write().expect("not poisoned") = cfg
            .printers
            .iter()
            .zip(&self.printers)
            .map(|(p, e)| {
                (
                    p.name.clone(),
                    p.profile.clone(),
                    p.device.to_string(),
                    e.route.stats.clone(),
                )
            })
            .collect();
        *self.view.routes.write().expect("not poisoned") =
            self.printers.iter().map(|e| e.route.clone()).collect();
        Ok(())
    }

    /// Answer `slipguard status` on a Unix socket at `path` (mode 0600).
    pub fn listen_control(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let l = control::bind(path)?;
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(control::serve(
            l,
            self.view.clone(),
            self.shared.clone(),
            rx,
        ));
        self.control = Some((path.to_path_buf(), stop, task));
        Ok(())
    }

    /// Whether jobs are kept in the spool (it opened at start).
    pub fn spooling(&self) -> bool {
        self.shared.spool.is_some()
    }

    /// Where the network listeners listen, in configuration order (folders left out).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|e| e.addr).collect()
    }

    /// A printer's counters.
    pub fn stats(&self, printer: &str) -> Option<Arc<Stats>> {
        self.printers
            .iter()
            .find(|e| e.route.printer == printer)
            .map(|e| e.route.stats.clone())
    }

    /// Stop accepting, let the jobs in flight finish and the queues drain within `deadline`,
    /// then give up on what is left (counted and logged). Returns the jobs left unprinted.
    pub async fn shutdown(self, deadline: Duration) -> u64 {
        let until = Instant::now() + deadline;
        // The control socket's routes must not keep the queues open: workers end once their
        // queues are empty and every route is gone.
        self.view.routes.write().expect("not poisoned").clear();
        for l in &self.listeners {
            let _ = l.stop.send(true);
        }
        for l in self.listeners {
            let _ = l.task.await;
        }
        let _ = tokio::time::timeout_at(until.into(), self.shared.tracker.wait_idle()).await;
        let stats: Vec<Arc<Stats>> = self
            .printers
            .iter()
            .map(|e| e.route.stats.clone())
            .collect();
        let mut workers = self.retired;
        for e in self.printers {
            workers.push(e.worker); // it ends once its queue is empty (the route is dropped)
        }
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
        if let Some(s) = self.sweeper {
            s.abort();
        }
        if let Some((p, stop, task)) = self.control {
            let _ = stop.send(true);
            let _ = task.await;
            let _ = std::fs::remove_file(p);
        }
        if unprinted > 0 {
            tracing::warn!(unprinted, "stopped with jobs not printed (those in the spool print after the next start, within their window)");
        }
        unprinted
    }
}

/// The accept loop of a network listener: at most `max_connections` clients at once (more
/// wait in the kernel's backlog), each served by `serve` as a tracked task that holds its
/// place until it ends. Returns when the daemon stops accepting.
async fn accept_loop<F, Fut>(
    listener: tokio::net::TcpListener,
    kind: &'static str,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(shared.limits().max_connections));
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = stop.changed() => return,
        };
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.changed() => return,
        };
        let (stream, _) = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, listener = kind, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let task = serve(stream);
        shared.tracker.spawn(async move {
            task.await;
            drop(permit);
        });
    }
}

/// Pass a real-time status query to the printer at once (ahead of nothing: the printer's
/// worker takes it between jobs) and return its answer; none when the printer is off.
async fn query(bytes: Vec<u8>, route: &Route, shared: &Arc<Shared>) -> Vec<u8> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Job {
        kind: job::JobKind::Query,
        reply: Some(tx),
        id: shared.ids.next(),
        listener: "raw",
        bytes_in: bytes.len(),
        bytes: Arc::new(Zeroizing::new(bytes)),
        report: Default::default(),
        accepted: Instant::now(),
        expires: job::unix_now().saturating_add(shared.retention.secs()),
        spool: None,
        storing: None,
        _held: None,
    };
    if route.queue.send(job).is_err() {
        return Vec::new();
    }
    rx.await.unwrap_or_default()
}

/// What became of a job handed to [`accept`].
pub(crate) enum Accepted {
    /// Queued for its printer, under this id, with these counts.
    Queued { id: String, report: Report },
    /// Not printed: it fails closed, or is over a limit (the reason names offsets, limits
    /// and command names, never text).
    Refused(String),
    /// Not printed: it could not be spooled and the printer is offline, or the daemon is
    /// stopping.
    Unavailable(String),
}

/// Redact a complete job and queue it for its printer; a job that fails closed is refused
/// with a log line that says why (offsets and command names, never text).
async fn accept(
    bytes: impl Into<Zeroizing<Vec<u8>>>,
    listener: &'static str,
    route: &Route,
    shared: &Arc<Shared>,
    reply: Option<tokio::sync::oneshot::Sender<Vec<u8>>>,
) -> Accepted {
    accept_found(bytes, listener, route, shared, reply, Report::default()).await
}

/// [`accept`] for a job typeset from a slip that was redacted before it was laid out
/// ([`crate::html::typeset_redacted`]): `found` is what that redaction found, counted with
/// the job's.
///
/// Not cancellable halfway: the work runs as a task of its own (tracked, so a stop waits
/// for it), which goes on to the end if the caller is dropped (an HTTP client that hangs up
/// while its job is redacted and stored). So a job is spooled and queued, or refused and
/// not left in the spool; never spooled and left without a queue item.
async fn accept_found(
    bytes: impl Into<Zeroizing<Vec<u8>>>,
    listener: &'static str,
    route: &Route,
    shared: &Arc<Shared>,
    reply: Option<tokio::sync::oneshot::Sender<Vec<u8>>>,
    found: Report,
) -> Accepted {
    // The client's bytes are zeroized however this ends.
    let bytes: Zeroizing<Vec<u8>> = bytes.into();
    let (route, sh) = (route.clone(), shared.clone());
    let task = shared.tracker.spawn_handle(async move {
        accept_whole(bytes, listener, &route, &sh, reply, found).await
    });
    task.await.unwrap_or_else(|e| {
        tracing::error!(listener, "job acceptance failed: {e}");
        Accepted::Refused("internal error while accepting the job".into())
    })
}

/// [`accept_found`]'s work, run to its end.
///
/// The job is redacted and queued for its printer, then sealed and written to the spool
/// while the printer's worker starts sending it (on a connection opened during redaction,
/// [`warm`]): the spool write is not on the way from the client's last byte to the
/// printer's first. The client hears the outcome once the entry is written: accepted, so
/// the job prints even if the daemon crashes now (after a restart, from the spool). If the
/// spool cannot take it, the job is accepted only if it already printed (no entry to
/// reprint from, said in the log); else it is dropped unsent and refused (DESIGN §6: none
/// lives in memory only).
async fn accept_whole(
    bytes: Zeroizing<Vec<u8>>,
    listener: &'static str,
    route: &Route,
    shared: &Arc<Shared>,
    reply: Option<tokio::sync::oneshot::Sender<Vec<u8>>>,
    found: Report,
) -> Accepted {
    let accepted = Instant::now();
    let id = shared.ids.next();
    let bytes_in = bytes.len();
    let (redactor, profile) = (shared.redactor(), route.profile());
    let max_segment = shared.limits().max_segment_bytes;
    // The printer's connection opens meanwhile (a network printer with nothing else to do).
    let idle = route.stats.queued.load(Ordering::Relaxed) == 0
        && !route.stats.busy.load(Ordering::Relaxed);
    route.warm.start(idle, shared.limits().device_timeout);
    let turn = shared.redactions.enter().await;
    let redacted = run_sized(bytes_in, move || {
        let _turn = turn;
        redact_whole(&redactor, &profile, &bytes, max_segment)
    })
    .await;
    let (out, mut report) = match redacted {
        Ok(Ok(r)) => r,
        Ok(Err(blocked)) => {
            route.warm.discard();
            route.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                job = %id,
                listener,
                printer = %route.printer,
                bytes_in,
                outcome = "refused",
                "job not printed: {blocked}"
            );
            return Accepted::Refused(blocked);
        }
        Err(e) => {
            route.warm.discard();
            tracing::error!(job = %id, "redaction task failed: {e}");
            return Accepted::Refused("redaction failed".into());
        }
    };
    report.merge(&found);
    let Some(spool) = shared.spool.clone() else {
        return unspooled(route, &id, listener, "the spool is not open".into());
    };
    // Held in memory until it has printed: within the daemon's budget, or refused.
    let mut held = shared.budget.claim();
    if let Err(why) = held.grow(out.len() as u64) {
        route.warm.discard();
        route.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(job = %id, listener, printer = %route.printer, outcome = "refused", "job not printed: {why}");
        return Accepted::Unavailable(why);
    }
    let out = Arc::new(out);
    let (stored_tx, stored_rx) = tokio::sync::oneshot::channel();
    let phase = Arc::new(std::sync::atomic::AtomicU8::new(job::WAITING));
    route.stats.queued.fetch_add(1, Ordering::Relaxed);
    let job = Job {
        kind: job::JobKind::Print,
        reply,
        id: id.clone(),
        listener,
        bytes_in,
        bytes: out.clone(),
        report: report.clone(),
        accepted,
        // Until the entry says otherwise (the worker takes its expiry).
        expires: job::unix_now().saturating_add(shared.retention.secs()),
        spool: None,
        storing: Some(job::Storing {
            stored: stored_rx,
            phase: phase.clone(),
        }),
        _held: Some(held),
    };
    if route.queue.send(job).is_err() {
        route.stats.queued.fetch_sub(1, Ordering::Relaxed);
        route.warm.discard();
        tracing::warn!(printer = %route.printer, "job refused: the daemon is stopping");
        return Accepted::Unavailable("the daemon is stopping".into());
    }
    let new = spool::NewEntry {
        job: id.clone(),
        printer: route.printer.clone(),
        listener: listener.to_string(),
        redacted: report.redacted,
    };
    // On a blocking thread whatever the size, so that this task yields here and the worker,
    // woken by the queue on this same thread, starts sending at once: a file system slow to
    // create and rename (a busy disk) then delays only the client's answer.
    let stored = tokio::task::spawn_blocking(move || spooling::lock(&spool).put(new, &out)).await;
    let why = match stored {
        Ok(Ok(meta)) => {
            // The worker sends it now. If the worker is gone (the daemon stopped), the entry
            // stays queued in the spool and prints after the next start.
            let _ = stored_tx.send(job::Stored::Entry(meta.id, meta.expires));
            return Accepted::Queued { id, report };
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("the spool task failed: {e}"),
    };
    // Not begun yet (it may wait behind other jobs for long): dropped now, and refused.
    let not_begun = phase
        .compare_exchange(
            job::WAITING,
            job::DROPPED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        )
        .is_ok();
    if not_begun {
        route.stats.queued.fetch_sub(1, Ordering::Relaxed);
        route.warm.discard();
        return unspooled(route, &id, listener, why);
    }
    // Being sent: it is accepted if that attempt prints it.
    let (verdict_tx, verdict) = tokio::sync::oneshot::channel();
    let _ = stored_tx.send(job::Stored::Failed(verdict_tx));
    if verdict.await.unwrap_or(false) {
        tracing::warn!(
            job = %id,
            printer = %route.printer,
            "job printed, but it could not be spooled ({why}): it cannot be reprinted"
        );
        return Accepted::Queued { id, report };
    }
    route.warm.discard();
    unspooled(route, &id, listener, why)
}

/// A redacted job the spool could not take: refused, whatever the printer's state (every
/// accepted job is spooled with its expiry, none lives in memory only: DESIGN §6).
fn unspooled(route: &Route, id: &str, listener: &'static str, why: String) -> Accepted {
    route.stats.refused.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        job = %id,
        listener,
        printer = %route.printer,
        outcome = "refused",
        "job not printed: it cannot be spooled ({why})"
    );
    Accepted::Unavailable(format!("it cannot be spooled ({why})"))
}

/// Run `work` for a job of `size` bytes: here if the job is small (nearly every slip: tens
/// of microseconds cost less than a hand-over to a blocking thread and back), else on a
/// blocking thread, so that it does not hold up this runtime thread's other connections.
async fn run_sized<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    match size <= INLINE_JOB_BYTES {
        true => Ok(work()),
        false => tokio::task::spawn_blocking(work).await,
    }
}

/// Jobs up to this size are redacted and stored on the task that accepted them (about
/// 0.1–0.5 ms of work at redaction's speed); larger ones on a blocking thread.
const INLINE_JOB_BYTES: usize = 8 << 10;

/// `bytes` redacted as [`accept`] prints it, or why it is refused: it fails closed, or a
/// segment is longer than `max_segment` bytes (the reason names offsets, limits and command
/// names, never text).
fn redact_whole(
    redactor: &Redactor,
    profile: &Profile,
    bytes: &[u8],
    max_segment: u64,
) -> Result<(Zeroizing<Vec<u8>>, Report), String> {
    // Checked before redacting: redaction's working memory is many times a segment's
    // size (11–13× for a long line of text, measured), so a segment over the limit
    // must not reach it.
    if let Some((start, end)) = long_segment(profile, bytes, max_segment) {
        return Err(format!(
            "segment {start}-{end} is larger than max_segment_bytes ({max_segment} bytes)"
        ));
    }
    let (segments, report) = redactor.segments(profile, bytes);
    // Sized once, so it is never reallocated (a reallocation would leave a copy behind).
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    for seg in segments {
        if seg.end - seg.start > max_segment {
            return Err(format!(
                "segment {}-{} is larger than max_segment_bytes ({max_segment} bytes)",
                seg.start, seg.end
            ));
        }
        let part = Zeroizing::new(seg.output.map_err(|b| format!("fails closed: {b}"))?);
        out.extend_from_slice(&part);
    }
    Ok((out, report))
}

/// Whether [`accept`] would refuse `bytes` (it fails closed, or a segment is over
/// `max_segment_bytes`), found by redacting it the same way under a redaction turn, without
/// storing or queueing anything. The LPD listener answers a data file with this before the
/// client has ended its job (RFC 1179 acknowledges each file), and accepts the file once the
/// job is whole. The bytes come back for that.
async fn screen(
    bytes: Zeroizing<Vec<u8>>,
    route: &Route,
    shared: &Arc<Shared>,
) -> (Zeroizing<Vec<u8>>, Result<(), String>) {
    let (redactor, profile) = (shared.redactor(), route.profile());
    let max_segment = shared.limits().max_segment_bytes;
    let turn = shared.redactions.enter().await;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let verdict = redact_whole(&redactor, &profile, &bytes, max_segment).map(drop);
        (bytes, verdict)
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!("redaction task failed: {e}");
        (Zeroizing::default(), Err("redaction failed".into()))
    })
}

/// The first segment of `job` longer than `max` bytes, found by tokenizing alone.
fn long_segment(profile: &Profile, job: &[u8], max: u64) -> Option<(u64, u64)> {
    let mut t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
    let (mut start, mut end, mut found) = (0u64, 0u64, None);
    let mut check = |tok: Token| {
        end = tok.offset + tok.len;
        if tok.kind.ends_segment() {
            if found.is_none() && end - start > max {
                found = Some((start, end));
            }
            start = end;
        }
    };
    t.feed(job, &mut check);
    t.finish(&mut check);
    if found.is_none() && end - start > max {
        found = Some((start, end));
    }
    found
}
