//! The spool's on-disk formats, as pure functions over bytes: sealed records (entries and
//! their state records, kept in `state_dir`) and epoch key files (kept in `runtime_dir`).
//!
//! Nothing here touches a file or a clock; [`super`] does the I/O. Every layout is versioned
//! so a later release can read (or knowingly refuse) what an earlier one wrote.
//!
//! # Sealed record (`<id>.sg`, `<id>.st`)
//!
//! ```text
//! offset len  field
//!      0   4  magic "SGSP"
//!      4   1  format version (1)
//!      5   1  record kind: 1 = entry, 2 = state
//!      6   2  reserved, zero
//!      8   8  epoch id (big-endian u64: the unix second the epoch key's range starts)
//!     16   8  entry id (big-endian u64)
//!     24  12  nonce (random per seal, from the OS RNG)
//!     36   …  ChaCha20-Poly1305 ciphertext of the payload, then its 16-byte tag
//! ```
//!
//! Bytes 0..24 are the associated data, so a header cannot be swapped onto another record
//! (or an entry's state record onto another entry) without failing authentication; the
//! nonce is bound by the AEAD itself. Only what is needed to find the key is in the clear.
//!
//! Entry payload: `meta_len` (big-endian u32), the metadata as JSON (`meta_len` bytes),
//! then the redacted slip bytes. State payload: one byte, the [`State`] code, then the
//! record's counter (big-endian u64, at least 1): the entry's state changes are numbered
//! 1, 2, 3, … so an older record of the same entry has a smaller number (a record of the
//! first release, one byte alone, counts as 0). The counter sits inside the AEAD, so it
//! cannot be changed without the key; the spool compares it with the entry's last number,
//! kept in the runtime directory beside the keys, to tell a deleted or rolled-back record.
//!
//! # Key file (`keys/<epoch>.key`)
//!
//! ```text
//!      0   4  magic "SGKY"
//!      4   1  format version (1)
//!      5   3  reserved, zero
//!      8   8  epoch start (unix seconds, big-endian; also the file name)
//!     16   8  epoch end (unix seconds, exclusive: no entry is sealed under it from then on)
//!     24  32  the ChaCha20-Poly1305 key
//! ```

use super::State;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use std::fmt;
use zeroize::Zeroizing;

pub(crate) const RECORD_MAGIC: [u8; 4] = *b"SGSP";
pub(crate) const KEY_MAGIC: [u8; 4] = *b"SGKY";
pub(crate) const VERSION: u8 = 1;
/// The authenticated header: magic, version, kind, reserved, epoch, id.
pub(crate) const AAD_LEN: usize = 24;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const HEADER_LEN: usize = AAD_LEN + NONCE_LEN;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const KEY_FILE_LEN: usize = 56;

/// The largest slip the spool stores: 64 MiB, far above any receipt (a slip with a logo is
/// tens of kilobytes). [`MAX_ENTRY_FILE`] follows from it; a larger `.sg` file found on
/// disk cannot be one the spool wrote, so it is deleted unread rather than loaded into memory.
pub(crate) const MAX_SLIP: usize = 64 << 20;
/// The largest metadata JSON the spool writes (ids and configuration names: tiny in practice).
pub(crate) const MAX_META: usize = 64 << 10;
/// The largest entry file: header, metadata length, metadata, slip, tag.
pub(crate) const MAX_ENTRY_FILE: usize = HEADER_LEN + 4 + MAX_META + MAX_SLIP + TAG_LEN;
/// A state record's exact size: header, one byte of state, the counter, tag.
pub(crate) const STATE_FILE_LEN: usize = HEADER_LEN + STATE_PAYLOAD_LEN + TAG_LEN;
/// A state payload: the state's code and the record's counter.
pub(crate) const STATE_PAYLOAD_LEN: usize = 1 + 8;
/// A ledger file's exact size (see [`ledger_encode`]).
pub(crate) const LEDGER_FILE_LEN: usize = 16;
pub(crate) const LEDGER_MAGIC: [u8; 4] = *b"SGLG";

/// What a sealed record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Entry = 1,
    State = 2,
}

