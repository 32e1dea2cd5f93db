//! The request log (`GET /_mock/requests`) and what it shows about the client under test
//! (`GET /_mock/findings`). Every protocol request is kept in a bounded in-memory ring: no
//! storage write on the hot path. Secrets and tokens are never shown: each is replaced by a short
//! fingerprint, enough to see that the same code or refresh token came twice.
//!
//! A request is kept as it came (its parameters undecoded) and made into an [`Entry`] only when
//! the log is read: decoding, cutting and fingerprinting every request's parameters on its way
//! cost `client_credentials` tokens about 2% of their throughput (issue 12, measured with the log
//! on and off in alternating runs).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// How many requests the ring keeps.
pub const CAPACITY: usize = 2000;
/// Bytes of parameter values one entry keeps (longer values are cut, later ones dropped), so the
/// whole log stays within a few MiB whatever clients send (issue 12, memory after load).
pub const ENTRY_VALUE_BUDGET: usize = 4096;
/// Bytes kept of one value.
pub const VALUE_LIMIT: usize = 512;

/// Parameters whose values are secrets or tokens: logged as a fingerprint.
const SECRET_PARAMS: [&str; 14] = [
    "client_secret",
    "client_assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "password",
    "passwd",
    "otc",
    "id_token_hint",
    "assertion",
    "access_token",
    "id_token",
    "device_code",
    "token",
];

