//! The pages' posts, one small handler per step: each reads the form of its page and returns a
//! [`Decision`]. [`advance`] opens the flow the page carried (checking its CSRF token and browser
//! binding, [`super::ctx`]), runs the
//! step's handler and turns its decision into the next page or the end of the flow. The types
//! leave no decision unhandled: an authenticated user goes to "Stay signed in?" or to
//! [`Finish`], and nothing else.

use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration};

use super::ctx::Carried;
use super::machine::{mfa_required, route};
use super::password;
use super::totp::TotpSecret;
use super::*;
use crate::directory::{Application, User};
use crate::error::Error;
use crate::oauth::authorize::{AuthorizeRequest, Reply, ReplyBody};
use crate::oauth::grants::scopes::{consentable, ConsentList, Grant};
use crate::store::sessions::SsoSession;

/// What a step decided.
pub(super) enum Decision {
    /// A page: the same step again (with the error to show) or the next one.
    Show(Step, Option<Error>),
    /// The user proved who they are: "Stay signed in?" (when the app asks) or the reply follows.
    Authenticated(Done),
    /// "Stay signed in?" was answered.
    Finish(Finish),
    /// The account picker chose the browser's existing session.
    UseSession(Box<(SsoSession, User)>),
    /// The consent page was accepted (the grants are recorded).
    Consented(ConsentNext),
    /// The consent page was declined.
    Declined,
}

/// What follows a decision.
enum Next {
    Show(Step, Option<Error>),
    /// The sign-in ends with an error for the app (`Deps::refused`).
    Refuse(Error),
    Finish(Finish),
    UseSession(Box<(SsoSession, User)>),
}

/// What every handler works with.
struct Ctx<'a> {
    d: &'a Deps<'a>,
    request: &'a AuthorizeRequest,
    app: &'a Application,
    sub: &'a Submission,
}

impl Deps<'_> {
    /// The consent page when the app needs one, else the end of the sign-in.
    async fn consent_or_finish(
        &self,
        request: &AuthorizeRequest,
        f: Finish,
    ) -> Result<Next, Error> {
        Ok(match self.consent_scopes(request, &f.done.user_oid).await {
            Err(e) if super::machine::refused_at_consent(&e) => Next::Refuse(e),
            Err(e) => return Err(e),
            Ok(Some(scopes)) => Next::Show(
                Step::Consent {
                    user_oid: f.done.user_oid.clone(),
                    scopes,
                    next: ConsentNext::Finish {
                        done: f.done,
                        persistence: f.persistence,
                    },
                },
                None,
            ),
            Ok(None) => Next::Finish(f),
        })
    }
}

