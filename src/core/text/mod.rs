//! The text model: what the printer would print, character by character, with each
//! character mapped back to the bytes it came from.
//!
//! Owns printer state that changes how bytes read (code page through the profile's table,
//! `ESC R` international sets, UTF-8 via `FS ( C`, Star `ESC GS t`), the print style, and
//! logical lines (text between line feeds, feeds and cuts, formatting removed). Must not
//! read files or the clock; it sees tokens and their bytes only.
//!
//! Kanji mode (`FS &`, Star `ESC p`) is tracked by the tokenizer's tables but not decoded:
//! no shipped profile prints Kanji, and those printers ignore the command.

pub mod codepage;
mod codepage_tables;
pub mod intl;

use super::profile::Profile;
use super::tokenize::{Cmd, DataKind, Dialect, Op, Token, TokenKind, Tokenizer};
use codepage::Encoding;
use std::fmt;

/// Horizontal justification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// How a character is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub underline: bool,
    pub reverse: bool,
    /// Width and height multipliers, 1–8.
    pub width: u8,
    pub height: u8,
    /// 0 font A, 1 font B, 2 font C.
    pub font: u8,
    pub align: Align,
    /// False while `ESC = n` sends data to a customer display only.
    pub printed: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            bold: false,
            underline: false,
            reverse: false,
            width: 1,
            height: 1,
            font: 0,
            align: Align::Left,
            printed: true,
        }
    }
}

/// Where a decoded character came from in the job: a byte range of 1–4 bytes. Packed in
/// eight bytes (offset below 2^56, length in the top byte) since there is one per character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharSrc(u64);

impl CharSrc {
    #[inline]
    pub fn new(start: u64, len: u32) -> Self {
        debug_assert!(start < 1 << 56 && len < 256);
        CharSrc(start | u64::from(len) << 56)
    }
    #[inline]
    pub fn start(&self) -> u64 {
        self.0 & ((1 << 56) - 1)
    }
    #[inline]
    pub fn len(&self) -> u32 {
        (self.0 >> 56) as u32
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    pub fn end(&self) -> u64 {
        self.start() + u64::from(self.len())
    }
}

/// Why a logical line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// LF.
    LineFeed,
    /// A print-and-feed command (`ESC d`, `ESC J`; Star `ESC a`).
    Feed,
    /// FF.
    FormFeed,
    /// Page mode: the page was printed (`ESC FF`).
    PagePrint,
    /// A paper cut.
    Cut,
    /// A barcode, 2-D code or image prints here.
    Symbol,
    /// Output switched between printer and customer display (`ESC =`).
    Target,
    /// The job ended.
    EndOfJob,
}

/// Receives what the decoder reads.
pub trait Sink {
    /// One printed character, from `src` of the job.
    fn char(&mut self, c: char, src: CharSrc, style: &Style);
    /// A run of ASCII characters (every byte below 0x80), one byte each, starting at job
    /// offset `start`. The default hands them to [`Sink::char`] one by one.
    #[inline]
    fn ascii(&mut self, run: &[u8], start: u64, style: &Style) {
        for (i, &b) in run.iter().enumerate() {
            let src = CharSrc::new(start + i as u64, 1);
            self.char(char::from(b), src, style);
        }
    }
    /// The current line ends here.
    fn line_end(&mut self, _at: u64, _end: LineEnd) {}
    /// A data-carrying token (barcode, 2-D code, image, glyphs); `bytes` is the whole token.
    fn symbol(&mut self, _tok: &Token, _kind: DataKind, _bytes: &[u8], _style: &Style) {}
    /// A paper cut; `partial` leaves a hinge.
    fn cut(&mut self, _tok: &Token, _partial: bool) {}
}

/// Follows printer state across a job's tokens and decodes its text.
#[derive(Clone)]
pub struct Decoder<'p> {
    profile: &'p Profile,
    encoding: Option<Encoding>,
    utf8: bool,
    intl: u8,
    style: Style,
    /// The current single-byte page reads 0x20–0x7F as ASCII (all but a few DOS pages).
    ascii_identity: bool,
}

