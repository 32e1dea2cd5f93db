//! The token endpoint, `POST /{tenant}/oauth2/v2.0/token` (RFC 6749 section 3.2): parses the
//! request, authenticates the client, and dispatches on `grant_type` to one module per grant.
//! Response shape and headers as Entra's
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#successful-response-2>).

use crate::directory::{Directory, ResolvedTenant, TenantScope, User};
use crate::error::{Error, Result};
use crate::oauth::claims::AuthMethod;
use crate::oauth::client_auth::{self, AuthenticatedClient};
use crate::oauth::client_info::ClientInfo;
pub use crate::oauth::grants::TokenResponse;
use crate::oauth::grants::{
    self, authorization_code, client_credentials, device_code, on_behalf_of, password,
    refresh_token, Env,
};
use crate::oauth::params::{ClientRequest, Params};
use crate::oauth::v1::{self, V1TokenResponse};
use crate::state::AppState;
use crate::store::codes::CodeLookup;

/// A token request as the HTTP layer hands it over.
pub type TokenRequest = ClientRequest;

/// `grant_type`, parsed: one variant per supported grant, each carrying its own parameters.
#[derive(Debug)]
pub enum Grant {
    AuthorizationCode(authorization_code::Request),
    RefreshToken(refresh_token::Request),
    ClientCredentials(client_credentials::Request),
    Password(password::Request),
    OnBehalfOf(on_behalf_of::Request),
    DeviceCode(device_code::Request),
}

impl Grant {
    pub fn parse(params: &Params) -> Result<Grant> {
        match params.require("grant_type")? {
            "authorization_code" => Ok(Grant::AuthorizationCode(
                authorization_code::Request::parse(params)?,
            )),
            "refresh_token" => Ok(Grant::RefreshToken(refresh_token::Request::parse(params)?)),
            "password" => Ok(Grant::Password(password::Request::parse(params)?)),
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                Ok(Grant::OnBehalfOf(on_behalf_of::Request::parse(params)?))
            }
            crate::oauth::device_code::GRANT_TYPE => {
                Ok(Grant::DeviceCode(device_code::Request::parse(params)?))
            }
            "device_code" => Ok(Grant::DeviceCode(device_code::Request::parse_v1(params)?)),
            "client_credentials" => Ok(Grant::ClientCredentials(
                client_credentials::Request::parse(params)?,
            )),
            other => Err(Error::UnsupportedGrantType(other.to_string())),
        }
    }
}

/// Resolves the tenant and authenticates the client of a request.
pub async fn authenticate(
    state: &AppState,
    req: &ClientRequest,
) -> Result<(ResolvedTenant, AuthenticatedClient)> {
    let tenant = state.directory().resolve_tenant(&req.tenant)?;
    let client = client_auth::authenticate(
        state,
        &tenant,
        &req.params,
        req.authorization.as_ref(),
        &req.base_url,
        req.now,
    )
    .await?;
    Ok((tenant, client))
}

/// Handles one token request of the v1 endpoint: its `resource` stands for the scope, and the
/// answer has v1's shape.
pub async fn exchange_v1(state: &AppState, mut req: TokenRequest) -> Result<V1TokenResponse> {
    refuse_duplicates(&req.params)?;
    let now = req.now;
    let resource = req.params.get("resource").map(str::to_string);
    if resource.is_none() && req.params.get("grant_type") == Some("client_credentials") {
        return Err(Error::MissingParameter("resource"));
    }
    if let Some(scope) = v1::token_scope(&req.params) {
        req.params = req.params.with("scope", scope);
    }
    let response = exchange_checked(state, req).await?;
    Ok(V1TokenResponse::new(response, resource.as_deref(), now))
}

