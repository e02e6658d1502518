//! Names: reading a labelled name (courtesy titles and a bracketed card split off), the
//! words of a found name that are masked wherever else they stand, the particles names may
//! hold, and the words (places, slip headings) that make a line no one's name.

use super::*;

/// Words that make a `X, Y` line a place, not a person.
pub(super) const PLACE_WORDS: &[&str] = &[
    "library",
    "branch",
    "public",
    "county",
    "city",
    "center",
    "centre",
    "campus",
    "university",
    "college",
    "school",
    "department",
    "dept",
    "room",
    "floor",
    "street",
    "avenue",
    "road",
];

/// Up to three name particles of the lexicons, each followed by blanks (`de la `), as a
/// pattern that may match nothing.
pub(super) fn particles_pattern() -> String {
    let words: Vec<String> = lexicon::get()
        .particles
        .iter()
        .map(|w| regex::escape(w))
        .collect();
    if words.is_empty() {
        return String::new();
    }
    format!("(?:(?:{})[ \\t]+){{0,3}}", words.join("|"))
}

/// The name in a labelled value: honorifics and trailing punctuation left out, and a card
/// number in brackets after it (`Okonkwo, Marisol (21472000358610)`) split off. `None` when
/// the value does not look like a name.
pub(super) fn split_name_value(v: &str) -> Option<(usize, usize, Option<Span>)> {
    let first = v.chars().next()?;
    // (`*.` is an initial an earlier run printed for a letter it could not move.)
    if !first.is_alphabetic() && !v.starts_with("*.") {
        return None;
    }
    // The name runs while characters are letters, spaces, apostrophes, hyphens, periods,
    // commas. A name run straight into an e-mail address (`nguyen@…`) takes the whole
    // address with it, or its shortened form would leave a new address behind
    // (`N. M.@example.org`); the run goes on after it.
    // (A `?` is a letter the printer's code page lacks, as a typeset slip prints it.)
    let name_char =
        |c: char| c.is_alphabetic() || matches!(c, ' ' | '\'' | '’' | '-' | '.' | ',' | '?');
    let mut end = 0;
    while end < v.len() {
        let rest = &v[end..];
        let c = rest.chars().next().expect("not at the end");
        if name_char(c) {
            end += c.len_utf8();
        } else if c == '@' && rest[1..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
            end += rest.find(char::is_whitespace).unwrap_or(rest.len());
        } else {
            break;
        }
    }
    let mut name = &v[..end];
    let mut start = 0;
    let whole = name;
    // Honorifics.
    loop {
        let t = name.trim_start();
        let word_end = t.find(|c: char| !c.is_alphabetic()).unwrap_or(t.len());
        let w = &t[..word_end];
        // A one-letter title (French `M.`) only before a word, not before initials (`M. M.`,
        // as an earlier run printed a name).
        let before_word = || {
            let next = t[word_end..].trim_start_matches(['.', ' ']);
            next.split(|c: char| !c.is_alphabetic())
                .next()
                .is_some_and(|n| n.chars().nth(1).is_some())
        };
        if lexicon::get().honorifics.contains(w)
            && t[word_end..].starts_with(['.', ' '])
            && (w.chars().nth(1).is_some() || before_word())
        {
            let skip = name.len() - t.len() + word_end;
            let rest = &name[skip..];
            let rest_trim = rest.trim_start_matches(['.', ' ']);
            start += skip + (rest.len() - rest_trim.len());
            name = rest_trim;
        } else {
            break;
        }
    }
    // Nothing but an honorific (no name, no initials after it): it is the name itself
    // ("MISS", a surname's first letters as an earlier run printed them), not a title.
    let rest = name.trim();
    let has_initial = rest.split_whitespace().next().is_some_and(|w| {
        let w = w.trim_end_matches(['.', ',']);
        w.chars().count() == 1 && w.chars().all(char::is_alphabetic)
    });
    if rest.chars().filter(|c| c.is_alphabetic()).count() < 2 && !has_initial {
        (name, start) = (whole, 0);
    }
    let trimmed = name.trim_end_matches([' ', ',', '.', '-', '\'', '’']);
    // Keep a period that ends an initial ("Marisol K.").
    let trimmed = if name[trimmed.len()..].starts_with('.')
        && trimmed
            .chars()
            .rev()
            .nth(1)
            .is_none_or(|c| !c.is_alphabetic())
    {
        &name[..trimmed.len() + 1]
    } else {
        trimmed
    };
    // Initials count too ("M. O.", as an earlier run left them), so that redacting twice
    // finds the same patron block.
    let initials = !trimmed.is_empty()
        && trimmed
            .split_whitespace()
            .all(|w| w.trim_end_matches(['.', ',']).chars().count() == 1);
    if trimmed.chars().filter(|c| c.is_alphabetic()).count() < 2 && !initials {
        return None;
    }
    let name_end = start + trimmed.len();
    let rest = &v[end..];
    let card = rest.trim_start().strip_prefix('(').and_then(|r| {
        let close = r.find(')')?;
        let inner = &r[..close];
        let off = v.len() - r.len();
        let lead = inner.len() - inner.trim_start().len();
        let t = inner.trim();
        (t.chars().any(|c| c.is_ascii_digit()) && (5..=20).contains(&t.len()))
            .then_some((off + lead, off + lead + t.len()))
    });
    Some((start, name_end, card))
}

