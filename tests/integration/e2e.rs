//! The two flows of README's "The flow, step by step" end to end, over real HTTPS: the sign-in pages, the
//! code, the token endpoint, validation against the served JWKS, refresh, and logout.

use crate::helpers::*;
use crate::signin_helpers::{
    authorize_url, code_of, code_request, get, location, reply_params, sign_in, with,
    without_query, NONCE, STATE, VERIFIER,
};

#[tokio::test]
async fn the_bff_flow_signs_in_redeems_validates_refreshes_and_logs_out() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let scope = format!("openid profile offline_access {API_SCOPE}");

    // 1-6: the BFF redirects to /authorize; alice gives username and password; the code comes back.
    let params = with(code_request(BFF, BFF_REDIRECT), "scope", &scope);
    let res = sign_in(&app, &browser, &params, ALICE, PASSWORD).await;
    let loc = location(&res);
    assert_eq!(without_query(&loc), BFF_REDIRECT);
    let reply = reply_params(&loc);
    assert_eq!(reply["state"], STATE);
    let code = reply["code"].clone();

    // 7-9: the BFF redeems the code with its client secret.
    let tokens = app.redeem_bff_pkce(&code, VERIFIER).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    assert_eq!(tokens.str("token_type"), "Bearer");
    let access = tokens.str("access_token").to_string();
    let refresh = tokens.str("refresh_token").to_string();

    // 14-15: the tokens validate against the JWKS; the ID token carries the nonce and the session.
    let id = app.validate(tokens.str("id_token"), true, BFF).await;
    assert_eq!(id["nonce"], NONCE);
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["sid"], reply["session_state"].as_str());
    let at = app.validate(&access, true, API).await;
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["azp"], BFF);
    assert_eq!(at["amr"], serde_json::json!(["pwd"]));

    // A second app signs in without pages: single sign-on.
    let silent = get(
        &browser,
        &authorize_url(
            &app.https,
            &with(code_request(BFF, BFF_REDIRECT), "prompt", "none"),
        ),
    )
    .await;
    assert!(!code_of(&silent).is_empty());

    // 17-19: the access token expires; the refresh token gets new tokens and is rotated.
    app.state.clock.advance(2 * 3600);
    let renewed = app.refresh_bff(&refresh, None).await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    assert_ne!(renewed.str("refresh_token"), refresh);
    assert_ne!(renewed.str("access_token"), access);

    // Logout: the SSO session ends, its cookie is cleared, and the user is sent back.
    let res = browser
        .get(format!(
            "{}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri={}&state=bye&client_id={BFF}",
            app.https,
            url::form_urlencoded::byte_serialize(b"http://localhost:5001/").collect::<String>()
        ))
        .send()
        .await
        .unwrap();
    let cleared = res.headers().get_all("set-cookie").iter().any(|c| {
        c.to_str().unwrap().starts_with("ESTSAUTH=;") || c.to_str().unwrap().contains("ESTSAUTH=; ")
    });
    assert!(cleared, "the SSO cookie is cleared: {:?}", res.headers());
    let body = res.text().await.unwrap();
    // The BFF has a front-channel logout URL: it is loaded with the session id.
    assert!(
        body.contains("http://localhost:5001/auth/frontchannel-logout?sid="),
        "{body}"
    );

    // After logout, prompt=none no longer signs in.
    let after = get(
        &browser,
        &authorize_url(
            &app.https,
            &with(code_request(BFF, BFF_REDIRECT), "prompt", "none"),
        ),
    )
    .await;
    let p = reply_params(&location(&after));
    assert_eq!(p["error"], "login_required");
}

#[tokio::test]
async fn the_spa_flow_redeems_cross_origin_with_pkce_and_refreshes() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let scope = format!("openid profile offline_access {API_SCOPE}");

    // 21-27: the SPA redirects with PKCE; alice signs in; the code comes back to the SPA.
    let params = with(code_request(SPA, SPA_REDIRECT), "scope", &scope);
    let code = code_of(&sign_in(&app, &browser, &params, ALICE, PASSWORD).await);

    // 28-29: the SPA redeems it from the browser (Origin header) with the verifier, no secret.
    let origin = [("Origin", "http://localhost:5002")];
    let tokens = app
        .token_with(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", &code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", VERIFIER),
                ("scope", &scope),
            ],
            &origin,
        )
        .await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    assert_eq!(
        tokens.header("access-control-allow-origin"),
        Some("http://localhost:5002")
    );

    // 30-33: the API validates the bearer token.
    let at = app.validate(tokens.str("access_token"), true, API).await;
    assert_eq!(at["azp"], SPA);
    assert_eq!(at["azpacr"], "0");

    // 34-38: the token is refreshed from the browser too.
    let renewed = app
        .token_with(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA),
                ("refresh_token", tokens.str("refresh_token")),
                ("scope", &scope),
            ],
            &origin,
        )
        .await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    app.validate(renewed.str("access_token"), true, API).await;
}

#[tokio::test]
async fn bob_signs_in_with_totp_and_his_tokens_say_so() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let code = crate::signin_helpers::sign_in_bob(&app, &browser, BFF, BFF_REDIRECT).await;
    let tokens = app.redeem_bff_pkce(&code, VERIFIER).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    let id = app.validate(tokens.str("id_token"), true, BFF).await;
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}
