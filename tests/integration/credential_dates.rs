//! Client credentials with validity dates (Graph's `startDateTime` and `endDateTime` of a
//! passwordCredential or keyCredential): checked by the virtual clock when the credential is
//! used, so a test can make an app's secret or certificate expire.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};
use sha1::Digest as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::*;
use crate::token_helpers::*;

const TOOL: &str = "55556666-ffff-7777-aaaa-8888bbbb9999";
const OLD_SECRET: &str = "old-tool-secret";
const NEW_SECRET: &str = "new-tool-secret";

/// Registers `tool`, a daemon app, with the credentials given.
async fn register_tool(app: &TestApp, credentials: Value) {
    let mut entry = json!({"name": "tool", "appId": TOOL, "displayName": "A tool"});
    for (k, v) in credentials.as_object().unwrap() {
        entry[k] = v.clone();
    }
    let (status, body) = app.mock(Method::POST, "applications", Some(entry)).await;
    assert_eq!(status, 201, "{body}");
}

async fn tool_token(app: &TestApp, secret: &str) -> Answer {
    app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", TOOL),
        ("client_secret", secret),
        ("scope", &format!("api://{API}/.default")),
    ])
    .await
}

/// `tool`'s token by a client assertion signed with the fixture certificate's key.
async fn tool_certificate_token(app: &TestApp) -> Answer {
    let now = server_now(app).await;
    let assertion = bff_assertion_with(
        Algorithm::RS256,
        &json!({"iss": TOOL, "sub": TOOL, "aud": app.token_url(), "jti": uuid::Uuid::new_v4().to_string(),
                "nbf": now - 10, "iat": now - 10, "exp": now + 600}),
    );
    app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", TOOL),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &assertion),
        ("scope", &format!("api://{API}/.default")),
    ])
    .await
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The virtual clock's time.
async fn server_now(app: &TestApp) -> i64 {
    let (status, c) = app.mock(Method::GET, "clock", None).await;
    assert_eq!(status, 200);
    c["now"].as_i64().unwrap()
}

async fn advance_clock(app: &TestApp, secs: i64) {
    let (status, c) = app
        .mock(Method::POST, "clock", Some(json!({"advance": secs})))
        .await;
    assert_eq!(status, 200, "{c}");
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// The text Entra sends for an expired secret, without the trace lines.
fn expired_secret_text(client_id: &str) -> String {
    format!(
        "AADSTS7000222: The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.\r\nTrace ID: "
    )
}

#[tokio::test]
async fn a_secret_past_its_end_date_gets_aadsts7000222_and_the_apps_other_secret_still_works() {
    let app = TestApp::spawn().await;
    // Rotation: the old secret has expired, the new one is valid.
    register_tool(
        &app,
        json!({"passwordCredentials": [
            {"secretText": OLD_SECRET, "startDateTime": "2019-01-01T00:00:00Z", "endDateTime": "2020-01-01T00:00:00Z"},
            {"secretText": NEW_SECRET, "startDateTime": "2019-12-01T00:00:00Z", "endDateTime": "2999-01-01T00:00:00Z"},
        ]}),
    )
    .await;

    let old = tool_token(&app, OLD_SECRET).await;
    old.assert_error(401, "invalid_client", 7000222);
    assert!(
        old.str("error_description")
            .starts_with(&expired_secret_text(TOOL)),
        "{}",
        old.str("error_description")
    );

    let new = tool_token(&app, NEW_SECRET).await;
    assert_eq!(new.status, 200, "{}", new.body);

    // A secret the app does not hold stays a wrong secret.
    tool_token(&app, "not-a-secret-of-the-tool")
        .await
        .assert_error(401, "invalid_client", 7000215);
}

#[tokio::test]
async fn a_secret_valid_now_expires_once_the_virtual_clock_passes_its_end_date() {
    let app = TestApp::spawn().await;
    let now = server_now(&app).await;
    register_tool(
        &app,
        json!({"passwordCredentials": [{"secretText": OLD_SECRET, "endDateTime": rfc3339(now + 3600)}]}),
    )
    .await;
    let before = tool_token(&app, OLD_SECRET).await;
    assert_eq!(before.status, 200, "{}", before.body);

    advance_clock(&app, 7200).await;
    tool_token(&app, OLD_SECRET)
        .await
        .assert_error(401, "invalid_client", 7000222);
}

#[tokio::test]
async fn a_secret_before_its_start_date_is_refused_as_a_wrong_secret_until_the_clock_reaches_it() {
    let app = TestApp::spawn().await;
    let now = server_now(&app).await;
    register_tool(
        &app,
        json!({"passwordCredentials": [{"secretText": NEW_SECRET, "startDateTime": rfc3339(now + 3600)}]}),
    )
    .await;
    tool_token(&app, NEW_SECRET)
        .await
        .assert_error(401, "invalid_client", 7000215);

    advance_clock(&app, 7200).await;
    let after = tool_token(&app, NEW_SECRET).await;
    assert_eq!(after.status, 200, "{}", after.body);
}

/// The SHA-1 thumbprint of the fixture certificate, in hex as Entra prints it.
fn bff_cert_thumbprint() -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(BFF_CERT_PEM.as_bytes()).unwrap();
    hex::encode_upper(sha1::Sha1::digest(&pem.contents))
}

