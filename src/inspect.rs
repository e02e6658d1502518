//! `slipguard inspect`: one line per token (offset, length, kind, name, decoded text).

use crate::core::profile::Profile;
use crate::core::symbol;
use crate::core::text::{CharSrc, Decoder, Sink, Style};
use crate::core::tokenize::{Token, TokenKind, Tokenizer};
use std::fmt::Write as _;
use std::io::{self, Read};

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
    let mut out = Vec::new();
    write(profile, job, json, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("inspect writes UTF-8")
}

/// [`render`] for a job read from `input` in chunks, each token's line written to `out` as
/// the token ends: memory follows the longest token, not the job.
pub fn write(
    profile: &Profile,
    mut input: impl Read,
    json: bool,
    out: &mut impl io::Write,
) -> io::Result<()> {
    let mut dec = Decoder::new(profile);
    let mut t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
    // The bytes from the end of the last token emitted on.
    let mut held: Vec<u8> = Vec::new();
    let mut held_at = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = String::new();
    let mut failed: Option<io::Error> = None;
    let mut emit = |tok: Token, held: &[u8], held_at: u64| {
        if failed.is_some() {
            return;
        }
        line.clear();
        token_line(
            profile,
            &mut dec,
            &tok,
            &held[tok.range_in(held_at)],
            json,
            &mut line,
        );
        if let Err(e) = out.write_all(line.as_bytes()) {
            failed = Some(e);
        }
    };
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        held.extend_from_slice(&buf[..n]);
        let mut done = held_at;
        t.feed(&buf[..n], &mut |tok: Token| {
            emit(tok, &held, held_at);
            done = tok.offset + tok.len;
        });
        held.drain(..(done - held_at) as usize);
        held_at = done;
    }
    t.finish(&mut |tok: Token| emit(tok, &held, held_at));
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The line of one token (`bytes` are its bytes), appended to `out`.
fn token_line(
    profile: &Profile,
    dec: &mut Decoder,
    tok: &Token,
    bytes: &[u8],
    json: bool,
    out: &mut String,
) {
    let tok = *tok;
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
}
