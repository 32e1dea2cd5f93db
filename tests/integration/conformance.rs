//! The conformance suite's in-process part (issue 11): the SPA flow, steps 21-38 of the seed,
//! played over real HTTP by the requests the reference SPA's page makes (its settings read from
//! the SPA host, PKCE S256, the code in the fragment, the cross-origin redemption with `Origin`,
//! the bearer calls to the reference API, refresh and retry), each step asserted in order. The
//! BFF flow (steps 1-20) is `reference_bff`'s first test. Every test of the suite records the
//! steps and variations it proved in `target/conformance/steps.jsonl`, from which
//! `tests/conformance_report.py` writes `target/conformance.md`.

use std::io::Write;

use entra_mock::clients::browser_session::PkcePair;
use entra_mock::clients::spa::{self, SpaArgs};
use entra_mock::mock::requests::Filter;
use serde_json::Value;

use crate::helpers::*;
use crate::reference_api::start_api;
use crate::signin_helpers::{get, page, reply_params, submit};

/// Records that `test` proved these seed steps (`"21"`) or variations (`"refresh-rotation"`).
/// Called after the assertions that prove them, so a failing test records nothing past its
/// failure.
pub fn covered(ids: &[&str], test: &str) {
    // Runs of the mutation check prove nothing about the real clients.
    if std::env::var_os("ENTRA_MOCK_MUTATION").is_some() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    let _ = std::fs::create_dir_all(&dir);
    let mut lines = String::new();
    for id in ids {
        lines += &format!(
            "{}\n",
            serde_json::json!({"id": id, "test": test, "suite": "in-process"})
        );
    }
    // One write per call with O_APPEND: lines of parallel tests do not interleave.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("steps.jsonl"))
    {
        let _ = f.write_all(lines.as_bytes());
    }
}

fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_spa_flow_walks_steps_21_to_38_in_order() {
    const TEST: &str = "conformance::the_spa_flow_walks_steps_21_to_38_in_order";
    const ORIGIN: &str = "http://localhost:5002";
    let app = TestApp::spawn().await;
    let api = start_api(&app);
    let running = spa::start(&SpaArgs {
        authority: entra_mock::clients::Authority {
            host: app.https.clone(),
            tenant_id: TENANT.into(),
        },
        client_id: SPA.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: ORIGIN.into(),
        api_url: api.clone(),
        api_scope: API_SCOPE.into(),
    })
    .unwrap();
    let host = format!("http://{}", running.addr);
    tokio::spawn(running.server);
    let browser = app.client();

    // 21-22: the page's settings, then /authorize with PKCE S256, state and nonce.
    let cfg: Value = get(&browser, &format!("{host}/config.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["redirectUri"], format!("{ORIGIN}/"));
    let pkce = PkcePair::generate();
    let (state, nonce) = ("spa-state-21", "spa-nonce-22");
    let authorize = format!(
        "{}/{}/oauth2/v2.0/authorize?{}",
        cfg["authorityHost"].as_str().unwrap(),
        cfg["tenantId"].as_str().unwrap(),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", cfg["clientId"].as_str().unwrap())
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", cfg["redirectUri"].as_str().unwrap())
            .append_pair("response_mode", "fragment")
            .append_pair(
                "scope",
                &format!(
                    "openid profile offline_access {}",
                    cfg["apiScope"].as_str().unwrap()
                ),
            )
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    );
    covered(&["21", "22"], TEST);

    // 23-26: Entra's pages, then the code in the fragment of the SPA's redirect URI.
    let html = page(get(&browser, &authorize).await).await;
    assert!(html.contains("name=\"loginfmt\""), "23: {html}");
    covered(&["23"], TEST);
    let html = page(submit(&browser, &app.https, &html, &[("loginfmt", ALICE)]).await).await;
    assert!(html.contains("name=\"passwd\""), "24: {html}");
    covered(&["24"], TEST);
    let res = submit(&browser, &app.https, &html, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 302, "25");
    covered(&["25"], TEST);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{ORIGIN}/#")),
        "26: {location}"
    );
    let reply = reply_params(&location);
    assert_eq!(reply["state"], state);
    covered(&["26"], TEST);

    // 27-29: the page redeems the code cross-origin with the verifier, no secret.
    let code = &reply["code"];
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", app.https);
    let http = app.client();
    let redeem = |form: Vec<(&'static str, String)>| {
        http.post(&token_url)
            .header("Origin", ORIGIN)
            .form(&form)
            .send()
    };
    covered(&["27"], TEST);
    let res = redeem(vec![
        ("client_id", SPA.into()),
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", format!("{ORIGIN}/")),
        ("code_verifier", pkce.verifier.clone()),
        (
            "scope",
            format!("openid profile offline_access {API_SCOPE}"),
        ),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "28");
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    covered(&["28"], TEST);
    let tokens: Value = res.json().await.unwrap();
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], nonce);
    assert_eq!(id["aud"], SPA);
    assert_eq!(id["iss"], format!("{}/{TENANT}/v2.0", app.https));
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], serde_json::json!(["pwd"]));
    assert_eq!(access["scp"], "access_as_user");
    assert!(tokens["refresh_token"].is_string());
    covered(&["29"], TEST);

    // 30-33: the API with the bearer token, from the SPA's origin; it fetched the JWKS.
    let jwks_before = app
        .server
        .requests(&Filter {
            endpoint: Some("jwks".into()),
            ..Filter::default()
        })
        .len();
    let call = |token: String| {
        http.get(format!("{api}/tasks"))
            .header("Origin", ORIGIN)
            .bearer_auth(token)
            .send()
    };
    let res = call(tokens["access_token"].as_str().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "30");
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    covered(&["30"], TEST);
    let jwks_after = app
        .server
        .requests(&Filter {
            endpoint: Some("jwks".into()),
            ..Filter::default()
        })
        .len();
    assert_eq!(
        jwks_after,
        jwks_before + 1,
        "31-32: the API fetched the keys once"
    );
    let discovery = app.server.requests(&Filter {
        endpoint: Some("discovery".into()),
        ..Filter::default()
    });
    // The v2.0 document names the keys; the v1.0 one adds its issuer (v1.0 tokens pass too).
    let mut paths: Vec<&str> = discovery.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            format!("/{TENANT}/.well-known/openid-configuration"),
            format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        ],
        "31: the keys' URL came from discovery"
    );
    covered(&["31", "32"], TEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["owner"], ALICE_OID);
    covered(&["33"], TEST);

    // 34-35: refresh from the page (Origin again); the refresh token rotates.
    let res = redeem(vec![
        ("client_id", SPA.into()),
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            tokens["refresh_token"].as_str().unwrap().into(),
        ),
        (
            "scope",
            format!("openid profile offline_access {API_SCOPE}"),
        ),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "34");
    covered(&["34"], TEST);
    let renewed: Value = res.json().await.unwrap();
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    assert_ne!(renewed["access_token"], tokens["access_token"]);
    covered(&["35"], TEST);

    // 36-38: the API with the new token; the keys come from its cache by kid.
    let res = call(renewed["access_token"].as_str().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "36");
    covered(&["36"], TEST);
    assert_eq!(
        app.server
            .requests(&Filter {
                endpoint: Some("jwks".into()),
                ..Filter::default()
            })
            .len(),
        jwks_after,
        "37: the same kid, verified from the cache"
    );
    covered(&["37"], TEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["owner"], ALICE_OID);
    covered(&["38"], TEST);
}

