//! Refresh tokens, their families (one per authorization code, i.e. per grant) and user-wide
//! revocation. Tokens are stored as SHA-256 digests; a use is decided by one `UPDATE ... RETURNING`
//! so that concurrent uses of a single-use token cannot both succeed.

use super::Store;
use crate::crypto::sha256;

/// What a refresh token is bound to.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub user_oid: String,
    /// Space-separated scopes of the original grant.
    pub scope: String,
    pub session_id: Option<String>,
    pub amr_json: String,
    pub auth_time: i64,
    /// The chain started on a `spa` redirect URI: fixed 24 h lifetime.
    pub spa: bool,
    pub family_created_at: i64,
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("family_id", &self.family_id)
            .field("client_id", &self.client_id)
            .field("user_oid", &self.user_oid)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// How a refresh token may be used, by the client's reuse policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Entra: a rotated token stays valid until it expires.
    Reusable,
    /// RFC 9700 section 4.14.2: a token can be exchanged once.
    SingleUse,
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum RefreshUse {
    /// Accepted; the row as it was before this use.
    Accepted(RefreshGrant),
    /// A single-use token presented again.
    Reused(RefreshGrant),
    Revoked(RefreshGrant),
    Unknown,
}

const COLUMNS: &str =
    "family_id, client_id, user_oid, scope, session_id, amr_json, auth_time, spa, \
    family_created_at, created_at, used_at, revoked_at";

impl Store {
    /// Stores a refresh token. If its family was revoked meanwhile (a replayed code), the token is
    /// stored already revoked.
    pub async fn insert_refresh(&self, token: &str, g: &RefreshGrant) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_sha256, family_id, client_id, user_oid, scope, session_id,
                amr_json, auth_time, spa, family_created_at, created_at, used_at, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL,
                (SELECT MAX(revoked_at) FROM code_families WHERE family_id = ?))",
        )
        .bind(sha256(token.as_bytes()))
        .bind(&g.family_id)
        .bind(&g.client_id)
        .bind(&g.user_oid)
        .bind(&g.scope)
        .bind(&g.session_id)
        .bind(&g.amr_json)
        .bind(g.auth_time)
        .bind(g.spa)
        .bind(g.family_created_at)
        .bind(g.created_at)
        .bind(&g.family_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Presents a refresh token: marks it used in the same statement that checks it.
    pub async fn use_refresh(&self, token: &str, now: i64, mode: Use) -> sqlx::Result<RefreshUse> {
        let digest = sha256(token.as_bytes());
        let sql = match mode {
            Use::SingleUse => format!(
                "UPDATE refresh_tokens SET used_at = ?1 WHERE token_sha256 = ?2
                   AND used_at IS NULL AND revoked_at IS NULL RETURNING {COLUMNS}"
            ),
            Use::Reusable => format!(
                "UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?1) WHERE token_sha256 = ?2
                   AND revoked_at IS NULL RETURNING {COLUMNS}"
            ),
        };
        let accepted: Option<RefreshGrant> = sqlx::query_as(&sql)
            .bind(now)
            .bind(&digest)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(g) = accepted {
            return Ok(RefreshUse::Accepted(g));
        }
        let row: Option<RefreshGrant> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM refresh_tokens WHERE token_sha256 = ?"
        ))
        .bind(&digest)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => RefreshUse::Unknown,
            Some(g) if g.revoked_at.is_some() => RefreshUse::Revoked(g),
            Some(g) => RefreshUse::Reused(g),
        })
    }

    /// The grant of a refresh token, without using it (revocation).
    pub async fn refresh_grant(&self, token: &str) -> sqlx::Result<Option<RefreshGrant>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM refresh_tokens WHERE token_sha256 = ?"
        ))
        .bind(sha256(token.as_bytes()))
        .fetch_optional(&self.pool)
        .await
    }

    /// Revokes every refresh token of a family (grant), including one a concurrent request is
    /// about to store: the family is marked revoked, so later tokens in it are born revoked.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> sqlx::Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO code_families (code_sha256, family_id, revoked_at) VALUES (?, ?, ?)
             ON CONFLICT(code_sha256) DO NOTHING",
        )
        .bind(sha256(format!("revoked-family:{family_id}").as_bytes()))
        .bind(family_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// Links an authorization code to the family of tokens issued from it.
    pub async fn link_code_family(&self, code: &str, family_id: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO code_families (code_sha256, family_id) VALUES (?, ?)
             ON CONFLICT(code_sha256) DO NOTHING",
        )
        .bind(sha256(code.as_bytes()))
        .bind(family_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A replayed code: marks its family revoked (also for tokens stored later) and revokes the
    /// refresh tokens issued from it. Returns how many tokens were revoked.
    pub async fn revoke_code_family(
        &self,
        code: &str,
        family_id: &str,
        now: i64,
    ) -> sqlx::Result<u64> {
        sqlx::query(
            "INSERT INTO code_families (code_sha256, family_id, revoked_at) VALUES (?, ?, ?)
             ON CONFLICT(code_sha256) DO UPDATE SET revoked_at = COALESCE(code_families.revoked_at, excluded.revoked_at)",
        )
        .bind(sha256(code.as_bytes()))
        .bind(family_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.revoke_family(family_id, now).await
    }

    /// Graph's `revokeSignInSessions`: every refresh token and SSO session the user holds now
    /// stops working. Returns false when there is no such user.
    pub async fn revoke_sign_in_sessions(&self, user_oid: &str, now: i64) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE users SET sessions_revoked_at = ? WHERE oid = ?")
            .bind(now)
            .bind(user_oid)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_oid = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_oid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records a client assertion's `jti` until it expires; false when it was seen before.
    pub async fn record_assertion(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> sqlx::Result<bool> {
        sqlx::query("DELETE FROM used_assertions WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let r = sqlx::query(
            "INSERT INTO used_assertions (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }
}
