//! Invariants shared by the fuzz targets (`fuzz/`) and the test that replays their seed
//! corpus (`tests/fuzz_corpus.rs`), so both check exactly the same things. Every function
//! panics on a violated invariant.

use crate::core::profile::Profile;
use crate::core::redact::config::RedactConfig;
use crate::core::redact::{self, Redactor};
use crate::core::text::{self, Decoder, LineCollector};
use crate::core::tokenize::{Dialect, Options, Token, TokenKind, Tokenizer};
use crate::profiles::Profiles;
use std::sync::OnceLock;

fn profile(d: Dialect) -> &'static Profile {
    static ESCPOS: OnceLock<Profile> = OnceLock::new();
    static STAR: OnceLock<Profile> = OnceLock::new();
    let (cell, name) = match d {
        Dialect::EscPos => (&ESCPOS, "star-tsp100-escpos"),
        Dialect::StarLine => (&STAR, "star-tsp650ii"),
    };
    cell.get_or_init(|| {
        Profiles::new(None)
            .load(name)
            .expect("built-in profile loads")
    })
}

fn run(d: Dialect, opts: Options, job: &[u8], chunk: impl Fn(usize) -> usize) -> Vec<Token> {
    let mut t = Tokenizer::new(d, opts);
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < job.len() {
        let n = chunk(k).clamp(1, job.len() - at);
        t.feed(&job[at..at + n], &mut |x| out.push(x));
        at += n;
        k += 1;
    }
    t.finish(&mut |x| out.push(x));
    out
}

/// The control byte, the dialect its low bit picks, and the job after it.
fn split(data: &[u8]) -> Option<(u8, Dialect, &[u8])> {
    let (&ctl, job) = data.split_first()?;
    let d = if ctl & 1 == 0 {
        Dialect::EscPos
    } else {
        Dialect::StarLine
    };
    Some((ctl, d, job))
}

/// The first byte picks the dialect, the size cap and the chunking; the rest is the job.
/// Checks: tokens tile the job; chunking changes nothing; payloads lie inside their token;
/// text tokens hold only printable bytes; decoding maps every character to bytes of a
/// text or HT token, in increasing order.
pub fn tokenize_invariants(data: &[u8]) {
    let Some((ctl, d, job)) = split(data) else {
        return;
    };
    let opts = Options {
        max_command_len: if ctl & 2 == 0 { 1 << 20 } else { 64 },
        star_code_page_in_escpos: ctl & 4 != 0,
    };
    let step = usize::from(ctl >> 3) + 1;
    let whole = run(d, opts, job, |_| usize::MAX);
    let mut at = 0u64;
    for t in &whole {
        assert_eq!(t.offset, at, "tokens must tile the job");
        assert!(t.len > 0);
        if let TokenKind::Data {
            payload_start,
            payload_len,
            ..
        } = t.kind
        {
            assert!(u64::from(payload_start) + payload_len <= t.len);
        }
        if t.kind == TokenKind::Text {
            assert!(job[t.range_in(0)].iter().all(|&b| b >= 0x20));
        }
        at += t.len;
    }
    assert_eq!(at, job.len() as u64);
    assert_eq!(whole, run(d, opts, job, |_| step), "chunked by {step}");
    assert_eq!(
        whole,
        run(d, opts, job, |k| 1 + (k * 7 + step) % 13),
        "uneven chunks"
    );

    let p = profile(d);
    let mut dec = Decoder::new(p);
    let mut lines = LineCollector::new();
    let mut text_ranges = Vec::new();
    text::for_each_token(p, job, |tok, bytes| {
        if matches!(tok.kind, TokenKind::Text | TokenKind::Control(0x09)) {
            text_ranges.push(tok.offset..tok.offset + tok.len);
        }
        dec.token(&tok, bytes, &mut lines);
    });
    let lines = lines.finish(job.len() as u64);
    let mut last = 0u64;
    for line in lines.iter() {
        assert_eq!(line.text.chars().count(), line.chars.len());
        for c in line.chars {
            assert!(c.start() >= last, "characters must come in job order");
            assert!(!c.is_empty() && c.end() <= job.len() as u64);
            assert!(
                text_ranges
                    .iter()
                    .any(|r| r.start <= c.start() && c.end() <= r.end),
                "a character maps to bytes outside any text token"
            );
            last = c.end();
        }
    }
}

