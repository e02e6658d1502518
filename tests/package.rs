//! The Debian package's inputs: the man pages and completions `slipguard generate-assets`
//! writes, the example configuration shipped as /etc/slipguard/slipguard.toml, and the
//! `[package.metadata.deb]` asset list in Cargo.toml. `.ci/deb.sh` builds the package itself
//! and checks its file list.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every subcommand a user can type, as the man page and completions must name it.
const SUBCOMMANDS: &[&str] = &[
    "run", "check", "status", "spool", "redact", "preview", "inspect", "sample", "profiles",
    "template",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn slipguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipguard"))
        // Never pick up profiles or a configuration installed on the machine running the tests.
        .env_clear()
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run slipguard")
}

fn ok(args: &[&str]) -> String {
    let out = slipguard(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh directory with everything `generate-assets` writes.
fn generated(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slipguard-package-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ok(&["generate-assets", dir.to_str().unwrap()]);
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn man_page_names_every_subcommand_and_the_files() {
    let dir = generated("man");
    let page = read(&dir.join("slipguard.1"));
    assert!(
        page.starts_with(".ie") || page.contains(".TH slipguard 1"),
        "{page}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("slipguard\\-{sub}(1)")),
            "slipguard.1 does not list `{sub}`"
        );
        let own = dir.join(format!("slipguard-{sub}.1"));
        let text = read(&own);
        assert!(
            text.contains(&format!("\n.TH slipguard-{sub} 1  \"slipguard "))
                && text.contains(".SH SYNOPSIS"),
            "{} is not slipguard's man page: {text}",
            own.display()
        );
    }
    for sub in ["list", "reprint", "purge"] {
        assert!(dir.join(format!("slipguard-spool-{sub}.1")).is_file());
    }
    let annotate = read(&dir.join("slipguard-template-annotate.1"));
    assert!(
        annotate.contains("data\\-slipguard") && annotate.contains("\\-\\-check"),
        "{annotate}"
    );
    // The sections the command line cannot give, before VERSION, in man-page order.
    let at = |s: &str| {
        page.find(s)
            .unwrap_or_else(|| panic!("no `{s}` in slipguard.1"))
    };
    assert!(at(".SH SUBCOMMANDS") < at(".SH FILES"));
    assert!(at(".SH FILES") < at(".SH ENVIRONMENT"));
    assert!(at(".SH ENVIRONMENT") < at(".SH EXIT STATUS"));
    assert!(at(".SH SEE ALSO") < at(".SH VERSION"));
    assert!(page.contains("/etc/slipguard/slipguard.toml"));
    assert!(page.contains("SLIPGUARD_LOG"));
    // The HTTP listener, usage errors' own exit status, and the configuration's manual.
    assert!(
        page.contains("HTTP listener"),
        "slipguard.1 omits the HTTP listener"
    );
    assert!(page.contains("2 on a usage error"), "EXIT STATUS");
    assert!(
        page.contains("slipguard.toml\\fR(5)"),
        "SEE ALSO slipguard.toml(5)"
    );
    let five = read(&dir.join("slipguard.toml.5"));
    assert!(five.starts_with(".TH slipguard.toml 5"), "{five}");
    // The generator is for packaging, not for users.
    assert!(!page.contains("generate"), "the hidden subcommand leaked");
    assert!(!dir.join("slipguard-generate-assets.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a user of CUPS, lpr or python-escpos must know, said where they look (README).
#[test]
fn readme_says_how_each_client_prints_through_slipguard() {
    let readme = read(&repo().join("README.md"));
    for (fact, why) in [
        ("raw queues are deprecated", "CUPS warns about raw queues"),
        ("`lpr -H` from cups-bsd", "lpr -H is not LPD"),
        ("lpd://", "a CUPS lpd:// queue is the LPD client"),
        ("native=True", "python-escpos qr() sends an image"),
        ("images = \"block\"", "images pass unread unless blocked"),
        ("--include-ignored", "how the tests that need tools run"),
        (
            "run --embedded",
            "the embedded default is chosen explicitly",
        ),
    ] {
        assert!(readme.contains(fact), "README.md: {why} (`{fact}` missing)");
    }
}

#[test]
fn completions_name_every_subcommand() {
    let dir = generated("completions");
    for file in ["slipguard.bash", "_slipguard", "slipguard.fish"] {
        let text = read(&dir.join(file));
        for sub in SUBCOMMANDS.iter().chain(&["reprint", "purge"]) {
            assert!(text.contains(sub), "{file} does not complete `{sub}`");
        }
        assert!(
            text.contains("profile-dir"),
            "{file}: --profile-dir missing"
        );
        assert!(
            !text.contains("generate-assets"),
            "{file}: hidden subcommand"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn example_config_passes_check() {
    let out = ok(&["check", "--config", "packaging/slipguard.toml"]);
    assert_eq!(
        out.trim(),
        "packaging/slipguard.toml: ok (1 printer(s), 2 listener(s))"
    );
}

#[test]
fn example_config_keeps_retention_and_the_loopback_raw_port() {
    let text = read(&repo().join("packaging/slipguard.toml"));
    let v: toml::Table = text.parse().unwrap();
    assert_eq!(v["daemon"]["retention"].as_str(), Some("15m"));
    let listen = v["listen"].as_array().unwrap();
    // Both loopback addresses slipguard.socket listens on, so that no job sent to either is
    // taken by systemd and never read.
    let raw: Vec<&str> = listen
        .iter()
        .filter(|l| l["protocol"].as_str() == Some("raw"))
        .filter_map(|l| l["address"].as_str())
        .collect();
    assert_eq!(raw, ["127.0.0.1:9100", "[::1]:9100"]);
    let socket = read(&repo().join("systemd/slipguard.socket"));
    for a in &raw {
        assert!(
            socket.contains(&format!("ListenStream={a}")),
            "{a} not in the socket unit"
        );
    }
    // Every commented-out setting is a real one: uncommenting one block of them (blocks are
    // separated by blank lines) still loads, and so does each alternative device.
    let mut variants = Vec::new();
    for block in text.split("\n\n") {
        let mut uncommented = String::new();
        for line in block.lines() {
            match line.strip_prefix("# ").filter(|bare| is_setting(bare)) {
                Some(bare) => uncommented.push_str(bare),
                None => uncommented.push_str(line),
            }
            uncommented.push('\n');
        }
        if uncommented.trim_end() != block.trim_end() {
            variants.push(text.replace(block, uncommented.trim_end()));
        }
    }
    let active = r#"device = "usb:///dev/usb/lp0""#;
    assert!(text.contains(active));
    for line in text.lines() {
        if let Some(other) = line.strip_prefix("#   device = ") {
            variants.push(text.replace(active, &format!("device = {other}")));
        }
    }
    assert!(variants.len() >= 9, "{} variants", variants.len());
    let path = std::env::temp_dir().join(format!(
        "slipguard-package-{}-variant.toml",
        std::process::id()
    ));
    for v in &variants {
        std::fs::write(&path, v).unwrap();
        let out = slipguard(&["check", "--config", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{v}\nfails: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(&path);
}

/// `key = value` or a `[table]` header, as opposed to a sentence.
fn is_setting(bare: &str) -> bool {
    if bare.starts_with('[') {
        return true;
    }
    let Some((key, _)) = bare.split_once(" = ") else {
        return false;
    };
    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// The package's metadata from Cargo.toml.
fn deb_metadata() -> toml::Table {
    let manifest: toml::Table = read(&repo().join("Cargo.toml")).parse().unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// Files in `dir` matching `pattern` (a file name with at most one `*`).
fn matches(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let (prefix, suffix) = pattern.split_once('*').unwrap_or((pattern, ""));
    let exact = !pattern.contains('*');
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            if exact {
                name == pattern
            } else {
                name.len() >= prefix.len() + suffix.len()
                    && name.starts_with(prefix)
                    && name.ends_with(suffix)
            }
        })
        .collect()
}

/// Every asset's source exists: files in the repository, and what `generate-assets` writes
/// for the `target/assets/` ones (`.ci/deb.sh` generates them there). The release binary is
/// the only thing built.
#[test]
fn every_deb_asset_has_a_source() {
    let deb = deb_metadata();
    let dir = generated("assets");
    let assets = deb["assets"].as_array().expect("assets");
    let mut targets = Vec::new();
    for a in assets {
        let a = a.as_array().expect("[source, target, mode]");
        let (source, target) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        targets.push(target.to_string());
        if source == "target/release/slipguard" {
            continue;
        }
        let (parent, pattern) = source.rsplit_once('/').unwrap_or(("", source));
        let found = match parent.strip_prefix("target/assets") {
            Some(rest) => matches(&dir.join(rest.trim_start_matches('/')), pattern),
            None => matches(&repo().join(parent), pattern),
        };
        assert!(!found.is_empty(), "asset `{source}` has no file");
    }
    // Every conffile is shipped.
    for c in deb["conf-files"].as_array().expect("conf-files") {
        let c = c.as_str().unwrap().trim_start_matches('/');
        assert!(
            targets.iter().any(|t| t == c),
            "conffile /{c} is not an asset"
        );
    }
    // The maintainer scripts keep the place for the systemd snippets.
    let scripts = repo().join(deb["maintainer-scripts"].as_str().unwrap());
    for s in ["preinst", "postinst", "prerm", "postrm"] {
        if let Ok(text) = std::fs::read_to_string(scripts.join(s)) {
            assert!(text.contains("#DEBHELPER#"), "{s} lacks #DEBHELPER#");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The units are packaged through cargo-deb's systemd support (which also writes the
/// maintainer-script snippets); it finds them by name in `unit-scripts`. Neither is enabled
/// or started by installing the package.
#[test]
fn systemd_units_are_packaged_but_not_enabled() {
    let deb = deb_metadata();
    let units = deb["systemd-units"].as_table().expect("systemd-units");
    assert_eq!(units["enable"].as_bool(), Some(false));
    assert_eq!(units["start"].as_bool(), Some(false));
    let dir = units["unit-scripts"].as_str().unwrap();
    assert_eq!(dir.trim_end_matches('/'), "systemd");
    for unit in ["slipguard.service", "slipguard.socket"] {
        let path = repo().join("systemd").join(unit);
        assert!(
            path.is_file(),
            "{} is missing (it comes with the systemd units' branch)",
            path.display()
        );
    }
    // The socket listens where the shipped configuration's raw listener does, so the daemon
    // takes that socket from systemd instead of failing to bind it.
    let socket = read(&repo().join("systemd/slipguard.socket"));
    assert!(
        socket
            .lines()
            .any(|l| l.trim().starts_with("ListenStream") && l.contains("127.0.0.1:9100")),
        "slipguard.socket does not listen on 127.0.0.1:9100:\n{socket}"
    );
}
