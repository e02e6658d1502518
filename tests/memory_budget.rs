//! The daemon's memory budget (README "Memory"): with its printer offline, the queue filled
//! to `max_held_bytes` and then every connection slot of every listener pushing a job of
//! `max_job_bytes`, the daemon's peak resident memory (VmHWM of the real process) stays
//! within the budget the README gives for its limits, the jobs over the budget are refused
//! where the client sees it, and the queued jobs are kept.
//!
//! The limits are the defaults scaled down (a debug build redacts slowly): `max_job_bytes`
//! 2 MiB, `max_segment_bytes` 512 KiB, `max_held_bytes` 24 MiB, `max_redactions` 2, and the
//! default 64 connections per listener, on a raw and an LPD listener.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MIB: u64 = 1 << 20;
const MAX_JOB: u64 = 2 * MIB;
const MAX_HELD: u64 = 24 * MIB;
const REDACTIONS: u64 = 2;

/// README "Memory": the daemon's own 48 MiB, `max_held_bytes`, and six times
/// `max_job_bytes` for each redaction running.
fn budget(max_held: u64, max_job: u64, redactions: u64) -> u64 {
    48 * MIB + max_held + redactions * 6 * max_job
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn peak_bytes(child: &Child) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let kib: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    kib * 1024
}

/// A job of about `size` bytes: short receipt lines, a cut every 2 KB.
fn job(size: u64) -> Vec<u8> {
    let mut j = b"\x1b@".to_vec();
    while (j.len() as u64) < size - 4096 {
        for _ in 0..40 {
            j.extend_from_slice(b"Item returned: The quick brown fox, due 24/12\n");
        }
        j.extend_from_slice(b"\x1dV\x00");
    }
    j
}

fn status(cfg: &std::path::Path) -> serde_json::Value {
    let out = Command::new(bin())
        .args(["status", "--json", "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_worst_case_of_the_limits_stays_within_the_memory_budget() {
    let dir = temp("budget");
    let (raw, lpd) = (free_port(), free_port());
    let cfg = dir.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nruntime_dir = \"{}\"\n\
             max_job_bytes = {MAX_JOB}\nmax_segment_bytes = {}\nmax_held_bytes = {MAX_HELD}\n\
             max_redactions = {REDACTIONS}\nstop_timeout = \"1s\"\n\n\
             [[printer]]\nname = \"desk\"\nprofile = \"epson-tm-t88v\"\ndevice = \"tcp://{}\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"{raw}\"\nprinter = \"desk\"\n\n\
             [[listen]]\nprotocol = \"lpd\"\naddress = \"{lpd}\"\nprinter = \"desk\"\n",
            dir.join("state").display(),
            dir.join("run").display(),
            512 * 1024,
            free_port(),
        ),
    )
    .unwrap();
    let mut daemon = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the daemon listens", || TcpStream::connect(raw).is_ok());

    // The printer is offline: jobs of just under max_job_bytes queue until the budget is
    // full, and the next is refused (the raw client sees its connection reset).
    let big = job(MAX_JOB);
    let mut queued = 0u64;
    let mut refused = false;
    for _ in 0..(MAX_HELD / MAX_JOB + 2) {
        let mut s = TcpStream::connect(raw).unwrap();
        let _ = s.write_all(&big);
        let _ = s.shutdown(std::net::Shutdown::Write);
        match s.read(&mut [0u8; 16]) {
            Ok(0) => queued += 1,
            _ => {
                refused = true;
                break;
            }
        }
    }
    assert!(
        refused,
        "no job was refused once the queue held max_held_bytes"
    );
    assert!(
        queued >= MAX_HELD / MAX_JOB - 2,
        "only {queued} jobs queued"
    );

    // Every connection slot of both listeners now pushes a whole job: none gets more
    // than the budget left.
    let chunk = vec![b'A'; 64 * 1024];
    let mut pushers = Vec::new();
    for _ in 0..64 {
        let c = chunk.clone();
        pushers.push(std::thread::spawn(move || {
            let chunk = c;
            let Ok(mut s) = TcpStream::connect(raw) else {
                return;
            };
            let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
            for _ in 0..(MAX_JOB / chunk.len() as u64) {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        }));
        let c = chunk.clone();
        pushers.push(std::thread::spawn(move || {
            let chunk = c;
            let Ok(mut s) = TcpStream::connect(lpd) else {
                return;
            };
            let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut ack = [0u8; 1];
            let _ = s.write_all(b"\x02desk\n");
            if s.read_exact(&mut ack).is_err() || ack[0] != 0 {
                return;
            }
            let _ = s.write_all(format!("\x03{MAX_JOB} dfA001host\n").as_bytes());
            if s.read_exact(&mut ack).is_err() || ack[0] != 0 {
                return;
            }
            for _ in 0..(MAX_JOB / chunk.len() as u64) {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        }));
    }
    for p in pushers {
        p.join().unwrap();
    }

    let st = status(&cfg);
    let held = &st["held"];
    assert_eq!(held["limit"], MAX_HELD, "{st}");
    assert!(held["peak"].as_u64().unwrap() <= MAX_HELD, "{st}");
    let printer = &st["printers"][0];
    assert_eq!(printer["queued"], queued, "the queued jobs are kept: {st}");

    let peak = peak_bytes(&daemon);
    let limit = budget(MAX_HELD, MAX_JOB, REDACTIONS);
    eprintln!(
        "peak RSS {:.1} MiB, budget {:.1} MiB ({queued} jobs queued)",
        peak as f64 / MIB as f64,
        limit as f64 / MIB as f64
    );
    assert!(peak <= limit, "peak RSS {peak} over the budget {limit}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The unit's memory limits hold the budget of the default limits on a desk PC of up to
/// four cores (`max_redactions` defaults to the cores, at most 4).
#[test]
fn the_unit_memory_limits_hold_the_default_budget() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/slipguard.service"
    ))
    .unwrap();
    let setting = |key: &str| -> u64 {
        let v = unit
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing"));
        v.trim().trim_end_matches('M').parse::<u64>().unwrap() * MIB
    };
    let defaults = budget(128 * MIB, 16 * MIB, 4);
    assert!(
        setting("MemoryHigh=") >= defaults,
        "MemoryHigh below {defaults}"
    );
    assert!(setting("MemoryMax=") > setting("MemoryHigh="));
}
