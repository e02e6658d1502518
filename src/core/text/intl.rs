//! International character sets (`ESC R n`): twelve ASCII positions print as national letters.
//!
//! Positions replaced: 0x23 0x24 0x40 0x5B 0x5C 0x5D 0x5E 0x60 0x7B 0x7C 0x7D 0x7E. Numbering
//! as in Epson's ESC/POS reference (Star Line uses the same numbers for 0–13). An `n` outside
//! the table is ignored by the printer, and so here.

/// The positions an international set may replace.
const POSITIONS: [u8; 12] = [
    0x23, 0x24, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x60, 0x7B, 0x7C, 0x7D, 0x7E,
];

/// `SETS[n]` lists what each position prints as under set n.
const SETS: [[char; 12]; 17] = [
    // 0 U.S.A.
    ['#', '$', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~'],
    // 1 France
    ['#', '$', 'à', '°', 'ç', '§', '^', '`', 'é', 'ù', 'è', '¨'],
    // 2 Germany
    ['#', '$', '§', 'Ä', 'Ö', 'Ü', '^', '`', 'ä', 'ö', 'ü', 'ß'],
    // 3 U.K.
    ['£', '$', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~'],
    // 4 Denmark I
    ['#', '$', '@', 'Æ', 'Ø', 'Å', '^', '`', 'æ', 'ø', 'å', '~'],
    // 5 Sweden
    ['#', '¤', 'É', 'Ä', 'Ö', 'Å', 'Ü', 'é', 'ä', 'ö', 'å', 'ü'],
    // 6 Italy
    ['#', '$', '@', '°', '\\', 'é', '^', 'ù', 'à', 'ò', 'è', 'ì'],
    // 7 Spain I
    ['₧', '$', '@', '¡', 'Ñ', '¿', '^', '`', '¨', 'ñ', '}', '~'],
    // 8 Japan
    ['#', '$', '@', '[', '¥', ']', '^', '`', '{', '|', '}', '~'],
    // 9 Norway
    ['#', '¤', 'É', 'Æ', 'Ø', 'Å', 'Ü', 'é', 'æ', 'ø', 'å', 'ü'],
    // 10 Denmark II
    ['#', '$', 'É', 'Æ', 'Ø', 'Å', 'Ü', 'é', 'æ', 'ø', 'å', 'ü'],
    // 11 Spain II
    ['#', '$', 'á', '¡', 'Ñ', '¿', 'é', '`', 'í', 'ñ', 'ó', 'ú'],
    // 12 Latin America
    ['#', '$', 'á', '¡', 'Ñ', '¿', 'é', 'ü', 'í', 'ñ', 'ó', 'ú'],
    // 13 Korea
    ['#', '$', '@', '[', '₩', ']', '^', '`', '{', '|', '}', '~'],
    // 14 Slovenia / Croatia
    ['#', '$', 'Ž', 'Š', 'Đ', 'Ć', 'Č', 'ž', 'š', 'đ', 'ć', 'č'],
    // 15 China
    ['#', '¥', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~'],
    // 16 Vietnam
    ['#', '₫', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~'],
];

/// Does the printer accept `n` as an international set?
pub fn is_known(n: u8) -> bool {
    (n as usize) < SETS.len()
}

/// What ASCII byte `b` prints as under set `n` (`None`: the byte is not replaced).
#[inline]
pub fn map(n: u8, b: u8) -> Option<char> {
    if n == 0 {
        return None;
    }
    let set = SETS.get(n as usize)?;
    let i = POSITIONS.iter().position(|&p| p == b)?;
    Some(set[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn germany_reads_braces_as_umlauts() {
        let s: String = b"M}ller"
            .iter()
            .map(|&b| map(2, b).unwrap_or(b as char))
            .collect();
        assert_eq!(s, "Müller");
    }

    #[test]
    fn usa_and_unknown_sets_change_nothing() {
        assert_eq!(map(0, b'}'), None);
        assert_eq!(map(200, b'}'), None);
        assert!(!is_known(200));
    }
}
