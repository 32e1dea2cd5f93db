//! Claims as Entra configures them per app registration (issue 8 item 7): roles in ID tokens,
//! `groups`/`wids` by `groupMembershipClaims` with the overage form, `optionalClaims`, the v1
//! `aud` in the form the request used, the lifetime of app-only tokens, and what the `profile`
//! scope adds to ID tokens and userinfo.

use serde_json::json;

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::token_helpers::*;

const TASK_ADMINS: &str = "7a5c0000-0000-4000-8000-00000000a001";
const USER_ROLE_TEMPLATE: &str = "b79fbf4d-3ef9-4689-8143-76b194e85509";

fn bob() -> CodeSpec {
    CodeSpec {
        user_oid: BOB_OID.into(),
        ..CodeSpec::bff()
    }
}

/// bob's access token for the API, and his ID token, on a server with `fixture`.
async fn bob_tokens(fixture: Fixture) -> (serde_json::Value, serde_json::Value) {
    let (app, _dir) = fixture.spawn().await;
    let (code, _) = issue_code(&app, &bob()).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let at = app.validate(a.str("access_token"), true, API).await;
    let (_, id) = jwt_parts(a.str("id_token"));
    (at, id)
}

#[tokio::test]
async fn without_group_membership_claims_tokens_carry_no_groups_and_no_wids() {
    let (at, id) = bob_tokens(Fixture::builtin().app_without("api", "groupMembershipClaims")).await;
    for claim in ["groups", "wids", "_claim_names"] {
        assert!(at.get(claim).is_none(), "{claim} in {at}");
        assert!(id.get(claim).is_none(), "{claim} in {id}");
    }
    assert_eq!(
        at["roles"],
        json!(["Tasks.ReadWrite.All"]),
        "roles do not depend on it"
    );
}

#[tokio::test]
async fn security_group_gives_groups_and_directory_role_gives_wids() {
    let (at, _) =
        bob_tokens(Fixture::builtin().app("api", "groupMembershipClaims", "SecurityGroup")).await;
    assert_eq!(at["groups"], json!([TASK_ADMINS]));
    assert!(at.get("wids").is_none());

    let (at, _) =
        bob_tokens(Fixture::builtin().app("api", "groupMembershipClaims", "DirectoryRole")).await;
    assert_eq!(at["wids"], json!([USER_ROLE_TEMPLATE]));
    assert!(at.get("groups").is_none());
}

#[tokio::test]
async fn application_group_gives_only_the_groups_assigned_to_the_app() {
    let fixture = Fixture::builtin()
        .app("api", "groupMembershipClaims", "ApplicationGroup")
        .push(
            "groups",
            r#"{ id = "7a5c0000-0000-4000-8000-00000000a002", displayName = "Unassigned", members = ["bob@contoso.onmicrosoft.com"] }"#,
        );
    let (at, _) = bob_tokens(fixture).await;
    assert_eq!(at["groups"], json!([TASK_ADMINS]));
}

#[tokio::test]
async fn past_the_overage_limit_tokens_carry_the_overage_form_instead_of_groups() {
    let fixture = Fixture::builtin().app("api", "mock.groupsOverageLimit", 0);
    let (at, _) = bob_tokens(fixture).await;
    assert!(at.get("groups").is_none(), "{at}");
    assert_eq!(at["_claim_names"], json!({ "groups": "src1" }));
    assert_eq!(
        at["_claim_sources"]["src1"]["endpoint"],
        format!("https://graph.windows.net/{TENANT}/users/{BOB_OID}/getMemberObjects")
    );
}

