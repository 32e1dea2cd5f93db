//! The directory's users: who they are, what they prove themselves with (kept private and
//! redacted from `Debug`) and their sign-in state as read from the store.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaPolicy {
    None,
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    Totp,
    WebAuthn,
}

#[derive(Clone)]
pub struct User {
    pub oid: String,
    pub tenant_id: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    /// The password digest and the TOTP secret, behind methods.
    pub credentials: Credentials,
    pub mfa_policy: MfaPolicy,
    /// The method the user is to enrol when they have none (fixture `mfaMethod`).
    pub preferred_mfa: Option<MfaMethod>,
    pub totp_last_step: Option<i64>,
    /// Wrong passwords and MFA codes in a row (smart lockout), as read.
    pub password_failures: i64,
    pub mfa_failures: i64,
    pub locked_until: Option<i64>,
    pub sessions_revoked_at: Option<i64>,
}

/// What a user proves themselves with. The fields are private: a password is only ever compared
/// (in constant time, against the salted digest) and the TOTP secret only handed to the TOTP code.
#[derive(Clone)]
pub struct Credentials {
    password_salt: Vec<u8>,
    password_digest: Vec<u8>,
    /// base32, as stored.
    totp_secret: Option<String>,
}

impl Credentials {
    pub fn new(
        password_salt: Vec<u8>,
        password_digest: Vec<u8>,
        totp_secret: Option<String>,
    ) -> Self {
        Credentials {
            password_salt,
            password_digest,
            totp_secret,
        }
    }

    /// Whether `password` is the user's, in constant time.
    pub fn password_matches(&self, password: &str) -> bool {
        crate::crypto::digest_eq(
            &crate::crypto::password_digest(&self.password_salt, password),
            &self.password_digest,
        )
    }

    pub fn has_totp(&self) -> bool {
        self.totp_secret.is_some()
    }

    /// The registered TOTP secret (base32).
    pub fn totp_secret_base32(&self) -> Option<&str> {
        self.totp_secret.as_deref()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("oid", &self.oid)
            .field("upn", &self.upn)
            .field("password", &"<redacted>")
            .field("totp_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}
