//! The JWKS document as Entra publishes it: `kty, use, kid, x5t, n, e, x5c, issuer` per key
//! (<https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-signature>).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use super::{KeySet, SigningKey};

/// The key set; `issuer` is written into each key of the v2.0 document, not the v1 one.
pub fn render(keys: &KeySet, issuer: Option<&str>) -> Value {
    render_keys(keys.published.iter().map(|k| k.as_ref()), issuer)
}

/// The key set without the signing key: what a stale cache serves during a rollover.
pub fn render_without_active(keys: &KeySet, issuer: Option<&str>) -> Value {
    render_keys(
        keys.published
            .iter()
            .filter(|k| k.kid != keys.active.kid)
            .map(|k| k.as_ref()),
        issuer,
    )
}

fn render_keys<'a>(keys: impl Iterator<Item = &'a SigningKey>, issuer: Option<&str>) -> Value {
    let keys: Vec<Value> = keys
        .map(|k| {
            let mut key = json!({
                "kty": "RSA",
                "use": "sig",
                "kid": k.kid,
                "x5t": k.kid,
                "n": URL_SAFE_NO_PAD.encode(&k.n),
                "e": URL_SAFE_NO_PAD.encode(&k.e),
                "x5c": [STANDARD.encode(&k.cert_der)],
            });
            if let (Some(iss), Value::Object(m)) = (issuer, &mut key) {
                m.insert("issuer".into(), iss.into());
            }
            key
        })
        .collect();
    json!({ "keys": keys })
}