/// The user a code or refresh-token request is for, without using either (fault rules that name
/// a user match on it); `None` for other grants and unknown tokens.
pub async fn request_user(state: &AppState, params: &Params) -> Result<Option<User>> {
    let oid = match params.get("grant_type") {
        Some("authorization_code") => match params.get("code") {
            Some(code) => match state.store.find_code(code).await? {
                CodeLookup::Fresh(c) | CodeLookup::Consumed(c) => Some(c.user_oid),
                CodeLookup::Unknown => None,
            },
            None => None,
        },
        Some("refresh_token") => match params.get("refresh_token") {
            Some(rt) => state.store.find_refresh(rt).await?.map(|g| g.user_oid),
            None => None,
        },
        _ => None,
    };
    match oid {
        Some(oid) => Ok(state.store.user_by_oid(&oid).await?),
        None => Ok(None),
    }
}

/// A parameter sent twice is refused, whichever value would have won: AADSTS9000411.
fn refuse_duplicates(params: &Params) -> Result<()> {
    match params.duplicated() {
        Some(name) => Err(Error::DuplicatedParameter(name.to_string())),
        None => Ok(()),
    }
}

/// Handles one token request.
pub async fn exchange(state: &AppState, req: TokenRequest) -> Result<TokenResponse> {
    refuse_duplicates(&req.params)?;
    exchange_checked(state, req).await
}

/// [`exchange`] of a form already checked for duplicates (v1's has its `resource` set as scope).
async fn exchange_checked(state: &AppState, req: TokenRequest) -> Result<TokenResponse> {
    let grant = Grant::parse(&req.params)?;
    let (tenant, client) = authenticate(state, &req).await?;
    // Client credentials name the tenant they act in: `/common` and `/organizations` cannot
    // (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).
    if matches!(grant, Grant::ClientCredentials(_)) && tenant.scope != TenantScope::Tenant {
        return Err(Error::NoTenantInformation);
    }
    tenant.admits(&client.app)?;
    // "The Microsoft identity platform also prevents the use of client credentials in all flows
    // in the presence of an Origin header, to ensure that secrets aren't used from within the
    // browser" (v2-oauth2-auth-code-flow, "Redeem a code for an access token"): AADSTS9002326.
    if let (Some(origin), false) = (&req.origin, client.method == AuthMethod::None) {
        return Err(Error::OriginOnNonSpa(origin.clone()));
    }
    let env = Env {
        state,
        tenant,
        client,
        base_url: &req.base_url,
        origin: req.origin.as_deref(),
        client_info: ClientInfo::from_param(req.params.get("client_info")),
        claims: req.params.get("claims"),
        endpoint: req.endpoint,
        now: req.now,
    };
    match grant {
        Grant::AuthorizationCode(r) => grants::authorization_code::redeem(&env, r).await,
        Grant::RefreshToken(r) => grants::refresh_token::redeem(&env, r).await,
        Grant::ClientCredentials(r) => grants::client_credentials::redeem(&env, r).await,
        Grant::Password(r) => grants::password::redeem(&env, r).await,
        Grant::OnBehalfOf(r) => grants::on_behalf_of::redeem(&env, r).await,
        Grant::DeviceCode(r) => grants::device_code::redeem(&env, r).await,
    }
}

/// The `Access-Control-Allow-Origin` to answer with: the request's origin when it is the origin of
/// one of the SPA redirect URIs of the client (or of any app, when the client is not named).
/// msal-browser's token POST is a simple CORS request, so the answer itself must carry it.
pub fn cors_origin(directory: &Directory, client_id: Option<&str>, origin: &str) -> Option<String> {
    let client_id = client_id.map(str::to_ascii_lowercase);
    let allowed = directory
        .applications
        .values()
        .filter(|a| client_id.as_deref().is_none_or(|c| a.client_id == c))
        .flat_map(|a| a.redirect_uris.iter())
        .filter(|(p, _)| *p == crate::directory::Platform::Spa)
        .filter_map(|(_, uri)| url::Url::parse(uri).ok())
        .any(|u| u.origin().ascii_serialization() == origin);
    allowed.then(|| origin.to_string())
}
