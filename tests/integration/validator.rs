//! `entra_mock::validate` (issue 10 item 4) against a real server: every minted defect is refused
//! for its own reason, and an unknown `kid` refetches the keys at most once per interval.

use std::time::Duration;

use entra_mock::validate::{require_any, Rejection, Validator, ValidatorConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn validator(app: &TestApp, refetch: Duration) -> Validator {
    let mut config = ValidatorConfig::for_api(
        &app.https,
        TENANT,
        &[API, "api://22223333-cccc-4444-dddd-5555eeee6666"],
    );
    config.min_refetch_interval = refetch;
    config.leeway = Duration::from_secs(5);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    Validator::new(config, http)
}

async fn mint(app: &TestApp, defect: Option<&str>) -> String {
    let mut body = json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE});
    if let Some(d) = defect {
        body["defect"] = d.into();
    }
    let (status, minted) = app.mock(Method::POST, "tokens", Some(body)).await;
    assert_eq!(status, 200, "{minted}");
    minted["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_validator_accepts_a_good_token_and_names_each_defect() {
    let app = TestApp::spawn().await;
    let v = validator(&app, Duration::from_secs(60));
    let claims: Value = v.validate(&mint(&app, None).await).await.unwrap();
    require_any(&claims, &["access_as_user"], &["Tasks.ReadWrite.All"]).unwrap();

    for (defect, want) in [
        ("expired", Rejection::Expired),
        ("not-yet-valid", Rejection::NotYetValid),
        ("wrong-audience", Rejection::Audience),
        ("wrong-issuer", Rejection::Issuer),
        ("bad-signature", Rejection::Signature),
        ("alg-none", Rejection::Algorithm("none".into())),
        (
            "hs256-with-public-key",
            Rejection::Algorithm("HS256".into()),
        ),
    ] {
        let got = v.validate(&mint(&app, Some(defect)).await).await;
        assert_eq!(got, Err(want), "{defect}");
    }
    // Another tenant: its issuer differs first.
    assert_eq!(
        v.validate(&mint(&app, Some("wrong-tenant")).await).await,
        Err(Rejection::Issuer)
    );
    assert!(matches!(
        v.validate(&mint(&app, Some("unknown-kid")).await).await,
        Err(Rejection::UnknownKid(_))
    ));
    let claims = v
        .validate(&mint(&app, Some("missing-scope")).await)
        .await
        .unwrap();
    assert_eq!(
        require_any(&claims, &["access_as_user"], &["Tasks.ReadWrite.All"]),
        Err(Rejection::InsufficientScope)
    );
    crate::conformance::covered(
        &["api-refuses-defects"],
        "validator::the_validator_accepts_a_good_token_and_names_each_defect",
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_at_most_once_per_interval() {
    let app = TestApp::spawn().await;
    let v = validator(&app, Duration::from_secs(3600));
    v.validate(&mint(&app, None).await).await.unwrap();
    assert_eq!(v.fetches().await, 1);
    for _ in 0..5 {
        assert!(matches!(
            v.validate(&mint(&app, Some("unknown-kid")).await).await,
            Err(Rejection::UnknownKid(_))
        ));
    }
    assert_eq!(v.fetches().await, 2, "one refetch for five unknown kids");

    // A rollover within the interval: the new key is not fetched yet; with a short interval it is
    // picked up on the first token that names it.
    let eager = validator(&app, Duration::from_millis(0));
    eager.validate(&mint(&app, None).await).await.unwrap();
    app.mock(
        Method::POST,
        "keys/rotate",
        Some(json!({"phase": "roll-now"})),
    )
    .await;
    let rolled = mint(&app, None).await;
    assert!(matches!(
        v.validate(&rolled).await,
        Err(Rejection::UnknownKid(_))
    ));
    eager.validate(&rolled).await.unwrap();
    assert_eq!(eager.fetches().await, 2);
    crate::conformance::covered(
        &["jwks-refetch-limit"],
        "validator::an_unknown_kid_refetches_the_keys_at_most_once_per_interval",
    );
}

fn validator_for(app: &TestApp, tenant: &str, audiences: &[&str]) -> Validator {
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    Validator::new(
        ValidatorConfig::for_api(&app.https, tenant, audiences),
        http,
    )
}

async fn mint_with(app: &TestApp, body: Value) -> String {
    let (status, minted) = app.mock(Method::POST, "tokens", Some(body)).await;
    assert_eq!(status, 200, "{minted}");
    minted["token"].as_str().unwrap().to_string()
}

/// An API registered without `accessTokenAcceptedVersion` gets v1.0 tokens (issuer
/// `{authority}/{tid}/`), and Microsoft.Identity.Web accepts both versions.
#[tokio::test]
async fn v1_and_v2_tokens_both_pass_with_the_issuers_of_the_two_discovery_documents() {
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app("api", "accessTokenAcceptedVersion", 1)
        .spawn()
        .await;
    let v = validator_for(
        &app,
        TENANT,
        &[API, "api://22223333-cccc-4444-dddd-5555eeee6666"],
    );
    let v1 = mint(&app, None).await;
    let claims = v.validate(&v1).await.unwrap();
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["iss"], format!("{}/{TENANT}/", app.https));
    // The ID token is v2.0 whatever the API's version.
    let id = mint_with(&app, json!({"type": "id", "client_id": API, "user": ALICE})).await;
    assert_eq!(v.validate(&id).await.unwrap()["ver"], "2.0");
    assert_eq!(
        v.validate(&mint(&app, Some("wrong-tenant")).await).await,
        Err(Rejection::Issuer)
    );
    assert_eq!(
        v.validate(&mint(&app, Some("wrong-issuer")).await).await,
        Err(Rejection::Issuer)
    );
}

/// The tenant may be named by domain, or be `organizations` for a multi-tenant API: the issuers
/// come from discovery, `{tenantid}` standing for the token's `tid`.
#[tokio::test]
async fn the_issuer_comes_from_discovery_for_a_domain_and_for_a_multi_tenant_api() {
    let app = TestApp::spawn().await;
    let audiences = [API, "api://22223333-cccc-4444-dddd-5555eeee6666"];
    let by_domain = validator_for(&app, "contoso.onmicrosoft.com", &audiences);
    let multi = validator_for(&app, "organizations", &audiences);
    let single = validator_for(&app, TENANT, &audiences);
    let good = mint(&app, None).await;
    for v in [&by_domain, &multi, &single] {
        v.validate(&good).await.unwrap();
        assert_eq!(
            v.validate(&mint(&app, Some("wrong-issuer")).await).await,
            Err(Rejection::Issuer)
        );
    }
    // Another tenant's token: refused by the tenant's API, accepted by a multi-tenant one.
    let foreign = mint(&app, Some("wrong-tenant")).await;
    assert_eq!(by_domain.validate(&foreign).await, Err(Rejection::Issuer));
    let claims = multi.validate(&foreign).await.unwrap();
    assert_ne!(claims["tid"], TENANT);
    // A token without `tid` cannot meet a `{tenantid}` issuer.
    let no_tid = mint_with(
        &app,
        json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE,
               "claims": {"tid": null}}),
    )
    .await;
    assert_eq!(multi.validate(&no_tid).await, Err(Rejection::Tenant));
}

