//! The `[redact]` configuration: which actions apply to which kind, extra labels, slip-type
//! policies, site rules, and what to do with images and undecodable text. Parsed in two
//! layers (raw serde with unknown keys denied → checked [`RedactConfig`]); errors carry the
//! file and line.

use super::action::Action;
use super::Kind;
use crate::core::source::SourceError;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

/// Actions per kind of patron data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actions {
    pub card: Action,
    pub name: Action,
    pub email: Action,
    pub phone: Action,
    pub address: Action,
    pub birthdate: Action,
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            card: Action::KeepLast(4),
            name: Action::Initials,
            email: Action::Mask,
            phone: Action::Mask,
            address: Action::Mask,
            birthdate: Action::Mask,
        }
    }
}

impl Actions {
    pub fn get(&self, kind: Kind) -> &Action {
        match kind {
            Kind::Card => &self.card,
            Kind::Name => &self.name,
            Kind::Email => &self.email,
            Kind::Phone => &self.phone,
            Kind::Address => &self.address,
            Kind::Birthdate => &self.birthdate,
            Kind::Custom => &self.card,
        }
    }
}

/// A slip type: chosen when `matcher` finds its pattern in a segment's text; its actions
/// replace the defaults for the kinds it names.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub matcher: Regex,
    pub actions: Actions,
    /// Words (lower case) of which a text holds at least one, in any ASCII case, wherever
    /// `matcher` matches it: a text with none of them is not searched. Empty: no such
    /// words known (site policies).
    pub needs_one_of: Vec<memchr::memmem::Finder<'static>>,
}

/// A site rule: the named group `pii` of `pattern` is patron data, written as `action`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub pattern: Regex,
    pub action: Action,
}

/// Pass or block (fail the segment closed).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    #[default]
    Pass,
    Block,
}

/// Extra labels, added to the built-in ones.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    #[serde(default)]
    pub name: Vec<String>,
    #[serde(default)]
    pub card: Vec<String>,
    #[serde(default)]
    pub phone: Vec<String>,
    #[serde(default)]
    pub email: Vec<String>,
    #[serde(default)]
    pub address: Vec<String>,
    #[serde(default)]
    pub birthdate: Vec<String>,
}

/// The checked `[redact]` section.
#[derive(Clone, Debug)]
pub struct RedactConfig {
    /// Off: jobs pass byte for byte (still checked for truncated commands).
    pub enabled: bool,
    /// First digits of patron card numbers (Codabar type digit).
    pub card_type_digits: Vec<char>,
    /// A site's own card number format (`[redact] card_pattern`): a word that matches it
    /// whole is a patron card wherever it stands.
    pub card_pattern: Option<Regex>,
    pub actions: Actions,
    pub labels: Labels,
    /// Tried in order; the first that matches a segment applies. Built-in last.
    pub policies: Vec<Policy>,
    pub rules: Vec<Rule>,
    pub images: Gate,
    /// User-defined glyphs (`ESC &`) can make text print as anything: blocked by default.
    pub glyphs: Gate,
    /// Text the decoder cannot read (unmapped code page, invalid UTF-8): blocked by default.
    pub undecodable: Gate,
    /// Strings never redacted: the library's own phone numbers and addresses.
    pub keep: Vec<String>,
}

/// The built-in hold-shelf policy: slips that sit on an open shelf get the surname prefix.
pub const HOLD_SHELF_PATTERN: &str = r"(?i-u)\b(hold\s*(shelf|slip|pick\s*-?\s*up|for|expires|until|found)|on\s+hold\s+for|pick\s*-?\s*up\s+(by|at|library)|in\s+transit|transit\s+(to|slip))\b";

/// Every branch of [`HOLD_SHELF_PATTERN`] holds one of these words.
const HOLD_SHELF_WORDS: &[&str] = &["hold", "pick", "transit"];

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            enabled: true,
            card_type_digits: vec!['2'],
            card_pattern: None,
            actions: Actions::default(),
            labels: Labels::default(),
            policies: vec![hold_shelf()],
            rules: Vec::new(),
            images: Gate::Pass,
            glyphs: Gate::Block,
            undecodable: Gate::Block,
            keep: Vec::new(),
        }
    }
}

fn hold_shelf() -> Policy {
    Policy {
        name: "hold-shelf".into(),
        matcher: Regex::new(HOLD_SHELF_PATTERN).expect("built-in pattern"),
        actions: Actions {
            name: Action::SurnamePrefix(4),
            ..Actions::default()
        },
        needs_one_of: HOLD_SHELF_WORDS
            .iter()
            .map(|w| memchr::memmem::Finder::new(w).into_owned())
            .collect(),
    }
}

