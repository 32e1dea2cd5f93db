//! The sign-in state machine: what each [`Step`] does with the form it receives, and the
//! decision between SSO, a `prompt=none` refusal and the pages.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use super::passkey;
use super::password;
use super::totp::TotpSecret;
use super::*;
use crate::crypto::{digest_eq, sha256};
use crate::directory::{Application, MfaMethod, MfaPolicy, ResolvedTenant, User};
use crate::error::Error;
use crate::oauth::authorize::{
    self, Authenticated, AuthorizeRequest, Prompt, Rejection, Reply, ReplyBody,
};
use crate::store::sessions::SsoSession;

/// What a step decided.
enum Next {
    Show(Step, Option<Error>),
    Authenticated(Done),
    Finish(Done, Persistence),
}

/// `GET|POST /authorize`: validates the request, then answers from the SSO session or starts the
/// pages. `Err` is for the error page (never redirected).
pub async fn start(
    d: &Deps<'_>,
    tenant: &ResolvedTenant,
    params: &[(String, String)],
    sso_cookie: Option<&str>,
    browser: &str,
) -> Result<Outcome, Error> {
    let req = match authorize::parse(d.directory, tenant, params) {
        Ok(r) => r,
        Err(Rejection::Page(e)) => return Err(e),
        Err(Rejection::Reply(reply)) => {
            return Ok(Outcome::Reply {
                reply: *reply,
                session: None,
            })
        }
    };
    let sso = match sso_cookie {
        Some(id) => d.sso(id, &req.tenant_id).await?,
        None => None,
    };
    route(d, req, sso, browser).await
}

