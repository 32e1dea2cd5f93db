//! The device code flow (issue 13 item 1), as Entra speaks it: `/devicecode` answers the codes,
//! the person enters the user code at `/devicelogin` and signs in through the normal pages (MFA
//! included), and the device's polls get `authorization_pending` (70016), `slow_down`,
//! `authorization_declined`, `expired_token` (70019) or `bad_verification_code` (70018) until the
//! tokens come.

use serde_json::Value;

use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const DEVICE_SCOPE: &str =
    "openid profile offline_access api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user";

impl TestApp {
    /// `POST /{TENANT}/oauth2/v2.0/devicecode`.
    pub async fn devicecode(&self, form: &[(&str, &str)]) -> Answer {
        let url = format!("{}/{TENANT}/oauth2/v2.0/devicecode", self.https);
        answer(self.client().post(url).form(form).send().await.unwrap()).await
    }

    /// The device's poll of the token endpoint.
    pub async fn poll(&self, client_id: &str, device_code: &str) -> Answer {
        self.token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", device_code),
        ])
        .await
    }
}

/// The person's browser: enters `user_code` at /devicelogin and confirms; returns the page the
/// confirmation leads to (the sign-in's first page).
pub async fn enter_code(app: &TestApp, client: &reqwest::Client, user_code: &str) -> String {
    let entry = page(get(client, &format!("{}/devicelogin", app.https)).await).await;
    assert!(entry.contains("name=\"otc\""), "{entry}");
    let confirm = page(submit(client, &app.https, &entry, &[("otc", user_code)]).await).await;
    assert!(
        confirm.contains("Are you trying to sign in to"),
        "{confirm}"
    );
    assert!(confirm.contains("id=\"appName\">"), "{confirm}");
    page(submit(client, &app.https, &confirm, &[("action", "continue")]).await).await
}

#[tokio::test]
async fn alice_enters_the_code_signs_in_and_the_device_gets_her_tokens() {
    let app = TestApp::spawn().await;
    let dc = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    assert_eq!(dc.status, 200, "{}", dc.body);
    let user_code = dc.str("user_code").to_string();
    let device_code = dc.str("device_code").to_string();
    assert_eq!(user_code.len(), 9);
    assert_eq!(
        dc.str("verification_uri"),
        format!("{}/devicelogin", app.https)
    );
    assert_eq!(dc.body["expires_in"], 900);
    assert_eq!(dc.body["interval"], 5);
    assert_eq!(
        dc.str("message"),
        format!(
            "To sign in, use a web browser to open the page {}/devicelogin and enter the code {user_code} to authenticate.",
            app.https
        )
    );
    assert!(dc.body.get("verification_uri_complete").is_none());

    // Nobody signed in yet; polling faster than the interval is told to slow down.
    app.poll(SPA, &device_code)
        .await
        .assert_error(400, "authorization_pending", 70016);
    app.poll(SPA, &device_code)
        .await
        .assert_error(400, "slow_down", 70016);
    app.state.clock.advance(5);
    app.poll(SPA, &device_code)
        .await
        .assert_error(400, "authorization_pending", 70016);

    // The code as a person types it: lower case, with a dash.
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let client = app.client();
    let username = enter_code(&app, &client, &typed).await;
    assert!(username.contains("name=\"loginfmt\""), "{username}");
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    let res = submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await;
    let loc = location(&res);
    assert!(
        loc.starts_with(&format!("{}/devicelogin/done", app.https)),
        "{loc}"
    );
    assert!(!loc.contains("code="), "{loc}");
    let done = page(get(&client, &loc).await).await;
    assert!(done.contains("You have signed in to the"), "{done}");

    app.state.clock.advance(5);
    let tokens = app.poll(SPA, &device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let (_, id) = jwt_parts(tokens.str("id_token"));
    let (_, access) = jwt_parts(tokens.str("access_token"));
    assert_eq!(id["preferred_username"], ALICE);
    assert!(id["sid"].is_string(), "{id}");
    assert_eq!(access["oid"], ALICE_OID);
    assert_eq!(access["azp"], SPA);
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["amr"], serde_json::json!(["pwd"]));
    // Its refresh token works like any other.
    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", tokens.str("refresh_token")),
        ])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    // A device code gives its tokens once.
    app.state.clock.advance(5);
    app.poll(SPA, &device_code)
        .await
        .assert_error(400, "bad_verification_code", 70018);
    // The browser's session from the device sign-in is an SSO session like any other: the code
    // page shows the account picker for the next device.
    let dc2 = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    let picker = enter_code(&app, &client, dc2.str("user_code")).await;
    assert!(
        picker.contains(&format!("data-test-id=\"{ALICE}\"")),
        "{picker}"
    );
}

