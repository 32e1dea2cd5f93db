//! Token-signing keys: RSA-2048 made with `rsa`, each with a self-signed certificate, `kid` = `x5t`
//! = base64url SHA-1 thumbprint of the certificate as Entra publishes them
//! (<https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>).
//! Lifecycle: `next` (published, not signing yet) -> `active` (signs) -> `retired` (unpublished).
//! A key is parsed once when the key set changes, never per token.

pub mod jwks;
pub mod parallel;
pub mod provider;
pub mod rotation;
pub mod verify;

use std::sync::{Arc, RwLock};

use anyhow::Context;
use aws_lc_rs::signature::RsaKeyPair;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::store::keys::KeyRow;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs new tokens.
    Active,
    /// Signed before; still published so that its tokens validate until it is retired.
    Previous,
    /// Unpublished: its tokens no longer validate.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Previous => "previous",
            KeyState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(KeyState::Next),
            "active" => Some(KeyState::Active),
            "previous" => Some(KeyState::Previous),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

pub struct SigningKey {
    pub kid: String,
    pub state: KeyState,
    pub cert_der: Vec<u8>,
    /// Modulus and exponent, big-endian.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    encoding_key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    pub fn from_row(row: &KeyRow) -> anyhow::Result<Self> {
        let state = KeyState::parse(&row.state).context("unknown key state")?;
        let private = RsaPrivateKey::from_pkcs8_der(&row.private_key_pkcs8)
            .context("stored signing key is not PKCS#8 RSA")?;
        let pkcs1 = private.to_pkcs1_der().context("encoding PKCS#1")?;
        let parsed = RsaKeyPair::from_pkcs8(&row.private_key_pkcs8)
            .map_err(|e| anyhow::anyhow!("aws-lc-rs rejected the signing key: {e}"))?;
        provider::register(pkcs1.as_bytes(), parsed);
        Ok(SigningKey {
            kid: row.kid.clone(),
            state,
            cert_der: row.cert_der.clone(),
            n: private.n().to_bytes_be(),
            e: private.e().to_bytes_be(),
            encoding_key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        })
    }

    /// Signs `claims` as a JWT with header `{typ, alg: RS256, kid}` (plus `x5t` for v1 tokens).
    pub fn sign<T: Serialize>(&self, claims: &T, with_x5t: bool) -> anyhow::Result<String> {
        let signed = self.signing_input(claims, with_x5t)?;
        let signature = self.signature(&signed)?;
        Ok(format!("{signed}.{signature}"))
    }

    /// `header.payload`, base64url each, as `jsonwebtoken::encode` makes it: what the
    /// signature covers.
    fn signing_input<T: Serialize>(&self, claims: &T, with_x5t: bool) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        if with_x5t {
            header.x5t = Some(self.kid.clone());
        }
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        ))
    }

    /// The RS256 signature of `signed`, base64url; counted while it is made
    /// ([`parallel::Signing`]).
    fn signature(&self, signed: &str) -> anyhow::Result<String> {
        let _counted = parallel::Signing::start();
        jsonwebtoken::crypto::sign(signed.as_bytes(), &self.encoding_key, Algorithm::RS256)
            .context("signing a token")
    }
}

/// A JWT whose signing input is made and whose signature is not: [`Unsigned::sign`] signs it,
/// [`parallel::sign_pair`] two at once. Owns its key, so another thread can sign it.
pub struct Unsigned {
    key: Arc<SigningKey>,
    /// `header.payload`: what the signature covers.
    signed: String,
    /// The header the token shows instead of the signed one (Graph tokens, [`Unsigned::graph`]).
    shown_header: Option<String>,
}

impl std::fmt::Debug for Unsigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsigned")
            .field("kid", &self.key.kid)
            .field("claims", &"<redacted>")
            .finish()
    }
}

impl Unsigned {
    /// A JWT of `claims` to be signed by `key` ([`SigningKey::sign`]'s header).
    pub fn new<T: Serialize>(
        key: &Arc<SigningKey>,
        claims: &T,
        with_x5t: bool,
    ) -> anyhow::Result<Self> {
        Ok(Unsigned {
            key: key.clone(),
            signed: key.signing_input(claims, with_x5t)?,
            shown_header: None,
        })
    }

