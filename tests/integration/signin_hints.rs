//! The sign-in page's "Test accounts" hint (issue 10): shown for the built-in tenant with bob's
//! current code, outside Entra's form; hidden by `--no-hints`, by a fixture file of one's own
//! and for apps with `strictEntraClaims`.

use entra_mock::config::Settings;
use reqwest::Method;
use serde_json::json;

use crate::fixture_builder::Fixture;
use crate::helpers::*;

async fn username_page(app: &TestApp) -> String {
    crate::signin_helpers::username_page(app, &app.client()).await
}

#[tokio::test]
async fn the_built_in_tenant_shows_its_test_accounts_with_bobs_current_code() {
    let app = TestApp::spawn().await;
    // The code of the step before the page and after it: the real clock may cross a 30-second
    // step boundary in between.
    let before = app.server.totp(BOB).await.unwrap().unwrap();
    let html = username_page(&app).await;
    let hint = &html[html
        .find("<details class=\"mock-hints\"")
        .expect("the hint")..];
    let form_end = html.find("</form>").unwrap();
    assert!(
        html.find("<details").unwrap() > form_end,
        "outside Entra's form"
    );
    for upn in [ALICE, BOB, CAROL, DAVE] {
        assert!(hint.contains(upn), "{upn}");
    }
    assert!(hint.contains(PASSWORD));
    let after = app.server.totp(BOB).await.unwrap().unwrap();
    assert!(
        [before, after]
            .iter()
            .any(|code| hint.contains(&format!("<code class=\"mock-totp\">{code}</code>"))),
        "{hint}"
    );
    // The code follows the virtual clock.
    app.state.clock.advance(30);
    let later = app.server.totp(BOB).await.unwrap().unwrap();
    let page = username_page(&app).await;
    let last = app.server.totp(BOB).await.unwrap().unwrap();
    assert!(page.contains(&later) || page.contains(&last));
}

#[tokio::test]
async fn no_hints_own_fixtures_and_strict_apps_hide_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(dir.path().to_path_buf());
    settings.hints = false;
    let app = TestApp::spawn_with(settings).await;
    let html = username_page(&app).await;
    assert!(html.contains("name=\"loginfmt\"") && !html.contains("mock-hints"));

    let (own, _dir) = Fixture::builtin().spawn().await;
    assert!(!username_page(&own).await.contains("mock-hints"));

    let app = TestApp::spawn().await;
    let (status, body) = app
        .mock(
            Method::PATCH,
            &format!("applications/{BFF}"),
            Some(json!({"mock": {"strictEntraClaims": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!username_page(&app).await.contains("mock-hints"));
}
