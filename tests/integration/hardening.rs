//! Core hardening: a refused request writes nothing (check first, consume last), a failure between
//! the writes of one operation leaves no partial state, and secrets never reach the logs.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::log_capture;
use crate::signin_helpers::{code_request, password_page, sign_in};
use crate::token_helpers::*;

/// Makes SQLite refuse every insert into `table`: a crash between two writes of one operation.
async fn fail_inserts_into(app: &TestApp, table: &str) {
    sqlx::query(&format!(
        "CREATE TRIGGER injected_failure BEFORE INSERT ON {table} \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    ))
    .execute(&app.state.store.pool)
    .await
    .unwrap();
}

async fn heal(app: &TestApp) {
    sqlx::query("DROP TRIGGER injected_failure")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn under_detect_a_refresh_refused_for_its_scope_leaves_the_token_usable() {
    let (app, _dir) = detect_policy().await;
    let rt = bff_refresh_token(&app).await;
    app.refresh_bff(&rt, Some("api://22223333-cccc-4444-dddd-5555eeee6666/nope"))
        .await
        .assert_error(400, "invalid_scope", 70011);
    let a = app.refresh_bff(&rt, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn under_detect_a_refresh_refused_for_its_origin_leaves_the_token_usable() {
    let (app, _dir) = detect_policy().await;
    let rt = bff_refresh_token(&app).await;
    let form = bff_refresh_form(rt.as_str());
    app.token_with(&form, &[("Origin", "http://localhost:5002")])
        .await
        .assert_error(400, "invalid_request", 9002326);
    let a = app.refresh_bff(&rt, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn under_detect_a_refresh_refused_for_its_client_leaves_the_token_usable() {
    let (app, _dir) = detect_policy().await;
    let rt = bff_refresh_token(&app).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        ("refresh_token", rt.as_str()),
    ];
    app.token(&form)
        .await
        .assert_error(400, "invalid_grant", 700007);
    let a = app.refresh_bff(&rt, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_code_refused_for_its_redirect_uri_still_redeems_with_the_right_one() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", BFF),
        ("client_secret", BFF_SECRET),
        ("code", code.as_str()),
        ("redirect_uri", "https://localhost:5001/auth/callback"),
    ];
    app.token(&form)
        .await
        .assert_error(400, "invalid_grant", 500112);
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_code_refused_for_its_pkce_verifier_still_redeems_with_the_right_one() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let form = |verifier| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", code.as_str()),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", verifier),
        ]
    };
    let origin = [("Origin", "http://localhost:5002")];
    app.token_with(
        &form("wrong-verifier-wrong-verifier-wrong-verifier-0"),
        &origin,
    )
    .await
    .assert_error(400, "invalid_grant", 501481);
    let a = app.token_with(&form(VERIFIER), &origin).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_failure_while_rotating_a_refresh_token_leaves_the_old_one_unused() {
    let (app, _dir) = detect_policy().await;
    let rt = bff_refresh_token(&app).await;
    let before = count(&app, "SELECT COUNT(*) FROM refresh_tokens").await;

    fail_inserts_into(&app, "refresh_tokens").await;
    let failed = app.refresh_bff(&rt, None).await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(failed.body["error"], "server_error");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL"
        )
        .await,
        0,
        "the token was not marked used by the failed rotation"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM refresh_tokens").await,
        before
    );

    heal(&app).await;
    // Under `detect` a token marked used would now revoke the family: it works instead.
    let a = app.refresh_bff(&rt, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_failure_while_redeeming_a_code_leaves_the_code_unconsumed() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;

    fail_inserts_into(&app, "refresh_tokens").await;
    assert_eq!(app.redeem_bff(&code).await.status, 500);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM auth_codes WHERE consumed_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM code_families").await, 0);

    heal(&app).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["refresh_token"].is_string());
}

#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let logs = log_capture::install();
    let app = TestApp::spawn().await;
    let client = app.client();
    // A sign-in with a wrong password first, then the right one, a code, a token and a refresh.
    let wrong = "Wr0ng-Passw0rd-in-the-log?";
    let _ = sign_in(
        &app,
        &client,
        &code_request(BFF, BFF_REDIRECT),
        ALICE,
        wrong,
    )
    .await;
    let res = sign_in(
        &app,
        &app.client(),
        &code_request(BFF, BFF_REDIRECT),
        ALICE,
        PASSWORD,
    )
    .await;
    let code = crate::signin_helpers::code_of(&res);
    let a = app
        .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rt = a.str("refresh_token").to_string();
    let r = app.refresh_bff(&rt, None).await;
    // And failures that log: an internal error, a replayed code.
    fail_inserts_into(&app, "refresh_tokens").await;
    assert_eq!(app.refresh_bff(&rt, None).await.status, 500);
    heal(&app).await;
    app.redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await
        .assert_error(400, "invalid_grant", 54005);

    let text = logs.text();
    assert!(
        text.contains("internal error"),
        "the capture works: the injected failure was logged"
    );
    for secret in [
        PASSWORD,
        wrong,
        BFF_SECRET,
        code.as_str(),
        rt.as_str(),
        a.str("access_token"),
        a.str("id_token"),
        r.str("refresh_token"),
    ] {
        assert!(!text.contains(secret), "a secret is in the logs");
    }
}

#[tokio::test]
async fn authorize_and_token_parse_scopes_alike_whatever_their_case() {
    let app = TestApp::spawn().await;
    let mixed =
        "OpenID Profile Offline_Access api://22223333-cccc-4444-dddd-5555eeee6666/ACCESS_AS_USER";
    // /authorize accepts it and signs alice in...
    let params = crate::signin_helpers::with(code_request(BFF, BFF_REDIRECT), "scope", mixed);
    let res = sign_in(&app, &app.client(), &params, ALICE, PASSWORD).await;
    let code = crate::signin_helpers::code_of(&res);
    // ...and the token endpoint reads the same scopes from the code.
    let a = app
        .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["id_token"].is_string(), "openid was recognised");
    assert!(a.body["refresh_token"].is_string(), "offline_access too");
    let claims = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(claims["scp"], "access_as_user");

    // A value the API does not expose is refused by both: /authorize names the app
    // (AADSTS650053, `invalid_client`), the token endpoint answers AADSTS70011.
    let bad = format!("openid {API}/nope");
    let params = crate::signin_helpers::with(code_request(BFF, BFF_REDIRECT), "scope", &bad);
    let res = crate::signin_helpers::get(
        &app.client(),
        &crate::signin_helpers::authorize_url(&app.https, &params),
    )
    .await;
    let reply = crate::signin_helpers::reply_params(&crate::signin_helpers::location(&res));
    assert_eq!(reply["error"], "invalid_client", "{reply:?}");
    assert!(
        reply["error_description"].starts_with(
            "AADSTS650053: The application 'Contoso BFF (web, confidential)' asked for scope 'nope' that doesn't \
             exist on the resource '22223333-cccc-4444-dddd-5555eeee6666'. Contact the app vendor."
        ),
        "{reply:?}"
    );
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope(&bad)).await;
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_scope", 70011);
}

