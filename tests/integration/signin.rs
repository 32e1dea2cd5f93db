//! Part 2: /authorize and the password sign-in pages, errors, and the pages' security.

use crate::helpers::*;
use crate::signin_helpers::*;

#[tokio::test]
async fn alice_signs_in_with_username_and_password_and_gets_a_code() {
    let app = TestApp::spawn().await;
    let client = app.client();

    // 1. /authorize shows the username page with Entra's element names.
    let res = get(
        &client,
        &authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT)),
    )
    .await;
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://localhost:5001"),
        "{csp}"
    );
    let username_page = page(res).await;
    assert!(username_page.contains("name=\"loginfmt\""));
    assert!(username_page.contains("id=\"idSIButton9\""));
    assert!(!username_page.contains("<script>"), "no inline script");

    // 2. The username leads to the password page.
    let password_page =
        page(submit(&client, &app.https, &username_page, &[("loginfmt", ALICE)]).await).await;
    assert!(password_page.contains("name=\"passwd\""));
    assert!(password_page.contains(ALICE));

    // 3. The password leads back to the app with a code, the state and the session state.
    let res = submit(&client, &app.https, &password_page, &[("passwd", PASSWORD)]).await;
    let sso = set_cookie(&res, "ESTSAUTH").expect("an SSO cookie");
    assert!(sso.contains("HttpOnly"), "{sso}");
    assert!(sso.contains("Secure"), "{sso}");
    assert!(sso.contains("SameSite=None"), "{sso}");
    assert!(!sso.contains("Max-Age"), "a browser-session cookie: {sso}");
    let loc = location(&res);
    assert_eq!(without_query(&loc), BFF_REDIRECT);
    let p = reply_params(&loc);
    assert_eq!(p["state"], STATE);
    assert!(!p["session_state"].is_empty());
    let code = &p["code"];

    // 4. The code is stored, bound to everything the token endpoint checks.
    let c = stored_code(&app, code).await;
    assert_eq!(c.client_id, BFF);
    assert_eq!(c.redirect_uri, BFF_REDIRECT);
    assert_eq!(c.redirect_platform, "web");
    assert_eq!(
        c.code_challenge.as_deref(),
        Some(challenge(VERIFIER).as_str())
    );
    assert_eq!(c.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert_eq!(c.scope, SCOPE);
    assert_eq!(c.user_oid, ALICE_OID);
    assert_eq!(c.session_id, p["session_state"]);
    assert_eq!(c.amr_json, r#"["pwd"]"#);
    assert!(!c.include_auth_time);
    assert_eq!(c.expires_at - c.created_at, 600);
    assert_eq!(c.consumed_at, None);
    assert_eq!(
        app.state.store.session_apps(&c.session_id).await.unwrap(),
        vec![BFF.to_string()]
    );
}

#[tokio::test]
async fn client_info_carries_the_users_oid_and_tenant() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let res = sign_in(
        &app,
        &client,
        &code_request(SPA, SPA_REDIRECT),
        ALICE,
        PASSWORD,
    )
    .await;
    let p = reply_params(&location(&res));
    let info: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &p["client_info"],
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(info, serde_json::json!({"uid": ALICE_OID, "utid": TENANT}));
    let c = stored_code(&app, &p["code"]).await;
    assert_eq!(c.redirect_platform, "spa");
}

#[tokio::test]
async fn state_and_nonce_are_echoed_byte_for_byte() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let state = "a b+c/d=é&<x>%20";
    let nonce = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let params = with(
        with(code_request(BFF, BFF_REDIRECT), "state", state),
        "nonce",
        nonce,
    );
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let p = reply_params(&location(&res));
    assert_eq!(p["state"], state);
    assert_eq!(
        stored_code(&app, &p["code"]).await.nonce.as_deref(),
        Some(nonce)
    );
}

#[tokio::test]
async fn unknown_user_is_told_aadsts50034_on_the_username_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = username_page(&app, &client).await;
    let html = page(
        submit(
            &client,
            &app.https,
            &html,
            &[("loginfmt", "nobody@contoso.onmicrosoft.com")],
        )
        .await,
    )
    .await;
    let error = text_of(&html, "usernameError").expect("an error on the page");
    assert!(error.contains("This username may be incorrect"), "{error}");
    assert!(html.contains("AADSTS50034"));
    assert!(html.contains("name=\"loginfmt\""));
}

