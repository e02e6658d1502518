//! Detectors: what in a segment's logical lines is patron data. They find spans (line,
//! character range, kind) and never decide what to print instead — that is the action's job.
//!
//! Detection runs on decoded logical lines, so formatting commands inside a word or number
//! do not hide it. See DESIGN §4 for the kinds and labels; the README lists what the
//! detectors knowingly do not catch.
//!
//! Layout: [`Detectors::find`] reads a segment in one order — one pass for every lexicon word
//! (labels, the library's words, item labels) with its line; labelled values; card shapes;
//! names and cards by the slip's structure; street addresses; the name's other mentions;
//! e-mail and phone numbers; which contact data is the patron's; cards found masked wherever
//! they stand. The shapes each kind takes are in its own module: [`card`], [`name`],
//! [`address`], [`contact`]. Words come from the lexicons ([`super::lexicon`]), never from
//! this code.

use super::action::{changed, Action, Out};
use super::config::RedactConfig;
use super::labels::Labels;
use super::lexicon;
use super::Kind;
use regex::{Regex, RegexBuilder};

mod address;
mod card;
mod contact;
mod name;

use address::*;
use card::*;
use contact::*;
use name::*;

/// A detected patron value: bytes `start..end` of line `line`'s text (on character
/// boundaries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    pub line: usize,
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    /// For site rules: the index of the rule whose action applies.
    pub rule: Option<usize>,
    /// Found after a label (or by a site rule), not by its shape alone.
    pub labelled: bool,
    /// A value that marks where the patron's block is, but is not evidence that nearby
    /// numbers are the patron's: a card an earlier run already masked (`**********8610`), or
    /// a line that only repeats the name found elsewhere.
    pub placeholder: bool,
}

/// Every field label the detectors know (the lexicons' and `cfg`'s), in lower case.
pub(super) fn all_labels(cfg: &RedactConfig) -> Vec<String> {
    label_kinds(cfg).into_iter().map(|(l, _, _)| l).collect()
}

/// Every field label (the lexicons', then `cfg`'s), in lower case, with the kind of value
/// after it and whether it reads as a phrase (no separator needed after it).
fn label_kinds(cfg: &RedactConfig) -> Vec<(String, Kind, bool)> {
    let mut all = lexicon::get().labels.clone();
    for (extra, kind) in [
        (&cfg.labels.name, Kind::Name),
        (&cfg.labels.card, Kind::Card),
        (&cfg.labels.phone, Kind::Phone),
        (&cfg.labels.email, Kind::Email),
        (&cfg.labels.address, Kind::Address),
        (&cfg.labels.birthdate, Kind::Birthdate),
    ] {
        for l in extra {
            let l = l.trim().to_lowercase();
            if !l.is_empty() && !all.iter().any(|x| x.0 == l) {
                all.push((l, kind, false));
            }
        }
    }
    all
}

/// A built-in pattern, compiled once per process: every [`Detectors`] (one per
/// configuration, and a configuration is read again on every change) shares it. (Compiling
/// the name and address patterns, with the lexicons' particles and Unicode classes, costs
/// tens of milliseconds.)
fn built_in_pattern(p: &str) -> Regex {
    static CACHE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Regex>>> =
        std::sync::LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(p.to_string())
        .or_insert_with(|| {
            RegexBuilder::new(p)
                .size_limit(1 << 24)
                .build()
                .expect("built-in pattern")
        })
        .clone()
}

/// The search for every lexicon word and `cfg`'s extra labels, each in each of its case
/// forms, with what each is (the labels first, so that a word listed twice is a label).
/// Built once per process for a configuration without extra labels (nearly every site's),
/// since it takes a few milliseconds.
fn word_search(cfg: &RedactConfig) -> (std::sync::Arc<Labels>, std::sync::Arc<[Role]>) {
    type Search = (std::sync::Arc<Labels>, std::sync::Arc<[Role]>);
    let build = |cfg: &RedactConfig| -> Search {
        let lex = lexicon::get();
        let mut seen = std::collections::HashSet::new();
        let (forms, roles): (Vec<String>, Vec<Role>) = label_kinds(cfg)
            .into_iter()
            .map(|(l, kind, phrase)| (l, Role::Label(kind, phrase)))
            .chain(lex.library.iter().map(|w| (w.clone(), Role::Library)))
            .chain(lex.item.iter().map(|w| (w.clone(), Role::Item)))
            .flat_map(|(w, role)| lexicon::case_forms(&w).into_iter().map(move |f| (f, role)))
            // The search compares with the text in lower case: each form once, the first
            // listed kept (a label before the same word as the library's).
            .map(|(f, role)| (lower_same_len(&f), role))
            .filter(|(f, _)| seen.insert(f.clone()))
            .unzip();
        (std::sync::Arc::new(Labels::new(&forms)), roles.into())
    };
    if cfg.labels != Default::default() {
        return build(cfg);
    }
    static BUILT_IN: std::sync::OnceLock<Search> = std::sync::OnceLock::new();
    let (w, r) = BUILT_IN.get_or_init(|| build(&RedactConfig::default()));
    (w.clone(), r.clone())
}

/// What a word of the lexicons is, where it stands on a slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A field label: the kind of value after it, and whether it reads as a phrase (no
    /// separator needed after it).
    Label(Kind, bool),
    /// A word that makes a line the library's.
    Library,
    /// The label of an item's field.
    Item,
}

/// A lexicon word found in a segment: bytes `start..end` of the joined text, on line `line`.
#[derive(Clone, Copy, Debug)]
pub(super) struct WordHit {
    start: usize,
    end: usize,
    line: usize,
    role: Role,
}

pub(super) struct Detectors {
    /// Every word the lexicons know, in each of its case forms (ASCII letters in any case,
    /// longest match first): field labels, the library's words and the labels of item
    /// fields, searched for in one pass over a segment.
    words: std::sync::Arc<Labels>,
    /// What each of [`Self::words`] is.
    roles: std::sync::Arc<[Role]>,
    bracketed: Regex,
    email: Regex,
    phone: Regex,
    /// A phone number in national formats: groups of digits (the first perhaps after `+`,
    /// or in brackets) parted by one blank, dot or dash.
    phone_groups: Regex,
    name_line: Regex,
    /// [`Self::name_line`] with the first name in any case (`Nguyen, marisol`): a name
    /// line next to a card number line, where a client printed it as the patron typed it.
    name_line_any_case: Regex,
    /// A card number masked by an earlier run (`**********8610`).
    masked_card: Regex,
    /// `****`, which every such card number holds.
    stars: memchr::memmem::Finder<'static>,
    /// A name line as an earlier run left it: initials (`M. O.`, in the case the letters had)
    /// or a surname prefix (`OKON M`).
    redacted_name: Regex,
    /// A line of one to four capitalised words and nothing else.
    name_words: Regex,
    /// A post-office or rural-route box (`PO Box 418`, `RR 2 Box 15`): a mailing address
    /// line as a street line is.
    po_box: Regex,
    /// `box`, which every such box holds (searched in the lower-cased segment).
    box_word: memchr::memmem::Finder<'static>,
    /// A line of nothing but a secondary unit (`Apt 3C`, `Suite 200`, `#12`, `Bldg 2, Apt
    /// 4B`): the second address line of Koha's and Evergreen's templates.
    unit_line: Regex,
    /// A line of a city (one to four words), perhaps a state or province, and a postal code
    /// (US ZIP, Canadian, UK).
    city_line: Regex,
    /// A line of a city and a US state's or Canadian province's code (`Lawrence, KS`).
    city_state_line: Regex,
    /// A line of a city alone, and one of a postal code alone (a ZIP after its state, a
    /// Canadian postcode perhaps after its province, a UK postcode): a city line written on
    /// two lines, as British addresses are (`Leeds` above `LS1 4AP`).
    town_line: Regex,
    postcode_line: Regex,
    /// A line of a postal code alone (a ZIP, a Canadian or UK postcode), or of a European
    /// postal code and a town (`75011 Paris`, `D-10115 Berlin`, `114 55 Stockholm`, `1012 AB
    /// Amsterdam`, `00-950 Warszawa`, `1000-001 Lisboa`): the last line of an address.
    postal_line: Regex,
    card_types: Vec<char>,
    /// The site's own card format, matched whole against one word.
    card_pattern: Option<Regex>,
    /// How many digits a masked card number keeps (`keep-last:N` of the card actions).
    card_kept_digits: Vec<usize>,
}

