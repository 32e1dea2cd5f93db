//! `appRoleAssignmentRequired` on an application's service principal: a user who is not assigned
//! to the app (directly or through a group) cannot sign in to it (AADSTS50105: the error page
//! interactively, interaction_required to a silent request, invalid_grant at ROPC), and an
//! application holding none of a resource's app roles gets no app-only token for it
//! (AADSTS501051).

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const ERIN: &str = "erin@contoso.onmicrosoft.com";
const FRANK: &str = "frank@contoso.onmicrosoft.com";

/// The built-in tenant with the BFF, the SPA and the API requiring assignment: erin (no MFA) is
/// assigned to the BFF and the SPA through the group "Pilot", frank (no MFA) directly; alice is
/// assigned to neither.
async fn assignment_app() -> (TestApp, tempfile::TempDir) {
    let member_role = |id: &str| {
        toml::Value::Array(vec![toml::Value::Table(
            format!(
                r#"value = "Member"
id = "{id}"
allowedMemberTypes = ["User"]"#
            )
            .parse()
            .unwrap(),
        )])
    };
    let mut fixture = Fixture::builtin()
        .app("bff", "appRoleAssignmentRequired", true)
        .app(
            "bff",
            "appRoles",
            member_role("3e000000-0000-4000-8000-0000000000b1"),
        )
        .app("spa", "appRoleAssignmentRequired", true)
        .app(
            "spa",
            "appRoles",
            member_role("3e000000-0000-4000-8000-0000000000b2"),
        )
        .app("api", "appRoleAssignmentRequired", true);
    for (id, upn) in [
        ("e1e1e1e1-0000-4000-8000-000000000005", ERIN),
        ("f1f1f1f1-0000-4000-8000-000000000006", FRANK),
    ] {
        fixture = fixture.push(
            "users",
            &format!(
                r#"{{ id = "{id}", userPrincipalName = "{upn}", displayName = "{upn}", password = "{PASSWORD}" }}"#
            ),
        );
    }
    fixture
        .push(
            "groups",
            &format!(
                r#"{{ id = "9b000000-0000-4000-8000-000000000001", displayName = "Pilot", members = ["{ERIN}"] }}"#
            ),
        )
        .push("appRoleAssignments", r#"{ principal = "Pilot", resource = "bff", role = "Member" }"#)
        .push("appRoleAssignments", r#"{ principal = "Pilot", resource = "spa", role = "Member" }"#)
        .push(
            "appRoleAssignments",
            &format!(r#"{{ principal = "{FRANK}", resource = "bff", role = "Member" }}"#),
        )
        .spawn()
        .await
}

/// `user`'s ROPC request to the SPA for an ID token.
async fn ropc_to_spa(app: &TestApp, user: &str) -> Answer {
    app.token(&[
        ("grant_type", "password"),
        ("client_id", SPA),
        ("username", user),
        ("password", PASSWORD),
        ("scope", "openid profile"),
    ])
    .await
}

fn not_assigned_text(name: &str, client_id: &str, user: &str) -> String {
    format!(
        "Your administrator has configured the application {name} ('{client_id}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '{user}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application."
    )
}

#[tokio::test]
async fn an_unassigned_user_signing_in_gets_aadsts50105_on_the_error_page_and_assigned_ones_a_code()
{
    let (app, _dir) = assignment_app().await;
    // 1. alice, assigned neither directly nor through a group: the error page, no redirect.
    let res = sign_in_to_bff(&app, &app.client(), ALICE).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    let html = unescape(&res.text().await.unwrap());
    assert!(html.contains("AADSTS50105"), "{html}");
    assert!(
        html.contains(&not_assigned_text(
            "Contoso BFF (web, confidential)",
            BFF,
            ALICE
        )),
        "{html}"
    );
    // 2. erin, through her group, and frank, directly: a code each.
    for user in [ERIN, FRANK] {
        let res = sign_in_to_bff(&app, &app.client(), user).await;
        let loc = location(&res);
        assert_eq!(without_query(&loc), BFF_REDIRECT, "{user}");
        assert!(reply_params(&loc).contains_key("code"), "{user}: {loc}");
    }
}

#[tokio::test]
async fn a_session_of_an_unassigned_user_gets_interaction_required_silently_and_the_error_page_otherwise(
) {
    let (app, _dir) = assignment_app().await;
    let client = app.client();
    // frank has a session (from the BFF, to which he is assigned); the SPA requires assignment
    // and he has none there.
    let res = sign_in_to_bff(&app, &client, FRANK).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
    // 1. prompt=none: redirected with interaction_required, the user hidden as Entra hides him.
    let silent = with(code_request(SPA, SPA_REDIRECT), "prompt", "none");
    let res = get(&client, &authorize_url(&app.https, &silent)).await;
    let params = reply_params(&location(&res));
    assert_eq!(params["error"], "interaction_required", "{params:?}");
    let desc = &params["error_description"];
    let expected = format!(
        "AADSTS50105: {}",
        not_assigned_text("Contoso SPA (public)", SPA, "{EmailHidden}")
    );
    assert!(desc.starts_with(&expected), "{desc}");
    assert_eq!(params["state"], STATE);
    // 2. Without prompt: the error page names him.
    let res = get(
        &client,
        &authorize_url(&app.https, &code_request(SPA, SPA_REDIRECT)),
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = unescape(&res.text().await.unwrap());
    assert!(
        html.contains(&not_assigned_text("Contoso SPA (public)", SPA, FRANK)),
        "{html}"
    );
    // 3. erin, assigned to both, gets the SPA's code silently from her session.
    let client = app.client();
    let res = sign_in_to_bff(&app, &client, ERIN).await;
    assert!(reply_params(&location(&res)).contains_key("code"));
    let res = get(&client, &authorize_url(&app.https, &silent)).await;
    assert!(
        reply_params(&location(&res)).contains_key("code"),
        "{}",
        location(&res)
    );
}

#[tokio::test]
async fn ropc_for_an_unassigned_user_gets_invalid_grant_aadsts50105() {
    let (app, _dir) = assignment_app().await;
    let ropc = |user: &'static str| ropc_to_spa(&app, user);
    ropc(ALICE).await.assert_error_text(
        400,
        "invalid_grant",
        50105,
        &not_assigned_text("Contoso SPA (public)", SPA, ALICE),
    );
    let a = ropc(ERIN).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn client_credentials_for_a_resource_requiring_assignment_need_one_of_its_app_roles() {
    let (app, _dir) = assignment_app().await;
    let scope = format!("api://{API}/.default");
    // The BFF holds none of the API's app roles: AADSTS501051, the resource as it was named.
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BFF),
            ("client_secret", BFF_SECRET),
            ("scope", &scope),
        ])
        .await;
    a.assert_error_text(
        400,
        "invalid_grant",
        501051,
        &format!(
            "Application '{BFF}'(Contoso BFF (web, confidential)) is not assigned to a role for the application 'api://{API}'(Contoso Tasks API)."
        ),
    );
    // The daemon holds Tasks.ReadWrite.All: its token.
    let a = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        jwt_parts(a.str("access_token")).1["roles"],
        serde_json::json!(["Tasks.ReadWrite.All"])
    );
}

/// Default Access: an app that declares no app roles for users is assigned to a user or group
/// with no role (Graph's default app role, the portal's "Default Access"), and its tokens carry
/// no `roles`.
#[tokio::test]
async fn default_access_assigns_a_user_to_an_app_without_roles() {
    let (app, _dir) = Fixture::builtin()
        .app("spa", "appRoleAssignmentRequired", true)
        .push(
            "users",
            &format!(
                r#"{{ id = "e1e1e1e1-0000-4000-8000-000000000005", userPrincipalName = "{ERIN}", displayName = "Erin", password = "{PASSWORD}" }}"#
            ),
        )
        .push(
            "groups",
            &format!(
                r#"{{ id = "9b000000-0000-4000-8000-000000000001", displayName = "Pilot", members = ["{ERIN}"] }}"#
            ),
        )
        .push("appRoleAssignments", r#"{ principal = "Pilot", resource = "spa" }"#)
        .spawn()
        .await;
    let ropc = |user: &'static str| ropc_to_spa(&app, user);
    let a = ropc(ERIN).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, id) = jwt_parts(a.str("id_token"));
    assert!(id.get("roles").is_none(), "{id}");
    ropc(ALICE).await.assert_error(400, "invalid_grant", 50105);
}

#[tokio::test]
async fn default_access_is_refused_for_applications_and_for_apps_with_user_roles() {
    // The BFF declares no roles; the daemon is an application.
    let e = Fixture::builtin()
        .push(
            "appRoleAssignments",
            r#"{ principal = "daemon", resource = "bff" }"#,
        )
        .refused()
        .await;
    assert!(
        e.contains("appRoleAssignments[") && e.contains("field `role`"),
        "{e}"
    );
    assert!(e.contains("Default Access"), "{e}");
    // The API declares roles for users: an assignment names one.
    let e = Fixture::builtin()
        .push(
            "appRoleAssignments",
            &format!(r#"{{ principal = "{ALICE}", resource = "api" }}"#),
        )
        .refused()
        .await;
    assert!(e.contains("'api' declares app roles for users"), "{e}");
}

#[tokio::test]
async fn a_user_cannot_consent_for_an_app_that_requires_assignment_an_admin_can() {
    let (app, _dir) = assignment_app().await;
    let mail = with(
        code_request(BFF, BFF_REDIRECT),
        "scope",
        "openid profile https://graph.microsoft.com/Mail.Read",
    );
    // erin is assigned, but cannot consent herself: "Need admin approval", no redirect.
    let client = app.client();
    let res = sign_in(&app, &client, &mail, ERIN, PASSWORD).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    let html = unescape(&res.text().await.unwrap());
    assert!(html.contains("AADSTS90094"), "{html}");
    assert!(
        html.contains("An administrator of Contoso has set a policy that prevents you from granting Contoso BFF (web, confidential) the permissions it is requesting. Contact an administrator of Contoso who can grant permissions to this application on your behalf."),
        "{html}"
    );
    // A silent request cannot show that page either: consent_required, as for any consent.
    let plain = sign_in_to_bff(&app, &client, ERIN).await;
    code_of(&plain);
    let silent = with(mail.clone(), "prompt", "none");
    let res = get(&client, &authorize_url(&app.https, &silent)).await;
    assert_eq!(reply_params(&location(&res))["error"], "consent_required");
    // Admin consent (frank acting as the admin) grants it for everyone: erin signs in.
    let url = crate::consent::admin_consent_url(
        &app,
        true,
        Some("https://graph.microsoft.com/Mail.Read"),
    );
    let admin = app.client();
    let consent = crate::consent::admin_signs_in(&app, &admin, &url, FRANK).await;
    let res = submit(&admin, &app.https, &consent, &[("action", "Accept")]).await;
    assert_eq!(reply_params(&location(&res))["admin_consent"], "True");
    let res = get(&client, &authorize_url(&app.https, &mail)).await;
    code_of(&res);
}
