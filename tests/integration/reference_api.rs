//! The reference resource API (`entra-mock api`, issue 10 item 3) on port 0 against a real
//! entra-mock: tasks per user, RFC 6750 refusals, the authentication context's claims challenge, CORS for the SPA only.

use entra_mock::clients::api::{self, ApiArgs};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const SPA_ORIGIN: &str = "http://localhost:5002";

pub fn start_api(app: &TestApp) -> String {
    let args = ApiArgs {
        authority: entra_mock::clients::Authority {
            host: app.https.clone(),
            tenant_id: TENANT.into(),
        },
        client_id: API.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        spa_origin: SPA_ORIGIN.into(),
        ca_file: None,
    };
    let running = api::start(&args, Some(&app.ca_pem)).unwrap();
    tokio::spawn(running.server);
    format!("http://{}", running.addr)
}

async fn token(app: &TestApp, body: Value) -> String {
    let (status, minted) = app.mock(Method::POST, "tokens", Some(body)).await;
    assert_eq!(status, 200, "{minted}");
    minted["token"].as_str().unwrap().to_string()
}

fn alice(amr: &[&str]) -> Value {
    json!({"type": "access", "client_id": SPA, "user": ALICE, "scope": API_SCOPE, "amr": amr})
}

#[tokio::test]
async fn the_api_keeps_tasks_per_user_and_refuses_as_rfc_6750_says() {
    let app = TestApp::spawn().await;
    let base = start_api(&app);
    let http = reqwest::Client::new();
    let alice_token = token(&app, alice(&["pwd"])).await;

    let res = http
        .post(format!("{base}/tasks"))
        .bearer_auth(&alice_token)
        .json(&json!({"title": "write the tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let list: Value = http
        .get(format!("{base}/tasks"))
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["owner"], ALICE_OID);
    assert_eq!(list["tasks"][0]["title"], "write the tests");
    // Bob sees his own (empty) list.
    let bob = token(
        &app,
        json!({"type": "access", "client_id": SPA, "user": BOB, "scope": API_SCOPE}),
    )
    .await;
    let list: Value = http
        .get(format!("{base}/tasks"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"], json!([]));
    // An app with the role has its own list.
    let daemon = token(
        &app,
        json!({"type": "access", "client_id": DAEMON, "scope": "api://22223333-cccc-4444-dddd-5555eeee6666/.default"}),
    )
    .await;
    let res = http
        .get(format!("{base}/tasks"))
        .bearer_auth(&daemon)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // No token: 401 `Bearer`; a bad one: invalid_token naming why; no permission: 403.
    let res = http.get(format!("{base}/tasks")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let expired = token(&app, json!({"type": "access", "client_id": SPA, "user": ALICE, "scope": API_SCOPE, "defect": "expired"})).await;
    let res = http
        .get(format!("{base}/tasks"))
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.contains("error=\"invalid_token\"") && www.contains("expired"),
        "{www}"
    );
    let scopeless = token(&app, json!({"type": "access", "client_id": SPA, "user": ALICE, "scope": API_SCOPE, "defect": "missing-scope"})).await;
    let res = http
        .get(format!("{base}/tasks"))
        .bearer_auth(&scopeless)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn admin_calls_need_the_authentication_context_and_get_entras_claims_challenge_without_it() {
    let app = TestApp::spawn().await;
    let base = start_api(&app);
    let http = reqwest::Client::new();
    // MFA alone is not the context: a v2.0 access token carries no `amr` at all in Entra.
    let res = http
        .post(format!("{base}/tasks/admin"))
        .bearer_auth(token(&app, alice(&["pwd", "otp", "mfa"])).await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let authorize = format!("{}/{TENANT}/oauth2/v2.0/authorize", app.https);
    assert!(
        www.starts_with(&format!(
            "Bearer realm=\"{TENANT}\", authorization_uri=\"{authorize}\", error=\"insufficient_claims\""
        )),
        "{www}"
    );
    let b64 = www.split("claims=\"").nth(1).unwrap().trim_end_matches('"');
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims,
        json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}})
    );

    let mut other_context = alice(&["pwd"]);
    other_context["claims"] = json!({"acrs": ["c2"]});
    let res = http
        .post(format!("{base}/tasks/admin"))
        .bearer_auth(token(&app, other_context).await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let mut stepped_up = alice(&["pwd", "otp", "mfa"]);
    stepped_up["claims"] = json!({"acrs": ["c1"]});
    let res = http
        .post(format!("{base}/tasks/admin"))
        .bearer_auth(token(&app, stepped_up).await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"admin": true, "acrs": ["c1"]}));
    crate::conformance::covered(
        &["api-claims-challenge"],
        "reference_api::admin_calls_need_the_authentication_context_and_get_entras_claims_challenge_without_it",
    );
}

#[tokio::test]
async fn cors_answers_the_spas_origin_only() {
    let app = TestApp::spawn().await;
    let base = start_api(&app);
    let http = reqwest::Client::new();
    for (origin, allowed) in [(SPA_ORIGIN, true), ("https://evil.example", false)] {
        let res = http
            .request(Method::OPTIONS, format!("{base}/tasks"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(
            res.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string()),
            allowed.then(|| SPA_ORIGIN.to_string()),
            "{origin}"
        );
        let res = http
            .get(format!("{base}/tasks"))
            .header("Origin", origin)
            .bearer_auth(token(&app, alice(&["pwd"])).await)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers().contains_key("access-control-allow-origin"),
            allowed
        );
    }
}
