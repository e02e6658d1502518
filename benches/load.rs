//! The daemon under load, in-process, against four fake network printers:
//!
//! * load (default): 100 concurrent clients × 100 slips (with patron data), 25 clients per
//!   printer, each slip sent on its own connection to its printer's raw listener. Every
//!   connection a printer takes must hold exactly one whole redacted slip (none merged,
//!   split or interleaved), and every slip must arrive exactly once, at its printer. Reports
//!   jobs per second and the process's peak memory (VmHWM).
//! * soak (`-- --soak SECONDS`): steady traffic (20 clients, each a slip every 200 ms, so
//!   about 100 jobs/s) for that long, sampling resident memory (VmRSS) and open file
//!   descriptors (`/proc/self/fd`) every 10 s, then comparing the first minute's averages
//!   with the last minute's. The spool's window is one minute (its shortest; `--retention
//!   15m` for another), so spool entries are swept during the run and the spool reaches a
//!   steady size after a minute.
//!
//! The printers check each connection as it ends and keep counts only, so the harness's own
//! memory does not grow with the traffic. The daemon keeps its spool in the temporary
//! directory (on the machine's disk, an fsync per job).
//!
//! `cargo bench --bench load`, `cargo bench --bench load -- --soak 600`

use slipguard::config::Config;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PRINTERS: usize = 4;

/// What the printers must receive: each slip's redacted bytes, by slip number.
type Expected = Arc<HashMap<Vec<u8>, usize>>;

/// What a printer saw: deliveries per slip number, and connections that held no whole slip.
#[derive(Default)]
struct Seen {
    per_slip: Mutex<HashMap<usize, u64>>,
    connections: AtomicU64,
    foreign: AtomicU64,
}