impl fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("profile", &self.profile.name)
            .field("encoding", &self.encoding)
            .field("utf8", &self.utf8)
            .field("intl", &self.intl)
            .finish()
    }
}

impl<'p> Decoder<'p> {
    pub fn new(profile: &'p Profile) -> Self {
        let mut d = Decoder {
            profile,
            encoding: None,
            utf8: false,
            intl: profile.code_pages.international,
            style: Style::default(),
            ascii_identity: true,
        };
        let cp = &profile.code_pages;
        d.set_encoding(cp.table.get(&cp.default).copied());
        d
    }

    fn set_encoding(&mut self, e: Option<Encoding>) {
        self.encoding = e;
        self.ascii_identity = match e {
            Some(Encoding::Single(p)) => p.ascii_identity(),
            _ => true,
        };
    }

    /// The encoding text is read in now (`None`: the job selected a table the profile does
    /// not map, so bytes above 0x7F read as U+FFFD).
    pub fn encoding(&self) -> Option<Encoding> {
        if self.utf8 {
            Some(Encoding::Utf8)
        } else {
            self.encoding
        }
    }

    pub fn style(&self) -> &Style {
        &self.style
    }

    /// Decode one token; `bytes` are exactly the token's bytes.
    pub fn token(&mut self, tok: &Token, bytes: &[u8], sink: &mut impl Sink) {
        debug_assert_eq!(bytes.len() as u64, tok.len);
        match tok.kind {
            TokenKind::Text => self.text(tok.offset, bytes, sink),
            TokenKind::Control(b) => match b {
                0x0A => sink.line_end(tok.offset, LineEnd::LineFeed),
                0x0C => sink.line_end(tok.offset, LineEnd::FormFeed),
                0x09 => sink.char('\t', CharSrc::new(tok.offset, 1), &self.style),
                _ => {}
            },
            TokenKind::Command(cmd) => self.command(tok, cmd, bytes, sink),
            TokenKind::Data { kind, .. } => {
                if kind != DataKind::Glyphs && kind != DataKind::Code2dStore {
                    sink.line_end(tok.offset, LineEnd::Symbol);
                }
                sink.symbol(tok, kind, bytes, &self.style);
            }
            _ => {}
        }
    }

    fn text(&mut self, offset: u64, bytes: &[u8], sink: &mut impl Sink) {
        if self.utf8 {
            return decode_utf8(offset, bytes, &self.style, sink);
        }
        let style = self.style;
        let intl = self.intl;
        let mut from = 0;
        if intl == 0 && self.ascii_identity {
            // Fast path: the ASCII prefix reads as itself.
            let n = if bytes.is_ascii() {
                bytes.len()
            } else {
                bytes.iter().position(|&b| b >= 0x80).unwrap_or(bytes.len())
            };
            sink.ascii(&bytes[..n], offset, &style);
            from = n;
        }
        for (i, &b) in bytes.iter().enumerate().skip(from) {
            let src = CharSrc::new(offset + i as u64, 1);
            let c = if b < 0x80 {
                match intl::map(intl, b) {
                    Some(c) => c,
                    None => match self.encoding {
                        // A few DOS pages (cp864) differ below 0x80 too.
                        Some(Encoding::Single(p)) => p.decode(b),
                        _ => b as char,
                    },
                }
            } else {
                match self.encoding {
                    Some(Encoding::Single(p)) => p.decode(b),
                    _ => '\u{FFFD}',
                }
            };
            sink.char(c, src, &style);
        }
    }

