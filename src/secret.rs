//! [`Secret`], the wrapper of every credential or token value (client secrets, passwords, codes,
//! refresh tokens, assertions): its `Debug` prints `<redacted>`, it has no `Display`, no
//! `Serialize` and no `PartialEq` (compare with [`Secret::ct_eq`], in constant time).

use crate::crypto::digest_eq;

/// A credential or token value: never printed.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value. `Secret` has no `PartialEq`, so that
    /// nothing compares secrets naively.
    pub fn ct_eq(&self, other: &str) -> bool {
        digest_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// From a command-line flag or environment variable (an admin token).
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_never_prints_and_compares_in_constant_time() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
        assert!(s.ct_eq("hunter2-very-secret"));
        assert!(!s.ct_eq("hunter2"));
        let parsed: Secret = serde_json::from_str("\"from-a-file\"").unwrap();
        assert_eq!(parsed.expose(), "from-a-file");
    }
}
