//! The test-control API under `/_mock/` (part of issue 9): the virtual clock, `--clock-offset`,
//! and the admin token.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::token_helpers::jwt_parts;

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = app
        .client()
        .request(method, format!("{}/_mock/clock", app.https));
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn the_virtual_clock_moves_and_resets_and_tokens_follow_it() {
    let app = TestApp::spawn().await;
    let (status, c) = call(&app, reqwest::Method::GET, None, None).await;
    assert_eq!((status, c["offset"].as_i64()), (200, Some(0)));

    let (status, c) = call(
        &app,
        reqwest::Method::POST,
        Some(json!({"advance": 7200})),
        None,
    )
    .await;
    assert_eq!((status, c["offset"].as_i64()), (200, Some(7200)));
    let real = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((c["now"].as_i64().unwrap() - real - 7200).abs() <= 2);
    // A token issued now carries the moved time.
    let (_, at) = jwt_parts(app.daemon_token().await.str("access_token"));
    assert!(at["iat"].as_i64().unwrap() >= real + 7190 - 300, "{at}");

    let (_, c) = call(
        &app,
        reqwest::Method::POST,
        Some(json!({"offset": -60})),
        None,
    )
    .await;
    assert_eq!(c["offset"], -60);
    let (_, c) = call(&app, reqwest::Method::DELETE, None, None).await;
    assert_eq!(c["offset"], 0);
}

#[tokio::test]
async fn a_clock_change_that_is_not_one_number_is_refused_in_entras_shape() {
    let app = TestApp::spawn().await;
    for body in [
        json!({}),
        json!({"advance": 1, "offset": 2}),
        json!({"advance": "soon"}),
    ] {
        let (status, e) = call(&app, reqwest::Method::POST, Some(body.clone()), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(e["error"], "invalid_request", "{e}");
        assert!(e["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90100"));
    }
    assert_eq!(
        call(&app, reqwest::Method::GET, None, None).await.1["offset"],
        0
    );
}

/// The clock stops short of dates the server cannot compute with (found by fuzzing the control
/// API: `{"advance": 9223372036854775807}` panicked the worker, and the server stopped answering).
#[tokio::test]
async fn the_clock_moves_no_further_than_the_year_4000_nor_before_1970() {
    let app = TestApp::spawn().await;
    let real = time::OffsetDateTime::now_utc().unix_timestamp();
    for body in [
        json!({"advance": i64::MAX}),
        json!({"offset": i64::MAX}),
        json!({"offset": i64::MIN}),
        json!({"offset": -real - 60}),
        json!({"offset": entra_mock::clock::LATEST - real + 60}),
    ] {
        let (status, e) = call(&app, reqwest::Method::POST, Some(body.clone()), None).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .contains("from 1970-01-01 to 4000-01-01"),
            "{e}"
        );
        assert_eq!(
            call(&app, reqwest::Method::GET, None, None).await.1["offset"],
            0
        );
    }
    // Up to the edge, the server works on: tokens are issued and carry the moved time.
    let to_edge = entra_mock::clock::LATEST - real - 86_400;
    let (status, c) = call(
        &app,
        reqwest::Method::POST,
        Some(json!({"advance": to_edge})),
        None,
    )
    .await;
    assert_eq!((status, c["offset"].as_i64()), (200, Some(to_edge)));
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        Some(json!({"advance": 2 * 86_400})),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (_, at) = jwt_parts(app.daemon_token().await.str("access_token"));
    assert!(
        at["exp"].as_i64().unwrap() > entra_mock::clock::LATEST - 86_400,
        "{at}"
    );
    let (status, c) = call(&app, reqwest::Method::DELETE, None, None).await;
    assert_eq!((status, c["offset"].as_i64()), (200, Some(0)));
}

#[tokio::test]
async fn a_clock_offset_at_start_past_the_year_4000_stops_the_start() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.clock_offset = i64::MAX;
    let e = entra_mock::startup::Application::build(settings)
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("--clock-offset"), "{e:#}");
}

#[tokio::test]
async fn clock_offset_at_start_moves_the_clock_from_the_first_request() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.clock_offset = 86_400;
    let app = TestApp::spawn_with(settings).await;
    assert_eq!(
        call(&app, reqwest::Method::GET, None, None).await.1["offset"],
        86_400
    );
}

