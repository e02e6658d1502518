//! The encrypted spool (DESIGN §6): every accepted job's redacted bytes, sealed, kept only
//! for the retention window, then made unreadable by destroying the key.
//!
//! This module owns the spool's files and keys and nothing else: it never sees a job's
//! original bytes, LPD user or job names, or a printer. The daemon asks it to store a job
//! before printing, tells it how printing went, and runs [`run_sweeper`] beside it.
//!
//! # Files
//! * `state_dir/spool/<id>.sg` — an entry: its metadata ([`Meta`]) and redacted slip bytes,
//!   sealed together with ChaCha20-Poly1305. Mode 0600, directory 0700.
//! * `state_dir/spool/<id>.st` — the entry's current [`State`] and the number of that state
//!   change (1, 2, 3, …), sealed separately so a state change rewrites nine bytes of payload
//!   instead of the whole slip. Absent while queued.
//! * `runtime_dir/ledger/<id>.ctr` — the number of the entry's last state change, beside
//!   the keys (see *State records* below).
//! * `runtime_dir/keys/<epoch>.key` — an epoch key (mode 0600, directory 0700). The runtime
//!   directory is a tmpfs (`/run/slipguard`), so keys never reach persistent disk; [`Spool::open`]
//!   refuses a key directory inside the state directory.
//!
//! Every file is written to a fresh temporary name (created exclusively, mode 0600, with a
//! random suffix) and renamed, so a crash leaves either the old file or the new one.
//!
//! # Durability follows the keys
//! Whether a write is fsynced depends on where the keys live ([`Durability::of`] the key
//! directory). On a tmpfs (the default, systemd's `/run`) a power loss takes every key, so
//! no entry written before it could be read again, synced or not: nothing is fsynced, and a
//! crash of the daemon alone loses nothing the kernel holds in its page cache. With the
//! runtime directory on persistent storage the keys survive a power loss, so the entries
//! must too: every file and its directory are fsynced ([`Spool::durability`] says which,
//! and the daemon logs it at start). Either way an entry is written whole before
//! [`Spool::put`] returns, so a job is never told accepted before its entry is in place.
//!
//! Reads trust nothing about the directories: a symlink, FIFO, device or directory under a
//! spool name is never opened (it is removed at [`Spool::open`] and logged), and every read
//! is capped — a key file is exactly 56 bytes, a state record 53, an entry at most 64 MiB of
//! slip plus 64 KiB of metadata and the header (larger slips are refused by [`Spool::put`]).
//! The spool and key directories themselves must be real directories, not symlinks.
//!
//! # Formats (version 1)
//! Only the format version, record kind, epoch id, entry id and nonce are in the clear; the
//! metadata (times, printer, listener, counts, state) is inside the ciphertext.
//!
//! A sealed record (`.sg` and `.st`), integers big-endian:
//!
//! ```text
//! offset len  field
//!      0   4  magic "SGSP"
//!      4   1  format version (1)
//!      5   1  record kind: 1 = entry, 2 = state
//!      6   2  reserved, zero
//!      8   8  epoch id (u64: the unix second the epoch key's range starts)
//!     16   8  entry id (u64)
//!     24  12  nonce (random per seal, from the OS RNG)
//!     36   …  ChaCha20-Poly1305 ciphertext of the payload, then its 16-byte tag
//! ```
//!
//! Bytes 0..24 are the AEAD's associated data, so a header moved onto another record (or a
//! state record onto another entry) fails authentication. Entry payload: the metadata's
//! length (u32), the metadata as JSON, then the slip bytes. State payload: one byte
//! (1 queued, 2 printing, 3 printed, 4 failed), then the record's counter (u64, from 1).
//!
//! # State records
//! A state record is bound to its entry (the header's entry id and epoch are associated
//! data) and numbered inside the AEAD. The number of each entry's last record is also kept in
//! `runtime_dir/ledger`, which, like the keys, the state directory's side cannot reach: at
//! [`Spool::open`] a record that is missing or older than the ledger says (deleted, or
//! rolled back to an earlier copy, e.g. from a backup or by a hand in the state directory)
//! is detected, logged, and its entry is [`State::Suspect`]: never printed again by itself
//! (it may be reprinted by hand while its window lasts). The record is written before the
//! ledger, so a crash between the two leaves a record one ahead of the ledger, which is
//! accepted: only the key holder can make a record with a larger number. Without its
//! ledger file (a first-release spool) a record is taken as it is.
//!
//! A key file (`.key`, 56 bytes): magic `"SGKY"`, version (1), 3 reserved zero bytes, epoch
//! start (u64, also the file name), epoch end (u64, exclusive), then the 32-byte key.
//!
//! # Keys and epochs
//! Time is cut into epochs of a quarter of the retention window. The first entry stored in
//! an epoch creates its key (256 bits from the OS RNG) and key file; later entries of the
//! epoch reuse it, so a busy desk makes about five keys per window, not one per job. A key
//! is destroyed — zeroized in memory (it is held in [`zeroize::Zeroizing`]) and its file
//! removed — once its epoch's range is over **and** no live entry uses it. Each key's bytes sit
//! in one heap allocation for its whole life, so moving it leaves no copy behind. So a key outlives
//! its last entry by at most one epoch, and a copy of a sealed entry taken at any time
//! becomes undecryptable when its window (plus at most an epoch) has passed. Nothing relies
//! on overwriting files: on SSDs and journaling file systems old blocks may survive, but they
//! hold ciphertext whose key no longer exists anywhere.
//!
//! # Retention
//! An entry expires `retention` after it was stored; the expiry is kept as wall-clock unix
//! seconds inside the entry, so it survives restarts (a shorter `retention` at a later start
//! applies to old entries too; a longer one does not extend them). At its expiry
//! [`Spool::sweep`] unlinks the entry and its state record and reports it if it never printed
//! (the daemon counts those as expired and drops them from its queues). [`run_sweeper`] sleeps
//! until the next expiry or key end and is woken when a new deadline comes earlier. While
//! anything is stored it also wakes at least once a minute (or once an epoch, if shorter) to
//! read the wall clock again, so a suspend or a clock step delays an expiry by at most that;
//! with nothing stored it sleeps until a `put`.
//!
//! [`Spool::open`] cleans up before the daemon serves: an entry whose key is gone (after a
//! reboot the tmpfs is empty), that fails authentication, or whose window has passed is
//! deleted, leftover temporary files are removed, and keys no entry needs are destroyed. The
//! entries still waiting to print come back in creation order.
//!
//! # Use from the daemon
//! The store is synchronous (small files, fsynced when the keys are on persistent storage);
//! share it as `Arc<std::sync::Mutex<Spool>>`, never hold the lock across an `.await`, and
//! call it from a blocking-tolerant place (it writes one file per call). Times come from a
//! [`Clock`], which tests run on tokio's paused clock.
//!
//! Errors name the operation and the file (an id or a path), never content; a store that
//! cannot write (disk full, read-only) returns [`SpoolError::Io`] from that call, is unchanged
//! by it, and works again once the cause is gone. Log lines carry ids, counts and paths only.

mod clock;
mod error;
mod files;
mod format;
mod retention;
mod sweeper;

pub use clock::Clock;
pub use error::SpoolError;
pub use files::Durability;
pub use retention::{Retention, RetentionError};
pub use sweeper::run_sweeper;

use files::ReadError;
use format::{EpochKey, FormatError, Header, RecordKind, SecretKey};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

/// A spool entry's id: unique in this spool, increasing in creation order. Its upper bits are
/// the creation time, so ids stay increasing across restarts. Shown as 16 hex digits (the
/// file name).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(u64);

impl EntryId {
    pub fn as_u64(self) -> u64 {
        self.0
    }

    fn entry_file(self) -> String {
        format!("{self}.sg")
    }

    fn state_file(self) -> String {
        format!("{self}.st")
    }

    fn ledger_file(self) -> String {
        format!("{self}.ctr")
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryId({self})")
    }
}

