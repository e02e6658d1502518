//! Table tests: every command of `ESCPOS.md` in both dialects — its length, kind and name —
//! plus unknown, malformed, truncated and over-cap cases and the Star/Epson clashes.

use slipguard::core::tokenize::{
    tokenize, tokenize_with, DataKind, Dialect, Op, Options, QueryKind, TokenKind, Tokenizer,
};

use Dialect::{EscPos, StarLine};

/// Tokenize `bytes` followed by a text marker, and check the first token is one command of
/// `len` bytes with this kind label and name, followed by the marker as text.
#[track_caller]
fn one(d: Dialect, bytes: &[u8], len: u64, label: &str, name: &str) -> TokenKind {
    let mut job = bytes.to_vec();
    job.extend_from_slice(b"Zz");
    let toks = tokenize(d, &job);
    let t = toks[0];
    assert_eq!(
        (t.offset, t.len, t.kind.label(), t.kind.name()),
        (0, len, label, name),
        "{d} {bytes:02x?}: {toks:?}"
    );
    let next = toks[1];
    assert_eq!(next.offset, len, "{d} {bytes:02x?}: {toks:?}");
    if len == bytes.len() as u64 {
        assert_eq!(next.kind, TokenKind::Text, "{d} {bytes:02x?}: {toks:?}");
        assert_eq!(toks.len(), 2, "{d} {bytes:02x?}: {toks:?}");
    }
    t.kind
}

#[track_caller]
fn cmd(d: Dialect, bytes: &[u8], name: &str) -> TokenKind {
    one(d, bytes, bytes.len() as u64, "command", name)
}

#[track_caller]
fn data(d: Dialect, bytes: &[u8], name: &str, kind: DataKind, payload: &[u8]) {
    let k = one(d, bytes, bytes.len() as u64, "data", name);
    let TokenKind::Data {
        kind: got,
        payload_start,
        payload_len,
        ..
    } = k
    else {
        panic!("{k:?}");
    };
    assert_eq!(got, kind, "{bytes:02x?}");
    let s = payload_start as usize;
    assert_eq!(&bytes[s..s + payload_len as usize], payload, "{bytes:02x?}");
}

#[track_caller]
fn query(d: Dialect, bytes: &[u8], name: &str, kind: QueryKind) {
    let k = one(d, bytes, bytes.len() as u64, "query", name);
    assert!(
        matches!(k, TokenKind::Query { kind: q, .. } if q == kind),
        "{k:?}"
    );
}

#[test]
fn escpos_control_bytes() {
    for b in [0x09u8, 0x0A, 0x0C, 0x0D, 0x18, 0x00, 0x01, 0x0F] {
        let toks = tokenize(EscPos, &[b, b'A']);
        assert_eq!(toks[0].kind, TokenKind::Control(b));
        assert_eq!(toks[0].len, 1);
    }
    assert_eq!(tokenize(EscPos, b"\n")[0].kind.name(), "LF");
}

#[test]
fn escpos_dle_real_time() {
    for n in 1..=6u8 {
        query(EscPos, &[0x10, 0x04, n], "DLE EOT", QueryKind::RealTime);
    }
    for n in [7u8, 8, 0x12] {
        query(EscPos, &[0x10, 0x04, n, 1], "DLE EOT", QueryKind::RealTime);
    }
    one(EscPos, &[0x10, 0x04, 9], 3, "malformed", "DLE EOT");
    query(EscPos, &[0x10, 0x05, 1], "DLE ENQ", QueryKind::RealTime);
    cmd(EscPos, &[0x10, 0x14, 1, 0, 1], "DLE DC4");
    cmd(EscPos, &[0x10, 0x14, 2, 1, 8], "DLE DC4");
    cmd(EscPos, &[0x10, 0x14, 3, 1, 2, 3, 4, 5], "DLE DC4");
    query(EscPos, &[0x10, 0x14, 7, 1], "DLE DC4", QueryKind::RealTime);
    cmd(EscPos, &[0x10, 0x14, 8, 1, 3, 20, 1, 6, 2, 8], "DLE DC4");
    one(EscPos, &[0x10, 0x14, 9], 3, "malformed", "DLE DC4");
    one(EscPos, &[0x10, b'x'], 2, "unknown", "unknown");
}

