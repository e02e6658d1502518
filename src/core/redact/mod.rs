//! Redaction: patron data down to the minimum each slip needs.
//!
//! Owns splitting a job into segments (DESIGN §5: a cut, a query that expects a reply, the
//! end of the job), finding patron data in each segment's logical lines ([`detect`]),
//! choosing what to print instead ([`action`], per slip-type policy), and rewriting exactly
//! the bytes of the masked characters — every command byte stays as it came. Barcodes and
//! 2-D codes that carry patron data become a text line with the masked value.
//!
//! Fails closed: a segment with a truncated or over-cap command, unreadable text, text that
//! may print out of byte order ([`Reason::PrintOrder`]), or (when configured) images is not
//! printed; nor is any segment of a job in the other dialect ([`Reason::WrongDialect`]). Must not read files, sockets or the clock, and
//! never puts a patron value in an error, a report or a `Debug` output.

pub mod action;
pub mod config;
mod detect;
mod dialect;
mod labels;
mod lexicon;
mod order;
mod stream;

pub use stream::StreamError;

use crate::core::profile::Profile;
use crate::core::symbol;
use crate::core::text::{Chars, Decoder, LineCollector, Lines};
use crate::core::tokenize::{DataKind, Dialect, Token, TokenKind, Tokenizer};
use action::{fold, Action, Out};
use config::{Gate, RedactConfig};
use detect::{Detectors, Finding};
use std::fmt;

/// Kinds of patron data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Card,
    Name,
    Email,
    Phone,
    Address,
    Birthdate,
    Custom,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Card,
        Kind::Name,
        Kind::Email,
        Kind::Phone,
        Kind::Address,
        Kind::Birthdate,
        Kind::Custom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Card => "card",
            Kind::Name => "name",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Address => "address",
            Kind::Birthdate => "birthdate",
            Kind::Custom => "custom",
        }
    }
}

/// Counts of what a run did. Never a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Values redacted, by kind (indexed like [`Kind::ALL`]).
    pub redacted: [u64; 7],
    /// Barcodes and 2-D codes replaced by a masked text line.
    pub symbols: u64,
    /// Images passed through (or blocked).
    pub images: u64,
    pub segments: u64,
    /// Segments not printed (failed closed).
    pub blocked: u64,
}

impl Report {
    pub fn count(&self, kind: Kind) -> u64 {
        self.redacted[kind as usize]
    }

    pub fn total(&self) -> u64 {
        self.redacted.iter().sum::<u64>() + self.symbols
    }

    /// Takes in what another redaction of the same slip found (an HTML slip's text, redacted
    /// before it was laid out; this one then read its redacted values again): per kind, and
    /// for symbols, the larger of the two counts. Segments are this report's.
    pub fn merge(&mut self, o: &Report) {
        for (a, b) in self.redacted.iter_mut().zip(o.redacted) {
            *a = (*a).max(b);
        }
        self.symbols = self.symbols.max(o.symbols);
    }

    fn add(&mut self, o: &Report) {
        for (a, b) in self.redacted.iter_mut().zip(o.redacted) {
            *a += b;
        }
        self.symbols += o.symbols;
        self.images += o.images;
        self.segments += o.segments;
        self.blocked += o.blocked;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redacted")?;
        for k in Kind::ALL {
            write!(f, " {} {}", k.label(), self.count(k))?;
        }
        write!(
            f,
            ", symbols {}, images {}; {} segment(s), {} blocked",
            self.symbols, self.images, self.segments, self.blocked
        )
    }
}

