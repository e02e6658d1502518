//! A real browser: headless Chromium loads a Koha slip page (`tests/fixtures/html/
//! koha_issueslip.html`) from an allowed origin, with the Koha snippet of
//! `contrib/koha/IntranetSlipPrinterJS.js` in it, exactly as Koha includes the
//! `IntranetSlipPrinterJS` preference. The snippet posts the slip with `fetch()` (a CORS
//! preflight first: `text/html` is not a simple content type) and the slip reaches the
//! printer typeset and redacted. With slipguard unreachable the snippet falls back to the
//! browser's print dialog; from an origin not in `allowed_origins` nothing reaches the
//! printer.
//!
//! Needs Debian's `chromium` (`.ci/clients.sh` installs it): the tests are `#[ignore]`d, so
//! plain `cargo test` lists them as ignored; `cargo test -- --include-ignored` (what `.ci/run`
//! runs) runs them, and fails them when Chromium is missing.

mod common;

use common::{printed, temp, wait_for};
use slipguard::config::Config;
use slipguard::core::text;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium binary, if installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Chromium; a test asked to run without it fails, saying how to install it.
fn chromium_or_fail() -> &'static str {
    chromium().expect("Chromium is needed: run `.ci/clients.sh` (as root) to install it")
}

/// What the printer printed of `job` (an Epson TM-T88V), as text, after checking that none
/// of the fixture's patron values is in it and all of its listed content is.
fn check_printed(job: &[u8], fixture: &str) -> String {
    let profile = Profiles::builtin_only().load("epson-tm-t88v").unwrap();
    let all: String = text::lines(&profile, job)
        .iter()
        .map(|l| l.text.to_string() + "\n")
        .collect();
    let path = repo().join(format!("tests/fixtures/html/{fixture}.toml"));
    let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for v in manifest["patron"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(!all.contains(v), "a patron value printed");
        assert!(!String::from_utf8_lossy(job).contains(v));
    }
    for k in manifest["keep"].as_array().unwrap() {
        let k = k.as_str().unwrap();
        assert!(all.contains(k), "`{k}` printed:\n{all}");
    }
    all
}

/// The Koha slip page with the snippet as `IntranetSlipPrinterJS`, talking to slipguard at
/// `slipguard` (`http://127.0.0.1:PORT`). `window.print` is replaced by a marker, so that
/// the fallback shows in the page instead of opening a dialog.
fn koha_page(slipguard: &str) -> String {
    let page =
        std::fs::read_to_string(repo().join("tests/fixtures/html/koha_issueslip.html")).unwrap();
    let snippet =
        std::fs::read_to_string(repo().join("contrib/koha/IntranetSlipPrinterJS.js")).unwrap();
    assert!(snippet.contains("http://127.0.0.1:9180"));
    let snippet = snippet.replace("http://127.0.0.1:9180", slipguard);
    // slip-print.inc: `let autoprint = false;` then the preference, in one script.
    let start = page
        .find("<!-- slip-print.inc -->")
        .expect("slip-print.inc");
    let end = start + page[start..].find("</script>").expect("its script") + "</script>".len();
    format!(
        "{}<script>\n    let autoprint = false;\n    window.print = function () {{ \
         document.documentElement.setAttribute(\"data-browser-print\", \"yes\"); }};\n{snippet}\n</script>{}",
        &page[..start],
        &page[end..]
    )
}

