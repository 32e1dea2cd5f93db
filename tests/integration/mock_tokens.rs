//! Minted tokens (`POST /_mock/tokens`) and sign-in without pages (`POST /_mock/signin`), issue 9
//! item 5: each deliberate defect is refused by `jsonwebtoken` validation for its own reason.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn mint(app: &TestApp, body: Value) -> Value {
    let (status, minted) = app.mock(Method::POST, "tokens", Some(body)).await;
    assert_eq!(status, 200, "{minted}");
    minted
}

/// Why a strict resource server refuses `token` (audience: the API, issuer: the v2.0 document's).
enum Verdict {
    Valid(Value),
    UnknownKid,
    Refused(ErrorKind),
}

async fn verdict(app: &TestApp, token: &str) -> Verdict {
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => return Verdict::Refused(e.into_kind()),
    };
    let disco = app.discovery(true).await;
    let jwks: Value = app
        .client()
        .get(disco["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| Some(k["kid"].as_str().unwrap()) == header.kid.as_deref())
    else {
        return Verdict::UnknownKid;
    };
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[API]);
    v.set_issuer(&[disco["issuer"].as_str().unwrap()]);
    v.validate_nbf = true;
    v.leeway = 0;
    match jsonwebtoken::decode::<Value>(token, &key, &v) {
        Ok(d) => Verdict::Valid(d.claims),
        Err(e) => Verdict::Refused(e.into_kind()),
    }
}