#[tokio::test]
async fn wrong_password_is_told_aadsts50126_on_the_password_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let res = sign_in(
        &app,
        &client,
        &code_request(BFF, BFF_REDIRECT),
        ALICE,
        "wrong",
    )
    .await;
    let html = page(res).await;
    let error = text_of(&html, "passwordError").expect("an error on the page");
    assert!(
        error.contains("Your account or password is incorrect"),
        "{error}"
    );
    assert!(html.contains("AADSTS50126"));
    // The right password still works in the same flow.
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn login_hint_skips_the_username_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(code_request(BFF, BFF_REDIRECT), "login_hint", ALICE);
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(html.contains("name=\"passwd\""));
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn script_in_login_hint_comes_back_escaped() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let hint = "\"><script>alert(1)</script>";
    let params = with(code_request(BFF, BFF_REDIRECT), "login_hint", hint);
    let html = page(get(&client, &authorize_url(&app.https, &params)).await).await;
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert_eq!(
        attr_of(&html, "id=\"i0116\"", "value").as_deref(),
        Some(hint)
    );
}

#[tokio::test]
async fn unknown_client_gets_an_error_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "client_id",
        "99999999-9999-9999-9999-999999999999",
    );
    let res = get(&client, &authorize_url(&app.https, &params)).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let html = res.text().await.unwrap();
    assert!(html.contains("AADSTS700016"));
    assert!(text_of(&html, "traceId").is_some_and(|t| uuid::Uuid::parse_str(&t).is_ok()));
    assert_eq!(
        text_of(&html, "correlationId").as_deref(),
        Some("5b8f7a9e-2c1d-4e3f-9a8b-7c6d5e4f3a2b")
    );
}

#[tokio::test]
async fn a_mismatched_redirect_uri_is_never_redirected_to() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for evil in [
        "https://evil.example/callback",
        "http://localhost:5001/auth/callback/../../evil",
        "http://localhost:5001/auth/callback?x=1",
        "http://LOCALHOST:5001/auth/callback",
    ] {
        // Even with another error in the request, the redirect URI is checked first.
        let params = without(
            with(code_request(BFF, BFF_REDIRECT), "redirect_uri", evil),
            "scope",
        );
        let res = get(&client, &authorize_url(&app.https, &params)).await;
        assert_eq!(res.status(), 400, "{evil}");
        assert!(res.headers().get("location").is_none(), "{evil}");
        let html = res.text().await.unwrap();
        assert!(html.contains("AADSTS50011"), "{evil}");
        assert!(!html.contains("<script>"));
    }
}

#[tokio::test]
async fn request_errors_are_redirected_with_error_description_uri_and_state() {
    let app = TestApp::spawn().await;
    let client = app.client();
    type Case = (Vec<(String, String)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            without(code_request(BFF, BFF_REDIRECT), "scope"),
            "invalid_request",
            "AADSTS900144",
        ),
        (
            without(code_request(BFF, BFF_REDIRECT), "response_type"),
            "invalid_request",
            "AADSTS900144",
        ),
        (
            with(code_request(BFF, BFF_REDIRECT), "response_type", "token"),
            "unsupported_response_type",
            "AADSTS700051",
        ),
        (
            with(
                code_request(BFF, BFF_REDIRECT),
                "response_type",
                "code token_please",
            ),
            "unsupported_response_type",
            "AADSTS70005",
        ),
        (
            with(code_request(BFF, BFF_REDIRECT), "prompt", "sometimes"),
            "invalid_request",
            "AADSTS90100",
        ),
        (
            with(
                code_request(BFF, BFF_REDIRECT),
                "code_challenge_method",
                "S512",
            ),
            "invalid_request",
            "AADSTS90100",
        ),
        (
            with(
                code_request(BFF, BFF_REDIRECT),
                "code_challenge",
                "too-short",
            ),
            "invalid_request",
            "AADSTS501491",
        ),
        (
            with(code_request(BFF, BFF_REDIRECT), "max_age", "-1"),
            "invalid_request",
            "AADSTS90100",
        ),
        (
            with(code_request(BFF, BFF_REDIRECT), "claims", "{not json"),
            "invalid_request",
            "AADSTS90100",
        ),
        (
            with(
                code_request(BFF, BFF_REDIRECT),
                "scope",
                "openid api://unknown-api/read",
            ),
            "invalid_resource",
            "AADSTS500011",
        ),
        (
            with(
                code_request(BFF, BFF_REDIRECT),
                "scope",
                &format!("openid {API}/nope"),
            ),
            "invalid_client",
            "AADSTS650053",
        ),
    ];
    for (params, error, code) in cases {
        let res = get(&client, &authorize_url(&app.https, &params)).await;
        let loc = location(&res);
        assert_eq!(without_query(&loc), BFF_REDIRECT);
        let p = reply_params(&loc);
        assert_eq!(p["error"], error, "{loc}");
        assert!(p["error_description"].starts_with(code), "{loc}");
        assert!(p["error_description"].contains("Trace ID:"), "{loc}");
        assert!(
            p["error_uri"].ends_with(&format!("/error?code={}", &code[6..])),
            "{loc}"
        );
        assert_eq!(p["state"], STATE);
        assert!(!p.contains_key("code"));
    }
}

