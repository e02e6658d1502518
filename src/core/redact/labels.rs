//! Finding field labels ("Card number", "Checked out to", …) in a segment's text.
//!
//! A label counts only as a whole word sequence: it starts where no word character comes
//! before it and ends where none follows. So the search only tries the positions where a
//! word could start, and there only the labels beginning with that byte — most word starts
//! have none. (A general multi-pattern automaton would stop at every "name" inside
//! "surname" and every "tel" inside "hotel", only for the match to be thrown away.)

/// Labels, matched in text already in lower case: both the labels and the text are given
/// as `detect::lower_same_len` writes them, so a label matches in any case by a plain byte
/// comparison, and a label needs no forms for its upper and title case.
pub(super) struct Labels {
    /// Every label's bytes back to back (one buffer, so that comparing
    /// with the labels of a bucket reads memory close together).
    text: Vec<u8>,
    /// Where each label is in [`Self::text`].
    spans: Vec<(u32, u32)>,
    /// The labels of four bytes or more, by a hash of their first four bytes in lower case
    /// (see [`quad`]), longest first: those of bucket `k` are `by_quad[quad_start[k]..
    /// quad_start[k + 1]]`. A word start is compared only with the few labels that may begin
    /// as it does, however many languages' labels there are.
    by_quad: Vec<u16>,
    quad_start: Vec<u32>,
    /// One bit per bucket of [`Self::by_quad`] that holds a label: a small table, read
    /// before the large one.
    quad_bits: Vec<u64>,
    /// The labels of two or three bytes: (their first two bytes as [`pair`] gives them,
    /// index), by pair, longest first.
    short: Vec<(usize, u16)>,
    /// One bit per pair some label of [`Self::short`] starts with.
    short_pairs: Vec<u64>,
    /// One-byte labels, by their byte in lower case.
    single: Vec<Option<u16>>,
    /// One bit per pair of first two bytes (in lower case) some label can start with, so
    /// that most word starts are passed over with one look-up.
    pairs: Vec<u64>,
    /// By byte: [`WORD`] for an ASCII letter, digit or `*`, [`FIRST`] for a byte some
    /// label starts with (in either case).
    class: [u8; 256],
}

/// [`Labels::class`]: a byte of a word.
const WORD: u8 = 1;
/// [`Labels::class`]: a byte a label can start with.
const FIRST: u8 = 2;

/// A label found: bytes `start..end`, and which label (its index in the list given to
/// [`Labels::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LabelMatch {
    pub start: usize,
    pub end: usize,
    pub label: usize,
}

/// A character a word is made of. A `*` is a masked letter or digit: a label glued to a
/// masked value was glued to the value before it was masked.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '*'
}

/// The bit of [`Labels::pairs`] for a label (or text) starting with bytes `a`, `b`.
fn pair(a: u8, b: u8) -> usize {
    (a as usize) << 8 | b as usize
}

/// The bucket of [`Labels::by_quad`] for a label (or text) starting with `bytes` (its
/// first four; missing ones read as 0).
#[inline(always)]
fn quad(bytes: &[u8]) -> usize {
    let mut h = 0u32;
    for i in 0..4 {
        h = h << 8 | u32::from(bytes.get(i).copied().unwrap_or(0));
    }
    (h.wrapping_mul(0x9E37_79B1) >> (32 - QUAD_BITS)) as usize
}

/// [`Labels::by_quad`] has 2^QUAD_BITS buckets.
const QUAD_BITS: u32 = 13;

/// Bytes scanned at once for word starts: one bit each in a `u64`.
const CHUNK: usize = 64;

