//! Files in directories other users may write (DESIGN §6): the drop folder, its `rejected/`,
//! and a file printer's folder. A member of the group that may write such a folder can put
//! a symlink, a FIFO or a hard link under any name at any moment, and swap one in between
//! two system calls. So nothing here looks a path up twice or follows a link:
//!
//! * a folder is opened once, and every file in it is named relative to that handle
//!   (`openat`, `renameat2`, `unlinkat`);
//! * a file is read only through a handle opened with `O_NOFOLLOW | O_NONBLOCK`, after
//!   `fstat` on that handle says it is a regular file with one link, and never more than
//!   the cap plus one byte (so a file that grows, or a `/proc` file whose size says 0, is
//!   still refused);
//! * a new file is created under a random name with `O_CREAT | O_EXCL | O_NOFOLLOW` and
//!   mode 0600, written, synced, and renamed to its final name without replacing whatever
//!   is there (`RENAME_NOREPLACE`; another name is chosen instead).
//!
//! What this module does not decide: what a file means (the folder listener, the device).

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat, CWD};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What the daemon needs of a `stat`, in the same types on every architecture (the kernel's
/// field types differ between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Info {
    pub kind: FileType,
    /// The permission bits, with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    /// Seconds since the epoch (0 when before it).
    pub mtime: u64,
    /// Device and inode: which file this is, whatever its name is now.
    pub id: (u64, u64),
}

#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn info(st: &Stat) -> Info {
    Info {
        kind: FileType::from_raw_mode(st.st_mode as _),
        mode: (st.st_mode as u32) & 0o7777,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        nlink: st.st_nlink as u64,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: u64::try_from(st.st_mtime).unwrap_or(0),
        id: (st.st_dev as u64, st.st_ino as u64),
    }
}

/// `fstat` of an open file.
pub(crate) fn stat_fd(fd: impl AsFd) -> io::Result<Info> {
    Ok(info(&rustix::fs::fstat(fd)?))
}

/// `lstat` of `name` in `dir` (a symlink is described, not followed).
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Info> {
    Ok(info(&rustix::fs::statat(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
    )?))
}

/// The daemon's effective user id.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What a file that is not a regular file is, for reasons and log lines.
pub(crate) fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Unknown => "a special file",
    }
}

/// Opens a configured directory (the configuration's path is the administrator's, so it is
/// followed as given; what is inside it is not).
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Whether the folder shares its files with its group: its setgid bit is set (as in
/// `install -d -g lp -m 2770 DIR`), so files made in it get its group.
pub(crate) fn group_shared(dir: impl AsFd) -> io::Result<bool> {
    Ok(stat_fd(dir)?.mode & 0o2000 != 0)
}

/// The mode of a file the daemon writes into a folder: 0640 when the folder is shared with
/// its group ([`group_shared`]: the file has the folder's group), else 0600. Set explicitly,
/// so the umask neither widens nor narrows it.
pub(crate) fn file_mode(shared: bool) -> Mode {
    Mode::from_raw_mode(if shared { 0o640 } else { 0o600 })
}

/// 16 hex digits from the OS RNG: names another user cannot guess in advance.
fn random_hex() -> io::Result<String> {
    let mut r = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut r)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(format!("{:016x}", u64::from_be_bytes(r)))
}

