//! `entra_mock::validate`: access-token validation as a resource API must do it against Entra (or
//! entra-mock), after Microsoft.IdentityModel's rules
//! (<https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens>): keys from
//! the `jwks_uri` of the tenant's discovery document, cached by `kid` with a time to live and
//! refetched on an unknown `kid` at most once per interval (so a flood of forged `kid`s cannot turn
//! the API into a JWKS hammer), kept when a refetch fails ("stale metadata is better than no
//! metadata"); RS256 only; `iss` one of the tenant's v2.0 and v1.0 issuers (read from its two
//! discovery documents; a `{tenantid}` in one, as `common` and `organizations` publish, stands for
//! the token's `tid`), and the signing key's own `issuer` where the key set names one; `aud`,
//! `exp` and `nbf` with five minutes of clock skew (`TokenValidationParameters.DefaultClockSkew`);
//! and the permission the API needs (`scp` or `roles`). Each refusal says why, in the
//! `WWW-Authenticate` form of RFC 6750 section 3.
//!
//! ```no_run
//! # async fn example(token: &str) -> anyhow::Result<()> {
//! use entra_mock::validate::{Validator, ValidatorConfig};
//! let v = Validator::new(
//!     ValidatorConfig::for_api(
//!         "https://localhost:8443",
//!         "aaaabbbb-0000-cccc-1111-dddd2222eeee",
//!         &["22223333-cccc-4444-dddd-5555eeee6666", "api://22223333-cccc-4444-dddd-5555eeee6666"],
//!     ),
//!     reqwest::Client::new(),
//! );
//! let claims = v.validate(token).await?;
//! entra_mock::validate::require_any(&claims, &["access_as_user"], &["Tasks.ReadWrite.All"])?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::mutation::Mutation;

/// The placeholder the discovery documents and keys of `common` and `organizations` carry in
/// their issuers.
const TENANT_ID_TEMPLATE: &str = "{tenantid}";

/// What a validator checks.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Accepted `aud` values: the API's client id and its App ID URI.
    pub audiences: Vec<String>,
    /// The tenant's discovery documents, v2.0 first: each one's `issuer` is accepted, and the
    /// first's `jwks_uri` names the keys (read once). The tenant may be named by id, by domain, or
    /// be `organizations` / `common` (a multi-tenant API: their issuers are templates).
    pub discovery_uris: Vec<String>,
    /// Issuers accepted besides the documents' (`{tenantid}` stands for the token's `tid`).
    pub issuers: Vec<String>,
    /// Where the keys are when no discovery document names them.
    pub jwks_uri: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys are trusted before they are fetched again.
    pub keys_ttl: Duration,
    /// An unknown `kid` refetches the keys at most this often; so does a failed refetch.
    pub min_refetch_interval: Duration,
}

