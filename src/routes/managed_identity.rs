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
        // "must be set to "true", in all lower case" (how-to-use-vm-token).
        .is_some_and(|v| v.as_bytes() == b"true");
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
        resource_id: get("msi_res_id").or_else(|| get("mi_res_id")),
        header_ok,
    }
}

fn answer(state: &AppState, req: Request) -> Result<HttpResponse, Error> {
    let ctx = RequestContext::current();
    let protocol = req.protocol;
    match managed_identity::token(state, &ctx.base_url, ctx.now.unix_timestamp(), req) {
        Ok(answer) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(answer)),
        // An internal failure still answers in Entra's shape (and is logged there).
        Err(e @ Error::Internal(_)) => Err(e),
        Err(e) => {
            let (status, body) = managed_identity::error_body(protocol, &e, &ctx.correlation_id);
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
            Ok(HttpResponse::build(status)
                .insert_header(("Cache-Control", "no-store"))
                .json(body))
        }
    }
}
