//! `grant_type=refresh_token` (RFC 6749 section 6, Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token>).
//! Every use returns a new refresh token (rotation). The old one stays valid under the `allow`
//! policy (Entra's behaviour); under `detect`, presenting it again revokes the whole family
//! (RFC 9700 section 4.14.2). Lifetimes: 24 h fixed for chains started on a SPA redirect URI
//! (AADSTS700084), 90 days of inactivity otherwise (AADSTS700082)
//! (<https://learn.microsoft.com/entra/identity-platform/refresh-tokens>). Scopes may be narrowed
//! or switched to another resource the client is consented for.

use super::{check_not_revoked, check_origin, stamp, Authentication, Chain, Env, TokenResponse};
use crate::directory::RefreshReuse;
use crate::error::{Error, Result};
use crate::oauth::lifetimes::{REFRESH_INACTIVITY_SECS, SPA_REFRESH_LIFETIME_SECS};
use crate::oauth::params::{Params, Secret};
use crate::store::refresh::{ChainKind, RefreshGrant, Use};

#[derive(Debug)]
pub struct Request {
    refresh_token: Secret,
    scope: Option<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            refresh_token: Secret::new(params.require("refresh_token")?),
            scope: params.get("scope").map(str::to_string),
        })
    }
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    let store = &env.state.store;
    let token = req.refresh_token.expose();
    let mode = match env.client.app.refresh_reuse {
        RefreshReuse::Allow => Use::Reusable,
        RefreshReuse::Detect => Use::SingleUse,
    };
    // The usual case in one query; a token whose user is gone is read alone.
    let (g, user, grants) = match store.find_refresh_with_user(token).await? {
        Some((g, user, grants)) => (g, Some(user), grants),
        None => (
            store
                .find_refresh(token)
                .await?
                .ok_or(Error::MalformedGrant)?,
            None,
            Vec::new(),
        ),
    };
    if let Some(revoked_at) = g.revoked_at {
        return Err(revoked(&g, revoked_at));
    }
    // A reuse within the app's grace period (its first answer may never have arrived: a
    // dropped connection, a crash after the commit) is answered again, as Okta's grace period
    // and Auth0's reuse interval do; only a later one is taken as theft.
    let grace = env.client.app.refresh_reuse_grace_secs;
    let within_grace = grace > 0
        && g.used_at
            .is_some_and(|used| env.now.saturating_sub(used) <= grace);
    if mode == Use::SingleUse && g.used_at.is_some() && !within_grace {
        return Err(reused(env, &g).await);
    }
    // Answered again: the first use's time stays, so the window does not slide.
    let mode = if within_grace { Use::Reusable } else { mode };
    // Check first: a request refused here leaves the token as it was (under `detect`, the
    // client's corrected retry must not look like theft).
    if g.client_id != env.client.app.client_id {
        // AADSTS700007 (quoted in microsoft/Partner-Center-PowerShell issue 419).
        return Err(Error::GrantOfAnotherClient);
    }
    // The chain keeps the client type of the grant that started it.
    env.client.require(g.client_type)?;
    // The cross-origin rules of codes hold for the refresh tokens of their chains.
    check_origin(g.kind, env.origin)?;
    let age = env.now.saturating_sub(g.family_created_at);
    if g.kind == ChainKind::Spa && age >= SPA_REFRESH_LIFETIME_SECS {
        return Err(Error::SpaRefreshTokenExpired(stamp(g.family_created_at)?));
    }
    let inactive = env.now.saturating_sub(g.created_at);
    if g.kind == ChainKind::Standard && inactive >= REFRESH_INACTIVITY_SECS {
        return Err(Error::RefreshTokenInactive {
            issued: stamp(g.created_at)?,
            inactive: format_duration(inactive),
        });
    }
    let user = user.ok_or(Error::InvalidGrant("The user no longer exists."))?;
    check_not_revoked(&user, g.family_created_at)?;
    let scope = req.scope.as_deref().unwrap_or(&g.scope);
    let mut scopes = env.scopes_with(&grants, scope)?;
    scopes.check_itself_named_by_id(&env.client.app)?;
    // The chain goes on: a refresh always returns a new refresh token.
    scopes.oidc.offline_access = true;
    // A claims challenge asking for MFA (a CAE or Conditional Access challenge the client passes
    // on) cannot be met by a session without it: interactive sign-in, AADSTS50076.
    let demands_mfa = env
        .claims
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .is_some_and(|v| crate::oauth::claims::demands_mfa(&v));
    if demands_mfa && !g.amr.contains(&crate::amr::Amr::Mfa) {
        return Err(Error::MfaRequired(env.client.app.display_name.clone()));
    }
    let auth = Authentication {
        session_id: g.session_id.clone(),
        amr: g.amr.clone(),
        auth_time: g.auth_time,
        nonce: None,
        include_auth_time: false,
        claims: None,
    };
    let chain = Chain {
        family_id: g.family_id.clone(),
        family_created_at: g.family_created_at,
        kind: g.kind,
    };
    let issued = super::issue_user_tokens(env, &user, &scopes, &auth, chain, true).await?;

    // Consume last: the old token is marked used by the statement that stores its successor.
    if !issued.rotate(store, token, mode).await? {
        // A concurrent request revoked or (single use) used it first.
        return Err(match store.find_refresh(token).await? {
            Some(now) => match now.revoked_at {
                Some(at) => revoked(&now, at),
                None => reused(env, &now).await,
            },
            None => Error::MalformedGrant,
        });
    }
    Ok(issued.response)
}

/// AADSTS50173: the grant was revoked at `revoked_at`.
fn revoked(g: &RefreshGrant, revoked_at: i64) -> Error {
    match (stamp(g.family_created_at), stamp(revoked_at)) {
        (Ok(issued), Ok(valid_from)) => Error::GrantRevoked { issued, valid_from },
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// A single-use token presented again: reuse is theft, so the whole family is revoked
/// (RFC 9700 section 4.14.2).
async fn reused(env: &Env<'_>, g: &RefreshGrant) -> Error {
    match env.state.store.revoke_family(&g.family_id, env.now).await {
        Ok(n) => {
            tracing::warn!(
                revoked = n,
                "rotated refresh token reused: its family is revoked"
            );
            revoked(g, env.now)
        }
        Err(e) => e.into(),
    }
}

/// `d.hh:mm:ss`, as Entra writes durations in AADSTS700082.
fn format_duration(secs: i64) -> String {
    let (d, rest) = (secs / 86400, secs % 86400);
    format!(
        "{d}.{:02}:{:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_written_as_entra_does() {
        assert_eq!(super::format_duration(90 * 86400 + 3661), "90.01:01:01");
    }
}
