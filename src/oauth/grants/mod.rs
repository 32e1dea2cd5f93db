//! One module per grant (`authorization_code`, `refresh_token`, `client_credentials`), plus what
//! the delegated grants share: issuing the user's tokens and rotating refresh tokens.
//!
//! Check first, consume last (node-oidc-provider's grants, RFC 9700 section 4.14): a grant
//! validates everything (client, redirect URI, PKCE, Origin, scope, lifetimes, user) and mints its
//! tokens before it writes anything; then one [`Tx`] consumes the code or refresh token and stores
//! what replaces it. A refused request writes nothing.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod on_behalf_of;
pub mod password;
pub mod refresh_token;
pub mod scopes;

use serde::Serialize;

use crate::amr::Amr;
use crate::directory::{ResolvedTenant, User};
use crate::error::{Error, Result};
use crate::oauth::claims::{self, AccessTokenInput, IdTokenInput, Subject, UserGrant};
use crate::oauth::client_auth::AuthenticatedClient;
use crate::oauth::client_info::ClientInfo;
use crate::oauth::lifetimes::SPA_REFRESH_LIFETIME_SECS;
use crate::oauth::params::Endpoint;
use crate::state::AppState;
use crate::store::refresh::{ChainKind, RefreshGrant, Use};
use crate::store::Tx;

/// What every grant works with.
pub struct Env<'a> {
    pub state: &'a AppState,
    pub tenant: ResolvedTenant,
    pub client: AuthenticatedClient,
    pub base_url: &'a str,
    pub origin: Option<&'a str>,
    /// `client_info=1`: MSAL wants `client_info` in the answer.
    pub client_info: ClientInfo,
    /// The `claims` request parameter (JSON), if any.
    pub claims: Option<&'a str>,
    /// v1 endpoints issue v1 ID tokens.
    pub endpoint: Endpoint,
    pub now: i64,
}

impl Env<'_> {
    /// The scopes of a delegated request with the consent grants read with the code or refresh
    /// token (`scopes::delegated_with`).
    pub fn scopes_with(&self, grants: &[scopes::Grant], scope: &str) -> Result<scopes::Delegated> {
        scopes::delegated_with(&self.state.directory(), &self.client.app, grants, scope)
    }

    /// The scopes of a delegated request for `user`, with the user's own consent grants
    /// (`scopes::delegated_for`).
    pub async fn user_scopes(&self, user: &User, scope: &str) -> Result<scopes::Delegated> {
        scopes::delegated_for(
            &self.state.store,
            &self.state.directory(),
            &self.client.app,
            &user.oid,
            scope,
        )
        .await
    }
}

/// How the user authenticated, carried from the code into every refreshed token.
#[derive(Debug, Clone)]
pub struct Authentication {
    pub session_id: Option<String>,
    pub amr: Vec<Amr>,
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
    pub kind: ChainKind,
}

/// Entra's cross-origin rules for codes and the refresh tokens of their chains
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>, 9002326-9002327):
/// a SPA chain is redeemed cross-origin (with `Origin`), any other chain never is.
pub fn check_origin(kind: ChainKind, origin: Option<&str>) -> Result<()> {
    match (kind, origin) {
        (ChainKind::Spa, None) => Err(Error::SpaOriginRequired),
        (ChainKind::Standard, Some(origin)) => Err(Error::OriginOnNonSpa(origin.to_string())),
        _ => Ok(()),
    }
}

/// `acrs` values asked for by a `claims` parameter:
/// `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}` (or `values`).
fn requested_acrs(claims: Option<&str>) -> Vec<String> {
    access_token_claim_values(claims, "acrs")
}

