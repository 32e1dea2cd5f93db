//! Device codes (RFC 8628): created by the device authorization request, approved or declined at
//! `/devicelogin`, redeemed once by the token endpoint. The device code is stored as its SHA-256
//! digest. Each change of state is one conditional `UPDATE` or `DELETE ... RETURNING`, so of two
//! concurrent approvals, or redemptions, exactly one wins.

use super::{Store, Tx};
use crate::crypto::sha256;

/// Where a device code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    /// The user signed in: who, in which session, and how.
    Approved {
        user_oid: String,
        session_id: String,
        amr_json: String,
        auth_time: i64,
    },
    Declined,
}

/// A stored device code.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// SHA-256 (hex) of the device code: the row's key.
    pub id: String,
    pub user_code: String,
    pub client_id: String,
    pub tenant_segment: String,
    pub scope: String,
    pub claims_json: Option<String>,
    /// `v1` or `v2`: the endpoint the device authorization request used.
    pub endpoint: String,
    pub interval_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_poll_at: Option<i64>,
    pub status: DeviceStatus,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The key of a device code's row.
pub fn device_code_id(device_code: &str) -> String {
    hex::encode(sha256(device_code.as_bytes()))
}

#[derive(sqlx::FromRow)]
struct Row {
    device_sha256: String,
    user_code: String,
    client_id: String,
    tenant_segment: String,
    scope: String,
    claims_json: Option<String>,
    endpoint: String,
    interval_secs: i64,
    created_at: i64,
    expires_at: i64,
    last_poll_at: Option<i64>,
    status: String,
    user_oid: Option<String>,
    session_id: Option<String>,
    amr_json: Option<String>,
    auth_time: Option<i64>,
}

impl TryFrom<Row> for DeviceCode {
    type Error = sqlx::Error;

    fn try_from(r: Row) -> sqlx::Result<Self> {
        let status = match (
            r.status.as_str(),
            r.user_oid,
            r.session_id,
            r.amr_json,
            r.auth_time,
        ) {
            ("pending", ..) => DeviceStatus::Pending,
            ("declined", ..) => DeviceStatus::Declined,
            ("approved", Some(user_oid), Some(session_id), Some(amr_json), Some(auth_time)) => {
                DeviceStatus::Approved {
                    user_oid,
                    session_id,
                    amr_json,
                    auth_time,
                }
            }
            (other, ..) => {
                return Err(sqlx::Error::Decode(
                    format!("device code status {other:?} without its sign-in").into(),
                ))
            }
        };
        Ok(DeviceCode {
            id: r.device_sha256,
            user_code: r.user_code,
            client_id: r.client_id,
            tenant_segment: r.tenant_segment,
            scope: r.scope,
            claims_json: r.claims_json,
            endpoint: r.endpoint,
            interval_secs: r.interval_secs,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_poll_at: r.last_poll_at,
            status,
        })
    }
}

const COLUMNS: &str = "device_sha256, user_code, client_id, tenant_segment, scope, claims_json, \
    endpoint, interval_secs, created_at, expires_at, last_poll_at, status, user_oid, session_id, \
    amr_json, auth_time";

impl Store {
    /// Stores a new device code; false when its user code is taken (the caller draws another).
    pub async fn insert_device_code(&self, c: &DeviceCode) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "INSERT INTO device_codes (device_sha256, user_code, client_id, tenant_segment, scope,
                 claims_json, endpoint, interval_secs, created_at, expires_at, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
             ON CONFLICT DO NOTHING",
        )
        .bind(&c.id)
        .bind(&c.user_code)
        .bind(&c.client_id)
        .bind(&c.tenant_segment)
        .bind(&c.scope)
        .bind(&c.claims_json)
        .bind(&c.endpoint)
        .bind(c.interval_secs)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&mut *self.writer.lock().await)
        .await?;
        self.purge_signal.flow_started();
        Ok(r.rows_affected() == 1)
    }

    pub async fn device_code_by_user_code(
        &self,
        user_code: &str,
    ) -> sqlx::Result<Option<DeviceCode>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM device_codes WHERE user_code = ?");
        sqlx::query_as::<_, Row>(sql)
            .bind(user_code)
            .fetch_optional(&mut *self.read().await?)
            .await?
            .map(DeviceCode::try_from)
            .transpose()
    }

    /// Records a poll of the token endpoint and returns the code as it was before this poll
    /// (its `last_poll_at` is the previous poll's). Polls only pace the client (slow_down):
    /// reading and stamping need not be one statement.
    pub async fn poll_device_code(&self, id: &str, now: i64) -> sqlx::Result<Option<DeviceCode>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM device_codes WHERE device_sha256 = ?");
        let found = sqlx::query_as::<_, Row>(sql)
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        if found.is_some() {
            let q = sqlx::query("UPDATE device_codes SET last_poll_at = ? WHERE device_sha256 = ?")
                .bind(now)
                .bind(id.to_string());
            self.writer.execute(q).await?;
        }
        found.map(DeviceCode::try_from).transpose()
    }

    /// Declines a pending, unexpired device code; true when this call declined it.
    pub async fn decline_device_code(&self, id: &str, now: i64) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE device_codes SET status = 'declined'
             WHERE device_sha256 = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Tx {
    /// Approves a pending, unexpired device code for the user who signed in; true when this call
    /// approved it.
    pub async fn approve_device_code(
        &mut self,
        id: &str,
        user_oid: &str,
        session_id: &str,
        amr_json: &str,
        auth_time: i64,
        now: i64,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE device_codes
             SET status = 'approved', user_oid = ?, session_id = ?, amr_json = ?, auth_time = ?
             WHERE device_sha256 = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(user_oid)
        .bind(session_id)
        .bind(amr_json)
        .bind(auth_time)
        .bind(id)
        .bind(now)
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Consumes an approved device code; true for exactly one caller.
    pub async fn consume_device_code(&mut self, id: &str) -> sqlx::Result<bool> {
        let r =
            sqlx::query("DELETE FROM device_codes WHERE device_sha256 = ? AND status = 'approved'")
                .bind(id)
                .execute(self.conn().await?)
                .await?;
        Ok(r.rows_affected() == 1)
    }
}
