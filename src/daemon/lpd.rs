//! The LPD listener (RFC 1179, the "receive a printer job" command): every data file of a
//! job is one print job. A job is taken only when the client has sent it whole and ends the
//! connection; an aborted or broken transfer prints nothing.
//!
//! Control files name the user and the job (`P`, `J`, `N`, `L` lines), which can be patron
//! data: they are read past and dropped, never parsed, logged or stored.

use super::{Route, Shared};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The acknowledgement byte for "accepted", and one for "refused".
const ACK: u8 = 0;
const NAK: u8 = 1;

/// The longest command line accepted (RFC 1179 lines are short).
const MAX_LINE: usize = 1024;

pub(super) async fn serve(
    listener: TcpListener,
    route: Route,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let sh = shared.clone();
    super::accept_loop(listener, "lpd", shared, stop, move |stream| {
        let (route, sh) = (route.clone(), sh.clone());
        async move {
            let mut stream = tokio::io::BufReader::new(stream);
            let limits = sh.limits();
            // A client that keeps sending a little, never quite idle, still ends here.
            let received = tokio::time::timeout(
                limits.job_timeout,
                session(&mut stream, limits.max_job_bytes, limits.idle_timeout),
            )
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the client did not finish its job within {:?} (job_timeout)",
                    limits.job_timeout
                ))
            });
            match received {
                Ok(files) => {
                    for f in files {
                        super::accept(f, "lpd", &route, &sh, None).await;
                    }
                }
                Err(why) => tracing::warn!(
                    listener = "lpd",
                    printer = %route.printer,
                    "job discarded, nothing printed: {why}"
                ),
            }
        }
    })
    .await
}

/// One connection: the data files of a job received whole, in order (empty when the
/// connection asked something other than to print). Crate-visible so that
/// `crate::fuzzing::lpd_invariants` drives this same code over an in-memory stream.
pub(crate) async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    max_job_bytes: u64,
    idle: std::time::Duration,
) -> Result<Vec<Vec<u8>>, String> {
    let Some((cmd, _queue)) = line(s, idle).await? else {
        return Ok(Vec::new());
    };
    match cmd {
        // Receive a printer job.
        2 => {}
        // Send queue state (short or long): an empty queue, as far as the client can see.
        3 | 4 => {
            let _ = s.write_all(b"slipguard: no entries\n").await;
            return Ok(Vec::new());
        }
        // Print waiting jobs, remove jobs: nothing to do.
        1 | 5 => return Ok(Vec::new()),
        c => return Err(format!("unknown LPD command {c:#04x}")),
    }
    s.write_all(&[ACK]).await.map_err(io)?;
    let mut data: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let Some((sub, operand)) = line(s, idle).await? else {
            // The end of the connection at a subcommand boundary: the job is whole.
            return Ok(data);
        };
        match sub {
            // Abort job.
            1 => return Ok(Vec::new()),
            // Control file (2) or data file (3): "COUNT NAME".
            2 | 3 => {
                let count = operand
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse::<u64>().ok())
                    .ok_or("an LPD file command without a byte count")?;
                // Saturating: a count near 2^64 must be refused, not wrap to a small total.
                total = total.saturating_add(count);
                if total > max_job_bytes {
                    let _ = s.write_all(&[NAK]).await;
                    return Err(format!(
                        "the job is larger than max_job_bytes ({max_job_bytes} bytes)"
                    ));
                }
                s.write_all(&[ACK]).await.map_err(io)?;
                let buf = read_counted(s, count, idle).await?;
                let mut trailer = [0u8; 1];
                read_exact(s, &mut trailer, idle).await?;
                if trailer[0] != 0 {
                    return Err("an LPD file did not end with its zero byte".into());
                }
                s.write_all(&[ACK]).await.map_err(io)?;
                if sub == 3 && !buf.is_empty() {
                    data.push(buf);
                }
                // A control file is dropped here, unread.
            }
            c => return Err(format!("unknown LPD subcommand {c:#04x}")),
        }
    }
}

fn io(e: std::io::Error) -> String {
    format!("the connection failed: {e}")
}

/// One command line: its code and operand (lossily decoded; never logged). `None` at a
/// clean end of the connection.
async fn line<S: AsyncRead + Unpin>(
    s: &mut S,
    idle: std::time::Duration,
) -> Result<Option<(u8, String)>, String> {
    let mut bytes = Vec::new();
    loop {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(idle, s.read(&mut b))
            .await
            .map_err(|_| format!("the client sent nothing for {idle:?} (idle_timeout)"))?
            .map_err(io)?;
        if n == 0 {
            return if bytes.is_empty() {
                Ok(None)
            } else {
                Err("the connection ended inside an LPD command".into())
            };
        }
        if b[0] == b'\n' {
            break;
        }
        bytes.push(b[0]);
        if bytes.len() > MAX_LINE {
            return Err("an LPD command line longer than 1024 bytes".into());
        }
    }
    let (&code, operand) = bytes.split_first().ok_or("an empty LPD command line")?;
    Ok(Some((code, String::from_utf8_lossy(operand).into_owned())))
}

/// Read a file of `count` bytes. Memory grows with the bytes that arrive, not with the
/// count the client declared: a client that declares 16 MiB and sends nothing holds 64 KiB.
async fn read_counted<S: AsyncRead + Unpin>(
    s: &mut S,
    count: u64,
    idle: std::time::Duration,
) -> Result<Vec<u8>, String> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; count.min(CHUNK) as usize];
    let mut left = count;
    while left > 0 {
        let part = &mut chunk[..left.min(CHUNK) as usize];
        read_exact(s, part, idle).await?;
        buf.extend_from_slice(part);
        left -= part.len() as u64;
    }
    Ok(buf)
}

async fn read_exact<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut [u8],
    idle: std::time::Duration,
) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        let n = tokio::time::timeout(idle, s.read(&mut buf[at..]))
            .await
            .map_err(|_| format!("the client sent nothing for {idle:?} (idle_timeout)"))?
            .map_err(io)?;
        if n == 0 {
            return Err("the connection ended inside an LPD file".into());
        }
        at += n;
    }
    Ok(())
}
