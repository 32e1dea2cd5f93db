//! Part 2: MFA by TOTP and by passkey, enrolment, lockout, and the amr each method gives.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;

const CAROL_OID: &str = "ca401000-0000-4000-8000-000000000003";
const DAVE_OID: &str = "da4e0000-0000-4000-8000-000000000004";

/// bob's username and password: the TOTP page.
async fn bob_at_totp_page(app: &TestApp, client: &reqwest::Client) -> String {
    let res = sign_in_to_bff(app, client, BOB).await;
    let html = page(res).await;
    assert!(html.contains("name=\"otc\""), "{html}");
    assert!(html.contains("id=\"idSubmit_SAOTCC_Continue\""));
    html
}

#[tokio::test]
async fn bob_signs_in_with_a_totp_code_and_the_amr_says_otp_and_mfa() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = bob_at_totp_page(&app, &client).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&client, &app.https, &html, &[("otc", &code)]).await;
    let p = reply_params(&location(&res));
    assert_eq!(p["state"], STATE);
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "otp", "mfa"]);
    crate::conformance::covered(
        &["bob-totp"],
        "signin_mfa::bob_signs_in_with_a_totp_code_and_the_amr_says_otp_and_mfa",
    );
}

#[tokio::test]
async fn bob_can_sign_in_twice_in_a_row_with_the_helper() {
    let app = TestApp::spawn().await;
    let first = sign_in_bob(&app, &app.client(), BFF, BFF_REDIRECT).await;
    let second = sign_in_bob(&app, &app.client(), SPA, SPA_REDIRECT).await;
    assert_eq!(stored_amr(&app, &first).await, ["pwd", "otp", "mfa"]);
    assert_eq!(stored_code(&app, &second).await.client_id, SPA);
}

#[tokio::test]
async fn a_totp_code_of_the_previous_step_is_accepted() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = bob_at_totp_page(&app, &client).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, -1);
    let res = submit(&client, &app.https, &html, &[("otc", &code)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn a_reused_totp_code_is_refused() {
    let app = TestApp::spawn().await;
    let first = app.client();
    let html = bob_at_totp_page(&app, &first).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&first, &app.https, &html, &[("otc", &code)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));

    // Another browser, same code within its window: refused.
    let second = app.client();
    let html = bob_at_totp_page(&app, &second).await;
    let html = page(submit(&second, &app.https, &html, &[("otc", &code)]).await).await;
    let error = text_of(&html, "idSpan_SAOTCC_Error_OTC").expect("an error on the page");
    assert!(
        error.contains("You didn't enter the expected verification code"),
        "{error}"
    );
    assert!(html.contains("name=\"otc\""));
    // The code of the next step is fine.
    let next = totp_code(&app, BOB_TOTP_SECRET, 1);
    let res = submit(&second, &app.https, &html, &[("otc", &next)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn repeated_wrong_totp_codes_lock_bob_with_aadsts50053() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut html = bob_at_totp_page(&app, &client).await;
    let wrong = wrong_totp_code(&app, BOB_TOTP_SECRET);
    // The built-in tenant locks after 5 wrong codes, for 60 seconds.
    for attempt in 1..=5 {
        html = page(submit(&client, &app.https, &html, &[("otc", &wrong)]).await).await;
        let expected = if attempt < 5 {
            "AADSTS50074"
        } else {
            "AADSTS50053"
        };
        assert!(html.contains(expected), "attempt {attempt}: {html}");
    }
    // Locked: even the right code is refused, and so is the password page of a new sign-in.
    let right = totp_code(&app, BOB_TOTP_SECRET, 0);
    let html = page(submit(&client, &app.https, &html, &[("otc", &right)]).await).await;
    assert!(html.contains("AADSTS50053"));
    let other = app.client();
    let res = sign_in_to_bff(&app, &other, BOB).await;
    let locked = page(res).await;
    assert!(text_of(&locked, "passwordError").is_some_and(|e| e.contains("temporarily locked")));

    // After the lockout the right code works again.
    app.state.clock.advance(61);
    let client3 = app.client();
    let html3 = bob_at_totp_page(&app, &client3).await;
    let code = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&client3, &app.https, &html3, &[("otc", &code)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn dave_enrols_totp_and_then_signs_in_with_it() {
    let app = TestApp::spawn().await;
    let client = app.client();
    // "More information required": dave has to pick a method.
    let res = sign_in_to_bff(&app, &client, DAVE).await;
    let choice = page(res).await;
    assert!(choice.contains("More information required"));
    let enrol = page(submit(&client, &app.https, &choice, &[("method", "totp")]).await).await;
    assert!(enrol.contains("id=\"totpQrCode\""), "a QR code");
    assert!(enrol.contains("src=\"data:image/png;base64,"));
    let secret = text_of(&enrol, "totpSecret").expect("the secret as text");

    // A wrong first code is refused, the right one finishes the sign-in.
    let wrong = wrong_totp_code(&app, &secret);
    let enrol = page(submit(&client, &app.https, &enrol, &[("otc", &wrong)]).await).await;
    assert!(enrol.contains("AADSTS50074"));
    let code = totp_code(&app, &secret, 0);
    let res = submit(&client, &app.https, &enrol, &[("otc", &code)]).await;
    let p = reply_params(&location(&res));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "otp", "mfa"]);
    assert_eq!(stored_code(&app, &p["code"]).await.user_oid, DAVE_OID);

    // Next sign-in (another browser): the TOTP page, with the enrolled secret.
    app.state.clock.advance(30);
    let other = app.client();
    let res = sign_in_to_bff(&app, &other, DAVE).await;
    let html = page(res).await;
    assert!(html.contains("name=\"otc\"") && !html.contains("totpSecret"));
    let code = totp_code(&app, &secret, 0);
    let res = submit(&other, &app.https, &html, &[("otc", &code)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
    crate::conformance::covered(
        &["dave-enrols-totp"],
        "signin_mfa::dave_enrols_totp_and_then_signs_in_with_it",
    );
}

#[tokio::test]
async fn carol_registers_a_passkey_and_then_signs_in_with_it() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut authenticator = SoftAuthenticator::new();

    // 1. carol's fixture says webauthn: the passkey registration page, with its script.
    let res = sign_in_to_bff(&app, &client, CAROL).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"));
    let register = page(res).await;
    assert_eq!(
        attr_of(&register, "id=\"webauthnOptions\"", "data-ceremony").as_deref(),
        Some("create")
    );
    assert!(register.contains("<script src=\"/_signin/webauthn.js\"></script>"));
    let options: serde_json::Value = serde_json::from_str(
        &attr_of(&register, "id=\"webauthnOptions\"", "data-options").unwrap(),
    )
    .unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );

    // 2. Registering leads to signing in with the new passkey.
    let use_it = page(authenticator.complete(&client, &app.https, &register).await).await;
    assert_eq!(
        attr_of(&use_it, "id=\"webauthnOptions\"", "data-ceremony").as_deref(),
        Some("get")
    );
    let res = authenticator.complete(&client, &app.https, &use_it).await;
    let p = reply_params(&location(&res));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "hwk", "mfa"]);
    assert_eq!(app.state.store.passkeys(CAROL_OID).await.unwrap().len(), 1);

    // 3. A later sign-in (another browser) asks for the passkey straight away.
    let other = app.client();
    let res = sign_in(
        &app,
        &other,
        &code_request(SPA, SPA_REDIRECT),
        CAROL,
        PASSWORD,
    )
    .await;
    let html = page(res).await;
    assert_eq!(
        attr_of(&html, "id=\"webauthnOptions\"", "data-ceremony").as_deref(),
        Some("get")
    );
    // A different key is refused; carol's own is accepted.
    let mut stranger = SoftAuthenticator::new();
    let html = page(stranger.complete(&other, &app.https, &html).await).await;
    assert!(html.contains("passkeyError"));
    let res = authenticator.complete(&other, &app.https, &html).await;
    let p = reply_params(&location(&res));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "hwk", "mfa"]);
    crate::conformance::covered(
        &["carol-passkey"],
        "signin_mfa::carol_registers_a_passkey_and_then_signs_in_with_it",
    );
}

