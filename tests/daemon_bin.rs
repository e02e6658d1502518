//! The built binary as a service: `slipguard run` on a configuration, real sockets and
//! files, SIGTERM; and `slipguard check`. Its log lines are checked for patron data with
//! canary values.

mod common;

use common::{bin, canary_job, desk_config, send, temp, wait_files, Running, CANARIES, PATIENCE};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_service_prints_what_redact_makes_logs_no_patron_data_and_stops_on_sigterm() {
    let dir = temp("service");
    let (cfg, out) = desk_config(&dir, &["raw"]);
    let job = canary_job();
    std::fs::write(dir.join("job.bin"), &job).unwrap();

    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    send(&addr, &job);
    let files = wait_files(&out, 1);
    d.wait_line("outcome=\"printed\"");
    let (status, log) = d.stop();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let offline = Command::new(bin())
        .args(["redact", "--config"])
        .arg(&cfg)
        .arg(dir.join("job.bin"))
        .output()
        .unwrap();
    assert!(offline.status.success());
    let printed = std::fs::read(&files[0]).unwrap();
    assert_eq!(
        printed, offline.stdout,
        "the daemon prints what `redact` makes"
    );
    assert!(String::from_utf8_lossy(&printed).contains("**********8610"));

    let all = log.join("\n");
    for c in CANARIES {
        assert!(!all.contains(c), "`{c}` in the log:\n{all}");
    }
    assert!(
        all.contains("card=1") && all.contains("name=1"),
        "the job line counts what was redacted:\n{all}"
    );
}

#[test]
fn a_job_that_fails_closed_is_refused_and_logged_without_its_text() {
    let dir = temp("refused");
    let (cfg, out) = desk_config(&dir, &["raw"]);
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    // A name, then a command whose declared length runs past the end of the job.
    let mut bad = canary_job();
    bad.extend(b"Canarylast\x1d(k\xff\x00");
    send(&addr, &bad);
    let line = d.wait_line("outcome=\"refused\"");
    assert!(line.contains("runs past the end of the job"), "{line}");
    // The next job still prints.
    send(&addr, b"\x1b@plain text\n\x1dV\x00");
    wait_files(&out, 1);
    let (status, log) = d.stop();
    assert!(status.success());
    assert_eq!(wait_files(&out, 1).len(), 1, "only the good job printed");
    let all = log.join("\n");
    for c in CANARIES {
        assert!(!all.contains(c), "`{c}` in the log:\n{all}");
    }
}

#[test]
fn check_accepts_a_good_config_and_names_file_and_line_of_a_bad_one() {
    let dir = temp("check");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[[printer]]\nname = \"desk\"\nprofile = \"star-tsp650ii\"\n\
         device = \"serial:///dev/ttyUSB0?baud=38400&flow=rtscts\"\n\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:9100\"\nprinter = \"desk\"\n",
    )
    .unwrap();
    let ok = Command::new(bin())
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("1 printer(s), 1 listener(s)"));

    for (text, line, says) in [
        (
            "[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"usb:///etc/passwd\"\n",
            4,
            "not a printer device node",
        ),
        (
            "[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file:///tmp/x\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:9100\"\nprinter = \"front\"\n",
            9,
            "no printer named `front`",
        ),
        (
            "[daemon]\nidle_timeout = \"soon\"\n",
            2,
            "not a duration",
        ),
        // An unknown profile: where it is named, column too.
        (
            "[[printer]]\nname = \"desk\"\nprofile = \"no-such-model\"\ndevice = \"file:///tmp/x\"\n",
            3,
            "bad.toml:3:11: printer `desk`: unknown printer profile `no-such-model`",
        ),
        // Nothing to print to: an error, not `ok (0 printer(s), …)`.
        ("", 0, "no printer is defined"),
        ("# only comments\n", 0, "no printer is defined"),
        // Two listeners on one address would pass and then fail at `run`.
        (
            "[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file:///tmp/x\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:9100\"\nprinter = \"desk\"\n\n\
             [[listen]]\nprotocol = \"lpd\"\naddress = \"127.0.0.1:9100\"\nprinter = \"desk\"\n",
            13,
            "another listener already uses 127.0.0.1:9100",
        ),
        // One bracket where two are meant.
        (
            "[printer]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file:///tmp/x\"\n",
            1,
            "write `[[printer]]`, with two brackets",
        ),
        // The key that confirms an unusual window is named.
        (
            "[daemon]\nretention = \"10s\"\n\n[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file:///tmp/x\"\n",
            2,
            "allow_unusual_retention = true",
        ),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let r = Command::new(bin())
            .args(["check", "--config"])
            .arg(&bad)
            .output()
            .unwrap();
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says), "{err}");
        if line > 0 {
            assert!(
                err.contains(&format!("bad.toml:{line}:")),
                "file and line in: {err}"
            );
        }
    }
    // The device the bad config named was never touched.
    assert!(std::fs::metadata("/etc/passwd").unwrap().len() > 0);
}