#[tokio::test]
async fn bob_signs_in_with_his_one_time_code_and_the_amr_says_mfa() {
    let app = TestApp::spawn().await;
    let dc = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    let client = app.client();
    let username = enter_code(&app, &client, dc.str("user_code")).await;
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", BOB)]).await).await;
    let totp = page(submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await).await;
    assert!(totp.contains("idTxtBx_SAOTCC_OTC"), "{totp}");
    let otc = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&client, &app.https, &totp, &[("otc", &otc)]).await;
    assert!(location(&res).contains("/devicelogin/done"));
    let tokens = app.poll(SPA, dc.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let (_, access) = jwt_parts(tokens.str("access_token"));
    assert_eq!(access["oid"], BOB_OID);
    assert_eq!(access["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

#[tokio::test]
async fn declining_on_the_confirmation_or_cancelling_the_sign_in_declines_the_device() {
    let app = TestApp::spawn().await;
    let client = app.client();
    // "Cancel" on "Are you trying to sign in?".
    let dc = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    let entry = page(get(&client, &format!("{}/devicelogin", app.https)).await).await;
    let confirm =
        page(submit(&client, &app.https, &entry, &[("otc", dc.str("user_code"))]).await).await;
    let declined = page(submit(&client, &app.https, &confirm, &[("action", "cancel")]).await).await;
    assert!(declined.contains("You have declined"), "{declined}");
    app.poll(SPA, dc.str("device_code"))
        .await
        .assert_error(400, "authorization_declined", 65004);
    // The same code again at the page: already declined (AADSTS90120).
    let again = submit(&client, &app.https, &entry, &[("otc", dc.str("user_code"))]).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("AADSTS90120"));

    // "Cancel" on the username page of the sign-in.
    let dc = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    let username = enter_code(&app, &client, dc.str("user_code")).await;
    let res = submit(&client, &app.https, &username, &[("action", "cancel")]).await;
    let loc = location(&res);
    assert!(
        loc.contains("/devicelogin/done") && loc.contains("error=access_denied"),
        "{loc}"
    );
    assert!(page(get(&client, &loc).await)
        .await
        .contains("You have declined"));
    app.poll(SPA, dc.str("device_code"))
        .await
        .assert_error(400, "authorization_declined", 65004);
}

#[tokio::test]
async fn expired_unknown_and_foreign_codes_get_entras_errors() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let dc = app
        .devicecode(&[("client_id", SPA), ("scope", DEVICE_SCOPE)])
        .await;
    // Another app cannot redeem it; an unknown code is not recognized.
    let with_secret = app
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("device_code", dc.str("device_code")),
        ])
        .await;
    with_secret.assert_error(400, "bad_verification_code", 70018);
    app.poll(SPA, "DAQABIQEAAADnot-a-code")
        .await
        .assert_error(400, "bad_verification_code", 70018);
    // A wrong code at the page.
    let entry = page(get(&client, &format!("{}/devicelogin", app.https)).await).await;
    let wrong = submit(&client, &app.https, &entry, &[("otc", "ZZZZZZZZZ")]).await;
    assert_eq!(wrong.status(), 400);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("AADSTS70018") && html.contains("name=\"otc\""),
        "{html}"
    );
    // Markup typed as a code is never reflected.
    let hostile = submit(
        &client,
        &app.https,
        &entry,
        &[("otc", "<script>x</script>")],
    )
    .await;
    assert_eq!(hostile.status(), 400);
    assert!(!hostile.text().await.unwrap().contains("<script>x"));
    // Fifteen minutes later the code is expired, for the device and at the page.
    app.state.clock.advance(901);
    app.poll(SPA, dc.str("device_code"))
        .await
        .assert_error(400, "expired_token", 70020);
    let late = submit(&client, &app.https, &entry, &[("otc", dc.str("user_code"))])
        .await
        .text()
        .await
        .unwrap();
    assert!(late.contains("AADSTS70019"), "{late}");
}

