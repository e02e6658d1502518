//! Slips that arrive as HTML (Koha, Evergreen: rendered in the staff browser) or as plain
//! text, laid out as printed lines for a receipt printer ([`crate::typeset`] writes them as
//! printer bytes). Sans-IO.
//!
//! What a browser would show, in the printer's terms: block elements and `<br>` break lines;
//! `h1`–`h3` print bold at double size, `h4`–`h6` bold; `<b>`/`<strong>` bold, `<u>`
//! underlined; `<hr>` a rule; tables as columns; lists with bullets or numbers; `<pre>`
//! keeps its spacing. Text is wrapped at word boundaries to the paper's columns (font A).
//! Scripts, styles, the document head, form controls and hidden elements (`hidden`,
//! `display: none`, `visibility: hidden`, and the print-hiding classes Koha and Bootstrap
//! use) are left out. The parser (html5ever, through `scraper`) decodes entities and
//! recovers from malformed markup as browsers do, so broken HTML still prints what text it
//! has.
//!
//! A slip to print is redacted before it is laid out ([`redacted_lines`], DESIGN §4): the
//! document is walked once for its logical lines (nothing wrapped), those are redacted as a
//! plain job, and a second walk lays out the redacted text in the first one's places.

use crate::exact::{self, Annot};
use crate::typeset::{Align, Layout, Line, Style};
use ego_tree::NodeRef;
use scraper::node::Element;
use scraper::{Html, Node};

/// Elements never printed, with everything inside them.
const DROPPED: &[&str] = &[
    "head", "script", "style", "template", "noscript", "title", "meta", "link", "iframe", "object",
    "embed", "svg", "canvas", "select", "option", "textarea", "input", "button", "img", "audio",
    "video", "map", "area",
];

/// Elements that start and end a block (a line of their own).
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hgroup",
    "html",
    "legend",
    "li",
    "main",
    "nav",
    "p",
    "section",
    "summary",
    "tr",
];

/// Columns always left for text beside a list's margin, and the longest word a table
/// column is made wide enough for: a card number (up to 20 characters) is never broken
/// across lines, where redaction could not read it whole.
const MIN_TEXT: usize = 20;

/// Elements nested deeper than this are not laid out: the slip is refused instead (a
/// recursive layout of an arbitrarily deep document could exhaust the stack, and a slip is
/// never nested this deep).
pub const MAX_DEPTH: usize = 256;

/// Classes whose elements the staff client hides when printing.
const PRINT_HIDDEN_CLASSES: &[&str] = &["noprint", "no-print", "d-print-none", "d-none", "hidden"];

/// The printed lines of an HTML slip (a whole page or a fragment), as it is (no
/// redaction: see [`redacted_lines`]). `labels` (lower case) are the field labels redaction
/// reads values after ([`crate::core::redact::Redactor::labels`]): a line is never broken
/// inside one or between one and the word after it. An error when elements nest deeper
/// than [`MAX_DEPTH`] (nothing of such a slip prints).
pub fn html_lines(html: &str, layout: &Layout, labels: &[String]) -> Result<Vec<Line>, String> {
    let doc = Doc::parse(Markup::Html, html)?;
    let (rows, _) = doc.lay_out(layout, labels, Pass::Plain)?;
    Ok(rows.into_iter().map(Row::line).collect())
}

/// Columns a logical line may take: a paragraph of any slip is shorter (and fits the
/// profile's `u32` column count).
const LOGICAL_COLUMNS: usize = 1 << 24;

/// A slip parsed once, for every pass over it.
enum Doc<'t> {
    Html(Html),
    Text(&'t str),
}

impl<'t> Doc<'t> {
    fn parse(markup: Markup, text: &'t str) -> Result<Self, String> {
        match markup {
            Markup::Text => Ok(Doc::Text(text)),
            Markup::Html => {
                // Checked before parsing: the parser's time grows with the square of the
                // nesting depth (40 KB of nested `<div>`s takes a quarter of a second, a
                // megabyte minutes).
                if nesting_bound(text) > MAX_DEPTH {
                    return Err(format!(
                        "the HTML nests elements deeper than {MAX_DEPTH} levels"
                    ));
                }
                Ok(Doc::Html(Html::parse_document(text)))
            }
        }
    }

    /// The slip's lines for `pass`, and whether a character redaction did not see was met
    /// ([`Writer::unread`]).
    fn lay_out(
        &self,
        layout: &Layout,
        labels: &[String],
        pass: Pass<'_>,
    ) -> Result<(Vec<Row>, bool), String> {
        self.walk(layout, labels, pass).map(|w| (w.rows, w.unread))
    }

    /// A walk of the slip for `pass`: its lines, and what the walk learnt on the way.
    fn walk(&self, layout: &Layout, labels: &[String], pass: Pass<'_>) -> Result<Walk, String> {
        let mut w = Writer::new(layout, labels, pass);
        match self {
            Doc::Html(doc) => w.children(doc.tree.root(), Style::default()),
            Doc::Text(text) => {
                w.pre = 1;
                w.text(text, Style::default());
            }
        }
        if w.too_deep {
            return Err(format!(
                "the HTML nests elements deeper than {MAX_DEPTH} levels"
            ));
        }
        let (unread, unknown) = (w.unread, w.unknown);
        let (anns, place_ann) = (
            std::mem::take(&mut w.anns),
            std::mem::take(&mut w.place_ann),
        );
        Ok(Walk {
            rows: w.finish(),
            unread,
            anns,
            place_ann,
            unknown,
        })
    }
}

/// What a walk of a slip gives. (No `Debug`: rows hold slip text.)
struct Walk {
    rows: Vec<Row>,
    /// A character redaction did not see was met ([`Writer::unread`]).
    unread: bool,
    /// The annotated elements read ([`Writer::anns`]).
    anns: Vec<Annot>,
    /// For each place of the text, the annotated element it is in ([`Writer::place_ann`]).
    place_ann: Vec<u32>,
    /// Elements of an unknown annotation kind ([`Writer::unknown`]).
    unknown: u64,
}

/// The printed lines of a slip, redacted before they are laid out (DESIGN §4), and the
/// redaction's counts. Redaction reads the slip's logical lines: every paragraph on one line
/// however long, a table row on one line with its cells two spaces apart (`Borrower:  Okonkwo,
/// Marisol`), in the page the printer prints them in, as a plain job for a profile as wide as
/// the longest line. The redacted lines' characters then take the places of the text's
/// characters (a line by its order, a character by its column, a value redaction made shorter
/// or longer by the unchanged text around it), and that text is laid out as
/// [`html_lines`] lays out any. So wrapping, double-size headings and table columns cannot
/// part a value from its label or break a name redaction would have read whole.
///
/// Fails closed, with a reason that names no slip text: redaction blocks the job, its output
/// no longer has the logical lines' shape, or a character of the slip is left without a
/// redacted form; and when the logical lines' job is larger than `max_bytes` (the daemon's
/// `max_segment_bytes`: redaction's working memory is many times a segment's size).
pub fn redacted_lines(
    markup: Markup,
    slip: &str,
    profile: &crate::core::profile::Profile,
    redactor: &crate::core::redact::Redactor,
    max_bytes: u64,
) -> Result<(Vec<Line>, crate::core::redact::Report), String> {
    redact_slip(markup, slip, profile, redactor, max_bytes, false).map(|r| (r.lines, r.report))
}

/// A slip redacted before it was laid out ([`redact_slip`]). (No `Debug`: lines hold slip
/// text.)
pub struct Redacted {
    /// The printed lines.
    pub lines: Vec<Line>,
    /// The counts: the detectors' and the annotations' ([`Exact`]), per kind.
    pub report: crate::core::redact::Report,
    /// What the slip's annotations did.
    pub exact: Exact,
    /// When asked for: for each printed line, the characters masked and why (character
    /// ranges of [`Line::text`], left to right).
    pub marks: Vec<Vec<Mark>>,
}

/// What a slip's annotations ([`crate::exact`]) did: counts, never values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exact {
    /// Values masked because an element marked them (annotated name elements side by side
    /// count as one name).
    pub annotated: u64,
    /// Other places where an annotated value stood, masked too.
    pub elsewhere: u64,
    /// Elements whose `data-slipguard` kind is unknown: read as unannotated (detection
    /// still runs on them; an annotation around them still applies).
    pub unknown: u64,
}

/// Characters of a printed line that redaction changed, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
    /// The kind, as its annotation or detector names it (`name`, `card`, …, `drop`).
    pub kind: &'static str,
    pub why: Why,
}

/// Why a value was masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// An element of the slip marked it (`data-slipguard`).
    Annotation,
    /// It is a value an element marked elsewhere on the slip.
    Elsewhere,
    /// A detector found it: by its label, its shape, or a site rule.
    Found(crate::core::redact::FoundBy),
    /// Redacting the typeset job, after the slip was laid out, changed it.
    Printer,
}

impl Why {
    /// One word for it (an HTML class).
    pub fn class(self) -> &'static str {
        match self {
            Why::Annotation => "annotation",
            Why::Elsewhere => "elsewhere",
            Why::Found(f) => f.label(),
            Why::Printer => "printer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Why::Annotation => "annotation",
            Why::Elsewhere => "annotated elsewhere",
            Why::Found(f) => f.label(),
            Why::Printer => "printer pass",
        }
    }
}

