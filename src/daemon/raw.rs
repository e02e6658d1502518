//! The raw listener (AppSocket/JetDirect, port 9100): one connection is one job, complete
//! when the client closes its side. A connection that breaks first (reset, idle timeout,
//! over a size limit) is discarded: nothing of it is printed.
//!
//! The back-channel (DESIGN §5): a real-time status query (`DLE EOT`, `DLE ENQ`; Star
//! `ENQ`, `EOT`) goes to the printer as soon as it is free, and its answer comes back on
//! this connection. A query answered in order with the data (`GS I`, `GS r`, …) ends a
//! segment: what came before it (the query included) is printed then, and the printer's
//! answer comes back, so a client that waits for it does not wait forever.

use super::{Route, Shared};
use crate::core::tokenize::{QueryKind, TokenKind, Tokenizer};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

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
            if let Err(why) = session(&mut stream, &route, &sh).await {
                tracing::warn!(
                    listener = "raw",
                    printer = %route.printer,
                    "job discarded, nothing more printed: {why}"
                );
            }
        }
    })
    .await
}

/// One connection: read until the client's EOF within the limits, answering queries on
/// the way; then queue what is left as the job.
async fn session(s: &mut TcpStream, route: &Route, shared: &Arc<Shared>) -> Result<(), String> {
    let limits = shared.limits();
    let profile = route.profile();
    let mut tokens = Tokenizer::new(profile.dialect, profile.tokenizer_options());
    let mut job: Vec<u8> = Vec::new();
    // Bytes before this offset went to the printer already (ended by an ordered query).
    let mut sent = 0usize;
    // Bytes of real-time queries taken out of `job` so far.
    let mut removed = 0usize;
    // Where the open segment starts in `job`: it is refused as soon as it is over
    // `max_segment_bytes` (as it would be once complete), not read to its end first.
    let mut segment = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    // A client that keeps sending a little, never quite idle, still ends here.
    let deadline = tokio::time::Instant::now() + limits.job_timeout;
    loop {
        let now = tokio::time::Instant::now();
        let wait = limits
            .idle_timeout
            .min(deadline.saturating_duration_since(now));
        let n = match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) if tokio::time::Instant::now() >= deadline => {
                return Err(format!(
                    "the client did not finish its job within {:?} (job_timeout)",
                    limits.job_timeout
                ))
            }
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
            if job.len() > sent {
                super::accept(job.split_off(sent), "raw", route, shared, None).await;
            }
            return Ok(());
        }
        if (job.len() + n) as u64 > limits.max_job_bytes {
            return Err(format!(
                "the job is larger than max_job_bytes ({} bytes)",
                limits.max_job_bytes
            ));
        }
        job.extend_from_slice(&buf[..n]);
        // Queries, and cuts (`None`): where segments end.
        let mut marks = Vec::new();
        tokens.feed(&buf[..n], &mut |t| {
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
            let answer = match kind {
                None => {
                    segment = end;
                    continue;
                }
                Some(QueryKind::RealTime) => {
                    // Delivered now, so not again with the job.
                    let q: Vec<u8> = job.drain(start..end).collect();
                    removed += q.len();
                    super::query(q, route, shared).await
                }
                Some(QueryKind::Ordered) => {
                    let part = job[sent..end].to_vec();
                    (sent, segment) = (end, end);
                    let (tx, rx) = oneshot::channel();
                    super::accept(part, "raw", route, shared, Some(tx)).await;
                    // A printer that is off answers nothing; the part stays queued.
                    let wait = limits.device_timeout;
                    tokio::time::timeout(wait, rx)
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default()
                }
            };
            if !answer.is_empty() {
                s.write_all(&answer)
                    .await
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
