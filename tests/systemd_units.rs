//! The systemd units in `systemd/`: the directives the service and the socket must carry
//! (read from the files, so deleting one fails a test), the hardening score that
//! `systemd-analyze security --offline=yes` gives the service (at most 1.3), and
//! `systemd-analyze verify` with nothing to say — for the units alone and with the example
//! drop-ins in `systemd/drop-ins/` applied.
//!
//! The tests that run `systemd-analyze` (Debian: `apt-get install systemd`; it works without
//! systemd running, in a container too) are `#[ignore]`d, so plain `cargo test` lists them as
//! ignored; `cargo test -- --include-ignored` (what `.ci/run` runs, after `.ci/systemd.sh`)
//! runs them, and fails them when it is missing. The directive tests always run. Nothing here starts the
//! units; `tests/daemon_bin.rs` runs the daemon under `systemd-socket-activate`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The highest overall exposure the service may score (lower is better; 0 is the floor).
const MAX_EXPOSURE: f64 = 1.3;

/// With every example drop-in applied at once (network printers, LPD on 515, file printers
/// in a shared folder), each of which opens something the unit closes.
const MAX_EXPOSURE_DROP_INS: f64 = 1.5;

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

fn drop_in_dir() -> PathBuf {
    systemd_dir().join("drop-ins")
}

/// One `key=value` line of a unit file, with the section it is in.
#[derive(Debug)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// The `key=value` lines of a unit file or drop-in, in order. Comments and blank lines are
/// skipped; the unit files here use no line continuations, and a trailing backslash fails.
fn parse(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let mut section = String::new();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "{}:{}: line continuations are not parsed here",
            path.display(),
            n + 1
        );
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}:{}: not key=value: {line}", path.display(), n + 1));
        out.push(Entry {
            section: section.clone(),
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    out
}

/// Every value given to `key` in `section`, in order (an empty one included).
fn values<'a>(entries: &'a [Entry], section: &str, key: &str) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|e| e.section == section && e.key == key)
        .map(|e| e.value.as_str())
        .collect()
}

/// The one value of `key` in `section`; fails if it is missing or given twice.
fn one<'a>(entries: &'a [Entry], section: &str, key: &str) -> &'a str {
    match values(entries, section, key).as_slice() {
        [v] => v,
        [] => panic!("[{section}] {key}= is missing"),
        more => panic!("[{section}] {key}= is given {} times: {more:?}", more.len()),
    }
}

/// A systemd time span as the units here write it: `500ms`, `15s`, `2min` or bare seconds.
fn timespan(v: &str) -> Duration {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("not a time span: {v}"));
    match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" | "sec" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(60 * n),
        _ => panic!("time span unit not understood here: {v}"),
    }
}

