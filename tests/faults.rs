//! Fault injection against the built binary (`slipguard run`): real sockets, real files, a
//! fake network printer that refuses, stalls, vanishes mid-job and comes back, a USB device
//! node that is missing and then appears, `kill -9`, a full disk under the state directory,
//! configuration reload storms, and a device URI aimed at a file that is not a device.
//!
//! Each test has its own directories (`STATE_DIRECTORY` set per test, as systemd would) and
//! kills its daemon if it fails. Patron data appears only as canary values, never in test
//! names or output. Behaviours the other suites already prove are listed in the table at the
//! end of this file instead of being tested twice.

mod common;

use common::{bin, leaks, printed, redacted, send, temp, wait_until, Running, PATIENCE};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A port nothing listens on (a network printer that is off).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------
// Patron data: canaries only.

/// Values no log line, spool file or key file may show in the clear (the card's last four
/// digits are printed on purpose, so they are not on the list).
const CANARIES: &[&str] = &[
    "Canaryfirst",
    "Canarylast",
    "21472000358610",
    "555-0199",
    "canary.person",
];

/// A checkout slip carrying the canaries; `n` makes each copy's bytes distinct.
fn canary_job(n: usize) -> Vec<u8> {
    let mut j = b"\x1b@Elmwood Library\nCheckout receipt\n".to_vec();
    j.extend(b"Checked out to: Canaryfirst Canarylast\n");
    j.extend(b"Card number: 21472000358610\n");
    j.extend(b"Phone: (785) 555-0199\nEmail: canary.person@example.org\n");
    j.extend(format!("1. Beloved\n   Copy {n}\n   Due: 2026-11-24\n\n\x1dV\x00").bytes());
    j
}

/// Every file under `dirs` that holds one of this suite's canaries in any encoding (named
/// by path, never by the value).
fn canary_leaks(dirs: &[&Path]) -> Vec<String> {
    leaks(dirs, CANARIES)
}

/// Fails naming the canary's index (not its value) if a log line shows one.
fn assert_no_canary_in_log(log: &[String]) {
    let all = log.join("\n");
    for (i, c) in CANARIES.iter().enumerate() {
        assert!(!all.contains(c), "canary #{i} in the log");
    }
}

/// A job without patron data, exactly `n` bytes, every byte checkable: `ESC @`, lines of
/// letters (no digits, no labels, no commas: nothing a detector could take for patron
/// data), `GS V 0`. Jobs under 8 bytes are letters only.
fn plain_job(tag: &str, n: usize) -> Vec<u8> {
    if n < 8 {
        return b"ABCDEFG"[..n].to_vec();
    }
    // Consonants only, so a line counter never spells a word.
    const L: &[u8] = b"bcdfghjklm";
    let mut body = Vec::with_capacity(n);
    let mut i = 0usize;
    while body.len() < n - 5 {
        let mut counter = Vec::new();
        let mut k = i;
        for _ in 0..6 {
            counter.push(L[k % 10]);
            k /= 10;
        }
        body.extend(format!("{tag} slip line ").bytes());
        body.extend(counter.iter().rev());
        body.push(b'\n');
        i += 1;
    }
    body.truncate(n - 5);
    let mut j = b"\x1b@".to_vec();
    j.extend(body);
    j.extend(b"\x1dV\x00");
    assert_eq!(j.len(), n);
    j
}

/// `slipguard status --json` for the daemon of `config`.
fn status(config: &Path) -> serde_json::Value {
    let o = Command::new(bin())
        .args(["status", "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    for (i, c) in CANARIES.iter().enumerate() {
        assert!(!text.contains(c), "canary #{i} in status");
    }
    serde_json::from_str(&text).unwrap()
}

/// One printer's row of `status --json`.
fn printer(config: &Path, name: &str) -> serde_json::Value {
    status(config)["printers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no printer `{name}` in status"))
        .clone()
}

