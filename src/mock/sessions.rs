//! SSO sessions and refresh-token families as the test-control API lists and ends them
//! (`/_mock/sessions`, `/_mock/refresh-tokens`): what `revokeSignInSessions` does for a user,
//! one session or one grant at a time.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::refresh::FamilySummary;

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SessionView {
    /// The `sid` of tokens and front-channel logout.
    pub id: String,
    pub user_oid: String,
    #[schema(value_type = Vec<String>)]
    pub amr: serde_json::Value,
    pub auth_time: i64,
    /// "Stay signed in" was answered yes.
    pub persistent: bool,
    pub created_at: i64,
    /// Apps signed in through it.
    pub apps: Vec<String>,
}

pub async fn sessions(state: &AppState) -> Result<Vec<SessionView>> {
    let mut out = Vec::new();
    for s in state.store.active_sessions(state.clock.unix()).await? {
        out.push(SessionView {
            apps: state.store.session_apps(&s.id).await?,
            amr: serde_json::from_str(&s.amr_json).unwrap_or(serde_json::Value::Null),
            id: s.id,
            user_oid: s.user_oid,
            auth_time: s.auth_time,
            persistent: s.persistent,
            created_at: s.created_at,
        });
    }
    Ok(out)
}

/// Ends one session: the browser holding it must sign in again; its refresh tokens keep working,
/// as in Entra.
pub async fn end_session(state: &AppState, id: &str) -> Result<()> {
    if state.store.end_session(id, state.clock.unix()).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!("active session '{id}'")))
    }
}

pub async fn families(state: &AppState) -> Result<Vec<FamilySummary>> {
    Ok(state.store.refresh_families().await?)
}

/// Revokes every refresh token of one grant: the next use is refused as a revoked grant.
pub async fn revoke_family(state: &AppState, family_id: &str) -> Result<()> {
    match state
        .store
        .revoke_family(family_id, state.clock.unix())
        .await?
    {
        0 => Err(Error::NotFound(format!(
            "refresh-token family '{family_id}'"
        ))),
        _ => Ok(()),
    }
}
