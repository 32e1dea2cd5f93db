//! Growth bounds (issue 12, limits and growth). Expired rows are deleted by a background task
//! ([`Store::purge`], started by `startup`), never on a request's path, and what one user, or a
//! client that never signs in, can leave behind is capped, the oldest going first.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::Sqlite;

use super::Store;

/// How long refresh tokens live (the protocol's rule, `oauth::lifetimes`, handed in).
#[derive(Debug, Clone, Copy)]
pub struct RefreshLifetimes {
    /// A SPA chain's fixed lifetime from its first token.
    pub spa_secs: i64,
    /// Other tokens' lifetime without use.
    pub inactivity_secs: i64,
}

/// Device codes waiting, everyone's together (each is a device waiting for its user). Sign-in
/// flows are not stored (their pages carry them); the ended ones a server remembers have a cap
/// of their own (`flows::MAX_ENDED_FLOWS`).
pub const MAX_DEVICE_CODES: i64 = 5_000;
/// SSO sessions kept per user.
pub const MAX_SESSIONS_PER_USER: i64 = 100;
/// Refresh tokens (rotated ones included) kept per user.
pub const MAX_REFRESH_TOKENS_PER_USER: i64 = 1_000;
/// Device code flows started since the last purge that wake the purge before its interval.
pub const PURGE_AFTER_FLOWS: usize = 1_000;
/// Expired codes, ended sessions and dead refresh tokens are kept this long after they stopped
/// working, so that a late replay still gets the precise error (expired, redeemed, revoked).
const KEEP_AFTER_EXPIRY_SECS: i64 = 3_600;

/// Rows one statement of the purge deletes at most (the caps' too: a load test refreshing one
/// user's tokens 1,000 times a second leaves 30,000 over the cap every 30 s). A statement holds
/// the writer, and the requests waiting for it get it between two batches. Measured with
/// Python's `sqlite3` on a copy of the store, 200,000 refresh tokens of which half expire
/// together: one statement held the writer 0.9 s; batches of 250 about 3 ms each (at most 20
/// ms), about twice the work in all, since each commits.
pub const PURGE_BATCH: i64 = 250;

// Each deletion is bounded to a batch by its rowid's subquery (`DELETE ... LIMIT` is not in
// every SQLite build): its last parameter is the batch's size.
const EXPIRED_DEVICE_CODES: &str = "DELETE FROM device_codes WHERE rowid IN
     (SELECT rowid FROM device_codes WHERE expires_at <= ?1 LIMIT ?2)";
const EXPIRED_ASSERTIONS: &str = "DELETE FROM used_assertions WHERE rowid IN
     (SELECT rowid FROM used_assertions WHERE expires_at <= ?1 LIMIT ?2)";
const EXPIRED_CODES: &str = "DELETE FROM auth_codes WHERE rowid IN
     (SELECT rowid FROM auth_codes WHERE expires_at <= ?1 LIMIT ?2)";
const ENDED_SESSIONS: &str = "DELETE FROM sso_sessions WHERE rowid IN
     (SELECT rowid FROM sso_sessions WHERE ended_at IS NOT NULL AND ended_at <= ?1 LIMIT ?2)";
/// A SPA chain past its lifetime, a token unused past the inactivity lifetime, a revoked one.
const DEAD_REFRESH_TOKENS: &str = "DELETE FROM refresh_tokens WHERE rowid IN
     (SELECT rowid FROM refresh_tokens
      WHERE (spa = 1 AND family_created_at <= ?1)
         OR created_at <= ?2
         OR (revoked_at IS NOT NULL AND revoked_at <= ?3)
      LIMIT ?4)";

/// The purge's deletions of what expired, which find their rows by index (migrations 0015 and
/// 0026), never by reading the whole table: they run on the writer, and a scan would hold it
/// for as long as the table is large (about 30 ms at 200,000 refresh tokens before 0026).
/// A code's family link goes with the last of its code and its family's tokens, by triggers
/// that find it by index too (migration 0027; the purge's anti-join read them all).
/// Not listed: the cap on device codes (it sorts them all, at most [`MAX_DEVICE_CODES`] and
/// what came since the last purge).
pub const BY_INDEX: [&str; 5] = [
    EXPIRED_DEVICE_CODES,
    EXPIRED_ASSERTIONS,
    EXPIRED_CODES,
    ENDED_SESSIONS,
    DEAD_REFRESH_TOKENS,
];

