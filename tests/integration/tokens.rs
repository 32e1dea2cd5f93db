//! Part 3: the token endpoint's grants and the shape of what it returns.

use serde_json::json;

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

#[tokio::test]
async fn bff_redeems_a_code_with_client_secret_post_and_gets_entras_response_shape() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;

    let a = app.redeem_bff(&code).await;

    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store, no-cache"));
    assert_eq!(a.header("pragma"), Some("no-cache"));
    let mut fields: Vec<&str> = a
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "access_token",
            "client_info",
            "expires_in",
            "ext_expires_in",
            "id_token",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["scope"], API_SCOPE);
    let expires_in = a.body["expires_in"].as_i64().unwrap();
    assert!((3600..=5400).contains(&expires_in), "{expires_in}");
    assert_eq!(a.body["ext_expires_in"], expires_in);
    let info = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        a.str("client_info"),
    )
    .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info, json!({"uid": ALICE_OID, "utid": TENANT}));
    assert!(
        a.str("refresh_token").len() >= 80,
        "refresh tokens are high-entropy"
    );
}

#[tokio::test]
async fn codes_and_refresh_tokens_are_stored_as_digests_only() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    let rt = a.str("refresh_token").to_string();

    let digests: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_sha256 FROM refresh_tokens")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(digests, vec![entra_mock::crypto::sha256(rt.as_bytes())]);
    let codes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_sha256 FROM auth_codes")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(codes, vec![entra_mock::crypto::sha256(code.as_bytes())]);
}

#[tokio::test]
async fn id_and_v2_access_tokens_validate_strictly_against_the_served_jwks() {
    let app = TestApp::spawn().await;
    let mut spec = CodeSpec::bff();
    spec.include_auth_time = true;
    let (code, sid) = issue_code(&app, &spec).await;
    let a = app.redeem_bff(&code).await;

    let id = app.validate(a.str("id_token"), true, BFF).await;
    assert_eq!(id["iss"], format!("{}/{TENANT}/v2.0", app.https));
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["name"], "Alice Example");
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["email"], ALICE);
    assert_eq!(id["nonce"], "nonce-123");
    assert_eq!(id["sid"], sid);
    assert_eq!(id["amr"], json!(["pwd"]));
    assert!(id["auth_time"].is_i64(), "max_age was used");
    for claim in ["aio", "rh", "uti", "login_hint", "sub", "iat"] {
        assert!(
            id[claim].is_string() || id[claim].is_i64(),
            "{claim} in {id}"
        );
    }
    let (header, _) = jwt_parts(a.str("id_token"));
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string() && header.get("x5t").is_none());

    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["ver"], "2.0");
    assert_eq!(at["azp"], BFF);
    assert_eq!(at["azpacr"], "1");
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["oid"], ALICE_OID);
    assert_eq!(at["preferred_username"], ALICE);
    assert_eq!(at["amr"], json!(["pwd"]));
    assert_eq!(at["wids"], json!(["b79fbf4d-3ef9-4689-8143-76b194e85509"]));
    assert!(at.get("roles").is_none(), "alice holds no app role");
    assert_eq!(at["sub"], id["sub"], "sub is pairwise per app");
}

#[tokio::test]
async fn pairwise_sub_differs_between_apps_for_the_same_user() {
    let app = TestApp::spawn().await;
    let (bff_code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let (spa_code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let bff = app.redeem_bff(&bff_code).await;
    let spa = app.redeem_spa(&spa_code).await;
    let (_, a) = jwt_parts(bff.str("id_token"));
    let (_, b) = jwt_parts(spa.str("id_token"));
    assert_eq!(a["oid"], b["oid"]);
    assert_ne!(a["sub"], b["sub"]);
}

#[tokio::test]
async fn group_members_get_groups_and_roles_assigned_through_their_group() {
    let app = TestApp::spawn().await;
    let mut spec = CodeSpec::bff();
    spec.user_oid = BOB_OID.into();
    spec.amr = vec!["pwd", "otp", "mfa"];
    let (code, _) = issue_code(&app, &spec).await;
    let a = app.redeem_bff(&code).await;
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(
        at["groups"],
        json!(["7a5c0000-0000-4000-8000-00000000a001"])
    );
    assert_eq!(at["roles"], json!(["Tasks.ReadWrite.All"]));
    assert_eq!(at["amr"], json!(["pwd", "otp", "mfa"]));
}

#[tokio::test]
async fn acrs_appear_when_the_claims_parameter_asks_for_them() {
    let app = TestApp::spawn().await;
    let mut spec = CodeSpec::bff();
    spec.claims_json = Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#.into());
    let (code, _) = issue_code(&app, &spec).await;
    let a = app.redeem_bff(&code).await;
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(at["acrs"], json!(["c1"]));
}

#[tokio::test]
async fn spa_redeems_cross_origin_with_pkce_and_gets_cors_and_a_24_hour_refresh_token() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::spa()).await;
    let a = app.redeem_spa(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("access-control-allow-origin"), Some(SPA_ORIGIN));
    assert_eq!(a.body["refresh_token_expires_in"], 86400);
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["azp"], SPA);
    assert_eq!(at["azpacr"], "0");
}

