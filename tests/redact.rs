//! Redaction through the real path: bytes in, redacted bytes out, decoded again to check
//! what the printer would print. Canary values stand for patron data.

use slipguard::config::Config;
use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::{Kind, Reason, Redactor};
use slipguard::core::text::lines;
use slipguard::core::tokenize::{tokenize, Dialect, TokenKind};
use slipguard::profiles::Profiles;
use std::path::Path;

fn profile(name: &str) -> Profile {
    Profiles::builtin_only().load(name).unwrap()
}

fn redact_with(cfg: RedactConfig, p: &Profile, job: &[u8]) -> (Vec<u8>, Vec<String>) {
    let (out, _) = Redactor::new(cfg).job(p, job).expect("not blocked");
    let text = lines(p, &out).iter().map(|l| l.text.to_string()).collect();
    (out, text)
}

fn redact(job: &[u8]) -> (Vec<u8>, Vec<String>) {
    redact_with(RedactConfig::default(), &profile("generic-80mm"), job)
}

fn has(text: &[String], s: &str) -> bool {
    text.iter().any(|l| l.contains(s))
}

#[test]
fn a_name_split_by_bold_is_found_and_only_its_bytes_change() {
    let job = b"Checked out to: J\x1bE\x01ames Whitf\x1bE\x00ield\n";
    let (out, text) = redact(job);
    assert_eq!(text, ["Checked out to: J. W."]);
    // The bold commands are still there, in order.
    let cmds: Vec<_> = tokenize(Dialect::EscPos, &out)
        .into_iter()
        .filter(|t| t.kind.label() == "command")
        .map(|t| out[t.range_in(0)].to_vec())
        .collect();
    assert_eq!(cmds, [b"\x1bE\x01".to_vec(), b"\x1bE\x00".to_vec()]);
}

#[test]
fn cards_labelled_spaced_split_or_failing_their_check_digit() {
    let job = b"Card: 2147\x1b-\x012000\x1b-\x00358610\n\
Patron barcode: 2 1472 00035 8610\n\
Library card: 21472000358611\n\
(21472-0003-58610)\n\
Ref 21472000358611 paid\n";
    let (out, text) = redact(job);
    assert_eq!(text[0], "Card: **********8610");
    assert_eq!(text[1], "Patron barcode: * **** ***** 8610");
    // Labelled: masked although its check digit fails.
    assert_eq!(text[2], "Library card: **********8611");
    assert_eq!(text[3], "(*****-****-*8610)");
    // Unlabelled and failing its check digit: the Codabar shape is a card all the same (a
    // misprinted card, a site without check digits).
    assert_eq!(text[4], "Ref **********8611 paid");
    assert!(out.windows(3).any(|w| w == b"\x1b-\x01"));
}

#[test]
fn items_isbns_dates_amounts_and_library_contacts_survive() {
    let job = "Checked out to: Marisol Okonkwo\n\
Card number: 21472000358610\n\
1. Red Mars\n\
   Robinson, Kim Stanley\n\
   Item: 31472001205545\n\
   ISBN 9780553560732\n\
   Due: 2026-12-01  Fine: $2.50\n\
Questions? Call (785) 555-0100 or info@elmwood.example.org\n"
        .as_bytes();
    let (_, text) = redact(job);
    for keep in [
        "Red Mars",
        "Robinson, Kim Stanley",
        "31472001205545",
        "9780553560732",
        "2026-12-01",
        "$2.50",
        "(785) 555-0100",
        "info@elmwood.example.org",
    ] {
        assert!(has(&text, keep), "{keep} lost: {text:?}");
    }
    assert!(!has(&text, "Marisol") && !has(&text, "Okonkwo"), "{text:?}");
    assert!(has(&text, "**********8610"), "{text:?}");
}

