//! Cross-protocol requests on the raw and LPD listeners: what a job's first bytes say about
//! where it came from. Pure (bytes in, verdict out); the listeners call it on what they have
//! received so far.
//!
//! The threat: any web page the desk's browser opens can `fetch` a no-cors `POST` to
//! `http://127.0.0.1:9100/` with an ESC/POS body and abort it; the raw listener would print
//! the request, body and all, bypassing the HTTP listener's origin checks. Likewise an
//! `https://` URL makes the browser send a TLS handshake. A browser cannot put a byte before
//! an HTTP request's method, and without a CORS preflight (which the raw port never answers)
//! it sends only `GET`, `HEAD` and `POST` — or `OPTIONS`, the preflight itself. So a job is
//! refused when it *starts* with:
//!
//! * a request line with a method browsers and HTTP tools use (`GET`, `POST`, `PUT`, `HEAD`,
//!   `DELETE`, `PATCH`, `OPTIONS`, `TRACE`, `CONNECT`; `PRI` of the HTTP/2 preface),
//!   followed by a space and a request target (`/…`, `*`, `http://…`; any for `CONNECT`) —
//!   decided on the target's first byte, before the rest of the request arrives;
//! * any other request line, `TOKEN SP TARGET SP HTTP/d.` (a method no browser sends
//!   without a preflight, but other tools might);
//! * a TLS ClientHello (`16 03 0x .. .. 01`).
//!
//! What it does not refuse: bytes before the method (an `ESC @` then `POST / HTTP/1.1` is a
//! print job: no browser can send it), and header-shaped lines further in (`Name: value` is
//! also how slips print `Due: 2026-11-24`). A plain-text job whose first line reads like a
//! request (`GET /…`) is refused; a receipt starts with a printer command or with words.

/// Why a job that begins with another protocol's request is refused, for the log (`why`:
/// a [`Verdict::Refuse`] reason, naming the protocol, never the bytes).
pub fn refusal(why: &str) -> String {
    format!(
        "its first bytes are {why}, not a print job (another protocol's request, such as any web page can make a browser send to this port)"
    )
}

/// Every reason [`first_bytes`] gives (for checks that a log line holds nothing else).
pub fn reasons() -> impl Iterator<Item = &'static str> {
    METHODS
        .iter()
        .map(|&(_, why)| why)
        .chain([OTHER_METHOD, TLS])
}

/// What a job's first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Too few bytes to tell: wait for more (or for the end of the job, see [`at_end`]).
    Undecided,
    /// Not another protocol's request, whatever follows.
    Job,
    /// Another protocol's request, whatever follows. The reason names the protocol (and the
    /// method, from a fixed list), never the job's bytes.
    Refuse(&'static str),
}

/// [`first_bytes`] never answers [`Verdict::Undecided`] for this many bytes or more: a
/// listener holds at most this much before it knows.
pub const MAX_UNDECIDED: usize = 8 * 1024;

/// The methods refused as soon as a request target begins, each with its log reason (the
/// trailing space is part of the match, so no entry is a prefix of another).
const METHODS: &[(&[u8], &str)] = &[
    (b"GET ", "an HTTP GET request"),
    (b"POST ", "an HTTP POST request"),
    (b"PUT ", "an HTTP PUT request"),
    (b"HEAD ", "an HTTP HEAD request"),
    (b"DELETE ", "an HTTP DELETE request"),
    (b"PATCH ", "an HTTP PATCH request"),
    (b"OPTIONS ", "an HTTP OPTIONS request (a CORS preflight)"),
    (b"TRACE ", "an HTTP TRACE request"),
    (b"CONNECT ", "an HTTP CONNECT request"),
    (b"PRI ", "the HTTP/2 connection preface"),
];

const OTHER_METHOD: &str = "an HTTP request line";
const TLS: &str = "a TLS handshake (an https:// URL)";

