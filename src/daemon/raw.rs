//! The raw listener (AppSocket/JetDirect, port 9100): one connection is one job, complete
//! when the client closes its side. A connection that breaks first (reset, idle timeout,
//! over a size limit) is discarded: nothing of it is printed.
//!
//! The back-channel (DESIGN §5): a real-time status query (`DLE EOT`, `DLE ENQ`; Star
//! `ENQ`, `EOT`) goes to the printer as soon as it is free, and its answer comes back on
//! this connection. A query answered in order with the data (`GS I`, `GS r`, …) ends a
//! segment: what came before it (the query included) is printed then, and the printer's
//! answer comes back, so a client that waits for it does not wait forever.
//!
//! Before anything is tokenized, the first bytes are judged ([`super::sniff`]): a job that
//! begins with another protocol's request (an HTTP request line, as any web page can make
//! a browser send here; a TLS handshake) is refused as soon as that shows, with a log line
//! that names the protocol and never the bytes.
//!
//! What a client sees: a job taken (queued for its printer) ends with a normal close once it
//! is queued; a job refused or discarded (another protocol, over a limit, fails closed, a
//! part of it refused, past `job_timeout`) ends with a reset (RST), so that a print client
//! reports an error instead of success. The protocol has no other way to say it.
//!
//! Status queries are capped (`max_queries` per connection: each query answered in order
//! makes a job of its own and a spool entry), and no wait of the connection — for the
//! client's bytes, for a printer's answer, for the client to take an answer — outlasts
//! `job_timeout` from the connection's start.

use super::sniff::{self, Pass};
use super::{buffer, Accepted, Route, Shared};
use crate::core::tokenize::{QueryKind, TokenKind, Tokenizer};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use zeroize::Zeroizing;

pub(super) async fn serve(
    listener: TcpListener,
    route: Route,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let sh = shared.clone();
    super::accept_loop(listener, "raw", shared, stop, move |mut stream| {
        let (route, sh) = (route.clone(), sh.clone());
        async move {
            // The connection stays open until the job is queued: a client that sends jobs
            // one after another gets them printed in that order.
            let refused = match session(&mut stream, &route, &sh).await {
                Ok(End::Taken) => false,
                // `accept` logged why.
                Ok(End::Refused) => true,
                Err(why) => {
                    tracing::warn!(
                        listener = "raw",
                        printer = %route.printer,
                        outcome = "refused",
                        "job discarded, nothing more printed: {why}"
                    );
                    true
                }
            };
            if refused {
                // Closed with a reset, not a clean end: the client sees that its job was
                // not taken.
                let _ = stream.set_zero_linger();
            }
        }
    })
    .await
}

/// How a connection ended, when not with an error to log.
enum End {
    /// Whatever the client sent was queued.
    Taken,
    /// The job, or a part of it, was refused when it was accepted (and logged there).
    Refused,
}