/// Close `s` with a reset (RST) instead of an end of stream (FIN): a zero linger time.
fn reset(s: TcpStream) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        s.set_nonblocking(true).unwrap();
        let t = tokio::net::TcpStream::from_std(s).unwrap();
        t.set_zero_linger().unwrap();
        drop(t);
    });
}

/// The names in a directory (none if it is missing).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn entries(state: &Path) -> usize {
    names(&state.join("spool"))
        .iter()
        .filter(|n| n.ends_with(".sg"))
        .count()
}

/// `[daemon]` with a runtime directory in `dir`, then `rest`.
fn config_text(dir: &Path, daemon_extra: &str, rest: &str) -> String {
    format!(
        "[daemon]\nruntime_dir = \"{}\"\n{daemon_extra}\n{rest}",
        dir.join("run").display()
    )
}

fn raw_listener(printer: &str, address: &str) -> String {
    format!("[[listen]]\nprotocol = \"raw\"\naddress = \"{address}\"\nprinter = \"{printer}\"\n\n")
}

fn printer_conf(name: &str, device: &str) -> String {
    format!("[[printer]]\nname = \"{name}\"\nprofile = \"generic-80mm\"\ndevice = \"{device}\"\n\n")
}

// ---------------------------------------------------------------------------------------
// A network printer the test controls.

const TAKE: u8 = 0;
/// Accept, never read, never close (paper out, a jammed printer).
const STALL: u8 = 1;
/// Read the first half of a job, then vanish with a reset (power cut, printer reboot).
const VANISH: u8 = 2;

/// One connection the fake printer saw: its bytes, and whether it read the whole job (up
/// to the client's end of stream) before closing.
#[derive(Clone, Debug)]
struct Conn {
    bytes: Vec<u8>,
    whole: bool,
}

struct FakePrinter {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    conns: Arc<Mutex<Vec<Conn>>>,
    /// Owns the accept loop and the connections; dropped with the printer.
    _rt: tokio::runtime::Runtime,
}

impl FakePrinter {
    /// Listen on `addr` (port 0 for any) in `mode`; `vanish_after` bytes are read before a
    /// vanishing printer resets the connection.
    fn start(addr: SocketAddr, mode: u8, vanish_after: usize) -> FakePrinter {
        use tokio::io::AsyncReadExt;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let l = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = l.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(mode));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (m, c) = (mode.clone(), conns.clone());
        rt.spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    continue;
                };
                let (m, c) = (m.clone(), c.clone());
                tokio::spawn(async move {
                    match m.load(Ordering::SeqCst) {
                        STALL => {
                            // Hold it unread until the printer is told to take jobs again,
                            // then drop it with a reset (its unread bytes are lost).
                            while m.load(Ordering::SeqCst) == STALL {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            let _ = s.set_zero_linger();
                        }
                        VANISH => {
                            let mut got = vec![0u8; vanish_after];
                            let n = read_up_to(&mut s, &mut got).await;
                            got.truncate(n);
                            let _ = s.set_zero_linger();
                            drop(s);
                            c.lock().unwrap().push(Conn {
                                bytes: got,
                                whole: false,
                            });
                        }
                        _ => {
                            let mut got = Vec::new();
                            let whole = s.read_to_end(&mut got).await.is_ok();
                            drop(s); // closing our side tells the daemon the job is taken
                            c.lock().unwrap().push(Conn { bytes: got, whole });
                        }
                    }
                });
            }
        });
        FakePrinter {
            addr,
            mode,
            conns,
            _rt: rt,
        }
    }

    fn set_mode(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.lock().unwrap().clone()
    }

    /// The jobs it took whole, in order.
    fn jobs(&self) -> Vec<Vec<u8>> {
        self.conns()
            .into_iter()
            .filter(|c| c.whole)
            .map(|c| c.bytes)
            .collect()
    }
}

