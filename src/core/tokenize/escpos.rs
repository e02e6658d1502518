//! The Epson ESC/POS command table: how long each command is, from its first bytes.
//!
//! Every row follows `ESCPOS.md`. A prefix followed by a byte no command uses is a 2-byte
//! unknown token; a known command with a parameter out of range is malformed up to and
//! including that byte. Nothing here guesses a length the grammar does not give.

use super::{n16, BlockRule, Body, Class, Cmd, DataKind, Mode, Op, Options, QueryKind, TokenKind};

const DLE: u8 = 0x10;
const ESC: u8 = 0x1B;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;

pub(super) fn cmd(name: &'static str, op: Op) -> Cmd {
    Cmd { name, op }
}

pub(super) fn len(n: u64, name: &'static str, op: Op) -> Class {
    Class::Len(n, TokenKind::Command(cmd(name, op)))
}

pub(super) fn query(n: u64, name: &'static str, kind: QueryKind) -> Class {
    Class::Len(
        n,
        TokenKind::Query {
            cmd: cmd(name, Op::Other),
            kind,
        },
    )
}

/// A data-carrying command of known total length `n` whose payload starts at `start`.
pub(super) fn data(n: u64, name: &'static str, kind: DataKind, start: u64) -> Class {
    let start = start.min(n);
    Class::Len(
        n,
        TokenKind::Data {
            cmd: cmd(name, Op::Other),
            kind,
            payload_start: start as u32,
            payload_len: n - start,
        },
    )
}

/// A data-carrying command whose end a body machine finds; the payload length is filled in
/// when the token completes.
pub(super) fn data_body(body: Body, name: &'static str, kind: DataKind, start: u32) -> Class {
    Class::Body(
        body,
        TokenKind::Data {
            cmd: cmd(name, Op::Other),
            kind,
            payload_start: start,
            payload_len: 0,
        },
    )
}

pub(super) fn malformed(n: u64, name: &'static str) -> Class {
    Class::Len(n, TokenKind::Malformed(cmd(name, Op::Other)))
}

pub(super) fn unknown() -> Class {
    Class::Len(2, TokenKind::Unknown)
}

pub(super) fn classify(h: &[u8], opts: &Options, mode: &Mode) -> Class {
    need!(h, 2);
    match h[0] {
        DLE => dle(h),
        ESC => esc(h, opts),
        GS => gs(h),
        FS => fs(h, mode),
        _ => unreachable!("not an ESC/POS prefix"),
    }
}

fn dle(h: &[u8]) -> Class {
    match h[1] {
        0x04 => {
            need!(h, 3);
            match h[2] {
                1..=6 => query(3, "DLE EOT", QueryKind::RealTime),
                7 | 8 | 0x12 => query(4, "DLE EOT", QueryKind::RealTime),
                _ => malformed(3, "DLE EOT"),
            }
        }
        0x05 => query(3, "DLE ENQ", QueryKind::RealTime),
        0x14 => {
            need!(h, 3);
            match h[2] {
                1 | 2 => len(5, "DLE DC4", Op::Other),
                3 => len(8, "DLE DC4", Op::Other),
                7 => query(4, "DLE DC4", QueryKind::RealTime),
                8 => len(10, "DLE DC4", Op::Other),
                _ => malformed(3, "DLE DC4"),
            }
        }
        _ => unknown(),
    }
}

