//! Part 3: every error of the token endpoint, with its AADSTS number, JSON shape and HTTP status.

use crate::helpers::*;
use crate::token_helpers::*;

fn code_form<'a>(code: &'a str, client: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", BFF_REDIRECT),
    ]
}

#[tokio::test]
async fn a_replayed_code_gets_aadsts54005_and_revokes_the_refresh_token_issued_from_it() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let first = app.redeem_bff(&code).await;
    assert_eq!(first.status, 200);
    let rt = first.str("refresh_token").to_string();

    let replay = app.redeem_bff(&code).await;
    replay.assert_error(400, "invalid_grant", 54005);

    let refresh = app.refresh_bff(&rt, None).await;
    refresh.assert_error(400, "invalid_grant", 50173);
    assert_eq!(refresh.body["suberror"], "bad_token", "{}", refresh.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_redemptions_of_one_code_give_exactly_one_success() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let answers = concurrently(&app, 16, &bff_code_form(&code, None)).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(ok, 1);
    for a in answers.iter().filter(|a| a.status != 200) {
        a.assert_error(400, "invalid_grant", 54005);
    }
    // The replays revoked the grant: its refresh token is dead, whatever the interleaving.
    let winner = answers.iter().find(|a| a.status == 200).unwrap();
    let refresh = app.refresh_bff(winner.str("refresh_token"), None).await;
    refresh.assert_error(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_gets_aadsts501481() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let a = app
        .token_from_spa(&spa_code_form(
            &code,
            Some("wrong-verifier-wrong-verifier-wrong-verifier-000"),
        ))
        .await;
    a.assert_error(400, "invalid_grant", 501481);
}

#[tokio::test]
async fn a_wrong_client_secret_gets_aadsts7000215_with_401_and_a_challenge_only_to_basic_auth() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let mut form = code_form(&code, BFF);
    form.push(("client_secret", "not-the-secret"));
    let a = app.token(&form).await;
    a.assert_error(401, "invalid_client", 7000215);
    // Credentials in the body: no challenge, as Entra's answer has none.
    assert_eq!(a.header("www-authenticate"), None);

    // In an Authorization header: the challenge of RFC 6749 section 5.2.
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{BFF}:not-the-secret"),
    );
    let a = app
        .token_with(
            &code_form(&code, BFF),
            &[("Authorization", &format!("Basic {basic}"))],
        )
        .await;
    a.assert_error(401, "invalid_client", 7000215);
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"entra-mock\"")
    );
}

#[tokio::test]
async fn a_confidential_client_without_credential_gets_aadsts7000218_with_401() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.token(&code_form(&code, BFF)).await;
    a.assert_error(401, "invalid_client", 7000218);
}

#[tokio::test]
async fn a_public_client_sending_a_secret_gets_aadsts700025_with_401() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let mut form = spa_code_form(&code, Some(VERIFIER));
    form.push(("client_secret", "anything"));
    let a = app.token_from_spa(&form).await;
    a.assert_error(401, "invalid_client", 700025);
}

#[tokio::test]
async fn an_unknown_client_gets_aadsts700016() {
    let app = TestApp::spawn().await;
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "99999999-0000-0000-0000-000000000000"),
            ("client_secret", "x"),
            (
                "scope",
                "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
            ),
        ])
        .await;
    a.assert_error(400, "unauthorized_client", 700016);
}

#[tokio::test]
async fn a_redirect_uri_differing_from_the_authorize_one_fails() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("code", &code),
            ("redirect_uri", "https://localhost:5001/auth/callback"),
        ])
        .await;
    a.assert_error(400, "invalid_grant", 500112);
}

#[tokio::test]
async fn an_expired_code_gets_aadsts70008() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    app.state.clock.advance(601);
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_grant", 70008);
}

#[tokio::test]
async fn an_unknown_code_gets_aadsts9002313() {
    let app = TestApp::spawn().await;
    app.redeem_bff("not-a-code")
        .await
        .assert_error(400, "invalid_grant", 9002313);
}

