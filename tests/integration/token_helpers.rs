//! Helpers for the token tests. `/authorize` is not part of this branch, so codes and SSO sessions
//! are written straight into the store, exactly as the sign-in flow stores them: a session row
//! (`insert_session`) and a code bound to it (`insert_code`, digest only).

#![allow(dead_code)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use entra_mock::amr::parse_amr_json;
use entra_mock::directory::Platform;
use entra_mock::pkce::{Pkce, PkceMethod};
use entra_mock::store::codes::AuthCode;
use entra_mock::store::sessions::SsoSession;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// The well-known dev-only key of the certificate registered for `bff` (fixtures/certs).
pub const BFF_CERT_KEY: &str = include_str!("../../fixtures/certs/bff-dev-only.key");
pub const BFF_CERT_PEM: &str = include_str!("../../fixtures/certs/bff-dev-only.pem");
pub const SPA_ORIGIN: &str = "http://localhost:5002";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-entra-mock";

pub use entra_mock::crypto::s256;

/// Posts the same token request `n` times at once; the answers in the order the tasks were made.
pub async fn concurrently(app: &TestApp, n: usize, form: &[(&str, &str)]) -> Vec<Answer> {
    let client = app.client();
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url, form) = (client.clone(), app.token_url(), form.clone());
            tokio::spawn(
                async move { answer(client.post(url).form(&form).send().await.unwrap()).await },
            )
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// The BFF's redemption of `code` (client_secret_post), with a PKCE verifier when given.
pub fn bff_code_form<'a>(code: &'a str, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", BFF),
        ("client_secret", BFF_SECRET),
        ("code", code),
        ("redirect_uri", BFF_REDIRECT),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    form
}

/// The SPA's redemption of `code` (a public client), with a PKCE verifier when given; the
/// browser's Origin goes with it as a header ([`TestApp::token_from_spa`]).
pub fn spa_code_form<'a>(code: &'a str, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", SPA),
        ("code", code),
        ("redirect_uri", SPA_REDIRECT),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    form
}

/// A server whose bff app runs the RFC 9700 reuse-detection policy.
pub async fn detect_policy() -> (TestApp, tempfile::TempDir) {
    crate::fixture_builder::Fixture::builtin()
        .app("bff", "mock.refreshTokenReuse", "detect")
        .spawn()
        .await
}

/// A refresh token of alice's for the BFF, from a code redeemed at `/token`.
pub async fn bff_refresh_token(app: &TestApp) -> String {
    let (code, _) = issue_code(app, &CodeSpec::bff()).await;
    let a = app.redeem_bff(&code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.str("refresh_token").to_string()
}

/// The BFF's refresh grant of `refresh_token` (client_secret_post).
pub fn bff_refresh_form(refresh_token: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("client_id", BFF),
        ("client_secret", BFF_SECRET),
        ("refresh_token", refresh_token),
    ]
}

/// What a code is bound to; `CodeSpec::bff` and `CodeSpec::spa` give the usual ones.
#[derive(Clone, Debug)]
pub struct CodeSpec {
    pub client_id: String,
    pub redirect_uri: String,
    pub platform: &'static str,
    pub challenge: Option<String>,
    pub scope: String,
    pub user_oid: String,
    pub nonce: Option<String>,
    pub amr: Vec<&'static str>,
    pub include_auth_time: bool,
    pub claims_json: Option<String>,
}

impl CodeSpec {
    /// The BFF (web, confidential) asking for OpenID scopes, a refresh token and the API.
    pub fn bff() -> Self {
        CodeSpec {
            client_id: BFF.into(),
            redirect_uri: BFF_REDIRECT.into(),
            platform: "web",
            challenge: None,
            scope: format!("openid profile email offline_access {API_SCOPE}"),
            user_oid: ALICE_OID.into(),
            nonce: Some("nonce-123".into()),
            amr: vec!["pwd"],
            include_auth_time: false,
            claims_json: None,
        }
    }

    /// The SPA (public) with PKCE S256 on its `spa` redirect URI.
    pub fn spa() -> Self {
        CodeSpec {
            client_id: SPA.into(),
            redirect_uri: SPA_REDIRECT.into(),
            platform: "spa",
            challenge: Some(s256(VERIFIER)),
            ..CodeSpec::bff()
        }
    }

    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.into();
        self
    }
}

