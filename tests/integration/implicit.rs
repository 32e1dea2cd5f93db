//! Implicit and hybrid grants: `id_token` and `code id_token` for apps that enable ID tokens from
//! the authorization endpoint, and (issue 8 item 6) `token`, `id_token token` and
//! `code id_token token` for apps that enable implicit access tokens; Entra's refusal otherwise.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::{c_hash as at_hash, jwt_parts};

/// The built-in tenant with `bff` allowed ID tokens from the authorization endpoint, and no
/// implicit access tokens.
async fn id_token_app() -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "bff",
            "web.implicitGrantSettings.enableIdTokenIssuance",
            true,
        )
        .spawn()
        .await
}

/// The built-in fixture with both implicit grant settings on for the BFF.
fn implicit_fixture() -> Fixture {
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
}

async fn implicit_app() -> (TestApp, tempfile::TempDir) {
    implicit_fixture().spawn().await
}

/// The BFF's request for `response_type` and `scope`.
fn request(response_type: &str, scope: &str) -> Vec<(String, String)> {
    with(
        with(
            code_request(BFF, BFF_REDIRECT),
            "response_type",
            response_type,
        ),
        "scope",
        scope,
    )
}

/// alice signs in with `response_type`; the fragment's parameters.
async fn implicit(app: &TestApp, response_type: &str) -> std::collections::HashMap<String, String> {
    let params = request(response_type, &format!("openid {API_SCOPE}"));
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
    let (app, _dir) = id_token_app().await;
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

#[tokio::test]
async fn id_token_response_types_need_the_app_to_allow_them() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "response_type",
        "code id_token",
    );
    let loc = location(&get(&client, &authorize_url(&app.https, &params)).await);
    assert!(
        url::Url::parse(&loc).unwrap().fragment().is_some(),
        "fragment by default: {loc}"
    );
    let p = reply_params(&loc);
    assert_eq!(p["error"], "unsupported_response_type");
    assert_eq!(p["state"], STATE);
}

#[tokio::test]
async fn id_token_response_types_refuse_the_query_mode() {
    let (app, _dir) = id_token_app().await;
    let client = app.client();
    let params = with(
        with(code_request(BFF, BFF_REDIRECT), "response_type", "id_token"),
        "response_mode",
        "query",
    );
    let loc = location(&get(&client, &authorize_url(&app.https, &params)).await);
    let p = reply_params(&loc);
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].starts_with("AADSTS70007: "), "{p:?}");
    assert!(
        url::Url::parse(&loc).unwrap().query().is_none(),
        "never in the query: {loc}"
    );
    // Allowed and well-formed: the pages are shown (ID tokens are minted by the token part).
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "response_type",
        "code id_token",
    );
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("name=\"loginfmt\""));
    // The hybrid reply carries the code and an ID token bound to it, in the fragment.
    let html = page(submit(&client, &app.https, &html, &[("loginfmt", ALICE)]).await).await;
    let loc = location(&submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await);
    assert!(url::Url::parse(&loc).unwrap().query().is_none());
    let p = reply_params(&loc);
    assert_eq!(p["state"], STATE);
    let claims = app.validate(&p["id_token"], true, BFF).await;
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["oid"], ALICE_OID);
    assert_eq!(claims["sid"], p["session_state"].as_str());
    assert_eq!(claims["c_hash"], crate::token_helpers::c_hash(&p["code"]));
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    // And the code is redeemable as usual.
    let tokens = app.redeem_bff_pkce(&p["code"], VERIFIER).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
}

#[tokio::test]
async fn the_implicit_id_token_response_carries_only_an_id_token() {
    let (app, _dir) = id_token_app().await;
    let client = app.client();
    let params = with(code_request(BFF, BFF_REDIRECT), "response_type", "id_token");
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    let html = page(submit(&client, &app.https, &html, &[("loginfmt", ALICE)]).await).await;
    let loc = location(&submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await);
    let p = reply_params(&loc);
    assert!(!p.contains_key("code"));
    let claims = app.validate(&p["id_token"], true, BFF).await;
    assert_eq!(claims["nonce"], NONCE);
    assert!(claims.get("c_hash").is_none());
}

#[tokio::test]
async fn an_id_token_without_the_openid_scope_gets_aadsts70005() {
    let (app, _dir) = id_token_app().await;
    let client = app.client();
    for response_type in ["id_token", "code id_token"] {
        let params = request(response_type, "profile User.Read");
        let p = reply_params(&location(
            &get(&client, &authorize_url(&app.https, &params)).await,
        ));
        assert_eq!(p["error"], "unsupported_response_type", "{response_type}");
        assert!(p["error_description"].starts_with("AADSTS70005: "), "{p:?}");
    }
}