/// A form posted by a sign-in page.
pub async fn advance(d: &Deps<'_>, sub: Submission, browser: &str) -> Result<Outcome, Error> {
    let Carried {
        id: flow_id,
        csrf,
        expires_at,
        flow,
    } = d.open(&sub.ctx, &sub.csrf, browser)?;
    let Flow {
        request,
        browser: bound,
        step,
    } = flow;
    if sub.action == Some(Action::Cancel) {
        d.end_flow(flow_id)?;
        // A device code's sign-in cancelled: the device's next poll gets authorization_declined.
        if let Some(device) = &request.device {
            d.store.decline_device_code(device, d.now).await?;
        }
        // Entra: error=access_denied&error_subcode=cancel, which MSAL turns into user_cancelled.
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
    let cx = Ctx {
        d,
        request: &request,
        app: &app,
        sub: &sub,
    };
    let decision = match step {
        Step::AccountPicker { session_id } => account_picker(&cx, session_id).await?,
        Step::Username { prefill } => username(&cx, prefill).await?,
        Step::Password { user_oid } => password_step(&cx, user_oid).await?,
        Step::Totp { user_oid } => totp(&cx, user_oid).await?,
        Step::Passkey {
            user_oid,
            options,
            state,
        } => passkey_step(&cx, user_oid, options, state).await?,
        Step::EnrolChoice { user_oid } => enrol_choice(&cx, user_oid).await?,
        Step::EnrolTotp { user_oid, secret } => enrol_totp(&cx, user_oid, secret).await?,
        Step::EnrolPasskey {
            user_oid, state, ..
        } => enrol_passkey(&cx, user_oid, state).await?,
        Step::StaySignedIn { done } => stay_signed_in(&cx, done),
        Step::Consent {
            user_oid,
            scopes,
            next,
        } => consent(&cx, user_oid, scopes, next).await?,
    };
    let mut request = request;
    let next = match decision {
        Decision::Show(step, error) => Next::Show(step, error),
        Decision::Authenticated(done) => {
            // An app that requires assignment: the error page, once the user is known
            // ([`Deps::check_assigned`]).
            if let Err(e) = d.check_assigned(&app, &done.user_oid).await {
                d.end_flow(flow_id)?;
                return Err(e);
            }
            // "The KMSI prompt is intentionally not shown ... Sign-in occurs during user or
            // admin consent flow" (how-to-manage-stay-signed-in-prompt).
            let kmsi = app.stay_signed_in_prompt
                && matches!(d.consent_scopes(&request, &done.user_oid).await, Ok(None));
            match kmsi {
                true => Next::Show(Step::StaySignedIn { done }, None),
                false => {
                    d.consent_or_finish(
                        &request,
                        Finish {
                            done,
                            persistence: Persistence::BrowserSession,
                        },
                    )
                    .await?
                }
            }
        }
        Decision::Finish(f) => d.consent_or_finish(&request, f).await?,
        Decision::UseSession(s) => Next::UseSession(s),
        Decision::Consented(then) => {
            request.consent = request.consent.accepted();
            match then {
                ConsentNext::Finish { done, persistence } => {
                    Next::Finish(Finish { done, persistence })
                }
                ConsentNext::Session { session_id } => {
                    match d.sso(&session_id, &request.tenant_id).await? {
                        Some(s) => Next::UseSession(Box::new(s)),
                        None => return Err(Error::SignInSessionInvalid),
                    }
                }
            }
        }
        Decision::Declined => {
            d.end_flow(flow_id)?;
            if let Some(device) = &request.device {
                d.store.decline_device_code(device, d.now).await?;
            }
            let error = match request.consent.is_admin() {
                true => Error::AdminConsentDeclined,
                false => Error::ConsentDeclined,
            };
            return Ok(Outcome::Reply {
                reply: Reply::error(request.reply.clone(), error),
                session: None,
            });
        }
    };
    match next {
        Next::Show(step, error) => {
            // The next page carries the flow on, under the same id, token and expiry.
            let carried = Carried {
                id: flow_id,
                csrf,
                expires_at,
                flow: Flow {
                    request,
                    browser: bound,
                    step,
                },
            };
            let ctx = d.seal(&carried)?;
            Ok(Outcome::Page(
                d.page(&ctx, &carried.csrf, &carried.flow, &app, error)
                    .await?,
            ))
        }
        Next::Refuse(e) => {
            d.end_flow(flow_id)?;
            d.refused(&request, e)
        }
        Next::Finish(f) => {
            d.finish(&request, f, flow_id, sub.sso_cookie.as_deref())
                .await
        }
        Next::UseSession(s) => {
            d.end_flow(flow_id)?;
            let mut req = request;
            req.prompt = None;
            route(d, req, Some(*s), browser).await
        }
    }
}

async fn account_picker(cx: &Ctx<'_>, session_id: String) -> Result<Decision, Error> {
    Ok(match &cx.sub.account {
        Some(AccountChoice::Other) => Decision::Show(Step::Username { prefill: None }, None),
        Some(AccountChoice::User(oid)) => {
            match cx.d.sso(&session_id, &cx.request.tenant_id).await? {
                Some((s, u)) if &u.oid == oid => Decision::UseSession(Box::new((s, u))),
                _ => Decision::Show(Step::Username { prefill: None }, None),
            }
        }
        None => Decision::Show(Step::AccountPicker { session_id }, None),
    })
}

async fn username(cx: &Ctx<'_>, prefill: Option<String>) -> Result<Decision, Error> {
    let name = cx.sub.loginfmt.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok(Decision::Show(
            Step::Username { prefill },
            Some(Error::MissingParameter("loginfmt")),
        ));
    }
    Ok(match cx.d.user_by_upn(&cx.request.tenant_id, name).await? {
        Some(user) => Decision::Show(Step::Password { user_oid: user.oid }, None),
        None => Decision::Show(
            Step::Username {
                prefill: Some(name.to_string()),
            },
            Some(Error::UserNotFound {
                user: name.to_string(),
                tenant: cx.d.tenant_domain(&cx.request.tenant_id),
            }),
        ),
    })
}

