//! Character encodings a printer can be switched to: single-byte code pages and UTF-8.

use super::codepage_tables::PAGES;
use std::fmt;

/// A single-byte code page: byte → code point.
pub struct CodePage {
    name: &'static str,
    table: &'static [u16; 256],
    ascii_identity: bool,
}

impl CodePage {
    pub(crate) const fn new(
        name: &'static str,
        table: &'static [u16; 256],
        ascii_identity: bool,
    ) -> Self {
        CodePage {
            name,
            table,
            ascii_identity,
        }
    }

    /// Bytes 0x20–0x7F print as ASCII (true of all but a few DOS pages, such as cp864).
    pub fn ascii_identity(&self) -> bool {
        self.ascii_identity
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The character byte `b` prints as; U+FFFD where the page leaves it undefined.
    #[inline]
    pub fn decode(&self, b: u8) -> char {
        char::from_u32(u32::from(self.table[b as usize])).unwrap_or('\u{FFFD}')
    }

    /// The byte that prints `c`, if the page has it.
    pub fn encode(&self, c: char) -> Option<u8> {
        let cp = u32::from(c);
        if cp < 0x80 && u32::from(self.table[cp as usize]) == cp {
            return Some(cp as u8);
        }
        self.table
            .iter()
            .position(|&v| u32::from(v) == cp && v != 0xFFFD)
            .map(|i| i as u8)
    }
}

/// An encoding a profile's code-page table can name.
#[derive(Clone, Copy)]
pub enum Encoding {
    Single(&'static CodePage),
    Utf8,
}

impl Encoding {
    /// Look an encoding up by the name profiles use (`cp437`, `iso8859-15`, `utf-8`, …).
    pub fn by_name(name: &str) -> Option<Encoding> {
        let lower = name.to_ascii_lowercase();
        if lower == "utf-8" || lower == "utf8" {
            return Some(Encoding::Utf8);
        }
        PAGES.iter().find(|p| p.name == lower).map(Encoding::Single)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Single(p) => p.name,
            Encoding::Utf8 => "utf-8",
        }
    }

    /// Every name [`Encoding::by_name`] accepts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PAGES.iter().map(|p| p.name).chain(std::iter::once("utf-8"))
    }
}

impl fmt::Debug for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Encoding {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}
impl Eq for Encoding {}