impl FromStr for EntryId {
    type Err = String;

    /// Parses the 16-hex-digit form shown by `Display` (what `spool list` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "not a spool entry id: {s:?} (16 hex digits expected)"
            ));
        }
        u64::from_str_radix(s, 16)
            .map(EntryId)
            .map_err(|e| e.to_string())
    }
}

/// Where an entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Stored, waiting for its printer.
    Queued,
    /// Being sent to the printer.
    Printing,
    /// The printer took it; kept for `reprint` until the window ends.
    Printed,
    /// Printing failed; it waits to be retried while its window lasts.
    Failed,
    /// Its window ended before it printed; set by the spool when it is removed.
    Expired,
    /// Its state record was deleted or rolled back to an older one while the daemon was
    /// stopped (see *State records*): it may have printed, so it is not printed again by
    /// itself. Set by [`Spool::open`] only.
    Suspect,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Printing => "printing",
            State::Printed => "printed",
            State::Failed => "failed",
            State::Expired => "expired",
            State::Suspect => "suspect",
        }
    }

    /// Still owed to a printer: what [`Spool::open`] hands back to be queued again.
    pub fn is_pending(self) -> bool {
        matches!(self, State::Queued | State::Printing | State::Failed)
    }

    fn code(self) -> u8 {
        match self {
            State::Queued => 1,
            State::Printing => 2,
            State::Printed => 3,
            State::Failed => 4,
            State::Expired => 5,
            State::Suspect => 6,
        }
    }

    fn from_code(c: u8) -> Option<State> {
        Some(match c {
            1 => State::Queued,
            2 => State::Printing,
            3 => State::Printed,
            4 => State::Failed,
            5 => State::Expired,
            6 => State::Suspect,
            _ => return None,
        })
    }
}

/// An entry's metadata. Holds no slip text, user or job names: ids, times, names from the
/// configuration, sizes and counts. Sealed with the slip all the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub id: EntryId,
    /// The daemon's job id (`1764412345-000007`), to match log lines.
    pub job: String,
    /// The printer's name from the configuration.
    pub printer: String,
    /// The listener kind the job came from (`raw`, `lpd`, `folder`, …).
    pub listener: String,
    /// Unix seconds when stored.
    pub created: u64,
    /// Unix seconds when the entry is removed.
    pub expires: u64,
    /// Length of the stored (redacted) bytes.
    pub bytes: u64,
    /// Values redacted, by kind, indexed like `core::redact::Kind::ALL`.
    pub redacted: [u64; 7],
    pub state: State,
}

/// What the caller says about a new entry; the spool adds id, times, size and state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEntry {
    pub job: String,
    pub printer: String,
    pub listener: String,
    pub redacted: [u64; 7],
}

/// A stored slip's (redacted) bytes. `Debug` shows the length only; zeroized when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Slip(Zeroizing<Vec<u8>>);

impl Slip {
    /// The bytes, for a printer; still zeroized when dropped.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl std::ops::Deref for Slip {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Slip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slip({} bytes)", self.0.len())
    }
}

/// What [`Spool::open`] found.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// Entries still owed to a printer (queued, printing or failed, inside their window), in
    /// creation order: queue these again.
    pub pending: Vec<Meta>,
    /// Entries kept that already printed (for `reprint`).
    pub printed: usize,
    /// Deleted because their window passed before they printed (count them as expired).
    pub expired_unprinted: usize,
    /// Deleted because their window passed after they printed.
    pub expired_printed: usize,
    /// Deleted because their key was gone (the runtime directory was emptied, e.g. a reboot).
    pub keyless: usize,
    /// Deleted because they failed authentication or were malformed.
    pub corrupt: usize,
    /// Kept as [`State::Suspect`] because their state record was missing or older than the
    /// ledger says (deleted or rolled back): not printed again.
    pub tampered: usize,
    /// Left in place because they could not be read (an I/O error); retried at the next start.
    /// Their key is kept meanwhile — the one their clear header names, or every key loaded
    /// if even that cannot be read — until their window has surely ended (judged from the
    /// creation time in their id); then the key may go and the file is unlinked.
    pub unreadable: usize,
    /// Keys destroyed because no entry needed them and their epoch was over.
    pub keys_destroyed: usize,
}

/// What one [`Spool::sweep`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Entries whose window ended before they printed (state set to [`State::Expired`]): the
    /// daemon drops them from its queues and counts them.
    ///
    /// An entry [claimed](Spool::claim) for delivery at its expiry is not reported here: its
    /// files go all the same, and [`Spool::release`] tells the worker, which counts it
    /// only if the attempt under way fails. So a job is counted once, and never both
    /// expired and printed.
    pub expired_unprinted: Vec<Meta>,
    /// Entries removed, printed or not.
    pub removed: usize,
    /// Of those, entries whose files could not be unlinked (logged). Their key is destroyed
    /// all the same, which is what makes them unreadable.
    pub unlink_failed: usize,
    /// Epoch keys destroyed.
    pub keys_destroyed: usize,
}

impl SweepReport {
    pub fn is_empty(&self) -> bool {
        self.removed == 0 && self.keys_destroyed == 0
    }
}

/// What became of a [claimed](Spool::claim) entry, as [`Spool::release`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Still in the spool.
    Live,
    /// Its window ended while it was claimed: its files are gone and no sweep counted it.
    Expired,
    /// Gone for another reason (purged).
    Gone,
}

/// A sealed state record waiting to be written ([`Spool::seal_state`]). Holds ciphertext
/// and ids only.
pub struct StateWrite {
    durability: Durability,
    dir: PathBuf,
    ledger_dir: PathBuf,
    id: EntryId,
    state: State,
    counter: u64,
    sealed: Vec<u8>,
}

impl StateWrite {
    /// Writes the record (temporary name, rename; fsynced if the spool is
    /// [`Durability::Synced`]), then the entry's ledger file. The
    /// record is what counts: a ledger file that cannot be written (its directory removed
    /// and not creatable, say) is logged, and only the check against rollback is weaker for
    /// that entry.
    pub fn write(&self) -> Result<(), SpoolError> {
        let name = self.id.state_file();
        files::write_atomic(&self.dir, &name, &self.sealed, self.durability)
            .map_err(|e| SpoolError::io("writing spool state record", self.dir.join(&name), e))?;
        let name = self.id.ledger_file();
        let ledger = format::ledger_encode(self.counter);
        let mut written = files::write_atomic(&self.ledger_dir, &name, &ledger, self.durability);
        if written
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        {
            // The runtime directory was emptied under the daemon: make the ledger's again.
            written = files::private_dir(&self.ledger_dir).and_then(|()| {
                files::write_atomic(&self.ledger_dir, &name, &ledger, self.durability)
            });
        }
        if let Err(e) = written {
            warn!(entry = %self.id, path = %self.ledger_dir.join(&name).display(), error = %e, "spool ledger not written; the entry's state record is");
        }
        Ok(())
    }
}

impl fmt::Debug for StateWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateWrite({}, {})", self.id, self.state.label())
    }
}

/// A live entry: its metadata and the epoch whose key sealed it.
struct Live {
    meta: Meta,
    epoch: u64,
    /// The number of its last state record (0: none yet).
    counter: u64,
    /// Being delivered ([`Spool::claim`]): the worker, not the sweeper, says what became of
    /// it if its window ends meanwhile.
    claimed: bool,
}

/// An entry left in place at start because it could not be read: it keeps `epochs`' keys
/// alive until `until`, so it can still be read at a later start while it may be live.
struct Held {
    epochs: Vec<u64>,
    until: u64,
}

/// Why a stored record could not be loaded.
enum LoadFail {
    /// Its epoch key is gone.
    Keyless,
    /// Malformed, or failed authentication: to be deleted.
    Corrupt(String),
    /// The file could not be read; left in place.
    Io(io::Error),
}

impl From<FormatError> for LoadFail {
    fn from(e: FormatError) -> Self {
        LoadFail::Corrupt(e.to_string())
    }
}