    /// The signed token.
    pub fn sign(self) -> anyhow::Result<String> {
        let signature = self.key.signature(&self.signed)?;
        Ok(match self.shown_header {
            None => format!("{}.{signature}", self.signed),
            Some(shown) => {
                let payload = self.signed.split_once('.').map_or("", |(_, p)| p);
                format!("{shown}.{payload}.{signature}")
            }
        })
    }
}

/// Microsoft Graph's access tokens carry a `nonce` in their JWT header, and the signature covers a
/// header whose `nonce` was replaced by its hash: like the real ones, they do not validate against
/// the published keys, so an API that wrongly accepts Graph tokens fails here as in production.
/// entra-mock hashes with base64url(SHA-256(nonce)); [`graph_signed_form`] undoes it for
/// entra-mock's own Graph endpoints.
impl Unsigned {
    pub fn graph<T: Serialize>(key: &Arc<SigningKey>, claims: &T) -> anyhow::Result<Self> {
        let nonce = crate::crypto::random_b64(32);
        let header = |nonce: &str| {
            serde_json::json!({
                "typ": "JWT", "nonce": nonce, "alg": "RS256", "x5t": key.kid, "kid": key.kid,
            })
            .to_string()
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        Ok(Unsigned {
            key: key.clone(),
            signed: format!(
                "{}.{payload}",
                URL_SAFE_NO_PAD.encode(header(&crate::crypto::s256(&nonce)))
            ),
            shown_header: Some(URL_SAFE_NO_PAD.encode(header(&nonce))),
        })
    }
}

/// A Graph token as it was signed (its header's `nonce` hashed), for entra-mock's own Graph
/// endpoints to verify; `None` when the token has no `nonce` header.
pub fn graph_signed_form(token: &str) -> Option<String> {
    let (header, rest) = token.split_once('.')?;
    let mut h: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let nonce = h.get("nonce")?.as_str()?.to_string();
    h.insert("nonce".into(), crate::crypto::s256(&nonce).into());
    let header = serde_json::to_vec(&serde_json::Value::Object(h)).ok()?;
    Some(format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header)))
}

/// The keys in force at one moment. Replaced as a whole when keys change.
#[derive(Debug)]
pub struct KeySet {
    /// Increases on every change; caches of rendered documents key on it.
    pub generation: u64,
    /// All keys not retired, in the order they are published.
    pub published: Vec<Arc<SigningKey>>,
    pub active: Arc<SigningKey>,
}

#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    /// One rotation at a time (manual or automatic); readers never wait on it.
    rotating: tokio::sync::Mutex<()>,
}

impl KeyRing {
    /// Loads the keys from the store; on first start (no active key) stores an active and a next
    /// key: the well-known development keys, or with [`FirstKeys::Fresh`] two new ones.
    pub async fn load_or_create(store: &Store, now: i64, first: FirstKeys) -> anyhow::Result<Self> {
        let mut rows = store.signing_keys().await?;
        if !rows.iter().any(|r| r.state == KeyState::Active.as_str()) {
            let (mut active, next) = match first {
                FirstKeys::WellKnown => (
                    well_known(WELL_KNOWN[0], now)?,
                    well_known(WELL_KNOWN[1], now)?,
                ),
                FirstKeys::Fresh => {
                    let (a, b) = tokio::join!(generate(now), generate(now));
                    (a?, b?)
                }
            };
            active.state = KeyState::Active.as_str().into();
            active.activated_at = Some(now);
            // Both keys or neither: a crash in between must not leave a key set without a next key.
            let mut tx = store.write().await?;
            tx.insert_signing_key(&active).await?;
            tx.insert_signing_key(&next).await?;
            tx.commit().await?;
            rows = store.signing_keys().await?;
        }
        let set = build_set(&rows, 1)?;
        Ok(KeyRing {
            current: RwLock::new(Arc::new(set)),
            rotating: tokio::sync::Mutex::new(()),
        })
    }

