//! Concurrency (issue 12 item 5): one refresh token used at once under the default policy (every
//! use answered, each with a token of its own), and interactive sign-ins of different users at
//! once, each getting its own identity and nothing of another's. One code redeemed at once is
//! `tokens_errors::sixteen_concurrent_redemptions_of_one_code_give_exactly_one_success`; the
//! `detect` policy's concurrent reuse is in `tokens_refresh`. One sign-in form posted many times
//! at once ends its flow once.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::signin_helpers::{code_of, code_request, password_page, sign_in};
use crate::token_helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_the_default_policy_concurrent_refreshes_of_one_token_each_get_their_own() {
    let app = TestApp::spawn().await;
    let rt = bff_refresh_token(&app).await;
    let form = bff_refresh_form(rt.as_str());
    let answers = concurrently(&app, 8, &form).await;
    assert!(
        answers.iter().all(|a| a.status == 200),
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    let new: HashSet<&str> = answers.iter().map(|a| a.str("refresh_token")).collect();
    assert_eq!(new.len(), 8, "each answer has a refresh token of its own");
    assert!(!new.contains(rt.as_str()));
    for token in new {
        let a = app.refresh_bff(token, None).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interactive_sign_ins_of_different_users_at_once_mix_nothing() {
    let app = TestApp::spawn().await;
    let mut users = vec![(ALICE.to_string(), ALICE_OID.to_string())];
    for i in 0..5 {
        let upn = format!("user{i}@contoso.onmicrosoft.com");
        let oid = format!("c0c0c0c0-0000-4000-8000-00000000000{i}");
        let (status, body) = app
            .mock(
                Method::POST,
                "users",
                Some(
                    json!({"id": oid, "userPrincipalName": upn, "displayName": format!("User {i}"),
                            "password": PASSWORD, "mfa": "none"}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        users.push((upn, oid));
    }
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = users
        .clone()
        .into_iter()
        .map(|(upn, _)| {
            let app = app.clone();
            tokio::spawn(async move {
                let client = app.client();
                let res = sign_in(
                    &app,
                    &client,
                    &code_request(BFF, BFF_REDIRECT),
                    &upn,
                    PASSWORD,
                )
                .await;
                let code = code_of(&res);
                let a = app
                    .token(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", BFF),
                        ("client_secret", BFF_SECRET),
                        ("code", &code),
                        ("redirect_uri", BFF_REDIRECT),
                        ("code_verifier", crate::signin_helpers::VERIFIER),
                    ])
                    .await;
                assert_eq!(a.status, 200, "{}", a.body);
                let (_, id) = jwt_parts(a.str("id_token"));
                let (_, access) = jwt_parts(a.str("access_token"));
                (upn, id, access)
            })
        })
        .collect();
    for (task, (upn, oid)) in tasks.into_iter().zip(users) {
        let (signed_in, id, access) = task.await.unwrap();
        assert_eq!(signed_in, upn);
        assert_eq!(id["preferred_username"], upn.as_str());
        assert_eq!(id["oid"], oid.as_str());
        assert_eq!(access["oid"], oid.as_str());
    }
}

/// The password form of one flow posted eight times at once, with one worker and with the
/// writer's thread: exactly one post signs in (one session, one code), the others are told
/// the flow is over (AADSTS50089) and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sign_in_form_posted_at_once_ends_its_flow_once() {
    for workers in [1, 2] {
        let app = TestApp::spawn_with_workers(workers).await;
        let client = app.client();
        let html = password_page(&app, &client, ALICE).await;
        let posts: Vec<_> = (0..8)
            .map(|_| {
                let (client, base, html) = (client.clone(), app.https.clone(), html.clone());
                tokio::spawn(async move {
                    crate::signin_helpers::submit(&client, &base, &html, &[("passwd", PASSWORD)])
                        .await
                })
            })
            .collect();
        let mut codes = Vec::new();
        let mut refused = 0;
        for post in posts {
            let res = post.await.unwrap();
            if res.status() == 302 {
                codes.push(code_of(&res));
            } else {
                assert_eq!(res.status(), 400, "{workers} workers");
                let body = res.text().await.unwrap();
                assert!(body.contains("AADSTS50089"), "{workers} workers: {body}");
                refused += 1;
            }
        }
        assert_eq!((codes.len(), refused), (1, 7), "{workers} workers");
        let count = |sql: &'static str| {
            let pool = app.state.store.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM sso_sessions").await, 1);
        assert_eq!(count("SELECT COUNT(*) FROM auth_codes").await, 1);
        let a = app
            .redeem_bff_pkce(&codes[0], crate::signin_helpers::VERIFIER)
            .await;
        assert_eq!(a.status, 200, "{workers} workers: {}", a.body);
    }
}
/// The end of a sign-in whose transaction is refused (here by a trigger that fails every new
/// session) writes nothing and leaves its flow open: the same page posted again, once the store
/// takes writes, signs in, once.
#[tokio::test]
async fn a_sign_in_whose_transaction_failed_can_post_its_page_again() {
    for workers in [1, 2] {
        let app = TestApp::spawn_with_workers(workers).await;
        let client = app.client();
        let pool = &app.state.store.pool;
        let html = password_page(&app, &client, ALICE).await;
        sqlx::query(
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON sso_sessions \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(pool)
        .await
        .unwrap();
        let post =
            || crate::signin_helpers::submit(&client, &app.https, &html, &[("passwd", PASSWORD)]);
        let refused = post().await;
        assert_ne!(refused.status(), 302, "{workers} workers");
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(pool)
                .await
                .unwrap()
        };
        assert_eq!(count("SELECT COUNT(*) FROM sso_sessions").await, 0);
        assert_eq!(count("SELECT COUNT(*) FROM auth_codes").await, 0);
        sqlx::query("DROP TRIGGER refuse_sessions")
            .execute(pool)
            .await
            .unwrap();
        let code = code_of(&post().await);
        let again = post().await;
        assert_eq!(again.status(), 400, "{workers} workers");
        assert!(again.text().await.unwrap().contains("AADSTS50089"));
        assert_eq!(count("SELECT COUNT(*) FROM sso_sessions").await, 1);
        let a = app
            .redeem_bff_pkce(&code, crate::signin_helpers::VERIFIER)
            .await;
        assert_eq!(a.status, 200, "{workers} workers: {}", a.body);
    }
}
