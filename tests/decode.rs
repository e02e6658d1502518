//! The text model: code pages through the profile's table, `ESC R` sets, UTF-8, switches
//! mid-line, formatting inside words, and logical lines whose characters map back to bytes.

use slipguard::core::profile::Profile;
use slipguard::core::text::{lines, LineEnd};
use slipguard::profiles::Profiles;

/// A test profile whose `ESC t n` (or Star `ESC GS t n`) table is `table`.
fn profile(dialect: &str, table: &[(u8, &str)]) -> Profile {
    let mut t = String::new();
    for (n, enc) in table {
        t.push_str(&format!("{n} = \"{enc}\"\n"));
    }
    let text = format!(
        r#"vendor = "Test"
model = "T"
dialect = "{dialect}"
dpi = 203
[paper]
width_mm = 80
print_width_mm = 72
print_width_dots = 576
[columns]
font_a = 48
font_b = 64
[code_pages]
default = {default}
[code_pages.table]
{t}
[cut]
full = true
partial = true
[codes_2d]
qr = true
pdf417 = true
[back_channel]
style = "none"
"#,
        default = table[0].0
    );
    Profile::from_toml("test", "test.toml", &text).expect("test profile")
}

fn text_of(p: &Profile, job: &[u8]) -> Vec<String> {
    lines(p, job).iter().map(|l| l.text.to_string()).collect()
}

#[test]
fn every_listed_code_page_decodes_through_the_profile_table() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("cp437", &[0x81, 0x9C, 0xE1], "ü£ß"),
        ("cp850", &[0x90, 0xA4, 0xD5], "Éñı"),
        ("cp852", &[0x9D, 0x98, 0xA5], "Łśą"),
        ("cp858", &[0xD5, 0x90], "€É"),
        ("cp860", &[0x84, 0x94], "ãõ"),
        ("cp863", &[0x84, 0x87], "Âç"),
        ("cp865", &[0x9B, 0x9D], "øØ"),
        ("cp866", &[0x80, 0xA0], "Аа"),
        ("cp1250", &[0x8A, 0xB9], "Šą"),
        ("cp1251", &[0xC0, 0xFF], "Ая"),
        ("cp1252", &[0x80, 0xE9], "€é"),
        ("iso8859-2", &[0xA3, 0xB1], "Łą"),
        ("iso8859-15", &[0xA4, 0xBD], "€œ"),
    ];
    // Table numbers chosen so that none equals its position in this list.
    let table: Vec<(u8, &str)> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (40 + i as u8, c.0))
        .collect();
    let p = profile("escpos", &table);
    for (i, (name, bytes, want)) in cases.iter().enumerate() {
        let mut job = vec![0x1B, b't', 40 + i as u8, b'<'];
        job.extend_from_slice(bytes);
        job.push(b'>');
        assert_eq!(text_of(&p, &job), [format!("<{want}>")], "{name}");
    }
}

#[test]
fn star_numbering_goes_through_esc_gs_t() {
    let p = profile("star-line", &[(1, "cp437"), (32, "cp1252")]);
    let job = b"\x1b\x1dt\x20caf\xe9\n\x1b\x1dt\x01caf\x82\n";
    assert_eq!(text_of(&p, job), ["café", "café"]);
    // In the Star dialect ESC t is no command: two unknown bytes, then text.
    assert_eq!(text_of(&p, b"\x1bt\x20x\n"), [" x"]);
}

#[test]
fn star_escpos_emulation_honours_both_numberings() {
    let p = Profiles::new(None).load("star-tsp100-escpos").unwrap();
    let star_n = p
        .code_pages
        .star_table
        .as_ref()
        .and_then(|t| t.iter().find(|(_, e)| e.name() == "cp1252"))
        .map(|(n, _)| *n)
        .expect("tsp100 star table has cp1252");
    let epson_n = p
        .code_pages
        .table
        .iter()
        .find(|(_, e)| e.name() == "cp1252")
        .map(|(n, _)| *n)
        .expect("tsp100 table has cp1252");
    let job = [
        &[0x1B, 0x1D, b't', star_n][..],
        b"\xe9\n",
        &[0x1B, b't', epson_n],
        b"\xe9\n",
    ]
    .concat();
    assert_eq!(text_of(&p, &job), ["é", "é"]);
}

#[test]
fn international_sets_replace_ascii_positions() {
    let p = profile("escpos", &[(0, "cp437")]);
    assert_eq!(text_of(&p, b"\x1bR\x02M}ller\n"), ["Müller"]);
    assert_eq!(text_of(&p, b"\x1bR\x01caf{\n"), ["café"]);
    assert_eq!(text_of(&p, b"\x1bR\x03#5\n"), ["£5"]);
    // An unknown set is ignored, as the printer ignores it; ESC @ restores the default.
    assert_eq!(text_of(&p, b"\x1bR\x02\x1bR\xc8}\n\x1b@}\n"), ["ü", "}"]);
}