impl Detectors {
    pub(super) fn new(cfg: &RedactConfig) -> Self {
        // Each word in each of its case forms, with what it is: the labels first, so that
        // a word listed twice is a label.
        let (words, roles) = word_search(cfg);
        // Name particles (`de`, `van der`) before a capitalised word of a name.
        let p = particles_pattern();
        let build = built_in_pattern;
        Detectors {
            words,
            roles,
            bracketed: build(r"^\s*\(\s*(?P<c>[0-9A-Za-z][0-9A-Za-z -]{3,18}[0-9A-Za-z])\s*\)\s*$"),
            // Letters in any script: an address with accents (which redaction may fold to
            // ASCII when it moves them) is an address too.
            email: build(r"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}"),
            phone: build(
                r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{2,4}\)[ .-]?|[0-9]{3}[ .-])?[0-9]{3}[ .-][0-9]{4}|\+[0-9]{1,3}(?:[ .-][0-9]{1,4}){2,5}",
            ),
            phone_groups: build(
                r"(?:\+[0-9]{1,3}|\(0?[0-9]{1,4}\)|[0-9]{1,5})(?:[ .-][0-9]{2,8}){1,5}",
            ),
            name_line: build(&format!(
                r"^[ \t]*(?P<n>{p}\p{{Lu}}[\p{{L}}'’.]*(?:[ -]\p{{L}}[\p{{L}}'’.]*){{0,2}},[ \t]*\p{{Lu}}[\p{{L}}'’.-]*(?:[ \t]+{p}\p{{Lu}}[\p{{L}}'’.-]*)?)[ \t]*$"
            )),
            name_line_any_case: build(&format!(
                r"^[ \t]*(?P<n>{p}\p{{Lu}}[\p{{L}}'’.]*(?:[ -]\p{{L}}[\p{{L}}'’.]*){{0,2}},[ \t]*\p{{L}}[\p{{L}}'’.-]*(?:[ \t]+{p}\p{{L}}[\p{{L}}'’.-]*)?)[ \t]*$"
            )),
            redacted_name: build(
                r"^(?:[\p{L}*]\.(?:[ \t]+[\p{L}*]\.){0,7}|\p{Lu}{2,8}[ \t]+\p{Lu})$",
            ),
            masked_card: build(r"\*(?:[ -]?\*){5,}(?:[ -]?[0-9]){1,6}"),
            stars: memchr::memmem::Finder::new("****").into_owned(),
            name_words: build(&format!(
                r"^{p}\p{{Lu}}[\p{{L}}'’.-]*(?:[ \t]+{p}\p{{Lu}}[\p{{L}}'’.-]*){{0,3}}$"
            )),
            po_box: build(
                r"(?i)(?-u:\b)(?:p\.?[ \t]?o\.?[ \t]?box|post[ \t]+office[ \t]+box|(?:rr|r\.r\.|rural[ \t]+route|hc|psc)[ \t]*#?[ \t]*[0-9]{1,4},?[ \t]+box)[ \t]*#?[ \t]*[0-9]{1,6}[a-z]?(?-u:\b)",
            ),
            box_word: memchr::memmem::Finder::new("box").into_owned(),
            unit_line: build(&format!(
                r"(?i)^[ \t]*{UNIT}(?:[ \t]*,?[ \t]*{UNIT})?[ \t]*$"
            )),
            city_line: build(&format!(
                r"^\s*{TOWN},?[ \t]+(?:\p{{Lu}}{{2}}[ \t]+)?(?:{ZIP}|{CA_POSTCODE}|{UK_POSTCODE})\s*$"
            )),
            city_state_line: build(&format!(r"^\s*{TOWN},[ \t]*{STATE}\s*$")),
            town_line: build(&format!(r"^\s*{TOWN}\s*$")),
            postcode_line: build(&format!(
                r"^\s*(?:{STATE}[ \t]+{ZIP}|(?:{STATE}[ \t]+)?{CA_POSTCODE}|{UK_POSTCODE})\s*$"
            )),
            postal_line: build(&format!(
                r"^\s*(?:(?:[A-Z]{{1,2}}-)?(?:[0-9]{{4,5}}|[0-9]{{3}} [0-9]{{2}}|[0-9]{{4}} ?[A-Z]{{2}}|[0-9]{{2}}-[0-9]{{3}}|[0-9]{{4}}-[0-9]{{3}})(?:[ \t]+{TOWN})?|{ZIP}|{CA_POSTCODE}|{UK_POSTCODE})\s*$"
            )),
            card_types: cfg.card_type_digits.clone(),
            card_pattern: cfg.card_pattern.clone(),
            card_kept_digits: std::iter::once(&cfg.actions)
                .chain(cfg.policies.iter().map(|p| &p.actions))
                .filter_map(|a| match a.card {
                    Action::KeepLast(n) => Some(n),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Every patron value in `lines` (the segment's logical lines, in order).
    /// `columns` is the paper width in characters (font A), to recognise wrapped names.
    /// `joined` is `lines` joined by line feeds, `starts` where each line begins in it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn find(
        &self,
        cfg: &RedactConfig,
        lines: &[&str],
        joined: &str,
        starts: &[usize],
        columns: usize,
        name_actions: &[Action],
        scratch: &mut Scratch,
    ) -> Vec<Finding> {
        let Scratch {
            lexicon_hits,
            texty_at,
            label_at,
            digits,
            texty,
            street,
            hits,
            partial,
            address_lines,
            patron_pos,
            keep_lines,
            words,
            lower,
            chars,
            out,
            blanked,
        } = scratch;
        // The segment in lower case (same byte offsets), for the name's words below and for
        // the policy's words after ([`Scratch::lower`]).
        lower.clear();
        lower_same_len_into(joined, lower);
        let lower = &*lower;
        let mut f: Vec<Finding> = Vec::with_capacity(16);
        let push = |f: &mut Vec<Finding>, line: usize, a: usize, b: usize, kind: Kind| {
            if a < b {
                f.push(Finding {
                    line,
                    start: a,
                    end: b,
                    kind,
                    rule: None,
                    labelled: false,
                    placeholder: false,
                });
            }
        };
        let locate = |at: usize| -> (usize, usize) {
            let li = starts.partition_point(|&s| s <= at) - 1;
            (li, at - starts[li])
        };
        // Does a line read as the library's (its phone, its address)? The patron's name and
        // card on the line are left out of the question: they are printed differently once
        // masked, and redacting the output again must come to the same answer.
        // `mentions`: other places the name's words stand (line, start, end), left out too.
        // One pass over the segment for the lexicons' words: labels, the library's words,
        // item labels, each with its line.
        lexicon_hits.clear();
        let lower_text = std::str::from_utf8(lower).expect("whole characters lowered");
        lexicon_hits.extend(self.words.find_iter(lower_text).map(|m| WordHit {
            start: m.start,
            end: m.end,
            line: locate(m.start).0,
            role: self.roles[m.label],
        }));
        let lexicon_hits = &*lexicon_hits;
        // The words found on line `li` (the hits are in order).
        let hits_on = |li: usize| {
            let from = lexicon_hits.partition_point(|h| h.line < li);
            lexicon_hits[from..]
                .iter()
                .take_while(move |h| h.line == li)
        };
        let library = |f: &[Finding], mentions: &[(usize, usize, usize)], li: usize| -> bool {
            // A library word outside the name and card.
            let outside = |a: usize, b: usize| {
                !f.iter().any(|x| {
                    x.line == li
                        && matches!(x.kind, Kind::Name | Kind::Card)
                        && a < x.end
                        && x.start < b
                }) && !mentions.iter().any(|m| m.0 == li && a < m.2 && m.1 < b)
            };
            hits_on(li).any(|h| {
                h.role == Role::Library && outside(h.start - starts[li], h.end - starts[li])
            })
        };
        // Does line `li` hold an item field's label with a separator after it (`Title:`,
        // `Fällig am:`), or is it a short heading with one (`ITEM ON HOLD`)?
        let item_labelled = |li: usize| {
            let line = lines[li];
            hits_on(li).any(|h| {
                let rest = line[h.end - starts[li]..].trim_start_matches([' ', '\t']);
                h.role == Role::Item
                    && (rest.starts_with([':', '#', '='])
                        || line.split_whitespace().nth(4).is_none())
            })
        };

        // Site rules first: they know the site's slips best.
        for (ri, rule) in cfg.rules.iter().enumerate() {
            for (li, text) in lines.iter().enumerate() {
                for caps in rule.pattern.captures_iter(text) {
                    if let Some(m) = caps.name("pii") {
                        if m.start() < m.end() {
                            f.push(Finding {
                                line: li,
                                start: m.start(),
                                end: m.end(),
                                kind: Kind::Custom,
                                rule: Some(ri),
                                labelled: true,
                                placeholder: false,
                            });
                        }
                    }
                }
            }
        }

        // Where labels (and place names after a name label) stand, in `joined`: a name's
        // words are not masked inside them.
        label_at.clear();
        for m in lexicon_hits {
            let Role::Label(kind, phrase) = m.role else {
                continue;
            };
            label_at.push((m.start, m.end));
            let (li, end_in_line) = locate(m.end);
            let text = lines[li];
            // A label starts its line or a column; elsewhere only a contact label directly
            // followed by a colon counts ("Notify by phone: …").
            let before = &text[..end_in_line - (m.end - m.start)];
            let at_start = before.trim().is_empty()
                || before.ends_with("  ")
                || before.ends_with('\t')
                || before.trim_end().ends_with('|');
            // After the label: an optional "#", "no." or "number", then an optional separator.
            let mut rest = &text[end_in_line..];
            let mut has_sep = false;
            let t = rest.trim_start_matches([' ', '\t']);
            for suffix in ["number", "no.", "no", "#"] {
                let tb = t.as_bytes();
                if tb.len() >= suffix.len()
                    && tb[..suffix.len()].eq_ignore_ascii_case(suffix.as_bytes())
                    && !t[suffix.len()..].starts_with(|c: char| c.is_alphanumeric())
                {
                    rest = &t[suffix.len()..];
                    has_sep = true;
                    break;
                }
            }
            let t = rest.trim_start_matches([' ', '\t']);
            if let Some(r) = t.strip_prefix([':', '#', '=']) {
                rest = r;
                has_sep = true;
            } else if let Some(r) = t.strip_prefix(" - ") {
                rest = r;
                has_sep = true;
            }
            // A label alone on its line, without a separator (a table's label cell printed
            // above its value cell): its value is on the next line, when it has the shape of
            // one (checked below).
            let alone = before.trim().is_empty() && rest.trim().is_empty();
            if !has_sep && !phrase && !alone {
                continue;
            }
            let contact_colon = matches!(kind, Kind::Phone | Kind::Email | Kind::Birthdate)
                && text[end_in_line..].trim_start().starts_with(':');
            if !(at_start || contact_colon) {
                continue;
            }
            let vstart = text.len() - rest.len();
            let (mut a, mut b) = field(text, vstart, text.len());
            let mut li = li;
            if a >= b {
                // A field label that ends its line (`Borrower:`, a table's label cell printed
                // above its value): the value is the next line that holds text, unless that
                // line starts with a label of its own.
                if !(has_sep && at_start || alone) {
                    continue;
                }
                let Some(next) = (li + 1..lines.len()).find(|&l| !lines[l].trim().is_empty())
                else {
                    continue;
                };
                let t = lines[next];
                let lead = t.len() - t.trim_start().len();
                if hits_on(next)
                    .any(|h| matches!(h.role, Role::Label(..)) && h.start == starts[next] + lead)
                {
                    continue;
                }
                li = next;
                (a, b) = field(t, 0, t.len());
                if a >= b {
                    continue;
                }
                if !self.value_shaped(kind, &t[a..b]) {
                    continue;
                }
            }
            let text = lines[li];
            // A name's last word after a double blank (`Ausleihe an: Helga  Österreicher`, a
            // template with an empty middle field) is still the name's, when nothing else
            // follows: one or two capitalised words, no label, no heading's word.
            if kind == Kind::Name && b < text.len() {
                let tail = text[b..].trim();
                let tail_at = b + (text[b..].len() - text[b..].trim_start().len());
                if !tail.is_empty()
                    && tail.split_whitespace().nth(2).is_none()
                    && self.name_words.is_match(tail)
                    && !has_place_or_heading_word(tail)
                    && !hits_on(li).any(|h| h.start >= starts[li] + tail_at)
                    && !text[b..tail_at].contains('\t')
                {
                    b = text.trim_end().len();
                }
            }
            let v = &text[a..b];
            match kind {
                Kind::Name => {
                    // A lead-in without a separator before a heading's word in lower case
                    // is a heading (`Reçu de paiement`, `Hold for pickup`), not a name. (A
                    // name is capitalised: `Hold for Fine, Anna`, and its surname prefix
                    // `HOLD M` after an earlier run.)
                    let heading = !has_sep
                        && v.split(|c: char| !c.is_alphabetic())
                            .find(|w| !w.is_empty())
                            .is_some_and(|w| {
                                !w.chars().any(char::is_uppercase) && has_place_or_heading_word(w)
                            });
                    if let Some((na, nb, card)) = split_name_value(v).filter(|_| !heading) {
                        // "Patron: Maple Ridge Public Library" names a place, not a person:
                        // its words must not spread over the library's own lines.
                        if has_place_word(&v[na..nb]) {
                            // Nor are other names' words masked inside it.
                            label_at.push((starts[li] + a + na, starts[li] + a + nb));
                        } else {
                            push(&mut f, li, a + na, a + nb, Kind::Name);
                        }
                        if let Some((ca, cb)) = card {
                            push(&mut f, li, a + ca, a + cb, Kind::Card);
                        }
                    } else if let Some((ca, cb)) = card_token(v) {
                        // A name label followed by a number: a card.
                        push(&mut f, li, a + ca, a + cb, Kind::Card);
                    }
                }
                Kind::Card => {
                    if let Some((ca, cb)) = card_token(v) {
                        push(&mut f, li, a + ca, a + cb, Kind::Card);
                    }
                }
                k => push(&mut f, li, a, b, k),
            }
        }
        for x in f.iter_mut() {
            x.labelled = true;
        }
        // Digits per line: the number patterns run only on lines with enough of them.
        digits.clear();
        digits.extend(
            lines
                .iter()
                .map(|l| l.bytes().filter(u8::is_ascii_digit).count()),
        );
        let digits = &*digits;
        let cards = (0..lines.len())
            .filter(|&li| digits[li] >= CARD_DIGITS)
            .flat_map(|li| {
                self.card_shapes(lines[li])
                    .map(move |(a, b)| (starts[li] + a, starts[li] + b))
            });
        for (ms, me) in cards {
            let m = &joined[ms..me];
            let before = joined[..ms].chars().next_back();
            let after = joined[me..].chars().next();
            // Part of a longer number? (Letters may touch it: Codabar start/stop characters,
            // or a number glued to a name.)
            if before.is_some_and(|c| c.is_ascii_digit() || c == '*')
                || after.is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            let (li, a) = locate(ms);
            let b = a + m.len();
            // The Codabar shape is a card whether or not its check digit holds: a card
            // misprinted, or a site whose numbers carry none, is still the patron's.
            push(&mut f, li, a, b, Kind::Card);
        }
        // A site's own card format (`card_pattern`), one word at a time, wherever it stands.
        if let Some(re) = &cfg.card_pattern {
            for (li, text) in lines.iter().enumerate() {
                for (a, w) in site_words(text) {
                    if re.is_match(w)
                        && !f
                            .iter()
                            .any(|x| x.line == li && x.start < a + w.len() && a < x.end)
                    {
                        push(&mut f, li, a, a + w.len(), Kind::Card);
                    }
                }
            }
        }
        // A card number slipguard masked before still marks the patron's block, so that
        // redacting a redacted slip changes nothing.
        if self.stars.find(joined.as_bytes()).is_some() {
            for m in self.masked_card.find_iter(joined) {
                if joined
                    .as_bytes()
                    .get(m.end())
                    .is_some_and(u8::is_ascii_digit)
                {
                    continue;
                }
                // Ending in as many digits as the card action keeps: a masked phone number
                // and a few digits (`***-****-55902`) is not one.
                let kept = m.as_str().bytes().filter(u8::is_ascii_digit).count();
                if !self.card_kept_digits.contains(&kept) {
                    continue;
                }
                let (li, a) = locate(m.start());
                push(&mut f, li, a, a + m.len(), Kind::Card);
                if let Some(x) = f.last_mut() {
                    x.placeholder = true;
                }
            }
        }
        // Structure: names on their own line next to a card line, cards in brackets under a
        // name, street addresses just below the patron's name or card.
        let has = |f: &[Finding], line: usize, kind: Kind| {
            f.iter().any(|x| x.line == line && x.kind == kind)
        };
        // No value found on the line yet.
        let free = |f: &[Finding], line: usize| !f.iter().any(|x| x.line == line);
        // The whole line, without its blanks, is a value of `kind`.
        let push_line = |f: &mut Vec<Finding>, line: usize, kind: Kind| {
            let m = trimmed_span(lines[line], char::is_whitespace);
            push(f, line, m.start, m.end(), kind);
        };
        texty.clear();
        texty.extend((0..lines.len()).filter(|&i| !lines[i].trim().is_empty()));
        let texty = &*texty;
        // Where each line is among the lines with text (`usize::MAX` for a blank one).
        texty_at.clear();
        texty_at.resize(lines.len(), usize::MAX);
        for (pos, &li) in texty.iter().enumerate() {
            texty_at[li] = pos;
        }
        let texty_at = &*texty_at;
        let pos_of = |line: usize| Some(texty_at[line]).filter(|&p| p != usize::MAX);
        // The words of the names found after labels, which are masked wherever else they
        // stand (in upper case under a surname-prefix action): a first line whose lower-case
        // first name is made only of them reads as a name line once printed.
        // (Worked out only for a first line that could be such a line: rarely.)
        let label_words = std::cell::OnceCell::new();
        let masked_words = |t: &str, f: &[Finding]| {
            let Some((_, first)) = t.split_once(',') else {
                return false;
            };
            let label_words = label_words.get_or_init(|| {
                let mut words = Words::default();
                spread_words(
                    f,
                    lines,
                    name_actions,
                    &mut words,
                    &mut Vec::new(),
                    &mut Vec::new(),
                );
                words
            });
            let mut ws = first.split_whitespace().peekable();
            ws.peek().is_some()
                && ws.all(|w| {
                    w.chars().any(char::is_uppercase)
                        || label_words
                            .iter()
                            .any(|l| l == lower_same_len(w).as_bytes())
                })
        };
        // Lines of a card number alone, perhaps in brackets. (Worked out before the loop
        // below, which finds a card only on a line under a name it has already passed.)
        let bare_cards: Vec<usize> = f
            .iter()
            .filter(|x| {
                let t = lines[x.line];
                x.kind == Kind::Card
                    && t[..x.start].trim().trim_end_matches('(').trim().is_empty()
                    && t[x.end..].trim().trim_start_matches(')').trim().is_empty()
            })
            .map(|x| x.line)
            .collect();
        // A name after a label, so far: a `Surname, First` line under a card is then an
        // author's under a title, not the patron's.
        let named = f.iter().any(|x| x.kind == Kind::Name);
        // The item block starts at the first line with an item label (`Title:`, `Barcode:`,
        // `Due:` in any language): the patron's header comes before it.
        let first_item = texty
            .iter()
            .position(|&li| item_labelled(li))
            .unwrap_or(texty.len());
        // A line of nothing but a card number of any site format (perhaps in brackets).
        let card_line = |t: &str| {
            let t = t
                .trim()
                .trim_start_matches(['•', '·', '-', '–'])
                .trim_start();
            card_like(t.trim_start_matches('(').trim_end_matches(')'))
        };
        let no_label_on = |li: usize| {
            let t = lines[li];
            !label_at
                .iter()
                .any(|&(a, b)| a < starts[li] + t.len() && starts[li] < b)
        };
        let redacted_line = |t: &str| {
            let t = t.trim();
            // Only letters, periods and spaces: checked before the pattern. (Initials keep
            // the case of the letters they came from: `T. i. n. M.`.)
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '.' | ' ' | '\t' | '*'))
                && self.redacted_name.is_match(t)
        };
        let mut header_name = false;
        for (pos, &li) in texty.iter().enumerate() {
            let text = lines[li];
            let prev = pos.checked_sub(1).map(|p| texty[p]);
            let next = texty.get(pos + 1).copied();
            // (Under a card only on a slip without a labelled name: there a `Surname, First`
            // line under the card is an author's under a title.)
            let by_card = next.is_some_and(|n| has(&f, n, Kind::Card))
                || !named && prev.is_some_and(|p| has(&f, p, Kind::Card));
            // The patron's header (before any item): the first `Surname, First` line, not
            // indented and not under a numbered line (an author under a title is either), on a
            // slip with no labelled name. (Self-check receipts print the patron so, under the
            // date, with no card.)
            // (A name line as an earlier run left it counts as the first: redacting the
            // output again must choose the same line.)
            // (Asked only while it can still matter: the pattern is not cheap.)
            if !named && !header_name && pos < first_item {
                header_name = redacted_line(text);
            }
            let in_header = !named
                && !header_name
                && pos < first_item
                && !text.starts_with([' ', '\t'])
                && !prev.is_some_and(|p| starts_numbered(lines[p]));
            // Next to a card number the first name may be in any case, and on the first line
            // when its words are a found name's: masking a mention of it elsewhere (`MARI`)
            // must not turn the line into a name line on a second run.
            // (Both patterns need a comma, and a line the first matches, the second does.)
            let name_line = || {
                text.contains(',')
                    && self.name_line_any_case.is_match(text)
                    && (self.name_line.is_match(text)
                        || by_card
                        || pos == 0 && masked_words(text, &f))
            };
            if (pos == 0 || by_card || in_header)
                && !has(&f, li, Kind::Name)
                && name_line()
                && no_label_on(li)
            {
                // The pattern's name is the line without its blanks.
                let m = trimmed_span(text, |c| matches!(c, ' ' | '\t'));
                if !has_place_or_heading_word(m.text) && !library(&f, &[], li) {
                    push(&mut f, li, m.start, m.end(), Kind::Name);
                    header_name = true;
                    // A number of any site format alone on the next line is the patron's
                    // card (Koha's hold slip lists name, card, phone, address, e-mail).
                    if let Some(n) = next.filter(|&n| free(&f, n) && card_line(lines[n])) {
                        push_line(&mut f, n, Kind::Card);
                    }
                }
            }
            // A name in `First Last` order alone on its line (two to four capitalised words),
            // directly above a line that holds nothing but a card number (perhaps in
            // brackets): how a template that prints the patron's names and card without labels
            // reads. Not a line with a label, or a word of the library's, a place's or a slip
            // heading's.
            // (Or above a number of any site format alone on its line, in the header.)
            let card_below = next.is_some_and(|n| {
                bare_cards.contains(&n) || pos < first_item && !named && card_line(lines[n])
            });
            if card_below
                && !has(&f, li, Kind::Name)
                && self.name_words.is_match(text.trim())
                && text.split_whitespace().nth(1).is_some()
                && no_label_on(li)
                && !has_place_or_heading_word(text)
                && !library(&f, &[], li)
            {
                push_line(&mut f, li, Kind::Name);
                if let Some(n) = next.filter(|&n| free(&f, n)) {
                    push_line(&mut f, n, Kind::Card);
                }
            }
            if prev.is_some_and(|p| has(&f, p, Kind::Name))
                && !has(&f, li, Kind::Card)
                && self.bracketed.is_match(text)
            {
                // The pattern's number is what the brackets hold, without its blanks.
                let open = text.find('(').expect("matched") + 1;
                let close = text.rfind(')').expect("matched");
                let inner = trimmed_span(&text[open..close], char::is_whitespace);
                if inner.text.chars().any(|c| c.is_ascii_digit()) {
                    let a = open + inner.start;
                    push(&mut f, li, a, a + inner.text.len(), Kind::Card);
                }
            }
        }
        // Under a labelled name, a `Barcode:` line (an item field's label, as Evergreen's hold
        // slips print the patron's card under `Hold for patron:`) holding a number of any
        // site format is the patron's card.
        let barcode_cards: Vec<(usize, usize, usize)> = texty
            .windows(2)
            .filter(|w| {
                f.iter()
                    .any(|x| x.line == w[0] && x.kind == Kind::Name && x.labelled && !x.placeholder)
                    && free(&f, w[1])
            })
            .filter_map(|w| {
                let li = w[1];
                let t = lines[li];
                let lead = t.len() - t.trim_start().len();
                let h = hits_on(li).next()?;
                if h.role != Role::Item || h.start != starts[li] + lead {
                    return None;
                }
                let after = &t[h.end - starts[li]..];
                let value = after.trim_start().strip_prefix(':')?;
                let m = trimmed_span(value, char::is_whitespace);
                let a = t.len() - value.len() + m.start;
                card_like(m.text).then_some((li, a, a + m.text.len()))
            })
            .collect();
        for (li, a, b) in barcode_cards {
            push(&mut f, li, a, b, Kind::Card);
        }
        // A name before a bracketed card on its line (`Ngozi Eze (23191000123456)`): the
        // words before the bracket, when they read as a name.
        let beside: Vec<(usize, usize, usize)> = f
            .iter()
            .filter(|x| x.kind == Kind::Card)
            .filter_map(|x| {
                let t = lines[x.line];
                let open = t[..x.start].trim_end().strip_suffix('(')?;
                let m = trimmed_span(open, char::is_whitespace);
                let name = m.text;
                let reads_as_name = self.name_words.is_match(name)
                    && name.split_whitespace().nth(1).is_some()
                    || self.name_line_any_case.is_match(name);
                (reads_as_name
                    && free(&f, x.line)
                        | !f.iter()
                            .any(|y| y.line == x.line && y.kind != Kind::Card && y.start < m.end())
                    && !has_place_or_heading_word(name)
                    && no_label_on(x.line))
                .then_some((x.line, m.start, m.end()))
            })
            .collect();
        for (li, a, b) in beside {
            push(&mut f, li, a, b, Kind::Name);
        }
        // A name the client wrapped onto the next line: the line above was too full for the
        // next word.
        let wrapped: Vec<(usize, usize)> = f
            .iter()
            .filter(|x| x.kind == Kind::Name && x.end >= lines[x.line].trim_end().len())
            .filter_map(|x| {
                let pos = pos_of(x.line)?;
                let next = *texty.get(pos + 1)?;
                let t = lines[next].trim();
                let first = t.split_whitespace().next()?;
                let fits =
                    lines[x.line].trim_end().chars().count() + 1 + first.chars().count() <= columns;
                (!fits && t.split_whitespace().count() <= 2 && self.name_words.is_match(t))
                    .then_some((next, lines[next].len() - lines[next].trim_start().len()))
            })
            .collect();
        for (li, a) in wrapped {
            let end = lines[li].trim_end().len();
            push(&mut f, li, a, end, Kind::Name);
        }

        // A name alone above a street address: a mailing block.
        street.clear();
        let boxes = self.box_word.find(lower).is_some();
        // The cheap tests a line passes before the street and box patterns run on it.
        let kinds = |t: &str| (street_span(t), boxes && has_box_word(t));
        street.extend(lines.iter().enumerate().map(|(li, t)| {
            // Blanking only removes candidates: the cheap tests on the line as it is first
            // (a house number or box number needs a digit).
            if digits[li] == 0 {
                return None;
            }
            let (mut street_at, mut box_like) = kinds(t);
            if street_at.is_none() && !box_like {
                return None;
            }
            // Searched with the line's name and card blanked out: a house number that
            // runs on from a name (`…Mbyy7 Willow Creek Rd`) stands on its own once the
            // name is masked (`M.7 Willow Creek Rd`), and redacting again must find the
            // same address.
            let on_line: Vec<Finding> = f
                .iter()
                .filter(|x| x.line == li && matches!(x.kind, Kind::Name | Kind::Card))
                .map(|x| Finding { line: 0, ..*x })
                .collect();
            let mut buf = Vec::new();
            let t = blank(t, &[0], &on_line, &mut buf);
            if !on_line.is_empty() {
                (street_at, box_like) = kinds(t);
            }
            // A house number must not run on from a word, masked (`*`) or not: masking
            // what comes before it must not make it an address.
            let unmasked = |m: &regex::Match| !t[..m.start()].ends_with('*');
            let found = street_at.or_else(|| {
                let m = box_like.then(|| self.po_box.find_iter(t).find(unmasked))??;
                Some((m.start(), t.trim_end().len().max(m.end())))
            })?;
            // Not after a word of the library's on its line (its footer's address); a
            // library word inside the street (`Mill Branch Rd`) is the street's.
            let library =
                hits_on(li).any(|h| h.role == Role::Library && h.end <= starts[li] + found.0);
            (!library).then_some(found)
        }));
        // A line that starts with a house number, directly above a city line or above a unit
        // line and a city line, is a street line without a street word (`3661 Broadway`,
        // `27 Rue des Lilas` above `Montréal, QC H2X 1Y4`): the city line says it is an
        // address. (Not a line with a name or card on it.) A name alone above it makes a
        // mailing block, as above a street line with a street word.
        for (pos, &li) in texty.iter().enumerate() {
            let t = lines[li];
            if street[li].is_some() || !starts_with_house_number(t) || !free(&f, li) {
                continue;
            }
            let below = |k: usize| texty.get(pos + k).map(|&l| lines[l]);
            let city = |k: usize| below(k).is_some_and(|t| self.city_line.is_match(t));
            let unit = below(1).is_some_and(|t| self.unit_line.is_match(t));
            if (city(1) || unit && city(2)) && !library(&f, &[], li) {
                let a = t.len() - t.trim_start().len();
                street[li] = Some((a, t.trim_end().len()));
            }
        }
        for (pos, &li) in texty.iter().enumerate() {
            let Some(&next) = texty.get(pos + 1) else {
                continue;
            };
            if street[next].is_some() && !has(&f, li, Kind::Name) && !library(&f, &[], li) {
                let t = lines[li];
                let mixed_case = t.chars().any(|c| c.is_lowercase());
                if mixed_case
                    && self.name_words.is_match(t.trim())
                    && t.split_whitespace().count() >= 2
                    && !t.split_whitespace().any(is_place_word)
                {
                    let a = t.len() - t.trim_start().len();
                    push(&mut f, li, a, t.trim_end().len(), Kind::Name);
                }
            }
        }
        let street = &*street;

        // Once a name is known, its words are masked wherever else they appear.
        spread_words(&f, lines, name_actions, words, chars, out);
        words.sort_dedup();
        hits.clear();
        if !words.is_empty() {
            // Found in the lower-cased copy of the segment, then checked to be whole words in
            // the original.
            for w in words.iter() {
                for at in memchr::memmem::find_iter(lower, w) {
                    let end = at + w.len();
                    // Not inside a label: a patron called "To" leaves "Checked out to" be.
                    let in_label = label_at.iter().any(|&(s, e)| at < e && s < end);
                    if whole_word(joined, at, end) && !in_label {
                        let (li, a) = locate(at);
                        hits.push((li, a, a + w.len()));
                    }
                }
            }
        }
        // A line that holds nothing but mentions of the name reads as a name line once masked
        // (`L. K.`): it marks the patron's block as such a line would when redacting again.
        // Other mentions are added after contact data is decided.
        hits.sort_unstable();
        partial.clear();
        for group in hits.chunk_by(|x, y| x.0 == y.0) {
            let li = group[0].0;
            let text = lines[li];
            let whole = !has(&f, li, Kind::Name)
                && text.char_indices().all(|(i, c)| {
                    !c.is_alphanumeric() || group.iter().any(|&(_, a, b)| (a..b).contains(&i))
                });
            if whole {
                let (a, b) = (group[0].1, group.iter().map(|h| h.2).max().unwrap_or(0));
                push(&mut f, li, a, b, Kind::Name);
                if let Some(x) = f.last_mut() {
                    x.placeholder = true;
                }
            } else {
                partial.extend_from_slice(group);
            }
        }

        // E-mail addresses and phone numbers, now that the name's words are known: a
        // library word that is one of them ("Branch") does not make a line the library's,
        // as it would not once masked.
        if joined.contains('@') {
            for m in self.email.find_iter(joined) {
                // Wherever it stands; whether it is the library's (after a library word on
                // its line, under the library's heading) is decided with the other contact
                // data below; else the library's own address is kept only through `keep`.
                let (li, a) = locate(m.start());
                push(&mut f, li, a, a + m.len(), Kind::Email);
            }
        }
        // Phone numbers are looked for with the values found so far blanked out: digits that
        // belong to a name or card next to a number are not part of it (once masked they
        // would not be, and redacting again must find the same number).
        let blanked = blank(joined, starts, &f, blanked);
        let phones = (0..lines.len())
            .filter(|&li| digits[li] >= 7)
            .filter(|&li| {
                may_be_phone(&blanked.as_bytes()[starts[li]..starts[li] + lines[li].len()])
            })
            .flat_map(|li| {
                let line = &blanked[starts[li]..starts[li] + lines[li].len()];
                self.phone
                    .find_iter(line)
                    .map(move |m| (starts[li] + m.start(), starts[li] + m.end()))
            });
        for (ms, me) in phones {
            let m = &blanked[ms..me];
            let before = blanked[..ms].chars().next_back();
            let after = blanked[me..].chars().next();
            if before.is_some_and(|c| c.is_ascii_digit())
                || after.is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            if m.bytes().filter(u8::is_ascii_digit).count() < 7 {
                continue;
            }
            let (li, a) = locate(ms);
            if !library(&f, partial, li) {
                push(&mut f, li, a, a + m.len(), Kind::Phone);
            }
        }
        // National formats outside North America (`0113 496 0126`, `+33 1 42 68 53 00`,
        // `030 1234567`, `22 33 44 55`): groups of digits parted by single blanks, dots or
        // dashes, eight to fifteen digits in all, on lines the pattern above found nothing on.
        let intl: Vec<(usize, usize)> = (0..lines.len())
            .filter(|&li| {
                digits[li] >= 8 && !f.iter().any(|x| x.line == li && x.kind == Kind::Phone)
            })
            .flat_map(|li| {
                let line = &blanked[starts[li]..starts[li] + lines[li].len()];
                self.phone_groups
                    .find_iter(line)
                    .map(move |m| (starts[li] + m.start(), starts[li] + m.end()))
            })
            .collect();
        for (ms, me) in intl {
            let m = &blanked[ms..me];
            // Not part of a longer number (`978-0-06-112008-4`) or of a date and time.
            let before = blanked[..ms].chars().rev().take(2).collect::<Vec<_>>();
            let after = blanked[me..].chars().take(2).collect::<Vec<_>>();
            let joined_to_number = |cs: &[char]| {
                cs.first()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '*'))
                    || matches!(cs, [s, d, ..] if matches!(s, '-' | '.') && d.is_ascii_digit())
            };
            if joined_to_number(&before) || joined_to_number(&after) {
                continue;
            }
            let n = m.bytes().filter(u8::is_ascii_digit).count();
            if !(8..=15).contains(&n) || is_date_shape(m) {
                continue;
            }
            let (li, a) = locate(ms);
            if !library(&f, partial, li) {
                push(&mut f, li, a, a + m.len(), Kind::Phone);
            }
        }

        // Contact data above the patron's name or card is the library's (its header); street
        // addresses below it are the patron's. Elsewhere a phone number is the patron's when it
        // is near the patron's lines and labelled or alone on its line; an e-mail address when
        // near them. Without a name or card in the segment only labelled values count.
        // What an earlier run left of a name or card (initials, a surname prefix, a masked
        // card number) still marks the patron's block, so that redacting a redacted slip
        // decides the same way.
        let first_patron = f
            .iter()
            .filter(|x| matches!(x.kind, Kind::Name | Kind::Card) && !x.placeholder)
            .map(|x| x.line)
            .min();
        let first_found = f
            .iter()
            .filter(|x| matches!(x.kind, Kind::Name | Kind::Card))
            .map(|x| x.line)
            .min();
        // (Only lines above the first found value can come first.)
        let first_marker = (0..first_found.unwrap_or(lines.len()))
            .find(|&li| redacted_line(lines[li]))
            .or(first_found);
        // A street line directly under the library's own line ("Maple Ridge Public
        // Library", as in a slip's footer) is the library's address. That line must hold
        // nothing redaction changes (no value found on it, no digits, `@` or `*`), so that it
        // reads the same when the output is redacted again.
        let under_library = |f: &[Finding], li: usize| {
            let Some(pos) = pos_of(li) else {
                return false;
            };
            let Some(&above) = pos.checked_sub(1).and_then(|p| texty.get(p)) else {
                return false;
            };
            street[above].is_none()
                && !lines[above]
                    .bytes()
                    .any(|b| b.is_ascii_digit() || b == b'@' || b == b'*')
                && !f.iter().any(|x| x.line == above)
                && !partial.iter().any(|m| m.0 == above)
                && library(f, partial, above)
        };
        if let Some(first_line) = first_patron {
            for (li, s) in street.iter().enumerate() {
                if let Some((a, b)) = *s {
                    if li > first_line && !under_library(&f, li) {
                        push(&mut f, li, a, b, Kind::Address);
                    }
                }
            }
        }
        // The lines under a patron's address are the address's too: a secondary unit alone
        // on its line (`Apt 3C`, the second address line of Koha's and Evergreen's
        // templates), and the line that holds its city and postal code (`Albion  30341`,
        // `Lawrence, KS 66047`), or the two lines that do (`Leeds`, `LS1 4AP`), under the
        // unit line if there is one.
        address_lines.clear();
        address_lines.extend(f.iter().filter(|x| x.kind == Kind::Address).map(|x| x.line));
        for &li in address_lines.iter() {
            let Some(mut pos) = pos_of(li) else {
                continue;
            };
            if let Some(&next) = texty.get(pos + 1) {
                let t = lines[next];
                if free(&f, next) && self.unit_line.is_match(t) {
                    push_line(&mut f, next, Kind::Address);
                    pos += 1;
                }
            }
            let Some(&next) = texty.get(pos + 1) else {
                continue;
            };
            if !free(&f, next) {
                continue;
            }
            let t = lines[next];
            // An ILS leaves an empty field's placeholder as `<>` (`<> 66018`): read without it.
            // (Nor a list's bullet before it.)
            let filled = t.contains("<>").then(|| t.replace("<>", ""));
            let t = filled.as_deref().unwrap_or(t);
            let t = t.trim_start().trim_start_matches(['•', '·', '-', '–']);
            if self.city_line.is_match(t)
                || self.city_state_line.is_match(t)
                || self.postal_line.is_match(t)
            {
                push_line(&mut f, next, Kind::Address);
            } else if let Some(&code) = texty.get(pos + 2) {
                if free(&f, code)
                    && self.town_line.is_match(t)
                    && self.postcode_line.is_match(lines[code])
                    && !has_place_or_heading_word(t)
                    && !library(&f, &[], next)
                {
                    push_line(&mut f, next, Kind::Address);
                    push_line(&mut f, code, Kind::Address);
                }
            }
        }
        patron_pos.clear();
        patron_pos.extend(
            f.iter()
                .filter(|x| {
                    matches!(x.kind, Kind::Name | Kind::Card | Kind::Address) && !x.placeholder
                })
                .filter_map(|x| pos_of(x.line)),
        );
        let patron_pos = &*patron_pos;
        let near = |line: usize, d: usize| {
            pos_of(line).is_some_and(|p| patron_pos.iter().any(|&q| q.abs_diff(p) <= d))
        };
        let alone = |x: &Finding| {
            lines[x.line]
                .char_indices()
                .all(|(i, c)| (x.start..x.end).contains(&i) || !c.is_alphanumeric())
        };
        keep_lines.clear();
        keep_lines.extend(
            f.iter()
                .filter(|x| matches!(x.kind, Kind::Name | Kind::Card | Kind::Email) && x.labelled)
                .map(|x| x.line)
                .chain(f.iter().filter(|x| x.kind == Kind::Email).map(|x| x.line)),
        );
        let keep_lines = &*keep_lines;
        let with_patron = |x: &Finding| keep_lines.contains(&x.line);
        let contact = |k: Kind| {
            matches!(
                k,
                Kind::Phone | Kind::Email | Kind::Address | Kind::Birthdate
            )
        };
        // A labelled value (and an e-mail address) is the patron's wherever it stands, unless
        // its line reads as the library's ("Library phone: …", "Renew by phone: …").
        // So is one under a line of the library's (its name heading a header or a footer:
        // "Prairie Hills Public Library" / street / city / "Phone: …" / "Email: …"), at most
        // five lines down, with no patron name or card between.
        // A line that heads the library's block: a library word, and nothing redaction
        // changes or a field has (no value found on it, no label colon, digits, `@` or `*`),
        // so that it reads the same when the output is redacted again ("Centerville Public
        // Library" heading its address, phone and e-mail).
        let library_heading = |f: &[Finding], li: usize| {
            !lines[li]
                .bytes()
                .any(|b| b.is_ascii_digit() || matches!(b, b'@' | b'*' | b':'))
                && !f.iter().any(|x| x.line == li)
                && !partial.iter().any(|m| m.0 == li)
                && library(f, partial, li)
        };
        // A value under such a line, at most five lines down, with no patron name or card
        // between.
        let under_library_line = |f: &[Finding], li: usize| {
            let Some(pos) = pos_of(li) else {
                return false;
            };
            (1..=5).any(|k| {
                let Some(above) = pos.checked_sub(k).map(|p| texty[p]) else {
                    return false;
                };
                let clear = |l: usize| {
                    !f.iter()
                        .any(|x| x.line == l && matches!(x.kind, Kind::Name | Kind::Card))
                };
                texty[pos - k..=pos].iter().all(|&l| clear(l)) && library_heading(f, above)
            })
        };
        // A library word before the value on its line ("Library phone: …", "Renew by phone:
        // …", "Questions? info@…"), never one inside it (`1400 Mill Branch Rd`,
        // `info@smithfamily.net`).
        let library_before = |x: &Finding| {
            hits_on(x.line).any(|h| h.role == Role::Library && h.end <= starts[x.line] + x.start)
        };
        let library_labelled: Vec<(usize, usize)> = f
            .iter()
            .filter(|x| x.kind == Kind::Email || x.labelled && contact(x.kind))
            .filter(|x| library_before(x) || under_library_line(&f, x.line))
            .map(|x| (x.line, x.start))
            .collect();
        f.retain(|x| {
            if !contact(x.kind) {
                return true;
            }
            if x.labelled || x.kind == Kind::Email {
                return !library_labelled.contains(&(x.line, x.start));
            }
            if first_marker.is_some_and(|m| x.line < m) {
                return false;
            }
            match first_patron.or(first_marker) {
                None => false,
                Some(_) => match x.kind {
                    Kind::Phone => (alone(x) || with_patron(x)) && near(x.line, 3),
                    _ => true,
                },
            }
        });

        // Other mentions of the name (found above), now that contact data is decided.
        for &(li, a, b) in partial.iter() {
            push(&mut f, li, a, b, Kind::Name);
        }

        // A card number found is masked wherever else it stands in the segment (a site's
        // own format, labelled once, printed bare again at the foot).
        let cards: Vec<&str> = f
            .iter()
            .filter(|x| x.kind == Kind::Card && !x.placeholder && x.end - x.start >= 5)
            .map(|x| &lines[x.line][x.start..x.end])
            .filter(|v| v.bytes().any(|b| b.is_ascii_digit()) && !v.contains('*'))
            .collect();
        let mut again = Vec::new();
        for card in cards {
            for (at, _) in joined.match_indices(card) {
                let end = at + card.len();
                let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
                if glued(joined[..at].chars().next_back()) || glued(joined[end..].chars().next()) {
                    continue;
                }
                let (li, a) = locate(at);
                if !f
                    .iter()
                    .any(|x| x.line == li && x.start < a + card.len() && a < x.end)
                {
                    again.push((li, a, a + card.len()));
                }
            }
        }
        for (li, a, b) in again {
            push(&mut f, li, a, b, Kind::Card);
        }

        // The library's own strings stay.
        if !cfg.keep.is_empty() {
            f.retain(|x| {
                let line = lines[x.line];
                !cfg.keep.iter().any(|k| {
                    line.match_indices(k.as_str())
                        .any(|(at, s)| at <= x.start && x.end <= at + s.len())
                })
            });
        }
        resolve_overlaps(f)
    }

    /// Does `v`, on the line under a label that stands alone without a separator, have the
    /// shape of a value of `kind`: a name of two to four words (or `Surname, First`), a card
    /// token, a phone number's seven digits, an e-mail address, a number in an address or a
    /// date?
    fn value_shaped(&self, kind: Kind, v: &str) -> bool {
        let digits = v.bytes().filter(u8::is_ascii_digit).count();
        match kind {
            Kind::Name => {
                (self.name_words.is_match(v) && v.split_whitespace().nth(1).is_some()
                    || self.name_line_any_case.is_match(v))
                    && !has_place_or_heading_word(v)
            }
            Kind::Card => card_token(v).is_some(),
            Kind::Phone => digits >= 7,
            Kind::Email => v.contains('@'),
            Kind::Address | Kind::Birthdate | Kind::Custom => digits > 0,
        }
    }

    /// Does `text` hold a word of the site's own card format (`card_pattern`)?
    pub(super) fn site_card(&self, text: &str) -> bool {
        self.card_pattern
            .as_ref()
            .is_some_and(|re| site_words(text).any(|(_, w)| re.is_match(w)))
    }

    /// Where `line` has the shape of a card number: a card type digit, then 13 more digits,
    /// each perhaps after one space or dash. Non-overlapping, leftmost first.
    fn card_shapes<'a>(&'a self, line: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
        let b = line.as_bytes();
        let mut i = 0;
        std::iter::from_fn(move || {
            while i < b.len() {
                let start = i;
                i += 1;
                if !self.card_types.contains(&(b[start] as char)) {
                    continue;
                }
                let (mut j, mut n) = (start + 1, 1);
                while n < CARD_DIGITS {
                    match b.get(j) {
                        Some(c) if c.is_ascii_digit() => j += 1,
                        Some(b' ' | b'-') if b.get(j + 1).is_some_and(u8::is_ascii_digit) => j += 2,
                        _ => break,
                    }
                    n += 1;
                }
                if n == CARD_DIGITS {
                    i = j;
                    return Some((start, j));
                }
            }
            None
        })
    }

    /// A run of digits that is a patron card number: 14 digits, a card type digit first, a
    /// valid check digit.
    pub(super) fn is_card_run(&self, run: &str) -> bool {
        run.len() == CARD_DIGITS && self.card_types.iter().any(|&t| run.starts_with(t))
    }

    /// Does this text (a barcode or 2-D code payload) carry patron data: a card number, or
    /// one of the values already found in the segment?
    pub(super) fn symbol_is_patron(&self, payload: &str, known: &Known) -> bool {
        if self.site_card(payload) {
            return true;
        }
        // Symbol data runs digits against start/stop characters (Codabar `A…B`) or code-set
        // prefixes: look at every run of digits.
        if payload
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| self.is_card_run(run))
        {
            return true;
        }
        if !known.digits.is_empty() {
            let digits: String = payload.chars().filter(char::is_ascii_digit).collect();
            if known.digits.iter().any(|k| digits.contains(k.as_str())) {
                return true;
            }
        }
        if !known.words.is_empty() {
            let lower = payload.to_lowercase();
            if known.words.iter().any(|k| lower.contains(k.as_str())) {
                return true;
            }
        }
        false
    }
}