/// A value to mask: characters `a..b` of logical line `line`, of annotation `annot`.
struct Span {
    line: usize,
    a: usize,
    b: usize,
    annot: Annot,
    /// Found elsewhere, not annotated.
    again: bool,
}

/// The printed lines of a slip, redacted before they are laid out (DESIGN §4): what
/// [`redacted_lines`] gives, with what the slip's annotations did and (`explain`) the marks
/// of what was masked and why.
///
/// Annotated elements first ([`crate::exact`]): each one's text on a logical line is a value
/// of its kind (name elements beside each other, with only blanks and commas between, one
/// name), printed as the kind's action under the slip's policy (chosen from the slip's text
/// with those values blanked out); each value is then looked for on the rest of the slip and
/// masked where it stands again. The detectors then read the slip as those left it, and the
/// places of the characters of both kinds of change are kept apart, so a value changed on a
/// table row keeps to its own cell.
pub fn redact_slip(
    markup: Markup,
    slip: &str,
    profile: &crate::core::profile::Profile,
    redactor: &crate::core::redact::Redactor,
    max_bytes: u64,
    explain: bool,
) -> Result<Redacted, String> {
    use crate::core::redact::Kind;
    let (layout, _) = Layout::for_profile(profile)?;
    let labels = redactor.labels();
    let doc = Doc::parse(markup, slip)?;
    let walk = doc.walk(&layout, labels, Pass::Logical)?;
    let lines: Vec<Vec<(char, usize)>> = walk
        .rows
        .iter()
        .map(|r| {
            r.runs
                .iter()
                .flat_map(|(cs, t)| t.chars().map(move |c| (c, cs.src)))
                .collect()
        })
        .collect();
    let read = lines.iter().flatten().map(|&(_, n)| n).max().unwrap_or(0);
    let mut exact = Exact {
        unknown: walk.unknown,
        ..Exact::default()
    };
    let mut counts = [0u64; 7];
    // What each place prints as, and why, for the places an annotation changed.
    let mut why: Vec<Option<(&'static str, Why)>> = vec![None; read + 1];
    let mut emptied: Vec<usize> = Vec::new();
    let ann_of = |n: usize| -> Option<usize> {
        match walk.place_ann.get(n) {
            Some(&i) if n > 0 && i > 0 => Some(i as usize - 1),
            _ => None,
        }
    };
    let premasked: Vec<Vec<(char, usize)>> = if walk.anns.is_empty() {
        lines.clone()
    } else {
        // The annotated values: runs of a line's characters in one element (the layout's
        // own spaces between them included).
        let mut spans: Vec<Span> = Vec::new();
        for (li, line) in lines.iter().enumerate() {
            let mut open: Option<(usize, usize, usize)> = None; // (element, a, b)
            for (i, &(_, n)) in line.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                match (ann_of(n), open) {
                    (Some(e), Some((oe, a, _))) if e == oe => open = Some((e, a, i + 1)),
                    (Some(e), _) => {
                        if let Some((oe, a, b)) = open.take() {
                            spans.push(Span {
                                line: li,
                                a,
                                b,
                                annot: walk.anns[oe],
                                again: false,
                            });
                        }
                        open = Some((e, i, i + 1));
                    }
                    (None, _) => {
                        if let Some((oe, a, b)) = open.take() {
                            spans.push(Span {
                                line: li,
                                a,
                                b,
                                annot: walk.anns[oe],
                                again: false,
                            });
                        }
                    }
                }
            }
            if let Some((oe, a, b)) = open {
                spans.push(Span {
                    line: li,
                    a,
                    b,
                    annot: walk.anns[oe],
                    again: false,
                });
            }
        }
        // Names side by side are one name (`Okonkwo, Marisol` prints `OKON M` on a hold
        // shelf, not a prefix of each).
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            if let Some(last) = merged.last_mut() {
                let between = |l: &Span| {
                    lines[l.line][l.b..s.a]
                        .iter()
                        .all(|&(c, _)| c.is_whitespace() || c == ',')
                };
                if last.annot == Annot::Name
                    && s.annot == Annot::Name
                    && last.line == s.line
                    && between(last)
                {
                    last.b = s.b;
                    continue;
                }
            }
            merged.push(s);
        }
        let mut spans = merged;
        // The slip's policy, from its text without the annotated values.
        let mut blanked = String::new();
        for (li, line) in lines.iter().enumerate() {
            let mut k = spans.iter().filter(|s| s.line == li).peekable();
            for (i, &(c, _)) in line.iter().enumerate() {
                while k.next_if(|s| s.b <= i).is_some() {}
                let inside = k.peek().is_some_and(|s| s.a <= i && i < s.b);
                blanked.push(if inside { '\u{1}' } else { c });
            }
            blanked.push('\n');
        }
        let actions = redactor.actions_for(&blanked).clone();
        // The annotated values, looked for elsewhere: where no annotation is.
        let mut needles: Vec<(exact::Needle, Annot)> = Vec::new();
        for s in &spans {
            let value: Vec<char> = lines[s.line][s.a..s.b].iter().map(|&(c, _)| c).collect();
            for n in exact::needles(s.annot, &value) {
                if !needles.iter().any(|(m, _)| *m == n) {
                    needles.push((n, s.annot));
                }
            }
        }
        exact.annotated = spans.len() as u64;
        let mut again: Vec<Span> = Vec::new();
        for (li, line) in lines.iter().enumerate() {
            let chars: Vec<char> = line.iter().map(|&(c, _)| c).collect();
            let free = |i: usize| ann_of(line[i].1).is_none();
            let mut found: Vec<Span> = Vec::new();
            for (needle, annot) in &needles {
                for (a, b) in exact::find(needle, &chars, free) {
                    found.push(Span {
                        line: li,
                        a,
                        b,
                        annot: *annot,
                        again: true,
                    });
                }
            }
            // Longest first where they overlap.
            found.sort_by_key(|s| (s.a, std::cmp::Reverse(s.b)));
            let mut end = 0;
            for s in found {
                if s.a >= end {
                    end = s.b;
                    again.push(s);
                }
            }
        }
        exact.elsewhere = again.len() as u64;
        spans.extend(again);
        spans.sort_by_key(|s| (s.line, s.a));
        let mut pre: Vec<Vec<(char, usize)>> = lines.clone();
        for (li, line) in lines.iter().enumerate() {
            let on_line: Vec<&Span> = spans.iter().filter(|s| s.line == li).collect();
            if on_line.is_empty() {
                continue;
            }
            let mut out: Vec<(char, usize)> = Vec::with_capacity(line.len());
            let mut at = 0;
            for s in on_line {
                out.extend_from_slice(&line[at..s.a]);
                let value: Vec<char> = line[s.a..s.b].iter().map(|&(c, _)| c).collect();
                let printed = exact::apply(&s.annot.action(&actions), &value);
                let span = &line[s.a..s.b];
                let places: Vec<usize> = span.iter().map(|&(_, n)| n).filter(|&n| n > 0).collect();
                if places.is_empty() {
                    // Only the layout's own characters (a list's number): no text to mask.
                    out.extend_from_slice(span);
                    at = s.b;
                    continue;
                }
                // The printed characters take the value's characters' places in order (the
                // last one's when there are more); places left over print nothing. A space
                // that falls on a space of the layout's is the layout's; anything else
                // there goes with the place before it.
                for (k, c) in printed.into_iter().enumerate() {
                    let pos = k.min(span.len() - 1);
                    let n = span[pos].1;
                    if n == 0 && c == ' ' && k < span.len() {
                        continue;
                    }
                    let n = if n > 0 {
                        n
                    } else {
                        span[..pos]
                            .iter()
                            .rev()
                            .map(|&(_, n)| n)
                            .find(|&n| n > 0)
                            .unwrap_or(places[0])
                    };
                    out.push((c, n));
                }
                let reason = if s.again {
                    Why::Elsewhere
                } else {
                    Why::Annotation
                };
                for &n in &places {
                    why[n] = Some((s.annot.label(), reason));
                }
                emptied.extend(places);
                counts[s.annot.kind() as usize] += 1;
                at = s.b;
            }
            out.extend_from_slice(&line[at..]);
            pre[li] = out;
        }
        pre
    };
    let texts: Vec<String> = premasked
        .iter()
        .map(|l| l.iter().map(|&(c, _)| c).collect())
        .collect();
    let mut wide = profile.clone();
    wide.columns.font_a = LOGICAL_COLUMNS as u32;
    let (job, head) = crate::typeset::plain_job(&texts, &wide)?;
    if job.len() as u64 > max_bytes {
        return Err(format!(
            "the slip's text is larger than max_segment_bytes ({max_bytes} bytes)"
        ));
    }
    let (out, mut report, found) = if explain {
        redactor.job_explained(&wide, &job)
    } else {
        redactor.job(&wide, &job).map(|(o, r)| (o, r, Vec::new()))
    }
    .map_err(|b| format!("fails closed: {b}"))?;
    let redacted = crate::typeset::plain_lines(&out, &job[..head], &wide)
        .filter(|r| r.len() == premasked.len())
        .ok_or("fails closed: redacting the slip's text changed its lines")?;
    let mut text: Vec<Option<String>> = vec![None; read + 1];
    for (orig, red) in premasked.iter().zip(&redacted) {
        let red: Vec<char> = red.chars().collect();
        map_line(orig, &red, &mut text);
    }
    for n in emptied {
        text[n].get_or_insert_with(String::new);
    }
    if explain {
        // The detectors' values, from the job's bytes back to the places of their
        // characters.
        let mut starts = Vec::with_capacity(premasked.len());
        let mut at = head as u64;
        for l in &premasked {
            starts.push(at);
            at += l.iter().map(|&(c, _)| plain_bytes(&layout, c)).sum::<u64>() + 1;
        }
        for f in &found {
            let li = starts.partition_point(|&s| s <= f.start).saturating_sub(1);
            let Some(line) = premasked.get(li) else {
                continue;
            };
            let mut pos = starts[li];
            for &(c, n) in line {
                let next = pos + plain_bytes(&layout, c);
                // A detector's value shows as the detector's, whole, even where a value
                // annotated elsewhere stood inside it (a surname in an e-mail address).
                let free = why[n].is_none_or(|(_, w)| w == Why::Elsewhere);
                if pos >= f.start && next <= f.end && n > 0 && free {
                    why[n] = Some((Kind::label(f.kind), Why::Found(f.by)));
                }
                pos = next;
            }
        }
    }
    for (k, c) in counts.iter().enumerate() {
        report.redacted[k] += c;
    }
    let walk = doc.walk(&layout, labels, Pass::Redacted(&text))?;
    if walk.unread {
        return Err("fails closed: a part of the slip was not read by redaction".into());
    }
    let marks = if explain {
        walk.rows.iter().map(|r| r.marks(&why)).collect()
    } else {
        Vec::new()
    };
    Ok(Redacted {
        lines: walk.rows.into_iter().map(Row::line).collect(),
        report,
        exact,
        marks,
    })
}