    fn command(&mut self, tok: &Token, cmd: Cmd, b: &[u8], sink: &mut impl Sink) {
        let arg = |i: usize| b.get(i).copied().unwrap_or(0);
        let star = self.profile.dialect == Dialect::StarLine;
        // Star accepts both binary and ASCII digits for most numeric parameters.
        let num = |v: u8| {
            if v.is_ascii_digit() {
                v - b'0'
            } else {
                v
            }
        };
        match cmd.op {
            Op::Init => {
                let cp = &self.profile.code_pages;
                self.set_encoding(cp.table.get(&cp.default).copied());
                self.intl = self.profile.code_pages.international;
                self.style = Style::default();
            }
            Op::CodePage => {
                let n = if star { arg(3) } else { arg(2) };
                self.set_encoding(self.profile.code_pages.table.get(&n).copied());
            }
            Op::StarCodePage => {
                let table = self.profile.code_pages.star_table.as_ref();
                self.set_encoding(table.and_then(|t| t.get(&arg(3)).copied()));
            }
            Op::IntlSet => {
                let n = arg(2);
                if intl::is_known(n) {
                    self.intl = n;
                }
            }
            // FS ( C pL pH fn m: fn 48 selects the encoding.
            Op::EncodingSystem if b.len() >= 7 && b[5] == 48 => match b[6] {
                1 | 49 => self.utf8 = false,
                2 | 50 => self.utf8 = true,
                _ => {}
            },
            Op::PrintMode => {
                let n = arg(2);
                self.style.font = n & 1;
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = n & 0x80 != 0;
            }
            Op::Bold => self.style.bold = arg(2) & 1 == 1,
            Op::BoldOn => self.style.bold = true,
            Op::BoldOff => self.style.bold = false,
            Op::Underline => self.style.underline = matches!(arg(2), 1 | 2 | 49 | 50),
            Op::Reverse => self.style.reverse = arg(2) & 1 == 1,
            Op::ReverseOn => self.style.reverse = true,
            Op::ReverseOff => self.style.reverse = false,
            Op::CharSize => {
                let n = arg(2);
                self.style.width = (n >> 4 & 7) + 1;
                self.style.height = (n & 7) + 1;
            }
            Op::StarSize => {
                self.style.height = num(arg(2)).min(5) + 1;
                self.style.width = num(arg(3)).min(5) + 1;
            }
            Op::StarWidth => self.style.width = num(arg(2)).min(5) + 1,
            Op::StarHeight => self.style.height = num(arg(2)).min(5) + 1,
            Op::DoubleWidthOn => self.style.width = 2,
            Op::DoubleWidthOff => self.style.width = 1,
            Op::DoubleHeightOn => self.style.height = 2,
            Op::DoubleHeightOff => self.style.height = 1,
            Op::Align => {
                let n = if star { arg(3) } else { arg(2) };
                self.style.align = match num(n) {
                    1 => Align::Center,
                    2 => Align::Right,
                    _ => Align::Left,
                };
            }
            Op::Font => self.style.font = num(arg(2)).min(2),
            Op::Cut => {
                sink.line_end(tok.offset, LineEnd::Cut);
                let partial = match self.profile.dialect {
                    // GS V m: 1, 49, 66, 98, 104 are partial; ESC m is partial, ESC i full.
                    Dialect::EscPos => match b {
                        [0x1D, b'V', m, ..] => matches!(m, 1 | 49 | 66 | 98 | 104),
                        [0x1B, b'm'] => true,
                        _ => false,
                    },
                    // ESC d n: 1 and 3 are partial.
                    Dialect::StarLine => matches!(num(arg(2)), 1 | 3),
                };
                sink.cut(tok, partial);
            }
            Op::Feed => sink.line_end(tok.offset, LineEnd::Feed),
            Op::PagePrint => sink.line_end(tok.offset, LineEnd::PagePrint),
            Op::Target => {
                let printed = arg(2) & 1 == 1;
                if printed != self.style.printed {
                    sink.line_end(tok.offset, LineEnd::Target);
                    self.style.printed = printed;
                }
            }
            _ => {}
        }
    }
}

/// Decode UTF-8 text; each invalid byte reads as U+FFFD on its own.
fn decode_utf8(offset: u64, bytes: &[u8], style: &Style, sink: &mut impl Sink) {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let want = match b {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let decoded = (want > 0 && i + want <= bytes.len())
            .then(|| std::str::from_utf8(&bytes[i..i + want]).ok())
            .flatten()
            .and_then(|s| s.chars().next());
        let (c, n) = match decoded {
            Some(c) => (c, want),
            None => ('\u{FFFD}', 1),
        };
        sink.char(c, CharSrc::new(offset + i as u64, n as u32), style);
        i += n;
    }
}

