//! Part 2 of the flow (steps 3-6 and 23-26 of README's "The flow, step by step"): the authorization endpoint's request
//! and its reply. [`parse`] turns the query or form of `/{tenant}/oauth2/v2.0/authorize` into an
//! [`AuthorizeRequest`], following
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#request-an-authorization-code>:
//! an unknown `client_id` (AADSTS700016) or a `redirect_uri` that is not registered (AADSTS50011)
//! is shown on an error page and never redirected to (RFC 6749 section 4.1.2.1); every other error
//! goes back to the app in the requested response mode with `error`, `error_description`,
//! `error_uri` and `state`. [`complete`] issues the authorization code once the user is signed in.

use serde::{Deserialize, Serialize};

use crate::directory::{Application, Directory, Platform, ResolvedTenant, TenantScope};
use crate::error::Error;
use crate::oauth::params::Endpoint;
pub use crate::pkce::{Pkce, PkceMethod};

mod reply;
pub use crate::oauth::client_info::ClientInfo;
pub use reply::{complete, Authenticated, IdTokens, Rejection, Reply, ReplyBody, ReplyTarget};

/// `response_type`, as Entra takes it
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-implicit-grant-flow>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    Code,
    /// Hybrid flow.
    CodeIdToken,
    /// Implicit flow, ID token only.
    IdToken,
    /// Implicit flow, access token only.
    Token,
    /// Implicit flow, ID and access tokens.
    IdTokenToken,
    /// Hybrid flow with an access token as well.
    CodeIdTokenToken,
}

impl ResponseType {
    /// `response_type` is a space-separated set: order does not matter.
    fn parse(s: &str) -> Option<Self> {
        let mut parts: Vec<&str> = s.split_whitespace().collect();
        parts.sort_unstable();
        parts.dedup();
        match parts.as_slice() {
            ["code"] => Some(ResponseType::Code),
            ["code", "id_token"] => Some(ResponseType::CodeIdToken),
            ["id_token"] => Some(ResponseType::IdToken),
            ["token"] => Some(ResponseType::Token),
            ["id_token", "token"] => Some(ResponseType::IdTokenToken),
            ["code", "id_token", "token"] => Some(ResponseType::CodeIdTokenToken),
            _ => None,
        }
    }

    pub fn returns_id_token(self) -> bool {
        matches!(
            self,
            ResponseType::CodeIdToken
                | ResponseType::IdToken
                | ResponseType::IdTokenToken
                | ResponseType::CodeIdTokenToken
        )
    }

    pub fn returns_code(self) -> bool {
        matches!(
            self,
            ResponseType::Code | ResponseType::CodeIdToken | ResponseType::CodeIdTokenToken
        )
    }

    pub fn returns_token(self) -> bool {
        matches!(
            self,
            ResponseType::Token | ResponseType::IdTokenToken | ResponseType::CodeIdTokenToken
        )
    }

    /// Tokens in the reply travel in the fragment by default, never in the query.
    fn returns_tokens(self) -> bool {
        self.returns_id_token() || self.returns_token()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    Fragment,
    /// An auto-submitting HTML form POSTed to the redirect URI.
    FormPost,
}

impl ResponseMode {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    Login,
    None,
    SelectAccount,
    Consent,
}

impl Prompt {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Prompt::Login),
            "none" => Some(Prompt::None),
            "select_account" => Some(Prompt::SelectAccount),
            "consent" => Some(Prompt::Consent),
            _ => None,
        }
    }
}

/// Whether the `claims` parameter asked for multi-factor authentication (`acrs` or `amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaDemand {
    NotAsked,
    Asked,
}

/// A validated authorization request. Serialisable: it is kept in the sign-in flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// The tenant segment the request used (`common`, a domain, a GUID).
    pub tenant_segment: String,
    pub tenant_id: String,
    pub client_id: String,
    pub reply: ReplyTarget,
    /// The platform the redirect URI is registered under.
    pub platform: Platform,
    pub response_type: ResponseType,
    pub scope: String,
    pub nonce: Option<String>,
    pub prompt: Option<Prompt>,
    pub login_hint: Option<String>,
    /// The `sid` of an ID token: selects that SSO session (MSAL's silent sign-in).
    #[serde(default)]
    pub sid: Option<String>,
    pub domain_hint: Option<String>,
    pub max_age: Option<i64>,
    pub pkce: Option<Pkce>,
    pub claims: Option<String>,
    pub mfa_demand: MfaDemand,
    pub client_info: ClientInfo,
    /// The v1 endpoint (`resource=`) issues v1 ID tokens.
    #[serde(default)]
    pub endpoint: Endpoint,
    /// The device code (its row's key) a `/devicelogin` sign-in approves instead of issuing a
    /// code (`oauth::device_code`).
    #[serde(default)]
    pub device: Option<String>,
    /// Where consent stands for this request.
    #[serde(default)]
    pub consent: Consent,
}