#[test]
fn escpos_esc_fixed_lengths() {
    for c in [0x0Cu8, b'2', b'<', b'@', b'L', b'S', b'i', b'm', b'q'] {
        let name = format!(
            "ESC {}",
            if c == 0x0C {
                "FF".into()
            } else {
                (c as char).to_string()
            }
        );
        cmd(EscPos, &[0x1B, c], &name);
    }
    query(EscPos, &[0x1B, b'v'], "ESC v", QueryKind::Ordered);
    for c in b" !%-3=?EGJKMRTUVadert{" {
        let name = match c {
            b' ' => "ESC SP".to_string(),
            c => format!("ESC {}", *c as char),
        };
        cmd(EscPos, &[0x1B, *c, 1], &name);
    }
    query(EscPos, &[0x1B, b'u', 0], "ESC u", QueryKind::Ordered);
    cmd(EscPos, &[0x1B, b'$', 10, 0], "ESC $");
    cmd(EscPos, &[0x1B, b'\\', 10, 0], "ESC \\");
    cmd(EscPos, &[0x1B, b'f', 0, 1], "ESC f");
    for m in b"01345" {
        cmd(EscPos, &[0x1B, b'c', *m, 1], "ESC c");
    }
    one(EscPos, &[0x1B, b'c', b'9'], 3, "malformed", "ESC c");
    cmd(EscPos, &[0x1B, b'p', 0, 25, 250], "ESC p");
    cmd(EscPos, &[0x1B, b'W', 0, 0, 0, 0, 0, 2, 0, 2], "ESC W");
    one(EscPos, &[0x1B, b'x'], 2, "unknown", "unknown");
}

#[test]
fn escpos_esc_variable_lengths() {
    data(
        EscPos,
        &[0x1B, b'*', 0, 2, 0, 0xAA, 0x55],
        "ESC *",
        DataKind::Image,
        &[0xAA, 0x55],
    );
    data(
        EscPos,
        &[0x1B, b'*', 33, 1, 0, 1, 2, 3],
        "ESC *",
        DataKind::Image,
        &[1, 2, 3],
    );
    one(EscPos, &[0x1B, b'*', 5], 3, "malformed", "ESC *");
    // ESC & y c1 c2, then per character a width x and y·x bytes.
    let glyphs = [0x1B, b'&', 3, b'A', b'B', 2, 1, 2, 3, 4, 5, 6, 1, 7, 8, 9];
    data(EscPos, &glyphs, "ESC &", DataKind::Glyphs, &glyphs[5..]);
    one(
        EscPos,
        &[0x1B, b'&', 3, b'B', b'A'],
        5,
        "malformed",
        "ESC &",
    );
    cmd(EscPos, &[0x1B, b'D', 8, 16, 24, 0], "ESC D");
    // A value not above the previous one ends the list.
    one(EscPos, &[0x1B, b'D', 8, 16, 8], 5, "command", "ESC D");
    let mut full: Vec<u8> = vec![0x1B, b'D'];
    full.extend(1..=32u8);
    one(EscPos, &full, 34, "command", "ESC D");
    cmd(EscPos, &[0x1B, b'(', b'A', 4, 0, 48, 97, 1, 1], "ESC ( A");
    cmd(EscPos, &[0x1B, b'(', b'Y', 2, 0, 48, 1], "ESC ( Y");
    one(EscPos, &[0x1B, b'(', b'Z'], 2, "unknown", "unknown");
}

#[test]
fn escpos_gs_fixed_lengths() {
    cmd(EscPos, &[0x1D, b':'], "GS :");
    cmd(EscPos, &[0x1D, b'c'], "GS c");
    for c in b"!/BEHTabfhjw" {
        cmd(EscPos, &[0x1D, *c, 1], &format!("GS {}", *c as char));
    }
    query(EscPos, &[0x1D, b'I', 1], "GS I", QueryKind::Ordered);
    query(EscPos, &[0x1D, b'r', 1], "GS r", QueryKind::Ordered);
    for c in b"$LPW\\" {
        cmd(EscPos, &[0x1D, *c, 1, 0], &format!("GS {}", *c as char));
    }
    cmd(EscPos, &[0x1D, b'^', 1, 0, 0], "GS ^");
    cmd(EscPos, &[0x1D, b'z', b'0', 1, 2], "GS z");
    cmd(EscPos, &[0x1D, b'g', b'0', 0, 20, 0], "GS g");
    query(
        EscPos,
        &[0x1D, b'g', b'2', 0, 20, 0],
        "GS g",
        QueryKind::Ordered,
    );
    for m in [0u8, 1, 48, 49] {
        let k = cmd(EscPos, &[0x1D, b'V', m], "GS V");
        assert_eq!(k.cmd().unwrap().op, Op::Cut);
    }
    for m in [65u8, 66, 97, 98, 103, 104] {
        cmd(EscPos, &[0x1D, b'V', m, 3], "GS V");
    }
    one(EscPos, &[0x1D, b'V', 7], 3, "malformed", "GS V");
    one(EscPos, &[0x1D, b'x'], 2, "unknown", "unknown");
}

