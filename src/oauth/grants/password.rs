//! `grant_type=password`, the resource owner password credentials grant (RFC 6749 section 4.3)
//! as Entra speaks it (<https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc>):
//! `username`, `password`, `scope`, `client_id` (and the secret of a confidential client). A
//! client without "Allow public client flows" (`isFallbackPublicClient`) is confidential and must
//! authenticate (AADSTS7000218 otherwise); one with it presents no credential (AADSTS700025). An
//! unknown user is AADSTS50034, a wrong password AADSTS50126, and a user (or app) that needs MFA
//! AADSTS50076, because ROPC cannot prompt. The tokens are the interactive ones with `amr`
//! `["pwd"]`; no SSO session is made. `/common` is refused (AADSTS9001023); `/organizations` is
//! not.

use super::{Env, TokenResponse};
use crate::directory::{MfaPolicy, TenantScope};
use crate::error::{Error, Result};
use crate::oauth::params::{Params, Secret};

#[derive(Debug)]
pub struct Request {
    username: String,
    password: Secret,
    scope: String,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            username: params.require("username")?.to_string(),
            password: Secret::new(params.require("password")?),
            scope: params.require("scope")?.to_string(),
        })
    }
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    let app = &env.client.app;
    // No redirect URI tells the client type: the app's `isFallbackPublicClient` does.
    env.client.require(app.fallback_client_type)?;
    // The tenant "can't be set to common or consumers, but may be set to organizations"
    // (v2-oauth-ropc): AADSTS9001023.
    if env.tenant.scope == TenantScope::Common {
        return Err(Error::GrantNotOnCommon);
    }
    let tenant = &env.tenant.tenant;
    let user = env
        .state
        .store
        .user_by_upn(&tenant.id, &req.username)
        .await?
        .ok_or_else(|| Error::UserNotFound {
            user: req.username.clone(),
            tenant: tenant.domain.clone(),
        })?;
    if !user.credentials.password_matches(req.password.expose()) {
        return Err(Error::InvalidCredentials);
    }
    if !env.state.directory().user_assigned(&user.oid, app) {
        return Err(Error::UserNotAssignedGrant {
            client_id: app.client_id.clone(),
            name: app.display_name.clone(),
            user: user.upn.clone(),
        });
    }
    if user.mfa_policy == MfaPolicy::Required || app.require_mfa {
        return Err(Error::MfaRequired(app.display_name.clone()));
    }
    let scopes = env.user_scopes(&user, &req.scope).await?;
    scopes.check_itself_named_by_id(&env.client.app)?;
    super::issue_without_session(env, &user, &scopes, vec![crate::amr::Amr::Pwd], env.now).await
}
