//! Slips in the shapes that leaked before the lexicons and the structural rules (the
//! causes listed in the redaction issue): other languages' labels, self-check receipts,
//! patron-data print-outs, card numbers of any site format in a patron block, names beside
//! bracketed cards, unfilled placeholders, non-North-American phones and streets, name
//! particles, Unicode tricks, values on the line after their label. Each slip goes through
//! the real path (ESC/POS bytes in UTF-8 mode, the generic 80 mm profile, the default
//! configuration) and what the printer would print is read back. All values are fake; a
//! failure names the value's field, never the value.

use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::text::lines;
use slipguard::profiles::Profiles;

fn profile() -> Profile {
    Profiles::builtin_only().load("generic-80mm").unwrap()
}

/// The slip's lines as an ESC/POS job in UTF-8 mode, ending in a cut.
fn job(slip: &[&str]) -> Vec<u8> {
    let mut job = b"\x1b@\x1c(C\x02\x00\x30\x02".to_vec();
    for l in slip {
        job.extend_from_slice(l.as_bytes());
        job.push(b'\n');
    }
    job.extend_from_slice(b"\x1dV\x00");
    job
}

/// What the printer prints of the redacted slip, as one text; the redacted output is
/// settled (redacting it again changes nothing).
fn printed(slip: &[&str]) -> String {
    let p = profile();
    let r = Redactor::new(RedactConfig::default());
    let (out, _) = r.job(&p, &job(slip)).expect("not blocked");
    let (again, _) = r.job(&p, &out).expect("not blocked");
    assert!(again == out, "the output is not settled");
    lines(&p, &out)
        .iter()
        .map(|l| format!("{}\n", l.text))
        .collect()
}

/// Every `(field, value)` is gone from `out`, every string of `keep` is there.
#[track_caller]
fn check(out: &str, gone: &[(&str, &str)], keep: &[&str]) {
    let leaked: Vec<&str> = gone
        .iter()
        .filter(|(_, v)| out.contains(v))
        .map(|(f, _)| *f)
        .collect();
    assert!(leaked.is_empty(), "printed: {leaked:?}");
    let lost: Vec<usize> = (0..keep.len())
        .filter(|&i| !out.contains(keep[i]))
        .collect();
    assert!(
        lost.is_empty(),
        "content lost (indexes into keep): {lost:?}"
    );
}

#[test]
fn labels_in_other_languages() {
    let out = printed(&[
        "Stadtbibliothek Musterstadt",
        "Ausleihe an: Jürgen Müller-Lüdenscheidt",
        "Ausweisnummer: 0048213377",
        "Emprunteur : Dubois, Claire",
        "Lånekort: 7731902214",
        "Låntaker: Kari Nordmann",
        "Prestito a: Giulia Bianchi",
        "Titel: Der Zauberberg",
        "Fällig am: 12.01.2027",
    ]);
    check(
        &out,
        &[
            ("de name", "Jürgen"),
            ("de surname", "Lüdenscheidt"),
            ("de card", "004821"),
            ("fr name", "Dubois"),
            ("fr given", "Claire"),
            ("nb card", "773190"),
            ("nb name", "Nordmann"),
            ("it name", "Bianchi"),
        ],
        &[
            "Stadtbibliothek Musterstadt",
            "Der Zauberberg",
            "12.01.2027",
        ],
    );
}

#[test]
fn self_check_receipt_with_a_bare_family_given_line() {
    let out = printed(&[
        "Maple Ridge Public Library",
        "12/03/2026 14:02",
        "Okafor, Chidinma",
        "You checked out the following items:",
        "1. The Overstory",
        "   Barcode: 33390004021180",
        "   Due: 12/24/2026",
    ]);
    check(
        &out,
        &[("surname", "Okafor"), ("given", "Chidinma")],
        &[
            "Maple Ridge Public Library",
            "The Overstory",
            "33390004021180",
        ],
    );
}

