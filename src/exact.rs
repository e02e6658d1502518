//! Exact mode: patron data that the slip's own template marks. An element of an HTML slip
//! with `data-slipguard="KIND"` holds patron data of that kind (the library's template put
//! it there: `slipguard template annotate` wraps each patron placeholder of a Koha or
//! Evergreen template in `<span data-slipguard="KIND">`). This module owns the kinds, what
//! each prints instead (through the site's actions and slip policies), and how a marked
//! value is found again elsewhere on the same slip. [`crate::html`] reads the attribute
//! while it lays a slip out; [`crate::template`] writes it. Sans-IO; never keeps a value
//! beyond the call that reads it, and its `Debug` output holds none.
//!
//! Rules (DESIGN §4, `docs/exact-mode.md`):
//! * the element's whole printed text is the value; it gets the kind's action under the
//!   slip's policy (a hold-shelf slip's name is `OKON M`); name elements that stand next to
//!   each other on a line (`<span>Okonkwo</span>, <span>Marisol</span>`) are one name;
//! * the value is masked, with the same action, wherever else it stands on the slip (see
//!   [`Needle`] for what counts as the same value);
//! * an unknown kind (a typo, `none`, empty) does not un-mask anything: the element counts as
//!   unannotated (DESIGN §4) — an annotation around it still applies, and the detectors run
//!   on its text as on any other — and the slip's outcome says so (a count, never the value
//!   of the attribute, which a broken template could fill with patron data);
//! * nested annotations: the innermost element's kind applies to its own text, except that
//!   nothing inside an element marked `drop` prints;
//! * heuristic detection still runs over the whole slip, annotated or not.

use crate::core::redact::action::{Action, Out};
use crate::core::redact::config::Actions;
use crate::core::redact::Kind;

/// The attribute that marks patron data in an HTML slip.
pub const ATTR: &str = "data-slipguard";

/// What an annotated element holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Annot {
    Name,
    Card,
    Email,
    Phone,
    Address,
    Birthdate,
    /// Patron data of no other kind (an extended attribute, a user name, a hold id):
    /// masked.
    Custom,
    /// Patron data never printed (a password, a note): nothing of it prints.
    Drop,
}

impl Annot {
    pub const ALL: [Annot; 8] = [
        Annot::Name,
        Annot::Card,
        Annot::Email,
        Annot::Phone,
        Annot::Address,
        Annot::Birthdate,
        Annot::Custom,
        Annot::Drop,
    ];

    /// The attribute value for this kind.
    pub fn label(self) -> &'static str {
        match self {
            Annot::Name => "name",
            Annot::Card => "card",
            Annot::Email => "email",
            Annot::Phone => "phone",
            Annot::Address => "address",
            Annot::Birthdate => "birthdate",
            Annot::Custom => "custom",
            Annot::Drop => "drop",
        }
    }

    /// The kind an attribute value names (surrounding blanks and ASCII case ignored);
    /// `None` for anything else, `none` and the empty value included.
    pub fn parse(value: &str) -> Option<Annot> {
        let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
        Annot::ALL
            .into_iter()
            .find(|a| a.label().eq_ignore_ascii_case(v))
    }

    /// The kind a masked value of this annotation is counted under (`drop` as `custom`).
    pub fn kind(self) -> Kind {
        match self {
            Annot::Name => Kind::Name,
            Annot::Card => Kind::Card,
            Annot::Email => Kind::Email,
            Annot::Phone => Kind::Phone,
            Annot::Address => Kind::Address,
            Annot::Birthdate => Kind::Birthdate,
            Annot::Custom | Annot::Drop => Kind::Custom,
        }
    }

    /// What prints instead of a value of this kind, under `actions` (the slip's policy's):
    /// the kind's action; `custom` is masked, `drop` prints nothing.
    pub fn action(self, actions: &Actions) -> Action {
        match self {
            Annot::Custom => Action::Mask,
            Annot::Drop => Action::Drop,
            a => actions.get(a.kind()).clone(),
        }
    }
}

/// The characters an action prints for `value`.
pub fn apply(action: &Action, value: &[char]) -> Vec<char> {
    action
        .apply(value)
        .into_iter()
        .map(|o| match o {
            Out::Keep(j) => value[j],
            Out::Ascii(b) => char::from(b),
        })
        .collect()
}

