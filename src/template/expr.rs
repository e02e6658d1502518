//! What a Template Toolkit directive or an AngularJS expression prints: enough of both
//! languages to tell the patron fields an expression outputs from those it only tests, to
//! see whether a directive opens or closes a block it does not also close or open, and to
//! follow the variables a template sets to a patron object or field (`SET patron =
//! template_data.patron`, `FOR addr IN patron.addresses`, `ng-repeat="a in patron.addresses"`).

use super::fields::{Fields, Res};
use crate::exact::Annot;
use std::collections::HashMap;

/// A token of an expression. (Template text, never slip data.)
#[derive(Clone, Debug, PartialEq)]
enum Tok<'a> {
    /// A name (a leading `$` dropped).
    Ident(&'a str),
    Num,
    /// A string literal, with the paths a double-quoted one interpolates (`"$patron.email"`).
    Str(Vec<Vec<&'a str>>),
    Dot,
    /// Any other character or operator (`;`, `=`, `==`, `|`, `||`, `(`, `:`, …).
    Op(&'a str),
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The tokens of `s` (lossily: bytes that are no token are skipped).
fn tokens(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if ident_start(c) {
            let s0 = if c == b'$' { i + 1 } else { i };
            let mut k = i + 1;
            while k < b.len() && ident_char(b[k]) {
                k += 1;
            }
            if k > s0 {
                out.push(Tok::Ident(&s[s0..k]));
            } else {
                out.push(Tok::Op("$"));
            }
            i = k;
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num);
        } else if c == b'\'' || c == b'"' {
            let mut k = i + 1;
            let mut interp = Vec::new();
            while k < b.len() && b[k] != c {
                if b[k] == b'\\' {
                    k += 2;
                    continue;
                }
                if c == b'"' && b[k] == b'$' {
                    // `$a.b.c` or `${ a.b.c }`
                    let brace = b.get(k + 1) == Some(&b'{');
                    let mut j = k + 1 + usize::from(brace);
                    let s0 = j;
                    while j < b.len() && (ident_char(b[j]) || b[j] == b'.') {
                        j += 1;
                    }
                    if j > s0 {
                        interp.push(s[s0..j].trim_matches('.').split('.').collect());
                    }
                    k = j.max(k + 1);
                    continue;
                }
                k += 1;
            }
            out.push(Tok::Str(interp));
            i = (k + 1).min(b.len());
        } else if c == b'.' {
            out.push(Tok::Dot);
            i += 1;
        } else {
            // Two-character operators that matter: `==`, `||`, `::`, `!=`, `=>`, `&&`.
            let two = s.get(i..i + 2);
            let op = match two {
                Some("==" | "||" | "::" | "!=" | "=>" | "&&" | "<=" | ">=") => two.unwrap_or(""),
                _ => s.get(i..i + 1).unwrap_or(""),
            };
            if op.is_empty() {
                // A byte inside a multi-byte character: skip it.
                i += 1;
                continue;
            }
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    out
}

/// The paths in `toks` (a name and its `.member`s), with the index after each; names that
/// follow a filter bar (`| html`, `| $KohaDates`, Angular `| date`) are filters, not paths.
fn paths<'a>(toks: &[Tok<'a>]) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Op("|") => {
                i += 1;
                if matches!(toks.get(i), Some(Tok::Ident(_))) {
                    i += 1;
                }
            }
            Tok::Ident(name) if upper(name) != "FILTER" => {
                let mut p = vec![*name];
                i += 1;
                while matches!(toks.get(i), Some(Tok::Dot)) {
                    match toks.get(i + 1) {
                        Some(Tok::Ident(m)) => p.push(m),
                        Some(Tok::Num) => p.push("0"),
                        _ => break,
                    }
                    i += 2;
                }
                out.push(p);
            }
            Tok::Ident(_) => {
                // `FILTER name`: the name is a filter.
                i += 1;
                if matches!(toks.get(i), Some(Tok::Ident(_))) {
                    i += 1;
                }
            }
            Tok::Str(interp) => {
                out.extend(interp.iter().cloned());
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// The kinds of the patron fields `toks` refers to, in order, each once.
fn kinds(toks: &[Tok<'_>], fields: &Fields, aliases: &HashMap<String, Res>) -> Vec<Annot> {
    let mut out = Vec::new();
    for p in paths(toks) {
        if let Some(Res::Field(a)) = fields.resolve(&p, aliases) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The variables `toks` assigns (`a = path`, as many as it holds), with what each refers to.
fn assignments(toks: &[Tok<'_>], fields: &Fields, aliases: &mut HashMap<String, Res>) {
    let mut i = 0;
    while i + 1 < toks.len() {
        if let (Some(Tok::Ident(name)), Some(Tok::Op("="))) = (toks.get(i), toks.get(i + 1)) {
            let rest = &toks[i + 2..];
            let value = paths(&rest[..rest.len().min(path_len(rest))]);
            match value.first().and_then(|p| fields.resolve(p, aliases)) {
                Some(r) => {
                    aliases.insert(name.to_string(), r);
                }
                None => {
                    // Set to something else: no longer what it was.
                    aliases.remove(*name);
                }
            }
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// The length of the path at the start of `toks` (0 when none).
fn path_len(toks: &[Tok<'_>]) -> usize {
    if !matches!(toks.first(), Some(Tok::Ident(_))) {
        return 0;
    }
    let mut i = 1;
    while matches!(toks.get(i), Some(Tok::Dot))
        && matches!(toks.get(i + 1), Some(Tok::Ident(_) | Tok::Num))
    {
        i += 2;
    }
    i
}

/// A loop `VAR IN path` / `VAR = path` (TT), `VAR in path` / `(KEY, VAR) in path`
/// (Angular): the loop variable refers to what the list holds.
fn loop_alias(toks: &[Tok<'_>], fields: &Fields, aliases: &mut HashMap<String, Res>) {
    let (var, rest) = match toks {
        [Tok::Ident(v), Tok::Ident(kw), rest @ ..] if kw.eq_ignore_ascii_case("in") => (*v, rest),
        [Tok::Ident(v), Tok::Op("="), rest @ ..] => (*v, rest),
        [Tok::Op("("), Tok::Ident(_), Tok::Op(","), Tok::Ident(v), Tok::Op(")"), Tok::Ident(kw), rest @ ..]
            if kw.eq_ignore_ascii_case("in") =>
        {
            (*v, rest)
        }
        _ => return,
    };
    let value = paths(&rest[..path_len(rest)]);
    match value.first().and_then(|p| fields.resolve(p, aliases)) {
        Some(r) => {
            aliases.insert(var.to_string(), r);
        }
        None => {
            aliases.remove(var);
        }
    }
}

/// What a Template Toolkit directive does, as far as annotation cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Directive {
    /// The kinds of the patron fields it prints.
    pub outputs: Vec<Annot>,
    /// It closes every block it opens and opens every block it closes (so a span around it
    /// stays in one branch of the template).
    pub balanced: bool,
    /// `[%-`, `[%~`, `[%=`: whitespace before it may be removed.
    pub chomp_before: bool,
    /// `-%]`, `~%]`, `=%]`: whitespace after it may be removed.
    pub chomp_after: bool,
}

const OPENS: &[&str] = &[
    "IF", "UNLESS", "WHILE", "SWITCH", "FOREACH", "FOR", "BLOCK", "WRAPPER", "TRY", "PERL",
    "RAWPERL", "FILTER",
];
const MIDDLES: &[&str] = &["ELSIF", "ELSE", "CASE", "CATCH", "FINAL"];
const SILENT: &[&str] = &[
    "SET", "DEFAULT", "CALL", "USE", "INCLUDE", "PROCESS", "INSERT", "NEXT", "LAST", "RETURN",
    "STOP", "CLEAR", "META", "TAGS", "THROW", "DEBUG", "MACRO",
];
const POSTFIX: &[&str] = &[
    "IF", "UNLESS", "FOREACH", "FOR", "WHILE", "FILTER", "WRAPPER",
];

/// `inner`: a directive's text between `[%` and `%]`. Keywords are read in any case (a site
/// may run Template Toolkit with ANYCASE); updates `aliases` with what it sets.
pub(super) fn directive(
    inner: &str,
    fields: &Fields,
    aliases: &mut HashMap<String, Res>,
) -> Directive {
    let mut d = Directive {
        balanced: true,
        ..Directive::default()
    };
    let mut s = inner;
    if let Some(r) = s.strip_prefix(['-', '~', '=']) {
        d.chomp_before = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if let Some(r) = s.strip_suffix(['-', '~', '=']) {
        d.chomp_after = true;
        s = r;
    } else if let Some(r) = s.strip_suffix('+') {
        s = r;
    }
    if s.trim_start().starts_with('#') {
        return d; // a comment
    }
    let toks = tokens(s);
    let mut depth: i64 = 0;
    for st in toks.split(|t| *t == Tok::Op(";")) {
        let Some(first) = st.first() else {
            continue;
        };
        let kw = match first {
            Tok::Ident(w) => upper(w),
            _ => String::new(),
        };
        let rest = &st[1..];
        let kw = kw.as_str();
        if kw == "END" {
            depth -= 1;
            if depth < 0 {
                d.balanced = false;
            }
        } else if MIDDLES.contains(&kw) {
            if depth <= 0 {
                d.balanced = false;
            }
        } else if OPENS.contains(&kw) {
            depth += 1;
            if matches!(kw, "FOREACH" | "FOR") {
                loop_alias(rest, fields, aliases);
            }
        } else if kw == "MACRO"
            && rest
                .iter()
                .any(|t| matches!(t, Tok::Ident(w) if upper(w) == "BLOCK"))
        {
            depth += 1;
        } else if matches!(kw, "SET" | "DEFAULT") {
            assignments(rest, fields, aliases);
        } else if SILENT.contains(&kw) {
        } else {
            let expr = if kw == "GET" { rest } else { st };
            if matches!(expr, [Tok::Ident(_), Tok::Op("="), ..]) {
                assignments(expr, fields, aliases);
                continue;
            }
            // The output is what comes before a postfix keyword.
            let cut = expr
                .iter()
                .position(|t| matches!(t, Tok::Ident(w) if POSTFIX.contains(&upper(w).as_str())))
                .unwrap_or(expr.len());
            for k in kinds(&expr[..cut], fields, aliases) {
                if !d.outputs.contains(&k) {
                    d.outputs.push(k);
                }
            }
        }
    }
    if depth != 0 {
        d.balanced = false;
    }
    d
}

/// The kinds of the patron fields an AngularJS expression (`{{ … }}`'s inside, an
/// `ng-bind` value) prints.
pub(super) fn angular(expr: &str, fields: &Fields, aliases: &HashMap<String, Res>) -> Vec<Annot> {
    let e = expr.trim_start().trim_start_matches("::");
    kinds(&tokens(e), fields, aliases)
}

/// An `ng-repeat` value: its loop variable refers to what the list holds.
pub(super) fn ng_repeat(value: &str, fields: &Fields, aliases: &mut HashMap<String, Res>) {
    loop_alias(&tokens(value), fields, aliases);
}

/// An `ng-init` value: the variables it assigns.
pub(super) fn ng_init(value: &str, fields: &Fields, aliases: &mut HashMap<String, Res>) {
    assignments(&tokens(value), fields, aliases);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Ils;

    fn tt(inner: &str) -> Directive {
        directive(inner, Fields::get(Ils::Auto), &mut HashMap::new())
    }

    #[test]
    fn outputs_conditions_filters_and_blocks() {
        use Annot::*;
        assert_eq!(tt(" borrower.surname | html ").outputs, vec![Name]);
        assert_eq!(tt("- patron.firstname FILTER upper -").outputs, vec![Name]);
        assert!(tt("- patron.firstname -").chomp_before);
        let d = tt(" IF patron.email ");
        assert!(d.outputs.is_empty() && !d.balanced);
        let d = tt(" IF patron.email; patron.email; ELSE; 'none'; END ");
        assert_eq!(d.outputs, vec![Email]);
        assert!(d.balanced);
        assert!(!tt(" END ").balanced && !tt(" ELSE ").balanced);
        assert_eq!(tt(" patron.email IF patron.email ").outputs, vec![Email]);
        assert_eq!(
            tt(" patron.firstname _ ' ' _ patron.card.barcode ").outputs,
            vec![Name, Card]
        );
        assert_eq!(tt(" \"Dear $patron.firstname\" ").outputs, vec![Name]);
        assert!(tt("# patron.firstname ").outputs.is_empty());
        assert!(tt(" staff.first_given_name ").outputs.is_empty());
        assert_eq!(tt(" GET patron.dob ").outputs, vec![Birthdate]);
    }

    #[test]
    fn variables_follow_what_they_are_set_to() {
        let f = Fields::get(Ils::Auto);
        let mut al = HashMap::new();
        directive(
            " SET p = template_data.patron; n = p.first_given_name ",
            f,
            &mut al,
        );
        assert_eq!(
            directive(" p.family_name ", f, &mut al).outputs,
            vec![Annot::Name]
        );
        assert_eq!(directive(" n ", f, &mut al).outputs, vec![Annot::Name]);
        let d = directive(" FOR addr IN p.addresses ", f, &mut al);
        assert!(!d.balanced);
        assert_eq!(
            directive(" addr.post_code ", f, &mut al).outputs,
            vec![Annot::Address]
        );
        ng_repeat("a in patron.addresses track by $index", f, &mut al);
        assert_eq!(
            angular("::a.street1 | uppercase", f, &al),
            vec![Annot::Address]
        );
        assert_eq!(
            angular(
                "patron.pref_first_given_name || patron.first_given_name",
                f,
                &al
            ),
            vec![Annot::Name]
        );
        assert!(angular("hold.request_time | date:$root.egDateAndTimeFormat", f, &al).is_empty());
    }
}