#[test]
fn patron_data_print_out_labels_far_from_the_card() {
    let out = printed(&[
        "Patron Information",
        "Barcode: 21472000358610",
        "First Name: Chidinma",
        "Last Name: Okafor",
        "Profile: Adult",
        "Home Library: Westside Branch",
        "Expire Date: 2028-01-31",
        "Net Access: Filtered",
        "Juvenile: No",
        "Claims Returned Count: 0",
        "Active: Yes",
        "Barred: No",
        "Postal Code: 66047",
        "Email Address: c.okafor@example.org",
        "Daytime Phone: 785-555-0154",
        "Evening Phone: 785-555-0188",
    ]);
    check(
        &out,
        &[
            ("card", "2147200035"),
            ("given", "Chidinma"),
            ("surname", "Okafor"),
            ("postcode", "66047"),
            ("email", "okafor@example"),
            ("day phone", "555-0154"),
            ("evening phone", "555-0188"),
        ],
        &["Westside Branch", "2028-01-31", "Filtered"],
    );
}

#[test]
fn card_numbers_of_any_format_in_an_unlabelled_patron_block() {
    // Koha's default hold slip prints the patron as an unlabelled list under the name.
    let out = printed(&[
        "Date: 03/12/2026",
        "Transfer to/Hold in Centerville",
        "Okafor, Chidinma",
        "1000482213",
        "785-555-0154",
        "41 Birch Rd",
        "Lawrence, KS 66047",
        "c.okafor@example.org",
        "ITEM ON HOLD",
        "The Overstory",
        "Powers, Richard",
        "33390004021180",
    ]);
    check(
        &out,
        &[
            ("surname", "Okafor"),
            ("given", "Chidinma"),
            ("card", "100048"),
            ("phone", "555-0154"),
            ("street", "Birch"),
            ("zip", "66047"),
            ("email", "okafor@"),
        ],
        &[
            "Centerville",
            "The Overstory",
            "Powers, Richard",
            "33390004021180",
        ],
    );
    // A card of a letter and six digits under a `First Last` name; a Codabar card whose
    // check digit fails, alone on its line.
    let out = printed(&[
        "Hold Slip",
        "Chidinma Okafor",
        "P482213",
        "Item: The Overstory",
    ]);
    check(
        &out,
        &[("name", "Okafor"), ("card", "48221")],
        &["The Overstory"],
    );
    let out = printed(&["Checkout Receipt", "23191000123459", "Item: The Overstory"]);
    check(&out, &[("card", "2319100012")], &["The Overstory"]);
}

#[test]
fn a_name_on_the_line_of_its_bracketed_card() {
    let out = printed(&[
        "Checkout Receipt",
        "Ngozi Eze (23191000123456)",
        "The Overstory  Due: 12/24/2026",
    ]);
    check(
        &out,
        &[
            ("given", "Ngozi"),
            ("surname", "Eze"),
            ("card", "2319100012"),
        ],
        &["The Overstory", "12/24/2026"],
    );
}

#[test]
fn an_unfilled_placeholder_does_not_hide_a_postcode() {
    let out = printed(&[
        "Hold Slip",
        "Okafor, Chidinma",
        "21472000358610",
        "41 Birch Rd",
        "<> 66018",
        "Item: The Overstory",
    ]);
    check(
        &out,
        &[("surname", "Okafor"), ("street", "Birch"), ("zip", "66018")],
        &["The Overstory"],
    );
}

