//! PKCE (RFC 7636): the challenge an authorization request carries and the check of the verifier
//! the token request presents. One home for the rule, used by `/authorize` (parsing the challenge)
//! and the authorization-code grant (checking the verifier); the store keeps it typed.

use serde::{Deserialize, Serialize};

use crate::crypto::{digest_eq, s256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PkceMethod {
    S256,
    Plain,
}

impl PkceMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }

    /// The method as sent (`code_challenge_method`) or stored. Case matters (RFC 7636 4.3).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "S256" => Some(PkceMethod::S256),
            "plain" => Some(PkceMethod::Plain),
            _ => None,
        }
    }
}

/// A code challenge and its method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pkce {
    pub challenge: String,
    pub method: PkceMethod,
}

/// RFC 7636 sections 4.1 and 4.2: verifiers and challenges are 43 to 128 characters of
/// `[A-Z a-z 0-9 - . _ ~]`.
pub fn well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl Pkce {
    /// Whether `verifier` answers this challenge (RFC 7636 section 4.6), in constant time.
    pub fn verifies(&self, verifier: &str) -> bool {
        if !well_formed(verifier) {
            return false;
        }
        let computed = match self.method {
            PkceMethod::S256 => s256(verifier),
            PkceMethod::Plain => verifier.to_string(),
        };
        digest_eq(computed.as_bytes(), self.challenge.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn s256_and_plain_verifiers_are_checked_and_short_ones_refused() {
        let s = Pkce {
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: PkceMethod::S256,
        };
        assert!(s.verifies(VERIFIER));
        assert!(!s.verifies(&VERIFIER.replace('d', "e")));
        let p = Pkce {
            challenge: VERIFIER.into(),
            method: PkceMethod::Plain,
        };
        assert!(p.verifies(VERIFIER));
        let short = Pkce {
            challenge: "abc".into(),
            method: PkceMethod::Plain,
        };
        assert!(!short.verifies("abc"));
    }

    #[test]
    fn methods_parse_case_sensitively() {
        assert_eq!(PkceMethod::parse("S256"), Some(PkceMethod::S256));
        assert_eq!(PkceMethod::parse("s256"), None);
        assert_eq!(PkceMethod::parse("plain"), Some(PkceMethod::Plain));
    }
}
