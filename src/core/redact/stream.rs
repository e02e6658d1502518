//! Redaction of a job read in pieces ([`Redactor::stream`]): one segment in memory at a time.
//!
//! Owns [`Pass`], one round of redaction over bytes that come in chunks (the whole job, for
//! [`Redactor::segments`], is one chunk), and the streamed rounds: each round after the
//! first reads the output of the round before it as that output comes, and starts (as a copy
//! of the round before it, at the start of the first segment that round changed) only where
//! it is needed, so the output is what [`Redactor::job`] prints, segment by segment. Never
//! puts slip bytes in an error.

use super::dialect::{self, Misread};
use super::order::Order;
use super::{Blocked, Printed, QrState, Reason, Redactor, Report, Scratch, Segment};
use crate::core::profile::Profile;
use crate::core::text::Decoder;
use crate::core::tokenize::{Token, Tokenizer};
use std::fmt;
use std::io;

/// A segment one [`Pass`] closed.
pub(super) struct Closed<'p> {
    pub segment: Segment,
    /// 1-based, within the job.
    pub number: usize,
    /// The output differs from the bytes the segment was read from.
    pub changed: bool,
    /// The pass as it was when the segment began (when the pass keeps them, see
    /// [`Pass::keep_starts`]).
    pub before: Option<Box<Pass<'p>>>,
}

/// One round of redaction over a job fed in chunks. Keeps the open segment's bytes and
/// tokens, and the state carried from segment to segment.
pub(super) struct Pass<'p> {
    t: Tokenizer,
    st: State<'p>,
}

struct State<'p> {
    profile: &'p Profile,
    /// `t`'s state at the open segment's start.
    at_rest: Tokenizer,
    /// The other dialect's reader and what it misread, for the wrong-dialect check of a job
    /// that is never whole in memory.
    other: Option<(Tokenizer, Misread)>,
    misread: Misread,
    dec: Decoder<'p>,
    qr: QrState,
    order: Order,
    printed: Printed,
    /// Segments closed.
    number: usize,
    report: Report,
    /// The open segment's tokens so far.
    tokens: Vec<Token>,
    /// The open segment's bytes from chunks before the current one.
    pending: Vec<u8>,
    /// Where the open segment starts.
    seg_start: u64,
    keep_starts: bool,
}

impl<'p> Pass<'p> {
    /// `other`: also read the job with the other dialect's table, as
    /// [`dialect::wrong`] would read it whole.
    pub(super) fn new(profile: &'p Profile, other: bool) -> Self {
        let t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
        Pass {
            st: State {
                profile,
                at_rest: t.clone(),
                other: other.then(|| (dialect::other_reader(profile.dialect), Misread::default())),
                misread: Misread::default(),
                dec: Decoder::new(profile),
                qr: QrState::default(),
                order: Order::default(),
                printed: Printed {
                    reader: t.clone(),
                    all: true,
                },
                number: 0,
                report: Report::default(),
                tokens: Vec::new(),
                pending: Vec::new(),
                seg_start: 0,
                keep_starts: false,
            },
            t,
        }
    }

    /// Whether each [`Closed`] carries the pass as it was at its segment's start.
    pub(super) fn keep_starts(&mut self, yes: bool) {
        self.st.keep_starts = yes;
    }

    /// The counts so far, and the tokens the profile's dialect did not understand in the
    /// segments closed.
    pub(super) fn totals(&self) -> (Report, Misread) {
        (self.st.report.clone(), self.st.misread)
    }

    /// What the other dialect misread (nothing when not asked for).
    pub(super) fn other_misread(&self) -> Misread {
        self.st.other.as_ref().map(|o| o.1).unwrap_or_default()
    }

    pub(super) fn segments(&self) -> usize {
        self.st.number
    }