#[test]
fn phones_and_streets_outside_north_america() {
    for (phones, fields) in [
        (
            ["0113 496 0126", "+33 1 42 68 53 00"],
            ["496 0126", "42 68 53"],
        ),
        (["030 1234567", "22 33 44 55"], ["1234567", "33 44 55"]),
    ] {
        let out = printed(&[
            "Hold for: Claire Dubois",
            "Card: 21472000358610",
            phones[0],
            phones[1],
            "Item: Le Petit Prince",
            "Call number: 843 SAI",
            "Due: 2026-12-24 14:02",
        ]);
        check(
            &out,
            &[("first phone", fields[0]), ("second phone", fields[1])],
            &["Le Petit Prince", "843 SAI", "2026-12-24 14:02"],
        );
    }
    let out = printed(&[
        "Hold for: Claire Dubois",
        "Card: 21472000358610",
        "5 rue des Lilas",
        "75011 Paris",
        "Item: Le Petit Prince",
    ]);
    check(
        &out,
        &[("fr street", "Lilas"), ("fr postcode", "75011")],
        &["Le Petit Prince"],
    );
    for street in ["Kjølberggata 48", "Hauptstraße 12"] {
        let out = printed(&[
            "Reservert for: Kari Nordmann",
            "Lånekort: 21472000358610",
            street,
            "0650 Oslo",
            "Tittel: Sult",
        ]);
        check(
            &out,
            &[("street", &street[..6]), ("postcode", "0650")],
            &["Sult"],
        );
    }
}

#[test]
fn names_with_particles_and_the_address_under_them() {
    let out = printed(&[
        "Hold Slip",
        "de Villiers, Anna",
        "21472000358610",
        "12 Kloof Street",
        "Item: La casa de la tormenta",
    ]);
    check(
        &out,
        &[
            ("surname", "Villiers"),
            ("given", "Anna"),
            ("street", "Kloof"),
        ],
        &["La casa de la tormenta"],
    );
    let out = printed(&[
        "Checked out to: Piet van der Berg",
        "Title: Het diner",
        "Title: Van der Valk",
    ]);
    check(
        &out,
        &[("surname", "Berg"), ("given", "Piet")],
        &["Het diner"],
    );
}

#[test]
fn unicode_that_hides_a_value_from_patterns() {
    use unicode_normalization::UnicodeNormalization;
    let nfd: String = "Borrower: Jürgen Müller".nfd().collect();
    let out = printed(&[
        &nfd,
        "Card number: 2319\u{200B}1000123456",
        "Patron: Ama\u{AD}ra Okafor",
        "Library card: \u{FF12}\u{FF13}\u{FF11}\u{FF19}\u{FF11}\u{FF10}\u{FF10}\u{FF10}\u{FF11}\u{FF12}\u{FF13}\u{FF14}\u{FF15}\u{FF16}",
        "Title: Élan vital",
    ]);
    check(
        &out,
        &[
            ("nfd given", "rgen"),
            ("nfd surname", "ller"),
            ("card with zero-width space", "1000123"),
            ("name with soft hyphen", "ra Okafor"),
            ("full-width card", "\u{FF11}\u{FF10}\u{FF10}\u{FF10}"),
        ],
        &["Élan vital"],
    );
}

#[test]
fn a_value_on_the_line_after_its_label() {
    let out = printed(&[
        "Checkout Receipt",
        "Borrower:",
        "Okafor, Chidinma",
        "Name:",
        "Ngozi Eze",
        "Title: The Overstory",
    ]);
    check(
        &out,
        &[
            ("surname", "Okafor"),
            ("given", "Chidinma"),
            ("second name", "Ngozi"),
        ],
        &["The Overstory"],
    );
}

#[test]
fn an_author_under_a_title_is_kept_and_the_patron_is_not() {
    let out = printed(&[
        "Checked out to: Okafor, Chidinma",
        "21472000358610",
        "Beloved",
        "Morrison, Toni",
        "33390004021180  Due: 12/24/2026",
    ]);
    check(
        &out,
        &[("surname", "Okafor"), ("given", "Chidinma")],
        &["Morrison, Toni", "Beloved", "33390004021180"],
    );
}