#[test]
fn service_carries_every_required_directive() {
    let s = parse(&systemd_dir().join("slipguard.service"));
    let expect = [
        ("Service", "Type", "notify"),
        (
            "Service",
            "ExecStart",
            "/usr/bin/slipguard run --config /etc/slipguard/slipguard.toml",
        ),
        ("Service", "ExecReload", "kill -HUP $MAINPID"),
        ("Service", "Restart", "on-failure"),
        ("Service", "DynamicUser", "yes"),
        ("Service", "StateDirectory", "slipguard"),
        ("Service", "StateDirectoryMode", "0700"),
        ("Service", "RuntimeDirectory", "slipguard"),
        ("Service", "RuntimeDirectoryMode", "0700"),
        ("Service", "RuntimeDirectoryPreserve", "yes"),
        ("Service", "UMask", "0077"),
        ("Service", "SupplementaryGroups", "lp dialout"),
        ("Service", "DevicePolicy", "closed"),
        ("Service", "CapabilityBoundingSet", ""),
        ("Service", "AmbientCapabilities", ""),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "ProtectSystem", "strict"),
        ("Service", "ProtectHome", "yes"),
        ("Service", "PrivateTmp", "yes"),
        ("Service", "ProtectKernelTunables", "yes"),
        ("Service", "ProtectKernelModules", "yes"),
        ("Service", "ProtectKernelLogs", "yes"),
        ("Service", "ProtectControlGroups", "yes"),
        ("Service", "ProtectClock", "yes"),
        ("Service", "ProtectHostname", "yes"),
        (
            "Service",
            "RestrictAddressFamilies",
            "AF_UNIX AF_INET AF_INET6",
        ),
        ("Service", "RestrictNamespaces", "yes"),
        ("Service", "LockPersonality", "yes"),
        ("Service", "MemoryDenyWriteExecute", "yes"),
        ("Service", "SystemCallArchitectures", "native"),
        ("Service", "SystemCallErrorNumber", "EPERM"),
        ("Service", "PrivateIPC", "yes"),
        ("Service", "PrivateMounts", "yes"),
        ("Service", "ProtectProc", "invisible"),
        ("Service", "ProcSubset", "pid"),
        ("Service", "RestrictRealtime", "yes"),
        ("Service", "RestrictSUIDSGID", "yes"),
        ("Service", "RemoveIPC", "yes"),
        ("Service", "IPAddressDeny", "any"),
        ("Service", "IPAddressAllow", "localhost"),
        ("Service", "LimitCORE", "0"),
        ("Install", "WantedBy", "multi-user.target"),
    ];
    for (section, key, want) in expect {
        assert_eq!(one(&s, section, key), want, "[{section}] {key}=");
    }
    // The same path the binary reads when given no --config.
    assert!(one(&s, "Service", "ExecStart").ends_with(slipguard::config::DEFAULT_PATH));

    // An allow list, then the groups taken out of it.
    assert_eq!(
        values(&s, "Service", "SystemCallFilter"),
        ["@system-service", "~@privileged @resources"]
    );

    // Printer devices by major, as named in /proc/devices. systemd matches these names
    // with fnmatch(3), but a pattern such as char-tty* would also admit the consoles.
    let devices: BTreeSet<&str> = values(&s, "Service", "DeviceAllow").into_iter().collect();
    let want: BTreeSet<&str> = [
        "char-usb rw",
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-ttyS rw",
        "char-lp rw",
    ]
    .into_iter()
    .collect();
    assert_eq!(devices, want, "DeviceAllow=");
    assert!(devices.iter().all(|d| !d.contains(['*', '?', '['])));

    // The daemon pings at half the watchdog interval; a missed ping restarts it.
    let watchdog = timespan(one(&s, "Service", "WatchdogSec"));
    assert!(
        watchdog >= Duration::from_secs(2),
        "WatchdogSec={watchdog:?}"
    );

    // SIGTERM drains for the default stop_timeout: systemd must wait longer than that
    // before it sends SIGKILL.
    let stop = timespan(one(&s, "Service", "TimeoutStopSec"));
    let drain = slipguard::config::Limits::default().stop_timeout;
    assert!(
        stop >= drain + Duration::from_secs(3),
        "TimeoutStopSec={stop:?} leaves too little beyond stop_timeout ({drain:?})"
    );

    // A memory ceiling, with the softer limit under it.
    let size = |v: &str| -> u64 {
        let (n, unit) = v.split_at(v.len() - 1);
        let n: u64 = n.parse().unwrap_or_else(|_| panic!("size {v:?}"));
        n << match unit {
            "K" => 10,
            "M" => 20,
            "G" => 30,
            _ => panic!("size {v:?} without K, M or G"),
        }
    };
    let (high, max) = (
        size(one(&s, "Service", "MemoryHigh")),
        size(one(&s, "Service", "MemoryMax")),
    );
    assert!(
        (256 << 20..=4 << 30).contains(&max) && high < max,
        "MemoryHigh={high} MemoryMax={max}"
    );

    // Started with its sockets when both are enabled.
    assert_eq!(one(&s, "Unit", "Wants"), "slipguard.socket");
    assert_eq!(one(&s, "Unit", "After"), "slipguard.socket");
}

#[test]
fn socket_listens_on_loopback_9100_only() {
    let s = parse(&systemd_dir().join("slipguard.socket"));
    assert_eq!(
        values(&s, "Socket", "ListenStream"),
        ["127.0.0.1:9100", "[::1]:9100"]
    );
    // One service gets the listening sockets (not one instance per connection).
    assert!(values(&s, "Socket", "Accept").iter().all(|v| *v == "no"));
    // Handed to slipguard.service, which is what a socket unit of that name implies.
    assert!(values(&s, "Socket", "Service")
        .iter()
        .all(|v| *v == "slipguard.service"));
    assert_eq!(one(&s, "Install", "WantedBy"), "sockets.target");
}

#[test]
fn drop_in_examples_say_what_the_readme_says() {
    let net = parse(&drop_in_dir().join("slipguard.service.d/network-printer.conf"));
    assert!(!values(&net, "Service", "IPAddressAllow").is_empty());
    // Adding to the allow list must not reset the deny list.
    assert!(values(&net, "Service", "IPAddressDeny").is_empty());

    let file = parse(&drop_in_dir().join("slipguard.service.d/file-printer.conf"));
    assert!(!one(&file, "Service", "ReadWritePaths").is_empty());

    let lpd = parse(&drop_in_dir().join("slipguard.socket.d/lpd.conf"));
    assert_eq!(values(&lpd, "Socket", "ListenStream"), ["127.0.0.1:515"]);

    let v4 = parse(&drop_in_dir().join("slipguard.socket.d/ipv4-only.conf"));
    assert_eq!(
        values(&v4, "Socket", "ListenStream"),
        ["", "127.0.0.1:9100"]
    );
}

/// `systemd-analyze`; a test asked to run without it fails, saying how to install it.
fn analyze(test: &str) -> Command {
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => Command::new("systemd-analyze"),
        found => {
            let why = match found {
                Ok(o) => format!("systemd-analyze --version failed: {}", o.status),
                Err(e) => format!("cannot run systemd-analyze: {e}"),
            };
            panic!("{test}: {why}. Install systemd (apt-get install systemd, or `.ci/systemd.sh`)");
        }
    }
}

