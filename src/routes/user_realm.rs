//! `GET /{tenant}/userrealm/{login}` (MSAL asks it at `/common`).

use actix_web::{web, HttpResponse};

use crate::oauth::user_realm;
use crate::state::AppState;

pub async fn user_realm(
    state: web::Data<AppState>,
    login: web::Path<(String, String)>,
) -> HttpResponse {
    let (_tenant, login) = login.into_inner();
    HttpResponse::Ok().json(user_realm::user_realm(&state.directory(), &login))
}