#[test]
fn utf8_selected_by_fs_paren_c() {
    let p = profile("escpos", &[(0, "cp437")]);
    let job = "\x1c(C\x02\x000\x02Zoë Łukasz 📚\n".as_bytes();
    let l = lines(&p, job);
    let line = l.get(0).unwrap();
    assert_eq!(line.text, "Zoë Łukasz 📚");
    // 'ë' is two bytes, the book four.
    let e = line.chars.at(2);
    assert_eq!((e.start(), e.len()), (9, 2));
    assert_eq!(line.chars.last().unwrap().len(), 4);
    // Invalid UTF-8 reads as U+FFFD byte by byte; back to single-byte with m = 1.
    let bad = b"\x1c(C\x02\x000\x02a\xff\xc3b\n\x1c(C\x02\x000\x01\x81\n";
    assert_eq!(text_of(&p, bad), ["a\u{FFFD}\u{FFFD}b", "ü"]);
}

#[test]
fn code_page_switches_mid_line_keep_one_line() {
    let p = profile("escpos", &[(0, "cp437"), (16, "cp1252"), (18, "cp852")]);
    // "Zoë Łukasz" as python-escpos sends it: switching tables inside the line.
    let job = b"Zo\x1bt\x10\xeb \x1bt\x12\x9dukasz\n";
    let l = lines(&p, job);
    let line = l.get(0).unwrap();
    assert_eq!(line.text, "Zoë Łukasz");
    assert_eq!(line.chars.at(2).start(), 5); // ë after ESC t 16
    assert_eq!(line.chars.at(4).start(), 10); // Ł after ESC t 18
    assert_eq!(l.len(), 1);
}

#[test]
fn names_split_by_formatting_are_one_line_and_map_to_their_bytes() {
    let p = profile("escpos", &[(0, "cp437")]);
    let job = b"Checked out to: J\x1bE\x01ames Whitf\x1bE\x00ield\n";
    let l = lines(&p, job);
    let line = l.get(0).unwrap();
    assert_eq!(line.text, "Checked out to: James Whitfield");
    // Every character points at exactly its own byte, and the bold commands are in none.
    for (c, src) in line.text.chars().zip(line.chars) {
        assert_eq!(src.len(), 1);
        assert_eq!(job[src.start() as usize] as char, c);
    }
    let name_start = line.chars.at(16).start() as usize;
    let name_end = line.chars.last().unwrap().end() as usize;
    assert_eq!(
        &job[name_start..name_end],
        b"J\x1bE\x01ames Whitf\x1bE\x00ield"
    );

    // A card number split by underline commands.
    let card = b"Card: 2147\x1b-\x012000\x1b-\x00358610\n";
    assert_eq!(text_of(&p, card), ["Card: 21472000358610"]);
}

#[test]
fn line_ends_feeds_cuts_and_the_display() {
    let p = profile("escpos", &[(0, "cp437")]);
    let job = b"one\r\ntwo\x1bd\x02\n\nthree\x1dV\x00four\x1b=\x02shown on display\x1b=\x01five";
    let l = lines(&p, job);
    let got: Vec<(&str, LineEnd, bool)> = l.iter().map(|x| (x.text, x.end, x.printed)).collect();
    assert_eq!(
        got,
        [
            ("one", LineEnd::LineFeed, true),
            ("two", LineEnd::Feed, true),
            ("", LineEnd::LineFeed, true),
            ("", LineEnd::LineFeed, true),
            ("three", LineEnd::Cut, true),
            ("four", LineEnd::Target, true),
            ("shown on display", LineEnd::Target, false),
            ("five", LineEnd::EndOfJob, true),
        ]
    );
}

#[test]
fn an_unmapped_table_fails_closed_on_high_bytes() {
    let p = profile("escpos", &[(0, "cp437")]);
    // Table 11 (PC851) is not in the profile: its letters cannot be known.
    assert_eq!(
        text_of(&p, b"\x1bt\x0bAB\xe0\xe1\n"),
        ["AB\u{FFFD}\u{FFFD}"]
    );
}

#[test]
fn tabs_are_characters_of_the_line() {
    let p = profile("escpos", &[(0, "cp437")]);
    assert_eq!(text_of(&p, b"Name:\tAna\n"), ["Name:\tAna"]);
}

#[test]
fn line_debug_shows_sizes_only() {
    let p = profile("escpos", &[(0, "cp437")]);
    let l = lines(&p, b"Checked out to: Canary Zyxwvut\n");
    let dbg = format!("{:?} {:?}", l, l.get(0).unwrap());
    assert!(!dbg.contains("Canary") && !dbg.contains("Zyxwvut"), "{dbg}");
    assert!(dbg.contains("30"), "{dbg}");
}
