//! `slipguard template annotate`: marks the patron placeholders of a Koha or Evergreen slip
//! template, so that every slip printed from it carries exact annotations ([`crate::exact`]).
//!
//! Reads a template as the staff client stores it — HTML with Koha's `<<table.field>>`,
//! Template Toolkit `[% … %]` (Koha notices, Evergreen's server-side print templates) and
//! AngularJS `{{ … }}` / `ng-bind` (Evergreen's receipt templates) — and wraps each
//! placeholder that prints a patron field in `<span data-slipguard="KIND">…</span>`. The
//! field → kind table is data ([`fields.toml`](fields.toml)). Nothing else changes: the output
//! is the input with spans inserted, byte for byte (line ends, encoding, whitespace), so
//! removing them gives the input back; a placeholder already inside an element annotated
//! with a known kind is left alone, so running it again changes nothing.
//!
//! Where a placeholder stands decides what happens ([`Status`]):
//! * in the text of the page: wrapped. A directive is wrapped whole (`[% patron.firstname _
//!   ' ' _ patron.surname %]`: one span; of `custom` when it prints fields of several
//!   kinds), unless it opens or closes a block (`[% IF x; patron.email %]`): a span around
//!   it would end in another branch of the template, so it is reported instead. Whitespace
//!   a directive may remove (`[%- … -%]`) goes inside the span. An `ng-bind` element is
//!   wrapped whole when it is an inline one (`<span ng-bind="patron.email">`), reported when
//!   it is a block (`<td ng-bind=…>`: annotate it by hand with `data-slipguard`);
//! * in an attribute, a tag, a comment, `<title>` or `<textarea>`: left as it is: slipguard
//!   never prints those (reported as not printed);
//! * in `<script>` or `<style>`, or inside a Template Toolkit directive (an AngularJS
//!   placeholder in a TT string): reported, not wrapped: it cannot be wrapped safely there,
//!   and what it puts on the page would be printed unannotated;
//! * a placeholder that only tests a field (`[% IF patron.email %]`, `ng-if`, `ng-repeat`)
//!   prints nothing and is not reported; the variables loops and `SET` bind are followed
//!   (`[% FOR a IN patron.addresses %][% a.street1 %]`).
//!
//! Works on bytes (a template that is not UTF-8 passes through as it is); sans-IO.

mod expr;
mod fields;

use crate::exact::{Annot, ATTR};
use fields::{Fields, Res};
use std::collections::HashMap;

/// Which ILS's placeholders and field names to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Ils {
    /// Koha notices and slips: `<<borrowers.field>>` and Template Toolkit.
    Koha,
    /// Evergreen: AngularJS receipt templates and Template Toolkit print templates.
    Evergreen,
    /// Both (the field names of the two do not clash).
    Auto,
}

/// The syntax of a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `<<borrowers.firstname>>`
    Koha,
    /// `[% patron.firstname %]`
    TemplateToolkit,
    /// `{{patron.first_given_name}}`
    Angular,
    /// An element whose `ng-bind` (`ng-bind-html`, `ng-bind-template`) prints a field.
    NgBind,
}

/// What the annotator did with a placeholder, or why it did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Wrapped in a span of its kind (with `--check`: would be).
    Wrapped,
    /// Already in an element annotated with this kind.
    Annotated(Annot),
    /// Prints nothing slipguard reads (why): left as it is.
    NotPrinted(&'static str),
    /// Prints, but cannot be wrapped safely here (why): annotate it by hand.
    Unsafe(&'static str),
}

/// A patron placeholder of the template. Holds template text only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// Bytes of the input.
    pub start: usize,
    pub end: usize,
    /// 1-based, the column in characters.
    pub line: usize,
    pub column: usize,
    pub syntax: Syntax,
    /// The kind of what it prints (`custom` when it prints fields of several kinds).
    pub kind: Annot,
    pub status: Status,
}

/// An element whose `data-slipguard` names no known kind: slips print nothing of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKind {
    pub start: usize,
    pub line: usize,
    pub column: usize,
    /// The attribute's value as the template has it.
    pub value: String,
}