#[tokio::test]
async fn the_device_authorization_request_is_validated_like_authorize() {
    let app = TestApp::spawn().await;
    app.devicecode(&[("scope", DEVICE_SCOPE)])
        .await
        .assert_error(400, "invalid_request", 900144);
    app.devicecode(&[("client_id", SPA)])
        .await
        .assert_error(400, "invalid_request", 900144);
    app.devicecode(&[
        ("client_id", "99999999-0000-0000-0000-000000000000"),
        ("scope", "openid"),
    ])
    .await
    .assert_error(400, "unauthorized_client", 700016);
    app.devicecode(&[
        ("client_id", SPA),
        ("scope", "api://22223333-cccc-4444-dddd-5555eeee6666/nope"),
    ])
    .await
    .assert_error(400, "invalid_scope", 70011);
    // A confidential client polls with its credential only (AADSTS7000218).
    let dc = app
        .devicecode(&[("client_id", BFF), ("scope", "openid profile")])
        .await;
    assert_eq!(dc.status, 200, "{}", dc.body);
    app.poll(BFF, dc.str("device_code"))
        .await
        .assert_error(401, "invalid_client", 7000218);
    // GET is not the method.
    let res = app
        .client()
        .get(format!("{}/{TENANT}/oauth2/v2.0/devicecode", app.https))
        .send()
        .await
        .unwrap();
    answer(res)
        .await
        .assert_error(405, "invalid_request", 900561);
}

#[tokio::test]
async fn the_v1_endpoint_answers_in_adals_shape() {
    let app = TestApp::spawn().await;
    let url = format!("{}/{TENANT}/oauth2/devicecode", app.https);
    let res = app
        .client()
        .post(url)
        .form(&[
            ("client_id", SPA),
            ("resource", "api://22223333-cccc-4444-dddd-5555eeee6666"),
        ])
        .send()
        .await
        .unwrap();
    let a = answer(res).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["expires_in"], Value::String("900".into()));
    assert_eq!(a.body["interval"], Value::String("5".into()));
    assert_eq!(
        a.str("verification_url"),
        format!("{}/devicelogin", app.https)
    );
    // Signed in, the v1 token endpoint redeems it with the resource's token.
    let client = app.client();
    let username = enter_code(&app, &client, a.str("user_code")).await;
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    location(&submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await);
    let res = app
        .client()
        .post(format!("{}/{TENANT}/oauth2/token", app.https))
        .form(&[
            // ADAL's form: `grant_type=device_code` and the device code as `code`.
            ("grant_type", "device_code"),
            ("client_id", SPA),
            ("code", a.str("device_code")),
            ("resource", "api://22223333-cccc-4444-dddd-5555eeee6666"),
        ])
        .send()
        .await
        .unwrap();
    let t = answer(res).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert!(t.body["expires_in"].is_string(), "{}", t.body);
    let (_, id) = jwt_parts(t.str("id_token"));
    assert_eq!(id["ver"], "1.0");
}

#[tokio::test]
async fn discovery_names_the_device_authorization_endpoint_it_serves() {
    let app = TestApp::spawn().await;
    for (v2, path) in [
        (true, "oauth2/v2.0/devicecode"),
        (false, "oauth2/devicecode"),
    ] {
        let doc = app.discovery(v2).await;
        let endpoint = doc["device_authorization_endpoint"].as_str().unwrap();
        assert_eq!(endpoint, format!("{}/{TENANT}/{path}", app.https));
        let res = app
            .client()
            .post(endpoint)
            .form(&[("client_id", SPA), ("scope", "openid"), ("resource", API)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{endpoint}");
    }
}