    pub fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the store after a lifecycle change.
    pub async fn reload(&self, store: &Store) -> anyhow::Result<()> {
        let rows = store.signing_keys().await?;
        let generation = self.snapshot().generation + 1;
        let set = Arc::new(build_set(&rows, generation)?);
        match self.current.write() {
            Ok(mut g) => *g = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }
}

fn build_set(rows: &[KeyRow], generation: u64) -> anyhow::Result<KeySet> {
    let mut published = Vec::new();
    let mut active = None;
    for row in rows {
        let key = SigningKey::from_row(row)?;
        if key.state == KeyState::Retired {
            continue;
        }
        let key = Arc::new(key);
        if key.state == KeyState::Active {
            active = Some(key.clone());
        }
        published.push(key);
    }
    Ok(KeySet {
        generation,
        published,
        active: active.context("no active signing key")?,
    })
}

/// Where the first keys of an empty store come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstKeys {
    /// The well-known development keys of `fixtures/keys/` (public on purpose, like the bff
    /// certificate): a first start needs no RSA key generation, which costs 100-300 ms a key and
    /// would otherwise sit between the start of every CI job and its first answer. Rotations
    /// still make fresh keys.
    WellKnown,
    /// Two new RSA-2048 keys (`--fresh-keys`): unique to this data dir, at that cost.
    Fresh,
}

/// The well-known development signing keys (key, certificate), made once with
/// `openssl req -x509 -newkey rsa:2048 -nodes -days 36500`; never valid anywhere real.
const WELL_KNOWN: [(&str, &str); 2] = [
    (
        include_str!("../../fixtures/keys/dev-signing-1.key"),
        include_str!("../../fixtures/keys/dev-signing-1.pem"),
    ),
    (
        include_str!("../../fixtures/keys/dev-signing-2.key"),
        include_str!("../../fixtures/keys/dev-signing-2.pem"),
    ),
];

fn well_known((key_pem, cert_pem): (&str, &str), now: i64) -> anyhow::Result<KeyRow> {
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
        .context("the well-known signing key")?;
    let cert = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .context("the well-known signing certificate")?;
    Ok(KeyRow {
        kid: thumbprint_sha1(&cert),
        state: KeyState::Next.as_str().into(),
        private_key_pkcs8: key.secret_pkcs8_der().to_vec(),
        cert_der: cert.to_vec(),
        created_at: now,
        activated_at: None,
        retired_at: None,
        deactivated_at: None,
    })
}

/// Makes a new RSA-2048 key and its self-signed certificate, off the async runtime.
pub async fn generate(now: i64) -> anyhow::Result<KeyRow> {
    tokio::task::spawn_blocking(move || generate_blocking(now))
        .await
        .context("key generation task")?
}

fn generate_blocking(now: i64) -> anyhow::Result<KeyRow> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).context("generating RSA key")?;
    let pkcs8 = private.to_pkcs8_der().context("encoding PKCS#8")?;
    let key_der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&key_der, &rcgen::PKCS_RSA_SHA256)
        .context("loading the key into rcgen")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "entra-mock token signing");
    params.not_before = time::OffsetDateTime::from_unix_timestamp(now)? - time::Duration::days(1);
    params.not_after = params.not_before + time::Duration::days(3650);
    let cert = params.self_signed(&key_pair).context("self-signing")?;
    let cert_der = cert.der().to_vec();
    Ok(KeyRow {
        kid: thumbprint_sha1(&cert_der),
        state: KeyState::Next.as_str().into(),
        private_key_pkcs8: pkcs8.as_bytes().to_vec(),
        cert_der,
        created_at: now,
        activated_at: None,
        retired_at: None,
        deactivated_at: None,
    })
}

/// base64url SHA-1 of a certificate: Entra's `x5t` and `kid`.
pub fn thumbprint_sha1(cert_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha1::digest(cert_der))
}

/// base64url SHA-256 of a certificate: `x5t#S256`.
pub fn thumbprint_sha256(cert_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(cert_der))
}
