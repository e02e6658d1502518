//! The listeners against requests of other protocols and hostile query patterns (issue 18):
//! a web page's `POST` to the raw port prints nothing and is logged as refused; the same
//! bytes as an LPD data file get a non-zero acknowledgement; refusals reach the client (a
//! reset on the raw port, a non-zero acknowledgement over LPD); ordinary jobs still print; a
//! flood of status queries is capped; a connection waiting on a printer's answer ends at
//! `job_timeout`; `allowed_origins` are kept as browsers send them.
//!
//! The daemon runs in-process on real sockets, printing to a folder; its log goes to a
//! buffer the tests read (each test's printer has a name of its own).

mod common;

use common::{printed, redacted, temp, wait_for, PATIENCE};
use slipguard::config::Config;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The daemon's log lines (every test's).
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(b.clone()))
            .init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The log lines about printer `printer` that say `what`.
fn logged(printer: &str, what: &str) -> usize {
    let text = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
    let tag = format!("printer={printer}");
    text.lines()
        .filter(|l| l.split_whitespace().any(|w| w == tag) && l.contains(what))
        .count()
}

/// No log line holds `text`.
fn never_logged(text: &str) {
    let log = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
    assert!(!log.contains(text), "the log holds job text `{text}`");
}

/// A daemon printing to a folder of its own through printer `name` (profile
/// `generic-80mm`), with a raw and an LPD listener, and a spool of its own. `daemon` goes
/// into `[daemon]`; `device` replaces the folder printer when given.
async fn start(name: &str, daemon: &str, device: Option<String>) -> (Daemon, PathBuf) {
    log();
    let dir = temp(name);
    let out = dir.join("printed");
    std::fs::create_dir_all(&out).unwrap();
    let device = device.unwrap_or_else(|| format!("file://{}", out.display()));
    let text = format!(
        "[daemon]\n{daemon}\n[[printer]]\nname = \"{name}\"\nprofile = \"generic-80mm\"\n\
         device = \"{device}\"\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"{name}\"\n\
         [[listen]]\nprotocol = \"lpd\"\naddress = \"127.0.0.1:0\"\nprinter = \"{name}\"\n"
    );
    let mut cfg = Config::from_toml(Path::new("net.toml"), &text).unwrap();
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    let d = Daemon::start(&cfg, &Profiles::builtin_only())
        .await
        .unwrap();
    (d, out)
}

/// What a no-cors `fetch("http://127.0.0.1:9100/", {method: "POST", body})` from any web
/// page makes the browser send: the request line and headers, then the page's body (here
/// ESC/POS that would print and cut).
fn web_page_post(addr: SocketAddr) -> Vec<u8> {
    let body = b"\x1b@\x1b!\x30WEBPAGE PRINTED THIS\n\x1dV\x00";
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: keep-alive\r\n\
         Content-Length: {}\r\nOrigin: https://web-page-to-9100.example\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nAccept: */*\r\n\
         Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: cross-site\r\n\r\n",
        addr.port(),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// How the daemon ended a connection, as the client sees it.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// A normal close (FIN) after whatever it sent back.
    Closed,
    /// A reset: the client's write or read failed.
    Reset,
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Send `job` on one connection, end it, and read until the daemon ends it too.
async fn send(addr: SocketAddr, job: &[u8]) -> Ending {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut reset = false;
    if let Err(e) = s.write_all(job).await {
        reset |= is_reset(&e);
    }
    if let Err(e) = s.shutdown().await {
        reset |= is_reset(&e);
    }
    let mut rest = Vec::new();
    match tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest)).await {
        Err(_) => panic!("the daemon did not end the connection"),
        Ok(Err(e)) if is_reset(&e) => reset = true,
        Ok(Err(e)) => panic!("reading: {e}"),
        Ok(Ok(_)) => {}
    }
    if reset {
        Ending::Reset
    } else {
        Ending::Closed
    }
}

/// A job without patron data: text, then a cut.
fn plain_job(tag: &str) -> Vec<u8> {
    let mut j = b"\x1b@".to_vec();
    for i in 0..3 {
        j.extend(format!("{tag} line {i} of a normal slip\n").bytes());
    }
    j.extend(b"\x1dV\x00");
    j
}

/// A job that fails closed: page mode, where print order may differ from byte order.
const FAILS_CLOSED: &[u8] = b"\x1b@\x1bL\x1bW\x00\x00\x00\x00\x40\x02\x00\x01\x1bT\x00\
    \x1b$\x80\x00Marisol Okonkwo\x1b$\x00\x00Patron:\x0c\x1dV\x01";

