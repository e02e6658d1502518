//! Errors that point into a text file (profiles, configuration): origin, line, column.

use std::fmt;

/// Something wrong at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    /// A path, or `builtin:NAME.toml`.
    pub origin: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl SourceError {
    /// An error at byte offset `at` of `text` (or about the whole file when `at` is `None`).
    pub fn at(origin: &str, text: &str, at: Option<usize>, msg: impl Into<String>) -> Self {
        let (line, col) = at.map_or((0, 0), |a| line_col(text, a));
        SourceError {
            origin: origin.to_string(),
            line,
            col,
            msg: msg.into(),
        }
    }

    /// A TOML syntax or shape error.
    pub fn from_toml(origin: &str, text: &str, e: &toml::de::Error) -> Self {
        let mut msg = e.message().trim().to_string();
        // `[printer]` where `[[printer]]` is meant: serde says only that a map is not a
        // sequence.
        if msg.contains("expected a sequence") {
            let at = e.span().map_or("", |s| &text[s.start.min(text.len())..]);
            let line = text[..e.span().map_or(0, |s| s.start.min(text.len()))]
                .rsplit('\n')
                .next()
                .unwrap_or("");
            let table = ["printer", "listen"]
                .into_iter()
                .find(|t| line.contains(&format!("[{t}]")) || at.starts_with(&format!("[{t}]")));
            if let Some(t) = table {
                msg.push_str(&format!(
                    " (write `[[{t}]]`, with two brackets: a configuration may have several)"
                ));
            }
        }
        Self::at(origin, text, e.span().map(|s| s.start), msg)
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.msg)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.origin, self.line, self.col, self.msg
            )
        }
    }
}

impl std::error::Error for SourceError {}

/// 1-based line and column of byte offset `at`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}