/// Why a segment was not printed. Carries offsets and command names, never slip text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A command's declared length runs past the end of the job.
    Truncated { at: u64, command: &'static str },
    /// A command larger than the size cap.
    OverCap { at: u64, command: &'static str },
    /// Text the decoder cannot read (a code page the profile does not map, invalid UTF-8).
    Undecodable { at: u64 },
    /// An image, and the configuration blocks images.
    Image { at: u64 },
    /// User-defined glyphs, which can make text print as anything.
    Glyphs { at: u64 },
    /// The rewritten text would change how a command next to it reads (text that followed
    /// an incomplete command prefix, for example), or a letter the action moves would print
    /// under another code page.
    Rewrite { at: u64 },
    /// Redacting the segment's output again would still change it (or fail closed) after
    /// the last round ([`Redactor::rounds`]): what it would print is not settled, so nothing
    /// is.
    Unstable { at: u64 },
    /// Text (or a printed barcode or 2-D code) at byte `text` may print somewhere other than
    /// after the bytes before it, because of `command` at byte `at`: the detectors, which
    /// read in byte order, could see a value without the label printed beside it.
    ///
    /// The rules, kept per job across segments, in motion units (dots at the default unit):
    ///
    /// * **Page mode** (`why` [`Disorder::PageMode`]): from `ESC L` until `ESC S`, `FF`
    ///   (which prints the page) or `ESC @`, any text, printed barcode or printed 2-D code
    ///   fails; it is laid out on a page (`ESC W` area, `ESC T` direction, `GS $` / `GS \`
    ///   and `ESC $` / `ESC \` positions) and printed in any order. Page mode entered and
    ///   left with no text in it prints as the bytes come, and passes.
    /// * **Moving left** ([`Disorder::MovesLeft`]): on each line (reset by `LF`, `FF`, a
    ///   feed such as `ESC d` / `ESC J` / Star `ESC a`, a cut, `ESC @`) the print position
    ///   has a lower bound: 0 at the line start, plus 8 units for every character printed
    ///   (no supported font is narrower than 9 dots; UTF-8 continuation bytes do not count).
    ///   `ESC $ nL nH` / Star `ESC GS A n1 n2` set it to n; an n below the bound moves left.
    ///   `ESC \ nL nH` / Star `ESC GS R n1 n2` move by n read as a signed 16-bit amount: a
    ///   non-negative one adds to the bound, a negative one moves left. Text after a move
    ///   left on the same line fails; a move left with no text after it on the line passes.
    ///   So columns set with non-decreasing absolute positions that clear the text before
    ///   them, and non-negative relative moves, pass. `CR` does not reset the bound
    ///   (printers that ignore it would overprint).
    /// * **Reverse feed** ([`Disorder::ReverseFeed`]): after ESC/POS `ESC e` or `ESC K`
    ///   (print and feed backwards), any text or printed symbol before the next cut fails.
    PrintOrder {
        at: u64,
        command: &'static str,
        text: u64,
        why: Disorder,
    },
    /// The job does not parse as the profile's dialect `profile` but does as `likely`:
    /// `misread` tokens (unknown or malformed commands, control bytes that are no command; the
    /// first at byte `at`) in the profile's dialect, and fewer than a third as many in the other
    /// (and at least 2). Every segment of the job fails closed: read with the wrong command
    /// table, its text is not what the printer prints.
    WrongDialect {
        at: u64,
        misread: u64,
        profile: Dialect,
        likely: Dialect,
    },
}

/// Why text may print out of byte order (see [`Reason::PrintOrder`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disorder {
    /// Text in page mode.
    PageMode,
    /// Text after the print position moved left on its line.
    MovesLeft,
    /// Text after the paper was fed backwards.
    ReverseFeed,
}

impl fmt::Display for Disorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disorder::PageMode => {
                "enters page mode, where text is laid out on a page and may print in any order"
            }
            Disorder::MovesLeft => {
                "moves the print position left of text already on the line, so later bytes \
                 can print before or over earlier ones"
            }
            Disorder::ReverseFeed => {
                "feeds the paper backwards, so later text can print beside or above earlier \
                 lines"
            }
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Truncated { at, command } => {
                write!(f, "{command} at byte {at} runs past the end of the job")
            }
            Reason::OverCap { at, command } => {
                write!(
                    f,
                    "{command} at byte {at} is larger than the command size limit"
                )
            }
            Reason::Undecodable { at } => write!(
                f,
                "text at byte {at} cannot be decoded with the printer profile's code pages"
            ),
            Reason::Image { at } => write!(f, "image at byte {at} (images = \"block\")"),
            Reason::Glyphs { at } => write!(f, "user-defined characters at byte {at}"),
            Reason::Rewrite { at } => write!(
                f,
                "redacting the text would change the commands of the segment at byte {at}, or \
                 move a letter under another code page"
            ),
            Reason::Unstable { at } => write!(
                f,
                "the segment at byte {at} does not settle: its redacted output still changes, \
                 or fails closed, when it is redacted again"
            ),
            Reason::WrongDialect {
                at,
                misread,
                profile,
                likely,
            } => {
                let (name, advice) = match likely {
                    Dialect::StarLine => ("Star Line Mode", "a star-line"),
                    Dialect::EscPos => ("ESC/POS", "an escpos"),
                };
                write!(
                    f,
                    "the job does not parse as the printer profile's dialect ({profile}: \
                     {misread} unknown commands or bytes, the first at byte {at}); it looks \
                     like {name}; use {advice} printer profile"
                )
            }
            Reason::PrintOrder {
                at,
                command,
                text,
                why,
            } => write!(
                f,
                "print order may differ from byte order: {command} at byte {at} {why} \
                 (text at byte {text})"
            ),
        }
    }
}

/// A segment that failed closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// 1-based segment number within the job.
    pub segment: usize,
    pub start: u64,
    pub end: u64,
    pub reason: Reason,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment {} (bytes {}-{}) not printed: {}",
            self.segment, self.start, self.end, self.reason
        )
    }
}

impl std::error::Error for Blocked {}

/// One segment's outcome.
pub struct Segment {
    pub start: u64,
    pub end: u64,
    /// The bytes to print, or why nothing is printed.
    pub output: Result<Vec<u8>, Blocked>,
}

/// Segment bytes can hold patron data: `Debug` shows sizes only.
impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("output_len", &self.output.as_ref().map(Vec::len))
            .finish()
    }
}

/// Is `word` (any case) a name particle (`de`, `van`) or a courtesy title of the lexicons:
/// a word that stands in other names and titles too, so it is not masked wherever else it
/// stands when a name holds it.
pub fn is_name_particle_or_title(word: &str) -> bool {
    let lex = lexicon::get();
    lex.honorifics.contains(word) || lex.particles.contains(word)
}

