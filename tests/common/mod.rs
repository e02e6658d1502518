//! Helpers shared by the integration tests that run the daemon: the built binary as a child
//! process (`daemon_bin`, `clients`, `faults`) and in-process (`daemon`, `limits`).
//!
//! Cargo builds `tests/common/mod.rs` as a module of each test that declares `mod common;`,
//! not as a test of its own.

// Each test crate uses a different subset of these helpers; what one of them leaves unused
// is not dead code.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen before it gives up.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The `slipguard` binary Cargo built for the tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_slipguard"))
}

/// An empty directory of this test's own: named after the test crate, the process and
/// `name`, emptied first if an earlier run left it.
pub fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "slipguard-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Poll `done` until it holds, or fail naming `what`.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < until, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// [`wait_until`] for async tests: polls on tokio's clock without blocking the runtime.
pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < until,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Patron data: canaries only.

/// Patron values of [`canary_job`] that must reach neither the printer nor the log (the
/// card's last four digits and the initials are printed on purpose). `faults` scans its
/// own list.
pub const CANARIES: &[&str] = &[
    "Canaryfirst",
    "Canarylast",
    "21472000358610",
    "2147200035",
    "555-0199",
    "canary.person",
];

/// A checkout receipt carrying [`CANARIES`].
pub fn canary_job() -> Vec<u8> {
    let mut j = b"\x1b@Elmwood Library\nCheckout receipt\n".to_vec();
    j.extend(b"Checked out to: Canaryfirst Canarylast\n");
    j.extend(b"Card number: 21472000358610\n");
    j.extend(b"Phone: (785) 555-0199\nEmail: canary.person@example.org\n");
    j.extend(b"1. Beloved\n   Item: 31472888345091\n   Due: 2026-11-24\n\n\x1dV\x00");
    j
}

/// What the daemon prints for `job` on a `generic-80mm` printer with the default rules.
pub fn redacted(job: &[u8]) -> Vec<u8> {
    use slipguard::core::redact::{config::RedactConfig, Redactor};
    let profile = slipguard::profiles::Profiles::builtin_only()
        .load("generic-80mm")
        .unwrap();
    Redactor::new(RedactConfig::default())
        .job(&profile, job)
        .unwrap()
        .0
}

/// Every way a value could sit in a file in the clear: raw, UTF-16LE, hex, and base64 at
/// each alignment (without the characters that depend on neighbouring bytes).
pub fn encodings(value: &str) -> Vec<Vec<u8>> {
    use std::fmt::Write as _;
    let raw = value.as_bytes().to_vec();
    let utf16: Vec<u8> = value.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let hex = raw.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let mut v = vec![
        raw.clone(),
        utf16,
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    for shift in 0..3 {
        let mut padded = vec![b'x'; shift];
        padded.extend(&raw);
        let enc = base64(&padded);
        let skip = (shift * 4).div_ceil(3) + 1;
        let keep = (raw.len() * 4 / 3).saturating_sub(2);
        if enc.len() > skip + keep {
            v.push(enc[skip..skip + keep].to_vec());
        }
    }
    v
}

/// Standard base64 (RFC 4648 alphabet), without padding.
pub fn base64(data: &[u8]) -> Vec<u8> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            out.push(T[(n >> (18 - 6 * i) & 63) as usize]);
        }
    }
    out
}

/// Every regular file under `dirs` (recursively, not following links; sockets and FIFOs
/// are skipped) that holds one of `values` in any of its [`encodings`], named by path and
/// the value's index, never by the value.
pub fn leaks(dirs: &[&Path], values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if !meta.is_file() {
            continue; // sockets, FIFOs
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        for (i, c) in values.iter().enumerate() {
            if encodings(c)
                .iter()
                .any(|e| bytes.windows(e.len()).any(|w| w == e.as_slice()))
            {
                found.push(format!("{} holds canary #{i}", p.display()));
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// Configurations and printed files.

/// A configuration in `dir` for one printer, "desk" (TM-T88V, a file printer writing to
/// `dir/out`), with a listener of each of `protocols` on a free loopback port. Returns the
/// file and the output folder.
pub fn desk_config(dir: &Path, protocols: &[&str]) -> (PathBuf, PathBuf) {
    let (cfg, out) = (dir.join("slipguard.toml"), dir.join("out"));
    let listeners: Vec<String> = protocols
        .iter()
        .map(|p| {
            format!(
                "[[listen]]\nprotocol = \"{p}\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n"
            )
        })
        .collect();
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nruntime_dir = \"{}\"\n\n\
             [[printer]]\nname = \"desk\"\nprofile = \"epson-tm-t88v\"\ndevice = \"file://{}\"\n\n\
             {}",
            dir.join("run").display(),
            out.display(),
            listeners.join("\n")
        ),
    )
    .unwrap();
    (cfg, out)
}

/// The `.prn` files a file printer wrote into `dir`, sorted: in job order (ids sort by
/// arrival). None if `dir` is missing.
pub fn prn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "prn"));
    files.sort();
    files
}

