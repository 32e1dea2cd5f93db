//! The BFF's side of the protocol with Entra, a confidential web app (steps 2, 7-9, 17-18 and
//! the logout of the seed flow): the authorization request with `state`, `nonce` and PKCE S256
//! (Entra recommends PKCE for confidential clients too:
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#request-an-authorization-code>),
//! the code redemption and refresh with the client secret, ID-token validation (OIDC Core 3.1.3.7:
//! signature by the tenant's keys, `iss`, `aud`, `exp`, `nbf`, `iat`, `tid`, then `nonce`) and
//! the end-session URL. The URLs are Entra's documented layout under the authority, so the same
//! code runs against `https://login.microsoftonline.com/{tenant}`.

use serde::Deserialize;
use serde_json::Value;

use crate::clients::validate::{Validator, ValidatorConfig};
use crate::secret::Secret;

/// The app's registration as the BFF uses it.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Scheme and host of the authority.
    pub authority_host: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
    /// `openid profile offline_access` and the API's scope.
    pub scopes: String,
}

/// A token endpoint answer (v2.0).
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub expires_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why a call to Entra failed: Entra's own error (`error`, `error_description`, AADSTS codes),
/// or no usable answer at all.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    #[error("{error}: {description}")]
    Refused {
        error: String,
        description: String,
        codes: Vec<i64>,
    },
    #[error("no usable answer from the token endpoint: {0}")]
    Unavailable(String),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
}

pub struct Entra {
    pub reg: Registration,
    authorize: url::Url,
    token: url::Url,
    logout: url::Url,
    http: reqwest::Client,
    id_tokens: Validator,
}

impl std::fmt::Debug for Entra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entra")
            .field("client_id", &self.reg.client_id)
            .finish_non_exhaustive()
    }
}

impl Entra {
    pub fn new(reg: Registration, http: reqwest::Client) -> Result<Self, url::ParseError> {
        let config =
            ValidatorConfig::for_api(&reg.authority_host, &reg.tenant_id, &[&reg.client_id]);
        let endpoint = |path: &str| {
            url::Url::parse(&format!(
                "{}/{}/oauth2/v2.0/{path}",
                reg.authority_host.trim_end_matches('/'),
                reg.tenant_id
            ))
        };
        Ok(Entra {
            authorize: endpoint("authorize")?,
            token: endpoint("token")?,
            logout: endpoint("logout")?,
            id_tokens: Validator::new(config, http.clone()),
            reg,
            http,
        })
    }

    /// Step 2: where to send the browser. `claims` is the JSON of a claims challenge to satisfy.
    pub fn authorize_url(
        &self,
        state: &str,
        nonce: &str,
        code_challenge: &str,
        claims: Option<&str>,
    ) -> String {
        let mut url = self.authorize.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.reg.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.reg.redirect_uri)
                .append_pair("response_mode", "query")
                .append_pair("scope", &self.reg.scopes)
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(c) = claims {
                q.append_pair("claims", c);
            }
        }
        url.to_string()
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Tokens, EntraError> {
        let res = self
            .http
            .post(self.token.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| EntraError::Unavailable(e.to_string()))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .map_err(|e| EntraError::Unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(EntraError::Refused {
                error: body["error"].as_str().unwrap_or("unknown").to_string(),
                description: body["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                codes: body["error_codes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default(),
            });
        }
        serde_json::from_value(body).map_err(|e| EntraError::Unavailable(e.to_string()))
    }

    /// Steps 8-9: the code for tokens, with the client secret and the PKCE verifier.
    pub async fn redeem(&self, code: &str, verifier: &Secret) -> Result<Tokens, EntraError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.reg.client_id),
            ("client_secret", self.reg.client_secret.expose()),
            ("code", code),
            ("redirect_uri", &self.reg.redirect_uri),
            ("code_verifier", verifier.expose()),
            ("scope", &self.reg.scopes),
        ])
        .await
    }

    /// Steps 17-18: a refresh token for new tokens (Entra rotates the refresh token).
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens, EntraError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &self.reg.client_id),
            ("client_secret", self.reg.client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
            ("scope", &self.reg.scopes),
        ])
        .await
    }

    /// The ID token's claims, once its signature, issuer, audience, times, tenant and `nonce`
    /// check out.
    pub async fn validate_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Value, EntraError> {
        let claims = self
            .id_tokens
            .validate(id_token)
            .await
            .map_err(|r| EntraError::IdToken(r.to_string()))?;
        let presented = claims["nonce"].as_str().unwrap_or_default();
        if !crate::crypto::digest_eq(presented.as_bytes(), nonce.as_bytes()) {
            return Err(EntraError::IdToken("the nonce is not this login's".into()));
        }
        Ok(claims)
    }

    /// The end-session URL (RP-initiated logout): back to the app afterwards, with the ID token
    /// and the `login_hint` claim as `logout_hint` so Entra skips the account picker
    /// (<https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request>).
    pub fn end_session_url(&self, id_token_hint: &str, logout_hint: Option<&str>) -> String {
        let mut url = self.logout.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair(
                "post_logout_redirect_uri",
                &self.reg.post_logout_redirect_uri,
            )
            .append_pair("id_token_hint", id_token_hint);
            if let Some(h) = logout_hint {
                q.append_pair("logout_hint", h);
            }
        }
        url.to_string()
    }
}
