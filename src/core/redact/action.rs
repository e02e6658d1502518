//! Actions: what to print instead of a patron value. Detectors decide *what* is patron data
//! (see `detect`); an action decides *what to write instead*, independent of the kind.
//!
//! An action turns the value's characters into output characters, each either a character
//! kept from the value (printed with its original bytes) or an ASCII replacement.

use std::fmt;

/// What to print instead of a detected value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep the last N letters/digits, mask the others with `*` (separators stay).
    KeepLast(usize),
    /// Keep the first N letters/digits, mask the others.
    KeepFirst(usize),
    /// Each word's initial and a period: `M. K. O.`.
    Initials,
    /// The first N letters of the surname in capitals and the first initial: `OKON M`.
    SurnamePrefix(usize),
    /// Every letter and digit becomes `*`; punctuation and spaces stay.
    Mask,
    /// Nothing at all.
    Drop,
    /// Fixed ASCII text.
    Replace(String),
}

impl Action {
    /// Parse `keep-last:4`, `initials`, `replace:TEXT`, …
    pub fn parse(s: &str) -> Result<Action, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a)),
            None => (s.trim(), None),
        };
        let num = |a: Option<&str>| -> Result<usize, String> {
            let a = a.ok_or_else(|| format!("`{name}` needs a number, as in `{name}:4`"))?;
            a.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| format!("`{name}:{a}`: the number must be 1-64"))
        };
        let no_arg = |a: Option<&str>, act: Action| match a {
            None => Ok(act),
            Some(_) => Err(format!("`{name}` takes no argument")),
        };
        match name {
            "keep-last" => Ok(Action::KeepLast(num(arg)?)),
            "keep-first" => Ok(Action::KeepFirst(num(arg)?)),
            "surname-prefix" => Ok(Action::SurnamePrefix(num(arg)?)),
            "initials" => no_arg(arg, Action::Initials),
            "mask" => no_arg(arg, Action::Mask),
            "drop" => no_arg(arg, Action::Drop),
            "replace" => {
                let t = arg.ok_or("`replace` needs text, as in `replace:PATRON`")?;
                if !t.bytes().all(|b| (0x20..0x7F).contains(&b)) {
                    return Err("`replace:` text must be printable ASCII".into());
                }
                Ok(Action::Replace(t.to_string()))
            }
            _ => Err(format!(
                "unknown action `{name}` (known: keep-last:N, keep-first:N, initials, \
                 surname-prefix:N, mask, drop, replace:TEXT)"
            )),
        }
    }

    /// Would this action print something other than `value`? (False for a value already in
    /// its redacted form, such as `OKON M` under `surname-prefix:4`.)
    pub fn changes(&self, value: &[char]) -> bool {
        let mut out = Vec::new();
        self.apply_into(value, &mut out);
        changed(value, &out)
    }

    /// The output for a value whose characters are `value`.
    pub fn apply(&self, value: &[char]) -> Vec<Out> {
        let mut out = Vec::new();
        self.apply_into(value, &mut out);
        out
    }

    /// [`Action::apply`] into a buffer the caller reuses (cleared first).
    pub fn apply_into(&self, value: &[char], out: &mut Vec<Out>) {
        out.clear();
        let alnum = |c: &char| c.is_alphanumeric();
        match self {
            Action::KeepLast(n) | Action::KeepFirst(n) => {
                let total = value.iter().filter(|c| alnum(c)).count();
                let mut seen = 0;
                out.extend(value.iter().enumerate().map(|(i, c)| {
                    if !alnum(c) {
                        return Out::Keep(i);
                    }
                    seen += 1;
                    let keep = match self {
                        Action::KeepLast(_) => seen + n > total,
                        _ => seen <= *n,
                    };
                    if keep {
                        Out::Keep(i)
                    } else {
                        Out::Ascii(b'*')
                    }
                }))
            }
            Action::Mask => out.extend(value.iter().enumerate().map(|(i, c)| {
                if alnum(c) {
                    Out::Ascii(b'*')
                } else {
                    Out::Keep(i)
                }
            })),
            Action::Initials => {
                for (start, _) in words(value) {
                    if !out.is_empty() {
                        out.push(Out::Ascii(b' '));
                    }
                    out.push(Out::Keep(start));
                    out.push(Out::Ascii(b'.'));
                }
            }
            Action::SurnamePrefix(n) => surname_prefix(value, *n, out),
            Action::Drop => {}
            Action::Replace(t) => out.extend(t.bytes().map(Out::Ascii)),
        }
    }
}

