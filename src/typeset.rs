//! Typesetting: a slip as printed lines of styled text, and the bytes that print it on a
//! profile's printer (ESC/POS or Star Line Mode). Used by the HTTP endpoint, which redacts
//! HTML and plain-text slips on their logical lines, lays them out ([`crate::html`]) and then
//! hands the bytes to redaction like any raw job. Sans-IO.
//!
//! Lines arrive already fitted to the paper: wrapping is the layout's job, which knows the
//! columns ([`Layout::columns`]). Text is written in a Latin code page the profile has (the
//! first of cp858, cp850, cp1252, cp437), or UTF-8 where that is the profile's only choice;
//! characters the page lacks are transliterated ([`transliterate`]).

use crate::core::profile::Profile;
use crate::core::redact::action::fold;
use crate::core::text::codepage::Encoding;
use crate::core::tokenize::Dialect;
use std::collections::BTreeMap;

/// How a run of text prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub underline: bool,
    /// Double width and height: a character takes two columns.
    pub double: bool,
}

/// Horizontal justification (the text model's own).
pub use crate::core::text::Align;

/// One printed line: runs of styled text, left to right. Holds slip text, so `Debug` shows
/// only sizes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub align: Align,
    pub runs: Vec<(Style, String)>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("align", &self.align)
            .field("runs", &self.runs.len())
            .field("columns", &self.width())
            .finish()
    }
}

impl Line {
    /// Columns the line takes (a double-size character takes two).
    pub fn width(&self) -> usize {
        self.runs
            .iter()
            .map(|(s, t)| t.chars().count() * if s.double { 2 } else { 1 })
            .sum()
    }

    /// The line's text without styles.
    pub fn text(&self) -> String {
        self.runs.iter().map(|(_, t)| t.as_str()).collect()
    }
}

/// What a layout needs to know of the printer: the columns of font A, and which
/// characters the chosen code page prints (others are transliterated when written).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub columns: usize,
    pub encoding: Encoding,
}

impl Layout {
    pub fn for_profile(profile: &Profile) -> Result<(Layout, u8), String> {
        let (n, encoding) = text_page(&profile.code_pages.table).ok_or_else(|| {
            format!(
                "profile `{}` has no Latin code page or UTF-8 to write text in",
                profile.name
            )
        })?;
        let layout = Layout {
            columns: (profile.columns.font_a as usize).max(1),
            encoding,
        };
        Ok((layout, n))
    }

    /// Whether the page prints `c` as it is.
    pub fn prints(&self, c: char) -> bool {
        match self.encoding {
            Encoding::Single(p) => p.encode(c).is_some(),
            Encoding::Utf8 => true,
        }
    }
}

/// The profile's table number and encoding to write a Latin slip in: the first of
/// cp858, cp850, cp1252, cp437 that the profile has, else UTF-8 if it has that.
pub fn text_page(table: &BTreeMap<u8, Encoding>) -> Option<(u8, Encoding)> {
    ["cp858", "cp850", "cp1252", "cp437", "utf-8"]
        .iter()
        .find_map(|want| {
            table
                .iter()
                .find(|(_, e)| e.name() == *want)
                .map(|(n, e)| (*n, *e))
        })
}

/// Append `c` as the page can print it: itself when it can; else typographic punctuation
/// as its ASCII form, ligatures spelled out, accented Latin letters without the accent, and
/// `?` for the rest.
pub fn transliterate(c: char, prints: impl Fn(char) -> bool, out: &mut String) {
    if prints(c) {
        out.push(c);
        return;
    }
    let s = match c {
        '\u{A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' => " ",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => "\"",
        '\u{2010}'..='\u{2015}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{2022}' | '\u{00B7}' => "*",
        '\u{2500}' => "-",
        '€' => "EUR",
        '£' => "GBP",
        '©' => "(c)",
        '®' => "(R)",
        '™' => "TM",
        'ß' => "ss",
        'æ' => "ae",
        'Æ' => "AE",
        'œ' => "oe",
        'Œ' => "OE",
        'þ' => "th",
        'Þ' => "Th",
        'ð' => "d",
        'Ð' => "D",
        _ => {
            let f = fold(c);
            out.push(if f == b'*' { '?' } else { f as char });
            return;
        }
    };
    out.push_str(s);
}

/// Text in the page's bytes (after [`transliterate`]).
fn encode(enc: Encoding, s: &str, out: &mut Vec<u8>) {
    let prints = |c: char| match enc {
        Encoding::Single(p) => p.encode(c).is_some(),
        Encoding::Utf8 => true,
    };
    let mut t = String::with_capacity(s.len());
    for c in s.chars() {
        // Control characters would be commands: never written as text.
        if c.is_control() {
            t.push(' ');
        } else {
            transliterate(c, prints, &mut t);
        }
    }
    match enc {
        Encoding::Single(p) => out.extend(t.chars().map(|c| p.encode(c).unwrap_or(b'?'))),
        Encoding::Utf8 => out.extend_from_slice(t.as_bytes()),
    }
}

/// The commands of one dialect that typesetting uses (ESCPOS.md lists them).
struct Commands {
    dialect: Dialect,
}

impl Commands {
    fn init(&self, page: u8, enc: Encoding, o: &mut Vec<u8>) {
        o.extend_from_slice(b"\x1b@");
        match (self.dialect, enc) {
            (Dialect::EscPos, Encoding::Utf8) => o.extend_from_slice(b"\x1c(C\x02\x00\x30\x02"),
            (Dialect::EscPos, _) => o.extend_from_slice(&[0x1B, b't', page]),
            (Dialect::StarLine, _) => o.extend_from_slice(&[0x1B, 0x1D, b't', page]),
        }
    }

