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
