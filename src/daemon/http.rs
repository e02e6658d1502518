//! The HTTP listener (`protocol = "http"`) for browser-based circulation clients: Koha and
//! Evergreen render slips as HTML in the staff browser, and a snippet there posts the slip
//! here instead of opening the print dialog.
//!
//! * `POST /v1/printers/{name}/slips` with `text/html` (redacted on its logical lines, then
//!   typeset, [`crate::html::typeset_redacted`]), `text/plain` (the same) or
//!   `application/vnd.escpos` (a raw job, in the printer's own language): the job then takes
//!   the same path as every other (redaction, spool, the printer's queue). A slip whose text
//!   fails closed gets `422` and prints nothing. Answers `202` with `{"job": ID, "redacted": {KIND: COUNT}}`, never
//!   slip text; for an HTML slip also `"exact": {"annotated": N, "elsewhere": N, "unknown":
//!   N}`, what its `data-slipguard` annotations did ([`crate::exact`]; an element of an
//!   unknown kind is read as unannotated, and the log says so, with counts only).
//! * `GET /v1/printers`: names, profiles, states.
//! * CORS for the listener's `allowed_origins` only, including the private-network
//!   preflight browsers send before a public site may reach a loopback service. A request
//!   with any other `Origin` gets `403` and prints nothing; one without `Origin` (a local
//!   tool such as curl) is served. On a loopback address the `Host` header must name the
//!   loopback too, so that a web page cannot reach the service through a DNS name of its
//!   own (DNS rebinding).
//! * Limits: bodies over `max_job_bytes` get `413`; a body not received within
//!   `job_timeout` gets `408`; headers must arrive within `idle_timeout`; at most
//!   `max_connections` connections at once; one request per connection.

use super::control::View;
use super::{accept_found, Accepted, Shared};
use crate::core::redact::{Kind, Report};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// An HTTP listener's settings.
pub(super) struct Conf {
    /// Serve only this printer (the listener's `printer`); `None`: every printer.
    pub only: Option<String>,
    /// Origins (lower case, as browsers send them) that may call from a web page.
    pub allowed_origins: Vec<String>,
    /// Listening on a loopback address: the `Host` header must name the loopback.
    pub loopback: bool,
}

#[derive(Clone)]
struct App {
    conf: Arc<Conf>,
    view: Arc<View>,
    shared: Arc<Shared>,
}

pub(super) async fn serve(
    listener: TcpListener,
    conf: Conf,
    view: Arc<View>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let app = App {
        conf: Arc::new(conf),
        view,
        shared: shared.clone(),
    };
    let router = Router::new()
        .route("/v1/printers", get(printers))
        .route("/v1/printers/{name}/slips", post(slips))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app);
    let sh = shared.clone();
    super::accept_loop(listener, "http", shared, stop, move |stream| {
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let idle = sh.limits().idle_timeout;
        async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(idle)
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(listener = "http", "connection ended: {e}");
            }
        }
    })
    .await
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, Json(body)).into_response()
}

/// Is the `Host` header a loopback name (`localhost`, `127.x.x.x`, `[::1]`), with or
/// without a port?
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks `Host` and `Origin` before anything else, answers CORS preflights, and adds the
/// CORS headers to the answers of allowed origins.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    if app.conf.loopback && !loopback_host(req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "the Host header must name this computer (localhost, 127.0.0.1 or [::1])",
        );
    }
    let origin = match req.headers().get(header::ORIGIN) {
        None => None,
        Some(o) => {
            let o = o.to_str().unwrap_or("").to_ascii_lowercase();
            if !app.conf.allowed_origins.contains(&o) {
                tracing::warn!(
                    listener = "http",
                    origin = %o.escape_debug(),
                    "request refused: its origin is not in allowed_origins"
                );
                return error(
                    StatusCode::FORBIDDEN,
                    "this origin is not allowed to print here (allowed_origins)",
                );
            }
            Some(HeaderValue::from_str(&o).expect("a valid header value"))
        }
    };
    if req.method() == Method::OPTIONS {
        return preflight(req.headers(), origin);
    }
    let mut res = next.run(req).await;
    if let Some(o) = origin {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// The answer to a CORS preflight (or a plain `OPTIONS`) from an allowed origin.
fn preflight(headers: &HeaderMap, origin: Option<HeaderValue>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        // Private Network Access: a page on a public address asks before it may reach
        // this loopback service.
        let pna = headers
            .get("access-control-request-private-network")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        if pna {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
    }
    (StatusCode::NO_CONTENT, h).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not found (GET /v1/printers, POST /v1/printers/NAME/slips)",
    )
}

