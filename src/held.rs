//! Output held back until a job is known to print (`slipguard redact`): a segment late in
//! the job can still fail closed, and then nothing is printed. The bytes wait in a file,
//! never in memory: for `-o FILE`, a new file created exclusively next to it under a random
//! name, renamed into place on success and removed otherwise; for standard output (or an
//! `-o` that is no regular file, such as `/dev/stdout`), an unnamed temporary file in
//! `$TMPDIR`, copied out on success.

use anyhow::Context as _;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

/// Where held output goes once the job is known to print.
enum To {
    Stdout,
    /// Rename the file at `tmp` to `path`.
    Rename {
        tmp: PathBuf,
        path: PathBuf,
    },
    /// Copy into `path`, which is there and no regular file.
    CopyInto(PathBuf),
}

pub struct Held {
    file: File,
    to: To,
    done: bool,
}

impl Held {
    /// Hold the output of a job for `output` (standard output when `None`).
    pub fn new(output: Option<&Path>) -> anyhow::Result<Held> {
        let (file, to) = match output {
            Some(path) if !is_other(path) => {
                let (file, tmp) =
                    sibling(path).with_context(|| format!("cannot write {}", path.display()))?;
                let path = path.to_owned();
                (file, To::Rename { tmp, path })
            }
            Some(path) => (unnamed()?, To::CopyInto(path.to_owned())),
            None => (unnamed()?, To::Stdout),
        };
        Ok(Held {
            file,
            to,
            done: false,
        })
    }

    /// The file to write the output to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The job does not print: nothing of it is left anywhere.
    pub fn discard(self) {
        drop(self);
    }

    /// The job prints: the held output goes where it was meant to.
    pub fn commit(mut self) -> anyhow::Result<()> {
        self.done = true;
        match &self.to {
            To::Rename { tmp, path } => {
                let r = self
                    .file
                    .sync_all()
                    .and_then(|()| std::fs::rename(tmp, path));
                if r.is_err() {
                    let _ = std::fs::remove_file(tmp);
                }
                r.with_context(|| format!("cannot write {}", path.display()))
            }
            To::CopyInto(path) => {
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                self.file.rewind()?;
                io::copy(&mut self.file, &mut out)
                    .and_then(|_| out.flush())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
            To::Stdout => {
                self.file.rewind()?;
                let mut out = io::stdout().lock();
                match io::copy(&mut self.file, &mut out).and_then(|_| out.flush()) {
                    // A closed pipe (`| head`) is the reader's choice, not an error.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                    r => r.map(drop).context("cannot write standard output"),
                }
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let (false, To::Rename { tmp, .. }) = (self.done, &self.to) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// `path` is there and is no regular file (a device, a pipe, a directory).
fn is_other(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// 64 random bits (the standard library's hash keys come from the system's random source).
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// A new file next to `path`, created exclusively under a random name.
fn sibling(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    exclusive(dir, &name)
}

fn exclusive(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let mut tries = 0;
    loop {
        let tmp = dir.join(format!(".{name}.{:016x}.part", random()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// A file with no name in `$TMPDIR` (O_TMPFILE), gone when the process ends; where the file
/// system cannot make one, a new file that is unlinked at once.
fn unnamed() -> anyhow::Result<File> {
    use rustix::fs::{open, Mode, OFlags};
    let dir = std::env::temp_dir();
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    let r = match open(&dir, flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => Ok(File::from(fd)),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
            exclusive(&dir, "slipguard").and_then(|(f, p)| std::fs::remove_file(p).map(|()| f))
        }
        Err(e) => Err(e.into()),
    };
    r.with_context(|| format!("cannot hold the output in {}", dir.display()))
}