#[test]
fn lpd_user_and_job_names_never_reach_the_log() {
    use std::io::Read;
    let dir = temp("lpd-log");
    let (cfg, out) = desk_config(&dir, &["lpd"]);
    let mut d = Running::start(&cfg, &dir);
    let l = d.wait_line("listening on lpd ");
    let addr = l.split("listening on lpd ").nth(1).unwrap();
    let addr = addr.split_whitespace().next().unwrap().to_string();

    // The control file names the patron as user and job (as circulation clients do).
    let control = b"Hcirc-desk-3\nPCanaryfirst\nLCanaryfirst\nJCanarylast 21472000358610\nNcanary.person\nldfA001circ\n";
    let data = canary_job();
    let mut s = TcpStream::connect(&addr).unwrap();
    let step = |s: &mut TcpStream, bytes: &[u8]| {
        s.write_all(bytes).unwrap();
        let mut b = [1u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(b[0], 0, "acknowledged");
    };
    step(&mut s, b"\x02lp\n");
    step(
        &mut s,
        format!("\x02{} cfA001circ\n", control.len()).as_bytes(),
    );
    step(&mut s, &[&control[..], b"\0"].concat());
    step(
        &mut s,
        format!("\x03{} dfA001circ\n", data.len()).as_bytes(),
    );
    step(&mut s, &[&data[..], b"\0"].concat());
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = s.read_to_end(&mut Vec::new());

    wait_files(&out, 1);
    d.wait_line("outcome=\"printed\"");
    let (status, log) = d.stop();
    assert!(status.success());
    let all = log.join("\n");
    assert!(all.contains("listener=\"lpd\""), "{all}");
    for c in CANARIES {
        assert!(!all.contains(c), "`{c}` in the log:\n{all}");
    }
    // Nor anywhere the daemon wrote.
    for f in std::fs::read_dir(&out).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for c in CANARIES {
            assert!(!text.contains(c), "`{c}` in the printed job");
        }
    }
}

