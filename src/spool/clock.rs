//! Wall-clock time for the spool, injectable so tests can run on tokio's paused clock.
//!
//! Spool metadata holds wall-clock unix seconds, because an expiry must mean the same thing
//! after a restart. The sweeper sleeps on tokio's monotonic clock, so a [`Clock`] also turns
//! a wall-clock deadline into a [`tokio::time::Instant`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Where the spool reads the time.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    /// `unix` at tokio instant `at`, advancing with tokio's clock (which tests pause).
    Anchored {
        unix: Duration,
        at: Instant,
    },
}

impl Clock {
    /// The system's wall clock: what the daemon uses.
    ///
    /// A deadline is slept on the monotonic clock, which on Linux stops while the machine is
    /// suspended; after a resume the sweeper runs late by the time suspended, and the
    /// start-up cleanup covers a reboot.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that reads `unix_secs` now and then advances with tokio's clock, so
    /// `tokio::time::pause`/`advance` move it: for tests, and for tools that replay time.
    pub fn anchored(unix_secs: u64) -> Clock {
        Clock(Source::Anchored {
            unix: Duration::from_secs(unix_secs),
            at: Instant::now(),
        })
    }

    fn now_precise(&self) -> Duration {
        match &self.0 {
            Source::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO),
            Source::Anchored { unix, at } => *unix + at.elapsed(),
        }
    }

    /// Now, in whole unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.now_precise().as_secs()
    }

    /// The tokio instant at which the clock will read `unix_secs` (now, if that has passed).
    pub fn instant_at(&self, unix_secs: u64) -> Instant {
        let wait = Duration::from_secs(unix_secs).saturating_sub(self.now_precise());
        Instant::now() + wait
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
}
