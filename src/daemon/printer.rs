//! One worker per printer: jobs in arrival order, one at a time, never interleaved. A job
//! that cannot be delivered stays at the head of the queue and is tried again from its
//! start, with capped exponential backoff, until it prints, its retention window ends, or
//! the daemon stops.
//!
//! One owner of a job's fate at a time: before each attempt the worker claims the job's
//! spool entry ([`crate::spool::Spool::claim`]), which fails once the window has ended, so a
//! job the sweeper expired is never sent afterwards; while the claim lasts the sweeper
//! removes the entry's files at its expiry but leaves the verdict to the attempt, so a job
//! being sent is not counted expired under it. A job without an entry (the spool could not
//! take it, or a reprint) carries the same window and is checked the same way.
//!
//! An attempt that outlasts `device_timeout` while the device holds the job (a network
//! printer that took every byte but has not closed, a USB write that blocks) is not
//! abandoned and the job is not sent again: the printer shows as `stuck` until the attempt
//! ends.

use super::job::{self, unix_now, Job, JobKind, Stored, Storing};
use super::spooling::{self, SharedSpool};
use super::Shared;
use crate::config::{Device, PrinterConf};
use crate::core::redact::Kind;
use crate::spool::{Release, State};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// First wait after a failed attempt; doubled each time up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Counters of one printer (no patron data).
#[derive(Debug, Default)]
pub struct Stats {
    pub queued: std::sync::atomic::AtomicU64,
    pub printed: std::sync::atomic::AtomicU64,
    /// Jobs accepted and then not printed: the daemon stopped before the printer took them
    /// and they could not be kept.
    pub failed: std::sync::atomic::AtomicU64,
    /// Jobs refused when they came in (fail closed, over a limit, not a print job, cannot be
    /// spooled): the client was told, nothing was queued.
    pub refused: std::sync::atomic::AtomicU64,
    /// The printer has taken a job since the daemon started (before that its state is
    /// `unknown`: nothing says it is there).
    pub reached: std::sync::atomic::AtomicBool,
    /// Values redacted in printed jobs, by kind (indexed like `Kind::ALL`).
    pub redacted: [std::sync::atomic::AtomicU64; 7],
    /// A job is being sent.
    pub busy: std::sync::atomic::AtomicBool,
    /// Unreachable since this time (seconds since 1970); 0 while reachable.
    pub offline_since: std::sync::atomic::AtomicU64,
    /// The attempt under way has outlasted `device_timeout` with the job in the device's
    /// hands, since this time (seconds since 1970); 0 otherwise.
    pub stuck_since: std::sync::atomic::AtomicU64,
    /// Jobs whose retention window ended before they printed (dropped).
    pub expired: std::sync::atomic::AtomicU64,
}

