//! The configuration file (`/etc/slipguard/slipguard.toml`, DESIGN §7), read and checked in
//! two layers: raw serde with unknown keys denied, then checked types. Every error names the
//! file and line.

use crate::core::redact::config::{RawRedact, RedactConfig};
use crate::core::source::SourceError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Where the daemon and the tools look when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/slipguard/slipguard.toml";

/// The runtime directory of the service (tmpfs under systemd).
pub const DEFAULT_RUNTIME_DIR: &str = "/run/slipguard";

/// The folder the embedded default configuration prints into (relative to the working
/// directory).
pub const DEFAULT_OUT_DIR: &str = "slipguard-out";
/// The state directory (sealed spool entries) when running as root outside systemd.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/slipguard";

/// Where a printer's bytes go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// A network printer (raw port 9100); connected per job.
    Tcp { host: String, port: u16 },
    /// A serial port, driven on a thread of its own.
    Serial {
        path: PathBuf,
        baud: u32,
        flow: Flow,
        parity: Parity,
    },
    /// A USB printer class character device (`/dev/usb/lp0`), opened per job.
    Usb { path: PathBuf },
    /// One file per job in a directory, written to a temporary name and renamed.
    File { dir: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    None,
    RtsCts,
    XonXoff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    None,
    Odd,
    Even,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Device::Serial { path, baud, .. } => {
                write!(f, "serial://{}?baud={baud}", path.display())
            }
            Device::Usb { path } => write!(f, "usb://{}", path.display()),
            Device::File { dir } => write!(f, "file://{}", dir.display()),
        }
    }
}

/// Device nodes printers usually have; others need `any_device_path = true`.
const DEVICE_PREFIXES: &[&str] = &[
    "/dev/usb/lp",
    "/dev/lp",
    "/dev/ttyUSB",
    "/dev/ttyACM",
    "/dev/ttyS",
    "/dev/serial/",
    "/dev/rfcomm",
];

impl Device {
    /// Parse a device URI. `any_path`: allow device paths outside the usual printer nodes.
    pub fn parse(uri: &str, any_path: bool) -> Result<Device, String> {
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
            format!("`{uri}` is not a device URI (tcp://, serial://, usb://, file://)")
        })?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let device_path = |p: &str| -> Result<PathBuf, String> {
            if !p.starts_with('/') {
                return Err(format!("`{uri}`: the device path must be absolute"));
            }
            if !any_path && !DEVICE_PREFIXES.iter().any(|d| p.starts_with(d)) {
                return Err(format!(
                    "`{p}` is not a printer device node (expected one under {}); set \
                     `any_device_path = true` on this printer if it really is one",
                    DEVICE_PREFIXES.join(", ")
                ));
            }
            Ok(PathBuf::from(p))
        };
        let no_query = |what: &str| match query {
            Some(_) => Err(format!("`{uri}`: {what} devices take no options")),
            None => Ok(()),
        };
        match scheme {
            "tcp" => {
                no_query("tcp")?;
                let (host, port) = path
                    .rsplit_once(':')
                    .ok_or_else(|| format!("`{uri}`: expected tcp://HOST:PORT"))?;
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{uri}`: `{port}` is not a port number"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() {
                    return Err(format!("`{uri}`: the host is missing"));
                }
                Ok(Device::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            "usb" => {
                no_query("usb")?;
                Ok(Device::Usb {
                    path: device_path(path)?,
                })
            }
            "file" => {
                no_query("file")?;
                if !path.starts_with('/') {
                    return Err(format!("`{uri}`: the directory must be absolute"));
                }
                Ok(Device::File {
                    dir: PathBuf::from(path),
                })
            }
            "serial" => {
                let path = device_path(path)?;
                let (mut baud, mut flow, mut parity) = (9600, Flow::None, Parity::None);
                for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("`{uri}`: `{kv}` is not KEY=VALUE"))?;
                    match k {
                        "baud" => {
                            baud = v
                                .parse()
                                .ok()
                                .filter(|b| (300..=921_600).contains(b))
                                .ok_or_else(|| format!("`{uri}`: baud `{v}` is not 300-921600"))?
                        }
                        "flow" => {
                            flow = match v {
                                "none" => Flow::None,
                                "rtscts" => Flow::RtsCts,
                                "xonxoff" => Flow::XonXoff,
                                _ => {
                                    return Err(format!(
                                        "`{uri}`: flow `{v}` (known: none, rtscts, xonxoff)"
                                    ))
                                }
                            }
                        }
                        "parity" => {
                            parity = match v {
                                "none" => Parity::None,
                                "odd" => Parity::Odd,
                                "even" => Parity::Even,
                                _ => {
                                    return Err(format!(
                                        "`{uri}`: parity `{v}` (known: none, odd, even)"
                                    ))
                                }
                            }
                        }
                        _ => {
                            return Err(format!(
                                "`{uri}`: unknown option `{k}` (known: baud, flow, parity)"
                            ))
                        }
                    }
                }
                Ok(Device::Serial {
                    path,
                    baud,
                    flow,
                    parity,
                })
            }
            _ => Err(format!(
                "`{scheme}://` is not a device kind (known: tcp, serial, usb, file)"
            )),
        }
    }
}