/// The values found in a segment, as a symbol payload is compared with them: the digits of
/// those with seven or more, and those with three letters or more in lower case.
#[derive(Default)]
pub(super) struct Known {
    digits: Vec<String>,
    words: Vec<String>,
}

impl Known {
    pub(super) fn new<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut known = Known::default();
        for k in values {
            let kd: String = k.chars().filter(char::is_ascii_digit).collect();
            if kd.len() >= 7 {
                known.digits.push(kd);
            }
            if k.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
                known.words.push(k.to_lowercase());
            }
        }
        known
    }
}

/// The field after a label: up to a column gap (two spaces or a tab), trimmed.
fn field(text: &str, start: usize, end: usize) -> (usize, usize) {
    let raw = &text[start..end];
    let v = raw.trim_start();
    let start = start + (raw.len() - v.len());
    let b = v.as_bytes();
    let cut = (0..b.len())
        .find(|&i| b[i] == b'\t' || (b[i] == b' ' && b.get(i + 1) == Some(&b' ')))
        .unwrap_or(v.len());
    let v2 = &v[..cut];
    let lead = v2.len() - v2.trim_start().len();
    (start + lead, start + v2.trim_end().len())
}

impl Scratch {
    /// The text the last [`Detectors::find`] searched, in lower case where the lower-case
    /// letter has the same length in UTF-8 (every ASCII letter), byte offsets unchanged.
    pub(super) fn lower(&self) -> &[u8] {
        &self.lower
    }

