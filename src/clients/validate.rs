//! `entra_mock::validate`: access-token validation as a resource API must do it against Entra (or
//! entra-mock): keys from the `jwks_uri` of the tenant's discovery document, cached by `kid` with a time to live and
//! refetched on an unknown `kid` at most once per interval (so a flood of forged `kid`s cannot turn
//! the API into a JWKS hammer); RS256 only; `iss`, `aud`, `exp`, `nbf`, `iat` (small skew), `tid`;
//! and the permission the API needs (`scp` or `roles`). Each refusal says why, in the
//! `WWW-Authenticate` form of RFC 6750 section 3
//! (<https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens>).
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

/// What a validator checks.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// The tenant's v2.0 issuer, `{authority host}/{tid}/v2.0`.
    pub issuer: String,
    /// Accepted `aud` values: the API's client id and its App ID URI.
    pub audiences: Vec<String>,
    /// The tenant id tokens must carry in `tid`.
    pub tenant_id: String,
    /// The tenant's discovery document: its `jwks_uri` names the keys (read once).
    pub discovery_uri: Option<String>,
    /// Where the keys are when there is no discovery document to ask (or it names none).
    pub jwks_uri: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// How long fetched keys are trusted before they are fetched again.
    pub keys_ttl: Duration,
    /// An unknown `kid` refetches the keys at most this often.
    pub min_refetch_interval: Duration,
}

impl ValidatorConfig {
    /// The usual configuration for an API of `tenant_id` at `base` (scheme and host of the
    /// authority, e.g. `https://login.microsoftonline.com` or entra-mock's).
    pub fn for_api(base: &str, tenant_id: &str, audiences: &[&str]) -> Self {
        let base = base.trim_end_matches('/');
        ValidatorConfig {
            issuer: format!("{base}/{tenant_id}/v2.0"),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            tenant_id: tenant_id.to_string(),
            discovery_uri: Some(format!(
                "{base}/{tenant_id}/v2.0/.well-known/openid-configuration"
            )),
            jwks_uri: format!("{base}/{tenant_id}/discovery/v2.0/keys"),
            leeway: Duration::from_secs(60),
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
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the issuer is not the tenant's")]
    Issuer,
    #[error("the audience is not this API")]
    Audience,
    #[error("the tenant is not this API's")]
    Tenant,
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

#[derive(Default)]
struct Cache {
    /// The `jwks_uri` the discovery document named.
    jwks_uri: Option<String>,
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    /// The last refetch an unknown kid caused.
    refetched_at: Option<Instant>,
    fetches: u64,
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
            .field("issuer", &self.config.issuer)
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

    /// How many times the keys were fetched (for tests of the refetch limit).
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

    async fn fetch(&self, cache: &mut Cache) -> Result<(), Rejection> {
        if cache.jwks_uri.is_none() {
            cache.jwks_uri = Some(match &self.config.discovery_uri {
                Some(d) => self.get_json(d).await?["jwks_uri"]
                    .as_str()
                    .unwrap_or(&self.config.jwks_uri)
                    .to_string(),
                None => self.config.jwks_uri.clone(),
            });
        }
        let jwks_uri = cache.jwks_uri.clone().unwrap_or_default();
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
                keys.insert(kid.to_string(), key);
            }
        }
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        cache.fetches += 1;
        Ok(())
    }

    /// The key for `kid`: from the cache while it is fresh; an unknown `kid` refetches at most
    /// once per `min_refetch_interval`.
    async fn key(&self, kid: &str) -> Result<DecodingKey, Rejection> {
        let mut cache = self.cache.lock().await;
        let stale = cache
            .fetched_at
            .is_none_or(|t| t.elapsed() >= self.config.keys_ttl);
        if stale {
            self.fetch(&mut cache).await?;
        }
        if let Some(k) = cache.keys.get(kid) {
            return Ok(k.clone());
        }
        let may_refetch = cache
            .refetched_at
            .is_none_or(|t| t.elapsed() >= self.config.min_refetch_interval);
        if !stale && may_refetch {
            cache.refetched_at = Some(Instant::now());
            self.fetch(&mut cache).await?;
        }
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| Rejection::UnknownKid(kid.to_string()))
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
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&self.config.audiences);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = self.config.leeway.as_secs();
        v.validate_aud = !Mutation::ApiSkipsAudience.active();
        v.validate_exp = !Mutation::ApiSkipsExpiry.active();
        let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Rejection::Expired,
                ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                ErrorKind::InvalidIssuer => Rejection::Issuer,
                ErrorKind::InvalidAudience => Rejection::Audience,
                ErrorKind::InvalidSignature => Rejection::Signature,
                ErrorKind::InvalidAlgorithm => Rejection::Algorithm("not RS256".into()),
                _ => Rejection::Malformed,
            })?
            .claims;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let iat = claims["iat"].as_i64().ok_or(Rejection::Malformed)?;
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        if iat > now.saturating_add(leeway) {
            return Err(Rejection::IssuedInFuture);
        }
        if claims["tid"].as_str() != Some(self.config.tenant_id.as_str()) {
            return Err(Rejection::Tenant);
        }
        Ok(claims)
    }
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

/// The claims challenge an API sends when it needs MFA (Entra's Conditional Access form):
/// `WWW-Authenticate: Bearer error="insufficient_claims", claims="<base64 of the claims JSON>"`
/// (<https://learn.microsoft.com/entra/identity-platform/claims-challenge>).
pub fn mfa_claims_challenge() -> String {
    use base64::Engine;
    let claims = r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#;
    format!(
        "Bearer error=\"insufficient_claims\", error_description=\"multi-factor authentication is required\", claims=\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(claims)
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

/// Whether the token's `amr` shows multi-factor authentication.
pub fn has_mfa(claims: &Value) -> bool {
    claims["amr"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "mfa"))
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
    fn refusals_speak_rfc_6750() {
        assert_eq!(Rejection::Expired.status(), 401);
        assert!(Rejection::Expired.www_authenticate().starts_with(
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        ));
        assert_eq!(Rejection::InsufficientScope.status(), 403);
        assert!(Rejection::InsufficientScope
            .www_authenticate()
            .contains("insufficient_scope"));
        let challenge = mfa_claims_challenge();
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
        assert_eq!(v["access_token"]["amr"]["values"][0], "mfa");
        assert_eq!(
            claims_from_challenge(&challenge).as_deref(),
            Some(r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#)
        );
        assert_eq!(
            claims_from_challenge("Bearer error=\"invalid_token\""),
            None
        );
        assert_eq!(
            claims_from_challenge("Bearer error=\"insufficient_claims\", claims=\"bm90IGpzb24=\""),
            None
        );
        assert!(has_mfa(&serde_json::json!({"amr": ["pwd", "mfa"]})));
        assert!(!has_mfa(&serde_json::json!({"amr": ["pwd"]})));
    }
}
