//! Incremental, lossless tokenizer for receipt-printer jobs (ESC/POS and Star Line Mode).
//!
//! Owns: splitting a byte stream into tokens whose offsets tile the input exactly, with the
//! same tokens whatever the chunking. Must not: read files or sockets, hold the job's bytes,
//! allocate in proportion to a length the job declares, or guess the parameters of a
//! command it does not know (an unknown `ESC x` is two bytes, as the printer treats it, and
//! what follows is scanned as text so it still passes through detection).
//!
//! The tokenizer keeps at most a 16-byte command header; everything else is counted, not
//! stored. Tokens carry offsets: the caller keeps the bytes it needs (a segment).
//!
//! ```
//! use slipguard::core::tokenize::{tokenize, Dialect, TokenKind};
//! let tokens = tokenize(Dialect::EscPos, b"\x1bE\x01Hi\n");
//! assert_eq!(tokens[0].kind.name(), "ESC E");
//! assert_eq!(tokens[1].kind, TokenKind::Text);
//! ```

/// Return `Class::Need(n)` from the enclosing table function until the header holds `n`
/// bytes.
macro_rules! need {
    ($h:expr, $n:expr) => {
        if $h.len() < $n {
            return Class::Need($n);
        }
    };
}

mod escpos;
mod star;

use std::fmt;

/// The command language a printer speaks; chosen by the printer profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// Epson ESC/POS (and the many printers that emulate it).
    #[serde(rename = "escpos")]
    EscPos,
    /// Star Line Mode (TSP650/700/800, SP700).
    StarLine,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::EscPos => "escpos",
            Dialect::StarLine => "star-line",
        })
    }
}

/// Tokenizer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The largest single command (header plus data) accepted; a larger one becomes an
    /// [`TokenKind::OverCap`] token that the caller must fail closed on.
    pub max_command_len: u64,
    /// Also recognise Star's `ESC GS t n` code page command in the ESC/POS dialect (Star
    /// printers in ESC/POS emulation honour both `ESC t n` and `ESC GS t n`).
    pub star_code_page_in_escpos: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_command_len: 1 << 20,
            star_code_page_in_escpos: false,
        }
    }
}

/// What a command means to the text model and preview; everything else is [`Op::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// No effect on text decoding or layout.
    Other,
    /// Initialize the printer (`ESC @`).
    Init,
    /// Select a code table by the dialect's own numbering (`ESC t n`; Star `ESC GS t n`).
    CodePage,
    /// Star's `ESC GS t n` seen in an ESC/POS job (Star ESC/POS emulation).
    StarCodePage,
    /// International character set (`ESC R n`).
    IntlSet,
    /// Character encoding system (`FS ( C`): UTF-8 or single-byte.
    EncodingSystem,
    /// Kanji mode on / off (`FS &` / `FS .`).
    KanjiOn,
    KanjiOff,
    /// `ESC ! n`: font, emphasis, double height/width, underline in one byte.
    PrintMode,
    /// `ESC E n` / `ESC G n` (ESC/POS): bold by the low bit of n.
    Bold,
    /// Star `ESC E` / `ESC F`.
    BoldOn,
    BoldOff,
    /// `ESC - n`: underline by n (0/48 off).
    Underline,
    /// `GS B n`: reverse by the low bit of n.
    Reverse,
    /// Star `ESC 4` / `ESC 5`.
    ReverseOn,
    ReverseOff,
    /// `GS ! n`: width and height multipliers.
    CharSize,
    /// Star `ESC i n1 n2` (height, width expansion), `ESC W n`, `ESC h n`.
    StarSize,
    StarWidth,
    StarHeight,
    /// Star `SO` / `DC4`, `ESC SO` / `ESC DC4`.
    DoubleWidthOn,
    DoubleWidthOff,
    DoubleHeightOn,
    DoubleHeightOff,
    /// `ESC a n` (ESC/POS) / `ESC GS a n` (Star): justification.
    Align,
    /// `ESC M n`: font A/B/C.
    Font,
    /// Paper cut (`GS V`; Star `ESC d n`).
    Cut,
    /// Print and feed (`ESC d n`, `ESC J n`; Star `ESC a n`).
    Feed,
    /// Enter page mode (`ESC L`) / back to standard mode (`ESC S`) / print the page (`ESC FF`).
    PageMode,
    StandardMode,
    PagePrint,
    /// `ESC = n`: where data goes (printer and/or customer display).
    Target,
    /// `GS :` starts or ends a macro definition; `GS ^` runs the macro.
    MacroDefine,
    MacroRun,
    /// Star raster mode enter / exit (`ESC * r A` / `ESC * r B`).
    RasterEnter,
    RasterExit,
    /// Automatic status back switch (`GS a n`, Star `ESC RS a n`).
    AutoStatus,
    /// Cash drawer kick.
    Drawer,
}