/// The result of [`annotate`].
#[derive(Clone, Debug, Default)]
pub struct Annotated {
    /// The input with the spans inserted.
    pub output: Vec<u8>,
    /// What was inserted, where (a byte offset of the input), in order.
    pub inserts: Vec<(usize, String)>,
    pub placeholders: Vec<Placeholder>,
    pub unknown: Vec<UnknownKind>,
}

impl Annotated {
    /// Whether a slip printed from the input would carry a patron value without an
    /// annotation (a placeholder not annotated, wrappable or not), or an element of an
    /// unknown kind (`--check` fails).
    pub fn needs_work(&self) -> bool {
        !self.unknown.is_empty()
            || self
                .placeholders
                .iter()
                .any(|p| matches!(p.status, Status::Wrapped | Status::Unsafe(_)))
    }
}

/// Elements printed inline, which a span may wrap whole.
const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
    "tt", "u", "var",
];

/// Elements whose content is text to the end tag (no tags inside).
const RAW: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

/// Void elements: no content, no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Where a placeholder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Text,
    /// In an attribute's value, or elsewhere inside a tag.
    Tag,
    Comment,
    /// In a raw-text element (an index of [`RAW`]).
    Raw(usize),
    /// Inside a Template Toolkit directive.
    InDirective,
}

/// A tag of the template.
struct Tag {
    start: usize,
    end: usize,
    close: bool,
    name: String,
    /// `data-slipguard`: its kind, or `None` for an unknown one.
    annot: Option<Option<Annot>>,
}

/// A placeholder found, before its status is decided.
struct Found {
    start: usize,
    end: usize,
    syntax: Syntax,
    kind: Annot,
    ctx: Ctx,
    balanced: bool,
    chomp: (bool, bool),
    /// Tags before it.
    tags_before: usize,
    /// For an `ng-bind` element: its start tag (an index of the tags).
    element: Option<usize>,
}

struct Scan<'a> {
    b: &'a [u8],
    /// No `%]` (`}}`) at or after this byte: a search from there finds none (so a template
    /// full of unclosed `[%` is read in linear time).
    no_tt_end: usize,
    no_ng_end: usize,
    ils: Ils,
    fields: &'static Fields,
    aliases: HashMap<String, Res>,
    tags: Vec<Tag>,
    found: Vec<Found>,
    unknown: Vec<(usize, String)>,
}

/// One kind for what prints fields of `kinds` (several: `custom`).
fn one_kind(kinds: &[Annot]) -> Option<Annot> {
    let first = *kinds.first()?;
    Some(if kinds.iter().all(|k| *k == first) {
        first
    } else {
        Annot::Custom
    })
}

fn find(b: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    memchr::memmem::find(b.get(from..)?, what).map(|p| from + p)
}

