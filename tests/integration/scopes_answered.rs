//! The `scope` of token responses and the `scp` of access tokens, as Entra answers them: each
//! scope in the form the request named it (a prefix exactly as written, a bare Graph value bare,
//! `{prefix}/.default` echoed), and every scope consented for the client on the resource, not
//! only those asked (MSAL.NET issue 1713: "access tokens will have all effective scopes").

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

fn toml_value(s: &str) -> toml::Value {
    format!("x = {s}").parse::<toml::Table>().unwrap()["x"].clone()
}

fn scp_set(access_token: &str) -> Vec<String> {
    let (_, at) = jwt_parts(access_token);
    let mut v: Vec<String> = at["scp"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn graph_scopes_asked_by_url_are_answered_by_url_with_every_consented_one() {
    let app = TestApp::spawn().await;
    // 1. alice signs in to bff for Graph's User.Read, named by its URL (as MSAL apps do).
    let spec = CodeSpec::bff()
        .scope("openid profile offline_access https://graph.microsoft.com/User.Read");
    let (code, _) = issue_code(&app, &spec).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // 2. The answer names the scopes as asked, with alice's own grant of Calendars.Read
    // (built-in tenant) too; the token's `scp` stays bare.
    assert_eq!(
        a.body["scope"],
        "openid profile https://graph.microsoft.com/Calendars.Read https://graph.microsoft.com/User.Read"
    );
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(at["aud"], GRAPH);
    assert_eq!(at["scp"], "User.Read Calendars.Read profile openid");

    // 3. A refresh asking the same gets the same; one without `scope` too (the refresh token
    // stands for the scopes as asked).
    let same = "https://graph.microsoft.com/User.Read openid profile offline_access";
    let r = app.refresh_bff(a.str("refresh_token"), Some(same)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], a.body["scope"]);
    let r = app.refresh_bff(r.str("refresh_token"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], a.body["scope"]);

    // 4. Graph named by its application id: that prefix, exactly as written.
    let by_id = format!("{GRAPH}/user.read offline_access");
    let r = app.refresh_bff(r.str("refresh_token"), Some(&by_id)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["scope"],
        format!("{GRAPH}/Calendars.Read {GRAPH}/User.Read")
    );

    // 5. `.default` is echoed after what it stands for.
    let r = app
        .refresh_bff(
            r.str("refresh_token"),
            Some("https://graph.microsoft.com/.default openid"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["scope"],
        "openid https://graph.microsoft.com/Calendars.Read https://graph.microsoft.com/User.Read https://graph.microsoft.com/.default"
    );
}

#[tokio::test]
async fn api_scopes_are_answered_with_the_prefix_the_client_wrote_and_default_is_echoed() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;

    let r = app
        .refresh_bff(&rt, Some(&format!("api://{API}/.default offline_access")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["scope"],
        format!("api://{API}/access_as_user api://{API}/.default")
    );
    assert_eq!(scp_set(r.str("access_token")), ["access_as_user"]);

    // The API named by its client id.
    let r = app
        .refresh_bff(
            r.str("refresh_token"),
            Some(&format!("{API}/access_as_user")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], format!("{API}/access_as_user"));
    app.validate(r.str("access_token"), true, API).await;
}

/// The API exposes four scopes; bff is pre-authorized for access_as_user, an admin granted
/// Notes.Read to everyone, alice granted Tasks.Read, and nobody Tasks.Write.
async fn api_with_consents_that_add_up() -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "api",
            "api.oauth2PermissionScopes",
            toml_value(
                r#"[
                  { value = "access_as_user", id = "5c0e0000-0000-4000-8000-0000000000a1" },
                  { value = "Tasks.Read", id = "5c0e0000-0000-4000-8000-0000000000a2" },
                  { value = "Tasks.Write", id = "5c0e0000-0000-4000-8000-0000000000a3" },
                  { value = "Notes.Read", id = "5c0e0000-0000-4000-8000-0000000000a4" },
                ]"#,
            ),
        )
        .push(
            "oauth2PermissionGrants",
            r#"{ clientId = "bff", resourceId = "api", scope = "Tasks.Read", consentType = "Principal", principalId = "alice@contoso.onmicrosoft.com" }"#,
        )
        .push(
            "oauth2PermissionGrants",
            r#"{ clientId = "bff", resourceId = "api", scope = "Notes.Read", consentType = "AllPrincipals" }"#,
        )
        .spawn()
        .await
}

#[tokio::test]
async fn an_api_token_carries_every_scope_consented_for_the_client_not_only_those_asked() {
    let (app, _dir) = api_with_consents_that_add_up().await;
    // alice: pre-authorization, the admin's grant and her own add up.
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["scope"],
        format!("api://{API}/access_as_user api://{API}/Notes.Read api://{API}/Tasks.Read")
    );
    assert_eq!(
        scp_set(a.str("access_token")),
        ["Notes.Read", "Tasks.Read", "access_as_user"]
    );
    // Asking one of them by its consent alone gives the same token.
    let r = app
        .refresh_bff(
            a.str("refresh_token"),
            Some(&format!("api://{API}/Tasks.Read")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], a.body["scope"]);
    // A scope nobody consented to is still refused (AADSTS65001).
    app.refresh_bff(
        r.str("refresh_token"),
        Some(&format!("api://{API}/Tasks.Write")),
    )
    .await
    .assert_error(400, "invalid_grant", 65001);

    // bob has no grant of his own: the pre-authorization and the admin's grant.
    let (code, _) = issue_code(
        &app,
        &CodeSpec {
            user_oid: BOB_OID.into(),
            amr: vec!["pwd", "mfa"],
            ..CodeSpec::bff()
        },
    )
    .await;
    let b = app.redeem_bff(&code).await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(
        b.body["scope"],
        format!("api://{API}/access_as_user api://{API}/Notes.Read")
    );
    assert_eq!(
        scp_set(b.str("access_token")),
        ["Notes.Read", "access_as_user"]
    );
}

#[tokio::test]
async fn a_v1_answer_lists_the_consented_permissions_bare_without_default() {
    let (app, _dir) = api_with_consents_that_add_up().await;
    let rt = bff_refresh_token(&app).await;
    let r = crate::v1::v1_token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("refresh_token", &rt),
            ("resource", &format!("api://{API}")),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut scope: Vec<&str> = r.str("scope").split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["Notes.Read", "Tasks.Read", "access_as_user"]);
}
