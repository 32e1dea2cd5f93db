//! Part 3: end-session logout.

use reqwest::cookie::CookieStore;

use crate::helpers::*;
use crate::token_helpers::*;

const SSO_COOKIE: &str = entra_mock::store::sessions::SSO_COOKIE;

fn logout_url(app: &TestApp) -> String {
    format!("{}/{TENANT}/oauth2/v2.0/logout", app.https)
}

/// A browser holding the SSO cookie of a fresh session of alice.
async fn signed_in_browser(
    app: &TestApp,
) -> (
    reqwest::Client,
    std::sync::Arc<reqwest::cookie::Jar>,
    String,
) {
    let (sid, cookie) = seed_session_with_cookie(app, ALICE_OID).await;
    let (client, jar) = client_with_jar(app);
    let url: reqwest::Url = app.https.parse().unwrap();
    jar.add_cookie_str(
        &format!("{SSO_COOKIE}={cookie}; Path=/; Secure; HttpOnly"),
        &url,
    );
    (client, jar, sid)
}

fn has_sso_cookie(app: &TestApp, jar: &reqwest::cookie::Jar) -> bool {
    let url: reqwest::Url = app.https.parse().unwrap();
    jar.cookies(&url)
        .is_some_and(|c| c.to_str().unwrap_or_default().contains(SSO_COOKIE))
}

#[tokio::test]
async fn logout_ends_the_session_clears_the_cookie_and_redirects_with_state() {
    let app = TestApp::spawn().await;
    let (browser, jar, sid) = signed_in_browser(&app).await;

    let res = browser
        .get(logout_url(&app))
        .query(&[
            ("client_id", BFF),
            ("post_logout_redirect_uri", "http://localhost:5001/"),
            ("state", "s-42"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "http://localhost:5001/?state=s-42"
    );
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.starts_with(&format!("{SSO_COOKIE}=;")),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
    assert!(
        !has_sso_cookie(&app, &jar),
        "the browser dropped the cookie"
    );
    // SSO no longer works: the session the cookie named is over.
    assert!(!app.session_active(&sid).await);
}

#[tokio::test]
async fn logout_notifies_each_signed_in_app_at_its_front_channel_url_with_sid() {
    let app = TestApp::spawn().await;
    let (browser, _jar, sid) = signed_in_browser(&app).await;
    let mut tx = app.state.store.write().await.unwrap();
    tx.add_session_app(&sid, BFF).await.unwrap();
    tx.add_session_app(&sid, SPA).await.unwrap();
    tx.commit().await.unwrap();

    let res = browser
        .post(logout_url(&app))
        .form(&[
            ("client_id", SPA),
            ("post_logout_redirect_uri", "http://localhost:5002/"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 200);
    assert!(res.headers().get("location").is_none());
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The sign-out page carries the sign-in pages' security headers; frames only from the
    // front-channel URLs' origin, no inline script or style.
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-src http://localhost:5001;") && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("<style>"));
    assert!(html.contains("<script src=\"/_signin/logout.js\"></script>"));
    let iframe = format!(
        "<iframe class=\"frontchannel\" src=\"http://localhost:5001/auth/frontchannel-logout?sid={sid}\""
    );
    assert!(html.contains(&iframe), "{html}");
    assert_eq!(
        html.matches("<iframe").count(),
        1,
        "the SPA has no logout URL"
    );
    assert!(
        html.contains("href=\"http://localhost:5002/?state=xyz\""),
        "{html}"
    );
    assert!(!app.session_active(&sid).await);
}

#[tokio::test]
async fn an_unregistered_post_logout_uri_ends_the_session_on_the_signed_out_page_without_redirect()
{
    for query in [
        vec![
            ("client_id", BFF),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        // No app named and none took part in the session: nothing registered the URI.
        vec![("post_logout_redirect_uri", "http://localhost:5001/")],
    ] {
        let app = TestApp::spawn().await;
        let (browser, jar, sid) = signed_in_browser(&app).await;
        let res = browser
            .get(logout_url(&app))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("You signed out of your account"), "{html}");
        assert!(!html.contains("evil.example") && !html.contains("id=\"post-logout-redirect\""));
        assert!(!has_sso_cookie(&app, &jar));
        assert!(!app.session_active(&sid).await);
    }
}

/// How msal-browser's `logoutRedirect` calls: `post_logout_redirect_uri`, `logout_hint` (the ID
/// token's `login_hint` claim), `state` and `client-request-id`, with no `client_id`.
#[tokio::test]
async fn logout_as_msal_browser_sends_it_ends_the_named_session_and_redirects_to_an_app_of_it() {
    let app = TestApp::spawn().await;
    let (browser, jar, sid) = signed_in_browser(&app).await;
    let mut tx = app.state.store.write().await.unwrap();
    tx.add_session_app(&sid, SPA).await.unwrap();
    tx.commit().await.unwrap();
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let (_, id) = jwt_parts(app.redeem_bff(&code).await.str("id_token"));
    let res = browser
        .get(logout_url(&app))
        .query(&[
            ("post_logout_redirect_uri", "http://localhost:5002/"),
            ("logout_hint", id["login_hint"].as_str().unwrap()),
            ("state", "msal-state"),
            ("client-request-id", "5b2a9f1e-0000-4000-8000-000000000001"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"],
        "http://localhost:5002/?state=msal-state"
    );
    assert!(!has_sso_cookie(&app, &jar));
    assert!(!app.session_active(&sid).await);
}

#[tokio::test]
async fn a_logout_hint_of_another_user_leaves_the_browsers_session_alone() {
    let app = TestApp::spawn().await;
    let (browser, _jar, sid) = signed_in_browser(&app).await;
    let (code, _) = issue_code(
        &app,
        &CodeSpec {
            user_oid: BOB_OID.into(),
            ..CodeSpec::bff()
        },
    )
    .await;
    let (_, bob) = jwt_parts(app.redeem_bff(&code).await.str("id_token"));
    let res = browser
        .get(logout_url(&app))
        .query(&[("logout_hint", bob["login_hint"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(app.session_active(&sid).await);
}

#[tokio::test]
async fn id_token_hint_identifies_the_app_and_its_session() {
    let app = TestApp::spawn().await;
    let (code, sid) = issue_code(&app, &CodeSpec::bff()).await;
    let id_token = app.redeem_bff(&code).await.str("id_token").to_string();
    // A browser without the cookie (another tab's storage was cleared): the hint's sid is used.
    let res = app
        .client()
        .get(logout_url(&app))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "http://localhost:5001/"),
        ])
        .send()
        .await
        .unwrap();
    // The BFF received its code through that session: the sign-out page loads its front-channel
    // logout for that sid, then leads to the redirect.
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "src=\"http://localhost:5001/auth/frontchannel-logout?sid={sid}\""
        )),
        "{html}"
    );
    assert!(html.contains("href=\"http://localhost:5001/\""), "{html}");
    assert!(!app.session_active(&sid).await);
}

#[tokio::test]
async fn logout_without_a_redirect_shows_the_signed_out_page() {
    let app = TestApp::spawn().await;
    let (browser, jar, _) = signed_in_browser(&app).await;
    let res = browser.get(logout_url(&app)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("You signed out of your account"));
    assert!(!has_sso_cookie(&app, &jar));
}