fn esc(h: &[u8], opts: &Options) -> Class {
    match h[1] {
        0x0C => len(2, "ESC FF", Op::PagePrint),
        b'2' => len(2, "ESC 2", Op::Other),
        b'<' => len(2, "ESC <", Op::Other),
        b'@' => len(2, "ESC @", Op::Init),
        b'L' => len(2, "ESC L", Op::PageMode),
        b'S' => len(2, "ESC S", Op::StandardMode),
        b'i' => len(2, "ESC i", Op::Cut),
        b'm' => len(2, "ESC m", Op::Cut),
        b'q' => len(2, "ESC q", Op::Other),
        b'v' => query(2, "ESC v", QueryKind::Ordered),
        b' ' => len(3, "ESC SP", Op::Other),
        b'!' => len(3, "ESC !", Op::PrintMode),
        b'%' => len(3, "ESC %", Op::Other),
        b'-' => len(3, "ESC -", Op::Underline),
        b'3' => len(3, "ESC 3", Op::Other),
        b'=' => len(3, "ESC =", Op::Target),
        b'?' => len(3, "ESC ?", Op::Other),
        b'E' => len(3, "ESC E", Op::Bold),
        b'G' => len(3, "ESC G", Op::Bold),
        b'J' => len(3, "ESC J", Op::Feed),
        b'K' => len(3, "ESC K", Op::Other),
        b'M' => len(3, "ESC M", Op::Font),
        b'R' => len(3, "ESC R", Op::IntlSet),
        b'T' => len(3, "ESC T", Op::Other),
        b'U' => len(3, "ESC U", Op::Other),
        b'V' => len(3, "ESC V", Op::Other),
        b'a' => len(3, "ESC a", Op::Align),
        b'd' => len(3, "ESC d", Op::Feed),
        b'e' => len(3, "ESC e", Op::Other),
        b'r' => len(3, "ESC r", Op::Other),
        b't' => len(3, "ESC t", Op::CodePage),
        b'u' => query(3, "ESC u", QueryKind::Ordered),
        b'{' => len(3, "ESC {", Op::Other),
        b'$' => len(4, "ESC $", Op::Other),
        b'\\' => len(4, "ESC \\", Op::Other),
        b'f' => len(4, "ESC f", Op::Other),
        b'c' => {
            need!(h, 3);
            match h[2] {
                b'0' | b'1' | b'3' | b'4' | b'5' => len(4, "ESC c", Op::Other),
                _ => malformed(3, "ESC c"),
            }
        }
        b'p' => len(5, "ESC p", Op::Drawer),
        b'W' => len(10, "ESC W", Op::Other),
        b'*' => {
            // The mode byte decides: a bad one ends the command there, whatever follows.
            need!(h, 3);
            let per_column = match h[2] {
                0 | 1 => 1,
                32 | 33 => 3,
                _ => return malformed(3, "ESC *"),
            };
            need!(h, 5);
            data(
                5 + per_column * n16(h[3], h[4]),
                "ESC *",
                DataKind::Image,
                5,
            )
        }
        b'&' => {
            need!(h, 5);
            let (y, c1, c2) = (h[2], h[3], h[4]);
            if c2 < c1 {
                return malformed(5, "ESC &");
            }
            let count = u32::from(c2 - c1) + 1;
            data_body(
                Body::Blocks {
                    count,
                    rule: BlockRule::Glyph { y },
                },
                "ESC &",
                DataKind::Glyphs,
                5,
            )
        }
        b'D' => Class::Body(Body::TabList, TokenKind::Command(cmd("ESC D", Op::Other))),
        b'(' => {
            need!(h, 3);
            let name = match h[2] {
                b'A' => "ESC ( A",
                b'Y' => "ESC ( Y",
                _ => return unknown(),
            };
            need!(h, 5);
            len(5 + n16(h[3], h[4]), name, Op::Other)
        }
        GS if opts.star_code_page_in_escpos => {
            need!(h, 3);
            if h[2] == b't' {
                len(4, "ESC GS t", Op::StarCodePage)
            } else {
                unknown()
            }
        }
        _ => unknown(),
    }
}

