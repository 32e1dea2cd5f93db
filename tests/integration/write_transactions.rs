//! The store's write transactions (`store::Tx`): statements queued until one needs an answer or
//! the commit, all or nothing, and a transaction dropped half way never leaks into the next.

use crate::helpers::*;
use crate::token_helpers::password_session;

/// Queues a session row of alice in `tx`.
async fn queue_session(tx: &mut entra_mock::store::Tx, app: &TestApp, id: &str) {
    let s = password_session(id, ALICE_OID, app.state.clock.unix());
    tx.insert_session(&s, &format!("cookie-{id}"))
        .await
        .unwrap();
}

async fn session_ids(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM sso_sessions ORDER BY id")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn queued_statements_are_written_together_at_commit_and_not_before() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "s-1").await;
    tx.add_session_app("s-1", BFF).await.unwrap();
    // Queued, not sent: another connection sees nothing yet.
    assert!(session_ids(&app).await.is_empty());
    tx.commit().await.unwrap();
    assert_eq!(session_ids(&app).await, ["s-1"]);
    assert_eq!(store.session_apps("s-1").await.unwrap(), [BFF]);
}

#[tokio::test]
async fn a_failing_statement_in_a_batch_writes_nothing_of_it_and_the_writer_goes_on() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "s-1").await;
    // The same id again: the primary key refuses the second row, at the commit.
    queue_session(&mut tx, &app, "s-1").await;
    assert!(tx.commit().await.is_err());
    assert!(session_ids(&app).await.is_empty());
    // The writer is out of that transaction: the next one commits on its own.
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "s-2").await;
    tx.commit().await.unwrap();
    assert_eq!(session_ids(&app).await, ["s-2"]);
}

#[tokio::test]
async fn a_transaction_dropped_after_it_began_is_rolled_back_before_the_writers_next_use() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "dropped").await;
    // A statement that needs its answer sends the queue (and BEGIN) now.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_sessions")
        .fetch_one(tx.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(n, 1, "the transaction sees its own queued write");
    drop(tx);
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "kept").await;
    tx.commit().await.unwrap();
    assert_eq!(session_ids(&app).await, ["kept"]);
    // Another connection can write too: no transaction was left open on the writer.
    sqlx::query("UPDATE sso_sessions SET persistent = 1")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_transaction_dropped_before_sending_anything_writes_nothing() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "never").await;
    drop(tx);
    store.write().await.unwrap().commit().await.unwrap();
    assert!(session_ids(&app).await.is_empty());
}

/// With one worker the hot single-statement writes run on the request's task (no writer
/// thread); with more they go to the writer's thread. Both give the same answers: a sign-in's
/// flow and code, a rotation, one winner among concurrent redemptions of a code, a replay.
#[tokio::test]
async fn the_hot_writes_answer_alike_with_one_worker_and_with_the_writer_thread() {
    let verifier = crate::signin_helpers::VERIFIER;
    for workers in [1, 2] {
        let app = TestApp::spawn_with_workers(workers).await;

        let first = crate::signin_helpers::sign_in_alice(&app, &app.client()).await;
        let a = app.redeem_bff_pkce(&first, verifier).await;
        assert_eq!(a.status, 200, "{workers} workers: {}", a.body);
        let rt1 = a.str("refresh_token").to_string();
        let r = app.refresh_bff(&rt1, None).await;
        assert_eq!(r.status, 200, "{workers} workers: {}", r.body);
        assert_ne!(r.str("refresh_token"), rt1);
        let rotated: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM refresh_tokens WHERE rotated_from IS NOT NULL",
        )
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
        assert_eq!(rotated, 1, "{workers} workers");

        let code = crate::signin_helpers::sign_in_alice(&app, &app.client()).await;
        let form = crate::token_helpers::bff_code_form(&code, Some(verifier));
        let answers = crate::token_helpers::concurrently(&app, 8, &form).await;
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{workers} workers: {statuses:?}"
        );

        app.redeem_bff_pkce(&first, verifier)
            .await
            .assert_error(400, "invalid_grant", 54005);
    }
}