#[test]
fn a_site_card_format_is_a_card_wherever_it_stands() {
    use slipguard::config::Config;
    use std::path::Path;
    let cfg = "[redact]\ncard_pattern = 'P[0-9]{6}'\n";
    let c = Config::from_toml(Path::new("site.toml"), cfg).unwrap();
    let job = job(&[
        "Checkout Receipt",
        "Ref P482213 paid",
        "Item: The Overstory  P1234",
    ]);
    let p = profile();
    let (out, _) = Redactor::new(c.redact).job(&p, &job).expect("printed");
    let text: String = lines(&p, &out)
        .iter()
        .map(|l| format!("{}\n", l.text))
        .collect();
    check(&text, &[("site card", "48221")], &["The Overstory  P1234"]);
    // Without it, the same number in no patron context is not a card.
    check(
        &printed(&["Checkout Receipt", "Ref P482213 paid"]),
        &[],
        &["P482213"],
    );
    // A pattern that matches an empty word would mask every blank: refused, with its line.
    let e = Config::from_toml(
        Path::new("site.toml"),
        "[redact]\n\ncard_pattern = '[0-9]*'\n",
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("site.toml:3:"), "{e}");
}

#[test]
fn headings_titles_and_labels_around_values_are_kept() {
    let out = printed(&[
        "Médiathèque de Lyon",
        "Reçu de paiement",
        "Lecteur : M. Dupont Pierre",
        "Hold for pickup at Maple Ridge",
        "Adres: Kerkstraat 12",
        "1012 AB Amsterdam",
        "Patron: Mr Max Mustermann",
    ]);
    check(
        &out,
        &[
            ("fr surname", "Dupont"),
            ("nl street", "Kerkstraat"),
            ("nl postcode", "1012 AB"),
            ("de surname", "Mustermann"),
        ],
        &[
            "Reçu de paiement",
            "Hold for pickup at Maple Ridge",
            "Adres:",
            "Lecteur : M.",
            "Patron: Mr ",
        ],
    );
}

#[test]
fn a_patron_card_of_any_format_under_the_name_as_a_barcode_field_or_a_list_item() {
    // Evergreen's hold shelf and transit slips: `Barcode:` under `Hold for patron:`.
    let out = printed(&[
        "This item needs to be routed to the Hold Shelf",
        "Barcode: 33390004021180",
        "Title: Beloved",
        "Hold for patron: Okafor, Chidinma Ada",
        "Barcode: 1000482213",
        "Request Date: 12/1/26",
    ]);
    check(
        &out,
        &[("card", "100048"), ("given", "Chidinma")],
        &["33390004021180", "Beloved", "12/1/26"],
    );
    // Koha's hold slip as a list, bullets and all.
    let out = printed(&[
        "Hold Slip",
        "Okafor, Chidinma",
        "• 1000482213",
        "• 785-555-0154",
        "Item: Beloved",
    ]);
    check(
        &out,
        &[("card", "100048"), ("phone", "555-0154")],
        &["Beloved"],
    );
}

/// A library word near a patron's labelled contact data, or inside it, does not make it the
/// library's; only the library's own heading above its block does.
#[test]
fn a_library_word_near_or_inside_a_value_keeps_nothing_unmasked() {
    let out = printed(&[
        "Hold Slip",
        "Patron: Maja Åkesson",
        "Pickup at: Elmwood Library, Eastside",
        "Phone: (303) 555-0187",
        "Email: maja.akesson@example.org",
        "Address: 1400 Mill Branch Rd",
        "Email: info@smithfamily.net",
        "Item: The Overstory",
        "",
        "Elmwood Public Library",
        "200 Main St",
        "Phone: (303) 555-0100",
        "Email: circ@elmwood.example.org",
    ]);
    check(
        &out,
        &[
            ("phone", "555-0187"),
            ("email", "akesson@"),
            ("street", "Mill Branch"),
            ("second email", "smithfamily"),
        ],
        &[
            "Elmwood Library, Eastside",
            "The Overstory",
            "(303) 555-0100",
            "circ@elmwood.example.org",
        ],
    );
    // A name that starts with a heading's word is still a name; a street behind a no-break
    // space is still a street.
    let out = printed(&[
        "Checked out to Fine, Anna",
        "21472000358610",
        "12\u{A0}Kloof Street",
        "Hold for Self, Marta",
    ]);
    check(
        &out,
        &[
            ("given", "Anna"),
            ("street", "Kloof"),
            ("second given", "Marta"),
        ],
        &[],
    );
}
