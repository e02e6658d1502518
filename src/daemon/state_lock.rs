//! One daemon per state directory (DESIGN §6): an exclusive `flock` on `lock` in it, taken
//! before the spool is opened and held for the daemon's life. A second daemon on the same
//! directory stops before it reads, sweeps or writes anything, naming the holder's PID.

use rustix::fs::{flock, FlockOperation, OFlags};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The lock file's name in the state directory.
pub const LOCK: &str = "lock";

/// Take the lock on `state` (made 0700 if missing). The returned file holds it: dropping it
/// lets it go (and so does the process ending, however it ends).
pub fn take(state: &Path) -> anyhow::Result<File> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state)
        .map_err(|e| {
            anyhow::anyhow!("cannot create the state directory {}: {e}", state.display())
        })?;
    let path = state.join(LOCK);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e != rustix::io::Errno::WOULDBLOCK {
            anyhow::bail!("cannot lock {}: {e}", path.display());
        }
        // The holder wrote its PID when it took the lock (a few bytes: read with a cap).
        let mut pid = String::new();
        let _ = (&file).take(32).read_to_string(&mut pid);
        let holder = match pid.trim() {
            p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => format!("pid {p}"),
            _ => "another process".to_string(),
        };
        anyhow::bail!(
            "another slipguard ({holder}) is using the state directory {}; stop it first, or give this one a state_dir of its own",
            state.display()
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holders_pid_and_the_first_letting_go_frees_it() {
        let dir = std::env::temp_dir().join(format!("slipguard-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let held = take(&dir).unwrap();
        let e = take(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(held);
        take(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
