//! Minting the JWTs Entra issues: ID tokens (always v2.0) and access tokens, shaped by the
//! resource's `accessTokenAcceptedVersion`
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>,
//! <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>).
//! All signing goes through the active key of the [`KeySet`], parsed once per key rotation.

mod configured;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use configured::{group_claims, optional_claims};
use rand::{Rng, RngCore};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::amr::Amr;
use crate::crypto::random_b64;
use crate::directory::{Application, ClientType, Directory, OptionalClaim, TokenVersion, User};
use crate::error::Result;
use crate::keys::{KeySet, Unsigned};
use crate::oauth::discovery::{issuer, MetadataVersion};
use crate::oauth::params::Endpoint;

pub use crate::oauth::scope::GRAPH_APP_ID;

/// How the client proved its identity: the `azpacr` / `appidacr` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client: no credential.
    None,
    Secret,
    Certificate,
}

impl AuthMethod {
    /// `0` public client, `1` client secret, `2` certificate
    /// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>).
    pub fn acr(self) -> &'static str {
        match self {
            AuthMethod::None => "0",
            AuthMethod::Secret => "1",
            AuthMethod::Certificate => "2",
        }
    }

    /// The client type a request authenticated this way is: public without a credential,
    /// confidential with one ([`ClientType`]).
    pub fn client_type(self) -> ClientType {
        match self {
            AuthMethod::None => ClientType::Public,
            AuthMethod::Secret | AuthMethod::Certificate => ClientType::Confidential,
        }
    }
}

/// The "User" directory role template Entra puts in `wids` of every member's token.
pub(crate) const WIDS_MEMBER: &str = "b79fbf4d-3ef9-4689-8143-76b194e85509";

/// Entra's default access-token lifetime: random between 60 and 90 minutes
/// (<https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes#access-tokens>).
const ACCESS_TOKEN_MIN_SECS: i64 = 3600;
const ACCESS_TOKEN_MAX_SECS: i64 = 5400;
/// Entra dates `iat` and `nbf` five minutes before it issues a token, so that a resource whose
/// clock runs behind accepts it at once (`exp - iat` is the lifetime plus those five minutes;
/// `expires_in` is the lifetime). Seen in Entra's tokens: the sample tokens of access-tokens have
/// `exp - iat` = 3900, and a new tenant's ID and access tokens have `iat` and `nbf` five minutes
/// before their issue (keycloakify/oidc-spa issue 162).
pub const BACKDATE_SECS: i64 = 300;

/// `iat` and `nbf` of a token issued at `now`.
pub fn backdated(now: i64) -> i64 {
    now - BACKDATE_SECS
}

/// When a token whose `iat` is `iat` was issued (what a revocation is compared with).
pub fn issued_at(iat: i64) -> i64 {
    iat.saturating_add(BACKDATE_SECS)
}

/// A CAE session's access tokens: 20 to 28 hours.
const CAE_ACCESS_TOKEN_MIN_SECS: i64 = 20 * 3600;
const CAE_ACCESS_TOKEN_MAX_SECS: i64 = 28 * 3600;
/// The client capability that declares a client ready for CAE's claims challenges.
const CAE_CAPABILITY: &str = "cp1";
/// App-only tokens (client credentials): `expires_in` 3599, as every response in Microsoft's
/// samples (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#successful-response>).
const APP_ONLY_LIFETIME_SECS: i64 = 3599;

/// What an access token is for.
#[derive(Debug, Clone)]
pub enum Target {
    /// Microsoft Graph (always v1.0 tokens).
    Graph,
    /// An API registered in the directory, and how the request named it (App ID URI or client
    /// id): a v1 token's `aud` takes the same form.
    Api {
        api: std::sync::Arc<Application>,
        named: String,
    },
}

impl Target {
    pub fn version(&self) -> TokenVersion {
        match self {
            Target::Graph => TokenVersion::V1,
            Target::Api { api, .. } => api.access_token_version,
        }
    }

    /// `aud`: v2 tokens name the API by client id; v1 tokens by "the resource URI used in the
    /// request", which "can be emitted in various ways - any appID URI, with or without a trailing
    /// slash, and the client ID of the resource" (access-token-claims-reference,
    /// optional-claims-reference "v1.0-specific optional claims set"): the prefix exactly as the
    /// request wrote it.
    pub fn audience(&self) -> String {
        match self {
            Target::Graph => GRAPH_APP_ID.to_string(),
            Target::Api { api, named } => match api.access_token_version {
                // `aud` with `use_guid` (optional-claims-reference): always the client id.
                TokenVersion::V1 if api.claims.aud_use_guid => api.client_id.clone(),
                TokenVersion::V1 if !named.is_empty() => named.clone(),
                _ => api.audience(),
            },
        }
    }