async fn read_up_to(s: &mut tokio::net::TcpStream, buf: &mut [u8]) -> usize {
    use tokio::io::AsyncReadExt;
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn jobs_of_every_size_reach_file_and_network_printers_byte_for_byte() {
    let dir = temp("integrity");
    let out = dir.join("out");
    let net = FakePrinter::start("127.0.0.1:0".parse().unwrap(), TAKE, 0);
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "",
            &[
                printer_conf("files", &format!("file://{}", out.display())),
                printer_conf("net", &format!("tcp://{}", net.addr)),
                raw_listener("files", "127.0.0.1:0"),
                raw_listener("net", "127.0.0.1:0"),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let (to_file, to_net) = (d.raw_addr(), d.raw_addr());

    let jobs: Vec<Vec<u8>> = [1, 8191, 8192, 8193, 1 << 20]
        .iter()
        .map(|&n| plain_job("integrity", n))
        .collect();
    for j in &jobs {
        send(&to_file, j);
        send(&to_net, j);
    }
    wait_until("every job in a file", || printed(&out).len() == jobs.len());
    wait_until("every job on the network printer", || {
        net.jobs().len() == jobs.len()
    });
    let (files, taken) = (printed(&out), net.jobs());
    for (i, j) in jobs.iter().enumerate() {
        assert!(files[i] == *j, "file job {i} ({} bytes) differs", j.len());
        assert!(
            taken[i] == *j,
            "network job {i} ({} bytes) differs",
            j.len()
        );
    }
    assert!(
        net.conns().iter().all(|c| c.whole),
        "one connection per job"
    );
    assert!(d.stop().0.success());
}

#[test]
fn a_client_that_breaks_off_half_way_prints_nothing_and_later_jobs_print() {
    let dir = temp("break-off");
    let out = dir.join("out");
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "",
            &[
                printer_conf("desk", &format!("file://{}", out.display())),
                raw_listener("desk", "127.0.0.1:0"),
                "[[listen]]\nprotocol = \"lpd\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n"
                    .to_string(),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let (raw, lpd) = (d.raw_addr(), d.lpd_addr());
    let broken = canary_job(1);
    let half = broken.len() / 2;

    // Raw: a reset at half the job.
    let mut s = TcpStream::connect(&raw).unwrap();
    s.write_all(&broken[..half]).unwrap();
    reset(s);

    // LPD: the data file's length is announced, so an end of stream (FIN) or a reset at
    // half of it is a broken transfer.
    let lpd_half = |close: &dyn Fn(TcpStream)| {
        let mut s = TcpStream::connect(&lpd).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut step = |bytes: &[u8]| {
            s.write_all(bytes).unwrap();
            let mut b = [1u8];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], 0, "acknowledged");
        };
        step(b"\x02lp\n");
        step(format!("\x03{} dfA001desk\n", broken.len()).as_bytes());
        s.write_all(&broken[..half]).unwrap();
        close(s);
    };
    lpd_half(&|s| s.shutdown(std::net::Shutdown::Write).unwrap());
    lpd_half(&|s| reset(s));

    // The next jobs print, each once; nothing of the broken ones, then or later.
    let next = plain_job("next", 300);
    send(&raw, &next);
    wait_until("the next job printed", || printed(&out).len() == 1);
    let after = plain_job("after", 200);
    send(&raw, &after);
    wait_until("the job after printed", || printed(&out).len() == 2);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        printed(&out) == vec![next, after],
        "only the whole jobs printed"
    );
    wait_until("two counted", || printer(&cfg, "desk")["printed"] == 2);

    // Raw has no length: an end of stream at half the job *is* the end of the job, so
    // what came is the job (AppSocket; README "Raw listener"). It prints once, redacted.
    let mut s = TcpStream::connect(&raw).unwrap();
    s.write_all(&broken[..half]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
    wait_until("the shortened job printed", || printed(&out).len() == 3);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printed(&out).len(), 3);
    assert!(printed(&out)[2] == redacted(&broken[..half]));
    assert!(d.stop().0.success());
    assert_no_canary_in_log(&d.log);
    assert!(canary_leaks(&[&out, &dir.join("state"), &dir.join("run")]).is_empty());
}

