//! Consent (issue 13 item 5): a scope the app is neither pre-authorized nor consented for shows
//! the consent page after sign-in (`prompt=consent` always); accepting records the user's grant,
//! declining redirects with `access_denied` (AADSTS65004); `prompt=none` answers
//! `consent_required` (65001); `/{tenant}/v2.0/adminconsent` and `/{tenant}/adminconsent` grant
//! for everyone (`admin_consent=True`); fixture grants (`oauth2PermissionGrants`) need no page.

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const MAIL: &str = "openid profile offline_access https://graph.microsoft.com/Mail.Read";

/// alice signs in to the BFF asking for `scope`; the response to her password.
async fn alice_signs_in(app: &TestApp, client: &reqwest::Client, scope: &str) -> reqwest::Response {
    let params = with(code_request(BFF, BFF_REDIRECT), "scope", scope);
    sign_in(app, client, &params, ALICE, PASSWORD).await
}

fn scp(answer: &Answer) -> String {
    jwt_parts(answer.str("access_token")).1["scp"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_scope_the_app_does_not_hold_asks_the_user_once() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let consent = page(alice_signs_in(&app, &client, MAIL).await).await;
    assert!(consent.contains("Permissions requested"), "{consent}");
    assert!(
        consent.contains("https://graph.microsoft.com/Mail.Read"),
        "{consent}"
    );
    let res = submit(&client, &app.https, &consent, &[("action", "Accept")]).await;
    let code = code_of(&res);
    let tokens = app
        .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(
        scp(&tokens).split(' ').any(|s| s == "Mail.Read"),
        "{}",
        scp(&tokens)
    );
    // Recorded for alice: another browser signs her in without asking again.
    let again = alice_signs_in(&app, &app.client(), MAIL).await;
    assert_eq!(without_query(&location(&again)), BFF_REDIRECT);
    // Asked with a new scope beside it: only the new one is on the page.
    let more = format!("{MAIL} https://graph.microsoft.com/Files.Read");
    let page_more = page(alice_signs_in(&app, &app.client(), &more).await).await;
    assert!(
        page_more.contains("https://graph.microsoft.com/Files.Read")
            && !page_more.contains("https://graph.microsoft.com/Mail.Read"),
        "{page_more}"
    );
    // Not for bob: his sign-in asks (after his one-time code).
    let other = app.client();
    let params = with(code_request(BFF, BFF_REDIRECT), "scope", MAIL);
    app.state.clock.advance(30);
    let totp = page(sign_in(&app, &other, &params, BOB, PASSWORD).await).await;
    let otc = totp_code(&app, BOB_TOTP_SECRET, 0);
    let bobs = page(submit(&other, &app.https, &totp, &[("otc", &otc)]).await).await;
    assert!(bobs.contains("Permissions requested"), "{bobs}");
}

#[tokio::test]
async fn declining_redirects_with_access_denied() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let consent = page(alice_signs_in(&app, &client, MAIL).await).await;
    let res = submit(&client, &app.https, &consent, &[("action", "decline")]).await;
    let params = reply_params(&location(&res));
    assert_eq!(params["error"], "access_denied");
    assert!(
        params["error_description"].starts_with("AADSTS65004:"),
        "{params:?}"
    );
    assert_eq!(params["state"], STATE);
    // Nothing was recorded: the token endpoint still refuses a code for it.
    let spec = CodeSpec::bff().scope(MAIL);
    let (code, _) = issue_code(&app, &spec).await;
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_grant", 65001);
}

#[tokio::test]
async fn prompt_consent_asks_even_for_pre_authorized_scopes_and_prompt_none_cannot() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let scope = format!("openid profile {API_SCOPE}");
    let params = with(
        with(code_request(BFF, BFF_REDIRECT), "scope", &scope),
        "prompt",
        "consent",
    );
    let consent = page(sign_in(&app, &client, &params, ALICE, PASSWORD).await).await;
    assert!(consent.contains(API_SCOPE), "{consent}");
    code_of(&submit(&client, &app.https, &consent, &[("action", "Accept")]).await);
    // alice now has a session; a silent request for a scope she never consented to.
    let silent = with(
        with(code_request(BFF, BFF_REDIRECT), "scope", MAIL),
        "prompt",
        "none",
    );
    let res = get(&client, &authorize_url(&app.https, &silent)).await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["error"], "consent_required", "{reply:?}");
    assert!(reply["error_description"].starts_with("AADSTS65001:"));
    // Interactive, the session's user goes straight to the consent page.
    let interactive = with(code_request(BFF, BFF_REDIRECT), "scope", MAIL);
    let consent = page(get(&client, &authorize_url(&app.https, &interactive)).await).await;
    assert!(consent.contains("Permissions requested"), "{consent}");
    code_of(&submit(&client, &app.https, &consent, &[("action", "Accept")]).await);
}

#[tokio::test]
async fn a_fixture_grant_needs_no_page() {
    let app = TestApp::spawn().await;
    // The built-in fixtures: alice consented the BFF to Graph's Calendars.Read.
    let res = alice_signs_in(
        &app,
        &app.client(),
        "openid offline_access https://graph.microsoft.com/Calendars.Read",
    )
    .await;
    let tokens = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(scp(&tokens).contains("Calendars.Read"));
    // bob has no such grant.
    let spec = CodeSpec::bff().scope("openid https://graph.microsoft.com/Calendars.Read");
    let (code, _) = issue_code(
        &app,
        &CodeSpec {
            user_oid: BOB_OID.into(),
            ..spec
        },
    )
    .await;
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_grant", 65001);
}