/// One way an annotated value can stand again elsewhere on the slip. (No `Debug`: it holds
/// a patron value.)
#[derive(Clone, PartialEq, Eq)]
pub enum Needle {
    /// These characters (folded by [`fold`]; a space stands for any run of blanks), as whole
    /// words: not preceded or followed by a letter or digit.
    Text(Vec<char>),
    /// A run of digits and separators (spaces, `-`, `.`, `/`, brackets, `+`) whose digits
    /// are these (at least 5), or, when `suffix` is set, end with them or are their end (at
    /// least 7 shared: a phone number with or without its country code).
    Digits { digits: Vec<u8>, suffix: bool },
}

/// A character as values are compared: lower case (when that is one character), and
/// blanks as a space.
pub fn fold(c: char) -> char {
    if c.is_whitespace() || c == '\u{A0}' {
        return ' ';
    }
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// `value` folded, blanks collapsed to one space and trimmed.
fn folded(value: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(value.len());
    for &c in value {
        let f = fold(c);
        if f == ' ' && (out.is_empty() || out.last() == Some(&' ')) {
            continue;
        }
        out.push(f);
    }
    while out.last() == Some(&' ') {
        out.pop();
    }
    out
}

fn alnum(value: &[char]) -> usize {
    value.iter().filter(|c| c.is_alphanumeric()).count()
}

/// The ways `value`, the text of an element annotated `annot`, is looked for elsewhere on
/// the slip. Only values that can hardly be anything but the patron's: a name and each of
/// its words (two letters or more, not a particle or a courtesy title); a card number (five
/// digits or more, however grouped) and a phone number (seven or more, with or without the
/// country code); an e-mail address; a date of birth as written; an address, a custom value
/// or a dropped one as written when it holds a digit or two words and four letters or
/// digits (a town name alone is also the library's).
pub fn needles(annot: Annot, value: &[char]) -> Vec<Needle> {
    let mut out = Vec::new();
    let whole = folded(value);
    let digits: Vec<u8> = value
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|&c| c as u8)
        .collect();
    let words = whole.split(|&c| c == ' ').filter(|w| !w.is_empty()).count();
    let n = alnum(&whole);
    match annot {
        Annot::Name => {
            if n >= 2 {
                out.push(Needle::Text(whole.clone()));
            }
            let mut word = String::new();
            let flush = |word: &mut String, out: &mut Vec<Needle>| {
                let w: Vec<char> = word
                    .trim_matches(|c: char| !c.is_alphabetic())
                    .chars()
                    .collect();
                if w.iter().filter(|c| c.is_alphabetic()).count() >= 2
                    && !crate::core::redact::is_name_particle_or_title(
                        &w.iter().collect::<String>(),
                    )
                {
                    let w = Needle::Text(w);
                    if !out.contains(&w) {
                        out.push(w);
                    }
                }
                word.clear();
            };
            for &c in &whole {
                if c.is_alphabetic() || matches!(c, '\'' | '’' | '-') {
                    word.push(c);
                } else {
                    flush(&mut word, &mut out);
                }
            }
            flush(&mut word, &mut out);
        }
        Annot::Card => {
            if digits.len() >= 5 {
                out.push(Needle::Digits {
                    digits: digits.clone(),
                    suffix: false,
                });
            }
            if n >= 4 && digits.len() < n {
                out.push(Needle::Text(whole));
            }
        }
        Annot::Phone => {
            if digits.len() >= 7 {
                out.push(Needle::Digits {
                    digits,
                    suffix: true,
                });
            }
        }
        Annot::Email => {
            if whole.contains(&'@') && n >= 3 {
                out.push(Needle::Text(whole));
            }
        }
        Annot::Birthdate => {
            if n >= 4 {
                out.push(Needle::Text(whole));
            }
        }
        Annot::Address | Annot::Custom | Annot::Drop => {
            if n >= 4 && (!digits.is_empty() || words >= 2) {
                out.push(Needle::Text(whole));
            }
        }
    }
    out
}