/// A value a redaction changed, for showing a person why (`preview`): the job bytes it
/// stood on, its kind and what found it. Never the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub start: u64,
    pub end: u64,
    pub kind: Kind,
    pub by: FoundBy,
}

/// What found a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FoundBy {
    /// The label before it (`Card number:`).
    Label,
    /// Its shape (a Codabar card number, an e-mail address, a phone number) or its place
    /// (a name line beside a card, a name found elsewhere on the slip).
    Shape,
    /// A site rule (`[[redact.rule]]`).
    Rule,
}

impl FoundBy {
    pub fn label(self) -> &'static str {
        match self {
            FoundBy::Label => "label",
            FoundBy::Shape => "shape",
            FoundBy::Rule => "rule",
        }
    }
}

/// What `segments` print: the outputs of those that did not fail closed, in order.
pub fn printed(segments: &[Segment]) -> Vec<u8> {
    let ok = || segments.iter().filter_map(|s| s.output.as_ref().ok());
    let mut out = Vec::with_capacity(ok().map(Vec::len).sum());
    for bytes in ok() {
        out.extend_from_slice(bytes);
    }
    out
}

/// Redacts jobs for one configuration (patterns compiled once).
pub struct Redactor {
    cfg: RedactConfig,
    detectors: Detectors,
    /// Every action a name can get (default and per policy): a name already in one of
    /// these forms is an earlier run's output.
    name_actions: Vec<Action>,
    /// [`Redactor::labels`], listed once.
    labels: Vec<String>,
    /// See [`Redactor::rounds`].
    rounds: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("enabled", &self.cfg.enabled)
            .finish()
    }
}

impl Redactor {
    pub fn new(cfg: RedactConfig) -> Self {
        let detectors = Detectors::new(&cfg);
        let mut name_actions = vec![cfg.actions.name.clone()];
        for p in &cfg.policies {
            if !name_actions.contains(&p.actions.name) {
                name_actions.push(p.actions.name.clone());
            }
        }
        Redactor {
            labels: detect::all_labels(&cfg),
            cfg,
            detectors,
            name_actions,
            rounds: ROUNDS,
        }
    }

    /// How many rounds of redaction may settle a job's output ([`ROUNDS`] unless set; at
    /// least 1). See [`Redactor::segments`].
    pub fn rounds(mut self, n: usize) -> Self {
        self.rounds = n.max(1);
        self
    }