/// Consent for a request
/// (<https://learn.microsoft.com/entra/identity-platform/permissions-consent-overview>): a user
/// is asked for scopes the app does not hold yet (or for all of them with `prompt=consent`);
/// the admin-consent endpoints ask an admin for everyone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consent {
    /// Ask the user when something is not consented yet.
    #[default]
    Ask,
    /// `/adminconsent`: ask on behalf of the organization, always.
    Admin,
    /// The user accepted on the consent page.
    Given,
    /// The admin accepted: the reply says `admin_consent=True`.
    AdminGiven,
}

impl Consent {
    pub fn is_admin(self) -> bool {
        matches!(self, Consent::Admin | Consent::AdminGiven)
    }

    pub fn given(self) -> bool {
        matches!(self, Consent::Given | Consent::AdminGiven)
    }

    /// After the consent page was accepted.
    pub fn accepted(self) -> Self {
        if self.is_admin() {
            Consent::AdminGiven
        } else {
            Consent::Given
        }
    }
}

/// Parameters as sent; the first occurrence of a name wins. Unknown parameters (MSAL's
/// `client-request-id`, `x-client-SKU`, `X-AnchorMailbox`...) are ignored.
struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }
}

/// The parameters of one authorization request, names and values together (AADSTS90015 beyond).
/// A flow stores its request, so this also bounds what an anonymous request leaves behind.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// Validates an authorization request against the directory.
pub fn parse(
    directory: &Directory,
    tenant: &ResolvedTenant,
    params: &[(String, String)],
    endpoint: Endpoint,
) -> Result<AuthorizeRequest, Rejection> {
    let size: usize = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if size > MAX_PARAMS_BYTES {
        return Err(Rejection::Page(Error::QueryStringTooLong(size)));
    }
    let p = Params(params);
    let client_id = p
        .non_empty("client_id")
        .ok_or(Rejection::Page(Error::MissingParameter("client_id")))?;
    let app = directory
        .application(tenant, client_id)
        .map_err(Rejection::Page)?;
    tenant.admits(&app).map_err(Rejection::Page)?;
    // The doc calls redirect_uri required, but Entra sends a request without one to a URI
    // registered for the app; entra-mock uses the first. Never an unregistered one.
    let (platform, redirect_uri) = match p.non_empty("redirect_uri") {
        Some(uri) => match app.redirect_platform(uri) {
            Some(platform) => (platform, uri.to_string()),
            None => {
                return Err(Rejection::Page(Error::RedirectUriMismatch {
                    redirect_uri: uri.to_string(),
                    client_id: app.client_id.clone(),
                }))
            }
        },
        None => app
            .redirect_uris
            .first()
            .cloned()
            .ok_or(Rejection::Page(Error::MissingParameter("redirect_uri")))?,
    };

    // From here on the redirect URI is trusted: errors go back to the app.
    let response_type = p.non_empty("response_type").map(ResponseType::parse);
    let default_mode = match response_type {
        Some(Some(t)) if t.returns_tokens() => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let requested_mode = p.non_empty("response_mode").map(ResponseMode::parse);
    let mut target = ReplyTarget {
        redirect_uri,
        mode: requested_mode.flatten().unwrap_or(default_mode),
        state: p.get("state").map(str::to_string),
    };
    let refuse = |target: &ReplyTarget, error: Error| {
        Err(Rejection::Reply(Box::new(Reply::error(
            target.clone(),
            error,
        ))))
    };
    if let Some(None) = requested_mode {
        return refuse(
            &target,
            Error::InvalidParameter {
                name: "response_mode",
                reason: "supported values are query, fragment and form_post.".into(),
            },
        );
    }
    let response_type = match response_type {
        None => return refuse(&target, Error::MissingParameter("response_type")),
        Some(None) => {
            return refuse(
                &target,
                Error::UnsupportedResponseType(p.get("response_type").unwrap_or("").into()),
            )
        }
        Some(Some(t)) => t,
    };
    // An access token from /authorize needs the app's implicit access-token setting
    // (`oauth2AllowImplicitFlow` / `enableAccessTokenIssuance`), else AADSTS700051
    // (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-implicit-grant-flow).
    if response_type.returns_token() && !app.allow_access_token_implicit {
        return refuse(&target, Error::TokenNotEnabled);
    }
    if response_type.returns_id_token() && !app.allow_id_token_implicit {
        // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#request-an-id-token-as-well-or-hybrid-flow:
        // unsupported_response_type "signals that you must enable the ID token implicit grant
        // setting"; `query` "isn't supported when requesting an ID token"; nonce is required.
        return refuse(&target, Error::IdTokenNotEnabled);
    }
    if response_type.returns_tokens() && target.mode == ResponseMode::Query {
        target.mode = ResponseMode::Fragment;
        return refuse(&target, Error::QueryModeWithToken);
    }
    // v1 names a `resource` and ignores `scope` but for `openid`.
    let v1_scope;
    let scope = match endpoint {
        Endpoint::V2 => p.non_empty("scope"),
        Endpoint::V1 => {
            v1_scope = crate::oauth::v1::delegated_scope(p.non_empty("resource"));
            Some(v1_scope.as_str())
        }
    };
    let Some(scope) = scope else {
        return refuse(&target, Error::MissingParameter("scope"));
    };
    if let Err(e) = check_scopes(directory, &app, scope) {
        return refuse(&target, e);
    }
    // An ID token is for `openid` (reference-error-codes, AADSTS70005; v2-oauth2-auth-code-flow,
    // hybrid flow: "this parameter must be updated to include the ID token scopes: openid").
    let openid = scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case("openid"));
    if response_type.returns_id_token() && !openid {
        return refuse(&target, Error::IdTokenWithoutOpenid);
    }
    // The access token's scopes must name one resource: the reply has no later chance to
    // refuse. What the user has not consented to yet is asked on the consent page after
    // sign-in, as for a code ("If the user hasn't consented to any of those permissions, it
    // asks the user to consent", v2-oauth2-auth-code-flow).
    if response_type.returns_token() {
        match crate::oauth::grants::scopes::delegated(directory, &app, scope) {
            Ok(_) | Err(Error::ConsentRequired { .. }) => {}
            Err(e) => return refuse(&target, e),
        }
    }
    let nonce = p.get("nonce").map(str::to_string);
    if response_type.returns_id_token() && nonce.is_none() {
        return refuse(&target, Error::MissingParameter("nonce"));
    }
    let prompt = match p.non_empty("prompt") {
        None => None,
        Some(s) => match Prompt::parse(s) {
            Some(pr) => Some(pr),
            None => {
                return refuse(
                    &target,
                    Error::InvalidParameter {
                        name: "prompt",
                        reason: format!(
                            "'{s}' is not one of login, none, select_account, consent."
                        ),
                    },
                )
            }
        },
    };
    let max_age = match p.non_empty("max_age") {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return refuse(
                    &target,
                    Error::InvalidParameter {
                        name: "max_age",
                        reason: "must be a non-negative number of seconds.".into(),
                    },
                )
            }
        },
    };
    let pkce = match parse_pkce(&p) {
        Ok(v) => v,
        Err(e) => return refuse(&target, e),
    };
    let (claims, mfa_demand) = match p.non_empty("claims") {
        None => (None, MfaDemand::NotAsked),
        Some(c) => match serde_json::from_str::<serde_json::Value>(c) {
            Ok(v) if v.is_object() => (Some(c.to_string()), mfa_demand(&v)),
            _ => {
                return refuse(
                    &target,
                    Error::InvalidParameter {
                        name: "claims",
                        reason: "the claims parameter must be a JSON object.".into(),
                    },
                )
            }
        },
    };
    Ok(AuthorizeRequest {
        tenant_segment: tenant.segment.clone(),
        tenant_id: signin_tenant(tenant, &app),
        client_id: app.client_id.clone(),
        reply: target,
        platform,
        response_type,
        scope: scope.split_whitespace().collect::<Vec<_>>().join(" "),
        nonce,
        prompt,
        login_hint: p.non_empty("login_hint").map(|s| s.trim().to_string()),
        sid: p.non_empty("sid").map(str::to_string),
        domain_hint: p.non_empty("domain_hint").map(str::to_string),
        max_age,
        pkce,
        claims,
        mfa_demand,
        client_info: ClientInfo::from_param(p.get("client_info")),
        endpoint,
        device: None,
        consent: Consent::Ask,
    })
}

