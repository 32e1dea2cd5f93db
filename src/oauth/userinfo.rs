//! `GET|POST /oidc/userinfo` (OIDC Core section 5.3), served by Graph in real Entra
//! (<https://learn.microsoft.com/entra/identity-platform/userinfo>): it takes a bearer access
//! token for Microsoft Graph (the one returned for OpenID scopes) and answers `sub`, with the
//! `profile` scope `name`, `family_name` and `given_name`, and with the `email` scope `email`.
//!
//! Like Graph, it evaluates access continuously for CAE-capable clients (a token whose `xms_cc`
//! has `cp1`, <https://learn.microsoft.com/entra/identity-platform/claims-challenge>): a token
//! issued before the user's sessions were revoked, or a `revoked` or claims-challenge fault rule
//! on this endpoint, gets 401 with `WWW-Authenticate: Bearer ... error="insufficient_claims",
//! claims="<base64 claims request>"` ([`Answer::Challenge`]), which MSAL hands back to the token
//! endpoint as its `claims`. Other clients keep their token until it expires, as with Graph.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::keys::verify::verify;
use crate::oauth::claims::{issued_at, GRAPH_APP_ID};
use crate::state::AppState;

#[derive(Deserialize)]
struct GraphClaims {
    aud: String,
    iss: String,
    exp: i64,
    nbf: i64,
    oid: String,
    sub: String,
    tid: String,
    #[serde(default)]
    scp: String,
    #[serde(default)]
    iat: i64,
    #[serde(default)]
    xms_cc: Vec<String>,
}

/// What the endpoint answers a valid token.
#[derive(Debug)]
pub enum Answer {
    Info(Value),
    /// A CAE claims challenge: the claims request (JSON) the client must get a new token with.
    Challenge(String),
}

/// The claims request of a CAE revocation challenge: a token not before `since`.
fn not_before(since: i64) -> String {
    json!({"access_token": {"nbf": {"essential": true, "value": since.to_string()}}}).to_string()
}

/// What a fault rule on this endpoint asks of a CAE-capable client: `revoked` (AADSTS50173)
/// becomes the revocation challenge, a rule with a claims challenge that challenge; `None` for
/// other rules (they answer as for anyone).
pub fn cae_challenge_of(forced: &crate::error::Forced, now: i64) -> Option<String> {
    match (&forced.claims, forced.code) {
        (Some(claims), _) => Some(claims.clone()),
        (None, 50173) => Some(not_before(now)),
        _ => None,
    }
}

/// `forced`: a fault rule's error for this request, applied to CAE-capable clients as a
/// challenge; the caller answers it for the others.
pub async fn userinfo(
    state: &AppState,
    bearer: Option<&str>,
    base_url: &str,
    now: i64,
    forced: Option<&crate::error::Forced>,
) -> Result<Answer> {
    let token = bearer.ok_or(Error::InvalidAccessToken)?;
    let keys = state.keys.snapshot();
    // Graph tokens are signed over a hashed `nonce` header (see `keys::SigningKey::sign_graph`).
    let signed = crate::keys::graph_signed_form(token).ok_or(Error::InvalidAccessToken)?;
    let c: GraphClaims = verify(&keys, &signed)?;
    let expected_iss =
        crate::oauth::claims::token_issuer(base_url, &c.tid, crate::directory::TokenVersion::V1);
    if c.aud != GRAPH_APP_ID || c.iss != expected_iss || c.exp <= now || c.nbf > now + 300 {
        return Err(Error::InvalidAccessToken);
    }
    let user = state
        .store
        .user_by_oid(&c.oid)
        .await?
        .ok_or(Error::InvalidAccessToken)?;
    if c.xms_cc.iter().any(|cap| cap == "cp1") {
        if let Some(challenge) = forced.and_then(|f| cae_challenge_of(f, now)) {
            return Ok(Answer::Challenge(challenge));
        }
        // CAE: revocation applies at once, not at the token's expiry.
        if let Some(revoked) = user.sessions_revoked_at.filter(|r| *r >= issued_at(c.iat)) {
            return Ok(Answer::Challenge(not_before(revoked)));
        }
    }
    if let Some(f) = forced {
        return Err(Error::Forced(Box::new(f.clone())));
    }
    // The names with the `profile` scope, `email` with `email` (userinfo, "Calling the API":
    // "all names require the 'profile' scope").
    let scoped = |name: &str| c.scp.split(' ').any(|s| s == name);
    let mut out = Map::new();
    out.insert("sub".into(), json!(c.sub));
    if scoped("profile") {
        out.insert("name".into(), json!(user.display_name));
        if let Some(f) = &user.surname {
            out.insert("family_name".into(), json!(f));
        }
        if let Some(g) = &user.given_name {
            out.insert("given_name".into(), json!(g));
        }
    }
    if scoped("email") {
        if let Some(m) = &user.mail {
            out.insert("email".into(), json!(m));
        }
    }
    Ok(Answer::Info(Value::Object(out)))
}