    /// Every field label the detectors read values after (lower case). Typesetting keeps
    /// each on one line with the word after it, so a wrapped line never parts a label from
    /// its value.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn config(&self) -> &RedactConfig {
        &self.cfg
    }

    /// Redact a whole job: every segment's outcome, and the counts.
    ///
    /// What is printed is settled: redacting it again changes nothing. The detectors read
    /// context (a line above, a label before a value), and masking one value can change the
    /// context of another — an address below a line that now reads as a redacted name is the
    /// patron's. So a job whose output differs from its input is redacted again, as a whole,
    /// until its output stays the same (one more round for nearly every slip); a segment
    /// still changing after [`Redactor::rounds`] rounds fails closed. The counts are the
    /// first round's.
    pub fn segments(&self, profile: &Profile, job: &[u8]) -> (Vec<Segment>, Report) {
        self.segments_found(profile, job, None)
    }

    /// [`Redactor::segments`], and (into `found`, when given) the values its first round
    /// changed.
    fn segments_found(
        &self,
        profile: &Profile,
        job: &[u8],
        found: Option<&mut Vec<Found>>,
    ) -> (Vec<Segment>, Report) {
        // One set of buffers for every round and segment of the job.
        let mut scratch = Scratch {
            found: found.is_some().then(Vec::new),
            ..Scratch::default()
        };
        let (mut segs, mut report, misread) = self.segments_once(profile, job, &mut scratch);
        if let Some(f) = found {
            *f = scratch.found.take().unwrap_or_default();
        }
        if !self.cfg.enabled {
            return (segs, report);
        }
        if let Some(reason) = dialect::wrong(profile.dialect, job, misread) {
            // Read with the wrong table, what was found means nothing: nothing is counted.
            report.redacted = [0; 7];
            report.symbols = 0;
            for (i, s) in segs.iter_mut().enumerate() {
                if s.output.is_ok() {
                    report.blocked += 1;
                }
                s.output = Err(Blocked {
                    segment: i + 1,
                    start: s.start,
                    end: s.end,
                    reason: reason.clone(),
                });
            }
            return (segs, report);
        }
        if segs.iter().any(|s| s.output.is_err()) {
            return (segs, report);
        }
        let mut out = printed(&segs);
        if out == job {
            return (segs, report);
        }
        // Rounds 2 to `rounds` may still change the output; the round after them only checks.
        let mut round = 1;
        loop {
            round += 1;
            let (again, _, misread) = self.segments_once(profile, &out, &mut scratch);
            // The output, read alone, must not look like the other dialect either (masking
            // text can change how the other dialect's table reads a job): else it is not
            // settled, and nothing of it prints.
            let wrong = dialect::wrong(profile.dialect, &out, misread).is_some();
            let next = printed(&again);
            if !wrong && next == out && again.iter().all(|s| s.output.is_ok()) {
                return (segs, report);
            }
            let matched = again.len() == segs.len() && !wrong;
            let last = round > self.rounds;
            for (i, s) in segs.iter_mut().enumerate() {
                let now = again.get(i).filter(|_| matched).map(|a| &a.output);
                let settled = match now {
                    Some(Ok(b)) => s.output.as_ref().is_ok_and(|o| o == b),
                    _ => false,
                };
                if last && !settled || matches!(now, None | Some(Err(_))) {
                    s.output = Err(Blocked {
                        segment: i + 1,
                        start: s.start,
                        end: s.end,
                        reason: Reason::Unstable { at: s.start },
                    });
                    report.blocked += 1;
                } else if let Some(Ok(b)) = now {
                    s.output = Ok(b.clone());
                }
            }
            if last || segs.iter().any(|s| s.output.is_err()) {
                return (segs, report);
            }
            out = next;
        }
    }

    /// One round of [`Redactor::segments`]. Segments are redacted as the tokenizer closes
    /// them, with `scratch`'s buffers (kept from segment to segment and round to round).
    /// Also counts the tokens the profile's dialect did not understand.
    fn segments_once(
        &self,
        profile: &Profile,
        job: &[u8],
        scratch: &mut Scratch,
    ) -> (Vec<Segment>, Report, dialect::Misread) {
        let mut pass = stream::Pass::new(profile, false);
        let mut out = Vec::new();
        let mut on = |c: stream::Closed| out.push(c.segment);
        pass.feed(self, job, scratch, &mut on);
        pass.finish(self, scratch, &mut on);
        let (report, misread) = pass.totals();
        (out, report, misread)
    }

    /// Redact a whole job into one output; the first blocked segment fails it all.
    pub fn job(&self, profile: &Profile, job: &[u8]) -> Result<(Vec<u8>, Report), Blocked> {
        let (segs, report) = self.segments(profile, job);
        let mut bytes = Vec::with_capacity(job.len());
        for s in segs {
            bytes.extend(s.output?);
        }
        Ok((bytes, report))
    }

    /// [`Redactor::job`], with the values it changed (where they stood in `job`, their kind
    /// and what found them), for a preview that shows why.
    pub fn job_explained(
        &self,
        profile: &Profile,
        job: &[u8],
    ) -> Result<(Vec<u8>, Report, Vec<Found>), Blocked> {
        let mut found = Vec::new();
        let (segs, report) = self.segments_found(profile, job, Some(&mut found));
        let mut bytes = Vec::with_capacity(job.len());
        for s in segs {
            bytes.extend(s.output?);
        }
        Ok((bytes, report, found))
    }

    /// The actions for a slip whose text is `text` (its patron values already blanked out):
    /// those of the first policy whose pattern matches it, else the defaults. For values
    /// found by other means than the detectors (an annotated HTML slip's, [`crate::exact`]).
    pub fn actions_for(&self, text: &str) -> &config::Actions {
        self.cfg
            .policies
            .iter()
            .find(|p| p.matcher.is_match(text))
            .map_or(&self.cfg.actions, |p| &p.actions)
    }

    /// Decode one segment (with `scratch`'s buffers) and redact it.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &self,
        profile: &Profile,
        job: &[u8],
        base: u64,
        seg: &[Token],
        dec: &mut Decoder,
        qr: &mut QrState,
        order: &mut order::Order,
        number: usize,
        scratch: &mut Scratch,
        printed: &mut Printed,
    ) -> (Segment, Report) {
        let start = seg.first().map_or(0, |t| t.offset);
        let end = seg.last().map_or(0, |t| t.offset + t.len);
        let mut report = Report {
            segments: 1,
            ..Report::default()
        };
        let blocked = |reason| Blocked {
            segment: number,
            start,
            end,
            reason,
        };
        let mut sink = std::mem::take(&mut scratch.lines);
        sink.clear();
        // (token index, kind, the number of lines before it, whether it cut a line short)
        let mut symbols: Vec<(usize, DataKind, usize, bool)> = Vec::new();
        let mut fail: Option<Reason> = None;
        for (i, tok) in seg.iter().enumerate() {
            let bytes = &job[tok.range_in(base)];
            match tok.kind {
                TokenKind::Truncated(c) => {
                    fail.get_or_insert(Reason::Truncated {
                        at: tok.offset,
                        command: c.map_or("command", |c| c.name),
                    });
                }
                TokenKind::OverCap(c) => {
                    fail.get_or_insert(Reason::OverCap {
                        at: tok.offset,
                        command: c.name,
                    });
                }
                TokenKind::Data { kind, .. } => match kind {
                    DataKind::Image => {
                        report.images += 1;
                        if self.cfg.images == Gate::Block {
                            fail.get_or_insert(Reason::Image { at: tok.offset });
                        }
                    }
                    DataKind::Glyphs if self.cfg.glyphs == Gate::Block => {
                        fail.get_or_insert(Reason::Glyphs { at: tok.offset });
                    }
                    _ => symbols.push((i, kind, usize::MAX, sink.line_open())),
                },
                _ => {}
            }
            if let Some(r) = order.token(profile.dialect, tok, bytes) {
                if self.cfg.enabled {
                    fail.get_or_insert(r);
                }
            }
            dec.token(tok, bytes, &mut sink);
            if let Some(last) = symbols.last_mut() {
                if last.0 == i {
                    last.2 = sink.count();
                }
            }
        }
        let lines = sink.finish(end);
        if fail.is_none() && self.cfg.undecodable == Gate::Block {
            if let Some(at) = undecodable(&lines) {
                fail = Some(Reason::Undecodable { at });
            }
        }
        let output = match fail {
            Some(reason) => {
                // Not printed: from here the printer reads from another state than the job's
                // tokenizer did.
                printed.all = false;
                report.blocked = 1;
                Err(blocked(reason))
            }
            None if !self.cfg.enabled => {
                Ok(job[(start - base) as usize..(end - base) as usize].to_vec())
            }
            None => {
                let out = self.rewrite(
                    profile,
                    job,
                    base,
                    seg,
                    &lines,
                    &symbols,
                    qr,
                    scratch,
                    &mut report,
                );
                match out.filter(|out| printed.take(job, base, seg, out)) {
                    Some(out) => Ok(out),
                    None => {
                        printed.all = false;
                        report.blocked = 1;
                        Err(blocked(Reason::Rewrite { at: start }))
                    }
                }
            }
        };
        scratch.lines = lines.recycle();
        (Segment { start, end, output }, report)
    }

    /// The redacted bytes of a decoded segment (`seg`, whose lines are `lines`, and whose
    /// barcodes and 2-D codes are `symbols`); `None` when a value cannot be rewritten safely
    /// (see [`char_edits`]).
    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &self,
        profile: &Profile,
        job: &[u8],
        base: u64,
        seg: &[Token],
        lines: &Lines,
        symbols: &[(usize, DataKind, usize, bool)],
        qr: &mut QrState,
        scratch: &mut Scratch,
        report: &mut Report,
    ) -> Option<Vec<u8>> {
        let start = seg.first().map_or(0, |t| t.offset);
        let end = seg.last().map_or(0, |t| t.offset + t.len);

        // Detection sees the segment as it will print: a barcode or 2-D code holding a card
        // number is a masked text line where it stands. (Redacting the output again then sees
        // the same structure, so it changes nothing.)
        let mut synthetic: Vec<(usize, String)> = Vec::new();
        let mut stored_card: Option<String> = qr.masked_text.clone();
        // Each symbol's data as text (a barcode's, a stored 2-D code's), read once.
        let mut payloads: Vec<Option<String>> = Vec::with_capacity(symbols.len());
        for &(i, kind, pos, _) in symbols {
            let tok = seg[i];
            let bytes = &job[tok.range_in(base)];
            let payload = match kind {
                DataKind::Barcode => symbol::barcode(profile.dialect, &tok, bytes).map(|x| x.1),
                DataKind::Code2dStore => symbol::code2d(profile.dialect, &tok, bytes)
                    .map(|x| String::from_utf8_lossy(&x.1).into_owned()),
                _ => None,
            };
            if kind == DataKind::Code2dStore {
                stored_card = payload
                    .as_deref()
                    .filter(|t| self.has_card(t))
                    .map(str::to_owned);
            }
            payloads.push(payload);
            let text = match kind {
                DataKind::Barcode => payloads.last().and_then(Option::as_deref),
                DataKind::Code2dPrint => stored_card.as_deref(),
                _ => None,
            };
            if let Some(t) = text.filter(|t| self.has_card(t)) {
                let line = self.symbol_line(t, &self.cfg.actions);
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                synthetic.push((pos, line));
            }
        }
        let mut texts: Vec<&str> = Vec::with_capacity(lines.len() + synthetic.len());
        let real = &mut scratch.real;
        real.clear();
        let mut syn = synthetic.iter().peekable();
        for (li, l) in lines.iter().enumerate() {
            while let Some((_, t)) = syn.next_if(|(p, _)| *p <= li) {
                texts.push(t);
                real.push(None);
            }
            texts.push(l.text);
            real.push(Some(li));
        }
        for (_, t) in syn {
            texts.push(t);
            real.push(None);
        }
        let columns = profile.columns.font_a as usize;
        detect::join(&texts, &mut scratch.joined, &mut scratch.starts);
        let (seg_text, starts) = (scratch.joined.as_str(), scratch.starts.as_slice());
        let found = self.detectors.find(
            &self.cfg,
            &texts,
            seg_text,
            starts,
            columns,
            &self.name_actions,
            &mut scratch.detect,
        );
        // The slip type is read from the text around the patron values, not from them: a
        // name that happens to read "Hold For" must not change how it is itself written, and
        // redacting the output again must choose the same way.
        let actions = self.policy(
            seg_text,
            starts,
            &found,
            scratch.detect.lower(),
            &mut scratch.blanked,
        );
        // Detection is done: a very long segment's detection buffers go before its output is
        // written out.
        Scratch::shed(
            &mut scratch.joined,
            &mut scratch.blanked,
            &mut scratch.detect,
        );
        let findings = found.into_iter().filter_map(|f| {
            Some(Finding {
                line: real[f.line]?,
                ..f
            })
        });

        let mut edits = Edits::default();
        let Scratch {
            known: known_spans,
            value,
            out,
            found: explained,
            ..
        } = scratch;
        known_spans.clear();
        for f in findings {
            let line = lines.get(f.line).expect("finding on a line");
            let action = match f.rule {
                Some(r) => &self.cfg.rules[r].action,
                None => actions.get(f.kind),
            };
            report.redacted[f.kind as usize] += 1;
            value.clear();
            value.extend(line.text[f.start..f.end].chars());
            action.apply_into(value, out);
            // A value already in its redacted form (an earlier run's output) is no longer
            // patron data: it marks nothing in barcodes.
            if action::changed(value, out) {
                let first = line.text[..f.start].chars().count();
                let chars = line.chars.slice(first..first + value.len());
                // A shorter output is padded with spaces when a column gap (two spaces or a
                // tab) and more text follow, so columns stay. Not after one space: padding
                // there would make a column gap that was not there.
                let rest = &line.text[f.end..];
                let follows = (rest.starts_with("  ") || rest.starts_with('\t'))
                    && rest.chars().any(|c| !c.is_whitespace());
                let pad = follows.then_some(b' ');
                char_edits(job, base, chars, value, out, pad, &mut edits);
                known_spans.push((f.line, f.start, f.end));
                if let (Some(list), Some(a), Some(b)) =
                    (explained.as_mut(), chars.first(), chars.last())
                {
                    list.push(Found {
                        start: a.start(),
                        end: b.end(),
                        kind: f.kind,
                        by: match (f.rule, f.labelled) {
                            (Some(_), _) => FoundBy::Rule,
                            (None, true) => FoundBy::Label,
                            (None, false) => FoundBy::Shape,
                        },
                    });
                }
            }
        }
        // Worked out for the first symbol only: most segments have none.
        let known = std::cell::OnceCell::new();
        let known = || {
            known.get_or_init(|| {
                detect::Known::new(
                    known_spans
                        .iter()
                        .map(|&(li, a, b)| &lines.get(li).expect("finding on a line").text[a..b]),
                )
            })
        };

        // Barcodes and 2-D codes. A symbol prints on a line of its own; the text line that
        // replaces it starts with a line feed when text came before it on the line, so that
        // it reads as its own line again.
        let newline: &[u8] = b"\n";
        for (&(i, kind, _, open), payload) in symbols.iter().zip(payloads) {
            let lead = if open { newline } else { &[][..] };
            let tok = seg[i];
            match kind {
                DataKind::Barcode => {
                    let Some(text) = payload else {
                        continue;
                    };
                    if self.detectors.symbol_is_patron(&text, known()) {
                        report.symbols += 1;
                        let line = self.symbol_line(&text, actions);
                        edits.push(tok.offset, tok.offset + tok.len, &[lead, &line].concat());
                    }
                }
                DataKind::Code2dStore => {
                    let Some(text) = payload else {
                        continue;
                    };
                    if self.detectors.symbol_is_patron(&text, known()) {
                        report.symbols += 1;
                        qr.masked = Some(self.symbol_line(&text, actions));
                        edits.push(tok.offset, tok.offset + tok.len, &[]);
                    } else {
                        qr.masked = None;
                    }
                    qr.masked_text = Some(text).filter(|t| self.has_card(t));
                }
                DataKind::Code2dPrint => {
                    if let Some(line) = &qr.masked {
                        edits.push(tok.offset, tok.offset + tok.len, &[lead, line].concat());
                    }
                }
                _ => {}
            }
        }
        Some(edits.apply(job, base, start, end))
    }

    /// The actions for a segment: those of the first policy whose pattern matches the
    /// segment's text with the found values blanked out, else the defaults.
    /// `lower` is `text` in lower case (at least its ASCII letters), `blanked` a buffer.
    fn policy(
        &self,
        text: &str,
        starts: &[usize],
        found: &[Finding],
        lower: &[u8],
        blanked: &mut Vec<u8>,
    ) -> &config::Actions {
        if self.cfg.policies.is_empty() {
            return &self.cfg.actions;
        }
        // Blanking only takes letters away: a word the text lacks, the blanked text lacks.
        let may_match = |p: &config::Policy| {
            p.needs_one_of.is_empty() || p.needs_one_of.iter().any(|w| w.find(lower).is_some())
        };
        let mut candidates = self.cfg.policies.iter().filter(|p| may_match(p)).peekable();
        if candidates.peek().is_none() {
            return &self.cfg.actions;
        }
        let blanked = detect::blank(text, starts, found, blanked);
        candidates
            .find(|p| p.matcher.is_match(blanked))
            .map_or(&self.cfg.actions, |p| &p.actions)
    }

    /// Does symbol data hold a patron card number?
    fn has_card(&self, text: &str) -> bool {
        text.split(|c: char| !c.is_ascii_digit())
            .any(|run| self.detectors.is_card_run(run))
            || self.detectors.site_card(text)
    }

    /// The text line that replaces a symbol holding patron data: every letter and digit
    /// masked, except what the card action keeps of a card number (its last digits). The
    /// data's own control bytes are masked too, so the line cannot carry commands.
    fn symbol_line(&self, text: &str, actions: &config::Actions) -> Vec<u8> {
        let value: Vec<char> = text.chars().collect();
        let mut out: Vec<u8> = value
            .iter()
            .map(|&c| {
                if c.is_alphanumeric() || !(' '..='~').contains(&c) {
                    b'*'
                } else {
                    c as u8
                }
            })
            .collect();
        let mut i = 0;
        while i < value.len() {
            if !value[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let s = i;
            while i < value.len() && value[i].is_ascii_digit() {
                i += 1;
            }
            let run: String = value[s..i].iter().collect();
            if self.detectors.is_card_run(&run) {
                for (k, o) in actions.card.apply(&value[s..i]).iter().enumerate() {
                    if let (Some(slot), Out::Keep(j)) = (out.get_mut(s + k), o) {
                        *slot = value[s + j] as u8;
                    }
                }
            }
        }
        out.push(b'\n');
        out
    }
}

