//! Wrong dialect (DESIGN §4): a job parsed with the other dialect's table drifts out of step
//! (`ESC E` is 2 bytes in Star Line Mode, 3 in ESC/POS; `GS` is a prefix in one and a
//! dropped byte in the other), so its text is not what the printer prints and the job must
//! fail closed, with a reason that names the dialect it looks like.
//!
//! Owns counting the tokens a dialect does not understand and comparing the two dialects.
//! Must not look at the text itself.

use super::Reason;
use crate::core::tokenize::{Dialect, Options, Token, TokenKind, Tokenizer};

/// Tokens the dialect does not understand, counted over a job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Misread {
    pub count: u64,
    /// The first one's offset.
    pub first: Option<u64>,
}

impl Misread {
    /// Count `tok` if the dialect that read it did not understand it: an unknown command,
    /// a malformed one, or a control byte that is no command (the printer drops it; NUL,
    /// HT, LF, CR, FF and CAN are ordinary in both dialects).
    #[inline]
    pub(super) fn take(&mut self, tok: &Token) {
        let misread = match tok.kind {
            TokenKind::Unknown | TokenKind::Malformed(_) => true,
            TokenKind::Control(b) => !matches!(b, 0x00 | 0x09 | 0x0A | 0x0C | 0x0D | 0x18),
            _ => false,
        };
        if misread {
            self.count += 1;
            self.first.get_or_insert(tok.offset);
        }
    }
}

/// The fewest misread tokens that make a job suspect.
pub(super) const MIN_MISREAD: u64 = 2;

/// `Some` when `job`, which the profile's dialect `dialect` read with `own` misread tokens,
/// is clearly in the other dialect: at least [`MIN_MISREAD`] of them, and the other dialect
/// misreads fewer than a third as many.
pub(super) fn wrong(dialect: Dialect, job: &[u8], own: Misread) -> Option<Reason> {
    if own.count < MIN_MISREAD {
        return None;
    }
    let mut theirs = Misread::default();
    let mut t = Tokenizer::new(other(dialect), Options::default());
    t.feed(job, &mut |tok| theirs.take(&tok));
    t.finish(&mut |tok| theirs.take(&tok));
    verdict(dialect, own, theirs)
}

/// The other dialect.
pub(super) fn other(dialect: Dialect) -> Dialect {
    match dialect {
        Dialect::EscPos => Dialect::StarLine,
        Dialect::StarLine => Dialect::EscPos,
    }
}

/// A tokenizer of the other dialect, as [`wrong`] reads a job with it: fed a job in pieces
/// and counted into a [`Misread`], then [`verdict`] says what [`wrong`] says.
pub(super) fn other_reader(dialect: Dialect) -> Tokenizer {
    Tokenizer::new(other(dialect), Options::default())
}

/// [`wrong`] for a job that the profile's dialect read with `own` misread tokens and the
/// other dialect with `theirs`.
pub(super) fn verdict(dialect: Dialect, own: Misread, theirs: Misread) -> Option<Reason> {
    if own.count < MIN_MISREAD {
        return None;
    }
    (theirs.count * 3 < own.count).then(|| Reason::WrongDialect {
        at: own.first.unwrap_or(0),
        misread: own.count,
        profile: dialect,
        likely: other(dialect),
    })
}
