//! The drop-folder listener: a file is a job once it is complete — closed after writing, or
//! renamed into the folder — and is deleted once the job is queued. Dot-files and temporary
//! names (`*.tmp`, `*.part`, `*~`) are left alone, so a client can write under such a name
//! and rename. Subdirectories are left alone.
//!
//! The folder is writable by other users (the clients), so every file is read through
//! `safe_fs`: relative to the folder's open handle, never through a symlink, only if
//! it is a regular file with one link, and never more than `max_job_bytes + 1` bytes.
//!
//! A file that is not printed (a symlink, FIFO or device; a hard link; too large; failing
//! closed; unspoolable while its printer is offline) is refused: the log line gives the
//! reason (not the file's name, which is the client's choice and could name a patron), a
//! reason file `rejected/NAME.reason` says the same to the client, and the file itself is
//! deleted — the daemon keeps no unredacted original. `rejected/` is the daemon's own
//! directory (a symlink or another user's directory there is not used, and says so in the
//! log), and everything in it is deleted once it is older than the retention window.

use super::safe_fs::{self, Found, Refusal};
use super::{Accepted, Route, Shared};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use rustix::fs::Mode;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};

/// The subfolder the reason files of refused files are written into.
pub const REJECTED: &str = "rejected";

/// The suffix of a reason file: `rejected/NAME.reason` for a refused `NAME`.
pub const REASON: &str = ".reason";

/// The longest the folder goes without looking for reason files past their window.
const SWEEP_AT_LEAST: Duration = Duration::from_secs(60);

/// A watched folder.
struct Folder {
    path: PathBuf,
    /// The folder, opened once: every file is named relative to it.
    fd: OwnedFd,
    /// How long a reason file is kept: the retention window.
    window: Duration,
}

/// Start watching `dir` (created if missing). Files already there are taken first. Reason
/// files live for `window` (the spool's retention).
pub(super) fn watch(
    dir: &Path,
    route: Route,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    window: Duration,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let fd = safe_fs::open_dir(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    let (tx, rx) = mpsc::unbounded_channel::<PathBuf>();
    let events = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        let complete = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To))
        );
        if complete {
            for p in ev.paths {
                let _ = events.send(p);
            }
        }
    })
    .context("cannot start watching files")?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    // What was dropped while the daemon was not running (anything but a directory: what is
    // not a regular file is refused when taken).
    let mut present: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .collect();
    present.sort();
    for p in present {
        let _ = tx.send(p);
    }
    let folder = Arc::new(Folder {
        path: dir.to_path_buf(),
        fd,
        window,
    });
    Ok(tokio::spawn(serve(
        watcher, rx, folder, route, shared, stop,
    )))
}

async fn serve(
    watcher: notify::RecommendedWatcher,
    mut rx: mpsc::UnboundedReceiver<PathBuf>,
    folder: Arc<Folder>,
    route: Route,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _watching = watcher; // dropped (and the watch ended) when this task ends
    let mut due = sweep(&folder, true).await;
    loop {
        let wait = due.map_or(SWEEP_AT_LEAST, |d| {
            d.duration_since(SystemTime::now())
                .unwrap_or_default()
                .min(SWEEP_AT_LEAST)
        });
        let path = tokio::select! {
            p = rx.recv() => match p { Some(p) => p, None => return },
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {
                due = sweep(&folder, false).await;
                continue;
            }
        };
        if path.parent() != Some(folder.path.as_path()) {
            continue;
        }
        let Some(name) = path.file_name() else {
            continue;
        };
        if ignored(name) {
            continue;
        }
        if let Some(written) = take(name, &folder, &route, &shared).await {
            let next = written + folder.window;
            due = Some(due.map_or(next, |d| d.min(next)));
        }
    }
}

/// Names a client writes under before renaming, hidden files, and `rejected` (whatever is
/// there: a symlink planted under that name is reported, not taken as a job).
fn ignored(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return true;
    };
    name == REJECTED
        || name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".partial", ".swp", ".crdownload"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Take the file `name` as a job, or refuse it. Returns when a reason file was written.
async fn take(
    name: &OsStr,
    folder: &Arc<Folder>,
    route: &Route,
    shared: &Arc<Shared>,
) -> Option<SystemTime> {
    let max = shared.limits().max_job_bytes;
    let (f, n) = (folder.clone(), name.to_os_string());
    let found = tokio::task::spawn_blocking(move || safe_fs::read_regular(f.fd.as_fd(), &n, max))
        .await
        .unwrap_or_else(|e| Found::Refused {
            why: Refusal::Io(std::io::Error::other(e.to_string())),
            id: None,
        });
    match found {
        Found::Gone | Found::Directory => None,
        Found::File { bytes, id } if bytes.is_empty() => {
            let _ = safe_fs::remove_if_same(folder.fd.as_fd(), name, id);
            None
        }
        Found::File { bytes, id } => {
            let size = bytes.len() as u64;
            match super::accept(bytes, "folder", route, shared, None).await {
                Accepted::Queued { .. } => {
                    if let Err(e) = safe_fs::remove_if_same(folder.fd.as_fd(), name, id) {
                        tracing::warn!(folder = %folder.path.display(), error = %e, "cannot delete a file taken as a job");
                    }
                    None
                }
                // `accept` has logged why.
                Accepted::Refused(why) | Accepted::Unavailable(why) => {
                    refuse(folder, name, Some(id), why, Some(size), route).await
                }
            }
        }
        Found::Refused { why, id } => {
            tracing::warn!(
                listener = "folder",
                printer = %route.printer,
                folder = %folder.path.display(),
                "file not taken as a job: {why}"
            );
            refuse(folder, name, id, why.to_string(), None, route).await
        }
    }
}