/// The first byte picks the dialect; the rest is the job. Checks: redaction never panics;
/// every printed segment tokenizes without errors; redacting the printed output again
/// changes nothing; and, with a patron's name and card number planted in the job (see
/// [`canary_invariants`]), neither is printed.
pub fn redact_invariants(data: &[u8]) {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let Some((_, d, job)) = split(data) else {
        return;
    };
    let p = profile(d);
    let r = REDACTOR.get_or_init(|| Redactor::new(RedactConfig::default()));
    let (segments, _) = r.segments(p, job);
    // A segment that fails closed prints nothing; one that does not settle within the
    // redaction rounds (`Reason::Unstable`) is one of them.
    let printed = redact::printed(&segments);
    let mut t = Tokenizer::new(d, p.tokenizer_options());
    let mut bad = false;
    t.feed(&printed, &mut |x| bad |= x.kind.is_error());
    t.finish(&mut |x| bad |= x.kind.is_error());
    assert!(!bad, "printed output must tokenize cleanly");
    if segments.iter().all(|s| s.output.is_ok()) {
        let (again, _) = r.job(p, &printed).expect("printed output is never blocked");
        assert_eq!(
            again, printed,
            "redacting printed output must change nothing"
        );
    }
    canary_invariants(p, r, job);
}

/// Patron values planted in a fuzz job: a name after `Name:` and a card number after
/// `Card number:`, each on a line of its own.
const CANARY_NAME: [&str; 2] = ["Quillfeather", "Zebulon"];
const CANARY_CARD: &str = "23390005077316";

/// Text a person or a scanner reads from a job: its decoded lines, and the data of its
/// barcodes and 2-D codes.
fn readable(p: &Profile, job: &[u8]) -> String {
    let mut out: String = text::lines(p, job)
        .iter()
        .map(|l| l.text.to_string() + "\n")
        .collect();
    text::for_each_token(p, job, |tok, bytes| {
        if let Some((_, t)) = crate::core::symbol::barcode(p.dialect, &tok, bytes) {
            out.push_str(&t);
        } else if let Some((_, d)) = crate::core::symbol::code2d(p.dialect, &tok, bytes) {
            out.push_str(&String::from_utf8_lossy(&d));
        }
        out.push('\n');
    });
    out
}

