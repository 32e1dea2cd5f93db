//! The v1.0 endpoints as ADAL-era clients and Microsoft.IdentityModel call them: `resource=`
//! instead of scopes, v1 token responses (times as strings, `expires_on`, `resource`), v1 ID
//! tokens, v1 refresh, client credentials and logout, and the v1 discovery document naming them.

use serde_json::Value;

use crate::helpers::*;
use crate::signin_helpers::{code_of, get, page, submit};
use crate::token_helpers::*;

const API_URI: &str = "api://22223333-cccc-4444-dddd-5555eeee6666";

pub fn v1_authorize_url(app: &TestApp, resource: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/{TENANT}/oauth2/authorize", app.https)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", BFF)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", BFF_REDIRECT)
        .append_pair("resource", resource)
        .append_pair("state", "v1-state");
    url.to_string()
}

/// alice signs in at the v1 authorize endpoint; returns the code.
async fn v1_code(app: &TestApp, client: &reqwest::Client, resource: &str) -> String {
    let username = page(get(client, &v1_authorize_url(app, resource)).await).await;
    let password = page(submit(client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    let res = submit(client, &app.https, &password, &[("passwd", PASSWORD)]).await;
    code_of(&res)
}

pub async fn v1_token(app: &TestApp, form: &[(&str, &str)]) -> Answer {
    let res = app
        .client()
        .post(format!("{}/{TENANT}/oauth2/token", app.https))
        .form(form)
        .send()
        .await
        .unwrap();
    answer(res).await
}

fn number_string(body: &Value, field: &str) -> i64 {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in v1: {body}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_v1_client_signs_in_with_resource_and_gets_v1_answers_and_a_v1_id_token() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = v1_code(&app, &client, API_URI).await;
    let a = v1_token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("code", &code),
            ("redirect_uri", BFF_REDIRECT),
            ("resource", API_URI),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The v1 response: numbers as strings, not_before the token's `nbf` (five minutes before the
    // issue, as Entra dates it), expires_on = the issue + expires_in, the resource.
    let expires_in = number_string(&a.body, "expires_in");
    assert_eq!(
        number_string(&a.body, "expires_on"),
        number_string(&a.body, "not_before") + 300 + expires_in
    );
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(
        at["nbf"].as_i64(),
        Some(number_string(&a.body, "not_before"))
    );
    assert_eq!(a.body["resource"], API_URI);
    assert_eq!(a.body["scope"], "access_as_user");
    assert!(a.body["refresh_token"].is_string(), "v1 always refreshes");

    // The access token keeps the version the API accepts (v2 here), for the resource named.
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["scp"], "access_as_user");
    // The ID token is v1: v1 issuer (the v1 document's), unique_name, no preferred_username.
    let id = app.validate(a.str("id_token"), false, BFF).await;
    assert_eq!(id["ver"], "1.0");
    assert_eq!(id["iss"], format!("{}/{TENANT}/", app.https));
    assert_eq!(id["unique_name"], ALICE);
    assert_eq!(id["upn"], ALICE);
    assert_eq!(id["given_name"], "Alice");
    assert_eq!(id["oid"], ALICE_OID);
    assert!(id.get("preferred_username").is_none(), "{id}");
}

#[tokio::test]
async fn a_v1_refresh_token_redeems_for_another_resource_and_keeps_v1_shape() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = v1_code(&app, &client, API_URI).await;
    let first = v1_token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("code", &code),
            ("redirect_uri", BFF_REDIRECT),
        ],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Without `resource` at redemption, the authorization request's resource decides.
    let (_, at) = jwt_parts(first.str("access_token"));
    assert_eq!(at["aud"], API);

    let graph = v1_token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("refresh_token", first.str("refresh_token")),
            ("resource", "https://graph.microsoft.com"),
        ],
    )
    .await;
    assert_eq!(graph.status, 200, "{}", graph.body);
    assert_eq!(graph.body["resource"], "https://graph.microsoft.com");
    let (_, at) = jwt_parts(graph.str("access_token"));
    assert_eq!(at["aud"], "00000003-0000-0000-c000-000000000000");
    assert_eq!(at["ver"], "1.0");
    assert!(graph.body["expires_in"].is_string());
    let (_, id) = jwt_parts(graph.str("id_token"));
    assert_eq!(id["ver"], "1.0");
}

#[tokio::test]
async fn v1_client_credentials_take_the_resource_and_require_it() {
    let app = TestApp::spawn().await;
    let a = v1_token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("resource", API_URI),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["expires_in"], "3599");
    assert_eq!(a.body["resource"], API_URI);
    assert!(a.body.get("refresh_token").is_none());
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["roles"], serde_json::json!(["Tasks.ReadWrite.All"]));

    let missing = v1_token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
        ],
    )
    .await;
    missing.assert_error(400, "invalid_request", 900144);
    assert!(
        missing.body["error_description"]
            .as_str()
            .unwrap()
            .contains("'resource'"),
        "{}",
        missing.body
    );
}

#[tokio::test]
async fn the_v1_document_names_the_v1_endpoints_and_each_answers() {
    let app = TestApp::spawn().await;
    let doc = app.discovery(false).await;
    let base = format!("{}/{TENANT}", app.https);
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/oauth2/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(doc["end_session_endpoint"], format!("{base}/oauth2/logout"));
    let v2 = app.discovery(true).await;
    assert_eq!(
        v2["authorization_endpoint"],
        format!("{base}/oauth2/v2.0/authorize")
    );

    // v1 logout ends the SSO session, notifies the BFF at its front-channel URL and returns to
    // the registered URI.
    let client = app.client();
    v1_code(&app, &client, API_URI).await;
    let res = client
        .get(doc["end_session_endpoint"].as_str().unwrap())
        .query(&[("post_logout_redirect_uri", "http://localhost:5001/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("src=\"http://localhost:5001/auth/frontchannel-logout?sid="),
        "{html}"
    );
    assert!(html.contains("href=\"http://localhost:5001/\""), "{html}");
    // The session is over: the next v1 sign-in asks for the username again.
    let again = page(get(&client, &v1_authorize_url(&app, API_URI)).await).await;
    assert!(again.contains("name=\"loginfmt\""), "{again}");
}