/// Password, with Entra's smart lockout: wrong passwords count, and a locked user is refused
/// even with the right one until the lockout ends.
async fn password_step(cx: &Ctx<'_>, user_oid: String) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    let again = |e| Ok(Decision::Show(Step::Password { user_oid }, Some(e)));
    if cx.d.locked(&user) {
        return again(Error::AccountLocked);
    }
    let typed = cx.sub.passwd.as_ref();
    if !typed.is_some_and(|p| password::verify(&user, p)) {
        let fingerprint = typed.map(|p| password::fingerprint(&user, p));
        let error =
            cx.d.password_failure(&user, fingerprint.as_deref().unwrap_or("-"))
                .await?;
        return again(error);
    }
    if user.password_failures != 0 {
        cx.d.users.forget();
        cx.d.store.clear_password_failures(&user.oid).await?;
    }
    if mfa_required(&user, cx.app, cx.request) {
        Ok(Decision::Show(cx.d.mfa_step(&user).await?, None))
    } else {
        Ok(Decision::Authenticated(cx.d.done(&user, &PASSWORD_ONLY)))
    }
}

async fn totp(cx: &Ctx<'_>, user_oid: String) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    if cx.d.locked(&user) {
        return Ok(Decision::Show(
            Step::Totp { user_oid },
            Some(Error::AccountLocked),
        ));
    }
    let secret = user
        .credentials
        .totp_secret_base32()
        .map(TotpSecret::from_base32);
    let code = cx.sub.otc.as_deref().unwrap_or("");
    match secret.and_then(|s| s.matching_step(code, cx.d.now)) {
        Some(step) if cx.d.accept_totp_step(&user.oid, step).await? => Ok(Decision::Authenticated(
            cx.d.done(&user, &PASSWORD_AND_TOTP),
        )),
        _ => {
            let e = cx.d.mfa_failure(&user).await?;
            Ok(Decision::Show(Step::Totp { user_oid }, Some(e)))
        }
    }
}

async fn passkey_step(
    cx: &Ctx<'_>,
    user_oid: String,
    options: String,
    state: PasskeyAuthentication,
) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    if cx.d.locked(&user) {
        let step = Step::Passkey {
            user_oid,
            options,
            state,
        };
        return Ok(Decision::Show(step, Some(Error::AccountLocked)));
    }
    let rp = passkey::relying_party(cx.d.base_url)?;
    let passkeys = cx.d.store.passkeys(&user.oid).await?;
    let verified = cx
        .sub
        .credential
        .as_deref()
        .and_then(|answer| passkey::finish_authentication(&rp, &state, &passkeys, answer));
    match verified {
        Some(updated) => {
            for p in &updated {
                cx.d.store.save_passkey(&user.oid, p, cx.d.now).await?;
            }
            Ok(Decision::Authenticated(
                cx.d.done(&user, &PASSWORD_AND_PASSKEY),
            ))
        }
        None => Ok(Decision::Show(
            cx.d.passkey_step(&user).await?,
            Some(passkey_refused()),
        )),
    }
}

