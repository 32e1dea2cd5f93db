//! `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009).

use actix_web::{web, HttpResponse, ResponseError};

use super::http::{no_store, ClientPost};
use crate::oauth::revocation;
use crate::state::AppState;

pub async fn revoke(state: web::Data<AppState>, ClientPost(request): ClientPost) -> HttpResponse {
    match revocation::revoke(&state, request).await {
        Ok(_) => no_store(HttpResponse::Ok()).finish(),
        Err(e) => e.error_response(),
    }
}