/// The canary check: the canary lines are planted in `job` at a place its first byte
/// picks. When the job as received reads them as text lines of their own (the fuzz bytes
/// around did not swallow them into a command or switch to a code page where they read
/// otherwise), nothing the printer would print of the redacted job — text, barcodes,
/// 2-D codes — may show the name or more than the card's last four digits. (Segments that
/// fail closed print nothing: `segments` returns no bytes for them.)
fn canary_invariants(p: &Profile, r: &Redactor, job: &[u8]) {
    let Some((&at, rest)) = job.split_first() else {
        return;
    };
    // The fuzz bytes must not carry the canaries themselves, as bytes or as text read
    // through their commands (`23390` `ESC E 1` `00507` reads as one number).
    let own_text = readable(p, rest);
    let own = |s: &str| memchr::memmem::find(rest, s.as_bytes()).is_some() || own_text.contains(s);
    if CANARY_NAME.iter().any(|n| own(n)) || own(&CANARY_CARD[..10]) {
        return;
    }
    let at = if rest.is_empty() {
        0
    } else {
        at as usize % (rest.len() + 1)
    };
    let name_line = format!("Name: {} {}", CANARY_NAME[1], CANARY_NAME[0]);
    let card_line = format!("Card number: {CANARY_CARD}");
    let mut planted = rest[..at].to_vec();
    planted.extend(format!("\n{name_line}\n{card_line}\n").bytes());
    planted.extend_from_slice(&rest[at..]);
    let before = text::lines(p, &planted);
    let clean = |want: &str| before.iter().any(|l| l.text.trim() == want);
    let (segments, _) = r.segments(p, &planted);
    let shown = readable(p, &redact::printed(&segments));
    if clean(&name_line) {
        for n in CANARY_NAME {
            assert!(!shown.contains(n), "a planted patron name is printed");
        }
    }
    if clean(&card_line) {
        assert!(
            !shown.contains(&CANARY_CARD[..10]),
            "more of a planted card number than its last four digits is printed"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The LPD listener (`daemon::lpd::session`) under an arbitrary client byte stream.

/// The job size limit the LPD target runs with: small, so refusals are reachable.
pub const LPD_MAX_JOB_BYTES: u64 = 64 << 10;

/// The session's own idle timeout. The fuzz client always ends its stream, so a session
/// that waits this long is hanging; reaching it fails the check.
const LPD_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// The LPD target's stand-in for the daemon's redaction check (`daemon::screen`): a data
/// file whose first byte is this would not print.
const LPD_SCREEN_REFUSES: u8 = 0xff;
const LPD_SCREEN_SAYS: &str = "fails closed (the fuzz target's screen)";

/// What RFC 1179 and `daemon::lpd`'s documented semantics say a session must do with
/// `input` (all a client sends, then the end of the connection): the bytes it writes back,
/// and the data files it takes (`None`: refused or broken, nothing prints). Written
/// independently of the async code, over the whole input at once.
fn lpd_expect(input: &[u8], max: u64) -> (Vec<u8>, Option<Vec<Vec<u8>>>) {
    enum Line<'a> {
        End,
        Bad,
        Cmd(u8, &'a [u8]),
    }
    fn next<'a>(input: &'a [u8], at: &mut usize) -> Line<'a> {
        let rest = &input[*at..];
        if rest.is_empty() {
            return Line::End;
        }
        match rest.iter().position(|&b| b == b'\n') {
            // At most 1024 bytes before the newline, and not an empty line.
            Some(n) if (1..=1024).contains(&n) => {
                *at += n + 1;
                Line::Cmd(rest[0], &rest[1..n])
            }
            _ => Line::Bad,
        }
    }
    let mut at = 0;
    let mut reply = Vec::new();
    match next(input, &mut at) {
        Line::End => return (reply, Some(Vec::new())),
        Line::Bad => return (reply, None),
        Line::Cmd(2, _) => reply.push(0),
        Line::Cmd(3 | 4, _) => return (b"slipguard: no entries\n".to_vec(), Some(Vec::new())),
        Line::Cmd(1 | 5, _) => return (reply, Some(Vec::new())),
        Line::Cmd(..) => return (reply, None),
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    loop {
        match next(input, &mut at) {
            // The end of the connection between subcommands: the job is whole.
            Line::End => return (reply, Some(files)),
            Line::Bad => return (reply, None),
            // Abort job: nothing prints.
            Line::Cmd(1, _) => return (reply, Some(Vec::new())),
            Line::Cmd(sub @ (2 | 3), operand) => {
                let count = String::from_utf8_lossy(operand)
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse::<u64>().ok());
                let Some(count) = count else {
                    return (reply, None);
                };
                match total.checked_add(count) {
                    Some(t) if t <= max => total = t,
                    _ => {
                        reply.push(1);
                        return (reply, None);
                    }
                }
                reply.push(0);
                let count = count as usize; // at most `max`
                let rest = &input[at..];
                if rest.len() <= count {
                    // Cut short: no acknowledgement can reach the client.
                    return (reply, None);
                }
                let file = &rest[..count];
                // Not ended by its zero byte; a data file that begins with another
                // protocol's request, or that would not print: refused.
                let refused = rest[count] != 0
                    || (sub == 3
                        && (matches!(
                            crate::daemon::sniff::at_end(file),
                            crate::daemon::sniff::Verdict::Refuse(_)
                        ) || file.first() == Some(&LPD_SCREEN_REFUSES)));
                if refused {
                    reply.push(1);
                    return (reply, None);
                }
                reply.push(0);
                if sub == 3 && count > 0 {
                    files.push(rest[..count].to_vec());
                }
                at += count + 1;
            }
            Line::Cmd(..) => return (reply, None),
        }
    }
}

/// Whether `why` is one of the session's own error messages. Each says what went wrong in
/// words of its own, never with bytes the client sent (which can be control-file lines,
/// that is patron data): the daemon logs these.
fn lpd_error_is_known(why: &str) -> bool {
    const FIXED: &[&str] = &[
        "an LPD file command without a byte count",
        "an LPD file did not end with its zero byte",
        "the connection ended inside an LPD command",
        "an LPD command line longer than 1024 bytes",
        "an empty LPD command line",
        "the connection ended inside an LPD file",
    ];
    let code = |rest: Option<&str>| {
        rest.and_then(|r| r.strip_prefix("0x"))
            .is_some_and(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let sniffed =
        |w: &str| crate::daemon::sniff::reasons().any(|r| w == crate::daemon::sniff::refusal(r));
    FIXED.contains(&why)
        || why == format!("the job is larger than max_job_bytes ({LPD_MAX_JOB_BYTES} bytes)")
        || sniffed(why)
        || why
            .strip_prefix("a data file refused: ")
            .is_some_and(|w| sniffed(w) || w == LPD_SCREEN_SAYS)
        || code(why.strip_prefix("unknown LPD command "))
        || code(why.strip_prefix("unknown LPD subcommand "))
}

/// `data` is everything an LPD client sends before it ends the connection. Drives the
/// daemon's own session code over an in-memory stream (read in small pieces) with
/// [`LPD_MAX_JOB_BYTES`], while the client reads all replies. Checks: the session ends
/// once the stream has ended (no panic, no wait for the idle timeout); it writes exactly
/// the acknowledgements RFC 1179 asks for (a zero byte per accepted step, one non-zero byte
/// for a refused file — over the limit, not ended by its zero byte, or a data file that
/// begins with another protocol's request or that the stand-in for the daemon's redaction
/// check refuses — nothing else but the queue-state text); it takes exactly the data files
/// that arrived whole, with their zero byte, in a job that was not aborted, broken or
/// refused, and none of the control files; the files it takes fit the limit; and an error
/// it reports is one of its own fixed messages, never text the client sent.
pub fn lpd_invariants(data: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
    }
    let (reply, taken) = RT.with(|rt| {
        rt.block_on(async {
            let (client, server) = tokio::io::duplex(61);
            let (mut from_server, mut to_server) = tokio::io::split(client);
            let send = async move {
                // Fails once the session has stopped reading: the rest is never read.
                let _ = to_server.write_all(data).await;
                let _ = to_server.shutdown().await;
            };
            let receive = async move {
                let mut reply = Vec::new();
                from_server
                    .read_to_end(&mut reply)
                    .await
                    .expect("an in-memory stream");
                reply
            };
            let serve = async move {
                let mut stream = server;
                let screen = |file: crate::daemon::lpd::File| async move {
                    if file.first() == Some(&LPD_SCREEN_REFUSES) {
                        (file, Err(LPD_SCREEN_SAYS.to_string()))
                    } else {
                        (file, Ok(()))
                    }
                };
                let taken = crate::daemon::lpd::session(
                    &mut stream,
                    LPD_MAX_JOB_BYTES,
                    LPD_IDLE,
                    screen,
                    |_| Ok(()),
                )
                .await;
                drop(stream); // the client sees the connection end
                taken
            };
            let all = async { tokio::join!(send, receive, serve) };
            match tokio::time::timeout(LPD_IDLE * 4, all).await {
                Ok(((), reply, taken)) => (reply, taken),
                Err(_) => panic!("the LPD session hangs after the client's stream ended"),
            }
        })
    });
    let (want_reply, want) = lpd_expect(data, LPD_MAX_JOB_BYTES);
    assert_eq!(reply, want_reply, "the acknowledgements written");
    match (&taken, &want) {
        (Ok(files), Some(w)) => {
            assert!(
                files.iter().map(|f| &f[..]).eq(w.iter().map(|f| &f[..])),
                "the session took {:?} bytes in {} files, expected {:?} in {}",
                files.iter().map(|f| f.len()).collect::<Vec<_>>(),
                files.len(),
                w.iter().map(Vec::len).collect::<Vec<_>>(),
                w.len()
            );
            let total: usize = files.iter().map(|f| f.len()).sum();
            assert!(
                total as u64 <= LPD_MAX_JOB_BYTES,
                "the job exceeds the limit"
            );
            assert!(
                files.iter().all(|f| !f.is_empty()),
                "an empty data file is no job"
            );
        }
        (Err(why), None) => {
            assert!(
                !why.contains("idle_timeout"),
                "the session waited for input after the stream ended: {why}"
            );
            assert!(
                lpd_error_is_known(why),
                "an LPD error that is not one of the session's own messages: {why:?}"
            );
        }
        (Ok(files), None) => panic!(
            "the session took {} files from a refused or broken job",
            files.len()
        ),
        (Err(why), Some(_)) => panic!("the session refused a good connection: {why}"),
    }
}

// ---------------------------------------------------------------------------------------
// The raw listener's first bytes (`daemon::sniff`): requests of other protocols.

/// What the first byte of a `raw_first_bytes` input may put before the rest: what browsers
/// and HTTP tools send, what print clients send, near misses, and nothing.
const RAW_PREFIXES: &[&[u8]] = &[
    b"",
    b"POST /",
    b"GET /",
    b"OPTIONS * ",
    b"GET http://",
    b"CONNECT ",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01",
    b"\x1b@",
    b"\x10\x04\x01",
    b"PO",
    b"Elmwood Library\n",
    b"get /",
    b"GET ",
    b"PROPFIND /x HTTP/",
    b"\x16\x03",
];

/// Up to this length every prefix of the job is checked; past it, those the simulated reads
/// end at (checking every prefix of a long job costs its square).
const RAW_EVERY_PREFIX: usize = 2048;

/// What `daemon::sniff` must answer for a whole job, from regular expressions written apart
/// from its matchers: a listed method, a space and the start of a request target (any after
/// `CONNECT`); a TLS ClientHello; any request line ending its `HTTP/d.` within
/// [`crate::daemon::sniff::MAX_UNDECIDED`] bytes; else a job.
fn raw_expect(job: &[u8]) -> crate::daemon::sniff::Verdict {
    use crate::daemon::sniff::{Verdict, MAX_UNDECIDED};
    use regex::bytes::Regex;
    static RES: OnceLock<[Regex; 3]> = OnceLock::new();
    let [known, tls, line] = RES.get_or_init(|| {
        [
            Regex::new(r"^(?:(GET|POST|PUT|HEAD|DELETE|PATCH|OPTIONS|TRACE|PRI) (?:/|\*|(?i:https?://))|(CONNECT) )").unwrap(),
            Regex::new(r"(?s-u)^\x16\x03[\x00-\x04]..\x01").unwrap(),
            Regex::new(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP/[0-9]\.").unwrap(),
        ]
    });
    if let Some(c) = known.captures(job) {
        let method = c.get(1).or(c.get(2)).expect("a method").as_bytes();
        let why = crate::daemon::sniff::reasons()
            .find(|r| {
                let name = std::str::from_utf8(method).expect("ASCII");
                r.contains(&format!(" {name} ")) || (name == "PRI" && r.contains("HTTP/2"))
            })
            .expect("a reason for every listed method");
        return Verdict::Refuse(why);
    }
    if tls.is_match(job) {
        return Verdict::Refuse("a TLS handshake (an https:// URL)");
    }
    if line.find(job).is_some_and(|m| m.end() <= MAX_UNDECIDED) {
        return Verdict::Refuse("an HTTP request line");
    }
    Verdict::Job
}

/// The first byte picks a prefix from [`RAW_PREFIXES`] (low nibble) and how the job is cut
/// into reads (high nibble); the job is the prefix, then the rest of the input. Drives the
/// raw listener's [`crate::daemon::sniff::Gate`] read by read, as the listener does.
/// Checks: no panic; the gate holds the bytes only while [`crate::daemon::sniff::first_bytes`]
/// is undecided, and never for [`crate::daemon::sniff::MAX_UNDECIDED`] bytes or more; once
/// it passes bytes on, it passes every byte once, in order, and `first_bytes` answers "a
/// job" for every longer prefix (the gate no longer looks: its verdict must be final); once
/// it refuses, every longer prefix is refused for the same reason (a refused start stays
/// refused whatever follows), and the reason is one of the fixed ones; the verdict on the
/// whole job is the one regular expressions written apart give ([`raw_expect`]); a job that
/// starts with a printer command (`ESC`, `DLE`, …) is judged a job at its first byte.
pub fn raw_first_bytes_invariants(data: &[u8]) {
    use crate::daemon::sniff::{self, Gate, Pass, Verdict, MAX_UNDECIDED};
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let prefix = RAW_PREFIXES[(ctl & 0x0f) as usize % RAW_PREFIXES.len()];
    let job = [prefix, rest].concat();
    let max_read = 1usize << (ctl >> 4).min(13);
    // The listener's view, read by read.
    let mut gate = Gate::default();
    let (mut got, mut passed) = (0usize, Vec::new());
    let mut decided: Option<(usize, Verdict)> = None;
    let mut k = 0usize;
    while got < job.len() && decided.is_none_or(|(_, v)| v == Verdict::Job) {
        let step = job[got..]
            .first()
            .map_or(1, |&b| 1 + (b as usize + k * 31) % max_read);
        let n = step.min(job.len() - got);
        got += n;
        k += 1;
        let held = &job[..got];
        match gate.pass(held, n) {
            Pass::Hold => {
                assert_eq!(
                    sniff::first_bytes(held),
                    Verdict::Undecided,
                    "held, but decided"
                );
                assert!(got < MAX_UNDECIDED, "held {got} bytes");
                assert!(decided.is_none(), "held again after a verdict");
            }
            Pass::From(at) => {
                assert_eq!(at, passed.len(), "bytes passed on twice or skipped");
                passed.extend_from_slice(&held[at..]);
                if decided.is_none() {
                    assert_eq!(sniff::first_bytes(held), Verdict::Job);
                    decided = Some((got, Verdict::Job));
                }
                assert!(gate.judged());
            }
            Pass::Refuse(why) => {
                assert_eq!(sniff::first_bytes(held), Verdict::Refuse(why));
                assert!(
                    sniff::reasons().any(|r| r == why),
                    "an unknown reason: {why}"
                );
                assert!(decided.is_none(), "refused after passing bytes on");
                decided = Some((got, Verdict::Refuse(why)));
            }
        }
    }
    // The verdict, where it came, never changes after.
    let end = sniff::at_end(&job);
    match decided {
        Some((at, v)) => {
            assert_eq!(end, v, "the verdict changed after {at} bytes");
            if v == Verdict::Job {
                assert_eq!(passed, job, "every byte passed on once, in order");
            }
            let longer: Box<dyn Iterator<Item = usize>> = if job.len() <= RAW_EVERY_PREFIX {
                Box::new(at..=job.len())
            } else {
                Box::new([at, at + 1, job.len() / 2, job.len()].into_iter())
            };
            for n in longer.filter(|&n| n >= at && n <= job.len()) {
                assert_eq!(sniff::first_bytes(&job[..n]), v, "changed at {n} bytes");
            }
        }
        None => {
            assert_eq!(sniff::first_bytes(&job), Verdict::Undecided);
            assert_eq!(
                end,
                Verdict::Job,
                "bytes that never became a request are a job"
            );
        }
    }
    // Before the verdict, every prefix was undecided (short jobs: all of them).
    let first = decided.map_or(job.len(), |(at, _)| at);
    if first <= RAW_EVERY_PREFIX {
        let mut earliest = None;
        for n in 0..first {
            let v = sniff::first_bytes(&job[..n]);
            match earliest {
                Some(e) => assert_eq!(v, e, "changed at {n} bytes"),
                None if v != Verdict::Undecided => {
                    assert!(
                        decided.is_some_and(|(_, d)| d == v),
                        "{n} bytes: {v:?}, not the gate's verdict"
                    );
                    earliest = Some(v);
                }
                None => {}
            }
        }
    }
    assert_eq!(end, raw_expect(&job), "the verdict on the whole job");
    if job.first().is_some_and(|&b| b < 0x20 && b != 0x16) {
        assert_eq!(sniff::first_bytes(&job[..1]), Verdict::Job);
    }
}

// ---------------------------------------------------------------------------------------
// The configuration and printer-profile loaders under arbitrary text.

/// An error from a TOML loader names `origin`, and a line and column that lie inside `text`,
/// as `origin:line:col: message` (`slipguard check` promises the file and line of every
/// mistake, so no error is about the file as a whole).
fn source_error_invariants(e: &crate::core::source::SourceError, origin: &str, text: &str) {
    let shown = e.to_string();
    assert_eq!(e.origin, origin, "the error names another file: {shown}");
    assert!(
        !e.msg.trim().is_empty(),
        "an error without a message: {shown}"
    );
    assert!(e.line >= 1, "an error without a line: {shown}");
    let prefix = format!("{origin}:{}:{}: ", e.line, e.col);
    assert!(shown.starts_with(&prefix), "not `file:line:col: `: {shown}");
    let line = text.split('\n').nth(e.line - 1);
    let line = line.unwrap_or_else(|| {
        panic!(
            "line {} of a text of {} lines: {shown}",
            e.line,
            text.split('\n').count()
        )
    });
    assert!(
        (1..=line.len() + 1).contains(&e.col),
        "column {} of a line of {} bytes: {shown}",
        e.col,
        line.len()
    );
}

/// The origin the config target names its text by.
const CONFIG_ORIGIN: &str = "fuzz/slipguard.toml";

/// `data` (lossily UTF-8) as a configuration file. Checks: loading never panics; an error
/// names the file and a line and column within the text; a configuration that loads has
/// what the loader promises: printer names unique, every listener's printer defined, an
/// address for raw and LPD listeners and an absolute path for folders, devices with
/// absolute paths, a port and a baud rate in range, limits above zero, a retention window
/// in 1 minute – 7 days unless the file allows unusual ones, and rules with a `pii` group.
pub fn config_invariants(data: &[u8]) {
    use crate::config::{Config, Device, Protocol};
    use crate::spool::Retention;
    use std::path::Path;
    let text = String::from_utf8_lossy(data);
    let c = match Config::from_toml(Path::new(CONFIG_ORIGIN), &text) {
        Ok(c) => c,
        Err(e) => return source_error_invariants(&e, CONFIG_ORIGIN, &text),
    };
    assert_eq!(c.origin.as_deref(), Some(Path::new(CONFIG_ORIGIN)));
    for (i, p) in c.printers.iter().enumerate() {
        assert!(
            c.printers[..i].iter().all(|q| q.name != p.name),
            "two printers share a name"
        );
        match &p.device {
            Device::Tcp { host, port } => assert!(!host.is_empty() && *port != 0),
            Device::Serial { path, baud, .. } => {
                assert!(path.is_absolute());
                assert!((300..=921_600).contains(baud));
            }
            Device::Usb { path } => assert!(path.is_absolute()),
            Device::File { dir } => assert!(dir.is_absolute()),
        }
    }
    for l in &c.listeners {
        match &l.printer {
            Some(name) => assert!(
                c.printers.iter().any(|p| p.name == *name),
                "a listener's printer is not defined"
            ),
            None => assert!(
                matches!(l.protocol, Protocol::Http { .. }),
                "only an http listener serves every printer"
            ),
        }
        if let Protocol::Http {
            allowed_origins, ..
        } = &l.protocol
        {
            // As browsers send them: normalised (so checking one again changes nothing),
            // lower case, no default port, nothing after the host and port.
            for o in allowed_origins {
                assert_eq!(crate::config::check_origin(o).as_ref(), Ok(o));
                assert_eq!(*o, o.to_ascii_lowercase());
                assert!(!o.starts_with("http://") || !o.ends_with(":80"));
                assert!(!o.starts_with("https://") || !o.ends_with(":443"));
                let authority = o.split_once("://").map(|(_, a)| a);
                assert!(
                    authority.is_some_and(|a| !a.is_empty() && !a.contains(['/', '@', '?', '#']))
                );
            }
        }
        if let Protocol::Folder { path } = &l.protocol {
            assert!(path.is_absolute());
        }
        assert_eq!(
            l.protocol.address().is_some(),
            !matches!(l.protocol, Protocol::Folder { .. })
        );
    }
    let lim = &c.limits;
    assert!(lim.max_job_bytes > 0 && lim.max_segment_bytes > 0 && lim.max_connections > 0);
    assert!(lim.max_redactions > 0 && lim.max_queries > 0);
    assert!(!lim.idle_timeout.is_zero() && !lim.job_timeout.is_zero());
    assert!(!lim.device_timeout.is_zero() && !lim.stop_timeout.is_zero());
    let window = c.retention.duration();
    assert!(window.as_secs() >= 1, "a retention window under a second");
    if !text.contains("allow_unusual_retention") {
        assert!(
            (Retention::MIN..=Retention::MAX).contains(&window),
            "an unusual retention window without the override: {window:?}"
        );
    }
    for r in &c.redact.rules {
        assert!(r.pattern.capture_names().any(|n| n == Some("pii")));
    }
    assert!(c.redact.policies.iter().any(|p| p.name == "hold-shelf"));
}

/// The origin the profile target names its text by.
const PROFILE_ORIGIN: &str = "fuzz/profile.toml";

/// `data` (lossily UTF-8) as a printer profile. Checks: loading never panics; an error
/// names the file and a line and column within the text; a profile that loads has what the
/// loader promises (its code-page table holds its default, sizes above zero, the print width
/// within the paper, a known international set) and can be used: a job that selects each of
/// its code tables and prints every high byte in it redacts without a panic, and what it
/// prints tokenizes cleanly.
pub fn profile_invariants(data: &[u8]) {
    use crate::core::text::intl;
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let text = String::from_utf8_lossy(data);
    let p = match Profile::from_toml("fuzz", PROFILE_ORIGIN, &text) {
        Ok(p) => p,
        Err(e) => return source_error_invariants(&e, PROFILE_ORIGIN, &text),
    };
    assert_eq!(p.name, "fuzz");
    let cp = &p.code_pages;
    assert!(
        cp.table.contains_key(&cp.default),
        "the default table is not in the table"
    );
    assert!(intl::is_known(cp.international));
    assert!(p.dpi > 0 && p.columns.font_a > 0 && p.columns.font_b > 0);
    let paper = &p.paper;
    assert!(paper.width_mm > 0 && paper.print_width_mm > 0 && paper.print_width_dots > 0);
    assert!(paper.print_width_mm <= paper.width_mm);
    let opts = p.tokenizer_options();
    assert_eq!(
        opts.star_code_page_in_escpos,
        p.dialect == Dialect::EscPos && cp.star_table.is_some()
    );

    let select: &[u8] = match p.dialect {
        Dialect::EscPos => b"\x1bt",
        Dialect::StarLine => b"\x1b\x1dt",
    };
    let mut job = b"\x1b@Patron: Ana Example\nCard: 21234000567890\n".to_vec();
    for &n in cp.table.keys() {
        job.extend_from_slice(select);
        job.push(n);
        job.extend_from_slice(b"Name: ");
        job.extend(0x80..=0xffu8);
        job.push(b'\n');
    }
    let r = REDACTOR.get_or_init(|| Redactor::new(RedactConfig::default()));
    let (segments, _) = r.segments(&p, &job);
    let mut t = Tokenizer::new(p.dialect, opts);
    let mut bad = false;
    for s in &segments {
        if let Ok(bytes) = &s.output {
            t.feed(bytes, &mut |x| bad |= x.kind.is_error());
        }
    }
    t.finish(&mut |x| bad |= x.kind.is_error());
    assert!(!bad, "printed output must tokenize cleanly");
}

// ---------------------------------------------------------------------------------------
// HTML slips (the HTTP listener's `text/html`): layout, typesetting and redaction.

/// The first byte picks the printer (even: Epson TM-T88V, 42 columns; odd: Star TSP650II in
/// Star Line Mode, 48 columns; a multiple of 4: the 32-column generic 58 mm); the rest,
/// read as UTF-8 (lossily, as the listener reads it), is the slip. Checks: layout and
/// typesetting never panic; every laid-out line fits the paper; the typeset job holds only
/// text, line feeds and whole, known commands (markup and control characters never become
/// printer commands); it ends with the profile's feed and cut; redaction either prints it
/// or refuses it whole, and what it prints tokenizes cleanly.
pub fn html_invariants(data: &[u8]) {
    static PROFILES: OnceLock<[Profile; 3]> = OnceLock::new();
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let Some((&ctl, html)) = data.split_first() else {
        return;
    };
    let ps = PROFILES.get_or_init(|| {
        let load = |n| Profiles::new(None).load(n).expect("built-in profile loads");
        [
            load("epson-tm-t88v"),
            load("star-tsp650ii"),
            load("generic-58mm"),
        ]
    });
    let p = match ctl {
        c if c % 4 == 0 => &ps[2],
        c if c % 2 == 0 => &ps[0],
        _ => &ps[1],
    };
    let r = REDACTOR.get_or_init(|| Redactor::new(RedactConfig::default()));
    let labels = r.labels();
    let text = String::from_utf8_lossy(html);
    let (layout, _) = crate::typeset::Layout::for_profile(p).expect("a Latin page");
    let Ok(lines) = crate::html::html_lines(&text, &layout, labels) else {
        // Refused: nested deeper than the layout goes.
        return;
    };
    for l in &lines {
        assert!(l.width() <= layout.columns, "a line wider than the paper");
    }
    let job = crate::typeset::render(&lines, p).expect("typesets");
    let mut t = Tokenizer::new(p.dialect, p.tokenizer_options());
    let mut odd = None;
    let mut check = |x: Token| {
        let ok = matches!(
            x.kind,
            TokenKind::Text | TokenKind::Control(_) | TokenKind::Command(_)
        );
        if !ok && odd.is_none() {
            odd = Some(x.kind.label());
        }
    };
    t.feed(&job, &mut check);
    t.finish(&mut check);
    assert_eq!(
        odd, None,
        "the typeset job holds only text and whole commands"
    );
    let (segments, _) = r.segments(p, &job);
    let mut printed = Vec::new();
    for s in &segments {
        if let Ok(bytes) = &s.output {
            printed.extend_from_slice(bytes);
        }
    }
    let mut t = Tokenizer::new(p.dialect, p.tokenizer_options());
    let mut bad = false;
    t.feed(&printed, &mut |x| bad |= x.kind.is_error());
    t.finish(&mut |x| bad |= x.kind.is_error());
    assert!(!bad, "printed output must tokenize cleanly");
}

/// The first byte picks the ILS (`% 3`: Koha, Evergreen, both); the rest is a slip template.
/// Checks: annotating never panics; the output is the input with the reported spans
/// inserted (removing them gives the input back, byte for byte), every insert a span's
/// start or end, properly nested; annotating the output again changes nothing, and what the
/// first run wrapped the second finds annotated with the same kind (the rest keeps its
/// status); and the output, read as the slip a browser would send, parses and goes through
/// the HTTP listener's redaction and layout without a panic.
pub fn template_annotate_invariants(data: &[u8]) {
    use crate::template::{annotate, Ils, Status, SPAN_CLOSE};
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let Some((&ctl, input)) = data.split_first() else {
        return;
    };
    let ils = [Ils::Koha, Ils::Evergreen, Ils::Auto][usize::from(ctl) % 3];
    let a = annotate(input, ils);
    // The output is the input and the inserts; taking them out gives the input back.
    let mut rebuilt = Vec::new();
    let mut at = 0;
    let mut depth = 0usize;
    let mut stripped = Vec::new();
    let mut o = 0; // where the output has been read to
    for (pos, text) in &a.inserts {
        assert!(
            *pos >= at && *pos <= input.len(),
            "inserts in order, inside the input"
        );
        rebuilt.extend_from_slice(&input[at..*pos]);
        rebuilt.extend_from_slice(text.as_bytes());
        if text == SPAN_CLOSE {
            assert!(depth > 0, "a span ends that never started");
            depth -= 1;
        } else {
            assert!(
                text.starts_with("<span data-slipguard=\"") && text.ends_with("\">"),
                "only spans are inserted"
            );
            depth += 1;
        }
        let copy = pos - at;
        stripped.extend_from_slice(&a.output[o..o + copy]);
        o += copy;
        assert!(a.output[o..].starts_with(text.as_bytes()));
        o += text.len();
        at = *pos;
    }
    assert_eq!(depth, 0, "every span ends");
    rebuilt.extend_from_slice(&input[at..]);
    stripped.extend_from_slice(&a.output[o..]);
    assert!(
        rebuilt == a.output,
        "the output is the input with the spans"
    );
    assert!(stripped == input, "removing the spans gives the input back");
    // Idempotent.
    let b = annotate(&a.output, ils);
    assert!(b.output == a.output, "annotating again changes nothing");
    assert!(b.inserts.is_empty());
    assert_eq!(
        a.placeholders.len(),
        b.placeholders.len(),
        "the same placeholders"
    );
    for (p, q) in a.placeholders.iter().zip(&b.placeholders) {
        assert_eq!(p.syntax, q.syntax);
        match p.status {
            Status::Wrapped => assert_eq!(
                q.status,
                Status::Annotated(p.kind),
                "wrapped, then annotated"
            ),
            s => assert_eq!(q.status, s),
        }
    }
    assert_eq!(a.unknown.len(), b.unknown.len());
    // The output as a slip: parsed, redacted on its logical lines, laid out.
    let p = PROFILE.get_or_init(|| {
        Profiles::new(None)
            .load("epson-tm-t88v")
            .expect("built-in profile loads")
    });
    let r = REDACTOR.get_or_init(|| Redactor::new(RedactConfig::default()));
    let slip = String::from_utf8_lossy(&a.output);
    if let Ok(done) =
        crate::html::redact_slip(crate::html::Markup::Html, &slip, p, r, 1 << 20, true)
    {
        let (layout, _) = crate::typeset::Layout::for_profile(p).expect("a Latin page");
        for (l, m) in done.lines.iter().zip(&done.marks) {
            assert!(l.width() <= layout.columns, "a line wider than the paper");
            let n = l.text().chars().count();
            assert!(
                m.iter().all(|m| m.start < m.end && m.end <= n),
                "marks inside the line"
            );
        }
    }
}
