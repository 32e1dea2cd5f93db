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
