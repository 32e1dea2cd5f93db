//! `GET /_mock/openapi.json`: the test-control API described from its handlers and types.

use actix_web::HttpResponse;

use super::mock::*;

/// The OpenAPI 3.1 document of the test-control API, generated from the handlers and their types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "entra-mock test control",
        description = "The test-control API of entra-mock under /_mock/: virtual clock, signing keys, faults, minted tokens, the workload identity federation test issuer (its discovery and keys public), sign-in without pages, directory changes, sessions, request log and findings. With --admin-token, every call needs Authorization: Bearer <token>."
    ),
    paths(
        get_clock,
        set_clock,
        reset_clock,
        user_totp,
        list_keys,
        rotate_keys,
        add_fault,
        list_faults,
        clear_faults,
        remove_fault,
        mint_token,
        federation_discovery,
        federation_keys,
        federation_token,
        sign_in,
        list_requests,
        clear_requests,
        findings,
        list_entries,
        create_entry,
        patch_entry,
        delete_entry,
        reset,
        list_sessions,
        end_session,
        list_families,
        revoke_family,
        super::graph::mock_revoke_sign_in_sessions
    )
)]
pub struct MockApi;

/// `GET /_mock/openapi.json`.
pub async fn openapi_json(_: MockAdmin) -> HttpResponse {
    use utoipa::OpenApi;
    HttpResponse::Ok()
        .content_type("application/json")
        .body(MockApi::openapi().to_json().unwrap_or_default())
}
