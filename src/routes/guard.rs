//! The HTTP layer's own limits (issue 12, limits and growth), checked before any endpoint runs
//! and answered like every other error: Entra's JSON shape on protocol endpoints, Entra's error
//! page on the pages a browser shows (sign-in and sign-out).
//!
//! - `Host`: only names this server answers to (see [`crate::context::host_allowed`]), so that a foreign `Host`
//!   header cannot write itself into issuers and endpoint URLs.
//! - Headers: [`MAX_HEADER_BYTES`] in all (431). Beyond actix's own 128 KiB buffer the HTTP
//!   parser answers a bare 431 before any of this runs.
//! - Body: at most [`MAX_BODY_BYTES`] (413), read within [`BODY_TIMEOUT`] (408) and handed on
//!   whole, so that no endpoint waits on a slow client and a request that declares 1,000 bytes
//!   and sends 2 holds its connection for seconds, not forever.

use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};

use crate::context::{host_allowed, RequestContext};
use crate::error::Error;
use crate::state::AppState;

/// The largest request body any endpoint takes (the form and JSON limits are at most this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Time allowed to receive a whole body once the head is in.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Header names and values together. Entra's front end refuses well under actix's 128 KiB
/// buffer; 32 KiB leaves room for Entra's own cookies (ESTSAUTH and friends).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn limits(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    if let Err(e) = check_head(&req, &state) {
        return Ok(refuse(req, e));
    }
    if has_body(&req) {
        let read = tokio::time::timeout(BODY_TIMEOUT, req.extract::<Bytes>()).await;
        let body = match read {
            Err(_) => Err(Error::HttpLimit {
                status: StatusCode::REQUEST_TIMEOUT,
                reason: format!(
                    "the request body did not arrive within {} seconds",
                    BODY_TIMEOUT.as_secs()
                ),
            }),
            Ok(Err(e)) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
            }
            Ok(Err(e)) => Err(Error::InvalidParameter {
                name: "body",
                reason: e.to_string(),
            }),
            Ok(Ok(body)) => Ok(body),
        };
        match body {
            Ok(body) => req.set_payload(Payload::from(body)),
            Err(e) => return Ok(refuse(req, e)),
        }
    }
    next.call(req).await
}

fn too_large() -> Error {
    Error::HttpLimit {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    }
}

/// Host and header size; a declared body over the limit is refused before it is read.
fn check_head(req: &ServiceRequest, state: &AppState) -> Result<(), Error> {
    let host = req
        .headers()
        .get(HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()))
        .or_else(|| req.uri().authority().map(|a| a.as_str().into()));
    if let Some(host) = host {
        if !host_allowed(
            &host,
            &state.settings.tls_san,
            state.settings.public_base_url.as_deref(),
        ) {
            return Err(Error::HostNotAllowed);
        }
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(Error::HttpLimit {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            reason: format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        });
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    Ok(())
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Pages a browser shows get Entra's error page; everything else the JSON error.
fn refuse(req: ServiceRequest, e: Error) -> ServiceResponse<BoxBody> {
    let res = answer(req.path(), &e);
    // The unread rest of a refused body is not waited for: the connection closes after this.
    req.into_response(res)
}

/// `e` as the endpoint at `path` answers errors: Entra's error page on the pages a browser shows,
/// Entra's JSON shape elsewhere.
fn answer(path: &str, e: &Error) -> HttpResponse {
    let page = ["/oauth2/v2.0/authorize", "/oauth2/authorize", "/login"]
        .iter()
        .chain(&["/oauth2/v2.0/logout", "/oauth2/logout", "/adminconsent"])
        .any(|p| path.ends_with(p))
        || path.starts_with("/devicelogin");
    if page {
        super::signin_pages::error_page(e, &RequestContext::current())
    } else {
        e.error_response()
    }
}

/// The last line of defence: a panic while a request is handled becomes that request's 500 in
/// Entra's shape (`server_error`, AADSTS50000) instead of taking the worker thread, and with it
/// every connection the worker serves, down (before, the server stopped answering: the virtual
/// clock's overflow, found by fuzzing the control API). The fuzz targets still see the panic:
/// libFuzzer's panic hook aborts the run, and the stable tests refuse a 5xx.
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Not a clone of the request: routing needs it unshared (it writes the path's match info).
    let (method, path) = (req.method().clone(), req.path().to_string());
    let panic = match CatchUnwind(Box::pin(next.call(req))).await {
        Ok(res) => return res,
        Err(panic) => panic,
    };
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let e = Error::Internal(anyhow::anyhow!(
        "a panic while handling {method} {path}: {what}"
    ));
    let mut res = answer(&path, &e);
    // The request went with the panic, so this answer goes back as an error, which the
    // middlewares outside pass on untouched: it carries their header itself.
    res.headers_mut().insert(
        actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
        actix_web::http::header::HeaderValue::from_static("nosniff"),
    );
    Err(actix_web::error::InternalError::from_response(what, res).into())
}

/// A future whose panic is caught and returned ([`std::panic::catch_unwind`] at each poll).
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        // Unwind safety: what a panicking handler leaves half changed is its own request's
        // state; shared state lives in the store (transactions roll back when dropped) or
        // behind locks that release on unwinding.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, App};

    async fn boom() -> HttpResponse {
        let n: Option<u8> = None;
        HttpResponse::Ok().body(n.map(|n| n.to_string()).expect("a handler that panics"))
    }

    /// What actix's dispatcher sends for a request to `uri`: the response, or the error's.
    macro_rules! sent {
        ($app:expr, $uri:expr) => {{
            let req = test::TestRequest::get().uri($uri).to_request();
            let res = match test::try_call_service($app, req).await {
                Ok(res) => res.into_parts().1,
                Err(e) => e.error_response(),
            };
            let nosniff = res
                .headers()
                .get(actix_web::http::header::X_CONTENT_TYPE_OPTIONS)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let status = res.status();
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            (status, nosniff, String::from_utf8_lossy(&body).into_owned())
        }};
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_in_entras_shape_and_the_worker_serves_on() {
        let app = test::init_service(
            App::new()
                .route("/boom", web::get().to(boom))
                .route("/t/oauth2/v2.0/authorize", web::get().to(boom))
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                )
                .wrap(actix_web::middleware::from_fn(catch_panics)),
        )
        .await;
        let (status, nosniff, body) = sent!(&app, "/boom");
        assert_eq!(
            (status.as_u16(), nosniff.as_deref()),
            (500, Some("nosniff"))
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(body["error"], "server_error", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS50000")),
            "{body}"
        );
        // A page a browser shows gets the error page.
        let (status, _, page) = sent!(&app, "/t/oauth2/v2.0/authorize");
        assert_eq!(status.as_u16(), 500);
        assert!(
            page.contains("AADSTS50000") && page.contains("<html"),
            "{page}"
        );
        for _ in 0..2 {
            assert_eq!(sent!(&app, "/ok").2, "ok");
        }
    }
}
