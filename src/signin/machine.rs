//! The sign-in state machine: what each [`Step`] does with the form it receives, and the
//! decision between SSO, a `prompt=none` refusal and the pages.

use std::sync::Arc;

use super::passkey;
use super::totp::TotpSecret;
use super::*;
use crate::directory::{Application, MfaMethod, MfaPolicy, ResolvedTenant, User};
use crate::error::Error;
use crate::oauth::authorize::{self, Authenticated, AuthorizeRequest, Prompt, Rejection, Reply};
use crate::oauth::claims::login_hint_oid;
use crate::oauth::grants::scopes;
use crate::oauth::params::Endpoint;
use crate::store::sessions::SsoSession;

/// Whether the consent decision refused the sign-in with `e` (AADSTS650057 or 90094,
/// [`Deps::refused`]), rather than failing.
pub(super) fn refused_at_consent(e: &Error) -> bool {
    matches!(
        e,
        Error::ResourceNotRequired { .. } | Error::AdminApprovalRequired { .. }
    )
}

/// `GET|POST /authorize`: validates the request, then answers from the SSO session or starts the
/// pages. `Err` is for the error page (never redirected).
pub async fn start(
    d: &Deps<'_>,
    tenant: &ResolvedTenant,
    params: &[(String, String)],
    sso_cookie: Option<&str>,
    browser: &str,
    endpoint: Endpoint,
    forced: Option<Error>,
) -> Result<Outcome, Error> {
    let req = match authorize::parse(d.directory, tenant, params, endpoint) {
        Ok(r) => r,
        Err(Rejection::Page(e)) => return Err(e),
        Err(Rejection::Reply(reply)) => {
            return Ok(Outcome::Reply {
                reply: *reply,
                session: None,
            })
        }
    };
    // A fault rule's error goes back to the app once its redirect URI is known to be registered,
    // as Entra redirects its errors.
    if let Some(error) = forced {
        return Ok(Outcome::Reply {
            reply: Reply::error(req.reply, error),
            session: None,
        });
    }
    start_prepared(d, req, sso_cookie, browser).await
}

/// Starts the sign-in of a request the protocol built itself (the device code flow's, at
/// `/devicelogin`) rather than parsed from `/authorize`.
pub async fn start_prepared(
    d: &Deps<'_>,
    req: AuthorizeRequest,
    sso_cookie: Option<&str>,
    browser: &str,
) -> Result<Outcome, Error> {
    let sso = match sso_cookie {
        Some(secret) => match d.store.session_by_cookie(secret, d.now).await? {
            Some(session) => d.with_user(session, &req.tenant_id).await?,
            None => None,
        },
        None => None,
    };
    route(d, req, sso, browser).await
}

pub(super) fn mfa_required(user: &User, app: &Application, req: &AuthorizeRequest) -> bool {
    user.mfa_policy == MfaPolicy::Required || authorize::mfa_demanded(app, req)
}

/// Whom a request names.
pub(super) enum Named {
    Nobody,
    User(String),
    Session(String),
    /// A username no user of the tenant has.
    Unknown,
}

