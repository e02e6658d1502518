//! Issue 18, the file-system side: the daemon in folders other users may write (a file
//! printer's folder, the drop folder and its `rejected/`) and its runtime directory. Real
//! files, real symlinks, FIFOs and hard links, the daemon in-process on temporary folders,
//! the binary where a log line or another user matters (`setpriv`, as root; skipped with a
//! printed reason otherwise).

mod common;

use common::{leaks, printed, prn_files, temp, wait_for, wait_until, Running};
use slipguard::config::Config;
use slipguard::daemon::Daemon;
use slipguard::profiles::Profiles;
use slipguard::spool::{Clock, NewEntry, Retention, Spool};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A configuration from `text`, with state and runtime directories of its own unless the
/// text names them.
fn config(text: &str) -> Config {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut c = Config::from_toml(Path::new("test.toml"), text).unwrap();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if c.state_dir.is_none() {
        c.state_dir = Some(temp(&format!("state-{n}")));
    }
    if c.runtime_dir.is_none() {
        c.runtime_dir = Some(temp(&format!("run-{n}")));
    }
    c
}

async fn start(text: &str) -> Daemon {
    Daemon::start(&config(text), &Profiles::builtin_only())
        .await
        .unwrap()
}

/// Send one raw job and wait for the daemon to close the connection.
async fn send(addr: SocketAddr, job: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(job).await.unwrap();
    s.shutdown().await.unwrap();
    let _ = s.read_to_end(&mut Vec::new()).await;
}

/// A job without patron data: text, then a cut.
fn plain_job(tag: &str, lines: usize) -> Vec<u8> {
    let mut j = b"\x1b@".to_vec();
    for i in 0..lines {
        j.extend(format!("{tag} line {i:04} of the test slip\n").bytes());
    }
    j.extend(b"\x1dV\x00");
    j
}

/// Patron values in [`patron_job`] and [`closed_job`].
const PATRON: &[&str] = &["Marisol", "Okonkwo", "21472000358610", "555-0199"];

/// A checkout slip with a patron on it (redaction masks it when it prints).
fn patron_job() -> Vec<u8> {
    b"\x1b@Checked out to: Marisol Okonkwo\nCard number: 21472000358610\n\
      Phone: (785) 555-0199\n1. Beloved\n\x1dV\x00"
        .to_vec()
}

/// A job that fails closed (text placed in page mode, whose print order may differ from
/// its byte order), with a patron's name in it.
fn closed_job() -> Vec<u8> {
    b"\x1b@\x1bL\x1bW\x00\x00\x00\x00\x40\x02\x00\x01\x1bT\x00\
      \x1b$\x80\x00Marisol Okonkwo\x1b$\x00\x00Patron:\x0c\x1dV\x01"
        .to_vec()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// Everything in `dir` (names), sorted; empty if it is missing.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Put `make`'s file into `dir` under `name` the way a client does: made under a dot-name,
/// then renamed in (so the folder listener sees it complete, whatever it is).
fn drop_in(dir: &Path, name: &str, make: impl FnOnce(&Path)) {
    let hidden = dir.join(format!(".{name}.incoming"));
    make(&hidden);
    std::fs::rename(&hidden, dir.join(name)).unwrap();
}

// ---------------------------------------------------------------------------------------
// 1. The file printer.

fn two_file_printers(a: &Path, b: &Path) -> String {
    format!(
        "[[printer]]\nname = \"a\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
         [[printer]]\nname = \"b\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"a\"\n\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"b\"\n",
        a.display(),
        b.display()
    )
}

/// A member of the group that may write the output folder plants symlinks under every name
/// the next job could use (job ids are predictable: the start second and a counter), both
/// the temporary name the old code used and the final one. The job is written to a file of
/// its own; no symlink is followed, nothing planted is replaced, no temporary file is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_printer_never_writes_through_a_planted_symlink() {
    let dir = temp("printer-symlinks");
    let (out, other) = (dir.join("out"), dir.join("other"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"not yours").unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut planted = 0;
    for t in now - 2..=now + 10 {
        for name in [format!(".{t}-000001.tmp"), format!("{t}-000001.prn")] {
            std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
            planted += 1;
        }
    }
    let d = start(&two_file_printers(&out, &other)).await;
    let job = plain_job("through the folder", 3);
    send(d.addrs()[0], &job).await;
    let ours = || -> Vec<PathBuf> {
        prn_files(&out)
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
            .collect()
    };
    wait_for("the job written", || ours().len() == 1).await;
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"not yours",
        "a symlink was followed"
    );
    let written = &ours()[0];
    assert_eq!(std::fs::read(written).unwrap(), job);
    assert_eq!(mode(written), 0o600);
    let links = names(&out)
        .iter()
        .filter(|n| std::fs::symlink_metadata(out.join(n)).unwrap().is_symlink())
        .count();
    assert_eq!(
        links, planted,
        "every planted link is still there, unreplaced"
    );
    assert_eq!(names(&out).len(), planted + 1, "no temporary file left");
}