impl From<ReadError> for LoadFail {
    /// A symlink, a special file or an oversized file cannot be one the spool wrote: it is
    /// treated like a corrupt record (deleted unread, logged). Only a real I/O error leaves
    /// the file in place.
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => LoadFail::Io(e),
            refused => LoadFail::Corrupt(refused.to_string()),
        }
    }
}

/// The spool: sealed entries in `state_dir/spool`, epoch keys in `runtime_dir/keys`.
pub struct Spool {
    spool_dir: PathBuf,
    keys_dir: PathBuf,
    /// The number of each entry's last state record (`<id>.ctr`), beside the keys.
    ledger_dir: PathBuf,
    retention: Retention,
    clock: Clock,
    /// Whether writes are fsynced, from where the keys live (see *Durability follows the
    /// keys*).
    durability: Durability,
    /// Epoch keys by epoch id (the epoch's first unix second).
    keys: BTreeMap<u64, EpochKey>,
    entries: BTreeMap<EntryId, Live>,
    last_id: u64,
    /// Wakes [`run_sweeper`] when the next deadline moves earlier.
    wake: Arc<Notify>,
    /// Files that could not be unlinked (a key file above all: while it exists the key
    /// does). Retried at every sweep until they are gone; [`run_sweeper`] wakes at least
    /// once a minute while any remain. A restart retries them too, by listing the
    /// directories again.
    unlink_retry: BTreeSet<PathBuf>,
    /// Entries that could not be read at start, and the keys they hold (see [`Held`]).
    held: BTreeMap<EntryId, Held>,
    /// Entries whose window ended while they were being delivered: removed, their verdict
    /// left to the worker ([`Spool::release`]).
    expired_claimed: BTreeSet<EntryId>,
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("spool_dir", &self.spool_dir)
            .field("keys_dir", &self.keys_dir)
            .field("retention", &self.retention)
            .field("entries", &self.entries.len())
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Spool {
    /// Opens the spool, creating its directories, and cleans up before anything is served:
    /// entries whose key is missing, that fail authentication or whose window has passed
    /// are deleted, and keys no entry needs are destroyed. Returns the entries still owed to
    /// a printer.
    ///
    /// A missing runtime directory is made mode 0700 (an existing one keeps its mode: it may
    /// be systemd's `RuntimeDirectory=`); the key directory is always 0700.
    ///
    /// Fails if a directory cannot be created or listed, if `state_dir/spool` or
    /// `runtime_dir/keys` is a symlink (or not a directory), or if the key directory would be
    /// inside `state_dir` (also through a symlink).
    pub fn open(
        state_dir: &Path,
        runtime_dir: &Path,
        retention: Retention,
        clock: Clock,
    ) -> Result<(Spool, Recovered), SpoolError> {
        let spool_dir = state_dir.join("spool");
        files::private_dir(&spool_dir)
            .map_err(|e| SpoolError::io("preparing private directory", &spool_dir, e))?;
        files::make_private_if_missing(runtime_dir)
            .map_err(|e| SpoolError::io("creating directory", runtime_dir, e))?;
        let state_real = std::fs::canonicalize(state_dir)
            .map_err(|e| SpoolError::io("resolving directory", state_dir, e))?;
        let keys_dir = std::fs::canonicalize(runtime_dir)
            .map_err(|e| SpoolError::io("resolving directory", runtime_dir, e))?
            .join("keys");
        let under_state = |keys: PathBuf| SpoolError::KeysUnderState {
            keys,
            state: state_real.clone(),
        };
        if keys_dir.starts_with(&state_real) {
            return Err(under_state(keys_dir));
        }
        // Resolved again once it exists, so a `keys` symlink into the state directory is
        // caught too (and `private_dir` then refuses any other symlink).
        std::fs::create_dir_all(&keys_dir)
            .map_err(|e| SpoolError::io("creating directory", &keys_dir, e))?;
        let keys_real = std::fs::canonicalize(&keys_dir)
            .map_err(|e| SpoolError::io("resolving directory", &keys_dir, e))?;
        if keys_real.starts_with(&state_real) {
            return Err(under_state(keys_real));
        }
        files::private_dir(&keys_dir)
            .map_err(|e| SpoolError::io("preparing private directory", &keys_dir, e))?;
        // Beside the keys, so it is as far from the state directory as they are.
        let ledger_dir = keys_dir.with_file_name("ledger");
        if let Ok(real) = std::fs::canonicalize(&ledger_dir) {
            if real.starts_with(&state_real) {
                return Err(under_state(real));
            }
        }
        files::private_dir(&ledger_dir)
            .map_err(|e| SpoolError::io("preparing private directory", &ledger_dir, e))?;
        let durability = Durability::of(&keys_dir);

        let mut spool = Spool {
            spool_dir,
            keys_dir,
            ledger_dir,
            retention,
            clock,
            durability,
            keys: BTreeMap::new(),
            entries: BTreeMap::new(),
            last_id: 0,
            wake: Arc::new(Notify::new()),
            unlink_retry: BTreeSet::new(),
            held: BTreeMap::new(),
            expired_claimed: BTreeSet::new(),
        };
        let now = spool.clock.now_unix();
        let mut rec = Recovered::default();
        spool.load_keys()?;
        spool.load_entries(now, &mut rec)?;
        spool.remove_orphan_ledgers();
        spool.release_holds(now);
        rec.keys_destroyed = spool.destroy_idle_keys(now, false);
        spool.last_id = spool.entries.keys().next_back().map_or(0, |id| id.0);
        rec.pending = spool
            .entries
            .values()
            .filter(|l| l.meta.state.is_pending())
            .map(|l| l.meta.clone())
            .collect();
        rec.printed = spool.entries.len() - rec.pending.len();
        info!(
            pending = rec.pending.len(),
            printed = rec.printed,
            expired_unprinted = rec.expired_unprinted,
            expired_printed = rec.expired_printed,
            keyless = rec.keyless,
            corrupt = rec.corrupt,
            tampered = rec.tampered,
            unreadable = rec.unreadable,
            keys_destroyed = rec.keys_destroyed,
            "spool opened"
        );
        Ok((spool, rec))
    }

    /// Stores a job's redacted bytes, sealed, before it is sent to the printer. The entry
    /// starts [`State::Queued`] and expires `retention` from now.
    ///
    /// On a write failure (disk full, read-only, directory gone) nothing is stored and the
    /// error names the file; the daemon refuses the job (counted as failed). A
    /// slip over 64 MiB is refused the same way (an I/O error of kind `FileTooLarge`): the
    /// start-up cleanup would delete a larger entry unread.
    pub fn put(&mut self, new: NewEntry, slip: &[u8]) -> Result<Meta, SpoolError> {
        if slip.len() > format::MAX_SLIP {
            return Err(SpoolError::io(
                "writing spool entry",
                &self.spool_dir,
                io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    format!(
                        "slip of {} bytes is over the spool's {}-byte cap",
                        slip.len(),
                        format::MAX_SLIP
                    ),
                ),
            ));
        }
        self.ensure_keys_dir()?;
        let before = self.next_expiry();
        let now = self.clock.now_unix();
        let result = self
            .epoch_for(now)
            .and_then(|epoch| self.write_new(epoch, now, new, slip));
        // Even a failed write may have made a key, whose end is a deadline.
        self.wake_if_earlier(before);
        result
    }