#[test]
fn a_known_name_is_masked_everywhere_in_the_segment() {
    let job =
        b"Dear Marisol,\nChecked out to: Marisol Okonkwo\nMARISOL, your items are due soon.\n";
    let (_, text) = redact(job);
    assert_eq!(
        text[0], "Dear M.,",
        "no padding before attached punctuation"
    );
    assert_eq!(text[1], "Checked out to: M. O.");
    assert!(text[2].starts_with("M., your items"), "{text:?}");
}

#[test]
fn names_alone_on_a_line_next_to_a_card_or_first() {
    let job = b"Okonkwo, Marisol\nHold\n\nFernandez, Ana\n21472000358610\n1. Red Mars\nRobinson, Kim Stanley\n31472001205545\n";
    let (_, text) = redact(job);
    assert!(
        !has(&text, "Okonkwo") && !has(&text, "Fernandez"),
        "{text:?}"
    );
    assert!(has(&text, "Robinson, Kim Stanley"), "{text:?}");
}

#[test]
fn first_last_names_directly_above_a_card_number_alone() {
    // Names printed without a label, above the bare card number (as a customised template
    // prints them), in mixed and in upper case; headings above a card number stay, and so
    // does an author above an item number.
    let job = b"Checkout Receipt\n21472000358610\n\x1dV\x00\
Marisol Okonkwo\n21472000358610\nNotes: Marisol asked for large print\n\x1dV\x00\
ADAEZE FERNANDEZ\n(21472000358610)\n\x1dV\x00\
Your Library Card\n21472000358610\nKim Stanley Robinson\n31472001205545\n";
    let (out, text) = redact(job);
    for canary in ["Marisol", "Okonkwo", "ADAEZE", "FERNANDEZ"] {
        assert!(!has(&text, canary), "{canary} survived: {text:?}");
    }
    assert_eq!(text[2], "M. O.");
    assert_eq!(text[5], "A. F.");
    for kept in [
        "Checkout Receipt",
        "Your Library Card",
        "Kim Stanley Robinson",
    ] {
        assert!(has(&text, kept), "{kept} lost: {text:?}");
    }
    let again = Redactor::new(RedactConfig::default())
        .job(&profile("generic-80mm"), &out)
        .expect("not blocked")
        .0;
    assert_eq!(again, out, "redacting the output again changes it");
}

#[test]
fn contact_data_after_labels_and_by_syntax() {
    let job = "Name: Ms. Ana O'Brien-Smith\n\
Phone: (785) 555-0142\n\
Mobile: +44 20 7946 0958\n\
Email: ana.obrien@example.com\n\
Address: 1420 Willow Creek Rd\n\
Date of birth: 1987-04-12\n\
Notices to ana.obrien@example.com or 785-555-0199\n"
        .as_bytes();
    let (_, text) = redact(job);
    let all = text.join("\n");
    for canary in [
        "O'Brien",
        "Smith",
        "555-0142",
        "7946",
        "ana.obrien",
        "Willow",
        "1987",
        "555-0199",
    ] {
        assert!(!all.contains(canary), "{canary} survived:\n{all}");
    }
    assert_eq!(text[0], "Name: Ms. A. O.");
    assert_eq!(text[1], "Phone: (***) ***-****");
}

#[test]
fn address_blocks_to_their_last_line_and_the_library_address_stays() {
    // Three patron blocks (each after a name or card) and the library's footer. Every line
    // of a patron's address goes: a street without a street word above its city line, a
    // post-office box, unit lines, a Canadian postcode, a British town and postcode on two
    // lines.
    let job = "Hold for patron: Marisol Nguyen\n\
Card: 21472000358610\n\
3661 Broadway\n\
Apt 4B\n\
Lawrence, KS 66047\n\
\x1dV\x00\
Nguyen, Marisol\n\
(21472000358610)\n\
P.O. Box 418\n\
Perth, ON K7H 3E3\n\
\x1dV\x00\
Patron: Ana Smith\n\
44 High Street\n\
Flat 2\n\
Leeds\n\
LS1 4AP\n\
Elmwood Public Library\n\
PO Box 99\n\
Elmwood, KS 66000\n"
        .as_bytes();
    let (out, text) = redact(job);
    let all = text.join("\n");
    for canary in [
        "3661", "Broadway", "4B", "Lawrence", "66047", "418", "Perth", "K7H", "44 High", "Flat",
        "Leeds", "LS1",
    ] {
        assert!(!all.contains(canary), "{canary} survived:\n{all}");
    }
    for kept in ["Elmwood Public Library", "PO Box 99", "Elmwood, KS 66000"] {
        assert!(has(&text, kept), "{kept} lost:\n{all}");
    }
    // Masked in place, line for line: the city line keeps its comma and spaces.
    assert!(has(&text, "********, ** *****"), "{all}");
    let again = Redactor::new(RedactConfig::default())
        .job(&profile("generic-80mm"), &out)
        .expect("not blocked")
        .0;
    assert_eq!(again, out, "redacting the output again changes it");
}

