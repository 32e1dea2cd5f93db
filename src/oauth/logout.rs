//! End-session: `GET|POST /{tenant}/oauth2/v2.0/logout` (OpenID Connect RP-Initiated Logout 1.0,
//! Entra's <https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request>).
//! The app is identified by `client_id` or `id_token_hint`; `post_logout_redirect_uri` must be
//! registered to it, else an error page and never a redirect. It ends the SSO session (cookie, or
//! the `sid` of the hint), and returns the front-channel logout URLs (`?sid=`) of every app
//! signed in through it (OpenID Connect Front-Channel Logout 1.0), and where to go next.

use std::sync::Arc;

use serde::Deserialize;

use crate::directory::Application;
use crate::error::{Error, Result};
use crate::keys::verify::verify;
use crate::oauth::claims::login_hint_oid;
use crate::oauth::params::Params;
use crate::state::AppState;

#[derive(Debug)]
pub struct LogoutRequest {
    pub tenant: String,
    pub params: Params,
    /// The value of the SSO cookie (`ESTSAUTH`), if the browser sent one.
    pub sso_session: Option<String>,
    pub base_url: String,
    pub now: i64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// SSO sessions that were ended.
    pub ended_sessions: Vec<String>,
    /// Front-channel logout URLs to load in iframes, each with `?sid=`.
    pub frontchannel_urls: Vec<String>,
    /// `post_logout_redirect_uri` with `state`, when one was asked for.
    pub redirect: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    aud: String,
    iss: String,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    oid: Option<String>,
}

/// Ends the SSO session and says what to notify and where to go.
pub async fn end_session(state: &AppState, req: LogoutRequest) -> Result<LogoutOutcome> {
    let tenant = state.directory.resolve_tenant(&req.tenant)?;
    let p = &req.params;

    // An expired hint is still a hint (RP-Initiated Logout section 2); the signature must hold.
    let hint: Option<HintClaims> = match p.get("id_token_hint") {
        Some(t) => {
            let keys = state.keys.snapshot();
            let c: HintClaims = verify(&keys, t).map_err(|_| invalid_hint())?;
            if !c.iss.starts_with(&req.base_url) {
                return Err(invalid_hint());
            }
            Some(c)
        }
        None => None,
    };
    let app: Option<Arc<Application>> = match (p.get("client_id"), &hint) {
        (Some(id), Some(h)) if !id.eq_ignore_ascii_case(&h.aud) => {
            return Err(Error::InvalidParameter {
                name: "client_id",
                reason: "it differs from the audience of the id_token_hint".into(),
            })
        }
        (Some(id), _) => Some(
            state
                .directory
                .application(&tenant, &id.to_ascii_lowercase())?,
        ),
        (None, Some(h)) => Some(state.directory.application(&tenant, &h.aud)?),
        (None, None) => None,
    };
    // "This URL must match one of the redirect URIs registered for your application"
    // (v2-protocols-oidc#send-a-sign-out-request): post-logout and reply URLs both count.
    let redirect = match p.get("post_logout_redirect_uri") {
        Some(uri) => {
            let registered = app.as_ref().is_some_and(|a| {
                a.post_logout_redirect_uris.iter().any(|u| u == uri)
                    || a.redirect_uris.iter().any(|(_, u)| u == uri)
            });
            if !registered {
                return Err(Error::PostLogoutRedirectUriNotRegistered(uri.to_string()));
            }
            let mut url = url::Url::parse(uri)
                .map_err(|_| Error::PostLogoutRedirectUriNotRegistered(uri.to_string()))?;
            if let Some(s) = p.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(url.to_string())
        }
        None => None,
    };

    let wanted_user = p
        .get("logout_hint")
        .and_then(login_hint_oid)
        .or_else(|| hint.as_ref().and_then(|h| h.oid.clone()));
    let mut candidates: Vec<String> = Vec::new();
    candidates.extend(req.sso_session.clone());
    candidates.extend(hint.as_ref().and_then(|h| h.sid.clone()));
    candidates.dedup();

    let mut out = LogoutOutcome {
        redirect,
        ..LogoutOutcome::default()
    };
    for sid in candidates {
        let Some(session) = state.store.active_session(&sid).await? else {
            continue;
        };
        if wanted_user.as_ref().is_some_and(|u| *u != session.user_oid) {
            continue;
        }
        for client_id in state.store.session_apps(&sid).await? {
            let logout_url = state
                .directory
                .applications
                .get(&client_id)
                .and_then(|a| a.front_channel_logout_url.as_deref())
                .and_then(|u| url::Url::parse(u).ok());
            if let Some(mut u) = logout_url {
                u.query_pairs_mut().append_pair("sid", &sid);
                out.frontchannel_urls.push(u.to_string());
            }
        }
        if state.store.end_session(&sid, req.now).await? {
            out.ended_sessions.push(sid);
        }
    }
    Ok(out)
}

fn invalid_hint() -> Error {
    Error::InvalidParameter {
        name: "id_token_hint",
        reason: "it is not an ID token issued by this authority".into(),
    }
}