#[test]
fn sockets_from_systemd_are_used_and_jobs_sent_before_the_start_wait_in_the_backlog() {
    let dir = temp("activation");
    let out = dir.join("out");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nruntime_dir = \"{run}\"\nstate_dir = \"{state}\"\n\n[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:{port}\"\nprinter = \"desk\"\n",
            out.display(),
            run = dir.join("run").display(),
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    // systemd's own tool: it holds the socket, starts slipguard at the first connection
    // and hands the socket over. slipguard could not bind the port itself while the tool
    // holds it, so a printed job shows the handed-over socket was used. The tool passes on
    // only the environment it is told to (`-E`): the directories are in the configuration
    // too, so the test daemon never falls back to the system's (`/var/lib/slipguard` as
    // root).
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{port}")])
        .arg(format!(
            "--setenv=STATE_DIRECTORY={}",
            dir.join("state").display()
        ))
        .arg(bin())
        .args(["run", "--config"])
        .arg(&cfg);
    let mut d = Running::spawn(cmd, &dir);
    let addr = format!("127.0.0.1:{port}");
    let until = Instant::now() + PATIENCE;
    while TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < until,
            "systemd-socket-activate did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // That probe connection started the daemon; this job may arrive before it listens.
    let job = b"\x1b@sent while the service was starting\n\x1dV\x00";
    send(&addr, job);
    let files = wait_files(&out, 1);
    assert_eq!(std::fs::read(&files[0]).unwrap(), job);
    d.wait_line(&format!("listening on raw 127.0.0.1:{port}"));
    // The job was spooled in the test's own state directory.
    let spooled = std::fs::read_dir(dir.join("state/spool"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(spooled > 0, "the spool is the test's own, not the system's");
    let (status, _) = d.stop();
    assert!(status.success());
}

/// One daemon per state directory: a second `run` on the same spool exits at once, naming
/// the first one's PID, and touches nothing (the first one's queued job is still there, and
/// still prints).
#[test]
fn a_second_daemon_on_the_same_state_directory_exits_naming_the_first_and_touches_nothing() {
    let dir = temp("state-lock");
    let out = dir.join("out");
    // A network printer nobody listens on yet: the first daemon's job waits in its spool.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = |name: &str, device: String| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "[daemon]\nruntime_dir = \"{run}\"\nstate_dir = \"{state}\"\nstop_timeout = \"1s\"\n\n\
                 [[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"{device}\"\n\n\
                 [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n",
                run = dir.join("run").display(),
                state = dir.join("state").display(),
            ),
        )
        .unwrap();
        path
    };
    let first_cfg = cfg("first.toml", format!("tcp://127.0.0.1:{port}"));
    let mut first = Running::start(&first_cfg, &dir);
    let addr = first.raw_addr();
    send(&addr, b"\x1b@waiting for its printer\n\x1dV\x00");
    first.wait_line("printer unreachable");
    let spool = dir.join("state/spool");
    let before: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(!before.is_empty(), "the job is spooled");

    // The second one, on the same state directory (another printer, another port).
    let second_cfg = cfg("second.toml", format!("file://{}", out.display()));
    let mut child = Command::new(bin())
        .args(["run", "--config"])
        .arg(&second_cfg)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            child.kill().unwrap();
            panic!("a second daemon on the same state directory kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = child.wait_with_output().unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains(&format!("another slipguard (pid {})", first.child.id()))
            && said.contains("is using the state directory"),
        "{said}"
    );
    assert!(
        !said.contains("spool opened"),
        "it opened the spool: {said}"
    );
    let after: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "the spool is as the first daemon left it");
    assert!(!out.exists(), "the second printed nothing");

    // The first one's job still prints once its printer comes.
    let printer = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut conn, _) = printer.accept().unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    assert!(got.ends_with(b"\x1dV\x00"), "{got:?}");
    let (status, _) = first.stop();
    assert!(status.success());
}

