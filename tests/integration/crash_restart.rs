//! Crash and restart (issue 12 item 6): the real binary is killed with SIGKILL while clients
//! refresh tokens and get app tokens, then started again on the same data dir. Every refresh
//! token and SSO session whose issuing answer (HTTP 200) was received before the kill still works,
//! the signing keys and the CA are unchanged, and SQLite's integrity check passes.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::token_helpers::bff_refresh_form;

async fn refresh(http: &reqwest::Client, base: &str, rt: &str) -> (u16, Value) {
    let res = http
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&bff_refresh_form(rt))
        .send()
        .await;
    match res {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

async fn kids(http: &reqwest::Client, base: &str) -> Vec<String> {
    let jwks: Value = get_json(http, &format!("{base}/{TENANT}/discovery/v2.0/keys")).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_under_load_everything_confirmed_before_the_kill_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_process(dir.path());
    let base = server.base.clone();
    let http = reqwest::Client::new();

    // Sessions and refresh tokens, each confirmed by its 200.
    let confirmed_tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut confirmed_sessions = Vec::new();
    for _ in 0..10 {
        let signed: Value = http
            .post(format!("{base}/_mock/signin"))
            .json(
                &json!({"user": ALICE, "client_id": BFF, "redirect_uri": BFF_REDIRECT,
                          "scope": "openid offline_access"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let res = http
            .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", BFF),
                ("client_secret", BFF_SECRET),
                ("code", signed["code"].as_str().unwrap()),
                ("redirect_uri", BFF_REDIRECT),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        confirmed_tokens
            .lock()
            .unwrap()
            .push(body["refresh_token"].as_str().unwrap().to_string());
        confirmed_sessions.push(signed["session_id"].as_str().unwrap().to_string());
    }
    let kids_before = kids(&http, &base).await;
    let ca_before = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();

    // Load: refresh chains and app tokens, until the process dies under them.
    let mut load = Vec::new();
    for worker in 0..6 {
        let (http, base, confirmed) = (http.clone(), base.clone(), confirmed_tokens.clone());
        load.push(tokio::spawn(async move {
            let mut rt = confirmed.lock().unwrap()[worker % 10].clone();
            loop {
                let (status, body) = refresh(&http, &base, &rt).await;
                if status != 200 {
                    return;
                }
                rt = body["refresh_token"].as_str().unwrap().to_string();
                confirmed.lock().unwrap().push(rt.clone());
                let _ = http
                    .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", DAEMON),
                        ("client_secret", DAEMON_SECRET),
                        (
                            "scope",
                            "api://22223333-cccc-4444-dddd-5555eeee6666/.default",
                        ),
                    ])
                    .send()
                    .await;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    drop(server); // SIGKILL
    for l in load {
        l.await.unwrap();
    }
    let confirmed = confirmed_tokens.lock().unwrap().clone();
    assert!(confirmed.len() > 20, "the load ran: {}", confirmed.len());

    // Restarted on the same data dir.
    let server = start_process(dir.path());
    let base = server.base.clone();
    assert_eq!(kids(&http, &base).await, kids_before);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        ca_before
    );
    for rt in &confirmed {
        let (status, body) = refresh(&http, &base, rt).await;
        assert_eq!(status, 200, "{body}");
    }
    let sessions: Value = get_json(&http, &format!("{base}/_mock/sessions")).await;
    for sid in &confirmed_sessions {
        assert!(sessions.to_string().contains(sid.as_str()), "session {sid}");
    }
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("entra-mock.sqlite").display()
    ))
    .await
    .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(check, "ok");
}
