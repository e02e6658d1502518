//! A job on its way to a printer: redacted bytes and counts, never the original. Its bytes
//! are zeroized when it is dropped (printed, refused or expired), and it carries the end of
//! its retention window: no job waits in memory without one.

use crate::core::redact::Report;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use zeroize::Zeroizing;

/// Print a job, or only ask the printer (a real-time status query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Print,
    /// Sent once, as it came (a status query holds no text); never counted as a job.
    Query,
}

/// An accepted, redacted job.
pub struct Job {
    pub kind: JobKind,
    /// Where the printer's answer goes (the client that asked), when one is wanted.
    pub reply: Option<tokio::sync::oneshot::Sender<Vec<u8>>>,
    /// Unique within this daemon's run: start time and a counter (`1764412345-000007`).
    pub id: String,
    /// The listener kind it came from (`raw`, …).
    pub listener: &'static str,
    /// Bytes the client sent.
    pub bytes_in: usize,
    /// What is printed: the redacted job (zeroized when the last holder drops it; while the
    /// job is stored, the spool's writer holds it too).
    pub bytes: std::sync::Arc<Zeroizing<Vec<u8>>>,
    pub report: Report,
    pub accepted: Instant,
    /// The end of its retention window (unix seconds): it is never sent after this. A
    /// spooled job's entry's expiry; a job the spool could not take, or a reprint, carries
    /// the same window in memory.
    pub expires: u64,
    /// Its spool entry, when it has one (a reprint has none).
    pub spool: Option<crate::spool::EntryId>,
    /// A new job's spool entry, being written while the job is first sent.
    pub storing: Option<Storing>,
    /// Its bytes' share of the daemon's memory budget (`max_held_bytes`), given back when
    /// the job is dropped. A job from the spool (after a restart, a reprint) holds none.
    pub(crate) _held: Option<super::budget::Held>,
}

/// A new job's spool entry being written, as its printer's worker sees it.
#[derive(Debug)]
pub struct Storing {
    /// How the writing ended.
    pub stored: tokio::sync::oneshot::Receiver<Stored>,
    /// Who decides the job's fate if the entry cannot be written: the worker, once it has
    /// begun sending ([`SENDING`]), or the job's acceptance, which drops it before that
    /// ([`DROPPED`]). Starts [`WAITING`].
    pub phase: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

pub const WAITING: u8 = 0;
pub const SENDING: u8 = 1;
pub const DROPPED: u8 = 2;

/// How writing a new job's spool entry ended.
#[derive(Debug)]
pub enum Stored {
    /// Its id and expiry.
    Entry(crate::spool::EntryId, u64),
    /// The spool could not take it. The worker answers whether the job printed all the same
    /// (its first attempt had begun): if not, it drops the job and its client hears it is
    /// refused.
    Failed(tokio::sync::oneshot::Sender<bool>),
}

/// Job bytes can hold slip text: `Debug` shows sizes only.
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("listener", &self.listener)
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes.len())
            .field("spool", &self.spool)
            .field("expires", &self.expires)
            .finish()
    }
}

/// Seconds since 1970 on the wall clock (what spool expiries are in).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Job ids: the daemon's start time in seconds, then a counter.
pub struct Ids {
    start: u64,
    next: AtomicU64,
}

impl Ids {
    pub fn new() -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ids {
            start,
            next: AtomicU64::new(1),
        }
    }

    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:06}", self.start)
    }
}

impl Default for Ids {
    fn default() -> Self {
        Self::new()
    }
}