impl ValidatorConfig {
    /// The usual configuration for an API of `tenant` (its id, a domain, `organizations` or
    /// `common`) at `base` (scheme and host of the authority, e.g.
    /// `https://login.microsoftonline.com` or entra-mock's): the tenant's v2.0 and v1.0 issuers, as
    /// Microsoft.Identity.Web accepts both token versions.
    pub fn for_api(base: &str, tenant: &str, audiences: &[&str]) -> Self {
        let base = base.trim_end_matches('/');
        ValidatorConfig {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            discovery_uris: vec![
                format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
                format!("{base}/{tenant}/.well-known/openid-configuration"),
            ],
            issuers: Vec::new(),
            jwks_uri: format!("{base}/{tenant}/discovery/v2.0/keys"),
            leeway: Duration::from_secs(300),
            keys_ttl: Duration::from_secs(24 * 3600),
            min_refetch_interval: Duration::from_secs(60),
        }
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the algorithm {0} is not accepted (RS256 only)")]
    Algorithm(String),
    #[error("no signing key with kid {0}")]
    UnknownKid(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the issuer is not the tenant's")]
    Issuer,
    #[error("the audience is not this API")]
    Audience,
    #[error("the token names no tenant (tid)")]
    Tenant,
    #[error("the signing key is not the issuer's")]
    KeyIssuer,
    #[error("the token lacks the permission this call needs")]
    InsufficientScope,
    #[error("the signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl Rejection {
    /// The HTTP status: 403 for a missing permission, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::InsufficientScope => 403,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 section 3).
    pub fn www_authenticate(&self) -> String {
        let error = match self {
            Rejection::InsufficientScope => "insufficient_scope",
            _ => "invalid_token",
        };
        format!(
            "Bearer error=\"{error}\", error_description=\"{}\"",
            self.to_string().replace('"', "'")
        )
    }
}

/// A published key and the issuer the key set names for it, if any.
#[derive(Clone)]
struct Key {
    key: DecodingKey,
    issuer: Option<String>,
}

#[derive(Default)]
struct Cache {
    /// The `jwks_uri` and the issuers the discovery documents named, once read.
    metadata: Option<Metadata>,
    keys: HashMap<String, Key>,
    /// When the keys are due to be fetched again: `keys_ttl` after a fetch, `min_refetch_interval`
    /// after a failed one.
    due: Option<Instant>,
    /// The last refetch an unknown kid caused.
    refetched_at: Option<Instant>,
    fetches: u64,
}

#[derive(Clone)]
struct Metadata {
    jwks_uri: String,
    /// The documents' issuers, the v2.0 one first.
    issuers: Vec<String>,
}

/// A validator with its key cache; share one per API.
pub struct Validator {
    config: ValidatorConfig,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("discovery_uris", &self.config.discovery_uris)
            .finish_non_exhaustive()
    }
}

impl Validator {
    pub fn new(config: ValidatorConfig, http: reqwest::Client) -> Self {
        Validator {
            config,
            http,
            cache: tokio::sync::Mutex::new(Cache::default()),
        }
    }

    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// How many times the keys were asked for, answered or not (for tests of the refetch limit).
    pub async fn fetches(&self) -> u64 {
        self.cache.lock().await.fetches
    }

    async fn get_json(&self, url: &str) -> Result<Value, Rejection> {
        let unavailable = |e: reqwest::Error| Rejection::KeysUnavailable(e.to_string());
        self.http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)
    }

    /// The discovery documents' `jwks_uri` and issuers, read once.
    async fn metadata(&self, cache: &mut Cache) -> Result<Metadata, Rejection> {
        if let Some(m) = &cache.metadata {
            return Ok(m.clone());
        }
        let mut jwks_uri = None;
        let mut issuers = Vec::new();
        for uri in &self.config.discovery_uris {
            let doc = self.get_json(uri).await?;
            if let Some(issuer) = doc["issuer"].as_str() {
                issuers.push(issuer.to_string());
            }
            if jwks_uri.is_none() {
                jwks_uri = doc["jwks_uri"].as_str().map(str::to_string);
            }
        }
        let m = Metadata {
            jwks_uri: jwks_uri.unwrap_or_else(|| self.config.jwks_uri.clone()),
            issuers,
        };
        cache.metadata = Some(m.clone());
        Ok(m)
    }

    async fn fetch(&self, cache: &mut Cache) -> Result<(), Rejection> {
        cache.fetches += 1;
        let jwks_uri = self.metadata(cache).await?.jwks_uri;
        let body = self.get_json(&jwks_uri).await?;
        let mut keys = HashMap::new();
        for k in body["keys"].as_array().into_iter().flatten() {
            let (Some(kid), Some(n), Some(e)) =
                (k["kid"].as_str(), k["n"].as_str(), k["e"].as_str())
            else {
                continue;
            };
            if k["kty"] != "RSA" {
                continue;
            }
            if let Ok(key) = DecodingKey::from_rsa_components(n, e) {
                let issuer = k["issuer"].as_str().map(str::to_string);
                keys.insert(kid.to_string(), Key { key, issuer });
            }
        }
        cache.keys = keys;
        cache.due = Instant::now().checked_add(self.config.keys_ttl);
        Ok(())
    }

