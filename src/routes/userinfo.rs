//! `GET|POST /oidc/userinfo` with a bearer token.

use actix_web::http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, WWW_AUTHENTICATE};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::http::header;
use crate::context::RequestContext;
use crate::error::Error;
use crate::mock::faults::{FaultEndpoint, Outcome, RequestFacts};
use crate::oauth::userinfo::{self, Answer};
use crate::state::AppState;

pub async fn userinfo(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let forced = match super::faults::check(
        &state,
        FaultEndpoint::Userinfo,
        RequestFacts::default(),
    )
    .await
    {
        // An error rule is the domain's to apply: a CAE-capable client gets it as a challenge.
        Some(Outcome::Error { forced }) => Some(forced),
        Some(other) => match super::faults::respond(other) {
            Ok(answer) => return answer,
            Err(_) => None,
        },
        None => None,
    };
    let ctx = RequestContext::current();
    let auth = header(&req, "Authorization");
    let bearer = auth.as_deref().and_then(|h| {
        h.split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
    });
    let now = ctx.now.unix_timestamp();
    let mut res =
        match userinfo::userinfo(&state, bearer, &ctx.base_url, now, forced.as_ref()).await {
            Ok(Answer::Info(body)) => HttpResponse::Ok().json(body),
            Ok(Answer::Challenge(claims)) => challenge(&ctx.base_url, &claims),
            Err(e) => match forced {
                // A fault rule's error answers as the rule says, also for a token that is not valid.
                Some(f) => Error::Forced(Box::new(f)).error_response(),
                None => {
                    let mut res = e.error_response();
                    res.headers_mut().insert(
                        WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer error=\"invalid_token\""),
                    );
                    res
                }
            },
        };
    res.headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

/// Graph's CAE answer (claims-challenge, "Claims challenge header format"): 401, the claims
/// request base64-encoded in `WWW-Authenticate`, Graph's error body.
fn challenge(base_url: &str, claims: &str) -> HttpResponse {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
    let header = format!(
        "Bearer realm=\"\", authorization_uri=\"{base_url}/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\"{encoded}\""
    );
    let mut res = HttpResponse::Unauthorized().json(serde_json::json!({"error": {
        "code": "InvalidAuthenticationToken",
        "message": "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
    }}));
    if let Ok(v) = HeaderValue::from_str(&header) {
        res.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    res
}
