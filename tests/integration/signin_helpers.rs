//! Helpers to drive the interactive sign-in over HTTP the way a browser without JavaScript does
//! (and, for passkeys, with a software authenticator). Reusable by end-to-end tests:
//!
//! - [`authorize_url`] / [`code_request`]: an `/authorize` URL with MSAL-like parameters
//!   (PKCE S256 with [`VERIFIER`], `state` [`STATE`], `nonce` [`NONCE`], `client_info=1`).
//! - [`page`], [`submit`]: read a sign-in page, post its form (hidden `ctx`/`flowToken` kept)
//!   with the fields a user types.
//! - [`sign_in`], [`sign_in_alice`], [`sign_in_bob`]: whole sign-ins (the last two return the
//!   code; bob's uses TOTP).
//! - [`reply_params`], [`code_of`]: the parameters (the code) of a redirect back to the app.
//! - [`totp_code`]: the TOTP code of a base32 secret at the server's (movable) clock.
//! - [`SoftAuthenticator`]: a software passkey (ES256, `none` attestation, UV set).
//! - [`stored_code`]: the `auth_codes` row behind a code.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// The PKCE verifier of [`code_request`]; its S256 challenge is [`challenge`].
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-entra-mock-tests";
pub const STATE: &str = "st-12345";
pub const NONCE: &str = "nonce-67890";
pub const SCOPE: &str = "openid profile offline_access";

/// `BASE64URL(SHA256(verifier))`.
pub use entra_mock::crypto::s256 as challenge;