/// The BFF's admin-consent URL (v2's or v1's), with `scope` when given and state `admin-1`.
pub fn admin_consent_url(app: &TestApp, v2: bool, scope: Option<&str>) -> String {
    let path = if v2 {
        "v2.0/adminconsent"
    } else {
        "adminconsent"
    };
    let mut url = url::Url::parse(&format!("{}/{TENANT}/{path}", app.https)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", BFF)
        .append_pair("redirect_uri", BFF_REDIRECT)
        .extend_pairs(scope.map(|s| ("scope", s)))
        .append_pair("state", "admin-1");
    url.to_string()
}

/// `upn`, as the admin, signs in at the admin-consent URL; the consent page.
pub async fn admin_signs_in(
    app: &TestApp,
    client: &reqwest::Client,
    url: &str,
    upn: &str,
) -> String {
    let username = page(get(client, url).await).await;
    let password = page(submit(client, &app.https, &username, &[("loginfmt", upn)]).await).await;
    let consent = page(submit(client, &app.https, &password, &[("passwd", PASSWORD)]).await).await;
    assert!(
        consent.contains("everyone in your organization"),
        "{consent}"
    );
    consent
}

#[tokio::test]
async fn admin_consent_grants_for_everyone() {
    let app = TestApp::spawn().await;
    let files = "https://graph.microsoft.com/Files.Read";
    let bobs_code = || async {
        let spec = CodeSpec::bff().scope(&format!("openid {files}"));
        issue_code(
            &app,
            &CodeSpec {
                user_oid: BOB_OID.into(),
                ..spec
            },
        )
        .await
        .0
    };
    app.redeem_bff(&bobs_code().await)
        .await
        .assert_error(400, "invalid_grant", 65001);
    let client = app.client();
    let url = admin_consent_url(&app, true, Some(files));
    let consent = admin_signs_in(&app, &client, &url, ALICE).await;
    let res = submit(&client, &app.https, &consent, &[("action", "Accept")]).await;
    let loc = location(&res);
    assert_eq!(without_query(&loc), BFF_REDIRECT);
    let reply = reply_params(&loc);
    assert_eq!(reply["admin_consent"], "True");
    assert_eq!(reply["tenant"], TENANT);
    assert_eq!(reply["scope"], files);
    assert_eq!(reply["state"], "admin-1");
    assert!(!reply.contains_key("code"));
    // Now every user's token carries it, bob's too.
    let tokens = app.redeem_bff(&bobs_code().await).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(scp(&tokens).contains("Files.Read"));
}

#[tokio::test]
async fn a_declined_or_malformed_admin_consent_gets_entras_answers() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let url = admin_consent_url(
        &app,
        false,
        Some("https://graph.microsoft.com/Sites.Read.All"),
    );
    let consent = admin_signs_in(&app, &client, &url, ALICE).await;
    let res = submit(&client, &app.https, &consent, &[("action", "decline")]).await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["admin_consent"], "True");
    assert_eq!(reply["error"], "access_denied");
    assert!(
        reply["error_description"]
            .starts_with("AADSTS65004: User declined to consent to access the app.\r\n"),
        "{}",
        reply["error_description"]
    );
    assert_eq!(reply["state"], "admin-1");
    // No redirect URI, or one not registered: an error page, never a redirect.
    for query in [
        format!("client_id={BFF}&scope=openid"),
        format!("client_id={BFF}&scope=openid&redirect_uri=https://evil.example/"),
    ] {
        let res = get(
            &client,
            &format!("{}/{TENANT}/v2.0/adminconsent?{query}", app.https),
        )
        .await;
        assert_eq!(res.status(), 400, "{query}");
        assert!(res.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn an_api_may_pre_authorize_an_app_the_file_registers_after_it() {
    // Found by the fixture fuzz target: the pre-authorization was written before the app it
    // names, and the store refused the whole file (FOREIGN KEY constraint failed).
    let pre = toml::Value::Table(
        r#"appId = "33334444-dddd-5555-eeee-6666ffff7777"
           delegatedPermissionIds = ["access_as_user"]"#
            .parse()
            .unwrap(),
    );
    let (app, _dir) = Fixture::builtin()
        .app(
            "api",
            "api.preAuthorizedApplications",
            toml::Value::Array(vec![pre]),
        )
        .spawn()
        .await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT client_id, scope FROM consents WHERE resource_client_id = ?")
            .bind(API)
            .fetch_all(&app.state.store.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(DAEMON.to_string(), "access_as_user".to_string())]
    );
}

#[tokio::test]
async fn stay_signed_in_is_not_asked_in_a_sign_in_that_shows_the_consent_page() {
    let (app, _dir) = stay_signed_in_app().await;
    let client = app.client();
    // Consent to give: the consent page comes straight after the password.
    let html = page(alice_signs_in(&app, &client, MAIL).await).await;
    assert!(html.contains("Permissions requested"), "{html}");
    assert!(!html.contains("Stay signed in?"));
    let res = submit(&client, &app.https, &html, &[("action", "Accept")]).await;
    assert!(set_cookie(&res, "ESTSAUTH").is_some(), "a browser session");
    // Nothing left to consent: "Stay signed in?" as usual.
    let client = app.client();
    let html = page(alice_signs_in(&app, &client, MAIL).await).await;
    assert!(html.contains("Stay signed in?"), "{html}");
}
