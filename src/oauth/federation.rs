//! Workload identity federation
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation>): an app
//! authenticates with a token of an external issuer (a CI provider, Kubernetes, another cloud)
//! that one of its `federatedIdentityCredentials` trusts, sent as `client_assertion` with
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`. The token's
//! `iss` must be the credential's issuer (AADSTS700211), its `sub` the credential's subject
//! (AADSTS700213; AADSTS7002138 when it differs in case only), its `aud` one of the credential's audiences (AADSTS700212), its time window
//! current (AADSTS700024), and its signature one of the issuer's keys, found through the
//! issuer's own OIDC discovery (`{iss}/.well-known/openid-configuration`, then `jwks_uri`;
//! AADSTS50166 when they cannot be fetched, AADSTS700027 for a bad signature). An issuer's keys
//! are cached ([`IssuerKeys`]) and fetched again only when they are old or lack the token's `kid`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::directory::{Application, FederatedCredential};
use crate::error::{Error, Result};
use crate::keys::verify::signature_only;

/// Clock skew tolerated on `exp` / `nbf` of every client assertion (Entra allows five minutes).
pub const SKEW_SECS: i64 = 300;
/// How long an issuer's key set is used before it is fetched again.
const KEYS_TTL: Duration = Duration::from_secs(300);

/// Issuers' key sets as last fetched. Only issuers a fixture credential names are fetched, so
/// the map stays as small as the fixtures.
#[derive(Debug, Default)]
pub struct IssuerKeys(Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>);

impl IssuerKeys {
    fn fresh(&self, issuer: &str, now: Instant) -> Option<Arc<JwkSet>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(issuer)
            .filter(|(at, _)| now.duration_since(*at) < KEYS_TTL)
            .map(|(_, set)| set.clone())
    }

    fn put(&self, issuer: &str, set: Arc<JwkSet>, now: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(issuer.to_string(), (now, set));
    }
}

/// The key a token's header names: by `kid`, or the only key of a set without one.
fn find(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

/// Discovery documents and key sets larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: f64,
    nbf: Option<f64>,
}

/// A JWT's `aud`: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A client assertion's (certificate or federated) time window, with [`SKEW_SECS`] of skew on
/// either side: AADSTS700024, whose message gives the times as Entra writes them, an absent `nbf`
/// as the epoch ("assertion valid from 1970-01-01T00:00:00.0000000Z", quoted in
/// AzureAD/microsoft-authentication-library-for-java issue 984 and
/// microsoft-authentication-library-for-dotnet issue 4951).
pub fn within_time_range(exp: f64, nbf: Option<f64>, now: i64) -> Result<()> {
    let (exp, nbf) = (exp as i64, nbf.map(|n| n as i64));
    if exp.saturating_add(SKEW_SECS) < now || nbf.is_some_and(|n| n.saturating_sub(SKEW_SECS) > now)
    {
        let at = |t: i64| {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
            );
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .and_then(|t| t.format(&fmt).ok())
                .unwrap_or_else(|| t.to_string())
        };
        return Err(Error::ClientAssertionOutOfTime {
            now: at(now),
            nbf: at(nbf.unwrap_or(0)),
            exp: at(exp),
        });
    }
    Ok(())
}

/// Checks a federated assertion for `app`; `base_url` is what `{base}` in a credential's issuer
/// stands for.
pub async fn verify(
    http: &reqwest::Client,
    cache: &IssuerKeys,
    app: &Application,
    assertion: &str,
    base_url: &str,
    now: i64,
) -> Result<()> {
    let bad = |m: &str| Error::InvalidClientAssertion(m.to_string());
    // A token file written with a trailing newline (`jq -r .token > file`) still works.
    let assertion = assertion.trim();
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| bad("The client assertion is not a JWT."))?;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion)
        .map_err(|_| bad("The client assertion lacks iss, sub, aud or exp."))?
        .claims;
    let by_issuer: Vec<&FederatedCredential> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer_at(base_url) == claims.iss)
        .collect();
    if by_issuer.is_empty() {
        return Err(Error::FederatedIssuerUnknown(claims.iss));
    }
    // Subjects and audiences compare exactly (case-sensitive), as Entra's do.
    let by_subject: Vec<&&FederatedCredential> = by_issuer
        .iter()
        .filter(|f| f.subject == claims.sub)
        .collect();
    if by_subject.is_empty() {
        let by_case = by_issuer
            .iter()
            .any(|f| f.subject.eq_ignore_ascii_case(&claims.sub));
        return Err(match by_case {
            true => Error::FederatedSubjectCase(claims.sub),
            false => Error::FederatedSubjectUnknown(claims.sub),
        });
    }
    let audiences = claims.aud.values();
    if !by_subject
        .iter()
        .any(|f| f.audiences.iter().any(|a| audiences.contains(&a.as_str())))
    {
        return Err(Error::FederatedAudienceUnknown(audiences.join(" ")));
    }
    within_time_range(claims.exp, claims.nbf, now)?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
    ) {
        return Err(bad("The client assertion's algorithm is not supported."));
    }
    let kid = header.kid.as_deref();
    let cached = cache
        .fresh(&claims.iss, Instant::now())
        .and_then(|set| find(&set, kid));
    let jwk = match cached {
        Some(jwk) => jwk,
        // Not cached, old, or the issuer rolled its keys over since.
        None => {
            let set = Arc::new(issuer_keys(http, &claims.iss).await?);
            cache.put(&claims.iss, set.clone(), Instant::now());
            find(&set, kid)
                .ok_or_else(|| bad("The issuer publishes no key with the assertion's kid."))?
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("The issuer's key is not usable."))?;
    signature_only::<serde_json::Value>(assertion, header.alg, &key)
        .map_err(|e| Error::InvalidClientAssertion(format!("Signature validation failed: {e}.")))?;
    Ok(())
}

/// The issuer's keys, through its discovery document.
async fn issuer_keys(http: &reqwest::Client, issuer: &str) -> Result<JwkSet> {
    #[derive(Deserialize)]
    struct Discovery {
        jwks_uri: String,
    }
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery: Discovery = fetch_json(http, &discovery_url).await?;
    fetch_json(http, &discovery.jwks_uri).await
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T> {
    let failed = |why: String| Error::ExternalOidcEndpoint(format!("{url}: {why}"));
    let parsed = url::Url::parse(url).map_err(|e| failed(e.to_string()))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(failed("not an http(s) URL".into()));
    }
    let res = http
        .get(parsed)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !res.status().is_success() {
        return Err(failed(format!("HTTP {}", res.status().as_u16())));
    }
    if res
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(failed("the document is too large".into()));
    }
    let body = res.bytes().await.map_err(|e| failed(e.to_string()))?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(failed("the document is too large".into()));
    }
    serde_json::from_slice(&body).map_err(|e| failed(format!("not the expected JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(kid: &str) -> Arc<JwkSet> {
        let v = serde_json::json!({"keys": [{"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"}]});
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn an_issuers_keys_are_reused_until_they_are_old() {
        let cache = IssuerKeys::default();
        let t0 = Instant::now();
        assert!(cache.fresh("https://i", t0).is_none());
        cache.put("https://i", set("k1"), t0);
        let hit = cache
            .fresh("https://i", t0 + Duration::from_secs(10))
            .unwrap();
        assert!(find(&hit, Some("k1")).is_some());
        assert!(find(&hit, Some("k2")).is_none(), "an unknown kid is a miss");
        assert!(
            find(&hit, None).is_some(),
            "a set of one key serves a token without kid"
        );
        assert!(cache.fresh("https://other", t0).is_none());
        assert!(cache.fresh("https://i", t0 + KEYS_TTL).is_none());
    }
}