    /// Give back buffers that grew past `big` bytes (a very long segment's), so they do not
    /// stay for the rest of the job.
    pub(super) fn shed(&mut self, big: usize) {
        if self.lower.capacity() > big || self.chars.capacity() * 4 > big {
            *self = Scratch::default();
        }
    }
}

/// Buffers [`Detectors::find`] reuses from one segment to the next.
#[derive(Default)]
pub(super) struct Scratch {
    lexicon_hits: Vec<WordHit>,
    /// Where each line is among the lines with text (`usize::MAX` for a blank one).
    texty_at: Vec<usize>,
    label_at: Vec<(usize, usize)>,
    digits: Vec<usize>,
    texty: Vec<usize>,
    street: Vec<Option<(usize, usize)>>,
    hits: Vec<(usize, usize, usize)>,
    partial: Vec<(usize, usize, usize)>,
    address_lines: Vec<usize>,
    patron_pos: Vec<usize>,
    keep_lines: Vec<usize>,
    words: Words,
    lower: Vec<u8>,
    chars: Vec<char>,
    out: Vec<Out>,
    blanked: Vec<u8>,
}

/// A piece of a line: its text and where it starts.
struct Piece<'a> {
    text: &'a str,
    start: usize,
}

impl Piece<'_> {
    fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