    fn write_new(
        &mut self,
        epoch: u64,
        now: u64,
        new: NewEntry,
        slip: &[u8],
    ) -> Result<Meta, SpoolError> {
        let id = EntryId(now.saturating_mul(1 << 20).max(self.last_id + 1));
        let meta = Meta {
            id,
            job: new.job,
            printer: new.printer,
            listener: new.listener,
            created: now,
            expires: now.saturating_add(self.retention.secs()),
            bytes: slip.len() as u64,
            redacted: new.redacted,
            state: State::Queued,
        };
        let json = serde_json::to_vec(&meta).expect("metadata serializes");
        if json.len() > format::MAX_META {
            return Err(SpoolError::io(
                "writing spool entry",
                self.spool_dir.join(id.entry_file()),
                io::Error::new(io::ErrorKind::FileTooLarge, "metadata over the spool's cap"),
            ));
        }
        let payload = format::entry_payload(&json, slip);
        let header = Header {
            kind: RecordKind::Entry,
            epoch,
            id: id.0,
        };
        let sealed =
            format::seal(&self.keys[&epoch].key, header, &payload).map_err(SpoolError::Random)?;
        let name = id.entry_file();
        files::write_atomic(&self.spool_dir, &name, &sealed, self.durability)
            .map_err(|e| SpoolError::io("writing spool entry", self.spool_dir.join(&name), e))?;
        self.last_id = id.0;
        self.entries.insert(
            id,
            Live {
                meta: meta.clone(),
                epoch,
                counter: 0,
                claimed: false,
            },
        );
        debug!(entry = %id, bytes = meta.bytes, epoch, "spool entry stored");
        Ok(meta)
    }