/// The parameters MSAL sends for the authorization code flow with PKCE.
pub fn code_request(client_id: &str, redirect_uri: &str) -> Vec<(String, String)> {
    [
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("state", STATE),
        ("nonce", NONCE),
        ("code_challenge", &challenge(VERIFIER)),
        ("code_challenge_method", "S256"),
        ("client_info", "1"),
        ("client-request-id", "5b8f7a9e-2c1d-4e3f-9a8b-7c6d5e4f3a2b"),
        ("x-client-SKU", "msal.js.browser"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Sets (or adds) a parameter.
pub fn with(mut params: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    params.push((name.to_string(), value.to_string()));
    params
}

/// Removes a parameter.
pub fn without(mut params: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    params
}

/// `{base}/{TENANT}/oauth2/v2.0/authorize?...`
pub fn authorize_url(base: &str, params: &[(String, String)]) -> String {
    let mut url = url::Url::parse(&format!("{base}/{TENANT}/oauth2/v2.0/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

pub async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

/// A 200 HTML page's body.
pub async fn page(res: reqwest::Response) -> String {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "expected a page, got {status}: {body}");
    body
}

/// Undoes askama's HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The value of `attr` in the first tag that contains `marker` (e.g. `id="i0116"`).
pub fn attr_of(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    tag_attr(&html[start..end], attr)
}

fn tag_attr(tag: &str, attr: &str) -> Option<String> {
    let key = format!(" {attr}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(unescape(&tag[from..from + len]))
}

/// The text inside the element with this id.
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let from = at + html[at..].find('>')? + 1;
    let len = html[from..].find('<')?;
    Some(unescape(&html[from..from + len]))
}

/// The first form of a page: its action and its hidden fields.
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

pub fn parse_form(html: &str) -> Form {
    let start = html.find("<form").expect("the page has a form");
    let end = start + html[start..].find("</form>").expect("the form ends");
    let form = &html[start..end];
    let tag_end = form.find('>').unwrap();
    let action = tag_attr(&form[..tag_end], "action").expect("the form has an action");
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_len = rest[i..].find('>').unwrap();
        let tag = &rest[i..i + tag_len];
        if tag_attr(tag, "type").as_deref() == Some("hidden") {
            if let Some(name) = tag_attr(tag, "name") {
                fields.push((name, tag_attr(tag, "value").unwrap_or_default()));
            }
        }
        rest = &rest[i + tag_len..];
    }
    Form { action, fields }
}

/// Posts the page's form with its hidden fields plus `typed` (which replace hidden fields of the
/// same name), as the browser does.
pub async fn submit(
    client: &reqwest::Client,
    base: &str,
    html: &str,
    typed: &[(&str, &str)],
) -> reqwest::Response {
    let form = parse_form(html);
    let mut fields = form.fields;
    for (k, v) in typed {
        fields.retain(|(name, _)| name != k);
        fields.push((k.to_string(), v.to_string()));
    }
    let url = if form.action.starts_with('/') {
        format!("{base}{}", form.action)
    } else {
        form.action.clone()
    };
    client.post(url).form(&fields).send().await.unwrap()
}

/// The Location header of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    assert_eq!(
        res.status(),
        302,
        "expected a redirect, got {}",
        res.status()
    );
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// The parameters of a reply to the app, from the query or the fragment of `location`.
pub fn reply_params(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    let mut out: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        out.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    out
}

/// The code of a successful redirect back to the app.
pub fn code_of(res: &reqwest::Response) -> String {
    let loc = location(res);
    reply_params(&loc)
        .remove("code")
        .unwrap_or_else(|| panic!("no code in {loc}"))
}

/// The redirect URI part of `location` (scheme, host, port, path).
pub fn without_query(location: &str) -> String {
    let mut url = url::Url::parse(location).unwrap();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// `/authorize` then username then password; returns the response to the password post (a
/// redirect to the app, or the next page when MFA or "Stay signed in?" follows).
pub async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    params: &[(String, String)],
    upn: &str,
    password: &str,
) -> reqwest::Response {
    let username_page = page(get(client, &authorize_url(&app.https, params)).await).await;
    assert!(username_page.contains("name=\"loginfmt\""));
    let password_page =
        page(submit(client, &app.https, &username_page, &[("loginfmt", upn)]).await).await;
    assert!(password_page.contains("name=\"passwd\""), "{password_page}");
    submit(client, &app.https, &password_page, &[("passwd", password)]).await
}

/// [`sign_in`] to the BFF ([`code_request`]) with `upn` and the fixtures' password.
pub async fn sign_in_to_bff(
    app: &TestApp,
    client: &reqwest::Client,
    upn: &str,
) -> reqwest::Response {
    sign_in(app, client, &code_request(BFF, BFF_REDIRECT), upn, PASSWORD).await
}

/// The username page of the BFF's code request (`/authorize` with [`code_request`]).
pub async fn username_page(app: &TestApp, client: &reqwest::Client) -> String {
    page(
        get(
            client,
            &authorize_url(&app.https, &code_request(BFF, BFF_REDIRECT)),
        )
        .await,
    )
    .await
}

/// The BFF's code request up to the password page of `upn` (the flow then names the user).
pub async fn password_page(app: &TestApp, client: &reqwest::Client, upn: &str) -> String {
    let username = username_page(app, client).await;
    let html = page(submit(client, &app.https, &username, &[("loginfmt", upn)]).await).await;
    assert!(html.contains("name=\"passwd\""), "{html}");
    html
}

/// alice signs in to the BFF with username and password; returns the authorization code.
pub async fn sign_in_alice(app: &TestApp, client: &reqwest::Client) -> String {
    let res = sign_in_to_bff(app, client, ALICE).await;
    let loc = location(&res);
    assert_eq!(without_query(&loc), BFF_REDIRECT);
    reply_params(&loc)
        .remove("code")
        .expect("the reply carries a code")
}

/// bob signs in to `client_id` with password and his fixture TOTP secret (amr
/// `["pwd","otp","mfa"]`); returns the code. Each call uses a new TOTP step (the clock moves
/// on 30 seconds first), since a code is accepted once per window.
pub async fn sign_in_bob(
    app: &TestApp,
    client: &reqwest::Client,
    client_id: &str,
    redirect_uri: &str,
) -> String {
    app.state.clock.advance(30);
    let res = sign_in(
        app,
        client,
        &code_request(client_id, redirect_uri),
        BOB,
        PASSWORD,
    )
    .await;
    let html = page(res).await;
    let code = totp_code(app, BOB_TOTP_SECRET, 0);
    code_of(&submit(client, &app.https, &html, &[("otc", &code)]).await)
}

/// The TOTP code of `secret` (base32) at the server's clock plus `offset_steps` steps.
pub fn totp_code(app: &TestApp, secret: &str, offset_steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    );
    let t = app.state.clock.unix() + offset_steps * 30;
    totp.generate(t as u64)
}

/// A six-digit code that is none of the codes accepted now (the current step and one each way).
pub fn wrong_totp_code(app: &TestApp, secret: &str) -> String {
    let valid: Vec<String> = (-1..=1).map(|o| totp_code(app, secret, o)).collect();
    (0..1000)
        .map(|i| format!("{:06}", i * 7919 % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// The `auth_codes` row of a code.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_platform: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub user_oid: String,
    pub session_id: String,
    pub amr_json: String,
    pub auth_time: i64,
    pub include_auth_time: bool,
    pub claims_json: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

pub async fn stored_code(app: &TestApp, code: &str) -> StoredCode {
    sqlx::query_as::<_, StoredCode>(
        "SELECT client_id, redirect_uri, redirect_platform, code_challenge, code_challenge_method,
            nonce, scope, user_oid, session_id, amr_json, auth_time, include_auth_time, claims_json,
            created_at, expires_at, consumed_at FROM auth_codes WHERE code_sha256 = ?",
    )
    .bind(entra_mock::crypto::sha256(code.as_bytes()))
    .fetch_one(&app.state.store.pool)
    .await
    .expect("the code is stored")
}

/// The `amr` stored with a code, as a list.
pub async fn stored_amr(app: &TestApp, code: &str) -> Vec<String> {
    serde_json::from_str(&stored_code(app, code).await.amr_json).unwrap()
}

/// The value of a Set-Cookie header for `name`.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// A software passkey: ES256 (P-256), `none` attestation, user presence and verification set.
pub struct SoftAuthenticator {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    counter: u32,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    pub fn new() -> Self {
        SoftAuthenticator {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            counter: 0,
        }
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        serde_json::json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// Answers `navigator.credentials.create` options (webauthn-rs JSON) for a page at `origin`.
    pub fn register(&mut self, options: &serde_json::Value, origin: &str) -> String {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().unwrap();
        let client_data =
            Self::client_data("webauthn.create", pk["challenge"].as_str().unwrap(), origin);
        let point = self.key.public_key().as_ref().to_vec(); // 0x04 || x || y
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&point[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&point[33..65]);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        serde_json::json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(att),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            }
        })
        .to_string()
    }

    /// Answers `navigator.credentials.get` options for a page at `origin`.
    pub fn assert(&mut self, options: &serde_json::Value, origin: &str) -> String {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"].as_str().unwrap();
        let client_data =
            Self::client_data("webauthn.get", pk["challenge"].as_str().unwrap(), origin);
        self.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(0x05); // UP | UV
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        serde_json::json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
                "userHandle": null,
            }
        })
        .to_string()
    }

    /// Completes a passkey page (registration or sign-in) the way webauthn.js does.
    pub async fn complete(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        html: &str,
    ) -> reqwest::Response {
        let options: serde_json::Value = serde_json::from_str(
            &attr_of(html, "id=\"webauthnOptions\"", "data-options").expect("a passkey page"),
        )
        .unwrap();
        let answer = match attr_of(html, "id=\"webauthnOptions\"", "data-ceremony").as_deref() {
            Some("create") => self.register(&options, base),
            _ => self.assert(&options, base),
        };
        submit(client, base, html, &[("credential", &answer)]).await
    }
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    out.push(0x60 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() < 24 {
        out.push(0x40 | b.len() as u8);
    } else if b.len() < 256 {
        out.extend_from_slice(&[0x58, b.len() as u8]);
    } else {
        out.push(0x59);
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(b);
}

/// The built-in tenant with "Stay signed in?" asked after the BFF's sign-ins.
pub async fn stay_signed_in_app() -> (TestApp, tempfile::TempDir) {
    crate::fixture_builder::Fixture::builtin()
        .app("bff", "mock.staySignedInPrompt", true)
        .spawn()
        .await
}
