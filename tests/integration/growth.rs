//! Growth bounds (issue 12, limits and growth): an anonymous /authorize stores nothing (its page
//! carries the flow, bounded), the background purge deletes what expired and caps what one user
//! can leave behind.

use entra_mock::oauth::lifetimes::{REFRESH_INACTIVITY_SECS, SPA_REFRESH_LIFETIME_SECS};
use entra_mock::store::purge::{
    RefreshLifetimes, MAX_REFRESH_TOKENS_PER_USER, MAX_SESSIONS_PER_USER, PURGE_BATCH,
};

const LIFETIMES: RefreshLifetimes = RefreshLifetimes {
    spa_secs: SPA_REFRESH_LIFETIME_SECS,
    inactivity_secs: REFRESH_INACTIVITY_SECS,
};

use crate::helpers::*;
use crate::token_helpers::*;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
}

/// Rows in all tables.
async fn rows(app: &TestApp) -> i64 {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
    )
    .fetch_all(&app.state.store.pool)
    .await
    .unwrap();
    let mut total = 0;
    for t in tables {
        total += count(app, &format!("\"{t}\"")).await;
    }
    total
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn an_authorize_request_over_the_size_limit_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let before = rows(&app).await;
    let url = |state: &str| {
        format!(
            "{}/{TENANT}/oauth2/v2.0/authorize?client_id={BFF}&response_type=code&scope=openid\
             &redirect_uri={}&state={state}",
            app.http,
            urlencode(BFF_REDIRECT)
        )
    };
    let res = app
        .client()
        .get(url(&"s".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("AADSTS90015"), "{page}");
    assert!(!page.contains("name=\"ctx\""), "{page}");
    // Under the limit, the same request starts a flow, which its page carries.
    let res = app
        .client()
        .get(url(&"s".repeat(2_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("name=\"ctx\""));
    assert_eq!(rows(&app).await, before);
}

#[tokio::test]
async fn the_purge_deletes_expired_rows_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    let pool = &app.state.store.pool;
    let t = now();
    for (jti, expires) in [("a", t - 1), ("b", t + 60)] {
        sqlx::query("INSERT INTO used_assertions (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(expires)
            .execute(pool)
            .await
            .unwrap();
    }
    // Ended sessions go an hour after they ended; live ones stay.
    for (id, ended) in [
        ("ended-long-ago", Some(t - 7200)),
        ("ended-now", Some(t)),
        ("live", None),
    ] {
        insert_session(&app, id, ALICE_OID, t - 8000, ended).await;
    }
    // Refresh tokens: one inactive for 91 days, one of a SPA chain older than 25 hours, a live one.
    insert_refresh(
        &app,
        b"inactive",
        ALICE_OID,
        false,
        t - 91 * 86400,
        t - 91 * 86400,
    )
    .await;
    insert_refresh(
        &app,
        b"spa-old",
        ALICE_OID,
        true,
        t - 25 * 3600 - 3600,
        t - 3600,
    )
    .await;
    insert_refresh(&app, b"live", ALICE_OID, false, t - 3600, t - 60).await;

    let purged = app.state.store.purge(t, LIFETIMES).await.unwrap();
    assert_eq!(purged.assertions, 1);
    assert_eq!(purged.sessions, 1);
    assert_eq!(purged.refresh_tokens, 2);
    let sessions: Vec<String> = sqlx::query_scalar("SELECT id FROM sso_sessions ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(sessions, ["ended-now", "live"]);
    assert_eq!(count(&app, "refresh_tokens").await, 1);
    // A second purge finds nothing more.
    assert_eq!(
        app.state.store.purge(t, LIFETIMES).await.unwrap(),
        Default::default()
    );
}

#[tokio::test]
async fn sessions_and_refresh_tokens_are_capped_oldest_first() {
    let app = TestApp::spawn().await;
    let pool = &app.state.store.pool;
    let t = now();
    for i in 0..MAX_SESSIONS_PER_USER + 5 {
        insert_session(&app, &format!("s-{i:04}"), BOB_OID, t - 1000 + i, None).await;
    }
    insert_session(&app, "alice-1", ALICE_OID, t - 5000, None).await;
    for i in 0..MAX_REFRESH_TOKENS_PER_USER + 3 {
        let token = format!("rt-{i}");
        insert_refresh(
            &app,
            token.as_bytes(),
            BOB_OID,
            false,
            t - 5000,
            t - 5000 + i,
        )
        .await;
    }

    let purged = app.state.store.purge(t, LIFETIMES).await.unwrap();
    assert_eq!(purged.sessions, 5);
    assert_eq!(purged.refresh_tokens, 3);
    let oldest_session: Option<String> = sqlx::query_scalar(
        "SELECT id FROM sso_sessions WHERE user_oid = ? ORDER BY created_at LIMIT 1",
    )
    .bind(BOB_OID)
    .fetch_optional(pool)
    .await
    .unwrap();
    assert_eq!(oldest_session.as_deref(), Some("s-0005"));
    // Another user's session is not touched by bob's cap.
    assert!(app.session_active("alice-1").await);
    let bobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE user_oid = ?")
        .bind(BOB_OID)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(bobs, MAX_REFRESH_TOKENS_PER_USER);
}

#[tokio::test]
async fn an_anonymous_authorize_request_stores_nothing_and_its_page_carries_a_bounded_flow() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let before = rows(&app).await;
    // Requests near the parameter limit, with every parameter Entra knows.
    let state = "s".repeat(15_000);
    let mut largest = 0;
    for _ in 0..50 {
        let res = client
            .get(format!(
                "{}/{TENANT}/oauth2/v2.0/authorize?client_id={BFF}&response_type=code\
                 &scope=openid&redirect_uri={}&state={state}",
                app.http,
                urlencode(BFF_REDIRECT)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let ctx = crate::signin_helpers::attr_of(&page, "name=\"ctx\"", "value").unwrap();
        largest = largest.max(ctx.len());
    }
    assert_eq!(rows(&app).await, before);
    // Sealed and in base64, the flow is a third larger than its request's parameters.
    let bound = (entra_mock::oauth::authorize::MAX_PARAMS_BYTES + 4_096) * 4 / 3;
    assert!(
        (15_000..=bound).contains(&largest),
        "a flow of {largest} bytes"
    );
}

async fn insert_session(app: &TestApp, id: &str, user: &str, created: i64, ended: Option<i64>) {
    sqlx::query(
        "INSERT INTO sso_sessions (id, user_oid, amr_json, auth_time, persistent, created_at, ended_at)
         VALUES (?, ?, '[\"pwd\"]', ?, 0, ?, ?)",
    )
    .bind(id)
    .bind(user)
    .bind(created)
    .bind(created)
    .bind(ended)
    .execute(&app.state.store.pool)
    .await
    .unwrap();
}

async fn insert_refresh(
    app: &TestApp,
    token: &[u8],
    user: &str,
    spa: bool,
    family_created: i64,
    created: i64,
) {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_sha256, family_id, client_id, user_oid, scope,
            amr_json, auth_time, spa, family_created_at, created_at)
         VALUES (?, ?, ?, ?, 'openid', '[\"pwd\"]', ?, ?, ?, ?)",
    )
    .bind(token)
    .bind(String::from_utf8_lossy(token).into_owned())
    .bind(BFF)
    .bind(user)
    .bind(family_created)
    .bind(spa)
    .bind(family_created)
    .bind(created)
    .execute(&app.state.store.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_purge_finds_what_it_deletes_by_index_never_by_reading_a_whole_table() {
    let app = TestApp::spawn().await;
    for statement in entra_mock::store::purge::BY_INDEX {
        // Each step of SQLite's plan: "SEARCH t USING INDEX ..." reads only the rows it
        // deletes, "SCAN t" (with or without an index) reads them all.
        let plan = plan(&app, statement).await;
        assert!(
            plan.iter().any(|step| step.starts_with("SEARCH")),
            "{statement}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN")),
            "{statement} reads a whole table: {plan:?}"
        );
    }
}

/// The steps of SQLite's plan for `sql`, its parameters unbound.
async fn plan(app: &TestApp, sql: &str) -> Vec<String> {
    sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
        .collect()
}

/// `sql` with each `OLD.column` and `NEW.column` of a trigger made a parameter.
fn row_refs_as_parameters(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(at) = ["OLD.", "NEW."].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..at]);
        out.push('?');
        rest = rest[at + 4..].trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_trigger_finds_the_rows_it_reads_and_changes_by_index() {
    let app = TestApp::spawn().await;
    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&app.state.store.pool)
            .await
            .unwrap();
    // The triggers of migrations 0020 and 0027 at least.
    for name in [
        "refresh_tokens_redeem",
        "auth_codes_unlink",
        "refresh_tokens_unlink",
    ] {
        assert!(triggers.iter().any(|(n, _)| n == name), "{name}");
    }
    for (name, sql) in &triggers {
        let sql = row_refs_as_parameters(sql);
        let (head, body) = sql.split_once("BEGIN").unwrap();
        let body = body.trim_end().strip_suffix("END").unwrap();
        let mut statements: Vec<String> = body
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let Some((_, when)) = head.split_once("WHEN") {
            statements.push(format!("SELECT {when}"));
        }
        for statement in statements {
            let plan = plan(&app, &statement).await;
            assert!(
                !plan
                    .iter()
                    .any(|step| step.starts_with("SCAN") && step != "SCAN CONSTANT ROW"),
                "{name}: {statement} reads a whole table: {plan:?}"
            );
            if statement.starts_with("UPDATE") || statement.starts_with("DELETE") {
                assert!(
                    plan.iter().any(|step| step.starts_with("SEARCH")),
                    "{name}: {statement}: {plan:?}"
                );
            }
        }
    }
}

