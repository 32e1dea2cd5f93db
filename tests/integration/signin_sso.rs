//! Part 2: the SSO session at the identity provider: silent sign-in, prompt, max_age, account
//! picker, "Stay signed in?".

use crate::helpers::*;
use crate::signin_helpers::*;

#[tokio::test]
async fn a_second_authorize_from_another_app_signs_in_without_pages() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let first = sign_in_alice(&app, &client).await;
    let session = stored_code(&app, &first).await.session_id;

    let res = get(
        &client,
        &authorize_url(&app.https, &code_request(SPA, SPA_REDIRECT)),
    )
    .await;
    assert!(
        set_cookie(&res, "ESTSAUTH").is_none(),
        "the session is reused"
    );
    let loc = location(&res);
    assert_eq!(without_query(&loc), SPA_REDIRECT);
    let p = reply_params(&loc);
    assert_eq!(p["session_state"], session);
    let c = stored_code(&app, &p["code"]).await;
    assert_eq!(c.client_id, SPA);
    assert_eq!(c.session_id, session);
    assert_eq!(c.amr_json, r#"["pwd"]"#);
    assert_eq!(
        app.state.store.session_apps(&session).await.unwrap(),
        vec![BFF.to_string(), SPA.to_string()]
    );
}

#[tokio::test]
async fn prompt_none_with_a_session_gives_a_code_without_pages() {
    let app = TestApp::spawn().await;
    let client = app.client();
    sign_in_alice(&app, &client).await;
    let params = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(stored_code(&app, &p["code"]).await.user_oid, ALICE_OID);
    assert_eq!(p["state"], STATE);
}

#[tokio::test]
async fn prompt_none_without_a_session_gives_login_required() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(p["error"], "login_required");
    assert!(p["error_description"].starts_with("AADSTS50058:"));
    assert_eq!(p["state"], STATE);
    assert!(!p.contains_key("code"));
}

#[tokio::test]
async fn prompt_none_for_another_user_gives_interaction_required_and_for_an_ended_session_login_required(
) {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = sign_in_alice(&app, &client).await;
    let params = with(
        with(code_request(SPA, SPA_REDIRECT), "prompt", "none"),
        "login_hint",
        BOB,
    );
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(p["error"], "interaction_required");
    assert!(p["error_description"].starts_with("AADSTS16000:"), "{p:?}");

    let session = stored_code(&app, &code).await.session_id;
    app.state
        .store
        .end_session(&session, app.state.clock.unix())
        .await
        .unwrap();
    let params = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(p["error"], "login_required");
}

#[tokio::test]
async fn prompt_none_needing_mfa_the_session_lacks_gives_interaction_required() {
    let app = TestApp::spawn().await;
    let client = app.client();
    sign_in_alice(&app, &client).await;
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let params = with(
        with(code_request(SPA, SPA_REDIRECT), "prompt", "none"),
        "claims",
        claims,
    );
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(p["error"], "interaction_required");
    assert!(
        p["error_description"].starts_with("AADSTS50079:"),
        "alice has no method"
    );
    // Without prompt=none the session is stepped up: straight to MFA, no password.
    let params = with(code_request(SPA, SPA_REDIRECT), "claims", claims);
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("More information required"));
}

#[tokio::test]
async fn prompt_login_shows_the_pages_again() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let first = sign_in_alice(&app, &client).await;
    let params = with(code_request(BFF, BFF_REDIRECT), "prompt", "login");
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("name=\"loginfmt\""));
    let html = page(submit(&client, &app.https, &html, &[("loginfmt", ALICE)]).await).await;
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert!(set_cookie(&res, "ESTSAUTH").is_some(), "a new session");
    let p = reply_params(&location(&res));
    let new_session = stored_code(&app, &p["code"]).await.session_id;
    let old_session = stored_code(&app, &first).await.session_id;
    assert_ne!(new_session, old_session);
    // The old session ended; its apps moved to the new one (for front-channel logout).
    assert!(!app.session_active(&old_session).await);
    assert_eq!(
        app.state.store.session_apps(&new_session).await.unwrap(),
        vec![BFF.to_string()]
    );
}

#[tokio::test]
async fn max_age_forces_reauthentication_and_asks_for_auth_time() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let first = sign_in_alice(&app, &client).await;
    let first_auth = stored_code(&app, &first).await.auth_time;

    // Within max_age: SSO, with include_auth_time set.
    let params = with(code_request(SPA, SPA_REDIRECT), "max_age", "300");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    let c = stored_code(&app, &p["code"]).await;
    assert!(c.include_auth_time);
    assert_eq!(c.auth_time, first_auth);

    // Past max_age: the password page for the signed-in user, then a fresh auth_time.
    app.state.clock.advance(301);
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("name=\"passwd\"") && html.contains(ALICE));
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    let p = reply_params(&location(&res));
    let c = stored_code(&app, &p["code"]).await;
    assert!(c.include_auth_time);
    assert!(c.auth_time >= first_auth + 301);

    // And with prompt=none past max_age: login_required.
    app.state.clock.advance(301);
    let params = with(params, "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(p["error"], "login_required");
}