/// Writes `bytes` into a new file in `dir` named `stem` + `ext` and returns the name used.
///
/// The file is created under a random dot-name (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600:
/// never an existing file, never through a symlink, unreadable to others from the start),
/// written, given `mode`, synced, then renamed without replacing anything
/// (`RENAME_NOREPLACE`). If something already has the name (planted, or left by an earlier
/// run), it stays, and the file gets `stem-RANDOM` + `ext` instead; if the name is too long
/// for the file system, `RANDOM` + `ext`. On failure the temporary file is removed.
pub(crate) fn write_new(
    dir: BorrowedFd<'_>,
    stem: &OsStr,
    ext: &str,
    bytes: &[u8],
    mode: Mode,
) -> io::Result<OsString> {
    let (fd, tmp) = create_temp(dir)?;
    let result = (|| {
        let mut f = File::from(fd);
        f.write_all(bytes)?;
        if mode != Mode::from_raw_mode(0o600) {
            rustix::fs::fchmod(&f, mode)?;
        }
        f.sync_all()?;
        drop(f);
        place(dir, &tmp, stem, ext)
    })();
    // The folder itself is not synced (as before): the file's bytes are, and a crash of the
    // machine right after the rename loses at most that one rename.
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    result
}

/// A fresh file under a random temporary name in `dir`.
fn create_temp(dir: BorrowedFd<'_>) -> io::Result<(OwnedFd, OsString)> {
    let mut tries = 0;
    loop {
        let name = OsString::from(format!(".{}.tmp", random_hex()?));
        match rustix::fs::openat(
            dir,
            &name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((fd, name)),
            // 64 random bits taken already: only a planted name can do this, so try another.
            Err(Errno::EXIST) if tries < 4 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Renames `tmp` to the first free one of `stem+ext`, `stem-RANDOM+ext`, `RANDOM+ext`.
fn place(dir: BorrowedFd<'_>, tmp: &OsStr, stem: &OsStr, ext: &str) -> io::Result<OsString> {
    let join = |parts: &[&[u8]]| OsString::from_vec(parts.concat());
    let mut want = join(&[stem.as_bytes(), ext.as_bytes()]);
    for _ in 0..6 {
        match rename_noreplace(dir, tmp, &want) {
            Ok(()) => return Ok(want),
            Err(Errno::EXIST | Errno::NOTEMPTY | Errno::ISDIR) => {
                let r = random_hex()?;
                want = join(&[stem.as_bytes(), b"-", r.as_bytes(), ext.as_bytes()]);
            }
            Err(Errno::NAMETOOLONG) => {
                want = join(&[random_hex()?.as_bytes(), ext.as_bytes()]);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for the file",
    ))
}

/// `renameat2(RENAME_NOREPLACE)` within `dir`; where the file system does not support it,
/// `linkat` (which never replaces either) and `unlinkat`.
fn rename_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), Errno> {
    match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {
            rustix::fs::linkat(dir, from, dir, to, AtFlags::empty())?;
            let _ = rustix::fs::unlinkat(dir, from, AtFlags::empty());
            Ok(())
        }
        r => r,
    }
}

/// Why a file in a folder was not read.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A symlink, FIFO, socket or device: never read (a symlink never followed).
    NotRegular(&'static str),
    /// A regular file with other hard links: it may be another file's contents linked in.
    Linked(u64),
    /// Larger than the cap (`len`: the size seen, or `max + 1` when it grew while read).
    TooLarge { len: u64, max: u64 },
    /// It could not be opened or read.
    Io(io::Error),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            Refusal::Linked(n) => write!(
                f,
                "it has {n} hard links (a file dropped here has one; a link may be another file's)"
            ),
            Refusal::TooLarge { len, max } => {
                write!(
                    f,
                    "larger than max_job_bytes ({max} bytes): at least {len} bytes"
                )
            }
            Refusal::Io(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

/// What [`read_regular`] found under a name.
#[derive(Debug)]
pub(crate) enum Found {
    /// Nothing (taken already, or removed by the client).
    Gone,
    /// A directory: not a job, left alone.
    Directory,
    /// A regular file's bytes (at most the cap), and which file it was.
    File { bytes: Vec<u8>, id: (u64, u64) },
    /// Refused, and which file it was (when it could be seen).
    Refused {
        why: Refusal,
        id: Option<(u64, u64)>,
    },
}

/// Reads the regular file `name` in `dir`, at most `max` bytes.
///
/// Looks at the name first (`lstat`), so a symlink, FIFO or device is refused without being
/// opened; then opens it with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY` (so one swapped in
/// meanwhile is neither followed nor waited on), checks the open file again with `fstat`,
/// and reads through that handle no more than `max + 1` bytes.
pub(crate) fn read_regular(dir: BorrowedFd<'_>, name: &OsStr, max: u64) -> Found {
    let check = |i: &Info| -> Result<(), Refusal> {
        if i.kind != FileType::RegularFile {
            return Err(Refusal::NotRegular(describe(i.kind)));
        }
        if i.nlink > 1 {
            return Err(Refusal::Linked(i.nlink));
        }
        if i.size > max {
            return Err(Refusal::TooLarge { len: i.size, max });
        }
        Ok(())
    };
    let refused = |why, id| Found::Refused { why, id };
    let seen = match stat_at(dir, name) {
        Ok(i) => i,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
        Err(e) => return refused(Refusal::Io(e), None),
    };
    if seen.kind == FileType::Directory {
        return Found::Directory;
    }
    if let Err(why) = check(&seen) {
        return refused(why, Some(seen.id));
    }
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Found::Gone,
        // Swapped for a symlink since the lstat.
        Err(Errno::LOOP) => {
            let id = stat_at(dir, name).ok().map(|i| i.id);
            return refused(Refusal::NotRegular("a symbolic link"), id);
        }
        Err(e) => return refused(Refusal::Io(e.into()), Some(seen.id)),
    };
    let open = match stat_fd(&fd) {
        Ok(i) => i,
        Err(e) => return refused(Refusal::Io(e), Some(seen.id)),
    };
    if open.kind == FileType::Directory {
        return Found::Directory;
    }
    if let Err(why) = check(&open) {
        return refused(why, Some(open.id));
    }
    // Sized by what fstat said (plus one byte to see the end), never past the cap.
    let mut bytes = Vec::with_capacity(open.size.min(max) as usize + 1);
    if let Err(e) = File::from(fd).take(max + 1).read_to_end(&mut bytes) {
        return refused(Refusal::Io(e), Some(open.id));
    }
    if bytes.len() as u64 > max {
        return refused(
            Refusal::TooLarge {
                len: bytes.len() as u64,
                max,
            },
            Some(open.id),
        );
    }
    Found::File { bytes, id: open.id }
}

/// Removes `name` from `dir` if it is still the file `id` (a client may have put a new file
/// under the same name meanwhile: that one stays, to be taken as a job of its own). A
/// symlink is removed itself, never what it points at. Returns whether it was removed.
pub(crate) fn remove_if_same(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    id: (u64, u64),
) -> io::Result<bool> {
    match stat_at(dir, name) {
        Ok(i) if i.id == id && i.kind != FileType::Directory => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens the subdirectory `name` of `parent` as a directory of the daemon's own, with
/// `mode`; makes it if missing and `create` (else `Ok(None)`). Refused with the reason when it is a symlink (never followed),
/// not a directory, or owned by another user: then it is not used at all, since whoever
/// owns it could read or replace what the daemon puts there.
pub(crate) fn own_subdir(
    parent: BorrowedFd<'_>,
    name: &str,
    mode: Mode,
    create: bool,
) -> Result<Option<OwnedFd>, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) if !create => return Ok(None),
        Err(Errno::NOENT) => {
            match rustix::fs::mkdirat(parent, name, mode) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(format!("cannot be made: {}", io::Error::from(e))),
            }
            rustix::fs::openat(parent, name, flags, Mode::empty())
                .map_err(|e| not_dir(parent, name, e))?
        }
        Err(e) => return Err(not_dir(parent, name, e)),
    };
    let i = stat_fd(&fd).map_err(|e| format!("cannot be examined: {e}"))?;
    let me = euid();
    if i.uid != me {
        return Err(format!(
            "is owned by uid {}, not by the daemon (uid {me})",
            i.uid
        ));
    }
    if i.mode != mode.as_raw_mode() & 0o7777 {
        rustix::fs::fchmod(&fd, mode).map_err(|e| {
            format!(
                "cannot be made mode {:o}: {}",
                mode.as_raw_mode(),
                io::Error::from(e)
            )
        })?;
    }
    Ok(Some(fd))
}

/// Why `name` could not be opened as a directory without following a link.
fn not_dir(parent: BorrowedFd<'_>, name: &str, e: Errno) -> String {
    match stat_at(parent, OsStr::new(name)) {
        Ok(i) if i.kind != FileType::Directory => {
            format!("is {}, not a directory", describe(i.kind))
        }
        _ => format!("cannot be opened: {}", io::Error::from(e)),
    }
}

/// Removes every file in `dir` last modified `window` or longer before `now` (never
/// following a link, never entering a subdirectory). Returns how many were removed and when
/// the next of those left is due, if any.
pub(crate) fn remove_older_than(
    dir: BorrowedFd<'_>,
    window: Duration,
    now: SystemTime,
) -> io::Result<(usize, Option<SystemTime>)> {
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut removed, mut next) = (0, None::<u64>);
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let Ok(i) = stat_at(dir, name) else { continue };
        if i.kind == FileType::Directory {
            continue;
        }
        let due = i.mtime.saturating_add(window.as_secs());
        if due <= now_s {
            match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => removed += 1,
                Err(e) => return Err(e.into()),
            }
        } else {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    Ok((
        removed,
        next.map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
    ))
}

