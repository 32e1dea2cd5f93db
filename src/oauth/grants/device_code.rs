//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 section 3.4; Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code#authenticating-the-user>):
//! the device polls with its `device_code` and `client_id` (ADAL, at v1: `grant_type=device_code`
//! and the device code as `code`). Until the user has signed in at
//! `/devicelogin` the answer is `authorization_pending` (AADSTS70016), or `slow_down` when the
//! device polls faster than the `interval` it was given (RFC 8628 section 3.5); a user who cancelled
//! gives `authorization_declined`, an expired code `expired_token` (AADSTS70020; the page says 70019), an unknown one
//! `bad_verification_code` (AADSTS70018). Once approved, the code is consumed by the poll that
//! gets the tokens: the user's, as an authorization code would give them, `sid` included.
//! With no redirect URI, the client type is the app's `isFallbackPublicClient`: a confidential app
//! must send its credential (AADSTS7000218), so only apps that allow public-client flows poll
//! without one.

use super::{check_not_revoked, Authentication, Chain, Env, TokenResponse};
use crate::amr::parse_amr_json;
use crate::error::{Error, Result};
use crate::oauth::params::{Params, Secret};
use crate::store::device_codes::{device_code_id, DeviceStatus};
use crate::store::refresh::ChainKind;

#[derive(Debug)]
pub struct Request {
    device_code: Secret,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            device_code: Secret::new(params.require("device_code")?),
        })
    }

    /// ADAL's v1 form: `grant_type=device_code` with the device code as `code`.
    pub fn parse_v1(params: &Params) -> Result<Request> {
        let code = params
            .get("code")
            .or_else(|| params.get("device_code"))
            .ok_or(Error::MissingParameter("code"))?;
        Ok(Request {
            device_code: Secret::new(code),
        })
    }
}

/// A poll sooner than this after the previous one is told to slow down: clients wait `interval`
/// seconds between polls, and whole seconds on both ends may make that look one second shorter.
fn too_soon(interval: i64, since_last: i64) -> bool {
    since_last < interval - 1
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    // No redirect URI tells the client type: the app's `isFallbackPublicClient` does.
    env.client.require(env.client.app.fallback_client_type)?;
    let store = &env.state.store;
    let id = device_code_id(req.device_code.expose());
    let code = store
        .poll_device_code(&id, env.now)
        .await?
        .ok_or(Error::BadVerificationCode)?;
    // "client_id: Must match the client_id used in the initial request."
    if code.client_id != env.client.app.client_id {
        return Err(Error::BadVerificationCode);
    }
    if env.now >= code.expires_at {
        return Err(Error::DeviceCodePollExpired);
    }
    let (user_oid, session_id, amr_json, auth_time) = match code.status {
        DeviceStatus::Declined => return Err(Error::AuthorizationDeclined),
        DeviceStatus::Pending => {
            return Err(match code.last_poll_at {
                Some(last) if too_soon(code.interval_secs, env.now - last) => {
                    Error::SlowDown(code.interval_secs)
                }
                _ => Error::AuthorizationPending,
            })
        }
        DeviceStatus::Approved {
            user_oid,
            session_id,
            amr_json,
            auth_time,
        } => (user_oid, session_id, amr_json, auth_time),
    };
    let user = store
        .user_by_oid(&user_oid)
        .await?
        .ok_or(Error::InvalidGrant("The user no longer exists."))?;
    check_not_revoked(&user, code.created_at)?;
    let scopes = env.user_scopes(&user, &code.scope).await?;
    let amr = parse_amr_json(&amr_json)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored device code amr: {e}")))?;
    let auth = Authentication {
        session_id: Some(session_id),
        amr,
        auth_time,
        nonce: None,
        include_auth_time: false,
        claims: code.claims_json.clone(),
    };
    let chain = Chain {
        family_id: crate::crypto::random_b64(18),
        family_created_at: env.now,
        kind: ChainKind::Standard,
    };
    let refresh = scopes.oidc.offline_access;
    let issued = super::issue_user_tokens(env, &user, &scopes, &auth, chain, refresh).await?;
    // Consume last: of two polls racing for the tokens, one gets them.
    let mut tx = store.write().await?;
    if !tx.consume_device_code(&id).await? {
        return Err(Error::BadVerificationCode);
    }
    issued.store(&mut tx).await?;
    tx.commit().await?;
    Ok(issued.response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_at_the_interval_is_not_too_soon() {
        assert!(!too_soon(5, 5));
        assert!(!too_soon(5, 4));
        assert!(too_soon(5, 3));
        assert!(too_soon(5, 0));
    }
}