/// Write the reason file for the refused file `name` and delete the file (if it is still the
/// file `id` that was judged). Returns when the reason file was written.
async fn refuse(
    folder: &Arc<Folder>,
    name: &OsStr,
    id: Option<(u64, u64)>,
    why: String,
    size: Option<u64>,
    route: &Route,
) -> Option<SystemTime> {
    let (f, n, printer) = (folder.clone(), name.to_os_string(), route.printer.clone());
    let done = tokio::task::spawn_blocking(move || {
        let written = write_reason(&f, &n, &why, size, &printer);
        let removed = match id {
            Some(id) => safe_fs::remove_if_same(f.fd.as_fd(), &n, id),
            None => Ok(false),
        };
        (written, removed)
    })
    .await;
    let Ok((written, removed)) = done else {
        return None;
    };
    if let Err(e) = removed {
        tracing::warn!(folder = %folder.path.display(), error = %e, "cannot delete a refused file");
    }
    written
}

/// `rejected/NAME.reason`: why `NAME` was not printed (a reason names offsets, limits and
/// command names, never slip text), and when. Returns its time, or `None` (logged) when it
/// could not be written.
fn write_reason(
    folder: &Folder,
    name: &OsStr,
    why: &str,
    size: Option<u64>,
    printer: &str,
) -> Option<SystemTime> {
    let dir = rejected(folder, true)?;
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut text = format!("not printed: {why}\nprinter: {printer}\n");
    if let Some(n) = size {
        text.push_str(&format!("size: {n} bytes\n"));
    }
    text.push_str(&format!(
        "refused at: {secs} (unix time)\n\
         The file was deleted when it was refused; this note is deleted {}s after it was written.\n",
        folder.window.as_secs()
    ));
    let shared = safe_fs::group_shared(folder.fd.as_fd()).unwrap_or(false);
    match safe_fs::write_new(
        dir.as_fd(),
        name,
        REASON,
        text.as_bytes(),
        safe_fs::file_mode(shared),
    ) {
        Ok(_) => Some(now),
        Err(e) => {
            tracing::error!(folder = %folder.path.display(), error = %e, "cannot write a reason file into {REJECTED}/");
            None
        }
    }
}

/// The folder's `rejected/`, made if missing and `create`; `None` if missing, or (logged)
/// if it is not a directory of the daemon's own. Mode 0700, or 2750 in a folder shared with
/// its group (so the clients can read the reasons).
fn rejected(folder: &Folder, create: bool) -> Option<OwnedFd> {
    let shared = safe_fs::group_shared(folder.fd.as_fd()).unwrap_or(false);
    let mode = Mode::from_raw_mode(if shared { 0o2750 } else { 0o700 });
    match safe_fs::own_subdir(folder.fd.as_fd(), REJECTED, mode, create) {
        Ok(fd) => fd,
        Err(problem) => {
            tracing::error!(
                folder = %folder.path.display(),
                "{REJECTED}/ {problem}: not used, so refused files are deleted without a reason file; remove it and the daemon makes its own"
            );
            None
        }
    }
}

/// Delete what in `rejected/` is older than the window; returns when the next is due. At
/// start (`first`), a `rejected/` that is not the daemon's own is reported.
async fn sweep(folder: &Arc<Folder>, first: bool) -> Option<SystemTime> {
    let f = folder.clone();
    tokio::task::spawn_blocking(move || {
        let dir = if first {
            rejected(&f, false)?
        } else {
            let shared = safe_fs::group_shared(f.fd.as_fd()).unwrap_or(false);
            let mode = Mode::from_raw_mode(if shared { 0o2750 } else { 0o700 });
            safe_fs::own_subdir(f.fd.as_fd(), REJECTED, mode, false).ok()??
        };
        match safe_fs::remove_older_than(dir.as_fd(), f.window, SystemTime::now()) {
            Ok((removed, next)) => {
                if removed > 0 {
                    tracing::info!(folder = %f.path.display(), removed, "reason files past the retention window deleted from {REJECTED}/");
                }
                next
            }
            Err(e) => {
                tracing::warn!(folder = %f.path.display(), error = %e, "cannot clear {REJECTED}/ of old files");
                None
            }
        }
    })
    .await
    .unwrap_or(None)
}
