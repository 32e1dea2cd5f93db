//! WebAuthn credentials (webauthn-rs passkeys, serialised as JSON), one row per credential.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use webauthn_rs::prelude::Passkey;

use super::Store;

impl Store {
    pub async fn passkeys(&self, user_oid: &str) -> anyhow::Result<Vec<Passkey>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT passkey_json FROM webauthn_credentials WHERE user_oid = ? ORDER BY created_at",
        )
        .bind(user_oid)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(anyhow::Error::from))
            .collect()
    }

    /// Stores a new passkey, or updates it (its signature counter) when it exists.
    pub async fn save_passkey(
        &self,
        user_oid: &str,
        passkey: &Passkey,
        now: i64,
    ) -> anyhow::Result<()> {
        let id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        sqlx::query(
            "INSERT INTO webauthn_credentials (credential_id, user_oid, passkey_json, created_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT(credential_id) DO UPDATE SET passkey_json = excluded.passkey_json
             WHERE webauthn_credentials.user_oid = excluded.user_oid",
        )
        .bind(id)
        .bind(user_oid)
        .bind(serde_json::to_string(passkey)?)
        .bind(now)
        .execute(&mut *self.writer.lock().await)
        .await?;
        Ok(())
    }
}
