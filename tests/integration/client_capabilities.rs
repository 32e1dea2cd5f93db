//! Client capabilities (issue 13 item 8): MSAL's `clientCapabilities` arrive in the `claims`
//! parameter as `{"access_token":{"xms_cc":{"values":["cp1"]}}}` and come back as the access
//! token's `xms_cc`, whether they were sent at sign-in or with the token request.

use serde_json::json;

use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

fn ropc(claims: Option<&str>) -> Vec<(&str, &str)> {
    let mut p = vec![
        ("grant_type", "password"),
        ("client_id", SPA),
        ("username", ALICE),
        ("password", PASSWORD),
        (
            "scope",
            "openid offline_access api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user",
        ),
    ];
    if let Some(c) = claims {
        p.push(("claims", c));
    }
    p
}

/// A refresh of the `spa` app's token with a `claims` parameter.
async fn refresh_spa(app: &TestApp, refresh_token: &str, claims: &str) -> Answer {
    app.token(&[
        ("grant_type", "refresh_token"),
        ("client_id", SPA),
        ("refresh_token", refresh_token),
        ("claims", claims),
    ])
    .await
}

#[tokio::test]
async fn capabilities_sent_with_the_token_request_are_in_the_access_token() {
    let app = TestApp::spawn().await;
    let with_cc = app.token(&ropc(Some(CP1))).await;
    assert_eq!(with_cc.status, 200, "{}", with_cc.body);
    let (_, access) = jwt_parts(with_cc.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
    // Not in the ID token, and not without the claim.
    let (_, id) = jwt_parts(with_cc.str("id_token"));
    assert!(id.get("xms_cc").is_none(), "{id}");
    let without = app.token(&ropc(None)).await;
    let (_, access) = jwt_parts(without.str("access_token"));
    assert!(access.get("xms_cc").is_none(), "{access}");
    // A refresh that sends them again keeps them.
    let refreshed = refresh_spa(&app, with_cc.str("refresh_token"), CP1).await;
    let (_, access) = jwt_parts(refreshed.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
}

#[tokio::test]
async fn an_api_that_does_not_ask_for_xms_cc_gets_none_and_graph_always_does() {
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app(
            "api",
            "optionalClaims",
            toml::Value::Table(r#"accessToken = [{ name = "idtyp" }]"#.parse().unwrap()),
        )
        .spawn()
        .await;
    let a = app.token(&ropc(Some(CP1))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert!(access.get("xms_cc").is_none(), "{access}");
    // Microsoft Graph evaluates access continuously: its tokens carry them.
    let mut graph = ropc(Some(CP1));
    graph.retain(|(k, _)| *k != "scope");
    graph.push(("scope", "openid User.Read"));
    let a = app.token(&graph).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
    // A home user's v1 token names no `idp` (only app-only v1 tokens do).
    assert!(access.get("idp").is_none(), "{access}");
}

/// A CAE session (a `cp1` client, a resource that evaluates CAE: Graph) gets access tokens of 20
/// to 28 hours; the same client without `cp1`, or for an API that does not evaluate CAE, 60 to
/// 90 minutes (<https://learn.microsoft.com/entra/identity-platform/access-tokens#token-lifetime>).
#[tokio::test]
async fn a_cae_session_gets_graph_tokens_of_20_to_28_hours() {
    let app = TestApp::spawn().await;
    let graph = |claims: Option<&'static str>| {
        let mut form = ropc(claims);
        form.retain(|(k, _)| *k != "scope");
        form.push(("scope", "openid User.Read"));
        form
    };
    for (form, range, what) in [
        (graph(Some(CP1)), 72_000..=100_800, "Graph, cp1"),
        (graph(None), 3_600..=5_400, "Graph without cp1"),
        (ropc(Some(CP1)), 3_600..=5_400, "an API, cp1"),
    ] {
        let a = app.token(&form).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let expires_in = a.body["expires_in"].as_i64().unwrap();
        assert!(range.contains(&expires_in), "{what}: {expires_in}");
        assert_eq!(
            a.body["ext_expires_in"].as_i64(),
            Some(expires_in),
            "{what}"
        );
        let (_, access) = jwt_parts(a.str("access_token"));
        let lifetime = access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap() - 300;
        assert!(range.contains(&lifetime), "{what}: {lifetime}");
    }
}

#[tokio::test]
async fn capabilities_sent_at_sign_in_are_in_the_tokens_of_its_code() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(code_request(BFF, BFF_REDIRECT), "claims", CP1);
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let code = reply_params(&location(&res))["code"].clone();
    let a = app
        .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
}

/// alice's Graph token (OpenID scopes) by ROPC on the `spa` app, CAE-capable or not; and her
/// refresh token.
async fn graph_token(app: &TestApp, claims: Option<&str>) -> (String, String) {
    let mut form = vec![
        ("grant_type", "password"),
        ("client_id", SPA),
        ("username", ALICE),
        ("password", PASSWORD),
        ("scope", "openid profile offline_access User.Read"),
    ];
    if let Some(c) = claims {
        form.push(("claims", c));
    }
    let a = app.token(&form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    (
        a.str("access_token").to_string(),
        a.str("refresh_token").to_string(),
    )
}

/// `GET /oidc/userinfo` (Graph's stand-in): the status and, on a CAE challenge, its claims request.
async fn userinfo(app: &TestApp, token: &str) -> (u16, Option<serde_json::Value>) {
    let res = app
        .client()
        .get(format!("{}/oidc/userinfo", app.https))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let claims = res
        .headers()
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.contains("error=\"insufficient_claims\""))
        .map(|h| {
            let b64 = h.split("claims=\"").nth(1).unwrap().trim_end_matches('"');
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        });
    (status, claims)
}

#[tokio::test]
async fn a_cae_capable_token_gets_graphs_claims_challenge_once_the_user_is_revoked() {
    let app = TestApp::spawn().await;
    let (cae, cae_refresh) = graph_token(&app, Some(CP1)).await;
    let (plain, _) = graph_token(&app, None).await;
    assert_eq!(userinfo(&app, &cae).await, (200, None));
    let (status, _) = app
        .mock(
            reqwest::Method::POST,
            &format!("users/{ALICE}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The CAE token is refused at once, with the time it must not be issued before.
    let (status, claims) = userinfo(&app, &cae).await;
    assert_eq!(status, 401);
    let claims = claims.expect("a claims challenge");
    assert_eq!(claims["access_token"]["nbf"]["essential"], true);
    assert!(
        claims["access_token"]["nbf"]["value"].is_string(),
        "{claims}"
    );
    // The other keeps working until it expires, as with Graph.
    assert_eq!(userinfo(&app, &plain).await.0, 200);
    // The client passes the challenge on: its refresh token was revoked too (AADSTS50173), so
    // the user must sign in again.
    refresh_spa(&app, &cae_refresh, &claims.to_string())
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn fault_presets_on_userinfo_challenge_cae_capable_clients() {
    let app = TestApp::spawn().await;
    let (cae, cae_refresh) = graph_token(&app, Some(CP1)).await;
    let (plain, _) = graph_token(&app, None).await;
    let (status, _) = app
        .mock(
            reqwest::Method::POST,
            "faults",
            Some(json!({"endpoint": "userinfo", "preset": "revoked"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, claims) = userinfo(&app, &cae).await;
    assert_eq!(status, 401);
    assert!(claims.unwrap()["access_token"]["nbf"].is_object());
    // A client without the capability gets the preset's error itself.
    let res = app
        .client()
        .get(format!("{}/oidc/userinfo", app.https))
        .bearer_auth(&plain)
        .send()
        .await
        .unwrap();
    let codes = answer(res).await.body["error_codes"].clone();
    assert_eq!(codes, json!([50173]), "the preset's AADSTS50173");
    app.mock(reqwest::Method::DELETE, "faults", None).await;
    // The MFA claims challenge: refreshing a password-only session with it needs MFA (50076).
    app.mock(
        reqwest::Method::POST,
        "faults",
        Some(json!({"endpoint": "userinfo", "preset": "mfa-required"})),
    )
    .await;
    let (status, claims) = userinfo(&app, &cae).await;
    assert_eq!(status, 401);
    let claims = claims.expect("a claims challenge");
    assert_eq!(claims["access_token"]["amr"]["values"], json!(["mfa"]));
    refresh_spa(&app, &cae_refresh, &claims.to_string())
        .await
        .assert_error(400, "invalid_grant", 50076);
}