/// The clear part of a sealed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: RecordKind,
    pub epoch: u64,
    pub id: u64,
}

/// Why a record or key file could not be read. Names what is wrong, never content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatError {
    TooShort,
    BadMagic,
    Version(u8),
    Kind(u8),
    Reserved,
    /// The tag did not verify: wrong key, or the file was changed.
    Auth,
    /// Authenticated, but the payload is not what this version writes.
    Payload,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::TooShort => write!(f, "file too short"),
            FormatError::BadMagic => write!(f, "not a slipguard spool file"),
            FormatError::Version(v) => write!(f, "unsupported format version {v}"),
            FormatError::Kind(k) => write!(f, "unknown record kind {k}"),
            FormatError::Reserved => write!(f, "reserved header bytes set"),
            FormatError::Auth => write!(f, "failed authentication"),
            FormatError::Payload => write!(f, "malformed payload"),
        }
    }
}

impl Header {
    fn aad(&self) -> [u8; AAD_LEN] {
        let mut a = [0u8; AAD_LEN];
        a[0..4].copy_from_slice(&RECORD_MAGIC);
        a[4] = VERSION;
        a[5] = self.kind as u8;
        a[8..16].copy_from_slice(&self.epoch.to_be_bytes());
        a[16..24].copy_from_slice(&self.id.to_be_bytes());
        a
    }

    /// Reads the clear header of a record without decrypting it (to find its key).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Header, FormatError> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(FormatError::TooShort);
        }
        if bytes[0..4] != RECORD_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if bytes[4] != VERSION {
            return Err(FormatError::Version(bytes[4]));
        }
        let kind = match bytes[5] {
            1 => RecordKind::Entry,
            2 => RecordKind::State,
            k => return Err(FormatError::Kind(k)),
        };
        if bytes[6..8] != [0, 0] {
            return Err(FormatError::Reserved);
        }
        Ok(Header {
            kind,
            epoch: be64(&bytes[8..16]),
            id: be64(&bytes[16..24]),
        })
    }
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_be_bytes(a)
}

/// A 256-bit key. Zeroized when dropped; `Debug` never shows it.
///
/// The bytes live on the heap, in one place for the key's whole life: moving a
/// `SecretKey` (returning it by value, or a `BTreeMap` of keys rebalancing its nodes) moves
/// only the pointer, so no stale copy of the key is left behind in freed memory. The key is
/// filled in place, never built on the stack and copied in.
///
/// Each key has a memory page of its own, locked in RAM (`mlock`) where the system permits,
/// so it is not written to swap; where it does not (`RLIMIT_MEMLOCK`, a seccomp filter, 64
/// KiB pages), that is logged once and the key works all the same. Dropping a key zeroizes
/// it, then unlocks its page, then frees it.
pub(crate) struct SecretKey {
    page: Box<KeyPage>,
    /// Unlocks the page when dropped; `None` where locking was not permitted.
    lock: Option<region::LockGuard>,
}

/// One page, the key at its start: a page of its own, so unlocking it when the key goes
/// cannot unlock another key.
#[repr(C, align(4096))]
struct KeyPage([u8; 32]);

