//! Sign-in flows in progress: the state machine's current step, serialised, with the flow's CSRF
//! token. A flow ends (its row is deleted) when it issues a reply, exactly once.

use super::Store;

#[derive(sqlx::FromRow)]
pub struct FlowRow {
    pub csrf_token: String,
    pub state_json: String,
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
        now: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO signin_flows (id, csrf_token, state_json, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(csrf)
        .bind(state_json)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *self.writer.lock().await)
        .await?;
        self.purge_signal.flow_started();
        Ok(())
    }

    /// A flow that has not expired.
    pub async fn flow(&self, id: &str, now: i64) -> sqlx::Result<Option<FlowRow>> {
        sqlx::query_as::<_, FlowRow>(
            "SELECT csrf_token, state_json FROM signin_flows WHERE id = ? AND expires_at > ?",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *self.read().await?)
        .await
    }

    pub async fn update_flow(&self, id: &str, state_json: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE signin_flows SET state_json = ? WHERE id = ?")
            .bind(state_json)
            .bind(id)
            .execute(&mut *self.writer.lock().await)
            .await?;
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