#[tokio::test]
async fn a_spa_code_redeemed_without_origin_gets_aadsts9002327() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let a = app.token(&spa_code_form(&code, Some(VERIFIER))).await;
    a.assert_error(400, "invalid_request", 9002327);
}

#[tokio::test]
async fn a_spa_code_without_pkce_gets_aadsts9002325() {
    let app = TestApp::spawn().await;
    let mut spec = CodeSpec::spa();
    spec.challenge = None;
    let (code, _) = issue_code(&app, &spec).await;
    let a = app.token_from_spa(&spa_code_form(&code, None)).await;
    a.assert_error(400, "invalid_request", 9002325);
}

#[tokio::test]
async fn an_origin_on_a_web_redirect_uri_gets_aadsts9002326() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let mut form = code_form(&code, BFF);
    form.push(("client_secret", BFF_SECRET));
    let a = app
        .token_with(&form, &[("Origin", "http://localhost:5001")])
        .await;
    a.assert_error(400, "invalid_request", 9002326);
}

#[tokio::test]
async fn an_unknown_grant_type_gets_aadsts70003() {
    let app = TestApp::spawn().await;
    let a = app
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:saml2-bearer",
            ),
            ("client_id", BFF),
        ])
        .await;
    a.assert_error(400, "unsupported_grant_type", 70003);
}

#[tokio::test]
async fn missing_parameters_get_aadsts900144() {
    let app = TestApp::spawn().await;
    app.token(&[("client_id", BFF)])
        .await
        .assert_error(400, "invalid_request", 900144);
    let a = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("redirect_uri", BFF_REDIRECT),
        ])
        .await;
    a.assert_error(400, "invalid_request", 900144);
    assert!(a.str("error_description").contains("'code'"));
    // Client credentials without `scope`: Entra's own wording and number.
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
        ])
        .await;
    a.assert_error(400, "invalid_request", 90014);
    assert!(a
        .str("error_description")
        .contains("The required field 'scope' is missing from the credential."));
}

#[tokio::test]
async fn client_credentials_without_dot_default_gets_aadsts1002012() {
    let app = TestApp::spawn().await;
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", API_SCOPE),
        ])
        .await;
    a.assert_error(400, "invalid_scope", 1002012);
}

#[tokio::test]
async fn an_unknown_scope_of_a_known_api_gets_aadsts70011() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(
        &app,
        &CodeSpec::bff().scope("openid api://22223333-cccc-4444-dddd-5555eeee6666/nope"),
    )
    .await;
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_scope", 70011);
}

#[tokio::test]
async fn scopes_of_two_resources_in_one_request_get_aadsts28000() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let rt = app.redeem_bff(&code).await.str("refresh_token").to_string();
    let a = app
        .refresh_bff(&rt, Some(&format!("{API_SCOPE} User.Read")))
        .await;
    a.assert_error(400, "invalid_scope", 28000);
}

#[tokio::test]
async fn a_scope_without_consent_gets_aadsts65001() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope("openid Mail.Read")).await;
    let a = app.redeem_bff(&code).await;
    a.assert_error(400, "invalid_grant", 65001);
    assert_eq!(a.body["suberror"], "consent_required");
}

#[tokio::test]
async fn a_public_client_cannot_use_client_credentials() {
    let app = TestApp::spawn().await;
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", SPA),
            (
                "scope",
                "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
            ),
        ])
        .await;
    a.assert_error(401, "invalid_client", 7000218);
}

