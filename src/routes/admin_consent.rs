//! `GET /{tenant}/v2.0/adminconsent` and v1's `GET /{tenant}/adminconsent` (`oauth::admin_consent`).

use actix_web::{web, HttpRequest, HttpResponse};

use super::signin_pages::{self, BrowserId};
use crate::context::RequestContext;
use crate::oauth::admin_consent;
use crate::oauth::authorize::Rejection;
use crate::oauth::params::Endpoint;
use crate::signin::{self, Outcome};
use crate::state::AppState;

pub async fn admin_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
) -> HttpResponse {
    let params = signin_pages::form_pairs(req.query_string().as_bytes());
    let ctx = RequestContext::current();
    let browser = BrowserId::of(&req);
    let directory = state.directory();
    let endpoint = match req.path().ends_with("/v2.0/adminconsent") {
        true => Endpoint::V2,
        false => Endpoint::V1,
    };
    let outcome = match directory.resolve_tenant(&tenant) {
        Ok(t) => match admin_consent::request(&directory, &t, &params, endpoint) {
            Ok(request) => {
                let deps = signin_pages::deps(&state, &ctx, &directory);
                let sso = super::http::sso_cookie(&req);
                signin::start_prepared(&deps, request, sso.as_deref(), browser.value()).await
            }
            Err(Rejection::Page(e)) => Err(e),
            Err(Rejection::Reply(reply)) => Ok(Outcome::Reply {
                reply: *reply,
                session: None,
            }),
        },
        Err(e) => Err(e),
    };
    let hints = signin_pages::hints(&state, &outcome);
    signin_pages::respond(outcome, &ctx, &browser, &hints)
}