/// The verdict on `prefix`, the first bytes of a job (all of them so far). Stable: once it
/// is [`Verdict::Job`] or [`Verdict::Refuse`], more bytes never change it.
pub fn first_bytes(prefix: &[u8]) -> Verdict {
    let mut more = false;
    for step in [known_method(prefix), tls(prefix), request_line(prefix)] {
        match step {
            Step::Yes(why) => return Verdict::Refuse(why),
            Step::More => more = true,
            Step::No => {}
        }
    }
    if more {
        Verdict::Undecided
    } else {
        Verdict::Job
    }
}

/// The verdict on a whole job (the client has ended it): bytes that never became a request
/// are a job.
pub fn at_end(job: &[u8]) -> Verdict {
    match first_bytes(job) {
        Verdict::Undecided => Verdict::Job,
        v => v,
    }
}

/// The raw listener's hold on a job's first bytes: nothing of the job is passed on
/// (tokenized, acted on) until they are judged a print job, and after that every byte is
/// passed on once, in order. The listener calls [`Gate::pass`] after each read.
#[derive(Debug, Default)]
pub struct Gate {
    judged: bool,
}

/// What the listener does with the bytes it holds, after a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Hold them: too few to tell.
    Hold,
    /// Pass on the job's bytes from this offset (every byte so far when the verdict has
    /// just come, else those just read).
    From(usize),
    /// Refuse the job (see [`Verdict::Refuse`]).
    Refuse(&'static str),
}

impl Gate {
    /// `job` is every byte received so far (less any the listener took out after passing
    /// them on), of which the last `new` have just arrived. Once judged a job, the bytes are
    /// not looked at again: [`first_bytes`] does not change its mind.
    pub fn pass(&mut self, job: &[u8], new: usize) -> Pass {
        if self.judged {
            return Pass::From(job.len() - new);
        }
        match first_bytes(job) {
            Verdict::Undecided => Pass::Hold,
            Verdict::Refuse(why) => Pass::Refuse(why),
            Verdict::Job => {
                self.judged = true;
                Pass::From(0)
            }
        }
    }

    /// Whether the bytes are being passed on (judged a job).
    pub fn judged(&self) -> bool {
        self.judged
    }
}

/// One matcher's answer so far.
enum Step {
    /// Could still match: more bytes are needed.
    More,
    /// Cannot match, whatever follows.
    No,
    /// Matches, whatever follows.
    Yes(&'static str),
}

/// How `p` compares with `lit` (ASCII case folded when `fold`).
enum Lit<'a> {
    /// `p` is shorter than `lit` and begins it.
    Short,
    /// `p` begins with `lit`; the rest of `p`.
    Matched(&'a [u8]),
    Differs,
}

fn literal<'a>(p: &'a [u8], lit: &[u8], fold: bool) -> Lit<'a> {
    let n = p.len().min(lit.len());
    let same = if fold {
        p[..n].eq_ignore_ascii_case(&lit[..n])
    } else {
        p[..n] == lit[..n]
    };
    match (same, n == lit.len()) {
        (false, _) => Lit::Differs,
        (true, false) => Lit::Short,
        (true, true) => Lit::Matched(&p[n..]),
    }
}

/// A listed method, a space, and the start of a request target.
fn known_method(p: &[u8]) -> Step {
    let mut more = false;
    for &(method, why) in METHODS {
        match literal(p, method, false) {
            Lit::Short => more = true,
            Lit::Differs => {}
            Lit::Matched(target) => return request_target(method, target, why),
        }
    }
    if more {
        Step::More
    } else {
        Step::No
    }
}

