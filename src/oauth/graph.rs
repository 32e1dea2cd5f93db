//! The slice of Microsoft Graph entra-mock serves: `POST /v1.0/users/{id | upn}/revokeSignInSessions`
//! and `POST /v1.0/me/revokeSignInSessions`
//! (<https://learn.microsoft.com/graph/api/user-revokesigninsessions>). As Graph, it requires a
//! Graph access token carrying `User.RevokeSessions.All`: as an application role (`roles` of an
//! app-only token), or as a delegated scope (`scp`; the doc's higher-privileged
//! `Directory.ReadWrite.All` and `User.ReadWrite.All` do too), which entra-mock honours for the
//! signed-in user's own sessions (it models no administrator roles). `/me` needs a delegated
//! token. Without a valid token Graph answers 401,
//! without the permission 403, each in Graph's error shape (rendered by the route).

use serde::Deserialize;

use crate::directory::TokenVersion;
use crate::error::Error;
use crate::keys::verify::verify;
use crate::oauth::claims::{token_issuer, GRAPH_APP_ID};
use crate::oauth::revocation;
use crate::state::AppState;

/// The permission revokeSignInSessions requires.
pub const REVOKE_SESSIONS: &str = "User.RevokeSessions.All";

/// The delegated permissions that allow it: the least privileged one and the doc's higher-privileged
/// ones (an application may only hold the first).
const REVOKE_SESSIONS_DELEGATED: [&str; 3] = [
    REVOKE_SESSIONS,
    "Directory.ReadWrite.All",
    "User.ReadWrite.All",
];

/// Whose sessions a call names.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `/users/{id | userPrincipalName}`.
    User(&'a str),
    /// `/me`: the signed-in user of a delegated token.
    Me,
}

/// Graph's refusals.
#[derive(Debug)]
pub enum GraphError {
    /// 401 `InvalidAuthenticationToken`.
    Unauthenticated(&'static str),
    /// 403 `Authorization_RequestDenied`.
    Forbidden,
    /// 404 `Request_ResourceNotFound`.
    UserNotFound(String),
    /// 400 `BadRequest`: `/me` called with an app-only token.
    MeWithoutUser,
    Internal(Error),
}

impl From<Error> for GraphError {
    fn from(e: Error) -> Self {
        GraphError::Internal(e)
    }
}

#[derive(Deserialize)]
struct Caller {
    aud: String,
    iss: String,
    exp: i64,
    nbf: i64,
    tid: String,
    oid: String,
    #[serde(default)]
    scp: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Who may call: the verified Graph token's holder.
async fn caller(
    state: &AppState,
    bearer: Option<&str>,
    base_url: &str,
    now: i64,
) -> Result<Caller, GraphError> {
    let token = bearer.ok_or(GraphError::Unauthenticated("Access token is empty."))?;
    let invalid = GraphError::Unauthenticated("Access token validation failure. Invalid audience.");
    // Graph tokens are signed over a hashed `nonce` header (see `keys::SigningKey::sign_graph`).
    let signed = crate::keys::graph_signed_form(token).ok_or(GraphError::Unauthenticated(
        "Access token validation failure.",
    ))?;
    let c: Caller = verify(&state.keys.snapshot(), &signed)
        .map_err(|_| GraphError::Unauthenticated("Access token validation failure."))?;
    if c.aud != GRAPH_APP_ID || c.iss != token_issuer(base_url, &c.tid, TokenVersion::V1) {
        return Err(invalid);
    }
    if c.exp <= now || c.nbf > now.saturating_add(300) {
        return Err(GraphError::Unauthenticated(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    Ok(c)
}

pub async fn revoke_sign_in_sessions(
    state: &AppState,
    bearer: Option<&str>,
    target: Target<'_>,
    base_url: &str,
    now: i64,
) -> Result<(), GraphError> {
    let c = caller(state, bearer, base_url, now).await?;
    let as_app = c.roles.iter().any(|r| r == REVOKE_SESSIONS);
    let delegated = c.scp.split(' ').any(|s| {
        REVOKE_SESSIONS_DELEGATED
            .iter()
            .any(|p| s.eq_ignore_ascii_case(p))
    });
    let user = match target {
        Target::User(user) => user,
        // An app-only token has no user: its `oid` is the service principal's.
        Target::Me if c.scp.is_empty() => return Err(GraphError::MeWithoutUser),
        Target::Me => c.oid.as_str(),
    };
    if !as_app && !delegated {
        return Err(GraphError::Forbidden);
    }
    let target = state
        .store
        .user_by_id_or_upn(user)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| GraphError::UserNotFound(user.to_string()))?;
    if !as_app && target.oid != c.oid {
        return Err(GraphError::Forbidden);
    }
    revocation::revoke_sign_in_sessions(state, &target.oid, now)
        .await?
        .ok_or_else(|| GraphError::UserNotFound(user.to_string()))
}
