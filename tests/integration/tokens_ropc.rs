//! The username/password grant (ROPC, issue 13 item 3), as Entra answers it: tokens for a user
//! without MFA from a public client (the `spa` app allows public-client flows) or an authenticated
//! confidential one; AADSTS50076 for MFA users, 50126 for a wrong password, 50034 for an unknown
//! user, 7000218 for a confidential client without its credential, 9001023 on `/common`; the
//! password never logged.

use reqwest::Method;

use crate::helpers::*;
use crate::token_helpers::*;

fn ropc<'a>(client_id: &'a str, user: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("client_id", client_id),
        ("username", user),
        ("password", password),
        ("scope", "openid profile offline_access api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user"),
    ]
}

#[tokio::test]
async fn a_public_client_gets_alices_tokens_with_her_password() {
    let app = TestApp::spawn().await;
    let a = app.token(&ropc(SPA, ALICE, PASSWORD)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, id) = jwt_parts(a.str("id_token"));
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(access["oid"], ALICE_OID);
    assert_eq!(access["amr"], serde_json::json!(["pwd"]));
    assert_eq!(access["scp"], "access_as_user");
    // Its refresh token works like any other.
    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", a.str("refresh_token")),
        ])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    // The password is not in the request log.
    let (_, log) = app.mock(Method::GET, "requests?endpoint=token", None).await;
    assert!(!log.to_string().contains(PASSWORD), "{log}");
}

#[tokio::test]
async fn ropc_refuses_mfa_users_wrong_passwords_unknown_users_and_unauthenticated_confidential_clients(
) {
    let app = TestApp::spawn().await;
    app.token(&ropc(SPA, BOB, PASSWORD))
        .await
        .assert_error(400, "invalid_grant", 50076);
    app.token(&ropc(SPA, ALICE, "wrong"))
        .await
        .assert_error(400, "invalid_grant", 50126);
    app.token(&ropc(SPA, "nobody@contoso.onmicrosoft.com", PASSWORD))
        .await
        .assert_error(400, "invalid_grant", 50034);
    app.token(&ropc(BFF, ALICE, PASSWORD))
        .await
        .assert_error(401, "invalid_client", 7000218);
    let mut form = ropc(BFF, ALICE, PASSWORD);
    form.push(("client_secret", BFF_SECRET));
    let a = app.token(&form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut missing = ropc(SPA, ALICE, PASSWORD);
    missing.retain(|(k, _)| *k != "password");
    let a = app.token(&missing).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["error"], "invalid_request");
}

#[tokio::test]
async fn ropc_is_refused_on_common_and_answered_on_organizations() {
    let (app, _dir) = crate::fixture_builder::Fixture::builtin()
        .app("spa", "signInAudience", "AzureADMultipleOrgs")
        .spawn()
        .await;
    let at = |segment: &str| format!("{}/{segment}/oauth2/v2.0/token", app.https);
    let form = ropc(SPA, ALICE, PASSWORD);
    let common = answer(
        app.client()
            .post(at("common"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    common.assert_error(400, "invalid_request", 9001023);
    let orgs = answer(
        app.client()
            .post(at("organizations"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(orgs.status, 200, "{}", orgs.body);
}

#[tokio::test]
async fn user_realm_discovery_says_the_tenants_domain_is_managed() {
    let app = TestApp::spawn().await;
    let realm = |login: &str| {
        let url = format!(
            "{}/common/userrealm/{}?api-version=1.0",
            app.https,
            crate::helpers::urlencode(login)
        );
        let client = app.client();
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let managed = realm("Alice@Contoso.onmicrosoft.com").await;
    assert_eq!(managed["account_type"], "Managed", "{managed}");
    assert_eq!(managed["domain_name"], DOMAIN);
    assert_eq!(managed["ver"], "1.0");
    let unknown = realm("someone@example.com").await;
    assert_eq!(unknown["account_type"], "Unknown", "{unknown}");
    assert!(unknown.get("domain_name").is_none());
}
