//! Print order against byte order (DESIGN §4): the detectors read a segment's text in byte
//! order, so a job that makes the printer put text somewhere other than after what came
//! before it (a label printed after its value, to its left) must fail closed.
//!
//! Owns the per-job state that decides it: page mode, a lower bound of the horizontal print
//! position on the current line, and whether the paper was fed backwards. The state carries
//! across segments (a query does not end a line or page mode; only a cut parts the paper).
//! The exact rules are on [`super::Reason::PrintOrder`]. Must not look at the text itself.

use super::{Disorder, Reason};
use crate::core::tokenize::{n16_signed, DataKind, Dialect, Op, Token, TokenKind};

/// The least a printed character advances the print position, in horizontal motion units
/// at their default (one dot on 180 and 203 dpi printers): no resident font of the
/// supported printers is narrower than 9 dots, and double width, character spacing and
/// tabs only add to it.
pub(super) const MIN_CHAR_UNITS: u64 = 8;

/// The per-job print order state. Feed every token of the job in order with
/// [`Order::token`].
#[derive(Clone, Debug, Default)]
pub(super) struct Order {
    /// In page mode since the command at this offset (`ESC L`).
    page: Option<(u64, &'static str)>,
    /// A lower bound of the print position on the current line, in motion units.
    x: u64,
    /// The print position went left of text already on the current line (command, offset).
    back: Option<(u64, &'static str)>,
    /// The paper was fed backwards since the last cut (command, offset).
    reverse: Option<(u64, &'static str)>,
}

impl Order {
    /// Take one token (`bytes` are its bytes). `Some` when it is printed text (or a symbol)
    /// whose place on the paper may differ from its place in the bytes.
    pub(super) fn token(&mut self, dialect: Dialect, tok: &Token, bytes: &[u8]) -> Option<Reason> {
        let fail = |(at, command): (u64, &'static str), why| Reason::PrintOrder {
            at,
            command,
            text: tok.offset,
            why,
        };
        match tok.kind {
            TokenKind::Text => {
                if let Some(p) = self.page {
                    return Some(fail(p, Disorder::PageMode));
                }
                if let Some(r) = self.reverse {
                    return Some(fail(r, Disorder::ReverseFeed));
                }
                if let Some(b) = self.back {
                    return Some(fail(b, Disorder::MovesLeft));
                }
                // Characters: every byte but UTF-8 continuation bytes (fewer than the
                // characters in a single-byte page, never more than the columns they take).
                let chars = bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
                self.x = self.x.saturating_add(chars * MIN_CHAR_UNITS);
            }
            TokenKind::Data {
                kind: DataKind::Barcode | DataKind::Code2dPrint,
                ..
            } => {
                // A printed symbol is printed data too (and may become a text line).
                if let Some(p) = self.page {
                    return Some(fail(p, Disorder::PageMode));
                }
                if let Some(r) = self.reverse {
                    return Some(fail(r, Disorder::ReverseFeed));
                }
            }
            TokenKind::Control(b) => match b {
                0x0A => self.line_end(),
                // ESC/POS FF: in page mode prints the page and returns to standard mode.
                0x0C => {
                    self.page = None;
                    self.line_end();
                }
                _ => {}
            },
            TokenKind::Command(c) => match (c.op, c.name) {
                (Op::Init, _) => {
                    // Clears the print buffer and returns to standard mode.
                    self.page = None;
                    self.line_end();
                }
                (Op::PageMode, _) => self.page = Some((tok.offset, c.name)),
                (Op::StandardMode, _) => {
                    self.page = None;
                    self.line_end();
                }
                (Op::Feed, _) => self.line_end(),
                (Op::Cut, _) => {
                    self.line_end();
                    self.reverse = None;
                }
                (_, "ESC e" | "ESC K") if dialect == Dialect::EscPos => {
                    // Print and feed the paper backwards.
                    self.line_end();
                    self.reverse = Some((tok.offset, c.name));
                }
                (_, "ESC $") if dialect == Dialect::EscPos && self.page.is_none() => {
                    self.absolute(tok, c.name, bytes)
                }
                (_, "ESC GS A") if dialect == Dialect::StarLine => {
                    self.absolute(tok, c.name, bytes)
                }
                (_, "ESC \\") if dialect == Dialect::EscPos && self.page.is_none() => {
                    self.relative(tok, c.name, bytes)
                }
                (_, "ESC GS R") if dialect == Dialect::StarLine => {
                    self.relative(tok, c.name, bytes)
                }
                _ => {}
            },
            _ => {}
        }
        None
    }

    fn line_end(&mut self) {
        self.x = 0;
        self.back = None;
    }

    /// `ESC $ nL nH` / Star `ESC GS A n1 n2`: an absolute position on the line.
    fn absolute(&mut self, tok: &Token, name: &'static str, bytes: &[u8]) {
        let [.., lo, hi] = bytes else { return };
        let to = u64::from(*lo) | u64::from(*hi) << 8;
        if to < self.x {
            self.back.get_or_insert((tok.offset, name));
        }
        self.x = to;
    }

    /// `ESC \ nL nH` / Star `ESC GS R n1 n2`: a move by a signed amount.
    fn relative(&mut self, tok: &Token, name: &'static str, bytes: &[u8]) {
        let [.., lo, hi] = bytes else { return };
        let by = n16_signed(*lo, *hi);
        if by < 0 {
            self.back.get_or_insert((tok.offset, name));
            self.x = self.x.saturating_sub(by.unsigned_abs().into());
        } else {
            self.x = self.x.saturating_add(by as u64);
        }
    }
}
