//! One module per grant (`authorization_code`, `refresh_token`, `client_credentials`), plus what
//! the delegated grants share: issuing the user's tokens and rotating refresh tokens.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod scopes;

use crate::directory::{ResolvedTenant, User};
use crate::error::{Error, Result};
use crate::oauth::claims::{self, AccessTokenInput, IdTokenInput, Subject, Target, UserGrant};
use crate::oauth::client_auth::AuthenticatedClient;
use crate::oauth::token::TokenResponse;
use crate::state::AppState;
use crate::store::refresh::RefreshGrant;

/// A refresh-token chain started on a SPA redirect URI lives 24 hours, whatever its use
/// (<https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime>).
pub const SPA_REFRESH_LIFETIME_SECS: i64 = 24 * 3600;
/// Other refresh tokens expire after 90 days without use.
pub const REFRESH_INACTIVITY_SECS: i64 = 90 * 24 * 3600;

/// What every grant works with.
pub struct Env<'a> {
    pub state: &'a AppState,
    pub tenant: ResolvedTenant,
    pub client: AuthenticatedClient,
    pub base_url: &'a str,
    pub origin: Option<&'a str>,
    /// `client_info=1`: MSAL wants `client_info` in the answer.
    pub client_info: bool,
    /// The `claims` request parameter (JSON), if any.
    pub claims: Option<&'a str>,
    pub now: i64,
}

/// How the user authenticated, carried from the code into every refreshed token.
#[derive(Debug, Clone)]
pub struct Authentication {
    pub session_id: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: i64,
    pub nonce: Option<String>,
    pub include_auth_time: bool,
    pub claims: Option<String>,
}

/// The refresh-token chain new tokens belong to.
#[derive(Debug, Clone)]
pub struct Chain {
    pub family_id: String,
    pub family_created_at: i64,
    pub spa: bool,
}

pub fn parse_amr(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::anyhow!("stored amr: {e}")))
}

/// `acrs` values asked for by a `claims` parameter:
/// `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}` (or `values`).
fn requested_acrs(claims: Option<&str>) -> Vec<String> {
    let Some(v) = claims.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()) else {
        return Vec::new();
    };
    let acrs = &v["access_token"]["acrs"];
    let mut out: Vec<String> = acrs["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(one) = acrs["value"].as_str() {
        out.push(one.to_string());
    }
    out
}

/// A new opaque refresh token: 64 random bytes, base64url, after the `1.A` prefix of Entra's.
fn new_refresh_token() -> String {
    format!("1.A{}", crate::crypto::random_b64(64))
}

/// Rejects a user whose sessions were revoked after the grant began (AADSTS50173).
pub fn check_not_revoked(user: &User, grant_created_at: i64) -> Result<()> {
    match user.sessions_revoked_at {
        Some(at) if grant_created_at <= at => Err(Error::GrantRevoked {
            issued: crate::clock::entra_timestamp(ts(grant_created_at)),
            valid_from: crate::clock::entra_timestamp(ts(at)),
        }),
        _ => Ok(()),
    }
}

pub fn ts(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Issues the tokens of a delegated grant: access token for the resolved target, ID token with
/// `openid`, a new refresh token with `offline_access` (rotation: every use returns a new one).
pub async fn issue_user_tokens(
    env: &Env<'_>,
    user: &User,
    scopes: &scopes::Delegated,
    auth: &Authentication,
    chain: Chain,
    refresh: bool,
) -> Result<TokenResponse> {
    let app = &env.client.app;
    let keys = env.state.keys.snapshot();
    let directory = &env.state.directory;
    let (roles, groups) = match &scopes.target {
        Target::Api(api) => (
            directory.user_roles_for(&user.oid, &api.client_id),
            directory.groups_of(&user.oid),
        ),
        Target::Graph => (Vec::new(), directory.groups_of(&user.oid)),
    };
    let claims_param = auth.claims.as_deref().or(env.claims);
    let access = claims::mint_access_token(
        &keys,
        &AccessTokenInput {
            base_url: env.base_url,
            tid: &user.tenant_id,
            client: app,
            client_auth: env.client.method,
            target: &scopes.target,
            subject: Subject::User(UserGrant {
                user,
                scp: &scopes.values,
                roles,
                groups,
                amr: &auth.amr,
                session_id: auth.session_id.as_deref(),
                acrs: requested_acrs(claims_param),
            }),
            now: env.now,
        },
    )?;
    let id_token = if scopes.oidc.openid {
        Some(claims::mint_id_token(
            &keys,
            &IdTokenInput {
                base_url: env.base_url,
                app,
                user,
                session_id: auth.session_id.as_deref(),
                amr: &auth.amr,
                auth_time: auth.auth_time,
                include_auth_time: auth.include_auth_time,
                nonce: auth.nonce.as_deref(),
                with_email: scopes.oidc.email,
                code: None,
                access_token: None,
                now: env.now,
            },
        )?)
    } else {
        None
    };
    let (refresh_token, refresh_token_expires_in) = if refresh {
        let token = new_refresh_token();
        env.state
            .store
            .insert_refresh(
                &token,
                &RefreshGrant {
                    family_id: chain.family_id.clone(),
                    client_id: app.client_id.clone(),
                    user_oid: user.oid.clone(),
                    scope: auth_scope_string(scopes),
                    session_id: auth.session_id.clone(),
                    amr_json: serde_json::to_string(&auth.amr)
                        .map_err(|e| Error::Internal(e.into()))?,
                    auth_time: auth.auth_time,
                    spa: chain.spa,
                    family_created_at: chain.family_created_at,
                    created_at: env.now,
                    used_at: None,
                    revoked_at: None,
                },
            )
            .await?;
        let remaining = chain
            .spa
            .then(|| chain.family_created_at + SPA_REFRESH_LIFETIME_SECS - env.now);
        (Some(token), remaining)
    } else {
        (None, None)
    };
    Ok(TokenResponse {
        token_type: "Bearer",
        scope: Some(scopes.granted.clone()),
        expires_in: access.expires_in,
        ext_expires_in: access.expires_in,
        access_token: access.token,
        refresh_token,
        refresh_token_expires_in,
        id_token,
        client_info: env
            .client_info
            .then(|| claims::client_info(&user.oid, &user.tenant_id)),
    })
}

/// The scope string stored with a refresh token: the granted scopes plus the OpenID ones, so a
/// refresh without `scope` gets the same tokens again.
fn auth_scope_string(scopes: &scopes::Delegated) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if scopes.oidc.openid {
        parts.push("openid");
    }
    if scopes.oidc.profile {
        parts.push("profile");
    }
    if scopes.oidc.email {
        parts.push("email");
    }
    if scopes.oidc.offline_access {
        parts.push("offline_access");
    }
    let mut s = parts.join(" ");
    if let Target::Api(_) = scopes.target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&scopes.granted);
    }
    s
}