/// `text` without the leading and trailing characters `blank` accepts.
fn trimmed_span(text: &str, blank: impl Fn(char) -> bool + Copy) -> Piece<'_> {
    let t = text.trim_start_matches(blank);
    let start = text.len() - t.len();
    Piece {
        text: t.trim_end_matches(blank),
        start,
    }
}

/// Is `text[a..b]` a whole word (letters, with apostrophes or hyphens inside)?
fn whole_word(text: &str, a: usize, b: usize) -> bool {
    // Between two digits it is part of a number or code, not a word.
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    if digit(text[..a].chars().next_back()) && digit(text[b..].chars().next()) {
        return false;
    }
    let mut before = text[..a].chars().rev();
    let letter = |c: char| c.is_alphabetic();
    let joins = |c: char| matches!(c, '\'' | '’' | '-');
    match before.next() {
        Some(c) if letter(c) => return false,
        Some(c) if joins(c) && before.next().is_some_and(letter) => return false,
        _ => {}
    }
    let mut after = text[b..].chars();
    match after.next() {
        Some(c) if letter(c) => false,
        Some(c) if joins(c) && after.next().is_some_and(letter) => false,
        _ => true,
    }
}

/// `text` in lower case where the lower-case letter has the same length in UTF-8 (nearly
/// all letters), so byte offsets stay the same.
pub(super) fn lower_same_len(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    lower_same_len_into(text, &mut bytes);
    String::from_utf8(bytes).expect("whole characters replaced by characters of equal length")
}