/// Outputs are mode 0600 whatever the umask; in a setgid folder (shared with its group, as
/// `install -d -g lp -m 2770` makes it) they are 0640 with the folder's group. A missing
/// output folder is made 0700.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_private_or_shared_with_a_setgid_folders_group() {
    let dir = temp("printer-modes");
    let (private, shared) = (dir.join("made/private"), dir.join("shared"));
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let group = if is_root() {
        std::os::unix::fs::chown(&shared, None, Some(65534)).unwrap();
        65534
    } else {
        std::fs::metadata(&shared).unwrap().gid()
    };
    let d = start(&two_file_printers(&private, &shared)).await;
    let job = plain_job("modes", 2);
    send(d.addrs()[0], &job).await;
    send(d.addrs()[1], &job).await;
    wait_for("both written", || {
        printed(&private).len() == 1 && printed(&shared).len() == 1
    })
    .await;
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(mode(&private), 0o700, "a missing folder is made private");
    assert_eq!(mode(&prn_files(&private)[0]), 0o600);
    let out = &prn_files(&shared)[0];
    assert_eq!(mode(out), 0o640);
    assert_eq!(std::fs::metadata(out).unwrap().gid(), group);
}

// ---------------------------------------------------------------------------------------
// 2–4. The drop folder and rejected/.

fn folder_config(listeners: &[&Path], out: &Path, extra: &str) -> String {
    let mut s = format!(
        "[daemon]\n{extra}\n[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n",
        out.display()
    );
    for inbox in listeners {
        s.push_str(&format!(
            "\n[[listen]]\nprotocol = \"folder\"\npath = \"{}\"\nprinter = \"desk\"\n",
            inbox.display()
        ));
    }
    s
}

fn reason(inbox: &Path, name: &str) -> PathBuf {
    inbox.join("rejected").join(format!("{name}.reason"))
}

/// Drop a harmless job and wait until it prints: the listener has dealt with everything
/// dropped before it.
async fn drop_and_wait(inbox: &Path, out: &Path, n: usize, tag: &str) -> Vec<u8> {
    let job = plain_job(tag, 2);
    drop_in(inbox, &format!("{tag}.prn"), |p| {
        std::fs::write(p, &job).unwrap()
    });
    wait_for("the harmless job printed", || printed(out).len() == n).await;
    job
}

/// A symlink to a file the daemon may read (a key, `/etc/shadow`; here a slip with a
/// patron) is refused without being followed: nothing of it prints, the link is removed
/// (its target stays), and the client gets a reason file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_in_the_drop_folder_is_refused_not_followed() {
    let dir = temp("folder-symlink");
    let (inbox, out) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    let secret = dir.join("secret.prn");
    std::fs::write(&secret, patron_job()).unwrap();
    let d = start(&folder_config(&[&inbox], &out, "")).await;
    drop_in(&inbox, "leak.prn", |p| {
        std::os::unix::fs::symlink(&secret, p).unwrap()
    });
    wait_for("the reason file", || reason(&inbox, "leak.prn").exists()).await;
    let fine = drop_and_wait(&inbox, &out, 1, "fine").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(printed(&out), vec![fine], "only the harmless job printed");
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        patron_job(),
        "the target is untouched"
    );
    assert_eq!(
        names(&inbox),
        vec!["rejected"],
        "the link is gone from the folder"
    );
    let why = std::fs::read_to_string(reason(&inbox, "leak.prn")).unwrap();
    assert!(why.contains("a symbolic link, not a regular file"), "{why}");
}