/// Whether a failure to lock a key in RAM was logged already (it is said once).
static LOCK_FAILURE_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl SecretKey {
    /// An all-zero key on the heap, locked in RAM where permitted, to be filled in place.
    fn zeroed() -> SecretKey {
        let page = Box::new(KeyPage([0u8; 32]));
        let own_page = region::page::size() <= std::mem::align_of::<KeyPage>();
        let lock = match own_page {
            true => region::lock(page.0.as_ptr(), page.0.len()).map_err(|e| e.to_string()),
            false => Err("the memory pages are larger than a key's own page".into()),
        };
        let lock = lock
            .map_err(|e| {
                use std::sync::atomic::Ordering;
                if !LOCK_FAILURE_SAID.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        error = %e,
                        "spool keys cannot be locked in RAM (mlock); they may be swapped out"
                    );
                }
            })
            .ok();
        SecretKey { page, lock }
    }

    /// A fresh key from the OS RNG.
    pub(crate) fn generate() -> Result<SecretKey, String> {
        let mut k = SecretKey::zeroed();
        OsRng
            .try_fill_bytes(&mut k.page.0)
            .map_err(|e| e.to_string())?;
        Ok(k)
    }

    /// Where the key's bytes are, to check in tests that they never move.
    #[cfg(test)]
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.page.0.as_ptr()
    }

    /// Whether the key's page is locked in RAM.
    #[cfg(test)]
    pub(crate) fn locked(&self) -> bool {
        self.lock.is_some()
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        // The cipher copies the key and zeroizes its copy when dropped.
        ChaCha20Poly1305::new(Key::from_slice(&self.page.0))
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.page.0.zeroize();
        // Unlocked after zeroizing, before the page is freed.
        drop(self.lock.take());
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Seals `payload` under `key` with a fresh random nonce: the bytes of a whole record file.
pub(crate) fn seal(key: &SecretKey, header: Header, payload: &[u8]) -> Result<Vec<u8>, String> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| e.to_string())?;
    let aad = header.aad();
    let ct = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: payload,
                aad: &aad,
            },
        )
        .map_err(|_| "encryption failed".to_string())?;
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.extend_from_slice(&aad);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a whole record file with `key`; the plaintext is zeroized when dropped.
pub(crate) fn open(
    key: &SecretKey,
    bytes: &[u8],
) -> Result<(Header, Zeroizing<Vec<u8>>), FormatError> {
    let header = Header::parse(bytes)?;
    let pt = key
        .cipher()
        .decrypt(
            Nonce::from_slice(&bytes[AAD_LEN..HEADER_LEN]),
            Payload {
                msg: &bytes[HEADER_LEN..],
                aad: &bytes[..AAD_LEN],
            },
        )
        .map_err(|_| FormatError::Auth)?;
    Ok((header, Zeroizing::new(pt)))
}

/// The payload of an entry record: metadata JSON, then the slip bytes.
pub(crate) fn entry_payload(meta_json: &[u8], slip: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut p = Zeroizing::new(Vec::with_capacity(4 + meta_json.len() + slip.len()));
    p.extend_from_slice(&(meta_json.len() as u32).to_be_bytes());
    p.extend_from_slice(meta_json);
    p.extend_from_slice(slip);
    p
}

/// Splits an entry payload into (metadata JSON, slip bytes).
pub(crate) fn split_entry_payload(p: &[u8]) -> Result<(&[u8], &[u8]), FormatError> {
    if p.len() < 4 {
        return Err(FormatError::Payload);
    }
    let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
    if p.len() - 4 < n {
        return Err(FormatError::Payload);
    }
    Ok((&p[4..4 + n], &p[4 + n..]))
}

/// A state record's payload: the state and the record's counter (1 or more).
pub(crate) fn state_payload(s: State, counter: u64) -> [u8; STATE_PAYLOAD_LEN] {
    let mut p = [0u8; STATE_PAYLOAD_LEN];
    p[0] = s.code();
    p[1..].copy_from_slice(&counter.to_be_bytes());
    p
}

/// The state and counter of a state record's payload. A one-byte payload (the first
/// release's) has counter 0; a counter of 0 in the current layout is malformed.
pub(crate) fn parse_state_payload(p: &[u8]) -> Result<(State, u64), FormatError> {
    let (code, counter) = match p {
        [c] => (*c, 0),
        [c, rest @ ..] if rest.len() == 8 => match be64(rest) {
            0 => return Err(FormatError::Payload),
            n => (*c, n),
        },
        _ => return Err(FormatError::Payload),
    };
    let state = State::from_code(code).ok_or(FormatError::Payload)?;
    Ok((state, counter))
}

/// A ledger file (`runtime_dir/ledger/<id>.ctr`): the counter of the entry's last state
/// record, kept where the keys are (tmpfs) so that the state directory alone cannot roll it
/// back.
///
/// ```text
///      0   4  magic "SGLG"
///      4   1  format version (1)
///      5   3  reserved, zero
///      8   8  the counter (big-endian u64)
/// ```
pub(crate) fn ledger_encode(counter: u64) -> [u8; LEDGER_FILE_LEN] {
    let mut b = [0u8; LEDGER_FILE_LEN];
    b[0..4].copy_from_slice(&LEDGER_MAGIC);
    b[4] = VERSION;
    b[8..16].copy_from_slice(&counter.to_be_bytes());
    b
}