/// Rows removed by one purge.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub device_codes: u64,
    pub codes: u64,
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub assertions: u64,
}

/// Counts device code flows started since the last purge and wakes the purge task.
#[derive(Debug, Default)]
pub struct PurgeSignal {
    flows: AtomicUsize,
    wake: tokio::sync::Notify,
}

impl PurgeSignal {
    pub fn flow_started(&self) {
        if self.flows.fetch_add(1, Ordering::Relaxed) + 1 >= PURGE_AFTER_FLOWS {
            self.wake.notify_one();
        }
    }

    /// Waits until enough flows were started, or `timeout` passed.
    pub async fn wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
        self.flows.store(0, Ordering::Relaxed);
    }
}

impl Store {
    /// Deletes what expired before `now` (plus [`KEEP_AFTER_EXPIRY_SECS`]) and applies the caps.
    pub async fn purge(&self, now: i64, refresh: RefreshLifetimes) -> sqlx::Result<Purged> {
        let old = now - KEEP_AFTER_EXPIRY_SECS;
        let mut purged = Purged::default();
        purged.device_codes += self
            .delete_in_batches(EXPIRED_DEVICE_CODES, |q| q.bind(old))
            .await?;
        purged.device_codes += self
            .delete_in_batches(
                "DELETE FROM device_codes WHERE device_sha256 IN
                   (SELECT device_sha256 FROM device_codes
                    ORDER BY created_at DESC LIMIT ?2 OFFSET ?1)",
                |q| q.bind(MAX_DEVICE_CODES),
            )
            .await?;
        purged.assertions += self
            .delete_in_batches(EXPIRED_ASSERTIONS, |q| q.bind(now))
            .await?;
        purged.codes += self
            .delete_in_batches(EXPIRED_CODES, |q| q.bind(old))
            .await?;
        purged.sessions += self
            .delete_in_batches(ENDED_SESSIONS, |q| q.bind(old))
            .await?;
        purged.refresh_tokens += self
            .delete_in_batches(DEAD_REFRESH_TOKENS, |q| {
                q.bind(old - refresh.spa_secs)
                    .bind(old - refresh.inactivity_secs)
                    .bind(old)
            })
            .await?;
        purged.sessions += self
            .cap_per_user("sso_sessions", "id", MAX_SESSIONS_PER_USER)
            .await?;
        purged.refresh_tokens += self
            .cap_per_user(
                "refresh_tokens",
                "token_sha256",
                MAX_REFRESH_TOKENS_PER_USER,
            )
            .await?;
        Ok(purged)
    }

    /// Runs `sql` with what `bind` binds and then [`PURGE_BATCH`] until it deletes less than a
    /// batch, letting go of the writer between batches. Returns the rows deleted.
    async fn delete_in_batches<'q>(
        &self,
        sql: &'q str,
        bind: impl Fn(Query<'q, Sqlite, SqliteArguments<'q>>) -> Query<'q, Sqlite, SqliteArguments<'q>>,
    ) -> sqlx::Result<u64> {
        let mut deleted = 0;
        loop {
            let q = bind(sqlx::query(sql)).bind(PURGE_BATCH);
            let n = q
                .execute(&mut *self.writer.lock().await)
                .await?
                .rows_affected();
            deleted += n;
            if n < PURGE_BATCH as u64 {
                return Ok(deleted);
            }
            // Committed one by one, batches write the pages they share again each time (a
            // batch of 250 refresh tokens with random keys is about 400 pages): without a
            // checkpoint between them the WAL grew by 600 MiB for 100,000 tokens. The purge
            // waits for it, so the WAL holds one batch at a time however slow the disk is.
            self.writer.checkpoint_now().await;
        }
    }

    /// Keeps the newest `cap` rows of each user in `table`.
    async fn cap_per_user(&self, table: &str, key: &str, cap: i64) -> sqlx::Result<u64> {
        let over: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT user_oid FROM {table} GROUP BY user_oid HAVING COUNT(*) > ?"
        ))
        .bind(cap)
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut removed = 0;
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN
               (SELECT {key} FROM {table} WHERE user_oid = ?1
                ORDER BY created_at DESC LIMIT ?3 OFFSET ?2)"
        );
        for user in &over {
            removed += self
                .delete_in_batches(&sql, |q| q.bind(user.as_str()).bind(cap))
                .await?;
        }
        Ok(removed)
    }
}
