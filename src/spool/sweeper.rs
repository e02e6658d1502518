//! The retention sweeper: a task that sleeps until the spool's next deadline, sweeps, and
//! sleeps again. Woken early when a new deadline comes before the one it sleeps for.

use super::{Spool, SweepReport};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::info;

/// The longest the sweeper sleeps before reading the wall clock again (also capped at one
/// key epoch, when that is shorter).
///
/// Deadlines are wall-clock times but the sleep runs on the monotonic clock, which stops
/// while the machine is suspended and ignores wall-clock steps. Without a cap, an entry
/// could outlive its window by the whole time suspended; with it, by at most this. A minute
/// keeps the idle cost negligible (one lock and a comparison) while staying small next to
/// the shortest usual window.
pub(crate) const MAX_SLEEP: Duration = Duration::from_secs(60);

fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    // A panic elsewhere while holding the lock leaves the spool consistent enough to keep
    // expiring entries, which matters more than stopping.
    spool.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs until `shutdown` completes: at each deadline ([`Spool::next_expiry`]) it calls
/// [`Spool::sweep`] and hands a non-empty report to `on_sweep` (the daemon drops expired jobs
/// from its queues and counts them). With nothing stored it sleeps until a `put` wakes it.
///
/// The deadline is wall-clock time turned into a tokio instant by the spool's
/// [`Clock`](super::Clock); on reaching it, the sweep runs at no earlier than that deadline,
/// so it always makes progress even if the wall clock lags the monotonic one. No sleep is
/// longer than [`MAX_SLEEP`] or one key epoch, whichever is shorter: after a suspend or a
/// wall-clock step forward, an entry outlives its window by at most that cap.
pub async fn run_sweeper<F>(
    spool: Arc<Mutex<Spool>>,
    shutdown: impl Future<Output = ()>,
    mut on_sweep: F,
) where
    F: FnMut(SweepReport),
{
    let (wake, clock, cap) = {
        let s = lock(&spool);
        let epoch = Duration::from_secs(s.retention().epoch_secs());
        (s.waker(), s.clock().clone(), epoch.min(MAX_SLEEP))
    };
    tokio::pin!(shutdown);
    loop {
        let (deadline, retries) = {
            let s = lock(&spool);
            (s.next_expiry(), s.has_unlink_retries())
        };
        let capped = Instant::now() + cap;
        let wake_at = match deadline {
            Some(t) => {
                let at = clock.instant_at(t);
                Some((at.min(capped), at <= capped))
            }
            // A file that could not be unlinked (a key's, above all) is retried every cap.
            None if retries => Some((capped, false)),
            // With nothing stored there is nothing to miss: sleep until a put wakes us.
            None => None,
        };
        let sleep = async {
            match wake_at {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => continue,
            _ = sleep => {
                let now = clock.now_unix();
                // Reached the deadline itself (not the cap): sweep at no earlier than it.
                let now = match (deadline, wake_at) {
                    (Some(t), Some((_, true))) => now.max(t),
                    _ => now,
                };
                let report = lock(&spool).sweep(now);
                if !report.is_empty() {
                    info!(
                        removed = report.removed,
                        expired_unprinted = report.expired_unprinted.len(),
                        unlink_failed = report.unlink_failed,
                        keys_destroyed = report.keys_destroyed,
                        "spool sweep"
                    );
                    on_sweep(report);
                }
            }
        }
    }
}
