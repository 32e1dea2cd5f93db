//! Authorization codes: stored as SHA-256 digests, single use. A redemption reads the code first
//! ([`Store::find_code`]), checks everything, and only then consumes it with the one statement
//! that stores what the code is exchanged for ([`Store::redeem_code`]): a refused request leaves
//! the code usable, and of concurrent redemptions exactly one wins.

use super::consents::{consent_grants_column, parse_grants, Grant};
use super::directory::{UserRow, USER_COLUMNS};
use super::refresh::{bind_new, RefreshGrant, NEW_COLUMNS, NEW_VALUES};
use super::{Store, Tx};
use crate::amr::{amr_json, parse_amr_json, Amr};
use crate::crypto::sha256;
use crate::directory::{Platform, User};
use crate::pkce::{Pkce, PkceMethod};

/// What an authorization code is bound to (Entra: single use, about 10 minutes).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    /// The platform of the redirect URI the code went to.
    pub platform: Platform,
    pub pkce: Option<Pkce>,
    /// Echoed byte for byte into the ID token.
    pub nonce: Option<String>,
    /// Space-separated scopes as requested.
    pub scope: String,
    pub user_oid: String,
    /// The SSO session (`sid`).
    pub session_id: String,
    pub amr: Vec<Amr>,
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

/// A stored code as a redemption finds it.
#[derive(Debug)]
pub enum CodeLookup {
    /// Not redeemed yet.
    Fresh(AuthCode),
    /// Redeemed before: presenting it again is a replay (RFC 6749 section 4.1.2, RFC 9700 4.5).
    Consumed(AuthCode),
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
    consumed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CodeUserRow {
    #[sqlx(flatten)]
    code: CodeRow,
    #[sqlx(flatten)]
    user: UserRow,
    consent_grants: Option<String>,
}

/// A stored value that does not parse: an error, never a default.
fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} does not parse: {value:?}").into())
}

impl TryFrom<CodeRow> for AuthCode {
    type Error = sqlx::Error;

