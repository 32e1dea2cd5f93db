//! Client capabilities (issue 13 item 8): MSAL's `clientCapabilities` arrive in the `claims`
//! parameter as `{"access_token":{"xms_cc":{"values":["cp1"]}}}` and come back as the access
//! token's `xms_cc`, whether they were sent at sign-in or with the token request.

use serde_json::json;

use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

fn ropc(claims: Option<&str>) -> Vec<(&str, &str)> {
    let mut p = vec![
        ("grant_type", "password"),
        ("client_id", SPA),
        ("username", ALICE),
        ("password", PASSWORD),
        (
            "scope",
            "openid offline_access api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user",
        ),
    ];
    if let Some(c) = claims {
        p.push(("claims", c));
    }
    p
}

#[tokio::test]
async fn capabilities_sent_with_the_token_request_are_in_the_access_token() {
    let app = TestApp::spawn().await;
    let with_cc = app.token(&ropc(Some(CP1))).await;
    assert_eq!(with_cc.status, 200, "{}", with_cc.body);
    let (_, access) = jwt_parts(with_cc.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
    // Not in the ID token, and not without the claim.
    let (_, id) = jwt_parts(with_cc.str("id_token"));
    assert!(id.get("xms_cc").is_none(), "{id}");
    let without = app.token(&ropc(None)).await;
    let (_, access) = jwt_parts(without.str("access_token"));
    assert!(access.get("xms_cc").is_none(), "{access}");
    // A refresh that sends them again keeps them.
    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", with_cc.str("refresh_token")),
            ("claims", CP1),
        ])
        .await;
    let (_, access) = jwt_parts(refreshed.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
}

#[tokio::test]
async fn capabilities_sent_at_sign_in_are_in_the_tokens_of_its_code() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with(code_request(BFF, BFF_REDIRECT), "claims", CP1);
    let res = sign_in(&app, &client, &params, ALICE, PASSWORD).await;
    let code = reply_params(&location(&res))["code"].clone();
    let a = app
        .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, access) = jwt_parts(a.str("access_token"));
    assert_eq!(access["xms_cc"], json!(["cp1"]));
}