/// One configured printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterConf {
    pub name: String,
    /// A profile name (a file in printer-profiles/, without `.toml`).
    pub profile: String,
    pub device: Device,
}

/// How a listener receives jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// AppSocket/JetDirect: one connection is one job, complete at the client's EOF.
    Raw { address: SocketAddr },
    /// RFC 1179 line printer daemon: each data file of a job is one job.
    Lpd { address: SocketAddr },
    /// A drop folder: each complete file is one job.
    Folder { path: PathBuf },
    /// HTTP for browser-based clients: slips posted as HTML, text or raw bytes, to the
    /// printer the URL names. Browsers may call it from `allowed_origins` only.
    Http {
        address: SocketAddr,
        allowed_origins: Vec<String>,
    },
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Raw { .. } => "raw",
            Protocol::Lpd { .. } => "lpd",
            Protocol::Folder { .. } => "folder",
            Protocol::Http { .. } => "http",
        }
    }

    /// The socket address of a network listener.
    pub fn address(&self) -> Option<SocketAddr> {
        match self {
            Protocol::Raw { address }
            | Protocol::Lpd { address }
            | Protocol::Http { address, .. } => Some(*address),
            Protocol::Folder { .. } => None,
        }
    }
}

/// One configured listener, bound to a printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenConf {
    pub protocol: Protocol,
    /// The printer its jobs go to. `None` only for an HTTP listener, which then serves
    /// every printer (the URL names one).
    pub printer: Option<String>,
}

