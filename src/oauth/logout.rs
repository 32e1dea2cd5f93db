//! End-session: `GET|POST /{tenant}/oauth2/v2.0/logout` (OpenID Connect RP-Initiated Logout 1.0,
//! Entra's <https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request>).
//! As MSAL sends it, a request often names no app: msal-browser's `logoutRedirect` sends
//! `post_logout_redirect_uri` and `logout_hint` (the ID token's `login_hint` claim) without
//! `client_id` or `id_token_hint`. Entra ends the session `logout_hint` names (else the browser's
//! SSO session, or the `sid` of the hint), sends front-channel logout (`?sid=`) to every app of
//! that session (OpenID Connect Front-Channel Logout 1.0), and redirects to
//! `post_logout_redirect_uri` only when it is registered for an app that took part in the session
//! or for the app named by `client_id` / `id_token_hint`; otherwise it shows its signed-out page.
//! It never redirects to an unregistered URI and never leaves the session alive on a well-formed
//! request.

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
    /// The value of the SSO cookie (`ESTSAUTH` or `ESTSAUTHPERSISTENT`), if the browser sent one.
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
    let directory = state.directory();
    let tenant = directory.resolve_tenant(&req.tenant)?;
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
                .directory()
                .application(&tenant, &id.to_ascii_lowercase())?,
        ),
        (None, Some(h)) => Some(state.directory().application(&tenant, &h.aud)?),
        (None, None) => None,
    };
    let wanted_user = p
        .get("logout_hint")
        .and_then(login_hint_oid)
        .or_else(|| hint.as_ref().and_then(|h| h.oid.clone()));
    let mut candidates: Vec<String> = Vec::new();
    if let Some(secret) = &req.sso_session {
        candidates.extend(
            state
                .store
                .session_by_cookie(secret, req.now)
                .await?
                .map(|s| s.id),
        );
    }
    candidates.extend(hint.as_ref().and_then(|h| h.sid.clone()));
    candidates.dedup();

    let mut out = LogoutOutcome::default();
    // The apps whose registered URIs may receive the browser afterwards.
    let mut apps: Vec<Arc<Application>> = app.into_iter().collect();
    for sid in candidates {
        let Some(session) = state.store.active_session(&sid, req.now).await? else {
            continue;
        };
        if wanted_user.as_ref().is_some_and(|u| *u != session.user_oid) {
            continue;
        }
        for client_id in state.store.session_apps(&sid).await? {
            let Some(a) = directory.applications.get(&client_id) else {
                continue;
            };
            let logout_url = a
                .front_channel_logout_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok());
            if let Some(mut u) = logout_url {
                u.query_pairs_mut().append_pair("sid", &sid);
                out.frontchannel_urls.push(u.to_string());
            }
            apps.push(a.clone());
        }
        if state.store.end_session(&sid, req.now).await? {
            out.ended_sessions.push(sid);
        }
    }
    out.redirect = post_logout_redirect(p, &apps);
    Ok(out)
}

/// `post_logout_redirect_uri` with `state`, when one of `apps` registered it. "This URL must
/// match one of the redirect URIs registered for your application"
/// (v2-protocols-oidc#send-a-sign-out-request): post-logout and reply URLs both count.
fn post_logout_redirect(p: &Params, apps: &[Arc<Application>]) -> Option<String> {
    let uri = p.get("post_logout_redirect_uri")?;
    let registered = apps.iter().any(|a| {
        a.post_logout_redirect_uris.iter().any(|u| u == uri)
            || a.redirect_uris.iter().any(|(_, u)| u == uri)
    });
    if !registered {
        tracing::info!(
            "post_logout_redirect_uri not registered for the session's apps: no redirect"
        );
        return None;
    }
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(s) = p.get("state") {
        url.query_pairs_mut().append_pair("state", s);
    }
    Some(url.to_string())
}

fn invalid_hint() -> Error {
    Error::InvalidParameter {
        name: "id_token_hint",
        reason: "it is not an ID token issued by this authority".into(),
    }
}