#[test]
fn shortened_values_are_padded_when_text_follows() {
    let job = b"Patron: Marisol Okonkwo    Date: 2026-12-01\n";
    let (_, text) = redact(job);
    assert_eq!(text[0].find("Date:"), Some(27), "{text:?}");
    assert!(text[0].starts_with("Patron: M. O."));
}

#[test]
fn hold_shelf_slips_print_the_surname_prefix() {
    let job = b"HOLD SHELF\nHold for: Okonkwo, Marisol\nPickup by 2026-12-08\n";
    let (_, text) = redact(job);
    assert_eq!(text[1], "Hold for: OKON M");
}

#[test]
fn site_rules_and_actions_come_from_the_config_file() {
    let cfg = r#"
[redact]
keep = ["(785) 555-0142"]
[redact.actions]
card = "keep-last:2"
[[redact.rule]]
name = "student"
pattern = 'Student ID: (?P<pii>[A-Z]{2}[0-9]{5})'
action = "replace:STUDENT"
"#;
    let c = Config::from_toml(Path::new("site.toml"), cfg).unwrap();
    let job = b"Card: 21472000358610\nStudent ID: AB12345  Year 3\nLibrary line (785) 555-0142\n";
    let (_, text) = redact_with(c.redact, &profile("generic-80mm"), job);
    assert_eq!(text[0], "Card: ************10");
    assert_eq!(text[1], "Student ID: STUDENT  Year 3");
    assert!(text[2].contains("(785) 555-0142"), "{text:?}");
}

#[test]
fn config_errors_name_file_and_line() {
    let bad = "[redact]\n[redact.actions]\nname = \"shred\"\n";
    let e = Config::from_toml(Path::new("/etc/slipguard/x.toml"), bad).unwrap_err();
    assert!(e.to_string().starts_with("/etc/slipguard/x.toml:3:"), "{e}");
    let bad = "[[redact.rule]]\nname = \"x\"\npattern = '[0-9]+'\naction = \"mask\"\n";
    let e = Config::from_toml(Path::new("x.toml"), bad).unwrap_err();
    assert!(
        e.to_string().contains("x.toml:3:") && e.msg.contains("pii"),
        "{e}"
    );
    let e = Config::from_toml(Path::new("x.toml"), "[redact]\nimages = \"maybe\"\n").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
}

fn qr_store(data: &[u8]) -> Vec<u8> {
    let p = data.len() + 3;
    let mut v = vec![0x1D, b'(', b'k', p as u8, (p >> 8) as u8, 49, 80, 48];
    v.extend_from_slice(data);
    v
}
const QR_PRINT: &[u8] = b"\x1d(k\x03\x001Q0";