    /// Read the next chunk; every segment it closes is redacted and handed to `on`.
    pub(super) fn feed(
        &mut self,
        r: &Redactor,
        chunk: &[u8],
        scratch: &mut Scratch,
        on: &mut impl FnMut(Closed<'p>),
    ) {
        let base = self.t.position();
        let st = &mut self.st;
        self.t.feed(chunk, &mut |tok: Token| {
            st.tokens.push(tok);
            if !tok.kind.ends_segment() {
                return;
            }
            let end = (tok.offset + tok.len - base) as usize;
            if st.pending.is_empty() {
                let from = (st.seg_start - base) as usize;
                st.close(r, &chunk[from..end], scratch, on);
            } else {
                let mut bytes = std::mem::take(&mut st.pending);
                bytes.extend_from_slice(&chunk[..end]);
                st.close(r, &bytes, scratch, on);
                bytes.clear();
                st.pending = bytes;
            }
        });
        // The open segment's bytes in this chunk wait for the rest of the segment. Grown by
        // a quarter at a time: one long segment should not cost twice its size.
        let rest = &chunk[(st.seg_start.max(base) - base) as usize..];
        let p = &mut st.pending;
        if p.capacity() - p.len() < rest.len() {
            p.reserve_exact(rest.len().max(p.len() / 4));
        }
        p.extend_from_slice(rest);
    }

    /// The job ended: the open segment closes.
    pub(super) fn finish(
        &mut self,
        r: &Redactor,
        scratch: &mut Scratch,
        on: &mut impl FnMut(Closed<'p>),
    ) {
        let st = &mut self.st;
        self.t.finish(&mut |tok: Token| st.tokens.push(tok));
        if !st.tokens.is_empty() {
            let bytes = std::mem::take(&mut st.pending);
            st.close(r, &bytes, scratch, on);
        }
        if let Some((t, m)) = &mut st.other {
            t.finish(&mut |x: Token| m.take(&x));
        }
    }
}

impl<'p> State<'p> {
    /// This state at the open segment's start, as a pass of its own.
    fn at_start(&self) -> Pass<'p> {
        Pass {
            t: self.at_rest.clone(),
            st: State {
                profile: self.profile,
                at_rest: self.at_rest.clone(),
                other: self.other.clone(),
                misread: self.misread,
                dec: self.dec.clone(),
                qr: self.qr.clone(),
                order: self.order.clone(),
                printed: self.printed.clone(),
                number: self.number,
                report: self.report.clone(),
                tokens: Vec::new(),
                pending: Vec::new(),
                seg_start: self.seg_start,
                keep_starts: self.keep_starts,
            },
        }
    }

    /// Close the open segment, whose bytes are `bytes`.
    fn close(
        &mut self,
        r: &Redactor,
        bytes: &[u8],
        scratch: &mut Scratch,
        on: &mut impl FnMut(Closed<'p>),
    ) {
        let before = self.keep_starts.then(|| Box::new(self.at_start()));
        for t in &self.tokens {
            self.misread.take(t);
        }
        if let Some((t, m)) = &mut self.other {
            t.feed(bytes, &mut |x: Token| m.take(&x));
        }
        self.number += 1;
        let (segment, report) = r.segment(
            self.profile,
            bytes,
            self.seg_start,
            &self.tokens,
            &mut self.dec,
            &mut self.qr,
            &mut self.order,
            self.number,
            scratch,
            &mut self.printed,
        );
        self.report.add(&report);
        let changed = segment.output.as_ref().is_ok_and(|o| o.as_slice() != bytes);
        if self.tokens.last().is_some_and(|t| t.kind.ends_segment()) {
            self.at_rest
                .advance_over(&self.tokens, bytes, self.seg_start);
        }
        self.seg_start += bytes.len() as u64;
        self.tokens.clear();
        on(Closed {
            segment,
            number: self.number,
            changed,
            before,
        });
    }
}

/// Why [`Redactor::stream`] printed nothing.
#[derive(Debug)]
pub enum StreamError {
    /// Reading the job failed.
    Read(io::Error),
    /// The sink failed.
    Write(io::Error),
    /// A segment failed closed (the first one, as [`Redactor::job`] says it).
    Blocked(Blocked),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read(e) => write!(f, "cannot read the job: {e}"),
            StreamError::Write(e) => write!(f, "cannot write the redacted job: {e}"),
            StreamError::Blocked(b) => b.fmt(f),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Read(e) | StreamError::Write(e) => Some(e),
            StreamError::Blocked(b) => Some(b),
        }
    }
}

/// How much of the job is read at a time.
const CHUNK: usize = 64 * 1024;

impl Redactor {
    /// [`Redactor::job`] for a job read from `input` in chunks: each segment is redacted as
    /// it closes, and what is printed goes to `sink` segment by segment. Memory follows the
    /// largest segment, not the job.
    ///
    /// The rounds that settle the output ([`Redactor::segments`]) run side by side: round
    /// `n + 1` reads round `n`'s output as it comes, starting at the first segment round `n`
    /// changed (it read the same bytes as round `n` up to there, so it starts as a copy of
    /// round `n` at that segment). The wrong-dialect check counts both dialects' misread
    /// tokens on the way and decides at the end.
    ///
    /// **The sink receives bytes before the job is known to print**: a segment late in the
    /// job can still fail closed (or the whole job turn out to be in the other dialect). On
    /// `Err`, whatever the sink received must be thrown away, not printed. On `Ok`, the sink
    /// received exactly what [`Redactor::job`] returns, and the report is its report.
    pub fn stream(
        &self,
        profile: &Profile,
        input: impl io::Read,
        sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<Report, StreamError> {
        self.stream_chunked(profile, input, sink, CHUNK)
    }

    /// [`Redactor::stream`], reading at most `chunk` bytes at a time (for tests).
    #[doc(hidden)]
    pub fn stream_chunked(
        &self,
        profile: &Profile,
        mut input: impl io::Read,
        sink: impl FnMut(&[u8]) -> io::Result<()>,
        chunk: usize,
    ) -> Result<Report, StreamError> {
        let mut first = Pass::new(profile, self.cfg.enabled);
        first.keep_starts(self.cfg.enabled && self.rounds > 0);
        let mut c = Rounds {
            r: self,
            profile,
            passes: vec![first],
            fails: vec![None],
            ranges: Vec::new(),
            scratch: Scratch::default(),
            sink,
        };
        let mut buf = vec![0u8; chunk.max(1)];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Read(e)),
            };
            c.feed(0, &buf[..n]).map_err(StreamError::Write)?;
        }
        drop(buf);
        let mut level = 0;
        while level < c.passes.len() {
            let mut closed = Vec::new();
            c.passes[level].finish(self, &mut c.scratch, &mut |x| closed.push(x));
            c.take(level, closed).map_err(StreamError::Write)?;
            level += 1;
        }
        c.verdict().map_err(StreamError::Blocked)
    }
}