/// Is `out` (an action's output for `value`) something other than `value` itself? A value
/// that is the output and a period (`OKON M.`: a redacted name at the end of a sentence) is
/// the output too.
pub fn changed(value: &[char], out: &[Out]) -> bool {
    let same = |value: &[char]| {
        out.len() == value.len()
            && out.iter().enumerate().all(|(k, o)| match o {
                Out::Keep(j) => value.get(*j) == Some(&value[k]),
                Out::Ascii(b) => value[k] == char::from(*b),
            })
    };
    !(same(value) || value.last() == Some(&'.') && same(&value[..value.len() - 1]))
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KeepLast(n) => write!(f, "keep-last:{n}"),
            Action::KeepFirst(n) => write!(f, "keep-first:{n}"),
            Action::Initials => f.write_str("initials"),
            Action::SurnamePrefix(n) => write!(f, "surname-prefix:{n}"),
            Action::Mask => f.write_str("mask"),
            Action::Drop => f.write_str("drop"),
            Action::Replace(t) => write!(f, "replace:{t}"),
        }
    }
}

/// One output character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// The value's character at this index, with its original bytes.
    Keep(usize),
    /// An ASCII replacement character.
    Ascii(u8),
}

/// Word starts and lengths (letters and digits, with inner apostrophes and hyphens).
fn words(value: &[char]) -> impl Iterator<Item = (usize, usize)> + Clone + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < value.len() && !value[i].is_alphanumeric() {
            i += 1;
        }
        if i == value.len() {
            return None;
        }
        let s = i;
        while i < value.len()
            && (value[i].is_alphanumeric()
                || (matches!(value[i], '\'' | '’' | '-')
                    && value.get(i + 1).is_some_and(|c| c.is_alphanumeric())))
        {
            i += 1;
        }
        Some((s, i - s))
    })
}

/// `Okonkwo, Marisol` / `Marisol Okonkwo` / `OKON M` → `OKON M`; the prefix takes letters
/// only.
fn surname_prefix(value: &[char], n: usize, out: &mut Vec<Out>) {
    let comma = value.iter().position(|&c| c == ',');
    let all = words(value);
    let (surname, first) = match comma {
        Some(c) => (
            all.clone().take_while(|w| w.0 < c).last(),
            all.clone().find(|w| w.0 > c),
        ),
        None => {
            let mut it = all.clone();
            let head = it.next();
            match (head, it.last()) {
                (None, _) => (None, None),
                (Some(only), None) => (Some(only), None),
                // Already in this form (`OKON M`): surname first, then a lone initial.
                (Some(head), Some(last)) if last.1 == 1 => (Some(head), Some(last)),
                (Some(head), Some(last)) => (Some(last), Some(head)),
            }
        }
    };
    if let Some((s, len)) = surname {
        // Letters only: `Ngu-Nguyen` → `NGUN`, `O'Brien` → `OBRI` (a hyphen kept at the end
        // of the prefix would read as part of another name when redacted again).
        for i in (s..s + len).filter(|&i| value[i].is_alphabetic()).take(n) {
            out.push(upper(value, i));
        }
    }
    if let Some((s, _)) = first {
        if !out.is_empty() {
            out.push(Out::Ascii(b' '));
        }
        out.push(upper(value, s));
    }
}

/// A letter in capitals: ASCII as ASCII, a lower-case accented letter as its unaccented
/// capital (`ś` → `S`), anything else kept as it is.
fn upper(value: &[char], i: usize) -> Out {
    let c = value[i];
    if c.is_ascii_lowercase() {
        Out::Ascii(c.to_ascii_uppercase() as u8)
    } else if c.is_lowercase() && fold(c) != b'*' {
        Out::Ascii(fold(c).to_ascii_uppercase())
    } else {
        Out::Keep(i)
    }
}