/// A form posted by a sign-in page.
pub async fn advance(d: &Deps<'_>, sub: Submission, browser: &str) -> Result<Outcome, Error> {
    let row = d
        .store
        .flow(&sub.flow_id, d.now)
        .await?
        .ok_or(Error::SignInSessionInvalid)?;
    let flow: Flow =
        serde_json::from_str(&row.state_json).map_err(|e| Error::Internal(e.into()))?;
    if !digest_eq(row.csrf_token.as_bytes(), sub.csrf.as_bytes())
        || !digest_eq(flow.browser.as_bytes(), browser_digest(browser).as_bytes())
    {
        return Err(Error::SignInSessionInvalid);
    }
    let Flow {
        request,
        browser: bound,
        step,
    } = flow;
    if sub.action.as_deref() == Some("cancel") {
        if !d.store.end_flow(&sub.flow_id).await? {
            return Err(Error::SignInSessionInvalid);
        }
        // Entra: error=access_denied&error_subcode=cancel.
        return Ok(Outcome::Reply {
            reply: Reply {
                target: request.reply.clone(),
                body: ReplyBody::Error {
                    error: Error::UserCancelled,
                    subcode: Some("cancel"),
                },
            },
            session: None,
        });
    }
    let app = d.app(&request)?;
    let next = match step {
        Step::AccountPicker { session_id } => match sub.account.as_deref() {
            Some("other") => Next::Show(Step::Username { prefill: None }, None),
            Some(oid) => match d.sso(&session_id, &request.tenant_id).await? {
                Some((s, u)) if u.oid == oid => {
                    if !d.store.end_flow(&sub.flow_id).await? {
                        return Err(Error::SignInSessionInvalid);
                    }
                    let mut req = request;
                    req.prompt = None;
                    return route(d, req, Some((s, u)), browser).await;
                }
                _ => Next::Show(Step::Username { prefill: None }, None),
            },
            None => Next::Show(Step::AccountPicker { session_id }, None),
        },
        Step::Username { prefill } => {
            let name = sub.loginfmt.as_deref().map(str::trim).unwrap_or("");
            if name.is_empty() {
                Next::Show(
                    Step::Username { prefill },
                    Some(Error::MissingParameter("loginfmt")),
                )
            } else {
                match d.store.user_by_upn(&request.tenant_id, name).await? {
                    Some(user) => Next::Show(Step::Password { user_oid: user.oid }, None),
                    None => Next::Show(
                        Step::Username {
                            prefill: Some(name.to_string()),
                        },
                        Some(Error::UserNotFound {
                            user: name.to_string(),
                            tenant: d.tenant_domain(&request.tenant_id),
                        }),
                    ),
                }
            }
        }
        Step::Password { user_oid } => {
            let user = d.user(&user_oid).await?;
            if d.locked(&user) {
                Next::Show(Step::Password { user_oid }, Some(Error::AccountLocked))
            } else if !sub
                .passwd
                .as_ref()
                .is_some_and(|p| password::verify(&user, p))
            {
                Next::Show(Step::Password { user_oid }, Some(Error::InvalidCredentials))
            } else if mfa_required(&user, &app, &request) {
                Next::Show(d.mfa_step(&user).await?, None)
            } else {
                Next::Authenticated(d.done(&user, &PASSWORD_ONLY))
            }
        }
        Step::Totp { user_oid } => {
            let user = d.user(&user_oid).await?;
            let secret = user.totp_secret.as_deref().map(TotpSecret::from_base32);
            let code = sub.otc.as_deref().unwrap_or("");
            if d.locked(&user) {
                Next::Show(Step::Totp { user_oid }, Some(Error::AccountLocked))
            } else {
                match secret.and_then(|s| s.matching_step(code, d.now)) {
                    Some(step) if d.store.accept_totp_step(&user.oid, step).await? => {
                        Next::Authenticated(d.done(&user, &PASSWORD_AND_TOTP))
                    }
                    _ => {
                        let e = d.mfa_failure(&user).await?;
                        Next::Show(Step::Totp { user_oid }, Some(e))
                    }
                }
            }
        }
        Step::Passkey {
            user_oid,
            options,
            state,
        } => {
            let user = d.user(&user_oid).await?;
            let rp = passkey::relying_party(d.base_url)?;
            let passkeys = d.store.passkeys(&user.oid).await?;
            let verified = sub
                .credential
                .as_deref()
                .and_then(|answer| passkey::finish_authentication(&rp, &state, &passkeys, answer));
            match verified {
                _ if d.locked(&user) => Next::Show(
                    Step::Passkey {
                        user_oid,
                        options,
                        state,
                    },
                    Some(Error::AccountLocked),
                ),
                Some(updated) => {
                    for p in &updated {
                        d.store.save_passkey(&user.oid, p, d.now).await?;
                    }
                    Next::Authenticated(d.done(&user, &PASSWORD_AND_PASSKEY))
                }
                None => Next::Show(d.passkey_step(&user).await?, Some(passkey_refused())),
            }
        }
        Step::EnrolChoice { user_oid } => {
            let user = d.user(&user_oid).await?;
            match sub.method.as_deref() {
                Some("totp") => Next::Show(
                    Step::EnrolTotp {
                        user_oid,
                        secret: TotpSecret::generate(),
                    },
                    None,
                ),
                Some("passkey") => Next::Show(d.registration_step(&user).await?, None),
                _ => Next::Show(Step::EnrolChoice { user_oid }, None),
            }
        }
        Step::EnrolTotp { user_oid, secret } => {
            let user = d.user(&user_oid).await?;
            let code = sub.otc.as_deref().unwrap_or("");
            if d.locked(&user) {
                Next::Show(
                    Step::EnrolTotp { user_oid, secret },
                    Some(Error::AccountLocked),
                )
            } else {
                match secret.matching_step(code, d.now) {
                    Some(step) => {
                        d.store.enrol_totp(&user.oid, secret.base32(), step).await?;
                        Next::Authenticated(d.done(&user, &PASSWORD_AND_TOTP))
                    }
                    None => {
                        let e = d.mfa_failure(&user).await?;
                        Next::Show(Step::EnrolTotp { user_oid, secret }, Some(e))
                    }
                }
            }
        }
        Step::EnrolPasskey {
            user_oid, state, ..
        } => {
            let user = d.user(&user_oid).await?;
            let rp = passkey::relying_party(d.base_url)?;
            let registered = sub
                .credential
                .as_deref()
                .and_then(|answer| passkey::finish_registration(&rp, &state, answer));
            match registered {
                Some(pk) => {
                    d.store.save_passkey(&user.oid, &pk, d.now).await?;
                    // The new passkey is then used, so the amr says what was proven.
                    Next::Show(d.passkey_step(&user).await?, None)
                }
                None => Next::Show(d.registration_step(&user).await?, Some(passkey_refused())),
            }
        }
        Step::StaySignedIn { done } => match sub.action.as_deref() {
            Some("yes") => Next::Finish(done, Persistence::Persistent),
            _ => Next::Finish(done, Persistence::BrowserSession),
        },
    };
    let next = match next {
        Next::Authenticated(done) if app.stay_signed_in_prompt => {
            Next::Show(Step::StaySignedIn { done }, None)
        }
        Next::Authenticated(done) => Next::Finish(done, Persistence::BrowserSession),
        other => other,
    };
    match next {
        Next::Show(step, error) => {
            let flow = Flow {
                request,
                browser: bound,
                step,
            };
            let json = serde_json::to_string(&flow).map_err(|e| Error::Internal(e.into()))?;
            d.store.update_flow(&sub.flow_id, &json).await?;
            Ok(Outcome::Page(
                d.page(&sub.flow_id, &row.csrf_token, &flow, &app, error)
                    .await?,
            ))
        }
        Next::Finish(done, persistence) => {
            if !d.store.end_flow(&sub.flow_id).await? {
                return Err(Error::SignInSessionInvalid);
            }
            d.finish(&request, done, persistence, sub.sso_cookie.as_deref())
                .await
        }
        Next::Authenticated(_) => Err(Error::Internal(anyhow::anyhow!("unreachable step"))),
    }
}

