//! Durability follows the keys (DESIGN §6), against the built binary: with the runtime
//! directory on a memory file system the spool writes without fsync, with it on a disk
//! every write is synced; either way a job the client was told is accepted prints once
//! after a `kill -9` and a restart.
//!
//! The memory file system is `/dev/shm` (a tmpfs on every Linux this runs on); the disk is
//! Cargo's temporary directory under `target/`. fsyncs are counted with `strace`: that test
//! is `#[ignore]`d (plain `cargo test` counts it as ignored) and runs with
//! `cargo test -- --include-ignored`, as `.ci/run` runs it after installing strace; asked
//! to run without strace, it fails.

mod common;

use common::{bin, redacted, send, temp, wait_until, Running};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The file system type `/proc/mounts` gives for `path` (its longest mount point).
fn fs_type(path: &Path) -> Option<String> {
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

fn in_memory(path: &Path) -> bool {
    fs_type(path).is_some_and(|k| k == "tmpfs" || k == "ramfs")
}

/// A fresh directory on a memory file system, or `None` (said on stderr) without one.
fn memory_dir(name: &str) -> Option<PathBuf> {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() || !in_memory(shm) {
        eprintln!("/dev/shm is not a tmpfs here: the in-memory case is not tested");
        return None;
    }
    let d = shm.join(format!(
        "slipguard-durability-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Some(d)
}

/// A fresh directory on a disk (under `target/`), or `None` (said on stderr).
fn disk_dir(name: &str) -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "slipguard-durability-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    if in_memory(&d) {
        eprintln!("the target directory is on a tmpfs here: the on-disk case is not tested");
        let _ = std::fs::remove_dir_all(&d);
        return None;
    }
    Some(d)
}

/// `strace`; the test that asks for it fails without it.
fn strace() -> PathBuf {
    ["/usr/bin/strace", "/bin/strace"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("strace is not installed (apt-get install strace; .ci/run installs it)")
}

/// A network printer on `addr` (a free port if `None`): takes each connection to its end
/// and keeps what it got, in order.
struct Printer {
    addr: SocketAddr,
    jobs: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Printer {
    fn start(addr: Option<SocketAddr>) -> Printer {
        let l = TcpListener::bind(addr.unwrap_or_else(|| ([127, 0, 0, 1], 0).into())).unwrap();
        let addr = l.local_addr().unwrap();
        let jobs = Arc::new(Mutex::new(Vec::new()));
        let j = jobs.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut got = Vec::new();
                if s.read_to_end(&mut got).is_ok() && !got.is_empty() {
                    j.lock().unwrap().push(got);
                }
            }
        });
        Printer { addr, jobs }
    }

    fn jobs(&self) -> Vec<Vec<u8>> {
        self.jobs.lock().unwrap().clone()
    }
}

/// A port nothing listens on (a network printer that is off).
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A configuration in `dir` with its runtime directory at `run` and one TCP printer.
fn config(dir: &Path, run: &Path, printer: SocketAddr) -> PathBuf {
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nruntime_dir = \"{}\"\nstop_timeout = \"2s\"\n\n\
             [[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"tcp://{printer}\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n",
            run.display()
        ),
    )
    .unwrap();
    cfg
}

/// Spool files of `kind` (`sg`, `st`) under the state directory `state`.
fn spool_files(state: &Path, kind: &str) -> usize {
    std::fs::read_dir(state.join("spool"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(&format!(".{kind}"))
                })
            })
            .count()
        })
        .unwrap_or(0)
}

/// A slip with patron data; `n` makes each one's bytes distinct.
fn job(n: usize) -> Vec<u8> {
    let mut j = common::canary_job();
    j.truncate(j.len() - 3);
    j.extend(format!("Copy {n}\n\x1dV\x00").bytes());
    j
}

