//! A network printer's connection, opened while a job is redacted and stored, so that the
//! TCP handshake is not on the way from the client's last byte to the printer's first.
//!
//! Opened only when a job has come in and the printer's worker is idle (nothing queued,
//! nothing being sent): the daemon never holds a connection to a printer with no job for
//! it, nor two at once. The worker uses it for that job if it is still fresh and open (a
//! printer may close an idle connection); otherwise, and for every other device, it
//! connects as before. A job that is refused closes it unused: the printer gets a
//! connection with no bytes, which prints nothing.
//!
//! What remains: a printer that closes the connection in the microseconds between the check
//! and the first byte looks, afterwards, like one that took the job and closed; the job is
//! then lost as it would be with a printer that closes every connection at once. The check
//! makes that a race with the printer's idle timeout, which fires after seconds, against a
//! connection at most [`FRESH`] old and usually a millisecond.

use crate::config::{Device, PrinterConf};
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A connection older than this is not used: its job took long (a big one, or a wait for a
/// redaction turn), and a printer may have dropped it meanwhile.
const FRESH: Duration = Duration::from_secs(2);

pub(crate) struct Warm {
    conf: watch::Receiver<PrinterConf>,
    slot: Mutex<Option<Pending>>,
}

struct Pending {
    at: Instant,
    device: Device,
    task: JoinHandle<io::Result<TcpStream>>,
}

impl Warm {
    pub(crate) fn new(conf: watch::Receiver<PrinterConf>) -> Self {
        Warm {
            conf,
            slot: Mutex::new(None),
        }
    }

    /// A job has come in: open a connection for it if the printer is a network printer,
    /// `idle` (its worker has nothing queued or in hand), and none is open or opening.
    pub(crate) fn start(&self, idle: bool, timeout: Duration) {
        if !idle {
            return;
        }
        let device = self.conf.borrow().device.clone();
        let Device::Tcp { host, port } = &device else {
            return;
        };
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let (host, port) = (host.clone(), *port);
        let task = tokio::spawn(async move {
            match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
            }
        });
        *slot = Some(Pending {
            at: Instant::now(),
            device,
            task,
        });
    }

    /// The job it was opened for is not printed: close it.
    pub(crate) fn discard(&self) {
        if let Some(p) = self.take_pending() {
            p.task.abort();
        }
    }

    /// For the worker, about to send a job to `device`: the connection opened for it, if
    /// it is to that device, fresh, connected, and not closed by the printer meanwhile.
    pub(crate) async fn take(&self, device: &Device) -> Option<TcpStream> {
        let p = self.take_pending()?;
        if p.device != *device || p.at.elapsed() > FRESH {
            p.task.abort();
            return None;
        }
        let stream = p.task.await.ok()?.ok()?;
        // Open and silent is what a printer waiting for a job looks like; an end of stream
        // or an error means it was closed, and anything it said unasked is not an answer
        // to this job: connect again.
        match stream.try_read(&mut [0u8; 1]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(stream),
            _ => None,
        }
    }

    fn take_pending(&self) -> Option<Pending> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.discard();
    }
}
