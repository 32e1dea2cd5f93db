//! Workload identity federation (issue 13 item 6): `daemon` trusts entra-mock's test issuer
//! (`{base}/_mock/federation`) for subject `repo:contoso/app:ref:refs/heads/main` and audience
//! `api://AzureADTokenExchange`; a client-credentials request with such a token as its
//! `client_assertion` gets an app token, the token's keys fetched through the issuer's own OIDC
//! discovery; Entra's errors for an unknown issuer (700211), audience (700212) or subject
//! (700213), an expired token (700024), a bad signature (700027) and an unreachable issuer (50166).

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::token_helpers::*;

const SUBJECT: &str = "repo:contoso/app:ref:refs/heads/main";

/// A token of the test issuer, minted through `base` (which names the issuer).
async fn ci_token(app: &TestApp, base: &str, body: serde_json::Value) -> String {
    let res = app
        .client()
        .post(format!("{base}/_mock/federation/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["issuer"], format!("{base}/_mock/federation"));
    v["token"].as_str().unwrap().to_string()
}

async fn federated(app: &TestApp, assertion: &str) -> Answer {
    app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        (
            "scope",
            "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
        ),
    ])
    .await
}

#[tokio::test]
async fn a_ci_token_of_the_test_issuer_is_daemons_credential() {
    let app = TestApp::spawn().await;
    // The issuer's discovery and keys are public, as a CI provider's are.
    let discovery = get_json(
        &app.client(),
        &format!(
            "{}/_mock/federation/.well-known/openid-configuration",
            app.https
        ),
    )
    .await;
    assert_eq!(
        discovery["issuer"],
        format!("{}/_mock/federation", app.https)
    );
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/_mock/federation/keys", app.https)
    );
    let token = ci_token(&app, &app.https, json!({"subject": SUBJECT})).await;
    let (header, claims) = jwt_parts(&token);
    assert_eq!(claims["aud"], "api://AzureADTokenExchange");
    assert_eq!(claims["sub"], SUBJECT);
    assert!(header["kid"].is_string());

    let a = federated(&app, &token).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["azp"], DAEMON);
    assert_eq!(access["roles"], json!(["Tasks.ReadWrite.All"]));
    assert_eq!(access["azpacr"], "2");
    // The token may be sent again while it is valid (azure-identity re-reads the same file).
    assert_eq!(federated(&app, &token).await.status, 200);
}

#[tokio::test]
async fn tokens_the_credential_does_not_match_get_entras_errors() {
    let app = TestApp::spawn().await;
    let other_branch = ci_token(
        &app,
        &app.https,
        json!({"subject": "repo:contoso/app:ref:refs/heads/dev"}),
    )
    .await;
    federated(&app, &other_branch)
        .await
        .assert_error(401, "invalid_client", 700213);
    // The same subject in another case: refused, with Entra's hint (AADSTS7002138).
    let other_case = ci_token(
        &app,
        &app.https,
        json!({"subject": SUBJECT.replace("contoso", "Contoso")}),
    )
    .await;
    let a = federated(&app, &other_case).await;
    a.assert_error(401, "invalid_client", 7002138);
    assert!(a
        .str("error_description")
        .contains("case-insensitive comparison"));
    let other_audience = ci_token(
        &app,
        &app.https,
        json!({"subject": SUBJECT, "audience": "api://SomethingElse"}),
    )
    .await;
    federated(&app, &other_audience)
        .await
        .assert_error(401, "invalid_client", 700212);
    // The same issuer reached at another URL is another issuer.
    let other_issuer = ci_token(&app, &app.http, json!({"subject": SUBJECT})).await;
    let a = federated(&app, &other_issuer).await;
    a.assert_error(401, "invalid_client", 700211);
    assert!(a.str("error_description").contains(&app.http), "{}", a.body);
    // A forged signature.
    let good = ci_token(&app, &app.https, json!({"subject": SUBJECT})).await;
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let flipped = if parts[2].as_bytes()[10] == b'A' {
        "B"
    } else {
        "A"
    };
    parts[2].replace_range(10..11, flipped);
    federated(&app, &parts.join("."))
        .await
        .assert_error(401, "invalid_client", 700027);
    // Ten minutes and the five of tolerated skew later, it has expired.
    app.state.clock.advance(600 + 301);
    federated(&app, &good)
        .await
        .assert_error(401, "invalid_client", 700024);
}

#[tokio::test]
async fn an_external_issuers_keys_are_fetched_through_its_discovery_document() {
    let app = TestApp::spawn().await;
    // daemon trusts, besides its own, the test issuer as reached over plain HTTP: a second
    // issuer whose keys entra-mock must fetch from it, and one that answers nothing.
    let http_issuer = format!("{}/_mock/federation", app.http);
    let (status, body) = app
        .mock(
            Method::PATCH,
            "applications/daemon",
            Some(json!({"federatedIdentityCredentials": [
                {"name": "http", "issuer": http_issuer, "subject": "job-1",
                 "audiences": ["api://AzureADTokenExchange"]},
                {"name": "gone", "issuer": "http://127.0.0.1:9/issuer", "subject": "job-2"},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = ci_token(&app, &app.http, json!({"subject": "job-1"})).await;
    let a = federated(&app, &token).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A token naming the unreachable issuer: its keys cannot be fetched.
    let mut claims = jwt_parts(&token).1;
    claims["iss"] = json!("http://127.0.0.1:9/issuer");
    claims["sub"] = json!("job-2");
    let unsigned = format!(
        "{}.{}.{}",
        token.split('.').next().unwrap(),
        base64_url(&claims.to_string()),
        token.split('.').nth(2).unwrap()
    );
    federated(&app, &unsigned)
        .await
        .assert_error(401, "invalid_client", 50166);
}

#[tokio::test]
async fn fixture_credentials_are_validated() {
    let app = TestApp::spawn().await;
    for (bad, why) in [
        (
            json!({"name": "x", "issuer": "not a url", "subject": "s"}),
            "issuer",
        ),
        (
            json!({"name": "x", "issuer": "https://i", "subject": ""}),
            "subject",
        ),
        (
            json!({"name": "x", "issuer": "https://i", "subject": "s", "audiences": []}),
            "audiences",
        ),
    ] {
        let (status, body) = app
            .mock(
                Method::PATCH,
                "applications/daemon",
                Some(json!({"federatedIdentityCredentials": [bad]})),
            )
            .await;
        assert_eq!(status, 400, "{why}: {body}");
        assert!(body.to_string().contains(why), "{why}: {body}");
    }
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn under_an_admin_token_the_issuer_documents_stay_public_and_minting_needs_the_token() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.admin_token = Some(entra_mock::secret::Secret::new("s3cret-admin"));
    let app = TestApp::spawn_with(settings).await;
    for path in ["/.well-known/openid-configuration", "/keys"] {
        let res = app
            .client()
            .get(format!("{}/_mock/federation{path}", app.https))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let mint = |token: Option<&'static str>| {
        let mut req = app
            .client()
            .post(format!("{}/_mock/federation/token", app.https))
            .json(&json!({"subject": SUBJECT}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(mint(None).await.unwrap().status(), 401);
    let res = mint(Some("s3cret-admin")).await.unwrap();
    assert_eq!(res.status(), 200);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(federated(&app, &token).await.status, 200);
}
