//! The authorization endpoint's answer: where it goes ([`ReplyTarget`], only ever a registered
//! redirect URI), what it carries ([`ReplyBody`]), and the issuance of the code ([`complete`]).
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#successful-response>

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{AuthorizeRequest, ResponseMode};
use crate::amr::{parse_amr_json, Amr};
use crate::directory::{Directory, User};
use crate::error::Error;
use crate::keys::KeySet;
use crate::oauth::claims;
use crate::oauth::lifetimes::CODE_LIFETIME_SECS;
use crate::store::codes::AuthCode;
use crate::store::sessions::SsoSession;
use crate::store::{Store, Tx};
use std::sync::Arc;

/// Where a reply (success or error) goes: only ever a registered redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTarget {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    /// Echoed byte for byte.
    pub state: Option<String>,
}

impl ReplyTarget {
    /// The redirect URI's origin, for the `form-action` of the pages' Content-Security-Policy.
    pub fn origin(&self) -> String {
        match url::Url::parse(&self.redirect_uri) {
            Ok(u) => match u.origin() {
                url::Origin::Tuple(..) => u.origin().ascii_serialization(),
                url::Origin::Opaque(_) => format!("{}:", u.scheme()),
            },
            Err(_) => String::new(),
        }
    }

    /// The redirect URI with `params` in its query or fragment (not for form_post).
    pub fn location(&self, params: &[(String, String)]) -> Result<String, Error> {
        let mut url = url::Url::parse(&self.redirect_uri).map_err(|e| {
            Error::Internal(anyhow::anyhow!("registered redirect URI unparsable: {e}"))
        })?;
        match self.mode {
            ResponseMode::Fragment => {
                let fragment = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params)
                    .finish();
                url.set_fragment(Some(&fragment));
            }
            ResponseMode::Query | ResponseMode::FormPost => {
                url.query_pairs_mut().extend_pairs(params);
            }
        }
        Ok(url.to_string())
    }
}

/// What the reply to the app carries.
#[derive(Debug)]
pub enum ReplyBody {
    Success(Vec<(String, String)>),
    Error {
        error: Error,
        /// `cancel` when the user cancelled.
        subcode: Option<&'static str>,
    },
}

/// A reply to the application at a registered redirect URI.
#[derive(Debug)]
pub struct Reply {
    pub target: ReplyTarget,
    pub body: ReplyBody,
}

impl Reply {
    pub fn error(target: ReplyTarget, error: Error) -> Self {
        Reply {
            target,
            body: ReplyBody::Error {
                error,
                subcode: None,
            },
        }
    }
}

/// Why a request was refused, and where that is said.
#[derive(Debug)]
pub enum Rejection {
    /// On entra-mock's error page: the client or its redirect URI cannot be trusted.
    Page(Error),
    /// Back to the application.
    Reply(Box<Reply>),
}

/// Who signed in, and how: what a code is issued for.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_oid: String,
    pub tenant_id: String,
    pub session_id: String,
    /// JSON array, see [`crate::signin::Amr`].
    pub amr_json: String,
    pub auth_time: i64,
}

impl Authenticated {
    /// The stored amr, parsed: a value that does not parse is an error, never an empty list.
    pub fn amr(&self) -> Result<Vec<Amr>, Error> {
        parse_amr_json(&self.amr_json)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored amr {:?}: {e}", self.amr_json)))
    }

    /// The user of an SSO session, authenticated as that session records.
    pub fn by_session(user: &User, session: &SsoSession) -> Self {
        Authenticated {
            user_oid: user.oid.clone(),
            tenant_id: user.tenant_id.clone(),
            session_id: session.id.clone(),
            amr_json: session.amr_json.clone(),
            auth_time: session.auth_time,
        }
    }
}