/// The start of a request target: origin form (`/…`), asterisk form (`*`), absolute form
/// (`http://…`, as sent to a proxy); `CONNECT`'s authority form is anything.
fn request_target(method: &[u8], target: &[u8], why: &'static str) -> Step {
    if method == b"CONNECT " {
        return Step::Yes(why);
    }
    match target.first() {
        None => return Step::More,
        Some(b'/' | b'*') => return Step::Yes(why),
        Some(_) => {}
    }
    let mut more = false;
    for scheme in [&b"http://"[..], b"https://"] {
        match literal(target, scheme, true) {
            Lit::Short => more = true,
            Lit::Differs => {}
            Lit::Matched(_) => return Step::Yes(why),
        }
    }
    if more {
        Step::More
    } else {
        Step::No
    }
}

/// A TLS record header of a handshake (`16 03 00..04`, two length bytes) holding a
/// ClientHello (`01`).
fn tls(p: &[u8]) -> Step {
    const SHAPE: [fn(u8) -> bool; 6] = [
        |b| b == 0x16,
        |b| b == 0x03,
        |b| b <= 0x04,
        |_| true,
        |_| true,
        |b| b == 0x01,
    ];
    for (i, ok) in SHAPE.iter().enumerate() {
        match p.get(i) {
            None => return Step::More,
            Some(&b) if !ok(b) => return Step::No,
            Some(_) => {}
        }
    }
    Step::Yes(TLS)
}

/// Any request line: `TOKEN SP TARGET SP HTTP/d.`, looked for in the first
/// [`MAX_UNDECIDED`] bytes only (a line still undecided there is taken as a job).
fn request_line(p: &[u8]) -> Step {
    let capped = p.len() >= MAX_UNDECIDED;
    let p = &p[..p.len().min(MAX_UNDECIDED)];
    match request_line_uncapped(p) {
        Step::More if capped => Step::No,
        s => s,
    }
}