/// A job from another client prints (as the `n`th printed so far) while the test goes on.
async fn another_job_prints(addr: SocketAddr, out: &Path, tag: &str, n: usize) {
    let job = plain_job(tag);
    assert_eq!(
        send(addr, &job).await,
        Ending::Closed,
        "a job taken ends cleanly"
    );
    wait_for("the other job printed", || printed(out).len() == n).await;
    assert_eq!(printed(out)[n - 1], job);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_post_to_the_raw_port_prints_nothing_and_is_logged_as_refused() {
    let (d, out) = start("webpost", "", None).await;
    let raw = d.addrs()[0];
    // The page aborts its fetch: the browser closes the connection after the request.
    let ending = send(raw, &web_page_post(raw)).await;
    wait_for("the refusal logged", || {
        logged(
            "webpost",
            "its first bytes are an HTTP POST request, not a print job",
        ) == 1
    })
    .await;
    another_job_prints(raw, &out, "after the page", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(printed(&out).len(), 1, "nothing of the request printed");
    never_logged("WEBPAGE");
    never_logged("web-page-to-9100.example");
    assert_eq!(ending, Ending::Reset, "the client sees its job refused");
    d.shutdown(Duration::from_secs(5)).await;
}

/// The daemon decides on the request line: it does not wait for the end of the request (a
/// page need not abort) nor act on a query in the body; and a method split across two
/// packets is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_line_is_refused_before_the_request_ends() {
    let (d, out) = start("early", "idle_timeout = \"10m\"", None).await;
    let raw = d.addrs()[0];
    // Headers and a body ending in an ordered status query (`GS r`), which on its own
    // would print what came before it; the connection stays open.
    let mut held = TcpStream::connect(raw).await.unwrap();
    held.write_all(
        b"POST /print HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 14\r\n\r\n\x1b@PAGE TEXT\n\x1dr\x01",
    )
    .await
    .unwrap();
    let mut split = TcpStream::connect(raw).await.unwrap();
    split.write_all(b"PO").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    split.write_all(b"ST /x HTTP/1.1\r\n").await.unwrap();
    for s in [&mut held, &mut split] {
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest)).await;
        assert!(ended.is_ok(), "the daemon ended the connection");
    }
    wait_for("both refusals logged", || {
        logged("early", "its first bytes are an HTTP POST request") == 2
    })
    .await;
    another_job_prints(raw, &out, "meanwhile", 1).await;
    never_logged("PAGE TEXT");
    d.shutdown(Duration::from_secs(5)).await;
}

/// Real print jobs keep working: bytes before the method (no browser can send them), a
/// plain-text job that begins with a method's word, a status query first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_jobs_that_look_a_little_like_http_still_print() {
    let (d, out) = start("lookalike", "", None).await;
    let raw = d.addrs()[0];
    let jobs: [&[u8]; 4] = [
        b"\x1b@POST / HTTP/1.1\r\nHost: the front desk\r\n\r\nfrom a test page\n\x1dV\x00",
        b"GET WELL SOON\nfrom the Elmwood Library\n\x1dV\x00",
        b"Elmwood Library\nDue: 2026-11-24\n\x1dV\x00",
        b"\x10\x04\x01\x1b@after a status query\n\x1dV\x00",
    ];
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(send(raw, job).await, Ending::Closed, "job {i} taken");
    }
    // The real-time query went to the printer on its own, at once (a folder printer
    // keeps it as a file of its own).
    wait_for("the jobs printed", || printed(&out).len() == 5).await;
    let mut want: Vec<Vec<u8>> = jobs[..3].iter().map(|j| redacted(j)).collect();
    want.push(b"\x10\x04\x01".to_vec());
    want.push(redacted(&jobs[3][3..]));
    assert_eq!(printed(&out), want);
    assert_eq!(logged("lookalike", "not a print job"), 0);
    d.shutdown(Duration::from_secs(5)).await;
}