/// Mints the `id_token` of the hybrid (`code id_token`) and implicit (`id_token`) flows with the
/// token endpoint's minter: an ID token for the signed-in user with the request's `nonce`, `sid` =
/// the session, `auth_time` when `max_age` was sent and, when a code is issued with it, `c_hash`
/// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#request-an-id-token-as-well-or-hybrid-flow>).
pub struct IdTokens<'a> {
    pub keys: Arc<KeySet>,
    pub directory: &'a Directory,
    /// The users' consent grants, for the implicit flow's access token.
    pub store: &'a Store,
    /// Scheme and host of the request: the issuer is built from it.
    pub base_url: &'a str,
}

impl IdTokens<'_> {
    /// The access token of the implicit flow (`token`): for the request's scopes, as the token
    /// endpoint would issue it to a public client, with what the user consented to (on the
    /// consent page of this sign-in or before); and the granted `scope`.
    async fn mint_access(
        &self,
        req: &AuthorizeRequest,
        auth: &Authenticated,
        user: &User,
        now: i64,
    ) -> Result<(claims::AccessToken, String), Error> {
        let app = self
            .directory
            .applications
            .get(&req.client_id)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("application vanished")))?;
        let scopes = crate::oauth::grants::scopes::delegated_for(
            self.store,
            self.directory,
            app,
            &user.oid,
            &req.scope,
        )
        .await?;
        let amr = auth.amr()?;
        let access = claims::mint_access_token(
            &self.keys,
            &claims::AccessTokenInput {
                base_url: self.base_url,
                directory: self.directory,
                tid: &user.tenant_id,
                client: app,
                client_auth: claims::AuthMethod::None,
                target: &scopes.target,
                subject: claims::Subject::User(claims::UserGrant {
                    user,
                    scp: &scopes.values,
                    amr: &amr,
                    session_id: Some(&auth.session_id),
                    auth_time: auth.auth_time,
                    acrs: Vec::new(),
                    client_capabilities: Vec::new(),
                }),
                delivery: claims::Delivery::Authorize,
                now,
            },
        )?;
        Ok((access, scopes.granted))
    }

    fn mint(
        &self,
        req: &AuthorizeRequest,
        auth: &Authenticated,
        user: &User,
        code: Option<&str>,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<String, Error> {
        let app = self
            .directory
            .applications
            .get(&req.client_id)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("application vanished")))?;
        let amr = auth.amr()?;
        claims::mint_id_token(
            &self.keys,
            &claims::IdTokenInput {
                base_url: self.base_url,
                directory: self.directory,
                app,
                user,
                session_id: Some(&auth.session_id),
                amr: &amr,
                auth_time: auth.auth_time,
                include_auth_time: req.max_age.is_some(),
                nonce: req.nonce.as_deref(),
                with_email: req.scope.split_whitespace().any(|s| s == "email"),
                with_profile: req
                    .scope
                    .split_whitespace()
                    .any(|s| s.eq_ignore_ascii_case("profile")),
                code,
                access_token,
                endpoint: req.endpoint,
                delivery: claims::Delivery::Authorize,
                now,
            },
        )
    }
}

