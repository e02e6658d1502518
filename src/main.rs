//! The `slipguard` command line. Errors are printed as one line, `slipguard: …`, and exit 1.
#![forbid(unsafe_code)]

use anyhow::Context as _;
use clap::{Parser, Subcommand};

mod held;
use slipguard::config::Config;
use slipguard::core::redact::{Redactor, Report};
use slipguard::preview::Format;
use slipguard::profiles::{Profiles, DEFAULT_PROFILE};
use slipguard::sample::Kind;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "slipguard",
    version,
    about = "Removes patron data from library receipt-printer jobs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--profile-dir`, an option of the subcommands that read printer profiles (and only of
/// those: `status` and `spool` ask the running daemon, which has its own).
#[derive(clap::Args, Clone, Debug, Default)]
struct ProfileDir {
    /// Look for printer profiles in this directory first (then the configuration's
    /// profile_dir, /usr/share/slipguard/printer-profiles, and the built-in ones last).
    #[arg(long = "profile-dir", value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: take jobs from the configured listeners, redact them, print them.
    /// Without a configuration file: a raw listener on 127.0.0.1:9100 printing one file
    /// per job into ./slipguard-out with the generic 80 mm profile.
    Run {
        /// Configuration file (default /etc/slipguard/slipguard.toml if present).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Run the embedded default (a raw listener on 127.0.0.1:9100 printing one file per
        /// job into ./slipguard-out) even when /etc/slipguard/slipguard.toml exists.
        #[arg(long, conflicts_with = "config")]
        embedded: bool,
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// The running daemon's printers: state, queued jobs, jobs printed and failed, values
    /// redacted per kind since it started. Never slip content.
    Status {
        /// Configuration file (to find the runtime directory; default as for `run`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The daemon's answer as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The running daemon's spool: the jobs kept (sealed) for retry and reprint until their
    /// retention window ends. Never slip content.
    Spool {
        #[command(subcommand)]
        action: SpoolAction,
    },
    /// Check a configuration file and the printer profiles it names, without running.
    Check {
        /// Configuration file (default /etc/slipguard/slipguard.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// One line per token: offset, length, kind, name and decoded text.
    Inspect {
        /// Printer profile that says how to read the job (`slipguard profiles` lists them).
        #[arg(long, default_value = DEFAULT_PROFILE)]
        profile: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// The print job (`-` for standard input).
        file: PathBuf,
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// What the printer would print: text lines, cuts, barcodes, codes and image markers.
    Preview {
        /// Configuration file (for `--redact`; default /etc/slipguard/slipguard.toml if present).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Printer profile (default, as for `redact`: the configuration's first [[printer]]'s,
        /// else generic-80mm).
        #[arg(long)]
        profile: Option<String>,
        /// Plain text, or an HTML page (with `--redact`, each masked value marked with what
        /// masked it).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show the job as slipguard would print it, redacted.
        #[arg(long)]
        redact: bool,
        #[command(flatten)]
        profiles: ProfileDir,
        /// What the input is: printer bytes, or an HTML or plain-text slip typeset for the
        /// profile first (as the HTTP listener does).
        #[arg(long, value_enum, default_value_t = From::Raw)]
        from: From,
        /// The print job (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
    /// Redact one job offline: patron data masked, everything else byte for byte. Prints
    /// nothing and exits 1 when a segment cannot be printed safely; counts go to stderr.
    Redact {
        /// Configuration file (default /etc/slipguard/slipguard.toml if present).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Printer profile (default: the first [[printer]]'s, else generic-80mm).
        #[arg(long)]
        profile: Option<String>,
        /// What the input is: printer bytes, or an HTML or plain-text slip typeset for the
        /// profile first (as the HTTP listener does).
        #[arg(long, value_enum, default_value_t = From::Raw)]
        from: From,
        /// The print job (standard input when absent or `-`).
        input: Option<PathBuf>,
        /// Where to write the redacted job (standard output by default).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// List printer profiles: name, vendor, model, dialect, columns.
    Profiles {
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// Write a realistic fake slip (fake patron data) to standard output.
    Sample {
        /// The kind of slip.
        #[arg(long, value_enum, default_value_t = Kind::Checkout)]
        kind: Kind,
        /// Printer profile to write the slip for.
        #[arg(long, default_value = DEFAULT_PROFILE)]
        profile: String,
        /// Different seeds give different fake patrons and items.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        profiles: ProfileDir,
    },
    /// Slip templates (Koha notices, Evergreen receipt and print templates): mark their
    /// patron fields so that slipguard masks them exactly.
    Template {
        #[command(subcommand)]
        action: TemplateAction,
    },
    /// Write the man pages and the bash, zsh and fish completions into DIR (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Created if missing; files already there are replaced.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum TemplateAction {
    /// Wrap each patron placeholder of a slip template in <span data-slipguard="KIND">,
    /// nothing else changed; --check lists those not annotated yet.
    #[command(long_about = ANNOTATE_ABOUT)]
    Annotate {
        /// Whose placeholders and field names to look for.
        #[arg(long, value_enum, default_value_t = slipguard::template::Ils::Auto)]
        ils: slipguard::template::Ils,
        /// Write nothing: list each patron placeholder not annotated yet (and each one that
        /// cannot be, and each unknown kind); exit 1 if there is any.
        #[arg(long)]
        check: bool,
        /// The template (standard input when absent or `-`).
        file: Option<PathBuf>,
        /// Where to write the annotated template (standard output by default; it may be the
        /// input file itself).
        #[arg(short, long, value_name = "FILE", conflicts_with = "check")]
        output: Option<PathBuf>,
    },
}

/// `slipguard template annotate --help` and its man page.
const ANNOTATE_ABOUT: &str = "\
Wrap each patron placeholder of a slip template in <span data-slipguard=\"KIND\">…</span>, \
so that every slip printed from it tells slipguard exactly which text is patron data (exact \
mode: docs/exact-mode.md). Reads Koha notices and slips (<<borrowers.firstname>>, Template \
Toolkit [% borrower.surname %]) and Evergreen receipt templates (AngularJS \
{{patron.first_given_name}}, ng-bind) and print templates (Template Toolkit \
[% patron.card.barcode %]). Kinds: name, card, email, phone, address, birthdate, custom, drop.

Nothing else changes, byte for byte; running it again changes nothing. Placeholders in \
attributes, comments, <title> or <textarea> are left alone (slipguard never prints them); \
those in <script> or <style>, inside a directive that opens or closes a block, or on a block \
element's ng-bind cannot be wrapped safely and are reported with their line and column: \
annotate those by hand. Placeholders that only test a field (IF, ng-if) print nothing.

The report goes to standard error (with --check: standard output). Exit status: 0 when the \
template was written (what could not be wrapped is reported); with --check, 1 when any \
patron placeholder is not annotated, cannot be, or an element names an unknown kind; 1 on an \
error (unreadable input, unwritable output).";

#[derive(Subcommand)]
enum SpoolAction {
    /// One line per entry: id, printer, state, created, expires, bytes.
    List {
        /// Configuration file (to find the runtime directory; default as for `run`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Print an entry's stored (redacted) bytes again, while its window lasts: by its id,
    /// or the newest with --last.
    Reprint {
        /// The entry id (from `spool list`); or give --last.
        #[arg(required_unless_present = "last", conflicts_with = "last")]
        id: Option<String>,
        /// The newest entry.
        #[arg(long)]
        last: bool,
        /// Print on this printer instead of the entry's own.
        #[arg(long, value_name = "NAME")]
        printer: Option<String>,
        /// Configuration file (to find the runtime directory; default as for `run`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Destroy an entry now, or every entry and key with --all.
    Purge {
        /// The entry id (from `spool list`); or give --all.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every entry, and every key with them.
        #[arg(long)]
        all: bool,
        /// Configuration file (to find the runtime directory; default as for `run`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Ask the daemon for the configuration `config` (default as for `run`) over its control
/// socket; an `{"error": …}` answer becomes the error.
fn ask(config: Option<&Path>, request: &str) -> anyhow::Result<serde_json::Value> {
    use slipguard::daemon::control;
    let cfg = match Config::load(config)? {
        Some(c) => c,
        None => Config::embedded(&std::env::current_dir()?),
    };
    let path = cfg.runtime_dir_or_default().join(control::SOCKET);
    let answer = control::request(&path, request)?;
    let v: serde_json::Value = serde_json::from_str(&answer)
        .with_context(|| format!("unexpected answer from {}", path.display()))?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        anyhow::bail!("{e}");
    }
    Ok(v)
}

fn spool(action: SpoolAction) -> anyhow::Result<()> {
    use slipguard::daemon::control::{self, SpoolEntry};
    let now = control::unix_now();
    match action {
        SpoolAction::List { config, json } => {
            let v = ask(config.as_deref(), "spool list")?;
            let entries: Vec<SpoolEntry> = serde_json::from_value(v["entries"].clone())
                .context("unexpected answer from the daemon")?;
            let mut out = String::new();
            for e in &entries {
                if json {
                    out.push_str(&serde_json::to_string(e).expect("serializable"));
                } else {
                    out.push_str(&format!(
                        "{}  {:<12} {:<9} created {}  expires {}  {} bytes  job {}",
                        e.id,
                        e.printer,
                        e.state,
                        control::clock(e.created, now),
                        control::clock(e.expires, now),
                        e.bytes,
                        e.job
                    ));
                }
                out.push('\n');
            }
            write_out(out.as_bytes())
        }
        SpoolAction::Reprint {
            id,
            last,
            printer,
            config,
        } => {
            let which = if last {
                "--last".to_string()
            } else {
                id.unwrap_or_default()
            };
            let mut req = format!("spool reprint {which}");
            if let Some(p) = printer {
                req.push_str(&format!(" --printer {p}"));
            }
            let v = ask(config.as_deref(), &req)?;
            println!(
                "entry {} queued again on {} (job {})",
                v["reprinted"].as_str().unwrap_or("?"),
                v["printer"].as_str().unwrap_or("?"),
                v["job"].as_str().unwrap_or("?")
            );
            Ok(())
        }
        SpoolAction::Purge { id, all, config } => {
            let which = if all {
                "--all".to_string()
            } else {
                id.unwrap_or_default()
            };
            let v = ask(config.as_deref(), &format!("spool purge {which}"))?;
            let n = v["purged"].as_u64().unwrap_or(0);
            println!("destroyed {n} {}", if n == 1 { "entry" } else { "entries" });
            Ok(())
        }
    }
}

/// What `redact` and `preview` read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum From {
    /// A print job in the printer's language.
    Raw,
    /// An HTML slip (a page or a fragment), typeset for the profile.
    Html,
    /// A plain-text slip, typeset for the profile.
    Text,
}

/// The print job for `input` read as `from`: itself, or the slip typeset for the profile
/// (as it is: for a preview without redaction).
fn typeset(
    from: From,
    input: Vec<u8>,
    profile: &slipguard::core::profile::Profile,
    redactor: &Redactor,
) -> anyhow::Result<Vec<u8>> {
    let markup = match from {
        From::Raw => return Ok(input),
        From::Html => slipguard::html::Markup::Html,
        From::Text => slipguard::html::Markup::Text,
    };
    slipguard::html::typeset(markup, &input, profile, redactor.labels()).map_err(anyhow::Error::msg)
}

/// The print job for `input` read as `from`, to be redacted: itself, or the slip redacted
/// before it is laid out and typeset for the profile (DESIGN §4), with that redaction's
/// counts.
fn typeset_redacted(
    from: From,
    input: Vec<u8>,
    profile: &slipguard::core::profile::Profile,
    redactor: &Redactor,
) -> anyhow::Result<(Vec<u8>, Report)> {
    let markup = match from {
        From::Raw => return Ok((input, Report::default())),
        From::Html => slipguard::html::Markup::Html,
        From::Text => slipguard::html::Markup::Text,
    };
    slipguard::html::typeset_redacted(markup, &input, profile, redactor, u64::MAX)
        .map_err(|e| anyhow::anyhow!("the slip was not printed: {e}"))
}

fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match file {
        None => std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?,
        Some(p) if p == Path::new("-") => std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?,
        Some(p) => {
            buf = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            buf.len()
        }
    };
    Ok(buf)
}

fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write standard output"),
    }
}

/// Sections of `slipguard.1` that the command line itself does not describe; they go before
/// its VERSION section.
const MAN_EXTRA: &str = r#".SH FILES
.TP
\fI/etc/slipguard/slipguard.toml\fR
The configuration read by \fBrun\fR, \fBcheck\fR, \fBstatus\fR, \fBspool\fR, \fBredact\fR and
\fBpreview\fR when \fB\-\-config\fR is not given. Without it, \fBrun\fR uses an embedded default:
a raw listener on 127.0.0.1:9100 printing one file per job into ./slipguard\-out.
.TP
\fI/usr/share/slipguard/printer\-profiles/\fR
Printer profiles, one TOML file per printer model; \fB\-\-profile\-dir\fR and the configuration's
\fBprofile_dir\fR are searched first, copies built into the binary last.
.TP
\fI/var/lib/slipguard/spool/\fR
Sealed spool entries (the default state directory when run as root or by systemd).
.TP
\fI/run/slipguard/\fR
The control socket and the spool keys (the default runtime directory when run as root or by
systemd; keep it on tmpfs, so a reboot forgets every key).
.SH ENVIRONMENT
.TP
\fBSLIPGUARD_LOG\fR
Log filter, as in \fBSLIPGUARD_LOG=debug\fR. Logs go to standard error (the journal under
systemd) and never hold slip text.
.TP
\fBSTATE_DIRECTORY\fR, \fBRUNTIME_DIRECTORY\fR
Set by systemd; used when the configuration does not name the directories.
.TP
\fBLISTEN_FDS\fR, \fBNOTIFY_SOCKET\fR, \fBWATCHDOG_USEC\fR
systemd socket activation and notification.
.SH EXIT STATUS
0 on success; 1 on an error, printed as one line starting with \fBslipguard:\fR (a
configuration error names its file, line and column); 2 on a usage error (an unknown option or
a missing argument), with the usage on standard error. \fBredact\fR exits 1 and prints
nothing when a job cannot be redacted safely.
.SH SEE ALSO
\fBslipguard.toml\fR(5) (every configuration key), \fBsystemctl\fR(1),
\fBsystemd.socket\fR(5), /usr/share/doc/slipguard/
"#;

/// The DESCRIPTION of `slipguard.1` (`--help` keeps the one-line `about`).
const MAN_DESCRIPTION: &str = "slipguard sits between a library's circulation client and its \
thermal receipt printer and removes patron data (names, card numbers, contact details) from \
every slip, so a receipt left in a returned book does not name its borrower. It reads the \
printer's own languages, Epson ESC/POS and Star Line Mode, byte for byte: only the bytes of \
masked characters change, and a job it cannot read safely is not printed at all.\n\n\
The daemon (run) takes jobs on raw (AppSocket), LPD and drop-folder listeners, and slips \
the staff browser posts as HTML to a loopback HTTP listener (Koha, Evergreen); it redacts each \
one whole and prints it on network, serial, USB or file printers, keeping a sealed copy for \
retry and reprint for its retention window (status, spool). The other subcommands work \
offline on one job, for trying rules out; template annotate marks the patron fields of Koha \
and Evergreen slip templates, so that slips printed from them are redacted exactly.";

/// The command line as users see it. `Cli::command()` with its hidden subcommands left out:
/// clap_complete would offer them.
fn public_command() -> clap::Command {
    use clap::CommandFactory as _;
    let full = Cli::command();
    clap::Command::new("slipguard")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .subcommand_required(true)
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// `slipguard generate-assets DIR`: the man pages (`slipguard.1` and one page per subcommand,
/// as `slipguard-spool-list.1`; `slipguard.toml.5` from [`slipguard::config_doc`]) and the completions (`slipguard.bash`, `_slipguard`,
/// `slipguard.fish`), all from [`Cli`], so they cannot drift from the real command line.
fn generate_assets(dir: &Path) -> anyhow::Result<()> {
    use clap_complete::Shell;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cannot = || format!("cannot write into {}", dir.display());
    let cmd = public_command();
    // One page per subcommand, as clap_mangen::generate_to writes them, but each footer
    // naming slipguard and its version rather than the subcommand.
    fn pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, dir)?;
            clap_mangen::Man::new(sub.clone())
                .source(concat!("slipguard ", env!("CARGO_PKG_VERSION")))
                .generate_to(dir)?;
        }
        Ok(())
    }
    let mut built = cmd.clone().disable_help_subcommand(true);
    built.build(); // names each subcommand's page (`slipguard-spool-list`) and synopsis
    pages(&built, dir).with_context(cannot)?;
    // The top page: a longer description, no `help` subcommand (it has no page), and FILES,
    // ENVIRONMENT, EXIT STATUS and SEE ALSO before VERSION.
    let mut page = Vec::new();
    let top = built.long_about(MAN_DESCRIPTION);
    clap_mangen::Man::new(top)
        .render(&mut page)
        .with_context(cannot)?;
    let mut page = String::from_utf8(page).expect("roff is text");
    let at = page.find("\n.SH VERSION").map_or(page.len(), |i| i + 1);
    page.insert_str(at, MAN_EXTRA);
    std::fs::write(dir.join("slipguard.1"), page).with_context(cannot)?;
    // The configuration's manual, from the same table a test holds to the parser.
    std::fs::write(
        dir.join("slipguard.toml.5"),
        slipguard::config_doc::man_page(env!("CARGO_PKG_VERSION")),
    )
    .with_context(cannot)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "slipguard", dir)
            .with_context(cannot)?;
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            config,
            embedded,
            profiles: dir,
        } => {
            let loaded = match embedded {
                true => None,
                false => Config::load(config.as_deref())?,
            };
            let cfg = match loaded {
                Some(c) => {
                    if config.is_none() {
                        eprintln!(
                            "slipguard: using {} (found at the default path; --embedded runs the built-in default instead)",
                            slipguard::config::DEFAULT_PATH
                        );
                    }
                    c
                }
                None => Config::embedded(&std::env::current_dir()?),
            };
            slipguard::service::run(cfg, dir.dir)
        }
        Command::Status { config, json } => {
            use slipguard::daemon::control;
            let cfg = match Config::load(config.as_deref())? {
                Some(c) => c,
                None => Config::embedded(&std::env::current_dir()?),
            };
            let path = cfg.runtime_dir_or_default().join(control::SOCKET);
            let answer = control::request(&path, "status")?;
            if json {
                return write_out(answer.as_bytes());
            }
            let st: control::Status = serde_json::from_str(&answer)
                .with_context(|| format!("unexpected answer from {}", path.display()))?;
            write_out(control::render(&st).as_bytes())
        }
        Command::Spool { action } => spool(action),
        Command::Check {
            config,
            profiles: dir,
        } => {
            let path = config.unwrap_or_else(|| PathBuf::from(slipguard::config::DEFAULT_PATH));
            let cfg = Config::load(Some(&path))?.expect("a path was given");
            let profiles = slipguard::service::profiles_for(dir.dir.as_deref(), &cfg);
            cfg.check_profiles(&path, &profiles)?;
            println!(
                "{}: ok ({} printer(s), {} listener(s))",
                path.display(),
                cfg.printers.len(),
                cfg.listeners.len()
            );
            Ok(())
        }
        Command::Inspect {
            profile,
            json,
            file,
            profiles: dir,
        } => {
            let profile = Profiles::new(dir.dir.as_deref()).load(&profile)?;
            // Token by token: a line is written as its token ends.
            let input: Box<dyn Read> = if file == Path::new("-") {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                )
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let r = slipguard::inspect::write(&profile, input, json, &mut out)
                .and_then(|()| out.flush());
            match r {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.with_context(|| format!("cannot inspect {}", file.display())),
            }
        }
        Command::Preview {
            config,
            profile,
            format,
            redact,
            from,
            file,
            profiles: dir,
        } => {
            // The configuration names the profile too (as for `redact`), with or without
            // `--redact`; only `--redact` uses its rules.
            let file_cfg = match Config::load(config.as_deref()) {
                Ok(c) => c.unwrap_or_default(),
                // Only the profile's name was wanted from a default file that is not usable.
                Err(_) if !redact && config.is_none() => Config::default(),
                Err(e) => return Err(e),
            };
            let name = profile
                .or_else(|| file_cfg.printers.first().map(|p| p.profile.clone()))
                .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
            let profile =
                slipguard::service::profiles_for(dir.dir.as_deref(), &file_cfg).load(&name)?;
            let cfg = match redact {
                true => file_cfg,
                false => Config::default(),
            };
            let redactor = Redactor::new(cfg.redact);
            let input = read_input(file.as_deref())?;
            if !redact {
                let job = typeset(from, input, &profile, &redactor)?;
                return write_out(slipguard::preview::render(&profile, &job, format).as_bytes());
            }
            let markup = match from {
                From::Html => Some(slipguard::html::Markup::Html),
                From::Text => Some(slipguard::html::Markup::Text),
                From::Raw => None,
            };
            if let (Some(markup), Format::Html) = (markup, format) {
                // With what was masked, and why (annotation, label, shape, rule).
                let page = slipguard::preview::explained_slip(markup, &input, &profile, &redactor)
                    .map_err(anyhow::Error::msg)?;
                return write_out(page.as_bytes());
            }
            let (job, _) = typeset_redacted(from, input, &profile, &redactor)?;
            let (segments, _) = redactor.segments(&profile, &job);
            let mut printed = Vec::new();
            let mut blocked = Vec::new();
            for s in segments {
                match s.output {
                    Ok(b) => printed.extend(b),
                    Err(e) => blocked.push(e),
                }
            }
            let mut out = slipguard::preview::render(&profile, &printed, format);
            for b in blocked {
                // The preview is for people checking rules: say what was held back.
                let note = format!("[{b}]");
                match format {
                    Format::Text => out.push_str(&format!("{note}\n")),
                    Format::Html => {
                        out = out.replacen(
                            "</div>\n</body>",
                            &format!("<div class=\"error\">{note}</div>\n</div>\n</body>"),
                            1,
                        )
                    }
                }
            }
            write_out(out.as_bytes())
        }
        Command::Redact {
            config,
            profile,
            from,
            input,
            output,
            profiles: dir,
        } => {
            let cfg = Config::load(config.as_deref())?.unwrap_or_default();
            let profiles = slipguard::service::profiles_for(dir.dir.as_deref(), &cfg);
            let name = profile
                .or_else(|| cfg.printers.first().map(|p| p.profile.clone()))
                .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
            let profile = profiles.load(&name)?;
            let redactor = Redactor::new(cfg.redact);
            // Printer bytes are read and redacted a segment at a time; an HTML or text slip
            // (small) is typeset whole first.
            let (job, before): (Box<dyn Read>, Report) = match (from, input.as_deref()) {
                (From::Raw, None) => (Box::new(std::io::stdin().lock()), Report::default()),
                (From::Raw, Some(p)) if p == Path::new("-") => {
                    (Box::new(std::io::stdin().lock()), Report::default())
                }
                (From::Raw, Some(p)) => (
                    Box::new(
                        std::fs::File::open(p)
                            .with_context(|| format!("cannot read {}", p.display()))?,
                    ),
                    Report::default(),
                ),
                (from, input) => {
                    let (job, before) =
                        typeset_redacted(from, read_input(input)?, &profile, &redactor)?;
                    (Box::new(std::io::Cursor::new(job)), before)
                }
            };
            // Nothing is printed until every segment is: the output is held in a file (never
            // in memory) and only then moved or copied to where it goes.
            let mut held = held::Held::new(output.as_deref())?;
            let streamed = {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, held.file());
                let r = redactor.stream(&profile, job, |b| w.write_all(b));
                r.and_then(|report| {
                    w.flush()
                        .map_err(slipguard::core::redact::StreamError::Write)?;
                    Ok(report)
                })
            };
            let mut report = match streamed {
                Ok(r) => r,
                Err(e) => {
                    held.discard();
                    return Err(e.into());
                }
            };
            // A slip's values are counted where they were found: before it was laid out.
            report.merge(&before);
            held.commit()?;
            eprintln!("slipguard: {report}");
            Ok(())
        }
        Command::Profiles { profiles: dir } => {
            let profiles = Profiles::new(dir.dir.as_deref());
            let mut out = String::new();
            let mut bad = Vec::new();
            for (name, p) in profiles.all() {
                match p {
                    Ok(p) => out.push_str(&format!(
                        "{:<22} {:<9} {:<12} {:<9} {} cols\n",
                        name, p.vendor, p.model, p.dialect, p.columns.font_a
                    )),
                    Err(e) => bad.push(e.to_string()),
                }
            }
            write_out(out.as_bytes())?;
            if !bad.is_empty() {
                anyhow::bail!(
                    "{} profile(s) could not be loaded: {}",
                    bad.len(),
                    bad.join("; ")
                );
            }
            Ok(())
        }
        Command::Sample {
            kind,
            profile,
            seed,
            profiles: dir,
        } => {
            let profile = Profiles::new(dir.dir.as_deref()).load(&profile)?;
            let bytes = slipguard::sample::generate(kind, &profile, seed)?;
            write_out(&bytes)
        }
        Command::Template {
            action:
                TemplateAction::Annotate {
                    ils,
                    check,
                    file,
                    output,
                },
        } => template_annotate(ils, check, file.as_deref(), output.as_deref()),
        Command::GenerateAssets { dir } => generate_assets(&dir),
    }
}

