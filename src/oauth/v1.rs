//! The v1.0 endpoints (`/{tenant}/oauth2/authorize`, `/{tenant}/oauth2/token`,
//! `/{tenant}/oauth2/logout`), as ADAL-era clients and Microsoft.IdentityModel call them
//! (<https://learn.microsoft.com/previous-versions/azure/active-directory/azuread-dev/v1-protocols-oauth-code>).
//! A v1 request names one `resource` (App ID URI or client id) instead of scopes: it gets every
//! permission consented for that resource, an ID token and a refresh token without asking. This
//! module maps a v1 request onto the scope rules the v2.0 endpoint uses (so both share one scope
//! parser) and shapes v1 answers: numbers as strings, `expires_on`, `not_before`, `resource`.
//! Access tokens keep the version the resource accepts, as at either Entra endpoint; ID tokens
//! from a v1 endpoint are v1 (`ver` 1.0, `unique_name`, issuer `{base}/{tid}/`).

use serde::Serialize;

use crate::oauth::grants::TokenResponse;
use crate::oauth::params::Params;

/// The scope a v1 delegated request stands for: the ID token, a refresh token, and every
/// consented permission of `resource`. Without a resource, v1 issues a token for the legacy Graph,
/// which entra-mock serves as Microsoft Graph (OpenID scopes only). The resource is kept as sent,
/// a trailing slash too (`api://x/` gives `api://x//.default`, as scopes-oidc writes the
/// `.default` of such a resource), so that a v1 token's `aud` is the resource as requested.
pub fn delegated_scope(resource: Option<&str>) -> String {
    let mut s = String::from("openid profile offline_access");
    if let Some(r) = resource {
        s.push(' ');
        s.push_str(r);
        s.push_str("/.default");
    }
    s
}

/// The scope parameter a v1 token request stands for, by its grant: `{resource}/.default` for
/// client credentials; for the delegated grants, [`delegated_scope`] when `resource` is sent
/// (otherwise the code's or refresh token's own). `None` leaves the request as it is.
pub fn token_scope(params: &Params) -> Option<String> {
    let resource = params.get("resource")?;
    Some(match params.get("grant_type") {
        Some("client_credentials") => format!("{resource}/.default"),
        _ => delegated_scope(Some(resource)),
    })
}

/// A v1 token response
/// (<https://learn.microsoft.com/previous-versions/azure/active-directory/azuread-dev/v1-protocols-oauth-code#successful-response>):
/// times as strings, `expires_on` / `not_before` in Unix seconds, the `resource` as requested.
#[derive(Serialize)]
pub struct V1TokenResponse {
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    expires_in: String,
    ext_expires_in: String,
    expires_on: String,
    not_before: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_info: Option<String>,
}

impl std::fmt::Debug for V1TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V1TokenResponse")
            .field("resource", &self.resource)
            .field("expires_on", &self.expires_on)
            .field("tokens", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl V1TokenResponse {
    /// The v1 form of a response minted at `now` for `resource`. v1 lists granted permissions as
    /// bare values (`access_as_user`), not as v2 scope URIs, and not the `.default` a v1
    /// request stands for.
    pub fn new(r: TokenResponse, resource: Option<&str>, now: i64) -> Self {
        let scope = r.scope.map(|s| {
            s.split_whitespace()
                .map(|v| v.rsplit_once('/').map_or(v, |(_, value)| value))
                .filter(|v| *v != ".default")
                .collect::<Vec<_>>()
                .join(" ")
        });
        V1TokenResponse {
            token_type: r.token_type,
            scope,
            expires_in: r.expires_in.to_string(),
            ext_expires_in: r.ext_expires_in.to_string(),
            expires_on: now.saturating_add(r.expires_in).to_string(),
            not_before: crate::oauth::claims::backdated(now).to_string(),
            resource: resource.map(str::to_string),
            access_token: r.access_token,
            refresh_token: r.refresh_token,
            id_token: r.id_token,
            client_info: r.client_info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn a_v1_resource_becomes_the_scope_of_its_grant() {
        assert_eq!(
            token_scope(&params(&[
                ("grant_type", "client_credentials"),
                ("resource", "api://x/")
            ])),
            Some("api://x//.default".into())
        );
        assert_eq!(
            token_scope(&params(&[
                ("grant_type", "authorization_code"),
                ("resource", "api://x")
            ])),
            Some("openid profile offline_access api://x/.default".into())
        );
        assert_eq!(
            token_scope(&params(&[("grant_type", "refresh_token")])),
            None
        );
        assert_eq!(delegated_scope(None), "openid profile offline_access");
    }
}