/// The tenant whose users sign in: the one named, or for `common`/`organizations` the app's own.
pub fn signin_tenant(tenant: &ResolvedTenant, app: &Application) -> String {
    match tenant.scope {
        TenantScope::Tenant => tenant.tenant.id.clone(),
        _ => app.tenant_id.clone(),
    }
}

/// RFC 7636 section 4.3: `plain` is the default method; Entra accepts `S256` and `plain`.
fn parse_pkce(p: &Params) -> Result<Option<Pkce>, Error> {
    let method = p.non_empty("code_challenge_method");
    let Some(challenge) = p.non_empty("code_challenge") else {
        return match method {
            Some(_) => Err(Error::MissingParameter("code_challenge")),
            None => Ok(None),
        };
    };
    let method = match method.map(PkceMethod::parse) {
        None => PkceMethod::Plain,
        Some(Some(m)) => m,
        Some(None) => {
            let other = p.non_empty("code_challenge_method").unwrap_or_default();
            return Err(Error::InvalidParameter {
                name: "code_challenge_method",
                reason: format!("'{other}' is not supported; use S256 or plain."),
            });
        }
    };
    if !crate::pkce::well_formed(challenge) || (method == PkceMethod::S256 && challenge.len() != 43)
    {
        return Err(Error::InvalidCodeChallenge);
    }
    Ok(Some(Pkce {
        challenge: challenge.to_string(),
        method,
    }))
}

