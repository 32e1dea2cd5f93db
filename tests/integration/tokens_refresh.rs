//! Part 3: refresh-token rotation, reuse policies, lifetimes, scope changes and revocation.

use serde_json::json;

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

#[tokio::test]
async fn every_refresh_returns_a_new_refresh_token_and_the_old_one_keeps_working_by_default() {
    let app = TestApp::spawn().await;
    let rt1 = bff_refresh_token(&app).await;

    let a = app.refresh_bff(&rt1, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rt2 = a.str("refresh_token").to_string();
    assert_ne!(rt1, rt2, "rotation");
    assert_eq!(a.body["scope"], API_SCOPE);
    assert!(a.body["id_token"].is_string());
    app.validate(a.str("access_token"), true, API).await;

    // Entra's policy (`allow`): the rotated token still works.
    assert_eq!(app.refresh_bff(&rt1, None).await.status, 200);
    assert_eq!(app.refresh_bff(&rt2, None).await.status, 200);
    crate::conformance::covered(&["refresh-rotation"], "tokens_refresh::every_refresh_returns_a_new_refresh_token_and_the_old_one_keeps_working_by_default");
}

#[tokio::test]
async fn under_the_detect_policy_reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let (app, _dir) = detect_policy().await;
    let rt1 = bff_refresh_token(&app).await;
    let a = app.refresh_bff(&rt1, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rt2 = a.str("refresh_token").to_string();

    app.refresh_bff(&rt1, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
    // The thief's use killed the legitimate holder's newer token too (RFC 9700 4.14.2).
    app.refresh_bff(&rt2, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
    crate::conformance::covered(&["refresh-reuse-detect"], "tokens_refresh::under_the_detect_policy_reusing_a_rotated_refresh_token_revokes_the_whole_family");
}

#[tokio::test]
async fn refresh_can_narrow_to_openid_and_switch_to_graph_and_back() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;

    let graph = app.refresh_bff(&rt, Some("User.Read openid")).await;
    assert_eq!(graph.status, 200, "{}", graph.body);
    let (_, at) = jwt_parts(graph.str("access_token"));
    assert_eq!(at["aud"], "00000003-0000-0000-c000-000000000000");
    // Alice's own grant of Calendars.Read to bff comes along (all consented scopes).
    assert_eq!(at["scp"], "User.Read Calendars.Read openid");
    assert_eq!(graph.body["scope"], "Calendars.Read openid User.Read");

    let api = app
        .refresh_bff(
            graph.str("refresh_token"),
            Some(&format!("{API_SCOPE} offline_access")),
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.body);
    let at = app.validate(api.str("access_token"), true, API).await;
    assert_eq!(at["scp"], "access_as_user");
    assert!(api.body.get("id_token").is_none(), "no openid asked");
}

#[tokio::test]
async fn a_refresh_token_of_another_client_gets_aadsts700007() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;
    let a = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("refresh_token", &rt),
        ])
        .await;
    a.assert_error_text(
        400,
        "invalid_grant",
        700007,
        "The grant was issued for a different client id.\r\n",
    );
}

#[tokio::test]
async fn a_refresh_token_unused_for_90_days_gets_aadsts700082() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;
    app.state.clock.advance(89 * 86400);
    let a = app.refresh_bff(&rt, None).await;
    assert_eq!(a.status, 200, "89 days are fine");
    let fresh = a.str("refresh_token").to_string();

    app.state.clock.advance(86400 + 1);
    let a = app.refresh_bff(&rt, None).await;
    a.assert_error(400, "invalid_grant", 700082);
    assert_eq!(a.body["suberror"], "bad_token");
    // The token issued a day ago is still within its window.
    assert_eq!(app.refresh_bff(&fresh, None).await.status, 200);
}

async fn spa_refresh(app: &TestApp, rt: &str) -> Answer {
    app.token_from_spa(&[
        ("grant_type", "refresh_token"),
        ("client_id", SPA),
        ("refresh_token", rt),
        ("scope", &format!("{API_SCOPE} openid offline_access")),
    ])
    .await
}

