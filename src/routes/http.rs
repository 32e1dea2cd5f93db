//! HTTP helpers the endpoints share.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponseBuilder};

use crate::context::RequestContext;
use crate::oauth::params::{ClientRequest, Endpoint, Secret};
use crate::store::sessions::{SSO_COOKIE, SSO_PERSISTENT_COOKIE};

/// Entra's headers on every answer that carries tokens or credentials.
pub fn no_store(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header(("Cache-Control", "no-store, no-cache"))
        .insert_header(("Pragma", "no-cache"));
    res
}

/// [`no_store`] for a JSON answer, typed as Entra types its JSON (`application/json;
/// charset=utf-8`).
pub fn json_no_store(res: HttpResponseBuilder) -> HttpResponseBuilder {
    let mut res = no_store(res);
    res.insert_header(("Content-Type", crate::error::JSON_UTF8));
    res
}

/// A request header as text; absent when missing or not visible ASCII.
pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The browser's SSO cookie: `ESTSAUTHPERSISTENT` ("Stay signed in") or `ESTSAUTH`.
pub fn sso_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SSO_PERSISTENT_COOKIE)
        .or_else(|| req.cookie(SSO_COOKIE))
        .map(|c| c.value().to_string())
}

/// A form POST of a client to the token or revocation endpoint, with what the protocol needs of
/// its headers and of the request context.
pub fn client_request(
    req: &HttpRequest,
    tenant: String,
    form: Vec<(String, String)>,
) -> ClientRequest {
    let ctx = RequestContext::current();
    ClientRequest {
        tenant,
        params: form.into(),
        authorization: header(req, "Authorization").map(Secret::new),
        origin: header(req, "Origin"),
        base_url: ctx.base_url.clone(),
        now: ctx.now.unix_timestamp(),
        // `/oauth2/v2.0/token` or v1's `/oauth2/token`.
        endpoint: if req.path().contains("/v2.0/") {
            Endpoint::V2
        } else {
            Endpoint::V1
        },
    }
}

/// The extractor of [`ClientRequest`] for `POST /{tenant}/...` form endpoints. A body of another
/// content type is not read, as Entra reads none: the request then lacks its parameters (a JSON
/// body at the token endpoint: AADSTS900144 for `grant_type`, as Entra answers it). A form that
/// does not parse fails with the app's form error (Entra's JSON shape).
pub struct ClientPost(pub ClientRequest);

impl FromRequest for ClientPost {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let is_form = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        let form = is_form.then(|| web::Form::<Vec<(String, String)>>::from_request(&req, payload));
        Box::pin(async move {
            let form = match form {
                Some(form) => form.await?.into_inner(),
                None => Vec::new(),
            };
            let tenant = req
                .match_info()
                .get("tenant")
                .unwrap_or_default()
                .to_string();
            Ok(ClientPost(client_request(&req, tenant, form)))
        })
    }
}
