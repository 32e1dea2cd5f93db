//! `POST /_mock/signin`: a user signed in without pages, for tests that exercise a client's code
//! redemption rather than the sign-in UI. The request is validated as `/authorize` validates it
//! (client, registered redirect URI, scopes and consent, PKCE challenge); the user gets an SSO
//! session with the `amr` of the methods given, and the answer carries the authorization code the
//! redirect would have carried.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::oauth::authorize::{self, Authenticated, IdTokens, Rejection, ReplyBody};
use crate::oauth::params::Endpoint;
use crate::signin::{amr_json, Amr};
use crate::state::AppState;
use crate::store::sessions::SsoSession;

#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// Object id or UPN.
    pub user: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    /// Authentication methods, e.g. `["pwd", "otp"]` (default `["pwd"]`); `mfa` is added when a
    /// second factor is among them.
    pub methods: Option<Vec<Amr>>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub state: Option<String>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SignedIn {
    pub code: String,
    pub redirect_uri: String,
    /// The SSO session (`sid`, `session_state`).
    pub session_id: String,
    pub amr: Vec<Amr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

pub async fn sign_in(state: &AppState, req: SignInRequest, now: i64) -> Result<SignedIn> {
    let user = state
        .store
        .user_by_id_or_upn(&req.user)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user '{}'", req.user)))?;
    let tenant = state.directory().resolve_tenant(&user.tenant_id)?;
    let mut params = vec![
        ("client_id".to_string(), req.client_id.clone()),
        ("redirect_uri".to_string(), req.redirect_uri.clone()),
        ("scope".to_string(), req.scope.clone()),
        ("response_type".to_string(), "code".to_string()),
    ];
    for (name, value) in [
        ("code_challenge", &req.code_challenge),
        ("code_challenge_method", &req.code_challenge_method),
        ("nonce", &req.nonce),
        ("state", &req.state),
    ] {
        if let Some(v) = value {
            params.push((name.to_string(), v.clone()));
        }
    }
    let parsed = match authorize::parse(&state.directory(), &tenant, &params, Endpoint::V2) {
        Ok(r) => r,
        Err(Rejection::Page(e)) => return Err(e),
        Err(Rejection::Reply(reply)) => {
            return Err(match reply.body {
                ReplyBody::Error { error, .. } => error,
                ReplyBody::Success(_) => Error::Internal(anyhow::anyhow!("a rejection succeeded")),
            })
        }
    };
    let mut amr = req.methods.unwrap_or_else(|| vec![Amr::Pwd]);
    if amr.is_empty() {
        return Err(Error::InvalidParameter {
            name: "methods",
            reason: "name at least one method, e.g. [\"pwd\"].".into(),
        });
    }
    if amr.iter().any(|m| matches!(m, Amr::Otp | Amr::Hwk)) && !amr.contains(&Amr::Mfa) {
        amr.push(Amr::Mfa);
    }
    let session = SsoSession {
        id: crate::crypto::random_uuid().to_string(),
        user_oid: user.oid.clone(),
        amr_json: amr_json(&amr),
        auth_time: now,
        persistent: false,
        created_at: now,
        ended_at: None,
    };
    let auth = Authenticated::by_session(&user, &session);
    let id_tokens = IdTokens {
        keys: state.keys.snapshot(),
        directory: &state.directory(),
        store: &state.store,
        base_url: "",
    };
    let mut tx = state.store.write().await?;
    // No browser holds this session: its cookie secret is thrown away.
    tx.insert_session(&session, &crate::crypto::random_b64(32))
        .await?;
    let reply = authorize::complete(&mut tx, &id_tokens, &parsed, &auth, &user, now).await?;
    tx.commit().await?;
    let code = match reply.body {
        ReplyBody::Success(params) => params
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v),
        ReplyBody::Error { .. } => None,
    }
    .ok_or_else(|| Error::Internal(anyhow::anyhow!("a code reply without a code")))?;
    Ok(SignedIn {
        code,
        redirect_uri: parsed.reply.redirect_uri,
        session_id: session.id,
        amr,
        state: req.state,
    })
}