async fn links(app: &TestApp) -> i64 {
    count(app, "code_families").await
}

#[tokio::test]
async fn a_codes_family_link_goes_with_the_last_of_its_code_and_its_familys_tokens() {
    let app = TestApp::spawn().await;
    let t = now();
    let store = &app.state.store;

    // The code goes first (expired): the link stays while its family has a token, and goes
    // with the last one.
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    assert_eq!(app.redeem_bff(&code).await.status, 200);
    assert_eq!(links(&app).await, 1);
    let codes_gone = t + 2 * 3600;
    assert_eq!(store.purge(codes_gone, LIFETIMES).await.unwrap().codes, 1);
    assert_eq!(links(&app).await, 1);
    // Revoked, the family gets a mark of its own, also kept while it has a token.
    let family: String = sqlx::query_scalar("SELECT family_id FROM refresh_tokens")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(store.revoke_family(&family, t).await.unwrap(), 1);
    assert_eq!(links(&app).await, 2);
    let tokens_gone = t + REFRESH_INACTIVITY_SECS + 2 * 3600;
    let purged = store.purge(tokens_gone, LIFETIMES).await.unwrap();
    assert_eq!(purged.refresh_tokens, 1);
    assert_eq!(links(&app).await, 0);

    // The tokens go first: the link stays while the code is stored (a replay still revokes
    // what the family is given later), and goes with it.
    let (code, _) = issue_code(&app, &CodeSpec::bff()).await;
    assert_eq!(app.redeem_bff(&code).await.status, 200);
    sqlx::query("DELETE FROM refresh_tokens")
        .execute(&store.pool)
        .await
        .unwrap();
    assert_eq!(links(&app).await, 1);
    assert_eq!(store.purge(codes_gone, LIFETIMES).await.unwrap().codes, 1);
    assert_eq!(links(&app).await, 0);
}

