//! Label lexicons: the words slips use for patron fields and for what is not patron data,
//! one data file per language (`lexicon/<code>.toml`, compiled into the binary by
//! `build.rs`). Adding a language is adding a file; no detector names a language.
//!
//! Every language's words apply to every slip: a slip does not say which language it is
//! in, a library may print in two, and a label of one language is not a common word on a
//! slip of another. Owns parsing and merging the files; the detectors decide what the words
//! mean. Must not hold patron data.

use super::Kind;
use serde::Deserialize;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_lexicons.rs"));
}

/// A lexicon file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    language: String,
    labels: ByKind,
    #[serde(default)]
    phrases: ByKind,
    words: Words,
}

/// Labels by the kind of value that follows them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ByKind {
    #[serde(default)]
    name: Vec<String>,
    #[serde(default)]
    card: Vec<String>,
    #[serde(default)]
    phone: Vec<String>,
    #[serde(default)]
    email: Vec<String>,
    #[serde(default)]
    address: Vec<String>,
    #[serde(default)]
    birthdate: Vec<String>,
}

impl ByKind {
    fn into_kinds(self) -> impl Iterator<Item = (String, Kind)> {
        [
            (self.name, Kind::Name),
            (self.card, Kind::Card),
            (self.phone, Kind::Phone),
            (self.email, Kind::Email),
            (self.address, Kind::Address),
            (self.birthdate, Kind::Birthdate),
        ]
        .into_iter()
        .flat_map(|(list, kind)| list.into_iter().map(move |l| (l, kind)))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Words {
    honorifics: Vec<String>,
    street: Vec<String>,
    street_suffixes: Vec<String>,
    particles: Vec<String>,
    headings: Vec<String>,
    library: Vec<String>,
    item: Vec<String>,
}

/// Every language's words, merged; every word in lower case, each once.
#[derive(Debug, Default)]
pub(super) struct Lexicon {
    /// The language codes read, in file order.
    pub languages: Vec<String>,
    /// Field labels and the kind of value after them. A label that needs no separator after
    /// it (it reads as a sentence: "Checked out to") has `true`.
    pub labels: Vec<(String, Kind, bool)>,
    /// Courtesy titles left out of a name.
    pub honorifics: WordList,
    /// Street-type words (whole words).
    pub street: WordList,
    /// Endings that make a compound word a street (`…straße`, `…gata`), without a final `.`;
    /// see [`Lexicon::has_street_suffix`].
    street_suffixes: WordList,
    /// The endings' lengths in bytes, each once: a word's ending is looked up by each.
    street_suffix_lens: Vec<usize>,
    /// Lower-case words inside names (`de`, `van`, `dos`).
    pub particles: WordList,
    /// Words of slip headings: a line holding one is not a name.
    pub headings: WordList,
    /// Words that make a line the library's.
    pub library: WordList,
    /// Labels of item fields (title, author, barcode, call number, due date).
    pub item: WordList,
}

/// The built-in lexicon: every file in `lexicon/`, parsed once.
pub(super) fn get() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        parse(embedded::EMBEDDED).unwrap_or_else(|e| panic!("built-in lexicon: {e}"))
    })
}

/// Merge lexicon files given as (name, TOML text).
fn parse(files: &[(&str, &str)]) -> Result<Lexicon, String> {
    let mut lex = Lexicon::default();
    for (name, text) in files {
        let f: File = toml::from_str(text).map_err(|e| format!("lexicon/{name}.toml: {e}"))?;
        if f.language != *name {
            return Err(format!(
                "lexicon/{name}.toml: language = {:?} differs from the file name",
                f.language
            ));
        }
        lex.languages.push(f.language);
        for (label, kind) in f.labels.into_kinds() {
            lex.labels.push((lower(&label), kind, false));
        }
        for (label, kind) in f.phrases.into_kinds() {
            lex.labels.push((lower(&label), kind, true));
        }
        let w = f.words;
        for (list, into) in [
            (w.honorifics, &mut lex.honorifics.words),
            (w.street, &mut lex.street.words),
            (w.particles, &mut lex.particles.words),
            (w.headings, &mut lex.headings.words),
            (w.library, &mut lex.library.words),
            (w.item, &mut lex.item.words),
        ] {
            into.extend(list.iter().map(|s| lower(s)).filter(|s| !s.is_empty()));
        }
        lex.street_suffixes.words.extend(
            w.street_suffixes
                .iter()
                .map(|x| lower(x.trim_end_matches('.')))
                .filter(|s| !s.is_empty()),
        );
    }
    // A label listed as a phrase in one language and as a field name in another reads as
    // a phrase; a label of two kinds keeps its first.
    lex.labels.retain(|(l, _, _)| !l.is_empty());
    let phrases: Vec<String> = lex
        .labels
        .iter()
        .filter(|x| x.2)
        .map(|x| x.0.clone())
        .collect();
    let mut seen = std::collections::HashSet::new();
    lex.labels.retain(|(l, _, _)| seen.insert(l.clone()));
    for x in &mut lex.labels {
        x.2 |= phrases.contains(&x.0);
    }
    for list in [
        &mut lex.honorifics,
        &mut lex.street,
        &mut lex.particles,
        &mut lex.headings,
        &mut lex.library,
        &mut lex.item,
    ] {
        list.finish();
    }
    lex.street_suffixes.finish();
    lex.street_suffix_lens = lex.street_suffixes.iter().map(String::len).collect();
    lex.street_suffix_lens.sort_unstable();
    lex.street_suffix_lens.dedup();
    Ok(lex)
}