#[test]
fn escpos_gs_paren_functions() {
    // QR: model, store (payload after cn fn m), print, size query.
    cmd(EscPos, &[0x1D, b'(', b'k', 4, 0, 49, 65, 50, 0], "GS ( k");
    data(
        EscPos,
        &[0x1D, b'(', b'k', 7, 0, 49, 80, 48, b'a', b'b', b'c', b'd'],
        "GS ( k",
        DataKind::Code2dStore,
        b"abcd",
    );
    data(
        EscPos,
        &[0x1D, b'(', b'k', 3, 0, 49, 81, 48],
        "GS ( k",
        DataKind::Code2dPrint,
        b"",
    );
    query(
        EscPos,
        &[0x1D, b'(', b'k', 3, 0, 49, 82, 48],
        "GS ( k",
        QueryKind::Ordered,
    );
    // PDF417 store.
    data(
        EscPos,
        &[0x1D, b'(', b'k', 5, 0, 48, 80, 48, b'x', b'y'],
        "GS ( k",
        DataKind::Code2dStore,
        b"xy",
    );
    // A declared length too short to hold the function byte is still its declared length.
    cmd(EscPos, &[0x1D, b'(', b'k', 0, 0], "GS ( k");
    // Graphics: store raster (fn 112) carries an image; print (fn 50) does not; fn 48 answers.
    data(
        EscPos,
        &[0x1D, b'(', b'L', 4, 0, 48, 112, 0xFF, 0xEE],
        "GS ( L",
        DataKind::Image,
        &[0xFF, 0xEE],
    );
    cmd(EscPos, &[0x1D, b'(', b'L', 2, 0, 48, 50], "GS ( L");
    query(
        EscPos,
        &[0x1D, b'(', b'L', 2, 0, 48, 48],
        "GS ( L",
        QueryKind::Ordered,
    );
    query(
        EscPos,
        &[0x1D, b'(', b'H', 6, 0, 48, 48, 1, 2, 3, 4],
        "GS ( H",
        QueryKind::Ordered,
    );
    query(
        EscPos,
        &[0x1D, b'(', b'E', 3, 0, 1, 73, 78],
        "GS ( E",
        QueryKind::Ordered,
    );
    cmd(EscPos, &[0x1D, b'(', b'E', 4, 0, 2, 79, 85, 84], "GS ( E");
    query(
        EscPos,
        &[0x1D, b'(', b'C', 3, 0, 0, 51, 0],
        "GS ( C",
        QueryKind::Ordered,
    );
    cmd(EscPos, &[0x1D, b'(', b'C', 3, 0, 0, 48, 0], "GS ( C");
    for x in b"ABDGKMNPQz" {
        cmd(
            EscPos,
            &[0x1D, b'(', *x, 2, 0, 1, 2],
            &format!("GS ( {}", *x as char),
        );
    }
    one(EscPos, &[0x1D, b'(', b'Z'], 2, "unknown", "unknown");
    // GS 8 L: 32-bit length.
    let mut big = vec![0x1D, b'8', b'L', 6, 0, 0, 0, 48, 112, 1, 2, 3, 4];
    data(EscPos, &big, "GS 8 L", DataKind::Image, &[1, 2, 3, 4]);
    big[8] = 69; // print NV graphics: no image data
    cmd(EscPos, &big, "GS 8 L");
    one(EscPos, &[0x1D, b'8', b'x'], 2, "unknown", "unknown");
}

