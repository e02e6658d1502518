//! The configuration reference: every key `slipguard check` accepts, with its type, default
//! and an example, in one table. `slipguard generate-assets` writes `slipguard.toml(5)` from
//! it, and a test holds it to the keys the parser really accepts (so a key added to the
//! parser without a line here fails the tests).

/// One key of the configuration file.
pub struct Key {
    /// The table it is in, as written in the file (`[daemon]`, `[[printer]]`, …).
    pub table: &'static str,
    pub key: &'static str,
    /// TOML type and the form of the value.
    pub ty: &'static str,
    pub default: &'static str,
    /// A line as it would stand in the file.
    pub example: &'static str,
    pub doc: &'static str,
}

const fn key(
    table: &'static str,
    key: &'static str,
    ty: &'static str,
    default: &'static str,
    example: &'static str,
    doc: &'static str,
) -> Key {
    Key {
        table,
        key,
        ty,
        default,
        example,
        doc,
    }
}

/// The tables, in the order the manual gives them, with what each is for.
pub const TABLES: &[(&str, &str)] = &[
    (
        "[daemon]",
        "Directories, retention and limits of the daemon. Optional; every key has a default.",
    ),
    (
        "[[printer]]",
        "A receipt printer. At least one is required; each needs a name, a profile and a device.",
    ),
    (
        "[[listen]]",
        "Where jobs come in. Each raw, LPD and folder listener sends its jobs to one printer; \
         an HTTP listener serves every printer (named in the URL) unless `printer` is given.",
    ),
    (
        "[redact]",
        "What is redacted and how. Optional; the defaults redact names to initials, cards to \
         their last four digits and contact data entirely.",
    ),
    (
        "[redact.actions]",
        "How each kind of value is written. An action is one of keep-last:N, keep-first:N, \
         initials, surname-prefix:N, mask, drop or replace:TEXT.",
    ),
    (
        "[redact.labels]",
        "Extra labels, added to the built-in ones of every language: a value after one of \
         these is patron data of that kind.",
    ),
    (
        "[[redact.policy]]",
        "A slip type chosen by a pattern over the slip's text, with its own actions.",
    ),
    (
        "[[redact.policy]].actions",
        "The policy's actions, keys as in [redact.actions]; unset ones are the section's.",
    ),
    (
        "[[redact.rule]]",
        "A site rule: the named group `pii` of the pattern is patron data.",
    ),
];

