//! entra-mock's test issuer for workload identity federation, at `{base}/_mock/federation`: a
//! stand-in for a CI provider's OIDC issuer (GitHub Actions' `token.actions.githubusercontent.com`
//! shape). It serves its discovery document and keys, and `POST /_mock/federation/token` mints
//! what a CI job would get: a JWT with `iss`, `sub`, `aud` (default `api://AzureADTokenExchange`),
//! `iat`, `nbf`, `exp`, `jti`. Entra checks such a token like any external issuer's, through that
//! discovery document (`oauth::federation`). The issuer's key is made once per process, on first
//! use, and never stored: tokens minted before a restart no longer verify, as after a provider's
//! key rollover.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::directory::FEDERATION_AUDIENCE;
use crate::error::{Error, Result};
use crate::keys::{generate, SigningKey};

/// Lifetime of a minted token unless asked otherwise (GitHub's are valid for minutes).
const DEFAULT_LIFETIME_SECS: i64 = 600;

static KEY: OnceCell<SigningKey> = OnceCell::const_new();

async fn key(now: i64) -> Result<&'static SigningKey> {
    KEY.get_or_try_init(|| async {
        let row = generate(now).await?;
        SigningKey::from_row(&row)
    })
    .await
    .map_err(Error::Internal)
}

/// The issuer URL for requests that reached this server at `base_url`.
pub fn issuer(base_url: &str) -> String {
    format!("{base_url}/_mock/federation")
}

/// `GET /_mock/federation/.well-known/openid-configuration`.
pub fn discovery(base_url: &str) -> Value {
    let iss = issuer(base_url);
    json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/keys"),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    })
}

/// `GET /_mock/federation/keys`.
pub async fn keys(now: i64) -> Result<Value> {
    let k = key(now).await?;
    Ok(json!({"keys": [{
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": k.kid,
        "n": URL_SAFE_NO_PAD.encode(&k.n),
        "e": URL_SAFE_NO_PAD.encode(&k.e),
    }]}))
}

/// `POST /_mock/federation/token`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationTokenRequest {
    /// `sub`, e.g. `repo:contoso/app:ref:refs/heads/main`.
    pub subject: String,
    /// `aud`; default `api://AzureADTokenExchange`.
    pub audience: Option<String>,
    /// Default 600.
    pub lifetime_seconds: Option<i64>,
    /// More claims (GitHub's `repository`, `ref`, `workflow` ...); the standard ones win.
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Map<String, Value>>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct FederationToken {
    /// The JWT, as `AZURE_FEDERATED_TOKEN_FILE` would hold it.
    pub token: String,
    pub issuer: String,
    pub expires_on: i64,
}

pub async fn mint(
    req: FederationTokenRequest,
    base_url: &str,
    now: i64,
) -> Result<FederationToken> {
    if req.subject.trim().is_empty() {
        return Err(Error::MissingParameter("subject"));
    }
    let lifetime = req.lifetime_seconds.unwrap_or(DEFAULT_LIFETIME_SECS);
    if !(1..=86_400).contains(&lifetime) {
        return Err(Error::InvalidParameter {
            name: "lifetime_seconds",
            reason: "must be 1 to 86400 seconds.".into(),
        });
    }
    let iss = issuer(base_url);
    let mut claims = req.claims.unwrap_or_default();
    for (k, v) in [
        ("iss", json!(iss)),
        ("sub", json!(req.subject)),
        (
            "aud",
            json!(req.audience.as_deref().unwrap_or(FEDERATION_AUDIENCE)),
        ),
        ("iat", json!(now)),
        ("nbf", json!(now)),
        ("exp", json!(now + lifetime)),
        ("jti", json!(crate::crypto::random_uuid().to_string())),
    ] {
        claims.insert(k.to_string(), v);
    }
    let token = key(now)
        .await?
        .sign(&Value::Object(claims), false)
        .map_err(Error::Internal)?;
    Ok(FederationToken {
        token,
        issuer: iss,
        expires_on: now + lifetime,
    })
}
