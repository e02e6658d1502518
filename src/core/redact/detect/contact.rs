//! Phone numbers: the cheap tests before the phone patterns run, and the date shapes that
//! are not phone numbers.

/// Groups of digits that read as a date (`2026-12-24`, `24.12.2026`, `12 24 2026`): a
/// four-digit year before or after two groups of one or two digits.
pub(super) fn is_date_shape(m: &str) -> bool {
    let groups: Vec<usize> = m
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect();
    matches!(groups[..], [4, 1 | 2, 1 | 2, ..] | [1 | 2, 1 | 2, 4, ..])
}

/// A cheap test a line passes before the phone pattern runs: every number the pattern
/// finds ends in three digits, a space, period or dash, and four digits, or starts with `+`
/// and a digit.
pub(super) fn may_be_phone(line: &[u8]) -> bool {
    let d = |i: usize| line.get(i).is_some_and(u8::is_ascii_digit);
    (0..line.len()).any(|i| {
        (line[i] == b'+' && d(i + 1))
            || (d(i)
                && d(i + 1)
                && d(i + 2)
                && matches!(line.get(i + 3), Some(b' ' | b'.' | b'-'))
                && (i + 4..i + 8).all(d))
    })
}