#[test]
fn barcodes_and_codes_with_patron_data_become_masked_text() {
    let mut job = b"Checked out to: Marisol Okonkwo\n".to_vec();
    job.extend(b"\x1dkI\x10{B21472000358610"); // patron card as CODE128
    job.extend(b"\x1dk\x06A31472001205545B\x00"); // item as CODABAR
    job.extend(qr_store(b"https://lib.example.org/p?card=21472000358610"));
    job.extend(QR_PRINT);
    job.extend(qr_store(b"https://lib.example.org/hours"));
    job.extend(QR_PRINT);
    job.extend(b"\n\x1dV\x00");
    let (out, text) = redact(&job);
    assert!(
        !out.windows(10).any(|w| w == b"2147200035"),
        "card digits survive"
    );
    assert!(text.iter().any(|l| l == "**********8610"), "{text:?}");
    assert!(
        out.windows(19).any(|w| w == b"\x1dk\x06A31472001205545B"),
        "item barcode kept"
    );
    // The patron QR's store and print are gone; the other QR is untouched, as is the cut.
    let q: Vec<_> = tokenize(Dialect::EscPos, &out)
        .into_iter()
        .filter(|t| matches!(t.kind, TokenKind::Data { .. }))
        .map(|t| out[t.range_in(0)].to_vec())
        .collect();
    assert_eq!(q.len(), 3, "item barcode, hours QR store and print");
    assert!(
        has(&text, "https://lib.example.org/p?card=**********8610")
            || text.iter().any(|l| l.contains("*****"))
    );
    assert!(out.ends_with(b"\n\x1dV\x00"));
}

#[test]
fn star_line_barcodes_and_names() {
    let p = profile("star-tsp650ii");
    let mut job = b"\x1b@\x1b\x1dt\x20\x1bEHold for: Okonkwo, Marisol\x1bF\n".to_vec();
    job.extend(b"\x1bb8223A21472000358610B\x1e\n"); // Codabar with start/stop
                                                    // A Star QR code holding the card number: store (ESC GS y D 1) and print (ESC GS y P).
    job.extend(b"\x1b\x1dyD1\x00\x0e\x0021472000358610\x1b\x1dyP\n");
    // Another in the block form (ESC GS y D 2 with two blocks), holding nothing personal.
    job.extend(b"\x1b\x1dyD2\x02\x00\x03\x00abc\x00\x02\x00de\x1b\x1dyP\n");
    job.extend(b"\x1bd\x03");
    let (out, text) = redact_with(RedactConfig::default(), &p, &job);
    let preview = slipguard::preview::render(&p, &out, slipguard::preview::Format::Text);
    assert!(preview.contains("[QR abcde]"), "{preview}");
    assert!(
        text.iter().filter(|l| l.contains("**********8610")).count() == 2,
        "{text:?}"
    );
    assert!(!has(&text, "Okonkwo") && !has(&text, "Marisol"), "{text:?}");
    assert!(!out.windows(10).any(|w| w == b"2147200035"));
    assert!(out.ends_with(b"\x1bd\x03"));
}

#[test]
fn segments_that_cannot_be_understood_fail_closed() {
    let p = profile("generic-80mm");
    let r = Redactor::new(RedactConfig::default());
    type Check = fn(&Reason) -> bool;
    let cases: Vec<(&[u8], Check)> = vec![
        (
            b"Checked out to: Canary\n\x1dv0\x00\x10\x00\x10\x00\xff",
            |r| {
                matches!(
                    r,
                    Reason::Truncated {
                        command: "GS v 0",
                        ..
                    }
                )
            },
        ),
        (b"Name: Canary\n\x1bt\x0b\xe0\xe1\n", |r| {
            matches!(r, Reason::Undecodable { .. })
        }),
        (b"\x1b&\x03AA\x01abc\x1b%\x01Name: Canary\n", |r| {
            matches!(r, Reason::Glyphs { .. })
        }),
    ];
    for (job, want) in cases {
        let e = r.job(&p, job).unwrap_err();
        assert!(want(&e.reason), "{e}");
        assert!(!e.to_string().contains("Canary"), "{e}");
    }
    // Images pass by default and block when configured.
    let img = b"Logo\n\x1dv0\x00\x01\x00\x01\x00\xff\nName: Canary\n";
    assert!(r.job(&p, img).is_ok());
    let block = Config::from_toml(Path::new("x.toml"), "[redact]\nimages = \"block\"\n").unwrap();
    let e = Redactor::new(block.redact).job(&p, img).unwrap_err();
    assert!(matches!(e.reason, Reason::Image { .. }), "{e}");
}

