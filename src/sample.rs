//! `slipguard sample`: realistic fake library slips with fake patron data, to try the filter
//! on. ESC/POS slips are built with the `escpos` crate (as point-of-sale software builds
//! them); Star Line Mode slips are written byte by byte, since that crate has no Star support.
//!
//! Every name, card number, phone number and address here is invented: card and item
//! numbers are 14-digit Codabar numbers (patron type digit 2, item type digit 3) with a
//! valid Luhn check digit, phone numbers use the 555-01xx range reserved for fiction,
//! e-mail addresses use example.org.

use crate::core::profile::Profile;
use crate::core::text::codepage::Encoding;
use crate::core::tokenize::Dialect;
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::printer_options::PrinterOptions;
use escpos::utils::{BarcodeOption, JustifyMode, Protocol, QRCodeOption};
use std::cell::RefCell;
use std::rc::Rc;

/// The slips a circulation desk prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Checkout,
    Checkin,
    Hold,
    Transit,
    Payment,
}

/// A small deterministic generator (xorshift64*), so a seed always gives the same slip.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

pub use crate::core::luhn::{digit as luhn_digit, valid as luhn_valid};

/// A 14-digit library barcode: type digit, 4-digit library code, 8 digits, check digit.
fn codabar_number(rng: &mut Rng, type_digit: char) -> String {
    let mut s = String::with_capacity(14);
    s.push(type_digit);
    s.push_str("1472");
    s.push_str(&rng.digits(8));
    let check = luhn_digit(&s);
    s.push(check);
    s
}

const FIRST: &[&str] = &[
    "Marisol", "Zoë", "Björn", "Chloé", "José", "Siobhán", "Ngozi", "Ana", "Øystein", "Renée",
];
const LAST: &[&str] = &[
    "Okonkwo",
    "Müller",
    "Lefèvre",
    "Ibáñez",
    "Ó Briain",
    "Fernández",
    "Ødegård",
    "Nguyen",
    "Kowalczyk",
    "Ashworth",
];
const STREETS: &[&str] = &["Willow Creek Rd", "Maple Ave", "N 5th St", "Larkspur Lane"];
const TITLES: &[(&str, &str)] = &[
    ("Cien años de soledad", "García Márquez, Gabriel"),
    ("The left hand of darkness", "Le Guin, Ursula K."),
    ("Les misérables", "Hugo, Victor"),
    ("Red Mars", "Robinson, Kim Stanley"),
    ("Der Zauberberg", "Mann, Thomas"),
    ("Beloved", "Morrison, Toni"),
    ("The overstory", "Powers, Richard"),
];
const BRANCHES: &[&str] = &["Eastside Branch", "Riverside Branch", "Main Library"];

/// Fake patron data.
struct Patron {
    first: String,
    last: String,
    card: String,
    phone: String,
    email: String,
    street: String,
}

fn ascii_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ï' => 'i',
            'ó' | 'ö' | 'ø' | 'Ó' | 'Ø' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            'å' => 'a',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

impl Patron {
    fn new(rng: &mut Rng) -> Self {
        let first = rng.pick(FIRST).to_string();
        let last = rng.pick(LAST).to_string();
        let card = codabar_number(rng, '2');
        let phone = format!("(785) 555-01{:02}", rng.below(100));
        let email = format!("{}.{}@example.org", ascii_fold(&first), ascii_fold(&last));
        let street = format!("{} {}", 100 + rng.below(9800), rng.pick(STREETS));
        Patron {
            first,
            last,
            card,
            phone,
            email,
            street,
        }
    }
}

/// What a slip says, independent of the printer language.
enum Part {
    Init,
    Align(JustifyMode),
    Bold(bool),
    Size(u8, u8),
    Line(String),
    Blank,
    /// A Codabar barcode of a 14-digit number.
    Barcode(String),
    Qr(String),
    Cut,
}

fn item(rng: &mut Rng) -> (&'static str, &'static str, String) {
    let (t, a) = TITLES[rng.below(TITLES.len())];
    (t, a, codabar_number(rng, '3'))
}