/// One logical line: text between line ends, with formatting removed. Borrowed from
/// [`Lines`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub text: &'a str,
    /// One entry per character of `text`.
    pub chars: Chars<'a>,
    pub end: LineEnd,
    /// False when the line went to a customer display, not the paper.
    pub printed: bool,
}

impl Line<'_> {
    /// The job bytes from the first to the last character (formatting commands in between
    /// included).
    pub fn span(&self) -> Option<std::ops::Range<u64>> {
        Some(self.chars.first()?.start()..self.chars.last()?.end())
    }
}

/// Patron text can sit in a line: `Debug` shows sizes only.
impl fmt::Debug for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("chars", &self.chars.len())
            .field("end", &self.end)
            .field("printed", &self.printed)
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct LineMeta {
    text_end: usize,
    chars_end: usize,
    end: LineEnd,
    printed: bool,
}

/// The logical lines of a job, stored back to back (one text buffer, one span buffer), so
/// decoding allocates per job, not per line.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: String,
    chars: Srcs,
    meta: Vec<LineMeta>,
}

impl Lines {
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<Line<'_>> {
        let m = self.meta.get(i)?;
        let (t0, c0) = match i {
            0 => (0, 0),
            _ => (self.meta[i - 1].text_end, self.meta[i - 1].chars_end),
        };
        Some(Line {
            text: &self.text[t0..m.text_end],
            chars: Chars {
                srcs: &self.chars,
                from: c0,
                to: m.chars_end,
            },
            end: m.end,
            printed: m.printed,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Line<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The text of every line, back to back (no separators).
    pub fn all_text(&self) -> &str {
        &self.text
    }

    /// An empty collector that reuses these lines' buffers.
    pub fn recycle(self) -> LineCollector {
        let mut c = LineCollector {
            text: self.text.into_bytes(),
            chars: self.chars,
            meta: self.meta,
            ..LineCollector::default()
        };
        c.clear();
        c
    }
}

/// Patron text: `Debug` shows sizes only.
impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("lines", &self.meta.len())
            .field("chars", &self.chars.len())
            .finish()
    }
}

/// How many characters apart [`Srcs`] keeps a character's start.
const EVERY: usize = 64;

/// Where each character of a job's lines came from, compactly: a byte per character (its
/// length), the start of every [`EVERY`]th character, and the start of every character
/// that does not follow the one before it (a command stands between them). About 1.2 bytes
/// per character, where a [`CharSrc`] each would take 8.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Srcs {
    lens: Vec<u8>,
    /// The start of characters 0, EVERY, 2 EVERY, …
    every: Vec<u64>,
    /// (index, start) of each character that does not start where the one before it ends.
    jumps: Vec<(usize, u64)>,
    /// Where the last character ends.
    end: u64,
}

impl Srcs {
    fn len(&self) -> usize {
        self.lens.len()
    }

    fn clear(&mut self) {
        self.lens.clear();
        self.every.clear();
        self.jumps.clear();
        self.end = 0;
    }

    /// Character `i` (below [`Srcs::len`]).
    fn at(&self, i: usize) -> CharSrc {
        let mut from = i / EVERY * EVERY;
        let mut start = self.every[i / EVERY];
        let j = self.jumps.partition_point(|&(k, _)| k <= i);
        if let Some(&(k, s)) = j.checked_sub(1).map(|j| &self.jumps[j]) {
            if k > from {
                (from, start) = (k, s);
            }
        }
        start += self.lens[from..i]
            .iter()
            .map(|&n| u64::from(n))
            .sum::<u64>();
        CharSrc::new(start, u32::from(self.lens[i]))
    }

    fn last(&self) -> Option<CharSrc> {
        let n = *self.lens.last()?;
        Some(CharSrc::new(self.end - u64::from(n), u32::from(n)))
    }

    #[inline]
    fn push(&mut self, src: CharSrc) {
        let i = self.lens.len();
        if i == 0 || src.start() != self.end {
            self.jumps.push((i, src.start()));
        }
        if i % EVERY == 0 {
            self.every.push(src.start());
        }
        self.lens.push(src.len() as u8);
        self.end = src.end();
    }