#[tokio::test]
async fn id_tokens_carry_the_roles_assigned_to_the_user_for_the_signing_in_app() {
    let fixture = Fixture::builtin()
        .app(
            "bff",
            "appRoles",
            toml::Value::Array(vec![toml::Value::Table(
                r#"value = "Bff.Admin"
allowedMemberTypes = ["User"]"#
                    .parse()
                    .unwrap(),
            )]),
        )
        .push(
            "appRoleAssignments",
            r#"{ principal = "bob@contoso.onmicrosoft.com", resource = "bff", role = "Bff.Admin" }"#,
        );
    let (at, id) = bob_tokens(fixture).await;
    assert_eq!(id["roles"], json!(["Bff.Admin"]));
    assert_eq!(
        at["roles"],
        json!(["Tasks.ReadWrite.All"]),
        "the API's roles only"
    );
}

#[tokio::test]
async fn optional_claims_are_off_unless_the_registration_asks_for_them() {
    // Without optionalClaims: no login_hint in the ID token, no idtyp in the access token.
    let fixture = Fixture::builtin()
        .app_without("bff", "optionalClaims")
        .app_without("api", "optionalClaims");
    let (at, id) = bob_tokens(fixture).await;
    for claim in ["login_hint", "upn", "given_name", "acct", "auth_time"] {
        assert!(id.get(claim).is_none(), "{claim} in {id}");
    }
    assert!(at.get("idtyp").is_none(), "{at}");
    assert!(at.get("auth_time").is_none(), "{at}");
    assert!(
        at.get("upn").is_none(),
        "v2 access tokens carry upn only as an optional claim"
    );

    // Asked for: each appears with its value.
    let fixture = Fixture::builtin()
        .app(
            "bff",
            "optionalClaims",
            toml::Value::Table(
                r#"idToken = [{ name = "login_hint" }, { name = "upn" }, { name = "given_name" }, { name = "family_name" }, { name = "acct" }]"#
                    .parse()
                    .unwrap(),
            ),
        )
        .app(
            "api",
            "optionalClaims",
            toml::Value::Table(r#"accessToken = [{ name = "idtyp" }, { name = "upn" }]"#.parse().unwrap()),
        );
    let (at, id) = bob_tokens(fixture).await;
    assert!(id["login_hint"].as_str().unwrap().starts_with("O."));
    assert_eq!(id["upn"], BOB);
    assert_eq!(id["given_name"], "Bob");
    assert_eq!(id["family_name"], "Example");
    assert_eq!(id["acct"], 0);
    // idtyp is for app-only tokens ("By default it's only emitted for app-only tokens",
    // optional-claims-reference).
    assert!(at.get("idtyp").is_none(), "{at}");
    assert_eq!(at["upn"], BOB);

    // With `include_user_token`, a user's access token says what it is too.
    let fixture = Fixture::builtin().app(
        "api",
        "optionalClaims",
        toml::Value::Table(
            r#"accessToken = [{ name = "idtyp", additionalProperties = ["include_user_token"] }]"#
                .parse()
                .unwrap(),
        ),
    );
    let (at, _) = bob_tokens(fixture).await;
    assert_eq!(at["idtyp"], "user", "{at}");
}

/// `auth_time` (optional-claims-reference, "Time when the user last authenticated"): the time of
/// the sign-in in the ID token and in the API's access token when each registration asks for it,
/// and still that time in the tokens refreshed from them an hour later.
#[tokio::test]
async fn auth_time_as_an_optional_claim_is_the_sign_in_time_and_stays_so_on_refresh() {
    let fixture = Fixture::builtin()
        .app(
            "bff",
            "optionalClaims",
            toml::Value::Table(r#"idToken = [{ name = "auth_time" }]"#.parse().unwrap()),
        )
        .app(
            "api",
            "optionalClaims",
            toml::Value::Table(r#"accessToken = [{ name = "auth_time" }]"#.parse().unwrap()),
        );
    let (app, _dir) = fixture.spawn().await;
    let before = app.state.clock.unix();
    let (code, _) = issue_code(&app, &bob()).await;
    let after = app.state.clock.unix();
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let at = app.validate(a.str("access_token"), true, API).await;
    let (_, id) = jwt_parts(a.str("id_token"));
    // `issue_code` records the sign-in 5 seconds before the code it issues.
    let signed_in = id["auth_time"].as_i64().expect("auth_time in the ID token");
    assert!((before - 5..=after - 5).contains(&signed_in), "{id}");
    assert_eq!(at["auth_time"], signed_in, "{at}");

    app.state.clock.advance(3600);
    let r = app.refresh_bff(a.str("refresh_token"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let at = app.validate(r.str("access_token"), true, API).await;
    let (_, id) = jwt_parts(r.str("id_token"));
    assert_eq!(id["auth_time"], signed_in, "{id}");
    assert_eq!(at["auth_time"], signed_in, "{at}");
    assert!(id["iat"].as_i64().unwrap() > signed_in + 3000, "{id}");

    // App-only tokens have no user and no sign-in: no auth_time, asked for or not.
    let d = app.daemon_token().await;
    assert_eq!(d.status, 200, "{}", d.body);
    let (_, app_only) = jwt_parts(d.str("access_token"));
    assert!(app_only.get("auth_time").is_none(), "{app_only}");
}

#[tokio::test]
async fn an_unknown_optional_claim_or_group_setting_is_a_fixture_error() {
    for fixture in [
        Fixture::builtin().app("api", "groupMembershipClaims", "Everything"),
        Fixture::builtin().app(
            "api",
            "optionalClaims",
            toml::Value::Table(r#"accessToken = [{ name = "shoe_size" }]"#.parse().unwrap()),
        ),
    ] {
        let text = fixture.refused().await;
        assert!(
            text.contains("groupMembershipClaims") || text.contains("optionalClaims.accessToken"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_v1_access_token_names_the_api_as_the_request_did() {
    let (app, _dir) = Fixture::builtin()
        .app("api", "accessTokenAcceptedVersion", 1)
        .spawn()
        .await;
    for (named, aud) in [
        (
            API_SCOPE.to_string(),
            "api://22223333-cccc-4444-dddd-5555eeee6666",
        ),
        (format!("{API}/access_as_user"), API),
    ] {
        let (code, _) = issue_code(&app, &CodeSpec::bff().scope(&format!("openid {named}"))).await;
        let a = app.redeem_bff(&code).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let (_, at) = jwt_parts(a.str("access_token"));
        assert_eq!(at["aud"], aud, "named as {named}");
        assert_eq!(at["ver"], "1.0");
    }
}

#[tokio::test]
async fn app_only_tokens_expire_in_3599_seconds_and_delegated_in_60_to_90_minutes() {
    let app = TestApp::spawn().await;
    let a = app.daemon_token().await;
    assert_eq!(a.body["expires_in"], 3599, "{}", a.body);
    let (_, at) = jwt_parts(a.str("access_token"));
    // `iat` and `nbf` five minutes before the issue, as Entra dates them.
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        3599 + 300
    );
    assert_eq!(at["nbf"], at["iat"]);

    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    let lifetime = a.body["expires_in"].as_i64().unwrap();
    assert!((3600..=5400).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn userinfo_answers_the_names_only_for_the_profile_scope() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope("openid")).await;
    let a = app.redeem_bff(&code).await;
    let (_, id) = jwt_parts(a.str("id_token"));
    let info = app.userinfo(a.str("access_token")).await;
    assert_eq!(info, json!({ "sub": id["sub"] }));
}

#[tokio::test]
async fn a_v2_id_token_names_the_user_only_for_the_profile_scope() {
    let app = TestApp::spawn().await;
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope("openid")).await;
    let (_, id) = jwt_parts(app.redeem_bff(&code).await.str("id_token"));
    for claim in ["name", "preferred_username", "oid"] {
        assert!(id.get(claim).is_none(), "{claim} without profile: {id}");
    }
    assert!(id["sub"].is_string() && id["tid"].is_string());
    let (code, _) = issue_code(&app, &CodeSpec::bff().scope("openid profile")).await;
    let (_, id) = jwt_parts(app.redeem_bff(&code).await.str("id_token"));
    assert_eq!(id["name"], "Alice Example");
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["oid"], ALICE_OID);
}

const API1_URI: &str = "https://contoso.onmicrosoft.com/api1";

/// The built-in tenant with a second App ID URI on the API, which accepts tokens of `version`.
async fn two_uri_api(version: i64) -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .app(
            "api",
            "identifierUris",
            toml::Value::Array(vec![
                format!("api://{API}").into(),
                API1_URI.to_string().into(),
            ]),
        )
        .app("api", "accessTokenAcceptedVersion", version)
        .spawn()
        .await
}

/// The daemon's v1 client-credentials token for `resource`: its `aud`.
async fn v1_app_only_aud(app: &TestApp, resource: &str) -> serde_json::Value {
    let a = crate::v1::v1_token(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{resource}: {}", a.body);
    assert_eq!(a.body["resource"], resource);
    let (_, at) = jwt_parts(a.str("access_token"));
    at["aud"].clone()
}

#[tokio::test]
async fn every_app_id_uri_names_the_api_and_a_v1_aud_is_the_resource_as_requested() {
    let (app, _dir) = two_uri_api(1).await;
    // 1. A scope under the second App ID URI resolves (it was AADSTS500011), and the v1 token's
    //    `aud` is that URI.
    let (code, _) = issue_code(
        &app,
        &CodeSpec::bff().scope(&format!("openid {API1_URI}/access_as_user")),
    )
    .await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["scope"], format!("{API1_URI}/access_as_user"));
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(at["aud"], API1_URI);
    assert_eq!(at["scp"], "access_as_user");
    // 2. v1 `resource`: the `aud` is the resource string as sent, a trailing slash or the GUID
    //    included ("any appID URI, with or without a trailing slash, and the client ID").
    for resource in [
        format!("api://{API}"),
        format!("api://{API}/"),
        API1_URI.to_string(),
        format!("{API1_URI}/"),
        API.to_string(),
    ] {
        assert_eq!(v1_app_only_aud(&app, &resource).await, resource.as_str());
    }
}

#[tokio::test]
async fn a_v2_token_named_by_any_app_id_uri_has_the_client_id_as_aud() {
    let (app, _dir) = two_uri_api(2).await;
    for resource in [format!("{API1_URI}/"), format!("api://{API}/")] {
        assert_eq!(v1_app_only_aud(&app, &resource).await, API, "{resource}");
    }
    let (code, _) = issue_code(
        &app,
        &CodeSpec::bff().scope(&format!("openid {API1_URI}/access_as_user")),
    )
    .await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, at) = jwt_parts(a.str("access_token"));
    assert_eq!(at["aud"], API);
}

#[tokio::test]
async fn an_app_id_uri_of_two_applications_is_a_fixture_error() {
    let text = Fixture::builtin()
        .app(
            "bff",
            "identifierUris",
            toml::Value::Array(vec![format!("api://{API}/").into()]),
        )
        .refused()
        .await;
    assert!(
        text.contains("identifierUris") && text.contains("duplicate App ID URI"),
        "{text}"
    );
}

/// `optionalClaims` of the API from a TOML inline table.
fn api_optional_claims(fixture: Fixture, table: &str) -> Fixture {
    fixture.app(
        "api",
        "optionalClaims",
        toml::Value::Table(table.parse().unwrap()),
    )
}

#[tokio::test]
async fn the_groups_optional_claim_with_emit_as_roles_puts_the_groups_in_roles_without_app_roles() {
    let fixture = api_optional_claims(
        Fixture::builtin().app("api", "groupMembershipClaims", "SecurityGroup"),
        r#"accessToken = [{ name = "groups", additionalProperties = ["emit_as_roles"] }]"#,
    );
    let (at, id) = bob_tokens(fixture).await;
    // "The group values are emitted in the role claim. If emit_as_roles is used, any application
    // roles configured that the user ... is assigned aren't in the role claim."
    assert_eq!(at["roles"], json!([TASK_ADMINS]), "{at}");
    assert!(at.get("groups").is_none(), "{at}");
    // The client's ID token has no such optional claim: unchanged.
    assert!(id.get("roles").is_none(), "{id}");
}

#[tokio::test]
async fn cloud_displayname_names_application_groups_and_on_premises_forms_keep_the_ids() {
    // ApplicationGroup: the display name of each group assigned to the API.
    let fixture = api_optional_claims(
        Fixture::builtin().app("api", "groupMembershipClaims", "ApplicationGroup"),
        r#"accessToken = [{ name = "groups", additionalProperties = ["sam_account_name", "cloud_displayname"] }]"#,
    );
    let (at, _) = bob_tokens(fixture).await;
    assert_eq!(at["groups"], json!(["Task Admins"]), "{at}");
    assert_eq!(at["roles"], json!(["Tasks.ReadWrite.All"]));

    // "This option works only when groupMembershipClaims is set to ApplicationGroup"; cloud
    // groups have no on-premises names: the object ids.
    let fixture = api_optional_claims(
        Fixture::builtin().app("api", "groupMembershipClaims", "SecurityGroup"),
        r#"accessToken = [{ name = "groups", additionalProperties = ["dns_domain_and_sam_account_name", "cloud_displayname"] }]"#,
    );
    let (at, _) = bob_tokens(fixture).await;
    assert_eq!(at["groups"], json!([TASK_ADMINS]), "{at}");
}

#[tokio::test]
async fn aud_with_use_guid_makes_a_v1_aud_the_client_id() {
    let (app, _dir) = api_optional_claims(
        Fixture::builtin().app("api", "accessTokenAcceptedVersion", 1),
        r#"accessToken = [{ name = "aud", additionalProperties = ["use_guid"] }]"#,
    )
    .spawn()
    .await;
    for resource in [format!("api://{API}/"), format!("api://{API}")] {
        assert_eq!(v1_app_only_aud(&app, &resource).await, API, "{resource}");
    }
}

#[tokio::test]
async fn a_manifest_as_the_portal_writes_it_loads_with_saml2_token_and_groups() {
    let app = TestApp::spawn().await;
    let manifest = json!({
        "name": "portal", "appId": "70a7a100-0000-4000-8000-000000000001",
        "displayName": "Portal app", "groupMembershipClaims": "SecurityGroup",
        "optionalClaims": {
            "idToken": [{"name": "groups", "source": null, "essential": false,
                         "additionalProperties": ["sam_account_name", "emit_as_roles"]},
                        {"name": "sid", "essential": false, "additionalProperties": []}],
            "accessToken": [{"name": "groups", "essential": false,
                             "additionalProperties": ["netbios_domain_and_sam_account_name"]},
                            {"name": "aud", "additionalProperties": ["use_guid"]}],
            "saml2Token": [{"name": "groups", "additionalProperties": ["sam_account_name"]},
                           {"name": "upn", "essential": false}]
        }
    });
    let (status, body) = app
        .mock(reqwest::Method::POST, "applications", Some(manifest))
        .await;
    assert_eq!(status, 201, "{body}");

    // A property Entra does not list for groups, and a claim entra-mock does not emit, are
    // refused with the field at fault.
    for (claims, said) in [
        (
            json!({"idToken": [{"name": "groups", "additionalProperties": ["emit_as_owls"]}]}),
            "'emit_as_owls' is not an additionalProperties value of 'groups'",
        ),
        (
            json!({"accessToken": [{"name": "ctry"}]}),
            "'ctry' is not an optional claim entra-mock emits",
        ),
    ] {
        let entry = json!({"name": "refused", "appId": "70a7a100-0000-4000-8000-000000000002",
                           "displayName": "Refused", "optionalClaims": claims});
        let (status, body) = app
            .mock(reqwest::Method::POST, "applications", Some(entry))
            .await;
        assert_eq!(status, 400, "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(said), "{description}");
        assert!(description.contains("optionalClaims."), "{description}");
    }
}
