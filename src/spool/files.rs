//! File helpers: private directories, whole-file writes that never leave half a file under a
//! final name, and bounded reads that refuse anything but a regular file.
//!
//! Everything here assumes the spool's directories may have been tampered with while the
//! daemon was not running (a symlink or a FIFO planted under an entry's name, a huge file):
//! nothing follows a symlink, blocks on a special file or reads without a size cap.

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// `open(2)` flags std does not name, with their Linux values (`libc` is not a dependency).
/// `O_NOFOLLOW` makes opening a symlink fail (`ELOOP`) instead of following it;
/// `O_NONBLOCK` keeps opening a FIFO from waiting for a writer (it changes nothing for a
/// regular file). This module's tests check them against the running kernel.
///
/// The values differ between architectures: arm, aarch64 and powerpc have their own
/// `O_NOFOLLOW`; x86, riscv, s390x and loongarch use the generic one. Elsewhere the flags
/// are left out (0) and the `symlink_metadata` check made before every open stands alone.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )
))]
mod oflags {
    pub(super) const O_NOFOLLOW: i32 = 0o100_000;
    pub(super) const O_NONBLOCK: i32 = 0o4_000;
}
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
mod oflags {
    pub(super) const O_NOFOLLOW: i32 = 0o400_000;
    pub(super) const O_NONBLOCK: i32 = 0o4_000;
}
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
)))]
mod oflags {
    pub(super) const O_NOFOLLOW: i32 = 0;
    pub(super) const O_NONBLOCK: i32 = 0;
}
use oflags::{O_NOFOLLOW, O_NONBLOCK};

/// Creates `dir` (and its parents) and makes it mode 0700, whoever created it.
///
/// Refuses a `dir` that is a symlink or not a directory, rather than changing the mode of
/// whatever it points at. The mode is set through an open handle (`fchmod`), so the check
/// and the change concern the same directory.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let kind = fs::symlink_metadata(dir)?.file_type();
    if kind.is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a symbolic link; the spool uses only a real directory here",
        ));
    }
    if !kind.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a directory",
        ));
    }
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(dir)?;
    if !f.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a directory",
        ));
    }
    f.set_permissions(fs::Permissions::from_mode(0o700))
}

/// Makes `dir` (and missing parents) mode 0700 if it is missing; one that exists is left as
/// it is (it may be a directory systemd or the administrator made, with their mode).
pub(crate) fn make_private_if_missing(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// The runtime directory, while the daemon runs, when its key directory has vanished: made
/// again (mode 0700) if missing. One that exists must be a real directory owned by the
/// daemon's user or root and writable by no one else: it was deleted, so whoever made it
/// since may be another user, who must not get the keys.
pub(crate) fn runtime_dir_again(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    make_private_if_missing(dir)?;
    let m = fs::symlink_metadata(dir)?;
    if m.file_type().is_symlink() || !m.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {}, not a directory", describe(m.file_type())),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if m.uid() != me && m.uid() != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "is owned by uid {}, not by the daemon (uid {me}): not used for keys",
                m.uid()
            ),
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "is mode {:04o}, writable by others: not used for keys",
                m.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// A temporary name a file is written under before it is renamed into place: a leading dot,
/// the final name, a random suffix (from the OS RNG, so a name planted in advance cannot be
/// hit) and `.tmp`, so listings skip it and start-up removes leftovers.
fn temp_name(name: &str) -> io::Result<String> {
    let mut r = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut r)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(format!(".{name}.{:016x}.tmp", u64::from_be_bytes(r)))
}

pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Whether a file write must reach the disk before it returns (see [`Durability::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every file and its directory are fsynced: the write survives a power loss.
    Synced,
    /// No fsync: the write survives a crash of the daemon (the kernel keeps it in the page
    /// cache and writes it back), not a power loss.
    Cached,
}

/// `statfs(2)` magic numbers of the memory file systems, whose contents a power loss (or a
/// reboot) takes with it.
const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;

impl Durability {
    /// How the spool writes, given where its keys live: a key directory in memory (tmpfs
    /// or ramfs, such as systemd's `/run`) is gone after a power loss, and with it every
    /// key, so no entry written before it could be read again however well it was synced:
    /// [`Durability::Cached`]. Keys on persistent storage survive, so entries must too:
    /// [`Durability::Synced`] (also when the file system cannot be told).
    pub fn of(key_dir: &Path) -> Durability {
        match rustix::fs::statfs(key_dir) {
            // `f_type` is a signed word on most targets: compare its low 32 bits.
            Ok(s) if matches!(s.f_type as u64 & 0xffff_ffff, TMPFS_MAGIC | RAMFS_MAGIC) => {
                Durability::Cached
            }
            _ => Durability::Synced,
        }
    }
}

/// Writes `dir/name` whole: to a fresh temporary file, renamed over the final name, so a
/// crash of the daemon leaves either the old file or the new one. [`Durability::Synced`]
/// also fsyncs the file before the rename and the directory after it, so that the rename
/// itself survives a power loss. On failure the temporary file is removed and the final
/// name keeps whatever it had before.
///
/// The temporary file is created exclusively (`O_EXCL`: never an existing file, never
/// through a symlink), with mode 0600 from the start, so no other user ever sees it even
/// briefly.
pub(crate) fn write_atomic(
    dir: &Path,
    name: &str,
    data: &[u8],
    durability: Durability,
) -> io::Result<()> {
    let tmp = dir.join(temp_name(name)?);
    let mut created = false;
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(O_NOFOLLOW)
            .open(&tmp)?;
        created = true;
        f.write_all(data)?;
        if durability == Durability::Synced {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, dir.join(name))?;
        match durability {
            Durability::Synced => File::open(dir)?.sync_all(),
            Durability::Cached => Ok(()),
        }
    })();
    if result.is_err() && created {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes a file; one that is already gone counts as removed. A symlink is removed itself,
/// never what it points at.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The plain file names in `dir` (names that are not UTF-8 are skipped: the spool writes none).
pub(crate) fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Ok(name) = e.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Why [`read_capped`] gave no bytes.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A symlink, FIFO, socket, device or directory: nothing the spool wrote. Not opened.
    NotRegular(&'static str),
    /// Larger than the cap for its kind: nothing the spool wrote. Not read.
    TooLarge { len: u64, max: u64 },
    /// The file could not be opened or read (including its absence).
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "{what}, not a regular file"),
            ReadError::TooLarge { len, max } => {
                write!(f, "{len} bytes, over the {max}-byte cap for its kind")
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What a non-regular file is, for log lines.
fn describe(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

/// Reads a whole regular file of at most `max` bytes into memory that is zeroized when
/// dropped. Checks the name with `symlink_metadata` first (so a symlink or a FIFO is never
/// opened), opens it with `O_NOFOLLOW | O_NONBLOCK` (so one swapped in meanwhile is not
/// followed or waited on), checks the open file again, and never reads more than `max + 1`
/// bytes (a file growing meanwhile is still refused).
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    #[cfg(test)]
    if fault::fails(path, false) {
        return Err(ReadError::Io(io::Error::other("injected read fault")));
    }
    let check = |m: &fs::Metadata| {
        if !m.file_type().is_file() {
            return Err(ReadError::NotRegular(describe(m.file_type())));
        }
        if m.len() > max {
            return Err(ReadError::TooLarge { len: m.len(), max });
        }
        Ok(m.len())
    };
    check(&fs::symlink_metadata(path).map_err(ReadError::Io)?)?;
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let len = check(&f.metadata().map_err(ReadError::Io)?)?;
    // Sized up front (plus one byte to see the end), so the buffer is never reallocated and
    // no partial copy of a key or a slip is left in freed memory.
    let mut buf = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge {
            len: buf.len() as u64,
            max,
        });
    }
    Ok(buf)
}

/// Reads the first `n` bytes of a regular file (fewer if it is shorter), with the same
/// refusals as [`read_capped`] but no size cap: for a record's clear header.
pub(crate) fn read_prefix(path: &Path, n: usize) -> Result<Vec<u8>, ReadError> {
    #[cfg(test)]
    if fault::fails(path, true) {
        return Err(ReadError::Io(io::Error::other("injected read fault")));
    }
    let m = fs::symlink_metadata(path).map_err(ReadError::Io)?;
    if !m.file_type().is_file() {
        return Err(ReadError::NotRegular(describe(m.file_type())));
    }
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let mut buf = Vec::with_capacity(n);
    f.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    Ok(buf)
}

/// Injected read failures, for tests of what the spool does with an entry it cannot read
/// (permissions do not bind for root, so a real one is hard to make on demand).
#[cfg(test)]
pub(crate) mod fault {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static FAILING: RefCell<Vec<(PathBuf, bool)>> = const { RefCell::new(Vec::new()) };
    }

    /// Makes whole reads of `path` fail on this thread, and header reads too if `header`.
    pub(crate) fn fail_reads(path: &Path, header: bool) {
        FAILING.with(|f| f.borrow_mut().push((path.to_path_buf(), header)));
    }

    pub(crate) fn clear() {
        FAILING.with(|f| f.borrow_mut().clear());
    }

    pub(super) fn fails(path: &Path, is_header: bool) -> bool {
        FAILING.with(|f| {
            f.borrow()
                .iter()
                .any(|(p, header)| p == path && (*header || !is_header))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "slipguard-spool-files-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// The hardcoded `O_NOFOLLOW` is the running kernel's: opening a symlink with it fails.
    #[test]
    fn o_nofollow_refuses_a_symlink() {
        let d = tmp("nofollow");
        fs::write(d.join("target"), b"x").unwrap();
        std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(O_NOFOLLOW | O_NONBLOCK)
            .open(d.join("link"));
        if O_NOFOLLOW != 0 {
            assert!(opened.is_err(), "O_NOFOLLOW value is wrong for this kernel");
        }
        assert!(matches!(
            read_capped(&d.join("link"), 10),
            Err(ReadError::NotRegular("a symbolic link"))
        ));
        assert_eq!(&read_capped(&d.join("target"), 1).unwrap()[..], b"x");
        assert!(matches!(
            read_capped(&d.join("target"), 0),
            Err(ReadError::TooLarge { len: 1, max: 0 })
        ));
        let _ = fs::remove_dir_all(&d);
    }

    /// The file system type `/proc/mounts` gives for `path` (its longest mount point).
    fn mounted_type(path: &Path) -> Option<String> {
        let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
        mounts
            .lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                let (_, at, kind) = (f.next()?, f.next()?, f.next()?);
                path.starts_with(at).then(|| (at.len(), kind.to_string()))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, kind)| kind)
    }

    /// A memory file system is told apart from the disk, as `/proc/mounts` tells them.
    #[test]
    fn durability_follows_the_file_system() {
        for dir in [Path::new("/dev/shm"), Path::new(env!("CARGO_MANIFEST_DIR"))] {
            let Some(kind) = mounted_type(dir) else {
                continue;
            };
            let want = match kind.as_str() {
                "tmpfs" | "ramfs" => Durability::Cached,
                _ => Durability::Synced,
            };
            assert_eq!(Durability::of(dir), want, "{} on {kind}", dir.display());
        }
        assert_eq!(
            Durability::of(Path::new("/nonexistent/x")),
            Durability::Synced
        );
    }

    /// Writes go through a fresh, private temporary file and leave nothing else behind.
    #[test]
    fn write_atomic_leaves_one_private_file() {
        let d = tmp("atomic");
        write_atomic(&d, "a.sg", b"one", Durability::Synced).unwrap();
        write_atomic(&d, "a.sg", b"two", Durability::Cached).unwrap();
        assert_eq!(names(&d).unwrap(), vec!["a.sg".to_string()]);
        assert_eq!(fs::read(d.join("a.sg")).unwrap(), b"two");
        let mode = fs::metadata(d.join("a.sg")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let a = temp_name("a.sg").unwrap();
        assert!(is_temp_name(&a) && a != temp_name("a.sg").unwrap());
        let _ = fs::remove_dir_all(&d);
    }
}
