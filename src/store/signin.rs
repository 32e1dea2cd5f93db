//! Sign-in flows in progress: the state machine's current step, serialised, with the flow's CSRF
//! token and the user its step is about. A flow ends (its row is deleted) when it issues a
//! reply, exactly once.

use sqlx::{FromRow, Row};

use super::directory::{UserRow, USER_COLUMNS};
use super::{Store, Tx};
use crate::directory::User;

pub struct FlowRow {
    pub csrf_token: String,
    pub state_json: String,
    /// The user the flow's step is about, read with the flow (none yet, or deleted since).
    pub user: Option<User>,
}

impl std::fmt::Debug for FlowRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowRow(<redacted>)")
    }
}

impl Store {
    pub async fn insert_flow(
        &self,
        id: &str,
        csrf: &str,
        state_json: &str,
        user_oid: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        let q = sqlx::query(
            "INSERT INTO signin_flows (id, csrf_token, state_json, user_oid, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(csrf.to_string())
        .bind(state_json.to_string())
        .bind(user_oid.map(str::to_string))
        .bind(now)
        .bind(expires_at);
        self.writer.execute(q).await?;
        self.purge_signal.flow_started();
        Ok(())
    }

    /// A flow that has not expired, with its user, in one query.
    pub async fn flow(&self, id: &str, now: i64) -> sqlx::Result<Option<FlowRow>> {
        // The two tables share no column name, so the user's columns need no prefix.
        let row = sqlx::query(sql_once!(
            "SELECT csrf_token, state_json, {USER_COLUMNS} FROM signin_flows
             LEFT JOIN users ON users.oid = signin_flows.user_oid
             WHERE id = ? AND expires_at > ?"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = match row.try_get::<Option<String>, _>("oid")? {
            Some(_) => Some(User::try_from(UserRow::from_row(&row)?)?),
            None => None,
        };
        Ok(Some(FlowRow {
            csrf_token: row.try_get("csrf_token")?,
            state_json: row.try_get("state_json")?,
            user,
        }))
    }

    pub async fn update_flow(
        &self,
        id: &str,
        state_json: &str,
        user_oid: Option<&str>,
    ) -> sqlx::Result<()> {
        let q = sqlx::query("UPDATE signin_flows SET state_json = ?, user_oid = ? WHERE id = ?")
            .bind(state_json.to_string())
            .bind(user_oid.map(str::to_string))
            .bind(id.to_string());
        self.writer.execute(q).await?;
        Ok(())
    }

    /// Ends a flow; true for exactly one caller.
    pub async fn end_flow(&self, id: &str) -> sqlx::Result<bool> {
        let r = sqlx::query("DELETE FROM signin_flows WHERE id = ?")
            .bind(id)
            .execute(&mut *self.writer.lock().await)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Tx {
    /// Ends a flow as the first write of the transaction that finishes it (queued, with a guard:
    /// if another request ended it first, the transaction fails there and is rolled back,
    /// [`super::tx::is_expect_one_failure`]), so exactly one caller's transaction commits.
    pub fn end_flow(&mut self, id: &str) {
        self.defer("DELETE FROM signin_flows WHERE id = ?")
            .bind(id.to_string());
        self.expect_one();
    }
}
