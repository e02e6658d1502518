//! The configuration file (`/etc/slipguard/slipguard.toml`, DESIGN §7), read and checked in
//! two layers: raw serde with unknown keys denied, then checked types. Every error names the
//! file and line.

use crate::core::redact::config::{RawRedact, RedactConfig};
use crate::core::source::SourceError;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Where the daemon and the tools look when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/slipguard/slipguard.toml";

/// One configured printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterConf {
    pub name: String,
    /// A profile name (a file in printer-profiles/, without `.toml`).
    pub profile: String,
    pub device: String,
}

/// A checked configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where the file came from (`None`: the built-in defaults).
    pub origin: Option<PathBuf>,
    /// A site directory searched for printer profiles before the system one.
    pub profile_dir: Option<PathBuf>,
    pub printers: Vec<PrinterConf>,
    pub redact: RedactConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    daemon: Option<RawDaemon>,
    #[serde(default)]
    printer: Vec<RawPrinter>,
    #[serde(default)]
    listen: Vec<RawListen>,
    redact: Option<RawRedact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by the daemon; checked for shape here
struct RawDaemon {
    state_dir: Option<String>,
    runtime_dir: Option<String>,
    retention: Option<String>,
    profile_dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrinter {
    name: Spanned<String>,
    profile: String,
    device: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by the daemon; checked for shape here
struct RawListen {
    protocol: String,
    address: Option<String>,
    path: Option<String>,
    printer: String,
}

impl Config {
    /// Parse and check configuration text; `origin` names it in errors.
    pub fn from_toml(origin: &Path, text: &str) -> Result<Config, SourceError> {
        let o = origin.display().to_string();
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| SourceError::from_toml(&o, text, &e))?;
        let mut printers: Vec<PrinterConf> = Vec::new();
        for p in raw.printer {
            if printers.iter().any(|q| q.name == *p.name.get_ref()) {
                return Err(SourceError::at(
                    &o,
                    text,
                    Some(p.name.span().start),
                    format!("a printer named `{}` is already defined", p.name.get_ref()),
                ));
            }
            printers.push(PrinterConf {
                name: p.name.into_inner(),
                profile: p.profile,
                device: p.device,
            });
        }
        let _ = raw.listen;
        let redact = match raw.redact {
            Some(r) => r.check(&o, text)?,
            None => RedactConfig::default(),
        };
        Ok(Config {
            origin: Some(origin.to_path_buf()),
            profile_dir: raw.daemon.and_then(|d| d.profile_dir).map(PathBuf::from),
            printers,
            redact,
        })
    }

    /// Read `path`; with `None`, the default path if it exists, else the built-in defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_PATH).exists() => PathBuf::from(DEFAULT_PATH),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        Ok(Config::from_toml(&path, &text)?)
    }
}