/// `s` trimmed, in lower case.
fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The forms of a lower-case word the label search must be given: it compares ASCII letters
/// in any case, other letters exactly, so a word with other letters comes in lower, upper
/// and title case too (`lånekort`, `LÅNEKORT`, `Lånekort`).
pub(super) fn case_forms(word: &str) -> Vec<String> {
    if word.is_ascii() {
        return vec![word.to_string()];
    }
    let mut forms = vec![word.to_string(), word.to_uppercase()];
    // Without its accents too, as a typesetter prints a letter its code page lacks
    // (`wypozyczono dla`).
    forms.extend(ascii_fold(word));
    let mut title = String::with_capacity(word.len());
    let mut start = true;
    for c in word.chars() {
        if start {
            title.extend(c.to_uppercase());
        } else {
            title.push(c);
        }
        start = !c.is_alphabetic();
    }
    forms.push(title);
    forms.dedup();
    forms
}

impl Lexicon {
    /// Does the lower-case `word` end in a street ending, with at least three bytes before it
    /// (`hauptstraße`, `kjølberggata`; not `gata` alone)?
    pub(super) fn has_street_suffix(&self, word: &str) -> bool {
        self.street_suffix_lens.iter().any(|&n| {
            word.len() >= n + 3
                && word.is_char_boundary(word.len() - n)
                && self
                    .street_suffixes
                    .contains_lower(&word.as_bytes()[word.len() - n..])
        })
    }
}

/// `word` with its letters' accents left out and the letters that have none in ASCII
/// written as ASCII (`ł` as `l`, `ø` as `o`, `ß` as `ss`), when that makes it ASCII.
fn ascii_fold(word: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            'ø' => out.push('o'),
            'Ø' => out.push('O'),
            'đ' => out.push('d'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    (out.is_ascii() && out != word).then_some(out)
}

/// A list of lower-case words, each once, looked up in any case.
#[derive(Debug, Default)]
pub(super) struct WordList {
    /// Sorted.
    words: Vec<String>,
    /// The hash ([`fnv`]) of every word: most words looked up are none of the list's, and a
    /// look-up in this one table (no pointer to follow) tells so; a hit is confirmed in
    /// `words`.
    hashes: HashSet<u64, BuildHasherDefault<Identity>>,
}

impl WordList {
    /// Sort, drop repeats, and index the words.
    fn finish(&mut self) {
        self.words.sort();
        self.words.dedup();
        self.hashes = self.words.iter().map(|w| fnv(w.as_bytes())).collect();
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, String> {
        self.words.iter()
    }

    /// Is `lower`, a word in lower case, one of the list's?
    pub(super) fn contains_lower(&self, lower: &[u8]) -> bool {
        self.hashes.contains(&fnv(lower))
            && self
                .words
                .binary_search_by(|w| w.as_bytes().cmp(lower))
                .is_ok()
    }

    /// Is `word`, in any case, one of the list's?
    pub(super) fn contains(&self, word: &str) -> bool {
        let has = |lower: &[u8]| self.contains_lower(lower);
        let mut buf = [0u8; 32];
        if word.is_ascii() && word.len() <= buf.len() {
            // The usual short ASCII word: lower case on the stack.
            let lower = &mut buf[..word.len()];
            lower.copy_from_slice(word.as_bytes());
            lower.make_ascii_lowercase();
            has(lower)
        } else {
            has(word.to_lowercase().as_bytes())
        }
    }
}

/// FNV-1a of `bytes`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_file_parses_and_names_its_language() {
        let lex = parse(embedded::EMBEDDED).unwrap();
        assert!(lex.languages.contains(&"en".to_string()));
        assert_eq!(lex.languages.len(), embedded::EMBEDDED.len());
        assert!(lex
            .labels
            .iter()
            .any(|(l, k, p)| l == "checked out to" && *k == Kind::Name && *p));
        assert!(lex
            .labels
            .iter()
            .any(|(l, k, p)| l == "card number" && *k == Kind::Card && !*p));
    }

    #[test]
    fn a_file_whose_language_is_not_its_name_is_refused() {
        let text = "language = \"fr\"\n[labels]\n[words]\nhonorifics = []\nstreet = []\n\
                    street_suffixes = []\nparticles = []\nheadings = []\nlibrary = []\nitem = []\n";
        let e = parse(&[("de", text)]).unwrap_err();
        assert!(e.contains("lexicon/de.toml"), "{e}");
        // An unknown key is refused with the file's name.
        let e = parse(&[("fr", &text.replace("[labels]", "[labels]\nnmae = []"))]).unwrap_err();
        assert!(e.contains("lexicon/fr.toml") && e.contains("nmae"), "{e}");
    }

    #[test]
    fn case_forms_cover_letters_the_search_compares_exactly() {
        assert_eq!(case_forms("card"), vec!["card"]);
        assert_eq!(
            case_forms("lånekort"),
            vec!["lånekort", "LÅNEKORT", "lanekort", "Lånekort"]
        );
        assert_eq!(
            case_forms("né le"),
            vec!["né le", "NÉ LE", "ne le", "Né Le"]
        );
        assert_eq!(
            case_forms("wypożyczono dla"),
            vec![
                "wypożyczono dla",
                "WYPOŻYCZONO DLA",
                "wypozyczono dla",
                "Wypożyczono Dla"
            ]
        );
        // Cyrillic has no ASCII form.
        assert_eq!(case_forms("имя"), vec!["имя", "ИМЯ", "Имя"]);
    }

    #[test]
    fn contains_any_case() {
        let mut list = WordList {
            words: vec!["rue".into(), "gata".into(), "straße".into(), "rue".into()],
            ..WordList::default()
        };
        list.finish();
        assert_eq!(list.iter().count(), 3);
        assert!(list.contains("Rue"));
        assert!(list.contains("RUE"));
        assert!(list.contains("Straße"));
        assert!(list.contains("STRAßE"));
        assert!(!list.contains("street"));
        assert!(!list.contains("ru"));
    }
}
