//! The daemon's cost to a client, measured in one run against a fake network printer:
//!
//! * latency: a 2 KB slip (with patron data) from a client until the printer has all of
//!   it, through slipguard, against the same client writing straight to the printer;
//! * throughput: 50 concurrent clients × 20 slips through slipguard to one printer, in
//!   jobs per second, with the process's peak memory.
//!
//! `cargo bench --bench daemon`

use slipguard::config::Config;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A printer's raw port: one connection at a time; reports each job's size when it is in.
async fn printer() -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            if s.read_to_end(&mut buf).await.is_ok() {
                let _ = tx.send(buf.len());
            }
        }
    });
    (addr, rx)
}

async fn send(addr: SocketAddr, job: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(job).await.unwrap();
    s.shutdown().await.unwrap();
    let _ = s.read_to_end(&mut Vec::new()).await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Peak resident memory of this process (VmHWM), in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let profiles = Profiles::builtin_only();
    let profile = profiles.load("epson-tm-t88v").unwrap();
    let mut slip = generate(Kind::Checkout, &profile, 3).unwrap();
    slip.truncate(slip.len() - 3); // the cut goes last again below
    while slip.len() < 2045 {
        slip.extend_from_slice(b"Thank you for visiting the library.\n");
    }
    slip.truncate(2045);
    slip.extend_from_slice(b"\x1dV\x00");
    assert_eq!(slip.len(), 2048);

    let (paddr, mut printed) = printer().await;
    let cfg = format!(
        "[[printer]]\nname = \"p\"\nprofile = \"epson-tm-t88v\"\ndevice = \"tcp://{paddr}\"\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"p\"\n"
    );
    let mut cfg = Config::from_toml(Path::new("bench.toml"), &cfg).unwrap();
    // A spool of its own, on the disk the temporary directory is on (keys beside it).
    let dir = std::env::temp_dir().join(format!("slipguard-bench-{}", std::process::id()));
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    let d = Daemon::start(&cfg, &profiles).await.unwrap();
    let via = d.addrs()[0];

    // Warm up both paths, then alternate them so both see the same machine state.
    const N: usize = 400;
    for _ in 0..50 {
        send(paddr, &slip).await;
        printed.recv().await.unwrap();
        send(via, &slip).await;
        printed.recv().await.unwrap();
    }
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..N {
        let t = Instant::now();
        send(paddr, &slip).await;
        printed.recv().await.unwrap();
        direct.push(t.elapsed());
        let t = Instant::now();
        send(via, &slip).await;
        printed.recv().await.unwrap();
        through.push(t.elapsed());
    }
    let (md, mt) = (median(direct), median(through));
    println!("latency, 2048-byte slip, median of {N}:");
    println!(
        "  client → printer directly:   {:>8.1} µs",
        md.as_secs_f64() * 1e6
    );
    println!(
        "  client → slipguard → printer: {:>8.1} µs",
        mt.as_secs_f64() * 1e6
    );
    println!(
        "  added by slipguard:          {:>8.1} µs ({:.1}× the direct time)",
        (mt.saturating_sub(md)).as_secs_f64() * 1e6,
        mt.as_secs_f64() / md.as_secs_f64()
    );

    let (clients, each) = (50, 20);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let slip = slip.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                send(via, &slip).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for _ in 0..clients * each {
        printed.recv().await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "throughput: {clients} clients × {each} slips: {} jobs in {secs:.2} s = {:.0} jobs/s",
        clients * each,
        (clients * each) as f64 / secs
    );
    println!("peak memory (whole process, VmHWM): {} KiB", peak_kib());
    d.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