/// A live session row of `user_oid`, signed in with a password at `now`.
pub fn password_session(id: &str, user_oid: &str, now: i64) -> SsoSession {
    SsoSession {
        id: id.into(),
        user_oid: user_oid.into(),
        amr_json: r#"["pwd"]"#.into(),
        auth_time: now,
        persistent: false,
        created_at: now,
        ended_at: None,
    }
}

/// An SSO session for `user_oid`, as the sign-in pages would create it. Returns its id (`sid`).
pub async fn seed_session(app: &TestApp, user_oid: &str) -> String {
    seed_session_with_cookie(app, user_oid).await.0
}

/// [`seed_session`], with the secret its SSO cookie carries.
pub async fn seed_session_with_cookie(app: &TestApp, user_oid: &str) -> (String, String) {
    let now = app.state.clock.unix();
    let id = uuid::Uuid::new_v4().to_string();
    let cookie = entra_mock::crypto::random_b64(32);
    let mut tx = app.state.store.write().await.unwrap();
    tx.insert_session(&password_session(&id, user_oid, now), &cookie)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, cookie)
}

/// Issues a code as /authorize would (with a fresh session); returns (code, session id).
pub async fn issue_code(app: &TestApp, spec: &CodeSpec) -> (String, String) {
    let sid = seed_session(app, &spec.user_oid).await;
    let now = app.state.clock.unix();
    let code = format!("1.A{}", uuid::Uuid::new_v4().simple());
    app.state
        .store
        .insert_code(
            &code,
            &AuthCode {
                client_id: spec.client_id.clone(),
                redirect_uri: spec.redirect_uri.clone(),
                platform: Platform::parse(spec.platform).unwrap(),
                pkce: spec.challenge.clone().map(|challenge| Pkce {
                    challenge,
                    method: PkceMethod::S256,
                }),
                nonce: spec.nonce.clone(),
                scope: spec.scope.clone(),
                user_oid: spec.user_oid.clone(),
                session_id: sid.clone(),
                amr: parse_amr_json(&serde_json::to_string(&spec.amr).unwrap()).unwrap(),
                auth_time: now - 5,
                include_auth_time: spec.include_auth_time,
                claims_json: spec.claims_json.clone(),
                created_at: now,
                expires_at: now + 600,
            },
        )
        .await
        .unwrap();
    (code, sid)
}

/// A token endpoint answer: status, headers and JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn str(&self, field: &str) -> &str {
        self.body[field].as_str().unwrap_or_default()
    }

    /// Asserts an Entra error: HTTP status, `error`, the AADSTS number in `error_codes` and in
    /// the description, and the rest of the shape.
    /// [`Self::assert_error`], and the description's text after `AADSTS{code}: ` begins with
    /// `text` (Entra's words).
    pub fn assert_error_text(&self, status: u16, error: &str, code: u32, text: &str) {
        self.assert_error(status, error, code);
        let desc = self.str("error_description");
        assert!(desc.starts_with(&format!("AADSTS{code}: {text}")), "{desc}");
    }

    pub fn assert_error(&self, status: u16, error: &str, code: u32) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.body["error"], error, "error of {}", self.body);
        assert_eq!(self.body["error_codes"], json!([code]), "{}", self.body);
        let desc = self.str("error_description");
        assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
        assert!(
            desc.contains("Trace ID: ") && desc.contains("Correlation ID: "),
            "{desc}"
        );
        for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(
                self.body[field].is_string(),
                "{field} missing in {}",
                self.body
            );
        }
        assert!(self
            .str("error_uri")
            .ends_with(&format!("/error?code={code}")));
        assert_eq!(self.header("cache-control"), Some("no-store, no-cache"));
        assert_eq!(self.header("pragma"), Some("no-cache"));
    }
}

pub async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

impl TestApp {
    pub fn token_url(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", self.https)
    }

    /// POSTs a form to the token endpoint.
    pub async fn token(&self, form: &[(&str, &str)]) -> Answer {
        self.token_with(form, &[]).await
    }