#[test]
fn a_stalled_printer_shows_stuck_keeps_the_job_across_sigterm_and_prints_it_once() {
    let dir = temp("stall");
    let p = FakePrinter::start("127.0.0.1:0".parse().unwrap(), STALL, 0);
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "device_timeout = \"1s\"\nstop_timeout = \"1s\"",
            &[
                printer_conf("desk", &format!("tcp://{}", p.addr)),
                raw_listener("desk", "127.0.0.1:0"),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    let job = plain_job("stalled", 2000);
    send(&addr, &job);
    // The printer took the connection and the job's bytes (into its buffers) but reads
    // nothing and never closes: past device_timeout it shows as stuck, and the job is not
    // sent again while it holds it (issue 18; tests/hardening_state.rs).
    d.wait_line("has not finished it within device_timeout");
    let row = printer(&cfg, "desk");
    assert_eq!(row["state"], "stuck");
    assert_eq!(row["queued"], 1);
    assert_eq!(row["printed"], 0);

    // SIGTERM while it stalls: the daemon exits (0) and the job stays in the spool.
    assert!(d.alive());
    let (st, _) = d.stop();
    assert!(st.success(), "{st}");
    assert!(
        d.log
            .iter()
            .any(|l| l.contains("it stays in the spool and prints after the next start")),
        "{:#?}",
        d.log
    );
    assert_eq!(entries(&dir.join("state")), 1);
    assert!(p.jobs().is_empty(), "nothing was taken whole");

    // The printer takes jobs again; the next start prints the job, once.
    p.set_mode(TAKE);
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    wait_until("the kept job printed", || p.jobs().len() == 1);
    let next = plain_job("next", 100);
    send(&addr, &next);
    wait_until("the next job printed", || p.jobs().len() == 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.jobs() == vec![job, next], "each once, in order");
    assert!(d.stop().0.success());
}

#[test]
fn a_printer_that_refuses_then_vanishes_mid_job_gets_the_job_whole_and_once() {
    let dir = temp("vanish");
    let port = free_port();
    let job = plain_job("vanishing", 64 * 1024);
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "device_timeout = \"5s\"",
            &[
                printer_conf("desk", &format!("tcp://{port}")),
                raw_listener("desk", "127.0.0.1:0"),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    send(&addr, &job);
    // Nothing listens: connection refused.
    let line = d.wait_line("printer unreachable");
    assert!(line.to_lowercase().contains("refused"), "{line}");

    // The printer appears, reads half the job and is gone (a reset).
    let p = FakePrinter::start(port, VANISH, job.len() / 2);
    wait_until("the printer vanished mid-job", || !p.conns().is_empty());
    p.set_mode(TAKE);
    wait_until("the job printed", || p.jobs().len() == 1);
    let next = plain_job("next", 500);
    send(&addr, &next);
    wait_until("the next job printed", || p.jobs().len() == 2);
    std::thread::sleep(Duration::from_millis(300));

    assert!(
        p.jobs() == vec![job.clone(), next],
        "each job whole, once, in order"
    );
    // The printer did vanish half way through an attempt; every broken attempt started
    // at the job's first byte.
    assert!(p
        .conns()
        .iter()
        .any(|c| !c.whole && c.bytes.len() == job.len() / 2));
    for c in p.conns().iter().filter(|c| !c.whole) {
        assert!(!c.bytes.is_empty() && job.starts_with(&c.bytes));
        assert!(c.bytes.len() < job.len());
    }
    wait_until("two counted, none queued, ready", || {
        let row = printer(&cfg, "desk");
        row["printed"] == 2 && row["queued"] == 0 && row["state"] == "ready"
    });
    d.wait_line("printer is back");
    assert!(d.stop().0.success());
}

/// `mkfifo PATH`: a FIFO standing in for a USB printer's device node.
fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// What the daemon writes into the FIFO at `path` next (one open, to end of stream).
fn read_fifo(path: &Path) -> Vec<u8> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(p));
    });
    rx.recv_timeout(PATIENCE)
        .expect("the daemon wrote to the device")
        .unwrap()
}

