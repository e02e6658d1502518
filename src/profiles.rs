//! Finding printer profiles: a configured directory first, then the system directory, then
//! the copies compiled into the binary. The first file found for a name is used whole.
//!
//! This is the file-reading adapter around [`crate::core::profile`], which parses.

use crate::core::profile::{Profile, ProfileError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_profiles.rs"));

/// Where installed packages put profiles.
pub const SYSTEM_DIR: &str = "/usr/share/slipguard/printer-profiles";

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "generic-80mm";

/// Why a profile could not be had.
#[derive(Debug)]
pub enum LoadError {
    /// Not a usable profile name (only `a-z 0-9 . _ -`, so it cannot leave the directory).
    BadName(String),
    /// No directory and no built-in copy has it.
    Unknown {
        name: String,
        searched: Vec<PathBuf>,
    },
    /// A file exists but cannot be read.
    Read { path: PathBuf, err: std::io::Error },
    /// The text is not a valid profile.
    Invalid(ProfileError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadName(n) => write!(
                f,
                "`{}` is not a profile name (use letters, digits, '.', '_' and '-')",
                n.escape_debug()
            ),
            LoadError::Unknown { name, searched } => {
                write!(f, "unknown printer profile `{name}` (looked in ")?;
                for d in searched {
                    write!(f, "{}, ", d.display())?;
                }
                write!(
                    f,
                    "and the built-in profiles; `slipguard profiles` lists them)"
                )
            }
            LoadError::Read { path, err } => write!(f, "{}: cannot read: {err}", path.display()),
            LoadError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A search path for printer profiles.
#[derive(Clone, Debug)]
pub struct Profiles {
    dirs: Vec<PathBuf>,
    builtin: bool,
}

impl Profiles {
    /// `configured` (if any), then [`SYSTEM_DIR`], then the built-in copies.
    pub fn new(configured: Option<&Path>) -> Self {
        let mut dirs: Vec<PathBuf> = configured.map(Path::to_path_buf).into_iter().collect();
        dirs.push(PathBuf::from(SYSTEM_DIR));
        Profiles {
            dirs,
            builtin: true,
        }
    }

    /// Only the copies compiled into the binary.
    pub fn builtin_only() -> Self {
        Profiles {
            dirs: Vec::new(),
            builtin: true,
        }
    }

    /// Only these directories, no built-in copies (for tests and `check`).
    pub fn only(dirs: Vec<PathBuf>) -> Self {
        Profiles {
            dirs,
            builtin: false,
        }
    }

    /// Load the profile called `name`.
    pub fn load(&self, name: &str) -> Result<Profile, LoadError> {
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(LoadError::BadName(name.to_string()));
        }
        for dir in &self.dirs {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    return Profile::from_toml(name, &path.display().to_string(), &text)
                        .map_err(LoadError::Invalid)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(LoadError::Read { path, err }),
            }
        }
        if self.builtin {
            if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
                let origin = format!("builtin:{name}.toml");
                return Profile::from_toml(name, &origin, text).map_err(LoadError::Invalid);
            }
        }
        Err(LoadError::Unknown {
            name: name.to_string(),
            searched: self.dirs.clone(),
        })
    }

    /// Every profile name on the search path, each loaded from where [`Profiles::load`]
    /// would take it. A directory that does not exist is skipped.
    pub fn all(&self) -> BTreeMap<String, Result<Profile, LoadError>> {
        let mut names: Vec<String> = Vec::new();
        for dir in &self.dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_string());
                    }
                }
            }
        }
        if self.builtin {
            names.extend(EMBEDDED.iter().map(|(n, _)| n.to_string()));
        }
        names
            .into_iter()
            .map(|n| {
                let p = self.load(&n);
                (n, p)
            })
            .collect()
    }
}