/// The client capabilities (`xms_cc`) of the sign-in's `claims` and of this request's, together:
/// MSAL sends its `clientCapabilities` with every request, merged with any claims challenge.
fn client_capabilities(signin: Option<&str>, request: Option<&str>) -> Vec<String> {
    let mut out = access_token_claim_values(signin, "xms_cc");
    for v in access_token_claim_values(request, "xms_cc") {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `value` and `values` of one member of the `claims` parameter's `access_token` object.
fn access_token_claim_values(claims: Option<&str>, name: &str) -> Vec<String> {
    let Some(v) = claims.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()) else {
        return Vec::new();
    };
    let acrs = &v["access_token"][name];
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
pub fn new_refresh_token() -> String {
    format!("1.A{}", crate::crypto::random_b64(64))
}

/// Rejects a user whose sessions were revoked after the grant began (AADSTS50173).
pub fn check_not_revoked(user: &User, grant_created_at: i64) -> Result<()> {
    match user.sessions_revoked_at {
        Some(at) if grant_created_at <= at => Err(Error::GrantRevoked {
            issued: stamp(grant_created_at)?,
            valid_from: stamp(at)?,
        }),
        _ => Ok(()),
    }
}

/// A stored Unix time as Entra writes dates in error messages. Times come from our own clock; one
/// out of range is a corrupt row and an error, never shown as 1970.
pub fn stamp(unix: i64) -> Result<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::clock::entra_timestamp)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored time {unix}: {e}")))
}

/// Tokens minted for a grant, not stored yet: the refresh token (if any) is written by
/// [`Issued::store`] in the transaction that consumes what the grant redeemed.
pub struct Issued {
    pub response: TokenResponse,
    refresh: Option<RefreshGrant>,
}

impl Issued {
    /// Writes the new refresh token, if any, as part of `tx`.
    pub async fn store(&self, tx: &mut Tx) -> Result<()> {
        if let (Some(g), Some(token)) = (&self.refresh, &self.response.refresh_token) {
            tx.insert_refresh(token, g).await?;
        }
        Ok(())
    }

    /// Consumes `code` and stores the refresh token (if any) in one statement
    /// ([`crate::store::Store::redeem_code`]); false, with nothing written, when the code was
    /// consumed first.
    pub async fn redeem(&self, store: &crate::store::Store, code: &str, now: i64) -> Result<bool> {
        let first = match (&self.refresh, &self.response.refresh_token) {
            (Some(g), Some(token)) => Some((token.as_str(), g)),
            _ => None,
        };
        Ok(store.redeem_code(code, first, now).await?)
    }

    /// Stores the refresh token as the successor of `token`, marking that one used in the same
    /// statement ([`crate::store::Store::rotate_refresh`]); false, with nothing written, when
    /// `token` may no longer be used.
    pub async fn rotate(
        &self,
        store: &crate::store::Store,
        token: &str,
        mode: Use,
    ) -> Result<bool> {
        match (&self.refresh, &self.response.refresh_token) {
            (Some(g), Some(next)) => Ok(store.rotate_refresh(token, next, g, mode).await?),
            _ => Err(Error::Internal(anyhow::anyhow!(
                "a refresh grant mints a refresh token"
            ))),
        }
    }
}

/// The tokens of a grant that starts a new chain without a sign-in session (username/password,
/// on-behalf-of): minted, then the refresh token (with `offline_access`) stored in one
/// transaction.
pub async fn issue_without_session(
    env: &Env<'_>,
    user: &User,
    scopes: &scopes::Delegated,
    amr: Vec<Amr>,
    auth_time: i64,
) -> Result<TokenResponse> {
    let auth = Authentication {
        session_id: None,
        amr,
        auth_time,
        nonce: None,
        include_auth_time: false,
        claims: None,
    };
    let chain = Chain {
        family_id: crate::crypto::random_b64(18),
        family_created_at: env.now,
        kind: ChainKind::Standard,
    };
    let refresh = scopes.oidc.offline_access;
    let issued = issue_user_tokens(env, user, scopes, &auth, chain, refresh).await?;
    let mut tx = env.state.store.write().await?;
    issued.store(&mut tx).await?;
    tx.commit().await?;
    Ok(issued.response)
}