    /// Fetches the keys; when that fails with keys in hand, goes on with them and tries again
    /// after `min_refetch_interval`, as Microsoft.IdentityModel's `ConfigurationManager` does
    /// ("stale metadata is better than no metadata").
    async fn refresh(&self, cache: &mut Cache) -> Result<(), Rejection> {
        match self.fetch(cache).await {
            Err(e) if !cache.keys.is_empty() => {
                tracing::warn!("signing keys not refreshed, the cached ones stay in use: {e}");
                cache.due = Instant::now().checked_add(self.config.min_refetch_interval);
                Ok(())
            }
            other => other,
        }
    }

    /// The key for `kid`, with the issuers accepted: from the cache while it is fresh; an
    /// unknown `kid` refetches at most once per `min_refetch_interval`.
    async fn key(&self, kid: &str) -> Result<(Key, Vec<String>), Rejection> {
        let mut cache = self.cache.lock().await;
        let stale = cache.due.is_none_or(|t| Instant::now() >= t);
        if stale {
            self.refresh(&mut cache).await?;
        }
        if !cache.keys.contains_key(kid) {
            let may_refetch = cache
                .refetched_at
                .is_none_or(|t| t.elapsed() >= self.config.min_refetch_interval);
            if !stale && may_refetch {
                cache.refetched_at = Some(Instant::now());
                self.refresh(&mut cache).await?;
            }
        }
        let key = cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| Rejection::UnknownKid(kid.to_string()))?;
        let mut issuers = cache
            .metadata
            .as_ref()
            .map(|m| m.issuers.clone())
            .unwrap_or_default();
        issuers.extend(self.config.issuers.iter().cloned());
        Ok((key, issuers))
    }

    /// Validates an access token; its claims when it passes.
    pub async fn validate(&self, token: &str) -> Result<Value, Rejection> {
        if Mutation::ApiAcceptsAlgNone.active() && raw_alg(token).as_deref() == Some("none") {
            return unverified_claims(token).ok_or(Rejection::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) => {
                // jsonwebtoken knows no `none`: name the algorithm the header claims.
                raw_alg(token).map_or(Rejection::Malformed, Rejection::Algorithm)
            }
            _ => Rejection::Malformed,
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(Rejection::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(Rejection::UnknownKid(String::new()))?;
        let (key, issuers) = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&self.config.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = self.config.leeway.as_secs();
        v.validate_aud = !Mutation::ApiSkipsAudience.active();
        v.validate_exp = !Mutation::ApiSkipsExpiry.active();
        let claims = jsonwebtoken::decode::<Value>(token, &key.key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Rejection::Expired,
                ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                ErrorKind::InvalidAudience => Rejection::Audience,
                ErrorKind::InvalidSignature => Rejection::Signature,
                ErrorKind::InvalidAlgorithm => Rejection::Algorithm("not RS256".into()),
                _ => Rejection::Malformed,
            })?
            .claims;
        check_issuer(&claims, &issuers, key.issuer.as_deref())?;
        Ok(claims)
    }
}

/// Microsoft.IdentityModel's issuer rules for Entra
/// (<https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-issuer>):
/// `iss` is one of the accepted issuers once a `{tenantid}` in it is replaced by the token's
/// `tid`; a key the key set gives an `issuer` signs only for that issuer (with the same
/// replacement), or, for a v1.0 token, for the v2.0 issuer of the token's tenant (v1.0 keys carry
/// no issuer, so a v1.0 token meets the v2.0 key set's).
fn check_issuer(
    claims: &Value,
    issuers: &[String],
    key_issuer: Option<&str>,
) -> Result<(), Rejection> {
    let iss = claims["iss"].as_str().ok_or(Rejection::Issuer)?;
    let tid = claims["tid"]
        .as_str()
        .filter(|t| uuid::Uuid::parse_str(t).is_ok());
    let effective = |template: &str| match tid {
        Some(tid) => template.replace(TENANT_ID_TEMPLATE, tid),
        None => template.to_string(),
    };
    let accepted = issuers
        .iter()
        .any(|i| !(i.contains(TENANT_ID_TEMPLATE) && tid.is_none()) && effective(i) == iss);
    if !accepted {
        return Err(if tid.is_none() {
            Rejection::Tenant
        } else {
            Rejection::Issuer
        });
    }
    if let Some(key_issuer) = key_issuer {
        let key_issuer = effective(key_issuer);
        let v2_issuer = issuers.first().map(|i| effective(i));
        if key_issuer != iss && Some(&key_issuer) != v2_issuer.as_ref() {
            return Err(Rejection::KeyIssuer);
        }
    }
    Ok(())
}