/// Every key, by table.
pub const KEYS: &[Key] = &[
    key("[daemon]", "state_dir", "string (absolute path)",
        "$STATE_DIRECTORY; /var/lib/slipguard as root; else $XDG_STATE_HOME/slipguard or ~/.local/state/slipguard",
        "state_dir = \"/var/lib/slipguard\"",
        "Where the sealed spool entries are kept. One daemon per state directory."),
    key("[daemon]", "runtime_dir", "string (absolute path)",
        "$RUNTIME_DIRECTORY; /run/slipguard as root; else $XDG_RUNTIME_DIR/slipguard",
        "runtime_dir = \"/run/slipguard\"",
        "The control socket and the spool's keys. Keep it on tmpfs, so that a power loss makes every entry unreadable."),
    key("[daemon]", "retention", "string (duration: 90s, 15m, 2h, 1d)", "15m",
        "retention = \"15m\"",
        "How long a job's sealed entry is kept for retry and reprint; then it and, with its epoch, its key are destroyed. Under 1m or over 7d is refused unless allow_unusual_retention is set."),
    key("[daemon]", "allow_unusual_retention", "boolean", "false",
        "allow_unusual_retention = true",
        "Accept a retention window under a minute or over seven days."),
    key("[daemon]", "profile_dir", "string (path)", "none (the packaged and built-in profiles)",
        "profile_dir = \"/etc/slipguard/printer-profiles\"",
        "A directory searched for printer profiles before /usr/share/slipguard/printer-profiles and the built-in ones."),
    key("[daemon]", "max_job_bytes", "integer (bytes)", "16777216",
        "max_job_bytes = 16777216",
        "Larger jobs are refused, with the limit's name in the log."),
    key("[daemon]", "max_segment_bytes", "integer (bytes)", "4194304",
        "max_segment_bytes = 4194304",
        "Jobs with a longer stretch between two cuts are refused."),
    key("[daemon]", "idle_timeout", "string (duration)", "30s",
        "idle_timeout = \"30s\"",
        "A client silent this long loses its connection and its job."),
    key("[daemon]", "job_timeout", "string (duration)", "2m",
        "job_timeout = \"2m\"",
        "So does one still sending its job this long after it began; no wait on a client's behalf outlasts it."),
    key("[daemon]", "max_connections", "integer", "64",
        "max_connections = 64",
        "Connections per listener; more clients wait in the backlog."),
    key("[daemon]", "max_redactions", "integer", "the number of CPUs, at most 4",
        "max_redactions = 2",
        "Jobs redacted at once; more wait their turn. Each takes up to about 8 times max_segment_bytes plus max_job_bytes of memory while it runs."),
    key("[daemon]", "max_held_bytes", "integer (bytes)", "134217728 (128 MiB)",
        "max_held_bytes = 67108864",
        "Job bytes held in memory at once, all listeners and printer queues together (jobs being received, redacted jobs waiting for their printer); a job that would pass it is refused. With max_redactions it sets the daemon's memory budget (README \"Memory\")."),
    key("[daemon]", "max_queries", "integer", "64",
        "max_queries = 64",
        "Status queries per raw connection; past it the rest of the connection is discarded."),
    key("[daemon]", "device_timeout", "string (duration)", "30s",
        "device_timeout = \"30s\"",
        "A printer must take a job within this; a network printer that has taken it all is not sent it again (status: stuck)."),
    key("[daemon]", "stop_timeout", "string (duration)", "10s",
        "stop_timeout = \"10s\"",
        "SIGTERM waits this long for jobs in flight; the rest stay in the spool."),
    key("[[printer]]", "name", "string", "required",
        "name = \"front-desk\"",
        "The printer's name, used by listeners, the HTTP URL, status and logs."),
    key("[[printer]]", "profile", "string", "required",
        "profile = \"epson-tm-t88v\"",
        "The printer model's profile (`slipguard profiles` lists them): dialect, code pages, width."),
    key("[[printer]]", "device", "string (URI)", "required",
        "device = \"usb:///dev/usb/lp0\"",
        "Where jobs go: usb:///dev/usb/lpN, serial:///dev/ttyUSB0?baud=38400&flow=rtscts, tcp://HOST:PORT or file:///DIR (one file per job)."),
    key("[[printer]]", "any_device_path", "boolean", "false",
        "any_device_path = true",
        "Allow a usb:// or serial:// path outside /dev/usb, /dev/tty* and /dev/serial (refused by default, so a typo cannot write to a file)."),
    key("[[listen]]", "protocol", "string: raw, lpd, folder or http", "required",
        "protocol = \"raw\"",
        "raw: one connection is one job (port 9100); lpd: RFC 1179 (port 515); folder: each complete file is a job; http: slips posted by the staff browser."),
    key("[[listen]]", "address", "string (IP:PORT)", "required for raw and lpd; 127.0.0.1:9180 for http",
        "address = \"127.0.0.1:9100\"",
        "Where a raw, LPD or HTTP listener listens. Each listener needs an address of its own."),
    key("[[listen]]", "path", "string (absolute path)", "required for folder",
        "path = \"/var/spool/slipguard-in\"",
        "The drop folder of a folder listener."),
    key("[[listen]]", "printer", "string (a printer's name)", "required except for http",
        "printer = \"front-desk\"",
        "The printer this listener's jobs go to; an HTTP listener with it serves only that printer."),
    key("[[listen]]", "allowed_origins", "array of strings (scheme://host[:port])", "[] (no web page may post)",
        "allowed_origins = [\"https://staff.library.example\"]",
        "Web pages that may post slips to an HTTP listener, written as browsers send Origin (default ports left out)."),
    key("[redact]", "enabled", "boolean", "true",
        "enabled = true",
        "false: jobs pass byte for byte (still checked for truncated commands)."),
    key("[redact]", "card_type_digits", "string (digits)", "\"2\"",
        "card_type_digits = \"23\"",
        "First digits of the library's 14-digit Codabar patron cards."),
    key("[redact]", "card_pattern", "string (regular expression)", "none",
        "card_pattern = 'P[0-9]{6}'",
        "A site's own card format: a word it matches whole is a patron card wherever it stands."),
    key("[redact]", "images", "string: pass or block", "pass",
        "images = \"block\"",
        "Raster images cannot be read: pass them unread, or refuse a slip that has one."),
    key("[redact]", "glyphs", "string: pass or block", "block",
        "glyphs = \"block\"",
        "User-defined glyphs can make text print as anything: a slip with them is refused by default."),
    key("[redact]", "undecodable", "string: pass or block", "block",
        "undecodable = \"block\"",
        "Text in a code page the profile cannot decode: refused by default."),
    key("[redact]", "keep", "array of strings", "[]",
        "keep = [\"(785) 555-0100\"]",
        "The library's own numbers and addresses: never redacted."),
    key("[redact.actions]", "card", "string (action)", "keep-last:4", "card = \"keep-last:4\"", "Patron card numbers."),
    key("[redact.actions]", "name", "string (action)", "initials", "name = \"initials\"", "Patron names."),
    key("[redact.actions]", "email", "string (action)", "mask", "email = \"mask\"", "E-mail addresses."),
    key("[redact.actions]", "phone", "string (action)", "mask", "phone = \"mask\"", "Phone numbers."),
    key("[redact.actions]", "address", "string (action)", "mask", "address = \"mask\"", "Postal addresses."),
    key("[redact.actions]", "birthdate", "string (action)", "mask", "birthdate = \"mask\"", "Dates of birth."),
    key("[redact.labels]", "name", "array of strings", "[]", "name = [\"Reader\"]", "Extra labels of a name."),
    key("[redact.labels]", "card", "array of strings", "[]", "card = [\"Student ID\"]", "Extra labels of a card number."),
    key("[redact.labels]", "phone", "array of strings", "[]", "phone = [\"Mobile no.\"]", "Extra labels of a phone number."),
    key("[redact.labels]", "email", "array of strings", "[]", "email = [\"Notices to\"]", "Extra labels of an e-mail address."),
    key("[redact.labels]", "address", "array of strings", "[]", "address = [\"Home\"]", "Extra labels of an address."),
    key("[redact.labels]", "birthdate", "array of strings", "[]", "birthdate = [\"DOB\"]", "Extra labels of a date of birth."),
    key("[[redact.policy]]", "name", "string", "required", "name = \"hold-shelf\"", "The policy's name, in logs."),
    key("[[redact.policy]]", "match", "string (regular expression)", "required",
        "match = '(?i)hold shelf|on hold for'",
        "The slips it applies to: those whose text this pattern finds."),
    key("[[redact.policy]]", "actions", "table (keys as [redact.actions])", "the section's actions",
        "actions = { name = \"surname-prefix:4\" }",
        "The actions of the slips it applies to."),
    key("[[redact.policy]].actions", "card", "string (action)", "[redact.actions] card", "card = \"keep-last:4\"", "As in [redact.actions]."),
    key("[[redact.policy]].actions", "name", "string (action)", "[redact.actions] name", "name = \"surname-prefix:4\"", "As in [redact.actions]."),
    key("[[redact.policy]].actions", "email", "string (action)", "[redact.actions] email", "email = \"drop\"", "As in [redact.actions]."),
    key("[[redact.policy]].actions", "phone", "string (action)", "[redact.actions] phone", "phone = \"drop\"", "As in [redact.actions]."),
    key("[[redact.policy]].actions", "address", "string (action)", "[redact.actions] address", "address = \"drop\"", "As in [redact.actions]."),
    key("[[redact.policy]].actions", "birthdate", "string (action)", "[redact.actions] birthdate", "birthdate = \"drop\"", "As in [redact.actions]."),
    key("[[redact.rule]]", "name", "string", "required", "name = \"locker\"", "The rule's name, in logs."),
    key("[[redact.rule]]", "pattern", "string (regular expression with a group named pii)", "required",
        "pattern = 'Locker PIN: (?P<pii>[0-9]{4,6})'",
        "What the rule finds; the group `pii` is patron data."),
    key("[[redact.rule]]", "action", "string (action)", "required", "action = \"mask\"", "How the `pii` group is written."),
];