    /// Records how printing went. Cheap: seals and writes a small state record beside the
    /// entry (the next number in its count) and the entry's ledger file. [`State::Expired`]
    /// and [`State::Suspect`] are refused (the spool sets them).
    pub fn set_state(&mut self, id: EntryId, state: State) -> Result<(), SpoolError> {
        match self.seal_state(id, state)? {
            Some(w) => {
                w.write()?;
                self.commit_state(w);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// [`Spool::set_state`] in three steps, so that a caller sharing the spool behind a lock
    /// can write the file without holding it: seal the record (`None`: nothing to write),
    /// [`StateWrite::write`] it, then [`Spool::commit_state`].
    pub fn seal_state(
        &mut self,
        id: EntryId,
        state: State,
    ) -> Result<Option<StateWrite>, SpoolError> {
        if matches!(state, State::Expired | State::Suspect) {
            return Err(SpoolError::BadState(state));
        }
        let live = self.entries.get(&id).ok_or(SpoolError::NotFound(id))?;
        if live.meta.state == state {
            return Ok(None);
        }
        let counter = live.counter + 1;
        let key = self.key_of(id, live.epoch)?;
        let header = Header {
            kind: RecordKind::State,
            epoch: live.epoch,
            id: id.0,
        };
        let sealed = format::seal(key, header, &format::state_payload(state, counter))
            .map_err(SpoolError::Random)?;
        Ok(Some(StateWrite {
            durability: self.durability,
            dir: self.spool_dir.clone(),
            ledger_dir: self.ledger_dir.clone(),
            id,
            state,
            counter,
            sealed,
        }))
    }

    /// The state written by `w` is the entry's now. An entry purged or expired meanwhile
    /// takes its state record with it.
    pub fn commit_state(&mut self, w: StateWrite) {
        match self.entries.get_mut(&w.id) {
            Some(live) => {
                live.meta.state = w.state;
                live.counter = live.counter.max(w.counter);
            }
            None => {
                let _ = std::fs::remove_file(w.dir.join(w.id.state_file()));
                let _ = std::fs::remove_file(w.ledger_dir.join(w.id.ledger_file()));
            }
        }
    }

    /// Takes an entry for one delivery attempt: from now until [`Spool::release`], the
    /// worker owns what becomes of it. Refused if it is gone (purged, or swept: the sweep
    /// reported it) or its window has ended (the next sweep reports it): either way it must
    /// not be sent.
    ///
    /// While claimed, a sweep at its expiry still removes its files (the retention window
    /// holds on disk) but does not report it as expired: the attempt under way decides,
    /// and [`Spool::release`] tells the worker. The state is shown as [`State::Printing`]
    /// (in memory only: after a crash a queued entry and one being sent are owed alike, so
    /// it is not worth a disk write on the way to the printer).
    pub fn claim(&mut self, id: EntryId) -> Result<(), SpoolError> {
        let now = self.clock.now_unix();
        let live = self.entries.get_mut(&id).ok_or(SpoolError::NotFound(id))?;
        if live.meta.expires <= now {
            return Err(SpoolError::Expired(id));
        }
        live.claimed = true;
        live.meta.state = State::Printing;
        Ok(())
    }

    /// Ends a [`claim`](Spool::claim): says whether the entry is still live, expired while
    /// it was claimed (the worker counts it, the sweep did not), or is gone otherwise
    /// (purged).
    pub fn release(&mut self, id: EntryId) -> Release {
        if let Some(live) = self.entries.get_mut(&id) {
            live.claimed = false;
            return Release::Live;
        }
        match self.expired_claimed.remove(&id) {
            true => Release::Expired,
            false => Release::Gone,
        }
    }

    /// An entry's metadata and bytes (for printing after a restart, or `reprint`), only while
    /// it is inside its window. An entry that fails authentication is deleted (with a log
    /// line) and reported as [`SpoolError::Corrupt`].
    pub fn get(&mut self, id: EntryId) -> Result<(Meta, Slip), SpoolError> {
        let live = self.entries.get(&id).ok_or(SpoolError::NotFound(id))?;
        if live.meta.expires <= self.clock.now_unix() {
            // The sweep, due now, removes it and reports it.
            return Err(SpoolError::Expired(id));
        }
        let (epoch, meta) = (live.epoch, live.meta.clone());
        let read = self.decrypt_entry(id).and_then(|(h, mut pt)| {
            if h.epoch != epoch {
                return Err(LoadFail::Corrupt("record names another epoch".into()));
            }
            let (json, slip) = format::split_entry_payload(&pt)?;
            let stored: Meta = parse_meta(json)?;
            if stored.id != id || stored.bytes != slip.len() as u64 {
                return Err(LoadFail::Corrupt(
                    "metadata does not match the record".into(),
                ));
            }
            let skip = pt.len() - slip.len();
            pt.drain(..skip);
            Ok(Slip(pt))
        });
        match read {
            Ok(slip) => Ok((meta, slip)),
            Err(LoadFail::Io(e)) => Err(SpoolError::io(
                "reading spool entry",
                self.spool_dir.join(id.entry_file()),
                e,
            )),
            // Its key is in memory, so the header's epoch was changed.
            Err(LoadFail::Keyless) => {
                Err(self.discard_unreadable(id, "record names an unknown epoch".into()))
            }
            Err(LoadFail::Corrupt(reason)) => Err(self.discard_unreadable(id, reason)),
        }
    }

    /// Deletes an entry that cannot be read, logs it (id and reason only) and returns the
    /// error for the caller.
    fn discard_unreadable(&mut self, id: EntryId, reason: String) -> SpoolError {
        let before = self.next_expiry();
        warn!(entry = %id, reason = %reason, "spool entry could not be read; deleted");
        if let Err((path, e)) = self.remove_entry(id) {
            warn!(entry = %id, path = %path.display(), error = %e, "could not unlink unreadable spool entry");
        }
        self.destroy_idle_keys(self.clock.now_unix(), false);
        self.wake_if_earlier(before);
        SpoolError::Corrupt { id, reason }
    }

    /// One live entry's metadata (no slip content); `None` once it is purged or expired.
    pub fn meta(&self, id: EntryId) -> Option<&Meta> {
        self.entries.get(&id).map(|l| &l.meta)
    }

    /// Every live entry's metadata, in creation order (no slip content).
    pub fn list(&self) -> Vec<Meta> {
        self.entries.values().map(|l| l.meta.clone()).collect()
    }

    /// Deletes one entry now (`spool purge ID`). Its key goes as soon as its epoch is over
    /// and no other entry uses it.
    pub fn purge(&mut self, id: EntryId) -> Result<(), SpoolError> {
        if !self.entries.contains_key(&id) {
            return Err(SpoolError::NotFound(id));
        }
        let before = self.next_expiry();
        let result = self
            .remove_entry(id)
            .map_err(|(path, e)| SpoolError::io("deleting spool entry", path, e));
        self.destroy_idle_keys(self.clock.now_unix(), false);
        self.wake_if_earlier(before);
        info!(entry = %id, "spool entry purged");
        result
    }

    /// Deletes every entry and destroys every key, including the current epoch's, so any
    /// copy of any entry is unreadable from now on. Returns how many entries were deleted.
    /// Entries are forgotten even if unlinking fails (the first such error is returned).
    pub fn purge_all(&mut self) -> Result<usize, SpoolError> {
        let ids: Vec<EntryId> = self.entries.keys().copied().collect();
        let mut first_err = None;
        for &id in &ids {
            if let Err((path, e)) = self.remove_entry(id) {
                first_err.get_or_insert(SpoolError::io("deleting spool entry", path, e));
            }
        }
        // Unreadable entries go too: every key is destroyed below, theirs included.
        self.release_holds(u64::MAX);
        let keys = self.destroy_idle_keys(self.clock.now_unix(), true);
        info!(entries = ids.len(), keys, "spool purged");
        match first_err {
            Some(e) => Err(e),
            None => Ok(ids.len()),
        }
    }

    /// The next moment (unix seconds) a [`sweep`](Spool::sweep) has work: an entry's expiry,
    /// the end of an unused key's epoch, or the end of an unreadable entry's hold on its
    /// key. `None` when the spool holds nothing.
    pub fn next_expiry(&self) -> Option<u64> {
        let used = self.used_epochs();
        let entries = self
            .entries
            .values()
            .map(|l| l.meta.expires)
            .chain(self.held.values().map(|h| h.until));
        let keys = self
            .keys
            .iter()
            .filter(|(e, _)| !used.contains(e))
            .map(|(_, k)| k.end);
        entries.chain(keys).min()
    }

    /// Removes every entry whose window has ended by `now` (unix seconds), then destroys the
    /// keys of epochs that are over and no longer used.
    ///
    /// Every sweep first retries the unlinks that failed before (see
    /// [`has_unlink_retries`](Spool::has_unlink_retries)).
    pub fn sweep(&mut self, now: u64) -> SweepReport {
        self.retry_unlinks();
        let mut report = SweepReport::default();
        let due: Vec<EntryId> = self
            .entries
            .iter()
            .filter(|(_, l)| l.meta.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let printed = self.entries[&id].meta.state == State::Printed;
            let claimed = self.entries[&id].claimed;
            let mut meta = self.entries[&id].meta.clone();
            if let Err((path, e)) = self.remove_entry(id) {
                warn!(entry = %id, path = %path.display(), error = %e, "could not unlink expired spool entry; destroying its key still makes it unreadable");
                report.unlink_failed += 1;
            }
            report.removed += 1;
            if claimed {
                // Being delivered: the attempt decides (see `claim`).
                self.expired_claimed.insert(id);
            } else if !printed {
                meta.state = State::Expired;
                report.expired_unprinted.push(meta);
            }
        }
        self.release_holds(now);
        report.keys_destroyed = self.destroy_idle_keys(now, false);
        report
    }

    /// Whether some file (a destroyed key's, an expired entry's) could not be unlinked and
    /// waits for the next sweep to try again.
    pub fn has_unlink_retries(&self) -> bool {
        !self.unlink_retry.is_empty()
    }

    /// Unlinks a file, or remembers it to retry at the next sweep.
    fn unlink_or_retry(&mut self, path: PathBuf) -> io::Result<()> {
        let result = files::remove(&path);
        if result.is_err() {
            self.unlink_retry.insert(path);
        }
        result
    }

    /// Retries the unlinks that failed; logs each file once it is gone.
    fn retry_unlinks(&mut self) {
        self.unlink_retry.retain(|path| match files::remove(path) {
            Ok(()) => {
                info!(path = %path.display(), "spool file removed on retry");
                false
            }
            Err(e) => {
                debug!(path = %path.display(), error = %e, "spool file still cannot be removed");
                true
            }
        });
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Whether this spool fsyncs its writes (see *Durability follows the keys*).
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The directory the keys are in (in the runtime directory).
    pub fn keys_dir(&self) -> &Path {
        &self.keys_dir
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Notified when the next deadline moves earlier (a new entry after an idle spell, a key).
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn wake_if_earlier(&self, before: Option<u64>) {
        match (before, self.next_expiry()) {
            (_, None) => {}
            (Some(b), Some(a)) if a >= b => {}
            _ => self.wake.notify_one(),
        }
    }

    /// Epochs whose keys must stay: those of live entries, and those held for entries that
    /// could not be read at start.
    fn used_epochs(&self) -> BTreeSet<u64> {
        let held = self.held.values().flat_map(|h| h.epochs.iter().copied());
        self.entries.values().map(|l| l.epoch).chain(held).collect()
    }

    /// Ends the holds of unreadable entries whose window has surely ended by `now`: their
    /// files are unlinked (or retried), and their keys may then be destroyed.
    fn release_holds(&mut self, now: u64) {
        let done: Vec<EntryId> = self
            .held
            .iter()
            .filter(|(_, h)| h.until <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.held.remove(&id);
            debug!(entry = %id, "unreadable spool entry past its window; unlinked");
            self.delete_files(id);
        }
    }

    /// The epoch an entry's clear header names, read alone (for an entry whose whole file
    /// could not be read); `None` if even that fails or the header is not this entry's.
    fn peek_epoch(&self, id: EntryId) -> Option<u64> {
        let path = self.spool_dir.join(id.entry_file());
        let bytes = files::read_prefix(&path, format::HEADER_LEN + format::TAG_LEN).ok()?;
        let h = Header::parse(&bytes).ok()?;
        (h.kind == RecordKind::Entry && h.id == id.0).then_some(h.epoch)
    }

    fn key_of(&self, id: EntryId, epoch: u64) -> Result<&SecretKey, SpoolError> {
        // Keys are destroyed only when no entry uses them, so this holds unless the key file
        // and memory disagree after an outside hand; treat it as an unreadable entry.
        self.keys
            .get(&epoch)
            .map(|k| &k.key)
            .ok_or(SpoolError::Corrupt {
                id,
                reason: "its key is gone".into(),
            })
    }

    /// Makes the key directory again when it is gone (the runtime directory was deleted
    /// while the daemon ran: `rm -r`, a cleaner of temporary files) and writes every live key
    /// into it again, so the next job is spooled as before and every live entry can still be
    /// read after a restart. A runtime directory that must be made again is made mode 0700;
    /// one that exists by then must be the daemon's own (or root's) and writable by no one
    /// else, since another user may have made it meanwhile. Costs one `lstat` when nothing
    /// is missing.
    fn ensure_keys_dir(&mut self) -> Result<(), SpoolError> {
        match std::fs::symlink_metadata(&self.keys_dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // There: whatever else is wrong with it, writing the key file says.
            _ => return Ok(()),
        }
        let runtime = self.keys_dir.parent().unwrap_or(Path::new("/"));
        files::runtime_dir_again(runtime)
            .map_err(|e| SpoolError::io("making directory again", runtime, e))?;
        files::private_dir(&self.keys_dir)
            .map_err(|e| SpoolError::io("making directory again", &self.keys_dir, e))?;
        for (start, key) in &self.keys {
            let name = format!("{start}.key");
            files::write_atomic(&self.keys_dir, &name, &key.encode(), self.durability)
                .map_err(|e| SpoolError::io("writing key file", self.keys_dir.join(&name), e))?;
        }
        warn!(
            dir = %self.keys_dir.display(),
            keys = self.keys.len(),
            "the spool key directory was gone (runtime directory deleted?); made again with the live keys"
        );
        Ok(())
    }

    /// The epoch a new entry stored at `now` is sealed in, making its key if needed.
    fn epoch_for(&mut self, now: u64) -> Result<u64, SpoolError> {
        let latest = self
            .keys
            .range(..=now)
            .next_back()
            .map(|(&s, k)| (s, k.end));
        if let Some((start, end)) = latest {
            if now < end {
                return Ok(start);
            }
        }
        let len = self.retention.epoch_secs();
        let aligned = now - now % len;
        // After a retention change an older key may end past the aligned start: begin after it.
        let start = aligned.max(latest.map_or(0, |(_, end)| end));
        let key = EpochKey {
            key: SecretKey::generate().map_err(SpoolError::Random)?,
            start,
            end: aligned + len,
        };
        let name = format!("{start}.key");
        let path = self.keys_dir.join(&name);
        files::write_atomic(&self.keys_dir, &name, &key.encode(), self.durability)
            .map_err(|e| SpoolError::io("writing key file", &path, e))?;
        // An older key of the same epoch (destroyed by `purge_all`) may still be waiting to be
        // unlinked: the new file replaced it, and must not be removed in its place.
        self.unlink_retry.remove(&path);
        debug!(epoch = start, end = key.end, "spool epoch key created");
        self.keys.insert(start, key);
        Ok(start)
    }

    /// Destroys keys no live entry uses whose epoch is over by `now` (every unused key when
    /// `all`): dropped from memory, which zeroizes them, and their files removed.
    fn destroy_idle_keys(&mut self, now: u64, all: bool) -> usize {
        let used = self.used_epochs();
        let doomed: Vec<u64> = self
            .keys
            .iter()
            .filter(|(e, k)| !used.contains(e) && (all || k.end <= now))
            .map(|(e, _)| *e)
            .collect();
        for &epoch in &doomed {
            drop(self.keys.remove(&epoch));
            let path = self.keys_dir.join(format!("{epoch}.key"));
            match self.unlink_or_retry(path.clone()) {
                Ok(()) => debug!(epoch, "spool epoch key destroyed"),
                Err(e) => {
                    warn!(epoch, path = %path.display(), error = %e, "could not remove spool key file (zeroized in memory; retried at every sweep)")
                }
            }
        }
        doomed.len()
    }

    /// Forgets an entry and unlinks its files: the entry first, so a crash in between leaves
    /// an orphan state record (removed at start), never an entry with its state lost.
    fn remove_entry(&mut self, id: EntryId) -> Result<(), (PathBuf, io::Error)> {
        self.entries.remove(&id);
        let mut result = Ok(());
        for path in self.files_of(id) {
            if let Err(e) = self.unlink_or_retry(path.clone()) {
                if result.is_ok() {
                    result = Err((path, e));
                }
            }
        }
        result
    }

    /// An entry's files: the entry first, so a crash in between leaves an orphan state
    /// record or ledger file (removed at start), never an entry with its state lost.
    fn files_of(&self, id: EntryId) -> [PathBuf; 3] {
        [
            self.spool_dir.join(id.entry_file()),
            self.spool_dir.join(id.state_file()),
            self.ledger_dir.join(id.ledger_file()),
        ]
    }

    /// Removes ledger files of entries that are not in the spool (left by a crash between
    /// unlinks, or by entries deleted at start).
    fn remove_orphan_ledgers(&mut self) {
        let Ok(names) = files::names(&self.ledger_dir) else {
            return;
        };
        for name in names {
            let keep = name
                .strip_suffix(".ctr")
                .and_then(|stem| stem.parse::<EntryId>().ok())
                .is_some_and(|id| self.entries.contains_key(&id) || self.held.contains_key(&id));
            if !keep {
                debug!(name = %name, "orphan spool ledger file removed");
                let _ = self.unlink_or_retry(self.ledger_dir.join(name));
            }
        }
    }

    /// The counter of an entry's last state record as the ledger says; 0 without a ledger
    /// file. A ledger file that is not one the spool wrote is ignored (logged).
    fn ledger(&self, id: EntryId) -> u64 {
        let path = self.ledger_dir.join(id.ledger_file());
        match files::read_capped(&path, format::LEDGER_FILE_LEN as u64) {
            Ok(b) => format::ledger_decode(&b).unwrap_or_else(|e| {
                warn!(entry = %id, reason = %e, "spool ledger file unusable; ignored");
                0
            }),
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => {
                warn!(entry = %id, reason = %e, "spool ledger file unusable; ignored");
                0
            }
        }
    }

    /// Reads and opens `<id>.sg` with its epoch's key (a regular file, size capped).
    fn decrypt_entry(&self, id: EntryId) -> Result<(Header, Zeroizing<Vec<u8>>), LoadFail> {
        let path = self.spool_dir.join(id.entry_file());
        let bytes = files::read_capped(&path, format::MAX_ENTRY_FILE as u64)?;
        let h = Header::parse(&bytes)?;
        if h.kind != RecordKind::Entry || h.id != id.0 {
            return Err(LoadFail::Corrupt("record names another entry".into()));
        }
        let key = self.keys.get(&h.epoch).ok_or(LoadFail::Keyless)?;
        Ok(format::open(&key.key, &bytes)?)
    }

    /// Reads `<id>.st`, if there is one.
    fn read_state(&self, id: EntryId, epoch: u64) -> Result<Option<(State, u64)>, LoadFail> {
        let path = self.spool_dir.join(id.state_file());
        let bytes = match files::read_capped(&path, format::STATE_FILE_LEN as u64) {
            Ok(b) => b,
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let h = Header::parse(&bytes)?;
        if h.kind != RecordKind::State || h.id != id.0 || h.epoch != epoch {
            return Err(LoadFail::Corrupt("state record names another entry".into()));
        }
        let key = self.keys.get(&epoch).ok_or(LoadFail::Keyless)?;
        let (_, pt) = format::open(&key.key, &bytes)?;
        Ok(Some(format::parse_state_payload(&pt)?))
    }

    /// Loads the key files; unreadable ones are removed (they could open nothing anyway), as
    /// are symlinks, special files and files of the wrong size, unread.
    fn load_keys(&mut self) -> Result<(), SpoolError> {
        let names = files::names(&self.keys_dir)
            .map_err(|e| SpoolError::io("listing directory", &self.keys_dir, e))?;
        let max_len = self.retention.epoch_secs();
        for name in names {
            let path = self.keys_dir.join(&name);
            if files::is_temp_name(&name) {
                let _ = self.unlink_or_retry(path);
                continue;
            }
            let Some(stem) = name.strip_suffix(".key") else {
                continue;
            };
            // Only the name this spool writes: `0600.key` or `+600.key` would load the same
            // epoch as `600.key`, but destroying the key removes `600.key` alone, leaving
            // the copy on disk for good.
            let Some(epoch) = canonical_epoch(stem) else {
                warn!(path = %path.display(), "spool key file with a non-canonical name removed");
                let _ = self.unlink_or_retry(path);
                continue;
            };
            let loaded = files::read_capped(&path, format::KEY_FILE_LEN as u64)
                .map_err(|e| e.to_string())
                .and_then(|b| EpochKey::decode(&b).map_err(|e| e.to_string()))
                .and_then(|k| match k.start == epoch {
                    true => Ok(k),
                    false => Err("file name does not match its epoch".into()),
                });
            match loaded {
                Ok(mut k) => {
                    // A shorter retention since the key was made shortens its epoch too.
                    k.end = k.end.min(k.start.saturating_add(max_len));
                    self.keys.insert(k.start, k);
                }
                Err(reason) => {
                    warn!(path = %path.display(), reason = %reason, "spool key file unusable; removed");
                    let _ = self.unlink_or_retry(path);
                }
            }
        }
        Ok(())
    }

    /// Loads every entry, deleting those that cannot be trusted or have expired.
    fn load_entries(&mut self, now: u64, rec: &mut Recovered) -> Result<(), SpoolError> {
        let names = files::names(&self.spool_dir)
            .map_err(|e| SpoolError::io("listing directory", &self.spool_dir, e))?;
        let entry_names: BTreeSet<&str> =
            names.iter().filter_map(|n| n.strip_suffix(".sg")).collect();
        for name in &names {
            let path = self.spool_dir.join(name);
            if files::is_temp_name(name) {
                let _ = self.unlink_or_retry(path);
                continue;
            }
            if let Some(stem) = name.strip_suffix(".st") {
                if !entry_names.contains(stem) {
                    debug!(path = %path.display(), "orphan spool state record removed");
                    let _ = self.unlink_or_retry(path);
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".sg") else {
                continue;
            };
            let Ok(id) = stem.parse::<EntryId>() else {
                warn!(path = %path.display(), "spool file with a malformed name removed");
                let _ = self.unlink_or_retry(path);
                rec.corrupt += 1;
                continue;
            };
            match self.load_entry(id) {
                Ok(mut live) => {
                    if live.meta.state == State::Suspect {
                        warn!(entry = %id, "spool state record missing or older than the ledger (deleted or rolled back): the job may have printed, so it is not printed again");
                        rec.tampered += 1;
                    }
                    let window_end = live.meta.created.saturating_add(self.retention.secs());
                    live.meta.expires = live.meta.expires.min(window_end);
                    if live.meta.expires <= now {
                        if live.meta.state == State::Printed {
                            rec.expired_printed += 1;
                        } else {
                            rec.expired_unprinted += 1;
                        }
                        self.delete_files(id);
                    } else {
                        self.entries.insert(id, live);
                    }
                }
                Err(LoadFail::Keyless) => {
                    debug!(entry = %id, "spool entry without its key deleted");
                    rec.keyless += 1;
                    self.delete_files(id);
                }
                Err(LoadFail::Corrupt(reason)) => {
                    warn!(entry = %id, reason = %reason, "spool entry could not be read; deleted");
                    rec.corrupt += 1;
                    self.delete_files(id);
                }
                Err(LoadFail::Io(e)) => {
                    // It may be live: keep its key (or, if its header cannot be read either,
                    // every key it could be sealed with) while its window may last, so the
                    // next start can read it. The id's upper bits are its creation second
                    // or later, and it was made by now, so its window ends by `until`.
                    let epochs = match self.peek_epoch(id) {
                        Some(epoch) => vec![epoch],
                        None => self.keys.keys().copied().collect(),
                    };
                    let until = (id.0 >> 20).min(now).saturating_add(self.retention.secs());
                    warn!(entry = %id, error = %e, keys_held = epochs.len(), "spool entry could not be read; left in place, its key kept for the next start");
                    rec.unreadable += 1;
                    self.held.insert(id, Held { epochs, until });
                }
            }
        }
        Ok(())
    }

    fn load_entry(&self, id: EntryId) -> Result<Live, LoadFail> {
        let (h, pt) = self.decrypt_entry(id)?;
        let (json, slip) = format::split_entry_payload(&pt)?;
        let mut meta = parse_meta(json)?;
        if meta.id != id || meta.bytes != slip.len() as u64 {
            return Err(LoadFail::Corrupt(
                "metadata does not match the record".into(),
            ));
        }
        let (state, counter) = self.read_state(id, h.epoch)?.unwrap_or((State::Queued, 0));
        meta.state = state;
        let ledger = self.ledger(id);
        if counter < ledger {
            // Deleted or rolled back while the daemon was stopped: it may have printed.
            meta.state = State::Suspect;
        }
        Ok(Live {
            meta,
            epoch: h.epoch,
            counter: counter.max(ledger),
            claimed: false,
        })
    }

    /// Unlinks an entry's files at start-up (nothing is in memory yet); failures are logged
    /// and retried at every sweep.
    fn delete_files(&mut self, id: EntryId) {
        for path in self.files_of(id) {
            if let Err(e) = self.unlink_or_retry(path.clone()) {
                warn!(path = %path.display(), error = %e, "could not unlink spool file");
            }
        }
    }
}

/// The epoch a key file's name stem stands for, if it is exactly as the spool writes it:
/// decimal digits, no sign, no leading zero (but `0` itself).
fn canonical_epoch(stem: &str) -> Option<u64> {
    let digits = !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = stem.len() > 1 && stem.starts_with('0');
    if !digits || leading_zero {
        return None;
    }
    stem.parse().ok()
}

fn parse_meta(json: &[u8]) -> Result<Meta, LoadFail> {
    serde_json::from_slice(json).map_err(|_| LoadFail::Corrupt("malformed metadata".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "slipguard-spool-unit-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn entry_id_text_round_trip() {
        let id = EntryId(0x1a2b_3c4d_0000_0001);
        assert_eq!(id.to_string(), "1a2b3c4d00000001");
        assert_eq!("1a2b3c4d00000001".parse::<EntryId>().unwrap(), id);
        assert!("1a2b".parse::<EntryId>().is_err());
        assert!("zz2b3c4d00000001".parse::<EntryId>().is_err());
    }

    #[test]
    fn key_names_must_be_canonical() {
        assert_eq!(canonical_epoch("1764412200"), Some(1_764_412_200));
        assert_eq!(canonical_epoch("0"), Some(0));
        for bad in [
            "",
            "01764412200",
            "+1764412200",
            "-1",
            " 1",
            "1e3",
            "00",
            "18446744073709551616",
        ] {
            assert_eq!(canonical_epoch(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn state_codes_round_trip() {
        for s in [
            State::Queued,
            State::Printing,
            State::Printed,
            State::Failed,
            State::Expired,
            State::Suspect,
        ] {
            assert_eq!(State::from_code(s.code()), Some(s));
        }
        assert_eq!(State::from_code(0), None);
    }

    /// Epoch keys: one per quarter window, aligned; reused within the epoch; a new one after.
    #[tokio::test(start_paused = true)]
    async fn epochs_are_shared_and_aligned() {
        let d = tmp("epochs");
        let clock = Clock::anchored(1_000_000);
        let (mut s, _) =
            Spool::open(&d.join("state"), &d.join("run"), Retention::DEFAULT, clock).unwrap();
        let a = s.put(NewEntry::default(), b"a").unwrap();
        tokio::time::advance(std::time::Duration::from_secs(10)).await;
        let b = s.put(NewEntry::default(), b"b").unwrap();
        assert_eq!(s.entries[&a.id].epoch, s.entries[&b.id].epoch);
        assert_eq!(s.entries[&a.id].epoch, 1_000_000 - 1_000_000 % 225);
        assert!(b.id > a.id);
        tokio::time::advance(std::time::Duration::from_secs(225)).await;
        let c = s.put(NewEntry::default(), b"c").unwrap();
        assert_ne!(s.entries[&c.id].epoch, s.entries[&a.id].epoch);
        assert_eq!(s.keys.len(), 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Keys stay put in memory while the key map grows and rebalances around them.
    #[test]
    fn keys_do_not_move_when_the_map_rebalances() {
        let mut keys = BTreeMap::new();
        let first = EpochKey {
            key: SecretKey::generate().unwrap(),
            start: 0,
            end: 1,
        };
        let at = first.key.as_ptr();
        keys.insert(0u64, first);
        for i in 1..200u64 {
            let k = EpochKey {
                key: SecretKey::generate().unwrap(),
                start: i,
                end: i + 1,
            };
            keys.insert(i, k);
        }
        assert_eq!(keys[&0].key.as_ptr(), at);
    }

    /// An entry that cannot be read at start keeps its key (though its epoch is over and no
    /// loaded entry uses it), so the next start reads it; at the end of its window the key
    /// goes and the file is unlinked.
    #[tokio::test(start_paused = true)]
    async fn an_unreadable_entry_keeps_its_key_for_the_next_start() {
        const BASE: u64 = 1_764_412_200;
        let d = tmp("unreadable");
        let clock = Clock::anchored(BASE);
        let open = || {
            Spool::open(
                &d.join("state"),
                &d.join("run"),
                Retention::DEFAULT,
                clock.clone(),
            )
            .unwrap()
        };
        let (mut s, _) = open();
        let a = s.put(NewEntry::default(), b"a").unwrap();
        let entry = s.spool_dir.join(a.id.entry_file());
        let key = s.keys_dir.join(format!("{BASE}.key"));
        drop(s);
        tokio::time::advance(std::time::Duration::from_secs(226)).await;

        // The whole file cannot be read, its header can: that epoch's key is kept.
        files::fault::fail_reads(&entry, false);
        let (s, rec) = open();
        assert_eq!((rec.unreadable, rec.keys_destroyed), (1, 0));
        assert!(entry.exists() && key.exists());
        assert_eq!(s.held[&a.id].epochs, vec![BASE]);
        assert_eq!(s.next_expiry(), Some(BASE + 900));
        drop(s);

        // Retried at the next start: readable again, it is back.
        files::fault::clear();
        let (s, rec) = open();
        assert_eq!(rec.unreadable, 0);
        assert_eq!(
            rec.pending.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![a.id]
        );
        drop(s);

        // Not even the header: every key is held, until the window has surely ended.
        files::fault::fail_reads(&entry, true);
        let (mut s, rec) = open();
        assert_eq!((rec.unreadable, rec.keys_destroyed), (1, 0));
        assert_eq!(s.held[&a.id].epochs, vec![BASE]);
        tokio::time::advance(std::time::Duration::from_secs(900 - 226 - 1)).await;
        assert_eq!(s.sweep(clock.now_unix()).keys_destroyed, 0);
        assert!(key.exists());
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert_eq!(s.next_expiry(), Some(BASE + 900));
        assert_eq!(s.sweep(clock.now_unix()).keys_destroyed, 1);
        assert!(!key.exists() && !entry.exists());
        assert_eq!(s.next_expiry(), None);
        files::fault::clear();
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A state record deleted, or rolled back to an older copy, while the spool is closed
    /// is caught at the next open: the entry is suspect and not owed to a printer. A record
    /// one ahead of its ledger (a crash between the two writes) is taken as it is.
    #[tokio::test(start_paused = true)]
    async fn a_deleted_or_rolled_back_state_record_is_caught() {
        let d = tmp("tamper");
        let clock = Clock::anchored(1_764_412_200);
        let open = || {
            Spool::open(
                &d.join("state"),
                &d.join("run"),
                Retention::DEFAULT,
                clock.clone(),
            )
            .unwrap()
        };
        let (mut s, _) = open();
        let a = s.put(NewEntry::default(), b"a").unwrap().id;
        let b = s.put(NewEntry::default(), b"b").unwrap().id;
        s.set_state(a, State::Failed).unwrap();
        let st = s.spool_dir.join(a.state_file());
        let old = std::fs::read(&st).unwrap();
        s.set_state(a, State::Printed).unwrap();
        s.set_state(b, State::Printed).unwrap();
        assert_eq!(s.entries[&a].counter, 2);
        drop(s);

        // Untouched: both printed, nothing owed.
        let (s, rec) = open();
        assert_eq!((rec.pending.len(), rec.printed, rec.tampered), (0, 2, 0));
        drop(s);

        // a's record rolled back to "failed", b's deleted: neither is owed again.
        std::fs::write(&st, &old).unwrap();
        std::fs::remove_file(s_dir(&d).join(b.state_file())).unwrap();
        let (s, rec) = open();
        assert_eq!(rec.tampered, 2);
        assert!(rec.pending.is_empty(), "{:?}", rec.pending);
        assert_eq!(s.meta(a).unwrap().state, State::Suspect);
        assert_eq!(s.meta(b).unwrap().state, State::Suspect);
        drop(s);

        // Without its ledger file (a spool of the first release) a record is taken as it
        // is, and so is one ahead of the ledger.
        let (mut s, _) = open();
        let c = s.put(NewEntry::default(), b"c").unwrap().id;
        s.set_state(c, State::Failed).unwrap();
        let ledger = s.ledger_dir.join(c.ledger_file());
        let first = std::fs::read(&ledger).unwrap();
        s.set_state(c, State::Printed).unwrap();
        std::fs::write(&ledger, &first).unwrap();
        drop(s);
        let (s, rec) = open();
        assert_eq!(s.meta(c).unwrap().state, State::Printed);
        assert_eq!(rec.tampered, 2, "only a and b");
        drop(s);
        std::fs::remove_file(&ledger).unwrap();
        let (mut s, _) = open();
        assert_eq!(s.meta(c).unwrap().state, State::Printed);

        // The ledger's directory removed under a running spool: made again at the next
        // state change.
        let e = s.put(NewEntry::default(), b"e").unwrap().id;
        std::fs::remove_dir_all(&s.ledger_dir).unwrap();
        s.set_state(e, State::Printed).unwrap();
        assert!(s.ledger_dir.join(e.ledger_file()).exists());
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    fn s_dir(d: &Path) -> PathBuf {
        d.join("state").join("spool")
    }

    /// A claimed entry is not reported by a sweep at its expiry (its files go all the same):
    /// the worker hears it from `release`. An unclaimed one is reported; a claim after the
    /// window is refused.
    #[tokio::test(start_paused = true)]
    async fn one_owner_of_an_entry_at_its_expiry() {
        let d = tmp("claim");
        let clock = Clock::anchored(1_764_412_200);
        let (mut s, _) = Spool::open(
            &d.join("state"),
            &d.join("run"),
            Retention::DEFAULT,
            clock.clone(),
        )
        .unwrap();
        let a = s.put(NewEntry::default(), b"a").unwrap().id;
        let b = s.put(NewEntry::default(), b"b").unwrap().id;
        let p = s.put(NewEntry::default(), b"p").unwrap().id;
        s.claim(a).unwrap();
        assert_eq!(s.meta(a).unwrap().state, State::Printing);
        s.claim(p).unwrap();
        s.purge(p).unwrap();
        assert_eq!(s.release(p), Release::Gone);

        tokio::time::advance(std::time::Duration::from_secs(900)).await;
        assert!(matches!(s.claim(b), Err(SpoolError::Expired(_))));
        let report = s.sweep(clock.now_unix());
        assert_eq!(report.removed, 2);
        let reported: Vec<EntryId> = report.expired_unprinted.iter().map(|m| m.id).collect();
        assert_eq!(reported, vec![b], "the claimed one is left to its worker");
        assert!(
            !s.spool_dir.join(a.entry_file()).exists(),
            "its file is gone"
        );
        assert!(matches!(s.claim(a), Err(SpoolError::NotFound(_))));
        assert_eq!(s.release(a), Release::Expired);
        assert_eq!(s.release(a), Release::Gone, "said once");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// After a retention change, a new key starts where an older, longer one ends.
    #[tokio::test(start_paused = true)]
    async fn new_epoch_starts_after_a_longer_old_one() {
        let d = tmp("epoch-change");
        let long = Retention::check(std::time::Duration::from_secs(4000), false).unwrap();
        let clock = Clock::anchored(1_000_000);
        let (mut s, _) =
            Spool::open(&d.join("state"), &d.join("run"), long, clock.clone()).unwrap();
        s.put(NewEntry::default(), b"a").unwrap();
        let first = s.keys.values().next().map(|k| (k.start, k.end)).unwrap();
        drop(s);
        // Reopened with a 1-minute window: the old key's end is clamped to start + 15 s.
        let short = Retention::check(std::time::Duration::from_secs(60), false).unwrap();
        let (mut s, _) = Spool::open(&d.join("state"), &d.join("run"), short, clock).unwrap();
        assert_eq!(first.0, 1_000_000);
        assert_eq!(s.keys[&first.0].end, 1_000_015);
        // At 1_000_016 the 15 s epoch aligned on multiples of 15 began at 1_000_005, inside
        // the old key's range: the new key must begin where the old one ends instead.
        tokio::time::advance(std::time::Duration::from_secs(16)).await;
        let now = 1_000_016;
        assert!(
            now - now % 15 < 1_000_015,
            "the aligned start overlaps the old key"
        );
        s.put(NewEntry::default(), b"b").unwrap();
        let starts: Vec<u64> = s.keys.keys().copied().collect();
        assert_eq!(starts, vec![1_000_000, 1_000_015]);
        assert_eq!(s.keys[&1_000_015].end, 1_000_020, "and ends on the grid");
        let _ = std::fs::remove_dir_all(&d);
    }
}