    /// The registration whose claims configuration shapes the token (none for Graph).
    fn api(&self) -> Option<&Application> {
        match self {
            Target::Graph => None,
            Target::Api { api, .. } => Some(api),
        }
    }

    fn lifetime(&self) -> Option<i64> {
        match self {
            Target::Graph => None,
            Target::Api { api, .. } => api.access_token_lifetime_secs,
        }
    }
}

/// The issuer of tokens of `version` for tenant `tid`: equal to the discovery document's.
/// Whether a `claims` request asks for multi-factor authentication: `acrs` (Conditional Access
/// authentication context) or `amr` in any of its members
/// (<https://learn.microsoft.com/entra/identity-platform/claims-challenge>).
pub fn demands_mfa(claims: &Value) -> bool {
    ["id_token", "access_token", "userinfo"]
        .iter()
        .any(|member| {
            claims
                .get(member)
                .and_then(|m| m.as_object())
                .is_some_and(|m| m.contains_key("acrs") || m.contains_key("amr"))
        })
}

pub fn token_issuer(base_url: &str, tid: &str, version: TokenVersion) -> String {
    match version {
        TokenVersion::V2 => issuer(base_url, tid, MetadataVersion::V2),
        TokenVersion::V1 => issuer(base_url, tid, MetadataVersion::V1),
    }
}

/// `sub`: pairwise, stable per user and application, opaque
/// (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference#payload-claims>).
pub fn pairwise_sub(oid: &str, client_id: &str, tid: &str) -> String {
    let mut h = Sha256::new();
    h.update(tid.as_bytes());
    h.update(b"|");
    h.update(oid.as_bytes());
    h.update(b"|");
    h.update(client_id.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// The opaque `login_hint` claim, usable as `login_hint` / `logout_hint` later.
pub fn login_hint(user: &User) -> String {
    let body = json!({ "oid": user.oid, "tid": user.tenant_id, "upn": user.upn });
    format!("O.{}", URL_SAFE_NO_PAD.encode(body.to_string()))
}

/// The user object id a `login_hint` claim value names, if it is one of ours.
pub fn login_hint_oid(hint: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(hint.strip_prefix("O.")?).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("oid")?.as_str().map(str::to_string)
}

fn aio() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

fn rh() -> String {
    format!("0.A{}.", random_b64(36))
}

/// `c_hash` / `at_hash`: base64url of the left half of SHA-256 of the value (OIDC Core 3.3.2.11).
pub fn half_hash(value: &str) -> String {
    let d = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..16])
}

/// How a token reaches the client: in the authorization endpoint's reply (the implicit and hybrid
/// flows: `id_token`, `token` from `/authorize`) or in the token endpoint's response body. The
/// groups claim depends on it ([`group_claims`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Authorize,
    TokenResponse,
}

/// Everything an ID token says. Public so that `/authorize` can mint the ID tokens of hybrid and
/// implicit responses with the same code.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    /// Scheme and authority of the request (the issuer is built from it).
    pub base_url: &'a str,
    /// Roles and groups of the user.
    pub directory: &'a Directory,
    /// The client: `aud`, and the pairwise `sub`.
    pub app: &'a Application,
    pub user: &'a User,
    /// The SSO session (`sid`).
    pub session_id: Option<&'a str>,
    /// Authentication methods, e.g. `["pwd", "mfa"]`.
    pub amr: &'a [Amr],
    pub auth_time: i64,
    /// `max_age` was sent: MSAL then requires `auth_time`.
    pub include_auth_time: bool,
    /// Echoed byte for byte.
    pub nonce: Option<&'a str>,
    /// The `email` scope was granted.
    pub with_email: bool,
    /// The `profile` scope was granted: `name`, `preferred_username` and `oid` in v2 ID tokens.
    pub with_profile: bool,
    /// The code returned alongside (hybrid flow): adds `c_hash`.
    pub code: Option<&'a str>,
    /// The access token returned alongside from /authorize: adds `at_hash`.
    pub access_token: Option<&'a str>,
    /// A v1 endpoint issues v1 ID tokens.
    pub endpoint: Endpoint,
    pub delivery: Delivery,
    pub now: i64,
}