#[tokio::test]
async fn client_assertions_with_extreme_times_get_an_answer_not_a_crash() {
    let app = TestApp::spawn().await;
    let url = app.token_url();
    for (i, (nbf, exp)) in [
        (-1.0e300, 1.0e300),
        (1.0e300, -1.0e300),
        (f64::MAX, f64::MIN),
    ]
    .into_iter()
    .enumerate()
    {
        let claims = serde_json::json!({
            "iss": BFF, "sub": BFF, "aud": url, "jti": format!("extreme-{i}"),
            "nbf": nbf, "iat": 0, "exp": exp,
        });
        let assertion = bff_assertion_with(jsonwebtoken::Algorithm::RS256, &claims);
        let a = app
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", BFF),
                (
                    "scope",
                    "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
                ),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .await;
        assert!(
            a.status == 200 || a.status == 401,
            "{}: {}",
            a.status,
            a.body
        );
    }
    // The server still serves.
    assert!(app.discovery(true).await["issuer"].is_string());
}

#[tokio::test]
async fn ten_wrong_passwords_lock_alice_out_until_the_lockout_ends() {
    use crate::signin_helpers::{location, page, submit};
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut html = password_page(&app, &client, ALICE).await;
    for attempt in 1..=10 {
        let wrong = format!("wrong-{attempt}");
        html = page(submit(&client, &app.https, &html, &[("passwd", &wrong)]).await).await;
        let expected = if attempt < 10 {
            "AADSTS50126"
        } else {
            "AADSTS50053"
        };
        assert!(html.contains(expected), "attempt {attempt}: {html}");
    }
    // Locked: the right password is refused too, in this browser and in another.
    html = page(submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await).await;
    assert!(html.contains("AADSTS50053"), "{html}");
    let other = app.client();
    let fresh = password_page(&app, &other, ALICE).await;
    let refused = page(submit(&other, &app.https, &fresh, &[("passwd", PASSWORD)]).await).await;
    assert!(refused.contains("AADSTS50053"), "{refused}");

    // The lockout follows the one clock: 60 seconds (Entra's default) later it has ended.
    app.state.clock.advance(61);
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert!(
        location(&res).starts_with(BFF_REDIRECT),
        "signed in after the lockout"
    );
}

