//! The `slipguard` command line. Errors are printed as one line, `slipguard: …`, and exit 1.
#![forbid(unsafe_code)]

use anyhow::Context as _;
use clap::{Parser, Subcommand};
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
    /// Look for printer profiles in this directory first (then
    /// /usr/share/slipguard/printer-profiles, then the built-in ones).
    #[arg(long, global = true, value_name = "DIR")]
    profile_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One line per token: offset, length, kind, name and decoded text.
    Inspect {
        #[arg(long, default_value = DEFAULT_PROFILE)]
        profile: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// The print job (`-` for standard input).
        file: PathBuf,
    },
    /// What the printer would print: text lines, cuts, barcodes, codes and image markers.
    Preview {
        #[arg(long, default_value = DEFAULT_PROFILE)]
        profile: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The print job (standard input when absent or `-`).
        file: Option<PathBuf>,
    },
    /// List printer profiles: name, vendor, model, dialect, columns.
    Profiles,
    /// Write a realistic fake slip (fake patron data) to standard output.
    Sample {
        #[arg(long, value_enum, default_value_t = Kind::Checkout)]
        kind: Kind,
        #[arg(long, default_value = DEFAULT_PROFILE)]
        profile: String,
        /// Different seeds give different fake patrons and items.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
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

fn run(cli: Cli) -> anyhow::Result<()> {
    let profiles = Profiles::new(cli.profile_dir.as_deref());
    match cli.command {
        Command::Inspect {
            profile,
            json,
            file,
        } => {
            let profile = profiles.load(&profile)?;
            let job = read_input(Some(&file))?;
            write_out(slipguard::inspect::render(&profile, &job, json).as_bytes())
        }
        Command::Preview {
            profile,
            format,
            file,
        } => {
            let profile = profiles.load(&profile)?;
            let job = read_input(file.as_deref())?;
            write_out(slipguard::preview::render(&profile, &job, format).as_bytes())
        }
        Command::Profiles => {
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
        } => {
            let profile = profiles.load(&profile)?;
            let bytes = slipguard::sample::generate(kind, &profile, seed)?;
            write_out(&bytes)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("slipguard: {e:#}");
        std::process::exit(1);
    }
}