/// [`lower_same_len`], appended to `out`.
fn lower_same_len_into(text: &str, out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(text.as_bytes());
    let bytes = &mut out[at..];
    bytes.make_ascii_lowercase();
    // Most text is ASCII: skip to the next byte that is not.
    let mut i = if text.is_ascii() { bytes.len() } else { 0 };
    while let Some(d) = bytes[i..].iter().position(|b| !b.is_ascii()) {
        i += d;
        let c = text[i..].chars().next().expect("on a character boundary");
        let n = c.len_utf8();
        if c.is_uppercase() {
            let mut l = c.to_lowercase();
            if let (Some(x), None) = (l.next(), l.next()) {
                if x.len_utf8() == n {
                    x.encode_utf8(&mut bytes[i..i + n]);
                }
            }
        }
        i += n;
    }
}

/// Sort findings and drop the ones inside (or overlapping) an earlier, longer one.
fn resolve_overlaps(mut f: Vec<Finding>) -> Vec<Finding> {
    f.sort_by_key(|x| (x.line, x.start, std::cmp::Reverse(x.end)));
    let mut out: Vec<Finding> = Vec::with_capacity(f.len());
    for x in f {
        if let Some(last) = out.last_mut() {
            if last.line == x.line && x.start < last.end {
                if x.kind == Kind::Card && last.kind != Kind::Card && last.rule.is_none() {
                    // A card number inside another value (a phone field that runs into
                    // it) is written as a card, the rest around it as before: masked, the
                    // card keeps its last digits and reads as the patron's card when the
                    // output is redacted again.
                    let outer = *last;
                    if x.start > outer.start {
                        last.end = x.start;
                    } else {
                        out.pop();
                    }
                    out.push(x);
                    if outer.end > x.end {
                        out.push(Finding {
                            start: x.end,
                            ..outer
                        });
                    }
                    continue;
                }
                // Overlap: widen to cover both (the earlier kind stays).
                last.end = last.end.max(x.end);
                continue;
            }
        }
        out.push(x);
    }
    out
}