#[test]
fn escpos_barcodes() {
    data(
        EscPos,
        b"\x1dk\x04ABC\x00",
        "GS k",
        DataKind::Barcode,
        b"ABC",
    );
    // CODE39 opened with '*' ends at the closing '*' (no NUL needed).
    data(EscPos, b"\x1dk\x04*AB*", "GS k", DataKind::Barcode, b"*AB*");
    data(
        EscPos,
        b"\x1dk\x06A31472001205545B\x00",
        "GS k",
        DataKind::Barcode,
        b"A31472001205545B",
    );
    data(
        EscPos,
        b"\x1dk\x05123456\x00",
        "GS k",
        DataKind::Barcode,
        b"123456",
    );
    // EAN13 ends after 13 digits, taking a following NUL with it when there is one.
    data(
        EscPos,
        b"\x1dk\x024006381333931",
        "GS k",
        DataKind::Barcode,
        b"4006381333931",
    );
    data(
        EscPos,
        b"\x1dk\x024006381333931\x00",
        "GS k",
        DataKind::Barcode,
        b"4006381333931",
    );
    data(
        EscPos,
        b"\x1dk\x02400638133393\x00",
        "GS k",
        DataKind::Barcode,
        b"400638133393",
    );
    data(
        EscPos,
        b"\x1dk\x0312345678",
        "GS k",
        DataKind::Barcode,
        b"12345678",
    );
    data(
        EscPos,
        b"\x1dk\x0012345678901\x00",
        "GS k",
        DataKind::Barcode,
        b"12345678901",
    );
    data(
        EscPos,
        b"\x1dk\x01123456\x00",
        "GS k",
        DataKind::Barcode,
        b"123456",
    );
    data(
        EscPos,
        b"\x1dkI\x05{B123",
        "GS k",
        DataKind::Barcode,
        b"{B123",
    );
    for m in 65..=79u8 {
        data(
            EscPos,
            &[0x1D, b'k', m, 2, b'1', b'2'],
            "GS k",
            DataKind::Barcode,
            b"12",
        );
    }
    one(EscPos, &[0x1D, b'k', 7], 3, "malformed", "GS k");
}

#[test]
fn escpos_images() {
    data(
        EscPos,
        &[0x1D, b'v', b'0', 0, 1, 0, 2, 0, 0x81, 0x42],
        "GS v 0",
        DataKind::Image,
        &[0x81, 0x42],
    );
    one(EscPos, &[0x1D, b'v', b'1'], 2, "unknown", "unknown");
    let mut gs_star = vec![0x1D, b'*', 1, 1];
    gs_star.extend([0x55; 8]);
    data(EscPos, &gs_star, "GS *", DataKind::Image, &[0x55; 8]);
    // GS D: Windows BMP whose size is in its own header.
    let mut bmp = vec![b'B', b'M', 20, 0, 0, 0];
    bmp.extend([0u8; 14]);
    let mut nv = vec![0x1D, b'D', 0x30, 0x43, 0x30, 0x20, 0x20, 1, 0x31];
    nv.extend(&bmp);
    data(EscPos, &nv, "GS D", DataKind::Image, &bmp);
    let mut dl = vec![0x1D, b'D', 0x30, 0x53, 0x30, 1, 1, 0x31];
    dl.extend(&bmp);
    data(EscPos, &dl, "GS D", DataKind::Image, &bmp);
    one(EscPos, &[0x1D, b'D', 0x30, 0x99], 4, "malformed", "GS D");
}

