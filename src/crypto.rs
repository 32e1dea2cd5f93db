//! Digests, constant-time comparison and random values: a leaf module every layer may use.

use aws_lc_rs::aead;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// SHA-256 of a secret: what is stored for codes, refresh tokens and client secrets.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// base64url (no padding) of SHA-256: PKCE's S256 (RFC 7636 section 4.2).
pub fn s256(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Password digest: SHA-256 over salt and password. Fixture passwords are test data, so a fast
/// hash is right here (a slow KDF would cost milliseconds on every sign-in).
pub fn password_digest(salt: &[u8], password: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    h.finalize().to_vec()
}

/// Constant-time comparison of two digests (or any two secrets of public length).
pub fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A random (version 4) UUID from the thread's CSPRNG: `Uuid::new_v4` asks the kernel each
/// time, a system call per trace and correlation id.
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// Random base64url text of `n` bytes (`uti`, `rh`, opaque token values).
pub fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key for values the client carries and hands back unchanged, such as a sign-in flow in its
/// page (Entra's `ctx`): AES-256-GCM, a random 96-bit nonce per value, the key random and held
/// in memory only, so a value sealed by one run of the server opens in no other. `purpose` is
/// authenticated with each value, so one key never opens a value sealed for another use.
pub struct SealKey(std::sync::RwLock<std::sync::Arc<aead::LessSafeKey>>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// A value that could not be sealed (the cipher refused; never expected).
#[derive(Debug, thiserror::Error)]
#[error("sealing failed")]
pub struct SealError;

impl SealKey {
    pub fn new() -> Result<SealKey, SealError> {
        Ok(SealKey(std::sync::RwLock::new(Self::fresh()?)))
    }

    fn fresh() -> Result<std::sync::Arc<aead::LessSafeKey>, SealError> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &bytes).map_err(|_| SealError)?;
        Ok(std::sync::Arc::new(aead::LessSafeKey::new(key)))
    }

    fn current(&self) -> std::sync::Arc<aead::LessSafeKey> {
        match self.0.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A new key: every value sealed before no longer opens.
    pub fn renew(&self) -> Result<(), SealError> {
        let key = Self::fresh()?;
        match self.0.write() {
            Ok(mut k) => *k = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }

    /// base64url of nonce, ciphertext and tag, sealed in one buffer (no copy of `plain` but
    /// the one into it).
    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<String, SealError> {
        let nonce: [u8; aead::NONCE_LEN] = rand::random();
        let mut out = Vec::with_capacity(aead::NONCE_LEN + plain.len() + aead::MAX_TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .current()
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(purpose),
                &mut out[aead::NONCE_LEN..],
            )
            .map_err(|_| SealError)?;
        out.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The value [`SealKey::seal`] sealed for `purpose` with the current key; `None` for
    /// anything else (altered, truncated, sealed for another purpose or before a renewal).
    /// Opened within the decoded buffer, the plain text moved to its start.
    pub fn open(&self, purpose: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let nonce = aead::Nonce::try_assume_unique_for_key(bytes.get(..aead::NONCE_LEN)?).ok()?;
        let plain_len = self
            .current()
            .open_within(
                nonce,
                aead::Aad::from(purpose),
                &mut bytes,
                aead::NONCE_LEN..,
            )
            .ok()?
            .len();
        bytes.truncate(plain_len);
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::SealKey;

    #[test]
    fn a_sealed_value_opens_only_unchanged_for_its_purpose_and_key() {
        let key = SealKey::new().unwrap();
        let sealed = key.seal(b"flow", b"the state").unwrap();
        assert_eq!(key.open(b"flow", &sealed).unwrap(), b"the state");
        // Each seal is new (a random nonce), and reveals nothing of the value.
        let again = key.seal(b"flow", b"the state").unwrap();
        assert_ne!(sealed, again);
        assert!(!sealed.contains("state"));
        assert!(key.open(b"other", &sealed).is_none());
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 5;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(key.open(b"flow", &altered).is_none());
        // Shorter than a nonce, and a nonce with less than a tag after it.
        for junk in ["", "x", "%%%", &"A".repeat(10), &"A".repeat(24)] {
            assert!(key.open(b"flow", junk).is_none(), "{junk}");
        }
        key.renew().unwrap();
        assert!(key.open(b"flow", &again).is_none());
    }

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            super::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