/// `[redact]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedact {
    enabled: Option<bool>,
    card_type_digits: Option<Spanned<String>>,
    card_pattern: Option<Spanned<String>>,
    #[serde(default)]
    actions: RawActions,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    policy: Vec<RawPolicy>,
    #[serde(default)]
    rule: Vec<RawRule>,
    images: Option<Gate>,
    glyphs: Option<Gate>,
    undecodable: Option<Gate>,
    #[serde(default)]
    keep: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActions {
    card: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    birthdate: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    #[serde(rename = "match")]
    matcher: Spanned<String>,
    #[serde(default)]
    actions: RawActions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    pattern: Spanned<String>,
    action: Spanned<String>,
}

impl RawRedact {
    /// Check the section; `origin` and `text` are the file it came from, for error places.
    pub fn check(self, origin: &str, text: &str) -> Result<RedactConfig, SourceError> {
        let err = |span: std::ops::Range<usize>, msg: String| {
            SourceError::at(origin, text, Some(span.start), msg)
        };
        let action = |s: &Spanned<String>| Action::parse(s.get_ref()).map_err(|m| err(s.span(), m));
        let actions = |raw: &RawActions, base: &Actions| -> Result<Actions, SourceError> {
            let pick = |v: &Option<Spanned<String>>, d: &Action| match v {
                Some(s) => action(s),
                None => Ok(d.clone()),
            };
            Ok(Actions {
                card: pick(&raw.card, &base.card)?,
                name: pick(&raw.name, &base.name)?,
                email: pick(&raw.email, &base.email)?,
                phone: pick(&raw.phone, &base.phone)?,
                address: pick(&raw.address, &base.address)?,
                birthdate: pick(&raw.birthdate, &base.birthdate)?,
            })
        };
        let regex = |s: &Spanned<String>| {
            Regex::new(s.get_ref()).map_err(|e| {
                let first = e.to_string();
                let last = first.lines().last().unwrap_or("").trim().to_string();
                err(s.span(), format!("bad regular expression: {last}"))
            })
        };
        let mut cfg = RedactConfig::default();
        if let Some(e) = self.enabled {
            cfg.enabled = e;
        }
        if let Some(d) = &self.card_type_digits {
            let digits: Vec<char> = d.get_ref().chars().collect();
            if digits.is_empty() || !digits.iter().all(|c| c.is_ascii_digit()) {
                return Err(err(
                    d.span(),
                    "card_type_digits must be digits, such as \"2\"".into(),
                ));
            }
            cfg.card_type_digits = digits;
        }
        if let Some(p) = &self.card_pattern {
            // Matched against one word at a time, whole.
            let whole = Spanned::new(p.span(), format!("^(?:{})$", p.get_ref()));
            let re = regex(&whole)?;
            if re.is_match("") {
                return Err(err(
                    p.span(),
                    r#"card_pattern matches an empty word; give the card's format, such as "P[0-9]{6}""#
                        .into(),
                ));
            }
            cfg.card_pattern = Some(re);
        }
        cfg.actions = actions(&self.actions, &Actions::default())?;
        cfg.labels = self.labels;
        let mut policies = Vec::new();
        for p in &self.policy {
            // A site policy starts from the site's default actions.
            policies.push(Policy {
                name: p.name.clone(),
                matcher: regex(&p.matcher)?,
                actions: actions(&p.actions, &cfg.actions)?,
                needs_one_of: Vec::new(),
            });
        }
        if !policies.iter().any(|p| p.name == "hold-shelf") {
            let mut h = hold_shelf();
            h.actions = Actions {
                name: Action::SurnamePrefix(4),
                ..cfg.actions.clone()
            };
            policies.push(h);
        }
        cfg.policies = policies;
        for r in &self.rule {
            let pattern = regex(&r.pattern)?;
            if !pattern.capture_names().any(|n| n == Some("pii")) {
                return Err(err(
                    r.pattern.span(),
                    format!(
                        "rule `{}`: the pattern needs a group named `pii`, as in (?P<pii>...)",
                        r.name
                    ),
                ));
            }
            cfg.rules.push(Rule {
                name: r.name.clone(),
                pattern,
                action: action(&r.action)?,
            });
        }
        cfg.images = self.images.unwrap_or(cfg.images);
        cfg.glyphs = self.glyphs.unwrap_or(cfg.glyphs);
        cfg.undecodable = self.undecodable.unwrap_or(cfg.undecodable);
        cfg.keep = self.keep;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The built-in policy's pattern matches only text holding one of its words, so
        /// text without them need not be searched.
        #[test]
        fn hold_shelf_matches_only_text_with_its_words(
            text in "((?i)hold|on|for|ready|pick|up|-|in|transit|to|slip|shelf|by|at|found|[ \\t\\n]|[a-z]{1,3}){0,8}"
        ) {
            let policy = hold_shelf();
            if policy.matcher.is_match(&text) {
                let lower = text.to_ascii_lowercase();
                prop_assert!(
                    policy.needs_one_of.iter().any(|w| w.find(lower.as_bytes()).is_some()),
                    "{:?}",
                    text
                );
            }
        }
    }
}
