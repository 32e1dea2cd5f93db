//! Static consent (scopes-oidc, "The .default scope"): an app's `requiredResourceAccess` is what
//! `{resource}/.default` asks consent for when nothing of the resource is consented yet, for every
//! API in the list; something consented already means no page; a resource the registration does
//! not list, with nothing consented, is AADSTS650057 (`invalid_client`, redirected to the app);
//! `prompt=consent` and v1's `/adminconsent` without `scope` ask for the whole list; an API that
//! lists the app among its `knownClientApplications` has its own registered permissions asked on
//! the same page (bundled consent).

use toml::{Table, Value};

use crate::fixture_builder::Fixture;
use crate::helpers::*;
use crate::signin_helpers::*;
use crate::token_helpers::*;

const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
const NOTES: &str = "77778888-aaaa-4000-8000-000000000077";
const NOTES_DEFAULT: &str = "api://notes.contoso/.default";
const REPORTS_DEFAULT: &str = "api://reports.contoso/.default";

fn toml_value(text: &str) -> Value {
    format!("x = {text}").parse::<Table>().unwrap()["x"].clone()
}

/// The built-in tenant with two more APIs, `notes` and `reports`, neither consented for the BFF;
/// the BFF registers Graph's User.Read and Contacts.Read and the notes API's Notes.Read.
async fn spawn() -> (TestApp, tempfile::TempDir) {
    Fixture::builtin()
        .push(
            "applications",
            &format!(
                r#"{{ name = "notes", appId = "{NOTES}", displayName = "Contoso Notes API", identifierUris = ["api://notes.contoso"], api = {{ oauth2PermissionScopes = [{{ value = "Notes.Read", id = "6e000000-0000-4000-8000-0000000000a1" }}] }} }}"#
            ),
        )
        .push(
            "applications",
            r#"{ name = "reports", appId = "88889999-bbbb-4000-8000-000000000088", displayName = "Contoso Reports API", identifierUris = ["api://reports.contoso"], api = { oauth2PermissionScopes = [{ value = "Reports.Read", id = "6e000000-0000-4000-8000-0000000000b1" }] } }"#,
        )
        .app(
            "bff",
            "requiredResourceAccess",
            toml_value(
                r#"[{ resourceAppId = "https://graph.microsoft.com", resourceAccess = [{ id = "User.Read", type = "Scope" }, { id = "Contacts.Read", type = "Scope" }] },
                    { resourceAppId = "notes", resourceAccess = [{ id = "6e000000-0000-4000-8000-0000000000a1", type = "Scope" }] }]"#,
            ),
        )
        .spawn()
        .await
}

fn bff_asking(scope: &str) -> Vec<(String, String)> {
    with(
        code_request(BFF, BFF_REDIRECT),
        "scope",
        &format!("openid profile offline_access {scope}"),
    )
}

