//! `GET|POST /oidc/userinfo` with a bearer token.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::http::header;
use crate::context::RequestContext;
use crate::mock::faults::{FaultEndpoint, RequestFacts};
use crate::oauth::userinfo;
use crate::state::AppState;

pub async fn userinfo(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let fault = super::faults::check(&state, FaultEndpoint::Userinfo, RequestFacts::default())
        .await
        .map(super::faults::respond);
    if let Some(Ok(answer)) = fault {
        return answer;
    }
    let ctx = RequestContext::current();
    let auth = header(&req, "Authorization");
    let bearer = auth.as_deref().and_then(|h| {
        h.split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
    });
    let mut res = match userinfo::userinfo(&state, bearer, &ctx.base_url, ctx.now.unix_timestamp())
        .await
    {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => {
            let mut res = e.error_response();
            res.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            res
        }
    };
    res.headers_mut().insert(
        actix_web::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        actix_web::http::header::HeaderValue::from_static("*"),
    );
    res
}
