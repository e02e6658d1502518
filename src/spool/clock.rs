//! Wall-clock time for the spool, injectable so tests can run on tokio's paused clock.
//!
//! Spool metadata holds wall-clock unix seconds, because an expiry must mean the same thing
//! after a restart. The sweeper sleeps on tokio's monotonic clock, so a [`Clock`] also turns
//! a wall-clock deadline into a [`tokio::time::Instant`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// How far ahead [`Clock::instant_at`] ever points: about 100 years. A deadline further out
/// (a corrupt or absurd expiry) would overflow [`Instant`]; the sweeper caps its sleeps far
/// below this anyway.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Where the spool reads the time.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    /// Advancing with tokio's clock (which tests pause). Shared by every clone, so
    /// [`Clock::reanchor`] steps them all, as a wall-clock step steps every reader.
    Anchored(Arc<Mutex<Anchor>>),
}

/// `unix` at tokio instant `at`.
#[derive(Debug)]
struct Anchor {
    unix: Duration,
    at: Instant,
}

impl Clock {
    /// The system's wall clock: what the daemon uses.
    ///
    /// A deadline is slept on the monotonic clock, which on Linux stops while the machine is
    /// suspended and does not follow wall-clock steps. So [`run_sweeper`](super::run_sweeper)
    /// never sleeps longer than its cap (at most a minute) before reading the wall clock
    /// again: after a resume or a step forward it runs late by at most that cap, and the
    /// start-up cleanup covers a reboot.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that reads `unix_secs` now and then advances with tokio's clock, so
    /// `tokio::time::pause`/`advance` move it: for tests, and for tools that replay time.
    pub fn anchored(unix_secs: u64) -> Clock {
        Clock(Source::Anchored(Arc::new(Mutex::new(Anchor {
            unix: Duration::from_secs(unix_secs),
            at: Instant::now(),
        }))))
    }

    /// Makes an anchored clock (and every clone of it) read `unix_secs` now, without tokio's
    /// clock moving: what a suspend and resume, or a wall-clock step, look like to the spool.
    /// For tests. Does nothing to [`Clock::system`], which follows the real clock.
    pub fn reanchor(&self, unix_secs: u64) {
        if let Source::Anchored(a) = &self.0 {
            *a.lock().unwrap_or_else(PoisonError::into_inner) = Anchor {
                unix: Duration::from_secs(unix_secs),
                at: Instant::now(),
            };
        }
    }

    fn now_precise(&self) -> Duration {
        match &self.0 {
            Source::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO),
            Source::Anchored(a) => {
                let a = a.lock().unwrap_or_else(PoisonError::into_inner);
                a.unix.saturating_add(a.at.elapsed())
            }
        }
    }

    /// Now, in whole unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.now_precise().as_secs()
    }

    /// The tokio instant at which the clock will read `unix_secs` (now, if that has passed),
    /// if the wall clock and the monotonic clock keep step. At most about 100 years ahead:
    /// a far deadline is clamped rather than overflowing [`Instant`].
    pub fn instant_at(&self, unix_secs: u64) -> Instant {
        let wait = Duration::from_secs(unix_secs)
            .saturating_sub(self.now_precise())
            .min(FAR);
        let now = Instant::now();
        // `FAR` fits any real Instant; should it not, a day still keeps the sweeper asleep
        // without spinning.
        now.checked_add(wait)
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn anchored_clock_follows_paused_time() {
        let c = Clock::anchored(1_000);
        assert_eq!(c.now_unix(), 1_000);
        let deadline = c.instant_at(1_060);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(c.now_unix(), 1_059);
        assert!(Instant::now() < deadline);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.now_unix(), 1_060);
        assert_eq!(Instant::now(), deadline);
        assert_eq!(c.instant_at(10), Instant::now());
    }

    /// A deadline past what an `Instant` can hold is clamped, not a panic.
    #[tokio::test(start_paused = true)]
    async fn a_far_deadline_is_clamped() {
        let c = Clock::anchored(1_000);
        let far = c.instant_at(u64::MAX);
        assert!(far > Instant::now() + Duration::from_secs(50 * 365 * 24 * 3600));
        assert!(Clock::system().instant_at(u64::MAX) > Instant::now());
    }

    /// Re-anchoring steps every clone: a suspend or a wall-clock step, seen by all readers.
    #[tokio::test(start_paused = true)]
    async fn reanchor_steps_every_clone() {
        let c = Clock::anchored(1_000);
        let d = c.clone();
        d.reanchor(5_000);
        assert_eq!(c.now_unix(), 5_000);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(c.now_unix(), 5_003);
        Clock::system().reanchor(0);
        assert!(Clock::system().now_unix() > 1_700_000_000);
    }
}
