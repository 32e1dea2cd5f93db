//! Signing-key rollover by phase through `/_mock/keys` (issue 9 item 1), seen by a resource server
//! that caches the JWKS by `kid` and refetches on a miss, as the seed's API does.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// A resource server's JWKS cache: keys by kid, refetched when a token names an unknown kid.
struct CachingValidator {
    jwks_uri: String,
    issuer: String,
    keys: HashMap<String, DecodingKey>,
    fetches: usize,
}

impl CachingValidator {
    async fn new(app: &TestApp) -> Self {
        let disco = app.discovery(true).await;
        let mut v = CachingValidator {
            jwks_uri: disco["jwks_uri"].as_str().unwrap().to_string(),
            issuer: disco["issuer"].as_str().unwrap().to_string(),
            keys: HashMap::new(),
            fetches: 0,
        };
        v.refetch(app).await;
        v
    }

    async fn refetch(&mut self, app: &TestApp) {
        let jwks: Value = app
            .client()
            .get(&self.jwks_uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.fetches += 1;
        self.keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_string(),
                    DecodingKey::from_rsa_components(
                        k["n"].as_str().unwrap(),
                        k["e"].as_str().unwrap(),
                    )
                    .unwrap(),
                )
            })
            .collect();
    }

    /// Validates an API token; `Err` names why not.
    async fn validate(&mut self, app: &TestApp, token: &str) -> Result<Value, String> {
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        if !self.keys.contains_key(&kid) {
            self.refetch(app).await;
        }
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| format!("unknown kid {kid}"))?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[API]);
        v.set_issuer(&[&self.issuer]);
        jsonwebtoken::decode::<Value>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

async fn api_token(app: &TestApp) -> String {
    app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        (
            "scope",
            "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
        ),
    ])
    .await
    .str("access_token")
    .to_string()
}

/// The kids of the v2.0 JWKS (and the v1 one, which must agree).
async fn published_kids(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for path in ["discovery/v2.0/keys", "discovery/keys"] {
        let body: Value = app
            .client()
            .get(format!("{}/{TENANT}/{path}", app.https))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<String> = body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        if !out.is_empty() {
            assert_eq!(out, kids, "v1 and v2.0 key sets agree");
        }
        out = kids;
    }
    out
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn states(keys: &Value) -> HashMap<String, String> {
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_string(),
                k["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn rotate(app: &TestApp, phase: &str) -> Value {
    let (status, keys) = app
        .mock(Method::POST, "keys/rotate", Some(json!({ "phase": phase })))
        .await;
    assert_eq!(status, 200, "{phase}: {keys}");
    keys
}

#[tokio::test]
async fn a_caching_resource_server_follows_publish_activate_and_retire() {
    let app = TestApp::spawn().await;
    let mut api = CachingValidator::new(&app).await;
    let old_token = api_token(&app).await;
    let old_kid = kid_of(&old_token);
    api.validate(&app, &old_token).await.unwrap();

    // publish: a new key appears in JWKS; tokens are still signed by the old one.
    let keys = rotate(&app, "publish").await;
    let new_kid = keys["keys"].as_array().unwrap().last().unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(states(&keys)[&new_kid], "next");
    assert_eq!(states(&keys)[&old_kid], "active");
    assert_eq!(kid_of(&api_token(&app).await), old_kid);
    assert!(published_kids(&app).await.contains(&new_kid));

    // activate: new tokens use the new key; the validator picks it up on the miss; old tokens
    // still validate.
    let keys = rotate(&app, "activate").await;
    assert_eq!(states(&keys)[&new_kid], "active");
    assert_eq!(states(&keys)[&old_kid], "previous");
    let new_token = api_token(&app).await;
    assert_eq!(kid_of(&new_token), new_kid);
    let fetches = api.fetches;
    api.validate(&app, &new_token).await.unwrap();
    assert!(api.fetches <= fetches + 1);
    api.validate(&app, &old_token).await.unwrap();

    // retire: the old key leaves JWKS; a validator that refetches rejects its tokens.
    let keys = rotate(&app, "retire").await;
    assert_eq!(states(&keys)[&old_kid], "retired");
    api.refetch(&app).await;
    let err = api.validate(&app, &old_token).await.unwrap_err();
    assert!(err.contains("unknown kid"), "{err}");
    api.validate(&app, &new_token).await.unwrap();
    // entra-mock's own endpoints stop accepting it as well.
    let res = app
        .client()
        .get(format!("{}/oidc/userinfo", app.https))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    crate::conformance::covered(
        &["key-rollover"],
        "mock_keys::a_caching_resource_server_follows_publish_activate_and_retire",
    );
}

#[tokio::test]
async fn roll_now_replaces_the_active_key_at_once_and_phases_out_of_order_are_refused() {
    let app = TestApp::spawn().await;
    let (status, err) = app
        .mock(
            Method::POST,
            "keys/rotate",
            Some(json!({"phase": "retire"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], "invalid_request");
    let (status, _) = app
        .mock(
            Method::POST,
            "keys/rotate",
            Some(json!({"phase": "sideways"})),
        )
        .await;
    assert_eq!(status, 400);

    let before = api_token(&app).await;
    let keys = rotate(&app, "roll-now").await;
    assert_eq!(states(&keys)[&kid_of(&before)], "retired");
    let after = api_token(&app).await;
    assert_ne!(kid_of(&after), kid_of(&before));
    assert_eq!(states(&keys)[&kid_of(&after)], "active");
    let published = published_kids(&app).await;
    assert!(!published.contains(&kid_of(&before)), "{published:?}");
    assert!(published.contains(&kid_of(&after)));
}

#[tokio::test]
async fn key_states_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(dir.path()).await;
    rotate(&app, "publish").await;
    let keys = rotate(&app, "activate").await;
    app.stop().await;
    drop(app);
    let again = TestApp::spawn_in(dir.path()).await;
    let (_, listed) = again.mock(Method::GET, "keys", None).await;
    assert_eq!(states(&listed), states(&keys));
    let active = states(&listed)
        .into_iter()
        .find(|(_, s)| s == "active")
        .unwrap()
        .0;
    assert_eq!(kid_of(&api_token(&again).await), active);
}

#[tokio::test]
async fn the_rotation_interval_rolls_keys_when_the_clock_passes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = entra_mock::config::Settings::for_tests(dir.path().to_path_buf());
    settings.key_rotation_interval = Some(3600);
    let app = TestApp::spawn_with(settings).await;
    let first = kid_of(&api_token(&app).await);
    app.mock(Method::POST, "clock", Some(json!({"advance": 3601})))
        .await;
    // The roller checks every second.
    let mut rolled = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, keys) = app.mock(Method::GET, "keys", None).await;
        if states(&keys)[&first] == "previous" {
            rolled = true;
            break;
        }
    }
    assert!(rolled, "the active key handed over");
    let second = kid_of(&api_token(&app).await);
    assert_ne!(second, first);
    let (_, keys) = app.mock(Method::GET, "keys", None).await;
    let s = states(&keys);
    assert_eq!(s.values().filter(|v| *v == "next").count(), 1, "{s:?}");
}

