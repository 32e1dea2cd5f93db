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
    let q = query(&req);
    let header_ok = req
        .headers()
        .get("x-identity-header")
        .is_some_and(|v| v.as_bytes() == IDENTITY_HEADER.as_bytes());
    answer(
        &state,
        Request {
            protocol: Protocol::AppService,
            resource: get(&q, "resource"),
            api_version: get(&q, "api-version"),
            client_id: get(&q, "client_id"),
            object_id: get(&q, "principal_id").or_else(|| get(&q, "object_id")),
            header_ok,
        },
    )
}

pub async fn imds(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q = query(&req);
    let header_ok = req
        .headers()
        .get("metadata")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    answer(
        &state,
        Request {
            protocol: Protocol::Imds,
            resource: get(&q, "resource"),
            api_version: get(&q, "api-version"),
            client_id: get(&q, "client_id"),
            object_id: get(&q, "object_id").or_else(|| get(&q, "principal_id")),
            header_ok,
        },
    )
}

fn answer(state: &AppState, req: Request) -> Result<HttpResponse, Error> {
    let ctx = RequestContext::current();
    let answer = managed_identity::token(state, &ctx.base_url, ctx.now.unix_timestamp(), req)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

fn query(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn get(q: &[(String, String)], name: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}
