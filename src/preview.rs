//! `slipguard preview`: what the printer would print, as plain text or as an HTML page.
//!
//! A [`Sink`] over the text model lays the job out in blocks (styled lines, symbols, cuts);
//! the two renderers turn blocks into text or HTML. An HTML or plain-text slip previewed
//! redacted as HTML ([`explained_slip`]) also shows what was masked and why: an annotation
//! of the slip's template, a value annotated elsewhere, a label, a shape, a site rule.
//! Only the masked forms are shown, never the values. No I/O here.

use crate::core::profile::Profile;
use crate::core::symbol;
use crate::core::text::{self, Align, CharSrc, Decoder, LineEnd, Sink, Style};
use crate::core::tokenize::{DataKind, Token};
use std::fmt::Write as _;

/// Output format of a preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Html,
}

/// One printed thing, top to bottom. (No `Debug`: lines hold slip text.)
enum Block {
    /// A line of text: runs of equally styled characters.
    Line {
        runs: Vec<(String, Style)>,
        align: Align,
        printed: bool,
    },
    /// A line fed with nothing on it.
    Blank,
    /// A barcode, 2-D code or image, shown as a marker.
    Marker(String),
    Cut {
        partial: bool,
    },
    /// The job stopped inside a command (or one exceeded the size cap): what follows is not
    /// known.
    Error(String),
}

struct Layout<'p> {
    profile: &'p Profile,
    blocks: Vec<Block>,
    runs: Vec<(String, Style)>,
    align: Align,
    printed: bool,
    /// The last 2-D code stored, printed by the next print command.
    stored: Option<(&'static str, Vec<u8>)>,
}

impl Sink for Layout<'_> {
    fn char(&mut self, c: char, _src: CharSrc, style: &Style) {
        if self.runs.is_empty() {
            self.align = style.align;
            self.printed = style.printed;
        }
        match self.runs.last_mut() {
            Some((s, st)) if st == style => s.push(c),
            _ => self.runs.push((c.to_string(), *style)),
        }
    }

    fn line_end(&mut self, _at: u64, end: LineEnd) {
        if self.runs.is_empty() {
            if matches!(end, LineEnd::LineFeed | LineEnd::Feed) {
                self.blocks.push(Block::Blank);
            }
            return;
        }
        self.blocks.push(Block::Line {
            runs: std::mem::take(&mut self.runs),
            align: self.align,
            printed: self.printed,
        });
    }

    fn symbol(&mut self, tok: &Token, kind: DataKind, bytes: &[u8], _style: &Style) {
        let dialect = self.profile.dialect;
        let marker = match kind {
            DataKind::Barcode => {
                symbol::barcode(dialect, tok, bytes).map(|(name, text)| format!("[{name} {text}]"))
            }
            DataKind::Code2dStore => {
                self.stored = symbol::code2d(dialect, tok, bytes);
                None
            }
            DataKind::Code2dPrint => Some(match &self.stored {
                Some((name, data)) => format!("[{name} {}]", String::from_utf8_lossy(data)),
                None => "[2-D code, nothing stored]".to_string(),
            }),
            DataKind::Image => Some(format!(
                "[image: {}, {} bytes]",
                tok.kind.name(),
                symbol::payload(tok, bytes).len()
            )),
            DataKind::Glyphs => None,
        };
        if let Some(m) = marker {
            self.blocks.push(Block::Marker(m));
        }
    }

    fn cut(&mut self, _tok: &Token, partial: bool) {
        self.blocks.push(Block::Cut { partial });
    }
}

/// Lay out a job as the printer would print it.
fn layout(profile: &Profile, job: &[u8]) -> Vec<Block> {
    let mut dec = Decoder::new(profile);
    let mut lay = Layout {
        profile,
        blocks: Vec::new(),
        runs: Vec::new(),
        align: Align::Left,
        printed: true,
        stored: None,
    };
    text::for_each_token(profile, job, |tok, bytes| {
        if tok.kind.is_error() {
            lay.line_end(tok.offset, LineEnd::EndOfJob);
            lay.blocks.push(Block::Error(format!(
                "[{} at byte {}: {}]",
                tok.kind.label(),
                tok.offset,
                tok.kind.name()
            )));
            return;
        }
        dec.token(&tok, bytes, &mut lay);
    });
    lay.line_end(job.len() as u64, LineEnd::EndOfJob);
    lay.blocks
}