pub(crate) fn ledger_decode(b: &[u8]) -> Result<u64, FormatError> {
    if b.len() != LEDGER_FILE_LEN {
        return Err(FormatError::TooShort);
    }
    if b[0..4] != LEDGER_MAGIC {
        return Err(FormatError::BadMagic);
    }
    if b[4] != VERSION {
        return Err(FormatError::Version(b[4]));
    }
    if b[5..8] != [0, 0, 0] {
        return Err(FormatError::Reserved);
    }
    Ok(be64(&b[8..16]))
}

/// An epoch key with the time range it seals new entries for.
#[derive(Debug)]
pub(crate) struct EpochKey {
    pub key: SecretKey,
    /// First unix second of the range (the epoch id).
    pub start: u64,
    /// First unix second after the range.
    pub end: u64,
}

impl EpochKey {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut b = Zeroizing::new(Vec::with_capacity(KEY_FILE_LEN));
        b.extend_from_slice(&KEY_MAGIC);
        b.extend_from_slice(&[VERSION, 0, 0, 0]);
        b.extend_from_slice(&self.start.to_be_bytes());
        b.extend_from_slice(&self.end.to_be_bytes());
        b.extend_from_slice(&self.key.page.0);
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Result<EpochKey, FormatError> {
        if b.len() != KEY_FILE_LEN {
            return Err(FormatError::TooShort);
        }
        if b[0..4] != KEY_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if b[4] != VERSION {
            return Err(FormatError::Version(b[4]));
        }
        if b[5..8] != [0, 0, 0] {
            return Err(FormatError::Reserved);
        }
        let (start, end) = (be64(&b[8..16]), be64(&b[16..24]));
        if end <= start {
            return Err(FormatError::Payload);
        }
        let mut key = SecretKey::zeroed();
        key.page.0.copy_from_slice(&b[24..56]);
        Ok(EpochKey { key, start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            kind: RecordKind::Entry,
            epoch: 1_764_412_200,
            id: 0x0123_4567_89ab_cdef,
        }
    }

    #[test]
    fn seal_open_round_trip_and_layout() {
        let key = SecretKey::generate().unwrap();
        let sealed = seal(&key, header(), b"payload").unwrap();
        assert_eq!(sealed.len(), HEADER_LEN + 7 + TAG_LEN);
        assert_eq!(&sealed[0..4], b"SGSP");
        assert_eq!(sealed[4], 1);
        assert_eq!(sealed[5], 1);
        assert_eq!(&sealed[8..16], &1_764_412_200u64.to_be_bytes());
        assert_eq!(&sealed[16..24], &0x0123_4567_89ab_cdefu64.to_be_bytes());
        let (h, pt) = open(&key, &sealed).unwrap();
        assert_eq!(h, header());
        assert_eq!(&pt[..], b"payload");
    }

    #[test]
    fn nonces_differ_per_seal() {
        let key = SecretKey::generate().unwrap();
        let a = seal(&key, header(), b"same").unwrap();
        let b = seal(&key, header(), b"same").unwrap();
        assert_ne!(a[AAD_LEN..HEADER_LEN], b[AAD_LEN..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn every_changed_byte_fails() {
        let key = SecretKey::generate().unwrap();
        let sealed = seal(&key, header(), b"payload").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x40;
            assert!(open(&key, &t).is_err(), "byte {i} changed but opened");
        }
        let other = SecretKey::generate().unwrap();
        assert_eq!(open(&other, &sealed).unwrap_err(), FormatError::Auth);
    }

    #[test]
    fn header_errors() {
        assert_eq!(Header::parse(b"SGSP").unwrap_err(), FormatError::TooShort);
        let key = SecretKey::generate().unwrap();
        let sealed = seal(&key, header(), b"").unwrap();
        let mut t = sealed.clone();
        t[4] = 9;
        assert_eq!(Header::parse(&t).unwrap_err(), FormatError::Version(9));
        let mut t = sealed.clone();
        t[5] = 7;
        assert_eq!(Header::parse(&t).unwrap_err(), FormatError::Kind(7));
        let mut t = sealed;
        t[0] = b'X';
        assert_eq!(Header::parse(&t).unwrap_err(), FormatError::BadMagic);
    }

    #[test]
    fn entry_payload_split() {
        let p = entry_payload(b"{}", b"\x1b@slip");
        assert_eq!(
            split_entry_payload(&p).unwrap(),
            (&b"{}"[..], &b"\x1b@slip"[..])
        );
        assert_eq!(
            split_entry_payload(&[0, 0, 0, 9, 1]).unwrap_err(),
            FormatError::Payload
        );
    }

    #[test]
    fn state_payload_carries_its_counter() {
        let p = state_payload(State::Printed, 7);
        assert_eq!(p.len(), STATE_PAYLOAD_LEN);
        assert_eq!(parse_state_payload(&p).unwrap(), (State::Printed, 7));
        // The first release's one-byte payload counts as 0.
        assert_eq!(
            parse_state_payload(&[State::Failed.code()]).unwrap(),
            (State::Failed, 0)
        );
        let mut zero = state_payload(State::Queued, 1);
        zero[1..].fill(0);
        assert_eq!(parse_state_payload(&zero), Err(FormatError::Payload));
        assert_eq!(parse_state_payload(&[]), Err(FormatError::Payload));
        assert_eq!(parse_state_payload(&p[..5]), Err(FormatError::Payload));
        // Sealed, the counter cannot be changed without the key.
        let key = SecretKey::generate().unwrap();
        let h = Header {
            kind: RecordKind::State,
            ..header()
        };
        let sealed = seal(&key, h, &p).unwrap();
        assert_eq!(sealed.len(), STATE_FILE_LEN);
        let (_, pt) = open(&key, &sealed).unwrap();
        assert_eq!(parse_state_payload(&pt).unwrap(), (State::Printed, 7));
    }

    #[test]
    fn ledger_round_trip() {
        let b = ledger_encode(42);
        assert_eq!(ledger_decode(&b), Ok(42));
        assert_eq!(ledger_decode(&b[..15]), Err(FormatError::TooShort));
        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(ledger_decode(&bad), Err(FormatError::BadMagic));
        let mut bad = b;
        bad[6] = 1;
        assert_eq!(ledger_decode(&bad), Err(FormatError::Reserved));
    }

    /// Keys sit alone in a page, locked in RAM when this process may lock that much (root
    /// may; so may anyone within `RLIMIT_MEMLOCK`, 8 MiB by default). Zeroized on drop.
    #[test]
    fn keys_have_a_page_of_their_own_locked_in_ram() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_eq!(a.as_ptr() as usize % 4096, 0);
        assert_ne!(a.as_ptr() as usize / 4096, b.as_ptr() as usize / 4096);
        assert_eq!(std::mem::size_of::<KeyPage>(), 4096);
        if region::page::size() == 4096 {
            let locked = std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("VmLck:").map(|v| v.trim().to_string()));
            eprintln!("VmLck with two keys: {locked:?}");
            assert!(a.locked() && b.locked(), "mlock refused here");
        }
    }

    #[test]
    fn key_file_round_trip() {
        let k = EpochKey {
            key: SecretKey::generate().unwrap(),
            start: 600,
            end: 825,
        };
        let b = k.encode();
        assert_eq!(b.len(), KEY_FILE_LEN);
        let d = EpochKey::decode(&b).unwrap();
        assert_eq!((d.start, d.end), (600, 825));
        assert_eq!(d.key.page.0, k.key.page.0);
        assert!(format!("{d:?}").contains("SecretKey(..)"));
        // Moving the key moves a pointer: the bytes stay where they were filled.
        let at = d.key.as_ptr();
        let moved = [d];
        assert_eq!(moved[0].key.as_ptr(), at);
        assert_eq!(
            EpochKey::decode(&b[..55]).unwrap_err(),
            FormatError::TooShort
        );
    }
}