/// Buffers reused from one segment (and round) of a job to the next, so that a segment
/// allocates little more than its output.
#[derive(Default)]
struct Scratch {
    lines: LineCollector,
    detect: detect::Scratch,
    /// The findings rewritten (line, start, end).
    known: Vec<(usize, usize, usize)>,
    value: Vec<char>,
    out: Vec<Out>,
    blanked: Vec<u8>,
    /// The segment's lines joined, where each starts, and which real line each is (none
    /// for a symbol's text line).
    joined: String,
    starts: Vec<usize>,
    real: Vec<Option<usize>>,
    /// The values changed, when asked for ([`Redactor::job_explained`]).
    found: Option<Vec<Found>>,
}

impl Scratch {
    /// Buffers past this size are not kept from one segment to the next.
    const BIG: usize = 4 << 20;

    /// Give back the detection buffers (a scratch's `joined`, `blanked` and `detect`) that
    /// grew past [`Scratch::BIG`].
    fn shed(joined: &mut String, blanked: &mut Vec<u8>, detect: &mut detect::Scratch) {
        if joined.capacity() > Self::BIG {
            *joined = String::new();
        }
        if blanked.capacity() > Self::BIG {
            *blanked = Vec::new();
        }
        detect.shed(Self::BIG);
    }
}