/// `joined` (the segment's lines, which start at `starts`) with the characters of `found`
/// replaced by a control character, byte for byte: neither a word character nor a space
/// nor a digit, so no pattern matches across a blanked value. Written into `buf`, unless
/// nothing is blanked.
pub(super) fn blank<'a>(
    joined: &'a str,
    starts: &[usize],
    found: &[Finding],
    buf: &'a mut Vec<u8>,
) -> &'a str {
    if found.is_empty() {
        return joined;
    }
    buf.clear();
    buf.extend_from_slice(joined.as_bytes());
    for x in found {
        buf[starts[x.line] + x.start..starts[x.line] + x.end].fill(0x01);
    }
    std::str::from_utf8(buf).expect("whole characters replaced by ASCII")
}

/// `lines` joined by line feeds into `joined`, and where each line starts into `starts`: one
/// text per segment, so each pattern runs once per segment rather than once per line.
pub(super) fn join(lines: &[&str], joined: &mut String, starts: &mut Vec<usize>) {
    joined.clear();
    starts.clear();
    for l in lines {
        starts.push(joined.len());
        joined.push_str(l);
        joined.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static DETECTORS: LazyLock<Detectors> =
        LazyLock::new(|| Detectors::new(&RedactConfig::default()));
    static CARD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"[2](?:[ -]?[0-9]){{{}}}", CARD_DIGITS - 1)).unwrap()
    });

    static PHONE_TAIL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[0-9]{3}[ .-][0-9]{4}|\+[0-9]").unwrap());

    proptest! {
        /// The phone pre-check passes every line the phone pattern finds a number in.
        #[test]
        fn may_be_phone_passes_what_the_pattern_finds(text in "[0-9 .+()-]{0,24}") {
            if DETECTORS.phone.is_match(&text) {
                prop_assert!(may_be_phone(text.as_bytes()), "{:?}", text);
            }
            prop_assert_eq!(may_be_phone(text.as_bytes()), PHONE_TAIL.is_match(&text));
        }

        /// A line the name-line pattern matches has a comma, and the any-case pattern
        /// matches it too (the order the two are tried in relies on it).
        #[test]
        fn name_line_patterns_nest(line in "[ \t]?([A-Z][a-z]{0,4}|[a-zé]{1,4}|[ ,.'’-]|Ó){1,8}[ \t]?") {
            if DETECTORS.name_line.is_match(&line) {
                prop_assert!(line.contains(','));
                prop_assert!(DETECTORS.name_line_any_case.is_match(&line), "{:?}", line);
            }
            if DETECTORS.name_line_any_case.is_match(&line) {
                prop_assert!(line.contains(','));
            }
        }

        /// The card scanner finds what the pattern it replaced found.
        #[test]
        fn card_shapes_match_the_pattern(line in "[0-9 2x-]{0,40}") {
            let want: Vec<(usize, usize)> =
                CARD.find_iter(&line).map(|m| (m.start(), m.end())).collect();
            let got: Vec<(usize, usize)> = DETECTORS.card_shapes(&line).collect();
            prop_assert_eq!(got, want);
        }

        /// The box pre-check passes every line the box pattern finds a box in.
        #[test]
        fn has_box_word_passes_what_the_pattern_finds(
            line in "([pP]\\.? ?[oO]\\.? ?|[rR]{2} ?[0-9],? |HC |[bB])?([bB][oO][xX]|B0X|bo) ?#?[0-9]{0,3}",
        ) {
            if DETECTORS.po_box.is_match(&line) {
                prop_assert!(has_box_word(&line), "{:?}", line);
            }
        }
    }

    #[test]
    fn box_unit_and_city_lines() {
        let d = &*DETECTORS;
        for yes in [
            "PO Box 418",
            "P.O. Box 12",
            "p o box 7",
            "Post Office Box 3300",
            "RR 2 Box 15",
            "Rural Route 3, Box 210",
            "HC 61 Box 4",
            "PSC 1234 Box 5678",
            "po box #9",
            "PO Box 418A",
            "RR 2 Box 15a",
        ] {
            assert!(d.po_box.is_match(yes), "{yes:?}");
        }
        for no in [
            "Box 12",
            "The Box 2 of 3",
            "Boxcar 9",
            "PO Boxes",
            "Inbox 12",
        ] {
            assert!(!d.po_box.is_match(no), "{no:?}");
        }
        for yes in [
            "Apt 3C",
            "  apt. #4b ",
            "Unit 12",
            "Suite 200",
            "#12",
            "# 7-A",
            "Bldg 2, Apt 4B",
            "Flat 3",
            "Lot 7",
            "Ste. B",
            "Floor 2",
            "Rm B-12",
        ] {
            assert!(d.unit_line.is_match(yes), "{yes:?}");
        }
        for no in [
            "Step",
            "Floor staff",
            "Apt",
            "Unit 12 overdue",
            "Apartment living",
            "Suite 200 and 300",
            "Lee, Min Jin",
            "31472005301274",
        ] {
            assert!(!d.unit_line.is_match(no), "{no:?}");
        }
        for yes in [
            "Lawrence, KS 66047",
            "Albion  30341",
            "Marietta, GA 30061-1234",
            "Lawrence 66044",
            "Perth, ON K7H 3E3",
            "Ottawa ON K1P1J1",
            "Leeds LS1 4AP",
            "London, SW1A 1AA",
            "Saint-Jérôme, QC J7Z 5T3",
        ] {
            assert!(d.city_line.is_match(yes), "{yes:?}");
        }
        for yes in ["Lawrence, KS", "Perth, ON", "  Juneau,AK  "] {
            assert!(d.city_state_line.is_match(yes), "{yes:?}");
        }
        for no in ["Bhagat, CB", "Lawrence KS", "Lee, Min", "Smith, JO"] {
            assert!(!d.city_state_line.is_match(no), "{no:?}");
        }
        for yes in ["Leeds", " Milton Keynes ", "Saint-Jérôme"] {
            assert!(d.town_line.is_match(yes), "{yes:?}");
        }
        for yes in [
            "LS1 4AP",
            "  MK9 2FZ",
            "K7H 3E3",
            "KS 66047-1234",
            "ON K1P1J1",
        ] {
            assert!(d.postcode_line.is_match(yes), "{yes:?}");
        }
        for no in [
            "United Kingdom 2",
            "66047",
            "31472",
            "XX 66047",
            "31472005301274",
            "Due 2026",
            "ls1 4ap",
            "660471",
        ] {
            assert!(!d.postcode_line.is_match(no), "{no:?}");
        }
        for yes in [
            "3661 Broadway",
            "  27 Rue des Lilas",
            "12B Main",
            "12-14 Elm Row",
            "418 Ölweg",
        ] {
            assert!(starts_with_house_number(yes), "{yes:?}");
        }
        for no in [
            "1. Beloved",
            "Item: 31472005301274",
            "3661",
            "1234567 Main",
            "12- Main",
            "2026-11-14 due",
            "12  Main",
            "Broadway 12",
        ] {
            assert!(!starts_with_house_number(no), "{no:?}");
        }
        for no in [
            "Lawrence",
            "Lee, Min Jin",
            "Hébert, Anne",
            "Powers, Richard",
            "Item: 31472005301274",
            "Due: 2026-11-24",
            "FIC HEB",
            "Room 101",
            "Smith, Jo",
        ] {
            assert!(!d.city_line.is_match(no), "{no:?}");
        }
    }
}