/// A fresh directory for this test; removed by [`Scratch::drop`].
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("slipguard-systemd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy the units into `dir`, the service with its `ExecStart=` binary replaced by
/// `binary`, and, with `drop_ins`, every drop-in of `systemd/drop-ins/` into `dir/<unit>.d/` (where
/// systemd-analyze reads drop-ins for a unit given by path).
fn stage(dir: &Path, binary: &str, drop_ins: bool) {
    let service = std::fs::read_to_string(systemd_dir().join("slipguard.service")).unwrap();
    let installed = "ExecStart=/usr/bin/slipguard ";
    assert_eq!(service.matches(installed).count(), 1);
    let service = service.replace(installed, &format!("ExecStart={binary} "));
    std::fs::write(dir.join("slipguard.service"), service).unwrap();
    std::fs::copy(
        systemd_dir().join("slipguard.socket"),
        dir.join("slipguard.socket"),
    )
    .unwrap();
    if !drop_ins {
        return;
    }
    for unit in ["slipguard.service.d", "slipguard.socket.d"] {
        std::fs::create_dir_all(dir.join(unit)).unwrap();
        for f in std::fs::read_dir(drop_in_dir().join(unit)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(unit).join(f.file_name().unwrap())).unwrap();
        }
    }
}

/// The figure from `→ Overall exposure level for slipguard.service: 1.3 OK 🙂`.
fn exposure(report: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level for"))
        .unwrap_or_else(|| panic!("no overall exposure line in:\n{report}"));
    let figure = line
        .rsplit_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("cannot read the exposure line: {line}"));
    figure
        .parse()
        .unwrap_or_else(|_| panic!("not a number in the exposure line: {line}"))
}

fn security(mut cmd: Command, unit: &Path) -> f64 {
    let out = cmd
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "systemd-analyze security {}: {}\n{stdout}{}",
        unit.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    exposure(&stdout)
}

#[test]
fn exposure_line_is_read() {
    let report = "✓ UMask= Files created by service are accessible only by ...\n\n\
                  → Overall exposure level for slipguard.service: 1.3 OK 🙂\n";
    assert_eq!(exposure(report), 1.3);
    assert_eq!(
        exposure("→ Overall exposure level for cups.service: 9.6 UNSAFE 😨"),
        9.6
    );
}

#[test]
#[ignore = "needs systemd-analyze (`.ci/systemd.sh` installs it); run with --include-ignored"]
fn service_exposure_is_at_most_1_3() {
    let cmd = analyze("service_exposure_is_at_most_1_3");
    let level = security(cmd, &systemd_dir().join("slipguard.service"));
    println!("systemd-analyze security: overall exposure level for slipguard.service: {level}");
    assert!(
        level <= MAX_EXPOSURE,
        "overall exposure {level} is above {MAX_EXPOSURE}"
    );
}

#[test]
#[ignore = "needs systemd-analyze (`.ci/systemd.sh` installs it); run with --include-ignored"]
fn service_exposure_with_the_example_drop_ins_is_at_most_1_5() {
    let cmd = analyze("service_exposure_with_the_example_drop_ins_is_at_most_1_5");
    let dir = Scratch::new("security-drop-ins");
    stage(&dir.0, "/usr/bin/slipguard", true);
    let level = security(cmd, &dir.0.join("slipguard.service"));
    println!("with the example drop-ins: overall exposure level {level}");
    assert!(
        level <= MAX_EXPOSURE_DROP_INS,
        "overall exposure with the example drop-ins {level} is above {MAX_EXPOSURE_DROP_INS}"
    );
}

/// `systemd-analyze verify` on the service and the socket, expecting silence: it exits 0
/// even for an unknown key, which it only reports.
///
/// verify checks that `ExecStart=`'s program exists, and `/usr/bin/slipguard` is not
/// installed where the tests run. So it checks a copy of the service whose `ExecStart=`
/// is the binary just built (`CARGO_BIN_EXE_slipguard`), next to a copy of the socket in a
/// scratch directory; nothing else in the copy differs from `systemd/`.
fn verify(test: &str, drop_ins: bool) {
    let mut cmd = analyze(test);
    let dir = Scratch::new(test);
    stage(&dir.0, env!("CARGO_BIN_EXE_slipguard"), drop_ins);
    let out = cmd
        .args(["verify", "--no-pager"])
        .arg(dir.0.join("slipguard.service"))
        .arg(dir.0.join("slipguard.socket"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {}\n{said}",
        out.status
    );
}

#[test]
#[ignore = "needs systemd-analyze (`.ci/systemd.sh` installs it); run with --include-ignored"]
fn units_verify_clean() {
    verify("units_verify_clean", false);
}

#[test]
#[ignore = "needs systemd-analyze (`.ci/systemd.sh` installs it); run with --include-ignored"]
fn units_with_the_example_drop_ins_verify_clean() {
    verify("units_with_the_example_drop_ins_verify_clean", true);
}