/// The bytes [`crate::typeset::plain_job`] writes for `c`.
fn plain_bytes(layout: &Layout, c: char) -> u64 {
    match layout.encoding {
        crate::core::text::codepage::Encoding::Utf8 if !c.is_control() => c.len_utf8() as u64,
        _ => 1,
    }
}

/// The characters of a redacted logical line into the places of the text's characters
/// (`text[n]`: what the n-th character read prints as). `orig` is the line before redaction,
/// each character with its place (0: made by the layout, not the text's). The text both
/// lines share at their start and at their end stands where it stood; between them, the
/// redacted characters take the original ones' places in order, characters left over are
/// gone, and characters redaction added go with the last place before them. Every place on
/// the line is read, even if nothing of it is left. The layout's own characters (spaces,
/// column gaps) are laid out afresh, so what redaction wrote over them is dropped.
fn map_line(orig: &[(char, usize)], red: &[char], text: &mut [Option<String>]) {
    let same = |o: char, r: char| o == r || o == '\u{A0}' && r == ' ';
    let (lo, lr) = (orig.len(), red.len());
    let p = orig
        .iter()
        .zip(red)
        .take_while(|((o, _), r)| same(*o, **r))
        .count();
    let s = orig[p..]
        .iter()
        .rev()
        .zip(red[p..].iter().rev())
        .take_while(|((o, _), r)| same(*o, **r))
        .count();
    for &(_, n) in orig {
        if n > 0 {
            text[n].get_or_insert_with(String::new);
        }
    }
    let mut put = |at: usize, r: char| {
        let (o, n) = orig[at];
        if n > 0 {
            // A non-breaking space the page writes as a space still glues.
            let c = if same(o, r) { o } else { r };
            text[n].get_or_insert_with(String::new).push(c);
        }
    };
    for (i, &r) in red[..p].iter().enumerate() {
        put(i, r);
    }
    let (mo, mr) = (lo - s - p, lr - s - p);
    for (k, &r) in red[p..p + mr].iter().enumerate() {
        let at = if k < mo {
            p + k
        } else if mo > 0 {
            p + mo - 1
        } else if p > 0 {
            p - 1
        } else {
            p
        };
        if at < lo {
            put(at, r);
        }
    }
    for i in 0..s {
        put(lo - s + i, red[lr - s + i]);
    }
}