    /// POSTs a form to the token endpoint with extra headers (Origin, Authorization).
    pub async fn token_with(&self, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let mut req = self.client().post(self.token_url()).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().await.unwrap()).await
    }

    /// `GET /oidc/userinfo` with `access_token`: its JSON answer.
    pub async fn userinfo(&self, access_token: &str) -> Value {
        self.client()
            .get(format!("{}/oidc/userinfo", self.https))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs a form to the token endpoint from the SPA's page (its Origin header).
    pub async fn token_from_spa(&self, form: &[(&str, &str)]) -> Answer {
        self.token_with(form, &[("Origin", SPA_ORIGIN)]).await
    }

    /// Redeems a SPA code as the browser does (PKCE with [`VERIFIER`], the SPA's Origin).
    pub async fn redeem_spa(&self, code: &str) -> Answer {
        self.token_from_spa(&spa_code_form(code, Some(VERIFIER)))
            .await
    }

    /// `daemon`'s app token for `api` (client credentials with its secret).
    pub async fn daemon_token(&self) -> Answer {
        self.daemon_token_at(&self.token_url()).await
    }

    /// The same, asked of `url` (the token endpoint, with a query of the client's own if any).
    pub async fn daemon_token_at(&self, url: &str) -> Answer {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("api://{API}/.default")),
        ];
        answer(self.client().post(url).form(&form).send().await.unwrap()).await
    }

    /// Redeems a BFF code with client_secret_post.
    pub async fn redeem_bff(&self, code: &str) -> Answer {
        let mut form = bff_code_form(code, None);
        form.push(("client_info", "1"));
        self.token(&form).await
    }

    /// Redeems a BFF code with client_secret_post and a PKCE verifier (as MSAL does).
    pub async fn redeem_bff_pkce(&self, code: &str, verifier: &str) -> Answer {
        let mut form = bff_code_form(code, Some(verifier));
        form.push(("client_info", "1"));
        self.token(&form).await
    }

    /// Refreshes with the BFF's secret.
    pub async fn refresh_bff(&self, refresh_token: &str, scope: Option<&str>) -> Answer {
        let mut form = bff_refresh_form(refresh_token);
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.token(&form).await
    }

    /// The discovery document (`v2` true: v2.0, else v1).
    pub async fn discovery(&self, v2: bool) -> Value {
        let path = if v2 { "v2.0/" } else { "" };
        self.client()
            .get(format!(
                "{}/{TENANT}/{path}.well-known/openid-configuration",
                self.https
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Validates a token as a strict resource server does: signature against the JWKS served at
    /// the discovery document's `jwks_uri`, `iss` equal to its `issuer`, `aud`, `exp`, `nbf`.
    pub async fn validate(&self, token: &str, v2_metadata: bool, audience: &str) -> Value {
        self.try_validate(token, v2_metadata, audience)
            .await
            .unwrap_or_else(|e| panic!("token does not validate: {e}"))
    }

    /// [`TestApp::validate`], with the verdict.
    pub async fn try_validate(
        &self,
        token: &str,
        v2_metadata: bool,
        audience: &str,
    ) -> Result<Value, jsonwebtoken::errors::Error> {
        let disco = self.discovery(v2_metadata).await;
        let jwks: Value = self
            .client()
            .get(disco["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.clone().expect("kid");
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("signing key published");
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[audience]);
        v.set_issuer(&[disco["issuer"].as_str().unwrap()]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        // No leeway, except what a test moved the server's clock by.
        v.leeway = self.state.clock.offset().unsigned_abs();
        jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims)
    }
}

/// The header and payload of a JWT, unverified.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let p = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&p).unwrap(),
    )
}

/// A `private_key_jwt` client assertion for `bff`, signed with the fixture certificate's key:
/// RS256 with `x5t`, or PS256 with `x5t#S256`.
pub fn bff_assertion(alg: Algorithm, aud: &str, jti: &str, now: i64) -> String {
    let claims = json!({
        "iss": BFF, "sub": BFF, "aud": aud, "jti": jti,
        "nbf": now - 10, "iat": now - 10, "exp": now + 600,
    });
    bff_assertion_with(alg, &claims)
}

/// A `bff` client assertion with the claims given.
pub fn bff_assertion_with(alg: Algorithm, claims: &Value) -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(BFF_CERT_PEM.as_bytes()).unwrap();
    let mut header = Header::new(alg);
    match alg {
        Algorithm::PS256 => {
            header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&pem.contents)))
        }
        _ => {
            use sha1::Digest as _;
            // MSAL Python sends the SHA-1 thumbprint with base64 padding.
            header.x5t = Some(
                base64::engine::general_purpose::URL_SAFE.encode(sha1::Sha1::digest(&pem.contents)),
            )
        }
    }
    let key = EncodingKey::from_rsa_pem(BFF_CERT_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// A client whose cookie jar the test can read and fill.
pub fn client_with_jar(app: &TestApp) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(app.ca_pem.as_bytes()).unwrap())
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// OpenID Connect's `c_hash`: base64url of the left half of SHA-256 of the code.
pub fn c_hash(code: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(code.as_bytes())[..16])
}
