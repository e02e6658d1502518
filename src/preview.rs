//! `slipguard preview`: what the printer would print, as plain text or as an HTML page.
//!
//! A [`Sink`] over the text model lays the job out in blocks (styled lines, symbols, cuts);
//! the two renderers turn blocks into text or HTML. No I/O here.

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

fn render_html(profile: &Profile, blocks: &[Block]) -> String {
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
</style></head><body>
<div class="meta">{vendor} {model} · {dialect} · {cols} columns · {mm} mm paper</div>
<div class="paper">
"#,
        model = escape(&profile.model),
        vendor = escape(&profile.vendor),
        dialect = profile.dialect,
        mm = profile.paper.width_mm,
    );
    for b in blocks {
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
                        escape(s)
                    );
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
    out.push_str("</div>\n</body></html>\n");
    out
}
