//! Single-sign-on sessions at the identity provider, and the apps signed in through each (for
//! front-channel logout).

use super::{Store, Tx};
use crate::crypto::sha256;

/// The SSO session cookie, a browser-session cookie (Entra's own name). Its value is a random
/// secret stored as a digest, never the session id.
pub const SSO_COOKIE: &str = "ESTSAUTH";
/// The SSO cookie after "Stay signed in?" was answered yes: persistent (Entra's own name).
pub const SSO_PERSISTENT_COOKIE: &str = "ESTSAUTHPERSISTENT";

const SESSION_COLUMNS: &str =
    "s.id, s.user_oid, s.amr_json, s.auth_time, s.persistent, s.created_at, s.ended_at";
/// How long a session may go unused: "Non-persistent session tokens have a Max Inactive Time of
/// 24 hours whereas persistent session tokens have a Max Inactive Time of 90 days"
/// (<https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes>).
pub const SESSION_MAX_INACTIVE_SECS: i64 = 24 * 3600;
pub const PERSISTENT_SESSION_MAX_INACTIVE_SECS: i64 = 90 * 24 * 3600;

/// Ended sessions, sessions cut off by `revokeSignInSessions`, and sessions unused for longer than
/// their Max Inactive Time (at the `?` it ends with: bound after the query's others) are not active.
macro_rules! active {
    () => {
        format!(
            "s.ended_at IS NULL
    AND (u.sessions_revoked_at IS NULL OR s.created_at > u.sessions_revoked_at)
    AND COALESCE(s.last_used_at, s.created_at) > ?
        - CASE WHEN s.persistent THEN {PERSISTENT_SESSION_MAX_INACTIVE_SECS} ELSE {SESSION_MAX_INACTIVE_SECS} END"
        )
    };
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SsoSession {
    /// Also the `sid` claim and the `?sid=` of front-channel logout.
    pub id: String,
    pub user_oid: String,
    /// JSON array of authentication methods, e.g. `["pwd","otp","mfa"]`.
    pub amr_json: String,
    pub auth_time: i64,
    pub persistent: bool,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

impl Store {
    /// A session that is active at `now` (not ended, not cut off by `revokeSignInSessions`, used
    /// recently enough).
    pub async fn active_session(&self, id: &str, now: i64) -> sqlx::Result<Option<SsoSession>> {
        sqlx::query_as::<_, SsoSession>(sql_once!(
            "SELECT {SESSION_COLUMNS} FROM sso_sessions s JOIN users u ON u.oid = s.user_oid
             WHERE s.id = ? AND {}",
            active!()
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *self.read().await?)
        .await
    }

    /// The session active at `now` whose cookie secret this is.
    pub async fn session_by_cookie(
        &self,
        secret: &str,
        now: i64,
    ) -> sqlx::Result<Option<SsoSession>> {
        sqlx::query_as::<_, SsoSession>(sql_once!(
            "SELECT {SESSION_COLUMNS} FROM sso_sessions s JOIN users u ON u.oid = s.user_oid
             WHERE s.cookie_sha256 = ? AND {}",
            active!()
        ))
        .bind(sha256(secret.as_bytes()))
        .bind(now)
        .fetch_optional(&mut *self.read().await?)
        .await
    }

    pub async fn set_session_persistent(&self, id: &str, persistent: bool) -> sqlx::Result<()> {
        let q = sqlx::query("UPDATE sso_sessions SET persistent = ? WHERE id = ?")
            .bind(persistent)
            .bind(id.to_string());
        self.writer.execute(q).await?;
        Ok(())
    }

    /// Every session active at `now`, oldest first (the test-control API's listing).
    pub async fn active_sessions(&self, now: i64) -> sqlx::Result<Vec<SsoSession>> {
        sqlx::query_as::<_, SsoSession>(sql_once!(
            "SELECT {SESSION_COLUMNS} FROM sso_sessions s JOIN users u ON u.oid = s.user_oid
             WHERE {} ORDER BY s.created_at, s.rowid",
            active!()
        ))
        .bind(now)
        .fetch_all(&mut *self.read().await?)
        .await
    }

    pub async fn session_apps(&self, session_id: &str) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar("SELECT client_id FROM session_apps WHERE session_id = ? ORDER BY rowid")
            .bind(session_id)
            .fetch_all(&mut *self.read().await?)
            .await
    }

    /// Ends a session; returns whether it was active.
    pub async fn end_session(&self, id: &str, now: i64) -> sqlx::Result<bool> {
        let q =
            sqlx::query("UPDATE sso_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
                .bind(now)
                .bind(id.to_string());
        Ok(self.writer.execute(q).await?.rows_affected() > 0)
    }
}

impl Tx {
    /// Stores a session whose cookie carries `cookie_secret` (queued: [`Tx::defer`]).
    pub async fn insert_session(
        &mut self,
        s: &SsoSession,
        cookie_secret: &str,
    ) -> sqlx::Result<()> {
        self.defer(
            "INSERT INTO sso_sessions (id, user_oid, amr_json, auth_time, persistent, created_at, ended_at,
                cookie_sha256)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.clone())
        .bind(s.user_oid.clone())
        .bind(s.amr_json.clone())
        .bind(s.auth_time)
        .bind(s.persistent)
        .bind(s.created_at)
        .bind(s.ended_at)
        .bind(sha256(cookie_secret.as_bytes()));
        Ok(())
    }

    /// Records that `client_id` received tokens through this session (a stored code does this
    /// itself: the trigger `auth_codes_session_app`, migration 0020). Queued.
    pub async fn add_session_app(&mut self, session_id: &str, client_id: &str) -> sqlx::Result<()> {
        self.defer("INSERT OR IGNORE INTO session_apps (session_id, client_id) VALUES (?, ?)")
            .bind(session_id.to_string())
            .bind(client_id.to_string());
        Ok(())
    }

    /// Records a sign-in without pages through the session: its inactivity starts again.
    /// Queued.
    pub async fn touch_session(&mut self, id: &str, now: i64) -> sqlx::Result<()> {
        self.defer("UPDATE sso_sessions SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(id.to_string());
        Ok(())
    }

    /// Ends a session as part of a larger write (re-authentication replaces it). Queued.
    pub async fn end_session(&mut self, id: &str, now: i64) -> sqlx::Result<()> {
        self.defer("UPDATE sso_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(now)
            .bind(id.to_string());
        Ok(())
    }

    /// Moves the apps of one session to another (front-channel logout still reaches them).
    /// Queued.
    pub async fn copy_session_apps(&mut self, from: &str, to: &str) -> sqlx::Result<()> {
        self.defer(
            "INSERT OR IGNORE INTO session_apps (session_id, client_id)
             SELECT ?, client_id FROM session_apps WHERE session_id = ? ORDER BY rowid",
        )
        .bind(to.to_string())
        .bind(from.to_string());
        Ok(())
    }
}
