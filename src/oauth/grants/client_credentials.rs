//! `grant_type=client_credentials` (RFC 6749 section 4.4, Entra's
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>): an
//! app-only token for `{resource}/.default` (else AADSTS1002012) carrying the app roles granted
//! to the client, `idtyp: app` and no `scp`. Entra answers with the token and its lifetimes only.
//! Without `scope`, AADSTS90014 ("The required field 'scope' is missing from the credential.").

use super::TokenResponse;
use super::{scopes, Env};
use crate::directory::ClientType;
use crate::error::{Error, Result};
use crate::oauth::claims::{self, AccessTokenInput, Subject};
use crate::oauth::params::Params;

#[derive(Debug)]
pub struct Request {
    scope: String,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Request> {
        Ok(Request {
            scope: params
                .get("scope")
                .ok_or(Error::CredentialFieldMissing("scope"))?
                .to_string(),
        })
    }
}

pub async fn redeem(env: &Env<'_>, req: Request) -> Result<TokenResponse> {
    let app = &env.client.app;
    // Only a confidential client holds a credential to act as itself.
    env.client.require(ClientType::Confidential)?;
    let (target, roles) = scopes::app_only(&env.state.directory(), app, &req.scope)?;
    let keys = env.state.keys.snapshot();
    let access = claims::mint_access_token(
        &keys,
        &AccessTokenInput {
            base_url: env.base_url,
            directory: &env.state.directory(),
            tid: &app.tenant_id,
            client: app,
            client_auth: env.client.method,
            target: &target,
            subject: Subject::App { roles },
            delivery: crate::oauth::claims::Delivery::TokenResponse,
            now: env.now,
        },
    )?;
    Ok(TokenResponse {
        token_type: "Bearer",
        scope: None,
        expires_in: access.expires_in,
        ext_expires_in: access.expires_in,
        access_token: access.token,
        refresh_token: None,
        refresh_token_expires_in: None,
        id_token: None,
        client_info: None,
    })
}