#[test]
fn one_bad_segment_does_not_block_the_others() {
    let p = profile("generic-80mm");
    let job = b"Name: Ana Canary\n\x1dV\x00Hello\n\x1dv0\x00\x10";
    let (segs, report) = Redactor::new(RedactConfig::default()).segments(&p, job);
    assert_eq!(segs.len(), 2);
    assert!(segs[0].output.is_ok());
    assert!(segs[1].output.is_err());
    assert_eq!((report.segments, report.blocked), (2, 1));
    assert_eq!(report.count(Kind::Name), 1);
}

#[test]
fn slips_without_patron_data_and_disabled_redaction_are_byte_identical() {
    let p = profile("epson-tm-t88v");
    let mut slip =
        b"\x1b@\x1ba\x01\x1b!\x30Elmwood Library\n\x1b!\x00Call (785) 555-0100\n\x1ba\x00".to_vec();
    slip.extend(
        b"1. Red Mars\n   Robinson, Kim Stanley\n   Item: 31472001205545  Due: 2026-12-01\n",
    );
    slip.extend(b"\x1dk\x06A31472001205545B\x00");
    slip.extend(qr_store(b"https://elmwood.example.org/hours"));
    slip.extend(QR_PRINT);
    slip.extend(b"\nFine paid: $2.50\n\x1dV\x01");
    let (out, report) = Redactor::new(RedactConfig::default())
        .job(&p, &slip)
        .unwrap();
    assert_eq!(out, slip);
    assert_eq!(report.total(), 0);
    let checkout = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/python-escpos/checkout.bin"
    ))
    .unwrap();
    let off = Config::from_toml(Path::new("x.toml"), "[redact]\nenabled = false\n").unwrap();
    let (out, _) = Redactor::new(off.redact).job(&p, &checkout).unwrap();
    assert_eq!(out, checkout);
}

#[test]
fn reports_and_debug_output_hold_no_values() {
    let p = profile("generic-80mm");
    let job = b"Checked out to: Canaryfirst Canarylast\nCard: 21472000358610\n";
    let r = Redactor::new(RedactConfig::default());
    let (segs, report) = r.segments(&p, job);
    let shown = format!("{report} {report:?} {segs:?} {r:?}");
    for canary in ["Canaryfirst", "Canarylast", "21472000358610", "358610"] {
        assert!(!shown.contains(canary), "{canary} in {shown}");
    }
    assert_eq!(report.count(Kind::Card), 1);
    assert_eq!(report.count(Kind::Name), 1);
}

#[test]
fn redacting_twice_changes_nothing() {
    let p = profile("generic-80mm");
    let r = Redactor::new(RedactConfig::default());
    for kind in ["checkout", "checkin", "hold", "transit", "payment"] {
        let k = match kind {
            "checkout" => slipguard::sample::Kind::Checkout,
            "checkin" => slipguard::sample::Kind::Checkin,
            "hold" => slipguard::sample::Kind::Hold,
            "transit" => slipguard::sample::Kind::Transit,
            _ => slipguard::sample::Kind::Payment,
        };
        let job = slipguard::sample::generate(k, &p, 3).unwrap();
        let (once, _) = r.job(&p, &job).unwrap();
        let (twice, _) = r.job(&p, &once).unwrap();
        assert_eq!(once, twice, "{kind}");
        assert_ne!(once, job, "{kind}: nothing redacted");
    }
}

#[test]
fn a_job_that_ends_in_text_without_a_line_feed_prints() {
    // Text still open at the end of the job is not an open command: it prints, redacted.
    let (out, text) = redact(b"Due: 2026-12-01\nChecked out to: Marisol Canary");
    assert_eq!(text, ["Due: 2026-12-01", "Checked out to: M. C."]);
    assert!(!String::from_utf8_lossy(&out).contains("Canary"));
    // A command left open at the end still fails closed.
    let p = profile("generic-80mm");
    let e = Redactor::new(RedactConfig::default())
        .job(&p, b"Checked out to: Marisol Canary\x1bE")
        .unwrap_err();
    assert!(!e.to_string().contains("Canary"), "{e}");
}