/// A printer's raw port: one connection at a time, each checked against `expected` when the
/// daemon closes its side.
async fn printer(expected: Expected) -> (SocketAddr, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            if s.read_to_end(&mut buf).await.is_err() {
                continue;
            }
            s2.connections.fetch_add(1, Ordering::Relaxed);
            match expected.get(&buf) {
                Some(&n) => *s2.per_slip.lock().unwrap().entry(n).or_default() += 1,
                None => {
                    s2.foreign.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    (addr, seen)
}

/// Send one job on one connection and wait for the daemon to close it.
async fn send(addr: SocketAddr, job: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(job).await.unwrap();
    s.shutdown().await.unwrap();
    let _ = s.read_to_end(&mut Vec::new()).await;
}

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// `count` distinct slips with patron data, each tagged with its number before its cut; and
/// what redaction makes of each, the printers' expectation.
fn slips(count: usize) -> (Vec<Vec<u8>>, Expected) {
    let profiles = Profiles::builtin_only();
    let profile = profiles.load("epson-tm-t88v").unwrap();
    let redactor = Redactor::new(RedactConfig::default());
    let kinds = [
        Kind::Checkout,
        Kind::Checkin,
        Kind::Hold,
        Kind::Transit,
        Kind::Payment,
    ];
    let mut all = Vec::with_capacity(count);
    let mut expected = HashMap::with_capacity(count);
    for n in 0..count {
        let mut slip = generate(kinds[n % kinds.len()], &profile, n as u64).unwrap();
        // The tag goes before the slip's cut (`GS V`, its last command).
        let cut = slip
            .windows(2)
            .rposition(|w| w == b"\x1dV")
            .expect("a sample slip ends with a cut");
        let tail = slip.split_off(cut);
        slip.extend(format!("load test slip {n:06}\n").bytes());
        slip.extend(tail);
        let (out, _) = redactor.job(&profile, &slip).unwrap();
        assert!(
            expected.insert(out, n).is_none(),
            "slip {n} redacts like another"
        );
        all.push(slip);
    }
    (all, Arc::new(expected))
}

/// A daemon with `PRINTERS` network printers, each behind its own raw listener.
async fn daemon(printers: &[SocketAddr], extra: &str, dir: &Path) -> Daemon {
    let mut text = format!("[daemon]\n{extra}\n");
    for (i, p) in printers.iter().enumerate() {
        text += &format!(
            "[[printer]]\nname = \"p{i}\"\nprofile = \"epson-tm-t88v\"\ndevice = \"tcp://{p}\"\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"p{i}\"\n"
        );
    }
    let mut cfg = Config::from_toml(Path::new("load.toml"), &text).unwrap();
    cfg.state_dir = Some(dir.join("state"));
    cfg.runtime_dir = Some(dir.join("run"));
    Daemon::start(&cfg, &Profiles::builtin_only())
        .await
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; the only option of ours is `--soak SECONDS`.
    let args: Vec<String> = std::env::args().collect();
    let soak = args
        .iter()
        .position(|a| a == "--soak")
        .map(|i| args[i + 1].parse::<u64>().expect("--soak SECONDS"));
    let dir = std::env::temp_dir().join(format!("slipguard-load-{}", std::process::id()));
    match soak {
        None => load(&dir).await,
        Some(secs) => {
            let retention = args
                .iter()
                .position(|a| a == "--retention")
                .map_or("1m", |i| args[i + 1].as_str());
            run_soak(&dir, Duration::from_secs(secs), retention).await
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `clients` concurrent clients, client `c` sending slips `c*each..(c+1)*each` one after
/// another to `addrs[c % PRINTERS]`; returns the seconds until the printers have them all.
async fn clients(
    all: &Arc<Vec<Vec<u8>>>,
    addrs: &[SocketAddr],
    seen: &[Arc<Seen>],
    clients: usize,
    each: usize,
) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (all, addr) = (all.clone(), addrs[c % PRINTERS]);
        tasks.push(tokio::spawn(async move {
            for k in 0..each {
                send(addr, &all[c * each + k]).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (clients * each) as u64;
    let until = Instant::now() + Duration::from_secs(120);
    while seen
        .iter()
        .map(|s| s.connections.load(Ordering::Relaxed))
        .sum::<u64>()
        < total
    {
        assert!(Instant::now() < until, "gave up waiting for the printers");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    t.elapsed().as_secs_f64()
}

async fn load(dir: &Path) {
    const CLIENTS: usize = 100;
    const EACH: usize = 100;
    let (all, expected) = slips(CLIENTS * EACH);
    let all = Arc::new(all);

    // The baseline, same run: the same clients writing the slips straight to printers.
    let unredacted: Expected = Arc::new(all.iter().cloned().zip(0..).collect());
    let mut direct = Vec::new();
    let mut direct_seen = Vec::new();
    for _ in 0..PRINTERS {
        let (a, s) = printer(unredacted.clone()).await;
        direct.push(a);
        direct_seen.push(s);
    }
    let direct_secs = clients(&all, &direct, &direct_seen, CLIENTS, EACH).await;
    let direct_foreign: u64 = direct_seen
        .iter()
        .map(|s| s.foreign.load(Ordering::Relaxed))
        .sum();
    assert_eq!(direct_foreign, 0, "the baseline's printers got whole slips");

    let mut addrs = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..PRINTERS {
        let (a, s) = printer(expected.clone()).await;
        addrs.push(a);
        seen.push(s);
    }
    let d = daemon(&addrs, "", dir).await;
    let secs = clients(&all, &d.addrs(), &seen, CLIENTS, EACH).await;
    let total = (CLIENTS * EACH) as u64;
    let peak = status_kib("VmHWM:");
    d.shutdown(Duration::from_secs(10)).await;

    // Every slip once, at the printer its client sent it to; nothing else.
    let mut problems = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        let foreign = s.foreign.load(Ordering::Relaxed);
        if foreign > 0 {
            problems.push(format!(
                "printer p{i}: {foreign} connection(s) held no whole slip"
            ));
        }
        let per = s.per_slip.lock().unwrap();
        for (&n, &times) in per.iter() {
            let client = n / EACH;
            if client % PRINTERS != i {
                problems.push(format!("slip {n} went to p{i}"));
            }
            if times != 1 {
                problems.push(format!("slip {n} arrived {times} times"));
            }
        }
    }
    let delivered: usize = seen.iter().map(|s| s.per_slip.lock().unwrap().len()).sum();
    if delivered != CLIENTS * EACH {
        problems.push(format!(
            "{delivered} distinct slips arrived of {}",
            CLIENTS * EACH
        ));
    }
    let mean = all.iter().map(Vec::len).sum::<usize>() / all.len();
    println!(
        "load: {CLIENTS} clients × {EACH} slips (mean {mean} bytes) to {PRINTERS} printers: \
         {total} jobs in {secs:.2} s = {:.0} jobs/s",
        total as f64 / secs
    );
    println!(
        "  baseline, same clients straight to the printers: {:.2} s = {:.0} jobs/s \
         (slipguard: {:.1}× the time)",
        direct_secs,
        total as f64 / direct_secs,
        secs / direct_secs
    );
    println!(
        "  per printer: {:?} connections",
        seen.iter()
            .map(|s| s.connections.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    );
    println!(
        "  delivered once, whole, to the right printer: {}",
        if problems.is_empty() { "yes" } else { "NO" }
    );
    println!(
        "  peak memory (whole process, VmHWM): {peak} KiB (the bench's own {} slips and \
         their expected outputs included)",
        CLIENTS * EACH
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn run_soak(dir: &Path, length: Duration, retention: &str) {
    const CLIENTS: usize = 20;
    const EVERY: Duration = Duration::from_millis(200);
    const SAMPLE: Duration = Duration::from_secs(10);
    assert!(
        length >= Duration::from_secs(120),
        "a soak compares its first minute with its last: at least 120 s"
    );
    let (all, expected) = slips(100);
    let mut addrs = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..PRINTERS {
        let (a, s) = printer(expected.clone()).await;
        addrs.push(a);
        seen.push(s);
    }
    let d = daemon(&addrs, &format!("retention = \"{retention}\""), dir).await;
    let via = d.addrs();
    let all = Arc::new(all);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (all, addr, stop, sent) = (all.clone(), via[c % PRINTERS], stop.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut k = c;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                send(addr, &all[k % all.len()]).await;
                sent.fetch_add(1, Ordering::Relaxed);
                k += CLIENTS;
            }
        }));
    }
    let start = Instant::now();
    let mut samples = Vec::new(); // (seconds, RSS KiB, fds, jobs printed so far)
    println!(
        "soak: {CLIENTS} clients, a slip every {EVERY:?} each, for {length:?}, spool window \
         {retention}"
    );
    println!(
        "  {:>5}  {:>9}  {:>4}  {:>7}  {:>9}",
        "s", "RSS KiB", "fds", "printed", "in flight"
    );
    let mut next = start;
    while start.elapsed() < length {
        next += SAMPLE;
        tokio::time::sleep_until(next.into()).await;
        let at = start.elapsed().as_secs_f64().round() as u64;
        let printed: u64 = seen
            .iter()
            .map(|s| s.connections.load(Ordering::Relaxed))
            .sum();
        let sample = (at, status_kib("VmRSS:"), open_fds(), printed);
        // Jobs being sent or queued, not printed yet: a client's and the daemon's end of a
        // connection each (two fds) until the job is queued.
        let in_flight = sent.load(Ordering::Relaxed) + CLIENTS as u64 - printed;
        println!(
            "  {:>5}  {:>9}  {:>4}  {:>7}  {:>9}",
            sample.0, sample.1, sample.2, sample.3, in_flight
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let total = sent.load(Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(60);
    while seen
        .iter()
        .map(|s| s.connections.load(Ordering::Relaxed))
        .sum::<u64>()
        < total
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.shutdown(Duration::from_secs(10)).await;
    let printed: u64 = seen
        .iter()
        .map(|s| s.connections.load(Ordering::Relaxed))
        .sum();
    let foreign: u64 = seen.iter().map(|s| s.foreign.load(Ordering::Relaxed)).sum();

    let secs = length.as_secs();
    let avg = |from: u64, to: u64| {
        let v: Vec<_> = samples.iter().filter(|s| s.0 > from && s.0 <= to).collect();
        let n = v.len().max(1) as f64;
        (
            v.iter().map(|s| s.1 as f64).sum::<f64>() / n,
            v.iter().map(|s| s.2 as f64).sum::<f64>() / n,
        )
    };
    let (rss1, fd1) = avg(0, 60);
    let (rss2, fd2) = avg(secs - 60, secs);
    if secs >= 180 {
        // The first minute includes the spool filling its (default one-minute) window.
        let (rss, fd) = avg(60, 120);
        println!("  RSS, second minute: {rss:.0} KiB; open fds: {fd:.1}");
    }
    println!(
        "  jobs: {total} sent, {printed} printed ({:.0} jobs/s), {foreign} connection(s) \
         without a whole slip",
        printed as f64 / secs as f64
    );
    println!(
        "  RSS: first minute {:.0} KiB, last minute {:.0} KiB ({:+.1} %)",
        rss1,
        rss2,
        (rss2 / rss1 - 1.0) * 100.0
    );
    println!(
        "  open fds: first minute {:.1}, last minute {:.1} ({:+.1})",
        fd1,
        fd2,
        fd2 - fd1
    );
    // A leak of one job's worth (about 2 KB) per job would add ~12 MB a minute here.
    let grew = rss2 > rss1 * 1.10 || fd2 > fd1 + 5.0;
    println!(
        "  grew (RSS by more than 10 % or fds by more than 5): {}",
        if grew { "YES" } else { "no" }
    );
    println!(
        "  peak memory (whole process, VmHWM): {} KiB",
        status_kib("VmHWM:")
    );
    assert_eq!(printed, total, "every job sent was printed");
    assert_eq!(foreign, 0, "every printer connection held one whole slip");
}