#[tokio::test]
async fn cancelling_sign_in_returns_access_denied_with_subcode_cancel() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = username_page(&app, &client).await;
    let res = submit(&client, &app.https, &html, &[("action", "cancel")]).await;
    let p = reply_params(&location(&res));
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["error_subcode"], "cancel");
    assert_eq!(p["state"], STATE);
    // As Entra's cancel: no description, so MSAL reports user_cancelled.
    assert!(!p.contains_key("error_description"), "{p:?}");
    // The flow is over: its form cannot be posted again.
    let res = submit(&client, &app.https, &html, &[("loginfmt", ALICE)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn every_form_carries_a_csrf_token_and_a_forged_one_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = username_page(&app, &client).await;
    let form = parse_form(&html);
    let token = form
        .fields
        .iter()
        .find(|(k, _)| k == "flowToken")
        .map(|(_, v)| v.clone());
    assert!(token.is_some_and(|t| t.len() >= 32));
    let res = submit(
        &client,
        &app.https,
        &html,
        &[("flowToken", "forged"), ("loginfmt", ALICE)],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("AADSTS"));
    // Another browser (no esctx cookie) cannot advance the flow either.
    let other = app.client();
    let res = submit(&other, &app.https, &html, &[("loginfmt", ALICE)]).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn form_post_mode_answers_with_an_auto_submitting_form() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(
        code_request(BFF, BFF_REDIRECT),
        "response_mode",
        "form_post",
    );
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' http://localhost:5001"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<script src=\"/_signin/autosubmit.js\"></script>"));
    let form = parse_form(&html);
    assert_eq!(form.action, BFF_REDIRECT);
    let fields: std::collections::HashMap<_, _> = form.fields.into_iter().collect();
    assert_eq!(fields["state"], STATE);
    assert_eq!(stored_code(&app, &fields["code"]).await.user_oid, ALICE_OID);
    let js = get(&client, &format!("{}/_signin/autosubmit.js", app.https)).await;
    assert_eq!(js.status(), 200);
}

#[tokio::test]
async fn fragment_mode_puts_the_reply_in_the_fragment() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(code_request(SPA, SPA_REDIRECT), "response_mode", "fragment");
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let loc = location(&res);
    let url = url::Url::parse(&loc).unwrap();
    assert_eq!(url.query(), None);
    assert!(url.fragment().unwrap().contains("code="));
    assert_eq!(reply_params(&loc)["state"], STATE);
}

#[tokio::test]
async fn the_tenant_may_be_its_domain_or_common_and_an_unknown_one_gets_an_error_page() {
    // /common and /organizations are for multi-tenant apps (AADSTS50194 otherwise).
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app("bff", "signInAudience", "AzureADMultipleOrgs")
        .spawn()
        .await;
    let client = app.client();
    for tenant in [DOMAIN, "common", "organizations"] {
        let url =
            authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT)).replace(TENANT, tenant);
        let html = page(get(&client, &url).await).await;
        assert!(
            html.contains(&format!("action=\"/{tenant}/login\"")),
            "{tenant}"
        );
    }
    let url = authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT)).replace(TENANT, "nosuch");
    let res = get(&client, &url).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("AADSTS90002"));
}