#[test]
fn a_letter_that_would_move_under_another_code_page_prints_masked() {
    let p = profile("generic-80mm");
    let r = Redactor::new(RedactConfig::default());
    // CP866 (ESC t 17): "Ольга Смирнова". The hold-shelf action writes the surname's first
    // letters where the first name stood; Cyrillic letters have no ASCII form, so they keep
    // their bytes, which read the same only under the same code page.
    let olga = [0x8e, 0xab, 0xec, 0xa3, 0xa0];
    let smirnova = [0x91, 0xac, 0xa8, 0xe0, 0xad, 0xae, 0xa2, 0xa0];
    let job = |between: &[u8]| {
        let mut j = b"\x1bt\x11Hold for patron: ".to_vec();
        j.extend(olga);
        j.push(b' ');
        j.extend(between);
        j.extend(smirnova);
        j.extend(b"\n\x1dV\x00");
        j
    };
    // One run of text: the letters move within it and print as themselves.
    let (out, _) = r.job(&p, &job(b"")).expect("printed");
    let text: Vec<String> = lines(&p, &out).iter().map(|l| l.text.to_string()).collect();
    assert_eq!(text[0], "Hold for patron: Смир О");
    // A command between the words (here the same code page again, but it could be any): a
    // letter that would cross it might print as another letter, so it prints as `*`; the
    // rest of the slip prints.
    let (out, _) = r.job(&p, &job(b"\x1bt\x11")).expect("printed");
    let text: Vec<String> = lines(&p, &out).iter().map(|l| l.text.to_string()).collect();
    assert_eq!(text[0], "Hold for patron: **** О");
}

#[test]
fn shortened_values_keep_columns_but_make_none() {
    // Before a column gap the shortened name is padded, so the next column stays put.
    let (_, text) = redact(b"Patron: Marisol Okonkwo  Due: 2026-12-01\n");
    let pad = " ".repeat("Marisol Okonkwo".len() - "M. O.".len() + 2);
    assert_eq!(text, [format!("Patron: M. O.{pad}Due: 2026-12-01")]);
    // Before a single space it is not: padding would make a column gap that was not there.
    let (_, text) = redact(b"Checked out to Marisol Okonkwo 3 items\n");
    assert_eq!(text, ["Checked out to M. O. 3 items"]);
}

#[test]
fn a_surname_comma_first_name_in_any_case_next_to_a_card_is_the_patron() {
    let (out, text) = redact(b"\x1b@Nguyen, marisol\n(21472277654238)\nThe Overstory\n");
    assert!(has(&text, "N. m."), "{text:?}");
    assert!(has(&text, "(**********4238)"), "{text:?}");
    assert!(has(&text, "The Overstory"), "{text:?}");
    // Redacting the output again changes nothing.
    assert_eq!(redact(&out).0, out);
    // Away from a card line, a lower-case second part is not a name: a sentence stays.
    let (_, text) = redact(b"\x1b@Thanks for visiting\nWelcome back, come again\nDue 12/05/2026\n");
    assert!(has(&text, "Welcome back, come again"), "{text:?}");
}

#[test]
fn an_email_address_with_accented_letters_is_masked_whole() {
    let job = "\x1b@\x1bt\x02Email: jos\u{e9}.garc\u{ed}a@correo.example\nDue 12/05/2026\n";
    // CP850 (ESC t 2): é is 0x82, í is 0xA1.
    let bytes: Vec<u8> = job
        .chars()
        .map(|c| match c {
            '\u{e9}' => 0x82,
            '\u{ed}' => 0xA1,
            c => c as u8,
        })
        .collect();
    let (out, text) = redact(&bytes);
    assert!(has(&text, "Email: ****.******@******.*******"), "{text:?}");
    assert!(has(&text, "Due 12/05/2026"), "{text:?}");
    assert_eq!(redact(&out).0, out);
}

