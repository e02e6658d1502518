//! What barcodes and 2-D codes carry: symbology names and the text a scanner would read.
//!
//! Used by preview now and by redaction later (a patron card number printed as a barcode is
//! patron data too).

use super::tokenize::{DataKind, Dialect, Token, TokenKind};

/// The payload bytes of a data token (`bytes` is the whole token).
pub fn payload<'a>(tok: &Token, bytes: &'a [u8]) -> &'a [u8] {
    match tok.kind {
        TokenKind::Data {
            payload_start,
            payload_len,
            ..
        } => {
            let s = (payload_start as usize).min(bytes.len());
            let e = (s as u64 + payload_len).min(bytes.len() as u64) as usize;
            &bytes[s..e]
        }
        _ => &[],
    }
}

/// A 1-D barcode's symbology and the text it encodes.
pub fn barcode(dialect: Dialect, tok: &Token, bytes: &[u8]) -> Option<(&'static str, String)> {
    if !matches!(
        tok.kind,
        TokenKind::Data {
            kind: DataKind::Barcode,
            ..
        }
    ) {
        return None;
    }
    let data = payload(tok, bytes);
    let name = match dialect {
        Dialect::EscPos => match *bytes.get(2)? {
            0 | 65 => "UPC-A",
            1 | 66 => "UPC-E",
            2 | 67 => "EAN13",
            3 | 68 => "EAN8",
            4 | 69 => "CODE39",
            5 | 70 => "ITF",
            6 | 71 => "CODABAR",
            72 => "CODE93",
            73 => "CODE128",
            74 => "GS1-128",
            75..=78 => "GS1 DataBar",
            79 => "CODE128",
            _ => "barcode",
        },
        Dialect::StarLine => match *bytes.get(2)? {
            0 | b'0' => "UPC-E",
            1 | b'1' => "UPC-A",
            2 | b'2' => "EAN8",
            3 | b'3' => "EAN13",
            4 | b'4' => "CODE39",
            5 | b'5' => "ITF",
            6 | b'6' => "CODE128",
            7 | b'7' => "CODE93",
            8 | b'8' => "CODABAR",
            _ => "barcode",
        },
    };
    let text = if dialect == Dialect::EscPos && matches!(bytes[2], 73 | 74) {
        code128_text(data)
    } else {
        data.iter().map(|&b| b as char).collect()
    };
    Some((name, text))
}

/// The text of Epson CODE128 data, which selects code sets with `{A`, `{B`, `{C` (in set C
/// each byte is two digits); `{1`–`{4` and `{S` are function and shift codes, `{{` is `{`.
pub fn code128_text(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2);
    let mut set_c = false;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b == b'{' && i + 1 < data.len() {
            match data[i + 1] {
                b'A' | b'B' => set_c = false,
                b'C' => set_c = true,
                b'{' => out.push('{'),
                _ => {}
            }
            i += 2;
            continue;
        }
        if set_c {
            if b < 100 {
                out.push(char::from(b'0' + b / 10));
                out.push(char::from(b'0' + b % 10));
            }
        } else {
            out.push(b as char);
        }
        i += 1;
    }
    out
}

/// The symbology of a 2-D code store or print command, and for a store its data.
pub fn code2d(dialect: Dialect, tok: &Token, bytes: &[u8]) -> Option<(&'static str, Vec<u8>)> {
    let TokenKind::Data { kind, .. } = tok.kind else {
        return None;
    };
    if !matches!(kind, DataKind::Code2dStore | DataKind::Code2dPrint) {
        return None;
    }
    let name = match dialect {
        Dialect::EscPos => match bytes.get(5) {
            Some(48) => "PDF417",
            Some(49) => "QR",
            Some(50) => "MaxiCode",
            Some(51) => "GS1 DataBar",
            Some(52) => "Composite",
            Some(53) => "Aztec",
            Some(54) => "DataMatrix",
            _ => "2-D code",
        },
        // ESC GS y … / ESC GS x …
        Dialect::StarLine => match bytes.get(2) {
            Some(b'y') => "QR",
            Some(b'x') => "PDF417",
            _ => "2-D code",
        },
    };
    let mut data = payload(tok, bytes).to_vec();
    let star_blocks = dialect == Dialect::StarLine
        && kind == DataKind::Code2dStore
        && bytes.get(2) == Some(&b'y')
        && matches!(bytes.get(4), Some(2 | b'2'));
    if star_blocks {
        // ESC GS y D 2 a [m nL nH data]…: join the blocks' data.
        data = star_qr_blocks(payload(tok, bytes));
    }
    Some((name, data))
}

fn star_qr_blocks(mut p: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while p.len() >= 3 {
        let n = usize::from(p[1]) | usize::from(p[2]) << 8;
        let body = &p[3..(3 + n).min(p.len())];
        out.extend_from_slice(body);
        p = &p[(3 + n).min(p.len())..];
    }
    out
}
