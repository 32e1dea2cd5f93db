//! Per-request context: the base URL written into metadata and error URIs, and the trace and
//! correlation ids that Entra puts in every error. A middleware sets it for the duration of a
//! request so that errors rendered anywhere carry the same ids.

use std::future::Future;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::{entra_timestamp, Clock};

#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Scheme and authority, no trailing slash, e.g. `https://localhost:8443`.
    pub base_url: String,
    pub trace_id: Uuid,
    /// The client's `client-request-id` when it sent a GUID (MSAL does), else a new one.
    pub correlation_id: String,
    pub now: OffsetDateTime,
    pub secure: bool,
    /// Whether the client sent its credentials in an `Authorization: Basic` header.
    pub basic_auth: bool,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

impl RequestContext {
    pub fn current() -> RequestContext {
        Self::with_current(RequestContext::clone)
    }

    /// `f` of the current request's context, read in place (no copy of its strings; the
    /// metadata documents answer from this on every request).
    pub fn with_current<R>(f: impl Fn(&RequestContext) -> R) -> R {
        CURRENT.try_with(&f).unwrap_or_else(|_| {
            f(&RequestContext {
                base_url: "https://localhost".into(),
                trace_id: crate::crypto::random_uuid(),
                correlation_id: crate::crypto::random_uuid().to_string(),
                now: OffsetDateTime::now_utc(),
                secure: false,
                basic_auth: false,
            })
        })
    }

    pub fn timestamp(&self) -> String {
        entra_timestamp(self.now)
    }

    pub fn from_request(
        req: &ServiceRequest,
        public_base_url: Option<&str>,
        tls_san: &[String],
        clock: &Clock,
    ) -> Self {
        let secure = req.app_config().secure();
        let base_url = match public_base_url {
            Some(b) => b.to_string(),
            None => {
                let scheme = if secure { "https" } else { "http" };
                let host = req
                    .headers()
                    .get(actix_web::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| host_allowed(h, tls_san, None))
                    .map(str::to_string)
                    .unwrap_or_else(|| req.app_config().local_addr().to_string());
                format!("{scheme}://{host}")
            }
        };
        let correlation_id = req
            .headers()
            .get("client-request-id")
            .and_then(|h| h.to_str().ok())
            .or_else(|| query_value(req.query_string(), "client-request-id"))
            .and_then(|v| Uuid::parse_str(v).ok())
            .unwrap_or_else(crate::crypto::random_uuid)
            .to_string();
        let basic_auth = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.as_bytes().get(..6))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic "));
        RequestContext {
            base_url,
            trace_id: crate::crypto::random_uuid(),
            correlation_id,
            now: clock.now(),
            secure,
            basic_auth,
        }
    }
}

fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A Host header we are willing to write into issuers and URLs: a DNS name, IPv4 or bracketed
/// IPv6 address, with an optional port. Anything else falls back to the listener's address.
pub fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// The names a request may address this server by: loopback names (`localhost` and its
/// subdomains), IP literals (they cannot be pointed elsewhere by DNS), the `--tls-san` names and
/// the `--public-base-url` host. Case-insensitive, with or without a port.
pub fn host_allowed(host: &str, tls_san: &[String], public_base_url: Option<&str>) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    if name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok()
    {
        return true;
    }
    if tls_san.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
        return true;
    }
    public_base_url
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| h.trim_start_matches('[').trim_end_matches(']') == name)
}

/// The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), if well formed.
fn host_name(host: &str) -> Option<&str> {
    if !is_valid_host(host) {
        return None;
    }
    if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        return (after.is_empty() || valid_port(after.strip_prefix(':')?)).then_some(inside);
    }
    match host.split_once(':') {
        Some((name, port)) if valid_port(port) && !name.is_empty() => Some(name),
        Some(_) => None,
        None => Some(host),
    }
}

fn valid_port(p: &str) -> bool {
    p.parse::<u16>().is_ok()
}

/// Runs the request's future with `ctx` set; adds the ids as response headers like Entra.
pub async fn scoped<Fut>(ctx: RequestContext, fut: Fut) -> Result<ServiceResponse, actix_web::Error>
where
    Fut: Future<Output = Result<ServiceResponse, actix_web::Error>>,
{
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let trace = HeaderValue::from_str(ctx.trace_id.hyphenated().encode_lower(&mut buf));
    let correlation = HeaderValue::from_str(&ctx.correlation_id);
    let mut res = CURRENT.scope(ctx, fut).await?;
    let headers = res.headers_mut();
    if let Ok(v) = trace {
        headers.insert(HeaderName::from_static("x-ms-request-id"), v);
    }
    if let Ok(v) = correlation {
        headers.insert(HeaderName::from_static("client-request-id"), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_markup_are_refused() {
        assert!(is_valid_host("localhost:8443"));
        assert!(is_valid_host("[::1]:8443"));
        assert!(!is_valid_host("evil.com/<script>"));
        assert!(!is_valid_host("a b"));
    }

    #[test]
    fn loopback_names_ip_literals_and_configured_names_are_allowed() {
        let san = vec!["entra-mock".to_string()];
        let public = Some("https://login.contoso.test:8443");
        for ok in [
            "localhost",
            "localhost:8443",
            "LOCALHOST:1",
            "app.localhost:3000",
            "127.0.0.1:8080",
            "[::1]:8443",
            "[::1]",
            "10.0.0.7",
            "entra-mock:8080",
            "login.contoso.test",
        ] {
            assert!(host_allowed(ok, &san, public), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8443",
            "localhost.evil.example",
            "entra-mock.evil",
            "localhost:99999",
            "localhost:",
            ":8080",
            "[::1",
            "evil\"<script>",
            "",
        ] {
            assert!(!host_allowed(refused, &san, public), "{refused}");
        }
    }
}
