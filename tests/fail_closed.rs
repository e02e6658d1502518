//! Jobs whose bytes the detectors cannot read as the printer prints them fail closed: print
//! order that may differ from byte order (page mode, moving left, reverse feed), and a job
//! that does not parse as the profile's dialect.

use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::{printed, Disorder, Reason, Redactor};
use slipguard::core::text::lines;
use slipguard::core::tokenize::Dialect;
use slipguard::profiles::Profiles;

fn profile(name: &str) -> Profile {
    Profiles::builtin_only().load(name).unwrap()
}

/// The job fails closed, prints nothing, and the reason holds no slip text.
fn blocked(p: &Profile, job: &[u8]) -> Reason {
    let r = Redactor::new(RedactConfig::default());
    let (segs, report) = r.segments(p, job);
    assert!(printed(&segs).is_empty(), "something was printed");
    assert_eq!(report.blocked, report.segments);
    let e = r.job(p, job).unwrap_err();
    let msg = format!("{e} {e:?}");
    for canary in ["Okonkwo", "Marisol", "Patron"] {
        assert!(!msg.contains(canary), "{msg}");
    }
    e.reason
}

/// The job prints, with the patron's name masked.
fn prints(p: &Profile, job: &[u8]) -> Vec<String> {
    let (out, _) = Redactor::new(RedactConfig::default())
        .job(p, job)
        .unwrap_or_else(|e| panic!("blocked: {e}"));
    let text: Vec<String> = lines(p, &out).iter().map(|l| l.text.to_string()).collect();
    assert!(!text.iter().any(|l| l.contains("Okonkwo")), "{text:?}");
    text
}

fn order(r: &Reason) -> (&'static str, Disorder) {
    match r {
        Reason::PrintOrder { command, why, .. } => (*command, *why),
        other => panic!("not a print order reason: {other}"),
    }
}

#[test]
fn text_in_page_mode_fails_closed_naming_esc_l() {
    let p = profile("generic-80mm");
    // The value first, then its label placed to its left: bytes read "Okonkwo Patron:".
    let job = b"\x1b@\x1bL\x1bW\x00\x00\x00\x00\x40\x02\x00\x01\x1bT\x00\
                \x1b$\x80\x00Marisol Okonkwo\x1b$\x00\x00Patron:\x0c\x1dV\x01";
    let r = blocked(&p, job);
    assert_eq!(order(&r), ("ESC L", Disorder::PageMode), "{r}");
    let msg = r.to_string();
    assert!(
        msg.contains("ESC L") && msg.contains("page mode") && msg.contains("order"),
        "{msg}"
    );
    // Vertical positions in page mode: also ESC L's page.
    let job = b"\x1bL\x1d$\x40\x00Marisol Okonkwo\x1d$\x00\x00\x1d\\\x10\x00Patron:\x0c";
    assert_eq!(order(&blocked(&p, job)), ("ESC L", Disorder::PageMode));
    // Page mode entered in one segment, text in the next (a query does not leave it).
    let job = b"\x1bL\x1dr\x01Marisol Okonkwo\x0c";
    let (segs, _) = Redactor::new(RedactConfig::default()).segments(&p, job);
    assert!(segs[0].output.is_ok());
    let e = segs[1].output.as_ref().unwrap_err();
    assert_eq!(order(&e.reason), ("ESC L", Disorder::PageMode), "{e}");
}

#[test]
fn page_mode_without_text_still_prints() {
    let p = profile("generic-80mm");
    let job = b"\x1b@\x1bL\x1bW\x00\x00\x00\x00\x40\x02\x00\x01\x1bT\x01\x1d$\x10\x00\x1bS\
                Checked out to: Marisol Okonkwo\n\x1dV\x01";
    let text = prints(&p, job);
    assert!(
        text.iter().any(|l| l == "Checked out to: M. O."),
        "{text:?}"
    );
    // FF prints the page and returns to standard mode, as does ESC @.
    let job = b"\x1bL\x0cChecked out to: Marisol Okonkwo\n\x1bL\x1b@Patron: Marisol Okonkwo\n";
    prints(&p, job);
}