#[tokio::test]
async fn an_empty_data_dir_starts_with_the_well_known_keys_unless_fresh_keys_are_asked_for() {
    use entra_mock::config::Settings;
    use entra_mock::keys::FirstKeys;
    let well_known = |pem: &str| {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        entra_mock::keys::thumbprint_sha1(&der)
    };
    let first = well_known(include_str!("../../fixtures/keys/dev-signing-1.pem"));
    let second = well_known(include_str!("../../fixtures/keys/dev-signing-2.pem"));
    let app = TestApp::spawn().await;
    let keys = app.state.keys.snapshot();
    assert_eq!(keys.active.kid, first);
    assert_eq!(
        published_kids(&app).await,
        vec![first.clone(), second.clone()]
    );
    // Rotation makes a fresh key: the well-known ones are only the start.
    rotate(&app, "roll-now").await;
    assert!(published_kids(&app)
        .await
        .iter()
        .any(|k| k != &first && k != &second));

    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(dir.path().to_path_buf());
    settings.first_keys = FirstKeys::Fresh;
    let fresh = TestApp::spawn_with(settings).await;
    let kid = fresh.state.keys.snapshot().active.kid.clone();
    assert!(kid != first && kid != second, "{kid}");
}

#[tokio::test]
async fn discovery_asked_for_one_app_names_that_apps_key_set_which_holds_the_tenants_keys() {
    let app = TestApp::spawn().await;
    let get = |url: String| {
        let client = app.client();
        async move { client.get(url).send().await.unwrap() }
    };
    let disco = app.discovery(true).await;
    let keys_uri = disco["jwks_uri"].as_str().unwrap().to_string();
    let tenant_keys: Value = get(keys_uri.clone()).await.json().await.unwrap();

    // v2.0 and v1 documents: the same but for `jwks_uri`; a braced or upper-case GUID is
    // written canonically.
    for (v2, path, asked) in [
        (
            true,
            "v2.0/.well-known/openid-configuration",
            BFF.to_string(),
        ),
        (
            false,
            ".well-known/openid-configuration",
            format!("{{{}}}", BFF.to_uppercase()),
        ),
    ] {
        let url = format!("{}/{TENANT}/{path}?appid={}", app.https, urlencode(&asked));
        let mut doc: Value = get(url).await.json().await.unwrap();
        let plain = app.discovery(v2).await;
        let uri = doc["jwks_uri"].as_str().unwrap();
        assert_eq!(
            uri,
            format!("{}?appid={BFF}", plain["jwks_uri"].as_str().unwrap())
        );
        doc["jwks_uri"] = plain["jwks_uri"].clone();
        assert_eq!(doc, plain);
    }
    let app_keys: Value = get(format!("{keys_uri}?appid={BFF}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app_keys, tenant_keys);

    // Not a GUID, or markup: the tenant's document, nothing of the parameter written into it.
    for appid in ["not-a-guid", "%3Cscript%3E", ""] {
        let url = format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration?appid={appid}",
            app.https
        );
        let res = get(url).await;
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc, disco);
    }
}
