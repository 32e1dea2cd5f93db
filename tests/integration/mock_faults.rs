//! Fault injection through `/_mock/faults` (issue 9 items 2 and 4): presets in Entra's exact shape
//! for exactly `times` requests, forced errors redirected at /authorize, JWKS and discovery
//! outages, stale key sets, `Cache-Control`, dropped connections, and the rule list.

use reqwest::Method;
use serde_json::{json, Value};

use crate::foundation::discovery;
use crate::helpers::*;
use crate::signin_helpers::{authorize_url, code_request, location, reply_params};
use crate::token_helpers::*;

async fn add(app: &TestApp, rule: Value) -> Value {
    let (status, body) = app.mock(Method::POST, "faults", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn each_preset_answers_in_entras_shape_for_exactly_times_requests() {
    let app = TestApp::spawn().await;
    // preset, status, error, AADSTS, suberror
    let presets = [
        (
            "mfa-required",
            400,
            "invalid_grant",
            50076,
            Some("basic_action"),
        ),
        (
            "refresh-token-expired",
            400,
            "invalid_grant",
            700082,
            Some("bad_token"),
        ),
        ("revoked", 400, "invalid_grant", 50173, Some("bad_token")),
        (
            "consent-required",
            400,
            "invalid_grant",
            65001,
            Some("consent_required"),
        ),
        (
            "user-blocked",
            400,
            "interaction_required",
            53003,
            Some("message_only"),
        ),
        ("throttled", 429, "temporarily_unavailable", 90055, None),
        ("server-error", 500, "server_error", 50000, None),
    ];
    for (preset, status, error, code, suberror) in presets {
        let rule = add(
            &app,
            json!({"endpoint": "token", "preset": preset, "times": 2, "client_id": DAEMON}),
        )
        .await;
        assert_eq!(rule["remaining"], 2);
        for _ in 0..2 {
            let a = app.daemon_token().await;
            a.assert_error(status, error, code);
            assert_eq!(
                a.body["suberror"].as_str(),
                suberror,
                "{preset}: {}",
                a.body
            );
            let description = a.str("error_description");
            assert!(
                description.starts_with(&format!("AADSTS{code}: ")),
                "{description}"
            );
            assert!(description.contains("\r\nTrace ID: "), "{description}");
            match preset {
                "mfa-required" => {
                    let claims: Value =
                        serde_json::from_str(a.body["claims"].as_str().unwrap()).unwrap();
                    assert_eq!(claims["access_token"]["amr"]["values"], json!(["mfa"]));
                }
                "throttled" => assert_eq!(a.header("retry-after"), Some("5")),
                _ => assert!(a.body.get("claims").is_none()),
            }
        }
        // The third request is answered normally, and the rule is gone.
        let a = app.daemon_token().await;
        assert_eq!(a.status, 200, "{preset}: {}", a.body);
        let (_, list) = app.mock(Method::GET, "faults", None).await;
        assert_eq!(list["faults"], json!([]));
    }
}

#[tokio::test]
async fn a_rule_matches_only_its_client_and_grant_and_a_custom_error_keeps_its_fields() {
    let app = TestApp::spawn().await;
    add(
        &app,
        json!({
            "endpoint": "token", "grant_type": "authorization_code",
            "error": {"code": 50079, "error": "interaction_required", "suberror": "additional_action",
                      "claims": "{\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}",
                      "description": "Enrol in MFA."},
            "status": 400, "times": 1
        }),
    )
    .await;
    // Another grant passes.
    assert_eq!(app.daemon_token().await.status, 200);
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    a.assert_error(400, "interaction_required", 50079);
    assert_eq!(a.body["suberror"], "additional_action");
    assert!(a
        .str("error_description")
        .starts_with("AADSTS50079: Enrol in MFA."));
    assert!(a.body["claims"].as_str().unwrap().contains("acrs"));
    // The code was not consumed by the refused request.
    assert_eq!(app.redeem_bff(&code).await.status, 200);
}

#[tokio::test]
async fn the_mfa_preset_lets_a_request_carrying_its_claims_challenge_through() {
    let app = TestApp::spawn().await;
    add(&app, json!({"endpoint": "token", "preset": "mfa-required"})).await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let refused = app.redeem_bff(&code).await;
    refused.assert_error(400, "invalid_grant", 50076);
    let challenge = refused.str("claims").to_string();
    let a = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("code", &code),
            ("redirect_uri", BFF_REDIRECT),
            ("claims", &challenge),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn an_authorize_fault_redirects_the_error_to_the_app_as_entra_does() {
    let app = TestApp::spawn().await;
    add(
        &app,
        json!({"endpoint": "authorize", "preset": "user-blocked", "client_id": BFF, "times": 1}),
    )
    .await;
    let client = app.client();
    let url = authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT));
    let res = client.get(&url).send().await.unwrap();
    let loc = location(&res);
    assert!(loc.starts_with(BFF_REDIRECT), "{loc}");
    let p = reply_params(&loc);
    assert_eq!(p["error"], "interaction_required");
    assert!(p["error_description"].starts_with("AADSTS53003: "), "{p:?}");
    assert!(p.contains_key("state"));
    // Once: the next request shows the sign-in page.
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // An unregistered redirect URI never receives a forced error: the error page instead.
    add(
        &app,
        json!({"endpoint": "authorize", "preset": "server-error"}),
    )
    .await;
    let evil = authorize_url(
        &app.https,
        &code_request(BFF, "https://evil.example/callback"),
    );
    let res = client.get(&evil).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn the_mfa_and_consent_presets_at_authorize_answer_as_authorize_does() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let url = authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT));
    for (preset, error) in [
        ("mfa-required", "interaction_required"),
        ("consent-required", "consent_required"),
    ] {
        add(
            &app,
            json!({"endpoint": "authorize", "preset": preset, "times": 1}),
        )
        .await;
        let p = reply_params(&location(&client.get(&url).send().await.unwrap()));
        assert_eq!(p["error"], error, "{preset}: {p:?}");
    }
}

