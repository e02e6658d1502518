//! The retention sweeper: a task that sleeps until the spool's next deadline, sweeps, and
//! sleeps again. Woken early when a new deadline comes before the one it sleeps for.

use super::{Spool, SweepReport};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tracing::info;

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
/// [`Clock`](super::Clock); on waking, the sweep runs at no earlier than that deadline, so it
/// always makes progress even if the wall clock lags the monotonic one.
pub async fn run_sweeper<F>(
    spool: Arc<Mutex<Spool>>,
    shutdown: impl Future<Output = ()>,
    mut on_sweep: F,
) where
    F: FnMut(SweepReport),
{
    let (wake, clock) = {
        let s = lock(&spool);
        (s.waker(), s.clock().clone())
    };
    tokio::pin!(shutdown);
    loop {
        let deadline = lock(&spool).next_expiry();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(clock.instant_at(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => continue,
            _ = sleep => {
                let now = clock.now_unix().max(deadline.unwrap_or(0));
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
