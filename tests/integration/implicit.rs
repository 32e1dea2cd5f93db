//! Implicit and hybrid grants with access tokens (issue 8 item 6): `token`, `id_token token` and
//! `code id_token token` for apps that enable implicit access tokens, Entra's refusal otherwise.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::{c_hash as at_hash, jwt_parts};

async fn implicit_app() -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "bff",
            "web.implicitGrantSettings.enableIdTokenIssuance",
            true,
        )
        .app(
            "bff",
            "web.implicitGrantSettings.enableAccessTokenIssuance",
            true,
        )
        .spawn()
        .await
}

/// alice signs in with `response_type`; the fragment's parameters.
async fn implicit(app: &TestApp, response_type: &str) -> std::collections::HashMap<String, String> {
    let params = with(
        with(
            code_request(BFF, BFF_REDIRECT),
            "response_type",
            response_type,
        ),
        "scope",
        &format!("openid {API_SCOPE}"),
    );
    let res = sign_in(app, &app.client(), &params, ALICE, PASSWORD).await;
    let loc = location(&res);
    assert!(
        url::Url::parse(&loc).unwrap().query().is_none(),
        "tokens travel in the fragment"
    );
    reply_params(&loc)
}

#[tokio::test]
async fn id_token_token_returns_an_access_token_for_the_api_and_an_id_token_with_at_hash() {
    let (app, _dir) = implicit_app().await;
    let p = implicit(&app, "id_token token").await;
    assert_eq!(p["token_type"], "Bearer");
    assert!(p["expires_in"].parse::<i64>().unwrap() >= 3600);
    assert_eq!(p["scope"], API_SCOPE);
    let at = app.validate(&p["access_token"], true, API).await;
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["azpacr"], "0", "no client authentication at /authorize");
    let (_, id) = jwt_parts(&p["id_token"]);
    assert_eq!(id["at_hash"], at_hash(&p["access_token"]));
    assert_eq!(id["nonce"], NONCE);
    assert!(!p.contains_key("code"));
}

#[tokio::test]
async fn code_id_token_token_returns_all_three_and_the_code_redeems() {
    let (app, _dir) = implicit_app().await;
    let p = implicit(&app, "code id_token token").await;
    assert!(p.contains_key("access_token") && p.contains_key("id_token"));
    let a = app.redeem_bff_pkce(&p["code"], VERIFIER).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn token_for_an_app_without_implicit_access_tokens_gets_aadsts700051() {
    let (app, _dir) = Fixture::builtin()
        .app(
            "bff",
            "web.implicitGrantSettings.enableIdTokenIssuance",
            true,
        )
        .spawn()
        .await;
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "response_type",
        "id_token token",
    );
    let loc = location(&get(&app.client(), &authorize_url(&app.https, &params)).await);
    let p = reply_params(&loc);
    assert_eq!(p["error"], "unsupported_response_type");
    assert!(p["error_description"].starts_with("AADSTS700051:"), "{p:?}");
}