#[test]
fn status_shows_printer_states_queues_and_counts_but_no_patron_data() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp("status");
    let out = dir.join("out");
    let run = dir.join("run");
    // A network printer nobody listens on: offline.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nruntime_dir = \"{}\"\nstop_timeout = \"1s\"\n\n\
             [[printer]]\nname = \"desk\"\nprofile = \"epson-tm-t88v\"\ndevice = \"file://{}\"\n\
             [[printer]]\nname = \"annex\"\nprofile = \"generic-80mm\"\ndevice = \"tcp://{down}\"\n\
             [[printer]]\nname = \"kiosk\"\nprofile = \"generic-80mm\"\ndevice = \"usb:///dev/usb/lp-absent\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"annex\"\n",
            run.display(),
            out.display()
        ),
    )
    .unwrap();
    let mut d = Running::start(&cfg, &dir);
    let desk = d.raw_addr();
    let annex = d.raw_addr();
    d.wait_line("control socket");
    let sock = run.join("control.sock");
    // A job that fails closed (a user-defined glyph set): refused, counted apart from
    // failures.
    send(&desk, b"\x1b@\x1b&\x03\x41\x41\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\n");
    d.wait_line("job not printed");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the service's user may ask");

    send(&desk, &canary_job());
    send(&annex, &canary_job());
    wait_files(&out, 1);
    d.wait_line("printer unreachable");

    let status = |json: bool| {
        let mut c = Command::new(bin());
        c.args(["status", "--config"]).arg(&cfg);
        if json {
            c.arg("--json");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // The file appears a moment before its job is counted: ask until it is.
    let until = Instant::now() + PATIENCE;
    let v: serde_json::Value = loop {
        let v: serde_json::Value = serde_json::from_str(&status(true)).unwrap();
        let desk = v["printers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "desk" && p["printed"] == 1);
        if desk || Instant::now() > until {
            break v;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let p = |name: &str| {
        v["printers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(p("desk")["printed"], 1);
    assert_eq!(p("desk")["redacted"]["card"], 1);
    assert_eq!(p("desk")["redacted"]["name"], 1);
    assert_eq!(p("desk")["state"], "ready");
    assert_eq!(
        (p("desk")["refused"].as_u64(), p("desk")["failed"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(p("annex")["state"], "offline");
    assert_eq!(p("annex")["queued"], 1);
    assert!(p("annex")["offline_since"].as_u64().unwrap() > 1_700_000_000);
    // Never sent a job: nothing says it is there.
    assert_eq!(p("kiosk")["state"], "unknown");
    let text = status(false);
    // Local clock time and age, not a Unix time.
    assert!(text.contains("annex: offline for "), "{text}");
    assert!(
        text.contains(" s (since ") || text.contains(" min (since "),
        "{text}"
    );
    assert!(!text.contains("unix time"), "{text}");
    assert!(
        text.contains("kiosk: unknown (no job has reached it"),
        "{text}"
    );
    assert!(text.contains("queued 1, printed 0"), "{text}");
    assert!(text.contains("printed 1, refused 1, failed 0"), "{text}");
    // A user who is not root hears why and what to do.
    if running_as_root() {
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin())
            .args(["status", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(
            said.contains("permission denied") && said.contains("sudo"),
            "{said}"
        );
    } else {
        eprintln!("not root: the non-root status message is not checked here (CI runs as root)");
    }
    for c in CANARIES {
        assert!(
            !text.contains(c) && !v.to_string().contains(c),
            "`{c}` in status"
        );
    }
    let (st, log) = d.stop();
    assert!(st.success(), "{st}: {log:?}");
    assert!(!sock.exists(), "the socket is removed on the way out");
    // Without a daemon, status says what is wrong.
    let o = Command::new(bin())
        .args(["status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot reach the daemon"));
}

#[test]
fn config_changes_reload_and_a_bad_config_keeps_the_running_one() {
    let dir = temp("reload");
    let (out1, out2) = (dir.join("out1"), dir.join("out2"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("slipguard.toml");
    let write = |out: &Path| {
        // Written beside and renamed over, as editors and deployment tools do.
        let tmp = dir.join(".slipguard.toml.tmp");
        std::fs::write(
            &tmp,
            format!(
                "[daemon]\nruntime_dir = \"{}\"\n\n\
                 [[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
                 [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:{port}\"\nprinter = \"desk\"\n",
                dir.join("run").display(),
                out.display()
            ),
        )
        .unwrap();
        std::fs::rename(&tmp, &cfg).unwrap();
    };
    write(&out1);
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    send(&addr, b"\x1b@first\n\x1dV\x00");
    wait_files(&out1, 1);

    // The printer now writes elsewhere: picked up without a restart, same listener.
    write(&out2);
    d.wait_line("file changed: configuration reloaded");
    send(&addr, b"\x1b@second\n\x1dV\x00");
    wait_files(&out2, 1);

    // A broken file is refused with file and line; the running configuration stays.
    std::fs::write(&cfg, "[[printer]]\nname = \"desk\"\nprofile = 12\n").unwrap();
    let line = d.wait_line("configuration not reloaded");
    assert!(line.contains("slipguard.toml:3:"), "{line}");
    send(&addr, b"\x1b@third\n\x1dV\x00");
    wait_files(&out2, 2);

    // SIGHUP reloads too.
    write(&out1);
    d.wait_line("configuration reloaded");
    let ok = Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    d.wait_line("SIGHUP: configuration reloaded");
    send(&addr, b"\x1b@fourth\n\x1dV\x00");
    wait_files(&out1, 2);
    let (status, _) = d.stop();
    assert!(status.success());
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping_and_sigterm_ends_a_stalled_job_in_time() {
    use std::os::unix::net::UnixDatagram;
    let dir = temp("notify");
    // A printer that takes the connection and never reads or answers (paper out).
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let paddr = stalled.local_addr().unwrap();
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nruntime_dir = \"{}\"\nstop_timeout = \"1s\"\n\n\
             [[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"tcp://{paddr}\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n",
            dir.join("run").display()
        ),
    )
    .unwrap();
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000");
    let mut d = Running::spawn(cmd, &dir);
    let mut heard = Vec::new();
    let next = || {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    heard.push(next());
    assert_eq!(heard[0], "READY=1");
    heard.push(next());
    assert_eq!(heard[1], "WATCHDOG=1", "the watchdog is fed");
    let addr = d.raw_addr();
    send(&addr, b"\x1b@a job the printer never takes\n\x1dV\x00");
    let (_conn, _) = stalled.accept().unwrap(); // the daemon is sending
    let t = Instant::now();
    let (status, log) = d.stop();
    assert!(status.success(), "{status}: {log:?}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stopped within the stop timeout (1 s) and some slack, took {:?}",
        t.elapsed()
    );
    let rest: Vec<String> = std::iter::from_fn(|| {
        let mut buf = [0u8; 256];
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        sock.recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .collect();
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
    assert!(log.join("\n").contains("job not printed"), "{log:?}");
}

#[test]
fn spool_list_reprint_and_purge_work_from_the_command_line_and_show_no_slip_content() {
    let dir = temp("spool-cli");
    let (cfg, out) = desk_config(&dir, &["raw"]);
    let mut d = Running::start(&cfg, &dir);
    let addr = d.raw_addr();
    d.wait_line("control socket");
    send(&addr, &canary_job());
    let first = wait_files(&out, 1);
    let spool = |args: &[&str]| {
        let o = Command::new(bin())
            .arg("spool")
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        );
        for c in CANARIES {
            assert!(!stdout.contains(c) && !stderr.contains(c), "`{c}` shown");
        }
        (o.status.success(), stdout, stderr)
    };

    // The file appears when the printer has the job; the entry's state
    // record follows it, so wait for `printed` rather than race it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (list, lines) = loop {
        let (ok, list, err) = spool(&["list", "--json"]);
        assert!(ok, "{err}");
        let lines: Vec<serde_json::Value> = list
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() == 1 && lines[0]["state"] != "printed" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        break (list, lines);
    };
    assert_eq!(lines.len(), 1, "{list}");
    let e = &lines[0];
    assert_eq!(e["printer"], "desk");
    assert_eq!(e["state"], "printed");
    assert_eq!(e["listener"], "raw");
    assert!(e["expires"].as_u64().unwrap() > e["created"].as_u64().unwrap());
    assert_eq!(
        e["bytes"].as_u64().unwrap(),
        std::fs::metadata(&first[0]).unwrap().len()
    );
    let id = e["id"].as_str().unwrap().to_string();
    let (ok, text, _) = spool(&["list"]);
    assert!(
        ok && text.starts_with(&id) && text.contains("printed"),
        "{text}"
    );

    // Reprint by id and as the newest entry: the same redacted bytes again.
    let (ok, said, err) = spool(&["reprint", &id]);
    assert!(ok && said.contains(&id), "{said}{err}");
    let (ok, _, err) = spool(&["reprint", "--last"]);
    assert!(ok, "{err}");
    let files = wait_files(&out, 3);
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(bytes[1] == bytes[0] && bytes[2] == bytes[0]);
    let (ok, _, err) = spool(&["reprint", "00000000000000ff"]);
    assert!(!ok && err.contains("no entry"), "{err}");
    let (ok, _, err) = spool(&["reprint", "--last", "--printer", "nowhere"]);
    assert!(!ok && err.contains("no printer `nowhere`"), "{err}");

    // Purged: gone from the list and from the disk, and its key with it.
    let (ok, said, err) = spool(&["purge", "--all"]);
    assert!(ok && said.contains("destroyed 1 entry"), "{said}{err}");
    let (_, list, _) = spool(&["list", "--json"]);
    assert_eq!(list, "");
    let left: Vec<PathBuf> = std::fs::read_dir(dir.join("state/spool"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let keys: Vec<PathBuf> = std::fs::read_dir(dir.join("run/keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(keys.is_empty(), "{keys:?}");
    let (ok, _, err) = spool(&["reprint", "--last"]);
    assert!(!ok && err.contains("empty"), "{err}");
    let (st, log) = d.stop();
    assert!(st.success(), "{st}: {log:?}");
}

/// Whether the tests run as root (CI does).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}
