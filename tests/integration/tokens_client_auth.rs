//! Part 3: how a confidential client authenticates at the token endpoint: client_secret_basic,
//! and client assertions (private_key_jwt) with Entra's answers to bad ones.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

#[tokio::test]
async fn client_secret_basic_authenticates_the_bff() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{BFF}:{BFF_SECRET}"),
    );
    let a = app
        .token_with(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", BFF_REDIRECT),
            ],
            &[("Authorization", &format!("Basic {basic}"))],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

async fn redeem_with_assertion(app: &TestApp, code: &str, assertion: &str) -> Answer {
    app.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", BFF),
        ("code", code),
        ("redirect_uri", BFF_REDIRECT),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ])
    .await
}

#[tokio::test]
async fn private_key_jwt_with_rs256_and_x5t_authenticates_and_sets_azpacr_2() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let assertion = bff_assertion(Algorithm::RS256, &app.token_url(), "jti-rs256", now);
    let a = redeem_with_assertion(&app, &code, &assertion).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(at["azpacr"], "2");
}

#[tokio::test]
async fn private_key_jwt_with_ps256_and_x5t_s256_authenticates() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let assertion = bff_assertion(Algorithm::PS256, &app.token_url(), "jti-ps256", now);
    let a = redeem_with_assertion(&app, &code, &assertion).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn under_the_strict_option_a_client_assertion_jti_cannot_be_used_twice() {
    let (app, _dir) = Fixture::builtin()
        .app("bff", "mock.clientAssertionReuse", "reject")
        .spawn()
        .await;
    let now = app.state.clock.unix();
    let assertion = bff_assertion(Algorithm::RS256, &app.token_url(), "jti-once", now);
    let (first, _) = issue_code(&app, &CodeSpec::bff()).await;
    assert_eq!(
        redeem_with_assertion(&app, &first, &assertion).await.status,
        200
    );

    let (second, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = redeem_with_assertion(&app, &second, &assertion).await;
    a.assert_error(401, "invalid_client", 700027);
}

#[tokio::test]
async fn by_default_the_same_assertion_is_accepted_again_as_entra_does() {
    let app = TestApp::spawn().await;
    let now = app.state.clock.unix();
    let assertion = bff_assertion(Algorithm::RS256, &app.token_url(), "jti-cached", now);
    for _ in 0..2 {
        let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
        let a = redeem_with_assertion(&app, &code, &assertion).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

#[tokio::test]
async fn a_client_assertion_out_of_its_time_range_gets_aadsts700024_with_its_times() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let with = |jti: &str, nbf: Option<i64>, exp: i64| {
        let mut c = json!({"iss": BFF, "sub": BFF, "aud": app.token_url(), "jti": jti, "exp": exp});
        if let Some(nbf) = nbf {
            c["nbf"] = json!(nbf);
        }
        bff_assertion_with(Algorithm::RS256, &c)
    };
    // Expired in September 2020.
    let a = redeem_with_assertion(
        &app,
        &code,
        &with("old", Some(1_600_000_000), 1_600_000_600),
    )
    .await;
    a.assert_error(401, "invalid_client", 700024);
    let desc = a.str("error_description");
    assert!(
        desc.starts_with(
            "AADSTS700024: Client assertion is not within its valid time range. Current time: "
        ),
        "{desc}"
    );
    assert!(
        desc.contains(", assertion valid from 2020-09-13T12:26:40.0000000Z, expiry time of assertion 2020-09-13T12:36:40.0000000Z. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .\r\n"),
        "{desc}"
    );
    // Without nbf, Entra writes the epoch.
    let a = redeem_with_assertion(&app, &code, &with("no-nbf", None, now - 3600)).await;
    a.assert_error(401, "invalid_client", 700024);
    assert!(
        a.str("error_description")
            .contains("assertion valid from 1970-01-01T00:00:00.0000000Z, expiry"),
        "{}",
        a.body
    );
    // Not yet valid, beyond the five minutes of skew.
    let a = redeem_with_assertion(&app, &code, &with("future", Some(now + 600), now + 1200)).await;
    a.assert_error(401, "invalid_client", 700024);
    // Within the skew it is accepted: the refusals consumed nothing.
    let a = redeem_with_assertion(&app, &code, &with("skew", Some(now + 200), now - 200)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_client_assertion_for_another_audience_gets_aadsts700023() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let assertion = bff_assertion(Algorithm::RS256, "https://elsewhere/token", "jti-aud", now);
    let a = redeem_with_assertion(&app, &code, &assertion).await;
    a.assert_error_text(401, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .\r\n");
}

#[tokio::test]
async fn a_client_assertion_naming_two_audiences_gets_aadsts5002741_even_with_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let issuer = format!("{}/{TENANT}/v2.0", app.https);
    let two = |jti: &str| {
        json!({
            "iss": BFF, "sub": BFF, "aud": [issuer, app.token_url()], "jti": jti,
            "nbf": now - 10, "iat": now - 10, "exp": now + 600,
        })
    };
    let a = redeem_with_assertion(
        &app,
        &code,
        &bff_assertion_with(Algorithm::RS256, &two("two")),
    )
    .await;
    a.assert_error(401, "invalid_client", 5002741);
    assert!(
        a.str("error_description")
            .contains("2 audience values provided, maximum allowed is 1."),
        "{}",
        a.body
    );

    // The code was not consumed by the refusal; a list of the token endpoint alone is accepted.
    let mut one = two("one");
    one["aud"] = json!([app.token_url()]);
    let a = redeem_with_assertion(&app, &code, &bff_assertion_with(Algorithm::RS256, &one)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_client_assertion_naming_another_client_or_two_gets_aadsts700021_or_50048() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let with = |iss: &str, sub: &str| {
        bff_assertion_with(
            Algorithm::RS256,
            &json!({
                "iss": iss, "sub": sub, "aud": app.token_url(), "jti": format!("{iss}-{sub}"),
                "nbf": now - 10, "exp": now + 600,
            }),
        )
    };
    // Another client as both issuer and subject: not a federated credential (its issuer is no
    // URL) but the wrong client.
    let a = redeem_with_assertion(&app, &code, &with(DAEMON, DAEMON)).await;
    a.assert_error_text(401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .\r\n");
    // An issuer other than the subject, whichever of them is the client.
    for (iss, sub) in [(DAEMON, BFF), (BFF, DAEMON)] {
        let a = redeem_with_assertion(&app, &code, &with(iss, sub)).await;
        a.assert_error_text(
            401,
            "invalid_client",
            50048,
            "Subject must match the issuer claim in the client assertion.\r\n",
        );
    }
    // The refusals consumed nothing.
    let a = redeem_with_assertion(&app, &code, &with(BFF, BFF)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_client_assertion_signed_by_another_key_gets_aadsts700027() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let now = app.state.clock.unix();
    let good = bff_assertion(Algorithm::RS256, &app.token_url(), "jti-forged", now);
    // Same header and claims, signature of another assertion.
    let other = bff_assertion(Algorithm::RS256, &app.token_url(), "jti-other", now);
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[2] = other.split('.').nth(2).unwrap();
    let a = redeem_with_assertion(&app, &code, &parts.join(".")).await;
    a.assert_error(401, "invalid_client", 700027);
}