/// An LPD client (RFC 1179) sending a job of a control file and the given data files; the
/// acknowledgements it got, up to the first non-zero one.
async fn lpd_send(addr: SocketAddr, data: &[&[u8]]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut acks = Vec::new();
    let mut step = async |s: &mut TcpStream, bytes: &[u8]| {
        s.write_all(bytes).await.unwrap();
        let a = tokio::time::timeout(PATIENCE, s.read_u8())
            .await
            .expect("an acknowledgement")
            .unwrap();
        acks.push(a);
        a == 0
    };
    let control = b"Hdesk\nPsomeone\nJreceipt\nldfA000desk\n";
    let mut ok = step(&mut s, b"\x02lp\n").await
        && step(
            &mut s,
            format!("\x02{} cfA000desk\n", control.len()).as_bytes(),
        )
        .await
        && step(&mut s, &[&control[..], b"\0"].concat()).await;
    for (i, d) in data.iter().enumerate() {
        ok = ok
            && step(
                &mut s,
                format!("\x03{} dfA{i:03}desk\n", d.len()).as_bytes(),
            )
            .await
            && step(&mut s, &[*d, b"\0"].concat()).await;
    }
    let _ = s.shutdown().await;
    let _ = tokio::time::timeout(PATIENCE, s.read_to_end(&mut Vec::new())).await;
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_as_an_lpd_data_file_gets_a_non_zero_acknowledgement() {
    let (d, out) = start("lpdhttp", "", None).await;
    let (raw, lpd) = (d.addrs()[0], d.addrs()[1]);
    let good = plain_job("first file");
    let acks = lpd_send(lpd, &[&good, &web_page_post(raw)]).await;
    assert_eq!(acks.len(), 7, "every step answered: {acks:?}");
    assert_eq!(
        &acks[..6],
        &[0; 6],
        "up to the request's data file: {acks:?}"
    );
    assert_ne!(acks[6], 0, "the data file is refused");
    wait_for("the refusal logged", || {
        logged(
            "lpdhttp",
            "a data file refused: its first bytes are an HTTP POST request",
        ) == 1
    })
    .await;
    // A job after it prints; nothing of the refused job does (its first file neither).
    let ok = plain_job("lpd after");
    assert_eq!(lpd_send(lpd, &[&ok]).await, vec![0; 5]);
    wait_for("the later job printed", || printed(&out).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(printed(&out), vec![ok]);
    // The request sent to the LPD port itself: its request line is no LPD command, and the
    // log says what it is.
    send(lpd, &web_page_post(lpd)).await;
    wait_for("the request logged", || {
        logged(
            "lpdhttp",
            "job discarded, nothing printed: its first bytes are an HTTP POST request",
        ) == 1
    })
    .await;
    assert_eq!(printed(&out).len(), 1);
    never_logged("WEBPAGE");
    d.shutdown(Duration::from_secs(5)).await;
}

/// A data file that would not print is refused at its acknowledgement, not accepted there
/// and dropped after the client has gone; over raw, the client sees a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_closed_is_refused_to_the_client() {
    let (d, out) = start("failclosed", "", None).await;
    let (raw, lpd) = (d.addrs()[0], d.addrs()[1]);
    let acks = lpd_send(lpd, &[FAILS_CLOSED]).await;
    assert_eq!(acks.len(), 5, "every step answered: {acks:?}");
    assert_eq!(&acks[..4], &[0; 4]);
    assert_ne!(acks[4], 0, "the data file is refused: {acks:?}");
    wait_for("the LPD refusal logged", || {
        logged("failclosed", "a data file refused: fails closed") == 1
    })
    .await;
    let refused = || {
        d.stats("failclosed")
            .unwrap()
            .refused
            .load(Ordering::Relaxed)
    };
    assert_eq!(refused(), 1, "counted as a job refused");
    assert_eq!(send(raw, FAILS_CLOSED).await, Ending::Reset);
    wait_for("the raw refusal logged", || {
        logged("failclosed", "job not printed: fails closed") >= 1
    })
    .await;
    assert_eq!(refused(), 2);
    another_job_prints(raw, &out, "after", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(printed(&out).len(), 1);
    never_logged("Okonkwo");
    d.shutdown(Duration::from_secs(5)).await;
}

/// 8 KB of ordered status queries (`GS r`, each ending a part that is queued and spooled
/// as a job of its own) make at most `max_queries` jobs (64 by default), not 2,000; the
/// rest of the connection is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_status_queries_is_capped_at_max_queries() {
    let (d, out) = start("flood", "", None).await;
    let raw = d.addrs()[0];
    let mut job = b"\x1b@".to_vec();
    for _ in 0..2000 {
        job.extend(b"q\x1dr\x01");
    }
    assert!(job.len() > 8000);
    let ending = send(raw, &job).await;
    wait_for("the cap logged", || {
        logged(
            "flood",
            "the job holds more than 64 status queries (max_queries)",
        ) == 1
    })
    .await;
    // The parts before the cap printed (each ended by its query), no more.
    wait_for("64 parts printed", || printed(&out).len() == 64).await;
    another_job_prints(raw, &out, "after the flood", 65).await;
    let spooled =
        std::fs::read_dir(out.parent().unwrap().join("state/spool")).map_or(0, |d| d.count());
    assert!(spooled <= 2 * 65, "{spooled} spool files");
    assert_eq!(ending, Ending::Reset, "the job is cut off");
    d.shutdown(Duration::from_secs(5)).await;
}

/// A port nothing listens on: a network printer that is off.
fn down_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// With the printer off and `device_timeout` long, a client waiting for the answer to a
/// status query (ordered or real-time) loses its connection at `job_timeout`, not at
/// `device_timeout` or never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_waiting_on_a_printer_ends_at_job_timeout() {
    let device = Some(format!("tcp://{}", down_port()));
    let daemon = "job_timeout = \"1s\"\nidle_timeout = \"10m\"\ndevice_timeout = \"10m\"";
    let (d, _out) = start("slowanswer", daemon, device).await;
    let raw = d.addrs()[0];
    let mut ordered = TcpStream::connect(raw).await.unwrap();
    ordered.write_all(b"\x1b@a part\n\x1dr\x01").await.unwrap();
    let mut realtime = TcpStream::connect(raw).await.unwrap();
    realtime.write_all(b"\x10\x04\x01").await.unwrap();
    for s in [&mut ordered, &mut realtime] {
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest)).await;
        assert!(ended.is_ok(), "the daemon ended the connection");
    }
    wait_for("both logged", || {
        logged(
            "slowanswer",
            "did not finish its job within 1s (job_timeout)",
        ) == 2
    })
    .await;
    d.shutdown(Duration::from_millis(500)).await;
}

