//! The reference BFF (`entra-mock bff`, issue 10 item 1) on port 0 against a real entra-mock and
//! the reference API: steps 1-20 of the seed flow with a cookie-keeping client that follows no
//! redirect, so each hop is asserted; CSRF, the refresh (and its failure ending the session),
//! the MFA step-up by claims challenge, logout and front-channel logout.

use entra_mock::clients::bff::{self, store::BffStore, BffArgs};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::reference_api::start_api;
use crate::signin_helpers::{get, page, reply_params, submit, totp_code};

const ERIN: &str = "erin@contoso.onmicrosoft.com";
const ERIN_SECRET: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";

pub struct Bff {
    pub base: String,
    pub store: BffStore,
    _dir: tempfile::TempDir,
}

/// entra-mock's API and BFF on port 0, the BFF registered with its real port.
pub async fn start_bff(app: &TestApp) -> Bff {
    let api = start_api(app);
    let dir = tempfile::tempdir().unwrap();
    let args = BffArgs {
        authority: entra_mock::clients::Authority {
            host: app.https.clone(),
            tenant_id: TENANT.into(),
        },
        client_id: BFF.into(),
        client_secret: BFF_SECRET.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: String::new(),
        api_url: api,
        api_scope: API_SCOPE.into(),
        database: dir.path().join("bff.sqlite"),
        ca_file: None,
    };
    let running = bff::start(&args, Some(&app.ca_pem)).await.unwrap();
    let base = running.public_url.clone();
    tokio::spawn(running.server);
    let (status, body) = app
        .mock(
            Method::PATCH,
            &format!("applications/{BFF}"),
            Some(json!({
                "web": {"redirectUris": [format!("{base}/auth/callback")],
                        "logoutUrl": format!("{base}/auth/frontchannel-logout")},
                "postLogoutRedirectUris": [format!("{base}/")],
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Bff {
        base,
        store: running.store,
        _dir: dir,
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location ({})", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// Where the callback's page moves on to (its meta refresh, a same-site navigation that carries
/// the new `SameSite=Strict` cookie).
async fn continues_to(res: reqwest::Response) -> String {
    let html = res.text().await.unwrap();
    let at = html.find("content=\"0;url=").expect("a meta refresh") + 15;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// The value of `<input type="hidden" name="csrf" value="...">` on a BFF page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// Steps 3-6 at entra-mock: username, password and (when asked) the one-time code of
/// `totp_secret`; the redirect back to the BFF's callback.
pub async fn at_entra(
    app: &TestApp,
    client: &reqwest::Client,
    authorize: &str,
    upn: &str,
    password: &str,
    totp_secret: Option<&str>,
) -> String {
    let mut html = page(get(client, authorize).await).await;
    if html.contains("name=\"loginfmt\"") {
        html = page(submit(client, &app.https, &html, &[("loginfmt", upn)]).await).await;
    }
    let mut res = if html.contains("name=\"passwd\"") {
        submit(client, &app.https, &html, &[("passwd", password)]).await
    } else {
        panic!("no password page: {html}")
    };
    if res.status() == 200 {
        let html = page(res).await;
        assert!(html.contains("name=\"otc\""), "{html}");
        app.state.clock.advance(30);
        let code = totp_code(app, totp_secret.expect("a TOTP secret"), 0);
        res = submit(client, &app.https, &html, &[("otc", &code)]).await;
    }
    assert_eq!(res.status(), 302);
    location(&res)
}

/// Steps 1-11 for `upn`; the session id the browser got.
async fn sign_in(
    app: &TestApp,
    bff: &Bff,
    client: &reqwest::Client,
    upn: &str,
    password: &str,
    totp_secret: Option<&str>,
) -> String {
    // 1-2: no session, so a redirect to /authorize with state, nonce and PKCE.
    let res = get(client, &format!("{}/protected", bff.base)).await;
    assert_eq!(res.status(), 303);
    let authorize = location(&res);
    let login_cookie = set_cookie(&res, "bff-login");
    for attr in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"] {
        assert!(login_cookie.contains(attr), "{attr} in {login_cookie}");
    }
    // 3-6
    let callback = at_entra(app, client, &authorize, upn, password, totp_secret).await;
    assert!(
        callback.starts_with(&format!("{}/auth/callback?", bff.base)),
        "{callback}"
    );
    // 7-11: the code redeemed, the session stored, the session cookie set.
    let res = get(client, &callback).await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "bff-session");
    assert_eq!(continues_to(res).await, "/protected");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let id = cookie["bff-session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 43, "an opaque 32-byte id, not a token: {id}");
    assert!(bff.store.session(&id).await.unwrap().is_some());
    id
}

#[tokio::test]
async fn the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say() {
    let app = TestApp::spawn().await;
    let bff = start_bff(&app).await;
    let client = app.client();

    let res = get(&client, &format!("{}/protected", bff.base)).await;
    let authorize = url::Url::parse(&location(&res)).unwrap();
    assert_eq!(
        authorize.as_str().split('?').next().unwrap(),
        format!("{}/{TENANT}/oauth2/v2.0/authorize", app.https)
    );
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], BFF);
    assert_eq!(
        q["scope"],
        format!("openid profile offline_access {API_SCOPE}")
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{}/auth/callback", bff.base));
    assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);

    let session = sign_in(&app, &bff, &client, ALICE, PASSWORD, None).await;
    let stored = bff.store.session(&session).await.unwrap().unwrap();
    assert_eq!(stored.oid, ALICE_OID);
    assert_eq!(stored.amr, vec!["pwd".to_string()]);
    assert!(stored.refresh_token.is_some() && stored.sid.is_some());
    // 14-15: the BFF verified the ID token with the tenant's keys (the JWKS fetch).
    assert!(!app
        .server
        .requests(&entra_mock::mock::requests::Filter {
            endpoint: Some("jwks".into()),
            ..Default::default()
        })
        .is_empty());
    crate::conformance::covered(&["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "14", "15"], "reference_bff::the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say");

    // 12-16: the page shows who and amr; the tasks come from the API.
    let html = page(get(&client, &format!("{}/protected", bff.base)).await).await;
    assert!(html.contains("Alice Example") && html.contains("<td id=\"amr\">pwd</td>"));
    assert!(html.contains("HTTP 200"), "{html}");
    let csrf = csrf_of(&html);
    crate::conformance::covered(&["12", "13", "16"], "reference_bff::the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say");

    // State-changing requests need the session's CSRF token.
    let add = |token: Option<String>| {
        let mut req = client
            .post(format!("{}/api/tasks", bff.base))
            .json(&json!({"title": "water the plants"}));
        if let Some(t) = token {
            req = req.header("X-CSRF-Token", t);
        }
        req.send()
    };
    let res = add(None).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = add(Some("forged".into())).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = add(Some(csrf.clone())).await.unwrap();
    assert_eq!(res.status(), 201);
    let list: Value = get(&client, &format!("{}/api/tasks", bff.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["owner"], ALICE_OID);
    assert_eq!(list["tasks"][0]["title"], "water the plants");
    crate::conformance::covered(&["csrf-refused"], "reference_bff::the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say");

    // 17-20: an expired access token is refreshed first; the rotated refresh token is stored.
    assert!(bff.store.expire_access_token(&session).await.unwrap());
    let res = get(&client, &format!("{}/api/tasks", bff.base)).await;
    assert_eq!(res.status(), 200);
    let after = bff.store.session(&session).await.unwrap().unwrap();
    assert_ne!(
        after.refresh_token.as_ref().unwrap().expose(),
        stored.refresh_token.as_ref().unwrap().expose()
    );
    assert_ne!(after.access_token.expose(), stored.access_token.expose());
    assert!(after.access_expires_at > time::OffsetDateTime::now_utc().unix_timestamp() + 600);
    assert!(after.refreshed_at.is_some());
    crate::conformance::covered(&["17", "18", "19", "20", "access-token-expired-refreshed"], "reference_bff::the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say");

    // A refused refresh ends the session (logged as possible theft).
    let (status, _) = app
        .mock(
            Method::POST,
            "faults",
            Some(
                json!({"endpoint": "token", "preset": "refresh-token-expired",
                        "client_id": BFF, "times": 1}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    assert!(bff.store.expire_access_token(&session).await.unwrap());
    let res = get(&client, &format!("{}/api/tasks", bff.base)).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "session_ended");
    assert!(bff.store.session(&session).await.unwrap().is_none());
    crate::conformance::covered(&["refresh-refused-ends-session"], "reference_bff::the_bff_signs_in_keeps_tokens_server_side_and_calls_the_api_as_steps_1_to_20_say");
    let res = get(&client, &format!("{}/api/tasks", bff.base)).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_callback_refuses_a_state_it_did_not_start_and_an_entra_error() {
    let app = TestApp::spawn().await;
    let bff = start_bff(&app).await;
    let client = app.client();
    // No login-state cookie: refused, nothing stored.
    let res = get(
        &client,
        &format!("{}/auth/callback?code=abc&state=xyz", bff.base),
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("state mismatch"), "{html}");
    // A started login, answered with another state.
    let res = get(&client, &format!("{}/protected", bff.base)).await;
    assert_eq!(res.status(), 303);
    let res = get(
        &client,
        &format!("{}/auth/callback?code=abc&state=other", bff.base),
    )
    .await;
    assert_eq!(res.status(), 400);
    // An error reply with the right state shows Entra's error, escaped.
    let res = get(&client, &format!("{}/protected", bff.base)).await;
    let state = reply_params(&location(&res))["state"].clone();
    let res = get(&client, &format!(
            "{}/auth/callback?state={state}&error=access_denied&error_description=%3Cscript%3Ex%3C/script%3E",
            bff.base
        )).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("access_denied") && !html.contains("<script>x"),
        "{html}"
    );
    assert_eq!(bff.store.count().await.unwrap(), 0);
    // The login endpoint is no open redirect, and a claims value must be JSON.
    let res = get(
        &client,
        &format!("{}/auth/login?return_to=//evil.example/x", bff.base),
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = get(&client, &format!("{}/auth/login?claims=notjson", bff.base)).await;
    assert_eq!(res.status(), 400);
    crate::conformance::covered(
        &["callback-refusals"],
        "reference_bff::the_callback_refuses_a_state_it_did_not_start_and_an_entra_error",
    );
}

#[tokio::test]
async fn a_claims_challenge_from_the_api_makes_the_bff_sign_in_again_with_mfa() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .mock(
            Method::POST,
            "users",
            Some(
                json!({"id": "e1e1e1e1-0000-4000-8000-000000000005", "userPrincipalName": ERIN,
                        "displayName": "Erin Example", "password": PASSWORD, "mfa": "none",
                        "totp": {"secret": ERIN_SECRET}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let bff = start_bff(&app).await;
    let client = app.client();
    let first = sign_in(&app, &bff, &client, ERIN, PASSWORD, None).await;
    let html = page(get(&client, &format!("{}/protected", bff.base)).await).await;
    let csrf = csrf_of(&html);
    // The page's admin form: the API's claims challenge becomes a new sign-in with `claims`.
    let res = client
        .post(format!("{}/api/tasks/admin", bff.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert!(login.starts_with("/auth/login?claims="), "{login}");
    let res = get(&client, &format!("{}{login}", bff.base)).await;
    let authorize = location(&res);
    let claims: Value = serde_json::from_str(&reply_params(&authorize)["claims"]).unwrap();
    assert_eq!(claims["access_token"]["acrs"]["value"], "c1");
    // Entra asks for the second factor (the SSO session has only a password).
    let mut html = page(get(&client, &authorize).await).await;
    if html.contains("name=\"passwd\"") {
        html = page(submit(&client, &app.https, &html, &[("passwd", PASSWORD)]).await).await;
    }
    assert!(html.contains("name=\"otc\""), "{html}");
    app.state.clock.advance(30);
    let code = totp_code(&app, ERIN_SECRET, 0);
    let res = submit(&client, &app.https, &html, &[("otc", &code)]).await;
    let callback = location(&res);
    let res = get(&client, &callback).await;
    let second = set_cookie(&res, "bff-session");
    assert_eq!(continues_to(res).await, "/protected?notice=stepped-up");
    assert!(
        !second.contains(&first),
        "a new session after a new sign-in"
    );
    let html = page(get(&client, &format!("{}/protected", bff.base)).await).await;
    let amr = html
        .split("<td id=\"amr\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(amr.split(", ").any(|m| m == "mfa"), "{amr}");
    let res = client
        .post(format!("{}/api/tasks/admin", bff.base))
        .header("X-CSRF-Token", csrf_of(&html))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["admin"], true);
    crate::conformance::covered(
        &["mfa-step-up"],
        "reference_bff::a_claims_challenge_from_the_api_makes_the_bff_sign_in_again_with_mfa",
    );
}

#[tokio::test]
async fn logout_ends_the_session_here_and_at_entra_and_front_channel_logout_ends_it_by_sid() {
    let app = TestApp::spawn().await;
    let bff = start_bff(&app).await;
    let client = app.client();
    let session = sign_in(&app, &bff, &client, ALICE, PASSWORD, None).await;
    let stored = bff.store.session(&session).await.unwrap().unwrap();

    // Logout needs the CSRF token.
    let res = client
        .post(format!("{}/logout", bff.base))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let html = page(get(&client, &bff.base).await).await;
    assert!(html.contains("Signed in"));
    let res = client
        .post(format!("{}/logout", bff.base))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(set_cookie(&res, "bff-session").contains("Max-Age=0"));
    let end = location(&res);
    let params = reply_params(&end);
    assert!(end.starts_with(&format!("{}/{TENANT}/oauth2/v2.0/logout?", app.https)));
    assert_eq!(params["post_logout_redirect_uri"], format!("{}/", bff.base));
    assert_eq!(params["id_token_hint"], stored.id_token.expose());
    assert_eq!(params["logout_hint"], stored.login_hint.clone().unwrap());
    assert!(bff.store.session(&session).await.unwrap().is_none());
    // Entra's sign-out page ends the SSO session and returns to the app.
    let html = page(get(&client, &end).await).await;
    assert!(html.contains(&format!("{}/", bff.base)), "{html}");
    let html = page(get(&client, &bff.base).await).await;
    assert!(html.contains("Not signed in"));

    // Signed in again, then signed out at Entra by another app: its sign-out page loads our
    // front-channel URL with the sid, which ends this session.
    let session = sign_in(&app, &bff, &client, ALICE, PASSWORD, None).await;
    let sid = bff
        .store
        .session(&session)
        .await
        .unwrap()
        .unwrap()
        .sid
        .unwrap();
    let logout = format!("{}/{TENANT}/oauth2/v2.0/logout", app.https);
    let html = page(get(&client, &logout).await).await;
    let frontchannel = format!("{}/auth/frontchannel-logout?sid={sid}", bff.base);
    assert!(html.contains(&frontchannel.replace('&', "&amp;")), "{html}");
    let res = get(&client, &frontchannel).await;
    assert_eq!(res.status(), 200);
    assert!(bff.store.session(&session).await.unwrap().is_none());
    let res = get(&client, &format!("{}/protected", bff.base)).await;
    assert_eq!(res.status(), 303);
    crate::conformance::covered(&["logout"], "reference_bff::logout_ends_the_session_here_and_at_entra_and_front_channel_logout_ends_it_by_sid");
}

#[tokio::test]
async fn a_callback_carried_to_another_browser_is_refused_and_stays_usable_by_its_own() {
    // Login CSRF: an attacker's own sign-in answer, sent to a victim's browser, must not plant
    // the attacker's session there. The state is bound to the browser that started the login.
    let app = TestApp::spawn().await;
    let bff = start_bff(&app).await;
    let attacker = app.client();
    let res = get(&attacker, &format!("{}/protected", bff.base)).await;
    let callback = at_entra(&app, &attacker, &location(&res), ALICE, PASSWORD, None).await;
    let victim = app.client();
    let res = get(&victim, &callback).await;
    assert_eq!(res.status(), 400);
    assert!(res
        .headers()
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().starts_with("bff-session=")));
    assert_eq!(bff.store.count().await.unwrap(), 0);
    // Checked before anything was consumed: the browser that started it still finishes it.
    let res = get(&attacker, &callback).await;
    assert_eq!(res.status(), 200);
    assert_eq!(bff.store.count().await.unwrap(), 1);
    crate::conformance::covered(&["login-csrf"], "reference_bff::a_callback_carried_to_another_browser_is_refused_and_stays_usable_by_its_own");
}
