//! The daemon's memory budget for job bytes (`max_held_bytes`): every listener's buffers of
//! jobs being received and every printer queue's redacted jobs draw from one count. A job
//! whose bytes would take it past the limit is refused with a reason the client sees, so
//! memory stays bounded however many clients send and however long a printer is offline
//! (README "Memory" gives the whole budget).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct Budget {
    held: AtomicU64,
    /// The most held at once since start.
    peak: AtomicU64,
    /// `max_held_bytes` (a reload may change it).
    max: AtomicU64,
}

impl Budget {
    pub(crate) fn new(max: u64) -> Self {
        Budget {
            max: AtomicU64::new(max),
            ..Budget::default()
        }
    }

    pub(crate) fn set_max(&self, max: u64) {
        self.max.store(max, Ordering::SeqCst);
    }

    /// An empty claim on the budget, grown as bytes arrive.
    pub(crate) fn claim(self: &Arc<Self>) -> Held {
        Held {
            budget: self.clone(),
            n: 0,
        }
    }

    /// (held now, the most held at once, the limit)
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (
            self.held.load(Ordering::SeqCst),
            self.peak.load(Ordering::SeqCst),
            self.max.load(Ordering::SeqCst),
        )
    }
}

/// Bytes held against the budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<Budget>,
    n: u64,
}

impl Held {
    /// Hold `more` bytes too, if the budget has room for them.
    pub(crate) fn grow(&mut self, more: u64) -> Result<(), String> {
        let b = &self.budget;
        let max = b.max.load(Ordering::SeqCst);
        let mut now = b.held.load(Ordering::SeqCst);
        loop {
            let next = now.saturating_add(more);
            if next > max {
                return Err(format!(
                    "the daemon holds as many job bytes as it may ({max}, max_held_bytes): \
                     jobs being received and jobs waiting for a printer; try again later"
                ));
            }
            match b
                .held
                .compare_exchange(now, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    b.peak.fetch_max(next, Ordering::SeqCst);
                    self.n += more;
                    return Ok(());
                }
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.n, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_refused_past_the_limit_and_given_back_when_dropped() {
        let b = Arc::new(Budget::new(100));
        let mut one = b.claim();
        one.grow(60).unwrap();
        let mut two = b.claim();
        let e = two.grow(41).unwrap_err();
        assert!(e.contains("max_held_bytes"), "{e}");
        two.grow(40).unwrap();
        assert_eq!(b.counts(), (100, 100, 100));
        drop(one);
        assert_eq!(b.counts(), (40, 100, 100));
        two.grow(60).unwrap();
        drop(two);
        assert_eq!(b.counts(), (0, 100, 100));
    }
}