/// One connection: read until the client's EOF within the limits, answering queries on
/// the way; then queue what is left as the job.
async fn session(s: &mut TcpStream, route: &Route, shared: &Arc<Shared>) -> Result<End, String> {
    let limits = shared.limits();
    let profile = route.profile();
    let mut tokens = Tokenizer::new(profile.dialect, profile.tokenizer_options());
    // The job's unredacted bytes: wiped when dropped, and as they grow.
    let mut job: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    // Bytes before this offset went to the printer already (ended by an ordered query).
    let mut sent = 0usize;
    // Bytes of real-time queries taken out of `job` so far.
    let mut removed = 0usize;
    // Where the open segment starts in `job`: it is refused as soon as it is over
    // `max_segment_bytes` (as it would be once complete), not read to its end first.
    let mut segment = 0usize;
    // Holds the job until its first bytes are judged a print job's: until then nothing of
    // it is tokenized (so no query in it is acted on).
    let mut gate = sniff::Gate::default();
    // Queries acted on so far, and whether a part ended by one was refused.
    let (mut queries, mut part_refused) = (0usize, false);
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    // What the connection has received counts against the daemon's budget until it ends.
    let mut held = shared.budget.claim();
    // A client that keeps sending a little, never quite idle, still ends here; so does
    // one that sends queries and waits for (or never reads) their answers.
    let deadline = tokio::time::Instant::now() + limits.job_timeout;
    let late = || {
        format!(
            "the client did not finish its job within {:?} (job_timeout)",
            limits.job_timeout
        )
    };
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    loop {
        if left().is_zero() {
            return Err(late());
        }
        let wait = limits.idle_timeout.min(left());
        let n = match tokio::time::timeout(wait, s.read(&mut buf[..])).await {
            Err(_) if left().is_zero() => return Err(late()),
            Err(_) => {
                return Err(format!(
                    "the client sent nothing for {:?} (idle_timeout)",
                    limits.idle_timeout
                ))
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err("the client reset the connection before the end of the job".into())
            }
            Ok(Err(e)) => return Err(format!("reading the job failed: {e}")),
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            // Still unjudged here: the bytes never became another protocol's request.
            if job.len() > sent {
                let rest = Zeroizing::new(job.split_off(sent));
                if let Accepted::Refused(_) | Accepted::Unavailable(_) =
                    super::accept(rest, "raw", route, shared, None).await
                {
                    return Ok(End::Refused);
                }
            }
            return Ok(if part_refused {
                End::Refused
            } else {
                End::Taken
            });
        }
        if (job.len() + n) as u64 > limits.max_job_bytes {
            return Err(format!(
                "the job is larger than max_job_bytes ({} bytes)",
                limits.max_job_bytes
            ));
        }
        held.grow(n as u64)?;
        buffer::append(&mut job, &buf[..n]);
        // Where the bytes not yet tokenized start: once the first bytes are judged a job,
        // every byte so far (nothing was taken out of `job` before).
        let fresh = match gate.pass(&job, n) {
            Pass::Hold => continue,
            Pass::Refuse(why) => return Err(sniff::refusal(why)),
            Pass::From(at) => at,
        };
        // Queries, and cuts (`None`): where segments end.
        let mut marks = Vec::new();
        tokens.feed(&job[fresh..], &mut |t| {
            let kind = match t.kind {
                TokenKind::Query { kind, .. } => Some(kind),
                k if k.ends_segment() => None,
                _ => return,
            };
            marks.push((kind, t.offset as usize, (t.offset + t.len) as usize));
        });
        for (kind, start, end) in marks {
            // Offsets count every byte received; real-time queries are taken out of `job`.
            let (start, end) = (start - removed, end - removed);
            if kind.is_some() {
                queries += 1;
                if queries > limits.max_queries {
                    return Err(format!(
                        "the job holds more than {} status queries (max_queries)",
                        limits.max_queries
                    ));
                }
            }
            let answer = match kind {
                None => {
                    segment = end;
                    continue;
                }
                Some(QueryKind::RealTime) => {
                    // Delivered now, so not again with the job.
                    let q: Vec<u8> = job.drain(start..end).collect();
                    removed += q.len();
                    // Abandoned at the deadline: the printer still gets the query.
                    tokio::time::timeout(left(), super::query(q, route, shared))
                        .await
                        .map_err(|_| late())?
                }
                Some(QueryKind::Ordered) => {
                    let part = Zeroizing::new(job[sent..end].to_vec());
                    (sent, segment) = (end, end);
                    let (tx, rx) = oneshot::channel();
                    if let Accepted::Refused(_) | Accepted::Unavailable(_) =
                        super::accept(part, "raw", route, shared, Some(tx)).await
                    {
                        part_refused = true;
                    }
                    // A printer that is off answers nothing; the part stays queued.
                    let wait = limits.device_timeout.min(left());
                    match tokio::time::timeout(wait, rx).await {
                        Ok(answer) => answer.unwrap_or_default(),
                        Err(_) if left().is_zero() => return Err(late()),
                        Err(_) => Vec::new(),
                    }
                }
            };
            if !answer.is_empty() {
                // A client that does not read its answers does not hold the connection.
                tokio::time::timeout(left(), s.write_all(&answer))
                    .await
                    .map_err(|_| late())?
                    .map_err(|e| format!("cannot answer the client: {e}"))?;
            }
        }
        if (job.len() - segment) as u64 > limits.max_segment_bytes {
            return Err(format!(
                "a segment (bytes between two cuts) is larger than max_segment_bytes ({} bytes)",
                limits.max_segment_bytes
            ));
        }
    }
}