/// A transaction from `Store::write_later` takes the writer only at its commit and goes whole:
/// a statement in it that fails refuses all of it.
#[tokio::test]
async fn a_transaction_sent_at_commit_goes_whole_or_not_at_all_with_one_worker_and_with_the_writer_thread(
) {
    for workers in [1, 2] {
        let app = TestApp::spawn_with_workers(workers).await;
        let store = &app.state.store;
        let now = app.state.clock.unix();

        // The guarded statement changed one row: everything commits together, at the commit.
        let mut tx = store.write_later();
        queue_session(&mut tx, &app, "s-1").await;
        tx.add_session_app("s-1", BFF).await.unwrap();
        // The writer is free meanwhile: another transaction commits first.
        let mut other = store.write().await.unwrap();
        queue_session(&mut other, &app, "s-0").await;
        other.commit().await.unwrap();
        assert_eq!(session_ids(&app).await, ["s-0"], "{workers} workers");
        tx.commit().await.unwrap();
        assert_eq!(session_ids(&app).await, ["s-0", "s-1"], "{workers} workers");
        assert_eq!(store.session_apps("s-1").await.unwrap(), [BFF]);

        // A statement fails (a session id stored already): nothing of the transaction is
        // written, neither what came before it nor after.
        let mut tx = store.write_later();
        queue_session(&mut tx, &app, "s-2").await;
        tx.end_session("s-0", now).await.unwrap();
        queue_session(&mut tx, &app, "s-1").await;
        tx.add_session_app("s-1", "another-client").await.unwrap();
        let e = tx.commit().await.unwrap_err();
        assert!(
            e.as_database_error()
                .is_some_and(|d| d.message().contains("UNIQUE")),
            "{workers} workers: {e}"
        );
        assert!(
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT ended_at FROM sso_sessions WHERE id = 's-0'"
            )
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .is_none(),
            "{workers} workers"
        );
        assert_eq!(session_ids(&app).await, ["s-0", "s-1"], "{workers} workers");
        assert_eq!(store.session_apps("s-1").await.unwrap(), [BFF]);

        // The writer goes on, with no transaction left open: both kinds commit.
        let mut tx = store.write_later();
        queue_session(&mut tx, &app, "s-3").await;
        tx.commit().await.unwrap();
        sqlx::query("UPDATE sso_sessions SET persistent = 1")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            session_ids(&app).await,
            ["s-0", "s-1", "s-3"],
            "{workers} workers"
        );
    }
}

/// With one worker a transaction sent whole at its commit runs on the request's task: dropped
/// after it was sent (the request went), it leaves no transaction open on the writer.
#[tokio::test]
async fn a_whole_transaction_dropped_while_it_runs_leaves_the_writer_usable() {
    let app = TestApp::spawn_with_workers(1).await;
    let store = &app.state.store;
    for i in 0..5 {
        let mut tx = store.write_later();
        queue_session(&mut tx, &app, &format!("dropped-{i}")).await;
        tx.add_session_app(&format!("dropped-{i}"), BFF)
            .await
            .unwrap();
        // Another connection holds SQLite's write lock, so the batch cannot end at once: it is
        // sent at its first poll, then dropped while SQLite's thread waits to begin it.
        let mut blocker = store.pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *blocker)
            .await
            .unwrap();
        tokio::select! {
            biased;
            r = tx.commit() => panic!("the batch answered at its first poll: {r:?}"),
            () = std::future::ready(()) => {}
        }
        sqlx::query("COMMIT").execute(&mut *blocker).await.unwrap();
        drop(blocker);
        // The writer goes on: the next transaction commits, and the lock is free for others.
        let mut tx = store.write_later();
        queue_session(&mut tx, &app, &format!("kept-{i}")).await;
        tx.commit().await.unwrap();
        sqlx::query("UPDATE sso_sessions SET persistent = 1")
            .execute(&store.pool)
            .await
            .unwrap();
    }
    let ids = session_ids(&app).await;
    let kept: Vec<_> = ids.iter().filter(|id| id.starts_with("kept-")).collect();
    assert_eq!(kept, ["kept-0", "kept-1", "kept-2", "kept-3", "kept-4"]);
}