fn claim(answer: &Answer, name: &str) -> String {
    jwt_parts(answer.str("access_token")).1[name]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn default_asks_for_every_registered_permission_once_and_the_token_has_its_resources() {
    let (app, _dir) = spawn().await;
    let client = app.client();
    let consent =
        page(sign_in(&app, &client, &bff_asking(NOTES_DEFAULT), ALICE, PASSWORD).await).await;
    assert!(consent.contains("Permissions requested"), "{consent}");
    // Every API in the list, not only the one asked; User.Read is held by every app.
    assert!(
        consent.contains("api://notes.contoso/Notes.Read"),
        "{consent}"
    );
    assert!(
        consent.contains("https://graph.microsoft.com/Contacts.Read"),
        "{consent}"
    );
    assert!(!consent.contains("User.Read"), "{consent}");
    assert!(!consent.contains(".default"), "{consent}");
    let res = submit(&client, &app.https, &consent, &[("action", "Accept")]).await;
    let tokens = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    // A v1 API (accessTokenAcceptedVersion 1): its App ID URI is the audience.
    assert_eq!(claim(&tokens, "aud"), "api://notes.contoso");
    assert_eq!(claim(&tokens, "scp"), "Notes.Read");
    assert_eq!(
        tokens.str("scope"),
        "api://notes.contoso/Notes.Read api://notes.contoso/.default"
    );
    // Consented now: no page, in another browser too; Graph's token carries Contacts.Read.
    let res = sign_in(
        &app,
        &app.client(),
        &bff_asking("https://graph.microsoft.com/.default"),
        ALICE,
        PASSWORD,
    )
    .await;
    let tokens = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(claim(&tokens, "aud"), GRAPH);
    let scp = claim(&tokens, "scp");
    assert!(scp.split(' ').any(|s| s == "Contacts.Read"), "{scp}");
    // prompt=consent: the whole list again, although it is all consented.
    let forced = with(bff_asking(NOTES_DEFAULT), "prompt", "consent");
    let again = page(sign_in(&app, &app.client(), &forced, ALICE, PASSWORD).await).await;
    assert!(
        again.contains("api://notes.contoso/Notes.Read")
            && again.contains("https://graph.microsoft.com/Contacts.Read"),
        "{again}"
    );
    // bob consented nothing: his sign-in asks.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consent_grants WHERE principal = ? AND client_id = ?",
    )
    .bind(BOB_OID)
    .bind(BFF)
    .fetch_one(&app.state.store.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn default_of_a_resource_the_app_does_not_register_is_650057_unless_consented() {
    let (app, _dir) = spawn().await;
    let client = app.client();
    let res = sign_in(&app, &client, &bff_asking(REPORTS_DEFAULT), ALICE, PASSWORD).await;
    let loc = location(&res);
    assert_eq!(without_query(&loc), BFF_REDIRECT);
    let reply = reply_params(&loc);
    assert_eq!(reply["error"], "invalid_client", "{reply:?}");
    assert_eq!(reply["state"], STATE);
    let description = &reply["error_description"];
    assert!(
        description.starts_with("AADSTS650057: Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration. Client app ID: 00001111-aaaa-2222-bbbb-3333cccc4444(Contoso BFF (web, confidential)). Resource value from request: api://reports.contoso. Resource app ID: 88889999-bbbb-4000-8000-000000000088. List of valid resources from app registration: 00000003-0000-0000-c000-000000000000, 77778888-aaaa-4000-8000-000000000077.\r\n"),
        "{description}"
    );
    assert!(!reply.contains_key("code"));
    // The same from an SSO session, with no page.
    let client = app.client();
    code_of(&sign_in(&app, &client, &bff_asking(""), ALICE, PASSWORD).await);
    let res = get(
        &client,
        &authorize_url(&app.https, &bff_asking(REPORTS_DEFAULT)),
    )
    .await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["error"], "invalid_client", "{reply:?}");
    assert!(reply["error_description"].starts_with("AADSTS650057:"));
    // The app's own `.default` is no other resource: the consent page for what it registers.
    let own = get(
        &client,
        &authorize_url(&app.https, &bff_asking(&format!("{BFF}/.default"))),
    )
    .await;
    let own = page(own).await;
    assert!(own.contains("api://notes.contoso/Notes.Read"), "{own}");
    // The API pre-authorizes the BFF: consented, so `.default` needs no registration.
    let res = get(
        &client,
        &authorize_url(&app.https, &bff_asking(&format!("api://{API}/.default"))),
    )
    .await;
    let tokens = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(claim(&tokens, "scp"), "access_as_user");
    // Nothing was stored by the refusals.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM consent_grants WHERE client_id = ?")
        .bind(BFF)
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    let fixture_grants: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consent_grants WHERE client_id = ? AND source = 'fixture'",
    )
    .bind(BFF)
    .fetch_one(&app.state.store.pool)
    .await
    .unwrap();
    assert_eq!(stored, fixture_grants);
}