fn request_line_uncapped(p: &[u8]) -> Step {
    // RFC 9110 `tchar`: the method token's characters.
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let method = p.iter().take_while(|&&b| tchar(b)).count();
    let Some((&sp, rest)) = p[method..].split_first() else {
        return Step::More;
    };
    if method == 0 || sp != b' ' {
        return Step::No;
    }
    let target = rest.iter().take_while(|b| b.is_ascii_graphic()).count();
    let Some((&sp, version)) = rest[target..].split_first() else {
        return Step::More;
    };
    if target == 0 || sp != b' ' {
        return Step::No;
    }
    let Lit::Matched(v) = literal(version, b"HTTP/", false) else {
        return match literal(version, b"HTTP/", false) {
            Lit::Short => Step::More,
            _ => Step::No,
        };
    };
    match v {
        [] | [b'0'..=b'9'] => Step::More,
        [b'0'..=b'9', b'.', ..] => Step::Yes(OTHER_METHOD),
        _ => Step::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix of `whole`, each with its verdict, the last one first.
    fn verdicts(whole: &[u8]) -> Vec<Verdict> {
        (0..=whole.len())
            .map(|n| first_bytes(&whole[..n]))
            .collect()
    }

    #[test]
    fn browser_requests_are_refused_at_the_first_byte_of_the_target() {
        let req = b"POST /print HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nContent-Type: text/plain\r\n\r\n\x1b@PRINTED\n\x1dV\x00";
        let v = verdicts(req);
        // "P", "PO", … "POST ": too few bytes; "POST /": refused, and from then on.
        assert!(v[..6].iter().all(|v| *v == Verdict::Undecided), "{v:?}");
        assert!(v[6..]
            .iter()
            .all(|v| *v == Verdict::Refuse("an HTTP POST request")));
        for (req, why) in [
            (&b"GET / HTTP/1.1\r\n"[..], "an HTTP GET request"),
            (b"HEAD /x HTTP/1.1\r\n", "an HTTP HEAD request"),
            (b"PUT /x HTTP/1.1\r\n", "an HTTP PUT request"),
            (b"DELETE /x HTTP/1.1\r\n", "an HTTP DELETE request"),
            (b"PATCH /x HTTP/1.1\r\n", "an HTTP PATCH request"),
            (
                b"OPTIONS * HTTP/1.1\r\n",
                "an HTTP OPTIONS request (a CORS preflight)",
            ),
            (b"TRACE / HTTP/1.1\r\n", "an HTTP TRACE request"),
            (
                b"CONNECT printer:9100 HTTP/1.1\r\n",
                "an HTTP CONNECT request",
            ),
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                "the HTTP/2 connection preface",
            ),
            (
                b"GET http://127.0.0.1:9100/ HTTP/1.1\r\n",
                "an HTTP GET request",
            ),
            (
                b"POST HTTPS://printer/ HTTP/1.1\r\n",
                "an HTTP POST request",
            ),
            (b"get / HTTP/1.1\r\n", OTHER_METHOD),
            (b"PROPFIND /dav HTTP/1.1\r\n", OTHER_METHOD),
            (b"GET printer HTTP/1.0\r\n", OTHER_METHOD),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", TLS),
        ] {
            assert_eq!(first_bytes(req), Verdict::Refuse(why), "{req:?}");
            assert_eq!(at_end(req), Verdict::Refuse(why), "{req:?}");
        }
    }

    #[test]
    fn a_short_prefix_waits_for_more() {
        for p in [
            &b""[..],
            b"P",
            b"PO",
            b"POS",
            b"POST",
            b"POST ",
            b"OPTIONS",
            b"GET h",
            b"GET https:/",
            b"Elmwood",
            b"Elmwood Library",
            b"FOO /x HTTP/1",
            b"\x16\x03\x01\x00",
        ] {
            assert_eq!(first_bytes(p), Verdict::Undecided, "{p:?}");
            assert_eq!(at_end(p), Verdict::Job, "{p:?}");
        }
    }

    #[test]
    fn print_jobs_are_jobs() {
        for job in [
            // An init before the method: no browser sends that.
            &b"\x1b@POST / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"\x1b@Elmwood Library\nCheckout receipt\n\x1dV\x00",
            b"\x10\x04\x01",
            b"Elmwood Library\nDue: 2026-11-24\nHost: the front desk\n",
            b"Checkout receipt for 2 items\n",
            b"GET WELL SOON\n",
            b"POSTCARD from the library\n",
            b"\x1b\x1d\x03\x04\x00\x00",
            b"\x16\x03\x05",
            b"\r\nGET / HTTP/1.1\r\n",
            b"Note: HTTP/1.1 is a protocol\n",
        ] {
            assert_eq!(first_bytes(job), Verdict::Job, "{job:?}");
        }
    }

    #[test]
    fn a_first_line_undecided_past_the_cap_is_a_job() {
        let mut long = b"AAAA /".to_vec();
        long.resize(MAX_UNDECIDED - 1, b'a');
        assert_eq!(first_bytes(&long), Verdict::Undecided);
        long.push(b'a');
        assert_eq!(first_bytes(&long), Verdict::Job);
        long.extend(b" HTTP/1.1\r\n");
        assert_eq!(first_bytes(&long), Verdict::Job);
        // A listed method is refused at its target, whatever its length.
        let mut post = b"POST /".to_vec();
        post.resize(MAX_UNDECIDED * 2, b'a');
        assert_eq!(first_bytes(&post), Verdict::Refuse("an HTTP POST request"));
    }

    #[test]
    fn a_decided_verdict_never_changes() {
        let jobs: [&[u8]; 5] = [
            b"POST /print HTTP/1.1\r\n\r\nbody",
            b"PROPFIND /dav HTTP/1.1\r\n",
            b"\x1b@text\n",
            b"GET WELL SOON HTTP/1.1\n",
            b"\x16\x03\x01\x00\x10\x01rest",
        ];
        for job in jobs {
            let v = verdicts(job);
            let first = v.iter().position(|v| *v != Verdict::Undecided).unwrap();
            assert!(v[first..].iter().all(|x| *x == v[first]), "{job:?}: {v:?}");
        }
    }
}