/// A FIFO (which would block a plain open), a symlink to `/dev/zero` (which would read until
/// memory runs out) and a hard link to another file (here a slip with a patron) are each
/// refused without being read or waited on; the folder goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_devices_and_hard_links_are_refused_without_reading_them() {
    let dir = temp("folder-special");
    let (inbox, out) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    let secret = dir.join("secret.prn");
    std::fs::write(&secret, patron_job()).unwrap();
    let d = start(&folder_config(&[&inbox], &out, "")).await;
    drop_in(&inbox, "pipe.prn", |p| {
        assert!(Command::new("mkfifo").arg(p).status().unwrap().success())
    });
    drop_in(&inbox, "zero.prn", |p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    });
    drop_in(&inbox, "hard.prn", |p| {
        std::fs::hard_link(&secret, p).unwrap()
    });
    for name in ["pipe.prn", "zero.prn", "hard.prn"] {
        wait_for("a reason file", || reason(&inbox, name).exists()).await;
    }
    let fine = drop_and_wait(&inbox, &out, 1, "fine").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(printed(&out), vec![fine]);
    assert_eq!(std::fs::read(&secret).unwrap(), patron_job());
    assert_eq!(names(&inbox), vec!["rejected"]);
    let read = |n: &str| std::fs::read_to_string(reason(&inbox, n)).unwrap();
    assert!(read("pipe.prn").contains("a FIFO"), "{}", read("pipe.prn"));
    assert!(read("zero.prn").contains("a symbolic link"));
    assert!(
        read("hard.prn").contains("2 hard links"),
        "{}",
        read("hard.prn")
    );
}

/// Refusals are told to the client: a job that fails closed and one over the size limit
/// each leave `rejected/NAME.reason` with the reason and no patron data, and the file itself
/// is deleted (the daemon keeps no unredacted original). `rejected/` is the daemon's own,
/// mode 0700, and holds nothing once the retention window has passed: neither the reasons
/// nor what an older version left there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_a_reason_without_patron_data_that_goes_with_the_window() {
    let dir = temp("folder-refusals");
    let (inbox, out) = (dir.join("in"), dir.join("out"));
    let rejected = inbox.join("rejected");
    // An unredacted original an older version moved aside an hour ago.
    std::fs::create_dir_all(&rejected).unwrap();
    let old = rejected.join("old.prn");
    std::fs::write(&old, patron_job()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let extra = "retention = \"6s\"\nallow_unusual_retention = true\nmax_job_bytes = 4096";
    let d = start(&folder_config(&[&inbox], &out, extra)).await;
    wait_for("the old original deleted at start", || !old.exists()).await;
    assert_eq!(mode(&rejected), 0o700);

    drop_in(&inbox, "closed.prn", |p| {
        std::fs::write(p, closed_job()).unwrap()
    });
    let mut big = patron_job();
    big.extend(plain_job("padding", 200));
    drop_in(&inbox, "big.prn", |p| std::fs::write(p, &big).unwrap());
    for name in ["closed.prn", "big.prn"] {
        wait_for("a reason file", || reason(&inbox, name).exists()).await;
    }
    assert_eq!(names(&inbox), vec!["rejected"], "refused files are deleted");
    let closed = std::fs::read_to_string(reason(&inbox, "closed.prn")).unwrap();
    assert!(
        closed.contains("fails closed") && closed.contains("ESC L"),
        "{closed}"
    );
    let big_why = std::fs::read_to_string(reason(&inbox, "big.prn")).unwrap();
    assert!(
        big_why.contains("larger than max_job_bytes (4096 bytes)"),
        "{big_why}"
    );
    for f in names(&rejected) {
        assert_eq!(mode(&rejected.join(&f)), 0o600, "{f}");
    }
    assert_eq!(leaks(&[&dir], PATRON), Vec::<String>::new());
    assert!(printed(&out).is_empty());

    wait_for("rejected/ empty after the window", || {
        names(&rejected).is_empty()
    })
    .await;
    d.shutdown(Duration::from_secs(5)).await;
}

/// In a folder shared with its group (setgid), the clients may read the reasons: `rejected/`
/// is 2750 and reason files 0640, with the folder's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_setgid_folder_the_reasons_are_readable_by_its_group() {
    let dir = temp("folder-shared");
    let (inbox, out) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::set_permissions(&inbox, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let d = start(&folder_config(&[&inbox], &out, "")).await;
    drop_in(&inbox, "closed.prn", |p| {
        std::fs::write(p, closed_job()).unwrap()
    });
    wait_for("the reason file", || reason(&inbox, "closed.prn").exists()).await;
    d.shutdown(Duration::from_secs(5)).await;
    let gid = std::fs::metadata(&inbox).unwrap().gid();
    assert_eq!(mode(&inbox.join("rejected")), 0o2750);
    assert_eq!(mode(&reason(&inbox, "closed.prn")), 0o640);
    assert_eq!(
        std::fs::metadata(reason(&inbox, "closed.prn"))
            .unwrap()
            .gid(),
        gid
    );
}