/// A command's stable name (such as `ESC E` or `GS ( k`) and its meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cmd {
    pub name: &'static str,
    pub op: Op,
}

/// What the payload of a data-carrying command is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// A 1-D barcode; the payload is its data (human-readable text is rendered from it).
    Barcode,
    /// Stores data for a 2-D code (`GS ( k … fn 80`, Star `ESC GS y D`, `ESC GS x D`).
    Code2dStore,
    /// Prints the stored 2-D code (no payload of its own).
    Code2dPrint,
    /// Raster or bit-image graphics, NV images, BMPs.
    Image,
    /// User-defined characters (`ESC &`): glyph bitmaps that can make text print as anything.
    Glyphs,
}

/// Whether a query's reply comes at once (real-time) or after the preceding data printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// Executed on arrival, even while the printer is busy (`DLE EOT`, Star `ENQ`/`EOT`).
    RealTime,
    /// Executed in order with the data (`GS I`, `GS r`, `GS ( k` fn 82, …).
    Ordered,
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A run of printable bytes (0x20–0xFF).
    Text,
    /// A single control byte that is not a command prefix (LF, CR, HT, FF, CAN, or one the
    /// printer drops).
    Control(u8),
    /// A command that carries no data.
    Command(Cmd),
    /// A command carrying a payload; `payload_start..payload_start+payload_len` is relative to
    /// the token's offset.
    Data {
        cmd: Cmd,
        kind: DataKind,
        payload_start: u32,
        payload_len: u64,
    },
    /// A command the printer answers.
    Query { cmd: Cmd, kind: QueryKind },
    /// A command prefix followed by a byte no command uses: 2 bytes, dropped by the printer.
    Unknown,
    /// A known command with a parameter out of range: the printer drops it up to and
    /// including the offending byte.
    Malformed(Cmd),
    /// A command whose declared length runs past the end of the input (or whose terminator
    /// never came). `cmd` is `None` when the input ended inside the command's header.
    Truncated(Option<Cmd>),
    /// A command larger than [`Options::max_command_len`].
    OverCap(Cmd),
}

impl TokenKind {
    /// The stable kind label used by `inspect --json`.
    pub fn label(&self) -> &'static str {
        match self {
            TokenKind::Text => "text",
            TokenKind::Control(_) => "control",
            TokenKind::Command(_) => "command",
            TokenKind::Data { .. } => "data",
            TokenKind::Query { .. } => "query",
            TokenKind::Unknown => "unknown",
            TokenKind::Malformed(_) => "malformed",
            TokenKind::Truncated(_) => "truncated",
            TokenKind::OverCap(_) => "over-cap",
        }
    }

    /// A human name: the command's name, the control byte's name, or the kind label.
    pub fn name(&self) -> &'static str {
        match self {
            TokenKind::Control(b) => control_name(*b),
            TokenKind::Command(c)
            | TokenKind::Data { cmd: c, .. }
            | TokenKind::Query { cmd: c, .. }
            | TokenKind::Malformed(c)
            | TokenKind::OverCap(c)
            | TokenKind::Truncated(Some(c)) => c.name,
            other => other.label(),
        }
    }

    /// The command, for kinds that have one.
    pub fn cmd(&self) -> Option<Cmd> {
        match self {
            TokenKind::Command(c)
            | TokenKind::Data { cmd: c, .. }
            | TokenKind::Query { cmd: c, .. } => Some(*c),
            _ => None,
        }
    }

    /// True for tokens a filter must fail closed on: it cannot know what the printer would do.
    pub fn is_error(&self) -> bool {
        matches!(self, TokenKind::Truncated(_) | TokenKind::OverCap(_))
    }

    /// True for the tokens that end a segment (DESIGN §5), the unit redacted and printed
    /// whole: a paper cut, or a query answered in order with the data.
    pub fn ends_segment(&self) -> bool {
        match self {
            TokenKind::Command(c) => c.op == Op::Cut,
            TokenKind::Query { kind, .. } => *kind == QueryKind::Ordered,
            _ => false,
        }
    }
}