fn passkey_refused() -> Error {
    Error::InvalidParameter {
        name: "credential",
        reason: "The passkey could not be verified. Try again.".into(),
    }
}

fn mfa_required(user: &User, app: &Application, req: &AuthorizeRequest) -> bool {
    user.mfa_policy == MfaPolicy::Required || authorize::mfa_demanded(app, req)
}

fn browser_digest(browser: &str) -> String {
    hex::encode(sha256(browser.as_bytes()))
}

/// Decides, for a validated request, between an answer from the SSO session, a `prompt=none`
/// refusal and the pages.
async fn route(
    d: &Deps<'_>,
    req: AuthorizeRequest,
    sso: Option<(SsoSession, User)>,
    browser: &str,
) -> Result<Outcome, Error> {
    let app = d.app(&req)?;
    // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow: prompt=none
    // never shows a page; it fails with login_required or interaction_required instead.
    let silent = req.prompt == Some(Prompt::None);
    let refuse = |req: &AuthorizeRequest, e: Error| {
        Ok(Outcome::Reply {
            reply: Reply::error(req.reply.clone(), e),
            session: None,
        })
    };
    let step = match sso {
        None if silent => return refuse(&req, Error::LoginRequired),
        None => d.first_step(&req).await?,
        Some((session, user)) => {
            let other_user = req
                .login_hint
                .as_deref()
                .is_some_and(|h| !h.eq_ignore_ascii_case(&user.upn));
            // OIDC Core 3.1.2.1 max_age: re-authenticate when the last one is older (max_age=0
            // always, like prompt=login).
            let too_old = req
                .max_age
                .is_some_and(|m| m == 0 || d.now - session.auth_time > m);
            let amr: Vec<String> = serde_json::from_str(&session.amr_json).unwrap_or_default();
            let lacks_mfa = mfa_required(&user, &app, &req) && !amr.iter().any(|a| a == "mfa");
            match req.prompt {
                Some(Prompt::Login) => d.first_step(&req).await?,
                Some(Prompt::SelectAccount) => Step::AccountPicker {
                    session_id: session.id,
                },
                _ if other_user && silent => return refuse(&req, Error::LoginRequired),
                _ if other_user => d.first_step(&req).await?,
                _ if too_old && silent => return refuse(&req, Error::LoginRequired),
                _ if too_old => Step::Password { user_oid: user.oid },
                _ if lacks_mfa && silent => {
                    let e = if d.has_mfa_method(&user).await? {
                        Error::MfaRequired(app.display_name.clone())
                    } else {
                        Error::MfaEnrolmentRequired
                    };
                    return refuse(&req, e);
                }
                _ if lacks_mfa => d.mfa_step(&user).await?,
                _ => {
                    let auth = Authenticated::by_session(&user, &session);
                    let reply =
                        authorize::complete(d.store, &d.id_tokens, &req, &auth, d.now).await?;
                    return Ok(Outcome::Reply {
                        reply,
                        session: None,
                    });
                }
            }
        }
    };
    let flow = Flow {
        request: req,
        browser: browser_digest(browser),
        step,
    };
    let flow_id = Uuid::new_v4().to_string();
    let csrf = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let json = serde_json::to_string(&flow).map_err(|e| Error::Internal(e.into()))?;
    d.store.purge_flows(d.now).await?;
    d.store
        .insert_flow(&flow_id, &csrf, &json, d.now, d.now + FLOW_LIFETIME_SECS)
        .await?;
    Ok(Outcome::Page(
        d.page(&flow_id, &csrf, &flow, &app, None).await?,
    ))
}

