//! The BFF's session store (step 10 of the seed flow): its own SQLite file through sqlx, apart
//! from the identity provider's. Tokens stay here, server-side; the browser holds only an opaque
//! session id. Single-use rows (login states) are taken with `DELETE ... RETURNING`; a refresh
//! replaces the tokens with a compare-and-swap on the old refresh token, so two concurrent
//! refreshes cannot both store their rotation.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::secret::Secret;

/// How long a login may take between the redirect to Entra and the callback (like a code).
pub const LOGIN_STATE_SECS: i64 = 600;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS login_states (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    sid TEXT,
    oid TEXT NOT NULL,
    name TEXT NOT NULL,
    username TEXT NOT NULL,
    login_hint TEXT,
    amr TEXT NOT NULL,
    id_token TEXT NOT NULL,
    id_token_exp INTEGER NOT NULL,
    access_token TEXT NOT NULL,
    access_expires_at INTEGER NOT NULL,
    refresh_token TEXT,
    created_at INTEGER NOT NULL,
    refreshed_at INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (sid);
";

/// What the callback needs to finish a login it started.
#[derive(Debug, Clone)]
pub struct LoginState {
    pub state: String,
    pub nonce: String,
    pub verifier: Secret,
    /// A local path (checked by the caller) to go back to.
    pub return_to: String,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Secret,
    pub sid: Option<String>,
    pub oid: String,
    pub name: String,
    pub username: String,
    pub login_hint: Option<String>,
    pub amr: Vec<String>,
    pub id_token: Secret,
    pub id_token_exp: i64,
    pub access_token: Secret,
    pub access_expires_at: i64,
    pub refresh_token: Option<Secret>,
    pub created_at: i64,
    pub refreshed_at: Option<i64>,
}

/// New tokens from a refresh.
#[derive(Debug)]
pub struct Rotation {
    pub access_token: Secret,
    pub access_expires_at: i64,
    /// Entra rotates refresh tokens; a response without one keeps the old.
    pub refresh_token: Option<Secret>,
    pub id_token: Option<(Secret, i64)>,
}

#[derive(Clone, Debug)]
pub struct BffStore {
    pool: SqlitePool,
}

impl BffStore {
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the BFF store {}", path.display()))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(BffStore { pool })
    }

    pub async fn put_login_state(&self, s: &LoginState, now: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM login_states WHERE created_at < ?")
            .bind(now - LOGIN_STATE_SECS)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO login_states (state, nonce, verifier, return_to, created_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&s.state)
        .bind(&s.nonce)
        .bind(s.verifier.expose())
        .bind(&s.return_to)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a login state once, if it has not expired.
    pub async fn take_login_state(
        &self,
        state: &str,
        now: i64,
    ) -> sqlx::Result<Option<LoginState>> {
        let row = sqlx::query(
            "DELETE FROM login_states WHERE state = ? AND created_at >= ?
             RETURNING state, nonce, verifier, return_to",
        )
        .bind(state)
        .bind(now - LOGIN_STATE_SECS)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LoginState {
                state: r.try_get("state")?,
                nonce: r.try_get("nonce")?,
                verifier: Secret::new(r.try_get::<String, _>("verifier")?),
                return_to: r.try_get("return_to")?,
            })
        })
        .transpose()
    }

    pub async fn insert_session(&self, s: &Session) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, sid, oid, name, username, login_hint, amr, id_token,
                 id_token_exp, access_token, access_expires_at, refresh_token, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.expose())
        .bind(&s.sid)
        .bind(&s.oid)
        .bind(&s.name)
        .bind(&s.username)
        .bind(&s.login_hint)
        .bind(serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into()))
        .bind(s.id_token.expose())
        .bind(s.id_token_exp)
        .bind(s.access_token.expose())
        .bind(s.access_expires_at)
        .bind(s.refresh_token.as_ref().map(Secret::expose))
        .bind(s.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> sqlx::Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_of(&r)).transpose()
    }

    /// Stores a refresh's tokens if the session still holds `old_refresh` (one writer wins);
    /// whether it did.
    pub async fn rotate(
        &self,
        id: &str,
        old_refresh: &str,
        new: &Rotation,
        now: i64,
    ) -> sqlx::Result<bool> {
        let (id_token, id_exp) = match &new.id_token {
            Some((t, exp)) => (Some(t.expose()), Some(*exp)),
            None => (None, None),
        };
        let done = sqlx::query(
            "UPDATE sessions SET access_token = ?, access_expires_at = ?,
                 refresh_token = COALESCE(?, refresh_token),
                 id_token = COALESCE(?, id_token), id_token_exp = COALESCE(?, id_token_exp),
                 refreshed_at = ?
             WHERE id = ? AND refresh_token = ?",
        )
        .bind(new.access_token.expose())
        .bind(new.access_expires_at)
        .bind(new.refresh_token.as_ref().map(Secret::expose))
        .bind(id_token)
        .bind(id_exp)
        .bind(now)
        .bind(id)
        .bind(old_refresh)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a session; the session it was, if any.
    pub async fn delete_session(&self, id: &str) -> sqlx::Result<Option<Session>> {
        let row = sqlx::query("DELETE FROM sessions WHERE id = ? RETURNING *")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_of(&r)).transpose()
    }

    /// Ends every session of an Entra session `sid` (front-channel logout); how many.
    pub async fn delete_by_sid(&self, sid: &str) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE sid = ?")
            .bind(sid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many sessions there are (for the home page and tests).
    pub async fn count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&self.pool)
            .await
    }

    /// Makes a session's access token look expired, as time would (tests of steps 17-19).
    pub async fn expire_access_token(&self, id: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE sessions SET access_expires_at = 0 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn session_of(r: &sqlx::sqlite::SqliteRow) -> sqlx::Result<Session> {
    Ok(Session {
        id: Secret::new(r.try_get::<String, _>("id")?),
        sid: r.try_get("sid")?,
        oid: r.try_get("oid")?,
        name: r.try_get("name")?,
        username: r.try_get("username")?,
        login_hint: r.try_get("login_hint")?,
        amr: serde_json::from_str(&r.try_get::<String, _>("amr")?).unwrap_or_default(),
        id_token: Secret::new(r.try_get::<String, _>("id_token")?),
        id_token_exp: r.try_get("id_token_exp")?,
        access_token: Secret::new(r.try_get::<String, _>("access_token")?),
        access_expires_at: r.try_get("access_expires_at")?,
        refresh_token: r
            .try_get::<Option<String>, _>("refresh_token")?
            .map(Secret::new),
        created_at: r.try_get("created_at")?,
        refreshed_at: r.try_get("refreshed_at")?,
    })
}