#[test]
fn a_usb_device_node_that_goes_and_comes_back_gets_each_job_once_without_a_restart() {
    let dir = temp("usb");
    let dev = dir.join("lp0");
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "",
            &format!(
                "[[printer]]\nname = \"usb\"\nprofile = \"generic-80mm\"\ndevice = \"usb://{}\"\n\
                 any_device_path = true\n\n{}",
                dev.display(),
                raw_listener("usb", "127.0.0.1:0")
            ),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    let pid = d.child.id();

    for round in 0..2 {
        // Not plugged in: the job waits.
        let job = plain_job(&format!("usb round {}", ["one", "two"][round]), 3000);
        send(&addr, &job);
        d.wait_line("printer unreachable");
        let row = printer(&cfg, "usb");
        assert_eq!(row["state"], "offline");
        assert_eq!(row["queued"], 1);
        assert!(!dev.exists(), "the daemon never creates device nodes");

        // Plugged in: the same process writes the job to the node, once.
        mkfifo(&dev);
        assert!(read_fifo(&dev) == job, "round {round}: the job, whole");
        wait_until("printed", || {
            printer(&cfg, "usb")["printed"] == round as u64 + 1
        });
        d.wait_line("printer is back");
        // Unplugged again.
        std::fs::remove_file(&dev).unwrap();
    }
    wait_until("none queued, ready", || {
        let row = printer(&cfg, "usb");
        row["queued"] == 0 && row["state"] == "ready"
    });
    assert_eq!(d.child.id(), pid);
    assert!(d.alive(), "no restart");
    assert!(d.stop().0.success());
}

#[test]
fn after_kill_9_queued_jobs_print_once_and_then_nothing_readable_is_left() {
    let dir = temp("kill9");
    let (state, run) = (dir.join("state"), dir.join("run"));
    let port = free_port();
    let cfg = dir.join("slipguard.toml");
    // Short windows (4 s; epochs of 1 s) so the test can watch the end of one.
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "retention = \"4s\"\nallow_unusual_retention = true",
            &[
                printer_conf("desk", &format!("tcp://{port}")),
                raw_listener("desk", "127.0.0.1:0"),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let jobs: Vec<Vec<u8>> = (1..=3).map(canary_job).collect();

    // The printer is off: the jobs wait in the spool when the daemon is killed.
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    for j in &jobs {
        send(&addr, j);
    }
    d.wait_line("printer unreachable");
    wait_until("three jobs queued", || printer(&cfg, "desk")["queued"] == 3);
    assert_eq!(
        canary_leaks(&[&state, &run]),
        Vec::<String>::new(),
        "queued"
    );
    d.kill9();
    assert_eq!(entries(&state), 3);
    assert!(!names(&run.join("keys")).is_empty());
    assert_eq!(
        canary_leaks(&[&state, &run]),
        Vec::<String>::new(),
        "killed"
    );

    // The printer is back, the daemon starts again with the same runtime directory: each
    // job prints, in order, once.
    let p = FakePrinter::start(port, TAKE, 0);
    let mut d2 = Running::start(&cfg, &dir);
    d2.raw_addr();
    wait_until("the spooled jobs printed", || p.jobs().len() == 3);
    let want: Vec<Vec<u8>> = jobs.iter().map(|j| redacted(j)).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.jobs() == want, "each job, redacted, once, in order");

    // The window ends: no entry, no state record, no temporary file, no key is left.
    wait_until("the spool and the keys are empty", || {
        names(&state.join("spool")).is_empty() && names(&run.join("keys")).is_empty()
    });
    assert!(d2.stop().0.success());
    assert_eq!(p.jobs().len(), 3, "no duplicate");
    assert_no_canary_in_log(&d.log);
    assert_no_canary_in_log(&d2.log);
}

