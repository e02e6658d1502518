//! The LPD listener (RFC 1179, the "receive a printer job" command): every data file of a
//! job is one print job. A job is taken only when the client has sent it whole and ends the
//! connection; an aborted or broken transfer prints nothing.
//!
//! Control files name the user and the job (`P`, `J`, `N`, `L` lines), which can be patron
//! data: they are read past and dropped, never parsed, logged or stored.
//!
//! Refusals reach the client as RFC 1179 allows: a file over `max_job_bytes` gets a
//! non-zero acknowledgement to its command, and a data file that would not print gets one
//! after its closing zero byte (instead of the `\0` of "accepted"): one that begins with
//! another protocol's request ([`super::sniff`]), or that fails closed or has a segment over
//! `max_segment_bytes` (found by redacting it before the acknowledgement, see
//! [`super::screen`]; it is redacted again when the job is accepted). The whole job is then
//! dropped. What can still go wrong after the last acknowledgement (the spool cannot be
//! written while the printer is offline; the daemon stops) is logged only.
//!
//! The unredacted bytes are held in buffers that are wiped when dropped; commands are read
//! a byte at a time, so no other buffer holds a copy.

use super::sniff::{self, Verdict};
use super::{buffer, Route, Shared};
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use zeroize::{Zeroize, Zeroizing};

/// The acknowledgement byte for "accepted", and one for "refused".
const ACK: u8 = 0;
const NAK: u8 = 1;

/// The longest command line accepted (RFC 1179 lines are short).
const MAX_LINE: usize = 1024;

/// A data file's unredacted bytes.
pub(crate) type File = Zeroizing<Vec<u8>>;

pub(super) async fn serve(
    listener: TcpListener,
    route: Route,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let sh = shared.clone();
    super::accept_loop(listener, "lpd", shared, stop, move |mut stream| {
        let (route, sh) = (route.clone(), sh.clone());
        async move {
            let limits = sh.limits();
            let (r, s) = (&route, &sh);
            let screen = move |file: File| async move {
                let (file, verdict) = super::screen(file, r, s).await;
                if verdict.is_err() {
                    // Counted as `accept` counts a job it refuses.
                    r.stats
                        .refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                (file, verdict)
            };
            // The connection's files count against the daemon's budget until they are
            // accepted or refused.
            let mut held = s.budget.claim();
            let hold = |n: u64| held.grow(n);
            // A client that keeps sending a little, never quite idle, still ends here.
            let received = tokio::time::timeout(
                limits.job_timeout,
                session(
                    &mut stream,
                    limits.max_job_bytes,
                    limits.idle_timeout,
                    screen,
                    hold,
                ),
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
                    outcome = "refused",
                    "job discarded, nothing printed: {why}"
                ),
            }
        }
    })
    .await
}

/// One connection: the data files of a job received whole, in order (empty when the
/// connection asked something other than to print). Before a data file is acknowledged,
/// its first bytes are judged and `screen` says whether it would print (the daemon redacts
/// it; the bytes come back); a refused file is answered with a non-zero byte and ends the
/// job. Each data file's size is asked of `hold` (the daemon's memory budget) before it is
/// acknowledged; a refusal ends the job the same way. Crate-visible so that `crate::fuzzing::lpd_invariants` drives this same code over an
/// in-memory stream.
pub(crate) async fn session<S, F, Fut>(
    s: &mut S,
    max_job_bytes: u64,
    idle: std::time::Duration,
    mut screen: F,
    mut hold: impl FnMut(u64) -> Result<(), String>,
) -> Result<Vec<File>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(File) -> Fut,
    Fut: Future<Output = (File, Result<(), String>)>,
{
    let Some((cmd, queue)) = line(s, idle).await? else {
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
        c => {
            // An HTTP request (say) starts with a letter, read here as a command code.
            let mut first = vec![c];
            first.extend_from_slice(queue.as_bytes());
            if let Verdict::Refuse(why) = sniff::at_end(&first) {
                return Err(sniff::refusal(why));
            }
            return Err(format!("unknown LPD command {c:#04x}"));
        }
    }
    s.write_all(&[ACK]).await.map_err(io)?;
    let mut data: Vec<File> = Vec::new();
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
                if let Err(why) = hold(count) {
                    let _ = s.write_all(&[NAK]).await;
                    return Err(why);
                }
                s.write_all(&[ACK]).await.map_err(io)?;
                let (buf, other_protocol) = read_counted(s, count, idle, sub == 3).await?;
                let mut trailer = [0u8; 1];
                read_exact(s, &mut trailer, idle).await?;
                if trailer[0] != 0 {
                    let _ = s.write_all(&[NAK]).await;
                    return Err("an LPD file did not end with its zero byte".into());
                }
                // A control file is dropped here, unread.
                if sub == 3 {
                    let verdict = match other_protocol {
                        Some(why) => Err(format!("a data file refused: {}", sniff::refusal(why))),
                        None if buf.is_empty() => Ok(None),
                        None => match screen(buf).await {
                            (buf, Ok(())) => Ok(Some(buf)),
                            (_, Err(why)) => Err(format!("a data file refused: {why}")),
                        },
                    };
                    match verdict {
                        Ok(file) => data.extend(file),
                        Err(why) => {
                            let _ = s.write_all(&[NAK]).await;
                            return Err(why);
                        }
                    }
                }
                s.write_all(&[ACK]).await.map_err(io)?;
            }
            c => return Err(format!("unknown LPD subcommand {c:#04x}")),
        }
    }
}

fn io(e: std::io::Error) -> String {
    format!("the connection failed: {e}")
}

/// One command line: its code and operand (lossily decoded; never logged). `None` at a
/// clean end of the connection. Read a byte at a time: nothing after the line is read, so
/// a file's bytes go only into its own (wiped) buffer.
async fn line<S: AsyncRead + Unpin>(
    s: &mut S,
    idle: std::time::Duration,
) -> Result<Option<(u8, String)>, String> {
    let mut bytes = Zeroizing::new(Vec::new());
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
/// With `judge`, the first bytes are judged as they arrive: once they show another
/// protocol's request, the rest is read and dropped, and the reason comes back.
async fn read_counted<S: AsyncRead + Unpin>(
    s: &mut S,
    count: u64,
    idle: std::time::Duration,
    judge: bool,
) -> Result<(File, Option<&'static str>), String> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new(vec![0u8; count.min(CHUNK) as usize]);
    let mut verdict = if judge {
        Verdict::Undecided
    } else {
        Verdict::Job
    };
    let mut left = count;
    while left > 0 {
        let part = &mut chunk[..left.min(CHUNK) as usize];
        read_exact(s, part, idle).await?;
        left -= part.len() as u64;
        if let Verdict::Refuse(_) = verdict {
            continue;
        }
        buffer::append(&mut buf, part);
        if verdict == Verdict::Undecided {
            verdict = sniff::first_bytes(&buf);
            if let Verdict::Refuse(_) = verdict {
                buf.zeroize();
            }
        }
    }
    match verdict {
        Verdict::Refuse(why) => Ok((buf, Some(why))),
        _ => Ok((buf, None)),
    }
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
