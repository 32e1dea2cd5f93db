//! `GET /msi/token` (App Service) and `GET /metadata/identity/oauth2/token` (IMDS): parse the
//! query and the protocol's header, hand to [`crate::oauth::managed_identity`].

use actix_web::{web, HttpRequest, HttpResponse};

use crate::context::RequestContext;
use crate::error::Error;
use crate::oauth::managed_identity::{self, Protocol, Request, IDENTITY_HEADER};
use crate::state::AppState;

pub async fn app_service(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let header_ok = req
        .headers()
        .get("x-identity-header")
        .is_some_and(|v| v.as_bytes() == IDENTITY_HEADER.as_bytes());
    answer(&state, parse(&req, Protocol::AppService, header_ok))
}

pub async fn imds(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let header_ok = req
        .headers()
        .get("metadata")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    answer(&state, parse(&req, Protocol::Imds, header_ok))
}

/// The query of either protocol: App Service names the service principal `principal_id`, IMDS
/// `object_id`; both are taken.
fn parse(req: &HttpRequest, protocol: Protocol, header_ok: bool) -> Request {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    Request {
        protocol,
        resource: get("resource"),
        api_version: get("api-version"),
        client_id: get("client_id"),
        object_id: get("object_id").or_else(|| get("principal_id")),
        header_ok,
    }
}

fn answer(state: &AppState, req: Request) -> Result<HttpResponse, Error> {
    let ctx = RequestContext::current();
    let answer = managed_identity::token(state, &ctx.base_url, ctx.now.unix_timestamp(), req)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}