impl App {
    fn serves(&self, printer: &str) -> bool {
        self.conf.only.as_deref().is_none_or(|o| o == printer)
    }
}

async fn printers(State(app): State<App>) -> Response {
    let rows = app.view.printers.read().expect("not poisoned").clone();
    let list: Vec<serde_json::Value> = rows
        .iter()
        .filter(|(name, ..)| app.serves(name))
        .map(|(name, profile, _, stats)| {
            serde_json::json!({
                "name": name,
                "profile": profile,
                "state": super::control::state_of(stats),
            })
        })
        .collect();
    Json(serde_json::json!({ "printers": list })).into_response()
}

/// How a posted body is to be read.
enum Form {
    Markup(crate::html::Markup),
    Raw,
}

async fn slips(State(app): State<App>, Path(name): Path<String>, req: Request) -> Response {
    let route = app
        .view
        .routes
        .read()
        .expect("not poisoned")
        .iter()
        .find(|r| r.printer == name && app.serves(&name))
        .cloned();
    let Some(route) = route else {
        return error(StatusCode::NOT_FOUND, "no printer of that name here");
    };
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let form = match mime.as_deref() {
        Some("text/html") => Form::Markup(crate::html::Markup::Html),
        Some("text/plain") => Form::Markup(crate::html::Markup::Text),
        Some("application/vnd.escpos" | "application/octet-stream") => Form::Raw,
        _ => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send text/html, text/plain or application/vnd.escpos",
            )
        }
    };
    let limits = app.shared.limits();
    let max = limits.max_job_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large(max);
    }
    let limited = http_body_util::Limited::new(req.into_body(), max as usize);
    let body = match tokio::time::timeout(limits.job_timeout, limited.collect()).await {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {:?} (job_timeout)",
                    limits.job_timeout
                ),
            )
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(max),
        Ok(Err(_)) => return error(StatusCode::BAD_REQUEST, "the body could not be read"),
        Ok(Ok(b)) => b.to_bytes(),
    };
    // The body counts against the daemon's budget until its job is accepted or refused.
    let mut held = app.shared.budget.claim();
    if let Err(why) = held.grow(body.len() as u64) {
        return error(StatusCode::SERVICE_UNAVAILABLE, why);
    }
    let profile = route.profile();
    let redactor = app.shared.redactor();
    let max_segment = limits.max_segment_bytes;
    let job = match form {
        Form::Raw => Ok((body.to_vec(), Report::default(), None)),
        Form::Markup(markup) => {
            // The slip is redacted before it is laid out (DESIGN §4), in its turn among
            // redactions; the typeset job is then redacted as printer bytes like any other.
            let turn = app.shared.redactions.enter().await;
            tokio::task::spawn_blocking(move || {
                let _turn = turn;
                crate::html::typeset_exact(markup, &body, &profile, &redactor, max_segment)
                    .map(|(job, report, exact)| (job, report, Some(exact)))
            })
            .await
            .unwrap_or_else(|_| Err("typesetting failed".into()))
        }
    };
    let (job, found, exact) = match job {
        Ok(j) => j,
        Err(why) => {
            tracing::warn!(
                listener = "http",
                printer = %route.printer,
                outcome = "refused",
                "slip not printed: {why}"
            );
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the slip was not printed: {why}"),
            );
        }
    };
    if let Some(e) = exact.filter(|e| e.unknown > 0) {
        // Counts only: the attribute's value could be anything the template put there.
        tracing::warn!(
            listener = "http",
            printer = %route.printer,
            unknown = e.unknown,
            "slip: element(s) marked data-slipguard with an unknown kind were read as \
             unannotated, only the detectors masked their text (known kinds: name, card, \
             email, phone, address, birthdate, custom, drop)"
        );
    }
    match accept_found(job, "http", &route, &app.shared, None, found).await {
        Accepted::Queued { id, report } => {
            let redacted: serde_json::Map<String, serde_json::Value> = Kind::ALL
                .iter()
                .map(|k| (k.label().to_string(), report.count(*k).into()))
                .collect();
            let mut body = serde_json::json!({ "job": id, "redacted": redacted });
            if let Some(e) = exact {
                body["exact"] = serde_json::json!({
                    "annotated": e.annotated,
                    "elsewhere": e.elsewhere,
                    "unknown": e.unknown,
                });
            }
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Accepted::Refused(why) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the slip was not printed: {why}"),
        ),
        Accepted::Unavailable(why) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the slip was not printed: {why}"),
        ),
    }
}

fn too_large(max: u64) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than max_job_bytes ({max} bytes)"),
    )
}
