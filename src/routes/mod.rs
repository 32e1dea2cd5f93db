//! HTTP only: each handler extracts the request, calls one domain function and maps the result.

mod admin_consent;
mod authorize;
mod device_code;
mod device_login;
mod discovery;
mod faults;
mod graph;
pub mod guard;
mod health;
mod http;
mod logout;
mod managed_identity;
mod mock;
mod openapi;
pub mod request_log;
mod revoke;
mod signin;
mod signin_pages;
mod token;
mod userinfo;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // actix tries routes in order and matches each `{tenant}` route with a regular expression:
    // the hottest routes (token, JWKS, discovery) come first, so a token request is not matched
    // against ten other patterns before its own (about 6% of a token's CPU time, by profile).
    cfg.service(get_only("/healthz", health::healthz))
        .service(
            web::resource("/{tenant}/oauth2/v2.0/token")
                .route(web::post().to(token::token))
                .route(web::method(Method::OPTIONS).to(token::preflight))
                .default_service(web::to(post_only)),
        )
        .service(get_only(
            "/{tenant}/discovery/v2.0/keys",
            discovery::keys_v2,
        ))
        .service(get_only(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            discovery::openid_configuration_v2,
        ))
        .service(get_only("/msi/token", managed_identity::app_service))
        .service(get_only(
            "/metadata/identity/oauth2/token",
            managed_identity::imds,
        ))
        .service(get_only("/_mock/ca.pem", health::ca_pem))
        .service(get_only(
            "/{tenant}/.well-known/openid-configuration",
            discovery::openid_configuration_v1,
        ))
        .service(get_only("/{tenant}/discovery/keys", discovery::keys_v1))
        .service(get_only(
            "/{tenant}/discovery/instance",
            discovery::instance,
        ))
        .service(
            web::resource("/{tenant}/oauth2/v2.0/authorize")
                .route(web::get().to(authorize::authorize_get))
                .route(web::post().to(authorize::authorize_post))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/{tenant}/oauth2/authorize")
                .route(web::get().to(authorize::authorize_v1))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/{tenant}/login")
                .route(web::post().to(signin::login))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/_signin/{file}", signin::asset))
        .service(
            web::resource("/{tenant}/v2.0/adminconsent")
                .route(web::get().to(admin_consent::admin_consent))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/{tenant}/adminconsent")
                .route(web::get().to(admin_consent::admin_consent))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/{tenant}/oauth2/v2.0/devicecode")
                .route(web::post().to(device_code::devicecode))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/{tenant}/oauth2/devicecode")
                .route(web::post().to(device_code::devicecode))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/devicelogin")
                .route(web::get().to(device_login::form))
                .route(web::post().to(device_login::submit))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/devicelogin/done", device_login::done))
        .service(
            web::resource("/{tenant}/oauth2/token")
                .route(web::post().to(token::token))
                .route(web::method(Method::OPTIONS).to(token::preflight))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/{tenant}/oauth2/v2.0/revoke")
                .route(web::post().to(revoke::revoke))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/{tenant}/oauth2/v2.0/logout")
                .route(web::get().to(logout::logout))
                .route(web::post().to(logout::logout))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/{tenant}/oauth2/logout")
                .route(web::get().to(logout::logout))
                .route(web::post().to(logout::logout))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/oidc/userinfo")
                .route(web::get().to(userinfo::userinfo))
                .route(web::post().to(userinfo::userinfo))
                .route(web::method(Method::OPTIONS).to(preflight))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/v1.0/users/{id}/revokeSignInSessions")
                .route(web::post().to(graph::revoke_sign_in_sessions))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/_mock/clock")
                .route(web::get().to(mock::get_clock))
                .route(web::post().to(mock::set_clock))
                .route(web::delete().to(mock::reset_clock))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/_mock/users/{id}/totp", mock::user_totp))
        .service(get_only("/_mock/keys", mock::list_keys))
        .service(
            web::resource("/_mock/requests")
                .route(web::get().to(mock::list_requests))
                .route(web::delete().to(mock::clear_requests))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/_mock/findings", mock::findings))
        .service(get_only(
            "/_mock/federation/.well-known/openid-configuration",
            mock::federation_discovery,
        ))
        .service(get_only("/_mock/federation/keys", mock::federation_keys))
        .service(
            web::resource("/_mock/federation/token")
                .route(web::post().to(mock::federation_token))
                .default_service(web::to(post_only)),
        )
        .service(get_only("/_mock/openapi.json", openapi::openapi_json))
        .service(get_only("/_mock/sessions", mock::list_sessions))
        .service(
            web::resource("/_mock/sessions/{id}")
                .route(web::delete().to(mock::end_session))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/_mock/refresh-tokens", mock::list_families))
        .service(
            web::resource("/_mock/refresh-tokens/{family}")
                .route(web::delete().to(mock::revoke_family))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/_mock/reset")
                .route(web::post().to(mock::reset))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/_mock/signin")
                .route(web::post().to(mock::sign_in))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/_mock/tokens")
                .route(web::post().to(mock::mint_token))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/_mock/faults")
                .route(web::get().to(mock::list_faults))
                .route(web::post().to(mock::add_fault))
                .route(web::delete().to(mock::clear_faults))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/_mock/faults/{id}")
                .route(web::delete().to(mock::remove_fault))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/_mock/keys/rotate")
                .route(web::post().to(mock::rotate_keys))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/_mock/users/{id}/revokeSignInSessions")
                .route(web::post().to(graph::mock_revoke_sign_in_sessions))
                .default_service(web::to(post_only)),
        )
        // Directory entries; after the specific `/_mock/...` paths above.
        .service(
            web::resource("/_mock/{collection}")
                .route(web::get().to(mock::list_entries))
                .route(web::post().to(mock::create_entry))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(
            web::resource("/_mock/{collection}/{key}")
                .route(web::patch().to(mock::patch_entry))
                .route(web::delete().to(mock::delete_entry))
                .default_service(web::to(signin::method_not_allowed)),
        );
}

async fn post_only(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::MethodNotAllowed {
        allowed: "POST",
        received: req.method().to_string(),
    })
}

/// A GET endpoint that answers CORS preflights and refuses other methods in Entra's shape.
fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .route(web::method(Method::OPTIONS).to(preflight))
        .default_service(web::to(|req: HttpRequest| async move {
            Err::<HttpResponse, _>(Error::MethodNotAllowed {
                allowed: "GET",
                received: req.method().to_string(),
            })
        }))
}

async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, OPTIONS"))
        .insert_header(("Access-Control-Allow-Headers", "*"))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::NotFound(req.path().to_string()))
}