/// The unaccented ASCII letter for a Latin letter (`Ó` → `O`); `*` when there is none.
pub(crate) fn fold(c: char) -> u8 {
    match c {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => b'A',
        'à'..='å' | 'ā' | 'ă' | 'ą' => b'a',
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => b'C',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => b'c',
        'Ď' | 'Đ' => b'D',
        'ď' | 'đ' => b'd',
        'È'..='Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => b'E',
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => b'e',
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => b'G',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => b'g',
        'Ì'..='Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => b'I',
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => b'i',
        'Ł' | 'Ĺ' | 'Ļ' | 'Ľ' => b'L',
        'ł' | 'ĺ' | 'ļ' | 'ľ' => b'l',
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => b'N',
        'ñ' | 'ń' | 'ņ' | 'ň' => b'n',
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => b'O',
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => b'o',
        'Ŕ' | 'Ŗ' | 'Ř' => b'R',
        'ŕ' | 'ŗ' | 'ř' => b'r',
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => b'S',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ß' => b's',
        'Ţ' | 'Ť' => b'T',
        'ţ' | 'ť' => b't',
        'Ù'..='Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => b'U',
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => b'u',
        'Ý' | 'Ÿ' => b'Y',
        'ý' | 'ÿ' => b'y',
        'Ź' | 'Ż' | 'Ž' => b'Z',
        'ź' | 'ż' | 'ž' => b'z',
        _ => b'*',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_maps_every_listed_letter() {
        const MAP: &[(&str, u8)] = &[
            ("ÀÁÂÃÄÅĀĂĄ", b'A'),
            ("àáâãäåāăą", b'a'),
            ("ÇĆĈĊČ", b'C'),
            ("çćĉċč", b'c'),
            ("ĎĐ", b'D'),
            ("ďđ", b'd'),
            ("ÈÉÊËĒĔĖĘĚ", b'E'),
            ("èéêëēĕėęě", b'e'),
            ("ĜĞĠĢ", b'G'),
            ("ĝğġģ", b'g'),
            ("ÌÍÎÏĨĪĬĮİ", b'I'),
            ("ìíîïĩīĭįı", b'i'),
            ("ŁĹĻĽ", b'L'),
            ("łĺļľ", b'l'),
            ("ÑŃŅŇ", b'N'),
            ("ñńņň", b'n'),
            ("ÒÓÔÕÖØŌŎŐ", b'O'),
            ("òóôõöøōŏő", b'o'),
            ("ŔŖŘ", b'R'),
            ("ŕŗř", b'r'),
            ("ŚŜŞŠ", b'S'),
            ("śŝşšß", b's'),
            ("ŢŤ", b'T'),
            ("ţť", b't'),
            ("ÙÚÛÜŨŪŬŮŰŲ", b'U'),
            ("ùúûüũūŭůűų", b'u'),
            ("ÝŸ", b'Y'),
            ("ýÿ", b'y'),
            ("ŹŻŽ", b'Z'),
            ("źżž", b'z'),
        ];
        for c in '\u{80}'..='\u{24F}' {
            let want = MAP
                .iter()
                .find(|(set, _)| set.contains(c))
                .map_or(b'*', |(_, a)| *a);
            assert_eq!(fold(c), want, "{c}");
        }
        assert_eq!(fold('ñ'), b'n');
        assert_eq!(fold('Ж'), b'*');
    }

    fn show(a: &Action, s: &str) -> String {
        let v: Vec<char> = s.chars().collect();
        a.apply(&v)
            .iter()
            .map(|o| match o {
                Out::Keep(i) => v[*i],
                Out::Ascii(b) => *b as char,
            })
            .collect()
    }

    #[test]
    fn actions_do_what_design_says() {
        assert_eq!(
            show(&Action::KeepLast(4), "21472000343455"),
            "**********3455"
        );
        assert_eq!(
            show(&Action::KeepLast(4), "2 1472 00034 3455"),
            "* **** ***** 3455"
        );
        assert_eq!(show(&Action::KeepFirst(2), "AB1234"), "AB****");
        assert_eq!(show(&Action::Initials, "Marisol Kim Okonkwo"), "M. K. O.");
        assert_eq!(show(&Action::Initials, "Anne-Marie O'Brien"), "A. O.");
        assert_eq!(show(&Action::SurnamePrefix(4), "Marisol Okonkwo"), "OKON M");
        assert_eq!(
            show(&Action::SurnamePrefix(4), "Okonkwo, Marisol"),
            "OKON M"
        );
        assert_eq!(show(&Action::SurnamePrefix(4), "OKON M"), "OKON M");
        assert_eq!(show(&Action::SurnamePrefix(4), "Ann Ngu-Nguyen"), "NGUN A");
        assert_eq!(show(&Action::SurnamePrefix(4), "O'Brien, Seamus"), "OBRI S");
        assert_eq!(show(&Action::SurnamePrefix(4), "Ødegård, Ana"), "ØDEG A");
        assert_eq!(
            show(&Action::SurnamePrefix(4), "Łukasz Wiśniewski"),
            "WISN Ł"
        );
        assert_eq!(
            show(&Action::Mask, "m.okonkwo@example.org"),
            "*.*******@*******.***"
        );
        assert_eq!(show(&Action::Mask, "(785) 555-0142"), "(***) ***-****");
        assert_eq!(show(&Action::Drop, "abc"), "");
        assert_eq!(show(&Action::Replace("PATRON".into()), "abc"), "PATRON");
    }

    #[test]
    fn actions_are_idempotent() {
        for (a, s) in [
            (Action::KeepLast(4), "21472000343455"),
            (Action::Initials, "Marisol Kim Okonkwo"),
            (Action::SurnamePrefix(4), "Okonkwo, Marisol"),
            (Action::Mask, "m.okonkwo@example.org"),
        ] {
            let once = show(&a, s);
            assert_eq!(show(&a, &once), once, "{a}");
        }
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "keep-last:4",
            "keep-first:2",
            "initials",
            "surname-prefix:4",
            "mask",
            "drop",
            "replace:PATRON",
        ] {
            assert_eq!(Action::parse(s).unwrap().to_string(), s);
        }
        assert!(Action::parse("keep-last").is_err());
        assert!(Action::parse("keep-last:0").is_err());
        assert!(Action::parse("initials:3").is_err());
        assert!(Action::parse("shred")
            .unwrap_err()
            .contains("unknown action"));
        assert!(Action::parse("replace:é").is_err());
    }
}
