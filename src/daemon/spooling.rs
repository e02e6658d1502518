//! The daemon's use of the encrypted spool (DESIGN §6): open it before serving, queue again
//! what was owed to a printer, keep each entry's state as its job goes, drop jobs whose
//! window ended, and sweep. The spool itself is [`crate::spool`].

use super::job::{Job, JobKind};
use super::Route;
use crate::config::Config;
use crate::core::redact::Report;
use crate::spool::{Clock, Durability, EntryId, Meta, Release, Slip, Spool, SpoolError, State};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The spool, shared by listeners, workers, the sweeper and the control socket. Calls write
/// a small file (and fsync it when the keys are on persistent storage): make them where
/// blocking briefly is fine, never across an await.
pub(crate) type SharedSpool = Arc<Mutex<Spool>>;

pub(crate) fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    // A panic while holding the lock leaves the spool's maps as they were between calls.
    spool.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Open the spool for `cfg`, cleaning up before anything is served. Entries still owed to a
/// printer come back in creation order. The non-root fallback runtime directory in the
/// shared temporary directory must be this user's own (mode 0700), else nothing starts
/// (see [`Config::runtime_dir_is_shared_fallback`]). A spool that cannot be opened for an I/O reason
/// (a read-only disk) is logged and the daemon runs without it, refusing every job; a key
/// directory inside the state directory is a configuration error.
pub(super) fn open(cfg: &Config) -> anyhow::Result<(Option<SharedSpool>, Vec<Meta>)> {
    let (state, runtime) = (cfg.state_dir_or_default(), cfg.runtime_dir_or_default());
    if cfg.runtime_dir_is_shared_fallback() {
        super::safe_fs::private_fallback_dir(&runtime).map_err(|why| {
            anyhow::anyhow!(
                "the runtime directory {} {why}; remove it, or set runtime_dir (or XDG_RUNTIME_DIR) to a directory of your own",
                runtime.display()
            )
        })?;
    }
    match Spool::open(&state, &runtime, cfg.retention, Clock::system()) {
        Ok((spool, recovered)) => {
            let keys = spool.keys_dir().display().to_string();
            match spool.durability() {
                Durability::Cached => tracing::info!(
                    keys = %keys,
                    "spool entries are written without fsync: the keys are on a memory file system, so after a power loss no entry could be read anyway (a crash of the daemon loses nothing)"
                ),
                Durability::Synced => tracing::info!(
                    keys = %keys,
                    "spool entries are written durably (fsync): the runtime directory, where the keys are, is on persistent storage"
                ),
            }
            if recovered.expired_unprinted > 0 {
                tracing::warn!(
                    expired = recovered.expired_unprinted,
                    "jobs expired in the spool while the daemon was stopped; not printed"
                );
            }
            if recovered.tampered > 0 {
                tracing::warn!(
                    suspect = recovered.tampered,
                    "spool state records deleted or rolled back while the daemon was stopped; those jobs are not printed again"
                );
            }
            if recovered.keyless > 0 {
                tracing::info!(
                    deleted = recovered.keyless,
                    "spool entries without their key (the runtime directory was emptied) deleted unread"
                );
            }
            Ok((Some(Arc::new(Mutex::new(spool))), recovered.pending))
        }
        Err(e @ SpoolError::KeysUnderState { .. }) => Err(e.into()),
        Err(e) => {
            tracing::error!(
                error = %e,
                "the spool cannot be opened; jobs print without spool entries while their printer is ready"
            );
            Ok((None, Vec::new()))
        }
    }
}

/// The listener kind of a stored entry, as a job names it.
fn listener_kind(name: &str) -> &'static str {
    match name {
        "raw" => "raw",
        "lpd" => "lpd",
        "folder" => "folder",
        _ => "spool",
    }
}