/// Render a job as text or HTML.
pub fn render(profile: &Profile, job: &[u8], format: Format) -> String {
    let blocks = layout(profile, job);
    match format {
        Format::Text => render_text(profile, &blocks),
        Format::Html => render_html(profile, &blocks),
    }
}

fn render_text(profile: &Profile, blocks: &[Block]) -> String {
    let cols = profile.columns.font_a as usize;
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Line {
                runs,
                align,
                printed,
            } => {
                let text: String = runs.iter().map(|(s, _)| s.as_str()).collect();
                let width: usize = runs
                    .iter()
                    .map(|(s, st)| s.chars().count() * st.width.max(1) as usize)
                    .sum();
                let pad = cols.saturating_sub(width);
                let lead = match align {
                    Align::Left => 0,
                    Align::Center => pad / 2,
                    Align::Right => pad,
                };
                if !printed {
                    out.push_str("[display] ");
                }
                let _ = writeln!(out, "{}{}", " ".repeat(lead), text.trim_end());
            }
            Block::Blank => out.push('\n'),
            Block::Marker(m) => {
                let _ = writeln!(out, "{m}");
            }
            Block::Cut { partial } => {
                let label = if *partial { " partial cut " } else { " cut " };
                let side = cols.saturating_sub(label.len()) / 2;
                let _ = writeln!(out, "{}{}{}", "-".repeat(side), label, "-".repeat(side));
            }
            Block::Error(m) => {
                let _ = writeln!(out, "{m}");
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Masked characters of each printed line (by the line's number, counting blank lines),
/// for [`render_html`].
type LineMarks = [Vec<crate::html::Mark>];

fn render_html(profile: &Profile, blocks: &[Block]) -> String {
    render_html_marked(profile, blocks, &[], "")
}

/// The HTML page of `blocks`, the characters of `marks` highlighted with what masked them,
/// and `legend` (HTML) below the paper.
fn render_html_marked(
    profile: &Profile,
    blocks: &[Block],
    marks: &LineMarks,
    legend: &str,
) -> String {
    let cols = profile.columns.font_a;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>slipguard preview: {model}</title>
<style>
body {{ background: #d9d6cf; margin: 0; padding: 2rem; font-family: system-ui, sans-serif; }}
.meta {{ color: #555; font-size: 0.85rem; text-align: center; margin-bottom: 1rem; }}
.paper {{ background: #fffdf8; width: {cols}ch; margin: 0 auto; padding: 1.2rem 1.4rem;
  box-shadow: 0 2px 10px rgba(0,0,0,.25); font: 15px/1.35 "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
.line {{ white-space: pre; min-height: 1.35em; overflow: hidden; }}
.center {{ text-align: center; }} .right {{ text-align: right; }}
.b {{ font-weight: bold; }} .u {{ text-decoration: underline; }}
.r {{ background: #111; color: #fffdf8; }}
.big {{ display: inline-block; transform-origin: left bottom; }}
.display {{ color: #2a6f97; font-style: italic; }}
.marker {{ border: 1px dashed #999; color: #444; margin: .3rem 0; padding: .2rem .4rem; font-size: 0.85em; word-break: break-all; }}
.cut {{ border-top: 2px dashed #b33; color: #b33; text-align: center; font-size: .75em; margin: .6rem -1.4rem; }}
.error {{ background: #fde2e2; color: #900; padding: .2rem .4rem; }}
mark {{ color: inherit; border-radius: 2px; }}
mark.annotation {{ background: #b7e4c7; }} mark.elsewhere {{ background: #d8f3dc; outline: 1px dotted #2d6a4f; }}
mark.label {{ background: #ffe8a3; }} mark.shape {{ background: #ffd6a5; }}
mark.rule {{ background: #cde3ff; }} mark.printer {{ background: #e5d4ff; }}
.legend {{ width: {cols}ch; margin: 1rem auto; font-size: .85rem; color: #333; }}
.legend td {{ padding: 0 .6rem 0 0; }}
</style></head><body>
<div class="meta">{vendor} {model} · {dialect} · {cols} columns · {mm} mm paper</div>
<div class="paper">
"#,
        model = escape(&profile.model),
        vendor = escape(&profile.vendor),
        dialect = profile.dialect,
        mm = profile.paper.width_mm,
    );
    let mut line_no = 0;
    for b in blocks {
        let here = match b {
            Block::Line { .. } | Block::Blank => {
                line_no += 1;
                marks.get(line_no - 1).map_or(&[][..], Vec::as_slice)
            }
            _ => &[][..],
        };
        match b {
            Block::Line {
                runs,
                align,
                printed,
            } => {
                let mut class = String::from("line");
                match align {
                    Align::Center => class.push_str(" center"),
                    Align::Right => class.push_str(" right"),
                    Align::Left => {}
                }
                if !printed {
                    class.push_str(" display");
                }
                let _ = write!(out, r#"<div class="{class}">"#);
                let mut at = 0; // characters of the line written so far
                for (s, st) in runs {
                    let mut c = Vec::new();
                    if st.bold {
                        c.push("b");
                    }
                    if st.underline {
                        c.push("u");
                    }
                    if st.reverse {
                        c.push("r");
                    }
                    let mut style = String::new();
                    if st.width > 1 || st.height > 1 {
                        c.push("big");
                        let _ = write!(
                            style,
                            "font-size:{}em;transform:scaleX({:.3});margin-right:{}ch",
                            st.height,
                            f32::from(st.width) / f32::from(st.height),
                            (s.chars().count() as u32 * u32::from(st.width))
                                .saturating_sub(s.chars().count() as u32 * u32::from(st.height)),
                        );
                    }
                    let _ = write!(
                        out,
                        r#"<span class="{}" style="{}">{}</span>"#,
                        c.join(" "),
                        style,
                        marked(s, at, here)
                    );
                    at += s.chars().count();
                }
                out.push_str("</div>\n");
            }
            Block::Blank => out.push_str("<div class=\"line\"></div>\n"),
            Block::Marker(m) => {
                let _ = writeln!(out, r#"<div class="marker">{}</div>"#, escape(m));
            }
            Block::Cut { partial } => {
                let label = if *partial { "partial cut" } else { "cut" };
                let _ = writeln!(out, r#"<div class="cut">✂ {label}</div>"#);
            }
            Block::Error(m) => {
                let _ = writeln!(out, r#"<div class="error">{}</div>"#, escape(m));
            }
        }
    }
    out.push_str("</div>\n");
    out.push_str(legend);
    out.push_str("</body></html>\n");
    out
}

/// `s` (characters `at..` of its line) escaped, the parts `marks` cover in `<mark>`s whose
/// class and title say what masked them.
fn marked(s: &str, at: usize, marks: &[crate::html::Mark]) -> String {
    let chars: Vec<char> = s.chars().collect();
    let end = at + chars.len();
    let mut out = String::new();
    let mut i = at;
    for m in marks.iter().filter(|m| m.start < end && m.end > at) {
        let (a, b) = (m.start.max(at), m.end.min(end));
        if a > i {
            out.push_str(&escape(&chars[i - at..a - at].iter().collect::<String>()));
        }
        let a = a.max(i);
        if b > a {
            let _ = write!(
                out,
                r#"<mark class="{}" title="{}: {}">{}</mark>"#,
                m.why.class(),
                m.kind,
                m.why.label(),
                escape(&chars[a - at..b - at].iter().collect::<String>())
            );
            i = b;
        }
    }
    if i < end {
        out.push_str(&escape(&chars[i - at..].iter().collect::<String>()));
    }
    out
}

/// The redacted preview of an HTML or plain-text slip as an HTML page (`preview --redact
/// --from html|text --format html`): what the printer prints, as the daemon makes it (the
/// slip redacted before it is laid out, then the typeset job redacted again as printer
/// bytes), each masked value highlighted with its kind and what masked it, a table of the
/// counts below, and a note for each segment held back and for elements of an unknown
/// annotation kind. Only what prints is shown: masked forms, never the values.
pub fn explained_slip(
    markup: crate::html::Markup,
    slip: &[u8],
    profile: &Profile,
    redactor: &crate::core::redact::Redactor,
) -> Result<String, String> {
    use crate::html::{Mark, Why};
    let text = String::from_utf8_lossy(slip);
    let r = crate::html::redact_slip(markup, &text, profile, redactor, u64::MAX, true)
        .map_err(|e| format!("the slip was not printed: {e}"))?;
    let job = crate::typeset::render(&r.lines, profile)?;
    let (segments, _) = redactor.segments(profile, &job);
    let mut printed = Vec::new();
    let mut notes = Vec::new();
    for s in segments {
        match s.output {
            Ok(b) => printed.extend(b),
            Err(e) => notes.push(format!("[{e}]")),
        }
    }
    // The printer pass changes nothing on nearly every slip; where it changed a line, the
    // marks after the first change give way to one for what it changed.
    let texts = |job: &[u8]| -> Vec<Vec<char>> {
        layout(profile, job)
            .iter()
            .filter_map(|b| match b {
                Block::Line { runs, .. } => {
                    Some(runs.iter().flat_map(|(s, _)| s.chars()).collect())
                }
                Block::Blank => Some(Vec::new()),
                _ => None,
            })
            .collect()
    };
    let (before, after) = (texts(&job), texts(&printed));
    let mut marks: Vec<Vec<Mark>> = r.marks.clone();
    marks.resize(after.len(), Vec::new());
    for (k, line) in after.iter().enumerate() {
        let Some(old) = before.get(k) else {
            marks[k].clear();
            continue;
        };
        if old == line {
            continue;
        }
        let p = old.iter().zip(line).take_while(|(a, b)| a == b).count();
        let s = old[p..]
            .iter()
            .rev()
            .zip(line[p..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        marks[k].retain(|m| m.end <= p);
        if line.len() - s > p {
            marks[k].push(Mark {
                start: p,
                end: line.len() - s,
                kind: "value",
                why: Why::Printer,
            });
        }
    }
    // The counts, by kind and by what masked the values.
    let mut counts: std::collections::BTreeMap<(&str, Why), usize> = Default::default();
    for m in marks.iter().flatten() {
        *counts.entry((m.kind, m.why)).or_default() += 1;
    }
    let mut legend =
        String::from("<div class=\"legend\"><b>Masked</b> (hover a value to see why)<table>\n");
    if counts.is_empty() {
        legend.push_str("<tr><td>nothing</td></tr>\n");
    }
    for ((kind, why), n) in &counts {
        let _ = writeln!(
            legend,
            r#"<tr><td><mark class="{}">{kind}</mark></td><td>{}</td><td>{n}</td></tr>"#,
            why.class(),
            why.label()
        );
    }
    legend.push_str("</table>\n");
    if r.exact.unknown > 0 {
        let _ = writeln!(
            legend,
            "<p class=\"error\">{} element(s) marked <code>data-slipguard</code> with an unknown \
             kind were read as unannotated: only the detectors masked their text (known kinds: \
             name, card, email, phone, address, birthdate, custom, drop).</p>",
            r.exact.unknown
        );
    }
    for n in &notes {
        let _ = writeln!(legend, "<p class=\"error\">{}</p>", escape(n));
    }
    legend.push_str("</div>\n");
    Ok(render_html_marked(
        profile,
        &layout(profile, &printed),
        &marks,
        &legend,
    ))
}