/// An upper bound of how deep `html` nests its elements, from its tags alone: start tags
/// open, end tags close; void elements (`<br>`) and elements a sibling closes implicitly
/// (`<p>`, `<li>`, `<td>`, `<tr>`, …) do not count, nor do comments or the content of
/// `<script>`, `<style>`, `<textarea>` and `<title>`. Linear in the length.
fn nesting_bound(html: &str) -> usize {
    const UNCOUNTED: &[&[u8]] = &[
        b"area",
        b"base",
        b"br",
        b"col",
        b"embed",
        b"hr",
        b"img",
        b"input",
        b"link",
        b"meta",
        b"param",
        b"source",
        b"track",
        b"wbr",
        b"p",
        b"li",
        b"td",
        b"th",
        b"tr",
        b"dt",
        b"dd",
        b"option",
        b"optgroup",
        b"thead",
        b"tbody",
        b"tfoot",
        b"colgroup",
        b"caption",
        b"rt",
        b"rp",
        b"html",
        b"head",
        b"body",
    ];
    const RAW_TEXT: &[&[u8]] = &[b"script", b"style", b"textarea", b"title"];
    let b = html.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    let find = |from: usize, what: &[u8]| {
        memchr::memmem::find(&b[from.min(b.len())..], what).map(|p| from + p)
    };
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        i += p + 1;
        if b[i..].starts_with(b"!--") {
            i = find(i + 3, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        let close = b.get(i) == Some(&b'/');
        let start = i + usize::from(close);
        let mut end = start;
        while end < b.len() && b[end].is_ascii_alphanumeric() && end - start < 16 {
            end += 1;
        }
        if end == start {
            continue;
        }
        let name = b[start..end].to_ascii_lowercase();
        let Some(gt) = memchr::memchr(b'>', &b[end..]).map(|g| end + g) else {
            break;
        };
        i = gt + 1;
        if UNCOUNTED.contains(&name.as_slice()) {
            continue;
        }
        if close {
            depth = depth.saturating_sub(1);
        } else if RAW_TEXT.contains(&name.as_slice()) {
            // To the matching end tag, in any case.
            let lower = |k: usize| b.get(k).map(u8::to_ascii_lowercase);
            let mut k = i;
            i = loop {
                match memchr::memchr(b'<', &b[k.min(b.len())..]) {
                    None => break b.len(),
                    Some(q) => {
                        k += q + 1;
                        if lower(k) == Some(b'/')
                            && (0..name.len()).all(|j| lower(k + 1 + j) == Some(name[j]))
                        {
                            break k;
                        }
                    }
                }
            };
        } else if b[gt - 1] != b'/' {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// What a slip to typeset is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Markup {
    Html,
    Text,
}

/// The print job for a slip written in `markup` (bytes read as UTF-8), typeset for
/// `profile` as it is, without redaction (`preview` without `--redact`). `labels` are the
/// redactor's field labels, kept on one line with the word after them.
pub fn typeset(
    markup: Markup,
    slip: &[u8],
    profile: &crate::core::profile::Profile,
    labels: &[String],
) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(slip);
    let (layout, _) = Layout::for_profile(profile)?;
    let lines = match markup {
        Markup::Html => html_lines(&text, &layout, labels)?,
        Markup::Text => text_lines(&text, &layout, labels),
    };
    crate::typeset::render(&lines, profile)
}

/// The print job for a slip written in `markup` (bytes read as UTF-8), redacted before it is
/// laid out ([`redacted_lines`]) and typeset for `profile`, with the redaction's counts: the
/// HTTP listener's and the `--from html|text` commands' path. The job still goes through
/// redaction as printer bytes like any other.
pub fn typeset_redacted(
    markup: Markup,
    slip: &[u8],
    profile: &crate::core::profile::Profile,
    redactor: &crate::core::redact::Redactor,
    max_bytes: u64,
) -> Result<(Vec<u8>, crate::core::redact::Report), String> {
    typeset_exact(markup, slip, profile, redactor, max_bytes).map(|(job, report, _)| (job, report))
}

/// [`typeset_redacted`], and what the slip's annotations did ([`Exact`]).
pub fn typeset_exact(
    markup: Markup,
    slip: &[u8],
    profile: &crate::core::profile::Profile,
    redactor: &crate::core::redact::Redactor,
    max_bytes: u64,
) -> Result<(Vec<u8>, crate::core::redact::Report, Exact), String> {
    let text = String::from_utf8_lossy(slip);
    let r = redact_slip(markup, &text, profile, redactor, max_bytes, false)?;
    Ok((
        crate::typeset::render(&r.lines, profile)?,
        r.report,
        r.exact,
    ))
}

/// The printed lines of a plain-text slip: its lines, with their spacing, wrapped at word
/// boundaries where they are longer than the paper.
pub fn text_lines(text: &str, layout: &Layout, labels: &[String]) -> Vec<Line> {
    let doc = Doc::Text(text);
    // Plain text nests nothing: never refused.
    doc.lay_out(layout, labels, Pass::Plain)
        .map(|(rows, _)| rows.into_iter().map(Row::line).collect())
        .unwrap_or_default()
}

/// A character of a paragraph and how it prints. Spaces a browser would collapse are
/// collapsed on the way in; in `<pre>` they are kept.
type Para = Vec<(char, Cs)>;

/// How a character of a laid-out line prints, and which character of the document's text it
/// is: the n-th (from 1) the walk read from the markup, in [`Pass::Logical`]; 0 for the
/// rest (spaces, margins, markers, rules and column gaps the layout makes).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Cs {
    style: Style,
    src: usize,
}

/// A laid-out line as the writer keeps it (runs know where their characters came from).
#[derive(Clone, Default)]
struct Row {
    align: Align,
    runs: Vec<(Cs, String)>,
}

impl Row {
    fn text(&self) -> String {
        self.runs.iter().map(|(_, t)| t.as_str()).collect()
    }

    /// The row's characters that redaction changed, and why (`why`: by place); marks of
    /// the same kind and reason with only blanks between them are one.
    fn marks(&self, why: &[Option<(&'static str, Why)>]) -> Vec<Mark> {
        let chars: Vec<char> = self.text().chars().collect();
        let mut out: Vec<Mark> = Vec::new();
        let mut i = 0;
        for (cs, t) in &self.runs {
            let w = why.get(cs.src).copied().flatten().filter(|_| cs.src > 0);
            for _ in t.chars() {
                if let Some((kind, why)) = w {
                    match out.last_mut() {
                        Some(m)
                            if m.kind == kind
                                && m.why == why
                                && chars[m.end..i].iter().all(|c| *c == ' ') =>
                        {
                            m.end = i + 1
                        }
                        _ => out.push(Mark {
                            start: i,
                            end: i + 1,
                            kind,
                            why,
                        }),
                    }
                }
                i += 1;
            }
        }
        out
    }

    /// The printed line: runs of equal style merged.
    fn line(self) -> Line {
        let mut runs: Vec<(Style, String)> = Vec::new();
        for (cs, t) in self.runs {
            match runs.last_mut() {
                Some((s, text)) if *s == cs.style => text.push_str(&t),
                _ => runs.push((cs.style, t)),
            }
        }
        Line {
            align: self.align,
            runs,
        }
    }
}

/// What a walk of the document is for. The walk reads the markup's text in the same order
/// whatever the pass, so the n-th character read is the same character in every pass.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Lay the text out as it is ([`html_lines`], [`text_lines`]).
    Plain,
    /// The document's logical lines for redaction: nothing wrapped (a paragraph is one line,
    /// a table row one line with its cells two spaces apart), every character as the
    /// printer's page prints it, each marked with its place in the text ([`Cs::src`]).
    Logical,
    /// Lay out the redacted text: the n-th character read prints as `[n]` (the redacted
    /// logical lines' characters at its places). A character that has no entry is not
    /// printed, and the layout is refused ([`Writer::unread`]) unless it is a space.
    Redacted(&'a [Option<String>]),
}

/// Lays out a document: paragraphs of inline text collect in `para` and are wrapped into
/// `out` when a block ends. (No `Debug`: it holds slip text.)
struct Writer<'a> {
    layout: &'a Layout,
    labels: &'a [String],
    pass: Pass<'a>,
    /// Columns a paragraph is wrapped to: the paper's, or (logical lines) as many as it
    /// takes.
    columns: usize,
    /// Characters of the document's text read so far (the walk's, across table cells).
    read: usize,
    /// A character redaction did not see was met ([`Pass::Redacted`]).
    unread: bool,
    out: Vec<Row>,
    para: Para,
    /// A collapsible space is due before the next character (not at a line's start).
    space: Option<Style>,
    align: Align,
    /// Left margin of list items, in columns.
    indent: usize,
    /// A list marker (`- `, `3. `) for the first line of the next paragraph.
    marker: Option<String>,
    /// Inside `<pre>` (or plain text): spaces and line feeds as they are.
    pre: usize,
    /// Collecting a table cell: paragraphs are kept unwrapped, to be fitted to the
    /// column's width once every cell's natural width is known.
    cell: Option<Vec<Para>>,
    /// Elements open around the one being laid out.
    depth: usize,
    /// An element lay deeper than [`MAX_DEPTH`]: the layout is refused.
    too_deep: bool,
    /// The annotated element ([`exact::ATTR`]) the walk is in: an index of `anns`.
    ann: Option<usize>,
    /// The kind of each annotated element met so far, in the order they were met (an
    /// element of an unknown kind is not one).
    anns: Vec<Annot>,
    /// For each place of the text read so far ([`Cs::src`]), 1 + the index in `anns` of the
    /// annotated element it is in, or 0 (in [`Pass::Logical`] only).
    place_ann: Vec<u32>,
    /// Elements met with an annotation of an unknown kind (read as unannotated).
    unknown: u64,
}

impl<'a> Writer<'a> {
    fn new(layout: &'a Layout, labels: &'a [String], pass: Pass<'a>) -> Self {
        let columns = match pass {
            Pass::Logical => LOGICAL_COLUMNS,
            _ => layout.columns,
        };
        Writer {
            layout,
            labels,
            pass,
            columns,
            read: 0,
            unread: false,
            out: Vec::new(),
            para: Vec::new(),
            space: None,
            align: Align::Left,
            indent: 0,
            marker: None,
            pre: 0,
            cell: None,
            depth: 0,
            too_deep: false,
            ann: None,
            anns: Vec::new(),
            place_ann: Vec::new(),
            unknown: 0,
        }
    }

    /// A writer for a table cell's content, reading on where this one is (it takes the
    /// annotations read so far: [`Writer::end_cell`] gives them back).
    fn cell_writer(&mut self) -> Writer<'a> {
        let mut sub = Writer::new(self.layout, self.labels, self.pass);
        sub.cell = Some(Vec::new());
        sub.depth = self.depth;
        sub.read = self.read;
        sub.ann = self.ann;
        sub.anns = std::mem::take(&mut self.anns);
        sub.place_ann = std::mem::take(&mut self.place_ann);
        sub.unknown = self.unknown;
        sub
    }

    /// Read on after a cell that `sub` wrote: its paragraphs.
    fn end_cell(&mut self, mut sub: Writer<'a>) -> Vec<Para> {
        sub.flush();
        self.too_deep |= sub.too_deep;
        self.unread |= sub.unread;
        self.read = sub.read;
        self.anns = std::mem::take(&mut sub.anns);
        self.place_ann = std::mem::take(&mut sub.place_ann);
        self.unknown = sub.unknown;
        sub.cell.take().unwrap_or_default()
    }

    fn finish(mut self) -> Vec<Row> {
        self.flush();
        // No blank lines at the start or the end: the cut comes right after the text.
        let first = self.out.iter().position(|l| !l.text().trim().is_empty());
        let last = self.out.iter().rposition(|l| !l.text().trim().is_empty());
        match (first, last) {
            (Some(a), Some(b)) => self.out[a..=b].to_vec(),
            _ => Vec::new(),
        }
    }

    fn children(&mut self, node: NodeRef<'_, Node>, style: Style) {
        for c in node.children() {
            self.node(c, style);
        }
    }

    fn node(&mut self, node: NodeRef<'_, Node>, style: Style) {
        match node.value() {
            Node::Text(t) => self.text(&crate::core::text::normalise(t), style),
            Node::Element(e) => self.element(node, e, style),
            Node::Document | Node::Fragment => self.children(node, style),
            _ => {}
        }
    }

    fn element(&mut self, node: NodeRef<'_, Node>, e: &Element, style: Style) {
        if self.depth >= MAX_DEPTH || self.too_deep {
            self.too_deep = true;
            return;
        }
        self.depth += 1;
        let outer = self.ann;
        if let Some(v) = e.attr(exact::ATTR) {
            // Innermost wins, but nothing inside a dropped element prints.
            let dropped = outer.is_some_and(|i| self.anns[i] == Annot::Drop);
            if !dropped {
                match Annot::parse(v) {
                    Some(annot) => {
                        self.anns.push(annot);
                        self.ann = Some(self.anns.len() - 1);
                    }
                    // An unknown kind (`none`, a typo) counts as unannotated (DESIGN §4):
                    // the annotation around it, if any, still applies and detection runs on
                    // its text as on any other, so the attribute cannot un-mask anything.
                    // Counted, so that a site sees its template has a kind slipguard does
                    // not know.
                    None => self.unknown += 1,
                }
            }
        }
        self.element_within(node, e, style);
        self.ann = outer;
        self.depth -= 1;
    }

    fn element_within(&mut self, node: NodeRef<'_, Node>, e: &Element, style: Style) {
        let name = e.name();
        if DROPPED.contains(&name) || hidden(e) {
            return;
        }
        match name {
            "br" => self.line_break(),
            "hr" => {
                self.flush();
                // The paper's width, in logical lines too.
                let rule = "-".repeat(self.layout.columns);
                self.push_line(vec![(Cs::default(), rule)]);
            }
            "table" => {
                self.flush();
                self.table(node, style);
            }
            "ul" | "ol" => {
                self.flush();
                self.list(node, e, style);
            }
            "pre" => {
                self.flush();
                self.pre += 1;
                self.children(node, style);
                self.flush();
                self.pre -= 1;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let double = matches!(name, "h1" | "h2" | "h3");
                let s = Style {
                    bold: true,
                    double,
                    ..style
                };
                self.block(node, e, s);
            }
            "b" | "strong" => self.children(
                node,
                Style {
                    bold: true,
                    ..style
                },
            ),
            "u" | "ins" => self.children(
                node,
                Style {
                    underline: true,
                    ..style
                },
            ),
            "th" | "td" => self.block(node, e, style),
            n if BLOCKS.contains(&n) => self.block(node, e, style),
            _ => self.children(node, style),
        }
    }

    /// A block: its own lines, aligned as its `align` attribute or style says.
    fn block(&mut self, node: NodeRef<'_, Node>, e: &Element, style: Style) {
        self.flush();
        let saved = self.align;
        if let Some(a) = alignment(e) {
            self.align = a;
        }
        self.children(node, style);
        self.flush();
        self.align = saved;
    }

    fn text(&mut self, t: &str, style: Style) {
        if self.pre > 0 {
            for c in t.chars() {
                match c {
                    '\r' => {}
                    '\n' => {
                        self.flush_pre_line();
                    }
                    '\t' => {
                        let at = self.para.len();
                        let n = 8 - at % 8;
                        let cs = Cs { style, src: 0 };
                        self.para.extend(std::iter::repeat_n((' ', cs), n));
                    }
                    c => self.read_char(c, style),
                }
            }
            return;
        }
        for c in t.chars() {
            if c.is_ascii_whitespace() {
                if !self.para.is_empty() {
                    self.space.get_or_insert(style);
                }
            } else {
                if let Some(s) = self.space.take() {
                    self.para.push((' ', Cs { style: s, src: 0 }));
                }
                // A non-breaking space holds words together, and prints as a space.
                self.read_char(c, style);
            }
        }
    }

    /// The next character of the document's text, into the paragraph as the pass wants it.
    fn read_char(&mut self, c: char, style: Style) {
        self.read += 1;
        let n = self.read;
        let plain = Cs { style, src: 0 };
        match self.pass {
            Pass::Plain => self.para.push((c, plain)),
            Pass::Logical => {
                if let Some(i) = self.ann {
                    self.place_ann.resize(n + 1, 0);
                    self.place_ann[n] = i as u32 + 1;
                }
                let cs = Cs { style, src: n };
                // As the page prints it (what redaction reads is what prints), a control
                // character as a space; a non-breaking space stays one (it glues).
                if c.is_control() {
                    self.para.push((' ', cs));
                } else if c == '\u{A0}' || self.layout.prints(c) {
                    self.para.push((c, cs));
                } else {
                    let mut t = String::new();
                    crate::typeset::transliterate(c, |c| self.layout.prints(c), &mut t);
                    self.para.extend(t.chars().map(|c| (c, cs)));
                }
            }
            Pass::Redacted(text) => match text.get(n).and_then(Option::as_deref) {
                // Marked with its place, for a preview that shows what was masked.
                Some(r) => self
                    .para
                    .extend(r.chars().map(|c| (c, Cs { style, src: n }))),
                None if c.is_whitespace() => self.para.push((c, plain)),
                None => self.unread = true,
            },
        }
    }

    fn line_break(&mut self) {
        if self.para.is_empty() && self.cell.is_none() {
            self.push_line(Vec::new());
        } else {
            self.flush_pre_line();
        }
    }

    /// End the paragraph as a line (kept even when empty, as a `<br>` or a blank line of
    /// `<pre>` is).
    fn flush_pre_line(&mut self) {
        if self.para.is_empty() {
            match &mut self.cell {
                Some(paras) => paras.push(Vec::new()),
                None => self.push_line(Vec::new()),
            }
        } else {
            self.flush();
        }
    }

    /// End the paragraph: wrapped into lines (or kept whole, in a table cell).
    fn flush(&mut self) {
        self.space = None;
        if self.para.is_empty() {
            return;
        }
        let para = std::mem::take(&mut self.para);
        if let Some(paras) = &mut self.cell {
            paras.push(para);
            return;
        }
        let marker = self.marker.take().unwrap_or_default();
        let width = self.width();
        // A list's margin, at most half the paper; a marker wider than it pushes it out.
        let lead = self
            .indent
            .min(width.saturating_sub(MIN_TEXT))
            .max(marker.chars().count());
        let first = format!("{marker:>lead$}");
        let rest = " ".repeat(lead);
        let lines = wrap(
            &para,
            width.saturating_sub(lead).max(1),
            self.pre > 0,
            self.labels,
        );
        for (i, l) in lines.into_iter().enumerate() {
            let margin = if i == 0 { &first } else { &rest };
            let mut runs = Vec::new();
            if !margin.is_empty() {
                runs.push((Cs::default(), margin.clone()));
            }
            runs.extend(l);
            self.push_line(runs);
        }
    }

    fn push_line(&mut self, runs: Vec<(Cs, String)>) {
        // In a table cell a finished line (a rule, a nested table's row) is one more
        // paragraph of the cell.
        if let Some(paras) = &mut self.cell {
            paras.push(
                runs.iter()
                    .flat_map(|(s, t)| t.chars().map(move |c| (c, *s)))
                    .collect(),
            );
            return;
        }
        self.out.push(Row {
            align: self.align,
            runs,
        });
    }

    fn width(&self) -> usize {
        self.columns
    }

    fn list(&mut self, node: NodeRef<'_, Node>, e: &Element, style: Style) {
        let ordered = e.name() == "ol";
        let mut n: i64 = e
            .attr("start")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        let bullet = if self.layout.prints('•') {
            "• "
        } else {
            "- "
        };
        let saved = self.indent;
        for item in node.children() {
            let Node::Element(ie) = item.value() else {
                // Text directly inside a list prints as its own line.
                self.node(item, style);
                continue;
            };
            if ie.name() != "li" || hidden(ie) {
                self.node(item, style);
                continue;
            }
            self.flush();
            let marker = if ordered {
                format!("{n}. ")
            } else {
                bullet.to_string()
            };
            n += 1;
            self.indent = saved + marker.chars().count();
            self.marker = Some(marker);
            self.children(item, style);
            self.flush();
            // An item with nothing to print leaves no marker behind.
            self.marker = None;
        }
        self.indent = saved;
    }

    /// A table as columns: every cell laid out at its natural width first, then the
    /// columns fitted to the paper (the widest give way first) and each cell wrapped in its
    /// column. Numbers are right-aligned. When the columns cannot fit at four characters
    /// each, the cells print one under another instead.
    fn table(&mut self, table: NodeRef<'_, Node>, style: Style) {
        let mut rows: Vec<Vec<(Vec<Para>, bool)>> = Vec::new();
        for tr in rows_of(table) {
            let mut cells = Vec::new();
            for td in tr.children() {
                let Node::Element(e) = td.value() else {
                    continue;
                };
                if !matches!(e.name(), "td" | "th") || hidden(e) {
                    continue;
                }
                let s = Style {
                    bold: style.bold || e.name() == "th",
                    ..style
                };
                let mut sub = self.cell_writer();
                sub.children(td, s);
                let paras = self.end_cell(sub);
                let numeric = paras.len() == 1 && is_number(&paras[0]);
                // A nested table or list inside a cell lays out at the cell's width below.
                cells.push((paras, numeric));
            }
            if !cells.is_empty() {
                rows.push(cells);
            }
        }
        let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
        if ncols == 0 {
            return;
        }
        // A list's margin, at most what leaves MIN_TEXT columns (as for paragraphs).
        let indent = self.indent.min(self.width().saturating_sub(MIN_TEXT));
        let width = self.width() - indent;
        let natural: Vec<usize> = (0..ncols)
            .map(|i| {
                rows.iter()
                    .filter_map(|r| r.get(i))
                    .flat_map(|(p, _)| p.iter().map(|p| para_width(p)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let gap = if natural.iter().sum::<usize>() + 2 * (ncols - 1) <= width {
            2
        } else {
            1
        };
        let avail = width.saturating_sub(gap * (ncols - 1));
        // No column narrower than its longest word (up to MIN_TEXT), nor than 4.
        let mins: Vec<usize> = (0..ncols)
            .map(|i| {
                let longest = rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .flat_map(|(p, _)| p.iter())
                    .flat_map(|p| p.split(|(c, _)| *c == ' ').map(para_width))
                    .max()
                    .unwrap_or(0);
                natural[i].min(longest.clamp(4, MIN_TEXT))
            })
            .collect();
        let Some(widths) = fit(&natural, avail, &mins) else {
            // Too many columns for the paper: one cell under another.
            for row in rows {
                for (paras, _) in row {
                    for p in paras {
                        self.para = p;
                        self.flush();
                    }
                }
            }
            return;
        };
        let margin = " ".repeat(indent);
        for row in rows {
            // A row of one cell (a caption, a total spanning the table) takes the width (in
            // logical lines, as wide as its text: nothing pads it out to the whole line).
            let single = row.len() == 1;
            let single_width = match self.pass {
                Pass::Logical => row[0].0.iter().map(|p| para_width(p)).max().unwrap_or(0),
                _ => width,
            };
            let cells: Vec<Vec<Vec<(Cs, String)>>> = row
                .iter()
                .enumerate()
                .map(|(i, (paras, _))| {
                    let w = if single { single_width } else { widths[i] };
                    paras
                        .iter()
                        .flat_map(|p| {
                            if p.is_empty() {
                                vec![Vec::new()]
                            } else {
                                wrap(p, w.max(1), false, self.labels)
                            }
                        })
                        .collect()
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(0);
            for k in 0..height {
                let mut runs: Vec<(Cs, String)> = Vec::new();
                if !margin.is_empty() {
                    runs.push((Cs::default(), margin.clone()));
                }
                for (i, cell) in cells.iter().enumerate() {
                    let w = if single { single_width } else { widths[i] };
                    let line = cell.get(k).cloned().unwrap_or_default();
                    let used: usize = line
                        .iter()
                        .map(|(s, t)| t.chars().count() * if s.style.double { 2 } else { 1 })
                        .sum();
                    let pad = " ".repeat(w.saturating_sub(used));
                    let right = row[i].1;
                    if i > 0 {
                        runs.push((Cs::default(), " ".repeat(gap)));
                    }
                    if right {
                        runs.push((Cs::default(), pad));
                        runs.extend(line);
                    } else {
                        runs.extend(line);
                        runs.push((Cs::default(), pad));
                    }
                }
                trim_end(&mut runs);
                self.push_line(runs);
            }
        }
    }
}

/// The rows of a table, in order: its own `tr` elements, directly or in `thead`, `tbody`,
/// `tfoot` (not those of tables nested in its cells).
fn rows_of<'a>(table: NodeRef<'a, Node>) -> Vec<NodeRef<'a, Node>> {
    let mut rows = Vec::new();
    for c in table.children() {
        let Node::Element(e) = c.value() else {
            continue;
        };
        if hidden(e) {
            continue;
        }
        match e.name() {
            "tr" => rows.push(c),
            "thead" | "tbody" | "tfoot" => rows.extend(rows_of(c)),
            _ => {}
        }
    }
    rows
}

/// Column widths within `avail` columns: the natural widths when they fit; else each
/// column starts at its minimum and the room left is shared equally among the columns
/// that want more, up to their natural width. `None` when the minimums do not fit.
fn fit(natural: &[usize], avail: usize, mins: &[usize]) -> Option<Vec<usize>> {
    if natural.iter().sum::<usize>() <= avail {
        return Some(natural.to_vec());
    }
    let mut widths = mins.to_vec();
    let mut left = avail.checked_sub(widths.iter().sum())?;
    while left > 0 {
        let wanting: Vec<usize> = (0..widths.len())
            .filter(|&i| widths[i] < natural[i])
            .collect();
        if wanting.is_empty() {
            break;
        }
        let share = (left / wanting.len()).max(1);
        for i in wanting {
            let add = share.min(natural[i] - widths[i]).min(left);
            widths[i] += add;
            left -= add;
        }
    }
    Some(widths)
}

/// Columns a paragraph takes on one line.
fn para_width(p: &[(char, Cs)]) -> usize {
    p.iter()
        .map(|(_, s)| if s.style.double { 2 } else { 1 })
        .sum()
}

/// Does a cell hold only an amount or a count (`$4.25`, `-1.00`, `3`)?
fn is_number(p: &Para) -> bool {
    let t: String = p.iter().map(|(c, _)| *c).collect();
    let t = t.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    digits > 0
        && t.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+' | '$' | '€' | '£' | '(' | ')')
        })
}

/// Wrap a paragraph at word boundaries into lines of at most `width` columns.
/// `keep_spaces` (`<pre>`, plain text): runs of spaces stay as they are within a line (a
/// break still drops the spaces at it). A field label and the word after it stay on one
/// line ([`glued`]); when together they are wider than the line, a number after the label
/// goes to the next line and anything else is broken at the line's end. A word wider than
/// the line prints at normal size if it was double; if still wider, it is broken.
fn wrap(p: &Para, width: usize, keep_spaces: bool, labels: &[String]) -> Vec<Vec<(Cs, String)>> {
    let cols = |s: &Cs| if s.style.double { 2 } else { 1 };
    let glue = glued(p, labels);
    let mut p = p.clone();
    // (spaces before, word): a word runs over glued spaces.
    let mut tokens: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let s0 = i;
        while i < p.len() && p[i].0 == ' ' && !glue[i] {
            i += 1;
        }
        let w0 = i;
        while i < p.len() && (p[i].0 != ' ' || glue[i]) {
            i += 1;
        }
        let too_wide = p[w0..i].iter().map(|(_, s)| cols(s)).sum::<usize>() > width;
        // The word after the label: a number (a card) is found by its shape on a line of
        // its own; a name is not, and is better broken inside (redaction then reads its
        // start after the label and takes the rest as a wrapped name).
        let value_is_number = p[w0..i]
            .rsplit(|(c, _)| *c == ' ')
            .next()
            .is_some_and(|w| w.iter().any(|(c, _)| c.is_ascii_digit()));
        if too_wide && value_is_number && glue[w0..i].iter().any(|g| *g) {
            // Glued words that cannot share a line part at their spaces after all.
            let mut spaces = s0..w0;
            let mut k = w0;
            while k < i {
                let a = k;
                while k < i && p[k].0 != ' ' {
                    k += 1;
                }
                tokens.push((spaces, a..k));
                let sp = k;
                while k < i && p[k].0 == ' ' {
                    k += 1;
                }
                spaces = sp..k;
            }
            if !spaces.is_empty() {
                tokens.push((spaces, i..i));
            }
        } else {
            tokens.push((s0..w0, w0..i));
        }
    }
    for (_, word) in &tokens {
        if p[word.clone()].iter().map(|(_, s)| cols(s)).sum::<usize>() > width {
            for c in &mut p[word.clone()] {
                c.1.style.double = false;
            }
        }
    }
    let mut lines: Vec<Para> = Vec::new();
    let mut line: Para = Vec::new();
    let mut used = 0usize;
    for (spaces, word) in tokens {
        let spaces = &p[spaces];
        let word = &p[word];
        let spaces_w: usize = spaces.iter().map(|(_, s)| cols(s)).sum();
        let word_w: usize = word.iter().map(|(_, s)| cols(s)).sum();
        let lead_ok = keep_spaces || !line.is_empty();
        if used + if lead_ok { spaces_w } else { 0 } + word_w <= width {
            if lead_ok {
                line.extend_from_slice(spaces);
                used += spaces_w;
            }
        } else if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        // A word wider than the line (or what is left of it) is broken only where it must:
        // after a `-`, `/` or `.`, or before an `@`, at the last such place that fits; a
        // number (a card, an item barcode) is never broken and may run past the column.
        let breaks = long_word_breaks(word, width - used.min(width), width, &cols);
        for (k, &(c, s)) in word.iter().enumerate() {
            if breaks.contains(&k) && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push((c, s));
            used += cols(&s);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|l| {
            let mut runs: Vec<(Cs, String)> = Vec::new();
            for (c, s) in l {
                let c = if c == '\u{A0}' { ' ' } else { c };
                match runs.last_mut() {
                    Some((ls, t)) if *ls == s => t.push(c),
                    _ => runs.push((s, c.to_string())),
                }
            }
            trim_end(&mut runs);
            runs
        })
        .collect()
}

/// Where to break `word`, which has `first` columns left on its first line and `width` on
/// each after: the indices of the characters that start a new line. Only where the word is
/// wider than the room it has; at the last `-`, `/`, `.` (after it) or `@` (before it) that
/// fits, else at the line's end. A number (digits, perhaps with separators) is not broken.
fn long_word_breaks(
    word: &[(char, Cs)],
    first: usize,
    width: usize,
    cols: &impl Fn(&Cs) -> usize,
) -> Vec<usize> {
    let total: usize = word.iter().map(|(_, s)| cols(s)).sum();
    let is_number = word.iter().any(|(c, _)| c.is_ascii_digit())
        && word
            .iter()
            .all(|(c, _)| c.is_ascii_digit() || matches!(c, '-' | '.' | '/' | ' ' | '(' | ')'));
    if total <= first || is_number || width == 0 {
        return Vec::new();
    }
    let mut breaks = Vec::new();
    let (mut start, mut room) = (0usize, first);
    while word[start..].iter().map(|(_, s)| cols(s)).sum::<usize>() > room {
        // The characters that fit on this line: start..end.
        let mut end = start;
        let mut used = 0;
        while end < word.len() && used + cols(&word[end].1) <= room {
            used += cols(&word[end].1);
            end += 1;
        }
        // The last place to break within them (a break before `start + 1` makes no
        // progress on a line of its own).
        let at = (start + 1..=end.min(word.len() - 1))
            .rev()
            .find(|&k| matches!(word[k - 1].0, '-' | '/' | '.') || word[k].0 == '@');
        let cut = match at {
            Some(k) => k,
            // Nothing fits on what is left of a line that has other words: start afresh.
            None if end == start => {
                if room == width {
                    start + 1
                } else {
                    start
                }
            }
            None => end,
        };
        if cut > 0 {
            breaks.push(cut);
        }
        start = cut;
        room = width;
    }
    breaks.retain(|&k| k > 0 && k < word.len());
    breaks.dedup();
    breaks
}

/// Which spaces of `p` must not break a line: those inside a field label, and those
/// between a label (with a `:`, `#` or `.` after it) and the word that follows.
fn glued(p: &Para, labels: &[String]) -> Vec<bool> {
    let chars: Vec<char> = p.iter().map(|(c, _)| *c).collect();
    let mut glue = vec![false; chars.len()];
    let is_space = |c: char| c == ' ' || c == '\u{A0}';
    for start in 0..chars.len() {
        if !chars[start].is_alphanumeric() || start > 0 && chars[start - 1].is_alphanumeric() {
            continue;
        }
        for label in labels {
            let mut k = start;
            let mut ok = true;
            for lc in label.chars() {
                let matches = chars.get(k).is_some_and(|&c| {
                    if lc == ' ' {
                        is_space(c)
                    } else {
                        c.to_lowercase().eq(lc.to_lowercase())
                    }
                });
                if !matches {
                    ok = false;
                    break;
                }
                k += 1;
            }
            if !ok || chars.get(k).is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            for g in &mut glue[start..k] {
                *g = true;
            }
            while chars.get(k).is_some_and(|&c| matches!(c, ':' | '#' | '.')) {
                k += 1;
            }
            let s = k;
            while chars.get(k).is_some_and(|&c| is_space(c)) {
                k += 1;
            }
            if k < chars.len() {
                for g in &mut glue[s..k] {
                    *g = true;
                }
            }
        }
    }
    glue
}

/// Drop trailing spaces (and runs left empty).
fn trim_end(runs: &mut Vec<(Cs, String)>) {
    while let Some((_, t)) = runs.last_mut() {
        let n = t.trim_end_matches(' ').len();
        t.truncate(n);
        if t.is_empty() {
            runs.pop();
        } else {
            break;
        }
    }
}

/// Is the element hidden from print: the `hidden` attribute, `display: none` or
/// `visibility: hidden` in its style, or a print-hiding class?
fn hidden(e: &Element) -> bool {
    if e.attr("hidden").is_some() {
        return true;
    }
    if let Some(style) = e.attr("style") {
        let s: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if s.contains("display:none") || s.contains("visibility:hidden") {
            return true;
        }
    }
    e.classes().any(|c| {
        PRINT_HIDDEN_CLASSES
            .iter()
            .any(|h| c.eq_ignore_ascii_case(h))
    })
}

/// A block's alignment from `align="center"`, `style="text-align: right"` or `<center>`.
fn alignment(e: &Element) -> Option<Align> {
    if e.name() == "center" {
        return Some(Align::Center);
    }
    let from = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
        "center" | "middle" => Some(Align::Center),
        "right" | "end" => Some(Align::Right),
        "left" | "start" | "justify" => Some(Align::Left),
        _ => None,
    };
    if let Some(style) = e.attr("style") {
        for decl in style.split(';') {
            if let Some((k, v)) = decl.split_once(':') {
                if k.trim().eq_ignore_ascii_case("text-align") {
                    if let Some(a) = from(v) {
                        return Some(a);
                    }
                }
            }
        }
    }
    e.attr("align").and_then(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text::codepage::Encoding;

    fn layout(columns: usize) -> Layout {
        Layout {
            columns,
            encoding: Encoding::by_name("cp858").unwrap(),
        }
    }

    fn labels() -> Vec<String> {
        crate::core::redact::Redactor::new(Default::default())
            .labels()
            .to_vec()
    }

    fn texts(html: &str, columns: usize) -> Vec<String> {
        html_lines(html, &layout(columns), &labels())
            .unwrap()
            .iter()
            .map(Line::text)
            .collect()
    }

    #[test]
    fn blocks_breaks_entities_and_hidden_parts() {
        let html = "<html><head><title>T</title><style>p{}</style><script>x()</script></head>\
            <body><p>Due&nbsp;date: <b>12/05</b></p><div>one<br>two</div>\
            <p hidden>secret</p><span style=\"display: none\">gone</span>\
            <div class=\"noprint\">button</div>caf&eacute; &amp; tea</body></html>";
        assert_eq!(
            texts(html, 42),
            vec!["Due date: 12/05", "one", "two", "café & tea"]
        );
    }

    #[test]
    fn words_wrap_to_the_columns_and_long_words_break() {
        let t = texts("<p>The quick brown fox jumps over the lazy dog</p>", 16);
        assert_eq!(t, vec!["The quick brown", "fox jumps over", "the lazy dog"]);
        let t = texts("<p>abcdefghijklmnopqrstuvwxyz</p>", 10);
        assert_eq!(t, vec!["abcdefghij", "klmnopqrst", "uvwxyz"]);
    }

    #[test]
    fn long_words_break_only_where_they_must_and_numbers_never() {
        // After a hyphen, not mid-word (`Claims-Never-Checked-O` / `ut`).
        let t = texts("<p>Claims-Never-Checked-Out</p>", 22);
        assert_eq!(t, vec!["Claims-Never-Checked-", "Out"]);
        // An e-mail address before its `@`, a path after a `/`.
        let t = texts("<p>j.morrison@example.org</p>", 12);
        assert_eq!(t, vec!["j.morrison", "@example.org"]);
        let t = texts("<p>catalogue/items/31472</p>", 16);
        assert_eq!(t, vec!["catalogue/items/", "31472"]);
        // A card or item number is never broken: it runs past a narrow column whole.
        let t = texts(
            "<table><tr><td>Item</td><td>31472188834505</td></tr></table>",
            16,
        );
        assert!(t.iter().any(|l| l.contains("31472188834505")), "{t:?}");
        // Without a place to break, a word still breaks at the line's end.
        let t = texts("<p>abcdefghijklmnop</p>", 10);
        assert_eq!(t, vec!["abcdefghij", "klmnop"]);
    }

    #[test]
    fn headings_are_bold_and_double_and_count_two_columns() {
        let lines =
            html_lines("<h3>Hold slip for you</h3><h4>Small</h4>", &layout(20), &[]).unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.width() <= 20));
        assert!(lines[0].runs[0].0.double && lines[0].runs[0].0.bold);
        assert_eq!(
            lines[2].runs[0].0,
            Style {
                bold: true,
                ..Style::default()
            }
        );
    }

    #[test]
    fn lists_tables_and_rules() {
        let t = texts(
            "<ul><li>first item</li><li>second</li></ul><ol start=\"3\"><li>three</li></ol>\
             <hr><table><tr><th>Title</th><th>Due</th><th>Fee</th></tr>\
             <tr><td>A long title of a book that wraps</td><td>12/05/2026</td><td>$4.25</td></tr></table>",
            32,
        );
        assert_eq!(t[0], "- first item");
        assert_eq!(t[1], "- second");
        assert_eq!(t[2], "3. three");
        assert_eq!(t[3], "-".repeat(32));
        assert!(t[4].starts_with("Title") && t[4].contains("Due"), "{t:?}");
        assert!(t.iter().all(|l| l.chars().count() <= 32), "{t:?}");
        // The amount is right-aligned in its column, on the row's first line.
        assert!(
            t[5].ends_with("12/05/2026  $4.25") || t[5].ends_with("12/05/2026 $4.25"),
            "{t:?}"
        );
        assert!(t.iter().any(|l| l.contains("wraps")), "{t:?}");
    }

    #[test]
    fn pre_keeps_spacing_and_malformed_html_keeps_its_text() {
        let t = texts("<pre>Name    Due\n\nBook    12/05</pre>", 42);
        assert_eq!(t, vec!["Name    Due", "", "Book    12/05"]);
        let t = texts("<div><p>unclosed <b>bold <table><tr><td>cell", 42);
        assert_eq!(t, vec!["unclosed bold", "cell"]);
    }

    #[test]
    fn a_label_stays_with_its_value_and_numbers_stay_whole() {
        // At 42 columns the label's value joins it on the next line.
        let t = texts(
            "<p>Thank you for your visit today. Received with thanks from Maria-Jos&eacute; Castellanos</p>",
            42,
        );
        assert!(
            t.iter()
                .any(|l| l.starts_with("Received with thanks from Maria-José")),
            "{t:?}"
        );
        // Too long together for 32 columns: a name is broken at the line's end, after the label.
        let t = texts(
            "<p>Received with thanks from Maria-Jos&eacute; Castellanos</p>",
            32,
        );
        assert!(t[0].starts_with("Received with thanks from Mar"), "{t:?}");
        // A number after a label that cannot fit goes whole to the next line.
        let t = texts("<p>Library card number: 23390005077316</p>", 32);
        assert_eq!(t, vec!["Library card number:", "23390005077316"]);
        // In a narrow table column a 14-digit barcode is not broken.
        let t = texts(
            "<table><tr><td>12/05/2026</td><td>Lost item 33390008233476 replacement fee for a long title</td>\
             <td>Payment</td><td>$4.25</td><td>$0.00</td></tr></table>",
            42,
        );
        assert!(t.iter().any(|l| l.contains("33390008233476")), "{t:?}");
        assert!(t.iter().all(|l| l.chars().count() <= 42), "{t:?}");
    }

    #[test]
    fn a_document_nested_too_deep_is_refused_not_a_stack_overflow() {
        // Refused before parsing (which would take minutes for this megabyte).
        let deep = format!(
            "{}secret{}",
            "<div><b>".repeat(200_000),
            "</b></div>".repeat(10)
        );
        let e = html_lines(&deep, &layout(42), &[]).unwrap_err();
        assert!(e.contains("deeper than 256"), "{e}");
        // Nested tables count by their `table` elements.
        let t = "<table><tr><td>".repeat(300) + "x";
        assert!(html_lines(&t, &layout(42), &[]).is_err());
        // Closed elements, implicitly closed ones, void ones, comments and scripts do not.
        let ok = "<div>".repeat(100) + "fine" + &"</div>".repeat(100);
        let ok = ok + &"<p>x<li>y<td>z<br><!-- <div><div> -->".repeat(1000);
        let ok = ok + "<script>" + &"<div>".repeat(1000) + "</SCRIPT><div>end</div>";
        assert_eq!(nesting_bound(&ok), 100);
        assert!(html_lines(&ok, &layout(42), &[]).is_ok());
    }

    fn placed(text: &str, from: usize) -> Vec<(char, usize)> {
        text.chars()
            .enumerate()
            .map(|(i, c)| (c, if c == ' ' { 0 } else { from + i }))
            .collect()
    }

    #[test]
    fn redacted_characters_take_the_places_of_the_text() {
        // Shorter at the end of the line: the value's places keep what is left, the rest
        // are read and print nothing; the label stands where it stood.
        let orig = placed("Name: Okonkwo", 1);
        let mut text = vec![None; 20];
        map_line(&orig, &"Name: O.".chars().collect::<Vec<_>>(), &mut text);
        let at = |t: &[Option<String>], n: usize| t[n].clone().unwrap();
        assert_eq!(at(&text, 1), "N");
        assert_eq!(at(&text, 7), "O");
        assert_eq!(at(&text, 8), ".");
        assert!((9..=13).all(|n| at(&text, n).is_empty()));
        // Longer in the middle: the added characters go with the place before them.
        let orig = placed("ab cd", 1);
        let mut text = vec![None; 6];
        map_line(&orig, &"ab XYZd".chars().collect::<Vec<_>>(), &mut text);
        assert_eq!(at(&text, 4), "XYZ");
        assert_eq!(at(&text, 5), "d");
        // A non-breaking space the page wrote as a space stays non-breaking.
        let orig = vec![('a', 1), ('\u{A0}', 2), ('b', 3)];
        let mut text = vec![None; 4];
        map_line(&orig, &['a', ' ', 'b'], &mut text);
        assert_eq!(at(&text, 2), "\u{A0}");
    }

    #[test]
    fn a_character_redaction_did_not_see_fails_closed() {
        let doc = Doc::parse(Markup::Html, "<p>Due 12/05</p>").unwrap();
        let mut text = vec![None; 10];
        for (n, c) in "Due12/05".chars().enumerate() {
            text[n + 1] = Some(c.to_string());
        }
        let (rows, unread) = doc
            .lay_out(&layout(42), &[], Pass::Redacted(&text))
            .unwrap();
        assert!(!unread);
        assert_eq!(rows[0].text(), "Due 12/05");
        text[8] = None;
        let (_, unread) = doc
            .lay_out(&layout(42), &[], Pass::Redacted(&text))
            .unwrap();
        assert!(unread);
    }

    #[test]
    fn a_double_size_name_is_redacted_before_it_wraps() {
        let profile = crate::profiles::Profiles::builtin_only()
            .load("epson-tm-t88v")
            .unwrap();
        let r = crate::core::redact::Redactor::new(Default::default());
        let html = "<h3>Okonkwo-Adebayo, Marisolina</h3><p>Due 12/05/2026</p>\
            <table><tr><td>Borrower:</td><td>Okonkwo-Adebayo, Marisolina Quillfeather</td></tr>\
            <tr><td>Items checked out at the circulation desk today:</td><td>2</td></tr></table>";
        let (lines, report) = redacted_lines(Markup::Html, html, &profile, &r, u64::MAX).unwrap();
        let all: String = lines.iter().map(|l| l.text() + "\n").collect();
        for v in ["Okonkwo", "Adebayo", "Marisolina", "Quillfeather"] {
            assert!(!all.contains(v), "a patron value prints");
        }
        assert!(all.contains("Due 12/05/2026"));
        assert!(report.count(crate::core::redact::Kind::Name) >= 2);
        assert!(lines.iter().all(|l| l.width() <= 42));
        // The heading keeps its style.
        assert!(lines[0].runs.iter().all(|(s, _)| s.double && s.bold));
        // Too large for the limit: refused before redaction reads it.
        let e = redacted_lines(Markup::Html, html, &profile, &r, 10).unwrap_err();
        assert!(e.contains("max_segment_bytes"), "{e}");
    }
}

#[cfg(test)]
mod exact_tests {
    use super::*;
    use crate::core::redact::{Kind, Redactor};

    fn run(html: &str) -> Redacted {
        let profile = crate::profiles::Profiles::builtin_only()
            .load("epson-tm-t88v")
            .unwrap();
        let r = Redactor::new(Default::default());
        redact_slip(Markup::Html, html, &profile, &r, u64::MAX, true).unwrap()
    }

    fn text(r: &Redacted) -> String {
        r.lines.iter().map(|l| l.text() + "\n").collect()
    }

    #[test]
    fn an_annotated_bare_name_is_masked_here_and_wherever_it_stands_again() {
        let html = "<p>Maple Ridge Library</p>\
            <p>Thanks, <span data-slipguard=\"name\">Quillon</span>! Enjoy your books.</p>\
            <p>Happy reading, quillon!</p><p>The Left Hand of Darkness</p>";
        // The detectors alone miss it.
        let plain = run(&html.replace("data-slipguard", "data-x"));
        assert!(text(&plain).contains("Quillon"), "{}", text(&plain));
        let r = run(html);
        let t = text(&r);
        assert!(!t.to_lowercase().contains("quillon"), "{t}");
        assert!(t.contains("Thanks, Q.! Enjoy your books."), "{t}");
        assert!(t.contains("Happy reading, q.!"), "{t}");
        assert!(t.contains("The Left Hand of Darkness") && t.contains("Maple Ridge Library"));
        assert_eq!(r.exact.annotated, 1);
        assert_eq!(r.exact.elsewhere, 1);
        assert_eq!(r.report.count(Kind::Name), 2);
        let marks: Vec<_> = r.marks.iter().flatten().map(|m| (m.kind, m.why)).collect();
        assert!(marks.contains(&("name", Why::Annotation)), "{marks:?}");
        assert!(marks.contains(&("name", Why::Elsewhere)), "{marks:?}");
    }

    #[test]
    fn name_parts_side_by_side_are_one_name_under_the_hold_shelf_policy() {
        let r = run(
            "<p>Hold for: <span data-slipguard=\"name\">Okonkwo</span>, \
             <span data-slipguard=\"name\">Marisol</span></p><p>Pick up by 12/05/2026</p>",
        );
        let t = text(&r);
        assert!(t.contains("Hold for: OKON M"), "{t}");
        assert!(t.contains("Pick up by 12/05/2026"), "{t}");
        assert_eq!(r.exact.annotated, 1);
    }

    #[test]
    fn values_on_one_table_row_keep_to_their_cells() {
        let r = run(
            "<table><tr><td><span data-slipguard=\"name\">Okonkwo-Adebayo, Marisolina</span></td>\
             <td data-slipguard=\"card\">21234567890123</td><td>$4.25</td></tr></table>",
        );
        let t = text(&r);
        assert!(t.contains("O. M.") && t.contains("**********0123"), "{t}");
        assert!(t.contains("$4.25"), "{t}");
        assert!(!t.contains("Okonkwo") && !t.contains("2123456789"), "{t}");
    }

    #[test]
    fn an_unknown_kind_or_none_is_read_as_unannotated_and_counted_never_unmasked() {
        for kind in ["none", "nmae", "", "NONE "] {
            // Detection still runs on its text: the labelled card is masked as anywhere.
            let r = run(&format!(
                "<p>Checkout receipt</p><p data-slipguard=\"{kind}\">Card number: 21234567890123</p>\
                 <p>Due 12/05/2026</p>"
            ));
            let t = text(&r);
            assert!(!t.contains("2123456789"), "{kind}: {t}");
            assert!(
                t.contains("Checkout receipt")
                    && t.contains("Card number")
                    && t.contains("Due 12/05/2026"),
                "{t}"
            );
            assert_eq!(r.exact.unknown, 1, "{kind}");
            // Inside an annotated element it takes nothing away: the outer kind applies.
            let r = run(&format!(
                "<p data-slipguard=\"name\">Quillon <span data-slipguard=\"{kind}\">Okonkwo</span></p>"
            ));
            let t = text(&r);
            assert!(
                !t.contains("Quillon") && !t.contains("Okonkwo"),
                "{kind}: {t}"
            );
        }
    }

    #[test]
    fn the_innermost_annotation_wins_but_nothing_inside_a_drop_prints() {
        let r = run("<div data-slipguard=\"address\">12 Rosewood Court \
             <span data-slipguard=\"name\">Quillon</span></div>");
        let t = text(&r);
        assert!(t.contains("** ******** *****") && t.contains("Q."), "{t}");
        assert!(!t.contains("Rosewood") && !t.contains("Quillon"), "{t}");
        let r = run("<p>Note</p><div data-slipguard=\"drop\">secret <span data-slipguard=\"name\">Quillon</span> \
             <span data-slipguard=\"bogus\">x</span></div><p>End</p>");
        let t = text(&r);
        assert_eq!(t, "Note\nEnd\n");
        assert_eq!(
            r.exact.unknown, 0,
            "inside a drop nothing is read as an annotation"
        );
    }
}