    /// `n` one-byte characters from job offset `start` on.
    #[inline]
    fn push_run(&mut self, start: u64, n: usize) {
        let i = self.lens.len();
        if n == 0 {
            return;
        }
        if i == 0 || start != self.end {
            self.jumps.push((i, start));
        }
        let mut k = i.div_ceil(EVERY) * EVERY;
        while k < i + n {
            self.every.push(start + (k - i) as u64);
            k += EVERY;
        }
        self.lens.resize(i + n, 1);
        self.end = start + n as u64;
    }

    /// Take the bytes of `src` (which starts where the last character ends) into the last
    /// character.
    fn extend_last(&mut self, src: CharSrc) {
        let last = self.lens.last_mut().expect("a previous character");
        *last += src.len() as u8;
        self.end = src.end();
    }
}

/// The sources of a line's characters (see [`CharSrc`]), one per character.
#[derive(Clone, Copy)]
pub struct Chars<'a> {
    srcs: &'a Srcs,
    from: usize,
    to: usize,
}

impl<'a> Chars<'a> {
    pub fn len(&self) -> usize {
        self.to - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.to == self.from
    }

    /// Character `i`; panics past the end.
    pub fn at(&self, i: usize) -> CharSrc {
        assert!(i < self.len(), "character {i} of {}", self.len());
        self.srcs.at(self.from + i)
    }

    pub fn get(&self, i: usize) -> Option<CharSrc> {
        (i < self.len()).then(|| self.srcs.at(self.from + i))
    }

    pub fn first(&self) -> Option<CharSrc> {
        self.get(0)
    }

    pub fn last(&self) -> Option<CharSrc> {
        if self.is_empty() {
            None
        } else if self.to == self.srcs.len() {
            self.srcs.last()
        } else {
            Some(self.srcs.at(self.to - 1))
        }
    }

    /// Characters `r` of these.
    pub fn slice(&self, r: std::ops::Range<usize>) -> Chars<'a> {
        assert!(
            r.start <= r.end && r.end <= self.len(),
            "characters out of range"
        );
        Chars {
            srcs: self.srcs,
            from: self.from + r.start,
            to: self.from + r.end,
        }
    }

    pub fn iter(&self) -> CharsIter<'a> {
        CharsIter {
            srcs: self.srcs,
            i: self.from,
            to: self.to,
            next_start: None,
            jump: self.srcs.jumps.partition_point(|&(k, _)| k <= self.from),
        }
    }
}

impl PartialEq for Chars<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().eq(o.iter())
    }
}

impl Eq for Chars<'_> {}

impl<'a> IntoIterator for Chars<'a> {
    type Item = CharSrc;
    type IntoIter = CharsIter<'a>;
    fn into_iter(self) -> CharsIter<'a> {
        self.iter()
    }
}

/// The characters of [`Chars`], in order.
pub struct CharsIter<'a> {
    srcs: &'a Srcs,
    i: usize,
    to: usize,
    /// Where character `i` starts, once known.
    next_start: Option<u64>,
    /// The first jump after character `i`.
    jump: usize,
}

impl Iterator for CharsIter<'_> {
    type Item = CharSrc;
    fn next(&mut self) -> Option<CharSrc> {
        if self.i >= self.to {
            return None;
        }
        let start = match self.next_start {
            Some(s) => match self.srcs.jumps.get(self.jump) {
                Some(&(k, js)) if k == self.i => {
                    self.jump += 1;
                    js
                }
                _ => s,
            },
            None => self.srcs.at(self.i).start(),
        };
        let c = CharSrc::new(start, u32::from(self.srcs.lens[self.i]));
        self.i += 1;
        self.next_start = Some(c.end());
        Some(c)
    }
}

/// A [`Sink`] that collects logical lines. Empty lines are kept only where the job fed
/// paper for them (LF or a feed command).
#[derive(Default)]
pub struct LineCollector {
    /// UTF-8 by construction; checked once in [`LineCollector::finish`].
    text: Vec<u8>,
    chars: Srcs,
    meta: Vec<LineMeta>,
    /// Where the open line starts in `chars`.
    open_chars: usize,
    printed: bool,
}

