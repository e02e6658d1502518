//! Spool errors: each names the operation and the file (an id or a path), never content.

use super::{EntryId, State};
use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum SpoolError {
    /// A file operation failed: disk full, read-only, permissions, a directory missing.
    /// The spool is unchanged by the failed call and keeps working.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The OS random number generator failed (no key or nonce could be made).
    Random(String),
    /// The key directory would be inside the state directory, where keys must never be.
    KeysUnderState { keys: PathBuf, state: PathBuf },
    /// No live entry has this id (never stored, purged, or removed at expiry).
    NotFound(EntryId),
    /// The entry's window has passed; it has been removed.
    Expired(EntryId),
    /// The entry could not be read (failed authentication, malformed, key gone); its files
    /// have been deleted.
    Corrupt { id: EntryId, reason: String },
    /// `Expired` is set by the spool itself, not by callers.
    BadState(State),
}

impl SpoolError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SpoolError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for SpoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpoolError::Io { op, path, source } => write!(f, "spool: {op} {}: {source}", path.display()),
            SpoolError::Random(e) => write!(f, "spool: the OS random number generator failed: {e}"),
            SpoolError::KeysUnderState { keys, state } => write!(
                f,
                "spool: key directory {} is inside the state directory {}; keys must live only in the runtime directory (tmpfs)",
                keys.display(),
                state.display()
            ),
            SpoolError::NotFound(id) => write!(f, "spool: no entry {id}"),
            SpoolError::Expired(id) => write!(f, "spool: entry {id} has passed its retention window and was removed"),
            SpoolError::Corrupt { id, reason } => {
                write!(f, "spool: entry {id} could not be read ({reason}) and was deleted")
            }
            SpoolError::BadState(s) => write!(f, "spool: state {} is set only by the spool", s.label()),
        }
    }
}

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpoolError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
