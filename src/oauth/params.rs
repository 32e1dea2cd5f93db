//! Request parameters as the protocol layer receives them, re-exporting [`Secret`]: a leaf module, so that the token endpoint, client authentication,
//! the grants and logout share these types without importing each other.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::secret::Secret;

/// The endpoint version a request came through (`/oauth2/v2.0/...` or v1's `/oauth2/...`): it
/// decides how a request names what it wants and the shape of ID tokens and token responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Endpoint {
    #[default]
    V2,
    V1,
}

/// Form parameters of a request, in order. Empty values count as absent, as Entra treats them.
#[derive(Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Params")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl From<Vec<(String, String)>> for Params {
    fn from(v: Vec<(String, String)>) -> Self {
        Params(v)
    }
}

impl Params {
    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter (AADSTS900144 when missing).
    pub fn require(&self, name: &'static str) -> Result<&str> {
        self.get(name).ok_or(Error::MissingParameter(name))
    }

    /// The same parameters with `name` set to `value` (in place of any value sent).
    pub fn with(mut self, name: &str, value: String) -> Params {
        self.0.retain(|(k, _)| k != name);
        self.0.insert(0, (name.to_string(), value));
        self
    }

    /// The first name sent more than once, if any (in sorted order: O(n log n) whatever a body
    /// holds).
    pub fn duplicated(&self) -> Option<&str> {
        let mut names: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }

    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }
}

/// A request to an endpoint that authenticates the client (token, revocation), as the HTTP layer
/// hands it over.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The tenant path segment (id, domain, `common`, `organizations`).
    pub tenant: String,
    pub params: Params,
    /// The `Authorization` header (client_secret_basic).
    pub authorization: Option<Secret>,
    /// The `Origin` header: present on cross-origin (browser) requests.
    pub origin: Option<String>,
    /// Scheme and authority the client used: issuers and audiences are written with it.
    pub base_url: String,
    pub now: i64,
    pub endpoint: Endpoint,
}

#[cfg(test)]
impl Params {
    /// Parameters from literal pairs (unit tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params::from(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn a_name_sent_twice_is_found_even_with_an_empty_value() {
        assert_eq!(params(&[("a", "1"), ("b", "2")]).duplicated(), None);
        assert_eq!(
            params(&[("scope", "x"), ("b", "2"), ("scope", "")]).duplicated(),
            Some("scope")
        );
        let set = params(&[("scope", "x"), ("b", "2")]).with("scope", "y".into());
        assert_eq!(set.duplicated(), None);
        assert_eq!(set.get("scope"), Some("y"));
    }
}