fn gs(h: &[u8]) -> Class {
    match h[1] {
        b':' => len(2, "GS :", Op::MacroDefine),
        b'c' => len(2, "GS c", Op::Other),
        b'!' => len(3, "GS !", Op::CharSize),
        b'/' => len(3, "GS /", Op::Other),
        b'B' => len(3, "GS B", Op::Reverse),
        b'E' => len(3, "GS E", Op::Other),
        b'H' => len(3, "GS H", Op::Other),
        b'I' => query(3, "GS I", QueryKind::Ordered),
        b'T' => len(3, "GS T", Op::Other),
        b'a' => len(3, "GS a", Op::AutoStatus),
        b'b' => len(3, "GS b", Op::Other),
        b'f' => len(3, "GS f", Op::Other),
        b'h' => len(3, "GS h", Op::Other),
        b'j' => len(3, "GS j", Op::Other),
        b'r' => query(3, "GS r", QueryKind::Ordered),
        b'w' => len(3, "GS w", Op::Other),
        b'$' => len(4, "GS $", Op::Other),
        b'L' => len(4, "GS L", Op::Other),
        b'P' => len(4, "GS P", Op::Other),
        b'W' => len(4, "GS W", Op::Other),
        b'\\' => len(4, "GS \\", Op::Other),
        b'^' => len(5, "GS ^", Op::MacroRun),
        b'z' => {
            need!(h, 3);
            match h[2] {
                0 | b'0' => len(5, "GS z", Op::Other),
                _ => malformed(3, "GS z"),
            }
        }
        b'g' => {
            need!(h, 3);
            match h[2] {
                0 | b'0' => len(6, "GS g", Op::Other),
                2 | b'2' => query(6, "GS g", QueryKind::Ordered),
                _ => malformed(3, "GS g"),
            }
        }
        b'V' => {
            need!(h, 3);
            match h[2] {
                0 | 1 | 48 | 49 => len(3, "GS V", Op::Cut),
                65 | 66 | 97 | 98 | 103 | 104 => len(4, "GS V", Op::Cut),
                _ => malformed(3, "GS V"),
            }
        }
        b'(' => gs_paren(h),
        b'8' => {
            need!(h, 3);
            if h[2] != b'L' {
                return unknown();
            }
            need!(h, 7);
            let p = u64::from(u32::from_le_bytes([h[3], h[4], h[5], h[6]]));
            let total = 7 + p;
            if total < 9 {
                return len(total, "GS 8 L", Op::Other);
            }
            need!(h, 9);
            graphics(total, "GS 8 L", h[8], 9)
        }
        b'k' => {
            need!(h, 3);
            let m = h[2];
            let max_data = match m {
                0 | 1 => Some(12), // UPC-A, UPC-E
                2 => Some(13),     // EAN13
                3 => Some(8),      // EAN8
                4..=6 => None,     // CODE39, ITF, CODABAR: to NUL
                65..=79 => {
                    need!(h, 4);
                    return data(4 + u64::from(h[3]), "GS k", DataKind::Barcode, 4);
                }
                _ => return malformed(3, "GS k"),
            };
            data_body(
                Body::Until {
                    term: 0,
                    max_data,
                    star_terminates: m == 4,
                },
                "GS k",
                DataKind::Barcode,
                3,
            )
        }
        b'v' => {
            need!(h, 3);
            if h[2] != b'0' {
                return unknown();
            }
            need!(h, 8);
            let n = n16(h[4], h[5]) * n16(h[6], h[7]);
            data(8 + n, "GS v 0", DataKind::Image, 8)
        }
        b'*' => {
            need!(h, 4);
            let n = 8 * u64::from(h[2]) * u64::from(h[3]);
            data(4 + n, "GS *", DataKind::Image, 4)
        }
        b'D' => {
            // GS D m fn …: a Windows BMP whose file size is in its own header (bytes 2–5).
            need!(h, 4);
            let prefix = match h[3] {
                0x43 => 9, // define NV graphics: m fn a kc1 kc2 b c
                0x53 => 8, // download graphics: m fn a bx by c
                _ => return malformed(4, "GS D"),
            };
            need!(h, prefix + 6);
            let d = &h[prefix..];
            let size = u64::from(u32::from_le_bytes([d[2], d[3], d[4], d[5]])).max(6);
            data(prefix as u64 + size, "GS D", DataKind::Image, prefix as u64)
        }
        _ => unknown(),
    }
}