#[tokio::test]
async fn passkeys_work_on_the_http_listener_too() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut authenticator = SoftAuthenticator::new();
    let params = code_request(BFF, BFF_REDIRECT);
    let html = page(get(&client, &authorize_url(&app.http, &params)).await).await;
    let html = page(submit(&client, &app.http, &html, &[("loginfmt", CAROL)]).await).await;
    let html = page(submit(&client, &app.http, &html, &[("passwd", PASSWORD)]).await).await;
    let html = page(authenticator.complete(&client, &app.http, &html).await).await;
    let res = authenticator.complete(&client, &app.http, &html).await;
    let sso = set_cookie(&res, "ESTSAUTH").unwrap();
    assert!(sso.contains("HttpOnly") && sso.contains("SameSite=Lax") && !sso.contains("Secure"));
    let p = reply_params(&location(&res));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd", "hwk", "mfa"]);
}

#[tokio::test]
async fn an_app_requiring_mfa_makes_alice_enrol() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "mock.requireMfa", true)
        .spawn()
        .await;
    let client = app.client();
    let res = sign_in_to_bff(&app, &client, ALICE).await;
    assert!(page(res).await.contains("More information required"));
    // The SPA does not require MFA: alice gets in with her password.
    let other = app.client();
    let res = sign_in(
        &app,
        &other,
        &code_request(SPA, SPA_REDIRECT),
        ALICE,
        PASSWORD,
    )
    .await;
    let p = reply_params(&location(&res));
    assert_eq!(stored_amr(&app, &p["code"]).await, ["pwd"]);
}

#[tokio::test]
async fn a_claims_request_for_acrs_forces_the_mfa_step() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let params = with(code_request(BFF, BFF_REDIRECT), "claims", claims);
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let choice = page(res).await;
    assert!(choice.contains("More information required"));
    let enrol = page(submit(&client, &app.https, &choice, &[("method", "totp")]).await).await;
    let secret = text_of(&enrol, "totpSecret").unwrap();
    let code = totp_code(&app, &secret, 0);
    let res = submit(&client, &app.https, &enrol, &[("otc", &code)]).await;
    let p = reply_params(&location(&res));
    let c = stored_code(&app, &p["code"]).await;
    assert_eq!(c.amr_json, r#"["pwd","otp","mfa"]"#);
    assert_eq!(c.claims_json.as_deref(), Some(claims));
}