impl LineCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// A collector with room for a job of `job_len` bytes (at most one character per byte),
    /// so decoding does not reallocate.
    pub fn with_capacity(job_len: usize) -> Self {
        LineCollector {
            text: Vec::with_capacity(job_len),
            chars: Srcs {
                lens: Vec::with_capacity(job_len),
                ..Srcs::default()
            },
            ..Self::default()
        }
    }

    /// Lines closed so far.
    pub fn count(&self) -> usize {
        self.meta.len()
    }

    /// Empty, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.chars.clear();
        self.meta.clear();
        self.open_chars = 0;
        self.printed = false;
    }

    /// Does the open line hold any character yet?
    pub fn line_open(&self) -> bool {
        self.chars.len() != self.open_chars
    }

    /// Close the last line (the job ended at byte `at`) and return every line.
    pub fn finish(mut self, at: u64) -> Lines {
        self.line_end(at, LineEnd::EndOfJob);
        let text = String::from_utf8(self.text).expect("the decoder writes only UTF-8");
        Lines {
            text,
            chars: self.chars,
            meta: self.meta,
        }
    }

    #[inline]
    fn opening(&mut self, style: &Style) {
        if self.chars.len() == self.open_chars {
            self.printed = style.printed;
        }
    }
}

impl LineCollector {
    /// Normalises the text detection reads (DESIGN §4), for a character beyond ASCII:
    /// a format character (zero-width space, soft hyphen, joiners, direction marks, byte
    /// order mark) is left out; a combining mark joins the character before it, composed
    /// with it where Unicode has the composed letter (NFC: `u` + `◌̈` reads `ü`); a
    /// full-width form reads as its ASCII character (`２` as `2`). A mark that Unicode has no
    /// composed letter for is read as part of its letter (left out of the text, its bytes
    /// the letter's). Each character of the text
    /// still maps to all of its own job bytes: a character that takes in a mark or a format
    /// character after it takes in their bytes, so masking it masks them and keeping it
    /// keeps them. True when `c` was handled here.
    fn normalised(&mut self, c: char, src: CharSrc, style: &Style) -> bool {
        let format = is_format(c);
        if format || unicode_normalization::char::is_combining_mark(c) {
            let prev = self
                .chars
                .last()
                .filter(|_| self.chars.len() > self.open_chars);
            let Some(prev) = prev else {
                // Nothing on the line to join: a format character prints nothing, a mark
                // stays a character of its own.
                return format;
            };
            if prev.end() != src.start() || prev.len() + src.len() > 255 {
                // A command stands between the two: a format character (which prints
                // nothing) is left out; a mark stays a character of its own, so that its
                // bytes are masked with the value it stands in.
                return format;
            }
            self.chars.extend_last(src);
            if !format {
                let at = last_char_start(&self.text);
                let base = std::str::from_utf8(&self.text[at..])
                    .ok()
                    .and_then(|t| t.chars().next());
                if let Some(composed) =
                    base.and_then(|b| unicode_normalization::char::compose(b, c))
                {
                    self.text.truncate(at);
                    let mut buf = [0u8; 4];
                    self.text
                        .extend_from_slice(composed.encode_utf8(&mut buf).as_bytes());
                }
            }
            return true;
        }
        let folded = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
            '\u{3000}' => Some(' '),
            _ => None,
        };
        if let Some(a) = folded {
            self.opening(style);
            self.text.push(a as u8);
            self.chars.push(src);
            return true;
        }
        false
    }
}

/// `text` normalised as [`LineCollector`] normalises decoded lines, for text that is typeset
/// before it is printed (HTML and plain-text slips): composed (NFC), format characters left
/// out, full-width forms as ASCII. Text of ASCII only comes back as it is.
pub fn normalise(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.nfc()
            .filter(|&c| !is_format(c))
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .collect(),
    )
}