    fn try_from(r: CodeRow) -> Result<Self, sqlx::Error> {
        let platform = Platform::parse(&r.redirect_platform)
            .ok_or_else(|| corrupt("redirect platform", &r.redirect_platform))?;
        let pkce = match (r.code_challenge, r.code_challenge_method) {
            (None, None) => None,
            (Some(challenge), Some(m)) => Some(Pkce {
                challenge,
                method: PkceMethod::parse(&m).ok_or_else(|| corrupt("PKCE method", &m))?,
            }),
            (c, m) => {
                return Err(corrupt(
                    "PKCE challenge and method",
                    &format!("{c:?} {m:?}"),
                ))
            }
        };
        let amr = parse_amr_json(&r.amr_json).map_err(|_| corrupt("amr", &r.amr_json))?;
        Ok(AuthCode {
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            platform,
            pkce,
            nonce: r.nonce,
            scope: r.scope,
            user_oid: r.user_oid,
            session_id: r.session_id,
            amr,
            auth_time: r.auth_time,
            include_auth_time: r.include_auth_time,
            claims_json: r.claims_json,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

const COLUMNS: &str = "client_id, redirect_uri, redirect_platform, code_challenge, code_challenge_method, \
    nonce, scope, user_oid, session_id, amr_json, auth_time, include_auth_time, claims_json, created_at, \
    expires_at, consumed_at";

impl Store {
    /// Stores `code` (the opaque value handed to the client) with what it is bound to.
    pub async fn insert_code(&self, code: &str, c: &AuthCode) -> sqlx::Result<()> {
        let mut tx = self.write().await?;
        tx.insert_code(code, c).await?;
        tx.commit().await
    }

    /// An unused code and its user, in one query (a redemption needs both); `None` when the
    /// code is unknown or used, or its user no longer exists ([`Store::find_code`] tells).
    pub async fn find_fresh_code_with_user(
        &self,
        code: &str,
    ) -> sqlx::Result<Option<(AuthCode, User, Vec<Grant>)>> {
        // The two tables share no column name, so the columns need no table prefix.
        let row: Option<CodeUserRow> = sqlx::query_as(sql_once!(
            "SELECT {COLUMNS}, {USER_COLUMNS}, {} FROM auth_codes
             JOIN users ON users.oid = auth_codes.user_oid
             WHERE code_sha256 = ? AND consumed_at IS NULL",
            consent_grants_column!("auth_codes")
        ))
        .bind(sha256(code.as_bytes()))
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|r| {
            let grants = parse_grants(r.consent_grants.as_deref())?;
            Ok((r.code.try_into()?, r.user.try_into()?, grants))
        })
        .transpose()
    }

    /// Reads a code without consuming it.
    pub async fn find_code(&self, code: &str) -> sqlx::Result<CodeLookup> {
        let row: Option<CodeRow> = sqlx::query_as(sql_once!(
            "SELECT {COLUMNS} FROM auth_codes WHERE code_sha256 = ?"
        ))
        .bind(sha256(code.as_bytes()))
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(match row {
            None => CodeLookup::Unknown,
            Some(r) if r.consumed_at.is_some() => CodeLookup::Consumed(r.try_into()?),
            Some(r) => CodeLookup::Fresh(r.try_into()?),
        })
    }
}

impl Tx {
    /// Stores a code as part of a larger write (the end of sign-in; queued: [`Tx::defer`]).
    pub async fn insert_code(&mut self, code: &str, c: &AuthCode) -> sqlx::Result<()> {
        self.defer(
            "INSERT INTO auth_codes (code_sha256, client_id, redirect_uri, redirect_platform, code_challenge,
                code_challenge_method, nonce, scope, user_oid, session_id, amr_json, auth_time,
                include_auth_time, claims_json, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sha256(code.as_bytes()))
        .bind(c.client_id.clone())
        .bind(c.redirect_uri.clone())
        .bind(c.platform.as_str())
        .bind(c.pkce.as_ref().map(|p| p.challenge.clone()))
        .bind(c.pkce.as_ref().map(|p| p.method.as_str()))
        .bind(c.nonce.clone())
        .bind(c.scope.clone())
        .bind(c.user_oid.clone())
        .bind(c.session_id.clone())
        .bind(amr_json(&c.amr))
        .bind(c.auth_time)
        .bind(c.include_auth_time)
        .bind(c.claims_json.clone())
        .bind(c.created_at)
        .bind(c.expires_at);
        Ok(())
    }
}

impl Store {
    /// Consumes a code and stores the grant's first refresh token (`first`: its value and
    /// grant), in one statement: the token is selected from the code's row while the code is
    /// unused, and the trigger `refresh_tokens_redeem` (migration 0020) marks the code used and
    /// links it to the token's family. False, with nothing written, when another redemption
    /// consumed the code first.
    pub async fn redeem_code(
        &self,
        code: &str,
        first: Option<(&str, &RefreshGrant)>,
        now: i64,
    ) -> sqlx::Result<bool> {
        let code = sha256(code.as_bytes());
        let q = match first {
            None => sqlx::query(
                "UPDATE auth_codes SET consumed_at = ? WHERE code_sha256 = ? AND consumed_at IS NULL",
            )
            .bind(now)
            .bind(code),
            Some((token, g)) => {
                let sql = sql_once!(
                    "INSERT INTO refresh_tokens ({NEW_COLUMNS}, from_code)
                     SELECT {NEW_VALUES}, c.code_sha256 FROM auth_codes c
                     WHERE c.code_sha256 = ?13 AND c.consumed_at IS NULL"
                );
                bind_new(sqlx::query(sql), token, g).bind(code)
            }
        };
        Ok(self.writer.execute(q).await?.rows_affected() == 1)
    }
}