#[tokio::test]
async fn the_purge_deletes_in_batches_until_nothing_expired_or_over_a_cap_is_left() {
    let app = TestApp::spawn().await;
    let t = now();
    // Two and a half batches of expired client assertions, and one that is still live.
    let expired = PURGE_BATCH * 5 / 2;
    let mut tx = app.state.store.pool.begin().await.unwrap();
    for i in 0..=expired {
        sqlx::query("INSERT INTO used_assertions (jti, expires_at) VALUES (?, ?)")
            .bind(format!("jti-{i}"))
            .bind(if i == expired { t + 60 } else { t - 1 })
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // And a user with two and a half batches of sessions over the cap.
    let over = PURGE_BATCH * 5 / 2;
    for i in 0..MAX_SESSIONS_PER_USER + over {
        insert_session(&app, &format!("s-{i:05}"), BOB_OID, t - 10_000 + i, None).await;
    }
    let purged = app.state.store.purge(t, LIFETIMES).await.unwrap();
    assert_eq!(purged.assertions, expired as u64);
    assert_eq!(count(&app, "used_assertions").await, 1);
    assert_eq!(purged.sessions, over as u64);
    let kept: Vec<String> = sqlx::query_scalar("SELECT id FROM sso_sessions ORDER BY id")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    let newest: Vec<String> = (over..MAX_SESSIONS_PER_USER + over)
        .map(|i| format!("s-{i:05}"))
        .collect();
    assert_eq!(kept, newest);
}

#[tokio::test]
async fn the_purges_batches_leave_the_wal_bounded() {
    use entra_mock::store::checkpoint::RESTART_FRAMES;
    const TOKENS: usize = 40_000;
    let app = TestApp::spawn().await;
    let t = now();
    // Expired refresh tokens with random keys and families, as real ones have: each batch of
    // the purge writes pages all over the indexes.
    let mut tx = app.state.store.pool.begin().await.unwrap();
    for _ in 0..TOKENS {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_sha256, family_id, client_id, user_oid, scope,
                amr_json, auth_time, family_created_at, created_at)
             VALUES (?1, ?2, ?3, ?4, 'openid', '[\"pwd\"]', ?5, ?5, ?5)",
        )
        .bind(uuid::Uuid::new_v4().as_bytes().repeat(2))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(BFF)
        .bind(ALICE_OID)
        .bind(t - REFRESH_INACTIVITY_SECS - 2 * 3600)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *app.state.store.writer.lock().await)
        .await
        .unwrap();
    let wal = app.data_dir.join("entra-mock.sqlite-wal");
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);

    let purged = app.state.store.purge(t, LIFETIMES).await.unwrap();
    assert_eq!(purged.refresh_tokens, TOKENS as u64);
    // The WAL file keeps the largest size it reached: 22 MB here. Without checkpoints between
    // the batches it grew by each batch's pages (about 1.5 MB) to 234 MB.
    let largest = std::fs::metadata(&wal).unwrap().len();
    let frame = 4096 + 24;
    assert!(
        largest <= 2 * RESTART_FRAMES as u64 * frame,
        "the WAL reached {largest} bytes"
    );
}
