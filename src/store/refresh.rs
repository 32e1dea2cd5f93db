//! Refresh tokens, their families (one per authorization code, i.e. per grant) and user-wide
//! revocation. Tokens are stored as SHA-256 digests. A grant reads the token first
//! ([`Store::find_refresh`]), checks everything, and only then stores its successor with one
//! statement that also marks it used ([`Store::rotate_refresh`]): a refused request leaves the
//! token as it was, and of concurrent uses of a single-use token exactly one wins.

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection};

use super::consents::{consent_grants_column, parse_grants, Grant};
use super::directory::{UserRow, USER_COLUMNS};
use super::{Store, Tx};
use crate::amr::{amr_json, parse_amr_json, Amr};
use crate::crypto::sha256;
use crate::directory::{ClientType, User};

/// What kind of chain a refresh token belongs to: Entra gives chains started on a SPA redirect
/// URI a fixed 24-hour lifetime
/// (<https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainKind {
    /// Started on a `spa` redirect URI: redeemed cross-origin, fixed lifetime.
    Spa,
    /// Any other redirect URI: 90 days of inactivity.
    Standard,
}

/// What a refresh token is bound to.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub user_oid: String,
    /// Space-separated scopes of the original grant.
    pub scope: String,
    pub session_id: Option<String>,
    pub amr: Vec<Amr>,
    pub auth_time: i64,
    pub kind: ChainKind,
    /// The type the client authenticated as when the chain started: every refresh of it must
    /// authenticate the same way ([`ClientType`]).
    pub client_type: ClientType,
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

#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: String,
    client_id: String,
    user_oid: String,
    scope: String,
    session_id: Option<String>,
    amr_json: String,
    auth_time: i64,
    spa: bool,
    public_client: bool,
    family_created_at: i64,
    created_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RefreshUserRow {
    #[sqlx(flatten)]
    refresh: RefreshRow,
    #[sqlx(flatten)]
    user: UserRow,
    consent_grants: Option<String>,
}

impl TryFrom<RefreshRow> for RefreshGrant {
    type Error = sqlx::Error;

    fn try_from(r: RefreshRow) -> Result<Self, sqlx::Error> {
        let amr = parse_amr_json(&r.amr_json).map_err(|_| {
            sqlx::Error::Decode(format!("stored amr does not parse: {:?}", r.amr_json).into())
        })?;
        Ok(RefreshGrant {
            family_id: r.family_id,
            client_id: r.client_id,
            user_oid: r.user_oid,
            scope: r.scope,
            session_id: r.session_id,
            amr,
            auth_time: r.auth_time,
            kind: if r.spa {
                ChainKind::Spa
            } else {
                ChainKind::Standard
            },
            client_type: if r.public_client {
                ClientType::Public
            } else {
                ClientType::Confidential
            },
            family_created_at: r.family_created_at,
            created_at: r.created_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
        })
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

const COLUMNS: &str =
    "family_id, client_id, user_oid, scope, session_id, amr_json, auth_time, spa, public_client, \
    family_created_at, created_at, used_at, revoked_at";

/// A refresh-token family (one grant) as the test-control API lists it.
#[derive(utoipa::ToSchema, Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FamilySummary {
    pub family_id: String,
    pub client_id: String,
    pub user_oid: String,
    pub scope: String,
    pub created_at: i64,
    /// Tokens issued in it (rotation adds one per use).
    pub tokens: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Every refresh-token family, oldest first.
    pub async fn refresh_families(&self) -> sqlx::Result<Vec<FamilySummary>> {
        sqlx::query_as(
            "SELECT family_id, MIN(client_id) AS client_id, MIN(user_oid) AS user_oid,
                    MIN(scope) AS scope, MIN(family_created_at) AS created_at,
                    COUNT(*) AS tokens, MAX(revoked_at) AS revoked_at
             FROM refresh_tokens GROUP BY family_id ORDER BY MIN(family_created_at), MIN(rowid)",
        )
        .fetch_all(&mut *self.read().await?)
        .await
    }

    /// The grant of a refresh token and its user, in one query (a refresh grant needs both);
    /// `None` also when the user no longer exists ([`Store::find_refresh`] tells).
    pub async fn find_refresh_with_user(
        &self,
        token: &str,
    ) -> sqlx::Result<Option<(RefreshGrant, User, Vec<Grant>)>> {
        // The two tables share no column name, so the columns need no table prefix.
        let row: Option<RefreshUserRow> = sqlx::query_as(sql_once!(
            "SELECT {COLUMNS}, {USER_COLUMNS}, {} FROM refresh_tokens
             JOIN users ON users.oid = refresh_tokens.user_oid WHERE token_sha256 = ?",
            consent_grants_column!("refresh_tokens")
        ))
        .bind(sha256(token.as_bytes()))
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|r| {
            let grants = parse_grants(r.consent_grants.as_deref())?;
            Ok((r.refresh.try_into()?, r.user.try_into()?, grants))
        })
        .transpose()
    }

    /// The grant of a refresh token, without using it.
    pub async fn find_refresh(&self, token: &str) -> sqlx::Result<Option<RefreshGrant>> {
        let row: Option<RefreshRow> = sqlx::query_as(sql_once!(
            "SELECT {COLUMNS} FROM refresh_tokens WHERE token_sha256 = ?"
        ))
        .bind(sha256(token.as_bytes()))
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(RefreshGrant::try_from).transpose()
    }

