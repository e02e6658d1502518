//! Card numbers: the shapes a patron card takes (the Codabar card of 14 digits, a token
//! after a card label, a site's own format), as the detectors in [`super`] look for them.

/// Digits in a patron card number found by its shape (a Codabar library card).
pub(super) const CARD_DIGITS: usize = 14;

/// A card token of 5 or more characters at the start of a value (letters and digits, with
/// spaces or dashes between groups), holding at least one digit. Groups after the first
/// hold a digit (or a masked one): a word after the number (a name run into it) is not part
/// of it, so masking that word cannot change where the number ends. A token longer than a
/// card number (20 characters) still counts: it is a number with a word glued to it, and
/// masking the word would otherwise leave a card-sized token behind for the next run.
pub(super) fn card_token(v: &str) -> Option<(usize, usize)> {
    let b = v.as_bytes();
    let is_tok = |c: u8| c.is_ascii_alphanumeric() || c == b'*';
    let mut end = 0;
    let mut i = 0;
    while i < b.len() && is_tok(b[i]) {
        let group = i;
        while i < b.len() && is_tok(b[i]) {
            i += 1;
        }
        if group > 0 && !b[group..i].iter().any(|c| c.is_ascii_digit() || *c == b'*') {
            break;
        }
        end = i;
        // One space or dash, then the next group.
        if i + 1 < b.len() && matches!(b[i], b' ' | b'-') && is_tok(b[i + 1]) {
            i += 1;
        } else {
            break;
        }
    }
    let t = &v[..end];
    // Before an `@` it is an e-mail address's local part (masked, `*****@***.***`, or not).
    let email = v[end..].starts_with('@');
    (t.len() >= 5 && !email && t.bytes().any(|c| c.is_ascii_digit() || c == b'*'))
        .then_some((0, end))
}

/// A card number of any site format: one token of 5 to 20 letters, digits and dashes,
/// four digits or more, starting with a letter or digit; not an item barcode's shape (eight
/// digits or more starting with `3`, the Codabar item type digit).
pub(super) fn card_like(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    // (`*` is a digit or letter an earlier run masked: the card it was is still one.)
    (5..=20).contains(&b.len())
        && digits >= 4
        && (b[0].is_ascii_alphanumeric() || b[0] == b'*')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'*'))
        && !(digits == b.len() && b.len() >= 8 && b[0] == b'3')
}

/// The words of `text` a site's card format is tried on, with where each starts: parted by
/// blanks, brackets, colons, commas and semicolons.
pub(super) fn site_words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ':' | ',' | ';'))
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}