/// The ASCII name of a C0 control byte.
pub fn control_name(b: u8) -> &'static str {
    const NAMES: [&str; 32] = [
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
        "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB",
        "ESC", "FS", "GS", "RS", "US",
    ];
    NAMES.get(b as usize).copied().unwrap_or("byte")
}

/// One token: `len` bytes of the job starting at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    pub offset: u64,
    pub len: u64,
    pub kind: TokenKind,
}

impl Token {
    /// The token's byte range, for slicing a buffer that starts at job offset `base`.
    pub fn range_in(&self, base: u64) -> std::ops::Range<usize> {
        let start = (self.offset - base) as usize;
        start..start + self.len as usize
    }
}

/// The longest header a dialect needs before it knows a command's length.
pub(crate) const MAX_HEADER: usize = 16;

/// A dialect table's verdict on a (partial) command header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Need at least this many header bytes before deciding.
    Need(usize),
    /// The whole command is `len` bytes (header included).
    Len(u64, TokenKind),
    /// The header is complete; the rest is read by a body machine.
    Body(Body, TokenKind),
}

/// Machines for commands whose end is not a length in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Ends with `term` (inclusive). With `max_data`, also ends after that many data bytes,
    /// taking one following NUL with it if one comes. With `star_terminates`, a first data
    /// byte `*` makes the next `*` end it (CODE39).
    Until {
        term: u8,
        max_data: Option<u32>,
        star_terminates: bool,
    },
    /// `ESC D`: up to 32 increasing values, ended by NUL or by a value not above the last.
    TabList,
    /// `count` blocks, each a `hdr_len`-byte header and a body whose length `rule` computes.
    Blocks { count: u32, rule: BlockRule },
}

/// How a block's body length follows from its header (see [`Body::Blocks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockRule {
    /// `ESC &`: header is the width byte x; body is `y * x` bytes.
    Glyph { y: u8 },
    /// `FS q`: header xL xH yL yH; body is 8·x·y bytes.
    NvImage,
    /// Star `ESC GS y D 2`: header m nL nH; body is N16 bytes.
    QrBlock,
}

impl BlockRule {
    fn header_len(self) -> usize {
        match self {
            BlockRule::Glyph { .. } => 1,
            BlockRule::NvImage => 4,
            BlockRule::QrBlock => 3,
        }
    }
    fn body_len(self, h: &[u8]) -> u64 {
        match self {
            BlockRule::Glyph { y } => u64::from(y) * u64::from(h[0]),
            BlockRule::NvImage => 8 * n16(h[0], h[1]) * n16(h[2], h[3]),
            BlockRule::QrBlock => n16(h[1], h[2]),
        }
    }
}

pub(crate) fn n16(lo: u8, hi: u8) -> u64 {
    u64::from(lo) | u64::from(hi) << 8
}

/// `nL nH` read as a signed (two's complement) 16-bit amount, as relative moves take it.
pub(crate) fn n16_signed(lo: u8, hi: u8) -> i16 {
    i16::from_le_bytes([lo, hi])
}

/// The state of a dialect that changes how later bytes are tokenized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mode {
    /// Star raster mode: `b`/`k` start raster lines.
    pub raster: bool,
    /// Epson Kanji font (`FS ( A` fn 48): 0 A, 1 B, 2 C; sets the size of `FS 2` glyphs.
    pub kanji_font: u8,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Ground,
    Text {
        start: u64,
    },
    Header {
        start: u64,
        buf: [u8; MAX_HEADER],
        have: u8,
    },
    Skip {
        start: u64,
        end: u64,
        kind: TokenKind,
    },
    Until {
        start: u64,
        kind: TokenKind,
        term: u8,
        max_data: Option<u32>,
        star_terminates: bool,
        data: u32,
        /// The data count reached `max_data`: a following NUL still belongs to the command.
        at_max: bool,
    },
    TabList {
        start: u64,
        kind: TokenKind,
        count: u8,
        prev: u8,
    },
    Blocks {
        start: u64,
        kind: TokenKind,
        rule: BlockRule,
        left: u32,
        hdr: [u8; 4],
        have: u8,
        skip: u64,
    },
}

