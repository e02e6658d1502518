//! Finding field labels ("Card number", "Checked out to", …) in a segment's text.
//!
//! A label counts only as a whole word sequence: it starts where no word character comes
//! before it and ends where none follows. So the search only tries the positions where a
//! word could start, and there only the labels beginning with that byte — most word starts
//! have none. (A general multi-pattern automaton would stop at every "name" inside
//! "surname" and every "tel" inside "hotel", only for the match to be thrown away.)

/// Labels, matched ASCII-case-insensitively.
pub(super) struct Labels {
    /// Every label's bytes, in lower case.
    labels: Vec<Vec<u8>>,
    /// By the first two bytes in lower case ([`key`]): the labels starting with them,
    /// longest first. (A one-byte label is under its byte and every second byte.)
    by_start: Vec<Vec<u16>>,
}

/// A label found: bytes `start..end`, and which label (its index in the list given to
/// [`Labels::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LabelMatch {
    pub start: usize,
    pub end: usize,
    pub label: usize,
}

/// The bucket of labels starting with bytes `a`, `b` (in any ASCII case).
fn key(a: u8, b: u8) -> usize {
    (a.to_ascii_lowercase() as usize) << 8 | b.to_ascii_lowercase() as usize
}

/// A character a word is made of. A `*` is a masked letter or digit: a label glued to a
/// masked value was glued to the value before it was masked.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '*'
}

impl Labels {
    pub(super) fn new<S: AsRef<str>>(labels: &[S]) -> Self {
        let labels: Vec<Vec<u8>> = labels
            .iter()
            .map(|l| l.as_ref().as_bytes().to_ascii_lowercase())
            .collect();
        let mut by_start: Vec<Vec<u16>> = vec![Vec::new(); 1 << 16];
        for (i, l) in labels.iter().enumerate() {
            let i = u16::try_from(i).expect("fewer than 65536 labels");
            match l[..] {
                [] => {}
                [a] => (0..=255u8).for_each(|b| by_start[key(a, b)].push(i)),
                [a, b, ..] => by_start[key(a, b)].push(i),
            }
        }
        for list in &mut by_start {
            list.sort_by_key(|&i| std::cmp::Reverse(labels[i as usize].len()));
        }
        Labels { labels, by_start }
    }

    /// The labels in `text`, left to right, not overlapping: at each word start the
    /// longest label that ends a word.
    pub(super) fn find_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = LabelMatch> + 'a {
        let b = text.as_bytes();
        let mut i = 0;
        // Whether the character before `i` is a word character.
        let mut after_word = false;
        std::iter::from_fn(move || {
            while i < b.len() {
                let at = i;
                let c = b[at];
                let (is_word, len) = if c < 0x80 {
                    (c.is_ascii_alphanumeric() || c == b'*', 1)
                } else {
                    let ch = text[at..].chars().next().expect("on a character boundary");
                    (word_char(ch), ch.len_utf8())
                };
                let starts_word = !after_word;
                after_word = is_word;
                i += len;
                if !starts_word {
                    continue;
                }
                let next = b.get(at + 1).copied().unwrap_or(0);
                for &l in &self.by_start[key(c, next)] {
                    let l = l as usize;
                    let label = &self.labels[l];
                    let end = at + label.len();
                    if b.len() < end || !b[at..end].eq_ignore_ascii_case(label) {
                        continue;
                    }
                    // The whole label, on character boundaries (a label is whole characters).
                    if text[end..].chars().next().is_some_and(word_char) {
                        continue;
                    }
                    i = end;
                    after_word = text[..end].chars().next_back().is_some_and(word_char);
                    return Some(LabelMatch {
                        start: at,
                        end,
                        label: l,
                    });
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(labels: &Labels, text: &str) -> Vec<(usize, usize, usize)> {
        labels
            .find_iter(text)
            .map(|m| (m.start, m.end, m.label))
            .collect()
    }

    #[test]
    fn whole_words_longest_first() {
        let l = Labels::new(&["card", "card number", "name", "tel", "e-mail"]);
        assert_eq!(found(&l, "Card Number: 1"), vec![(0, 11, 1)]);
        assert_eq!(found(&l, "CARD: 1"), vec![(0, 4, 0)]);
        // Inside words: nothing.
        assert_eq!(found(&l, "Surname Hotel cards"), vec![]);
        // A longer label that does not end a word gives way to a shorter one that does.
        assert_eq!(found(&l, "card numbers"), vec![(0, 4, 0)]);
        // Glued to a masked value, or after an accented letter: not a word start.
        assert_eq!(found(&l, "**name éname"), vec![]);
        assert_eq!(
            found(&l, "x E-MAIL, tel.\nname"),
            vec![(2, 8, 4), (10, 13, 3), (15, 19, 2)]
        );
        // Non-ASCII bytes must match exactly.
        let l = Labels::new(&["téléphone"]);
        assert_eq!(found(&l, "TéLéPHONE 1"), vec![(0, 11, 0)]);
        assert_eq!(found(&l, "TÉLÉPHONE 1"), vec![]);
    }
}
