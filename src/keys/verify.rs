//! Verification of entra-mock's own JWTs (the one home for it): signature by the published key
//! the header's `kid` names, RS256 only. Callers check the claims, against the injected clock.
//! Microsoft Graph tokens are signed over a hashed `nonce` header: pass them through
//! [`super::graph_signed_form`] first.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::KeySet;
use crate::error::Error;

/// Verifies the signature of a JWT of ours by a published key; callers check the claims (and
/// the time window, against the injected clock).
pub fn verify<T: serde::de::DeserializeOwned>(keys: &KeySet, token: &str) -> Result<T, Error> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidAccessToken)?;
    let kid = header.kid.ok_or(Error::InvalidAccessToken)?;
    let key = keys
        .published
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(Error::InvalidAccessToken)?;
    signature_only(
        token,
        Algorithm::RS256,
        &DecodingKey::from_rsa_raw_components(&key.n, &key.e),
    )
    .map_err(|_| Error::InvalidAccessToken)
}

/// Checks a JWT's signature by `key` with `alg` and decodes its claims, nothing else: time window,
/// audience and issuer are the caller's rules (they follow the injected clock, and each protocol
/// step has its own). Used for our own tokens and for client assertions.
pub fn signature_only<T: serde::de::DeserializeOwned>(
    token: &str,
    alg: Algorithm,
    key: &DecodingKey,
) -> Result<T, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<T>(token, key, &validation).map(|d| d.claims)
}
