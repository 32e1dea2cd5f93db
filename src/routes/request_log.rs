//! The middleware that feeds the request log ([`crate::mock::requests`]): for each protocol
//! request, its endpoint, query and form parameters, `Origin`, the kind of bearer token it carried,
//! and the answer's status and AADSTS code (from the error answer, the error page, or the error
//! redirected to the app). Bodies of form POSTs are read once and handed on unchanged.

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, ORIGIN};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::context::RequestContext;
use crate::error::AadstsCode;
use crate::mock::requests::Observed;
use crate::state::AppState;

/// The protocol endpoint a path is, if any.
fn endpoint_of(path: &str) -> Option<&'static str> {
    let ends = |s: &str| path.ends_with(s);
    Some(
        if ends("/oauth2/v2.0/authorize") || ends("/oauth2/authorize") {
            "authorize"
        } else if ends("/oauth2/v2.0/token") || ends("/oauth2/token") {
            "token"
        } else if ends("/oauth2/v2.0/logout") || ends("/oauth2/logout") {
            "logout"
        } else if ends("/oauth2/v2.0/revoke") {
            "revoke"
        } else if ends("/login") {
            "signin"
        } else if ends("/.well-known/openid-configuration") {
            "discovery"
        } else if ends("/discovery/v2.0/keys") || ends("/discovery/keys") {
            "jwks"
        } else if path == "/oidc/userinfo" {
            "userinfo"
        } else if path.starts_with("/v1.0/") {
            "graph"
        } else {
            return None;
        },
    )
}

/// `access` or `id`: an ID token has neither `scp` nor `roles` and names a client as audience
/// with a `nonce`, `aio` or `preferred_username`; anything else is taken as an access token.
fn bearer_kind(header: &str) -> Option<&'static str> {
    let token = header
        .split_once(' ')
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))?
        .1
        .trim();
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let permissions = claims.get("scp").is_some() || claims.get("roles").is_some();
    let id_like = claims.get("nonce").is_some()
        || claims.get("preferred_username").is_some()
        || claims.get("c_hash").is_some();
    Some(if !permissions && id_like {
        "id"
    } else {
        "access"
    })
}

/// The AADSTS code of an error redirected to the app (`error_description=AADSTSnnnn: ...`).
fn code_in_location(location: &str) -> Option<u32> {
    let url = url::Url::parse(location).ok()?;
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        pairs.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    let (_, d) = pairs.iter().find(|(k, _)| k == "error_description")?;
    let digits: String = d
        .strip_prefix("AADSTS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub async fn record(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(endpoint) = endpoint_of(req.path()) else {
        return next.call(req).await;
    };
    let Some(state) = req
        .app_data::<web::Data<AppState>>()
        .filter(|s| s.settings.request_log)
        .cloned()
    else {
        return next.call(req).await;
    };
    // Kept as they came, decoded when the log is read ([`crate::mock::requests`]).
    let mut params = req.query_string().as_bytes().to_vec();
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        // The body is read here and handed on: the endpoint parses it as before.
        // A body the extractor refuses (too large, cut short) is answered in Entra's shape, as
        // the endpoint's own form parser would answer it.
        let body =
            req.extract::<Bytes>()
                .await
                .map_err(|e| crate::error::Error::InvalidParameter {
                    name: "body",
                    reason: e.to_string(),
                })?;
        if !params.is_empty() && !body.is_empty() {
            params.push(b'&');
        }
        params.extend_from_slice(&body);
        req.set_payload(Payload::from(body));
    }
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &actix_web::http::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let origin = header(ORIGIN);
    let bearer = header(AUTHORIZATION).as_deref().and_then(bearer_kind);
    let method = req.method().clone();
    let path = req.path().to_string();
    let res = next.call(req).await?;
    let error_code = res
        .response()
        .extensions()
        .get::<AadstsCode>()
        .map(|c| c.0)
        .or_else(|| {
            res.headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(code_in_location)
        });
    let (time, trace_id) = RequestContext::with_current(|c| (c.now.unix_timestamp(), c.trace_id));
    state.requests.record(Observed {
        time,
        method,
        endpoint,
        path,
        params,
        origin,
        bearer,
        status: res.status().as_u16(),
        error_code,
        trace_id,
    });
    Ok(res)
}
