//! `grant_type=authorization_code` (RFC 6749 section 4.1.3, PKCE RFC 7636 section 4.6, Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#redeem-a-code-for-an-access-token>).
//! The code is consumed atomically; a replay fails with AADSTS54005 and revokes the refresh tokens
//! issued from it (RFC 9700 section 4.5). The client type is the platform of the code's redirect
//! URI: `web` needs the app's credential (AADSTS7000218), `publicClient` and `spa` refuse one
//! (AADSTS700025), whatever `isFallbackPublicClient` says. A code sent to a `spa` redirect URI
//! must be redeemed cross-origin with PKCE (AADSTS9002327, AADSTS9002325); an `Origin` on any
//! other redirect URI is refused (AADSTS9002326).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{check_not_revoked, check_origin, Authentication, Chain, Env, TokenResponse};
use crate::directory::Platform;
use crate::error::{Error, Result};
use crate::oauth::params::{Endpoint, Params, Secret};
use crate::oauth::scope::OidcScopes;
use crate::store::codes::{AuthCode, CodeLookup};
use crate::store::refresh::ChainKind;

#[derive(Debug)]
pub struct Request {
    code: Secret,
    redirect_uri: String,
    code_verifier: Option<Secret>,
    /// What the code is redeemed for: a v1 request's `resource` (as scope), or a v2.0
    /// request's resource scopes ([`redemption_scope`]).
    scope: Option<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            code: Secret::new(params.require("code")?),
            redirect_uri: params.require("redirect_uri")?.to_string(),
            code_verifier: params.secret("code_verifier"),
            scope: params.get("scope").map(str::to_string),
        })
    }
}

/// The family (grant) of the tokens issued from a code, derived from the code itself so that a
/// replay finds it even while the first redemption is still in flight.
pub fn family_of(code: &str) -> String {
    let d = Sha256::digest([b"family:".as_slice(), code.as_bytes()].concat());
    URL_SAFE_NO_PAD.encode(&d[..18])
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    let store = &env.state.store;
    // Entra tells the client type by the request's redirect URI as registered, before it reads
    // the code ("How Microsoft Entra ID determines the client type", the support article on
    // AADSTS7000218): a code sent to a `web` redirect URI is redeemed with the app's
    // credential, one sent to a `publicClient` or `spa` one without. A redirect URI no longer
    // registered is typed by the code's platform, once the code is read.
    let registered = env.client.app.redirect_platform(&req.redirect_uri);
    if let Some(platform) = registered {
        env.client.require(platform.client_type())?;
    }
    let code = req.code.expose();
    let family_id = family_of(code);
    // The usual case in one query; the others (unknown, replayed, user gone) are told apart by
    // a second one.
    let (c, user, grants) = match store.find_fresh_code_with_user(code).await? {
        Some((c, user, grants)) => (c, Some(user), grants),
        None => match store.find_code(code).await? {
            CodeLookup::Fresh(c) => (c, None, Vec::new()),
            CodeLookup::Consumed(_) => return Err(replayed(env, code, &family_id).await),
            CodeLookup::Unknown => return Err(Error::MalformedGrant),
        },
    };
    // Check first: nothing below writes until every rule has passed.
    if c.client_id != env.client.app.client_id {
        return Err(Error::InvalidGrant(
            "The authorization code was issued to another client.",
        ));
    }
    if env.now >= c.expires_at {
        return Err(Error::GrantExpired);
    }
    if c.redirect_uri != req.redirect_uri {
        return Err(Error::RedirectUriDiffers(req.redirect_uri));
    }
    if registered.is_none() {
        env.client.require(c.platform.client_type())?;
    }
    let kind = chain_kind(&c);
    check_origin(kind, env.origin)?;
    check_pkce(&c, req.code_verifier.as_ref(), kind)?;
    let user = user.ok_or(Error::InvalidGrant("The user no longer exists."))?;
    check_not_revoked(&user, c.created_at)?;
    let scope = match (env.endpoint, &req.scope) {
        (Endpoint::V1, Some(s)) => s.clone(),
        (Endpoint::V2, asked) => redemption_scope(&c.scope, asked.as_deref()),
        (Endpoint::V1, None) => c.scope.clone(),
    };
    let scopes = env.scopes_with(&grants, &scope)?;
    let refresh = scopes.oidc.offline_access;
    let auth = Authentication {
        session_id: Some(c.session_id.clone()),
        amr: c.amr.clone(),
        auth_time: c.auth_time,
        nonce: c.nonce.clone(),
        include_auth_time: c.include_auth_time,
        claims: c.claims_json.clone(),
    };
    let chain = Chain {
        family_id: family_id.clone(),
        family_created_at: env.now,
        kind,
    };
    let issued = super::issue_user_tokens(env, &user, &scopes, &auth, chain, refresh).await?;

    // Consume last, by the statement that stores the refresh token the code is exchanged for.
    if !issued.redeem(store, code, env.now).await? {
        return Err(replayed(env, code, &family_id).await);
    }
    Ok(issued.response)
}

