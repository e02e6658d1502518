//! How long a spool entry lives, checked before the spool opens.

use std::fmt;
use std::time::Duration;

/// The retention window: how long an entry (and so its slip bytes) may exist.
///
/// Counted in whole seconds; a fraction of a second is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention(u64);

impl Retention {
    /// Without an explicit override, shorter windows are refused: a printer that is off for a
    /// minute would lose its queue.
    pub const MIN: Duration = Duration::from_secs(60);
    /// Without an explicit override, longer windows are refused: the spool exists to forget.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);
    /// The default window (as in the configuration's `retention = "15m"`).
    pub const DEFAULT: Retention = Retention(15 * 60);

    /// Checks a configured window. `means_it` is the caller's explicit override (the operator
    /// has said the unusual value is intended); it lifts the 1 minute – 7 days range, but a
    /// window under one second is refused always.
    pub fn check(window: Duration, means_it: bool) -> Result<Retention, RetentionError> {
        let secs = window.as_secs();
        let problem = if secs == 0 {
            Some(Problem::Zero)
        } else if means_it {
            None
        } else if window < Self::MIN {
            Some(Problem::Short)
        } else if window > Self::MAX {
            Some(Problem::Long)
        } else {
            None
        };
        match problem {
            Some(problem) => Err(RetentionError { window, problem }),
            None => Ok(Retention(secs)),
        }
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }

    pub(crate) fn secs(self) -> u64 {
        self.0
    }

    /// The length of a key epoch: a quarter of the window (at least a second). An entry's
    /// key then outlives the entry by at most this, and a busy desk makes about five keys per
    /// window rather than one per job.
    pub(crate) fn epoch_secs(self) -> u64 {
        (self.0 / 4).max(1)
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

/// A retention window that [`Retention::check`] refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionError {
    window: Duration,
    problem: Problem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    Zero,
    Short,
    Long,
}

impl fmt::Display for RetentionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = human(self.window);
        match self.problem {
            Problem::Zero => write!(f, "spool retention {w} is under one second; it must be at least 1s"),
            Problem::Short => write!(
                f,
                "spool retention {w} is shorter than the {} minimum; use at least {0}, or confirm the shorter window with `allow_unusual_retention = true` in [daemon]",
                human(Retention::MIN)
            ),
            Problem::Long => write!(
                f,
                "spool retention {w} is longer than the {} maximum; use at most {0}, or confirm the longer window with `allow_unusual_retention = true` in [daemon]",
                human(Retention::MAX)
            ),
        }
    }
}

impl std::error::Error for RetentionError {}

/// `90s`, `15m`, `2h`, `7d`: the largest unit that divides the value.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_override() {
        let s = Duration::from_secs;
        assert_eq!(Retention::check(s(900), false), Ok(Retention::DEFAULT));
        assert_eq!(Retention::default().duration(), s(900));
        assert!(Retention::check(s(60), false).is_ok());
        assert!(Retention::check(s(7 * 86_400), false).is_ok());
        let e = Retention::check(s(30), false).unwrap_err().to_string();
        assert!(e.contains("30s") && e.contains("1m minimum"), "{e}");
        let e = Retention::check(s(8 * 86_400), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("8d") && e.contains("7d maximum"), "{e}");
        assert_eq!(Retention::check(s(30), true).unwrap().secs(), 30);
        assert_eq!(
            Retention::check(s(8 * 86_400), true).unwrap().secs(),
            8 * 86_400
        );
        let e = Retention::check(Duration::from_millis(500), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("500ms") && e.contains("at least 1s"), "{e}");
    }

    #[test]
    fn epoch_is_a_quarter() {
        assert_eq!(Retention::DEFAULT.epoch_secs(), 225);
        assert_eq!(
            Retention::check(Duration::from_secs(2), true)
                .unwrap()
                .epoch_secs(),
            1
        );
    }
}