/// A tmpfs mounted for one test; unmounted when dropped (also when the test fails).
struct Mount(PathBuf);

impl Mount {
    /// A `size` tmpfs on `dir`, if this process may mount (root in most containers).
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut c = Command::new("umount");
            if lazy {
                c.arg("-l");
            }
            c.arg(&self.0).status().is_ok_and(|s| s.success())
        };
        if !umount(false) {
            umount(true);
        }
    }
}

/// Fill the file system of `dir` until a write fails for lack of space.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [4096usize, 1] {
        let buf = vec![0u8; chunk];
        loop {
            match f.write(&buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling: {e}"),
            }
        }
    }
    let _ = f.sync_all();
    path
}

#[test]
fn a_full_disk_under_the_state_dir_refuses_jobs_for_ready_and_offline_printers_alike() {
    let dir = temp("disk-full");
    let (state, run, out) = (dir.join("state"), dir.join("run"), dir.join("out"));
    std::fs::create_dir_all(&state).unwrap();
    // Declared before the daemon, so it is unmounted after the daemon is gone.
    let mount = Mount::tmpfs(&state, "256k");
    let real_enospc = mount.is_some();
    if !real_enospc {
        // Not root (or no CAP_SYS_ADMIN): every spool write fails all the same, with
        // ENOTDIR instead of ENOSPC.
        eprintln!(
            "cannot mount a tmpfs here: a regular file in place of the spool directory \
             stands in for a full disk"
        );
    }
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        config_text(
            &dir,
            "stop_timeout = \"1s\"",
            &[
                printer_conf("desk", &format!("file://{}", out.display())),
                printer_conf("annex", &format!("tcp://{}", free_port())),
                raw_listener("desk", "127.0.0.1:0"),
                raw_listener("annex", "127.0.0.1:0"),
            ]
            .concat(),
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let (desk, annex) = (d.raw_addr(), d.raw_addr());
    d.wait_line("control socket");

    // One job waits for the offline annex printer, spooled while there was room.
    send(&annex, &canary_job(1));
    d.wait_line("printer unreachable");
    assert_eq!(entries(&state), 1);

    // The disk fills up.
    let filler = if real_enospc {
        Some(fill(&state))
    } else {
        let spool = state.join("spool");
        std::fs::rename(&spool, state.join("spool-away")).unwrap();
        std::fs::write(&spool, b"not a directory").unwrap();
        None
    };

    // A ready printer: the job is sent while its entry is written, so it is accepted if
    // its attempt had begun when the write failed (printed, with no entry), else refused;
    // never kept in memory only, never both.
    send(&desk, &canary_job(2));
    let count = |row: &serde_json::Value, key: &str| row[key].as_u64().unwrap();
    wait_until("printed or refused at the desk", || {
        let row = printer(&cfg, "desk");
        count(&row, "refused") + count(&row, "printed") == 1
    });
    if real_enospc {
        d.wait_line("No space left on device");
    }
    let refused_first = count(&printer(&cfg, "desk"), "refused");
    let first = printed(&out).len();
    assert_eq!(
        first as u64,
        1 - refused_first,
        "printed exactly when accepted"
    );
    // An offline printer: refused.
    send(&annex, &canary_job(3));
    wait_until("refused", || printer(&cfg, "annex")["refused"] == 1);
    let annex_row = printer(&cfg, "annex");
    assert_eq!(annex_row["queued"], 1, "only the first job waits");
    assert!(d.alive(), "no crash");
    assert_eq!(canary_leaks(&[&state, &run]), Vec::<String>::new(), "full");
    if real_enospc {
        // Nothing half-written stays behind either.
        let left = names(&state.join("spool"));
        assert!(left.iter().all(|n| !n.ends_with(".tmp")), "{left:?}");
        assert_eq!(entries(&state), 1);
    }

    // Space again: jobs are spooled again.
    match filler {
        Some(f) => std::fs::remove_file(f).unwrap(),
        None => {
            let spool = state.join("spool");
            std::fs::remove_file(&spool).unwrap();
            std::fs::rename(state.join("spool-away"), &spool).unwrap();
        }
    }
    send(&desk, &canary_job(4));
    wait_until("printed", || printed(&out).len() == first + 1);
    wait_until("spooled", || entries(&state) == 2);
    wait_until("the counts agree", || {
        let row = printer(&cfg, "desk");
        count(&row, "printed") == first as u64 + 1 && count(&row, "refused") == refused_first
    });
    assert!(d.stop().0.success());
    assert_no_canary_in_log(&d.log);
}

/// The size and modification time of a file, and its bytes.
fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
    )
}