/// The scopes a v2.0 code is redeemed for. The request's `scope` names the resource: "The scopes
/// must all be from a single resource ... intended to allow apps to declare the resource they want
/// the token for during token redemption" (v2-oauth2-auth-code-flow, "Redeem a code for an access
/// token"), so a code whose sign-in consented to several resources (MSAL's
/// `extraScopesToConsent`) is redeemed for one of them, each consent checked as at a refresh.
/// The OpenID scopes stay those the user authorized (`openid` for the ID token,
/// `offline_access` for the refresh token); a request naming no resource scope, or none at all,
/// is redeemed for the code's scopes.
fn redemption_scope(code_scope: &str, asked: Option<&str>) -> String {
    let resource: Vec<&str> = asked
        .unwrap_or("")
        .split_whitespace()
        .filter(|s| !OidcScopes::is_oidc(s))
        .collect();
    if resource.is_empty() {
        return code_scope.to_string();
    }
    code_scope
        .split_whitespace()
        .filter(|s| OidcScopes::is_oidc(s))
        .chain(resource)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A code presented again: the grant it started is revoked (RFC 9700 section 4.5) and the
/// request fails with AADSTS54005.
async fn replayed(env: &Env<'_>, code: &str, family_id: &str) -> Error {
    match env
        .state
        .store
        .revoke_code_family(code, family_id, env.now)
        .await
    {
        Ok(revoked) => {
            tracing::warn!(revoked, "authorization code replayed: its grant is revoked");
            Error::CodeAlreadyRedeemed
        }
        Err(e) => e.into(),
    }
}

/// The kind of chain a code starts: a code sent to a SPA redirect URI starts a SPA chain.
fn chain_kind(c: &AuthCode) -> ChainKind {
    match c.platform {
        Platform::Spa => ChainKind::Spa,
        Platform::Web | Platform::PublicClient => ChainKind::Standard,
    }
}

/// PKCE (RFC 7636 section 4.6). A verifier without a challenge is refused too: it would let an
/// attacker who stripped the challenge pass as a PKCE client (RFC 9700 section 4.8.2).
fn check_pkce(c: &AuthCode, verifier: Option<&Secret>, kind: ChainKind) -> Result<()> {
    match (&c.pkce, verifier) {
        (None, _) if kind == ChainKind::Spa => Err(Error::SpaPkceRequired),
        // Entra lets a web or native (publicClient) redirect URI redeem without PKCE; only SPA
        // codes insist on it.
        (None, None) => Ok(()),
        (None, Some(_)) | (Some(_), None) => Err(Error::PkceMismatch),
        (Some(pkce), Some(v)) if pkce.verifies(v.expose()) => Ok(()),
        (Some(_), Some(_)) => Err(Error::PkceMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redemption_names_the_resource_and_keeps_the_codes_openid_scopes() {
        let code = "openid profile offline_access api://x/read User.Read";
        assert_eq!(
            redemption_scope(code, Some("api://x/read openid")),
            "openid profile offline_access api://x/read"
        );
        assert_eq!(
            redemption_scope(code, Some("User.Read")),
            "openid profile offline_access User.Read"
        );
        assert_eq!(redemption_scope(code, Some("openid offline_access")), code);
        assert_eq!(redemption_scope(code, None), code);
        assert_eq!(
            redemption_scope("openid api://x/read", Some("api://x/read offline_access")),
            "openid api://x/read",
            "offline_access not authorized at sign-in gives no refresh token"
        );
    }

    #[test]
    fn a_code_family_is_stable_and_differs_between_codes() {
        assert_eq!(family_of("a"), family_of("a"));
        assert_ne!(family_of("a"), family_of("b"));
    }
}
