//! Password check against the fixture's salted digest, in constant time.

use crate::directory::User;

/// A password as typed. Never printed.
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

pub fn verify(user: &User, password: &Password) -> bool {
    user.credentials.password_matches(&password.0)
}

/// What smart lockout remembers of a wrong password: 16 hex digits of SHA-256 over the user and
/// the password, enough to tell the same wrong password typed again from a new one.
pub fn fingerprint(user: &User, password: &Password) -> String {
    let digest = crate::crypto::sha256(format!("{}\0{}", user.oid, password.0).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