impl Labels {
    /// `labels` in lower case (as `detect::lower_same_len` writes them: a label in any
    /// other case is never found).
    pub(super) fn new<S: AsRef<str>>(labels: &[S]) -> Self {
        let labels: Vec<Vec<u8>> = labels
            .iter()
            .map(|l| l.as_ref().as_bytes().to_vec())
            .collect();
        let mut single = vec![None; 256];
        let mut short = Vec::new();
        let mut pairs = vec![0u64; (1 << 16) / 64];
        let mut set = |k: usize| pairs[k / 64] |= 1 << (k % 64);
        let mut keyed: Vec<(usize, u16)> = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let i = u16::try_from(i).expect("fewer than 65536 labels");
            match l[..] {
                [] => {}
                [a] => {
                    single[a as usize].get_or_insert(i);
                    (0..=255u8).for_each(|b| set(pair(a, b)));
                }
                [a, b] | [a, b, _] => {
                    short.push((pair(a, b), i));
                    set(pair(a, b));
                }
                [a, b, ..] => {
                    keyed.push((quad(l), i));
                    set(pair(a, b));
                }
            }
        }
        // By bucket (pair), longest label first (the first listed among equals).
        let order = |&(k, i): &(usize, u16)| (k, std::cmp::Reverse(labels[i as usize].len()), i);
        keyed.sort_by_key(order);
        short.sort_by_key(order);
        let mut short_pairs = vec![0u64; (1 << 16) / 64];
        for &(k, _) in &short {
            short_pairs[k / 64] |= 1 << (k % 64);
        }
        let mut quad_start = vec![0u32; (1 << QUAD_BITS) + 1];
        for &(k, _) in &keyed {
            quad_start[k + 1] += 1;
        }
        for k in 0..1 << QUAD_BITS {
            quad_start[k + 1] += quad_start[k];
        }
        let mut quad_bits = vec![0u64; (1 << QUAD_BITS) / 64];
        for &(k, _) in &keyed {
            quad_bits[k / 64] |= 1 << (k % 64);
        }
        let by_quad = keyed.into_iter().map(|(_, i)| i).collect();
        let mut class = [0u8; 256];
        for (c, class) in (0..=255u8).zip(class.iter_mut()) {
            if c.is_ascii_alphanumeric() || c == b'*' {
                *class |= WORD;
            }
            if labels.iter().any(|l| l.first() == Some(&c)) {
                *class |= FIRST;
            }
        }
        let mut text = Vec::new();
        let spans = labels
            .iter()
            .map(|l| {
                let at = text.len() as u32;
                text.extend_from_slice(l);
                (at, text.len() as u32)
            })
            .collect();
        Labels {
            text,
            spans,
            by_quad,
            quad_start,
            quad_bits,
            short,
            short_pairs,
            single,
            pairs,
            class,
        }
    }

    /// The labels in `text` (in lower case, see [`Labels`]), left to right, not
    /// overlapping: at each word start the longest label that ends a word. (A word start is any position not preceded by a word
    /// character; a label may start with punctuation.)
    pub(super) fn find_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = LabelMatch> + 'a {
        let b = text.as_bytes();
        // The chunk being looked at starts at `at`; `starts` has a bit for each word start
        // in it not yet tried. Scanning a chunk's bytes into bits has no branch per byte:
        // text is mostly short words, and a branch at every word boundary is mispredicted
        // about as often as it is taken.
        let (mut at, mut next, mut starts) = (0usize, 0usize, 0u64);
        // Whether the character before `next` is a word character.
        let mut after_word = false;
        // Matches do not overlap: starts before this are inside the last one.
        let mut resume = 0;
        std::iter::from_fn(move || loop {
            while starts != 0 {
                let k = starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let s = at + k;
                if s < resume {
                    continue;
                }
                if !self.may_start(b, s) {
                    continue;
                }
                if let Some(m) = self.label_at(text, s) {
                    resume = m.end;
                    return Some(m);
                }
            }
            if next >= b.len() {
                return None;
            }
            at = next;
            next = (at + CHUNK).min(b.len());
            while !text.is_char_boundary(next) {
                next -= 1;
            }
            let chunk = &b[at..next];
            starts = 0;
            if chunk.is_ascii() {
                let (mut word, mut first) = (0u64, 0u64);
                for (k, &c) in chunk.iter().enumerate() {
                    let class = self.class[c as usize];
                    word |= u64::from(class & WORD) << k;
                    first |= u64::from(class >> 1) << k;
                }
                // Only where a label could start: its first byte is one a label has.
                starts = !(word << 1 | u64::from(after_word)) & first;
                after_word = word >> (chunk.len() - 1) & 1 == 1;
            } else {
                for (k, c) in text[at..next].char_indices() {
                    if !after_word {
                        starts |= 1 << k;
                    }
                    after_word = word_char(c);
                }
            }
        })
    }

    /// Whether some label may start at byte `s` of `b`: its first four bytes' bucket holds a
    /// label, or a short label starts with its first two, or a one-byte label with its
    /// first. Three bit look-ups in small tables, before [`Labels::label_at`] compares.
    #[inline(always)]
    fn may_start(&self, b: &[u8], s: usize) -> bool {
        let q = quad(&b[s..]);
        if self.quad_bits[q / 64] >> (q % 64) & 1 == 1 {
            return true;
        }
        let k = pair(b[s], b.get(s + 1).copied().unwrap_or(0));
        self.short_pairs[k / 64] >> (k % 64) & 1 == 1 || self.single[b[s] as usize].is_some()
    }

    /// Label `i`'s bytes.
    fn label(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        &self.text[a as usize..b as usize]
    }

    /// The longest label that starts at byte `s` of `text` and ends a word.
    fn label_at(&self, text: &str, s: usize) -> Option<LabelMatch> {
        let b = text.as_bytes();
        let first = b[s];
        let second = b.get(s + 1).copied().unwrap_or(0);
        let k = pair(first, second);
        if self.pairs[k / 64] >> (k % 64) & 1 == 0 {
            return None;
        }
        let q = quad(&b[s..]);
        let has_long = self.quad_bits[q / 64] >> (q % 64) & 1 == 1;
        let has_short = self.short_pairs[k / 64] >> (k % 64) & 1 == 1;
        let single = self.single[first as usize];
        if !has_long && !has_short && single.is_none() {
            return None;
        }
        let long = if has_long {
            &self.by_quad[self.quad_start[q] as usize..self.quad_start[q + 1] as usize]
        } else {
            &[]
        };
        let from = if has_short {
            self.short.partition_point(|x| x.0 < k)
        } else {
            self.short.len()
        };
        let short = self.short[from..]
            .iter()
            .take_while(|x| x.0 == k)
            .map(|x| x.1);
        // Longest first: four bytes or more, then two or three, then one.
        for l in long.iter().copied().chain(short).chain(single) {
            let l = l as usize;
            let label = self.label(l);
            let end = s + label.len();
            if b.get(s..end) != Some(label) {
                continue;
            }
            // The whole label, on character boundaries (a label is whole characters).
            if text[end..].chars().next().is_some_and(word_char) {
                continue;
            }
            return Some(LabelMatch {
                start: s,
                end,
                label: l,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::detect::lower_same_len;
    use super::*;
    use proptest::prelude::*;

    /// The search as first written, a character at a time: what the chunked scan must find.
    fn one_at_a_time(labels: &Labels, text: &str) -> Vec<(usize, usize, usize)> {
        let mut found = Vec::new();
        let mut after_word = false;
        let mut resume = 0;
        for (at, c) in text.char_indices() {
            let starts_word = !after_word;
            after_word = word_char(c);
            if !starts_word || at < resume {
                continue;
            }
            let best = (0..labels.spans.len())
                .map(|i| (i, labels.label(i)))
                .filter(|(_, l)| {
                    text.as_bytes().get(at..at + l.len()) == Some(l)
                        && !text[at + l.len()..].chars().next().is_some_and(word_char)
                })
                .max_by_key(|(i, l)| (l.len(), std::cmp::Reverse(*i)));
            if let Some((i, l)) = best {
                found.push((at, at + l.len(), i));
                resume = at + l.len();
            }
        }
        found
    }

    proptest! {
        /// Over text longer than a chunk, with labels in any case, glued to words, masked
        /// values and letters beyond ASCII.
        #[test]
        fn the_chunked_scan_finds_what_a_scan_by_character_finds(
            parts in prop::collection::vec(
                prop::sample::select(vec![
                    "Card", "card number", "NAME", "tel", "e-mail", "Dear", " ", "  ", "\n",
                    ":", "*", "**name", "é", "Ü", "x", "surname", "hotel", "12", "-", "téléphone",
                    "TéLéPHONE", "日本",
                ]),
                0..80,
            )
        ) {
            let l = Labels::new(&["card", "card number", "name", "tel", "e-mail", "dear", "téléphone", "#"]);
            let text = lower_same_len(&parts.concat());
            prop_assert_eq!(found(&l, &text), one_at_a_time(&l, &text));
        }
    }

    /// The labels found in `text`, lowered first as the detectors lower a segment.
    fn found(labels: &Labels, text: &str) -> Vec<(usize, usize, usize)> {
        labels
            .find_iter(&lower_same_len(text))
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
        // Letters beyond ASCII in any case.
        let l = Labels::new(&["téléphone"]);
        assert_eq!(found(&l, "TéLéPHONE 1"), vec![(0, 11, 0)]);
        assert_eq!(found(&l, "TÉLÉPHONE 1"), vec![(0, 11, 0)]);
        assert_eq!(found(&l, "TELEPHONE 1"), vec![]);
    }
}