/// Serve `page` at `/` (and 404 for anything else) until the test ends.
async fn serve_page(listener: TcpListener, page: String) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let page = page.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let root = got.starts_with(b"GET / ");
            let (status, body) = if root {
                ("200 OK", page)
            } else {
                ("404 Not Found", String::new())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

/// Load `url` in headless Chromium until the page is idle; its DOM afterwards.
async fn load(browser: &str, url: &str, profile_dir: &Path) -> String {
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--virtual-time-budget=10000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile_dir.display()))
    .arg(url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finished within 90 s")
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn start(dir: &Path, origin: &str) -> (Daemon, u16, PathBuf) {
    let out = dir.join("printed");
    std::fs::create_dir_all(&out).unwrap();
    let text = format!(
        "[[printer]]\nname = \"front-desk\"\nprofile = \"epson-tm-t88v\"\ndevice = \"file://{}\"\n\
         [[listen]]\nprotocol = \"http\"\naddress = \"127.0.0.1:0\"\nallowed_origins = [\"{origin}\"]\n",
        out.display()
    );
    let mut cfg = Config::from_toml(Path::new("browser.toml"), &text).unwrap();
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    let d = Daemon::start(&cfg, &Profiles::builtin_only())
        .await
        .unwrap();
    let port = d.addrs()[0].port();
    (d, port, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium (`.ci/clients.sh` installs it); run with --include-ignored"]
async fn chromium_posts_a_koha_slip_that_prints_redacted_and_falls_back_when_unreachable() {
    let browser = chromium_or_fail();
    let dir = temp("browser");
    let pages = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", pages.local_addr().unwrap().port());
    let (d, port, out) = start(&dir, &origin).await;
    let server = tokio::spawn(serve_page(
        pages,
        koha_page(&format!("http://127.0.0.1:{port}")),
    ));

    // 1. From the allowed origin: printed by slipguard, redacted; no browser print.
    let dom = load(browser, &format!("{origin}/"), &dir.join("chromium-1")).await;
    assert!(
        dom.contains("data-slipguard=\"printed "),
        "the snippet's outcome: {}",
        dom.lines()
            .find(|l| l.contains("<html"))
            .unwrap_or("(no page)")
    );
    assert!(!dom.contains("data-browser-print=\"yes\""));
    wait_for("the slip printed", || printed(&out).len() == 1).await;
    let job = printed(&out).remove(0);
    let all = check_printed(&job, "koha_issueslip");
    assert!(
        all.contains("**********2604"),
        "the card's last four digits"
    );
    assert!(!all.contains("autoprint") && !all.contains("jsPrintSetup"));

    // 2. From an origin not allowed: slipguard prints nothing (the browser reports a CORS
    //    failure to the page, which then prints through the browser as before).
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_origin = format!("http://127.0.0.1:{}", other.local_addr().unwrap().port());
    let other_server = tokio::spawn(serve_page(
        other,
        koha_page(&format!("http://127.0.0.1:{port}")),
    ));
    let dom = load(
        browser,
        &format!("{other_origin}/"),
        &dir.join("chromium-2"),
    )
    .await;
    assert!(
        dom.contains("data-slipguard=\"unreachable\""),
        "{}",
        dom.len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(printed(&out).len(), 1, "nothing more printed");
    other_server.abort();

    // 3. slipguard not running: the browser's print dialog, as before.
    d.shutdown(Duration::from_secs(5)).await;
    let dom = load(browser, &format!("{origin}/"), &dir.join("chromium-3")).await;
    assert!(dom.contains("data-slipguard=\"unreachable\""));
    assert!(dom.contains("data-browser-print=\"yes\""));
    assert_eq!(printed(&out).len(), 1);
    server.abort();
}

/// The print containers of Evergreen's clients: the AngularJS staff client's
/// (`<div id="print-div" eg-print-container>`), the Angular client's since 3.16.7
/// (`<div id="print-div">`), and the older Angular client's (`#eg-print-container`).
const EVERGREEN_CONTAINERS: [(&str, &str); 3] = [
    (
        "angularjs",
        "<div id=\"print-div\" eg-print-container></div>",
    ),
    ("angular", "<div id=\"print-div\"></div>"),
    (
        "angular-before-3.16.7",
        "<div id=\"eg-print-container\"></div>",
    ),
];

/// A page that prints as the Evergreen client does: the receipt into its print container
/// (`container`, one of [`EVERGREEN_CONTAINERS`]), `window.print()`, then the container
/// emptied. The user script of `contrib/evergreen/slipguard.user.js` runs first (as a
/// user-script manager runs it at `document-start`); `window.print` before it is a marker
/// recording whether the receipt was in the container when the browser's print ran.
fn evergreen_page(slipguard: &str, container: &str) -> String {
    let receipt =
        std::fs::read_to_string(repo().join("tests/fixtures/html/eg_hold_shelf_slip.html"))
            .unwrap();
    let script =
        std::fs::read_to_string(repo().join("contrib/evergreen/slipguard.user.js")).unwrap();
    assert!(script.contains("http://127.0.0.1:9180"));
    let script = script.replace("http://127.0.0.1:9180", slipguard);
    let receipt_js = serde_json::to_string(&receipt).unwrap();
    format!(
        "<!doctype html><html><head><title>Evergreen</title><script>\n\
         function container() {{ return document.querySelector('#print-div, #eg-print-container'); }}\n\
         window.print = function () {{\n\
           var c = container();\n\
           document.documentElement.setAttribute('data-browser-print', c && c.innerHTML.length > 100 ? 'with-receipt' : 'empty');\n\
         }};\n</script>\n<script>\n{script}\n</script>\n<script>\n\
         window.addEventListener('load', function () {{\n\
           var c = container();\n\
           c.innerHTML = {receipt_js};\n\
           window.print();\n\
           c.innerHTML = '';\n\
         }});\n</script></head><body><div id=\"main\">Circulation</div>\
         {container}</body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium (`.ci/clients.sh` installs it); run with --include-ignored"]
async fn chromium_runs_the_evergreen_user_script_on_a_page_that_prints_like_evergreen() {
    let browser = chromium_or_fail();
    for (client, container) in EVERGREEN_CONTAINERS {
        let dir = temp(&format!("browser-eg-{client}"));
        let pages = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://127.0.0.1:{}", pages.local_addr().unwrap().port());
        let (d, port, out) = start(&dir, &origin).await;
        let server = tokio::spawn(serve_page(
            pages,
            evergreen_page(&format!("http://127.0.0.1:{port}"), container),
        ));
        let dom = load(browser, &format!("{origin}/"), &dir.join("chromium-1")).await;
        assert!(
            dom.contains("data-slipguard=\"printed "),
            "{client}: the script sent the receipt ({} bytes of DOM)",
            dom.len()
        );
        assert!(!dom.contains("data-browser-print=\""), "{client}");
        wait_for("the receipt printed", || printed(&out).len() == 1).await;
        check_printed(&printed(&out)[0], "eg_hold_shelf_slip");
        // slipguard stopped: the browser's print, with the receipt back in the container.
        d.shutdown(Duration::from_secs(5)).await;
        let dom = load(browser, &format!("{origin}/"), &dir.join("chromium-2")).await;
        assert!(dom.contains("data-slipguard=\"unreachable\""), "{client}");
        assert!(
            dom.contains("data-browser-print=\"with-receipt\""),
            "{client}"
        );
        server.abort();
    }
}