#[tokio::test]
async fn the_token_endpoint_refuses_get_with_405() {
    let app = TestApp::spawn().await;
    let res = app.client().get(app.token_url()).send().await.unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn a_v2_redemption_names_the_resource_its_token_is_for() {
    let app = TestApp::spawn().await;
    let spec = CodeSpec::bff().scope(&format!("openid offline_access User.Read {API_SCOPE}"));
    // 1. Without `scope`, a code of two resources cannot say which one: AADSTS28000.
    let (code, _) = issue_code(&app, &spec).await;
    app.redeem_bff(&code)
        .await
        .assert_error(400, "invalid_scope", 28000);
    // 2. Naming the API (as MSAL does, with the OpenID scopes) gives the API's token, and the
    // refresh token and ID token the sign-in authorized.
    let (code, _) = issue_code(&app, &spec).await;
    let scope = format!("{API_SCOPE} openid profile offline_access");
    let mut form = bff_code_form(&code, None);
    form.push(("scope", &scope));
    let a = app.token(&form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["scope"], API_SCOPE);
    assert_eq!(jwt_parts(a.str("access_token")).1["aud"], API);
    assert!(a.body["refresh_token"].is_string() && a.body["id_token"].is_string());
    // 3. Naming Graph gives Graph's.
    let (code, _) = issue_code(&app, &spec).await;
    let mut form = bff_code_form(&code, None);
    form.push(("scope", "User.Read"));
    let a = app.token(&form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        jwt_parts(a.str("access_token")).1["aud"],
        "00000003-0000-0000-c000-000000000000"
    );
    // 4. A scope the user never consented to is refused, and the code is not consumed.
    let (code, _) = issue_code(&app, &spec).await;
    let mut form = bff_code_form(&code, None);
    form.push(("scope", "Mail.Read"));
    app.token(&form)
        .await
        .assert_error(400, "invalid_grant", 65001);
    let mut form = bff_code_form(&code, None);
    form.push(("scope", API_SCOPE));
    assert_eq!(app.token(&form).await.status, 200);
}

#[tokio::test]
async fn a_client_credential_sent_from_a_browser_origin_gets_aadsts9002326_in_every_grant() {
    let app = TestApp::spawn().await;
    let daemon = [
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        (
            "scope",
            "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
        ),
    ];
    app.token_from_spa(&daemon)
        .await
        .assert_error(400, "invalid_request", 9002326);
    let rt = bff_refresh_token(&app).await;
    app.token_from_spa(&bff_refresh_form(&rt))
        .await
        .assert_error(400, "invalid_request", 9002326);
    // Refused before anything was used: the same requests without an Origin succeed.
    assert_eq!(app.token(&daemon).await.status, 200);
    assert_eq!(app.token(&bff_refresh_form(&rt)).await.status, 200);
}

#[tokio::test]
async fn a_parameter_sent_twice_gets_aadsts9000411_naming_it() {
    let app = TestApp::spawn().await;
    let scope = "api://22223333-cccc-4444-dddd-5555eeee6666/.default";
    let daemon = |extra: (&'static str, &'static str)| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", scope),
            extra,
        ]
    };
    for (name, value) in [("scope", scope), ("client_id", DAEMON), ("grant_type", "x")] {
        let a = app.token(&daemon((name, value))).await;
        a.assert_error(400, "invalid_request", 9000411);
        assert!(
            a.str("error_description")
                .contains(&format!("The parameter '{name}' is duplicated.")),
            "{}",
            a.body
        );
    }
    assert_eq!(app.token(&daemon(("client_info", "1"))).await.status, 200);
}