impl Deps<'_> {
    pub(super) fn app(&self, req: &AuthorizeRequest) -> Result<Arc<Application>, Error> {
        self.directory
            .applications
            .get(&req.client_id)
            .cloned()
            .ok_or_else(|| Error::UnknownClient {
                client_id: req.client_id.clone(),
                tenant: req.tenant_id.clone(),
            })
    }

    pub(super) fn tenant_domain(&self, tenant_id: &str) -> String {
        self.directory
            .tenant(tenant_id)
            .map(|t| t.domain.clone())
            .unwrap_or_else(|| tenant_id.to_string())
    }

    pub(super) async fn user(&self, oid: &str) -> Result<User, Error> {
        self.store
            .user_by_oid(oid)
            .await?
            .ok_or(Error::SignInSessionInvalid)
    }

    /// The active SSO session named by the cookie, with its user, when the user belongs to the
    /// tenant of the request.
    pub(super) async fn sso(
        &self,
        id: &str,
        tenant_id: &str,
    ) -> Result<Option<(SsoSession, User)>, Error> {
        let Some(session) = self.store.active_session(id).await? else {
            return Ok(None);
        };
        let user = self.store.user_by_oid(&session.user_oid).await?;
        Ok(user
            .filter(|u| u.tenant_id == tenant_id)
            .map(|u| (session, u)))
    }

    pub(super) fn locked(&self, user: &User) -> bool {
        user.locked_until.is_some_and(|t| t > self.now)
    }

    pub(super) fn done(&self, user: &User, amr: &[Amr]) -> Done {
        Done {
            user_oid: user.oid.clone(),
            amr: amr.to_vec(),
            auth_time: self.now,
        }
    }

    /// Counts a wrong code and says what the page shows: AADSTS50053 once locked.
    async fn mfa_failure(&self, user: &User) -> Result<Error, Error> {
        let (threshold, secs) = self
            .directory
            .tenant(&user.tenant_id)
            .map(|t| (t.mfa_lockout_threshold, t.mfa_lockout_secs))
            .unwrap_or((5, 60));
        let locked = self
            .store
            .record_mfa_failure(&user.oid, threshold, secs, self.now)
            .await?;
        Ok(if locked {
            Error::AccountLocked
        } else {
            Error::InvalidOtp
        })
    }

    /// `login_hint` skips the username page when it names a user of the tenant (Entra), else it
    /// pre-fills it.
    async fn first_step(&self, req: &AuthorizeRequest) -> Result<Step, Error> {
        if let Some(hint) = &req.login_hint {
            if let Some(user) = self.store.user_by_upn(&req.tenant_id, hint).await? {
                return Ok(Step::Password { user_oid: user.oid });
            }
        }
        Ok(Step::Username {
            prefill: req.login_hint.clone(),
        })
    }

    async fn has_mfa_method(&self, user: &User) -> Result<bool, Error> {
        Ok(user.totp_secret.is_some() || !self.store.passkeys(&user.oid).await?.is_empty())
    }

    /// The MFA step for a user: a registered method (passkey first when it is the user's
    /// preferred method or the only one), else enrolment.
    async fn mfa_step(&self, user: &User) -> Result<Step, Error> {
        let passkeys = self.store.passkeys(&user.oid).await?;
        let prefers_passkey = user.preferred_mfa == Some(MfaMethod::WebAuthn);
        if !passkeys.is_empty() && (prefers_passkey || user.totp_secret.is_none()) {
            return self.passkey_step(user).await;
        }
        if user.totp_secret.is_some() {
            return Ok(Step::Totp {
                user_oid: user.oid.clone(),
            });
        }
        Ok(match user.preferred_mfa {
            Some(MfaMethod::Totp) => Step::EnrolTotp {
                user_oid: user.oid.clone(),
                secret: TotpSecret::generate(),
            },
            Some(MfaMethod::WebAuthn) => self.registration_step(user).await?,
            None => Step::EnrolChoice {
                user_oid: user.oid.clone(),
            },
        })
    }

    async fn passkey_step(&self, user: &User) -> Result<Step, Error> {
        let rp = passkey::relying_party(self.base_url)?;
        let passkeys = self.store.passkeys(&user.oid).await?;
        let (options, state) = passkey::start_authentication(&rp, &passkeys)?;
        Ok(Step::Passkey {
            user_oid: user.oid.clone(),
            options,
            state,
        })
    }

    async fn registration_step(&self, user: &User) -> Result<Step, Error> {
        let rp = passkey::relying_party(self.base_url)?;
        let passkeys = self.store.passkeys(&user.oid).await?;
        let (options, state) = passkey::start_registration(&rp, user, &passkeys)?;
        Ok(Step::EnrolPasskey {
            user_oid: user.oid.clone(),
            options,
            state,
        })
    }

    /// Creates the SSO session and issues the reply. A session the browser already had for the
    /// same user (re-authentication, step-up) is replaced: it ends and its apps move to the new
    /// one, so front-channel logout still reaches them.
    async fn finish(
        &self,
        req: &AuthorizeRequest,
        done: Done,
        persistence: Persistence,
        previous: Option<&str>,
    ) -> Result<Outcome, Error> {
        let user = self.user(&done.user_oid).await?;
        self.store.clear_mfa_failures(&user.oid).await?;
        let previous = match previous {
            Some(id) => self
                .store
                .active_session(id)
                .await?
                .filter(|s| s.user_oid == user.oid),
            None => None,
        };
        let session = SsoSession {
            id: Uuid::new_v4().to_string(),
            user_oid: user.oid.clone(),
            amr_json: amr_json(&done.amr),
            auth_time: done.auth_time,
            persistent: persistence == Persistence::Persistent,
            created_at: self.now,
            ended_at: None,
        };
        self.store.insert_session(&session).await?;
        if let Some(old) = previous {
            for app in self.store.session_apps(&old.id).await? {
                self.store.add_session_app(&session.id, &app).await?;
            }
            self.store.end_session(&old.id, self.now).await?;
        }
        let auth = Authenticated::by_session(&user, &session);
        let reply = authorize::complete(self.store, &self.id_tokens, req, &auth, self.now).await?;
        Ok(Outcome::Reply {
            reply,
            session: Some(NewSession {
                id: session.id,
                persistence,
            }),
        })
    }
}