pub(super) async fn worker(
    confs: watch::Receiver<PrinterConf>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    warm: Arc<super::warm::Warm>,
    mut stop: watch::Receiver<bool>,
) {
    let mut offline_since: Option<Instant> = None;
    while let Some(mut job) = rx.recv().await {
        if job.kind == JobKind::Query {
            // One try, at once: a client waiting for a status answer gets the printer's
            // answer or none, as from a printer that is off.
            let conf = confs.borrow().clone();
            let timeout = shared.limits().device_timeout.min(Duration::from_secs(5));
            let answer = tokio::time::timeout(
                timeout,
                super::device::send(&conf.device, &job.id, &job.bytes, timeout, true, None),
            )
            .await;
            if let (Ok(Ok(bytes)), Some(reply)) = (answer, job.reply.take()) {
                let _ = reply.send(bytes);
            }
            continue;
        }
        // A new job's entry is being written. Done by now (the job waited behind others):
        // taken as any entry. Not yet: the first attempt starts meanwhile.
        let mut storing = None;
        if let Some(Storing {
            stored: mut rx,
            phase,
        }) = job.storing.take()
        {
            if phase.load(Ordering::SeqCst) == job::DROPPED {
                // Dropped (and uncounted) by its acceptance: the spool could not take it.
                continue;
            }
            match rx.try_recv() {
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                    let begun = phase.compare_exchange(
                        job::WAITING,
                        job::SENDING,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                    if begun.is_err() {
                        // Dropped (and uncounted) by its acceptance: the spool failed.
                        continue;
                    }
                    storing = Some(rx);
                }
                done => {
                    let conf = confs.borrow().clone();
                    if !entry_written(
                        &mut job,
                        done.ok(),
                        false,
                        shared.spool.as_ref(),
                        &stats,
                        &conf,
                    ) {
                        continue;
                    }
                }
            }
        }
        let mut backoff = FIRST_BACKOFF;
        let spool = shared.spool.as_ref();
        stats.busy.store(true, Ordering::Relaxed);
        loop {
            // A reload applies from the next attempt.
            let conf = confs.borrow().clone();
            match job.spool {
                // Purged, or its window ended while it waited (the sweeper counts it).
                Some(id) if !spooling::claim(spool, id) => {
                    stats.queued.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(job = %job.id, entry = %id, printer = %conf.name, outcome = "dropped", "job not printed: its spool entry expired or was purged");
                    break;
                }
                Some(_) => {}
                // Kept in memory only: the same window, enforced here.
                None if unix_now() >= job.expires => {
                    expired(&stats, &job, &conf);
                    break;
                }
                None => {}
            }
            let timeout = shared.limits().device_timeout;
            let open = warm.take(&conf.device).await;
            // Its own handles: the job takes its entry while this attempt is under way.
            let (job_id, bytes) = (job.id.clone(), job.bytes.clone());
            let attempt = super::device::send(
                &conf.device,
                &job_id,
                &bytes,
                timeout,
                job.reply.is_some(),
                open,
            );
            tokio::pin!(attempt);
            let stuck_at = tokio::time::sleep(timeout);
            tokio::pin!(stuck_at);
            let mut stuck = false;
            // The entry's writing, if it ended during this attempt and left no claim.
            let mut early: Option<Option<Stored>> = None;
            let sent = loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    s = async {
                        match storing.as_mut() {
                            Some(rx) => rx.await.ok(),
                            None => std::future::pending().await,
                        }
                    }, if storing.is_some() => {
                        storing = None;
                        match s {
                            // Written while the job is being sent: claimed now, so that
                            // its window ending meanwhile is left to this attempt, as for
                            // any entry being sent.
                            Some(Stored::Entry(id, expires)) => {
                                job.expires = expires;
                                match spooling::claim(spool, id) {
                                    true => job.spool = Some(id),
                                    false => early = Some(None),
                                }
                            }
                            other => early = Some(other),
                        }
                    }
                    _ = &mut stuck_at, if !stuck => {
                        stuck = true;
                        stats.stuck_since.store(unix_now().max(1), Ordering::Relaxed);
                        tracing::warn!(
                            job = %job.id,
                            printer = %conf.name,
                            device = %device_kind(&conf.device),
                            "the printer holds the job and has not finished it within device_timeout; waiting for it (the job is not sent again)"
                        );
                    }
                    _ = stopped(&mut stop) => {
                        stats.stuck_since.store(0, Ordering::Relaxed);
                        let written = match (storing.take(), early.take()) {
                            (Some(rx), _) => Some(rx.await.ok()),
                            (None, e) => e,
                        };
                        if let Some(w) = written {
                            if !entry_written(&mut job, w, false, spool, &stats, &conf) {
                                return;
                            }
                        }
                        give_up(&stats, &job, &conf, spool).await;
                        return;
                    }
                }
            };
            if stuck {
                stats.stuck_since.store(0, Ordering::Relaxed);
            }
            let written = match (storing.take(), early.take()) {
                (Some(rx), _) => Some(rx.await.ok()),
                (None, e) => e,
            };
            if let Some(w) = written {
                if !entry_written(&mut job, w, sent.is_ok(), spool, &stats, &conf) {
                    break;
                }
            }
            match sent {
                Ok(answer) => {
                    stats.reached.store(true, Ordering::Relaxed);
                    if let Some(reply) = job.reply.take() {
                        let _ = reply.send(answer);
                    }
                    stats.offline_since.store(0, Ordering::Relaxed);
                    if let Some(t) = offline_since.take() {
                        tracing::info!(
                            printer = %conf.name,
                            offline_for_ms = t.elapsed().as_millis() as u64,
                            "printer is back"
                        );
                    }
                    if let Some(id) = job.spool {
                        // Recorded while still claimed, so no sweep counts it meanwhile.
                        spooling::set_state(spool, id, State::Printed).await;
                        spooling::release(spool, id);
                    }
                    stats.queued.fetch_sub(1, Ordering::Relaxed);
                    stats.printed.fetch_add(1, Ordering::Relaxed);
                    for k in Kind::ALL {
                        stats.redacted[k as usize]
                            .fetch_add(job.report.count(k), Ordering::Relaxed);
                    }
                    log_printed(&conf, &job);
                    break;
                }
                Err(e) => {
                    if let Some(id) = job.spool {
                        // Its window ended during the attempt: the sweeper left it to us.
                        if spooling::release(spool, id) == Release::Expired {
                            expired(&stats, &job, &conf);
                            break;
                        }
                    }
                    if offline_since.is_none() {
                        offline_since = Some(Instant::now());
                        stats
                            .offline_since
                            .store(unix_now().max(1), Ordering::Relaxed);
                        tracing::warn!(
                            printer = %conf.name,
                            device = %device_kind(&conf.device),
                            error = %e,
                            "printer unreachable; jobs wait and are retried"
                        );
                    }
                    if *stop.borrow() {
                        give_up(&stats, &job, &conf, spool).await;
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        stats.busy.store(false, Ordering::Relaxed);
    }
}

/// A new job's spool entry is written (`stored`; `None` when its writer is gone), and its
/// first attempt has ended, `printed` or not (or none was made): the job takes its entry,
/// claimed as for an attempt, and goes on. Without one (the spool could not take it, or it
/// was purged at once) it goes on only if it printed; else it is dropped here (false), and
/// its client hears it is refused.
fn entry_written(
    job: &mut Job,
    stored: Option<Stored>,
    printed: bool,
    spool: Option<&SharedSpool>,
    stats: &Stats,
    conf: &PrinterConf,
) -> bool {
    match stored {
        Some(Stored::Entry(id, expires)) => {
            job.expires = expires;
            if spooling::claim(spool, id) {
                job.spool = Some(id);
                return true;
            }
            if !printed {
                tracing::warn!(job = %job.id, entry = %id, printer = %conf.name, outcome = "dropped", "job not printed: its spool entry was purged");
            }
        }
        Some(Stored::Failed(verdict)) => {
            let _ = verdict.send(printed);
        }
        None => {}
    }
    if !printed {
        stats.queued.fetch_sub(1, Ordering::Relaxed);
    }
    printed
}

/// `job`'s retention window ended before it printed: dropped (its bytes zeroized) and
/// counted.
fn expired(stats: &Stats, job: &Job, conf: &PrinterConf) {
    stats.queued.fetch_sub(1, Ordering::Relaxed);
    stats.expired.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(job = %job.id, printer = %conf.name, outcome = "expired", "job not printed within its retention window; dropped");
}

/// The daemon stops before `job` printed: a spooled job stays in the spool (marked failed)
/// and prints after the next start, within its window; a reprint is lost (counted).
async fn give_up(stats: &Stats, job: &Job, conf: &PrinterConf, spool: Option<&SharedSpool>) {
    match job.spool {
        Some(id) => {
            spooling::set_state(spool, id, State::Failed).await;
            if spooling::release(spool, id) == Release::Expired {
                expired(stats, job, conf);
                return;
            }
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(job = %job.id, entry = %id, printer = %conf.name, "job not printed before stopping; it stays in the spool and prints after the next start");
        }
        None => {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(job = %job.id, printer = %conf.name, "job not printed: the daemon stopped while the printer was not taking it");
        }
    }
}

/// Resolves once the daemon gives up on unfinished jobs.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            // The daemon is gone: nothing will say stop; never resolve.
            std::future::pending::<()>().await;
        }
    }
}

/// The device kind and where, for logs (device paths and hosts are not patron data).
fn device_kind(d: &Device) -> String {
    d.to_string()
}

fn log_printed(conf: &PrinterConf, job: &Job) {
    let r = &job.report;
    tracing::info!(
        job = %job.id,
        listener = job.listener,
        printer = %conf.name,
        bytes_in = job.bytes_in,
        bytes_out = job.bytes.len(),
        card = r.count(Kind::Card),
        name = r.count(Kind::Name),
        email = r.count(Kind::Email),
        phone = r.count(Kind::Phone),
        address = r.count(Kind::Address),
        birthdate = r.count(Kind::Birthdate),
        custom = r.count(Kind::Custom),
        symbols = r.symbols,
        // Raster images pass unread (`images = "block"` refuses them): counted so that a
        // client printing its receipts as images shows in the log.
        images = r.images,
        ms = job.accepted.elapsed().as_millis() as u64,
        outcome = "printed",
        "job"
    );
}