#[test]
fn escpos_fs_commands() {
    for c in b"&.Lbc" {
        cmd(EscPos, &[0x1C, *c], &format!("FS {}", *c as char));
    }
    for c in b"!-CW" {
        cmd(EscPos, &[0x1C, *c, 1], &format!("FS {}", *c as char));
    }
    for c in b"?Sp" {
        cmd(EscPos, &[0x1C, *c, 1, 0], &format!("FS {}", *c as char));
    }
    for x in b"ACELefg" {
        cmd(
            EscPos,
            &[0x1C, b'(', *x, 2, 0, 48, 1],
            &format!("FS ( {}", *x as char),
        );
    }
    let k = cmd(EscPos, &[0x1C, b'(', b'C', 2, 0, 48, 2], "FS ( C");
    assert_eq!(k.cmd().unwrap().op, Op::EncodingSystem);
    one(EscPos, &[0x1C, b'(', b'Z'], 2, "unknown", "unknown");
    let mut nv = vec![0x1C, b'q', 1, 1, 0, 1, 0];
    nv.extend([0xAB; 8]);
    data(EscPos, &nv, "FS q", DataKind::Image, &nv[3..]);
    data(EscPos, &[0x1C, b'q', 0], "FS q", DataKind::Image, b"");
    let mut kanji = vec![0x1C, b'2', 0x77, 0x21];
    kanji.extend([0u8; 72]);
    data(EscPos, &kanji, "FS 2", DataKind::Glyphs, &[0u8; 72]);
    cmd(
        EscPos,
        &[0x1C, b'g', b'1', 0, 0, 0, 0, 0, 2, 0, 7, 8],
        "FS g",
    );
    query(
        EscPos,
        &[0x1C, b'g', b'2', 0, 0, 0, 0, 0, 2, 0],
        "FS g",
        QueryKind::Ordered,
    );
    one(EscPos, &[0x1C, b'g', 9], 3, "malformed", "FS g");
    cmd(EscPos, &[0x1C, b'a', b'0', 1], "FS a");
    cmd(EscPos, &[0x1C, b'a', b'1'], "FS a");
    one(EscPos, &[0x1C, b'a', 9], 3, "malformed", "FS a");
    one(EscPos, &[0x1C, b'x'], 2, "unknown", "unknown");
}

#[test]
fn kanji_font_b_changes_fs_2_size() {
    let mut job = vec![0x1C, b'(', b'A', 2, 0, 48, 1, 0x1C, b'2', 0x77, 0x21];
    job.extend([0u8; 60]);
    job.extend(b"OK");
    let toks = tokenize(EscPos, &job);
    assert_eq!(toks[1].len, 64, "{toks:?}");
    assert_eq!(toks[2].kind, TokenKind::Text);
}

#[test]
fn star_code_page_in_escpos_emulation_is_optional() {
    let job = [0x1B, 0x1D, b't', 4, b'A'];
    let plain = tokenize(EscPos, &job);
    assert_eq!(plain[0].kind, TokenKind::Unknown);
    let opts = Options {
        star_code_page_in_escpos: true,
        ..Options::default()
    };
    let star = tokenize_with(EscPos, opts, &job);
    assert_eq!(star[0].len, 4);
    assert_eq!(star[0].kind.cmd().unwrap().op, Op::StarCodePage);
}

#[test]
fn star_single_bytes() {
    for b in [0x05u8, 0x04] {
        let t = tokenize(StarLine, &[b])[0];
        assert!(matches!(
            t.kind,
            TokenKind::Query {
                kind: QueryKind::RealTime,
                ..
            }
        ));
    }
    for b in [0x07u8, 0x1C, 0x1A, 0x19] {
        let t = tokenize(StarLine, &[b])[0];
        assert_eq!(t.kind.cmd().unwrap().op, Op::Drawer, "{b:02x}");
        assert_eq!(t.len, 1);
    }
    for b in [0x0Eu8, 0x14, 0x0F, 0x12] {
        assert_eq!(tokenize(StarLine, &[b])[0].kind.label(), "command");
    }
    for b in [0x0Au8, 0x0D, 0x0C, 0x09, 0x18, 0x1D, 0x10] {
        assert_eq!(tokenize(StarLine, &[b])[0].kind, TokenKind::Control(b));
    }
}

#[test]
fn star_esc_commands() {
    for c in [
        b'@', b'E', b'F', b'4', b'5', b'M', b'P', b':', b'g', b'0', b'p', b'q',
    ] {
        cmd(StarLine, &[0x1B, c], &format!("ESC {}", c as char));
    }
    cmd(StarLine, &[0x1B, 0x0E], "ESC SO");
    cmd(StarLine, &[0x1B, 0x14], "ESC DC4");
    for c in b"-_WhaJIzlQR" {
        cmd(StarLine, &[0x1B, *c, 1], &format!("ESC {}", *c as char));
    }
    for n in [0u8, 1, 2, 3, b'0', b'3'] {
        let k = cmd(StarLine, &[0x1B, b'd', n], "ESC d");
        assert_eq!(k.cmd().unwrap().op, Op::Cut);
    }
    one(StarLine, &[0x1B, b'd', 9], 3, "malformed", "ESC d");
    cmd(StarLine, &[0x1B, b'i', 1, 1], "ESC i");
    cmd(StarLine, &[0x1B, 0x07, 20, 20], "ESC BEL");
    cmd(StarLine, &[0x1B, 0x1E, b'F', 1], "ESC RS F");
    cmd(StarLine, &[0x1B, 0x1E, b'a', 1], "ESC RS a");
    one(StarLine, &[0x1B, 0x1E, b'x'], 2, "unknown", "unknown");
    one(StarLine, &[0x1B, b'v'], 2, "unknown", "unknown");
}

