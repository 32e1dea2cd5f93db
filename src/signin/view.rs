//! What the sign-in pages show for each step (rendered by `routes::signin_pages`).

use super::{Deps, Flow, Step};
use crate::directory::Application;
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Account {
    pub oid: String,
    pub upn: String,
    pub display_name: String,
}

/// What a sign-in page shows.
#[derive(Debug)]
pub enum View {
    AccountPicker {
        accounts: Vec<Account>,
    },
    Username {
        prefill: Option<String>,
        error: Option<Error>,
    },
    Password {
        upn: String,
        error: Option<Error>,
    },
    Totp {
        upn: String,
        error: Option<Error>,
    },
    Passkey {
        upn: String,
        options: String,
        error: Option<Error>,
    },
    EnrolChoice {
        upn: String,
    },
    EnrolTotp {
        upn: String,
        secret: String,
        qr_png_base64: Option<String>,
        error: Option<Error>,
    },
    EnrolPasskey {
        upn: String,
        options: String,
        error: Option<Error>,
    },
    StaySignedIn {
        upn: String,
    },
    Consent {
        upn: String,
        scopes: Vec<String>,
        /// On behalf of the organization (`/adminconsent`).
        admin: bool,
    },
}

/// A sign-in page of a flow.
#[derive(Debug)]
pub struct Page {
    /// The flow, sealed ([`super::ctx`]): the form's hidden `ctx`.
    pub ctx: String,
    pub csrf: String,
    pub tenant_segment: String,
    pub app_name: String,
    /// Origin of the app's redirect URI: the pages' forms lead there in the end.
    pub reply_origin: String,
    /// The app asks for Entra's exact claims and pages (`strictEntraClaims`): no mock extras.
    pub strict_app: bool,
    pub view: View,
}

impl Deps<'_> {
    pub(super) async fn page(
        &self,
        ctx: &str,
        csrf: &str,
        flow: &Flow,
        app: &Application,
        error: Option<Error>,
    ) -> Result<Page, Error> {
        let upn = |oid: &str| {
            let oid = oid.to_string();
            async move { self.user(&oid).await.map(|u| u.upn) }
        };
        let view = match &flow.step {
            Step::AccountPicker { session_id } => {
                let accounts = match self.sso(session_id, &flow.request.tenant_id).await? {
                    Some((_, u)) => vec![Account {
                        oid: u.oid,
                        upn: u.upn,
                        display_name: u.display_name,
                    }],
                    None => Vec::new(),
                };
                View::AccountPicker { accounts }
            }
            Step::Username { prefill } => View::Username {
                prefill: prefill.clone(),
                error,
            },
            Step::Password { user_oid } => View::Password {
                upn: upn(user_oid).await?,
                error,
            },
            Step::Totp { user_oid } => View::Totp {
                upn: upn(user_oid).await?,
                error,
            },
            Step::Passkey {
                user_oid, options, ..
            } => View::Passkey {
                upn: upn(user_oid).await?,
                options: options.clone(),
                error,
            },
            Step::EnrolChoice { user_oid } => View::EnrolChoice {
                upn: upn(user_oid).await?,
            },
            Step::EnrolTotp { user_oid, secret } => {
                let upn = upn(user_oid).await?;
                let issuer = self.tenant_domain(&flow.request.tenant_id);
                View::EnrolTotp {
                    qr_png_base64: secret.qr_png_base64(&issuer, &upn),
                    secret: secret.base32().to_string(),
                    upn,
                    error,
                }
            }
            Step::EnrolPasskey {
                user_oid, options, ..
            } => View::EnrolPasskey {
                upn: upn(user_oid).await?,
                options: options.clone(),
                error,
            },
            Step::StaySignedIn { done } => View::StaySignedIn {
                upn: upn(&done.user_oid).await?,
            },
            Step::Consent {
                user_oid, scopes, ..
            } => View::Consent {
                upn: upn(user_oid).await?,
                scopes: scopes.shown(),
                admin: flow.request.consent.is_admin(),
            },
        };
        Ok(Page {
            ctx: ctx.to_string(),
            csrf: csrf.to_string(),
            tenant_segment: flow.request.tenant_segment.clone(),
            app_name: app.display_name.clone(),
            reply_origin: flow.request.reply.origin(),
            strict_app: app.strict_entra_claims,
            view,
        })
    }
}
