//! What the BFF does with a session, without HTTP types: start a login (step 2), finish it at the
//! callback (steps 7-11), get a usable access token, refreshing it first when it has expired or
//! is about to (steps 17-19), call the API with it (steps 12-16, 20) and log out.

use serde_json::Value;

use super::entra::EntraError;
use super::store::{LoginState, Rotation, Session};
use super::BffState;
use crate::clients::browser_session::PkcePair;
use crate::clients::mutation::Mutation;
use crate::clients::validate::claims_from_challenge;
use crate::crypto::random_b64;
use crate::secret::Secret;

/// An access token this close to its expiry is refreshed before use.
pub const REFRESH_MARGIN_SECS: i64 = 120;

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum BffError {
    #[error("sign-in required")]
    LoginRequired,
    #[error("the CSRF token is missing or not this session's")]
    Csrf,
    #[error("the sign-in response does not belong to a sign-in started here (state mismatch or expired)")]
    State,
    #[error("Entra refused the sign-in: {error}: {description}")]
    SignIn { error: String, description: String },
    #[error("{0}")]
    Entra(#[from] EntraError),
    #[error("the session has ended: the refresh token was refused ({0})")]
    SessionEnded(String),
    #[error("the resource API is unreachable: {0}")]
    Upstream(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("session store: {0}")]
    Store(#[from] sqlx::Error),
}

/// The callback's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// An API answer, passed on to the browser.
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Value,
    /// The claims JSON of an `insufficient_claims` challenge: sign in again with it.
    pub claims_challenge: Option<String>,
}

/// A local path to return to after sign-in; anything else (another origin, `//host`, a
/// backslash trick) becomes `/`, so the login endpoint is no open redirect.
pub fn local_path(p: Option<&str>) -> String {
    match p {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 512
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// A `claims` request parameter to forward: a JSON object of reasonable size, or nothing.
pub fn claims_param(c: Option<&str>) -> Result<Option<String>, BffError> {
    match c.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c)
            if c.len() <= 2048 && serde_json::from_str::<Value>(c).is_ok_and(|v| v.is_object()) =>
        {
            Ok(Some(c.to_string()))
        }
        Some(_) => Err(BffError::BadRequest(
            "claims must be a JSON object (the value of a claims challenge)".into(),
        )),
    }
}

/// Step 2: a login state stored server-side and the authorization URL. The returned `state`
/// goes into the login-state cookie.
pub async fn start_login(
    bff: &BffState,
    claims: Option<&str>,
    return_to: &str,
    now: i64,
) -> Result<(String, String), BffError> {
    let pkce = PkcePair::generate();
    let login = LoginState {
        state: random_b64(24),
        nonce: random_b64(24),
        verifier: Secret::new(pkce.verifier.clone()),
        return_to: local_path(Some(return_to)),
    };
    bff.store.put_login_state(&login, now).await?;
    let url = bff
        .entra
        .authorize_url(&login.state, &login.nonce, &pkce.challenge, claims);
    Ok((url, login.state))
}

/// Steps 7-11: checks `state` against the login-state cookie, takes the login state once,
/// redeems the code, validates the ID token and stores the new session; the session and where
/// to go next.
pub async fn finish_login(
    bff: &BffState,
    cookie_state: Option<&str>,
    cb: &Callback,
    now: i64,
) -> Result<(Session, String), BffError> {
    let state = cb.state.as_deref().unwrap_or_default();
    let bound = cookie_state.is_some_and(|c| {
        !state.is_empty() && crate::crypto::digest_eq(c.as_bytes(), state.as_bytes())
    });
    if !bound && !Mutation::BffSkipsState.active() {
        return Err(BffError::State);
    }
    let login = bff
        .store
        .take_login_state(state, now)
        .await?
        .ok_or(BffError::State)?;
    if let Some(error) = &cb.error {
        return Err(BffError::SignIn {
            error: error.clone(),
            description: cb.error_description.clone().unwrap_or_default(),
        });
    }
    let code = cb
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| BffError::BadRequest("the callback carries no code".into()))?;
    let tokens = bff.entra.redeem(code, &login.verifier).await?;
    let id_token = tokens
        .id_token
        .ok_or_else(|| EntraError::IdToken("the token response has no ID token".into()))?;
    let claims = bff.entra.validate_id_token(&id_token, &login.nonce).await?;
    let text = |k: &str| claims[k].as_str().map(str::to_string);
    let session = Session {
        id: Secret::new(random_b64(32)),
        sid: text("sid"),
        oid: text("oid").unwrap_or_default(),
        name: text("name").unwrap_or_default(),
        username: text("preferred_username").unwrap_or_default(),
        login_hint: text("login_hint"),
        amr: claims["amr"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        id_token: Secret::new(id_token),
        id_token_exp: claims["exp"].as_i64().unwrap_or(now),
        access_token: Secret::new(tokens.access_token),
        access_expires_at: now + tokens.expires_in,
        refresh_token: tokens.refresh_token.map(Secret::new),
        created_at: now,
        refreshed_at: None,
    };
    bff.store.insert_session(&session).await?;
    tracing::info!(oid = %session.oid, amr = ?session.amr, "BFF session started");
    Ok((session, login.return_to))
}

/// A usable access token for the session: the stored one while it has more than
/// [`REFRESH_MARGIN_SECS`] left (and `force` is off), else a refreshed one. A refused refresh
/// can mean a stolen and already used refresh token (RFC 9700 section 4.14): it is logged as
/// such and ends the session.
pub async fn access_token(
    bff: &BffState,
    session: &Session,
    force: bool,
    now: i64,
) -> Result<Secret, BffError> {
    if !force && session.access_expires_at - now > REFRESH_MARGIN_SECS {
        return Ok(session.access_token.clone());
    }
    let Some(refresh) = &session.refresh_token else {
        bff.store.delete_session(session.id.expose()).await?;
        return Err(BffError::SessionEnded("no refresh token".into()));
    };
    match bff.entra.refresh(refresh).await {
        Ok(t) => {
            let rotation = Rotation {
                access_token: Secret::new(t.access_token),
                access_expires_at: now + t.expires_in,
                refresh_token: t.refresh_token.map(Secret::new),
                id_token: None,
            };
            if bff
                .store
                .rotate(session.id.expose(), refresh.expose(), &rotation, now)
                .await?
            {
                return Ok(rotation.access_token);
            }
            // Another request rotated first: use what it stored.
            match bff.store.session(session.id.expose()).await? {
                Some(s) => Ok(s.access_token),
                None => Err(BffError::SessionEnded("ended meanwhile".into())),
            }
        }
        Err(EntraError::Refused {
            error,
            description,
            codes,
        }) => {
            tracing::warn!(
                oid = %session.oid, %error, ?codes,
                "refresh token refused: possible token theft or revocation; ending the BFF session"
            );
            bff.store.delete_session(session.id.expose()).await?;
            Err(BffError::SessionEnded(format!("{error}: {description}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Steps 12-16 and 20: calls the API with the session's bearer token. A 401 `invalid_token`
/// (expired early, keys rolled) is retried once with a refreshed token.
pub async fn call_api(
    bff: &BffState,
    session: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    now: i64,
) -> Result<ApiAnswer, BffError> {
    let mut force = false;
    loop {
        let token = access_token(bff, session, force, now).await?;
        let mut req = bff
            .http
            .request(method.clone(), format!("{}{path}", bff.api_url))
            .bearer_auth(token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .map_err(|e| BffError::Upstream(e.to_string()))?;
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        if status == 401
            && !force
            && challenge
                .as_deref()
                .is_some_and(|c| c.contains("invalid_token"))
        {
            force = true;
            continue;
        }
        let body = res.json().await.unwrap_or(Value::Null);
        return Ok(ApiAnswer {
            status,
            body,
            claims_challenge: challenge.as_deref().and_then(claims_from_challenge),
        });
    }
}

/// Logout: the session and its tokens are deleted; where the browser goes next (Entra's
/// end-session endpoint, or home when there was no session).
pub async fn logout(bff: &BffState, session_id: &str) -> Result<String, BffError> {
    match bff.store.delete_session(session_id).await? {
        Some(s) => {
            tracing::info!(oid = %s.oid, "BFF session ended by logout");
            Ok(bff
                .entra
                .end_session_url(s.id_token.expose(), s.login_hint.as_deref()))
        }
        None => Ok("/".into()),
    }
}
