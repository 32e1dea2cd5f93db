//! jsonwebtoken's crypto provider, with RSA keys parsed once.
//!
//! jsonwebtoken's own backends parse the private key on every `encode`, which costs more than the
//! signature itself. This provider keeps each signing key parsed (aws-lc-rs) in a registry keyed by
//! its DER bytes, and signs with it; anything unregistered and every verification go to
//! jsonwebtoken's aws-lc-rs provider.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaEncoding, RsaKeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256};
use jsonwebtoken::crypto::{aws_lc, CryptoProvider, JwtSigner};
use jsonwebtoken::{Algorithm, EncodingKey};

type Registry = RwLock<HashMap<Vec<u8>, Arc<RsaKeyPair>>>;

static PARSED: LazyLock<Registry> = LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: aws_lc::DEFAULT_PROVIDER.verifier_factory,
    jwk_utils: aws_lc::DEFAULT_PROVIDER.jwk_utils.clone(),
});

/// Installs the provider for this process (idempotent; the first install wins).
pub fn install() {
    let _ = PROVIDER.install_default();
}

/// Makes `der` (the bytes of an [`EncodingKey::from_rsa_der`]) sign with an already parsed key.
pub fn register(der: &[u8], key: RsaKeyPair) {
    if let Ok(mut map) = PARSED.write() {
        map.insert(der.to_vec(), Arc::new(key));
    }
}

fn new_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    let encoding: Option<&'static dyn RsaEncoding> = match alg {
        Algorithm::RS256 => Some(&RSA_PKCS1_SHA256),
        Algorithm::PS256 => Some(&RSA_PSS_SHA256),
        _ => None,
    };
    let parsed = PARSED.read().ok().and_then(|m| m.get(key.inner()).cloned());
    match (encoding, parsed) {
        (Some(encoding), Some(pair)) => Ok(Box::new(ParsedRsaSigner {
            pair,
            encoding,
            alg: *alg,
        })),
        _ => (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key),
    }
}

struct ParsedRsaSigner {
    pair: Arc<RsaKeyPair>,
    encoding: &'static dyn RsaEncoding,
    alg: Algorithm,
}

impl signature::Signer<Vec<u8>> for ParsedRsaSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(self.encoding, &SystemRandom::new(), msg, &mut sig)
            .map_err(signature::Error::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for ParsedRsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}
