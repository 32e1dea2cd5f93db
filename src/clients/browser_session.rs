//! What a client needs for a browser session with Entra (issue 10 item 4, shared by the BFF and
//! the SPA host): a PKCE pair (RFC 7636, S256), a CSRF token bound to the session, and the
//! cookies, with the attributes the seed's security checklist asks for.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::{random_b64, s256};

/// A PKCE verifier and its S256 challenge (RFC 7636 sections 4.1-4.2).
#[derive(Clone)]
pub struct PkcePair {
    pub verifier: String,
    pub challenge: String,
}

impl std::fmt::Debug for PkcePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PkcePair")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl PkcePair {
    /// 32 random bytes, base64url: a 43-character verifier.
    pub fn generate() -> Self {
        let verifier = random_b64(32);
        let challenge = s256(&verifier);
        PkcePair {
            verifier,
            challenge,
        }
    }

    pub const METHOD: &'static str = "S256";
}

/// The key CSRF tokens are made with (random per process: sessions end with it).
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        CsrfKey(k)
    }

    fn mac(&self, session_id: &str) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(b"csrf|");
        mac.update(session_id.as_bytes());
        Some(mac)
    }

    /// The CSRF token of a session: HMAC-SHA256 of its id (a synchronizer token that needs no
    /// storage, OWASP's "signed double-submit" pattern bound to the session).
    pub fn token(&self, session_id: &str) -> String {
        use base64::Engine;
        self.mac(session_id)
            .map(|m| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
            })
            .unwrap_or_default()
    }

    /// Whether `presented` is the session's token, compared in constant time.
    pub fn verify(&self, session_id: &str, presented: &str) -> bool {
        use base64::Engine;
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        self.mac(session_id)
            .is_some_and(|m| m.verify_slice(&bytes).is_ok())
    }
}

/// A cookie's name as set and read: on HTTPS with the `__Host-` prefix.
pub fn cookie_name(name: &str, https: bool) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The session cookie: an opaque id, `HttpOnly`, `SameSite=Strict`, and on HTTPS `Secure` with
/// the `__Host-` prefix (no `Domain`, `Path=/`: no subdomain can set or read it).
pub fn session_cookie(name: &str, id: &str, https: bool) -> Cookie<'static> {
    let name = cookie_name(name, https);
    Cookie::build(name, id.to_string())
        .path("/")
        .http_only(!super::mutation::Mutation::BffCookieNotHttpOnly.active())
        .secure(https)
        .same_site(SameSite::Strict)
        .finish()
}

/// The short-lived login-state cookie (`state`, `nonce`, PKCE verifier reference). It must be
/// `SameSite=Lax`, not `Strict`: Entra's redirect back to the callback is a cross-site top-level
/// navigation, on which browsers send `Lax` cookies (GET) but never `Strict` ones, and the
/// callback could then not check `state`. Ten minutes, like an authorization code.
pub fn login_state_cookie(name: &str, value: &str, https: bool) -> Cookie<'static> {
    let name = cookie_name(name, https);
    Cookie::build(name, value.to_string())
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .max_age(Duration::minutes(10))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pkce_pair_is_well_formed_and_verifies_with_the_servers_rule() {
        let p = PkcePair::generate();
        assert!(crate::pkce::well_formed(&p.verifier));
        assert_eq!(p.verifier.len(), 43);
        let server = crate::pkce::Pkce {
            challenge: p.challenge.clone(),
            method: crate::pkce::PkceMethod::S256,
        };
        assert!(server.verifies(&p.verifier));
        assert_ne!(PkcePair::generate().verifier, p.verifier);
        assert!(!format!("{p:?}").contains(&p.verifier));
    }

    #[test]
    fn a_csrf_token_belongs_to_its_session_and_key() {
        let key = CsrfKey::generate();
        let t = key.token("session-1");
        assert!(key.verify("session-1", &t));
        assert!(!key.verify("session-2", &t));
        assert!(!key.verify("session-1", "not base64 !"));
        assert!(!key.verify("session-1", ""));
        assert!(!CsrfKey::generate().verify("session-1", &t));
    }

    #[test]
    fn cookies_carry_the_checklists_attributes() {
        let s = session_cookie("bff-session", "abc", true).to_string();
        assert!(s.starts_with("__Host-bff-session=abc"), "{s}");
        for a in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(s.contains(a), "{a} in {s}");
        }
        assert!(!s.contains("Domain"));
        let plain = session_cookie("bff-session", "abc", false).to_string();
        assert!(
            plain.starts_with("bff-session=abc") && !plain.contains("Secure"),
            "{plain}"
        );
        let l = login_state_cookie("bff-login", "xyz", true).to_string();
        assert!(
            l.contains("SameSite=Lax") && l.contains("Max-Age=600"),
            "{l}"
        );
    }
}