/// A byte range within a value.
pub(super) type Span = (usize, usize);

/// The words of the names in `f` that are masked wherever else they appear (lower case, two
/// letters or more, honorifics left out). A name already in its redacted form (an earlier
/// run's output: one of `name_actions` leaves it as it is) spreads nothing.
/// (Into `words`, cleared first; `chars` and `out` are buffers.)
pub(super) fn spread_words(
    f: &[Finding],
    lines: &[&str],
    name_actions: &[Action],
    words: &mut Words,
    chars: &mut Vec<char>,
    out: &mut Vec<Out>,
) {
    words.clear();
    for x in f.iter().filter(|x| x.kind == Kind::Name) {
        let s = &lines[x.line][x.start..x.end];
        chars.clear();
        chars.extend(s.chars());
        let redacted = name_actions.iter().any(|a| {
            a.apply_into(chars, out);
            !changed(chars, out)
        });
        if redacted {
            continue;
        }
        for w in s.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '’' || c == '-')) {
            let w = w.trim_matches(|c: char| !c.is_alphabetic());
            if w.chars().nth(1).is_none() {
                continue; // one letter
            }
            // Not a courtesy title, nor a particle (`de`, `van`): those stand in titles and
            // other names too.
            let lex = lexicon::get();
            if lex.honorifics.contains(w) || lex.particles.contains(w) {
                continue;
            }
            let at = words.text.len();
            lower_same_len_into(w, &mut words.text);
            words.spans.push((at, words.text.len()));
        }
    }
}

/// Words (lower case) in one buffer.
#[derive(Default)]
pub(super) struct Words {
    text: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Words {
    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(a, b)| &self.text[a..b])
    }

    /// In byte order, each word once.
    pub(super) fn sort_dedup(&mut self) {
        let text = &self.text;
        self.spans
            .sort_by(|x, y| text[x.0..x.1].cmp(&text[y.0..y.1]));
        self.spans.dedup_by(|x, y| text[x.0..x.1] == text[y.0..y.1]);
    }
}

/// Is `word` one of [`PLACE_WORDS`], in any case?
pub(super) fn is_place_word(word: &str) -> bool {
    if word.is_ascii() {
        PLACE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word))
    } else {
        let lower = word.to_lowercase();
        PLACE_WORDS.contains(&lower.as_str())
    }
}

/// Does `text` hold a place word or a slip heading's word? Then it is not a person's name,
/// nor a city's.
pub(super) fn has_place_or_heading_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphabetic())
        .any(|w| is_place_word(w) || lexicon::get().headings.contains(w))
}

/// Does `text` hold the word "library" (any case)? No person is called that; other place
/// words are surnames too (Street, Branch, City).
pub(super) fn has_place_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphabetic())
        .any(|w| w.eq_ignore_ascii_case("library") || w.eq_ignore_ascii_case("libraries"))
}

/// Does `line` start with a list number (`1.`, `2)`)?
pub(super) fn starts_numbered(line: &str) -> bool {
    let t = line.trim_start().as_bytes();
    let n = t.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=3).contains(&n) && matches!(t.get(n), Some(b'.' | b')'))
}