#[tokio::test]
async fn static_and_dynamic_scopes_in_one_request_get_aadsts70011() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;
    for scope in [
        "openid https://graph.microsoft.com/.default User.Read".to_string(),
        format!("api://{API}/.default {API_SCOPE}"),
    ] {
        app.refresh_bff(&rt, Some(&scope))
            .await
            .assert_error(400, "invalid_scope", 70011);
    }
    // `.default` with OpenID scopes alone is the usual static request.
    let a = app
        .refresh_bff(
            &rt,
            Some(&format!("openid offline_access api://{API}/.default")),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_json_body_is_not_read_and_json_answers_are_typed_as_entras() {
    let app = TestApp::spawn().await;
    // Entra reads only forms: a JSON body lacks `grant_type`.
    let res = app
        .client()
        .post(app.token_url())
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": DAEMON}))
        .send()
        .await
        .unwrap();
    let a = answer(res).await;
    a.assert_error(400, "invalid_request", 900144);
    assert!(a.str("error_description").contains("'grant_type'"));
    assert_eq!(
        a.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let ok = app.daemon_token().await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("content-type"),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn an_app_refreshing_or_using_ropc_for_itself_by_its_app_id_uri_gets_aadsts90009() {
    const SELF: &str = "5e1f0000-0000-4000-8000-000000000009";
    let app = TestApp::spawn().await;
    // A public app that exposes a scope and is pre-authorized for it.
    let (status, body) = app
        .mock(
            reqwest::Method::POST,
            "applications",
            Some(serde_json::json!({
                "name": "self", "appId": SELF, "displayName": "Self caller",
                "isFallbackPublicClient": true,
                "identifierUris": [format!("api://{SELF}")],
                "api": {
                    "oauth2PermissionScopes": [
                        {"value": "Self.Read", "id": "5c0e0000-0000-4000-8000-0000000000f9"}
                    ],
                    "preAuthorizedApplications": [
                        {"appId": SELF, "delegatedPermissionIds": ["Self.Read"]}
                    ]
                }
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let by_guid = format!("{SELF}/Self.Read offline_access");
    let by_uri = format!("api://{SELF}/Self.Read offline_access");
    let ropc = |scope: String| {
        let app = &app;
        async move {
            app.token(&[
                ("grant_type", "password"),
                ("client_id", SELF),
                ("username", ALICE),
                ("password", PASSWORD),
                ("scope", &scope),
            ])
            .await
        }
    };
    let expected = format!(
        "AADSTS90009: Application '{SELF}'(Self caller) is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.\r\n"
    );
    // ROPC: the URI form is refused, the GUID form works.
    let a = ropc(by_uri.clone()).await;
    a.assert_error(400, "invalid_request", 90009);
    assert!(
        a.str("error_description").starts_with(&expected),
        "{}",
        a.body
    );
    let a = ropc(by_guid.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(jwt_parts(a.str("access_token")).1["aud"], SELF);
    let rt = a.str("refresh_token").to_string();
    // The refresh grant: the same.
    let refresh = |scope: String| {
        let (app, rt) = (&app, &rt);
        async move {
            app.token(&[
                ("grant_type", "refresh_token"),
                ("client_id", SELF),
                ("refresh_token", rt),
                ("scope", &scope),
            ])
            .await
        }
    };
    let a = refresh(by_uri).await;
    a.assert_error(400, "invalid_request", 90009);
    assert!(
        a.str("error_description").starts_with(&expected),
        "{}",
        a.body
    );
    let a = refresh(by_guid).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn api_client_id_names_an_app_only_once_it_is_one_of_its_app_id_uris() {
    // The BFF exposes no API: its client id names it, `api://{client id}` does not (AADSTS500011,
    // as Entra answers an App ID URI nobody set).
    let app = TestApp::spawn().await;
    let ask = |scope: String| {
        let app = &app;
        async move {
            app.token(&[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", DAEMON_SECRET),
                ("scope", &scope),
            ])
            .await
        }
    };
    let by_id = ask(format!("{BFF}/.default")).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    let a = ask(format!("api://{BFF}/.default")).await;
    a.assert_error(400, "invalid_resource", 500011);
    assert!(
        a.str("error_description").contains(&format!(
            "The resource principal named api://{BFF} was not found"
        )),
        "{}",
        a.body
    );
    // Registered, it names the app.
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app(
            "bff",
            "identifierUris",
            toml::Value::Array(vec![format!("api://{BFF}").into()]),
        )
        .spawn()
        .await;
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("api://{BFF}/.default")),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
