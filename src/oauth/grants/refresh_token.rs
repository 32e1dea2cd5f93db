//! `grant_type=refresh_token` (RFC 6749 section 6, Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token>).
//! Every use returns a new refresh token (rotation). The old one stays valid under the `allow`
//! policy (Entra's behaviour); under `detect`, presenting it again revokes the whole family
//! (RFC 9700 section 4.14.2). Lifetimes: 24 h fixed for chains started on a SPA redirect URI
//! (AADSTS700084), 90 days of inactivity otherwise (AADSTS700082)
//! (<https://learn.microsoft.com/entra/identity-platform/refresh-tokens>). Scopes may be narrowed
//! or switched to another resource the client is consented for.

use super::{
    check_not_revoked, parse_amr, scopes, ts, Authentication, Chain, Env, REFRESH_INACTIVITY_SECS,
    SPA_REFRESH_LIFETIME_SECS,
};
use crate::clock::entra_timestamp;
use crate::directory::RefreshReuse;
use crate::error::{Error, Result};
use crate::oauth::params::{Params, Secret};
use crate::oauth::token::TokenResponse;
use crate::store::refresh::{RefreshUse, Use};

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
    let mode = match env.client.app.refresh_reuse {
        RefreshReuse::Allow => Use::Reusable,
        RefreshReuse::Detect => Use::SingleUse,
    };
    let g = match store
        .use_refresh(req.refresh_token.expose(), env.now, mode)
        .await?
    {
        RefreshUse::Accepted(g) => g,
        RefreshUse::Revoked(g) => {
            return Err(Error::GrantRevoked {
                issued: entra_timestamp(ts(g.family_created_at)),
                valid_from: entra_timestamp(ts(g.revoked_at.unwrap_or(env.now))),
            })
        }
        RefreshUse::Reused(g) => {
            let revoked = store.revoke_family(&g.family_id, env.now).await?;
            tracing::warn!(
                revoked,
                "rotated refresh token reused: its family is revoked"
            );
            return Err(Error::GrantRevoked {
                issued: entra_timestamp(ts(g.family_created_at)),
                valid_from: entra_timestamp(ts(env.now)),
            });
        }
        RefreshUse::Unknown => return Err(Error::MalformedGrant),
    };
    if g.client_id != env.client.app.client_id {
        return Err(Error::InvalidGrant(
            "The refresh token was issued to another client.",
        ));
    }
    // The cross-origin rules of codes hold for the refresh tokens of their chains.
    match (g.spa, env.origin) {
        (true, None) => return Err(Error::SpaOriginRequired),
        (false, Some(origin)) => return Err(Error::OriginOnNonSpa(origin.to_string())),
        _ => {}
    }
    if g.spa && env.now - g.family_created_at >= SPA_REFRESH_LIFETIME_SECS {
        return Err(Error::SpaRefreshTokenExpired(entra_timestamp(ts(
            g.family_created_at
        ))));
    }
    let inactive = env.now - g.created_at;
    if !g.spa && inactive >= REFRESH_INACTIVITY_SECS {
        return Err(Error::RefreshTokenInactive {
            issued: entra_timestamp(ts(g.created_at)),
            inactive: format_duration(inactive),
        });
    }
    let user = store
        .user_by_oid(&g.user_oid)
        .await?
        .ok_or(Error::InvalidGrant("The user no longer exists."))?;
    check_not_revoked(&user, g.family_created_at)?;
    let scope = req.scope.as_deref().unwrap_or(&g.scope);
    let mut scopes = scopes::delegated(&env.state.directory, &env.client.app, scope)?;
    // The chain goes on: a refresh always returns a new refresh token.
    scopes.oidc.offline_access = true;
    let auth = Authentication {
        session_id: g.session_id.clone(),
        amr: parse_amr(&g.amr_json)?,
        auth_time: g.auth_time,
        nonce: None,
        include_auth_time: false,
        claims: None,
    };
    let chain = Chain {
        family_id: g.family_id.clone(),
        family_created_at: g.family_created_at,
        spa: g.spa,
    };
    super::issue_user_tokens(env, &user, &scopes, &auth, chain, true).await
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