#[test]
fn star_esc_gs_commands() {
    cmd(StarLine, &[0x1B, 0x1D, b'a', 1], "ESC GS a");
    cmd(StarLine, &[0x1B, 0x1D, b'A', 1, 0], "ESC GS A");
    cmd(StarLine, &[0x1B, 0x1D, b'R', 1, 0], "ESC GS R");
    cmd(StarLine, &[0x1B, 0x1D, b't', 4], "ESC GS t");
    query(
        StarLine,
        &[0x1B, 0x1D, 0x03, 1, 0, 0],
        "ESC GS ETX",
        QueryKind::Ordered,
    );
    cmd(StarLine, &[0x1B, 0x1D, b'y', b'S', b'0', 2], "ESC GS y S");
    data(
        StarLine,
        &[0x1B, 0x1D, b'y', b'D', b'1', 0, 3, 0, b'a', b'b', b'c'],
        "ESC GS y D",
        DataKind::Code2dStore,
        b"abc",
    );
    let blocks = [
        0x1B, 0x1D, b'y', b'D', b'2', 2, 0, 2, 0, b'a', b'b', 0, 1, 0, b'c',
    ];
    data(
        StarLine,
        &blocks,
        "ESC GS y D",
        DataKind::Code2dStore,
        &blocks[6..],
    );
    one(
        StarLine,
        &[0x1B, 0x1D, b'y', b'D', b'9'],
        5,
        "malformed",
        "ESC GS y D",
    );
    data(
        StarLine,
        &[0x1B, 0x1D, b'y', b'P'],
        "ESC GS y P",
        DataKind::Code2dPrint,
        b"",
    );
    cmd(
        StarLine,
        &[0x1B, 0x1D, b'x', b'S', b'0', 1, 2, 3],
        "ESC GS x S",
    );
    cmd(StarLine, &[0x1B, 0x1D, b'x', b'S', b'2', 1], "ESC GS x S");
    data(
        StarLine,
        &[0x1B, 0x1D, b'x', b'D', 2, 0, b'x', b'y'],
        "ESC GS x D",
        DataKind::Code2dStore,
        b"xy",
    );
    data(
        StarLine,
        &[0x1B, 0x1D, b'x', b'P'],
        "ESC GS x P",
        DataKind::Code2dPrint,
        b"",
    );
    data(
        StarLine,
        &[0x1B, 0x1D, b'S', 1, 2, 0, 2, 0, 0, 1, 2, 3, 4],
        "ESC GS S",
        DataKind::Image,
        &[1, 2, 3, 4],
    );
    one(StarLine, &[0x1B, 0x1D, b'Z'], 2, "unknown", "unknown");
}

#[test]
fn star_barcodes_and_images() {
    data(
        StarLine,
        b"\x1bb8223A2147B\x1e",
        "ESC b",
        DataKind::Barcode,
        b"A2147B",
    );
    data(
        StarLine,
        &[0x1B, b'K', 2, 0, 1, 2],
        "ESC K",
        DataKind::Image,
        &[1, 2],
    );
    data(
        StarLine,
        &[0x1B, b'X', 1, 0, 1, 2, 3],
        "ESC X",
        DataKind::Image,
        &[1, 2, 3],
    );
    let mut k = vec![0x1B, b'k', 1, 0];
    k.extend([7u8; 24]);
    data(StarLine, &k, "ESC k", DataKind::Image, &[7u8; 24]);
}