/// The contents of [`prn_files`].
pub fn printed(dir: &Path) -> Vec<Vec<u8>> {
    prn_files(dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// The printed jobs in `dir` once there are `n`, in job order, within [`PATIENCE`].
pub fn wait_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    wait_files_within(dir, n, PATIENCE, String::new)
}

/// [`wait_files`] waiting up to `patience`; on timeout, `why()` says what the client
/// thinks happened.
pub fn wait_files_within(
    dir: &Path,
    n: usize,
    patience: Duration,
    why: impl Fn() -> String,
) -> Vec<PathBuf> {
    let until = Instant::now() + patience;
    loop {
        let files = prn_files(dir);
        if files.len() >= n {
            return files;
        }
        assert!(
            Instant::now() < until,
            "gave up waiting for {n} printed file(s), have {}; {}",
            files.len(),
            why()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send one raw job and wait for the daemon to close the connection.
pub fn send(addr: &str, job: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(job).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
}

// ---------------------------------------------------------------------------------------
// The daemon as a child process.

/// A running `slipguard run` (or another command that runs it), its stderr read line by
/// line on a thread; killed (SIGKILL) if the test fails before stopping it.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Every log line seen so far.
    pub log: Vec<String>,
    patience: Duration,
}

impl Running {
    /// `slipguard run --config config` in `cwd` (see [`Running::spawn`]), without the
    /// systemd variables the test's own environment may carry.
    pub fn start(config: &Path, cwd: &Path) -> Running {
        let mut cmd = Command::new(bin());
        cmd.args(["run", "--config"])
            .arg(config)
            .env_remove("RUNTIME_DIRECTORY")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS");
        Self::spawn(cmd, cwd)
    }

    /// Run `cmd` in `cwd` with `STATE_DIRECTORY` = `cwd/state` (each test's spool in its own
    /// directory, as systemd's StateDirectory= would), waiting up to [`PATIENCE`].
    pub fn spawn(mut cmd: Command, cwd: &Path) -> Running {
        let mut child = cmd
            .current_dir(cwd)
            .env("STATE_DIRECTORY", cwd.join("state"))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines: rx,
            log: Vec::new(),
            patience: PATIENCE,
        }
    }

    /// Wait up to `patience` (instead of [`PATIENCE`]) for log lines and for the exit.
    pub fn with_patience(mut self, patience: Duration) -> Running {
        self.patience = patience;
        self
    }

    /// The next log line that contains `what`.
    pub fn wait_line(&mut self, what: &str) -> String {
        let until = Instant::now() + self.patience;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("no log line with `{what}`; log so far: {:#?}", self.log);
            };
            self.log.push(line.clone());
            if line.contains(what) {
                return line;
            }
        }
    }

    /// The address of the next listener of `protocol` the daemon announces, from its
    /// "listening on" line.
    pub fn listening(&mut self, protocol: &str) -> String {
        let what = format!("listening on {protocol} ");
        let l = self.wait_line(&what);
        let rest = l.split(&what).nth(1).unwrap();
        rest.split_whitespace().next().unwrap().to_string()
    }

    /// The address of the next raw listener the daemon announces.
    pub fn raw_addr(&mut self) -> String {
        self.listening("raw")
    }

    /// The address of the next LPD listener the daemon announces.
    pub fn lpd_addr(&mut self) -> String {
        self.listening("lpd")
    }

    /// Take the log lines so far, so that [`Running::wait_line`] sees only later ones.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.log.push(l);
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the process to end by itself; then take every log line it left.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + self.patience;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < until, "the daemon did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.log.push(l);
        }
        status
    }

    /// SIGTERM, then the exit status and every log line (also left in [`Running::log`]).
    pub fn stop(&mut self) -> (ExitStatus, Vec<String>) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
        let status = self.wait_exit();
        (status, self.log.clone())
    }

    /// `kill -9`: no chance to clean up or record anything.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.drain();
    }
}

impl Drop for Running {
    /// A test that failed halfway leaves no daemon behind (after `stop` this does nothing).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
