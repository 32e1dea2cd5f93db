//! The request log and the findings about the client under test (issue 9 item 7).

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use crate::signin_helpers::{authorize_url, code_request, without};
use crate::token_helpers::*;

async fn requests(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .mock(Method::GET, &format!("requests{query}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["requests"].as_array().unwrap().clone()
}

#[tokio::test]
async fn protocol_requests_are_logged_with_outcomes_and_without_secrets() {
    let app = TestApp::spawn().await;
    let ok = app.daemon_token().await;
    assert_eq!(ok.status, 200);
    let bad = app
        .token_with(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", "wrong-secret"),
                (
                    "scope",
                    "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
                ),
            ],
            &[("Origin", "http://localhost:5002")],
        )
        .await;
    assert_eq!(bad.status, 401);
    app.discovery(true).await;

    let all = requests(&app, "").await;
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(DAEMON_SECRET) && !text.contains("wrong-secret"),
        "{text}"
    );
    let tokens = requests(&app, "?endpoint=token").await;
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["client_id"], DAEMON);
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["status"], 200);
    assert!(tokens[0].get("error_code").is_none());
    assert_eq!(tokens[1]["status"], 401);
    assert_eq!(tokens[1]["error_code"], 7000215);
    assert_eq!(tokens[1]["origin"], "http://localhost:5002");
    let secret = tokens[1]["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == "client_secret")
        .unwrap()[1]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("<redacted:"), "{secret}");
    assert_eq!(requests(&app, "?endpoint=discovery").await.len(), 1);
    assert_eq!(requests(&app, "?error_code=7000215").await.len(), 1);
    let newest = requests(&app, "?limit=1").await;
    assert_eq!(newest[0]["endpoint"], "discovery");
    let after = requests(&app, &format!("?after={}", tokens[1]["id"])).await;
    assert_eq!(after.len(), 1);

    let (status, _) = app.mock(Method::DELETE, "requests", None).await;
    assert_eq!(status, 204);
    // The listing itself is not a protocol request: the log is empty.
    assert!(requests(&app, "").await.is_empty());
}

/// A post's query (msal-browser sends `x-client-SKU` and `x-client-VER` there) and its form are
/// both logged, the query's first; an entry read twice, or once before a later request and once
/// after, reads the same.
#[tokio::test]
async fn a_posts_query_and_form_are_both_logged_and_read_the_same_every_time() {
    let app = TestApp::spawn().await;
    let url = format!(
        "{}?x-client-SKU=msal.js.browser&x-client-VER=4.0.0",
        app.token_url()
    );
    assert_eq!(app.daemon_token_at(&url).await.status, 200);
    let first = requests(&app, "?endpoint=token").await;
    assert_eq!(first, requests(&app, "?endpoint=token").await);
    assert_eq!(app.daemon_token().await.status, 200);
    let second = requests(&app, "?endpoint=token").await;
    assert_eq!(second.len(), 2);
    assert_eq!(first[0], second[0]);
    let names: Vec<&str> = first[0]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "x-client-SKU",
            "x-client-VER",
            "grant_type",
            "client_id",
            "client_secret",
            "scope"
        ]
    );
    assert_eq!(first[0]["client_id"], DAEMON);
    assert_eq!(second[1]["client_id"], DAEMON);
    assert_eq!(second[1]["grant_type"], "client_credentials");
    assert!(!serde_json::to_string(&second)
        .unwrap()
        .contains(DAEMON_SECRET));
}

fn rules(findings: &Value) -> Vec<String> {
    findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn findings_report_a_reused_code_a_missing_pkce_a_reused_refresh_token_and_more() {
    let app = TestApp::spawn().await;
    let client = app.client();

    // A clean authorization request finds nothing.
    client
        .get(authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT)))
        .send()
        .await
        .unwrap();
    let (_, f) = app.mock(Method::GET, "findings", None).await;
    assert_eq!(rules(&f), Vec::<String>::new(), "{f}");

    // No PKCE, no state.
    let careless = without(
        without(code_request(BFF, BFF_REDIRECT), "code_challenge"),
        "state",
    );
    client
        .get(authorize_url(&app.https, &careless))
        .send()
        .await
        .unwrap();
    // A code redeemed twice; a refresh token used twice.
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let first = app.redeem_bff(&code).await;
    assert_eq!(first.status, 200);
    app.redeem_bff(&code).await;
    let rt = first.str("refresh_token").to_string();
    app.refresh_bff(&rt, None).await;
    app.refresh_bff(&rt, None).await;
    // An ID token as a bearer token.
    client
        .get(format!("{}/oidc/userinfo", app.https))
        .bearer_auth(first.str("id_token"))
        .send()
        .await
        .unwrap();
    // A public client sending a secret.
    app.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", SPA),
        ("client_secret", "a-secret"),
        ("code", "x"),
        ("redirect_uri", SPA_REDIRECT),
    ])
    .await;

    let (_, f) = app.mock(Method::GET, "findings", None).await;
    let found = rules(&f);
    for rule in [
        "pkce-missing",
        "state-missing",
        "code-reused",
        "refresh-token-reused",
        "id-token-as-bearer",
        "secret-from-public-client",
    ] {
        assert!(found.contains(&rule.to_string()), "{rule} in {f}");
    }
    // Each finding names its request and where the rule comes from.
    let log = requests(&app, "").await;
    for finding in f["findings"].as_array().unwrap() {
        let id = finding["request_id"].as_u64().unwrap();
        let request = log
            .iter()
            .find(|r| r["id"] == id)
            .expect("the request is logged");
        assert!(!finding["reference"].as_str().unwrap().is_empty());
        match finding["rule"].as_str().unwrap() {
            "pkce-missing" | "state-missing" => assert_eq!(request["endpoint"], "authorize"),
            "code-reused" => assert_eq!(request["grant_type"], "authorization_code"),
            "refresh-token-reused" => assert_eq!(request["grant_type"], "refresh_token"),
            "id-token-as-bearer" => assert_eq!(request["endpoint"], "userinfo"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn with_the_request_log_off_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(dir.path().to_path_buf());
    settings.request_log = false;
    let app = TestApp::spawn_with(settings).await;
    app.discovery(true).await;
    assert!(requests(&app, "").await.is_empty());
}
