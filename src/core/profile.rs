//! Printer profiles: what one printer model speaks and prints.
//!
//! Owns parsing and checking a profile's TOML text in two layers (raw serde with unknown
//! keys denied → checked [`Profile`]); every error names the file and line. Must not read
//! files: [`crate::profiles`] finds and reads them.

pub use super::source::{line_col, SourceError};
use super::text::codepage::Encoding;
use super::tokenize::{Dialect, Options};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A checked printer profile.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The file name without `.toml`, such as `epson-tm-t88v`.
    pub name: String,
    pub vendor: String,
    pub model: String,
    pub dialect: Dialect,
    pub dpi: u32,
    pub paper: Paper,
    pub columns: Columns,
    pub code_pages: CodePages,
    pub cut: Cut,
    pub codes_2d: Codes2d,
    pub back_channel: BackChannel,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Paper {
    pub width_mm: u32,
    pub print_width_mm: u32,
    pub print_width_dots: u32,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub font_a: u32,
    pub font_b: u32,
    pub font_c: Option<u32>,
}

/// Code tables by the number the printer's own command uses.
#[derive(Clone, Debug)]
pub struct CodePages {
    /// The table in force after power-on and `ESC @`.
    pub default: u8,
    /// The `ESC R` international set in force after power-on.
    pub international: u8,
    /// `ESC t n` (ESC/POS) or `ESC GS t n` (Star Line) → encoding.
    pub table: BTreeMap<u8, Encoding>,
    /// Star printers in ESC/POS emulation: Star's `ESC GS t n` numbering, honoured as well.
    pub star_table: Option<BTreeMap<u8, Encoding>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cut {
    pub full: bool,
    pub partial: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Codes2d {
    pub qr: bool,
    pub pdf417: bool,
    #[serde(default)]
    pub datamatrix: bool,
    #[serde(default)]
    pub aztec: bool,
    #[serde(default)]
    pub maxicode: bool,
    #[serde(default)]
    pub gs1_databar: bool,
}

/// How the printer talks back.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackChannel {
    /// One-way: queries are never answered.
    None,
    /// Answers `DLE EOT` / `DLE ENQ` real-time status.
    DleEot,
    /// Epson: real-time status plus automatic status back (`GS a`).
    Asb,
    /// Star: `ENQ`/`EOT` plus Star automatic status (`ESC RS a`).
    StarAsb,
}

impl Profile {
    /// Tokenizer options this profile implies.
    pub fn tokenizer_options(&self) -> Options {
        Options {
            star_code_page_in_escpos: self.dialect == Dialect::EscPos
                && self.code_pages.star_table.is_some(),
            ..Options::default()
        }
    }