/// One protocol request and its outcome.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds by the virtual clock.
    pub time: i64,
    pub method: String,
    #[schema(value_type = String)]
    pub endpoint: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Query and form parameters as `[name, value]` pairs; secrets as `<redacted:fingerprint>`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub params: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What kind of bearer token came in `Authorization`, if any (`access` or `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub bearer: Option<&'static str>,
    pub status: u16,
    /// The AADSTS code of an error answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    pub trace_id: String,
}

impl Entry {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the log needs to know of a request.
#[derive(Debug, Default)]
pub struct Observed {
    pub time: i64,
    pub method: actix_web::http::Method,
    pub endpoint: &'static str,
    pub path: String,
    /// The query string and the form body as they came (`application/x-www-form-urlencoded`),
    /// joined by `&`: decoded when the log is read.
    pub params: Vec<u8>,
    pub origin: Option<String>,
    pub bearer: Option<&'static str>,
    pub status: u16,
    pub error_code: Option<u32>,
    pub trace_id: uuid::Uuid,
}

/// A request in the ring: as it came, or made into its [`Entry`] (at the first read, or at once
/// when its parameters are longer than an entry keeps, so that the ring stays bounded).
#[derive(Debug)]
enum Slot {
    Observed(u64, Observed),
    Entry(Entry),
}

/// Filters of `GET /_mock/requests`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub endpoint: Option<String>,
    pub client_id: Option<String>,
    pub grant_type: Option<String>,
    /// Only requests with a larger id.
    pub after: Option<u64>,
    /// Only requests answered with this AADSTS code.
    pub error_code: Option<u32>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    next_id: AtomicU64,
    ring: Mutex<VecDeque<Slot>>,
}

/// `v` cut to at most `limit` bytes (on a character boundary), saying how long it was.
fn cut(v: String, limit: usize) -> String {
    if v.len() <= limit {
        return v;
    }
    let mut end = limit;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &v[..end], v.len())
}

/// The value a secret parameter is logged as.
pub fn redact(value: &str) -> String {
    let digest = crate::crypto::sha256(value.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("<redacted:{hex}>")
}

impl RequestLog {
    pub fn record(&self, o: Observed) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = match o.params.len() > ENTRY_VALUE_BUDGET {
            true => Slot::Entry(entry(id, o)),
            false => Slot::Observed(id, o),
        };
        let mut ring = self.lock();
        if ring.len() >= CAPACITY {
            ring.pop_front();
        }
        ring.push_back(slot);
    }

    pub fn list(&self, f: &Filter) -> Vec<Entry> {
        let mut ring = self.lock();
        for slot in ring.iter_mut() {
            if let Slot::Observed(id, o) = slot {
                *slot = Slot::Entry(entry(*id, std::mem::take(o)));
            }
        }
        let eq = |want: &Option<String>, got: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| got.is_some_and(|g| g.eq_ignore_ascii_case(w)))
        };
        let mut out: Vec<Entry> = ring
            .iter()
            .filter_map(|s| match s {
                Slot::Entry(e) => Some(e),
                Slot::Observed(..) => None,
            })
            .filter(|e| eq(&f.endpoint, Some(e.endpoint)))
            .filter(|e| eq(&f.client_id, e.client_id.as_deref()))
            .filter(|e| eq(&f.grant_type, e.grant_type.as_deref()))
            .filter(|e| f.after.is_none_or(|a| e.id > a))
            .filter(|e| f.error_code.is_none_or(|c| e.error_code == Some(c)))
            .cloned()
            .collect();
        if let Some(limit) = f.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        out
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Slot>> {
        self.ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the client under test did wrong, from the requests in the ring.
    pub fn findings(&self) -> Vec<Finding> {
        let entries = self.list(&Filter::default());
        findings(&entries)
    }
}

/// The entry `id` of a request: its parameters decoded, each value cut to [`VALUE_LIMIT`] and
/// all of them to [`ENTRY_VALUE_BUDGET`], secrets fingerprinted.
fn entry(id: u64, o: Observed) -> Entry {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&o.params)
        .into_owned()
        .collect();
    let mut budget = ENTRY_VALUE_BUDGET;
    let total = pairs.len();
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs {
        let v = if SECRET_PARAMS.contains(&k.as_str()) {
            redact(&v)
        } else {
            cut(v, VALUE_LIMIT)
        };
        if v.len() + k.len() > budget {
            params.push((
                "…".into(),
                format!("{} more parameters", total - params.len()),
            ));
            break;
        }
        budget -= v.len() + k.len();
        params.push((cut(k, VALUE_LIMIT), v));
    }
    let find = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Entry {
        id,
        time: o.time,
        method: o.method.to_string(),
        endpoint: o.endpoint,
        path: o.path,
        client_id: find("client_id").map(|c| c.to_ascii_lowercase()),
        grant_type: find("grant_type"),
        params,
        origin: o.origin,
        bearer: o.bearer,
        status: o.status,
        error_code: o.error_code,
        trace_id: o.trace_id.to_string(),
    }
}

/// One thing the client under test did wrong.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Finding {
    #[schema(value_type = String)]
    pub rule: &'static str,
    pub request_id: u64,
    pub detail: String,
    /// The RFC section or Entra document the rule comes from.
    #[schema(value_type = String)]
    pub reference: &'static str,
}

const RFC9700_PKCE: &str = "RFC 9700 section 2.1.1 (PKCE for every authorization code client)";
const RFC9700_CSRF: &str = "RFC 9700 section 4.7.1 (CSRF protection with state or PKCE)";
const OIDC_NONCE: &str = "OpenID Connect Core 1.0 section 15.5.2 (nonce against replay)";
const RFC9700_CODE: &str = "RFC 6749 section 4.1.2 and RFC 9700 section 4.5 (a code is single use)";
const RFC9700_REFRESH: &str =
    "RFC 9700 section 4.14.2 (a rotated refresh token must not be used again)";
const ENTRA_REDIRECT: &str = "https://learn.microsoft.com/entra/identity-platform/reply-url (the redirect URI must match a registered one exactly)";
const ENTRA_PUBLIC: &str = "https://learn.microsoft.com/entra/identity-platform/msal-client-applications (a public client holds no secret; AADSTS700025)";
const RFC6750_ID_TOKEN: &str = "https://learn.microsoft.com/entra/identity-platform/id-tokens (an ID token is not an access token; RFC 6750 bearer tokens are access tokens)";
const ENTRA_HTTP_REDIRECT: &str = "https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions (http only for localhost) and RFC 9700 section 4.1.3";

fn is_local_http(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return true;
    };
    u.scheme() != "http"
        || matches!(
            u.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
}

/// The rules, over the log in order.
pub fn findings(entries: &[Entry]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut states: HashMap<(String, String), u64> = HashMap::new();
    let mut nonces: HashMap<(String, String), u64> = HashMap::new();
    let mut codes: HashMap<String, u64> = HashMap::new();
    let mut refresh_tokens: HashMap<String, u64> = HashMap::new();
    for e in entries {
        let client = e.client_id.clone().unwrap_or_default();
        let mut find = |rule: &'static str, reference: &'static str, detail: String| {
            out.push(Finding {
                rule,
                request_id: e.id,
                detail,
                reference,
            })
        };
        match e.endpoint {
            "authorize" => {
                let response_type = e.param("response_type").unwrap_or_default();
                if response_type.split_whitespace().any(|t| t == "code") {
                    match (e.param("code_challenge"), e.param("code_challenge_method")) {
                        (None, _) => find(
                            "pkce-missing",
                            RFC9700_PKCE,
                            format!("client {client} asked for a code without code_challenge"),
                        ),
                        (Some(_), Some(m)) if m.eq_ignore_ascii_case("plain") => find(
                            "pkce-plain",
                            RFC9700_PKCE,
                            format!("client {client} used code_challenge_method=plain, not S256"),
                        ),
                        _ => {}
                    }
                }
                match e.param("state") {
                    None => find(
                        "state-missing",
                        RFC9700_CSRF,
                        format!("client {client} sent no state"),
                    ),
                    Some(s) => {
                        if let Some(first) = states.insert((client.clone(), s.to_string()), e.id) {
                            find(
                                "state-reused",
                                RFC9700_CSRF,
                                format!("state '{s}' was sent before by request {first}"),
                            );
                        }
                    }
                }
                let openid = e
                    .param("scope")
                    .is_some_and(|s| s.split_whitespace().any(|v| v == "openid"));
                match e.param("nonce") {
                    None if openid => find(
                        "nonce-missing",
                        OIDC_NONCE,
                        format!("client {client} asked for an ID token without nonce"),
                    ),
                    None => {}
                    Some(n) => {
                        if let Some(first) = nonces.insert((client.clone(), n.to_string()), e.id) {
                            find(
                                "nonce-reused",
                                OIDC_NONCE,
                                format!("nonce '{n}' was sent before by request {first}"),
                            );
                        }
                    }
                }
                if let Some(uri) = e.param("redirect_uri") {
                    if !is_local_http(uri) {
                        find(
                            "http-redirect-uri",
                            ENTRA_HTTP_REDIRECT,
                            format!("redirect URI '{uri}' is plain http on a non-local host"),
                        );
                    }
                }
            }
            "token" => {
                match e.grant_type.as_deref() {
                    Some("authorization_code") => {
                        if let Some(code) = e.param("code") {
                            if let Some(first) = codes.insert(code.to_string(), e.id) {
                                find(
                                    "code-reused",
                                    RFC9700_CODE,
                                    format!("the code of request {first} was redeemed again"),
                                );
                            }
                        }
                        if let Some(uri) = e.param("redirect_uri") {
                            if !is_local_http(uri) {
                                find(
                                    "http-redirect-uri",
                                    ENTRA_HTTP_REDIRECT,
                                    format!(
                                        "a token was requested for plain-http redirect URI '{uri}'"
                                    ),
                                );
                            }
                        }
                    }
                    Some("refresh_token") => {
                        if let Some(rt) = e.param("refresh_token") {
                            if let Some(first) = refresh_tokens.insert(rt.to_string(), e.id) {
                                find(
                                    "refresh-token-reused",
                                    RFC9700_REFRESH,
                                    format!(
                                        "the refresh token of request {first} was used again after rotation"
                                    ),
                                );
                            }
                        }
                    }
                    _ => {}
                }
                if e.error_code == Some(700025) {
                    find(
                        "secret-from-public-client",
                        ENTRA_PUBLIC,
                        format!("public client {client} sent a client secret or assertion"),
                    );
                }
            }
            _ => {}
        }
        if matches!(e.error_code, Some(50011) | Some(500112)) {
            find(
                "redirect-uri-mismatch",
                ENTRA_REDIRECT,
                format!(
                    "redirect URI '{}' is not the registered or the authorized one",
                    e.param("redirect_uri").unwrap_or_default()
                ),
            );
        }
        if e.bearer == Some("id") {
            find(
                "id-token-as-bearer",
                RFC6750_ID_TOKEN,
                format!("an ID token was sent as a bearer token to {}", e.path),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(endpoint: &'static str, params: &[(&str, &str)]) -> Observed {
        Observed {
            time: 0,
            method: actix_web::http::Method::GET,
            endpoint,
            path: "/x".into(),
            params: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish()
                .into_bytes(),
            origin: None,
            bearer: None,
            status: 200,
            error_code: None,
            trace_id: uuid::Uuid::nil(),
        }
    }

    #[test]
    fn long_values_are_cut_and_an_entry_keeps_a_bounded_size() {
        let log = RequestLog::default();
        let long = "é".repeat(10_000);
        let many: Vec<(String, String)> =
            (0..100).map(|i| (format!("p{i}"), long.clone())).collect();
        let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        log.record(observed("authorize", &pairs));
        let e = &log.list(&Filter::default())[0];
        let size: usize = e.params.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(size <= ENTRY_VALUE_BUDGET + 64, "{size}");
        let first = e.param("p0").unwrap();
        assert!(first.ends_with("…(20000 bytes)"), "{first}");
        assert!(first.len() <= VALUE_LIMIT + 20);
        let (k, v) = e.params.last().unwrap();
        assert_eq!((k.as_str(), v.as_str()), ("…", "93 more parameters"));
    }

    #[test]
    fn secrets_are_kept_as_fingerprints_and_the_ring_is_bounded() {
        let log = RequestLog::default();
        for _ in 0..CAPACITY + 5 {
            log.record(observed(
                "token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "1.Asecret"),
                ],
            ));
        }
        let all = log.list(&Filter::default());
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].id, 6);
        let rt = all[0].param("refresh_token").unwrap();
        assert!(
            rt.starts_with("<redacted:") && !rt.contains("secret"),
            "{rt}"
        );
        assert_eq!(
            log.list(&Filter {
                limit: Some(3),
                ..Filter::default()
            })
            .len(),
            3
        );
    }
}
