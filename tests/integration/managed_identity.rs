//! Managed identity (issue 13 item 7): the App Service endpoint (`X-IDENTITY-HEADER`) and IMDS
//! (`Metadata: true`) give the system-assigned identity, or a user-assigned one by `client_id` or
//! resource id, an app-only token for the resource with the roles it was granted; errors in each
//! protocol's own shape.

use serde_json::Value;

use crate::helpers::*;
use crate::token_helpers::*;

const SYSTEM: &str = "44445555-eeee-6666-ffff-7777aaaa8888";
const USER_ASSIGNED: &str = "66667777-aaaa-8888-bbbb-9999cccc0000";

async fn get(app: &TestApp, path_and_query: &str, header: Option<(&str, &str)>) -> Answer {
    let mut req = app.client().get(format!("{}{path_and_query}", app.http));
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    answer(req.send().await.unwrap()).await
}

#[tokio::test]
async fn the_app_service_endpoint_gives_the_system_assigned_identity_a_token() {
    let app = TestApp::spawn().await;
    let a = get(
        &app,
        &format!("/msi/token?resource=api://{API}&api-version=2019-08-01"),
        Some(("X-IDENTITY-HEADER", "identity-header-local-dev-only")),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.str("client_id"), SYSTEM);
    assert_eq!(a.str("token_type"), "Bearer");
    assert_eq!(a.str("resource"), format!("api://{API}"));
    assert!(a.str("expires_on").parse::<i64>().is_ok());
    let (_, claims) = jwt_parts(a.str("access_token"));
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["azp"], SYSTEM);
    assert_eq!(claims["oid"], "5e000005-0000-4000-8000-000000000005");
    assert_eq!(claims["roles"], serde_json::json!(["Tasks.ReadWrite.All"]));
    assert_eq!(claims["idtyp"], "app");
    // Without the header, or with a wrong one: refused, in App Service's error shape (MSAL
    // Python reports its `statusCode` and `message`).
    for header in [None, Some(("X-IDENTITY-HEADER", "guess"))] {
        let a = get(
            &app,
            &format!("/msi/token?resource=api://{API}&api-version=2019-08-01"),
            header,
        )
        .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.body["statusCode"], 400, "{}", a.body);
        assert!(a.str("message").contains("X-IDENTITY-HEADER"), "{}", a.body);
        assert!(a.body["correlationId"].is_string());
        assert!(a.body.get("error_codes").is_none());
    }
}

/// IMDS's own error: `{"error", "error_description"}`, no AADSTS number of its own.
fn assert_imds_error(a: &Answer, error: &str, description: &str) {
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["error"], error, "{}", a.body);
    assert!(
        a.str("error_description").starts_with(description),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn a_user_assigned_identity_is_named_by_its_resource_id_and_imds_takes_metadata_true_only() {
    let app = TestApp::spawn().await;
    let rid = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/reports-identity";
    let imds = |id: &str| {
        format!(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/&msi_res_id={}",
            urlencode(id)
        )
    };
    let a = get(&app, &imds(rid), Some(("Metadata", "true"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.str("client_id"), USER_ASSIGNED);
    let app_service = format!(
        "/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com/&mi_res_id={}",
        urlencode(rid)
    );
    let a = get(
        &app,
        &app_service,
        Some(("X-IDENTITY-HEADER", "identity-header-local-dev-only")),
    )
    .await;
    assert_eq!(a.str("client_id"), USER_ASSIGNED);
    // Another name: not the system-assigned identity, an error.
    let other = rid.replace("reports-identity", "nope");
    let a = get(&app, &imds(&other), Some(("Metadata", "true"))).await;
    assert_imds_error(&a, "invalid_request", "Identity not found");
    // "true, in all lower case".
    let a = get(&app, &imds(rid), Some(("Metadata", "TRUE"))).await;
    assert_imds_error(
        &a,
        "bad_request_102",
        "Required metadata header not specified",
    );
}

#[tokio::test]
async fn imds_answers_a_user_assigned_identity_by_client_id() {
    let app = TestApp::spawn().await;
    let a = get(
        &app,
        &format!(
            "/metadata/identity/oauth2/token?api-version=2018-02-01\
             &resource=https://graph.microsoft.com/&client_id={USER_ASSIGNED}"
        ),
        Some(("Metadata", "true")),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.str("client_id"), USER_ASSIGNED);
    for field in ["expires_in", "expires_on", "ext_expires_in", "not_before"] {
        assert!(
            a.body[field]
                .as_str()
                .is_some_and(|v| v.parse::<i64>().is_ok()),
            "{field}"
        );
    }
    let (_, claims) = jwt_parts(a.str("access_token"));
    assert_eq!(claims["aud"], "00000003-0000-0000-c000-000000000000");
    // No roles were granted to this identity.
    assert_eq!(claims.get("roles"), None::<&Value>);
    // IMDS needs its header; an unknown identity or resource is an error.
    let a = get(
        &app,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/",
        None,
    )
    .await;
    assert_imds_error(
        &a,
        "bad_request_102",
        "Required metadata header not specified",
    );
    let a = get(
        &app,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com/\
         &client_id=99999999-0000-0000-0000-000000000000",
        Some(("Metadata", "true")),
    )
    .await;
    assert_imds_error(&a, "invalid_request", "Identity not found");
    let a = get(
        &app,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://unknown.example/",
        Some(("Metadata", "true")),
    )
    .await;
    assert_imds_error(&a, "invalid_resource", "AADSTS500011: ");
}

#[tokio::test]
async fn a_managed_identity_cannot_use_the_token_endpoint_without_a_credential() {
    let app = TestApp::spawn().await;
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", SYSTEM),
            ("scope", &format!("api://{API}/.default")),
        ])
        .await;
    a.assert_error(401, "invalid_client", 7000218);
}