/// The payload without any check (only for the `api-accepts-alg-none` mutation).
fn unverified_claims(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn raw_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v["alg"].as_str().map(str::to_string)
}

/// The permission check: one of `scopes` in `scp` (delegated) or one of `roles` (app or user
/// roles).
pub fn require_any(claims: &Value, scopes: &[&str], roles: &[&str]) -> Result<(), Rejection> {
    let scp_ok = claims["scp"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|v| scopes.contains(&v)));
    let roles_ok = claims["roles"].as_array().is_some_and(|a| {
        a.iter()
            .any(|r| r.as_str().is_some_and(|r| roles.contains(&r)))
    });
    if scp_ok || roles_ok {
        Ok(())
    } else {
        Err(Rejection::InsufficientScope)
    }
}

/// The claims challenge an API sends for a Conditional Access authentication context it needs
/// (step-up, e.g. MFA for `c1`): `401` with `WWW-Authenticate: Bearer realm="{tenant}",
/// authorization_uri="{authorize endpoint}", error="insufficient_claims", claims="<base64 of
/// {"access_token":{"acrs":{"essential":true,"value":"c1"}}}>"`; the tenant's authorization URI
/// goes with a realm naming it
/// (<https://learn.microsoft.com/entra/identity-platform/claims-challenge#claims-challenge-header-format>,
/// <https://learn.microsoft.com/entra/identity-platform/developer-guide-conditional-access-authentication-context>).
pub fn auth_context_challenge(realm: &str, authorization_uri: &str, context: &str) -> String {
    use base64::Engine;
    let claims =
        serde_json::json!({"access_token": {"acrs": {"essential": true, "value": context}}});
    format!(
        "Bearer realm=\"{realm}\", authorization_uri=\"{authorization_uri}\", error=\"insufficient_claims\", error_description=\"the authentication context {context} is required\", claims=\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(claims.to_string())
    )
}

/// The claims JSON a client must send back as the `claims` parameter of `/authorize`, from an
/// `insufficient_claims` challenge (`claims` is base64 in the header, plain JSON in the request;
/// <https://learn.microsoft.com/entra/identity-platform/claims-challenge#claims-challenge-header-format>).
pub fn claims_from_challenge(www_authenticate: &str) -> Option<String> {
    use base64::Engine;
    if !www_authenticate.contains("insufficient_claims") {
        return None;
    }
    let b64 = www_authenticate
        .split("claims=\"")
        .nth(1)?
        .split('"')
        .next()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64))
        .ok()?;
    let json = String::from_utf8(bytes).ok()?;
    serde_json::from_str::<Value>(&json)
        .ok()
        .filter(Value::is_object)
        .map(|_| json)
}