impl Scan<'_> {
    fn koha(&self) -> bool {
        self.ils != Ils::Evergreen
    }

    fn angular(&self) -> bool {
        self.ils != Ils::Koha
    }

    /// A placeholder starting at `i`, recorded (when it prints a patron field) as standing
    /// in `ctx`: its end, or `None` when none starts there.
    fn placeholder(&mut self, i: usize, ctx: Ctx) -> Option<usize> {
        let b = self.b;
        let rest = &b[i..];
        if rest.starts_with(b"[%") {
            if i + 2 >= self.no_tt_end {
                return None;
            }
            let Some(close) = find(b, i + 2, b"%]") else {
                self.no_tt_end = i + 2;
                return None;
            };
            let inner = String::from_utf8_lossy(&b[i + 2..close]);
            let d = expr::directive(&inner, self.fields, &mut self.aliases);
            if let Some(kind) = one_kind(&d.outputs) {
                self.push(i, close + 2, Syntax::TemplateToolkit, kind, ctx, d.balanced);
                let last = self.found.len() - 1;
                self.found[last].chomp = (d.chomp_before, d.chomp_after);
            }
            // AngularJS and Koha placeholders inside it (in its strings).
            let mut k = i + 2;
            while k < close {
                match self.inner_placeholder(k, close) {
                    Some(e) => k = e,
                    None => k += 1,
                }
            }
            return Some(close + 2);
        }
        if self.angular() && rest.starts_with(b"{{") {
            if i + 2 >= self.no_ng_end {
                return None;
            }
            let Some(close) = find(b, i + 2, b"}}") else {
                self.no_ng_end = i + 2;
                return None;
            };
            let inner = String::from_utf8_lossy(&b[i + 2..close]);
            let kinds = expr::angular(&inner, self.fields, &self.aliases);
            if let Some(kind) = one_kind(&kinds) {
                self.push(i, close + 2, Syntax::Angular, kind, ctx, true);
            }
            return Some(close + 2);
        }
        if self.koha() && rest.starts_with(b"<<") {
            let (end, kind) = self.koha_field(i)?;
            if let Some(kind) = kind {
                self.push(i, end, Syntax::Koha, kind, ctx, true);
            }
            return Some(end);
        }
        None
    }

    /// An AngularJS or Koha placeholder at `k`, inside a directive that ends at `close`.
    fn inner_placeholder(&mut self, k: usize, close: usize) -> Option<usize> {
        let b = self.b;
        if self.angular() && b[k..close].starts_with(b"{{") {
            let e = find(&b[..close], k + 2, b"}}")?;
            let inner = String::from_utf8_lossy(&b[k + 2..e]);
            if let Some(kind) = one_kind(&expr::angular(&inner, self.fields, &self.aliases)) {
                self.push(k, e + 2, Syntax::Angular, kind, Ctx::InDirective, true);
            }
            return Some(e + 2);
        }
        if self.koha() && b[k..close].starts_with(b"<<") {
            let (e, kind) = self.koha_field(k).filter(|(e, _)| *e <= close)?;
            if let Some(kind) = kind {
                self.push(k, e, Syntax::Koha, kind, Ctx::InDirective, true);
            }
            return Some(e);
        }
        None
    }

    /// A Koha `<<table.field>>` (`<<table.field | dateonly>>`, `<<borrower-attribute:CODE>>`)
    /// at `i`: its end, and the kind of patron data it prints, if any.
    fn koha_field(&self, i: usize) -> Option<(usize, Option<Annot>)> {
        let b = self.b;
        let body = i + 2;
        if !b
            .get(body)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            return None;
        }
        let mut k = body;
        while k < b.len() && k - body <= 128 {
            match b[k] {
                b'>' => break,
                c if c.is_ascii_alphanumeric() || b"_.:- |".contains(&c) => k += 1,
                _ => return None,
            }
        }
        if !b[k..].starts_with(b">>") {
            return None;
        }
        let inner = std::str::from_utf8(&b[body..k]).ok()?;
        let field = inner.split('|').next().unwrap_or("").trim();
        let kind = if field.starts_with("borrower-attribute:") {
            Some(Annot::Custom)
        } else {
            field.split_once('.').and_then(|(table, f)| {
                self.fields.table(table)?;
                match self.fields.resolve(&[table, f], &HashMap::new()) {
                    Some(Res::Field(a)) => Some(a),
                    _ => None,
                }
            })
        };
        Some((k + 2, kind))
    }

    fn push(
        &mut self,
        start: usize,
        end: usize,
        syntax: Syntax,
        kind: Annot,
        ctx: Ctx,
        balanced: bool,
    ) {
        self.found.push(Found {
            start,
            end,
            syntax,
            kind,
            ctx,
            balanced,
            chomp: (false, false),
            tags_before: self.tags.len(),
            element: None,
        });
    }

    /// Placeholders from `i` to `end` in `ctx` (a comment's, a raw element's text).
    fn text_in(&mut self, mut i: usize, end: usize, ctx: Ctx) {
        while i < end {
            match self.placeholder(i, ctx) {
                Some(e) => i = e,
                None => i += 1,
            }
        }
    }

    fn run(&mut self) {
        let b = self.b;
        let mut i = 0;
        while i < b.len() {
            if let Some(e) = self.placeholder(i, Ctx::Text) {
                i = e;
                continue;
            }
            if b[i] != b'<' {
                i += 1;
                continue;
            }
            let next = b.get(i + 1).copied().unwrap_or(0);
            if b[i..].starts_with(b"<!--") {
                // `<!-->` and `<!--->` end at once, as browsers read them.
                let end = if b[i + 4..].starts_with(b">") {
                    i + 5
                } else if b[i + 4..].starts_with(b"->") {
                    i + 6
                } else {
                    find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3)
                };
                self.text_in(i + 4, end, Ctx::Comment);
                i = end;
            } else if next.is_ascii_alphabetic() {
                i = self.tag(i, false);
            } else if next == b'/' && b.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
                i = self.tag(i, true);
            } else if next == b'!' || next == b'?' || next == b'/' {
                // A bogus comment (`<!DOCTYPE …>`, `<?xml …?>`, `</ …>`), to the next `>`.
                let end = find(b, i + 2, b">").map_or(b.len(), |e| e + 1);
                self.text_in(i + 2, end, Ctx::Comment);
                i = end;
            } else {
                i += 1;
            }
        }
    }

    /// A tag at `i` (`<` then a letter): recorded, with its attributes read; a raw-text
    /// element's text after it too. Returns where reading goes on.
    fn tag(&mut self, i: usize, close: bool) -> usize {
        let b = self.b;
        let mut k = i + 1 + usize::from(close);
        let n0 = k;
        while k < b.len() && !b[k].is_ascii_whitespace() && !matches!(b[k], b'/' | b'>') {
            if b[k..].starts_with(b"[%") || b[k..].starts_with(b"{{") {
                break;
            }
            k += 1;
        }
        let name = String::from_utf8_lossy(&b[n0..k]).to_ascii_lowercase();
        let mut annot = None;
        let mut bind: Vec<Annot> = Vec::new();
        // Attributes, to the `>` that ends the tag (placeholders are read whole).
        loop {
            while k < b.len() && (b[k].is_ascii_whitespace() || b[k] == b'/') {
                k += 1;
            }
            if k >= b.len() {
                break;
            }
            if b[k] == b'>' {
                k += 1;
                break;
            }
            if let Some(e) = self.placeholder(k, Ctx::Tag) {
                k = e;
                continue;
            }
            let a0 = k;
            while k < b.len()
                && !b[k].is_ascii_whitespace()
                && !matches!(b[k], b'/' | b'>' | b'=')
                && !b[k..].starts_with(b"[%")
                && !b[k..].starts_with(b"{{")
            {
                k += 1;
            }
            if k == a0 {
                // `=` with no name before it: part of nothing.
                k += 1;
                continue;
            }
            let attr = String::from_utf8_lossy(&b[a0..k]).to_ascii_lowercase();
            let mut j = k;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut value = None;
            if b.get(j) == Some(&b'=') {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let before = self.found.len();
                let (v0, v1, after) = match b.get(j) {
                    Some(&q) if q == b'"' || q == b'\'' => {
                        let mut e = j + 1;
                        while e < b.len() && b[e] != q {
                            match self.placeholder(e, Ctx::Tag) {
                                Some(x) => e = x,
                                None => e += 1,
                            }
                        }
                        (j + 1, e.min(b.len()), (e + 1).min(b.len()))
                    }
                    _ => {
                        let mut e = j;
                        while e < b.len() && !b[e].is_ascii_whitespace() && b[e] != b'>' {
                            match self.placeholder(e, Ctx::Tag) {
                                Some(x) => e = x,
                                None => e += 1,
                            }
                        }
                        (j, e, e)
                    }
                };
                let v = String::from_utf8_lossy(&b[v0..v1.max(v0)]).into_owned();
                if !close && self.angular() {
                    let ng = attr
                        .trim_start_matches("data-")
                        .trim_start_matches("x-")
                        .replace([':', '_'], "-");
                    match ng.as_str() {
                        "ng-bind" | "ng-bind-html" => {
                            bind.extend(expr::angular(&v, self.fields, &self.aliases));
                        }
                        "ng-bind-template" => {
                            // Its `{{…}}` print as the element's text: not an attribute's.
                            for f in self.found.drain(before..) {
                                bind.push(f.kind);
                            }
                        }
                        "ng-repeat" => expr::ng_repeat(&v, self.fields, &mut self.aliases),
                        "ng-init" => expr::ng_init(&v, self.fields, &mut self.aliases),
                        _ => {}
                    }
                }
                value = Some(v);
                k = after;
            }
            if attr == ATTR && !close && annot.is_none() {
                let v = value.unwrap_or_default();
                let parsed = Annot::parse(&v);
                if parsed.is_none() {
                    self.unknown.push((i, v));
                }
                annot = Some(parsed);
            }
        }
        let end = k;
        self.tags.push(Tag {
            start: i,
            end,
            close,
            name: name.clone(),
            annot,
        });
        if let Some(kind) = one_kind(&bind) {
            let void = VOID.contains(&name.as_str()) || RAW.contains(&name.as_str());
            self.found.push(Found {
                start: i,
                end,
                syntax: Syntax::NgBind,
                kind,
                ctx: if void { Ctx::Tag } else { Ctx::Text },
                balanced: true,
                chomp: (false, false),
                tags_before: self.tags.len() - 1,
                element: Some(self.tags.len() - 1),
            });
        }
        if close {
            return end;
        }
        if name == "plaintext" {
            // Text to the end of the page.
            let r = RAW.len() - 1;
            self.text_in(end, b.len(), Ctx::Raw(r));
            return b.len();
        }
        if let Some(r) = RAW.iter().position(|r| *r == name) {
            // To `</name` (any case) followed by a blank, `/` or `>`.
            let mut e = end;
            let stop = loop {
                match find(b, e, b"</") {
                    None => break b.len(),
                    Some(p) => {
                        let n = &b[p + 2..];
                        if n.len() >= name.len()
                            && n[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                            && n.get(name.len())
                                .is_none_or(|c| c.is_ascii_whitespace() || *c == b'/' || *c == b'>')
                        {
                            break p;
                        }
                        e = p + 2;
                    }
                }
            };
            self.text_in(end, stop, Ctx::Raw(r));
            return stop;
        }
        end
    }

    /// The end tag that closes the start tag `t` (same name, nesting counted).
    fn matching_end(&self, t: usize) -> Option<usize> {
        let name = &self.tags[t].name;
        let mut depth = 0usize;
        for (j, tag) in self.tags.iter().enumerate().skip(t + 1) {
            if tag.name != *name {
                continue;
            }
            if tag.close {
                if depth == 0 {
                    return Some(j);
                }
                depth -= 1;
            } else {
                depth += 1;
            }
        }
        None
    }

    /// Whether only blanks stand between bytes `a` and `b`.
    fn blank(&self, a: usize, b: usize) -> bool {
        a >= b || self.b[a..b].iter().all(u8::is_ascii_whitespace)
    }

    /// The kind of the annotated element that wraps text standing between tags `t - 1` and
    /// `t` directly: the tag before is a start tag with a known `data-slipguard`, the one
    /// after its end tag.
    fn wrapped_by(&self, t: usize) -> Option<Annot> {
        let before = self.tags.get(t.checked_sub(1)?)?;
        let after = self.tags.get(t)?;
        match before.annot {
            Some(Some(k)) if !before.close && after.close && after.name == before.name => Some(k),
            _ => None,
        }
    }

    fn status(&self, f: &Found) -> Status {
        match f.ctx {
            Ctx::Tag => return Status::NotPrinted("in a tag or an attribute: slipguard never prints those"),
            Ctx::Comment => return Status::NotPrinted("in an HTML comment"),
            Ctx::Raw(r) => {
                return match RAW[r] {
                    "script" => Status::Unsafe(
                        "inside <script>: cannot be wrapped; what the script writes into the page prints unannotated",
                    ),
                    "style" => Status::Unsafe(
                        "inside <style>: cannot be wrapped; CSS generated content prints unannotated",
                    ),
                    "plaintext" => Status::Unsafe("inside <plaintext>: cannot be wrapped"),
                    _ => Status::NotPrinted("inside an element slipguard never prints (<title>, <textarea>, …)"),
                }
            }
            Ctx::InDirective => {
                return Status::Unsafe(
                    "inside a Template Toolkit directive: cannot be wrapped there; annotate the template the directive renders to",
                )
            }
            Ctx::Text => {}
        }
        if let Some(t) = f.element {
            let tag = &self.tags[t];
            if let Some(Some(k)) = tag.annot {
                return Status::Annotated(k);
            }
            let Some(end) = self.matching_end(t) else {
                return Status::Unsafe(
                    "an ng-bind element without an end tag: annotate it by hand",
                );
            };
            if let (Some(before), Some(after)) = (t.checked_sub(1), self.tags.get(end + 1)) {
                let (b, a) = (&self.tags[before], after);
                if let Some(Some(k)) = b.annot {
                    if !b.close
                        && a.close
                        && a.name == b.name
                        && self.blank(b.end, tag.start)
                        && self.blank(self.tags[end].end, a.start)
                    {
                        return Status::Annotated(k);
                    }
                }
            }
            if !INLINE.contains(&tag.name.as_str()) {
                return Status::Unsafe(
                    "ng-bind on a block element: a span cannot wrap it; add data-slipguard=\"KIND\" to the element by hand",
                );
            }
            return Status::Wrapped;
        }
        if let Some(k) = self.wrapped_by(f.tags_before) {
            return Status::Annotated(k);
        }
        if !f.balanced {
            return Status::Unsafe(
                "the directive opens or closes a block ([% IF … %] with output): a span around it would end in another branch; wrap its output by hand",
            );
        }
        Status::Wrapped
    }
}

