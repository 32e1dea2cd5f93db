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
mod user_realm;
mod userinfo;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // actix matches a path with a dynamic segment by a regular expression, trying routes in
    // order: the paths without a tenant come first (plain strings, or under a plain-string
    // prefix scope so their own patterns are tried only for their prefix), then one scope
    // matches the tenant segment once, and the endpoints inside it are plain strings again
    // (three regular expressions per discovery request were a quarter of its CPU, by profile).
    // An unknown path inside a scope gets the app's default service (Entra's 404).
    cfg.service(get_only("/healthz", health::healthz))
        .service(get_only("/msi/token", managed_identity::app_service))
        .service(get_only(
            "/metadata/identity/oauth2/token",
            managed_identity::imds,
        ))
        .service(
            web::resource("/devicelogin")
                .route(web::get().to(device_login::form))
                .route(web::post().to(device_login::submit))
                .default_service(web::to(signin::method_not_allowed)),
        )
        .service(get_only("/devicelogin/done", device_login::done))
        .service(
            web::resource("/oidc/userinfo")
                .route(web::get().to(userinfo::userinfo))
                .route(web::post().to(userinfo::userinfo))
                .route(web::method(Method::OPTIONS).to(preflight))
                .default_service(web::to(signin::method_not_allowed)),
        )
        // The test-control API; the directory entries come after the specific paths.
        .service(
            web::scope("/_mock")
                .service(get_only("/ca.pem", health::ca_pem))
                .service(
                    web::resource("/clock")
                        .route(web::get().to(mock::get_clock))
                        .route(web::post().to(mock::set_clock))
                        .route(web::delete().to(mock::reset_clock))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(get_only("/users/{id}/totp", mock::user_totp))
                .service(get_only("/keys", mock::list_keys))
                .service(
                    web::resource("/requests")
                        .route(web::get().to(mock::list_requests))
                        .route(web::delete().to(mock::clear_requests))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(get_only("/findings", mock::findings))
                .service(get_only(
                    "/federation/.well-known/openid-configuration",
                    mock::federation_discovery,
                ))
                .service(get_only("/federation/keys", mock::federation_keys))
                .service(
                    web::resource("/federation/token")
                        .route(web::post().to(mock::federation_token))
                        .default_service(web::to(post_only)),
                )
                .service(get_only("/openapi.json", openapi::openapi_json))
                .service(get_only("/sessions", mock::list_sessions))
                .service(
                    web::resource("/sessions/{id}")
                        .route(web::delete().to(mock::end_session))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(get_only("/refresh-tokens", mock::list_families))
                .service(
                    web::resource("/refresh-tokens/{family}")
                        .route(web::delete().to(mock::revoke_family))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/reset")
                        .route(web::post().to(mock::reset))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/signin")
                        .route(web::post().to(mock::sign_in))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/tokens")
                        .route(web::post().to(mock::mint_token))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/faults")
                        .route(web::get().to(mock::list_faults))
                        .route(web::post().to(mock::add_fault))
                        .route(web::delete().to(mock::clear_faults))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/faults/{id}")
                        .route(web::delete().to(mock::remove_fault))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/keys/rotate")
                        .route(web::post().to(mock::rotate_keys))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/users/{id}/revokeSignInSessions")
                        .route(web::post().to(graph::mock_revoke_sign_in_sessions))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/{collection}")
                        .route(web::get().to(mock::list_entries))
                        .route(web::post().to(mock::create_entry))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/{collection}/{key}")
                        .route(web::patch().to(mock::patch_entry))
                        .route(web::delete().to(mock::delete_entry))
                        .default_service(web::to(signin::method_not_allowed)),
                ),
        )
        .service(web::scope("/_signin").service(get_only("/{file}", signin::asset)))
        .service(
            web::scope("/v1.0")
                .service(
                    web::resource("/users/{id}/revokeSignInSessions")
                        .route(web::post().to(graph::revoke_sign_in_sessions))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/me/revokeSignInSessions")
                        .route(web::post().to(graph::revoke_my_sign_in_sessions))
                        .default_service(web::to(post_only)),
                ),
        )
        .service(
            web::scope("/{tenant}")
                .service(
                    web::resource("/oauth2/v2.0/token")
                        .route(web::post().to(token::token))
                        .route(web::method(Method::OPTIONS).to(token::preflight))
                        .default_service(web::to(post_only)),
                )
                .service(get_only("/discovery/v2.0/keys", discovery::keys_v2))
                .service(get_only(
                    "/v2.0/.well-known/openid-configuration",
                    discovery::openid_configuration_v2,
                ))
                .service(get_only(
                    "/.well-known/openid-configuration",
                    discovery::openid_configuration_v1,
                ))
                .service(get_only("/discovery/keys", discovery::keys_v1))
                .service(get_only("/discovery/instance", discovery::instance))
                .service(get_only("/userrealm/{login}", user_realm::user_realm))
                .service(
                    web::resource("/oauth2/v2.0/authorize")
                        .route(web::get().to(authorize::authorize_get))
                        .route(web::post().to(authorize::authorize_post))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/oauth2/authorize")
                        .route(web::get().to(authorize::authorize_v1))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/login")
                        .route(web::post().to(signin::login))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/v2.0/adminconsent")
                        .route(web::get().to(admin_consent::admin_consent))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/adminconsent")
                        .route(web::get().to(admin_consent::admin_consent))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/oauth2/v2.0/devicecode")
                        .route(web::post().to(device_code::devicecode))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/oauth2/devicecode")
                        .route(web::post().to(device_code::devicecode))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/oauth2/token")
                        .route(web::post().to(token::token))
                        .route(web::method(Method::OPTIONS).to(token::preflight))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/oauth2/v2.0/revoke")
                        .route(web::post().to(revoke::revoke))
                        .default_service(web::to(post_only)),
                )
                .service(
                    web::resource("/oauth2/v2.0/logout")
                        .route(web::get().to(logout::logout))
                        .route(web::post().to(logout::logout))
                        .default_service(web::to(signin::method_not_allowed)),
                )
                .service(
                    web::resource("/oauth2/logout")
                        .route(web::get().to(logout::logout))
                        .route(web::post().to(logout::logout))
                        .default_service(web::to(signin::method_not_allowed)),
                ),
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