/// `slipguard template annotate`.
fn template_annotate(
    ils: slipguard::template::Ils,
    check: bool,
    file: Option<&Path>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let input = read_input(file)?;
    let name = match file {
        Some(p) if p != Path::new("-") => p.display().to_string(),
        _ => "<stdin>".to_string(),
    };
    let a = slipguard::template::annotate(&input, ils);
    let report = slipguard::template::report(&name, &input, &a, check);
    if check {
        write_out(report.as_bytes())?;
        if a.needs_work() {
            anyhow::bail!("{name}: not every patron placeholder is annotated");
        }
        return Ok(());
    }
    match output {
        Some(path) => std::fs::write(path, &a.output)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => write_out(&a.output)?,
    }
    eprint!("{report}");
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("slipguard: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand, nested ones too, with its path (`spool reprint`).
    fn all(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let p = format!("{path} {}", sub.get_name()).trim().to_string();
            out.push((p.clone(), sub.clone()));
            all(sub, p, out);
        }
    }

    #[test]
    fn every_option_and_argument_is_described() {
        let mut subs = Vec::new();
        all(&Cli::command(), String::new(), &mut subs);
        assert!(subs.len() >= 14, "{}", subs.len());
        let mut bare = Vec::new();
        for (path, sub) in &subs {
            if sub.is_hide_set() || sub.has_subcommands() {
                continue;
            }
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    bare.push(format!("{path}: {id}"));
                }
            }
        }
        assert!(bare.is_empty(), "options without a description: {bare:?}");
    }

    #[test]
    fn profile_dir_is_offered_only_where_profiles_are_read() {
        let mut subs = Vec::new();
        all(&Cli::command(), String::new(), &mut subs);
        let with: Vec<&str> = subs
            .iter()
            .filter(|(_, s)| {
                s.get_arguments()
                    .any(|a| a.get_long() == Some("profile-dir"))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(
            with,
            ["run", "check", "inspect", "preview", "redact", "profiles", "sample"]
        );
        assert!(Cli::command()
            .get_arguments()
            .all(|a| a.get_long() != Some("profile-dir")));
    }
}