/// Decides, for a validated request, between an answer from the SSO session, a `prompt=none`
/// refusal and the pages.
pub(super) async fn route(
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
            let other_user = match d.named(&req).await? {
                Named::Nobody => false,
                Named::User(oid) => oid != user.oid,
                Named::Session(sid) => sid != session.id,
                Named::Unknown => true,
            };
            // OIDC Core 3.1.2.1 max_age: re-authenticate when the last one is older (max_age=0
            // always, like prompt=login).
            let too_old = req
                .max_age
                .is_some_and(|m| m == 0 || d.now - session.auth_time > m);
            let amr = crate::amr::parse_amr_json(&session.amr_json)
                .map_err(|e| Error::Internal(anyhow::anyhow!("stored session amr: {e}")))?;
            let lacks_mfa = mfa_required(&user, &app, &req) && !amr.contains(&Amr::Mfa);
            match req.prompt {
                Some(Prompt::Login) => d.first_step(&req).await?,
                Some(Prompt::SelectAccount) => Step::AccountPicker {
                    session_id: session.id,
                },
                _ if other_user && silent => return refuse(&req, Error::AnotherUserNamed),
                _ if other_user => d.first_step(&req).await?,
                _ if too_old && silent => return refuse(&req, Error::LoginRequired),
                _ if too_old => Step::Password { user_oid: user.oid },
                _ if !d.directory.user_assigned(&user.oid, &app) => {
                    // Redirected with the user hidden, as Entra does (the error page names them).
                    match silent {
                        true => return refuse(&req, not_assigned(&app, "{EmailHidden}")),
                        false => return Err(not_assigned(&app, &user.upn)),
                    }
                }
                _ if lacks_mfa && silent => {
                    let e = if d.has_mfa_method(&user).await? {
                        Error::MfaInteractionRequired(app.display_name.clone())
                    } else {
                        Error::MfaEnrolmentRequired
                    };
                    return refuse(&req, e);
                }
                _ if lacks_mfa => d.mfa_step(&user).await?,
                _ => match d.consent_scopes(&req, &user.oid).await {
                    Err(e) if refused_at_consent(&e) => return d.refused(&req, e),
                    Err(e) => return Err(e),
                    // prompt=none cannot show the consent page.
                    Ok(Some(_)) if silent => {
                        return refuse(
                            &req,
                            Error::InteractiveConsentRequired {
                                client_id: app.client_id.clone(),
                                name: app.display_name.clone(),
                            },
                        )
                    }
                    Ok(Some(scopes)) => Step::Consent {
                        user_oid: user.oid.clone(),
                        scopes,
                        next: ConsentNext::Session {
                            session_id: session.id.clone(),
                        },
                    },
                    Ok(None) => {
                        let auth = Authenticated::by_session(&user, &session);
                        let mut tx = d.store.write().await?;
                        tx.touch_session(&session.id, d.now).await?;
                        let reply =
                            authorize::complete(&mut tx, &d.id_tokens, &req, &auth, &user, d.now)
                                .await?;
                        tx.commit().await?;
                        return Ok(Outcome::Reply {
                            reply,
                            session: None,
                        });
                    }
                },
            }
        }
    };
    let flow = Flow {
        request: req,
        browser: super::ctx::browser_digest(browser),
        step,
    };
    // Nothing is stored: the page carries the flow ([`super::ctx`]).
    let carried = super::ctx::Carried::start(flow, d.flows.next_id(), d.now);
    let ctx = d.seal(&carried)?;
    Ok(Outcome::Page(
        d.page(&ctx, &carried.csrf, &carried.flow, &app, None)
            .await?,
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

    /// AADSTS50105 when `app` requires assignment and the user has none
    /// ([`Directory::user_assigned`](crate::directory::Directory::user_assigned)); shown on the
    /// error page once the user signed in.
    pub(super) async fn check_assigned(
        &self,
        app: &Application,
        user_oid: &str,
    ) -> Result<(), Error> {
        if self.directory.user_assigned(user_oid, app) {
            return Ok(());
        }
        let user = self.user(user_oid).await?;
        Err(not_assigned(app, &user.upn))
    }

    pub(super) fn tenant_domain(&self, tenant_id: &str) -> String {
        self.directory
            .tenant(tenant_id)
            .map(|t| t.domain.clone())
            .unwrap_or_else(|| tenant_id.to_string())
    }

    pub(super) async fn user(&self, oid: &str) -> Result<User, Error> {
        if let Some(user) = self.users.get(oid) {
            return Ok(user);
        }
        let user = self
            .store
            .user_by_oid(oid)
            .await?
            .ok_or(Error::SignInSessionInvalid)?;
        self.users.keep(&user);
        Ok(user)
    }

    /// Accepts a TOTP step ([`crate::store::Store::accept_totp_step`]), a write to the user.
    pub(super) async fn accept_totp_step(&self, oid: &str, step: i64) -> Result<bool, Error> {
        self.users.forget();
        Ok(self.store.accept_totp_step(oid, step).await?)
    }

    /// A user read by name, kept for the rest of the request.
    pub(super) async fn user_by_upn(
        &self,
        tenant_id: &str,
        upn: &str,
    ) -> Result<Option<User>, Error> {
        let user = self.store.user_by_upn(tenant_id, upn).await?;
        if let Some(u) = &user {
            self.users.keep(u);
        }
        Ok(user)
    }

    /// The active SSO session of this id (kept in a flow), with its user, when the user belongs
    /// to the tenant of the request.
    pub(super) async fn sso(
        &self,
        id: &str,
        tenant_id: &str,
    ) -> Result<Option<(SsoSession, User)>, Error> {
        match self.store.active_session(id, self.now).await? {
            Some(session) => self.with_user(session, tenant_id).await,
            None => Ok(None),
        }
    }

    /// A session with its user, when the user belongs to the tenant.
    pub(super) async fn with_user(
        &self,
        session: SsoSession,
        tenant_id: &str,
    ) -> Result<Option<(SsoSession, User)>, Error> {
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

    /// Counts a wrong code, and says what the page shows: AADSTS50053 once locked.
    pub(super) async fn mfa_failure(&self, user: &User) -> Result<Error, Error> {
        let tenant = self.tenant_of(user)?;
        self.users.forget();
        let locked = self
            .store
            .record_mfa_failure(
                &user.oid,
                tenant.mfa_lockout_threshold,
                tenant.mfa_lockout_secs,
                self.now,
            )
            .await?;
        Ok(match locked {
            true => Error::AccountLocked,
            false => Error::InvalidOtp,
        })
    }

    /// Counts a wrong password (smart lockout, `Store::record_password_failure`), and says what
    /// the page shows: AADSTS50053 once locked, else AADSTS50126.
    pub(super) async fn password_failure(
        &self,
        user: &User,
        fingerprint: &str,
    ) -> Result<Error, Error> {
        let tenant = self.tenant_of(user)?;
        self.users.forget();
        let locked = self
            .store
            .record_password_failure(
                &user.oid,
                fingerprint,
                tenant.lockout_threshold,
                tenant.lockout_secs,
                self.now,
            )
            .await?;
        Ok(match locked {
            true => Error::AccountLocked,
            false => Error::InvalidCredentials,
        })
    }

    fn tenant_of(&self, user: &User) -> Result<&crate::directory::Tenant, Error> {
        self.directory
            .tenant(&user.tenant_id)
            .map(|t| t.as_ref())
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the user's tenant vanished")))
    }

    /// Who the request names, as MSAL sends it: the ID token's opaque `login_hint` claim first,
    /// then `sid`, then a `login_hint` that is a username
    /// (<https://learn.microsoft.com/entra/identity-platform/optional-claims-reference>, `login_hint`).
    pub(super) async fn named(&self, req: &AuthorizeRequest) -> Result<Named, Error> {
        if let Some(oid) = req.login_hint.as_deref().and_then(login_hint_oid) {
            return Ok(Named::User(oid));
        }
        if let Some(sid) = &req.sid {
            return Ok(Named::Session(sid.clone()));
        }
        Ok(match &req.login_hint {
            None => Named::Nobody,
            Some(hint) => match self.store.user_by_upn(&req.tenant_id, hint).await? {
                Some(user) => Named::User(user.oid),
                None => Named::Unknown,
            },
        })
    }

    /// A `login_hint` naming a user of the tenant (claim or username) skips the username page,
    /// as Entra does; an unknown one pre-fills it.
    pub(super) async fn first_step(&self, req: &AuthorizeRequest) -> Result<Step, Error> {
        if let Named::User(oid) = self.named(req).await? {
            if let Some(user) = self.store.user_by_oid(&oid).await? {
                if user.tenant_id == req.tenant_id {
                    return Ok(Step::Password { user_oid: user.oid });
                }
            }
        }
        let prefill = req
            .login_hint
            .clone()
            .filter(|h| login_hint_oid(h).is_none());
        Ok(Step::Username { prefill })
    }

    pub(super) async fn has_mfa_method(&self, user: &User) -> Result<bool, Error> {
        Ok(user.credentials.has_totp() || !self.store.passkeys(&user.oid).await?.is_empty())
    }

    /// The MFA step for a user: a registered method (passkey first when it is the user's
    /// preferred method or the only one), else enrolment.
    pub(super) async fn mfa_step(&self, user: &User) -> Result<Step, Error> {
        let passkeys = self.store.passkeys(&user.oid).await?;
        let prefers_passkey = user.preferred_mfa == Some(MfaMethod::WebAuthn);
        if !passkeys.is_empty() && (prefers_passkey || !user.credentials.has_totp()) {
            return self.passkey_step(user).await;
        }
        if user.credentials.has_totp() {
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

    pub(super) async fn passkey_step(&self, user: &User) -> Result<Step, Error> {
        let rp = passkey::relying_party(self.base_url)?;
        let passkeys = self.store.passkeys(&user.oid).await?;
        let (options, state) = passkey::start_authentication(&rp, &passkeys)?;
        Ok(Step::Passkey {
            user_oid: user.oid.clone(),
            options,
            state,
        })
    }

    pub(super) async fn registration_step(&self, user: &User) -> Result<Step, Error> {
        let rp = passkey::relying_party(self.base_url)?;
        let passkeys = self.store.passkeys(&user.oid).await?;
        let (options, state) = passkey::start_registration(&rp, user, &passkeys)?;
        Ok(Step::EnrolPasskey {
            user_oid: user.oid.clone(),
            options,
            state,
        })
    }

    /// The answer to an error the consent decision refused the sign-in with
    /// ([`refused_at_consent`]): redirected to the app as Entra redirects AADSTS650057, or on the
    /// error page: "Need admin approval" (90094), and anything for a device code's sign-in, which
    /// has no redirect URI.
    pub(super) fn refused(&self, req: &AuthorizeRequest, e: Error) -> Result<Outcome, Error> {
        if req.device.is_some() || matches!(e, Error::AdminApprovalRequired { .. }) {
            return Err(e);
        }
        Ok(Outcome::Reply {
            reply: Reply::error(req.reply.clone(), e),
            session: None,
        })
    }

    /// The consent page a signed-in user must see before the reply, if any: the scopes the app
    /// does not hold for the user yet, or all of them with `prompt=consent` or at
    /// `/adminconsent` (<https://learn.microsoft.com/entra/identity-platform/v2-admin-consent>).
    pub(super) async fn consent_scopes(
        &self,
        req: &AuthorizeRequest,
        user_oid: &str,
    ) -> Result<Option<scopes::ConsentList>, Error> {
        if req.consent.given() {
            return Ok(None);
        }
        let forced = req.consent.is_admin() || req.prompt == Some(Prompt::Consent);
        let app = self.app(req)?;
        let scopes = scopes::consent_page(
            self.store,
            self.directory,
            &app,
            user_oid,
            &req.scope,
            forced,
        )
        .await?;
        if scopes.is_empty() && !forced {
            return Ok(None);
        }
        // A user cannot consent for an app that requires assignment: "Need admin approval"
        // (AADSTS90094) instead of the page, unless at /adminconsent. A silent request gets
        // consent_required as for any missing consent.
        if app.assignment_required && !req.consent.is_admin() && req.prompt != Some(Prompt::None) {
            return Err(Error::AdminApprovalRequired {
                tenant: self
                    .directory
                    .tenant(&req.tenant_id)
                    .map_or_else(|| req.tenant_id.clone(), |t| t.display_name.clone()),
                name: app.display_name.clone(),
            });
        }
        Ok(Some(scopes))
    }

    /// The end of a sign-in: ends the flow `flow_id` (exactly once, [`super::ctx`]), then creates
    /// the SSO session and issues the reply, in one transaction. A session the browser already had for the same user
    /// (re-authentication, step-up) is replaced: it ends and its apps move to the new one, so
    /// front-channel logout still reaches them.
    pub(super) async fn finish(
        &self,
        req: &AuthorizeRequest,
        f: Finish,
        flow_id: u64,
        previous: Option<&str>,
    ) -> Result<Outcome, Error> {
        let Finish { done, persistence } = f;
        let user = self.user(&done.user_oid).await?;
        let previous = match previous {
            Some(secret) => self
                .store
                .session_by_cookie(secret, self.now)
                .await?
                .filter(|s| s.user_oid == user.oid),
            None => None,
        };
        let session = SsoSession {
            id: crate::crypto::random_uuid().to_string(),
            user_oid: user.oid.clone(),
            amr_json: amr_json(&done.amr),
            auth_time: done.auth_time,
            persistent: persistence == Persistence::Persistent,
            created_at: self.now,
            ended_at: None,
        };
        let auth = Authenticated::by_session(&user, &session);
        // The flow ends here, once: a second post of its page is refused before it writes.
        self.end_flow(flow_id)?;
        // One transaction: the failure counts, the new session (and the old one it replaces),
        // the code and the session's app, or none of them; sent whole at the commit. Refused,
        // it wrote nothing, and the flow is open again: the page may be posted again.
        let written = async {
            let mut tx = self.store.write_later();
            // (A statement fewer on the writer when there is nothing to reset, the usual case.)
            if user.password_failures != 0 || user.mfa_failures != 0 {
                tx.clear_failures(&user.oid).await?;
            }
            // The cookie carries a secret of its own: holding an ID token (`sid`) is no way in.
            let cookie = crate::crypto::random_b64(32);
            tx.insert_session(&session, &cookie).await?;
            if let Some(old) = previous {
                tx.copy_session_apps(&old.id, &session.id).await?;
                tx.end_session(&old.id, self.now).await?;
            }
            let reply =
                authorize::complete(&mut tx, &self.id_tokens, req, &auth, &user, self.now).await?;
            tx.commit().await?;
            Ok::<_, Error>((reply, cookie))
        }
        .await;
        let (reply, cookie) = written.inspect_err(|_| self.reopen_flow(flow_id))?;
        Ok(Outcome::Reply {
            reply,
            session: Some(NewSession {
                cookie,
                persistence,
            }),
        })
    }
}

/// AADSTS50105: `app` requires assignment and `user` (the name shown) has none.
fn not_assigned(app: &Application, user: &str) -> Error {
    Error::UserNotAssigned {
        client_id: app.client_id.clone(),
        name: app.display_name.clone(),
        user: user.to_string(),
    }
}