/// `rejected/` that is a symlink (to any directory) or another user's directory is not
/// used: nothing is moved or written through it, the log says why, and the refused file is
/// still deleted from the folder.
#[test]
fn a_rejected_dir_that_is_a_symlink_or_not_ours_is_not_used() {
    let dir = temp("rejected-planted");
    let (linked, foreign, out) = (dir.join("linked"), dir.join("foreign"), dir.join("out"));
    let elsewhere = dir.join("elsewhere");
    for d in [&linked, &foreign, &elsewhere] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(&elsewhere, linked.join("rejected")).unwrap();
    std::fs::create_dir(foreign.join("rejected")).unwrap();
    let root = is_root();
    if root {
        std::os::unix::fs::chown(foreign.join("rejected"), Some(65534), Some(65534)).unwrap();
    } else {
        println!(
            "not root: the foreign rejected/ case is skipped (it needs another user's directory)"
        );
    }
    let cfg = dir.join("slipguard.toml");
    let mut text = folder_config(&[&linked, &foreign], &out, "max_job_bytes = 64");
    text = text.replace(
        "[daemon]\n",
        &format!(
            "[daemon]\nruntime_dir = \"{}\"\n",
            dir.join("run").display()
        ),
    );
    std::fs::write(&cfg, text).unwrap();
    let mut d = Running::start(&cfg, &dir);
    d.wait_line("listening on folder");
    let big = plain_job("too big", 10);
    drop_in(&linked, "big.prn", |p| std::fs::write(p, &big).unwrap());
    let l = d.wait_line("rejected/ is a symbolic link, not a directory");
    assert!(l.contains(&linked.display().to_string()), "{l}");
    if root {
        drop_in(&foreign, "big.prn", |p| std::fs::write(p, &big).unwrap());
        let l = d.wait_line("rejected/ is owned by uid 65534, not by the daemon (uid 0)");
        assert!(l.contains(&foreign.display().to_string()), "{l}");
    }
    wait_until("the refused files deleted", || {
        names(&linked) == vec!["rejected"] && names(&foreign) == vec!["rejected"]
    });
    let (status, _) = d.stop();
    assert!(status.success());
    assert!(
        names(&elsewhere).is_empty(),
        "nothing went through the symlink"
    );
    assert!(names(&foreign.join("rejected")).is_empty());
    assert!(std::fs::symlink_metadata(linked.join("rejected"))
        .unwrap()
        .is_symlink());
}

// ---------------------------------------------------------------------------------------
// 5. The runtime directory.

fn spooled_desk(state: &Path, run: &Path, out: &Path) -> String {
    format!(
        "[daemon]\nstate_dir = \"{}\"\nruntime_dir = \"{}\"\n\n\
         [[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
         [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n",
        state.display(),
        run.display(),
        out.display()
    )
}

fn entries(state: &Path) -> usize {
    names(&state.join("spool"))
        .iter()
        .filter(|n| n.ends_with(".sg"))
        .count()
}

/// The runtime directory is made 0700 (whatever the umask). Deleted while the daemon runs,
/// it is made again, 0700, with the key directory and every live key, at the next job: that
/// job is spooled, and after a restart every entry can still be read (none is lost as
/// keyless).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_directory_is_private_and_made_again_when_deleted() {
    let dir = temp("runtime");
    let (state, run, out) = (
        dir.join("state"),
        dir.join("run/slipguard"),
        dir.join("out"),
    );
    let d = start(&spooled_desk(&state, &run, &out)).await;
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&run.join("keys")), 0o700);
    send(d.addrs()[0], &plain_job("first", 2)).await;
    wait_for("the first job spooled and printed", || {
        entries(&state) == 1 && printed(&out).len() == 1
    })
    .await;

    // The first job's state record may still be on its way into the ledger beside the keys:
    // a file written while the directory is removed fails the removal, so try again.
    let mut tries = 0;
    while let Err(e) = std::fs::remove_dir_all(&run) {
        tries += 1;
        assert!(tries < 100, "cannot remove {}: {e}", run.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send(d.addrs()[0], &plain_job("second", 2)).await;
    wait_for("the second job spooled and printed", || {
        entries(&state) == 2 && printed(&out).len() == 2
    })
    .await;
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&run.join("keys")), 0o700);
    assert!(
        !names(&run.join("keys")).is_empty(),
        "the live key written again"
    );
    d.shutdown(Duration::from_secs(5)).await;

    let (spool, rec) = Spool::open(&state, &run, Retention::DEFAULT, Clock::system()).unwrap();
    assert_eq!(rec.keyless, 0, "no entry lost its key");
    assert_eq!(spool.list().len(), 2);
}