/// A roff-escaped line of text: backslashes doubled, a leading `.` or `'` guarded.
fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// `slipguard.toml(5)`, in roff.
pub fn man_page(version: &str) -> String {
    let mut m = String::new();
    m.push_str(&format!(
        ".TH slipguard.toml 5 \"\" \"slipguard {version}\" \"File Formats\"\n\
         .SH NAME\nslipguard.toml \\- configuration of the slipguard receipt\\-printer filter\n\
         .SH SYNOPSIS\n/etc/slipguard/slipguard.toml\n\
         .SH DESCRIPTION\n"
    ));
    m.push_str(&roff(
        "The configuration of slipguard(1), in TOML. slipguard run reads it at start and again \
         on SIGHUP or when it changes (a configuration with an error is refused and the running \
         one kept); slipguard check reads it and reports the first error with its file, line \
         and column. Without a file, slipguard run uses an embedded default and says so.",
    ));
    m.push('\n');
    for (table, about) in TABLES {
        m.push_str(&format!(".SH {}\n{}\n", roff(table), roff(about)));
        for k in KEYS.iter().filter(|k| k.table == *table) {
            m.push_str(&format!(
                ".TP\n.B {}\n{}\n.br\nType: {}. Default: {}.\n.br\nExample: \\fB{}\\fR\n",
                roff(k.key),
                roff(k.doc),
                roff(k.ty),
                roff(k.default),
                roff(k.example)
            ));
        }
    }
    m.push_str(&format!(
        ".SH EXAMPLE\n.nf\n{}\n.fi\n.SH SEE ALSO\nslipguard(1), slipguard\\-check(1), slipguard\\-run(1)\n",
        roff(EXAMPLE).replace("\n.", "\n\\&.")
    ));
    m
}