async fn get_keys(app: &TestApp) -> reqwest::Response {
    app.client()
        .get(format!("{}/{TENANT}/discovery/v2.0/keys", app.https))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn jwks_and_discovery_faults_outage_stale_keys_cache_control_delay_and_drop() {
    let app = TestApp::spawn().await;
    let active = app.state.keys.snapshot().active.kid.clone();

    add(
        &app,
        json!({"endpoint": "jwks", "status": 503, "retry_after": 7, "times": 1}),
    )
    .await;
    let res = get_keys(&app).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "7");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    add(
        &app,
        json!({"endpoint": "jwks", "stale_keys": true, "times": 1}),
    )
    .await;
    let stale: Value = get_keys(&app).await.json().await.unwrap();
    let kids: Vec<&str> = stale["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        !kids.is_empty() && !kids.contains(&active.as_str()),
        "{kids:?}"
    );
    // The next request gets the real key set again.
    let fresh: Value = get_keys(&app).await.json().await.unwrap();
    assert!(fresh.to_string().contains(&active));

    add(
        &app,
        json!({"endpoint": "discovery", "cache_control": "no-cache", "delay_ms": 50, "times": 1}),
    )
    .await;
    let (status, headers, _) = discovery(&app.client(), &app.https, TENANT, true).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-cache");

    add(&app, json!({"endpoint": "jwks", "drop": true, "times": 1})).await;
    let dropped = async {
        let res = app
            .client()
            .get(format!("{}/{TENANT}/discovery/v2.0/keys", app.https))
            .send()
            .await?;
        res.bytes().await
    }
    .await;
    assert!(dropped.is_err(), "the connection was dropped: {dropped:?}");
    // And the server keeps serving.
    assert_eq!(get_keys(&app).await.status(), 200);
}

#[tokio::test]
async fn rules_are_listed_removed_one_by_one_or_all_and_bad_rules_are_refused() {
    let app = TestApp::spawn().await;
    let a = add(&app, json!({"endpoint": "userinfo", "status": 500})).await;
    add(
        &app,
        json!({"endpoint": "logout", "preset": "server-error"}),
    )
    .await;
    let (_, list) = app.mock(Method::GET, "faults", None).await;
    assert_eq!(list["faults"].as_array().unwrap().len(), 2);
    assert!(
        list["faults"][0].get("remaining").is_none(),
        "until removed"
    );

    let (status, _) = app
        .mock(Method::DELETE, &format!("faults/{}", a["id"]), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .mock(Method::DELETE, &format!("faults/{}", a["id"]), None)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.mock(Method::DELETE, "faults", None).await;
    assert_eq!(status, 204);
    let (_, list) = app.mock(Method::GET, "faults", None).await;
    assert_eq!(list["faults"], json!([]));

    for bad in [
        json!({"endpoint": "token"}),
        json!({"endpoint": "nowhere", "drop": true}),
        json!({"endpoint": "token", "preset": "unheard-of"}),
        json!({"endpoint": "token", "drop": true, "status": 500}),
        json!({"endpoint": "token", "error": {"code": 1, "error": "<b>"}}),
        json!({"endpoint": "token", "drop": true, "times": 0}),
    ] {
        let (status, body) = app.mock(Method::POST, "faults", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn a_rule_naming_a_user_refuses_only_that_users_tokens_at_the_token_endpoint() {
    let app = TestApp::spawn().await;
    add(
        &app,
        json!({"endpoint": "token", "preset": "revoked", "user": BOB, "grant_type": "refresh_token"}),
    )
    .await;
    let mut tokens = Vec::new();
    for user in [ALICE_OID, BOB_OID] {
        let (code, _) = issue_code(
            &app,
            &CodeSpec {
                user_oid: user.into(),
                ..CodeSpec::bff()
            },
        )
        .await;
        let a = app.redeem_bff(&code).await;
        assert_eq!(a.status, 200, "codes are not refused: {}", a.body);
        tokens.push(a.str("refresh_token").to_string());
    }
    assert_eq!(app.refresh_bff(&tokens[0], None).await.status, 200, "alice");
    app.refresh_bff(&tokens[1], None)
        .await
        .assert_error(400, "invalid_grant", 50173);
}