#[tokio::test]
async fn with_an_admin_token_mock_needs_it_and_the_ca_stays_public() {
    let temp = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(temp.path().to_path_buf());
    settings.admin_token = Some(entra_mock::secret::Secret::new("s3cret-admin"));
    let app = TestApp::spawn_with(settings).await;
    for token in [None, Some("wrong")] {
        let (status, e) = call(&app, reqwest::Method::GET, None, token).await;
        assert_eq!(status, 401);
        assert_eq!(e["error"], "unauthorized");
    }
    assert_eq!(
        call(&app, reqwest::Method::GET, None, Some("s3cret-admin"))
            .await
            .0,
        200
    );
    let revoke = app
        .client()
        .post(format!(
            "{}/_mock/users/{ALICE}/revokeSignInSessions",
            app.https
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 401);
    let ca = app
        .client()
        .get(format!("{}/_mock/ca.pem", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(ca.status(), 200);
}

#[tokio::test]
async fn the_current_totp_code_of_a_user_signs_bob_in() {
    use crate::signin_helpers::*;
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(format!("{}/_mock/users/{BOB}/totp", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    let left = t["expires_in"].as_i64().unwrap();
    assert!((1..=30).contains(&left), "{t}");
    let code = t["code"].as_str().unwrap().to_string();
    // The code of this step (or of the previous one, if a step boundary passed just now).
    assert!(
        code == totp_code(&app, BOB_TOTP_SECRET, 0) || code == totp_code(&app, BOB_TOTP_SECRET, -1),
        "{code}"
    );
    // alice has no TOTP method: 404 in Entra's shape.
    let res = app
        .client()
        .get(format!("{}/_mock/users/{ALICE}/totp", app.https))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// The README's example of the in-process test server, run as written.
#[tokio::test]
async fn the_in_process_test_server_exposes_authority_ca_and_controls() {
    use entra_mock::keys::rotation::Phase;
    use entra_mock::mock::faults::NewFault;
    use entra_mock::mock::tokens::MintRequest;
    use entra_mock::TestServer;

    let server = TestServer::start().await.unwrap();
    assert_eq!(
        server.authority(),
        format!("{}/{TENANT}", server.https_url())
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let disco: Value = client
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            server.authority()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], server.issuer());

    let before = server.now();
    server.advance_clock(3600);
    assert!(server.now() >= before + 3600);
    let bob_code = server.totp(BOB).await.unwrap().expect("bob has TOTP");
    assert_eq!(bob_code.len(), 6);

    let keys = server.rotate_keys(Phase::RollNow).await.unwrap();
    assert_eq!(keys.keys.iter().filter(|k| k.state == "active").count(), 1);

    let minted = server
        .mint_token(
            serde_json::from_value::<MintRequest>(json!({
                "type": "access", "client_id": DAEMON,
                "scope": "api://22223333-cccc-4444-dddd-5555eeee6666/.default"
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let (header, claims) = jwt_parts(&minted.token);
    assert_eq!(header["kid"], keys.keys.last().unwrap().kid.as_str());
    assert_eq!(claims["iss"], server.issuer());

    server
        .add_fault(
            serde_json::from_value::<NewFault>(
                json!({"endpoint": "discovery", "status": 503, "times": 1}),
            )
            .unwrap(),
        )
        .unwrap();
    let res = client
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            server.authority()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        server
            .requests(&entra_mock::mock::requests::Filter::default())
            .len(),
        2
    );

    use entra_mock::testing::Collection;
    server
        .create(
            Collection::Users,
            json!({"id": "e1e1e1e1-0000-4000-8000-000000000005", "userPrincipalName": "erin@contoso.onmicrosoft.com",
                   "displayName": "Erin", "password": "Passw0rd!"}),
        )
        .await
        .unwrap();
    assert!(server
        .totp("erin@contoso.onmicrosoft.com")
        .await
        .unwrap()
        .is_none());
    assert!(server
        .state()
        .store
        .user_by_id_or_upn("erin@contoso.onmicrosoft.com")
        .await
        .unwrap()
        .is_some());
    server.reset(false).await.unwrap();
    assert!(server
        .state()
        .store
        .user_by_id_or_upn("erin@contoso.onmicrosoft.com")
        .await
        .unwrap()
        .is_none());
    assert!(server.faults().is_empty());
    server.stop().await;
}

/// `entra-mock ctl`, the real binary, against a running server.
async fn ctl(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_entra-mock"));
    cmd.arg("ctl").arg("--url").arg(&app.http).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn ctl_makes_the_same_calls_as_the_api() {
    let app = TestApp::spawn().await;
    let (ok, out, err) = ctl(&app, &["clock", "advance", "120"]).await;
    assert!(ok, "{err}");
    let clock: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(clock["offset"], 120);
    assert_eq!(app.state.clock.offset(), 120);

    let (ok, out, err) = ctl(
        &app,
        &[
            "faults",
            "add",
            "--json",
            r#"{"endpoint": "token", "preset": "revoked", "times": 1}"#,
        ],
    )
    .await;
    assert!(ok, "{err}");
    let rule: Value = serde_json::from_str(&out).unwrap();
    let (_, out, _) = ctl(&app, &["faults", "list"]).await;
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["faults"][0]["id"], rule["id"]);

    let (ok, out, err) = ctl(&app, &["users", "totp", BOB]).await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["code"]
            .as_str()
            .unwrap()
            .len(),
        6
    );

    // A refused call exits 1 with Entra's error on stderr.
    let (ok, _, err) = ctl(&app, &["keys", "rotate", "retire"]).await;
    assert!(!ok);
    assert!(
        err.contains("HTTP 400") && err.contains("invalid_request"),
        "{err}"
    );
    let (ok, _, err) = ctl(&app, &["widgets", "list"]).await;
    assert!(!ok && err.contains("unknown command"), "{err}");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_test_control_path() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.mock(reqwest::Method::GET, "openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    // Every /_mock/ route the server registers (the paths in its `/_mock` scope), but the CA
    // certificate and the document itself, is described (the route table is the source).
    let routes = include_str!("../../src/routes/mod.rs");
    let scope = routes
        .split("web::scope(\"/_mock\")")
        .nth(1)
        .and_then(|rest| rest.split("web::scope(").next())
        .expect("the /_mock scope in the route table");
    let mut registered: Vec<String> = scope
        .split('"')
        .filter(|s| s.starts_with('/'))
        .map(|s| format!("/_mock{}", s.replace("/users/{id}/", "/users/{user}/")))
        .filter(|s| !s.ends_with("ca.pem") && !s.ends_with("openapi.json"))
        .collect();
    registered.dedup();
    assert!(registered.len() >= 14, "{registered:?}");
    for path in &registered {
        assert!(
            paths.contains_key(path),
            "{path} is not in the document: {:?}",
            paths.keys()
        );
    }
    // Request and response bodies name schemas the document defines.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "NewFault",
        "Preset",
        "MintRequest",
        "Defect",
        "KeyList",
        "Entry",
        "Finding",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(schemas.contains_key(name), "dangling reference {name}");
    }
    assert_eq!(
        doc["paths"]["/_mock/faults"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/NewFault"
    );
}

/// Issue 9's clock checks, through the HTTP API: past `exp` an access token is refused, past
/// 24 hours a SPA refresh token gets AADSTS700084, past a TOTP step the code changes.
#[tokio::test]
async fn moving_the_clock_through_the_api_expires_tokens_spa_chains_and_one_time_codes() {
    let app = TestApp::spawn().await;
    let advance = |secs: i64| {
        let app = &app;
        async move {
            let (status, _) = app
                .mock(
                    reqwest::Method::POST,
                    "clock",
                    Some(json!({ "advance": secs })),
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    // A Graph token for userinfo, which entra-mock itself validates by its clock.
    let (_, graph) = app
        .mock(
            reqwest::Method::POST,
            "tokens",
            Some(json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": "openid profile"})),
        )
        .await;
    let userinfo = |token: String| {
        let app = &app;
        async move {
            app.client()
                .get(format!("{}/oidc/userinfo", app.https))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let token = graph["token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(token.clone()).await, 200);
    let lifetime =
        graph["claims"]["exp"].as_i64().unwrap() - graph["claims"]["iat"].as_i64().unwrap();

    let (_, spa) = app
        .mock(
            reqwest::Method::POST,
            "tokens",
            Some(json!({"type": "refresh", "client_id": SPA, "user": ALICE,
                        "scope": "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user"})),
        )
        .await;
    let (_, before) = app
        .mock(reqwest::Method::GET, &format!("users/{BOB}/totp"), None)
        .await;

    advance(lifetime + 1).await;
    assert_eq!(userinfo(token).await, 401, "past exp");
    let (_, after) = app
        .mock(reqwest::Method::GET, &format!("users/{BOB}/totp"), None)
        .await;
    assert_ne!(before["code"], after["code"], "another TOTP step");

    advance(24 * 3600).await;
    app.token_with(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", spa["token"].as_str().unwrap()),
        ],
        &[("Origin", "http://localhost:5002")],
    )
    .await
    .assert_error(400, "invalid_grant", 700084);
}
