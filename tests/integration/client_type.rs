//! The client type is decided per request, as Entra decides it ("How Microsoft Entra ID
//! determines the client type", Microsoft's support article on AADSTS7000218): by the platform of
//! the redirect URI a code was sent to (`web` confidential, `publicClient` and `spa` public), by
//! `isFallbackPublicClient` for flows with no redirect URI (ROPC), and a refresh token keeps the
//! type of the grant that started its chain. A confidential request without a credential gets
//! AADSTS7000218, a public one with a credential AADSTS700025.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

/// A desktop app's loopback redirect URI ("Mobile and desktop applications").
const NATIVE_REDIRECT: &str = "http://localhost";

/// The built-in tenant with the BFF (web, with a secret, `isFallbackPublicClient` false) also
/// registered for a desktop client under `publicClient`.
async fn bff_with_a_native_redirect() -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "bff",
            "publicClient.redirectUris",
            toml::Value::Array(vec![NATIVE_REDIRECT.into()]),
        )
        .spawn()
        .await
}

fn native_code_form<'a>(code: &'a str, secret: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", BFF),
        ("code", code),
        ("redirect_uri", NATIVE_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend(secret.map(|s| ("client_secret", s)));
    form
}

fn refresh_form<'a>(
    client_id: &'a str,
    token: &'a str,
    secret: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", token),
    ];
    form.extend(secret.map(|s| ("client_secret", s)));
    form
}

/// A code of the BFF's `web` redirect URI: refused without the secret (AADSTS7000218, the code
/// left unused), then redeemed with it.
async fn redeem_web_code(app: &TestApp) -> Answer {
    let (code, _) = issue_code(app, &CodeSpec::bff()).await;
    let mut no_secret = bff_code_form(&code, None);
    no_secret.retain(|(k, _)| *k != "client_secret");
    app.token(&no_secret)
        .await
        .assert_error(401, "invalid_client", 7000218);
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a
}

fn native_code() -> CodeSpec {
    CodeSpec {
        redirect_uri: NATIVE_REDIRECT.into(),
        platform: "publicClient",
        challenge: Some(s256(VERIFIER)),
        ..CodeSpec::bff()
    }
}

#[tokio::test]
async fn a_code_sent_to_a_public_client_redirect_uri_of_a_confidential_app_is_redeemed_without_its_secret(
) {
    let (app, _dir) = bff_with_a_native_redirect().await;
    let (code, _) = issue_code(&app, &native_code()).await;
    // The secret is refused first, and the code stays unused.
    app.token(&native_code_form(&code, Some(BFF_SECRET)))
        .await
        .assert_error(401, "invalid_client", 700025);
    let a = app.token(&native_code_form(&code, None)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["azp"], BFF);
    assert_eq!(
        access["azpacr"], "0",
        "a public client presents no credential"
    );

    // Its chain stays public: refreshed without the secret, and refused with it.
    let rt = a.str("refresh_token");
    app.token(&refresh_form(BFF, rt, Some(BFF_SECRET)))
        .await
        .assert_error(401, "invalid_client", 700025);
    let r = app.token(&refresh_form(BFF, rt, None)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, refreshed) = jwt_parts(r.str("access_token"));
    assert_eq!(refreshed["azpacr"], "0");
}

