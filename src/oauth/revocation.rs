//! `POST /{tenant}/oauth2/v2.0/revoke`: RFC 7009 token revocation for refresh tokens, an
//! entra-mock extension (real Entra revokes through Graph's `revokeSignInSessions` only), listed
//! in discovery as `revocation_endpoint`. Revoking a refresh token revokes its whole grant: under
//! Entra's reuse policy older tokens of the chain would otherwise still work (RFC 7009 section 2.1).
//! Unknown tokens, access tokens and tokens of other clients are answered with success
//! (RFC 7009 section 2.2). A credential presented must be valid; one of the client's own tokens is
//! revoked only when the client authenticates as its chain did (a confidential chain's with the
//! app's credential, a public one's without).

use crate::error::Result;
use crate::oauth::params::ClientRequest;
use crate::oauth::token;
use crate::state::AppState;

/// A revocation request as the HTTP layer hands it over.
pub type RevocationRequest = ClientRequest;

/// Revokes the grant of a refresh token; returns how many refresh tokens stopped working.
pub async fn revoke(state: &AppState, req: RevocationRequest) -> Result<u64> {
    let token = req.params.require("token")?.to_string();
    let (_, client) = token::authenticate(state, &req).await?;
    match state.store.find_refresh(&token).await? {
        // The client authenticates as the token's chain does (`ClientType`).
        Some(g) if g.client_id == client.app.client_id => {
            client.require(g.client_type)?;
            Ok(state.store.revoke_family(&g.family_id, req.now).await?)
        }
        _ => Ok(0),
    }
}

/// Graph's `POST /v1.0/users/{id | userPrincipalName}/revokeSignInSessions`
/// (<https://learn.microsoft.com/graph/api/user-revokesigninsessions>): every refresh token and
/// SSO session issued to the user until now stops working (AADSTS50173). `None`: no such user.
pub async fn revoke_sign_in_sessions(state: &AppState, user: &str, now: i64) -> Result<Option<()>> {
    let Some(u) = state.store.user_by_id_or_upn(user).await? else {
        return Ok(None);
    };
    state.store.revoke_sign_in_sessions(&u.oid, now).await?;
    Ok(Some(()))
}
