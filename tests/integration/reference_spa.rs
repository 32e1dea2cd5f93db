//! The reference SPA's host (`entra-mock spa`, issue 10 item 2) on port 0: static files with a
//! Content-Security-Policy that allows no inline script and connects only to the authority and
//! the API, and the settings the page reads. The flow itself runs in the page: the browser test
//! (tests/interop/browser/reference_clients.test.mjs) walks it in Chromium.

use entra_mock::clients::spa::{self, SpaArgs};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_spa_host_serves_its_page_with_a_strict_csp_and_its_settings() {
    let app = TestApp::spawn().await;
    let args = SpaArgs {
        authority: entra_mock::clients::Authority {
            host: app.https.clone(),
            tenant_id: TENANT.into(),
        },
        client_id: SPA.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: String::new(),
        api_url: "http://localhost:5003".into(),
        api_scope: API_SCOPE.into(),
    };
    let running = spa::start(&args).unwrap();
    let base = running.public_url.clone();
    tokio::spawn(running.server);
    let http = reqwest::Client::new();

    let res = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(
        csp.contains(&format!(
            "connect-src 'self' {} http://localhost:5003;",
            app.https
        )),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let html = res.text().await.unwrap();
    assert!(html.contains("<script src=\"/app.js\" defer></script>"));
    assert!(!html.contains("<script>"), "no inline script");

    let js = http
        .get(format!("{base}/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("code_challenge_method: \"S256\""));
    for storage in ["localStorage.setItem", "document.cookie", "innerHTML"] {
        assert!(!js.contains(storage), "the SPA never uses {storage}");
    }

    let config: Value = get_json(&http, &format!("{base}/config.json")).await;
    assert_eq!(config["clientId"], SPA);
    assert_eq!(config["redirectUri"], format!("{base}/"));
    assert_eq!(config["authorityHost"], app.https);
    let res = http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
