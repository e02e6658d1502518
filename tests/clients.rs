//! Real clients against the built binary (`slipguard run`), never mocked: CUPS printing to
//! the raw listener through a raw `socket://` queue, python-escpos's `Network` printer
//! printing a receipt to the raw listener as point-of-sale software does, and CUPS's own
//! `lpd` backend as the LPD client. Each test checks that the file printer received exactly
//! what `slipguard redact` makes of the same job, and that no patron value (canaries)
//! reached the printer or the log.
//!
//! # The clients must be installed
//!
//! `.ci/clients.sh` installs them (Debian's `cups`, `cups-client`, `cups-bsd`; `python-escpos`
//! from PyPI) and starts `cupsd`; `.ci/run` calls it before `cargo test`. The tests are
//! `#[ignore]`d, so plain `cargo test` lists them as ignored (with the reason) on a machine
//! without CUPS; `cargo test -- --include-ignored` (what `.ci/run` runs) runs them, and a
//! missing client then FAILS the test, naming `.ci/clients.sh`.
//!
//! Tests run in parallel: each has its own daemon (listeners on port 0, addresses read from
//! its log), its own spool (`STATE_DIRECTORY`) and CUPS queues named after the process id.

mod common;

use common::{bin, canary_job, desk_config, temp, wait_files_within, Running, CANARIES};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// CUPS hands a job to its backend within a second or two; a loaded CI machine may take
/// much longer. This bounds a wait, it asserts no speed.
const PATIENCE: Duration = Duration::from_secs(90);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clients")
        .join(name)
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for c in CANARIES {
        assert!(!text.contains(c), "a canary patron value in {what}");
    }
}

// ---- which clients are there -------------------------------------------------------------

/// A program on `PATH`, or in the sbin folders a non-root `PATH` may lack (`lpadmin`).
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What a test needs; `Err` says what is missing.
enum Need {
    /// `lpadmin`, `lp` and `lpstat`, and a running scheduler.
    Cups,
    /// A CUPS backend (`socket`, `lpd`).
    Backend(&'static str),
    /// `python3` with `escpos.printer` importable.
    Escpos,
}

fn check(need: &Need) -> Result<(), String> {
    match need {
        Need::Cups => {
            for t in ["lpadmin", "lp", "lpstat"] {
                tool(t).ok_or(format!("`{t}` is not installed"))?;
            }
            let out = Command::new(tool("lpstat").unwrap())
                .arg("-r")
                .env("LC_ALL", "C")
                .output()
                .map_err(|e| format!("lpstat -r: {e}"))?;
            let said = String::from_utf8_lossy(&out.stdout);
            if said.contains("scheduler is running") {
                Ok(())
            } else {
                Err(format!(
                    "the CUPS scheduler is not running (lpstat -r: {said:?})"
                ))
            }
        }
        Need::Backend(name) => {
            let p = Path::new("/usr/lib/cups/backend").join(name);
            if p.is_file() {
                Ok(())
            } else {
                Err(format!(
                    "the CUPS `{name}` backend ({}) is missing",
                    p.display()
                ))
            }
        }
        Need::Escpos => {
            let py = tool("python3").ok_or("`python3` is not installed")?;
            let ok = Command::new(py)
                .args(["-c", "from escpos.printer import Network, Dummy"])
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("python3: {e}"))?
                .success();
            if ok {
                Ok(())
            } else {
                Err(
                    "python-escpos is not installed (`from escpos.printer import Network` fails)"
                        .into(),
                )
            }
        }
    }
}

/// Fail `test`, naming `.ci/clients.sh`, when a client it needs is missing (the tests are
/// ignored unless asked for: asked for, they must run).
fn clients_ready(test: &str, needs: &[Need]) {
    let missing: Vec<String> = needs.iter().filter_map(|n| check(n).err()).collect();
    assert!(
        missing.is_empty(),
        "{test} needs a real client: {}. Run `.ci/clients.sh` (as root) to install and start them.",
        missing.join("; ")
    );
}

// ---- the daemon --------------------------------------------------------------------------