/// Mints the tokens of a delegated grant: access token for the resolved target, ID token with
/// `openid`, a new refresh token with `offline_access` (rotation: every use returns a new one).
/// Writes nothing.
pub async fn issue_user_tokens(
    env: &Env<'_>,
    user: &User,
    scopes: &scopes::Delegated,
    auth: &Authentication,
    chain: Chain,
    refresh: bool,
) -> Result<Issued> {
    let app = &env.client.app;
    let keys = env.state.keys.snapshot();
    let directory = &env.state.directory();
    let claims_param = auth.claims.as_deref().or(env.claims);
    let access = claims::unsigned_access_token(
        &keys,
        &AccessTokenInput {
            base_url: env.base_url,
            directory,
            tid: &user.tenant_id,
            client: app,
            client_auth: env.client.method,
            target: &scopes.target,
            subject: Subject::User(UserGrant {
                user,
                scp: &scopes.values,
                amr: &auth.amr,
                session_id: auth.session_id.as_deref(),
                auth_time: auth.auth_time,
                acrs: requested_acrs(claims_param),
                client_capabilities: client_capabilities(auth.claims.as_deref(), env.claims),
            }),
            delivery: crate::oauth::claims::Delivery::TokenResponse,
            now: env.now,
        },
    )?;
    let id_token = if scopes.oidc.openid {
        Some(claims::unsigned_id_token(
            &keys,
            &IdTokenInput {
                base_url: env.base_url,
                directory,
                app,
                user,
                session_id: auth.session_id.as_deref(),
                amr: &auth.amr,
                auth_time: auth.auth_time,
                include_auth_time: auth.include_auth_time,
                nonce: auth.nonce.as_deref(),
                with_email: scopes.oidc.email,
                with_profile: scopes.oidc.profile,
                code: None,
                access_token: None,
                endpoint: env.endpoint,
                delivery: crate::oauth::claims::Delivery::TokenResponse,
                now: env.now,
            },
        )?)
    } else {
        None
    };
    // The two signatures at once when a core is free.
    let (access_token, id_token) = crate::keys::parallel::sign_pair(access.jwt, id_token).await?;
    let grant = refresh.then(|| RefreshGrant {
        family_id: chain.family_id.clone(),
        client_id: app.client_id.clone(),
        user_oid: user.oid.clone(),
        scope: auth_scope_string(scopes),
        session_id: auth.session_id.clone(),
        amr: auth.amr.clone(),
        auth_time: auth.auth_time,
        kind: chain.kind,
        // The type the client authenticated as: every refresh of the chain authenticates alike.
        client_type: env.client.method.client_type(),
        family_created_at: chain.family_created_at,
        created_at: env.now,
        used_at: None,
        revoked_at: None,
    });
    // Entra adds `refresh_token_expires_in` for SPA chains (fixed lifetime).
    let refresh_token_expires_in = (refresh && chain.kind == ChainKind::Spa).then(|| {
        chain
            .family_created_at
            .saturating_add(SPA_REFRESH_LIFETIME_SECS)
            .saturating_sub(env.now)
    });
    let response = TokenResponse {
        token_type: "Bearer",
        scope: Some(scopes.granted.clone()),
        expires_in: access.expires_in,
        ext_expires_in: access.expires_in,
        access_token,
        refresh_token: grant.as_ref().map(|_| new_refresh_token()),
        refresh_token_expires_in,
        id_token,
        client_info: env.client_info.value(&user.oid, &user.tenant_id),
    };
    Ok(Issued {
        response,
        refresh: grant,
    })
}

/// The success body of the token endpoint. Fields absent for a grant are left out, as Entra does
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#successful-response-2>).
#[derive(Serialize)]
pub struct TokenResponse {
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Entra adds it for refresh tokens of SPA chains (fixed 24 h lifetime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .field("tokens", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The scope string stored with a refresh token: the OpenID scopes and the resource scopes as
/// the request named them, so a refresh without `scope` gets the same tokens again.
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
    parts.extend(scopes.asked.iter().map(String::as_str));
    parts.join(" ")
}