fn date(rng: &mut Rng, days_ahead: u32) -> String {
    // A fixed month keeps samples stable; days vary with the seed.
    let day = 1 + (rng.below(9) as u32) + days_ahead.min(19);
    format!("2026-11-{day:02}")
}

fn header(parts: &mut Vec<Part>, branch: &str, title: &str) {
    parts.extend([
        Part::Init,
        Part::Align(JustifyMode::CENTER),
        Part::Bold(true),
        Part::Size(2, 2),
        Part::Line("Elmwood Library".into()),
        Part::Size(1, 1),
        Part::Bold(false),
        Part::Line(branch.into()),
        Part::Line("1201 Main St, Elmwood".into()),
        Part::Blank,
        Part::Bold(true),
        Part::Line(title.into()),
        Part::Bold(false),
        Part::Align(JustifyMode::LEFT),
    ]);
}

fn slip(kind: Kind, seed: u64) -> Vec<Part> {
    let mut rng = Rng::new(seed);
    let p = Patron::new(&mut rng);
    let branch = rng.pick(BRANCHES);
    let now = format!(
        "{} {:02}:{:02}",
        date(&mut rng, 0),
        9 + rng.below(9),
        rng.below(60)
    );
    let mut v = Vec::new();
    let full = format!("{} {}", p.first, p.last);
    match kind {
        Kind::Checkout => {
            header(&mut v, branch, "Checkout receipt");
            v.push(Part::Line(format!("Date: {now}")));
            v.push(Part::Line(format!("Checked out to: {full}")));
            v.push(Part::Line(format!("Card number: {}", p.card)));
            v.push(Part::Blank);
            let due = date(&mut rng, 21);
            for n in 1..=3 {
                let (title, author, barcode) = item(&mut rng);
                v.push(Part::Line(format!("{n}. {title}")));
                v.push(Part::Line(format!("   {author}")));
                v.push(Part::Line(format!("   Item: {barcode}")));
                v.push(Part::Line(format!("   Due: {due}")));
            }
            v.push(Part::Blank);
            v.push(Part::Line("Items checked out: 3".into()));
            v.push(Part::Line(format!("Reminders go to: {}", p.email)));
            v.push(Part::Align(JustifyMode::CENTER));
            v.push(Part::Line("Renew at elmwood.example.org".into()));
            v.push(Part::Line("or call (785) 555-0100".into()));
        }
        Kind::Checkin => {
            header(&mut v, branch, "Checkin receipt");
            v.push(Part::Line(format!("Date: {now}")));
            v.push(Part::Line(format!("Checked in items for: {full}")));
            v.push(Part::Line(format!("Card #: {}", p.card)));
            v.push(Part::Blank);
            for _ in 0..2 {
                let (title, _, barcode) = item(&mut rng);
                v.push(Part::Line(title.into()));
                v.push(Part::Line(format!("   Item: {barcode}  Returned")));
            }
            v.push(Part::Blank);
            v.push(Part::Line("Fines: $0.00".into()));
            v.push(Part::Align(JustifyMode::CENTER));
            v.push(Part::Line("Thank you for returning on time!".into()));
        }
        Kind::Hold => {
            let (title, author, barcode) = item(&mut rng);
            v.push(Part::Init);
            v.push(Part::Align(JustifyMode::CENTER));
            v.push(Part::Line("HOLD".into()));
            v.push(Part::Bold(true));
            v.push(Part::Size(2, 2));
            v.push(Part::Line(p.last.to_uppercase()));
            v.push(Part::Size(1, 1));
            v.push(Part::Line(format!("{}, {}", p.last, p.first)));
            v.push(Part::Bold(false));
            v.push(Part::Line(format!("({})", p.card)));
            v.push(Part::Align(JustifyMode::LEFT));
            v.push(Part::Blank);
            v.push(Part::Line(format!("Hold for patron: {full}")));
            v.push(Part::Line(format!("Phone: {}", p.phone)));
            v.push(Part::Line(format!("Email: {}", p.email)));
            v.push(Part::Line(format!("Address: {}", p.street)));
            v.push(Part::Line(format!("Pickup at: {branch}")));
            v.push(Part::Line(format!("Hold expires: {}", date(&mut rng, 7))));
            v.push(Part::Blank);
            v.push(Part::Line(title.into()));
            v.push(Part::Line(author.into()));
            v.push(Part::Barcode(barcode.clone()));
            v.push(Part::Line(format!("Item: {barcode}")));
        }
        Kind::Transit => {
            let (title, _, barcode) = item(&mut rng);
            let to = rng.pick(BRANCHES);
            header(&mut v, branch, "TRANSIT");
            v.push(Part::Bold(true));
            v.push(Part::Size(2, 1));
            v.push(Part::Line(format!("To: {to}")));
            v.push(Part::Size(1, 1));
            v.push(Part::Bold(false));
            v.push(Part::Line(format!("Sent: {now}")));
            v.push(Part::Blank);
            v.push(Part::Line(title.into()));
            v.push(Part::Line(format!("Item: {barcode}")));
            v.push(Part::Blank);
            v.push(Part::Line(format!("Hold for: {}, {}", p.last, p.first)));
            v.push(Part::Line(format!("Patron barcode: {}", p.card)));
            v.push(Part::Line(format!("Text: {}", p.phone)));
            v.push(Part::Barcode(barcode));
        }
        Kind::Payment => {
            header(&mut v, branch, "Payment receipt");
            v.push(Part::Line(format!("Date: {now}")));
            v.push(Part::Line(format!("Received with thanks from: {full}")));
            v.push(Part::Line(format!("Library card: {}", p.card)));
            v.push(Part::Blank);
            let (title, _, _) = item(&mut rng);
            v.push(Part::Line(format!("Overdue fine: {title}")));
            v.push(Part::Line("   Amount:             $2.50".into()));
            v.push(Part::Line("Lost card replacement".into()));
            v.push(Part::Line("   Amount:             $1.00".into()));
            v.push(Part::Line("Total paid:           $3.50 (cash)".into()));
            v.push(Part::Line("Balance:              $0.00".into()));
            v.push(Part::Blank);
            v.push(Part::Align(JustifyMode::CENTER));
            v.push(Part::Qr("https://elmwood.example.org/account".into()));
            v.push(Part::Line("Your account online".into()));
        }
    }
    v.push(Part::Blank);
    v.push(Part::Blank);
    v.push(Part::Cut);
    v
}