/// Five minutes of clock skew on `exp` and `nbf` (`TokenValidationParameters.DefaultClockSkew`);
/// `iat` is not checked.
#[tokio::test]
async fn the_default_clock_skew_is_five_minutes_and_iat_is_not_checked() {
    let app = TestApp::spawn().await;
    let v = validator_for(
        &app,
        TENANT,
        &[API, "api://22223333-cccc-4444-dddd-5555eeee6666"],
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |claims: Value| {
        json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE,
               "claims": claims})
    };
    for (claims, want) in [
        (json!({"exp": now - 120}), Ok(())),
        (json!({"exp": now - 400}), Err(Rejection::Expired)),
        (json!({"nbf": now + 120, "iat": now + 120}), Ok(())),
        (json!({"nbf": now + 400}), Err(Rejection::NotYetValid)),
        (json!({"iat": now + 3600}), Ok(())),
    ] {
        let got = v
            .validate(&mint_with(&app, with(claims.clone())).await)
            .await;
        assert_eq!(got.map(|_| ()), want, "{claims}");
    }
}

/// When the keys cannot be fetched again, the cached ones stay in use and the next attempt waits
/// for `min_refetch_interval` ("stale metadata is better than no metadata").
#[tokio::test]
async fn a_failed_refetch_keeps_the_cached_keys_and_waits_before_trying_again() {
    let app = TestApp::spawn().await;
    let mut config = ValidatorConfig::for_api(&app.https, TENANT, &[API]);
    config.keys_ttl = Duration::from_millis(1);
    config.min_refetch_interval = Duration::from_secs(3600);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let v = Validator::new(config, http);
    let good = mint_with(
        &app,
        json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE}),
    )
    .await;
    v.validate(&good).await.unwrap();
    assert_eq!(v.fetches().await, 1);
    let (status, fault) = app
        .mock(
            Method::POST,
            "faults",
            Some(json!({"endpoint": "jwks", "status": 503})),
        )
        .await;
    assert_eq!(status, 201, "{fault}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    for _ in 0..3 {
        v.validate(&good).await.unwrap();
    }
    assert_eq!(
        v.fetches().await,
        2,
        "one failed attempt, then the interval"
    );
    let (_, faults) = app.mock(Method::GET, "faults", None).await;
    assert_eq!(faults["faults"][0]["hits"], 1, "{faults}");
}