/// Where the last character of UTF-8 `text` starts (0 for empty text).
fn last_char_start(text: &[u8]) -> usize {
    let mut at = text.len().saturating_sub(1);
    while at > 0 && text[at] & 0xC0 == 0x80 {
        at -= 1;
    }
    at
}

/// Characters that print nothing and only shape or direct the text around them (Unicode's
/// format characters that slips carry: soft hyphen, zero-width space and joiners, direction
/// marks and overrides, word joiner and invisible operators, byte order mark).
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

impl Sink for LineCollector {
    #[inline]
    fn char(&mut self, c: char, src: CharSrc, style: &Style) {
        if !c.is_ascii() && self.normalised(c, src, style) {
            return;
        }
        self.opening(style);
        let mut buf = [0u8; 4];
        self.text
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.chars.push(src);
    }

    #[inline]
    fn ascii(&mut self, run: &[u8], start: u64, style: &Style) {
        if run.is_empty() {
            return;
        }
        debug_assert!(run.is_ascii());
        self.opening(style);
        self.text.extend_from_slice(run);
        self.chars.push_run(start, run.len());
    }

    fn line_end(&mut self, _at: u64, end: LineEnd) {
        let empty = self.chars.len() == self.open_chars;
        if empty && !matches!(end, LineEnd::LineFeed | LineEnd::Feed) {
            return;
        }
        self.meta.push(LineMeta {
            text_end: self.text.len(),
            chars_end: self.chars.len(),
            end,
            printed: if empty { true } else { self.printed },
        });
        self.open_chars = self.chars.len();
    }
}

/// Tokenize and decode a whole job into logical lines.
pub fn lines(profile: &Profile, job: &[u8]) -> Lines {
    let mut dec = Decoder::new(profile);
    let mut sink = LineCollector::with_capacity(job.len());
    for_each_token(profile, job, |tok, bytes| dec.token(&tok, bytes, &mut sink));
    sink.finish(job.len() as u64)
}

/// Tokenize a whole job with the profile's dialect and options, handing each token with its
/// bytes to `f`.
pub fn for_each_token(profile: &Profile, job: &[u8], mut f: impl FnMut(Token, &[u8])) {
    let mut t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
    let mut emit = |tok: Token| f(tok, &job[tok.range_in(0)]);
    t.feed(job, &mut emit);
    t.finish(&mut emit);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Srcs`] gives back every character as pushed, one by one, by runs and joined.
    #[test]
    fn srcs_give_back_what_was_pushed() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for round in 0..200 {
            let mut s = Srcs::default();
            let mut want: Vec<CharSrc> = Vec::new();
            let mut at = rnd(1000);
            for _ in 0..rnd(400) {
                at += rnd(4) * (rnd(3) / 2); // a command between, sometimes
                match rnd(4) {
                    0 => {
                        let n = rnd(150) as usize;
                        s.push_run(at, n);
                        want.extend((0..n as u64).map(|i| CharSrc::new(at + i, 1)));
                        at += n as u64;
                    }
                    1 if !want.is_empty() && want.last().unwrap().end() == at => {
                        let src = CharSrc::new(at, 1 + rnd(3) as u32);
                        s.extend_last(src);
                        let l = want.last_mut().unwrap();
                        *l = CharSrc::new(l.start(), l.len() + src.len());
                        at = src.end();
                    }
                    _ => {
                        let src = CharSrc::new(at, 1 + rnd(4) as u32);
                        s.push(src);
                        want.push(src);
                        at = src.end();
                    }
                }
            }
            let n = want.len();
            let all = Chars {
                srcs: &s,
                from: 0,
                to: n,
            };
            assert_eq!(all.iter().collect::<Vec<_>>(), want, "round {round}");
            for (i, w) in want.iter().enumerate() {
                assert_eq!(all.at(i), *w, "round {round}, char {i}");
            }
            assert_eq!(all.last(), want.last().copied());
            if n > 2 {
                let (a, b) = (rnd(n as u64) as usize, n - 1);
                let part = all.slice(a..b);
                assert_eq!(part.iter().collect::<Vec<_>>(), want[a..b], "round {round}");
                assert_eq!(part.last(), want[a..b].last().copied());
            }
        }
    }
}
