//! MSAL's silent sign-in (issue 8 item 1): msal-browser's `ssoSilent` and the hidden-iframe
//! fallback send `prompt=none` with the ID token's opaque `login_hint` claim (or `sid`); the SSO
//! session it names answers with a code, another user gets Entra's interaction error.

use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::jwt_parts;

/// alice signs in to the BFF; her ID token's claims and the browser.
async fn alice_id_token(app: &TestApp) -> (reqwest::Client, serde_json::Value) {
    let client = app.client();
    let code = sign_in_alice(app, &client).await;
    let a = app.redeem_bff_pkce(&code, VERIFIER).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, id) = jwt_parts(a.str("id_token"));
    (client, id)
}

async fn silent(
    app: &TestApp,
    client: &reqwest::Client,
    extra: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut params = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    for (k, v) in extra {
        params = with(params, k, v);
    }
    reply_params(&location(
        &get(client, &authorize_url(&app.https, &params)).await,
    ))
}

#[tokio::test]
async fn the_login_hint_claim_sent_back_selects_the_users_session_without_pages() {
    let app = TestApp::spawn().await;
    let (client, id) = alice_id_token(&app).await;
    let hint = id["login_hint"]
        .as_str()
        .expect("the bff asks for login_hint");
    let p = silent(&app, &client, &[("login_hint", hint)]).await;
    assert!(p.contains_key("code"), "{p:?}");
    assert_eq!(p["session_state"], id["sid"].as_str().unwrap());
}

#[tokio::test]
async fn a_login_hint_claim_of_another_user_gets_interaction_required() {
    let app = TestApp::spawn().await;
    let (client, _) = alice_id_token(&app).await;
    // bob's hint, as his own ID token would carry it.
    let bob_client = app.client();
    let code = sign_in_bob(&app, &bob_client, BFF, BFF_REDIRECT).await;
    let a = app.redeem_bff_pkce(&code, VERIFIER).await;
    let (_, bob_id) = jwt_parts(a.str("id_token"));
    let p = silent(
        &app,
        &client,
        &[("login_hint", bob_id["login_hint"].as_str().unwrap())],
    )
    .await;
    assert_eq!(p["error"], "interaction_required", "{p:?}");
    assert!(p["error_description"].starts_with("AADSTS16000:"));
}

#[tokio::test]
async fn sid_selects_the_session_it_names_and_another_sid_is_refused() {
    let app = TestApp::spawn().await;
    let (client, id) = alice_id_token(&app).await;
    let p = silent(&app, &client, &[("sid", id["sid"].as_str().unwrap())]).await;
    assert!(p.contains_key("code"), "{p:?}");
    let p = silent(&app, &client, &[("sid", "a-session-of-someone-else")]).await;
    assert_eq!(p["error"], "interaction_required", "{p:?}");
}

#[tokio::test]
async fn the_login_hint_claim_skips_the_username_page_when_there_is_no_session() {
    let app = TestApp::spawn().await;
    let (_, id) = alice_id_token(&app).await;
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "login_hint",
        id["login_hint"].as_str().unwrap(),
    );
    let html = page(get(&app.client(), &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("name=\"passwd\""), "{html}");
    assert!(html.contains(ALICE), "the password page names the user");
}

#[tokio::test]
async fn the_sso_cookie_is_an_opaque_secret_and_a_sid_used_as_cookie_signs_nobody_in() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = code_request(BFF, BFF_REDIRECT);
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let cookie = set_cookie(&res, "ESTSAUTH").expect("an SSO cookie");
    let sid = reply_params(&location(&res))["session_state"].clone();
    assert!(
        !cookie.contains(&sid),
        "the cookie is not the session id: {cookie}"
    );

    // Someone holding alice's ID token (its `sid`) forges the cookie: no session.
    let (forger, jar) = crate::token_helpers::client_with_jar(&app);
    let url: reqwest::Url = app.https.parse().unwrap();
    jar.add_cookie_str(&format!("ESTSAUTH={sid}; Path=/; Secure"), &url);
    let silent = with(code_request(BFF, BFF_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&forger, &authorize_url(&app.https, &silent)).await,
    ));
    assert_eq!(p["error"], "login_required", "{p:?}");
    // The real cookie still works.
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &silent)).await,
    ));
    assert!(p.contains_key("code"), "{p:?}");
}