#[tokio::test]
async fn authorize_accepts_a_posted_request() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let res = client
        .post(format!("{}/{TENANT}/oauth2/v2.0/authorize", app.https))
        .form(&code_request(BFF, BFF_REDIRECT))
        .send()
        .await
        .unwrap();
    assert!(page(res).await.contains("name=\"loginfmt\""));
}

#[tokio::test]
async fn a_malformed_request_still_gets_an_entra_error_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let url = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id=%ZZ%FF&&=&redirect_uri",
        app.https
    );
    let res = get(&client, &url).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("AADSTS700016"));
    // A login post without a flow is refused on the error page too.
    let res = client
        .post(format!("{}/{TENANT}/login", app.https))
        .body("garbage\u{0}%%")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("AADSTS"));
}

#[tokio::test]
async fn the_primary_button_comes_first_so_enter_does_not_cancel() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = username_page(&app, &client).await;
    let primary = html.find("id=\"idSIButton9\"").unwrap();
    let cancel = html.find("id=\"idBtn_Cancel\"").unwrap();
    assert!(primary < cancel);
    let res = get(&client, &format!("{}/_signin/signin.css", app.https)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
}

#[tokio::test]
async fn other_methods_get_an_entra_error_page() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let res = get(&client, &format!("{}/{TENANT}/login", app.https)).await;
    assert_eq!(res.status(), 405);
    assert!(res.text().await.unwrap().contains("AADSTS900561"));
    let res = client
        .delete(format!("{}/{TENANT}/oauth2/v2.0/authorize", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn the_pages_carry_the_flow_sealed_and_it_ends_once_with_the_sign_in() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let pool = &app.state.store.pool;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sso_sessions")
            .fetch_one(pool)
            .await
            .unwrap()
    };
    // 1-2. The username and password pages carry the flow in their `ctx`, sealed (neither the
    // user nor the app's request shows through).
    let password_page = password_page(&app, &client, ALICE).await;
    let ctx = attr_of(&password_page, "name=\"ctx\"", "value").unwrap();
    assert!(ctx.len() > 100, "{ctx}");
    for clear in [ALICE_OID, BFF, "Password", "localhost"] {
        assert!(!ctx.contains(clear), "{clear} in {ctx}");
    }
    // A `ctx` altered by one character, or posted with another `flowToken`, is no flow.
    let mut altered = ctx.clone().into_bytes();
    let i = ctx.len() / 2;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for field in [("ctx", altered.as_str()), ("flowToken", "x")] {
        let res = submit(
            &client,
            &app.https,
            &password_page,
            &[field, ("passwd", PASSWORD)],
        )
        .await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("AADSTS50089"));
    }
    assert_eq!(sessions().await, 0);
    // 3. The password ends the flow, and one transaction stores the session and the code.
    let res = submit(&client, &app.https, &password_page, &[("passwd", PASSWORD)]).await;
    assert_eq!(without_query(&location(&res)), BFF_REDIRECT);
    assert_eq!(sessions().await, 1);
    // 4. The same form again: the flow is over, and no second session is stored.
    let res = submit(&client, &app.https, &password_page, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(sessions().await, 1);
}

#[tokio::test]
async fn a_reset_ends_the_sign_ins_in_progress() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let password_page = password_page(&app, &client, ALICE).await;
    let res = client
        .post(format!("{}/_mock/reset", app.https))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    // The page's flow was sealed with the key the reset replaced.
    let res = submit(&client, &app.https, &password_page, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("AADSTS50089"));
}

#[tokio::test]
async fn a_flow_expires_fifteen_minutes_after_it_started_by_the_virtual_clock() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let password_page = password_page(&app, &client, ALICE).await;
    // A minute before its end it still signs in; the same page once the clock passed its end
    // does not (its expiry travels sealed with it: the post cannot change it).
    app.state
        .clock
        .advance(entra_mock::signin::FLOW_LIFETIME_SECS - 60);
    let wrong = submit(&client, &app.https, &password_page, &[("passwd", "wrong")]).await;
    assert!(page(wrong).await.contains("AADSTS50126"));
    app.state.clock.advance(61);
    let res = submit(&client, &app.https, &password_page, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("AADSTS50089"));
}
