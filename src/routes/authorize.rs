//! `GET|POST /{tenant}/oauth2/v2.0/authorize`: parse, hand to the sign-in domain, render.

use actix_web::{web, HttpRequest, HttpResponse};

use super::faults;
use super::signin_pages::{self, BrowserId};
use crate::context::RequestContext;
use crate::error::Error;
use crate::mock::faults::{FaultEndpoint, Outcome, RequestFacts};
use crate::oauth::params::Endpoint;
use crate::signin;
use crate::state::AppState;

pub async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
) -> HttpResponse {
    let params = signin_pages::form_pairs(req.query_string().as_bytes());
    authorize(&state, &req, &tenant, &params, Endpoint::V2).await
}

/// v1's `GET /{tenant}/oauth2/authorize` (`resource=`).
pub async fn authorize_v1(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
) -> HttpResponse {
    let params = signin_pages::form_pairs(req.query_string().as_bytes());
    authorize(&state, &req, &tenant, &params, Endpoint::V1).await
}

/// `response_mode=form_post` apps and some libraries POST the request as a form.
pub async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = signin_pages::form_pairs(&body);
    authorize(&state, &req, &tenant, &params, Endpoint::V2).await
}

async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    tenant: &str,
    params: &[(String, String)],
    endpoint: Endpoint,
) -> HttpResponse {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let fault = faults::check(
        state,
        FaultEndpoint::Authorize,
        RequestFacts {
            client_id: param("client_id"),
            user: param("login_hint"),
            user_oid: None,
            grant_type: None,
            claims: param("claims"),
        },
    )
    .await;
    let forced = match fault {
        Some(Outcome::Drop) => return faults::dropped(),
        Some(Outcome::Error { forced }) => Some(Error::Forced(Box::new(forced))),
        _ => None,
    };
    let ctx = RequestContext::current();
    let browser = BrowserId::of(req);
    let outcome = match state.directory().resolve_tenant(tenant) {
        Ok(t) => {
            let directory = state.directory();
            let deps = signin_pages::deps(state, &ctx, &directory);
            let sso = super::http::sso_cookie(req);
            signin::start(
                &deps,
                &t,
                params,
                sso.as_deref(),
                browser.value(),
                endpoint,
                forced,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let hints = signin_pages::hints(state, &outcome);
    signin_pages::respond(outcome, &ctx, &browser, &hints)
}
