//! Device backends: how one job's bytes reach a printer. Every attempt either delivers the
//! whole job or fails (and the printer worker tries again later from the job's start).
//!
//! Blocking I/O (serial ports, USB character devices, files) runs on tokio's blocking
//! threads, never on the async workers. A printer that stops reading (paper out) holds up
//! its own queue, never the daemon: the worker leaves it behind when the daemon stops.

use crate::config::{Device, Flow, Parity};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Send one job to `device`, all of it. A network printer gets `timeout` to connect and take
/// every byte; then the attempt waits for the printer to close the connection, without a
/// deadline (the job is in the printer's hands: sending it again could print it twice), and
/// fails only if the connection breaks (a reset, or a printer gone silent, found by TCP
/// keepalive). A serial port gets `timeout` per write. A USB or file write has no deadline
/// here: it is never abandoned while its thread may still print (that would print the job
/// twice). The worker shows an attempt longer than `timeout` as stuck and stops waiting
/// for it only when the daemon stops.
///
/// `open`: a connection to the network printer opened for this job ([`super::warm`]), used
/// instead of connecting.
///
/// Returns what the printer sent back (status bytes), as far as the device can tell: a
/// network printer's answer on the connection, a serial printer's answer within a moment
/// after the job when `want_reply`; nothing for files and USB devices.
pub async fn send(
    device: &Device,
    job_id: &str,
    bytes: &[u8],
    timeout: Duration,
    want_reply: bool,
    open: Option<TcpStream>,
) -> io::Result<Vec<u8>> {
    match device {
        Device::Tcp { host, port } => {
            let hand_over = async {
                let mut s = match open {
                    Some(s) => s,
                    None => TcpStream::connect((host.as_str(), *port)).await?,
                };
                keepalive(&s);
                s.write_all(bytes).await?;
                s.shutdown().await?;
                Ok::<_, io::Error>(s)
            };
            let mut s = match tokio::time::timeout(timeout, hand_over).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the printer did not take the job within {timeout:?}"),
                    ))
                }
            };
            // Every byte and the end of the job are handed over. The printer closes its
            // side once it has printed (or buffered) the job; only then may the next job
            // start. What it says meanwhile is its answer. However long it takes, the job
            // is not sent again unless the connection breaks.
            let mut reply = Vec::new();
            let mut buf = [0u8; 512];
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                let room = MAX_REPLY - reply.len();
                reply.extend_from_slice(&buf[..n.min(room)]);
            }
            Ok(reply)
        }
        Device::File { dir } => {
            let (dir, id, bytes) = (dir.clone(), job_id.to_string(), bytes.to_vec());
            blocking(move || write_file(&dir, &id, &bytes).map(|()| Vec::new())).await
        }
        Device::Usb { path } => {
            let (path, bytes) = (path.clone(), bytes.to_vec());
            blocking(move || write_usb(&path, &bytes).map(|()| Vec::new())).await
        }
        Device::Serial {
            path,
            baud,
            flow,
            parity,
        } => {
            let (path, bytes) = (path.clone(), bytes.to_vec());
            let (baud, flow, parity) = (*baud, *flow, *parity);
            blocking(move || write_serial(&path, baud, flow, parity, timeout, &bytes, want_reply))
                .await
        }
    }
}

/// TCP keepalive on a printer connection: a printer that loses power or its network while
/// the daemon waits for it to close is noticed (the attempt fails and the job is tried
/// again) within about half a minute, instead of never. A printer that is alive but slow
/// answers the probes and is waited for. Best effort: without it, only the wait is longer.
fn keepalive(s: &TcpStream) {
    use rustix::net::sockopt;
    let set = sockopt::set_socket_keepalive(s, true)
        .and_then(|()| sockopt::set_tcp_keepidle(s, Duration::from_secs(15)))
        .and_then(|()| sockopt::set_tcp_keepintvl(s, Duration::from_secs(5)))
        .and_then(|()| sockopt::set_tcp_keepcnt(s, 3));
    if let Err(e) = set {
        tracing::debug!(error = %e, "TCP keepalive not set on the printer connection");
    }
}

/// The most status bytes kept from one answer.
const MAX_REPLY: usize = 4096;

async fn blocking(f: impl FnOnce() -> io::Result<Vec<u8>> + Send + 'static) -> io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("device thread failed: {e}"))))
}

/// One file per job, `ID.prn`: written under a random temporary name, synced, then
/// renamed, so a reader of the directory never sees half a job.
///
/// The folder may be writable by other users (a group folder), who can plant symlinks under
/// any name: the file is created relative to the folder's open handle, exclusively
/// (`O_CREAT | O_EXCL | O_NOFOLLOW`) under a name nobody can guess, and renamed without
/// replacing anything (see [`super::safe_fs::write_new`]: a name already taken gets
/// `ID-RANDOM.prn` instead). Mode 0600, or 0640 with the folder's group when the folder is
/// setgid (shared with its group); the umask changes neither. A missing folder is made,
/// mode 0700.
fn write_file(dir: &Path, id: &str, bytes: &[u8]) -> io::Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let fd = super::safe_fs::open_dir(dir)?;
    let mode = super::safe_fs::file_mode(super::safe_fs::group_shared(&fd)?);
    super::safe_fs::write_new(fd.as_fd(), id.as_ref(), ".prn", bytes, mode)?;
    Ok(())
}

/// A USB printer class device (`/dev/usb/lp0`), opened per job; never created.
fn write_usb(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

fn write_serial(
    path: &Path,
    baud: u32,
    flow: Flow,
    parity: Parity,
    timeout: Duration,
    bytes: &[u8],
    want_reply: bool,
) -> io::Result<Vec<u8>> {
    let path = path
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "device path is not UTF-8"))?;
    let mut port = serialport::new(path, baud)
        .flow_control(match flow {
            Flow::None => serialport::FlowControl::None,
            Flow::RtsCts => serialport::FlowControl::Hardware,
            Flow::XonXoff => serialport::FlowControl::Software,
        })
        .parity(match parity {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        })
        .timeout(timeout)
        .open()
        .map_err(io::Error::from)?;
    port.write_all(bytes)?;
    port.flush()?;
    let mut reply = Vec::new();
    if want_reply {
        // A status answer comes within a moment; a silent printer gives none.
        port.set_timeout(Duration::from_millis(300))?;
        let mut buf = [0u8; 256];
        while reply.len() < MAX_REPLY {
            match port.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(reply)
}