#[tokio::test]
async fn a_success_resets_the_count_of_wrong_passwords() {
    use crate::signin_helpers::{page, submit};
    let (app, _dir) = lockout_app(3, 600).await;
    for _ in 0..2 {
        let client = app.client();
        let mut html = password_page(&app, &client, ALICE).await;
        for wrong in ["wrong-1", "wrong-2"] {
            html = page(submit(&client, &app.https, &html, &[("passwd", wrong)]).await).await;
            assert!(html.contains("AADSTS50126"), "{html}");
        }
        // The third attempt is right: signed in, and the count starts again.
        let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
        assert_eq!(
            res.status(),
            302,
            "not locked: the successes reset the count"
        );
    }
}

#[tokio::test]
async fn the_same_wrong_password_counts_once_and_a_failure_after_a_lockout_locks_again() {
    use crate::signin_helpers::{page, submit};
    let (app, _dir) = lockout_app(3, 60).await;
    let client = app.client();
    let mut html = password_page(&app, &client, ALICE).await;
    let attempt = |html: String, passwd: &'static str, expected: &'static str| {
        let (client, https) = (client.clone(), app.https.clone());
        async move {
            let next = page(submit(&client, &https, &html, &[("passwd", passwd)]).await).await;
            assert!(next.contains(expected), "{passwd}: {next}");
            next
        }
    };
    // One of the last three wrong passwords typed again is not counted (smart lockout).
    for _ in 0..5 {
        html = attempt(html, "same-wrong", "AADSTS50126").await;
    }
    html = attempt(html, "other-1", "AADSTS50126").await;
    html = attempt(html, "other-2", "AADSTS50053").await;
    // The first failure after the lockout ends locks again.
    app.state.clock.advance(61);
    html = attempt(html, "other-3", "AADSTS50053").await;
    app.state.clock.advance(61);
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 302, "the right password after the lockout");
}

#[tokio::test]
async fn a_failure_at_the_end_of_sign_in_leaves_no_session_behind() {
    use crate::signin_helpers::submit;
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = password_page(&app, &client, ALICE).await;
    fail_inserts_into(&app, "auth_codes").await;
    let res = submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert!(
        res.headers().get("location").is_none(),
        "no redirect to the app"
    );
    assert!(
        res.text().await.unwrap().contains("AADSTS"),
        "an error page"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_sessions").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM session_apps").await, 0);

    // Healed, the same user signs in (a new flow) and gets exactly one session.
    heal(&app).await;
    let res = sign_in(
        &app,
        &app.client(),
        &code_request(BFF, BFF_REDIRECT),
        ALICE,
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), 302);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sso_sessions").await, 1);
}

#[tokio::test]
async fn every_response_says_nosniff_and_the_sign_out_error_page_has_the_page_headers() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for path in [
        format!("/{TENANT}/discovery/v2.0/keys"),
        format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        "/no/such/thing".to_string(),
        "/healthz".to_string(),
    ] {
        let res = client
            .get(format!("{}{path}", app.https))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    // A sign-out request with an unknown client: the error page, with the page headers.
    let res = client
        .get(format!(
            "{}/{TENANT}/oauth2/v2.0/logout?client_id=nobody&post_logout_redirect_uri=https://evil.example/",
            app.https
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(res.headers().get("location").is_none());
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn an_oversized_token_request_body_gets_an_entra_error_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let body = format!(
        "grant_type=client_credentials&padding={}",
        "a".repeat(3 * 1024 * 1024)
    );
    let res = app
        .client()
        .post(app.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let refused = answer(res).await;
    refused.assert_error(413, "invalid_request", 90023);
    // The error URI names this server, not a default host (the request context is kept).
    let uri = refused.str("error_uri");
    assert!(
        uri.starts_with(&app.http) || uri.starts_with(&app.https),
        "{}",
        refused.body
    );
    let ok = app.daemon_token().await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// The built-in tenant with smart lockout at `threshold` wrong passwords for `secs` seconds.
async fn lockout_app(threshold: u32, secs: u32) -> (TestApp, tempfile::TempDir) {
    let lockout = format!("threshold = {threshold}\ndurationSeconds = {secs}");
    Fixture::builtin()
        .tenant("lockout", toml::Value::Table(lockout.parse().unwrap()))
        .spawn()
        .await
}