/// Masking one value can change how another reads: here the phone number shares its line
/// with the patron's address, so it is not alone on its line until the address is masked.
/// The output is redacted again until it settles; with a single round allowed the segment
/// fails closed instead of printing what a second round would still mask.
#[test]
fn an_output_that_would_change_when_redacted_again_is_settled_or_not_printed() {
    let p = profile("generic-80mm");
    let job = b"Hold for: Canary Quillfeather\n\
Card: 21472000358610\n\
(785) 555-0163  1482 Linden Avenue\n\
\x1dV\x00";
    let r = Redactor::new(RedactConfig::default());
    let (once, _) = r.job(&p, job).unwrap();
    let text: Vec<String> = lines(&p, &once)
        .iter()
        .map(|l| l.text.to_string())
        .collect();
    assert_eq!(text[2], "(***) ***-****  **** ****** ******");
    assert_eq!(r.job(&p, &once).unwrap().0, once);

    let (segs, report) = Redactor::new(RedactConfig::default())
        .rounds(1)
        .segments(&p, job);
    let e = segs[0].output.as_ref().unwrap_err();
    assert!(matches!(e.reason, Reason::Unstable { at: 0 }), "{e}");
    assert_eq!(report.blocked, 1);
    assert!(!e.to_string().contains("Canary") && !e.to_string().contains("555"));
}

/// A slip whose second round fails closed (found by fuzzing: an e-mail address glued to a
/// shortened name, whose moved letter has no ASCII form) does not settle, and is not printed.
#[test]
fn an_output_that_cannot_be_redacted_again_is_not_printed() {
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/redact/seed-regression-glued-email-does-not-settle"),
    )
    .unwrap();
    // The fuzz targets' first byte picks the dialect: odd, Star Line on this profile.
    assert_eq!(data[0] & 1, 1);
    let p = profile("star-tsp650ii");
    let r = Redactor::new(RedactConfig::default());
    let (segs, report) = r.segments(&p, &data[1..]);
    let canaries = ["Nguyen", "Marisol", "Willow", "example"];
    match segs[0].output.as_ref() {
        Err(e) => {
            assert!(matches!(e.reason, Reason::Unstable { at: 0 }), "{e}");
            assert!(report.blocked >= 1);
            for canary in canaries {
                assert!(!e.to_string().contains(canary), "{e}");
            }
        }
        // Detection that reads the glued address as one value settles it: then what prints
        // is settled and holds none of it.
        Ok(out) => {
            let (again, _) = r.job(&p, out).expect("printed again");
            assert!(&again == out, "not settled");
            let text = String::from_utf8_lossy(out);
            for canary in canaries {
                assert!(!text.contains(canary), "a canary printed");
            }
        }
    }
}

/// A segment that fails closed is not printed, so the printer reads the next one from
/// another state than slipguard read the job in: Star raster mode, entered in the blocked
/// segment, is not on at the printer. The next segment, read as a raster line, would print
/// as text there: it fails closed too, although redaction changes none of its bytes.
#[test]
fn a_segment_after_one_not_printed_is_checked_against_the_printer_state() {
    let p = profile("star-tsp650ii");
    let job: &[u8] = b"\x1b*rA\x1b\x1dt\xfe\xe0\xe1\n\x1bd\x01b\x02\x00xy\x1b*rB\x1bd\x01Next\n";
    let (segs, _) = Redactor::new(RedactConfig::default()).segments(&p, job);
    assert!(segs.len() >= 2, "{segs:?}");
    let first = segs[0].output.as_ref().unwrap_err();
    assert!(
        matches!(first.reason, Reason::Undecodable { .. }),
        "{first}"
    );
    let second = segs[1].output.as_ref().unwrap_err();
    assert!(matches!(second.reason, Reason::Rewrite { .. }), "{second}");
}