#[tokio::test]
async fn an_implicit_access_token_for_scopes_not_consented_yet_is_asked_on_the_consent_page() {
    let (app, _dir) = implicit_app().await;
    let client = app.client();
    // Mail.Read is not pre-authorized for bff: the sign-in asks alice, then the token holds it.
    let params = request("id_token token", "openid Mail.Read");
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(
        html.contains("name=\"loginfmt\""),
        "the sign-in page, not an error"
    );
    let html = page(submit(&client, &app.https, &html, &[("loginfmt", ALICE)]).await).await;
    let html = page(submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await).await;
    assert!(html.contains("Mail.Read"), "the consent page: {html}");
    let loc = location(&submit(&client, &app.https, &html, &[("action", "Accept")]).await);
    let p = reply_params(&loc);
    assert!(p["scope"].contains("Mail.Read"), "{p:?}");
    let (_, claims) = jwt_parts(&p["access_token"]);
    assert!(
        claims["scp"].as_str().unwrap().contains("Mail.Read"),
        "{claims}"
    );
}

const ERIN: &str = "erin@contoso.onmicrosoft.com";

/// `implicit_app` with `groupMembershipClaims = "SecurityGroup"` on the BFF (its ID tokens; the
/// API's access tokens have `All`), alice in seven groups and erin (no MFA) in five.
async fn groups_app() -> (TestApp, tempfile::TempDir) {
    let mut fixture = implicit_fixture()
        .app("bff", "groupMembershipClaims", "SecurityGroup")
        .push(
            "users",
            &format!(
                r#"{{ id = "e1e1e1e1-0000-4000-8000-000000000005", userPrincipalName = "{ERIN}", displayName = "Erin", password = "{PASSWORD}" }}"#
            ),
        );
    for i in 1..=7 {
        let members = if i <= 5 {
            format!(r#"["{ALICE}", "{ERIN}"]"#)
        } else {
            format!(r#"["{ALICE}"]"#)
        };
        fixture = fixture.push(
            "groups",
            &format!(
                r#"{{ id = "9a000000-0000-4000-8000-00000000000{i}", displayName = "G{i}", members = {members} }}"#
            ),
        );
    }
    fixture.spawn().await
}

/// `user` signs in to the BFF with `response_type`; the reply's parameters.
async fn implicit_as(
    app: &TestApp,
    response_type: &str,
    user: &str,
) -> std::collections::HashMap<String, String> {
    let params = request(response_type, &format!("openid {API_SCOPE}"));
    reply_params(&location(
        &sign_in(app, &app.client(), &params, user, PASSWORD).await,
    ))
}

#[tokio::test]
async fn implicit_tokens_of_a_user_in_six_or_more_groups_say_hasgroups_instead_of_groups() {
    let (app, _dir) = groups_app().await;
    // 1. alice (seven groups): the ID token and the access token from /authorize say
    //    `hasgroups` and list none (access-token-claims-reference: "currently six or more").
    let p = implicit_as(&app, "code id_token token", ALICE).await;
    let at = app.validate(&p["access_token"], true, API).await;
    let id = app.validate(&p["id_token"], true, BFF).await;
    for claims in [&at, &id] {
        assert_eq!(claims["hasgroups"], serde_json::json!(true), "{claims}");
        assert!(claims.get("groups").is_none(), "{claims}");
        assert!(claims.get("_claim_names").is_none(), "{claims}");
    }
    // 2. The same sign-in's code at the token endpoint: the full list, as before.
    let a = app.redeem_bff_pkce(&p["code"], VERIFIER).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let at = app.validate(a.str("access_token"), true, API).await;
    let (_, id) = jwt_parts(a.str("id_token"));
    for claims in [&at, &id] {
        assert_eq!(claims["groups"].as_array().unwrap().len(), 7, "{claims}");
        assert!(claims.get("hasgroups").is_none(), "{claims}");
    }
    // 3. erin (five groups): `groups` from /authorize too.
    let p = implicit_as(&app, "id_token token", ERIN).await;
    let at = app.validate(&p["access_token"], true, API).await;
    let id = app.validate(&p["id_token"], true, BFF).await;
    for claims in [&at, &id] {
        assert_eq!(claims["groups"].as_array().unwrap().len(), 5, "{claims}");
        assert!(claims.get("hasgroups").is_none(), "{claims}");
    }
}