#[tokio::test]
async fn v1_admin_consent_without_scope_grants_the_registered_permissions_to_everyone() {
    let (app, _dir) = spawn().await;
    let client = app.client();
    // v1's endpoint, no `scope`.
    let url = crate::consent::admin_consent_url(&app, false, None);
    let consent = crate::consent::admin_signs_in(&app, &client, &url, ALICE).await;
    assert!(
        consent.contains("api://notes.contoso/Notes.Read")
            && consent.contains("https://graph.microsoft.com/Contacts.Read"),
        "{consent}"
    );
    let res = submit(&client, &app.https, &consent, &[("action", "Accept")]).await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["admin_consent"], "True", "{reply:?}");
    assert_eq!(reply["state"], "admin-1");
    // bob now signs in for the notes API with no page (tenant-wide).
    app.state.clock.advance(30);
    let bobs = app.client();
    let totp = page(sign_in(&app, &bobs, &bff_asking(NOTES_DEFAULT), BOB, PASSWORD).await).await;
    let otc = totp_code(&app, BOB_TOTP_SECRET, 0);
    let res = submit(&bobs, &app.https, &totp, &[("otc", &otc)]).await;
    let tokens = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(claim(&tokens, "scp"), "Notes.Read");
    // An app that registers nothing still needs `scope` at v1.
    let res = get(
        &client,
        &format!(
            "{}/{TENANT}/adminconsent?client_id={SPA}&redirect_uri={SPA_REDIRECT}",
            app.https
        ),
    )
    .await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["error"], "invalid_request", "{reply:?}");
    assert!(
        reply["error_description"].starts_with("AADSTS900144:"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn the_loader_checks_required_resource_access() {
    let refused = |value: &str| {
        Fixture::builtin()
            .app("bff", "requiredResourceAccess", toml_value(value))
            .refused()
    };
    let unknown = refused(
        r#"[{ resourceAppId = "nobody", resourceAccess = [{ id = "x", type = "Scope" }] }]"#,
    )
    .await;
    assert!(
        unknown.contains("requiredResourceAccess.resourceAppId")
            && unknown.contains("unknown application 'nobody'"),
        "{unknown}"
    );
    let not_exposed = refused(
        r#"[{ resourceAppId = "api", resourceAccess = [{ id = "Tasks.Write", type = "Scope" }] }]"#,
    )
    .await;
    assert!(
        not_exposed.contains("'Tasks.Write' is not a scope of 'api'"),
        "{not_exposed}"
    );
    let role = refused(
        r#"[{ resourceAppId = "api", resourceAccess = [{ id = "Tasks.ReadWrite.All", type = "Role" }] }]"#,
    )
    .await;
    assert!(role.contains("appRoleAssignments"), "{role}");
    let twice = refused(
        r#"[{ resourceAppId = "api", resourceAccess = [{ id = "access_as_user", type = "Scope" }] },
            { resourceAppId = "22223333-cccc-4444-dddd-5555eeee6666", resourceAccess = [] }]"#,
    )
    .await;
    assert!(twice.contains("listed twice"), "{twice}");
    let stranger = Fixture::builtin()
        .app(
            "api",
            "api.knownClientApplications",
            toml_value(r#"["nobody"]"#),
        )
        .refused()
        .await;
    assert!(
        stranger.contains("api.knownClientApplications")
            && stranger.contains("'nobody' is not an application of this tenant"),
        "{stranger}"
    );
}

#[tokio::test]
async fn a_device_code_sign_in_refused_by_650057_shows_the_error_page() {
    let (app, _dir) = spawn().await;
    let dc = app
        .devicecode(&[
            ("client_id", SPA),
            ("scope", &format!("openid offline_access {REPORTS_DEFAULT}")),
        ])
        .await;
    assert_eq!(dc.status, 200, "{}", dc.body);
    let client = app.client();
    let username = crate::device_code::enter_code(&app, &client, dc.str("user_code")).await;
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    let res = submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("AADSTS650057"), "{html}");
    // The device was not given tokens.
    app.poll(SPA, dc.str("device_code"))
        .await
        .assert_error(400, "authorization_pending", 70016);
}

#[tokio::test]
async fn a_v1_resource_is_its_default_scope_for_consent_too() {
    let (app, _dir) = spawn().await;
    // v1's `resource` stands for `{resource}/.default` (scopes-oidc): unregistered, 650057.
    let client = app.client();
    let url = crate::v1::v1_authorize_url(&app, "api://reports.contoso");
    let username = page(get(&client, &url).await).await;
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    let res = submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await;
    let reply = reply_params(&location(&res));
    assert_eq!(reply["error"], "invalid_client", "{reply:?}");
    assert!(
        reply["error_description"].starts_with("AADSTS650057:"),
        "{reply:?}"
    );
    // Registered: the consent page for the registered permissions, then a code.
    let client = app.client();
    let url = crate::v1::v1_authorize_url(&app, "api://notes.contoso");
    let username = page(get(&client, &url).await).await;
    let password = page(submit(&client, &app.https, &username, &[("loginfmt", ALICE)]).await).await;
    let consent = page(submit(&client, &app.https, &password, &[("passwd", PASSWORD)]).await).await;
    assert!(
        consent.contains("api://notes.contoso/Notes.Read"),
        "{consent}"
    );
    code_of(&submit(&client, &app.https, &consent, &[("action", "Accept")]).await);
}

#[tokio::test]
async fn an_api_that_knows_the_client_bundles_its_own_permissions_into_the_clients_consent() {
    // The API lists the BFF among its knownClientApplications and registers Graph's Mail.Read
    // (for on-behalf-of); the BFF registers the API's access_as_user (the built-in tenant).
    let (app, _dir) = Fixture::builtin()
        .app("api", "api.knownClientApplications", toml_value(r#"["bff"]"#))
        .app(
            "api",
            "requiredResourceAccess",
            toml_value(
                r#"[{ resourceAppId = "https://graph.microsoft.com", resourceAccess = [{ id = "Mail.Read", type = "Scope" }] }]"#,
            ),
        )
        .spawn()
        .await;
    let api_default = format!("api://{API}/.default");
    let mail = "https://graph.microsoft.com/Mail.Read";
    // alice's token for the API through the BFF (pre-authorized: no page); the API holds no
    // Mail.Read for her yet, so on-behalf-of is refused.
    let client = app.client();
    let res = sign_in(&app, &client, &bff_asking(&api_default), ALICE, PASSWORD).await;
    let incoming = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    crate::tokens_obo::obo(&app, incoming.str("access_token"), mail)
        .await
        .assert_error(400, "invalid_grant", 65001);
    // The BFF's `.default` with prompt=consent asks for the API's registered permissions too.
    let forced = with(bff_asking(&api_default), "prompt", "consent");
    let consent = page(get(&client, &authorize_url(&app.https, &forced)).await).await;
    assert!(consent.contains(API_SCOPE), "{consent}");
    assert!(consent.contains(mail), "{consent}");
    let res = submit(&client, &app.https, &consent, &[("action", "Accept")]).await;
    let fresh = app
        .redeem_bff_pkce(&code_of(&res), crate::signin_helpers::VERIFIER)
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let a = crate::tokens_obo::obo(&app, fresh.str("access_token"), mail).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let scp = jwt_parts(a.str("access_token")).1["scp"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(scp.split(' ').any(|s| s == "Mail.Read"), "{scp}");
    // Granted to the API for alice, not to the BFF.
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT client_id FROM consent_grants WHERE scope = 'Mail.Read' AND principal = ?",
    )
    .bind(ALICE_OID)
    .fetch_all(&app.state.store.pool)
    .await
    .unwrap();
    assert_eq!(holders, vec![API.to_string()]);
}