/// The rounds of a streamed job: `passes[i]` is round `i + 1`.
struct Rounds<'r, 'p, S> {
    r: &'r Redactor,
    profile: &'p Profile,
    passes: Vec<Pass<'p>>,
    /// Each round's first segment that failed closed (as [`Redactor::segments`] reports it).
    fails: Vec<Option<Blocked>>,
    /// The first round's segments (start, end): a later round's failure names them.
    ranges: Vec<(u64, u64)>,
    scratch: Scratch,
    sink: S,
}

impl<'p, S: FnMut(&[u8]) -> io::Result<()>> Rounds<'_, 'p, S> {
    fn failed(&self) -> bool {
        self.fails.iter().any(Option::is_some)
    }

    /// Segment `number` of the first round, not settled.
    fn unstable(&self, number: usize) -> Blocked {
        let (start, end) = self
            .ranges
            .get(number - 1)
            .or(self.ranges.last())
            .copied()
            .unwrap_or_default();
        Blocked {
            segment: number,
            start,
            end,
            reason: Reason::Unstable { at: start },
        }
    }

    fn feed(&mut self, level: usize, bytes: &[u8]) -> io::Result<()> {
        let mut closed = Vec::new();
        self.passes[level].feed(self.r, bytes, &mut self.scratch, &mut |x| closed.push(x));
        self.take(level, closed)
    }

    /// Segments that round `level + 1` closed: to the next round, or printed when this is
    /// the last round and they are settled; a changed one starts the next round.
    fn take(&mut self, level: usize, closed: Vec<Closed<'p>>) -> io::Result<()> {
        for c in closed {
            if level == 0 {
                self.ranges.push((c.segment.start, c.segment.end));
            }
            let out = match c.segment.output {
                Ok(out) => out,
                Err(b) => {
                    if self.fails[level].is_none() {
                        self.fails[level] = Some(match level {
                            0 => b,
                            _ => self.unstable(c.number),
                        });
                    }
                    continue;
                }
            };
            if level + 1 < self.passes.len() {
                self.feed(level + 1, &out)?;
            } else if c.changed && self.r.cfg.enabled {
                match c.before {
                    // Round `level + 2` read the same bytes as this one up to here.
                    Some(before) if level < self.r.rounds => {
                        let mut next = *before;
                        next.keep_starts(level + 1 < self.r.rounds);
                        self.passes[level].keep_starts(false);
                        self.passes.push(next);
                        self.fails.push(None);
                        self.feed(level + 1, &out)?;
                    }
                    // Still changing in the last round: not settled.
                    _ => {
                        if self.fails[level].is_none() {
                            self.fails[level] = Some(self.unstable(c.number));
                        }
                    }
                }
            } else if !self.failed() {
                (self.sink)(&out)?;
            }
        }
        Ok(())
    }

    /// After the last round ended: the report, or the segment [`Redactor::job`] fails on.
    fn verdict(&mut self) -> Result<Report, Blocked> {
        let dialect = self.profile.dialect;
        let (report, own) = self.passes[0].totals();
        if !self.r.cfg.enabled {
            return self.fails[0].take().map_or(Ok(report), Err);
        }
        let first = self.ranges.first().copied().unwrap_or_default();
        if let Some(reason) = dialect::verdict(dialect, own, self.passes[0].other_misread()) {
            return Err(Blocked {
                segment: 1,
                start: first.0,
                end: first.1,
                reason,
            });
        }
        if let Some(b) = self.fails[0].take() {
            return Err(b);
        }
        let count = self.passes[0].segments();
        for level in 1..self.passes.len() {
            let p = &self.passes[level];
            let wrong = dialect::verdict(dialect, p.totals().1, p.other_misread()).is_some();
            let last = level + 1 == self.passes.len();
            if last && !wrong && self.fails[level].is_none() {
                break; // settled: this round changed nothing
            }
            if wrong || !last && p.segments() != count {
                return Err(self.unstable(1));
            }
            if let Some(b) = self.fails[level].take() {
                return Err(b);
            }
        }
        Ok(report)
    }
}