/// Replace characters the page cannot print with their unaccented letter, or `?`.
fn printable(enc: Encoding, s: &str) -> String {
    let Encoding::Single(page) = enc else {
        return s.to_string();
    };
    s.chars()
        .map(|c| {
            if page.encode(c).is_some() {
                return c;
            }
            let folded: String = ascii_fold(&c.to_string());
            match folded.chars().next() {
                Some(f) if c.is_uppercase() => f.to_ascii_uppercase(),
                Some(f) => f,
                None => '?',
            }
        })
        .collect()
}

/// Collects what the `escpos` crate writes.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// Text in the page's bytes; characters it lacks fall back as in [`printable`].
fn encode(enc: Encoding, s: &str) -> Vec<u8> {
    let text = printable(enc, s);
    match enc {
        Encoding::Single(page) => text
            .chars()
            .map(|c| page.encode(c).unwrap_or(b'?'))
            .collect(),
        Encoding::Utf8 => text.into_bytes(),
    }
}

fn escpos_bytes(parts: &[Part], profile: &Profile) -> anyhow::Result<Vec<u8>> {
    let (n, enc) = crate::typeset::text_page(&profile.code_pages.table)
        .ok_or_else(|| anyhow::anyhow!("profile `{}` has no Latin code page", profile.name))?;
    let cap = Capture::default();
    let opts = PrinterOptions::new(None, None, profile.columns.font_a as u8);
    let mut p = Printer::new(cap.clone(), Protocol::default(), Some(opts));
    for part in parts {
        match part {
            Part::Init => {
                // ESC @, then the profile's own number for the page (numbering differs by model).
                p.custom(&[0x1B, b'@'])?.custom(&[0x1B, b't', n])?;
            }
            Part::Align(j) => {
                p.justify(*j)?;
            }
            Part::Bold(b) => {
                p.bold(*b)?;
            }
            Part::Size(w, h) => {
                p.size(*w, *h)?;
            }
            Part::Line(s) => {
                // Our own encoder: the crate's PC858 table sends '-' as 0xF0 (soft hyphen).
                p.custom(&encode(enc, s))?.feed()?;
            }
            Part::Blank => {
                p.feed()?;
            }
            Part::Barcode(d) => {
                p.codabar_option(&format!("A{d}B"), BarcodeOption::default())?;
            }
            Part::Qr(d) => {
                if profile.codes_2d.qr {
                    p.qrcode_option(d, QRCodeOption::default())?;
                } else {
                    p.custom(&encode(enc, d))?.feed()?;
                }
            }
            Part::Cut => {
                if profile.cut.partial {
                    p.partial_cut()?;
                } else if profile.cut.full {
                    p.cut()?;
                } else {
                    p.feeds(4)?;
                }
            }
        }
    }
    p.print()?;
    let out = cap.0.borrow().clone();
    Ok(out)
}