/// `slipguard run` on `config` with a raw and an LPD listener (see [`desk_config`]), waiting
/// up to [`PATIENCE`]; the daemon and the addresses of its raw and LPD listeners.
fn start(config: &Path, cwd: &Path) -> (Running, String, String) {
    let mut d = Running::start(config, cwd).with_patience(PATIENCE);
    let raw = d.raw_addr();
    let lpd = d.lpd_addr();
    (d, raw, lpd)
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

/// The printed jobs in `dir` once there are `n`, in job order; on timeout, `why()` says
/// what the client thinks happened.
fn wait_files(dir: &Path, n: usize, why: impl Fn() -> String) -> Vec<PathBuf> {
    wait_files_within(dir, n, PATIENCE, why)
}

/// What `slipguard redact` (the daemon's configuration, so the same profile) makes of `input`.
fn redact(cfg: &Path, input: &Path) -> Vec<u8> {
    let out = Command::new(bin())
        .args(["redact", "--config"])
        .arg(cfg)
        .arg(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "slipguard redact failed");
    out.stdout
}

fn sample(kind: &str) -> Vec<u8> {
    let out = Command::new(bin())
        .args(["sample", "--kind", kind])
        .output()
        .unwrap();
    assert!(out.status.success(), "slipguard sample failed");
    out.stdout
}

/// The log after the daemon stopped: it stopped cleanly, printed each job through
/// `listener`, and shows no patron value.
fn assert_clean_stop(d: &mut Running, listener: &str, jobs: usize) {
    let (status, log) = d.stop();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let all = log.join("\n");
    let printed = log
        .iter()
        .filter(|l| l.contains(&format!("listener=\"{listener}\"")))
        .filter(|l| l.contains("outcome=\"printed\""))
        .count();
    assert_eq!(printed, jobs, "jobs printed through {listener}:\n{all}");
    assert_no_canary("the daemon's log", all.as_bytes());
}

// ---- CUPS --------------------------------------------------------------------------------

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(tool(program).unwrap_or_else(|| PathBuf::from(program)))
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// A CUPS queue for this test only, deleted (`lpadmin -x`) when dropped, also when the test
/// fails.
struct Queue {
    name: String,
}

impl Queue {
    /// `lpadmin -p NAME -E -v URI -m raw`: a raw queue, CUPS passes jobs through untouched.
    /// CUPS 2.4 (Debian 12) accepts `-m raw` and warns that raw queues are deprecated; a
    /// queue made without `-m` is raw as well, should a later CUPS refuse `-m raw`.
    fn add(test: &str, uri: &str) -> Queue {
        let name = format!("slipguard-test-{}-{test}", std::process::id());
        let out = run("lpadmin", &["-p", &name, "-E", "-v", uri, "-m", "raw"]);
        assert!(
            out.status.success(),
            "lpadmin -p {name} -v {uri} -m raw: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Queue { name }
    }

    /// `lp -d QUEUE -o raw [-t TITLE] FILE`.
    fn print(&self, file: &Path, title: Option<&str>) {
        let file = file.to_str().unwrap();
        let mut args = vec!["-d", &self.name, "-o", "raw"];
        if let Some(t) = title {
            args.extend(["-t", t]);
        }
        args.push(file);
        let out = run("lp", &args);
        assert!(
            out.status.success(),
            "lp -d {} -o raw: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What CUPS says of the queue and its jobs (for a test that gave up waiting).
    fn state(&self) -> String {
        let p = run("lpstat", &["-l", "-p", &self.name]);
        let o = run("lpstat", &["-o", &self.name]);
        format!(
            "CUPS says: {}{}",
            String::from_utf8_lossy(&p.stdout),
            String::from_utf8_lossy(&o.stdout)
        )
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = run("cancel", &["-a", &self.name]);
        let _ = run("lpadmin", &["-x", &self.name]);
    }
}

#[test]
#[ignore = "needs CUPS (`.ci/clients.sh` installs and starts it); run with --include-ignored"]
fn cups_raw_socket_queue_prints_slips_redacted() {
    let test = "cups_raw_socket_queue_prints_slips_redacted";
    clients_ready(test, &[Need::Cups, Need::Backend("socket")]);
    let dir = temp("cups-socket");
    let (cfg, out) = desk_config(&dir, &["raw", "lpd"]);
    let (hold, canary) = (dir.join("hold.bin"), dir.join("checkout.bin"));
    std::fs::write(&hold, sample("hold")).unwrap();
    std::fs::write(&canary, canary_job()).unwrap();

    let (mut d, raw, _) = start(&cfg, &dir);
    let queue = Queue::add("socket", &format!("socket://127.0.0.1:{}", port(&raw)));
    // One job after the other: CUPS prints a queue's jobs in order, so are the files.
    queue.print(&hold, None);
    wait_files(&out, 1, || queue.state());
    queue.print(&canary, None);
    let files = wait_files(&out, 2, || queue.state());
    d.wait_line("outcome=\"printed\"");

    for (input, printed) in [(&hold, &files[0]), (&canary, &files[1])] {
        let printed = std::fs::read(printed).unwrap();
        let expected = redact(&cfg, input);
        assert!(
            printed == expected,
            "what CUPS delivered to the printer is not what `slipguard redact` makes of {} \
             ({} bytes printed, {} expected)",
            input.display(),
            printed.len(),
            expected.len()
        );
        assert_ne!(
            printed,
            std::fs::read(input).unwrap(),
            "nothing was redacted"
        );
        assert_no_canary("the printed job", &printed);
    }
    assert_clean_stop(&mut d, "raw", 2);
}

#[test]
#[ignore = "needs CUPS and its lpd backend (`.ci/clients.sh` installs them); run with --include-ignored"]
fn cups_lpd_backend_prints_a_slip_redacted_and_its_patron_job_title_goes_nowhere() {
    let test = "cups_lpd_backend_prints_a_slip_redacted_and_its_patron_job_title_goes_nowhere";
    clients_ready(test, &[Need::Cups, Need::Backend("lpd")]);
    let dir = temp("cups-lpd");
    let (cfg, out) = desk_config(&dir, &["raw", "lpd"]);
    let job = dir.join("checkout.bin");
    std::fs::write(&job, canary_job()).unwrap();

    let (mut d, _, lpd) = start(&cfg, &dir);
    // CUPS's lpd backend is the LPD client: it sends a control file (user, host, and the
    // job title as `J` and `N` lines) and the data file, from a reserved port as root.
    let queue = Queue::add("lpd", &format!("lpd://127.0.0.1:{}/desk", port(&lpd)));
    // Circulation clients title jobs after the patron: the control file then names them.
    queue.print(&job, Some("Canaryfirst Canarylast 21472000358610"));
    let files = wait_files(&out, 1, || queue.state());
    d.wait_line("outcome=\"printed\"");

    let printed = std::fs::read(&files[0]).unwrap();
    let expected = redact(&cfg, &job);
    assert!(
        printed == expected,
        "what the LPD client delivered to the printer is not what `slipguard redact` makes \
         of it ({} bytes printed, {} expected)",
        printed.len(),
        expected.len()
    );
    assert_no_canary("the printed job", &printed);
    assert_clean_stop(&mut d, "lpd", 1);
    // Nor anything the daemon stored (the control file is dropped, the spool is sealed).
    for f in walk(&dir.join("state")) {
        assert_no_canary("the spool", &std::fs::read(f).unwrap());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

// ---- python-escpos -----------------------------------------------------------------------

#[test]
#[ignore = "needs python-escpos (`.ci/clients.sh` installs it); run with --include-ignored"]
fn python_escpos_network_printer_prints_a_receipt_redacted() {
    let test = "python_escpos_network_printer_prints_a_receipt_redacted";
    clients_ready(test, &[Need::Escpos]);
    let dir = temp("escpos");
    let (cfg, out) = desk_config(&dir, &["raw", "lpd"]);
    let (mut d, raw, _) = start(&cfg, &dir);

    // The script prints to the raw listener with escpos.printer.Network, and the same
    // receipt to a Dummy printer whose bytes it writes to `sent`.
    let sent = dir.join("sent.bin");
    let (host, port) = raw.rsplit_once(':').unwrap();
    let py = Command::new(tool("python3").unwrap())
        .arg(fixture("escpos_receipt.py"))
        .args([host, port])
        .arg(&sent)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "python-escpos: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let files = wait_files(&out, 1, || {
        "python-escpos exited 0, having sent the receipt".into()
    });
    d.wait_line("outcome=\"printed\"");

    let sent_bytes = std::fs::read(&sent).unwrap();
    assert!(
        String::from_utf8_lossy(&sent_bytes).contains("Canarylast"),
        "the receipt python-escpos made holds the patron (else this test checks nothing)"
    );
    let printed = std::fs::read(&files[0]).unwrap();
    let expected = redact(&cfg, &sent);
    assert!(
        printed == expected,
        "what python-escpos printed is not what `slipguard redact` makes of its bytes \
         ({} bytes printed, {} expected)",
        printed.len(),
        expected.len()
    );
    assert_no_canary("the printed receipt", &printed);

    // And the printer shows the receipt with the patron masked (the preview of the job).
    let preview = Command::new(bin())
        .args(["preview", "--profile", "epson-tm-t88v"])
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(preview.status.success());
    let shown = String::from_utf8_lossy(&preview.stdout);
    for line in [
        "Elmwood Library",
        "Checked out to: C. C.",
        "Card number: **********8610",
        "Due: 2026-11-24",
        "- cut -",
    ] {
        assert!(shown.contains(line), "the preview lacks `{line}`");
    }
    assert_clean_stop(&mut d, "raw", 1);
}
