//! `GET /_mock/keys` and `POST /_mock/keys/rotate`: the signing keys with their states and times,
//! and rollover by phase ([`crate::keys::rotation`]).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::keys::rotation::{Phase, RotationError};
use crate::state::AppState;

/// One signing key as the test-control API shows it (no key material).
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct KeyView {
    pub kid: String,
    /// `next`, `active`, `previous` (stopped signing, still published) or `retired`.
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub deactivated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

pub async fn list(state: &AppState) -> Result<KeyList> {
    let rows = state.store.signing_keys().await?;
    Ok(KeyList {
        keys: rows
            .into_iter()
            .map(|r| KeyView {
                kid: r.kid,
                state: r.state,
                created_at: r.created_at,
                activated_at: r.activated_at,
                deactivated_at: r.deactivated_at,
                retired_at: r.retired_at,
            })
            .collect(),
    })
}

pub async fn rotate(state: &AppState, phase: Phase) -> Result<KeyList> {
    state
        .keys
        .rotate(&state.store, phase, state.clock.unix())
        .await
        .map_err(|e| match e {
            RotationError::Internal(e) => Error::Internal(e),
            refused => Error::InvalidParameter {
                name: "phase",
                reason: refused.to_string(),
            },
        })?;
    list(state).await
}