/// Where each line of `b` starts.
fn line_starts(b: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', b).map(|p| p + 1))
        .collect()
}

/// 1-based line and column (in characters) of byte `at`.
fn line_col(b: &[u8], starts: &[usize], at: usize) -> (usize, usize) {
    let line = starts.partition_point(|&s| s <= at);
    let s = starts[line - 1];
    let col = b[s..at].iter().filter(|&&c| c & 0xC0 != 0x80).count() + 1;
    (line, col)
}

/// The opening tag of the span for `kind`.
pub fn span_open(kind: Annot) -> String {
    format!("<span {ATTR}=\"{}\">", kind.label())
}

/// The span's end tag.
pub const SPAN_CLOSE: &str = "</span>";

/// Annotate a template (see the module's documentation).
pub fn annotate(input: &[u8], ils: Ils) -> Annotated {
    let mut s = Scan {
        b: input,
        no_tt_end: usize::MAX,
        no_ng_end: usize::MAX,
        ils,
        fields: Fields::get(ils),
        aliases: HashMap::new(),
        tags: Vec::new(),
        found: Vec::new(),
        unknown: Vec::new(),
    };
    s.run();
    s.found.sort_by_key(|f| f.start);
    let starts = line_starts(input);
    let mut placeholders = Vec::with_capacity(s.found.len());
    // (position, closes first, order, text)
    let mut inserts: Vec<(usize, u8, usize, String)> = Vec::new();
    let mut floor = 0; // no span starts before an earlier one's end
    for f in &s.found {
        let status = s.status(f);
        if status == Status::Wrapped {
            let (mut a, mut e) = (f.start, f.end);
            if let Some(t) = f.element {
                let end = s.matching_end(t).expect("a wrapped element has an end tag");
                e = s.tags[end].end;
            } else {
                // Whitespace a directive may remove goes inside the span.
                if f.chomp.0 {
                    while a > floor && input[a - 1].is_ascii_whitespace() {
                        a -= 1;
                    }
                }
                if f.chomp.1 {
                    while e < input.len() && input[e].is_ascii_whitespace() {
                        e += 1;
                    }
                }
            }
            let a = a.max(floor);
            let n = inserts.len();
            inserts.push((a, 1, n, span_open(f.kind)));
            inserts.push((e, 0, n, SPAN_CLOSE.to_string()));
            if f.element.is_none() {
                floor = e;
            }
        }
        let (line, column) = line_col(input, &starts, f.start);
        placeholders.push(Placeholder {
            start: f.start,
            end: f.end,
            line,
            column,
            syntax: f.syntax,
            kind: f.kind,
            status,
        });
    }
    // In order; at one place a span that ends before one that starts; spans that start
    // together in the order they were found (an element's before what it holds).
    inserts.sort_by_key(|x| (x.0, x.1, if x.1 == 0 { usize::MAX - x.2 } else { x.2 }));
    let mut output = Vec::with_capacity(input.len() + inserts.len() * 32);
    let mut at = 0;
    for (pos, _, _, text) in &inserts {
        output.extend_from_slice(&input[at..*pos]);
        output.extend_from_slice(text.as_bytes());
        at = *pos;
    }
    output.extend_from_slice(&input[at..]);
    let unknown = s
        .unknown
        .iter()
        .map(|(at, v)| {
            let (line, column) = line_col(input, &starts, *at);
            UnknownKind {
                start: *at,
                line,
                column,
                value: v.clone(),
            }
        })
        .collect();
    Annotated {
        output,
        inserts: inserts.into_iter().map(|(p, _, _, t)| (p, t)).collect(),
        placeholders,
        unknown,
    }
}