/// Mints an ID token: v2.0, or v1.0 from a v1 endpoint (issuer `{base}/{tid}/`, `unique_name`,
/// `upn`, names, no `preferred_username`;
/// <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference#payload-claims>).
pub fn mint_id_token(keys: &KeySet, t: &IdTokenInput<'_>) -> Result<String> {
    Ok(unsigned_id_token(keys, t)?.sign()?)
}

/// [`mint_id_token`] before its signature, for [`crate::keys::parallel::sign_pair`].
pub fn unsigned_id_token(keys: &KeySet, t: &IdTokenInput<'_>) -> Result<Unsigned> {
    let tid = &t.user.tenant_id;
    let version = match t.endpoint {
        Endpoint::V2 => TokenVersion::V2,
        Endpoint::V1 => TokenVersion::V1,
    };
    let mut c = Map::new();
    c.insert("aud".into(), json!(t.app.client_id));
    c.insert("iss".into(), json!(token_issuer(t.base_url, tid, version)));
    c.insert("iat".into(), json!(backdated(t.now)));
    c.insert("nbf".into(), json!(backdated(t.now)));
    c.insert("exp".into(), json!(t.now + t.app.id_token_lifetime_secs));
    c.insert("aio".into(), json!(aio()));
    if !t.app.strict_entra_claims {
        c.insert("amr".into(), json!(t.amr));
    }
    if t.include_auth_time || t.app.claims.id_token.contains(&OptionalClaim::AuthTime) {
        c.insert("auth_time".into(), json!(t.auth_time));
    }
    if let Some(code) = t.code {
        c.insert("c_hash".into(), json!(half_hash(code)));
    }
    if let Some(at) = t.access_token {
        c.insert("at_hash".into(), json!(half_hash(at)));
    }
    // The `email` scope gives `email` in v2 ID tokens, as the optional claim does
    // (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference#payload-claims>).
    let optional = &t.app.claims.id_token;
    if t.with_email && !optional.contains(&OptionalClaim::Email) {
        if let Some(mail) = &t.user.mail {
            c.insert("email".into(), json!(mail));
        }
    }
    optional_claims(&mut c, optional, t.user, None);
    let format = t.app.claims.id_token_groups;
    group_claims(
        &mut c,
        t.directory,
        &t.app.claims,
        format,
        t.user,
        &t.app.client_id,
        t.delivery,
    );
    let roles = t.directory.user_roles_for(&t.user.oid, &t.app.client_id);
    if !roles.is_empty() && !format.emit_as_roles {
        c.insert("roles".into(), json!(roles));
    }
    // v2: "The profile scope is required to receive this claim" for `name`, `preferred_username`
    // and `oid` (id-token-claims-reference); v1 requests name no scope and always get them.
    let profile = t.with_profile || version == TokenVersion::V1;
    if profile {
        c.insert("name".into(), json!(t.user.display_name));
    }
    if let Some(nonce) = t.nonce {
        c.insert("nonce".into(), json!(nonce));
    }
    if profile {
        c.insert("oid".into(), json!(t.user.oid));
    }
    match version {
        TokenVersion::V2 => {
            if profile {
                c.insert("preferred_username".into(), json!(t.user.upn));
            }
        }
        TokenVersion::V1 => {
            c.insert("unique_name".into(), json!(t.user.upn));
            c.insert("upn".into(), json!(t.user.upn));
            if let Some(v) = &t.user.given_name {
                c.insert("given_name".into(), json!(v));
            }
            if let Some(v) = &t.user.surname {
                c.insert("family_name".into(), json!(v));
            }
        }
    }
    c.insert("rh".into(), json!(rh()));
    if let Some(sid) = t.session_id {
        c.insert("sid".into(), json!(sid));
    }
    c.insert(
        "sub".into(),
        json!(pairwise_sub(&t.user.oid, &t.app.client_id, tid)),
    );
    c.insert("tid".into(), json!(tid));
    c.insert("uti".into(), json!(random_b64(16)));
    c.insert(
        "ver".into(),
        json!(match version {
            TokenVersion::V2 => "2.0",
            TokenVersion::V1 => "1.0",
        }),
    );
    Ok(Unsigned::new(&keys.active, &Value::Object(c), false)?)
}

