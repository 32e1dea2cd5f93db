//! `grant_type=authorization_code` (RFC 6749 section 4.1.3, PKCE RFC 7636 section 4.6, Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#redeem-a-code-for-an-access-token>).
//! The code is consumed atomically; a replay fails with AADSTS54005 and revokes the refresh tokens
//! issued from it (RFC 9700 section 4.5). A code sent to a `spa` redirect URI must be redeemed
//! cross-origin with PKCE (AADSTS9002327, AADSTS9002325); an `Origin` on any other redirect URI
//! is refused (AADSTS9002326).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{check_not_revoked, parse_amr, scopes, Authentication, Chain, Env};
use crate::crypto::digest_eq;
use crate::directory::Platform;
use crate::error::{Error, Result};
use crate::oauth::params::{Params, Secret};
use crate::oauth::token::TokenResponse;
use crate::store::codes::{AuthCode, Redemption};

/// How long /authorize should make a code valid: Entra's codes live about 10 minutes
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#successful-response>).
pub const CODE_LIFETIME_SECS: i64 = 600;

#[derive(Debug)]
pub struct Request {
    code: Secret,
    redirect_uri: String,
    code_verifier: Option<Secret>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            code: Secret::new(params.require("code")?),
            redirect_uri: params.require("redirect_uri")?.to_string(),
            code_verifier: params.secret("code_verifier"),
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
    let code = req.code.expose();
    let family_id = family_of(code);
    let c = match store.consume_code(code, env.now).await? {
        Redemption::Fresh(c) => c,
        Redemption::Replayed(_) => {
            let revoked = store.revoke_code_family(code, &family_id, env.now).await?;
            tracing::warn!(revoked, "authorization code replayed: its grant is revoked");
            return Err(Error::CodeAlreadyRedeemed);
        }
        Redemption::Unknown => return Err(Error::MalformedGrant),
    };
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
    let spa = check_origin(env, &c)?;
    check_pkce(&c, req.code_verifier.as_ref(), spa)?;

    let user = store
        .user_by_oid(&c.user_oid)
        .await?
        .ok_or(Error::InvalidGrant("The user no longer exists."))?;
    check_not_revoked(&user, c.created_at)?;
    let scopes = scopes::delegated(&env.state.directory, &env.client.app, &c.scope)?;
    let refresh = scopes.oidc.offline_access;
    if refresh {
        store.link_code_family(code, &family_id).await?;
    }
    let auth = Authentication {
        session_id: Some(c.session_id.clone()),
        amr: parse_amr(&c.amr_json)?,
        auth_time: c.auth_time,
        nonce: c.nonce.clone(),
        include_auth_time: c.include_auth_time,
        claims: c.claims_json.clone(),
    };
    let chain = Chain {
        family_id,
        family_created_at: env.now,
        spa,
    };
    super::issue_user_tokens(env, &user, &scopes, &auth, chain, refresh).await
}

/// Entra's cross-origin rules for codes
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>, 9002325-9002327).
/// Returns whether the code went to a SPA redirect URI.
fn check_origin(env: &Env<'_>, c: &AuthCode) -> Result<bool> {
    let spa = Platform::parse(&c.redirect_platform) == Some(Platform::Spa);
    match (spa, env.origin) {
        (true, None) => Err(Error::SpaOriginRequired),
        (false, Some(origin)) => Err(Error::OriginOnNonSpa(origin.to_string())),
        _ => Ok(spa),
    }
}

/// PKCE (RFC 7636 section 4.6). A verifier without a challenge is refused too: it would let an
/// attacker who stripped the challenge pass as a PKCE client (RFC 9700 section 4.8.2).
fn check_pkce(c: &AuthCode, verifier: Option<&Secret>, spa: bool) -> Result<()> {
    match (c.code_challenge.as_deref(), verifier) {
        (None, _) if spa => Err(Error::SpaPkceRequired),
        // Entra lets a web or native (publicClient) redirect URI redeem without PKCE; only SPA
        // codes insist on it.
        (None, None) => Ok(()),
        (None, Some(_)) | (Some(_), None) => Err(Error::PkceMismatch),
        (Some(challenge), Some(v)) => {
            let v = v.expose();
            // RFC 7636 section 4.1: 43 to 128 unreserved characters.
            let well_formed = (43..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            let computed = match c.code_challenge_method.as_deref().unwrap_or("plain") {
                "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())),
                _ => v.to_string(),
            };
            if well_formed && digest_eq(computed.as_bytes(), challenge.as_bytes()) {
                Ok(())
            } else {
                Err(Error::PkceMismatch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_family_is_stable_and_differs_between_codes() {
        assert_eq!(family_of("a"), family_of("a"));
        assert_ne!(family_of("a"), family_of("b"));
    }
}