#[tokio::test]
async fn a_spa_refresh_chain_ends_24_hours_after_sign_in_with_aadsts700084() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let a = app.redeem_spa(&code).await;
    let mut rt = a.str("refresh_token").to_string();

    app.state.clock.advance(23 * 3600);
    let b = spa_refresh(&app, &rt).await;
    assert_eq!(b.status, 200, "{}", b.body);
    // Fixed, not extended (a second of wall-clock time may pass during the test).
    let left = b.body["refresh_token_expires_in"].as_i64().unwrap();
    assert!((3595..=3600).contains(&left), "{left}");
    rt = b.str("refresh_token").to_string();

    // Without Origin, a SPA refresh token is refused like a SPA code.
    app.token(&[
        ("grant_type", "refresh_token"),
        ("client_id", SPA),
        ("refresh_token", &rt),
    ])
    .await
    .assert_error(400, "invalid_request", 9002327);

    app.state.clock.advance(3600);
    spa_refresh(&app, &rt)
        .await
        .assert_error(400, "invalid_grant", 700084);
}

#[tokio::test]
async fn a_revoked_refresh_token_gets_aadsts50173_after_rfc7009_revocation() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;
    // Entra has no revocation endpoint: discovery lists it only with --advertise-revocation.
    assert!(app
        .discovery(true)
        .await
        .get("revocation_endpoint")
        .is_none());
    let endpoint = format!("{}/{TENANT}/oauth2/v2.0/revoke", app.https);

    let res = app
        .client()
        .post(&endpoint)
        .form(&[
            ("token", rt.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.refresh_bff(&rt, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn revocation_authenticates_the_client_and_ignores_unknown_tokens() {
    let app = TestApp::spawn().await;
    let url = format!("{}/{TENANT}/oauth2/v2.0/revoke", app.https);
    let bad = answer(
        app.client()
            .post(&url)
            .form(&[
                ("token", "x"),
                ("client_id", BFF),
                ("client_secret", "wrong"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    bad.assert_error(401, "invalid_client", 7000215);
    let unknown = app
        .client()
        .post(&url)
        .form(&[
            ("token", "x"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);
}

/// A server where the daemon holds Graph's `User.RevokeSessions.All` application role and the
/// bff the same delegated scope.
async fn graph_permissions() -> (TestApp, tempfile::TempDir) {
    graph_permissions_with("User.RevokeSessions.All").await
}

/// The daemon holds Graph's `User.RevokeSessions.All` application role, the bff `delegated`.
async fn graph_permissions_with(delegated: &str) -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "daemon",
            "mock.graphPermissions.application",
            toml::Value::Array(vec!["User.RevokeSessions.All".into()]),
        )
        .app(
            "bff",
            "mock.graphPermissions.delegated",
            toml::Value::Array(vec![delegated.into()]),
        )
        .spawn()
        .await
}

/// An app-only Graph token of the daemon.
async fn daemon_graph_token(app: &TestApp) -> String {
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.str("access_token").to_string()
}

async fn graph_revoke(app: &TestApp, user: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = app.client().post(format!(
        "{}/v1.0/users/{user}/revokeSignInSessions",
        app.https
    ));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn graph_revoke_sign_in_sessions_kills_refresh_tokens_and_sso_sessions() {
    let (app, _dir) = graph_permissions().await;
    let (code, sid) = issue_code(&app, &CodeSpec::bff()).await;
    let rt = app.redeem_bff(&code).await.str("refresh_token").to_string();

    let token = daemon_graph_token(&app).await;
    let (status, body) = graph_revoke(&app, ALICE, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], json!(true));

    let a = app.refresh_bff(&rt, None).await;
    a.assert_error(400, "invalid_grant", 50173);
    // The suberror msal-node and msal-browser read as "interaction required".
    assert_eq!(a.body["suberror"], "bad_token", "{}", a.body);
    assert!(!app.session_active(&sid).await);

    // A later sign-in works again.
    app.state.clock.advance(1);
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    assert_eq!(app.redeem_bff(&code).await.status, 200);
}

#[tokio::test]
async fn graph_revoke_sign_in_sessions_needs_a_graph_token_with_the_permission() {
    let (app, _dir) = graph_permissions().await;
    // No token, or a token for another API: 401 in Graph's shape.
    let (status, body) = graph_revoke(&app, ALICE, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let api_token = app.redeem_bff(&code).await.str("access_token").to_string();
    assert_eq!(graph_revoke(&app, ALICE, Some(&api_token)).await.0, 401);

    // A Graph token without the permission: 403.
    let (app2, _dir2) = Fixture::builtin().spawn().await;
    let token = daemon_graph_token(&app2).await;
    let (status, body) = graph_revoke(&app2, ALICE, Some(&token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );

    // Delegated: alice may revoke her own sessions, not bob's.
    let scope = "openid https://graph.microsoft.com/User.RevokeSessions.All";
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope(scope)).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let alice_token = a.str("access_token").to_string();
    assert_eq!(graph_revoke(&app, BOB, Some(&alice_token)).await.0, 403);
    assert_eq!(graph_revoke(&app, ALICE, Some(&alice_token)).await.0, 200);
}

/// `POST /me/revokeSignInSessions` revokes the signed-in user's sessions; a delegated token with
/// one of the doc's higher-privileged scopes may call it too, an app-only token may not use `/me`
/// (<https://learn.microsoft.com/graph/api/user-revokesigninsessions>).
#[tokio::test]
async fn graph_me_revoke_sign_in_sessions_takes_a_delegated_token_with_any_permission_the_doc_lists(
) {
    let (app, _dir) = graph_permissions_with("User.ReadWrite.All").await;
    let me = |bearer: String| {
        let req = app
            .client()
            .post(format!("{}/v1.0/me/revokeSignInSessions", app.https))
            .bearer_auth(bearer);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = me(daemon_graph_token(&app).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "{body}"
    );
    assert_eq!(
        body["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
    let scope = "openid offline_access https://graph.microsoft.com/User.ReadWrite.All";
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope(scope)).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (write, rt) = (
        a.str("access_token").to_string(),
        a.str("refresh_token").to_string(),
    );
    let (status, body) = me(write).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], true);
    app.refresh_bff(&rt, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn a_code_issued_before_revoke_sign_in_sessions_gets_aadsts50173() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    // The test-control twin needs no Graph token.
    let res = app
        .client()
        .post(format!(
            "{}/_mock/users/{ALICE_OID}/revokeSignInSessions",
            app.https
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn graph_revoke_sign_in_sessions_of_an_unknown_user_is_a_graph_404() {
    let (app, _dir) = graph_permissions().await;
    let token = daemon_graph_token(&app).await;
    let (status, body) = graph_revoke(&app, "nobody@contoso.onmicrosoft.com", Some(&token)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_the_detect_policy_concurrent_uses_of_one_refresh_token_leave_nothing_usable() {
    let (app, _dir) = detect_policy().await;
    let rt = bff_refresh_token(&app).await;
    let form = bff_refresh_form(rt.as_str());
    let answers = concurrently(&app, 8, &form).await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1);
    for a in answers.iter().filter(|a| a.status != 200) {
        a.assert_error(400, "invalid_grant", 50173);
    }
    // The reuse revoked the family, the token the winner got included.
    app.refresh_bff(winners[0].str("refresh_token"), None)
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn under_detect_a_rotation_whose_answer_was_lost_is_answered_again_within_the_grace_period() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "mock.refreshTokenReuse", "detect")
        .app("bff", "mock.refreshTokenReuseGraceSeconds", 30)
        .spawn()
        .await;
    let rt = bff_refresh_token(&app).await;

    // The refresh is sent, the connection dropped before the answer is read: the server
    // rotates the token all the same, and the client never sees the successor.
    let http = app.http.trim_start_matches("http://").to_string();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("client_id", BFF)
        .append_pair("client_secret", BFF_SECRET)
        .append_pair("refresh_token", &rt)
        .finish();
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(http.replace("localhost", "127.0.0.1"))
            .await
            .unwrap();
        let request = format!(
            "POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
    }
    let mut used = None;
    for _ in 0..100 {
        used = app
            .state
            .store
            .find_refresh(&rt)
            .await
            .unwrap()
            .unwrap()
            .used_at;
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used.is_some(), "the dropped request rotated the token");

    // The client retries with the token it has: within the grace period, answered again.
    let again = app.refresh_bff(&rt, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let successor = again.str("refresh_token").to_string();
    // After the grace period, the same reuse is theft: the family goes, the successor with it.
    app.state.clock.advance(31);
    app.refresh_bff(&rt, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
    app.refresh_bff(&successor, None)
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn a_grace_period_outside_0_to_300_seconds_is_refused_at_load() {
    let err = Fixture::builtin()
        .app("bff", "mock.refreshTokenReuseGraceSeconds", 301)
        .refused()
        .await;
    assert!(err.contains("mock.refreshTokenReuseGraceSeconds"), "{err}");
}
