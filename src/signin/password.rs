//! Password check against the fixture's salted digest, in constant time.

use crate::crypto::{digest_eq, password_digest};
use crate::directory::User;

/// A password as typed. Never printed.
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

pub fn verify(user: &User, password: &Password) -> bool {
    digest_eq(
        &password_digest(&user.password_salt, &password.0),
        &user.password_digest,
    )
}
