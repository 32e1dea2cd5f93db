//! On-behalf-of (issue 13 item 2): `api`, a confidential middle tier with the well-known secret,
//! exchanges alice's access token for it (aud = api) for a Microsoft Graph token for alice, and
//! gets Entra's errors for a token not meant for it, an expired one, an app-only one, a scope
//! without consent and a pending claims challenge.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::token_helpers::*;

const API_SECRET: &str = "api-secret-local-dev-only";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

/// alice's access token for `api`, as the SPA gets it (ROPC keeps the test short).
async fn alice_token_for_api(app: &TestApp) -> String {
    let a = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", SPA),
            ("username", ALICE),
            ("password", PASSWORD),
            ("scope", &format!("{API_SCOPE} openid")),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.str("access_token").to_string()
}

pub async fn obo(app: &TestApp, assertion: &str, scope: &str) -> Answer {
    app.token(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("requested_token_use", "on_behalf_of"),
        ("client_id", API),
        ("client_secret", API_SECRET),
        ("assertion", assertion),
        ("scope", scope),
    ])
    .await
}

#[tokio::test]
async fn the_middle_tier_gets_a_graph_token_for_the_same_user() {
    let app = TestApp::spawn().await;
    let incoming = alice_token_for_api(&app).await;
    let a = obo(
        &app,
        &incoming,
        "https://graph.microsoft.com/User.Read offline_access",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["aud"], GRAPH);
    assert_eq!(access["oid"], ALICE_OID);
    assert_eq!(access["appid"], API, "{access}");
    assert!(access["scp"].as_str().unwrap().contains("User.Read"));
    assert_eq!(access["amr"], json!(["pwd"]));
    // A refresh token with offline_access, redeemable by the middle tier.
    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", API),
            ("client_secret", API_SECRET),
            ("refresh_token", a.str("refresh_token")),
        ])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    // Without offline_access, none.
    let a = obo(&app, &incoming, "https://graph.microsoft.com/User.Read").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.get("refresh_token").is_none(), "{}", a.body);
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let app = TestApp::spawn().await;
    // alice's Graph token: its aud is Graph, not api.
    let graph = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", SPA),
            ("username", ALICE),
            ("password", PASSWORD),
            ("scope", "User.Read"),
        ])
        .await;
    let a = obo(&app, graph.str("access_token"), "User.Read").await;
    a.assert_error(400, "invalid_grant", 500131);
    let expected = format!(
        "AADSTS500131: Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '00000003-0000-0000-c000-000000000000' and the expected audience is '{API}' or one of the Application Uris of this application with App ID '{API}'(Contoso Tasks API). The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.\r\n"
    );
    assert!(
        a.str("error_description").starts_with(&expected),
        "{}",
        a.body
    );
    // Not a token at all, or signed by someone else.
    obo(&app, "a.b.c", "User.Read")
        .await
        .assert_error(400, "invalid_grant", 50013);
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let app = TestApp::spawn().await;
    let incoming = alice_token_for_api(&app).await;
    app.server.advance_clock(3 * 3600);
    obo(&app, &incoming, "User.Read")
        .await
        .assert_error(400, "invalid_grant", 500133);
}

#[tokio::test]
async fn an_app_only_token_has_no_user_to_act_for() {
    let app = TestApp::spawn().await;
    let daemon = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("api://{API}/.default")),
        ])
        .await;
    assert_eq!(daemon.status, 200, "{}", daemon.body);
    obo(&app, daemon.str("access_token"), "User.Read")
        .await
        .assert_error(400, "invalid_grant", 50013);
}

#[tokio::test]
async fn a_downstream_scope_without_consent_is_refused() {
    let app = TestApp::spawn().await;
    let incoming = alice_token_for_api(&app).await;
    let a = obo(&app, &incoming, "https://graph.microsoft.com/Mail.Read").await;
    a.assert_error(400, "invalid_grant", 65001);
    assert_eq!(a.body["suberror"], "consent_required");
}

#[tokio::test]
async fn the_middle_tier_must_authenticate() {
    let app = TestApp::spawn().await;
    let incoming = alice_token_for_api(&app).await;
    let a = app
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("requested_token_use", "on_behalf_of"),
            ("client_id", API),
            ("assertion", &incoming),
            ("scope", "User.Read"),
        ])
        .await;
    a.assert_error(401, "invalid_client", 7000218);
}

#[tokio::test]
async fn a_pending_claims_challenge_reaches_the_middle_tier() {
    let app = TestApp::spawn().await;
    let incoming = alice_token_for_api(&app).await;
    let (status, _) = app
        .mock(
            Method::POST,
            "faults",
            Some(json!({
                "endpoint": "token",
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "preset": "mfa-required",
            })),
        )
        .await;
    assert!(status < 300, "{status}");
    let a = obo(&app, &incoming, "User.Read").await;
    a.assert_error(400, "invalid_grant", 50076);
    let claims = a.str("claims").to_string();
    assert!(claims.contains("mfa"), "{claims}");
}
