//! Part 1: fixture files. A custom file is served in place of the built-in tenant, and a file
//! the loader refuses names its file, entry and field.

use crate::foundation::discovery;
use crate::helpers::*;

fn write_fixture(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("fixture.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const TENANT_HEAD: &str = "[[tenants]]\nid = \"aaaabbbb-0000-cccc-1111-dddd2222eeee\"\ndomain = \"contoso.onmicrosoft.com\"\ndisplayName = \"Contoso\"\n";

async fn fixture_error(body: &str) -> entra_mock::fixtures::FixtureError {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixture(dir.path(), &format!("{TENANT_HEAD}{body}"));
    let err = match TestApp::spawn_with_fixtures(dir.path(), path.clone()).await {
        Ok(_) => panic!("the fixture was accepted"),
        Err(e) => e,
    };
    let fe = err
        .downcast_ref::<entra_mock::fixtures::FixtureError>()
        .unwrap_or_else(|| panic!("not a fixture error: {err:#}"))
        .clone();
    assert_eq!(fe.file, path.display().to_string());
    fe
}

#[tokio::test]
async fn a_redirect_uri_that_is_not_a_url_names_file_entry_and_field() {
    let e = fixture_error(
        "[[tenants.applications]]\nname = \"web\"\nappId = \"44445555-0000-4000-8000-000000000001\"\nweb = { redirectUris = [\"not a url\"] }\n",
    )
    .await;
    assert_eq!(e.entry, "tenants[0].applications[0] \"web\"");
    assert_eq!(e.field, "web.redirectUris");
    assert!(e.message.contains("not a url"));
}

#[tokio::test]
async fn a_duplicate_client_id_names_file_entry_and_field() {
    let e = fixture_error(
        "[[tenants.applications]]\nname = \"one\"\nappId = \"44445555-0000-4000-8000-000000000001\"\n\
         [[tenants.applications]]\nname = \"two\"\nappId = \"44445555-0000-4000-8000-000000000001\"\n",
    )
    .await;
    assert_eq!(e.entry, "tenants[0].applications[1] \"two\"");
    assert_eq!(e.field, "appId");
    assert!(e.message.contains("duplicate client id"));
}

#[tokio::test]
async fn a_role_assignment_to_an_unknown_app_names_file_entry_and_field() {
    let e = fixture_error(
        "[[tenants.appRoleAssignments]]\nprincipal = \"someone\"\nresource = \"ghost\"\nrole = \"Admin\"\n",
    )
    .await;
    assert_eq!(e.entry, "tenants[0].appRoleAssignments[0]");
    assert_eq!(e.field, "resource");
    assert!(e.message.contains("ghost"));
}

#[tokio::test]
async fn an_unknown_field_names_its_line_and_field() {
    let e = fixture_error("[[tenants.users]]\nid = \"44445555-0000-4000-8000-000000000009\"\nuserPrincipalName = \"x@y\"\ndisplayName = \"X\"\npassword = \"p\"\nfavouriteColour = \"red\"\n").await;
    assert_eq!(e.field, "favouriteColour");
    assert!(e.entry.starts_with("line "), "{}", e.entry);
}

#[tokio::test]
async fn a_custom_fixture_file_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixture(
        dir.path(),
        "[[tenants]]\nid = \"12345678-0000-4000-8000-000000000000\"\ndomain = \"fabrikam.example\"\ndisplayName = \"Fabrikam\"\n",
    );
    let app = TestApp::spawn_with_fixtures(dir.path(), path)
        .await
        .unwrap();
    let doc = discovery(&app.client(), &app.https, "fabrikam.example", true)
        .await
        .2;
    assert_eq!(
        doc["issuer"],
        format!("{}/12345678-0000-4000-8000-000000000000/v2.0", app.https)
    );
    let (status, _, _) = discovery(&app.client(), &app.https, TENANT, true).await;
    assert_eq!(status, 400);
}