#[tokio::test]
async fn token_endpoint_errors_carry_cors_for_spa_origins_but_not_for_others() {
    let app = TestApp::spawn().await;
    let a = app
        .token_with(
            &[("grant_type", "authorization_code"), ("client_id", SPA)],
            &[("Origin", SPA_ORIGIN)],
        )
        .await;
    a.assert_error(400, "invalid_request", 900144);
    assert_eq!(a.header("access-control-allow-origin"), Some(SPA_ORIGIN));

    let b = app
        .token_with(
            &[("grant_type", "authorization_code"), ("client_id", SPA)],
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(b.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn client_credentials_gives_daemon_an_app_token_with_its_granted_roles() {
    let app = TestApp::spawn().await;
    let a = app.daemon_token().await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut fields: Vec<&str> = a
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["access_token", "expires_in", "ext_expires_in", "token_type"]
    );
    assert_eq!(a.header("cache-control"), Some("no-store, no-cache"));

    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["roles"], json!(["Tasks.ReadWrite.All"]));
    assert_eq!(at["idtyp"], "app");
    assert_eq!(at["azp"], DAEMON);
    assert_eq!(at["azpacr"], "1");
    assert_eq!(at["oid"], "5e000004-0000-4000-8000-000000000004");
    assert_eq!(at["sub"], at["oid"]);
    assert!(at.get("scp").is_none());
}

#[tokio::test]
async fn v1_resources_get_v1_access_tokens_that_validate_against_v1_metadata() {
    let (app, _dir) = Fixture::builtin()
        .app("api", "accessTokenAcceptedVersion", 1)
        .spawn()
        .await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);

    let app_id_uri = "api://22223333-cccc-4444-dddd-5555eeee6666";
    let at = app.validate(a.str("access_token"), false, app_id_uri).await;
    assert_eq!(at["iss"], format!("{}/{TENANT}/", app.https));
    assert_eq!(at["ver"], "1.0");
    assert_eq!(at["appid"], BFF);
    assert_eq!(at["appidacr"], "1");
    assert_eq!(at["unique_name"], ALICE);
    assert_eq!(at["upn"], ALICE);
    assert_eq!(at["given_name"], "Alice");
    assert_eq!(at["family_name"], "Example");
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["amr"], json!(["pwd"]));
    assert!(at.get("azp").is_none());
    let (header, _) = jwt_parts(a.str("access_token"));
    assert_eq!(header["x5t"], header["kid"], "v1 tokens carry x5t");
}

#[tokio::test]
async fn strict_entra_claims_drop_amr_from_v2_tokens() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "mock.strictEntraClaims", true)
        .spawn()
        .await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    let (_, at) = jwt_parts(a.str("access_token"));
    let (_, id) = jwt_parts(a.str("id_token"));
    assert!(at.get("amr").is_none(), "{at}");
    assert!(id.get("amr").is_none(), "{id}");
    assert_eq!(at["ver"], "2.0");
}

#[tokio::test]
async fn configured_lifetimes_are_honoured() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "mock.accessTokenLifetimeSeconds", 600)
        .app("bff", "mock.idTokenLifetimeSeconds", 300)
        .spawn()
        .await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.body["expires_in"], 600);
    let (_, at) = jwt_parts(a.str("access_token"));
    let (_, id) = jwt_parts(a.str("id_token"));
    // Lifetimes from the issue; `iat` is five minutes before it, as Entra dates it.
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        600 + 300
    );
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        300 + 300
    );
}