#[tokio::test]
async fn prompt_select_account_shows_the_account_picker() {
    let app = TestApp::spawn().await;
    let client = app.client();
    sign_in_alice(&app, &client).await;
    let params = with(code_request(SPA, SPA_REDIRECT), "prompt", "select_account");
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains(ALICE));
    assert!(html.contains("Use another account"));
    // Picking the signed-in account answers without a password.
    let res = submit(&client, &app.https, &html, &[("account", ALICE_OID)]).await;
    let p = reply_params(&location(&res));
    assert_eq!(stored_code(&app, &p["code"]).await.user_oid, ALICE_OID);
    // "Use another account" leads to the username page.
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    let html = page(submit(&client, &app.https, &html, &[("account", "other")]).await).await;
    assert!(html.contains("name=\"loginfmt\""));
}

#[tokio::test]
async fn stay_signed_in_yes_makes_the_session_cookie_persistent() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    let res = sign_in_to_bff(&app, &client, ALICE).await;
    let kmsi = page(res).await;
    assert!(kmsi.contains("Stay signed in?"));
    assert!(kmsi.contains("id=\"idBtn_Back\""));
    let res = submit(&client, &app.https, &kmsi, &[("action", "yes")]).await;
    // As Entra names them: the persistent session rides in ESTSAUTHPERSISTENT.
    let cookie = set_cookie(&res, "ESTSAUTHPERSISTENT").unwrap();
    assert!(cookie.contains("Max-Age=7776000"), "{cookie}");
    let other = set_cookie(&res, "ESTSAUTH").unwrap();
    assert!(other.starts_with("ESTSAUTH=;"), "removed: {other}");
    let p = reply_params(&location(&res));
    let session = stored_code(&app, &p["code"]).await.session_id;
    assert!(
        app.state
            .store
            .active_session(&session, app.state.clock.unix())
            .await
            .unwrap()
            .unwrap()
            .persistent
    );
}

#[tokio::test]
async fn stay_signed_in_no_keeps_a_browser_session_cookie() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    let res = sign_in_to_bff(&app, &client, ALICE).await;
    let kmsi = page(res).await;
    let res = submit(&client, &app.https, &kmsi, &[("action", "no")]).await;
    let cookie = set_cookie(&res, "ESTSAUTH").unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    let p = reply_params(&location(&res));
    let session = stored_code(&app, &p["code"]).await.session_id;
    assert!(
        !app.state
            .store
            .active_session(&session, app.state.clock.unix())
            .await
            .unwrap()
            .unwrap()
            .persistent
    );
}

#[tokio::test]
async fn sso_keeps_the_mfa_of_the_session_for_apps_that_need_it() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = page(sign_in_to_bff(&app, &client, BOB).await).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&client, &app.https, &html, &[("otc", &code)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
    let params = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn a_later_sign_in_replaces_an_earlier_persistent_session_in_the_browser() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    // 1. alice stays signed in (ESTSAUTHPERSISTENT).
    let kmsi = page(sign_in_to_bff(&app, &client, ALICE).await).await;
    submit(&client, &app.https, &kmsi, &[("action", "yes")]).await;
    // 2. bob signs in with prompt=login and does not (ESTSAUTH); alice's cookie goes.
    let params = with(code_request(BFF, BFF_REDIRECT), "prompt", "login");
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    let html = page(submit(&client, &app.https, &html, &[("loginfmt", BOB)]).await).await;
    let html = page(submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let html = page(submit(&client, &app.https, &html, &[("otc", &code)]).await).await;
    let res = submit(&client, &app.https, &html, &[("action", "no")]).await;
    let removed = set_cookie(&res, "ESTSAUTHPERSISTENT").unwrap();
    assert!(removed.starts_with("ESTSAUTHPERSISTENT=;"), "{removed}");
    // 3. Silent sign-in answers for bob, the browser's newest session.
    let params = with(code_request(BFF, BFF_REDIRECT), "prompt", "none");
    let p = reply_params(&location(
        &get(&client, &authorize_url(&app.https, &params)).await,
    ));
    let user = stored_code(&app, &p["code"]).await.user_oid;
    assert_eq!(user, BOB_OID, "{p:?}");
}

#[tokio::test]
async fn a_session_unused_for_a_day_expires_and_each_silent_sign_in_keeps_it_alive() {
    let app = TestApp::spawn().await;
    let client = app.client();
    sign_in_alice(&app, &client).await;
    let silent = with(code_request(BFF, BFF_REDIRECT), "prompt", "none");
    let url = authorize_url(&app.https, &silent);
    // Used every 20 hours: the 24 hours of inactivity start again each time.
    for _ in 0..3 {
        app.state.clock.advance(20 * 3600);
        let p = reply_params(&location(&get(&client, &url).await));
        assert!(p.contains_key("code"), "{p:?}");
    }
    // Then a day and a second unused: gone, as Entra's browser-session token.
    app.state.clock.advance(24 * 3600 + 1);
    let p = reply_params(&location(&get(&client, &url).await));
    assert_eq!(p["error"], "login_required", "{p:?}");
}
