//! The HTTP listener in-process, spoken to over real TCP sockets with hand-written HTTP/1.1
//! requests (as a browser or curl sends them): CORS and the private-network preflight for
//! allowed origins, 403 for other origins and foreign Host names (nothing printed), 404,
//! 413, 415, malformed HTML, and a slip that reaches the printer typeset and redacted while
//! the answer and the log hold counts only.

mod common;

use common::{printed, temp, wait_for};
use slipguard::config::Config;
use slipguard::core::text;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORIGIN: &str = "https://staff.maple-ridge.example";

/// Patron values of the test slip: none may print, nor appear in an answer.
const CANARIES: &[&str] = &[
    "Quillfeather",
    "Marisol",
    "23390005077316",
    "555-0199",
    "Okonkwo",
    "Adebayo",
];

fn slip_html() -> String {
    "<!doctype html><html><head><title>Print receipt</title><style>h3{}</style>\
     <script>let autoprint = false;</script></head><body><div id=\"receipt\">\
     <h3>Maple Ridge Public Library</h3>\
     <p>Checked out to: Marisol Quillfeather<br>Card number: 23390005077316<br>\
     Phone: (770) 555-0199</p>\
     <table><tr><th>Title</th><th>Due</th></tr>\
     <tr><td>The Left Hand of Darkness</td><td>12/05/2026</td></tr></table>\
     <p hidden>Note: Quillfeather owes a fine</p></div></body></html>"
        .to_string()
}

/// The daemon's log (every test's), to check for patron values.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Sink(b.clone()))
            .init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_is_clean() {
    let text = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
    assert!(!text.is_empty(), "the log was captured");
    no_canary("the log", &text);
}

async fn start(dir: &Path, extra_listen: &str, daemon: &str) -> (Daemon, SocketAddr, PathBuf) {
    log();
    let out = dir.join("printed");
    std::fs::create_dir_all(&out).unwrap();
    let text = format!(
        "[daemon]\n{daemon}\n[[printer]]\nname = \"front-desk\"\nprofile = \"epson-tm-t88v\"\n\
         device = \"file://{}\"\n[[listen]]\nprotocol = \"http\"\naddress = \"127.0.0.1:0\"\n\
         allowed_origins = [\"{ORIGIN}\"]\n{extra_listen}",
        out.display()
    );
    let mut cfg = Config::from_toml(Path::new("http.toml"), &text).unwrap();
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    let d = Daemon::start(&cfg, &Profiles::builtin_only())
        .await
        .unwrap();
    let addr = d.addrs()[0];
    (d, addr, out)
}

/// An answer: status, headers (names in lower case), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Send one request (`head` without the blank line; Host and Content-Length are added)
/// and read the answer to the end (the server closes the connection after it).
async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    request_as(addr, &format!("127.0.0.1:{}", addr.port()), head, body).await
}

