//! `GET|POST /{tenant}/oauth2/v2.0/logout`: clears the SSO cookie and renders the sign-out page
//! (front-channel iframes, then the post-logout redirect), or an error page, never a redirect.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::LOCATION;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::http::no_store;
use crate::context::RequestContext;
use crate::error::Error;
use crate::mock::faults::{FaultEndpoint, Outcome, RequestFacts};
use crate::oauth::logout::{self, LogoutRequest};
use crate::oauth::params::Params;
use crate::state::AppState;
use crate::store::sessions::{SSO_COOKIE, SSO_PERSISTENT_COOKIE};

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    frontchannel_urls: &'a [String],
    redirect: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "error_logout.html")]
struct ErrorPage<'a> {
    code: u32,
    message: &'a str,
    trace_id: &'a str,
    correlation_id: &'a str,
    timestamp: &'a str,
}

pub async fn logout(
    state: web::Data<AppState>,
    tenant: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = RequestContext::current();
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    if req.method() == Method::POST {
        pairs.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let params = Params::from(pairs);
    match super::faults::check(
        &state,
        FaultEndpoint::Logout,
        RequestFacts {
            client_id: params.get("client_id"),
            user: params.get("logout_hint"),
            ..RequestFacts::default()
        },
    )
    .await
    {
        Some(Outcome::Error { forced }) => {
            return error_page(&Error::Forced(Box::new(forced)), &ctx)
        }
        Some(Outcome::Drop) => return super::faults::dropped(),
        _ => {}
    }
    let request = LogoutRequest {
        tenant: tenant.into_inner(),
        params,
        sso_session: super::http::sso_cookie(&req),
        base_url: ctx.base_url.clone(),
        now: ctx.now.unix_timestamp(),
    };
    let outcome = match logout::end_session(&state, request).await {
        Ok(o) => o,
        Err(e) => return error_page(&e, &ctx),
    };
    let removal = |name: &'static str| {
        let mut cookie = Cookie::build(name, "")
            .path("/")
            .http_only(true)
            .secure(ctx.secure)
            .same_site(if ctx.secure {
                SameSite::None
            } else {
                SameSite::Lax
            })
            .finish();
        cookie.make_removal();
        cookie
    };
    let (session_cookie, persistent_cookie) = (removal(SSO_COOKIE), removal(SSO_PERSISTENT_COOKIE));
    // Nothing to notify: straight to the post-logout URI.
    if let (true, Some(to)) = (outcome.frontchannel_urls.is_empty(), &outcome.redirect) {
        return no_store(HttpResponse::Found())
            .insert_header((LOCATION, to.as_str()))
            .cookie(session_cookie)
            .cookie(persistent_cookie)
            .finish();
    }
    let mut res = no_store(HttpResponse::Ok());
    res.cookie(session_cookie).cookie(persistent_cookie);
    let page = LogoutPage {
        frontchannel_urls: &outcome.frontchannel_urls,
        redirect: outcome.redirect.as_deref(),
    };
    let origins: Vec<String> = outcome
        .frontchannel_urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    match page.render() {
        Ok(html) => {
            let mut res = res.content_type("text/html; charset=utf-8").body(html);
            super::signin_pages::signout_headers(&mut res, &origins);
            res
        }
        Err(e) => error_page(&Error::Internal(e.into()), &ctx),
    }
}

fn error_page(e: &Error, ctx: &RequestContext) -> HttpResponse {
    if let Error::Internal(cause) = e {
        tracing::error!(error = ?cause, "internal error");
    }
    let message = e.to_string();
    let trace_id = ctx.trace_id.to_string();
    let timestamp = ctx.timestamp();
    let page = ErrorPage {
        code: e.code(),
        message: &message,
        trace_id: &trace_id,
        correlation_id: &ctx.correlation_id,
        timestamp: &timestamp,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| format!("AADSTS{}: {}", e.code(), message));
    let mut res = no_store(HttpResponse::build(e.spec().status))
        .content_type("text/html; charset=utf-8")
        .body(html);
    super::signin_pages::signout_headers(&mut res, &[]);
    res.extensions_mut()
        .insert(crate::error::AadstsCode(e.code()));
    res
}
