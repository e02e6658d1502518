//! Addresses: street lines (a house number and a street word of the lexicons, in either
//! order), boxes and units, and the postal codes and towns an address ends in.

use super::*;

/// One secondary unit of an address: a designator (USPS Publication 28's common ones, the
/// French `App.`, the British `Flat`) and a space, period or `#`, or `#` alone; then a
/// number, a letter, or both (`3C`, `B`, `12-A`, `B2`).
pub(super) const UNIT: &str = r"(?:(?:apt|apartment|app|appt|unit|suite|ste|bldg|building|fl|floor|rm|room|lot|spc|space|trlr|trailer|flat|dept)(?:\.?[ \t]*#|\.|[ \t])|#)[ \t]*(?:[0-9]{1,5}[a-z]?(?:-[0-9a-z]{1,3})?|[a-z](?:-?[0-9]{1,4})?)";

/// A city's name: one to four words, the first capitalised.
pub(super) const TOWN: &str = r"\p{Lu}[\p{L}'’.-]*(?:[ -]\p{L}[\p{L}'’.-]*){0,3}";

/// A US ZIP code (perhaps ZIP+4), a Canadian and a UK postcode.
pub(super) const ZIP: &str = r"[0-9]{5}(?:-[0-9]{4})?";

pub(super) const CA_POSTCODE: &str = r"[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]";

pub(super) const UK_POSTCODE: &str = r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}";

/// The codes of the US states, DC and territories, and of the Canadian provinces and
/// territories.
pub(super) const STATE: &str = "(?:A[KLRSZ]|C[AOT]|D[CE]|FL|G[AU]|HI|I[ADLN]|K[SY]|LA|M[ADEINOPST]|N[CDEHJMVY]|O[HKR]|P[AR]|RI|S[CD]|T[NX]|UT|V[AIT]|W[AIVY]|AB|BC|MB|N[BLSTU]|ON|PE|QC|SK|YT)";

/// Whether `line` (after its blanks) starts with a house number, perhaps with a letter or a
/// second number (`12B`, `12-14`), then a space and a letter.
pub(super) fn starts_with_house_number(line: &str) -> bool {
    let t = line.trim_start().as_bytes();
    let number = t.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=6).contains(&number) {
        return false;
    }
    let mut i = number;
    if t.get(i) == Some(&b'-') {
        let more = t[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=6).contains(&more) {
            return false;
        }
        i += 1 + more;
    } else if t.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    t.get(i) == Some(&b' ')
        && line.trim_start()[i + 1..]
            .chars()
            .next()
            .is_some_and(char::is_alphabetic)
}

/// Whether `line` holds `box` in any case (every post-office or rural-route box does).
pub(super) fn has_box_word(line: &str) -> bool {
    line.as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"box"))
}

/// Where a street address stands in `line`: a house number (`12`, `12B`, `12-14`, `7/3`)
/// and a street word of the lexicons (a whole word, `St`, `rue`, `calle`, or a compound
/// ending in a street ending, `Hauptstraße`, `Kjølberggata`) at most four words apart, in
/// either order (`12 Main St`, `5 rue des Lilas`, `Hauptstraße 12`, `ul. Długa 5`). From the
/// first of the two to the end of the line. Words are parted by blanks, commas and the
/// control character [`blank`] writes; a number run on from a word (`M.7`, `**7`) is none.
pub(super) fn street_span(line: &str) -> Option<(usize, usize)> {
    if !has_house_number(line.as_bytes()) {
        return None;
    }
    let lex = lexicon::get();
    // The line's words (start, end, house number?), in a buffer kept from line to line.
    thread_local! {
        static WORDS: std::cell::RefCell<Vec<(usize, usize, bool)>> = const {
            std::cell::RefCell::new(Vec::new())
        };
    }
    WORDS.with(|words| {
        let mut words = words.borrow_mut();
        words.clear();
        street_words(line, &mut words);
        street_in(line, &words, lex)
    })
}