/// A small complete configuration, for the manual.
const EXAMPLE: &str = "[daemon]
retention = \"15m\"

[[printer]]
name = \"front-desk\"
profile = \"epson-tm-t88v\"
device = \"usb:///dev/usb/lp0\"

[[listen]]
protocol = \"raw\"
address = \"127.0.0.1:9100\"
printer = \"front-desk\"

[redact.actions]
card = \"keep-last:4\"
name = \"initials\"";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The keys the parser accepts in `table`, as it lists them when it meets one it does
    /// not know (`unknown field …, expected one of …`).
    fn accepted(table: &str) -> BTreeSet<String> {
        let text = match table {
            "" => "zz_unknown = 1\n".to_string(),
            "[[redact.policy]].actions" => {
                "[[redact.policy]]\nname = \"p\"\nmatch = \"x\"\n[redact.policy.actions]\nzz_unknown = 1\n"
                    .to_string()
            }
            t => format!("{t}\nzz_unknown = 1\n"),
        };
        let e = crate::config::Config::from_toml(Path::new("t.toml"), &text)
            .err()
            .unwrap_or_else(|| panic!("{table}: an unknown key was accepted"))
            .to_string();
        let list = e
            .split("expected one of ")
            .nth(1)
            .or_else(|| e.split("expected ").nth(1))
            .unwrap_or_else(|| panic!("{table}: {e}"));
        list.split(", ")
            .map(|k| k.trim().trim_matches('`').to_string())
            .collect()
    }

    #[test]
    fn the_manual_lists_every_key_the_parser_accepts_and_no_other() {
        for (table, _) in TABLES {
            let documented: BTreeSet<String> = KEYS
                .iter()
                .filter(|k| k.table == *table)
                .map(|k| k.key.to_string())
                .collect();
            let mut parsed = accepted(table);
            // Sub-tables are documented as tables of their own.
            for sub in ["actions", "labels", "policy", "rule"] {
                if TABLES.iter().any(|(t, _)| {
                    t.trim_matches(['[', ']'])
                        == format!("{}.{sub}", table.trim_matches(['[', ']']))
                }) {
                    parsed.remove(sub);
                }
            }
            assert_eq!(documented, parsed, "{table}");
        }
        let top: BTreeSet<String> = ["daemon", "printer", "listen", "redact"]
            .map(String::from)
            .into();
        assert_eq!(accepted(""), top);
    }

    #[test]
    fn every_example_is_accepted() {
        let base = "[[printer]]\nname = \"front-desk\"\nprofile = \"epson-tm-t88v\"\ndevice = \"usb:///dev/usb/lp0\"\n";
        for k in KEYS {
            let text = match k.table {
                "[daemon]" | "[redact]" | "[redact.actions]" | "[redact.labels]" => {
                    format!("{base}{}\n{}\n", k.table, k.example)
                }
                "[[printer]]" => {
                    let mut lines: Vec<String> =
                        base.lines().map(String::from).collect();
                    lines.retain(|l| !l.starts_with(&format!("{} =", k.key)));
                    format!("{}\n{}\n", lines.join("\n"), k.example)
                }
                "[[listen]]" => {
                    let mut fields = vec![
                        "protocol = \"http\"".to_string(),
                    ];
                    if k.key == "path" {
                        fields = vec!["protocol = \"folder\"".into(), "printer = \"front-desk\"".into()];
                    } else if k.key == "protocol" || k.key == "address" {
                        fields = vec!["printer = \"front-desk\"".into()];
                        if k.key == "address" {
                            fields.push("protocol = \"raw\"".into());
                        } else {
                            fields.push("address = \"127.0.0.1:9100\"".into());
                        }
                    }
                    fields.push(k.example.to_string());
                    format!("{base}[[listen]]\n{}\n", fields.join("\n"))
                }
                "[[redact.policy]]" => {
                    let mut fields = vec!["name = \"p\"", "match = \"x\""];
                    fields.retain(|f| !f.starts_with(&format!("{} =", k.key)));
                    format!("{base}[[redact.policy]]\n{}\n{}\n", fields.join("\n"), k.example)
                }
                "[[redact.policy]].actions" => format!(
                    "{base}[[redact.policy]]\nname = \"p\"\nmatch = \"x\"\n[redact.policy.actions]\n{}\n",
                    k.example
                ),
                "[[redact.rule]]" => {
                    let mut fields = vec![
                        "name = \"r\"",
                        "pattern = '(?P<pii>x)'",
                        "action = \"mask\"",
                    ];
                    fields.retain(|f| !f.starts_with(&format!("{} =", k.key)));
                    format!("{base}[[redact.rule]]\n{}\n{}\n", fields.join("\n"), k.example)
                }
                t => panic!("no test text for {t}"),
            };
            if let Err(e) = crate::config::Config::from_toml(Path::new("t.toml"), &text) {
                panic!("{} {}: `{}`: {e}\n{text}", k.table, k.key, k.example);
            }
        }
    }

    #[test]
    fn the_page_has_every_key() {
        let page = man_page("0");
        for k in KEYS {
            assert!(page.contains(&format!(".B {}\n", roff(k.key))), "{}", k.key);
        }
        assert!(page.starts_with(".TH slipguard.toml 5"));
    }
}