    fn align(&self, a: Align, o: &mut Vec<u8>) {
        let n = match a {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        };
        match self.dialect {
            Dialect::EscPos => o.extend_from_slice(&[0x1B, b'a', n]),
            Dialect::StarLine => o.extend_from_slice(&[0x1B, 0x1D, b'a', n]),
        }
    }

    fn style(&self, s: Style, o: &mut Vec<u8>) {
        let (b, u, d) = (s.bold as u8, s.underline as u8, s.double as u8);
        match self.dialect {
            Dialect::EscPos => {
                o.extend_from_slice(&[0x1B, b'E', b]);
                o.extend_from_slice(&[0x1B, b'-', u]);
                o.extend_from_slice(&[0x1D, b'!', d * 0x11]);
            }
            Dialect::StarLine => {
                o.extend_from_slice(if s.bold { b"\x1bE" } else { b"\x1bF" });
                o.extend_from_slice(&[0x1B, b'-', u]);
                o.extend_from_slice(&[0x1B, b'i', d, d]);
            }
        }
    }

    /// Feed past the tear bar and cut as the profile can.
    fn end(&self, profile: &Profile, o: &mut Vec<u8>) {
        match self.dialect {
            Dialect::EscPos => {
                if profile.cut.partial {
                    // GS V 66 n: feed n lines' worth, then a partial cut.
                    o.extend_from_slice(&[0x1D, b'V', 66, 3]);
                } else if profile.cut.full {
                    o.extend_from_slice(&[0x1D, b'V', 65, 3]);
                } else {
                    o.extend_from_slice(b"\n\n\n\n");
                }
            }
            Dialect::StarLine => {
                if profile.cut.partial {
                    o.extend_from_slice(&[0x1B, b'd', 3]);
                } else if profile.cut.full {
                    o.extend_from_slice(&[0x1B, b'd', 2]);
                } else {
                    o.extend_from_slice(b"\n\n\n\n");
                }
            }
        }
    }
}

/// The bytes that print `lines` on the profile's printer: reset, code page, the lines (a
/// style or alignment command only where it changes), then a feed and the cut it supports.
pub fn render(lines: &[Line], profile: &Profile) -> Result<Vec<u8>, String> {
    let (layout, page) = Layout::for_profile(profile)?;
    let cmd = Commands {
        dialect: profile.dialect,
    };
    let mut o = Vec::new();
    cmd.init(page, layout.encoding, &mut o);
    let (mut align, mut style) = (Align::Left, Style::default());
    for line in lines {
        if line.align != align {
            cmd.align(line.align, &mut o);
            align = line.align;
        }
        for (s, text) in &line.runs {
            if *s != style {
                cmd.style(*s, &mut o);
                style = *s;
            }
            encode(layout.encoding, text, &mut o);
        }
        o.push(b'\n');
    }
    if style != Style::default() {
        cmd.style(Style::default(), &mut o);
    }
    if align != Align::Left {
        cmd.align(Align::Left, &mut o);
    }
    cmd.end(profile, &mut o);
    Ok(o)
}

/// A job that prints `lines` as plain text (no styles, no cut), and the length of its
/// opening commands: what redaction reads of a slip's logical lines ([`crate::html`]). Each
/// character is written as one byte of the page (UTF-8: as itself): characters the page
/// lacks, control characters and those the page keeps among its control bytes are written as
/// `?`, so a redacted line decodes to as many characters as it was written with.
pub(crate) fn plain_job(lines: &[String], profile: &Profile) -> Result<(Vec<u8>, usize), String> {
    let (layout, page) = Layout::for_profile(profile)?;
    let cmd = Commands {
        dialect: profile.dialect,
    };
    let mut o = Vec::new();
    cmd.init(page, layout.encoding, &mut o);
    let head = o.len();
    for line in lines {
        for c in line.chars() {
            match layout.encoding {
                Encoding::Single(p) => match p.encode(c) {
                    Some(b) if b >= 0x20 && b != 0x7F => o.push(b),
                    _ => o.push(b'?'),
                },
                Encoding::Utf8 if c.is_control() => o.push(b'?'),
                Encoding::Utf8 => {
                    let mut buf = [0; 4];
                    o.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        o.push(b'\n');
    }
    Ok((o, head))
}

/// The text lines of a redacted [`plain_job`] whose opening commands were `head`: `None`
/// unless the output is still `head` followed by text lines each ended by a line feed (no
/// other control byte, text the page decodes).
pub(crate) fn plain_lines(out: &[u8], head: &[u8], profile: &Profile) -> Option<Vec<String>> {
    let (layout, _) = Layout::for_profile(profile).ok()?;
    let body = out.strip_prefix(head)?;
    if body.is_empty() {
        return Some(Vec::new());
    }
    let body = body.strip_suffix(b"\n")?;
    body.split(|b| *b == b'\n')
        .map(|l| {
            if l.iter().any(|&b| b < 0x20 || b == 0x7F) {
                return None;
            }
            match layout.encoding {
                Encoding::Single(p) => Some(l.iter().map(|&b| p.decode(b)).collect()),
                Encoding::Utf8 => String::from_utf8(l.to_vec()).ok(),
            }
        })
        .collect()
}