#[tokio::test]
async fn openid_scopes_alone_give_a_graph_token_usable_at_userinfo() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope("openid profile email")).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.get("refresh_token").is_none(), "no offline_access");
    // Like Microsoft Graph's real tokens, it carries a `nonce` header and does not validate
    // against the JWKS: an API must not accept it.
    let graph = "00000003-0000-0000-c000-000000000000";
    let (header, at) = jwt_parts(a.str("access_token"));
    assert!(header["nonce"].is_string(), "{header}");
    let verdict = app.try_validate(a.str("access_token"), false, graph).await;
    assert_eq!(
        verdict.unwrap_err().kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );
    // Signed over the hashed nonce, as entra-mock's own Graph endpoints check it.
    let signed = entra_mock::keys::graph_signed_form(a.str("access_token")).unwrap();
    app.validate(&signed, false, graph).await;
    // Every Graph scope consented for bff (alice's own grant of Calendars.Read, in the built-in
    // tenant) besides User.Read; the answer's `scope` bare and sorted, as Entra's.
    assert_eq!(at["scp"], "User.Read Calendars.Read profile openid email");
    assert_eq!(
        a.body["scope"],
        "Calendars.Read email openid profile User.Read"
    );
    let (_, id) = jwt_parts(a.str("id_token"));

    let info = app.userinfo(a.str("access_token")).await;
    assert_eq!(
        info,
        json!({
            "sub": id["sub"], "name": "Alice Example", "given_name": "Alice",
            "family_name": "Example", "email": ALICE
        })
    );
}

#[tokio::test]
async fn userinfo_refuses_api_tokens_and_missing_tokens_with_401() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    for bearer in [Some(a.str("access_token")), None] {
        let mut req = app.client().post(format!("{}/oidc/userinfo", app.https));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = answer(req.send().await.unwrap()).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.body["error"], "invalid_token");
        assert!(res
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer"));
    }
}

#[tokio::test]
async fn tokens_from_the_common_endpoint_carry_the_tenants_own_issuer() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "signInAudience", "AzureADMultipleOrgs")
        .spawn()
        .await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = answer(
        app.client()
            .post(format!("{}/common/oauth2/v2.0/token", app.https))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", BFF),
                ("client_secret", BFF_SECRET),
                ("code", code.as_str()),
                ("redirect_uri", BFF_REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Validated against the tenant's own metadata: iss is never the `{tenantid}` template.
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["tid"], TENANT);
}

#[tokio::test]
async fn a_single_tenant_app_on_common_gets_aadsts50194_and_client_credentials_there_50059() {
    let app = TestApp::spawn().await;
    for tenant in ["common", "organizations"] {
        let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
        let post = |form: Vec<(&'static str, String)>| {
            let url = format!("{}/{tenant}/oauth2/v2.0/token", app.https);
            let client = app.client();
            async move { answer(client.post(url).form(&form).send().await.unwrap()).await }
        };
        post(vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", BFF.into()),
            ("client_secret", BFF_SECRET.into()),
            ("code", code.clone()),
            ("redirect_uri", BFF_REDIRECT.into()),
        ])
        .await
        .assert_error(400, "invalid_request", 50194);
        // The refused request did not burn the code.
        assert_eq!(app.redeem_bff(&code).await.status, 200);
        post(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", DAEMON.into()),
            ("client_secret", DAEMON_SECRET.into()),
            (
                "scope",
                "api://22223333-cccc-4444-dddd-5555eeee6666/.default".into(),
            ),
        ])
        .await
        .assert_error(400, "invalid_request", 50059);
    }
    // /authorize shows the refusal on its error page, without redirecting.
    let url = crate::signin_helpers::authorize_url(
        &app.https,
        &crate::signin_helpers::code_request(BFF, BFF_REDIRECT),
    )
    .replace(TENANT, "common");
    let res = app.client().get(url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("AADSTS50194"));
}

#[tokio::test]
async fn the_token_endpoint_answers_cors_preflights_for_spa_origins_only() {
    let app = TestApp::spawn().await;
    for (origin, allowed) in [(SPA_ORIGIN, true), ("https://evil.example", false)] {
        let res = app
            .client()
            .request(reqwest::Method::OPTIONS, app.token_url())
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let allow = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(allow.as_deref(), allowed.then_some(origin));
    }
}