/// What is printed so far, as the printer reads it.
#[derive(Clone)]
struct Printed {
    reader: Tokenizer,
    /// Every segment so far was printed (none failed closed): the reader has read the same
    /// commands as the job's tokenizer, so it is in the same state at each segment start.
    all: bool,
}

impl Printed {
    /// Whether segment `seg`, rewritten as `out`, prints with its commands kept (see
    /// [`commands_kept`]); if so the reader reads it.
    fn take(&mut self, job: &[u8], base: u64, seg: &[Token], out: &[u8]) -> bool {
        let (start, end) = match (seg.first(), seg.last()) {
            (Some(a), Some(b)) => (
                (a.offset - base) as usize,
                (b.offset + b.len - base) as usize,
            ),
            _ => return commands_kept(job, base, seg, out, &mut self.reader),
        };
        let ends = seg.last().is_some_and(|t| t.kind.ends_segment());
        if ends && self.all && self.reader.is_idle() && out == &job[start..end] {
            // Unchanged, read from the same state as the job's tokenizer read it, and ending
            // in a complete command (not at the end of the job, where that tokenizer was
            // told no more bytes come): the same tokens. (A redacted slip redacted again,
            // every slip without patron data.)
            self.reader.advance_over(seg, job, base);
            return true;
        }
        commands_kept(job, base, seg, out, &mut self.reader)
    }
}