/// The incremental tokenizer for one job. Feed chunks with [`Tokenizer::feed`], then call
/// [`Tokenizer::finish`] at the end of the job.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    dialect: Dialect,
    opts: Options,
    state: State,
    mode: Mode,
    pos: u64,
}

impl Tokenizer {
    pub fn new(dialect: Dialect, opts: Options) -> Self {
        Tokenizer {
            dialect,
            opts,
            state: State::Ground,
            mode: Mode::default(),
            pos: 0,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Advance over bytes that another tokenizer, in the same state as this one, read as
    /// `tokens` (which tile them; their bytes are `job[t.range_in(base)]`, `job` starting at
    /// job offset `base`): the state is as if they were fed. For a tokenizer at rest
    /// ([`Tokenizer::is_idle`]) and tokens that end with a complete command, so that it is at
    /// rest again.
    pub fn advance_over(&mut self, tokens: &[Token], job: &[u8], base: u64) {
        debug_assert!(self.is_idle());
        for t in tokens {
            self.apply_mode(t.kind, &job[t.range_in(base)]);
            self.pos += t.len;
        }
    }

    /// True when no token is open: everything fed so far has been emitted.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Ground)
    }

    /// True when a command is open: fed in part, not yet emitted.
    pub fn in_command(&self) -> bool {
        !matches!(self.state, State::Ground | State::Text { .. })
    }

    /// Tokenize the next chunk; `emit` receives every token this chunk completes.
    pub fn feed(&mut self, input: &[u8], emit: &mut impl FnMut(Token)) {
        let base = self.pos;
        let mut i = 0usize;
        while i < input.len() {
            i = self.step(input, i, base, emit);
        }
        self.pos = base + input.len() as u64;
    }

    /// End of job: emit the open token (a text run, or a truncated command).
    pub fn finish(&mut self, emit: &mut impl FnMut(Token)) {
        let end = self.pos;
        let st = std::mem::replace(&mut self.state, State::Ground);
        let (start, kind) = match st {
            State::Ground => return,
            State::Text { start } => (start, TokenKind::Text),
            // The input ended inside a header (the table still needed more): name the prefix.
            State::Header { start, buf, .. } => {
                (start, TokenKind::Truncated(Some(prefix_cmd(buf[0]))))
            }
            State::Skip { start, kind, .. }
            | State::Until { start, kind, .. }
            | State::TabList { start, kind, .. }
            | State::Blocks { start, kind, .. } => {
                if let State::Until { at_max: true, .. } = st {
                    // Complete: the optional NUL after a fixed digit count never came.
                    let t = until_token(start, end - start, kind, false);
                    emit(self.cap_token(t));
                    return;
                }
                (start, truncated(kind))
            }
        };
        emit(Token {
            offset: start,
            len: end - start,
            kind,
        });
    }

    #[inline]
    fn classify(&self, h: &[u8]) -> Class {
        match self.dialect {
            Dialect::EscPos => escpos::classify(h, &self.opts, &self.mode),
            Dialect::StarLine => star::classify(h, &self.mode),
        }
    }

    /// Does `b` start a multi-byte command in the current state?
    fn is_prefix(&self, b: u8) -> bool {
        match self.dialect {
            Dialect::EscPos => matches!(b, 0x1B | 0x1D | 0x1C | 0x10),
            Dialect::StarLine => b == 0x1B || (self.mode.raster && (b == b'b' || b == b'k')),
        }
    }

    /// The token for a lone byte below 0x20 that starts no command.
    fn single(&self, b: u8) -> TokenKind {
        match self.dialect {
            Dialect::EscPos => TokenKind::Control(b),
            Dialect::StarLine => star::single(b),
        }
    }

    /// Consume from `input[i..]` (whose byte 0 is at job offset `base`); return the new `i`.
    #[inline]
    fn step(
        &mut self,
        input: &[u8],
        mut i: usize,
        base: u64,
        emit: &mut impl FnMut(Token),
    ) -> usize {
        let at = |i: usize| base + i as u64;
        match &mut self.state {
            State::Ground => {
                let b = input[i];
                if self.is_prefix(b) {
                    // Fast path: decide from the input itself; buffer only at a chunk end.
                    let start = at(i);
                    match self.resolve(start, &input[i..], emit) {
                        Some(k) => i + k,
                        None => {
                            let mut buf = [0u8; MAX_HEADER];
                            let rest = &input[i..];
                            buf[..rest.len()].copy_from_slice(rest);
                            self.state = State::Header {
                                start,
                                buf,
                                have: rest.len() as u8,
                            };
                            input.len()
                        }
                    }
                } else if b < 0x20 {
                    emit(Token {
                        offset: at(i),
                        len: 1,
                        kind: self.single(b),
                    });
                    i + 1
                } else {
                    self.text_run(input, i + 1, at(i), base, emit)
                }
            }
            State::Text { start } => {
                let start = *start;
                self.text_run(input, i, start, base, emit)
            }
            State::Header { start, buf, have } => {
                let (start, mut buf, had) = (*start, *buf, *have as usize);
                let take = (MAX_HEADER - had).min(input.len() - i);
                buf[had..had + take].copy_from_slice(&input[i..i + take]);
                self.state = State::Ground;
                match self.resolve(start, &buf[..had + take], emit) {
                    None => {
                        self.state = State::Header {
                            start,
                            buf,
                            have: (had + take) as u8,
                        };
                        i + take
                    }
                    Some(k) if k >= had => i + (k - had),
                    Some(k) => {
                        // The command ended inside bytes of an earlier chunk (an unknown or
                        // malformed command): scan those again, then go on with this chunk.
                        let rest = &buf[k..had];
                        let mut j = 0;
                        while j < rest.len() {
                            j = self.step(rest, j, start + k as u64, emit);
                        }
                        i
                    }
                }
            }
            State::Skip { start, end, kind } => {
                let avail = (input.len() - i) as u64;
                let need = *end - at(i);
                if avail >= need {
                    i += need as usize;
                    emit(Token {
                        offset: *start,
                        len: *end - *start,
                        kind: *kind,
                    });
                    self.state = State::Ground;
                    i
                } else {
                    input.len()
                }
            }
            State::Until {
                start,
                kind,
                term,
                max_data,
                star_terminates,
                data,
                at_max,
            } => {
                let b = input[i];
                // (ends here, the byte belongs to the command, the byte is a terminator)
                let verdict = if *at_max {
                    // Only a NUL may still belong to the command.
                    Some((b == 0, b == 0))
                } else if b == *term {
                    Some((true, true))
                } else if *star_terminates && *data > 0 && b == b'*' {
                    Some((true, false))
                } else {
                    None
                };
                if let Some((take, is_term)) = verdict {
                    let end = if take { at(i) + 1 } else { at(i) };
                    let t = until_token(*start, end - *start, *kind, is_term);
                    emit(self.cap_token(t));
                    self.state = State::Ground;
                    return if take { i + 1 } else { i };
                }
                if *data == 0 && b != b'*' {
                    *star_terminates = false;
                }
                *data += 1;
                if Some(*data) == *max_data {
                    *at_max = true;
                }
                i + 1
            }
            State::TabList {
                start,
                kind,
                count,
                prev,
            } => {
                let b = input[i];
                let end_here = b == 0 || (*count > 0 && b <= *prev);
                *count += 1;
                *prev = b;
                if end_here || *count as usize > 32 {
                    // After 32 values the command is over whatever comes; the 33rd value is
                    // counted only when it is the terminator.
                    let inclusive = end_here;
                    let len = if inclusive { at(i) + 1 } else { at(i) } - *start;
                    emit(Token {
                        offset: *start,
                        len,
                        kind: *kind,
                    });
                    self.state = State::Ground;
                    return if inclusive { i + 1 } else { i };
                }
                i + 1
            }
            State::Blocks {
                start,
                kind,
                rule,
                left,
                hdr,
                have,
                skip,
            } => {
                if *skip > 0 {
                    let avail = (input.len() - i) as u64;
                    let take = avail.min(*skip);
                    *skip -= take;
                    i += take as usize;
                } else {
                    hdr[*have as usize] = input[i];
                    *have += 1;
                    i += 1;
                    if *have as usize == rule.header_len() {
                        *skip = rule.body_len(&hdr[..*have as usize]);
                        *have = 0;
                        *left -= 1;
                    } else {
                        return i;
                    }
                }
                if *skip == 0 && *have == 0 && *left == 0 {
                    let t = until_token(*start, at(i) - *start, *kind, false);
                    emit(self.cap_token(t));
                    self.state = State::Ground;
                }
                i
            }
        }
    }

    /// Scan a text run that began at job offset `start` from `input[from..]`: emit it if it
    /// ends in this chunk, else leave it open. Returns the new index.
    #[inline]
    fn text_run(
        &mut self,
        input: &[u8],
        from: usize,
        start: u64,
        base: u64,
        emit: &mut impl FnMut(Token),
    ) -> usize {
        let rest = &input[from..];
        let stop = if self.mode.raster {
            rest.iter()
                .position(|&b| b < 0x20 || b == b'b' || b == b'k')
        } else {
            find_control(rest)
        };
        match stop {
            Some(n) => {
                let end = base + (from + n) as u64;
                if end > start {
                    emit(Token {
                        offset: start,
                        len: end - start,
                        kind: TokenKind::Text,
                    });
                }
                self.state = State::Ground;
                from + n
            }
            None => {
                self.state = State::Text { start };
                input.len()
            }
        }
    }

    /// Decide the command whose prefix is at job offset `start`, from the bytes known so far
    /// (`h`, prefix first). `None`: the header is incomplete. `Some(k)`: the first `k` bytes
    /// of `h` are accounted for — a token was emitted or a body/skip state opened — and any
    /// bytes after them must be scanned afresh.
    fn resolve(&mut self, start: u64, h: &[u8], emit: &mut impl FnMut(Token)) -> Option<usize> {
        // Every command has at least two bytes.
        if h.len() < 2 {
            return None;
        }
        let mut n = 2;
        loop {
            match self.classify(&h[..n]) {
                Class::Need(want) => {
                    debug_assert!(want > n && want <= MAX_HEADER, "need {want} at {n}");
                    if want > h.len() {
                        return None;
                    }
                    n = want;
                }
                Class::Len(len, kind) if len <= n as u64 || len <= h.len() as u64 => {
                    // Complete within what we have (unknown and malformed ones may end
                    // before the bytes read so far).
                    let kind = self.capped(len, kind);
                    self.apply_mode(kind, &h[..n]);
                    emit(Token {
                        offset: start,
                        len,
                        kind,
                    });
                    return Some(len as usize);
                }
                Class::Len(len, kind) => {
                    let kind = self.capped(len, kind);
                    self.apply_mode(kind, &h[..n]);
                    self.state = State::Skip {
                        start,
                        end: start + len,
                        kind,
                    };
                    return Some(h.len());
                }
                Class::Body(body, kind) => {
                    self.open_body(start, n, body, kind, emit);
                    return Some(n);
                }
            }
        }
    }

    /// Enter the state that reads a command's body after its `n`-byte header.
    fn open_body(
        &mut self,
        start: u64,
        n: usize,
        body: Body,
        kind: TokenKind,
        emit: &mut impl FnMut(Token),
    ) {
        self.state = match body {
            Body::Until {
                term,
                max_data,
                star_terminates,
            } => State::Until {
                start,
                kind,
                term,
                max_data,
                star_terminates,
                data: 0,
                at_max: false,
            },
            Body::TabList => State::TabList {
                start,
                kind,
                count: 0,
                prev: 0,
            },
            Body::Blocks { count: 0, .. } => {
                // Nothing to read: complete with its header.
                emit(Token {
                    offset: start,
                    len: n as u64,
                    kind,
                });
                State::Ground
            }
            Body::Blocks { count, rule } => State::Blocks {
                start,
                kind,
                rule,
                left: count,
                hdr: [0; 4],
                have: 0,
                skip: 0,
            },
        };
    }

    fn capped(&self, len: u64, kind: TokenKind) -> TokenKind {
        if len > self.opts.max_command_len {
            if let Some(c) = kind.cmd() {
                return TokenKind::OverCap(c);
            }
        }
        kind
    }

    fn cap_token(&self, mut t: Token) -> Token {
        t.kind = self.capped(t.len, t.kind);
        t
    }

    /// Commands that change how later bytes tokenize.
    fn apply_mode(&mut self, kind: TokenKind, h: &[u8]) {
        match kind {
            TokenKind::Command(Cmd {
                op: Op::RasterEnter,
                ..
            }) => self.mode.raster = true,
            TokenKind::Command(Cmd {
                op: Op::RasterExit, ..
            }) => self.mode.raster = false,
            TokenKind::Command(Cmd { op: Op::Init, .. }) if self.dialect == Dialect::EscPos => {
                self.mode.kanji_font = 0
            }
            TokenKind::Command(Cmd { name: "FS ( A", .. }) if h.len() >= 7 && h[5] == 48 => {
                // FS ( A pL pH fn m: fn 48 selects the Kanji font.
                self.mode.kanji_font = match h[6] {
                    0 | 48 => 0,
                    1 | 49 => 1,
                    2 | 50 => 2,
                    _ => self.mode.kanji_font,
                }
            }
            _ => {}
        }
    }
}

/// The index of the first byte below 0x20 (the end of a text run), eight bytes at a time.
#[inline]
fn find_control(rest: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = rest.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // High bit set in every byte below 0x20 (exact for the lowest such byte; bytes with
        // the high bit set never match).
        let t = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b < 0x20)
        .map(|p| base + p)
}