#[test]
fn a_reload_storm_with_bad_configs_in_it_leaves_the_last_good_one_serving() {
    let dir = temp("storm");
    let port = free_port();
    // An address the daemon cannot take: a configuration that names it cannot be applied.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().map(|a| (taken, a)).unwrap();
    let passwd = fingerprint(Path::new("/etc/passwd"));
    let cfg = dir.join("slipguard.toml");
    let good = |i: usize| dir.join(format!("good{i:02}"));
    let bad = |i: usize| dir.join(format!("bad{i:02}"));
    let text = |i: usize, is_good: bool| {
        let listener = raw_listener("desk", &format!("127.0.0.1:{}", port.port()));
        if is_good {
            return config_text(
                &dir,
                "",
                &[
                    printer_conf("desk", &format!("file://{}", good(i).display())),
                    listener,
                ]
                .concat(),
            );
        }
        let out = format!("file://{}", bad(i).display());
        match i % 4 {
            // Not TOML.
            0 => format!("[[printer]]\nname = \"desk\nprofile = 12\ndevice = \"{out}\"\n"),
            // A profile that does not exist.
            1 => config_text(
                &dir,
                "",
                &format!(
                    "[[printer]]\nname = \"desk\"\nprofile = \"no-such-model\"\ndevice = \"{out}\"\n\n{listener}"
                ),
            ),
            // Not a device node.
            2 => config_text(
                &dir,
                "",
                &[printer_conf("desk", "usb:///etc/passwd"), listener].concat(),
            ),
            // An address that is taken.
            _ => config_text(
                &dir,
                "",
                &[
                    printer_conf("desk", &out),
                    listener,
                    raw_listener("desk", &taken.1.to_string()),
                ]
                .concat(),
            ),
        }
    };
    // Written beside and renamed over, as editors and deployment tools do.
    let write = |body: String| {
        let tmp = dir.join(".slipguard.toml.tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, &cfg).unwrap();
    };
    write(text(0, true));
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    d.wait_line("control socket");

    // 100 changes in about a second, two in three of them bad, the last one good; a client
    // keeps printing through it.
    let sender = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut sent = Vec::new();
            for k in 0..12 {
                let j = plain_job(&format!("storm {}", ["b", "c", "d", "f"][k % 4]), 200 + k);
                send(&addr, &j);
                sent.push(j);
                std::thread::sleep(Duration::from_millis(80));
            }
            sent
        })
    };
    let last = 99;
    for i in 1..=last {
        write(text(i, i % 3 == 0 || i == last));
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = sender.join().unwrap();

    // The last configuration of the storm is the one that serves.
    let want_device = format!("file://{}", good(last).display());
    wait_until("the last good configuration applied", || {
        printer(&cfg, "desk")["device"] == want_device.as_str()
    });
    let after = plain_job("after the storm", 300);
    send(&addr, &after);
    wait_until("printed after the storm", || {
        !printed(&good(last)).is_empty()
    });

    // A bad configuration now: refused, and the last good one keeps serving.
    d.drain();
    write(text(last + 1, false));
    let line = d.wait_line("configuration not reloaded");
    assert!(
        line.contains("slipguard.toml:"),
        "file and line named: {line}"
    );
    let later = plain_job("later", 300);
    send(&addr, &later);
    wait_until("printed after the bad change", || {
        printed(&good(last)).len() == 2
    });
    assert!(printed(&good(last)) == vec![after, later]);

    // Every job sent during the storm printed once, through some good configuration; no
    // bad one was ever applied.
    let mut all = Vec::new();
    wait_until("the storm's jobs printed", || {
        all = (0..=last).flat_map(|i| printed(&good(i))).collect();
        all.len() == sent.len() + 2
    });
    let mut want = sent;
    want.extend(printed(&good(last)));
    want.sort();
    all.sort();
    assert!(all == want, "every job once");
    for i in 0..=last + 1 {
        assert!(!bad(i).exists(), "a bad configuration (#{i}) was applied");
    }
    assert!(d.alive());
    assert_eq!(fingerprint(Path::new("/etc/passwd")), passwd);
    assert!(d.stop().0.success());
    drop(taken);
}