#[tokio::test]
async fn a_certificate_past_its_end_date_gets_aadsts700027_the_key_used_is_expired() {
    let app = TestApp::spawn().await;
    register_tool(
        &app,
        json!({"keyCredentials": [{"certificate": BFF_CERT_PEM,
            "startDateTime": "2023-01-23T13:33:28Z", "endDateTime": "2024-01-23T13:33:28Z"}]}),
    )
    .await;
    let a = tool_certificate_token(&app).await;
    a.assert_error(401, "invalid_client", 700027);
    let expected = format!(
        "AADSTS700027: The certificate with identifier used to sign the client assertion is expired on application. \
         [Reason - The key used is expired., Thumbprint of key used by client: '{}', \
         Found key 'Start=01/23/2023 13:33:28, End=01/23/2024 13:33:28', \
         Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{TOOL}'. \
         Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint \
         and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, \
         such as 'https://graph.microsoft.com/beta/applications/{TOOL}'].\r\nTrace ID: ",
        bff_cert_thumbprint()
    );
    let desc = a.str("error_description");
    assert!(desc.starts_with(&expected), "{desc}\n{expected}");
}

#[tokio::test]
async fn a_certificate_before_its_start_date_gets_the_same_answer_until_the_clock_reaches_it() {
    let app = TestApp::spawn().await;
    let now = server_now(&app).await;
    register_tool(
        &app,
        json!({"keyCredentials": [{"certificate": BFF_CERT_PEM, "startDateTime": rfc3339(now + 3600)}]}),
    )
    .await;
    let a = tool_certificate_token(&app).await;
    a.assert_error(401, "invalid_client", 700027);
    assert!(
        a.str("error_description")
            .contains("[Reason - The key used is expired., "),
        "{}",
        a.body
    );
    // No end date: .NET's DateTime.MaxValue, as an open end prints.
    assert!(
        a.str("error_description")
            .contains(", End=12/31/9999 23:59:59'"),
        "{}",
        a.body
    );

    advance_clock(&app, 7200).await;
    let after = tool_certificate_token(&app).await;
    assert_eq!(after.status, 200, "{}", after.body);
}

#[tokio::test]
async fn credential_dates_that_are_not_rfc_3339_or_end_before_they_start_are_refused() {
    let app = TestApp::spawn().await;
    for (credentials, field) in [
        (
            json!({"passwordCredentials": [{"secretText": OLD_SECRET, "endDateTime": "next tuesday"}]}),
            "passwordCredentials.endDateTime",
        ),
        (
            json!({"passwordCredentials": [{"secretText": OLD_SECRET,
                "startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2029-01-01T00:00:00Z"}]}),
            "passwordCredentials.endDateTime",
        ),
        (
            json!({"keyCredentials": [{"certificate": BFF_CERT_PEM, "startDateTime": "2030-13-01T00:00:00Z"}]}),
            "keyCredentials.startDateTime",
        ),
    ] {
        let mut entry = json!({"name": "tool", "appId": TOOL, "displayName": "A tool"});
        for (k, v) in credentials.as_object().unwrap() {
            entry[k] = v.clone();
        }
        let (status, body) = app.mock(Method::POST, "applications", Some(entry)).await;
        assert_eq!(status, 400, "{body}");
        let desc = body["error_description"].as_str().unwrap_or_default();
        assert!(desc.contains(&format!("field `{field}`")), "{body}");
    }
    // Nothing was registered.
    tool_token(&app, OLD_SECRET)
        .await
        .assert_error(400, "unauthorized_client", 700016);
}

#[tokio::test]
async fn dates_in_a_fixture_file_are_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.toml");
    std::fs::write(
        &path,
        format!(
            "[[tenants]]\nid = \"{TENANT}\"\ndomain = \"{DOMAIN}\"\ndisplayName = \"Contoso\"\n\
             [[tenants.applications]]\nname = \"api\"\nappId = \"{API}\"\nidentifierUris = [\"api://{API}\"]\n\
             [[tenants.applications]]\nname = \"tool\"\nappId = \"{TOOL}\"\n\
             passwordCredentials = [\n\
               {{ secretText = \"{OLD_SECRET}\", endDateTime = \"2020-01-01T00:00:00Z\" }},\n\
               {{ secretText = \"{NEW_SECRET}\", startDateTime = \"2019-12-01T00:00:00+01:00\" }},\n\
             ]\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with_fixtures(dir.path(), path)
        .await
        .unwrap();
    tool_token(&app, OLD_SECRET)
        .await
        .assert_error(401, "invalid_client", 7000222);
    let new = tool_token(&app, NEW_SECRET).await;
    assert_eq!(new.status, 200, "{}", new.body);
}