/// Part `line` into words for [`street_span`]: at blanks, commas and the control character
/// [`blank`] writes.
fn street_words(line: &str, words: &mut Vec<(usize, usize, bool)>) {
    let mut start = None;
    let mut word_end = |a: usize, i: usize| {
        words.push((a, i, is_house_number(&line.as_bytes()[a..i])));
    };
    if line.is_ascii() {
        for (i, &c) in line.as_bytes().iter().enumerate() {
            match (c.is_ascii_whitespace() || matches!(c, b',' | 1), start) {
                (true, Some(a)) => {
                    word_end(a, i);
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    } else {
        for (i, c) in line.char_indices() {
            match (c.is_whitespace() || c == ',' || c == '\u{1}', start) {
                (true, Some(a)) => {
                    word_end(a, i);
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
    }
    if let Some(a) = start {
        word_end(a, line.len());
    }
}

/// [`street_span`] over `line`'s `words`.
fn street_in(
    line: &str,
    words: &[(usize, usize, bool)],
    lex: &lexicon::Lexicon,
) -> Option<(usize, usize)> {
    if !words.iter().any(|w| w.2) {
        return None;
    }
    let is_street = |w: &str| {
        let w = w.trim_end_matches('.');
        // Lower case on the stack for the usual short ASCII word.
        let mut buf = [0u8; 24];
        let owned;
        let w: &str = if w.is_ascii() && w.len() <= buf.len() {
            let lower = &mut buf[..w.len()];
            lower.copy_from_slice(w.as_bytes());
            lower.make_ascii_lowercase();
            std::str::from_utf8(lower).expect("ASCII")
        } else {
            owned = w.to_lowercase();
            &owned
        };
        !w.is_empty()
            && (lex.street.contains_lower(w.as_bytes()) || w.len() >= 6 && lex.has_street_suffix(w))
    };
    let mut first: Option<usize> = None;
    for (i, &(a, b, number)) in words.iter().enumerate() {
        if number || !line[a..b].chars().next().is_some_and(char::is_alphabetic) {
            continue;
        }
        // Only a word within five of a house number can be its street's.
        let near = words[i.saturating_sub(5)..(i + 6).min(words.len())]
            .iter()
            .any(|w| w.2);
        if !near {
            continue;
        }
        if !is_street(&line[a..b]) {
            continue;
        }
        let lo = i.saturating_sub(5);
        let hi = (i + 5).min(words.len() - 1);
        if let Some(j) = (lo..=hi)
            .filter(|&j| words[j].2)
            .min_by_key(|&j| j.abs_diff(i))
        {
            // A house number after the street word (`Thorvald Meyers gate 61`): the street's
            // name comes before its type word, so the field from its start is the address.
            let start = if j > i {
                field_start(line, words[i].0)
            } else {
                words[j].0
            };
            first = Some(first.map_or(start, |s| s.min(start)));
        }
    }
    first.map(|s| (s, line.trim_end().len()))
}

/// Where the field holding byte `at` of `line` starts: after the last column gap (two blanks
/// or a tab) or label colon before it, else at the line's first character.
pub(super) fn field_start(line: &str, at: usize) -> usize {
    let before = &line[..at];
    match before
        .rfind("  ")
        .into_iter()
        .chain(before.rfind('\t'))
        .chain(before.rfind(':').map(|c| c + 1))
        .max()
    {
        Some(gap) => gap + before[gap..].len() - before[gap..].trim_start().len(),
        None => before.len() - before.trim_start().len(),
    }
}

/// A cheap test before [`street_span`] splits a line into words: a word (after the line's
/// start, a blank, a comma or the blanking character) that is a house number.
pub(super) fn has_house_number(b: &[u8]) -> bool {
    // Every byte of a non-ASCII character counts as a separator: a superset of the blanks
    // [`street_span`] parts words at (a no-break space among them), so no house number it
    // finds is missed here.
    let sep = |c: u8| matches!(c, b',' | 1) || c.is_ascii_whitespace() || c >= 0x80;
    let mut i = 0;
    while let Some(d) = b[i..].iter().position(u8::is_ascii_digit) {
        let at = i + d;
        let end = b[at..]
            .iter()
            .position(|&c| sep(c))
            .map_or(b.len(), |n| at + n);
        let starts_word = at == 0 || sep(b[at - 1]);
        if starts_word && is_house_number(&b[at..end]) {
            return true;
        }
        i = end.max(at + 1);
    }
    false
}

/// A house number: one to six digits, perhaps a letter (`12B`) or a second part after `-`
/// or `/` (`12-14`, `7/3`, `12-A`).
pub(super) fn is_house_number(b: &[u8]) -> bool {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=6).contains(&n) {
        return false;
    }
    match &b[n..] {
        [] => true,
        [c] => c.is_ascii_alphabetic(),
        [b'-' | b'/', rest @ ..] => {
            (1..=4).contains(&rest.len()) && rest.iter().all(u8::is_ascii_alphanumeric)
        }
        _ => false,
    }
}
