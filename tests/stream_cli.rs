//! `slipguard redact` through the real binary: peak memory follows the largest segment, not
//! the job (a file of many slips; one 64 MiB line), and nothing is printed, nor an output
//! file left, when a segment late in the job fails closed.

mod common;

use common::{bin, temp};
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::path::Path;
use std::process::{Command, Stdio};

/// Run `slipguard` with `args`, stdout to `out`; its exit code and peak RSS in KiB (from
/// wait4's rusage, for this child alone).
fn run_measured(args: &[&str], out: &Path) -> (i32, u64) {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes only into the two values passed, both live and of the right type;
    // the child is reaped here and `child` is not waited on again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    std::mem::forget(child);
    assert!(libc::WIFEXITED(status), "slipguard did not exit");
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64)
}

/// Many ordinary slips, back to back: about `bytes` of them.
fn many_slips(bytes: usize) -> Vec<u8> {
    let p = Profiles::builtin_only().load("generic-80mm").unwrap();
    let kinds = [
        Kind::Checkout,
        Kind::Checkin,
        Kind::Hold,
        Kind::Transit,
        Kind::Payment,
    ];
    let mut some = Vec::new();
    for seed in 1..=40 {
        for k in kinds {
            some.extend(generate(k, &p, seed).unwrap());
        }
    }
    let mut job = Vec::with_capacity(bytes + some.len());
    while job.len() < bytes {
        job.extend_from_slice(&some);
    }
    job
}

#[test]
fn redact_peak_memory_follows_the_segment_on_many_slips() {
    let d = temp("many");
    let input = d.join("job.bin");
    let job = many_slips(8 << 20);
    std::fs::write(&input, &job).unwrap();
    let out = d.join("out.bin");
    let (code, kib) = run_measured(&["redact", input.to_str().unwrap()], &out);
    assert_eq!(code, 0);
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    let ratio = (kib * 1024) as f64 / job.len() as f64;
    eprintln!("{} bytes in, peak RSS {kib} KiB ({ratio:.2}x)", job.len());
    assert!(ratio <= 4.0, "peak RSS {kib} KiB is {ratio:.2}x the input");
}

#[test]
#[ignore = "64 MiB job: run with --include-ignored"]
fn redact_peak_memory_of_one_64_mib_line() {
    let d = temp("line");
    let input = d.join("job.bin");
    let phrase = b"Jane Doe borrowed Moby Dick ";
    let job: Vec<u8> = phrase.iter().copied().cycle().take(64 << 20).collect();
    std::fs::write(&input, &job).unwrap();
    drop(job);
    let out = d.join("out.bin");
    let (code, kib) = run_measured(&["redact", input.to_str().unwrap()], &out);
    assert_eq!(code, 0);
    eprintln!("64 MiB line, peak RSS {kib} KiB");
    assert!(kib <= 400 * 1024, "peak RSS {kib} KiB");
}

#[test]
fn a_late_blocked_segment_prints_nothing() {
    let d = temp("late");
    let input = d.join("job.bin");
    let slips = many_slips(1 << 20);
    let mut job = slips.clone();
    // The last segment holds a truncated raster image: it cannot be printed safely.
    job.extend_from_slice(b"Checked out to: Canary Person\n\x1dv0\x00\x10\x00\x10\x00\xff");
    std::fs::write(&input, &job).unwrap();
    let i = input.to_str().unwrap();

    let stdout = d.join("stdout.bin");
    let (code, _) = run_measured(&["redact", i], &stdout);
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::metadata(&stdout).unwrap().len(),
        0,
        "bytes on stdout"
    );

    let outdir = d.join("o");
    std::fs::create_dir(&outdir).unwrap();
    let o = outdir.join("out.bin");
    let out = Command::new(bin())
        .args(["redact", i, "-o", o.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("not printed") && !e.contains("Canary"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&outdir).unwrap().collect();
    assert!(
        left.is_empty(),
        "{} file(s) left next to the output",
        left.len()
    );

    // The same job without its last segment prints, to the file only.
    std::fs::write(&input, &slips).unwrap();
    let out = Command::new(bin())
        .args(["redact", i, "-o", o.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 1);
    assert!(std::fs::metadata(&o).unwrap().len() > 0);
}
