//! Authorization codes: stored as SHA-256 digests, single use, consumed atomically.

use super::Store;
use crate::crypto::sha256;

/// What an authorization code is bound to (Entra: single use, about 10 minutes).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    /// `web`, `spa` or `publicClient`: the platform of the redirect URI the code went to.
    pub redirect_platform: String,
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    pub code_challenge_method: Option<String>,
    /// Echoed byte for byte into the ID token.
    pub nonce: Option<String>,
    /// Space-separated scopes as requested.
    pub scope: String,
    pub user_oid: String,
    /// The SSO session (`sid`).
    pub session_id: String,
    /// JSON array, e.g. `["pwd","otp","mfa"]`.
    pub amr_json: String,
    pub auth_time: i64,
    /// `max_age` was sent: the ID token must carry `auth_time`.
    pub include_auth_time: bool,
    /// The `claims` request parameter, if any (JSON).
    pub claims_json: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCode")
            .field("client_id", &self.client_id)
            .field("user_oid", &self.user_oid)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The outcome of redeeming a code.
#[derive(Debug)]
pub enum Redemption {
    /// First use: the code is now consumed.
    Fresh(AuthCode),
    /// Already consumed before: a replay (RFC 6749 section 4.1.2, RFC 9700 section 4.5).
    Replayed(AuthCode),
    Unknown,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    redirect_uri: String,
    redirect_platform: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
    scope: String,
    user_oid: String,
    session_id: String,
    amr_json: String,
    auth_time: i64,
    include_auth_time: bool,
    claims_json: Option<String>,
    created_at: i64,
    expires_at: i64,
}

impl From<CodeRow> for AuthCode {
    fn from(r: CodeRow) -> Self {
        AuthCode {
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            redirect_platform: r.redirect_platform,
            code_challenge: r.code_challenge,
            code_challenge_method: r.code_challenge_method,
            nonce: r.nonce,
            scope: r.scope,
            user_oid: r.user_oid,
            session_id: r.session_id,
            amr_json: r.amr_json,
            auth_time: r.auth_time,
            include_auth_time: r.include_auth_time,
            claims_json: r.claims_json,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

const COLUMNS: &str = "client_id, redirect_uri, redirect_platform, code_challenge, code_challenge_method, \
    nonce, scope, user_oid, session_id, amr_json, auth_time, include_auth_time, claims_json, created_at, expires_at";

impl Store {
    /// Stores `code` (the opaque value handed to the client) with what it is bound to.
    pub async fn insert_code(&self, code: &str, c: &AuthCode) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO auth_codes (code_sha256, client_id, redirect_uri, redirect_platform, code_challenge,
                code_challenge_method, nonce, scope, user_oid, session_id, amr_json, auth_time,
                include_auth_time, claims_json, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sha256(code.as_bytes()))
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.redirect_platform)
        .bind(&c.code_challenge)
        .bind(&c.code_challenge_method)
        .bind(&c.nonce)
        .bind(&c.scope)
        .bind(&c.user_oid)
        .bind(&c.session_id)
        .bind(&c.amr_json)
        .bind(c.auth_time)
        .bind(c.include_auth_time)
        .bind(&c.claims_json)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Consumes a code atomically: of any number of concurrent calls, exactly one gets `Fresh`.
    pub async fn consume_code(&self, code: &str, now: i64) -> sqlx::Result<Redemption> {
        let digest = sha256(code.as_bytes());
        let fresh: Option<CodeRow> = sqlx::query_as(&format!(
            "UPDATE auth_codes SET consumed_at = ? WHERE code_sha256 = ? AND consumed_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(&digest)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = fresh {
            return Ok(Redemption::Fresh(row.into()));
        }
        let used: Option<CodeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM auth_codes WHERE code_sha256 = ?"
        ))
        .bind(&digest)
        .fetch_optional(&self.pool)
        .await?;
        Ok(used.map_or(Redemption::Unknown, |r| Redemption::Replayed(r.into())))
    }
}
