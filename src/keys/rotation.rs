//! Signing-key rollover in Entra's phases
//! (<https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>): a new key is
//! published before anything signs with it, becomes the signing key while the old one stays
//! published, and the old one leaves the key set last. Apps that cache the JWKS by `kid` and
//! refetch on a miss survive each step; apps that pin a key do not, which is what a test wants to
//! see. `roll-now` is the emergency case: new key active and old key gone at once.
//!
//! Key generation (RSA-2048) runs off the async runtime, outside any transaction; each phase is one
//! transaction, after which the ring is reloaded (the render cache follows its generation).

use serde::{Deserialize, Serialize};

use super::{generate, KeyRing, KeyState};
use crate::store::keys::KeyRow;
use crate::store::Store;

/// A rollover step, as `POST /_mock/keys/rotate {"phase"}` names it.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// A new key appears in JWKS; nothing signs with it yet.
    Publish,
    /// The newest published key signs new tokens; the old one stays published (`previous`).
    Activate,
    /// Keys that stopped signing leave JWKS: their tokens no longer validate.
    Retire,
    /// Emergency: a new key signs at once and the old one is gone.
    RollNow,
}

/// Why a phase cannot run on the current key set.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("no key is published as next: publish one first")]
    NothingToActivate,
    #[error("no key is waiting to be retired: activate a new key first")]
    NothingToRetire,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for RotationError {
    fn from(e: sqlx::Error) -> Self {
        RotationError::Internal(e.into())
    }
}

fn keys_in(rows: &[KeyRow], state: KeyState) -> impl Iterator<Item = &KeyRow> {
    rows.iter().filter(move |r| r.state == state.as_str())
}

impl KeyRing {
    /// Runs one phase at `now` and reloads the key set.
    pub async fn rotate(&self, store: &Store, phase: Phase, now: i64) -> Result<(), RotationError> {
        let _one_at_a_time = self.rotating.lock().await;
        let rows = store.signing_keys().await?;
        // Generation first, outside the transaction: it takes tens of milliseconds.
        let fresh = match phase {
            Phase::Publish | Phase::RollNow => Some(generate(now).await?),
            Phase::Activate | Phase::Retire => None,
        };
        let mut tx = store.write().await?;
        match phase {
            Phase::Publish => {
                if let Some(k) = &fresh {
                    tx.insert_signing_key(k).await?;
                }
            }
            Phase::Activate => {
                let next = keys_in(&rows, KeyState::Next)
                    .last()
                    .ok_or(RotationError::NothingToActivate)?;
                for old in keys_in(&rows, KeyState::Active) {
                    tx.set_key_state(&old.kid, KeyState::Previous.as_str(), now)
                        .await?;
                }
                tx.set_key_state(&next.kid, KeyState::Active.as_str(), now)
                    .await?;
            }
            Phase::Retire => {
                let mut any = false;
                for old in keys_in(&rows, KeyState::Previous) {
                    tx.set_key_state(&old.kid, KeyState::Retired.as_str(), now)
                        .await?;
                    any = true;
                }
                if !any {
                    return Err(RotationError::NothingToRetire);
                }
            }
            Phase::RollNow => {
                for old in
                    keys_in(&rows, KeyState::Active).chain(keys_in(&rows, KeyState::Previous))
                {
                    tx.set_key_state(&old.kid, KeyState::Retired.as_str(), now)
                        .await?;
                }
                if let Some(mut k) = fresh {
                    k.state = KeyState::Active.as_str().into();
                    k.activated_at = Some(now);
                    tx.insert_signing_key(&k).await?;
                }
            }
        }
        tx.commit().await?;
        self.reload(store).await?;
        Ok(())
    }

    /// The scheduled rollover of `--key-rotation-interval`: when the active key has signed for
    /// `interval` seconds, keys that stopped signing a period ago are retired, the newest next
    /// key takes over (the old one stays published for a period), and a new next key is
    /// published, all in one transaction. Returns whether it rolled.
    pub async fn roll_if_due(
        &self,
        store: &Store,
        interval: i64,
        now: i64,
    ) -> Result<bool, RotationError> {
        let due = |rows: &[KeyRow]| {
            keys_in(rows, KeyState::Active)
                .map(|r| r.activated_at.unwrap_or(r.created_at))
                .max()
                .is_none_or(|t| now >= t.saturating_add(interval))
        };
        if !due(&store.signing_keys().await?) {
            return Ok(false);
        }
        let _one_at_a_time = self.rotating.lock().await;
        let rows = store.signing_keys().await?;
        if !due(&rows) {
            return Ok(false);
        }
        let fresh_next = generate(now).await?;
        let mut tx = store.write().await?;
        for old in keys_in(&rows, KeyState::Previous) {
            tx.set_key_state(&old.kid, KeyState::Retired.as_str(), now)
                .await?;
        }
        for old in keys_in(&rows, KeyState::Active) {
            tx.set_key_state(&old.kid, KeyState::Previous.as_str(), now)
                .await?;
        }
        match keys_in(&rows, KeyState::Next).last() {
            Some(next) => {
                tx.set_key_state(&next.kid, KeyState::Active.as_str(), now)
                    .await?;
                tx.insert_signing_key(&fresh_next).await?;
            }
            // Nothing was published ahead: the new key has to sign at once.
            None => {
                let mut k = fresh_next;
                k.state = KeyState::Active.as_str().into();
                k.activated_at = Some(now);
                tx.insert_signing_key(&k).await?;
            }
        }
        tx.commit().await?;
        self.reload(store).await?;
        Ok(true)
    }
}