async fn request_as(addr: SocketAddr, host: &str, head: &str, body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{head}\r\nHost: {host}\r\n").into_bytes();
    if !body.is_empty() || head.starts_with("POST") {
        req.extend(format!("Content-Length: {}\r\n", body.len()).bytes());
    }
    req.extend(b"\r\n");
    req.extend(body);
    s.write_all(&req).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn no_canary(what: &str, text: &str) {
    for c in CANARIES {
        assert!(!text.contains(c), "{what} holds a patron value");
    }
}

/// Nothing printed: waits a moment first, so that a job on its way would have arrived.
async fn nothing_printed(out: &Path) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(printed(out).is_empty(), "something printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_page_preflights_then_posts_a_slip_that_prints_redacted() {
    let dir = temp("http-allowed");
    let (d, addr, out) = start(&dir, "", "").await;
    let pre = request(
        addr,
        &format!(
            "OPTIONS /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {ORIGIN}\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\
             Access-Control-Request-Private-Network: true"
        ),
        b"",
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        pre.header("access-control-allow-private-network"),
        Some("true")
    );
    assert!(pre
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(pre
        .header("access-control-allow-headers")
        .unwrap()
        .contains("content-type"));

    let html = slip_html();
    let a = request(
        addr,
        &format!(
            "POST /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {ORIGIN}\r\n\
             Content-Type: text/html; charset=utf-8"
        ),
        html.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.header("access-control-allow-origin"), Some(ORIGIN));
    no_canary("the answer", &a.body);
    let j = a.json();
    assert!(j["job"].as_str().is_some_and(|s| !s.is_empty()), "{j}");
    assert_eq!(j["redacted"]["name"], 1, "{j}");
    assert_eq!(j["redacted"]["card"], 1, "{j}");
    assert_eq!(j["redacted"]["phone"], 1, "{j}");

    wait_for("the slip printed", || printed(&out).len() == 1).await;
    let job = printed(&out).remove(0);
    let profile = Profiles::builtin_only().load("epson-tm-t88v").unwrap();
    let lines: Vec<String> = text::lines(&profile, &job)
        .iter()
        .map(|l| l.text.to_string())
        .collect();
    let all = lines.join("\n");
    no_canary("the printed slip", &String::from_utf8_lossy(&job));
    for keep in [
        "Maple Ridge",
        "The Left Hand of Darkness",
        "12/05/2026",
        "**********7316",
    ] {
        assert!(all.contains(keep), "`{keep}` printed:\n{all}");
    }
    assert!(!all.contains("autoprint") && !all.contains("owes"), "{all}");
    assert!(lines.iter().all(|l| l.chars().count() <= 42));
    // Ends with a cut.
    assert!(job.ends_with(&[0x1D, b'V', 66, 3]));
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_and_foreign_host_names_get_403_and_nothing_prints() {
    let dir = temp("http-refused");
    let (d, addr, out) = start(&dir, "", "").await;
    let evil = "https://evil.example";
    let pre = request(
        addr,
        &format!(
            "OPTIONS /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {evil}\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Private-Network: true"
        ),
        b"",
    )
    .await;
    assert_eq!(pre.status, 403);
    assert_eq!(pre.header("access-control-allow-origin"), None);
    assert_eq!(pre.header("access-control-allow-private-network"), None);
    let html = slip_html();
    let a = request(
        addr,
        &format!("POST /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {evil}\r\nContent-Type: text/plain"),
        html.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.header("access-control-allow-origin"), None);
    // An allowed origin with another port or scheme is another origin.
    for other in [
        "https://staff.maple-ridge.example:8443",
        "http://staff.maple-ridge.example",
        "null",
    ] {
        let a = request(
            addr,
            &format!("POST /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {other}\r\nContent-Type: text/plain"),
            b"hello",
        )
        .await;
        assert_eq!(a.status, 403, "{other}");
    }
    // DNS rebinding: a page reaching the loopback through a name of its own.
    let a = request_as(
        addr,
        &format!("rebind.evil.example:{}", addr.port()),
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: text/plain",
        b"hello",
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    nothing_printed(&out).await;
    // `localhost` and [::1] are this computer.
    let a = request_as(
        addr,
        &format!("localhost:{}", addr.port()),
        "GET /v1/printers HTTP/1.1",
        b"",
    )
    .await;
    assert_eq!(a.status, 200);
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_printers_big_bodies_and_odd_types_are_refused_and_nothing_prints() {
    let dir = temp("http-errors");
    let (d, addr, out) = start(&dir, "", "max_job_bytes = 4096").await;
    let a = request(
        addr,
        "POST /v1/printers/back-office/slips HTTP/1.1\r\nContent-Type: text/html",
        b"<p>x</p>",
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.body);
    let a = request(addr, "GET /v2/anything HTTP/1.1", b"").await;
    assert_eq!(a.status, 404);
    let big = format!("<p>{}</p>", "a".repeat(5000));
    let a = request(
        addr,
        &format!("POST /v1/printers/front-desk/slips HTTP/1.1\r\nOrigin: {ORIGIN}\r\nContent-Type: text/html"),
        big.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 413, "{}", a.body);
    // The browser can read why.
    assert_eq!(a.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("max_job_bytes"));
    let a = request(
        addr,
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: application/pdf",
        b"%PDF-1.4",
    )
    .await;
    assert_eq!(a.status, 415);
    let a = request(addr, "GET /v1/printers/front-desk/slips HTTP/1.1", b"").await;
    assert_eq!(a.status, 405);
    nothing_printed(&out).await;

    let a = request(addr, "GET /v1/printers HTTP/1.1", b"").await;
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(j["printers"][0]["name"], "front-desk");
    assert_eq!(j["printers"][0]["profile"], "epson-tm-t88v");
    // Nothing has been printed yet: nothing says the printer is there.
    assert_eq!(j["printers"][0]["state"], "unknown");
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_html_plain_text_and_raw_jobs_without_an_origin_print() {
    let dir = temp("http-forms");
    let (d, addr, out) = start(&dir, "", "").await;
    let a = request(
        addr,
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: text/html",
        b"<div><p>Due back <b>12/05/2026<table><tr><td>The Dispossessed",
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    wait_for("printed", || printed(&out).len() == 1).await;
    let a = request(
        addr,
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: text/plain",
        b"Plain slip\nName: Marisol Quillfeather\n",
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.json()["redacted"]["name"], 1);
    wait_for("printed", || printed(&out).len() == 2).await;
    let raw = b"\x1b@Raw job from a local tool\n\x1dV\x00";
    let a = request(
        addr,
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: application/vnd.escpos",
        raw,
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    wait_for("printed", || printed(&out).len() == 3).await;
    let jobs = printed(&out);
    let profile = Profiles::builtin_only().load("epson-tm-t88v").unwrap();
    let read = |j: &[u8]| -> String {
        text::lines(&profile, j)
            .iter()
            .map(|l| l.text.to_string() + "\n")
            .collect()
    };
    let texts: Vec<String> = jobs.iter().map(|j| read(j)).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Due back 12/05/2026") && t.contains("The Dispossessed")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Plain slip") && t.contains("Name: M. Q.")),
        "{texts:?}"
    );
    assert!(
        jobs.iter().any(|j| j == raw),
        "a raw job without patron data prints byte for byte"
    );
    // A job that fails closed is refused with the reason and prints nothing.
    let a = request(
        addr,
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nContent-Type: application/vnd.escpos",
        b"\x1b@Name: Marisol Quillfeather\n\x1dv0\x00\xff\xff\xff\xff",
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    no_canary("the refusal", &a.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(printed(&out).len(), 3);
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_for_one_printer_serves_only_it_and_a_slow_body_gets_408() {
    let dir = temp("http-one");
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let extra = format!(
        "printer = \"front-desk\"\n[[printer]]\nname = \"back-office\"\nprofile = \"generic-80mm\"\n\
         device = \"file://{}\"\n",
        other.display()
    );
    let (d, addr, out) = start(&dir, &extra, "job_timeout = \"1s\"").await;
    let a = request(addr, "GET /v1/printers HTTP/1.1", b"").await;
    let names: Vec<String> = a.json()["printers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["front-desk"]);
    let a = request(
        addr,
        "POST /v1/printers/back-office/slips HTTP/1.1\r\nContent-Type: text/plain",
        b"hello",
    )
    .await;
    assert_eq!(a.status, 404);
    // A body that never finishes arriving: 408 at job_timeout, nothing printed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/printers/front-desk/slips HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\npart of a slip",
        addr.port()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("job_timeout"), "{text}");
    nothing_printed(&out).await;
    nothing_printed(&other).await;
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}

/// The printed job holds none of `values`, in any case, in ASCII or the page's bytes (the
/// names are ASCII).
fn none_printed(job: &[u8], values: &[&str]) {
    let text = String::from_utf8_lossy(job).to_lowercase();
    for v in values {
        assert!(
            !text.contains(&v.to_lowercase()),
            "a patron value prints ({} letters)",
            v.len()
        );
    }
}

/// Issue 17 (causes 6 and 11): an HTML slip is redacted on its blocks before it is laid
/// out. A `Surname, First` heading prints at double size, which on 48 columns (80 mm, font
/// A) leaves 24 characters: laid out first, it wrapped after the comma and the first name
/// printed. A name in the table cell after `Borrower:`, in a column narrowed by a long
/// cell, wrapped inside its cell and its second line printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_heading_name_and_a_name_in_the_next_table_cell_print_redacted() {
    let dir = temp("http-before-layout");
    let wide = dir.join("wide");
    std::fs::create_dir_all(&wide).unwrap();
    let extra = format!(
        "[[printer]]\nname = \"wide-desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n",
        wide.display()
    );
    let (d, addr, _) = start(&dir, &extra, "").await;
    let profile = Profiles::builtin_only().load("generic-80mm").unwrap();
    assert_eq!(profile.columns.font_a, 48);
    let heading = "<div id=\"receipt\"><h3>Okonkwo-Adebayo, Marisolina</h3>\
        <p>Please pick up by 12/05/2026</p><p>The Left Hand of Darkness</p></div>";
    let table = "<div id=\"receipt\"><h4>Checkout receipt</h4><table>\
        <tr><td>Borrower:</td><td>Okonkwo-Adebayo, Marisolina Quillfeather</td></tr>\
        <tr><td>Items checked out at the circulation desk today:</td><td>2</td></tr>\
        </table><p>The Left Hand of Darkness</p></div>";
    for (n, html) in [heading, table].into_iter().enumerate() {
        let a = request(
            addr,
            &format!(
                "POST /v1/printers/wide-desk/slips HTTP/1.1\r\nOrigin: {ORIGIN}\r\n\
                 Content-Type: text/html; charset=utf-8"
            ),
            html.as_bytes(),
        )
        .await;
        assert_eq!(a.status, 202, "{}", a.body);
        no_canary("the answer", &a.body);
        assert!(
            a.json()["redacted"]["name"].as_u64() >= Some(1),
            "{}",
            a.body
        );
        wait_for("the slip printed", || printed(&wide).len() == n + 1).await;
    }
    for job in printed(&wide) {
        none_printed(&job, &["Okonkwo", "Adebayo", "Marisolina", "Quillfeather"]);
        let lines: Vec<String> = text::lines(&profile, &job)
            .iter()
            .map(|l| l.text.to_string())
            .collect();
        let all = lines.join("\n");
        assert!(all.contains("The Left Hand of Darkness"), "{all}");
        assert!(lines.iter().all(|l| l.chars().count() <= 48), "{all}");
    }
    d.shutdown(Duration::from_secs(5)).await;
    log_is_clean();
}