async fn enrol_choice(cx: &Ctx<'_>, user_oid: String) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    Ok(match cx.sub.method {
        Some(EnrolMethod::Totp) => Decision::Show(
            Step::EnrolTotp {
                user_oid,
                secret: TotpSecret::generate(),
            },
            None,
        ),
        Some(EnrolMethod::Passkey) => Decision::Show(cx.d.registration_step(&user).await?, None),
        None => Decision::Show(Step::EnrolChoice { user_oid }, None),
    })
}

async fn enrol_totp(cx: &Ctx<'_>, user_oid: String, secret: TotpSecret) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    if cx.d.locked(&user) {
        return Ok(Decision::Show(
            Step::EnrolTotp { user_oid, secret },
            Some(Error::AccountLocked),
        ));
    }
    let code = cx.sub.otc.as_deref().unwrap_or("");
    match secret.matching_step(code, cx.d.now) {
        Some(step) => {
            cx.d.users.forget();
            cx.d.store
                .enrol_totp(&user.oid, secret.base32(), step)
                .await?;
            Ok(Decision::Authenticated(
                cx.d.done(&user, &PASSWORD_AND_TOTP),
            ))
        }
        None => {
            let e = cx.d.mfa_failure(&user).await?;
            Ok(Decision::Show(
                Step::EnrolTotp { user_oid, secret },
                Some(e),
            ))
        }
    }
}

async fn enrol_passkey(
    cx: &Ctx<'_>,
    user_oid: String,
    state: PasskeyRegistration,
) -> Result<Decision, Error> {
    let user = cx.d.user(&user_oid).await?;
    let rp = passkey::relying_party(cx.d.base_url)?;
    let registered = cx
        .sub
        .credential
        .as_deref()
        .and_then(|answer| passkey::finish_registration(&rp, &state, answer));
    Ok(match registered {
        Some(pk) => {
            cx.d.store.save_passkey(&user.oid, &pk, cx.d.now).await?;
            // The new passkey is then used, so the amr says what was proven.
            Decision::Show(cx.d.passkey_step(&user).await?, None)
        }
        None => Decision::Show(
            cx.d.registration_step(&user).await?,
            Some(passkey_refused()),
        ),
    })
}

/// "Permissions requested": accept records the grants (for the user, or for everyone at
/// `/adminconsent`), decline ends the sign-in with Entra's error.
async fn consent(
    cx: &Ctx<'_>,
    user_oid: String,
    scopes: ConsentList,
    next: ConsentNext,
) -> Result<Decision, Error> {
    match cx.sub.action {
        Some(Action::Yes) => {
            let principal = match cx.request.consent.is_admin() {
                true => crate::store::consents::ALL_PRINCIPALS,
                false => user_oid.as_str(),
            };
            let mut own: Vec<Grant> = Vec::new();
            for s in &scopes.own {
                own.extend(consentable(cx.d.directory, s)?.into_iter().map(|(g, _)| g));
            }
            let mut tx = cx.d.store.write().await?;
            tx.grant_consent(&cx.app.client_id, principal, &own, cx.d.now)
                .await?;
            // Bundled consent: each API's own permissions, granted to the API.
            for (api, s) in &scopes.bundled {
                let grants: Vec<Grant> = consentable(cx.d.directory, s)?
                    .into_iter()
                    .map(|(g, _)| g)
                    .collect();
                tx.grant_consent(api, principal, &grants, cx.d.now).await?;
            }
            tx.commit().await?;
            Ok(Decision::Consented(next))
        }
        Some(Action::No) => Ok(Decision::Declined),
        _ => Ok(Decision::Show(
            Step::Consent {
                user_oid,
                scopes,
                next,
            },
            None,
        )),
    }
}

/// "Stay signed in?": yes makes the SSO cookie persistent.
fn stay_signed_in(cx: &Ctx<'_>, done: Done) -> Decision {
    let persistence = match cx.sub.action {
        Some(Action::Yes) => Persistence::Persistent,
        _ => Persistence::BrowserSession,
    };
    Decision::Finish(Finish { done, persistence })
}

fn passkey_refused() -> Error {
    Error::InvalidParameter {
        name: "credential",
        reason: "The passkey could not be verified. Try again.".into(),
    }
}
