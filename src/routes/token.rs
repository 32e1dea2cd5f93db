//! `POST /{tenant}/oauth2/v2.0/token` and its CORS preflight.

use actix_web::http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, VARY};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::http::{header, no_store};

use crate::context::RequestContext;
use crate::oauth::params::Secret;
use crate::oauth::token::{self, TokenRequest};
use crate::state::AppState;

pub async fn token(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let ctx = RequestContext::current();
    let origin = header(&req, "Origin");
    let request = TokenRequest {
        tenant: tenant.into_inner(),
        params: form.into_inner().into(),
        authorization: header(&req, "Authorization").map(Secret::new),
        origin: origin.clone(),
        base_url: ctx.base_url.clone(),
        now: ctx.now.unix_timestamp(),
    };
    let allow_origin = origin
        .as_deref()
        .and_then(|o| token::cors_origin(&state.directory, request.params.get("client_id"), o));
    let mut res = match token::exchange(&state, request).await {
        Ok(body) => no_store(HttpResponse::Ok()).json(body),
        Err(e) => e.error_response(),
    };
    if let Some(v) = allow_origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        res.headers_mut()
            .insert(VARY, HeaderValue::from_static("Origin"));
    }
    res
}

pub async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    if let Some(o) =
        header(&req, "Origin").and_then(|o| token::cors_origin(&state.directory, None, &o))
    {
        res.insert_header(("Access-Control-Allow-Origin", o))
            .insert_header(("Access-Control-Allow-Methods", "POST, OPTIONS"))
            .insert_header(("Access-Control-Allow-Headers", "*"))
            .insert_header(("Access-Control-Max-Age", "86400"))
            .insert_header(("Vary", "Origin"));
    }
    res.finish()
}