/// Limits that protect the daemon and other clients from one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest job accepted, in bytes.
    pub max_job_bytes: u64,
    /// Largest segment (the bytes between cuts) accepted, in bytes.
    pub max_segment_bytes: u64,
    /// Job bytes held in memory at once, all listeners and printer queues together: jobs
    /// being received, and redacted jobs waiting for their printer. A job that would pass it
    /// is refused (the daemon's memory budget: README "Memory").
    pub max_held_bytes: u64,
    /// A client that sends nothing for this long loses its connection (and the job).
    pub idle_timeout: Duration,
    /// A client that has not finished sending its job this long after connecting loses its
    /// connection (and the job): a slow drip cannot hold a connection slot for ever.
    pub job_timeout: Duration,
    /// Connections served at once per listener; more wait in the backlog.
    pub max_connections: usize,
    /// Jobs redacted at once (redaction's working memory is many times a job's size);
    /// more wait their turn.
    pub max_redactions: usize,
    /// How long a printer may take to accept a job's bytes before the attempt fails.
    pub device_timeout: Duration,
    /// Status queries one raw connection may make (each query answered in order ends a
    /// part that is queued and spooled as a job of its own); past it the rest is discarded.
    pub max_queries: usize,
    /// How long SIGTERM waits for jobs in flight.
    pub stop_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_job_bytes: 16 << 20,
            max_segment_bytes: 4 << 20,
            max_held_bytes: 128 << 20,
            idle_timeout: Duration::from_secs(30),
            job_timeout: Duration::from_secs(120),
            max_connections: 64,
            // One per core, at most 4: the memory budget counts on it.
            max_redactions: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            device_timeout: Duration::from_secs(30),
            max_queries: 64,
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// A checked configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where the file came from (`None`: the built-in defaults).
    pub origin: Option<PathBuf>,
    /// A site directory searched for printer profiles before the system one.
    pub profile_dir: Option<PathBuf>,
    pub printers: Vec<PrinterConf>,
    pub listeners: Vec<ListenConf>,
    pub limits: Limits,
    pub redact: RedactConfig,
    /// Where the control socket and the spool keys live; `None`: chosen at start (see
    /// [`Config::runtime_dir_or_default`]).
    pub runtime_dir: Option<PathBuf>,
    /// Where the sealed spool entries live; `None`: chosen at start (see
    /// [`Config::state_dir_or_default`]).
    pub state_dir: Option<PathBuf>,
    /// How long a job's spool entry (for retry and reprint) is kept.
    pub retention: crate::spool::Retention,
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
struct RawDaemon {
    state_dir: Option<String>,
    runtime_dir: Option<String>,
    retention: Option<Spanned<String>>,
    /// Accept a retention window under a minute or over seven days.
    #[serde(default)]
    allow_unusual_retention: bool,
    profile_dir: Option<String>,
    max_job_bytes: Option<Spanned<u64>>,
    max_segment_bytes: Option<Spanned<u64>>,
    max_held_bytes: Option<Spanned<u64>>,
    idle_timeout: Option<Spanned<String>>,
    job_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<u64>>,
    max_redactions: Option<Spanned<u64>>,
    max_queries: Option<Spanned<u64>>,
    device_timeout: Option<Spanned<String>>,
    stop_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrinter {
    name: Spanned<String>,
    profile: Spanned<String>,
    device: Spanned<String>,
    #[serde(default)]
    any_device_path: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    protocol: Spanned<String>,
    address: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    printer: Option<Spanned<String>>,
    allowed_origins: Option<Vec<Spanned<String>>>,
}

/// Where an HTTP listener listens when its `address` is not given (loopback only).
pub const DEFAULT_HTTP_PORT: u16 = 9180;

/// A web origin as browsers send it in `Origin` (RFC 6454): `scheme://host` or
/// `scheme://host:port`, nothing after. Returned as browsers serialise it, since it is
/// compared with what they send: scheme and host in lower case, an IPv6 address in its
/// short form, and no port when it is the scheme's default (a browser never sends
/// `https://host:443`, so an entry kept that way would match nothing).
pub(crate) fn check_origin(o: &str) -> Result<String, String> {
    if o == "*" || o == "null" {
        return Err(format!(
            "`{o}` is not allowed: list the staff client's origins (such as `https://staff.library.example`), so that no other web page can print"
        ));
    }
    let bad = |why: &str| {
        format!(
            "`{o}` is not an origin: {why} (write `https://host` or `https://host:port`, without a path or a trailing slash)"
        )
    };
    let (scheme, rest) = o
        .split_once("://")
        .ok_or_else(|| bad("it has no `scheme://`"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("the scheme is not http or https")),
    };
    if rest.contains(['/', '?', '#']) {
        return Err(bad("it has a path, a query or a trailing slash"));
    }
    if rest.contains('@') {
        return Err(bad("it has a user name (`user@`)"));
    }
    // `host`, `host:port`, `[v6]`, `[v6]:port`.
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("`[` without `]`"))?;
            let ip = h
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("the host in `[…]` is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(|| bad("text after `]`"))?),
            };
            (format!("[{ip}]"), port)
        }
        None => {
            let (h, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let ok = !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !ok {
                return Err(bad(
                    "the host is not a name or address (letters, digits, `.` and `-`; an international name in its `xn--` form)",
                ));
            }
            (h.to_ascii_lowercase(), port)
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n = p
                .parse::<u16>()
                .ok()
                .filter(|&n| n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad("the port is not a number in 1–65535"))?;
            Some(n)
        }
    };
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// `90s`, `15m`, `2h`, `500ms`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (as in 90s, 15m, 2h)"))?;
    let secs = |per: u64| {
        // Checked: a huge count must be refused, not wrap to a plausible duration.
        n.checked_mul(per)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{s}` is too long"))
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        "d" => secs(86400),
        u => Err(format!("`{s}`: unknown unit `{u}` (ms, s, m, h, d)")),
    }
}

impl Config {
    /// The embedded default (DESIGN §7): a raw listener on 127.0.0.1:9100 printing, with the
    /// generic 80 mm profile, one file per job into `slipguard-out/` under `cwd`.
    pub fn embedded(cwd: &Path) -> Config {
        Config {
            origin: None,
            profile_dir: None,
            printers: vec![PrinterConf {
                name: "default".into(),
                profile: crate::profiles::DEFAULT_PROFILE.into(),
                device: Device::File {
                    dir: cwd.join(DEFAULT_OUT_DIR),
                },
            }],
            listeners: vec![ListenConf {
                protocol: Protocol::Raw {
                    address: "127.0.0.1:9100".parse().expect("address"),
                },
                printer: Some("default".into()),
            }],
            limits: Limits::default(),
            redact: RedactConfig::default(),
            runtime_dir: None,
            state_dir: None,
            retention: crate::spool::Retention::DEFAULT,
        }
    }

    /// The state directory: the configured one; else the one systemd made for the service
    /// (`$STATE_DIRECTORY`); else `/var/lib/slipguard` when running as root; else
    /// `$XDG_STATE_HOME/slipguard` or `~/.local/state/slipguard`; else `slipguard-state-UID`
    /// in the temporary directory.
    pub fn state_dir_or_default(&self) -> PathBuf {
        if let Some(d) = &self.state_dir {
            return d.clone();
        }
        if let Some(d) = first_of_list(std::env::var_os("STATE_DIRECTORY")) {
            return d;
        }
        let uid = current_uid();
        if uid == 0 {
            return PathBuf::from(DEFAULT_STATE_DIR);
        }
        if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("slipguard");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(h).join(".local/state/slipguard");
        }
        std::env::temp_dir().join(format!("slipguard-state-{uid}"))
    }

    /// The runtime directory: the configured one; else the one systemd made for the service
    /// (`$RUNTIME_DIRECTORY`); else `/run/slipguard` when running as root; else
    /// `$XDG_RUNTIME_DIR/slipguard`; else `slipguard-UID` in the temporary directory.
    pub fn runtime_dir_or_default(&self) -> PathBuf {
        self.runtime_dir_choice().0
    }

    /// Whether [`Config::runtime_dir_or_default`] is the last resort, `slipguard-UID` in the
    /// temporary directory (`$TMPDIR`, else `/tmp`): a directory every user may write, so
    /// another user could have made it first. The daemon then uses it only if it is this
    /// user's own, mode 0700.
    pub fn runtime_dir_is_shared_fallback(&self) -> bool {
        self.runtime_dir_choice().1
    }

    fn runtime_dir_choice(&self) -> (PathBuf, bool) {
        if let Some(d) = &self.runtime_dir {
            return (d.clone(), false);
        }
        if let Some(d) = first_of_list(std::env::var_os("RUNTIME_DIRECTORY")) {
            return (d, false);
        }
        let uid = current_uid();
        if uid == 0 {
            return (PathBuf::from(DEFAULT_RUNTIME_DIR), false);
        }
        if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
            return (PathBuf::from(d).join("slipguard"), false);
        }
        (std::env::temp_dir().join(format!("slipguard-{uid}")), true)
    }

    /// Parse and check configuration text; `origin` names it in errors.
    pub fn from_toml(origin: &Path, text: &str) -> Result<Config, SourceError> {
        let o = origin.display().to_string();
        let err = |at: usize, msg: String| SourceError::at(&o, text, Some(at), msg);
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| SourceError::from_toml(&o, text, &e))?;
        let mut printers: Vec<PrinterConf> = Vec::new();
        for p in raw.printer {
            if printers.iter().any(|q| q.name == *p.name.get_ref()) {
                return Err(err(
                    p.name.span().start,
                    format!("a printer named `{}` is already defined", p.name.get_ref()),
                ));
            }
            let device = Device::parse(p.device.get_ref(), p.any_device_path)
                .map_err(|m| err(p.device.span().start, m))?;
            printers.push(PrinterConf {
                name: p.name.into_inner(),
                profile: p.profile.into_inner(),
                device,
            });
        }
        let mut listeners = Vec::new();
        for l in raw.listen {
            if let Some(name) = &l.printer {
                if !printers.iter().any(|p| p.name == *name.get_ref()) {
                    return Err(err(
                        name.span().start,
                        format!("no printer named `{}` is defined", name.get_ref()),
                    ));
                }
            } else if l.protocol.get_ref() != "http" {
                return Err(err(
                    l.protocol.span().start,
                    "a listener needs `printer = \"NAME\"` (the printer its jobs go to)".into(),
                ));
            }
            if let Some(o) = l.allowed_origins.as_ref().and_then(|o| o.first()) {
                if l.protocol.get_ref() != "http" {
                    return Err(err(
                        o.span().start,
                        "`allowed_origins` is for http listeners".into(),
                    ));
                }
            }
            let protocol = match l.protocol.get_ref().as_str() {
                p @ ("raw" | "lpd") => {
                    let a = l.address.as_ref().ok_or_else(|| {
                        err(
                            l.protocol.span().start,
                            format!("a {p} listener needs `address = \"HOST:PORT\"`"),
                        )
                    })?;
                    let address = a.get_ref().parse::<SocketAddr>().map_err(|_| {
                        err(
                            a.span().start,
                            format!("`{}` is not an IP address and port", a.get_ref()),
                        )
                    })?;
                    if let Some(p) = &l.path {
                        return Err(err(p.span().start, "`path` is for folder listeners".into()));
                    }
                    if p == "raw" {
                        Protocol::Raw { address }
                    } else {
                        Protocol::Lpd { address }
                    }
                }
                "folder" => {
                    let p = l.path.as_ref().ok_or_else(|| {
                        err(
                            l.protocol.span().start,
                            "a folder listener needs `path = \"/DIR\"`".into(),
                        )
                    })?;
                    if !p.get_ref().starts_with('/') {
                        return Err(err(
                            p.span().start,
                            "the folder path must be absolute".into(),
                        ));
                    }
                    if let Some(a) = &l.address {
                        return Err(err(
                            a.span().start,
                            "`address` is for raw and lpd listeners".into(),
                        ));
                    }
                    Protocol::Folder {
                        path: PathBuf::from(p.get_ref()),
                    }
                }
                "http" => {
                    let address = match &l.address {
                        None => SocketAddr::from(([127, 0, 0, 1], DEFAULT_HTTP_PORT)),
                        Some(a) => a.get_ref().parse::<SocketAddr>().map_err(|_| {
                            err(
                                a.span().start,
                                format!("`{}` is not an IP address and port", a.get_ref()),
                            )
                        })?,
                    };
                    if let Some(p) = &l.path {
                        return Err(err(p.span().start, "`path` is for folder listeners".into()));
                    }
                    let mut allowed_origins = Vec::new();
                    for o in l.allowed_origins.iter().flatten() {
                        let origin =
                            check_origin(o.get_ref()).map_err(|m| err(o.span().start, m))?;
                        allowed_origins.push(origin);
                    }
                    Protocol::Http {
                        address,
                        allowed_origins,
                    }
                }
                p => {
                    return Err(err(
                        l.protocol.span().start,
                        format!("unknown protocol `{p}` (known: raw, lpd, folder, http)"),
                    ))
                }
            };
            // Two listeners cannot bind one address (port 0 is a new port each time).
            let bound = |p: &Protocol| match p {
                Protocol::Raw { address }
                | Protocol::Lpd { address }
                | Protocol::Http { address, .. } => Some(*address).filter(|a| a.port() != 0),
                Protocol::Folder { .. } => None,
            };
            if let Some(address) = bound(&protocol) {
                if listeners
                    .iter()
                    .any(|x: &ListenConf| bound(&x.protocol) == Some(address))
                {
                    let at = l
                        .address
                        .as_ref()
                        .map_or(l.protocol.span().start, |a| a.span().start);
                    return Err(err(
                        at,
                        format!("another listener already uses {address}: each needs an address of its own"),
                    ));
                }
            }
            listeners.push(ListenConf {
                protocol,
                printer: l.printer.map(Spanned::into_inner),
            });
        }
        let mut limits = Limits::default();
        let mut profile_dir = None;
        let mut runtime_dir = None;
        let mut state_dir = None;
        let mut retention = crate::spool::Retention::DEFAULT;
        if let Some(d) = raw.daemon {
            profile_dir = d.profile_dir.map(PathBuf::from);
            runtime_dir = d.runtime_dir.map(PathBuf::from);
            state_dir = d.state_dir.map(PathBuf::from);
            if let Some(v) = &d.retention {
                let window = parse_duration(v.get_ref()).map_err(|m| err(v.span().start, m))?;
                retention = crate::spool::Retention::check(window, d.allow_unusual_retention)
                    .map_err(|e| err(v.span().start, e.to_string()))?;
            }
            let dur =
                |v: &Option<Spanned<String>>, into: &mut Duration| -> Result<(), SourceError> {
                    if let Some(v) = v {
                        *into = parse_duration(v.get_ref()).map_err(|m| err(v.span().start, m))?;
                        if into.is_zero() {
                            return Err(err(v.span().start, "must be more than zero".into()));
                        }
                    }
                    Ok(())
                };
            dur(&d.idle_timeout, &mut limits.idle_timeout)?;
            dur(&d.job_timeout, &mut limits.job_timeout)?;
            dur(&d.device_timeout, &mut limits.device_timeout)?;
            dur(&d.stop_timeout, &mut limits.stop_timeout)?;
            for (v, into) in [
                (d.max_job_bytes, &mut limits.max_job_bytes),
                (d.max_segment_bytes, &mut limits.max_segment_bytes),
                (d.max_held_bytes, &mut limits.max_held_bytes),
            ] {
                if let Some(v) = v {
                    if *v.get_ref() == 0 {
                        return Err(err(v.span().start, "must be more than zero".into()));
                    }
                    *into = v.into_inner();
                }
            }
            for (v, into) in [
                (d.max_connections, &mut limits.max_connections),
                (d.max_redactions, &mut limits.max_redactions),
                (d.max_queries, &mut limits.max_queries),
            ] {
                if let Some(v) = v {
                    if *v.get_ref() == 0 {
                        return Err(err(v.span().start, "must be more than zero".into()));
                    }
                    *into = usize::try_from(v.into_inner()).unwrap_or(usize::MAX);
                }
            }
        }
        let redact = match raw.redact {
            Some(r) => r.check(&o, text)?,
            None => RedactConfig::default(),
        };
        Ok(Config {
            origin: Some(origin.to_path_buf()),
            profile_dir,
            printers,
            listeners,
            limits,
            redact,
            runtime_dir,
            state_dir,
            retention,
        })
    }

    /// Read `path`; with `None`, the default path if it exists, else `None`. A file that
    /// defines no printer is refused: a daemon on it would take jobs it can print nowhere.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Option<Config>> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_PATH).exists() => PathBuf::from(DEFAULT_PATH),
            None => return Ok(None),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        let cfg = Config::from_toml(&path, &text)?;
        if cfg.printers.is_empty() {
            return Err(SourceError::at(
                &path.display().to_string(),
                &text,
                None,
                "no printer is defined: add a [[printer]] table with name, profile and device \
                 (see `slipguard.toml(5)`)"
                    .to_string(),
            )
            .into());
        }
        Ok(Some(cfg))
    }

    /// Check that every printer's profile can be loaded from `profiles`; an unknown one is
    /// refused with the file, line and column of its `profile = …` in `path`.
    pub fn check_profiles(
        &self,
        path: &Path,
        profiles: &crate::profiles::Profiles,
    ) -> anyhow::Result<()> {
        for p in &self.printers {
            if let Err(e) = profiles.load(&p.profile) {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let at = toml::from_str::<RawConfig>(&text).ok().and_then(|raw| {
                    raw.printer
                        .into_iter()
                        .find(|r| *r.name.get_ref() == p.name)
                        .map(|r| r.profile.span().start)
                });
                let msg = format!("printer `{}`: {e:#}", p.name);
                return Err(SourceError::at(&origin, &text, at, msg).into());
            }
        }
        Ok(())
    }
}