fn access_for_alice(defect: Option<&str>) -> Value {
    let mut body = json!({"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE});
    if let Some(d) = defect {
        body["defect"] = d.into();
    }
    body
}

#[tokio::test]
async fn every_minted_defect_is_refused_by_jsonwebtoken_for_its_own_reason() {
    let app = TestApp::spawn().await;
    let good = mint(&app, access_for_alice(None)).await;
    let Verdict::Valid(claims) = verdict(&app, good["token"].as_str().unwrap()).await else {
        panic!("the minted token without defect validates")
    };
    assert_eq!(claims["scp"], "access_as_user");
    assert_eq!(claims["oid"], ALICE_OID);

    for defect in [
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "wrong-tenant",
        "unknown-kid",
        "bad-signature",
        "alg-none",
        "hs256-with-public-key",
        "missing-scope",
        "retired-key",
    ] {
        if defect == "retired-key" {
            // A retired key exists only after a rollover.
            let (status, _) = app
                .mock(Method::POST, "tokens", Some(access_for_alice(Some(defect))))
                .await;
            assert_eq!(status, 400, "no retired key yet");
            app.mock(
                Method::POST,
                "keys/rotate",
                Some(json!({"phase": "roll-now"})),
            )
            .await;
        }
        let minted = mint(&app, access_for_alice(Some(defect))).await;
        assert_eq!(minted["defect"], defect);
        let token = minted["token"].as_str().unwrap();
        let v = verdict(&app, token).await;
        let ok = match (defect, &v) {
            ("expired", Verdict::Refused(ErrorKind::ExpiredSignature)) => true,
            ("not-yet-valid", Verdict::Refused(ErrorKind::ImmatureSignature)) => true,
            ("wrong-audience", Verdict::Refused(ErrorKind::InvalidAudience)) => true,
            ("wrong-issuer" | "wrong-tenant", Verdict::Refused(ErrorKind::InvalidIssuer)) => true,
            ("unknown-kid" | "retired-key", Verdict::UnknownKid) => true,
            ("bad-signature", Verdict::Refused(ErrorKind::InvalidSignature)) => true,
            // jsonwebtoken knows no `none` algorithm: the header itself is refused.
            ("alg-none", Verdict::Refused(_)) => jsonwebtoken::decode_header(token).is_err(),
            ("hs256-with-public-key", Verdict::Refused(ErrorKind::InvalidAlgorithm)) => true,
            // Valid as a JWT; an API must refuse it for carrying no permission.
            ("missing-scope", Verdict::Valid(c)) => {
                c.get("scp").is_none() && c.get("roles").is_none()
            }
            _ => false,
        };
        assert!(
            ok,
            "{defect}: {}",
            match v {
                Verdict::Valid(c) => format!("valid: {c}"),
                Verdict::UnknownKid => "unknown kid".into(),
                Verdict::Refused(k) => format!("{k:?}"),
            }
        );
        if defect == "wrong-tenant" {
            assert_ne!(minted["claims"]["tid"], TENANT);
        }
    }
}

#[tokio::test]
async fn minted_tokens_take_claim_overrides_and_app_only_tokens_carry_roles() {
    let app = TestApp::spawn().await;
    let minted = mint(
        &app,
        json!({"type": "id", "client_id": BFF, "user": BOB, "amr": ["pwd", "otp", "mfa"],
               "claims": {"name": "Robert", "rh": null, "xms_custom": 7}}),
    )
    .await;
    let id = app
        .validate(minted["token"].as_str().unwrap(), true, BFF)
        .await;
    assert_eq!(id["name"], "Robert");
    assert_eq!(id["xms_custom"], 7);
    assert!(id.get("rh").is_none());
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["oid"], BOB_OID);

    let app_only = mint(
        &app,
        json!({"type": "access", "client_id": DAEMON,
               "scope": "api://22223333-cccc-4444-dddd-5555eeee6666/.default"}),
    )
    .await;
    let at = app
        .validate(app_only["token"].as_str().unwrap(), true, API)
        .await;
    assert_eq!(at["roles"], json!(["Tasks.ReadWrite.All"]));
    assert!(at.get("scp").is_none());
}

#[tokio::test]
async fn a_minted_refresh_token_redeems_at_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let minted = mint(
        &app,
        json!({"type": "refresh", "client_id": BFF, "user": ALICE, "scope": API_SCOPE}),
    )
    .await;
    let a = app
        .refresh_bff(minted["token"].as_str().unwrap(), Some(API_SCOPE))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let at = app.validate(a.str("access_token"), true, API).await;
    assert_eq!(at["oid"], ALICE_OID);

    for bad in [
        json!({"type": "refresh", "client_id": BFF, "user": ALICE, "defect": "expired"}),
        json!({"type": "refresh", "client_id": BFF}),
        json!({"type": "id", "client_id": BFF}),
        json!({"type": "access", "client_id": "no-such-app"}),
        json!({"type": "access", "client_id": BFF, "user": ALICE, "defect": "sideways"}),
    ] {
        let (status, body) = app.mock(Method::POST, "tokens", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = app
        .mock(
            Method::POST,
            "tokens",
            Some(json!({"type": "id", "client_id": BFF, "user": "nobody@contoso.onmicrosoft.com"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn signin_without_pages_returns_a_code_that_redeems_with_pkce_and_the_methods_as_amr() {
    let app = TestApp::spawn().await;
    let verifier = "a-verifier-of-at-least-43-characters-0123456789abcdef";
    let challenge = entra_mock::crypto::s256(verifier);
    let (status, signed_in) = app
        .mock(
            Method::POST,
            "signin",
            Some(json!({
                "user": BOB, "client_id": BFF, "redirect_uri": BFF_REDIRECT,
                "scope": format!("openid profile offline_access {API_SCOPE}"),
                "methods": ["pwd", "otp"], "code_challenge": challenge,
                "code_challenge_method": "S256", "nonce": "n-1", "state": "s-1"
            })),
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(signed_in["state"], "s-1");
    let a = app
        .redeem_bff_pkce(signed_in["code"].as_str().unwrap(), verifier)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = app.validate(a.str("id_token"), true, BFF).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["sid"], signed_in["session_id"]);

    // Validated as /authorize validates: an unregistered redirect URI, an unknown user.
    let (status, body) = app
        .mock(
            Method::POST,
            "signin",
            Some(
                json!({"user": ALICE, "client_id": BFF, "redirect_uri": "https://evil.example/",
                        "scope": "openid"}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(50011))
    );
    let (status, _) = app
        .mock(
            Method::POST,
            "signin",
            Some(
                json!({"user": "nobody", "client_id": BFF, "redirect_uri": BFF_REDIRECT,
                        "scope": "openid"}),
            ),
        )
        .await;
    assert_eq!(status, 404);
}

/// `azpacr` says how the client authenticated: `0` for a public client (no credential), `1` a
/// secret, `2` a certificate; a minted token says what the token endpoint would.
#[tokio::test]
async fn a_minted_token_names_the_credential_its_client_would_have_used() {
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app("api", "accessTokenAcceptedVersion", 1)
        .spawn()
        .await;
    for (client, acr) in [(SPA, "0"), (BFF, "1")] {
        let v2 = mint(
            &app,
            json!({"type": "access", "client_id": client, "user": ALICE}),
        )
        .await;
        assert_eq!(v2["claims"]["appidacr"], acr, "{client}: Graph is v1.0");
        let v1 = mint(
            &app,
            json!({"type": "access", "client_id": client, "user": ALICE, "scope": API_SCOPE}),
        )
        .await;
        assert_eq!(v1["claims"]["appidacr"], acr, "{client}");
    }
    let default_app = TestApp::spawn().await;
    for (client, acr) in [(SPA, "0"), (BFF, "1")] {
        let v2 = mint(
            &default_app,
            json!({"type": "access", "client_id": client, "user": ALICE, "scope": API_SCOPE}),
        )
        .await;
        assert_eq!(v2["claims"]["azpacr"], acr, "{client}");
    }
}