/// A command prefix standing for a command whose header never completed.
fn prefix_cmd(b: u8) -> Cmd {
    let name = match b {
        b'b' => "raster b",
        b'k' => "raster k",
        b => control_name(b),
    };
    Cmd {
        name,
        op: Op::Other,
    }
}

/// The token of a command whose end a body machine found, with its payload length filled in
/// (the payload runs to the end, less a terminator byte).
fn until_token(offset: u64, len: u64, kind: TokenKind, ends_with_terminator: bool) -> Token {
    let kind = match kind {
        TokenKind::Data {
            cmd,
            kind,
            payload_start,
            ..
        } => TokenKind::Data {
            cmd,
            kind,
            payload_start,
            payload_len: len - u64::from(payload_start) - u64::from(ends_with_terminator),
        },
        other => other,
    };
    Token { offset, len, kind }
}

fn truncated(kind: TokenKind) -> TokenKind {
    match kind {
        TokenKind::OverCap(c) => TokenKind::Truncated(Some(c)),
        k => TokenKind::Truncated(k.cmd()),
    }
}

/// Tokenize a whole job in one call.
pub fn tokenize(dialect: Dialect, input: &[u8]) -> Vec<Token> {
    tokenize_with(dialect, Options::default(), input)
}

/// Tokenize a whole job in one call with explicit options.
pub fn tokenize_with(dialect: Dialect, opts: Options, input: &[u8]) -> Vec<Token> {
    let mut t = Tokenizer::new(dialect, opts);
    let mut out = Vec::new();
    t.feed(input, &mut |tok| out.push(tok));
    t.finish(&mut |tok| out.push(tok));
    out
}

#[cfg(test)]
mod tests {
    use super::find_control;

    #[test]
    fn find_control_matches_a_plain_scan() {
        let mut buf: Vec<u8> = (0x20..=0xFF).collect();
        for at in 0..buf.len() {
            for b in [0x00u8, 0x0A, 0x1B, 0x1F] {
                let saved = buf[at];
                buf[at] = b;
                for start in 0..9.min(buf.len()) {
                    let s = &buf[start..];
                    assert_eq!(
                        find_control(s),
                        s.iter().position(|&x| x < 0x20),
                        "{at} {start}"
                    );
                }
                buf[at] = saved;
            }
        }
        assert_eq!(find_control(&buf), None);
    }
}