/// Does the rewritten segment `out` hold the same commands as the original, in the same
/// order (barcodes and 2-D codes aside: those with patron data became text), ending where a
/// command ends? Rewriting changes only text, but text next to an incomplete or unknown
/// command prefix could join it. `printed` reads what was printed before; it takes `out`
/// only when the answer is yes.
fn commands_kept(
    job: &[u8],
    job_base: u64,
    seg: &[Token],
    out: &[u8],
    printed: &mut Tokenizer,
) -> bool {
    // Line feeds come with the text lines that replace symbols: commands are compared.
    let keep = |k: &TokenKind| match k {
        TokenKind::Text | TokenKind::Control(_) => false,
        TokenKind::Data { kind, .. } => !matches!(
            kind,
            DataKind::Barcode | DataKind::Code2dStore | DataKind::Code2dPrint
        ),
        _ => true,
    };
    let mut before = seg.iter().filter(|t| keep(&t.kind));
    let mut t = printed.clone();
    let base = t.position();
    let mut same = true;
    t.feed(out, &mut |x: Token| {
        if !same {
            return;
        }
        if x.offset < base {
            same = false; // a token begun before this segment: not where it ended
            return;
        }
        if keep(&x.kind) {
            let s = (x.offset - base) as usize;
            same = before.next().is_some_and(|b| {
                b.kind.label() == x.kind.label()
                    && out.get(s..s + x.len as usize) == Some(&job[b.range_in(job_base)])
            });
        }
    });
    // No command may be left open at the end of the segment, nor one left out.
    same &= !t.in_command() && before.next().is_none();
    if same {
        *printed = t;
    }
    same
}