/// Queue again the entries a previous run left owed to a printer. An entry whose printer is
/// no longer configured stays in the spool until its window ends.
pub(super) fn requeue(spool: &SharedSpool, pending: Vec<Meta>, routes: &[Route], ids: &super::Ids) {
    for meta in pending {
        let Some(route) = routes.iter().find(|r| r.printer == meta.printer) else {
            tracing::warn!(
                entry = %meta.id,
                printer = %meta.printer,
                "spooled job for a printer no longer configured; kept until its window ends"
            );
            continue;
        };
        let slip = match lock(spool).get(meta.id) {
            Ok((_, slip)) => slip,
            Err(e) => {
                tracing::warn!(entry = %meta.id, error = %e, "spooled job cannot be read; not printed");
                continue;
            }
        };
        let id = format!("{}~{}", meta.job, ids.next());
        let job = stored_job(
            &meta,
            slip,
            id,
            listener_kind(&meta.listener),
            Some(meta.id),
        );
        route.stats.queued.fetch_add(1, Ordering::Relaxed);
        tracing::info!(job = %job.id, entry = %meta.id, printer = %meta.printer, "spooled job queued again");
        if route.queue.send(job).is_err() {
            route.stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Take a spooled job's entry for one delivery attempt ([`Spool::claim`]); false when it
/// must not be sent: purged, or its window ended (the sweeper counts it).
pub(super) fn claim(spool: Option<&SharedSpool>, id: EntryId) -> bool {
    spool.is_some_and(|sp| lock(sp).claim(id).is_ok())
}

/// End the attempt's claim ([`Spool::release`]).
pub(super) fn release(spool: Option<&SharedSpool>, id: EntryId) -> Release {
    spool.map_or(Release::Gone, |sp| lock(sp).release(id))
}

/// Record a spooled job's state (off the async threads). A failure is logged: the job
/// prints all the same.
pub(super) async fn set_state(spool: Option<&SharedSpool>, id: EntryId, state: State) {
    let Some(sp) = spool.cloned() else { return };
    // The file is written without holding the lock, so that jobs being stored meanwhile
    // do not wait for this one's write.
    let r = tokio::task::spawn_blocking(move || {
        let Some(w) = lock(&sp).seal_state(id, state)? else {
            return Ok::<(), SpoolError>(());
        };
        w.write()?;
        lock(&sp).commit_state(w);
        Ok(())
    })
    .await;
    match r {
        Ok(Ok(())) => {}
        // Purged or expired meanwhile: nothing to record.
        Ok(Err(SpoolError::NotFound(_))) => {
            tracing::debug!(entry = %id, state = state.label(), "spool entry gone; state not recorded")
        }
        Ok(Err(e)) => {
            tracing::warn!(entry = %id, state = state.label(), error = %e, "spool state not recorded")
        }
        Err(e) => tracing::warn!(entry = %id, "spool state task failed: {e}"),
    }
}

/// A stored job to print again (`spool reprint`): its bytes, as a job for `route`, without
/// a spool entry of its own (the entry it came from keeps its window, and so does the job).
pub(super) fn reprint(
    spool: &SharedSpool,
    id: EntryId,
    route: &Route,
    ids: &super::Ids,
) -> Result<String, SpoolError> {
    let (meta, slip) = lock(spool).get(id)?;
    let job = stored_job(&meta, slip, ids.next(), "reprint", None);
    let job_id = job.id.clone();
    route.stats.queued.fetch_add(1, Ordering::Relaxed);
    if route.queue.send(job).is_err() {
        route.stats.queued.fetch_sub(1, Ordering::Relaxed);
    }
    tracing::info!(job = %job_id, entry = %id, printer = %route.printer, "reprint queued");
    Ok(job_id)
}

/// A print job of a stored slip.
fn stored_job(
    meta: &Meta,
    slip: Slip,
    id: String,
    listener: &'static str,
    spool: Option<EntryId>,
) -> Job {
    Job {
        kind: JobKind::Print,
        reply: None,
        id,
        listener,
        bytes_in: meta.bytes as usize,
        bytes: std::sync::Arc::new(slip.into_zeroizing()),
        report: Report {
            redacted: meta.redacted,
            ..Report::default()
        },
        accepted: Instant::now(),
        // A reprint too ends with the entry's window.
        expires: meta.expires,
        spool,
        storing: None,
        _held: None,
    }
}
