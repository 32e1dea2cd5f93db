//! `GET|POST /oidc/userinfo` (OIDC Core section 5.3), served by Graph in real Entra
//! (<https://learn.microsoft.com/entra/identity-platform/userinfo>): it takes a bearer access
//! token for Microsoft Graph (the one returned for OpenID scopes) and answers `sub`, `name`,
//! `family_name`, `given_name` and, with the `email` scope, `email`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::keys::verify::verify;
use crate::oauth::claims::GRAPH_APP_ID;
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
}

pub async fn userinfo(
    state: &AppState,
    bearer: Option<&str>,
    base_url: &str,
    now: i64,
) -> Result<Value> {
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
    let mut out = Map::new();
    out.insert("sub".into(), json!(c.sub));
    out.insert("name".into(), json!(user.display_name));
    if let Some(f) = &user.surname {
        out.insert("family_name".into(), json!(f));
    }
    if let Some(g) = &user.given_name {
        out.insert("given_name".into(), json!(g));
    }
    if c.scp.split(' ').any(|s| s == "email") {
        if let Some(m) = &user.mail {
            out.insert("email".into(), json!(m));
        }
    }
    Ok(Value::Object(out))
}