/// Checks the non-root fallback runtime directory (`slipguard-UID` in the temporary
/// directory, which every user may write): made here, mode 0700, if missing; if it exists it
/// must be a real directory owned by this user and writable by no one else (a directory
/// another user made in advance could hold their control socket or let them swap the key
/// directory). One that is ours but readable by others (made by an older version) is made
/// 0700.
pub(crate) fn private_fallback_dir(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(format!("cannot be made: {e}"))
        }
        _ => {}
    }
    let name = path.file_name().ok_or("has no name")?;
    let parent = open_dir(path.parent().unwrap_or(Path::new("/")))
        .map_err(|e| format!("its parent cannot be opened: {e}"))?;
    let fd = rustix::fs::openat(
        &parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match stat_at(parent.as_fd(), name) {
        Ok(i) if i.kind != FileType::Directory => {
            format!("is {}, not a directory", describe(i.kind))
        }
        _ => format!("cannot be opened: {}", io::Error::from(e)),
    })?;
    let i = stat_fd(&fd).map_err(|e| format!("cannot be examined: {e}"))?;
    let me = euid();
    if i.uid != me {
        return Err(format!(
            "is owned by uid {}, not by this user (uid {me}): another user may have made it",
            i.uid
        ));
    }
    if i.mode & 0o022 != 0 {
        return Err(format!(
            "is mode {:04o}: others may write it (it must be 0700)",
            i.mode
        ));
    }
    if i.mode != 0o700 {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700))
            .map_err(|e| format!("cannot be made mode 0700: {}", io::Error::from(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("slipguard-safe-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The cap holds through the handle even when `fstat` says less than the file gives: a
    /// `/proc` file reports size 0 and reads much more.
    #[test]
    fn a_read_stops_at_the_cap_whatever_the_size_says() {
        let proc = open_dir(Path::new("/proc/self")).unwrap();
        assert_eq!(stat_at(proc.as_fd(), OsStr::new("maps")).unwrap().size, 0);
        match read_regular(proc.as_fd(), OsStr::new("maps"), 16) {
            Found::Refused {
                why: Refusal::TooLarge { len: 17, max: 16 },
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn links_fifos_and_hard_links_are_refused_unread() {
        let d = tmp("refused");
        let fd = open_dir(&d).unwrap();
        std::fs::write(d.join("target"), b"secret").unwrap();
        std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
        std::fs::hard_link(d.join("target"), d.join("hard")).unwrap();
        rustix::fs::mkfifoat(fd.as_fd(), "fifo", Mode::from_raw_mode(0o600)).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let read = |n: &str| read_regular(fd.as_fd(), OsStr::new(n), 100);
        assert!(matches!(
            read("link"),
            Found::Refused {
                why: Refusal::NotRegular("a symbolic link"),
                ..
            }
        ));
        assert!(matches!(
            read("zero"),
            Found::Refused {
                why: Refusal::NotRegular("a symbolic link"),
                ..
            }
        ));
        assert!(matches!(
            read("fifo"),
            Found::Refused {
                why: Refusal::NotRegular("a FIFO"),
                ..
            }
        ));
        assert!(matches!(
            read("hard"),
            Found::Refused {
                why: Refusal::Linked(2),
                ..
            }
        ));
        assert!(matches!(read("sub"), Found::Directory));
        assert!(matches!(read("none"), Found::Gone));
        std::fs::remove_file(d.join("hard")).unwrap();
        match read("target") {
            Found::File { bytes, id } => {
                assert_eq!(bytes, b"secret");
                assert!(!remove_if_same(fd.as_fd(), OsStr::new("link"), id).unwrap());
                assert!(remove_if_same(fd.as_fd(), OsStr::new("target"), id).unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_regular(fd.as_fd(), OsStr::new("fifo"), 0),
            Found::Refused {
                why: Refusal::NotRegular("a FIFO"),
                ..
            }
        ));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_new_file_never_replaces_or_follows_what_is_there() {
        let d = tmp("new");
        let fd = open_dir(&d).unwrap();
        std::fs::write(d.join("victim"), b"keep").unwrap();
        std::os::unix::fs::symlink(d.join("victim"), d.join("job.prn")).unwrap();
        let name = write_new(
            fd.as_fd(),
            OsStr::new("job"),
            ".prn",
            b"one",
            file_mode(false),
        )
        .unwrap();
        let name = name.to_str().unwrap().to_string();
        assert!(name.starts_with("job-") && name.ends_with(".prn"), "{name}");
        assert_eq!(std::fs::read(d.join("victim")).unwrap(), b"keep");
        assert_eq!(std::fs::read(d.join(&name)).unwrap(), b"one");
        let m = std::fs::symlink_metadata(d.join(&name)).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        let long = OsString::from("x".repeat(300));
        let n2 = write_new(fd.as_fd(), &long, ".reason", b"two", file_mode(true)).unwrap();
        assert_eq!(std::fs::read(d.join(&n2)).unwrap(), b"two");
        let m = std::fs::metadata(d.join(&n2)).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), 4, "no temporary file left: {names:?}");
        assert!(!names.iter().any(|n| n.to_str().unwrap().ends_with(".tmp")));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn old_files_go_and_the_next_deadline_is_told() {
        let d = tmp("old");
        let fd = open_dir(&d).unwrap();
        let now = SystemTime::now();
        std::fs::write(d.join("old"), b"x").unwrap();
        std::fs::File::options()
            .write(true)
            .open(d.join("old"))
            .unwrap()
            .set_modified(now - Duration::from_secs(100))
            .unwrap();
        std::fs::write(d.join("new"), b"y").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let (removed, next) = remove_older_than(fd.as_fd(), Duration::from_secs(50), now).unwrap();
        assert!(!d.join("old").exists());
        assert!(d.join("new").exists() && d.join("sub").exists());
        assert!(std::path::Path::new("/etc/passwd").exists());
        assert_eq!(removed, 1);
        assert!(
            std::fs::symlink_metadata(d.join("link")).is_ok(),
            "new, and removed as itself when due"
        );
        let next = next.unwrap();
        assert!(next > now && next <= now + Duration::from_secs(51));
        let _ = std::fs::remove_dir_all(&d);
    }
}
