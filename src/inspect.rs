//! `slipguard inspect`: one line per token (offset, length, kind, name, decoded text).

use crate::core::profile::Profile;
use crate::core::symbol;
use crate::core::text::{self, CharSrc, Decoder, Sink, Style};
use crate::core::tokenize::{Token, TokenKind};
use std::fmt::Write as _;

/// Collects the characters one text token decodes to.
#[derive(Default)]
struct TokenText(String);

impl Sink for TokenText {
    fn char(&mut self, c: char, _src: CharSrc, _style: &Style) {
        self.0.push(c);
    }
}

fn hex(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().take(max).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > max {
        s.push_str(" …");
    }
    s
}

/// One line per token, as text (`json = false`) or as one JSON object per line.
pub fn render(profile: &Profile, job: &[u8], json: bool) -> String {
    let mut out = String::new();
    let mut dec = Decoder::new(profile);
    text::for_each_token(profile, job, |tok: Token, bytes: &[u8]| {
        let mut t = TokenText::default();
        dec.token(&tok, bytes, &mut t);
        let decoded = matches!(tok.kind, TokenKind::Text).then_some(t.0);
        if json {
            let mut obj = serde_json::Map::new();
            obj.insert("offset".into(), tok.offset.into());
            obj.insert("len".into(), tok.len.into());
            obj.insert("kind".into(), tok.kind.label().into());
            obj.insert("name".into(), tok.kind.name().into());
            match &decoded {
                Some(s) => {
                    obj.insert("text".into(), s.clone().into());
                }
                None => {
                    obj.insert("bytes".into(), hex(bytes, 64).into());
                }
            }
            if let TokenKind::Data {
                payload_start,
                payload_len,
                ..
            } = tok.kind
            {
                obj.insert("payload_start".into(), payload_start.into());
                obj.insert("payload_len".into(), payload_len.into());
            }
            if let Some((sym, text)) = symbol::barcode(profile.dialect, &tok, bytes) {
                obj.insert("symbology".into(), sym.into());
                obj.insert("data".into(), text.into());
            } else if let Some((sym, data)) = symbol::code2d(profile.dialect, &tok, bytes) {
                obj.insert("symbology".into(), sym.into());
                if !data.is_empty() {
                    obj.insert("data".into(), String::from_utf8_lossy(&data).into());
                }
            }
            out.push_str(&serde_json::Value::Object(obj).to_string());
            out.push('\n');
        } else {
            let detail = match &decoded {
                Some(s) => format!("{s:?}"),
                None => {
                    let mut d = hex(bytes, 16);
                    if let Some((sym, text)) = symbol::barcode(profile.dialect, &tok, bytes) {
                        let _ = write!(d, "  {sym} {text:?}");
                    } else if let Some((sym, data)) = symbol::code2d(profile.dialect, &tok, bytes) {
                        let _ = write!(d, "  {sym} {:?}", String::from_utf8_lossy(&data));
                    }
                    d
                }
            };
            let _ = writeln!(
                out,
                "{:>8} {:>6}  {:<9} {:<11} {}",
                tok.offset,
                tok.len,
                tok.kind.label(),
                tok.kind.name(),
                detail
            );
        }
    });
    out
}