/// Where `needle` stands in `line` (characters), as character ranges, left to right, not
/// overlapping; only where `free` allows every character of the match.
pub fn find(needle: &Needle, line: &[char], free: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let word = |i: usize| line.get(i).is_some_and(|c| c.is_alphanumeric());
    // Part of a longer token (`ysolde.q@example.org`, `okonkwo_m`): left to the detectors,
    // which take it whole.
    let glue = |c: Option<&char>| c.is_some_and(|c| matches!(c, '.' | '@' | '_'));
    let joined = |a: usize, b: usize| {
        (a >= 2 && glue(line.get(a - 1)) && word(a - 2)) || (glue(line.get(b)) && word(b + 1))
    };
    match needle {
        Needle::Text(t) => {
            let Some(&first) = t.first() else {
                return out;
            };
            let mut i = 0;
            while i < line.len() {
                if fold(line[i]) != first || (i > 0 && word(i - 1) && first.is_alphanumeric()) {
                    i += 1;
                    continue;
                }
                // Match, a space of the needle against one or more blanks.
                let (mut k, mut j) = (i, 0);
                while j < t.len() && k < line.len() {
                    if t[j] == ' ' {
                        if fold(line[k]) != ' ' {
                            break;
                        }
                        while k < line.len() && fold(line[k]) == ' ' {
                            k += 1;
                        }
                        j += 1;
                    } else if fold(line[k]) == t[j] {
                        k += 1;
                        j += 1;
                    } else {
                        break;
                    }
                }
                let last_word = t.last().is_some_and(|c| c.is_alphanumeric());
                if j == t.len() && !(last_word && word(k)) && !joined(i, k) && (i..k).all(&free) {
                    out.push((i, k));
                    i = k;
                } else {
                    i += 1;
                }
            }
        }
        Needle::Digits { digits, suffix } => {
            let sep = |c: char| matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '+' | '\u{A0}');
            let mut i = 0;
            while i < line.len() {
                if !line[i].is_ascii_digit() || (i > 0 && word(i - 1)) {
                    i += 1;
                    continue;
                }
                // The run: digits and separators, ending on a digit.
                let (mut k, mut end) = (i, i);
                let mut run: Vec<u8> = Vec::new();
                while k < line.len() && (line[k].is_ascii_digit() || sep(line[k])) {
                    if line[k].is_ascii_digit() {
                        run.push(line[k] as u8);
                        end = k + 1;
                    }
                    k += 1;
                }
                let same = if *suffix {
                    let n = run.len().min(digits.len());
                    n >= 7 && run[run.len() - n..] == digits[digits.len() - n..]
                } else {
                    run == *digits
                };
                // A run that goes on into letters is a word of its own (`2123A`).
                if same && !word(end) && (i..end).all(&free) {
                    out.push((i, end));
                }
                i = end.max(i + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn found(annot: Annot, value: &str, line: &str) -> Vec<String> {
        let line = chars(line);
        let mut out = Vec::new();
        for n in needles(annot, &chars(value)) {
            for (a, b) in find(&n, &line, |_| true) {
                out.push(line[a..b].iter().collect());
            }
        }
        out
    }

    #[test]
    fn kinds_parse_in_any_case_and_unknown_ones_do_not() {
        assert_eq!(Annot::parse(" Name "), Some(Annot::Name));
        assert_eq!(Annot::parse("DROP"), Some(Annot::Drop));
        for bad in ["none", "", "nmae", "name card", "unmask"] {
            assert_eq!(Annot::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_name_is_found_again_whole_and_by_its_words() {
        assert_eq!(
            found(Annot::Name, "Marisol", "Dear MARISOL, thank you"),
            vec!["MARISOL"]
        );
        assert_eq!(
            found(Annot::Name, "van der Berg", "Berg; vanish"),
            vec!["Berg"]
        );
        // Not inside another word, nor inside an address or a user name (the detectors
        // take those whole).
        assert!(found(Annot::Name, "Ann", "Annual report").is_empty());
        assert!(found(Annot::Name, "Ysolde", "ysolde.q@example.org").is_empty());
        assert_eq!(found(Annot::Name, "Ysolde", "Ysolde-Marie"), vec!["Ysolde"]);
    }

    #[test]
    fn numbers_are_found_however_grouped() {
        assert_eq!(
            found(Annot::Card, "21234567890123", "ID 2123 4567 8901 23 ok"),
            vec!["2123 4567 8901 23"]
        );
        assert!(found(Annot::Card, "21234567890123", "212345678901234").is_empty());
        assert_eq!(
            found(Annot::Phone, "+1 (770) 555-0199", "call 770.555.0199"),
            vec!["770.555.0199"]
        );
        assert!(
            found(Annot::Phone, "555-019", "555-019").is_empty(),
            "too short"
        );
    }

    #[test]
    fn a_town_alone_is_not_looked_for_but_a_street_is() {
        assert!(found(Annot::Address, "Springfield", "Springfield Library").is_empty());
        assert_eq!(
            found(Annot::Address, "12  Elm Street", "at 12 elm street."),
            vec!["12 elm street"]
        );
    }
}
