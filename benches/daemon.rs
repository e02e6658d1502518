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

/// A printer's raw port: any number of connections, each read in its own task; a job is in
/// when its final cut (`GS V 0`) has arrived, whether the sender closes the connection after
/// it or keeps it open for the next job. Reports each job's size.
async fn printer() -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut job, mut buf) = (0usize, [0u8; 8192]);
                let mut tail = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    job += n;
                    tail.extend_from_slice(&buf[..n]);
                    if tail.ends_with(CUT) {
                        let _ = tx.send(job);
                        job = 0;
                    }
                    let keep = tail.len().saturating_sub(CUT.len());
                    tail.drain(..keep);
                }
            });
        }
    });
    (addr, rx)
}

/// The slip's last command, which tells the fake printer a job is complete.
const CUT: &[u8] = b"\x1dV\x00";

async fn send(addr: SocketAddr, job: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(job).await.unwrap();
    s.shutdown().await.unwrap();
    let _ = s.read_to_end(&mut Vec::new()).await;
}

/// A socat relay to `printer` on a free port (a new process per connection, as a
/// `TCP-LISTEN:…,fork` relay runs): the baseline for what any relay in between costs. None
/// when socat is not installed.
async fn socat(printer: SocketAddr) -> Option<(std::process::Child, SocketAddr)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new("socat")
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
        .arg(format!("TCP:{printer}"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Some((child, addr));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The `q` quantile of `v` (nearest rank).
fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
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
    // As the systemd unit has it: the spool's entries on disk, its keys in a runtime
    // directory on tmpfs (/dev/shm here), so entries are written without fsync.
    let dir = std::env::temp_dir().join(format!("slipguard-bench-{}", std::process::id()));
    let shm = Path::new("/dev/shm");
    let run = match shm.is_dir() {
        true => shm.join(format!("slipguard-bench-{}", std::process::id())),
        false => dir.join("run"),
    };
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(run.clone());
    let d = Daemon::start(&cfg, &profiles).await.unwrap();
    let via = d.addrs()[0];
    let relay = socat(paddr).await;
    if relay.is_none() {
        println!("socat not found (apt-get install socat): no relay baseline in this run");
    }

    // Warm up every path, then alternate them, slip by slip, so all see the same machine.
    let mut paths: Vec<(&str, SocketAddr)> = vec![("direct", paddr), ("slipguard", via)];
    if let Some((_, a)) = &relay {
        paths.insert(1, ("socat", *a));
    }
    for _ in 0..50 {
        for (_, a) in &paths {
            send(*a, &slip).await;
            printed.recv().await.unwrap();
        }
    }
    const ROUNDS: usize = 3;
    const N: usize = 200;
    let mut all: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    println!(
        "latency, {}-byte slip: client's first byte → printer has the whole job",
        slip.len()
    );
    println!(
        "(µs; {ROUNDS} rounds of {N}, the paths alternating slip by slip; added = path − direct)"
    );
    for round in 1..=ROUNDS {
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
        for i in 0..N {
            // Each slip starts on another path, so none always follows the same one.
            for k in 0..paths.len() {
                let p = (i + k) % paths.len();
                let t = Instant::now();
                send(paths[p].1, &slip).await;
                printed.recv().await.unwrap();
                times[p].push(t.elapsed());
            }
        }
        let direct = (quantile(&times[0], 0.5), quantile(&times[0], 0.99));
        let mut line = format!(
            "  round {round}: direct median {:.1}, p99 {:.1}",
            us(direct.0),
            us(direct.1)
        );
        for (p, (name, _)) in paths.iter().enumerate().skip(1) {
            let (m, q) = (quantile(&times[p], 0.5), quantile(&times[p], 0.99));
            line.push_str(&format!(
                "; {name} added: median {:.1}, p99 {:.1}",
                us(m) - us(direct.0),
                us(q) - us(direct.1)
            ));
        }
        println!("{line}");
        for (a, t) in all.iter_mut().zip(times) {
            a.extend(t);
        }
    }
    let direct = (quantile(&all[0], 0.5), quantile(&all[0], 0.99));
    println!(
        "  all rounds: direct median {:.1} µs, p99 {:.1} µs",
        us(direct.0),
        us(direct.1)
    );
    let mut added = Vec::new();
    for (p, (name, _)) in paths.iter().enumerate().skip(1) {
        let (m, q) = (quantile(&all[p], 0.5), quantile(&all[p], 0.99));
        let a = us(m) - us(direct.0);
        added.push(a);
        println!(
            "  {name:<9} median {:.1} µs (added {a:.1}), p99 {:.1} µs (added {:.1})",
            us(m),
            us(q),
            us(q) - us(direct.1)
        );
    }
    if let [socat, slipguard] = added[..] {
        println!(
            "  slipguard's added latency ÷ socat's: {:.2} (median)",
            slipguard / socat
        );
    }
    if let Some((mut child, _)) = relay {
        let _ = child.kill();
        let _ = child.wait();
    }

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
    let _ = std::fs::remove_dir_all(&run);
}