#[test]
fn star_raster_mode() {
    // Inside raster mode `b n1 n2 data` is a raster line, not text; outside it is text.
    let job = b"\x1b*rA\x1b*rQ2\x00b\x02\x00\xff\x00\x1b\x0c\x00\x1b*rBbk";
    let toks = tokenize(StarLine, job);
    let names: Vec<_> = toks.iter().map(|t| (t.kind.name(), t.len)).collect();
    assert_eq!(
        names,
        [
            ("ESC * r A", 4),
            ("ESC * r", 6),
            ("raster b", 5),
            ("ESC FF", 3),
            ("ESC * r B", 4),
            ("text", 2),
        ]
    );
    one(StarLine, &[0x1B, 0x0C], 2, "unknown", "unknown");
}

#[test]
fn dialect_clashes_parse_differently() {
    // ESC E: 3 bytes in ESC/POS (the n byte), 2 in Star (then 0x01 is a control byte).
    let e = b"\x1bE\x01AB";
    assert_eq!(tokenize(EscPos, e)[0].len, 3);
    assert_eq!(tokenize(StarLine, e)[0].len, 2);
    assert_eq!(tokenize(StarLine, e)[1].kind, TokenKind::Control(1));
    // ESC p: drawer kick (5) vs Kanji on (2).
    let p = b"\x1bp\x00\x19\xfaAB";
    assert_eq!(tokenize(EscPos, p)[0].len, 5);
    assert_eq!(tokenize(StarLine, p)[0].len, 2);
    // ESC d: feed vs cut. ESC a: alignment vs feed.
    let op = |d, b: &[u8]| tokenize(d, b)[0].kind.cmd().unwrap().op;
    assert_eq!(op(EscPos, b"\x1bd\x02"), Op::Feed);
    assert_eq!(op(StarLine, b"\x1bd\x02"), Op::Cut);
    assert_eq!(op(EscPos, b"\x1ba\x01"), Op::Align);
    assert_eq!(op(StarLine, b"\x1ba\x01"), Op::Feed);
    // FS: a prefix in ESC/POS, a one-byte drawer command in Star.
    let fs = b"\x1c&AB";
    assert_eq!(tokenize(EscPos, fs)[0].len, 2);
    assert_eq!(tokenize(StarLine, fs)[0].len, 1);
    assert_eq!(tokenize(StarLine, fs)[0].kind.cmd().unwrap().op, Op::Drawer);
    // ESC GS: a Star prefix, undefined in ESC/POS.
    let gs = b"\x1b\x1da\x01";
    assert_eq!(tokenize(EscPos, gs)[0].kind, TokenKind::Unknown);
    assert_eq!(tokenize(StarLine, gs)[0].len, 4);
    // ESC *: bit image in ESC/POS, raster prefix in Star.
    assert_eq!(tokenize(EscPos, b"\x1b*\x00\x01\x00\xff")[0].len, 6);
    assert_eq!(tokenize(StarLine, b"\x1b*rA")[0].len, 4);
}

#[test]
fn unknown_commands_are_two_bytes_and_the_rest_is_text() {
    for d in [EscPos, StarLine] {
        let toks = tokenize(d, b"\x1b\xffJohn Smith");
        assert_eq!(toks[0].kind, TokenKind::Unknown);
        assert_eq!(toks[0].len, 2);
        assert_eq!((toks[1].kind, toks[1].len), (TokenKind::Text, 10));
    }
}

#[test]
fn truncated_commands_are_errors() {
    let cases: &[(Dialect, &[u8], &str)] = &[
        (EscPos, b"\x1b", "ESC"),
        (EscPos, b"\x1bt", "ESC t"),
        (EscPos, b"\x1d(k\x10\x00\x31\x50\x30abc", "GS ( k"),
        (EscPos, b"\x1dv0\x00\x10\x00\x10\x00\xff", "GS v 0"),
        (EscPos, b"\x1dk\x04ABC", "GS k"),
        (EscPos, b"\x1d8L\xff\xff\xff\xff\x30\x70\x00", "GS 8 L"),
        (EscPos, b"\x1d8L\xff", "GS"),
        (EscPos, b"\x1b&\x03AC\x02\x01", "ESC &"),
        (EscPos, b"\x1cq\x02\x01\x00\x01\x00", "FS q"),
        (StarLine, b"\x1bb8223A21", "ESC b"),
        (StarLine, b"\x1b\x1dyD1\x00\x20\x00abc", "ESC GS y D"),
        (StarLine, b"\x1b\x1d", "ESC"),
    ];
    for (d, job, name) in cases {
        let toks = tokenize(*d, job);
        let last = toks.last().unwrap();
        assert!(
            matches!(last.kind, TokenKind::Truncated(_)),
            "{d} {job:02x?}: {toks:?}"
        );
        assert!(last.kind.is_error());
        assert_eq!(last.kind.name(), *name, "{job:02x?}");
        assert_eq!(last.offset + last.len, job.len() as u64);
    }
}