#[tokio::test]
async fn the_same_apps_web_redirect_uri_and_its_refresh_tokens_still_need_the_secret() {
    let (app, _dir) = bff_with_a_native_redirect().await;
    // The request's redirect URI tells the type before the code is read: an unknown code from a
    // web redirect URI without the secret is the missing credential (AADSTS7000218), from a
    // native one the unknown code (AADSTS9002313).
    let mut bogus = bff_code_form("not-a-code", None);
    bogus.retain(|(k, _)| *k != "client_secret");
    app.token(&bogus)
        .await
        .assert_error(401, "invalid_client", 7000218);
    app.token(&native_code_form("not-a-code", None))
        .await
        .assert_error(400, "invalid_grant", 9002313);
    let a = redeem_web_code(&app).await;
    let rt = a.str("refresh_token");
    app.token(&refresh_form(BFF, rt, None))
        .await
        .assert_error(401, "invalid_client", 7000218);
    // Revocation holds to the same rule: nothing is revoked without the secret.
    let revoke = |secret: Option<&'static str>| {
        let (app, rt) = (&app, rt.to_string());
        async move {
            let mut form = vec![("client_id", BFF.to_string()), ("token", rt)];
            form.extend(secret.map(|s| ("client_secret", s.to_string())));
            let res = app
                .client()
                .post(format!("{}/{TENANT}/oauth2/v2.0/revoke", app.https))
                .form(&form)
                .send()
                .await
                .unwrap();
            answer(res).await
        }
    };
    revoke(None)
        .await
        .assert_error(401, "invalid_client", 7000218);
    let r = app.token(&refresh_form(BFF, rt, Some(BFF_SECRET))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(revoke(Some(BFF_SECRET)).await.status, 200);
    app.token(&refresh_form(BFF, rt, Some(BFF_SECRET)))
        .await
        .assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn a_spa_without_allow_public_client_flows_redeems_its_code_but_is_confidential_for_ropc() {
    let (app, _dir) = Fixture::builtin()
        .app_without("spa", "isFallbackPublicClient")
        .spawn()
        .await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let a = app.redeem_spa(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r = app
        .token_from_spa(&refresh_form(SPA, a.str("refresh_token"), None))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // With no redirect URI, the fallback type decides: confidential, and the app has no
    // credential to present.
    app.token(&[
        ("grant_type", "password"),
        ("client_id", SPA),
        ("username", ALICE),
        ("password", PASSWORD),
        ("scope", "openid offline_access"),
    ])
    .await
    .assert_error(401, "invalid_client", 7000218);
}

#[tokio::test]
async fn an_app_allowing_public_client_flows_may_hold_a_secret_for_its_web_redirect_uri() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "isFallbackPublicClient", true)
        .spawn()
        .await;
    let ropc = |secret: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", BFF),
            ("username", ALICE),
            ("password", PASSWORD),
            ("scope", "openid offline_access"),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        form
    };
    let a = app.token(&ropc(None)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    app.token(&ropc(Some(BFF_SECRET)))
        .await
        .assert_error(401, "invalid_client", 700025);
    // Its web redirect URI stays confidential.
    redeem_web_code(&app).await;
}

#[tokio::test]
async fn a_desktop_client_signs_in_on_an_ephemeral_loopback_port_and_redeems_as_a_public_client() {
    use crate::signin_helpers::{code_of, code_request, location, sign_in, without_query};
    let (app, _dir) = bff_with_a_native_redirect().await;
    // MSAL's interactive sign-in listens on a port of its own: `http://localhost` is registered.
    let redirect = "http://localhost:54321/";
    let res = sign_in(
        &app,
        &app.client(),
        &code_request(BFF, redirect),
        ALICE,
        PASSWORD,
    )
    .await;
    assert_eq!(without_query(&location(&res)), redirect);
    let code = code_of(&res);
    let a = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", crate::signin_helpers::VERIFIER),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Only the port of a loopback URI may differ: another path or host is not registered.
    for other in [
        "http://localhost:54321/other",
        "http://127.0.0.1:54321/",
        "http://localhost:5001.evil.example/",
    ] {
        let res = crate::signin_helpers::get(
            &app.client(),
            &crate::signin_helpers::authorize_url(&app.https, &code_request(BFF, other)),
        )
        .await;
        assert_eq!(res.status(), 400, "{other}");
        assert!(res.headers().get("location").is_none(), "{other}");
        assert!(res.text().await.unwrap().contains("AADSTS50011"), "{other}");
    }
}