/// The first directory of a colon-separated list from systemd (`$RUNTIME_DIRECTORY`,
/// `$STATE_DIRECTORY`), when there is one.
fn first_of_list(v: Option<std::ffi::OsString>) -> Option<PathBuf> {
    let v = v?;
    let first = v
        .to_string_lossy()
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    (!first.is_empty()).then(|| PathBuf::from(first))
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_uris() {
        assert_eq!(
            Device::parse("tcp://192.0.2.10:9100", false),
            Ok(Device::Tcp {
                host: "192.0.2.10".into(),
                port: 9100
            })
        );
        assert_eq!(
            Device::parse("serial:///dev/ttyUSB0?baud=38400&flow=rtscts", false),
            Ok(Device::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 38400,
                flow: Flow::RtsCts,
                parity: Parity::None
            })
        );
        assert!(Device::parse("usb:///dev/usb/lp0", false).is_ok());
        assert!(Device::parse("file:///var/spool/x", false).is_ok());
        let e = Device::parse("usb:///etc/passwd", false).unwrap_err();
        assert!(e.contains("not a printer device node"), "{e}");
        assert!(Device::parse("usb:///tmp/fake-lp", true).is_ok());
        assert!(Device::parse("serial:///dev/ttyS0?baud=12", false).is_err());
        assert!(Device::parse("serial:///dev/ttyS0?speed=9600", false).is_err());
        assert!(Device::parse("lpt://x", false).is_err());
        assert!(Device::parse("tcp://host", false).is_err());
    }

    #[test]
    fn retention_is_checked_with_file_and_line() {
        let load = |daemon: &str| {
            Config::from_toml(Path::new("desk.toml"), &format!("[daemon]\n{daemon}\n"))
                .map(|c| c.retention.duration())
                .map_err(|e| e.to_string())
        };
        assert_eq!(load(""), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(load("retention = \"2h\""), Ok(Duration::from_secs(7200)));
        let e = load("retention = \"30s\"").unwrap_err();
        assert!(e.contains("desk.toml:2") && e.contains("minimum"), "{e}");
        let e = load("retention = \"8d\"").unwrap_err();
        assert!(e.contains("desk.toml:2"), "{e}");
        assert_eq!(
            load("retention = \"30s\"\nallow_unusual_retention = true"),
            Ok(Duration::from_secs(30))
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        // 2^64 seconds and more: refused, not wrapped around to 44 seconds.
        assert!(parse_duration("307445734561825861m").is_err());
        assert!(parse_duration("18446744073709551615d").is_err());
    }

    #[test]
    fn http_listeners() {
        let load = |listen: &str| {
            Config::from_toml(
                Path::new("desk.toml"),
                &format!(
                    "[[printer]]\nname = \"desk\"\nprofile = \"generic-80mm\"\n\
                     device = \"file:///tmp/x\"\n[[listen]]\n{listen}\n"
                ),
            )
            .map(|c| c.listeners)
            .map_err(|e| e.to_string())
        };
        let l = load("protocol = \"http\"\nallowed_origins = [\"https://Staff.Example.org\", \"http://[::1]:8080\"]").unwrap();
        assert_eq!(
            l[0],
            ListenConf {
                protocol: Protocol::Http {
                    address: "127.0.0.1:9180".parse().unwrap(),
                    allowed_origins: vec![
                        "https://staff.example.org".into(),
                        "http://[::1]:8080".into()
                    ],
                },
                printer: None,
            }
        );
        let l = load("protocol = \"http\"\naddress = \"[::1]:9999\"\nprinter = \"desk\"").unwrap();
        assert_eq!(l[0].printer.as_deref(), Some("desk"));
        // Default ports dropped, scheme and host lower-cased, IPv6 in its short form: as
        // browsers send them in `Origin`.
        let l = load(
            "protocol = \"http\"\nallowed_origins = [\"HTTPS://Staff.Example.org:443\", \"http://desk.example:80\", \"http://[0:0::1]:0080\", \"https://desk.example:80\", \"http://desk.example:443\"]",
        )
        .unwrap();
        let Protocol::Http {
            allowed_origins, ..
        } = &l[0].protocol
        else {
            panic!("an http listener")
        };
        assert_eq!(
            allowed_origins,
            &[
                "https://staff.example.org",
                "http://desk.example",
                "http://[::1]",
                "https://desk.example:80",
                "http://desk.example:443"
            ]
        );
        for (listen, says) in [
            ("protocol = \"http\"\nallowed_origins = [\"*\"]", "desk.toml:7:20"),
            (
                "protocol = \"http\"\nallowed_origins = [\"https://a.example\",\n  \"https://a.example/print\"]",
                "desk.toml:8:3: `https://a.example/print` is not an origin: it has a path",
            ),
            ("protocol = \"http\"\nallowed_origins = [\"https://user@a.example\"]", "has a user name"),
            ("protocol = \"http\"\nallowed_origins = [\"https://user:pw@a.example\"]", "has a user name"),
            ("protocol = \"http\"\nallowed_origins = [\"https://a.example?x\"]", "has a path"),
            ("protocol = \"http\"\nallowed_origins = [\"https://a.example:+443\"]", "the port"),
            ("protocol = \"http\"\nallowed_origins = [\"https://a.example:0\"]", "the port"),
            ("protocol = \"http\"\nallowed_origins = [\"https://a.example:\"]", "the port"),
            ("protocol = \"http\"\nallowed_origins = [\"https://[::1\"]", "without `]`"),
            ("protocol = \"http\"\nallowed_origins = [\"https://[desk]\"]", "not an IPv6 address"),
            ("protocol = \"http\"\nallowed_origins = [\"ftp://a.example\"]", "not http or https"),
            ("protocol = \"http\"\nallowed_origins = [\"https://bücherei.example\"]", "xn--"),
            ("protocol = \"http\"\nallowed_origins = [\"https://staff.example.org/\"]", "not an origin"),
            ("protocol = \"http\"\nallowed_origins = [\"staff.example.org\"]", "not an origin"),
            ("protocol = \"http\"\nallowed_origins = [\"https://x:99999\"]", "not an origin"),
            ("protocol = \"http\"\npath = \"/tmp\"", "for folder listeners"),
            ("protocol = \"http\"\nprinter = \"nope\"", "no printer named `nope`"),
            ("protocol = \"raw\"\naddress = \"127.0.0.1:9100\"", "needs `printer"),
            ("protocol = \"raw\"\naddress = \"127.0.0.1:9100\"\nprinter = \"desk\"\nallowed_origins = [\"https://a.b\"]", "for http listeners"),
        ] {
            let e = load(listen).unwrap_err();
            assert!(e.contains(says), "{listen}: {e}");
        }
    }
}
