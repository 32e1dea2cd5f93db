//! `POST /{tenant}/oauth2/v2.0/token`, v1's `POST /{tenant}/oauth2/token`, and their CORS preflight.

use actix_web::http::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, VARY};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::faults;
use super::http::{header, json_no_store, ClientPost};
use crate::mock::faults::{FaultEndpoint, RequestFacts};
use crate::oauth::params::Endpoint;
use crate::oauth::token;
use crate::state::AppState;

pub async fn token(state: web::Data<AppState>, ClientPost(request): ClientPost) -> HttpResponse {
    let allow_origin = request
        .origin
        .as_deref()
        .and_then(|o| token::cors_origin(&state.directory(), request.params.get("client_id"), o));
    // Whose request it is, only when a fault rule asks.
    let user = match state.faults.names_user(FaultEndpoint::Token) {
        true => token::request_user(&state, &request.params)
            .await
            .ok()
            .flatten(),
        false => None,
    };
    let fault = faults::check(
        &state,
        FaultEndpoint::Token,
        RequestFacts {
            client_id: request.params.get("client_id"),
            user: user.as_ref().map(|u| u.upn.as_str()),
            user_oid: user.as_ref().map(|u| u.oid.as_str()),
            grant_type: request.params.get("grant_type"),
            claims: request.params.get("claims"),
        },
    )
    .await
    .map(faults::respond);
    let result = match (fault, request.endpoint) {
        (Some(Ok(answer)), _) => Ok(answer),
        (_, Endpoint::V2) => token::exchange(&state, request)
            .await
            .map(|body| json_no_store(HttpResponse::Ok()).json(body)),
        (_, Endpoint::V1) => token::exchange_v1(&state, request)
            .await
            .map(|body| json_no_store(HttpResponse::Ok()).json(body)),
    };
    let mut res = result.unwrap_or_else(|e| e.error_response());
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
        header(&req, "Origin").and_then(|o| token::cors_origin(&state.directory(), None, &o))
    {
        res.insert_header(("Access-Control-Allow-Origin", o))
            .insert_header(("Access-Control-Allow-Methods", "POST, OPTIONS"))
            .insert_header(("Access-Control-Allow-Headers", "*"))
            .insert_header(("Access-Control-Max-Age", "86400"))
            .insert_header(("Vary", "Origin"));
    }
    res.finish()
}