/// `GS ( X pL pH …`: 5 + P bytes; some functions answer, some carry graphics or codes.
fn gs_paren(h: &[u8]) -> Class {
    need!(h, 3);
    let name = match h[2] {
        b'A' => "GS ( A",
        b'B' => "GS ( B",
        b'C' => "GS ( C",
        b'D' => "GS ( D",
        b'E' => "GS ( E",
        b'G' => "GS ( G",
        b'H' => "GS ( H",
        b'K' => "GS ( K",
        b'L' => "GS ( L",
        b'M' => "GS ( M",
        b'N' => "GS ( N",
        b'P' => "GS ( P",
        b'Q' => "GS ( Q",
        b'k' => "GS ( k",
        b'z' => "GS ( z",
        _ => return unknown(),
    };
    need!(h, 5);
    let total = 5 + n16(h[3], h[4]);
    // The function byte(s) sit inside the declared length; never read past it.
    let byte = |i: usize| -> Option<usize> { (total > i as u64).then_some(i + 1) };
    match h[2] {
        b'k' => {
            let Some(n) = byte(6) else {
                return len(total, name, Op::Other);
            };
            need!(h, n);
            match h[6] {
                80 => data(total, name, DataKind::Code2dStore, 8),
                81 => data(total, name, DataKind::Code2dPrint, total),
                82 => query(total, name, QueryKind::Ordered),
                _ => len(total, name, Op::Other),
            }
        }
        b'L' => {
            let Some(n) = byte(6) else {
                return len(total, name, Op::Other);
            };
            need!(h, n);
            graphics(total, name, h[6], 7)
        }
        b'H' => query(total, name, QueryKind::Ordered),
        b'E' => {
            let Some(n) = byte(5) else {
                return len(total, name, Op::Other);
            };
            need!(h, n);
            match h[5] {
                1 | 4 | 6 | 8 | 12 | 14 | 16 => query(total, name, QueryKind::Ordered),
                _ => len(total, name, Op::Other),
            }
        }
        b'C' => {
            let Some(n) = byte(6) else {
                return len(total, name, Op::Other);
            };
            need!(h, n);
            match h[6] {
                2..=5 | 50..=53 => query(total, name, QueryKind::Ordered),
                _ => len(total, name, Op::Other),
            }
        }
        _ => len(total, name, Op::Other),
    }
}

/// `GS ( L` / `GS 8 L` by function: stored graphics carry image data, some functions answer.
fn graphics(total: u64, name: &'static str, func: u8, payload: u64) -> Class {
    match func {
        67 | 68 | 83 | 84 | 112 | 113 => data(total, name, DataKind::Image, payload),
        0 | 48 | 3 | 51 | 4 | 52 | 64 | 80 => query(total, name, QueryKind::Ordered),
        _ => len(total, name, Op::Other),
    }
}

fn fs(h: &[u8], mode: &Mode) -> Class {
    match h[1] {
        b'&' => len(2, "FS &", Op::KanjiOn),
        b'.' => len(2, "FS .", Op::KanjiOff),
        b'L' => len(2, "FS L", Op::Other),
        b'b' => len(2, "FS b", Op::Other),
        b'c' => len(2, "FS c", Op::Other),
        b'!' => len(3, "FS !", Op::Other),
        b'-' => len(3, "FS -", Op::Other),
        b'C' => len(3, "FS C", Op::Other),
        b'W' => len(3, "FS W", Op::Other),
        b'?' => len(4, "FS ?", Op::Other),
        b'S' => len(4, "FS S", Op::Other),
        b'p' => len(4, "FS p", Op::Other),
        b'(' => {
            need!(h, 3);
            let (name, op) = match h[2] {
                b'A' => ("FS ( A", Op::Other),
                b'C' => ("FS ( C", Op::EncodingSystem),
                b'E' => ("FS ( E", Op::Other),
                b'L' => ("FS ( L", Op::Other),
                b'e' => ("FS ( e", Op::Other),
                b'f' => ("FS ( f", Op::Other),
                b'g' => ("FS ( g", Op::Other),
                _ => return unknown(),
            };
            need!(h, 5);
            let total = 5 + n16(h[3], h[4]);
            if h[2] == b'A' && total >= 7 {
                // The Kanji font (fn 48) changes the size of later FS 2 glyphs.
                need!(h, 7);
            }
            len(total, name, op)
        }
        b'q' => {
            need!(h, 3);
            data_body(
                Body::Blocks {
                    count: u32::from(h[2]),
                    rule: BlockRule::NvImage,
                },
                "FS q",
                DataKind::Image,
                3,
            )
        }
        b'2' => {
            let glyph = match mode.kanji_font {
                1 => 60,
                2 => 32,
                _ => 72,
            };
            data(4 + glyph, "FS 2", DataKind::Glyphs, 4)
        }
        b'g' => {
            need!(h, 3);
            match h[2] {
                1 | b'1' => {
                    need!(h, 10);
                    len(10 + n16(h[8], h[9]), "FS g", Op::Other)
                }
                2 | b'2' => query(10, "FS g", QueryKind::Ordered),
                _ => malformed(3, "FS g"),
            }
        }
        b'a' => {
            need!(h, 3);
            match h[2] {
                0 | b'0' => len(4, "FS a", Op::Other),
                1 | 2 | b'1' | b'2' => len(3, "FS a", Op::Other),
                _ => malformed(3, "FS a"),
            }
        }
        _ => unknown(),
    }
}
