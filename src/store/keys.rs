//! Signing keys.

use super::{Store, Tx};

#[derive(Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub state: String,
    pub private_key_pkcs8: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    /// When an active key stopped signing (it stays published as `previous` until retired).
    pub deactivated_at: Option<i64>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("private_key_pkcs8", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn signing_keys(&self) -> sqlx::Result<Vec<KeyRow>> {
        sqlx::query_as::<_, KeyRow>("SELECT * FROM signing_keys ORDER BY created_at, rowid")
            .fetch_all(&mut *self.read().await?)
            .await
    }
}

impl Tx {
    pub async fn insert_signing_key(&mut self, k: &KeyRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, state, private_key_pkcs8, cert_der, created_at, activated_at, retired_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.kid)
        .bind(&k.state)
        .bind(&k.private_key_pkcs8)
        .bind(&k.cert_der)
        .bind(k.created_at)
        .bind(k.activated_at)
        .bind(k.retired_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Moves a key to `state` at `now`, stamping the time that state names.
    pub async fn set_key_state(&mut self, kid: &str, state: &str, now: i64) -> sqlx::Result<()> {
        let column = match state {
            "active" => "activated_at",
            "previous" => "deactivated_at",
            "retired" => "retired_at",
            _ => "created_at",
        };
        let sql = format!("UPDATE signing_keys SET state = ?, {column} = ? WHERE kid = ?");
        sqlx::query(&sql)
            .bind(state)
            .bind(now)
            .bind(kid)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }
}