fn star_bytes(parts: &[Part], profile: &Profile) -> anyhow::Result<Vec<u8>> {
    let (n, enc) = crate::typeset::text_page(&profile.code_pages.table)
        .ok_or_else(|| anyhow::anyhow!("profile `{}` has no Latin code page", profile.name))?;
    let mut o = Vec::new();
    for part in parts {
        match part {
            Part::Init => {
                o.extend_from_slice(&[0x1B, b'@', 0x1B, 0x1D, b't', n]);
            }
            Part::Align(j) => {
                let a = match j {
                    JustifyMode::CENTER => 1,
                    JustifyMode::RIGHT => 2,
                    _ => 0,
                };
                o.extend_from_slice(&[0x1B, 0x1D, b'a', a]);
            }
            Part::Bold(true) => o.extend_from_slice(&[0x1B, b'E']),
            Part::Bold(false) => o.extend_from_slice(&[0x1B, b'F']),
            Part::Size(w, h) => o.extend_from_slice(&[0x1B, b'i', h - 1, w - 1]),
            Part::Line(s) => {
                o.extend_from_slice(&encode(enc, s));
                o.push(b'\n');
            }
            Part::Blank => o.push(b'\n'),
            Part::Barcode(d) => {
                // ESC b n1 n2 n3 n4 data RS: NW-7 (Codabar), text under, mode 2, height 80 dots.
                o.extend_from_slice(&[0x1B, b'b', b'8', b'2', b'2', 80]);
                o.extend_from_slice(format!("A{d}B").as_bytes());
                o.push(0x1E);
                o.push(b'\n');
            }
            Part::Qr(d) => {
                // Model 2, error level M, cell 5, then data (auto analysis) and print.
                o.extend_from_slice(&[0x1B, 0x1D, b'y', b'S', b'0', 2]);
                o.extend_from_slice(&[0x1B, 0x1D, b'y', b'S', b'1', 1]);
                o.extend_from_slice(&[0x1B, 0x1D, b'y', b'S', b'2', 5]);
                let len = d.len() as u16;
                o.extend_from_slice(&[
                    0x1B,
                    0x1D,
                    b'y',
                    b'D',
                    b'1',
                    0,
                    len as u8,
                    (len >> 8) as u8,
                ]);
                o.extend_from_slice(d.as_bytes());
                o.extend_from_slice(&[0x1B, 0x1D, b'y', b'P', b'\n']);
            }
            Part::Cut => o.extend_from_slice(&[0x1B, b'd', 3]),
        }
    }
    Ok(o)
}

/// A fake slip of `kind` in the profile's printer language.
pub fn generate(kind: Kind, profile: &Profile, seed: u64) -> anyhow::Result<Vec<u8>> {
    let parts = slip(kind, seed);
    match profile.dialect {
        Dialect::EscPos => escpos_bytes(&parts, profile),
        Dialect::StarLine => star_bytes(&parts, profile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_14_digits_with_a_valid_check_digit() {
        let mut rng = Rng::new(7);
        for _ in 0..100 {
            let c = codabar_number(&mut rng, '2');
            assert_eq!(c.len(), 14);
            assert!(c.starts_with('2'));
            assert!(luhn_valid(&c), "{c}");
        }
    }
}
