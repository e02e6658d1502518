//! The raw listener (AppSocket/JetDirect, port 9100): one connection is one job, complete
//! when the client closes its side. A connection that breaks first (reset, idle timeout,
//! over the size limit) is discarded whole: nothing of it is printed.

use super::{Route, Shared};
use std::io;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

pub(super) async fn serve(
    listener: TcpListener,
    route: Route,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(shared.limits().max_connections));
    loop {
        // Past the connection limit, new clients wait in the kernel's backlog.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = stop.changed() => return,
        };
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.changed() => return,
        };
        let (stream, _) = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "raw listener: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (route, sh) = (route.clone(), shared.clone());
        let task = async move {
            let mut stream = stream;
            // The connection stays open until the job is queued: a client that sends jobs
            // one after another gets them printed in that order.
            match read_job(&mut stream, &sh).await {
                Ok(bytes) if bytes.is_empty() => {} // a port probe
                Ok(bytes) => super::accept(bytes, "raw", &route, &sh).await,
                Err(why) => tracing::warn!(
                    listener = "raw",
                    printer = %route.printer,
                    "job discarded, nothing printed: {why}"
                ),
            }
            drop(stream);
            drop(permit);
        };
        shared.tracker.spawn(task);
    }
}

/// Read until the client's EOF, within the limits.
async fn read_job(s: &mut TcpStream, shared: &Shared) -> Result<Vec<u8>, String> {
    let limits = &shared.limits();
    let mut job = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(limits.idle_timeout, s.read(&mut buf)).await {
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
            return Ok(job);
        }
        if (job.len() + n) as u64 > limits.max_job_bytes {
            return Err(format!(
                "the job is larger than max_job_bytes ({} bytes)",
                limits.max_job_bytes
            ));
        }
        job.extend_from_slice(&buf[..n]);
    }
}
