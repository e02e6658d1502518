//! The Luhn (mod 10) check digit that library card numbers (Codabar, 14 digits) carry.

/// The Luhn check digit for a string of ASCII digits.
pub fn digit(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// Does a digit string end in a valid Luhn check digit?
pub fn valid(number: &str) -> bool {
    number.len() >= 2
        && number.bytes().all(|b| b.is_ascii_digit())
        && digit(&number[..number.len() - 1]) == number.chars().last().unwrap_or('x')
}

#[cfg(test)]
mod tests {
    #[test]
    fn luhn_accepts_valid_and_rejects_a_changed_digit() {
        assert!(super::valid("79927398713"));
        assert!(!super::valid("79927398710"));
        assert!(!super::valid("7992739871a"));
    }
}