#[test]
fn text_after_the_print_position_moves_left_fails_closed() {
    let p = profile("generic-80mm");
    let cases: [(&[u8], &str); 4] = [
        // An absolute position left of the value printed before it.
        (
            b"\x1b$\xc8\x00Marisol Okonkwo\x1b$\x00\x00Patron:\n",
            "ESC $",
        ),
        // The same position again: the label overprints the value.
        (
            b"\x1b$\x00\x00Marisol Okonkwo\x1b$\x00\x00Patron:\n",
            "ESC $",
        ),
        // A position inside the text before it (15 characters are at least 120 dots).
        (b"Marisol Okonkwo\x1b$\x64\x00Patron:\n", "ESC $"),
        // A negative relative move.
        (b"Marisol Okonkwo\x1b\\\x00\xff Patron:\n", "ESC \\"),
    ];
    for (job, command) in cases {
        let r = blocked(&p, job);
        assert_eq!(order(&r), (command, Disorder::MovesLeft), "{r}");
        assert!(r.to_string().contains(command), "{r}");
        assert!(r.to_string().contains("left"), "{r}");
    }
    // Star Line Mode: ESC GS A and ESC GS R.
    let star = profile("star-tsp650ii");
    let r = blocked(
        &star,
        b"\x1b\x1dA\xc8\x00Marisol Okonkwo\x1b\x1dA\x00\x00Patron:\n",
    );
    assert_eq!(order(&r), ("ESC GS A", Disorder::MovesLeft), "{r}");
    let r = blocked(&star, b"Marisol Okonkwo\x1b\x1dR\x00\xffPatron:\n");
    assert_eq!(order(&r), ("ESC GS R", Disorder::MovesLeft), "{r}");
}

#[test]
fn text_after_a_reverse_feed_fails_closed() {
    let p = profile("generic-80mm");
    let job = b"          Marisol Okonkwo\n\x1be\x01Patron:\n\x1dV\x01";
    let r = blocked(&p, job);
    assert_eq!(order(&r), ("ESC e", Disorder::ReverseFeed), "{r}");
    assert!(r.to_string().contains("backwards"), "{r}");
}

#[test]
fn columns_that_only_move_right_still_print() {
    let p = profile("generic-80mm");
    // Label, then the value at a column past it; a right-aligned due date; the position
    // starts again at each line feed.
    let job = b"\x1b@Checked out to:\x1b$\xc8\x00Marisol Okonkwo\n\
                Item: 31472001205545\x1b$\x2c\x01Due: 2026-12-01\n\
                Title\x1b\\\x28\x00Red Mars\x1b$\x90\x01$2.50\n\
                \x1b$\x00\x00Total\x1b$\x90\x01$2.50\n\x1dV\x01";
    let text = prints(&p, job);
    assert!(text.iter().any(|l| l.contains("M. O.")), "{text:?}");
    assert!(
        text.iter().any(|l| l.contains("Due: 2026-12-01")),
        "{text:?}"
    );
    // Star Line Mode columns.
    let star = profile("star-tsp650ii");
    let job = b"Checked out to:\x1b\x1dA\xc8\x00Marisol Okonkwo\n\x1b\x1dR\x10\x00Total\n";
    prints(&star, job);
    // Moving left with nothing printed after it on the line is harmless.
    let job = b"Checked out to: Marisol Okonkwo\x1b$\x00\x00\nThank you\n";
    prints(&p, job);
}

#[test]
fn disabled_redaction_passes_page_mode_unchanged() {
    let p = profile("generic-80mm");
    let job = b"\x1bLMarisol Okonkwo\x1b$\x00\x00Patron:\x0c";
    let cfg = RedactConfig {
        enabled: false,
        ..RedactConfig::default()
    };
    let (out, _) = Redactor::new(cfg).job(&p, job).unwrap();
    assert_eq!(out, job);
}