#[tokio::test]
async fn with_the_jwks_down_the_api_serves_known_kids_from_its_cache_then_fails_closed() {
    const TEST: &str =
        "conformance::with_the_jwks_down_the_api_serves_known_kids_from_its_cache_then_fails_closed";
    let app = TestApp::spawn().await;
    let api = start_api(&app);
    let http = reqwest::Client::new();
    let mint = || async {
        let (status, minted) = app
            .mock(
                reqwest::Method::POST,
                "tokens",
                Some(serde_json::json!({"type": "access", "client_id": SPA, "user": ALICE, "scope": API_SCOPE})),
            )
            .await;
        assert_eq!(status, 200, "{minted}");
        minted["token"].as_str().unwrap().to_string()
    };
    let call = |token: String| http.get(format!("{api}/tasks")).bearer_auth(token).send();
    assert_eq!(call(mint().await).await.unwrap().status(), 200);

    // The JWKS endpoint goes down (and slow): tokens of the cached kid still pass.
    let (status, _) = app
        .mock(
            reqwest::Method::POST,
            "faults",
            Some(serde_json::json!({"endpoint": "jwks", "status": 503, "delay_ms": 200})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(call(mint().await).await.unwrap().status(), 200);

    // A new signing key the API cannot fetch: refused, never accepted unverified.
    let (status, _) = app
        .mock(
            reqwest::Method::POST,
            "keys/rotate",
            Some(serde_json::json!({"phase": "roll-now"})),
        )
        .await;
    assert_eq!(status, 200);
    let res = call(mint().await).await.unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(www.contains("invalid_token"), "{www}");
    covered(&["jwks-down-cache-then-fail-closed"], TEST);
}

#[tokio::test]
async fn each_fault_preset_surfaces_in_the_bff_as_entras_error_and_stores_nothing() {
    const TEST: &str =
        "conformance::each_fault_preset_surfaces_in_the_bff_as_entras_error_and_stores_nothing";
    use crate::reference_bff::{at_entra, location, start_bff};
    let app = TestApp::spawn().await;
    let bff = start_bff(&app).await;
    let presets = [
        ("mfa-required", "invalid_grant", 50076),
        ("consent-required", "invalid_grant", 65001),
        ("user-blocked", "interaction_required", 53003),
        ("throttled", "temporarily_unavailable", 90055),
        ("server-error", "server_error", 50000),
        ("revoked", "invalid_grant", 50173),
        ("refresh-token-expired", "invalid_grant", 700082),
    ];
    for (preset, error, code) in presets {
        // At the token endpoint: the code redemption is refused; the page says what Entra said.
        let client = app.client();
        let (status, rule) = app
            .mock(
                reqwest::Method::POST,
                "faults",
                Some(serde_json::json!({"endpoint": "token", "preset": preset,
                                        "client_id": BFF, "times": 1})),
            )
            .await;
        assert_eq!(status, 201, "{rule}");
        let res = get(&client, &format!("{}/protected", bff.base)).await;
        let callback = at_entra(&app, &client, &location(&res), ALICE, PASSWORD, None).await;
        let res = get(&client, &callback).await;
        assert_eq!(res.status(), 400, "{preset}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(error) && html.contains(&format!("AADSTS{code}")),
            "{preset}: {html}"
        );
        assert_eq!(bff.store.count().await.unwrap(), 0, "{preset}");
    }
    // At /authorize: the error comes back to the callback and is shown, escaped.
    for (preset, error, code) in [
        ("user-blocked", "interaction_required", 53003),
        ("server-error", "server_error", 50000),
    ] {
        let client = app.client();
        let (status, _) = app
            .mock(
                reqwest::Method::POST,
                "faults",
                Some(
                    serde_json::json!({"endpoint": "authorize", "preset": preset,
                                        "client_id": BFF, "times": 1}),
                ),
            )
            .await;
        assert_eq!(status, 201);
        let res = get(&client, &format!("{}/protected", bff.base)).await;
        let res = get(&client, &location(&res)).await;
        let callback = location(&res);
        let html = get(&client, &callback).await.text().await.unwrap();
        assert!(
            html.contains(error) && html.contains(&format!("AADSTS{code}")),
            "{preset}: {html}"
        );
    }
    assert_eq!(bff.store.count().await.unwrap(), 0);
    covered(&["presets-in-clients"], TEST);
}