#[test]
fn a_device_uri_aimed_at_a_system_file_is_refused_by_check_and_run_and_the_file_is_untouched() {
    let dir = temp("passwd");
    let target = Path::new("/etc/passwd");
    let before = fingerprint(target);
    for (i, uri) in ["usb:///etc/passwd", "serial:///etc/passwd?baud=9600"]
        .iter()
        .enumerate()
    {
        let cfg = dir.join(format!("desk{i}.toml"));
        // The device is on line 7.
        std::fs::write(
            &cfg,
            config_text(
                &dir,
                "",
                &[
                    printer_conf("desk", uri),
                    raw_listener("desk", "127.0.0.1:0"),
                ]
                .concat(),
            ),
        )
        .unwrap();
        let named = format!("desk{i}.toml:7:");
        let check = Command::new(bin())
            .args(["check", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(!check.status.success(), "check accepted {uri}");
        assert!(
            err.contains(&named) && err.contains("not a printer device node"),
            "{err}"
        );

        let mut d = Running::start(&cfg, &dir);
        let st = d.wait_exit();
        assert!(!st.success(), "run started with {uri}");
        let all = d.log.join("\n");
        assert!(
            all.contains(&named) && all.contains("not a printer device node"),
            "{all}"
        );
        assert!(!all.contains("listening on"), "{all}");
    }
    assert_eq!(fingerprint(target), before, "/etc/passwd untouched");
}

// What the other suites already prove, so it is not tested again here:
//
// | item | test |
// |---|---|
// | RST at half a raw job, in-process | `daemon.rs` `a_client_reset_mid_job_prints_nothing_and_the_next_job_prints` |
// | FIN at half an LPD data file, in-process | `daemon.rs` `lpd_data_files_are_jobs_and_a_broken_transfer_prints_nothing` |
// | SIGTERM during a stalled network job exits within `stop_timeout` (asserted < 8 s) | `daemon_bin.rs` `systemd_hears_ready_watchdog_and_stopping_and_sigterm_ends_a_stalled_job_in_time` |
// | a printer that is down (refused) gets its jobs in order when it comes back | `daemon.rs` `a_printer_that_is_down_gets_its_jobs_in_order_when_it_comes_back` |
// | a USB node that appears later, in-process | `daemon.rs` `a_usb_device_that_appears_later_gets_the_job_without_a_restart` |
// | spooled jobs print after a graceful restart; none after the keys are gone | `daemon.rs` `jobs_left_in_the_spool_print_after_a_restart_unless_the_keys_are_gone` |
// | an unwritable spool (ENOTDIR) with a ready and an offline printer (both refuse), in-process | `daemon.rs` `when_the_spool_cannot_be_written_the_job_is_refused_even_by_a_ready_printer` |
// | one reload to a broken file keeps the running configuration | `daemon_bin.rs` `config_changes_reload_and_a_bad_config_keeps_the_running_one` |
// | `check` names file and line of `usb:///etc/passwd` | `daemon_bin.rs` `check_accepts_a_good_config_and_names_file_and_line_of_a_bad_one` |