fn fixture(rel: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read(root.join(rel)).unwrap()
}

fn dialect(r: &Reason) -> (Dialect, Dialect) {
    match r {
        Reason::WrongDialect {
            profile, likely, ..
        } => (*profile, *likely),
        other => panic!("not a dialect reason: {other}"),
    }
}

/// Nothing of the job is printed, every segment gives the dialect reason, no value counted.
fn wrong_dialect(p: &Profile, job: &[u8]) -> Reason {
    let r = Redactor::new(RedactConfig::default());
    let (segs, report) = r.segments(p, job);
    assert!(
        printed(&segs).is_empty(),
        "{}: something was printed",
        p.name
    );
    assert!(!segs.is_empty());
    assert_eq!(report.blocked, segs.len() as u64);
    assert_eq!(report.total(), 0);
    let first = segs[0].output.as_ref().unwrap_err().reason.clone();
    for s in &segs {
        assert_eq!(s.output.as_ref().unwrap_err().reason, first);
    }
    let e = r.job(p, job).unwrap_err();
    assert_eq!(e.reason, first);
    first
}

#[test]
fn an_escpos_job_under_a_star_line_profile_fails_closed_naming_escpos() {
    let star = profile("star-tsp650ii");
    for name in ["checkout", "hold", "codepages", "image", "status"] {
        let job = fixture(&format!("python-escpos/{name}.bin"));
        let r = wrong_dialect(&star, &job);
        assert_eq!(
            dialect(&r),
            (Dialect::StarLine, Dialect::EscPos),
            "{name}: {r}"
        );
        let msg = r.to_string();
        assert!(
            msg.contains("looks like ESC/POS") && msg.contains("escpos printer profile"),
            "{msg}"
        );
    }
    // The slip corpus's ESC/POS slips too.
    let r = wrong_dialect(&star, &fixture("slips/koha_issueslip.bin"));
    assert_eq!(dialect(&r), (Dialect::StarLine, Dialect::EscPos), "{r}");
}

#[test]
fn a_star_line_job_under_an_escpos_profile_fails_closed_naming_star_line() {
    for p in ["generic-80mm", "epson-tm-t88v", "star-tsp100-escpos"] {
        let p = profile(p);
        for name in [
            "star_eg_checkout",
            "star_koha_hold_slip",
            "star_sierra_hold_transit",
        ] {
            let job = fixture(&format!("slips/{name}.bin"));
            let r = wrong_dialect(&p, &job);
            assert_eq!(
                dialect(&r),
                (Dialect::EscPos, Dialect::StarLine),
                "{} {name}: {r}",
                p.name
            );
            let msg = r.to_string();
            assert!(
                msg.contains("looks like Star Line Mode")
                    && msg.contains("use a star-line printer profile"),
                "{msg}"
            );
        }
    }
}

#[test]
fn fixtures_in_their_own_dialect_are_not_taken_for_the_other() {
    let r = Redactor::new(RedactConfig::default());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for dir in ["slips", "slips-escpos-rs", "python-escpos", "escpos-rs"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "bin") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let p = profile(if stem.starts_with("star_") {
                "star-tsp650ii"
            } else {
                "epson-tm-t88v"
            });
            let (segs, _) = r.segments(&p, &std::fs::read(&path).unwrap());
            for s in segs {
                if let Err(e) = s.output {
                    assert!(
                        !matches!(e.reason, Reason::WrongDialect { .. }),
                        "{}: {e}",
                        path.display()
                    );
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 50, "{seen}");
}

#[test]
fn a_stray_unknown_command_is_not_a_wrong_dialect() {
    let p = profile("generic-80mm");
    // One unknown ESC/POS command (two bytes the printer drops) in a plain slip.
    let text = prints(&p, b"\x1b@\x1bxChecked out to: Marisol Okonkwo\n\x1dV\x01");
    assert!(text.iter().any(|l| l.contains("M. O.")), "{text:?}");
}