/// Issues the reply for a signed-in user: stores the code (single use, 10 minutes, bound to
/// everything the token endpoint checks), records the app in the SSO session (front-channel
/// logout) and builds `code`, `id_token` (hybrid/implicit, by `id_tokens`), `state`,
/// `session_state` and `client_info`.
/// Its writes (the code, the app of the session) are part of the caller's transaction `tx`.
pub async fn complete(
    tx: &mut Tx,
    id_tokens: &IdTokens<'_>,
    req: &AuthorizeRequest,
    auth: &Authenticated,
    user: &User,
    now: i64,
) -> Result<Reply, Error> {
    if let Some(device) = &req.device {
        return approve_device(tx, req, device, auth, now).await;
    }
    // v2-admin-consent "Successful response": admin_consent, tenant, scope, state; no code.
    if req.consent.is_admin() {
        let mut params = vec![
            ("admin_consent".to_string(), "True".to_string()),
            ("tenant".to_string(), auth.tenant_id.clone()),
            ("scope".to_string(), req.scope.clone()),
        ];
        if let Some(state) = &req.reply.state {
            params.push(("state".into(), state.clone()));
        }
        return Ok(Reply {
            target: req.reply.clone(),
            body: ReplyBody::Success(params),
        });
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let code = req.response_type.returns_code().then(new_code);
    let access = if req.response_type.returns_token() {
        Some(id_tokens.mint_access(req, auth, user, now).await?)
    } else {
        None
    };
    let id_token = if req.response_type.returns_id_token() {
        let at = access.as_ref().map(|(a, _)| a.token.as_str());
        Some(id_tokens.mint(req, auth, user, code.as_deref(), at, now)?)
    } else {
        None
    };
    if let Some((a, scope)) = &access {
        params.push(("access_token".into(), a.token.clone()));
        params.push(("token_type".into(), "Bearer".into()));
        params.push(("expires_in".into(), a.expires_in.to_string()));
        params.push(("scope".into(), scope.clone()));
    }
    // The code's statement also adds the app to the session (migration 0020); a reply without
    // a code adds it here.
    let with_code = code.is_some();
    if let Some(code) = code {
        tx.insert_code(
            &code,
            &AuthCode {
                client_id: req.client_id.clone(),
                redirect_uri: req.reply.redirect_uri.clone(),
                platform: req.platform,
                pkce: req.pkce.clone(),
                nonce: req.nonce.clone(),
                scope: req.scope.clone(),
                user_oid: auth.user_oid.clone(),
                session_id: auth.session_id.clone(),
                amr: auth.amr()?,
                auth_time: auth.auth_time,
                include_auth_time: req.max_age.is_some(),
                claims_json: req.claims.clone(),
                created_at: now,
                expires_at: now + CODE_LIFETIME_SECS,
            },
        )
        .await?;
        params.push(("code".into(), code));
    }
    if let Some(t) = id_token {
        params.push(("id_token".into(), t));
    }
    if !with_code {
        tx.add_session_app(&auth.session_id, &req.client_id).await?;
    }
    if let Some(state) = &req.reply.state {
        params.push(("state".into(), state.clone()));
    }
    params.push(("session_state".into(), auth.session_id.clone()));
    if let Some(info) = req.client_info.value(&auth.user_oid, &auth.tenant_id) {
        params.push(("client_info".into(), info));
    }
    Ok(Reply {
        target: req.reply.clone(),
        body: ReplyBody::Success(params),
    })
}

/// The end of a `/devicelogin` sign-in: the device code is approved for the user (the device's
/// next poll gets the tokens) and the browser goes to entra-mock's own "you may close this window"
/// page. A code that expired or was declined meanwhile approves nothing.
async fn approve_device(
    tx: &mut Tx,
    req: &AuthorizeRequest,
    device: &str,
    auth: &Authenticated,
    now: i64,
) -> Result<Reply, Error> {
    let approved = tx
        .approve_device_code(
            device,
            &auth.user_oid,
            &auth.session_id,
            &auth.amr_json,
            auth.auth_time,
            now,
        )
        .await?;
    if !approved {
        return Err(Error::DeviceFlowFinished);
    }
    Ok(Reply {
        target: req.reply.clone(),
        body: ReplyBody::Success(match &req.reply.state {
            Some(state) => vec![("state".into(), state.clone())],
            None => Vec::new(),
        }),
    })
}

fn new_code() -> String {
    let mut bytes = [0u8; 48];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes[..]);
    format!("1.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_and_queries_keep_existing_query() {
        let t = ReplyTarget {
            redirect_uri: "http://localhost:5001/cb?x=1".into(),
            mode: ResponseMode::Query,
            state: None,
        };
        let loc = t.location(&[("code".into(), "a b".into())]).unwrap();
        assert_eq!(loc, "http://localhost:5001/cb?x=1&code=a+b");
        let t = ReplyTarget {
            mode: ResponseMode::Fragment,
            ..t
        };
        assert_eq!(
            t.location(&[("code".into(), "c".into())]).unwrap(),
            "http://localhost:5001/cb?x=1#code=c"
        );
        assert_eq!(t.origin(), "http://localhost:5001");
    }
}
