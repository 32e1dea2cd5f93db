//! `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009).

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::http::{header, no_store};
use crate::context::RequestContext;
use crate::oauth::params::Secret;
use crate::oauth::revocation::{self, RevocationRequest};
use crate::state::AppState;

pub async fn revoke(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let ctx = RequestContext::current();
    let request = RevocationRequest {
        tenant: tenant.into_inner(),
        params: form.into_inner().into(),
        authorization: header(&req, "Authorization").map(Secret::new),
        base_url: ctx.base_url.clone(),
        now: ctx.now.unix_timestamp(),
    };
    match revocation::revoke(&state, request).await {
        Ok(_) => no_store(HttpResponse::Ok()).finish(),
        Err(e) => e.error_response(),
    }
}