/// A `claims` request demands MFA when it asks for `acrs` (Conditional Access authentication
/// context) or for an `amr` value, in any of its members
/// (<https://learn.microsoft.com/entra/identity-platform/claims-challenge>).
fn mfa_demand(claims: &serde_json::Value) -> MfaDemand {
    if crate::oauth::claims::demands_mfa(claims) {
        MfaDemand::Asked
    } else {
        MfaDemand::NotAsked
    }
}

/// The MFA demand of a stored `claims` parameter (the device code flow's).
pub fn mfa_demand_of(claims: Option<&str>) -> MfaDemand {
    match claims.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()) {
        Some(v) => mfa_demand(&v),
        None => MfaDemand::NotAsked,
    }
}

/// Scopes are parsed and resolved by the token endpoint's own parser: a resource nobody
/// registered (AADSTS500011) or a value the resource does not expose is refused here already,
/// the latter as Entra's `/authorize` answers it, AADSTS650053 naming the app (the token
/// endpoint's AADSTS70011 does not). Consent and the one-resource rule are the token endpoint's.
fn check_scopes(directory: &Directory, app: &Application, scope: &str) -> Result<(), Error> {
    match crate::oauth::scope::parse(directory, scope) {
        Ok(_) => Ok(()),
        Err(Error::UnexposedScope {
            value, resource_id, ..
        }) => Err(Error::ScopeNotOnResource {
            name: app.display_name.clone(),
            scope: value,
            resource_id,
        }),
        Err(e) => Err(e),
    }
}

/// Whether the app (like a Conditional Access policy) or the request demands MFA.
pub fn mfa_demanded(app: &Application, req: &AuthorizeRequest) -> bool {
    app.require_mfa || req.mfa_demand == MfaDemand::Asked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_types_are_sets() {
        assert_eq!(
            ResponseType::parse("id_token code"),
            Some(ResponseType::CodeIdToken)
        );
        assert_eq!(ResponseType::parse("token"), Some(ResponseType::Token));
        assert_eq!(
            ResponseType::parse("token id_token code"),
            Some(ResponseType::CodeIdTokenToken)
        );
        assert_eq!(ResponseType::parse("code token"), None);
    }

    #[test]
    fn claims_asking_for_acrs_demand_mfa() {
        let v = serde_json::json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}});
        assert_eq!(mfa_demand(&v), MfaDemand::Asked);
        let v = serde_json::json!({"access_token": {"xms_cc": {"values": ["cp1"]}}});
        assert_eq!(mfa_demand(&v), MfaDemand::NotAsked);
    }
}
