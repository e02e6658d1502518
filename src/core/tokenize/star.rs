//! The Star Line Mode command table (TSP650/700/800, SP700).
//!
//! Star reuses bytes that mean something else in ESC/POS (`ESC E`, `ESC p`, `ESC d`,
//! `ESC a`, `FS`), so it has a table of its own. `ESC GS` is a prefix here; in raster mode
//! `b` and `k` start raster lines.

use super::escpos::{data, data_body, len, malformed, query, unknown};
use super::{
    control_name, n16, BlockRule, Body, Class, Cmd, DataKind, Mode, Op, QueryKind, TokenKind,
};

const ESC: u8 = 0x1B;
const RS: u8 = 0x1E;

/// A byte below 0x20 that starts no multi-byte command.
pub(super) fn single(b: u8) -> TokenKind {
    let op = match b {
        0x05 | 0x04 => {
            return TokenKind::Query {
                cmd: Cmd {
                    name: control_name(b),
                    op: Op::Other,
                },
                kind: QueryKind::RealTime,
            }
        }
        0x07 | 0x1C | 0x1A | 0x19 => Op::Drawer,
        0x0E => Op::DoubleWidthOn,
        0x14 => Op::DoubleWidthOff,
        0x0F | 0x12 => Op::Other, // upside-down on / off
        _ => return TokenKind::Control(b),
    };
    TokenKind::Command(Cmd {
        name: control_name(b),
        op,
    })
}

pub(super) fn classify(h: &[u8], mode: &Mode) -> Class {
    if h[0] != ESC {
        // Raster line inside raster mode: `b n1 n2 data` or `k n1 n2 data`.
        need!(h, 3);
        let name = if h[0] == b'b' { "raster b" } else { "raster k" };
        return data(3 + n16(h[1], h[2]), name, DataKind::Image, 3);
    }
    need!(h, 2);
    match h[1] {
        b'@' => len(2, "ESC @", Op::Init),
        b'E' => len(2, "ESC E", Op::BoldOn),
        b'F' => len(2, "ESC F", Op::BoldOff),
        b'4' => len(2, "ESC 4", Op::ReverseOn),
        b'5' => len(2, "ESC 5", Op::ReverseOff),
        0x0E => len(2, "ESC SO", Op::DoubleHeightOn),
        0x14 => len(2, "ESC DC4", Op::DoubleHeightOff),
        b'M' => len(2, "ESC M", Op::Other),
        b'P' => len(2, "ESC P", Op::Other),
        b':' => len(2, "ESC :", Op::Other),
        b'g' => len(2, "ESC g", Op::Other),
        b'0' => len(2, "ESC 0", Op::Other),
        b'p' => len(2, "ESC p", Op::KanjiOn),
        b'q' => len(2, "ESC q", Op::KanjiOff),
        b'-' => len(3, "ESC -", Op::Underline),
        b'_' => len(3, "ESC _", Op::Other),
        b'W' => len(3, "ESC W", Op::StarWidth),
        b'h' => len(3, "ESC h", Op::StarHeight),
        b'd' => {
            need!(h, 3);
            match h[2] {
                0..=3 | b'0'..=b'3' => len(3, "ESC d", Op::Cut),
                _ => malformed(3, "ESC d"),
            }
        }
        b'a' => len(3, "ESC a", Op::Feed),
        b'J' => len(3, "ESC J", Op::Feed),
        b'I' => len(3, "ESC I", Op::Feed),
        b'z' => len(3, "ESC z", Op::Other),
        b'l' => len(3, "ESC l", Op::Other),
        b'Q' => len(3, "ESC Q", Op::Other),
        b'R' => len(3, "ESC R", Op::IntlSet),
        b'i' => len(4, "ESC i", Op::StarSize),
        0x07 => len(4, "ESC BEL", Op::Drawer),
        RS => {
            need!(h, 3);
            match h[2] {
                b'F' => len(4, "ESC RS F", Op::Other),
                b'a' => len(4, "ESC RS a", Op::AutoStatus),
                _ => unknown(),
            }
        }
        0x1D => esc_gs(h),
        b'b' => {
            need!(h, 6);
            data_body(
                Body::Until {
                    term: RS,
                    max_data: None,
                    star_terminates: false,
                },
                "ESC b",
                DataKind::Barcode,
                6,
            )
        }
        b'K' => {
            need!(h, 4);
            data(4 + n16(h[2], h[3]), "ESC K", DataKind::Image, 4)
        }
        b'X' => {
            need!(h, 4);
            data(4 + 3 * n16(h[2], h[3]), "ESC X", DataKind::Image, 4)
        }
        b'k' => {
            need!(h, 4);
            data(4 + 24 * n16(h[2], h[3]), "ESC k", DataKind::Image, 4)
        }
        b'*' => {
            need!(h, 3);
            if h[2] != b'r' {
                return unknown();
            }
            need!(h, 4);
            match h[3] {
                b'A' => len(4, "ESC * r A", Op::RasterEnter),
                b'B' => len(4, "ESC * r B", Op::RasterExit),
                b'C' => len(4, "ESC * r C", Op::Other),
                _ => Class::Body(
                    Body::Until {
                        term: 0,
                        max_data: None,
                        star_terminates: false,
                    },
                    TokenKind::Command(Cmd {
                        name: "ESC * r",
                        op: Op::Other,
                    }),
                ),
            }
        }
        0x0C if mode.raster => {
            need!(h, 3);
            match h[2] {
                0 | 4 => len(3, "ESC FF", Op::Other),
                _ => malformed(3, "ESC FF"),
            }
        }
        _ => unknown(),
    }
}