/// Whom an access token is about.
#[derive(Debug, Clone)]
pub enum Subject<'a> {
    /// Delegated: a signed-in user.
    User(UserGrant<'a>),
    /// App-only (client credentials): the client's service principal.
    App { roles: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct UserGrant<'a> {
    pub user: &'a User,
    /// Scope values (`scp`), without the resource prefix.
    pub scp: &'a [String],
    pub amr: &'a [Amr],
    pub session_id: Option<&'a str>,
    /// When the user signed in (the optional claim `auth_time`).
    pub auth_time: i64,
    /// Authentication context classes asked for by the `claims` parameter.
    pub acrs: Vec<String>,
    /// Client capabilities the client declared (`xms_cc`), e.g. `cp1` for CAE.
    pub client_capabilities: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AccessTokenInput<'a> {
    pub base_url: &'a str,
    /// Roles and groups of the user.
    pub directory: &'a Directory,
    pub tid: &'a str,
    pub client: &'a Application,
    pub client_auth: AuthMethod,
    pub target: &'a Target,
    pub subject: Subject<'a>,
    pub delivery: Delivery,
    pub now: i64,
}

/// A minted access token and its lifetime in seconds.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The lifetime of an access token: the resource's configured one, else the client's, else
/// Entra's random 60-90 minutes, or 20-28 hours in a CAE session: a client that declared the
/// `cp1` capability, for a resource that evaluates CAE (Microsoft Graph here)
/// (<https://learn.microsoft.com/entra/identity-platform/access-tokens#token-lifetime>: "ranges
/// from 20 to 28 hours"; app-resilience-continuous-access-evaluation: "up to 28 hours").
fn access_lifetime(t: &AccessTokenInput<'_>) -> i64 {
    t.target
        .lifetime()
        .or(t.client.access_token_lifetime_secs)
        .unwrap_or_else(|| match &t.subject {
            Subject::App { .. } => APP_ONLY_LIFETIME_SECS,
            Subject::User(u)
                if matches!(t.target, Target::Graph)
                    && u.client_capabilities.iter().any(|c| c == CAE_CAPABILITY) =>
            {
                rand::thread_rng().gen_range(CAE_ACCESS_TOKEN_MIN_SECS..=CAE_ACCESS_TOKEN_MAX_SECS)
            }
            Subject::User(_) => {
                rand::thread_rng().gen_range(ACCESS_TOKEN_MIN_SECS..=ACCESS_TOKEN_MAX_SECS)
            }
        })
}

/// Mints an access token for `target`, v1.0 or v2.0 by the resource's accepted version.
pub fn mint_access_token(keys: &KeySet, t: &AccessTokenInput<'_>) -> Result<AccessToken> {
    let unsigned = unsigned_access_token(keys, t)?;
    Ok(AccessToken {
        token: unsigned.jwt.sign()?,
        expires_in: unsigned.expires_in,
    })
}

/// An access token before its signature ([`unsigned_access_token`]).
#[derive(Debug)]
pub struct UnsignedAccess {
    pub jwt: Unsigned,
    pub expires_in: i64,
}

/// [`mint_access_token`] before its signature, for [`crate::keys::parallel::sign_pair`].
pub fn unsigned_access_token(keys: &KeySet, t: &AccessTokenInput<'_>) -> Result<UnsignedAccess> {
    let version = t.target.version();
    let expires_in = access_lifetime(t);
    let iss = token_issuer(t.base_url, t.tid, version);
    let mut c = Map::new();
    c.insert("aud".into(), json!(t.target.audience()));
    c.insert("iss".into(), json!(iss));
    c.insert("iat".into(), json!(backdated(t.now)));
    c.insert("nbf".into(), json!(backdated(t.now)));
    c.insert("exp".into(), json!(t.now + expires_in));
    c.insert("aio".into(), json!(aio()));
    match version {
        TokenVersion::V2 => {
            c.insert("azp".into(), json!(t.client.client_id));
            c.insert("azpacr".into(), json!(t.client_auth.acr()));
            c.insert("ver".into(), json!("2.0"));
        }
        TokenVersion::V1 => {
            c.insert("appid".into(), json!(t.client.client_id));
            c.insert("appidacr".into(), json!(t.client_auth.acr()));
            // `idp` is the issuer "unless the user account isn't in the same tenant"
            // (access-token-claims-reference): app-only v1 tokens carry it, a home user's do not.
            if matches!(t.subject, Subject::App { .. }) {
                c.insert("idp".into(), json!(iss));
            }
            c.insert("ver".into(), json!("1.0"));
        }
    }
    c.insert("rh".into(), json!(rh()));
    c.insert("tid".into(), json!(t.tid));
    c.insert("uti".into(), json!(random_b64(16)));
    let optional = t
        .target
        .api()
        .map_or(&[][..], |api| &api.claims.access_token[..]);
    match &t.subject {
        Subject::App { roles } => {
            if optional.contains(&OptionalClaim::Idtyp) {
                c.insert("idtyp".into(), json!("app"));
            }
            c.insert("oid".into(), json!(t.client.service_principal_id));
            c.insert("sub".into(), json!(t.client.service_principal_id));
            if !roles.is_empty() {
                c.insert("roles".into(), json!(roles));
            }
        }
        Subject::User(u) => user_claims(&mut c, t, u, version),
    }
    let jwt = match t.target {
        Target::Graph => Unsigned::graph(&keys.active, &Value::Object(c))?,
        Target::Api { .. } => {
            Unsigned::new(&keys.active, &Value::Object(c), version == TokenVersion::V1)?
        }
    };
    Ok(UnsignedAccess { jwt, expires_in })
}

fn user_claims(
    c: &mut Map<String, Value>,
    t: &AccessTokenInput<'_>,
    u: &UserGrant<'_>,
    version: TokenVersion,
) {
    let user = u.user;
    // Real Entra sends `amr` in v1 tokens only; entra-mock sends it in both unless the client or
    // the resource asks for strict Entra claims.
    let strict =
        t.client.strict_entra_claims || t.target.api().is_some_and(|api| api.strict_entra_claims);
    if version == TokenVersion::V1 || !strict {
        c.insert("amr".into(), json!(u.amr));
    }
    if !u.acrs.is_empty() {
        c.insert("acrs".into(), json!(u.acrs));
    }
    // MSAL's `clientCapabilities` arrive as `{"access_token":{"xms_cc":{"values":["cp1"]}}}` and
    // come back in the access token's `xms_cc`
    // (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>,
    // <https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation>).
    // "The resource server or service application that the token is issued for controls the
    // presence of this claim" (optional-claims-reference): Graph does, an API with `xms_cc` among
    // its optional claims does.
    let resource_asks = t
        .target
        .api()
        .is_none_or(|api| api.claims.access_token.contains(&OptionalClaim::XmsCc));
    if resource_asks && !u.client_capabilities.is_empty() {
        c.insert("xms_cc".into(), json!(u.client_capabilities));
    }
    match t.target.api() {
        Some(api) => {
            let format = api.claims.access_token_groups;
            group_claims(
                c,
                t.directory,
                &api.claims,
                format,
                user,
                &api.client_id,
                t.delivery,
            );
            let roles = t.directory.user_roles_for(&user.oid, &api.client_id);
            if !roles.is_empty() && !format.emit_as_roles {
                c.insert("roles".into(), json!(roles));
            }
            // `idtyp` is for app-only tokens unless `include_user_token` asks it for users'
            // ("By default it's only emitted for app-only tokens", optional-claims-reference).
            let token_type = api.claims.idtyp_user.then_some("user");
            optional_claims(c, &api.claims.access_token, user, token_type);
            if api.claims.access_token.contains(&OptionalClaim::AuthTime) {
                c.insert("auth_time".into(), json!(u.auth_time));
            }
        }
        // Microsoft Graph's tokens carry the user's directory roles.
        None => {
            c.insert("wids".into(), json!([WIDS_MEMBER]));
        }
    }
    c.insert("name".into(), json!(user.display_name));
    c.insert("oid".into(), json!(user.oid));
    c.insert("scp".into(), json!(u.scp.join(" ")));
    if let Some(sid) = u.session_id {
        c.insert("sid".into(), json!(sid));
    }
    c.insert(
        "sub".into(),
        json!(pairwise_sub(&user.oid, &t.client.client_id, t.tid)),
    );
    match version {
        TokenVersion::V2 => {
            c.insert("preferred_username".into(), json!(user.upn));
        }
        TokenVersion::V1 => {
            c.insert("acr".into(), json!("1"));
            if let Some(g) = &user.given_name {
                c.insert("given_name".into(), json!(g));
            }
            if let Some(s) = &user.surname {
                c.insert("family_name".into(), json!(s));
            }
            c.insert("unique_name".into(), json!(user.upn));
            c.insert("upn".into(), json!(user.upn));
        }
    }
}