/// The writer never checkpoints (a checkpoint's `fsync` would hold every write back): the store's
/// checkpoint thread does, and under writes that never pause the WAL still stays bounded, with
/// one worker (writes on the request's task) and with two (on the writer's thread).
#[tokio::test]
async fn checkpoints_run_off_the_writer_and_the_wal_stays_bounded_under_writes_that_never_pause() {
    use entra_mock::store::checkpoint::RESTART_FRAMES;
    const TASKS: usize = 8;
    const WRITES: usize = 1_250;
    for workers in [1, 2] {
        let app = TestApp::spawn_with_workers(workers).await;
        let store = &app.state.store;
        let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *store.writer.lock().await)
            .await
            .unwrap();
        assert_eq!(auto, 0, "the writer's own automatic checkpoint is off");
        let wal = app.data_dir.join("entra-mock.sqlite-wal");
        let writers = (0..TASKS).map(|t| {
            let store = store.clone();
            let wal = wal.clone();
            tokio::spawn(async move {
                let mut largest = 0;
                for i in 0..WRITES {
                    let insert = "INSERT INTO used_assertions (jti, expires_at) VALUES (?1, ?2)";
                    store
                        .writer
                        .execute(
                            sqlx::query(insert)
                                .bind(format!("jti-{t}-{i}"))
                                .bind(4_000_000_000_i64),
                        )
                        .await
                        .unwrap();
                    largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                }
                largest
            })
        });
        let mut largest = 0;
        for w in writers.collect::<Vec<_>>() {
            largest = largest.max(w.await.unwrap());
        }
        // Each insert writes two pages (the table and its key): 20,000 frames, 82 MB of WAL,
        // were nothing copied back and the WAL never reset.
        let frame = 4096 + 24;
        assert!(
            largest <= 2 * RESTART_FRAMES as u64 * frame,
            "{workers} worker(s): the WAL reached {largest} bytes"
        );
        let rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM used_assertions WHERE jti LIKE 'jti-%'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(rows, (TASKS * WRITES) as i64);
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
}

/// With one worker a read goes to the writer's connection (whose page cache no other
/// connection's write empties) and waits for the write before it; with more, to a reader. A
/// read asked for by the task that holds the writer, inside its transaction, goes to a reader
/// rather than wait for itself, and sees what is committed; another task's read waits for the
/// commit and sees the row.
#[tokio::test]
async fn with_one_worker_reads_go_to_the_writer_and_a_read_inside_a_transaction_never_waits_for_itself(
) {
    use entra_mock::store::Reader;
    let two = TestApp::spawn_with_workers(2).await;
    let r = two.state.store.read().await.unwrap();
    assert!(matches!(r, Reader::Pool(_)), "two workers read on a reader");
    drop(r);

    let app = TestApp::spawn_with_workers(1).await;
    let store = app.state.store.clone();
    let r = store.read().await.unwrap();
    assert!(
        matches!(r, Reader::Writer(_)),
        "one worker reads on the writer"
    );
    drop(r);

    let mut tx = store.write().await.unwrap();
    queue_session(&mut tx, &app, "s-inside").await;
    // Sends the queued insert: the transaction is open on the writer, the row not committed.
    sqlx::query("SELECT 1")
        .execute(tx.conn().await.unwrap())
        .await
        .unwrap();
    // A wait for itself would never end; 30 s only bounds a deadlock, it times nothing.
    let inside = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        store.active_session("s-inside", app.state.clock.unix()),
    )
    .await
    .expect("a read inside the transaction that holds the writer does not wait for it")
    .unwrap();
    assert!(
        inside.is_none(),
        "a read inside sees only what is committed"
    );
    let r = store.read().await.unwrap();
    assert!(
        matches!(r, Reader::Pool(_)),
        "inside a transaction: a reader"
    );
    drop(r);

    let other = {
        let (store, now) = (store.clone(), app.state.clock.unix());
        tokio::spawn(async move { store.active_session("s-inside", now).await })
    };
    tokio::task::yield_now().await;
    tx.commit().await.unwrap();
    let seen = other.await.unwrap().unwrap();
    assert_eq!(
        seen.map(|s| s.id).as_deref(),
        Some("s-inside"),
        "another task's read waited for the commit"
    );
}