/// Whether the token's `acrs` holds the authentication context `context` (Entra adds it once the
/// context's Conditional Access policies, e.g. MFA, were met; v2.0 access tokens carry no `amr`).
pub fn has_auth_context(claims: &Value, context: &str) -> bool {
    claims["acrs"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_need_a_listed_scope_or_role() {
        let delegated = serde_json::json!({"scp": "User.Read access_as_user"});
        assert!(require_any(&delegated, &["access_as_user"], &[]).is_ok());
        let app = serde_json::json!({"roles": ["Tasks.ReadWrite.All"]});
        assert!(require_any(&app, &["access_as_user"], &["Tasks.ReadWrite.All"]).is_ok());
        let none = serde_json::json!({"scp": "access_as_user_not"});
        assert_eq!(
            require_any(&none, &["access_as_user"], &["Tasks.ReadWrite.All"]),
            Err(Rejection::InsufficientScope)
        );
    }

    #[test]
    fn issuers_and_key_issuers_follow_the_tokens_tid() {
        let tid = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
        let other = "99990000-0000-4000-8000-000000000009";
        let v2 = format!("https://login.example/{tid}/v2.0");
        let v1 = format!("https://sts.example/{tid}/");
        let claims = |iss: &str, tid: &str| serde_json::json!({"iss": iss, "tid": tid});
        let templates = [
            "https://login.example/{tenantid}/v2.0".to_string(),
            "https://sts.example/{tenantid}/".to_string(),
        ];
        let tenant = [v2.clone(), v1.clone()];
        // The tenant's own issuers, with a key naming the v2.0 one (v1.0 tokens meet it too).
        assert_eq!(check_issuer(&claims(&v2, tid), &tenant, Some(&v2)), Ok(()));
        assert_eq!(check_issuer(&claims(&v1, tid), &tenant, Some(&v2)), Ok(()));
        assert_eq!(check_issuer(&claims(&v1, tid), &tenant, None), Ok(()));
        // A multi-tenant API: any tenant's, its key's template filled with the same tid.
        let foreign = format!("https://login.example/{other}/v2.0");
        assert_eq!(
            check_issuer(&claims(&foreign, other), &templates, Some(&templates[0])),
            Ok(())
        );
        // A key published for one tenant does not sign for another.
        assert_eq!(
            check_issuer(&claims(&foreign, other), &templates, Some(&v2)),
            Err(Rejection::KeyIssuer)
        );
        // `iss` and `tid` of different tenants, and no `tid` for a template.
        assert_eq!(
            check_issuer(&claims(&foreign, tid), &templates, None),
            Err(Rejection::Issuer)
        );
        assert_eq!(
            check_issuer(&serde_json::json!({"iss": foreign}), &templates, None),
            Err(Rejection::Tenant)
        );
        assert_eq!(
            check_issuer(&claims(&foreign, other), &tenant, None),
            Err(Rejection::Issuer)
        );
    }

    #[test]
    fn refusals_speak_rfc_6750() {
        assert_eq!(Rejection::Expired.status(), 401);
        assert!(Rejection::Expired.www_authenticate().starts_with(
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        ));
        assert_eq!(Rejection::InsufficientScope.status(), 403);
        assert!(Rejection::InsufficientScope
            .www_authenticate()
            .contains("insufficient_scope"));
        let challenge = auth_context_challenge(
            "aaaabbbb-0000-cccc-1111-dddd2222eeee",
            "https://localhost:8443/aaaabbbb-0000-cccc-1111-dddd2222eeee/oauth2/v2.0/authorize",
            "c1",
        );
        assert!(challenge.starts_with(
            "Bearer realm=\"aaaabbbb-0000-cccc-1111-dddd2222eeee\", authorization_uri=\"https://localhost:8443/aaaabbbb-0000-cccc-1111-dddd2222eeee/oauth2/v2.0/authorize\", error=\"insufficient_claims\""
        ));
        let b64 = challenge
            .split("claims=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        use base64::Engine;
        let json = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["access_token"]["acrs"]["value"], "c1");
        assert_eq!(v["access_token"]["acrs"]["essential"], true);
        let sent: Value =
            serde_json::from_str(&claims_from_challenge(&challenge).unwrap()).unwrap();
        assert_eq!(sent, v);
        assert_eq!(
            claims_from_challenge("Bearer error=\"invalid_token\""),
            None
        );
        assert_eq!(
            claims_from_challenge("Bearer error=\"insufficient_claims\", claims=\"bm90IGpzb24=\""),
            None
        );
        assert!(has_auth_context(&serde_json::json!({"acrs": ["c1"]}), "c1"));
        assert!(!has_auth_context(
            &serde_json::json!({"acrs": ["c2"]}),
            "c1"
        ));
        assert!(!has_auth_context(
            &serde_json::json!({"amr": ["pwd", "mfa"]}),
            "c1"
        ));
    }
}