#[test]
fn commands_over_the_cap_are_errors_and_resynchronise() {
    let opts = Options {
        max_command_len: 16,
        ..Options::default()
    };
    let mut job = vec![0x1D, b'v', b'0', 0, 4, 0, 4, 0];
    job.extend([0xFF; 16]);
    job.extend(b"after");
    let toks = tokenize_with(EscPos, opts, &job);
    assert_eq!(toks[0].kind.label(), "over-cap");
    assert_eq!(toks[0].kind.name(), "GS v 0");
    assert_eq!(toks[0].len, 24);
    assert!(toks[0].kind.is_error());
    assert_eq!((toks[1].kind, toks[1].offset), (TokenKind::Text, 24));

    // A terminated command past the cap.
    let mut bar = b"\x1dk\x04".to_vec();
    bar.extend([b'A'; 30]);
    bar.push(0);
    bar.extend(b"x");
    let toks = tokenize_with(EscPos, opts, &bar);
    assert_eq!(toks[0].kind.label(), "over-cap");
    assert_eq!(toks[0].len, 34);
    // Blocks past the cap (ESC & with two 8-byte glyphs).
    let mut g = vec![0x1B, b'&', 2, b'A', b'B', 4];
    g.extend([1u8; 8]);
    g.push(4);
    g.extend([2u8; 8]);
    let toks = tokenize_with(EscPos, opts, &g);
    assert_eq!(toks[0].kind.label(), "over-cap");
    assert_eq!(toks[0].len, g.len() as u64);
}

#[test]
fn declared_lengths_are_counted_not_buffered() {
    // A 4 GiB graphics command: the tokenizer holds only its header and counts the rest.
    let mut t = Tokenizer::new(EscPos, Options::default());
    let mut toks = Vec::new();
    t.feed(
        &[0x1D, b'8', b'L', 0xFF, 0xFF, 0xFF, 0xFF, 48, 112],
        &mut |x| toks.push(x),
    );
    for _ in 0..64 {
        t.feed(&[0u8; 4096], &mut |x| toks.push(x));
    }
    assert!(toks.is_empty());
    t.finish(&mut |x| toks.push(x));
    assert_eq!(toks.len(), 1);
    assert_eq!(toks[0].kind.label(), "truncated");
    assert_eq!(toks[0].len, 9 + 64 * 4096);
    // The tokenizer has no heap state at all: its size is fixed.
    assert!(
        std::mem::size_of::<Tokenizer>() <= 128,
        "{}",
        std::mem::size_of::<Tokenizer>()
    );
}

/// A command with a bad parameter ends at that byte whatever follows it, also at the end of
/// the input (redaction may remove the text after it: the command must read the same).
#[test]
fn malformed_commands_end_at_the_offending_byte_even_at_the_end() {
    for (d, bytes) in [
        (EscPos, &[0x10, 0x04, 9][..]),
        (EscPos, &[0x1B, b'c', b'9']),
        (EscPos, &[0x1B, b'*', 5]),
        (EscPos, &[0x1B, b'*', b'r']),
        (EscPos, &[0x1B, b'&', 3, b'B', b'A']),
        (EscPos, &[0x1D, b'V', 7]),
        (EscPos, &[0x1D, b'k', 7]),
        (EscPos, &[0x1D, b'D', 0x30, 0x99]),
        (EscPos, &[0x1C, b'g', 9]),
    ] {
        let toks = tokenize(d, bytes);
        assert_eq!(toks.len(), 1, "{d} {bytes:02x?}: {toks:?}");
        assert_eq!(
            (toks[0].len, toks[0].kind.label()),
            (bytes.len() as u64, "malformed"),
            "{d} {bytes:02x?}: {toks:?}"
        );
    }
}