    /// Revokes every refresh token of a family (grant), including one a concurrent request is
    /// about to store: the family is marked revoked, so later tokens in it are born revoked.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> sqlx::Result<u64> {
        let mut tx = self.write().await?;
        let n = revoke_family(tx.conn().await?, family_id, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// A replayed code: marks its family revoked (also for tokens stored later) and revokes the
    /// refresh tokens issued from it. Returns how many tokens were revoked.
    pub async fn revoke_code_family(
        &self,
        code: &str,
        family_id: &str,
        now: i64,
    ) -> sqlx::Result<u64> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO code_families (code_sha256, family_id, revoked_at) VALUES (?, ?, ?)
             ON CONFLICT(code_sha256) DO UPDATE SET revoked_at = COALESCE(code_families.revoked_at, excluded.revoked_at)",
        )
        .bind(sha256(code.as_bytes()))
        .bind(family_id)
        .bind(now)
        .execute(tx.conn().await?)
        .await?;
        let n = revoke_family(tx.conn().await?, family_id, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Graph's `revokeSignInSessions`: every refresh token and SSO session the user holds now
    /// stops working. Returns false when there is no such user.
    pub async fn revoke_sign_in_sessions(&self, user_oid: &str, now: i64) -> sqlx::Result<bool> {
        let mut tx = self.write().await?;
        let r = sqlx::query("UPDATE users SET sessions_revoked_at = ? WHERE oid = ?")
            .bind(now)
            .bind(user_oid)
            .execute(tx.conn().await?)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_oid = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_oid)
        .execute(tx.conn().await?)
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
        // A jti seen before counts only while that use has not expired (expired rows are purged
        // in the background, off this path).
        let q = sqlx::query(
            "INSERT INTO used_assertions (jti, expires_at) VALUES (?, ?)
             ON CONFLICT(jti) DO UPDATE SET expires_at = excluded.expires_at
             WHERE used_assertions.expires_at < ?",
        )
        .bind(jti.to_string())
        .bind(expires_at)
        .bind(now);
        Ok(self.writer.execute(q).await?.rows_affected() > 0)
    }
}

/// Marks a family revoked (so tokens stored later are born revoked) and revokes its tokens. A
/// family with no token stored is left alone (nothing written): every caller but the control
/// API's `DELETE /_mock/refresh-tokens/{family}` names the family of a stored token, and that
/// one answers 404 for it (the hostile-input battery found it writing a mark for any name).
async fn revoke_family(
    conn: &mut SqliteConnection,
    family_id: &str,
    now: i64,
) -> sqlx::Result<u64> {
    sqlx::query(
        "INSERT INTO code_families (code_sha256, family_id, revoked_at)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = ?2)
         ON CONFLICT(code_sha256) DO NOTHING",
    )
    .bind(sha256(format!("revoked-family:{family_id}").as_bytes()))
    .bind(family_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

impl Store {
    /// Rotation: stores `next` as the successor of `token` and marks `token` used, in one
    /// statement (the successor is selected from its predecessor's row, and the trigger
    /// `refresh_tokens_rotate` marks the predecessor; migration 0020), if `token` still may be
    /// used: not revoked, and under [`Use::SingleUse`] not used before. False, with nothing
    /// written, when a concurrent request got there first or revoked it. If the family was
    /// revoked meanwhile (a replayed code), the successor is stored already revoked.
    pub async fn rotate_refresh(
        &self,
        token: &str,
        next: &str,
        g: &RefreshGrant,
        mode: Use,
    ) -> sqlx::Result<bool> {
        let sql = sql_once!(
            "INSERT INTO refresh_tokens ({NEW_COLUMNS}, rotated_from)
             SELECT {NEW_VALUES}, p.token_sha256 FROM refresh_tokens p
             WHERE p.token_sha256 = ?13 AND p.revoked_at IS NULL
               AND (?14 = 0 OR p.used_at IS NULL)"
        );
        let q = bind_new(sqlx::query(sql), next, g)
            .bind(sha256(token.as_bytes()))
            .bind(mode == Use::SingleUse);
        let r = self.writer.execute(q).await?;
        Ok(r.rows_affected() == 1)
    }
}

/// The columns of a new refresh token and their values, `?1` to `?12` bound by [`bind_new`]. It
/// is stored already revoked if its family was revoked meanwhile (a replayed code).
pub(super) const NEW_COLUMNS: &str = "token_sha256, family_id, client_id, user_oid, scope, \
    session_id, amr_json, auth_time, spa, public_client, family_created_at, created_at, used_at, \
    revoked_at";
pub(super) const NEW_VALUES: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, \
    (SELECT MAX(revoked_at) FROM code_families WHERE family_id = ?2)";

/// Binds `?1` to `?12` of [`NEW_VALUES`]: the digest of `token` and the grant it carries.
pub(super) fn bind_new<'q>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    token: &str,
    g: &RefreshGrant,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    // Owned values: the statement may go to the writer's thread ([`super::Writer::execute`]).
    q.bind(sha256(token.as_bytes()))
        .bind(g.family_id.clone())
        .bind(g.client_id.clone())
        .bind(g.user_oid.clone())
        .bind(g.scope.clone())
        .bind(g.session_id.clone())
        .bind(amr_json(&g.amr))
        .bind(g.auth_time)
        .bind(g.kind == ChainKind::Spa)
        .bind(g.client_type == ClientType::Public)
        .bind(g.family_created_at)
        .bind(g.created_at)
}

impl Tx {
    /// Stores a refresh token. If its family was revoked meanwhile (a replayed code), the token is
    /// stored already revoked.
    pub async fn insert_refresh(&mut self, token: &str, g: &RefreshGrant) -> sqlx::Result<()> {
        let sql = sql_once!("INSERT INTO refresh_tokens ({NEW_COLUMNS}) VALUES ({NEW_VALUES})");
        bind_new(sqlx::query(sql), token, g)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }
}