/// How many rounds of redaction may settle a job's output, by default: the fuzzed inputs
/// that needed more than one settled in two.
pub const ROUNDS: usize = 3;

/// Whether the last 2-D code stored was patron data (then its print command prints this
/// masked line instead).
#[derive(Clone, Default)]
struct QrState {
    masked: Option<Vec<u8>>,
    /// The data of the stored code when it holds a card number.
    masked_text: Option<String>,
}

/// The first character the decoder could not read.
fn undecodable(lines: &Lines) -> Option<u64> {
    // Most segments have none: one search over all the text first.
    let mut buf = [0u8; 4];
    let mark = '\u{FFFD}'.encode_utf8(&mut buf).as_bytes();
    memchr::memmem::find(lines.all_text().as_bytes(), mark)?;
    lines.iter().find_map(|l| {
        l.text
            .chars()
            .position(|c| c == '\u{FFFD}')
            .map(|i| l.chars.at(i).start())
    })
}

/// Replacements of job byte ranges, their bytes kept in one buffer.
#[derive(Default)]
struct Edits {
    /// (start, end, bytes start, bytes end)
    list: Vec<(u64, u64, usize, usize)>,
    buf: Vec<u8>,
}

impl Edits {
    fn push(&mut self, start: u64, end: u64, bytes: &[u8]) {
        let at = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.list.push((start, end, at, self.buf.len()));
    }

    /// Replace `start..end` by the bytes written to `buf` since `at`; joined to the previous
    /// edit when both are contiguous (the characters of one value), so a value is one edit.
    fn push_written(&mut self, start: u64, end: u64, at: usize) {
        if let Some(last) = self.list.last_mut() {
            if last.1 == start && last.3 == at {
                last.1 = end;
                last.3 = self.buf.len();
                return;
            }
        }
        self.list.push((start, end, at, self.buf.len()));
    }

    /// Apply to the job bytes `start..end` (`job` starts at job offset `base`), in order; an
    /// edit inside an earlier one is skipped.
    fn apply(mut self, job: &[u8], base: u64, start: u64, end: u64) -> Vec<u8> {
        self.list.sort_by_key(|e| (e.0, e.1));
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut at = start;
        for (s, e, b0, b1) in self.list {
            if s < at {
                continue;
            }
            out.extend_from_slice(&job[(at - base) as usize..(s - base) as usize]);
            out.extend_from_slice(&self.buf[b0..b1]);
            at = e;
        }
        out.extend_from_slice(&job[(at - base) as usize..(end - base) as usize]);
        out
    }
}

/// Byte edits that print an action's output `out` over a value's characters (`value`,
/// printed from the job bytes `chars`). `pad`: a shorter output is padded with it to the
/// value's length. A letter that would have to move to a place where it might print as
/// another letter (across a code page change) prints as `*`.
fn char_edits(
    job: &[u8],
    base: u64,
    chars: Chars,
    value: &[char],
    out: &[Out],
    pad: Option<u8>,
    edits: &mut Edits,
) {
    let n = value.len();
    // No command between characters `a` and `b` of the value (their bytes follow each
    // other), so both print under the same code page.
    let same_run = |a: usize, b: usize| {
        let (lo, hi) = (a.min(b), a.max(b).min(n - 1));
        (lo..hi).all(|k| chars.at(k).end() == chars.at(k + 1).start())
    };
    let write = |buf: &mut Vec<u8>, o: &Out, k: usize| match o {
        Out::Ascii(b) => buf.push(*b),
        Out::Keep(j) => {
            let s = chars.at(*j);
            let c = value[*j];
            if *j != k && !c.is_ascii() && fold(c) != b'*' {
                // Moved to another place, a non-ASCII letter might print under another
                // code page: write its unaccented ASCII letter instead.
                buf.push(fold(c));
            } else if *j == k || c.is_ascii() || same_run(*j, k) {
                // A letter without one keeps its bytes, which read the same only under the
                // same code page.
                buf.extend_from_slice(&job[(s.start() - base) as usize..(s.end() - base) as usize]);
            } else {
                // Moved across a code page change: it might print as another letter, so it
                // prints masked (`*. *.` for the initials of a name in another script).
                buf.push(b'*');
            }
        }
    };
    for (k, src) in chars.iter().enumerate() {
        let last = k + 1 == n;
        if let Some(Out::Keep(j)) = out.get(k) {
            if *j == k && !(last && out.len() > n) {
                continue; // unchanged
            }
        }
        let at = edits.buf.len();
        match out.get(k) {
            Some(o) => write(&mut edits.buf, o, k),
            None => edits.buf.extend(pad),
        }
        if last {
            for o in out.iter().skip(n) {
                write(&mut edits.buf, o, usize::MAX);
            }
        }
        edits.push_written(src.start(), src.end(), at);
    }
}