/// The same at the spool's level across an epoch change: the key directory deleted, the
/// next put needs a new key and still succeeds; the old epoch's key is written again too.
#[tokio::test(start_paused = true)]
async fn a_deleted_key_directory_is_made_again_for_a_new_epochs_key() {
    let dir = temp("keys-again");
    let (state, run) = (dir.join("state"), dir.join("run"));
    let clock = Clock::anchored(1_764_412_200);
    let (mut spool, _) = Spool::open(&state, &run, Retention::DEFAULT, clock.clone()).unwrap();
    let new = |job: &str| NewEntry {
        job: job.into(),
        printer: "desk".into(),
        listener: "raw".into(),
        redacted: Default::default(),
    };
    let a = spool.put(new("a"), b"slip a").unwrap();
    std::fs::remove_dir_all(&run).unwrap();
    tokio::time::advance(Duration::from_secs(225)).await;
    let b = spool.put(new("b"), b"slip b").unwrap();
    assert_eq!(mode(&run), 0o700);
    assert_eq!(names(&run.join("keys")).len(), 2, "both epochs' keys");
    drop(spool);
    let (mut spool, rec) = Spool::open(&state, &run, Retention::DEFAULT, clock).unwrap();
    assert_eq!(rec.keyless, 0);
    assert_eq!(&spool.get(a.id).unwrap().1[..], b"slip a");
    assert_eq!(&spool.get(b.id).unwrap().1[..], b"slip b");
}

/// Without a configured runtime directory, a user who is not root and has no
/// `XDG_RUNTIME_DIR` falls back to `slipguard-UID` in the temporary directory (`$TMPDIR`,
/// here a test directory, never the real `/tmp`). Another user may have made it first: the
/// daemon then refuses to start, naming the directory and its owner. When it is missing,
/// the daemon makes it 0700 and starts.
#[test]
fn the_fallback_runtime_directory_must_be_the_users_own() {
    if !is_root() {
        println!("skipped: needs root to run the daemon as another user (setpriv)");
        return;
    }
    let base = temp("fallback");
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (tmp, work) = (base.join("tmp"), base.join("work"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(65534), Some(65534)).unwrap();
    let cfg = base.join("slipguard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\ndevice = \"file://{}\"\n\n\
             [[listen]]\nprotocol = \"raw\"\naddress = \"127.0.0.1:0\"\nprinter = \"desk\"\n",
            work.join("out").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let fallback = tmp.join("slipguard-65534");
    let run = || {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .env("TMPDIR", &tmp)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("RUNTIME_DIRECTORY")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS");
        Running::spawn(cmd, &work)
    };

    // Made in advance by root (another user), open to all.
    std::fs::create_dir(&fallback).unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut d = run();
    let status = d.wait_exit();
    assert!(
        !status.success(),
        "started in another user's runtime directory"
    );
    let said = d.log.join("\n");
    assert!(
        said.contains(&format!(
            "the runtime directory {} is owned by uid 0, not by this user (uid 65534)",
            fallback.display()
        )),
        "{said}"
    );
    assert!(names(&fallback).is_empty(), "nothing made in it");

    // The user's own, but writable by others: refused too.
    std::os::unix::fs::chown(&fallback, Some(65534), Some(65534)).unwrap();
    let mut d = run();
    assert!(!d.wait_exit().success());
    assert!(
        d.log
            .join("\n")
            .contains("is mode 0777: others may write it"),
        "{:?}",
        d.log
    );

    // Missing: made 0700, and the daemon runs.
    std::fs::remove_dir_all(&fallback).unwrap();
    let mut d = run();
    d.wait_line("listening on raw");
    let m = std::fs::metadata(&fallback).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (65534, 0o700));
    let (status, _) = d.stop();
    assert!(status.success());
}