/// Runs three jobs through a daemon whose runtime directory is `run`, under strace, and
/// returns the fsyncs it made (from start to stop) and its log.
fn fsyncs_for(strace: &Path, dir: &Path, run: &Path) -> (usize, Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let p = Printer::start(None);
    let cfg = config(dir, run, p.addr);
    let trace = dir.join("strace.log");
    let mut cmd = Command::new(strace);
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=fsync,fdatasync,syncfs,sync_file_range",
        "-e",
        "signal=none",
        "-o",
    ])
    .arg(&trace)
    .arg(bin())
    .args(["run", "--config"])
    .arg(&cfg)
    .env_remove("RUNTIME_DIRECTORY")
    .env_remove("NOTIFY_SOCKET")
    .env_remove("LISTEN_FDS");
    let mut d = Running::spawn(cmd, dir);
    let addr = d.raw_addr();
    for n in 0..3 {
        send(&addr, &job(n));
    }
    wait_until("three jobs printed", || p.jobs().len() == 3);
    // Each one's state record ("printed") is written after the printer closed.
    wait_until("three state records", || {
        spool_files(&dir.join("state"), "st") == 3
    });
    // SIGTERM to the daemon, strace's child (strace itself would only let go of it).
    let tracer = d.child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{tracer}/task/{tracer}/children")).unwrap();
    let daemon = children.split_whitespace().next().expect("the daemon runs");
    assert!(Command::new("kill")
        .args(["-TERM", daemon])
        .status()
        .unwrap()
        .success());
    let status = d.wait_exit();
    let log = d.log.clone();
    assert!(status.success(), "{log:#?}");
    assert_eq!(spool_files(&dir.join("state"), "sg"), 3);
    let calls = std::fs::read_to_string(&trace).unwrap();
    let n = calls
        .lines()
        .filter(|l| l.contains("sync") && l.contains('('))
        .count();
    (n, log)
}

#[test]
#[ignore = "needs strace (.ci/run installs it); run with --include-ignored"]
fn the_spool_fsyncs_only_when_its_keys_are_on_persistent_storage() {
    let strace = strace();
    let dir = temp("fsync");

    if let Some(mem) = memory_dir("fsync") {
        let (n, log) = fsyncs_for(&strace, &dir.join("mem"), &mem.join("run"));
        assert!(
            log.iter().any(|l| l.contains("written without fsync")),
            "the start says so: {log:#?}"
        );
        assert_eq!(n, 0, "no fsync with the keys on a tmpfs");
        let _ = std::fs::remove_dir_all(&mem);
    }
    if let Some(disk) = disk_dir("fsync") {
        let (n, log) = fsyncs_for(&strace, &dir.join("disk"), &disk.join("run"));
        assert!(
            log.iter().any(|l| l.contains("written durably (fsync)")),
            "the start says so: {log:#?}"
        );
        // Per job at least its entry and the spool directory, then its state record.
        assert!(
            n >= 3 * 2,
            "{n} fsyncs for three jobs with the keys on a disk"
        );
        let _ = std::fs::remove_dir_all(&disk);
    }
}

#[test]
fn a_job_accepted_before_a_kill_9_prints_once_after_the_restart() {
    // The runtime directory on a tmpfs, where nothing is fsynced; the state directory on
    // the disk. Without a tmpfs the keys go to the disk (synced) and the test still holds.
    let dir = temp("kill9");
    let mem = memory_dir("kill9");
    let run = mem.as_ref().map_or(dir.join("run"), |m| m.join("run"));
    let port = free_port();
    let cfg = config(&dir, &run, port);
    let jobs: Vec<Vec<u8>> = (1..=3).map(job).collect();

    // The printer is off. Each client is told its job is accepted (its connection closes)
    // and the daemon is killed at once, before anything printed.
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    for j in &jobs {
        send(&addr, j);
    }
    d.kill9();
    assert_eq!(
        spool_files(&dir.join("state"), "sg"),
        3,
        "every accepted job is in the spool"
    );

    // The printer comes up and the daemon starts again: each job prints, in order, once.
    let p = Printer::start(Some(port));
    let mut d2 = Running::start(&cfg, &dir);
    d2.raw_addr();
    wait_until("the accepted jobs printed", || p.jobs().len() >= 3);
    std::thread::sleep(Duration::from_millis(500));
    let want: Vec<Vec<u8>> = jobs.iter().map(|j| redacted(j)).collect();
    assert!(p.jobs() == want, "each job, redacted, once, in order");
    assert!(d2.stop().0.success());
    assert_eq!(p.jobs().len(), 3, "no duplicate");
    if let Some(m) = mem {
        let _ = std::fs::remove_dir_all(m);
    }
}
