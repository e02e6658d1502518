//! The drop-folder listener: a file is a job once it is complete — closed after writing, or
//! renamed into the folder — and is deleted once the job is queued. Dot-files and temporary
//! names (`*.tmp`, `*.part`, `*~`) are left alone, so a client can write under such a name
//! and rename. A file that cannot be taken (unreadable, too large) is moved into
//! `rejected/` with a log line that gives the reason (not the file's name, which is the
//! client's choice and could name a patron).

use super::{Route, Shared};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The subfolder files that cannot be taken are moved into.
pub const REJECTED: &str = "rejected";

/// Start watching `dir` (created if missing). Files already there are taken first.
pub(super) fn watch(
    dir: &Path,
    route: Route,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
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
    // What was dropped while the daemon was not running.
    let mut present: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    present.sort();
    for p in present {
        let _ = tx.send(p);
    }
    Ok(tokio::spawn(serve(
        watcher,
        rx,
        dir.to_path_buf(),
        route,
        shared,
        stop,
    )))
}

async fn serve(
    watcher: notify::RecommendedWatcher,
    mut rx: mpsc::UnboundedReceiver<PathBuf>,
    dir: PathBuf,
    route: Route,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _watching = watcher; // dropped (and the watch ended) when this task ends
    loop {
        let path = tokio::select! {
            p = rx.recv() => match p { Some(p) => p, None => return },
            _ = stop.changed() => return,
        };
        if path.parent() != Some(dir.as_path()) || ignored(&path) {
            continue;
        }
        take(&path, &dir, &route, &shared).await;
    }
}

/// Names a client writes under before renaming, and hidden files.
fn ignored(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".partial", ".swp", ".crdownload"]
            .iter()
            .any(|s| name.ends_with(s))
}

async fn take(path: &Path, dir: &Path, route: &Route, shared: &Arc<Shared>) {
    let max = shared.limits().max_job_bytes;
    let p = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Vec<u8>>> {
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            // Already taken (an event seen twice) or removed by the client.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > max {
            return Err(std::io::Error::other(format!(
                "larger than max_job_bytes ({max} bytes)"
            )));
        }
        std::fs::read(&p).map(Some)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    // File names are the client's and could name a patron: logs do not show them.
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    match read {
        Ok(None) => {}
        Ok(Some(bytes)) if bytes.is_empty() => {
            let _ = std::fs::remove_file(path);
        }
        Ok(Some(bytes)) => {
            super::accept(bytes, "folder", route, shared, None).await;
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(folder = %dir.display(), error = %e, "cannot delete a file taken as a job");
            }
        }
        Err(e) => {
            let aside = dir.join(REJECTED);
            let moved = std::fs::create_dir_all(&aside)
                .and_then(|()| std::fs::rename(path, aside.join(&name)));
            tracing::warn!(
                listener = "folder",
                printer = %route.printer,
                moved_to = %aside.display(),
                moved = moved.is_ok(),
                "file not taken as a job: {e}"
            );
        }
    }
}
