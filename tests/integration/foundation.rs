//! Part 1: discovery, JWKS, TLS, restarts, fixtures, errors.

use crate::helpers::*;

#[tokio::test]
async fn unknown_tenant_gets_aadsts90002() {
    let app = TestApp::spawn().await;
    let res = app
        .client()
        .get(format!(
            "{}/nosuchtenant/v2.0/.well-known/openid-configuration",
            app.https
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_tenant");
    assert_eq!(body["error_codes"], serde_json::json!([90002]));
}