/// `ESC GS …`: alignment, position, code page, 2-D codes, raster image, counters.
fn esc_gs(h: &[u8]) -> Class {
    need!(h, 3);
    match h[2] {
        b'a' => len(4, "ESC GS a", Op::Align),
        b'A' => len(5, "ESC GS A", Op::Other),
        b'R' => len(5, "ESC GS R", Op::Other),
        b't' => len(4, "ESC GS t", Op::CodePage),
        0x03 => query(6, "ESC GS ETX", QueryKind::Ordered),
        b'y' => {
            need!(h, 4);
            match h[3] {
                b'S' => len(6, "ESC GS y S", Op::Other),
                b'P' => data(4, "ESC GS y P", DataKind::Code2dPrint, 4),
                b'D' => {
                    need!(h, 5);
                    match h[4] {
                        1 | b'1' => {
                            need!(h, 8);
                            data(8 + n16(h[6], h[7]), "ESC GS y D", DataKind::Code2dStore, 8)
                        }
                        2 | b'2' => {
                            need!(h, 6);
                            data_body(
                                Body::Blocks {
                                    count: u32::from(h[5]),
                                    rule: BlockRule::QrBlock,
                                },
                                "ESC GS y D",
                                DataKind::Code2dStore,
                                6,
                            )
                        }
                        _ => malformed(5, "ESC GS y D"),
                    }
                }
                _ => malformed(4, "ESC GS y"),
            }
        }
        b'x' => {
            need!(h, 4);
            match h[3] {
                b'S' => {
                    need!(h, 5);
                    match h[4] {
                        0 | b'0' => len(8, "ESC GS x S", Op::Other),
                        1..=3 | b'1'..=b'3' => len(6, "ESC GS x S", Op::Other),
                        _ => malformed(5, "ESC GS x S"),
                    }
                }
                b'D' => {
                    need!(h, 6);
                    data(6 + n16(h[4], h[5]), "ESC GS x D", DataKind::Code2dStore, 6)
                }
                b'P' => data(4, "ESC GS x P", DataKind::Code2dPrint, 4),
                _ => malformed(4, "ESC GS x"),
            }
        }
        b'S' => {
            need!(h, 9);
            let n = n16(h[4], h[5]) * n16(h[6], h[7]);
            data(9 + n, "ESC GS S", DataKind::Image, 9)
        }
        _ => unknown(),
    }
}