impl Syntax {
    pub fn label(self) -> &'static str {
        match self {
            Syntax::Koha => "Koha placeholder",
            Syntax::TemplateToolkit => "Template Toolkit directive",
            Syntax::Angular => "AngularJS expression",
            Syntax::NgBind => "ng-bind element",
        }
    }
}

/// The report of an annotation, one line per placeholder and unknown kind, each starting
/// `NAME:LINE:COLUMN: ` (`name`: the file's), and a summary line. `check`: worded for
/// `--check` (what is not annotated yet) rather than for what was done. Template text only.
pub fn report(name: &str, input: &[u8], a: &Annotated, check: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let shown = |p: &Placeholder| {
        let t = String::from_utf8_lossy(&input[p.start..p.end]);
        let t: String = t
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if t.chars().count() > 60 {
            format!("{}…", t.chars().take(59).collect::<String>())
        } else {
            t
        }
    };
    let (mut wrapped, mut done, mut unsafe_, mut silent) = (0, 0, 0, 0);
    for p in &a.placeholders {
        let what = format!("{} `{}` ({})", p.syntax.label(), shown(p), p.kind.label());
        let line = match p.status {
            Status::Wrapped => {
                wrapped += 1;
                if check {
                    format!("{what} is not annotated")
                } else {
                    format!("{what} wrapped")
                }
            }
            Status::Annotated(k) => {
                done += 1;
                if k == p.kind {
                    continue;
                }
                format!("{what} is annotated as {}", k.label())
            }
            Status::NotPrinted(why) => {
                silent += 1;
                format!("{what} left as it is: {why}")
            }
            Status::Unsafe(why) => {
                unsafe_ += 1;
                format!("{what} is not annotated: {why}")
            }
        };
        let _ = writeln!(out, "{name}:{}:{}: {line}", p.line, p.column);
    }
    for u in &a.unknown {
        let v: String = u
            .value
            .chars()
            .take(40)
            .filter(|c| !c.is_control())
            .collect();
        let _ = writeln!(
            out,
            "{name}:{}:{}: {ATTR}=\"{v}\" is not a known kind (name, card, email, phone, \
             address, birthdate, custom, drop): slips print nothing of the element",
            u.line, u.column
        );
    }
    let _ = writeln!(
        out,
        "{name}: {} patron placeholder(s): {wrapped} {}, {done} already annotated, \
         {unsafe_} cannot be wrapped, {silent} not printed; {} unknown kind(s)",
        a.placeholders.len(),
        if check { "to annotate" } else { "wrapped" },
        a.unknown.len()
    );
    out
}

#[cfg(test)]
mod tests;