/// `allowed_origins` written with a default port, in capitals, or with a long IPv6 form
/// match the `Origin` browsers send; anything but `scheme://host[:port]` is refused at
/// load with the file and line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_are_kept_as_browsers_send_them() {
    log();
    let dir = temp("origins");
    let out = dir.join("printed");
    std::fs::create_dir_all(&out).unwrap();
    let text = format!(
        "[[printer]]\nname = \"origins\"\nprofile = \"generic-80mm\"\n\
         device = \"file://{}\"\n[[listen]]\nprotocol = \"http\"\naddress = \"127.0.0.1:0\"\n\
         allowed_origins = [\"HTTPS://Staff.Example.ORG:443\", \"http://[0:0::1]:80\"]\n",
        out.display()
    );
    let mut cfg = Config::from_toml(Path::new("net.toml"), &text).unwrap();
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    let d = Daemon::start(&cfg, &Profiles::builtin_only())
        .await
        .unwrap();
    let addr = d.addrs()[0];
    let preflight = async |origin: &str| {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "OPTIONS /v1/printers/origins/slips HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\r\n",
            addr.port()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, s.read_to_end(&mut answer))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    for origin in ["https://staff.example.org", "http://[::1]"] {
        let a = preflight(origin).await;
        assert!(a.starts_with("HTTP/1.1 204"), "{origin}: {a}");
        assert!(
            a.to_ascii_lowercase()
                .contains(&format!("access-control-allow-origin: {origin}\r\n")),
            "{origin}: {a}"
        );
    }
    for origin in ["https://staff.example.org:8443", "https://attacker.example"] {
        let a = preflight(origin).await;
        assert!(a.starts_with("HTTP/1.1 403"), "{origin}: {a}");
    }
    d.shutdown(Duration::from_secs(5)).await;

    // Refused at load, naming the file, the line and what is wrong.
    for (origin, says) in [
        ("https://staff.example.org/", "it has a path"),
        ("https://staff.example.org/print", "it has a path"),
        ("https://clerk@staff.example.org", "it has a user name"),
        ("https://staff.example.org:+443", "the port"),
    ] {
        let text = format!(
            "[[printer]]\nname = \"p\"\nprofile = \"generic-80mm\"\ndevice = \"file:///tmp/x\"\n\
             [[listen]]\nprotocol = \"http\"\nallowed_origins = [\n  \"https://ok.example\",\n  \"{origin}\",\n]\n"
        );
        let e = Config::from_toml(Path::new("net.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("net.toml:9:3: "), "{origin}: {e}");
        assert!(e.contains(says), "{origin}: {e}");
    }
}