    /// Parse and check a profile. `name` is the profile's name (its file stem); `origin`
    /// names where the text came from in error messages (a path, or `builtin:NAME.toml`).
    pub fn from_toml(name: &str, origin: &str, text: &str) -> Result<Profile, ProfileError> {
        let err = |span: Option<std::ops::Range<usize>>, msg: String| {
            let (line, col) = span.map_or((0, 0), |s| line_col(text, s.start));
            ProfileError {
                origin: origin.to_string(),
                line,
                col,
                msg,
            }
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            err(e.span(), msg)
        })?;
        let table = |t: &BTreeMap<Spanned<String>, Spanned<String>>,
                     what: &str|
         -> Result<BTreeMap<u8, Encoding>, ProfileError> {
            let mut out = BTreeMap::new();
            for (k, v) in t {
                let n: u8 = k.get_ref().parse().map_err(|_| {
                    err(
                        Some(k.span()),
                        format!("{what}: key `{}` is not a table number 0-255", k.get_ref()),
                    )
                })?;
                let enc = Encoding::by_name(v.get_ref()).ok_or_else(|| {
                    err(
                        Some(v.span()),
                        format!(
                            "{what}: unknown encoding `{}` (known: {})",
                            v.get_ref(),
                            Encoding::names().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                out.insert(n, enc);
            }
            Ok(out)
        };
        let cp = &raw.code_pages;
        let main = table(cp.table.get_ref(), "code_pages.table")?;
        if main.is_empty() {
            return Err(err(
                Some(cp.table.span()),
                "code_pages.table is empty".into(),
            ));
        }
        let default = *cp.default.get_ref();
        if !main.contains_key(&default) {
            return Err(err(
                Some(cp.default.span()),
                format!("code_pages.default = {default} is not in code_pages.table"),
            ));
        }
        let star_table = match &cp.star_table {
            Some(t) => Some(table(t, "code_pages.star_table")?),
            None => None,
        };
        let international = cp.international.as_ref().map_or(0, |s| *s.get_ref());
        if !super::text::intl::is_known(international) {
            let span = cp.international.as_ref().map(|s| s.span());
            return Err(err(
                span,
                format!("code_pages.international = {international} is not a known set"),
            ));
        }
        for (what, v) in [
            ("dpi", &raw.dpi),
            ("paper.width_mm", &raw.paper.width_mm),
            ("paper.print_width_mm", &raw.paper.print_width_mm),
            ("paper.print_width_dots", &raw.paper.print_width_dots),
            ("columns.font_a", &raw.columns.font_a),
            ("columns.font_b", &raw.columns.font_b),
        ] {
            if *v.get_ref() == 0 {
                return Err(err(Some(v.span()), format!("{what} must be above 0")));
            }
        }
        if raw.paper.print_width_mm.get_ref() > raw.paper.width_mm.get_ref() {
            return Err(err(
                Some(raw.paper.print_width_mm.span()),
                "paper.print_width_mm is wider than the paper".into(),
            ));
        }
        Ok(Profile {
            name: name.to_string(),
            vendor: raw.vendor,
            model: raw.model,
            dialect: raw.dialect,
            dpi: raw.dpi.into_inner(),
            paper: Paper {
                width_mm: raw.paper.width_mm.into_inner(),
                print_width_mm: raw.paper.print_width_mm.into_inner(),
                print_width_dots: raw.paper.print_width_dots.into_inner(),
            },
            columns: Columns {
                font_a: raw.columns.font_a.into_inner(),
                font_b: raw.columns.font_b.into_inner(),
                font_c: raw.columns.font_c,
            },
            code_pages: CodePages {
                default,
                international,
                table: main,
                star_table,
            },
            cut: raw.cut,
            codes_2d: raw.codes_2d,
            back_channel: raw.back_channel.style,
        })
    }
}

/// A profile that could not be loaded: where, and what was wrong.
pub type ProfileError = SourceError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    vendor: String,
    model: String,
    dialect: Dialect,
    dpi: Spanned<u32>,
    paper: RawPaper,
    columns: RawColumns,
    code_pages: RawCodePages,
    cut: Cut,
    codes_2d: Codes2d,
    back_channel: RawBackChannel,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaper {
    width_mm: Spanned<u32>,
    print_width_mm: Spanned<u32>,
    print_width_dots: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumns {
    font_a: Spanned<u32>,
    font_b: Spanned<u32>,
    font_c: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodePages {
    default: Spanned<u8>,
    international: Option<Spanned<u8>>,
    table: Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    star_table: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackChannel {
    style: BackChannel,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"vendor = "Test"
model = "T-1"
dialect = "escpos"
dpi = 203

[paper]
width_mm = 80
print_width_mm = 72
print_width_dots = 576

[columns]
font_a = 48
font_b = 64

[code_pages]
default = 0

[code_pages.table]
0 = "cp437"
16 = "cp1252"

[cut]
full = true
partial = true

[codes_2d]
qr = true
pdf417 = false

[back_channel]
style = "dle-eot"
"#;

    #[test]
    fn parses_a_good_profile() {
        let p = Profile::from_toml("t", "t.toml", GOOD).unwrap();
        assert_eq!(p.code_pages.table[&16].name(), "cp1252");
        assert_eq!(p.back_channel, BackChannel::DleEot);
        assert_eq!(p.dialect, Dialect::EscPos);
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let bad = GOOD.replace("dpi = 203", "dpi = 203\ncolour = true");
        let e = Profile::from_toml("t", "dir/t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.to_string().starts_with("dir/t.toml:5:"), "{e}");
        assert!(e.msg.contains("colour"), "{e}");
    }

    #[test]
    fn unknown_encoding_points_at_its_value() {
        let bad = GOOD.replace("16 = \"cp1252\"", "16 = \"cp9999\"");
        let e = Profile::from_toml("t", "t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 20, "{e}");
        assert!(e.msg.contains("cp9999"), "{e}");
    }

    #[test]
    fn default_must_be_in_table() {
        let bad = GOOD.replace("default = 0", "default = 5");
        let e = Profile::from_toml("t", "t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
    }

    #[test]
    fn empty_table_names_its_line() {
        let bad = GOOD.replace("0 = \"cp437\"\n16 = \"cp1252\"\n", "");
        let e = Profile::from_toml("t", "t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 18, "{e}");
        assert!(e.to_string().starts_with("t.toml:18:"), "{e}");
    }

    #[test]
    fn bad_dialect_is_refused() {
        let bad = GOOD.replace("\"escpos\"", "\"zpl\"");
        let e = Profile::from_toml("t", "t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }
}
