//! Part 2 of the flow (steps 4-5 and 24-25 of README's "The flow, step by step"): interactive sign-in as a state
//! machine. [`start`] handles a validated `/authorize` request: it answers at once from the SSO
//! session when it can (and `prompt=none` demands it), or starts a sign-in flow. [`advance`]
//! takes each form the pages post and moves the flow one [`Step`] on, in Entra's sequence:
//! account picker (`prompt=select_account`), username, password, MFA (TOTP or passkey) or MFA
//! enrolment ("More information required"), "Stay signed in?", then the reply to the app.
//!
//! `amr` records what actually happened
//! (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>, `amr`
//! values: `pwd` password, `otp` one-time passcode, `hwk` proof of possession of a hardware or
//! software key, `mfa` multi-factor):
//!
//! | how the user signed in                      | amr                       |
//! |---------------------------------------------|---------------------------|
//! | password only                               | `["pwd"]`                 |
//! | password + TOTP (or TOTP enrolment)         | `["pwd","otp","mfa"]`     |
//! | password + passkey (WebAuthn)               | `["pwd","hwk","mfa"]`     |
//!
//! The amr and `auth_time` are stored with the SSO session and with every code issued from it.
//! MFA is required when the user's policy says so (fixture `mfa = "required"`), when the app
//! requires it (fixture `mock.requireMfa`, like a Conditional Access policy) or when the request's
//! `claims` asks for `acrs` or `amr`. A session whose amr lacks `mfa` is stepped up.

mod ctx;
mod machine;
pub mod passkey;
pub mod password;
mod steps;
pub mod totp;
mod view;

pub use machine::{start, start_prepared};
pub use steps::advance;
pub use view::{Account, Page, View};

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration};

use crate::directory::Directory;
use crate::oauth::authorize::{AuthorizeRequest, IdTokens, Reply};
use crate::store::Store;

use password::Password;
use totp::TotpSecret;

/// How long a sign-in flow (the pages between `/authorize` and the reply) may take.
pub const FLOW_LIFETIME_SECS: i64 = 15 * 60;
/// Lifetime of the SSO cookie after "Stay signed in?" was answered yes (Entra: 90 days).
pub const PERSISTENT_SESSION_SECS: i64 = 90 * 24 * 3600;

pub use crate::amr::{amr_json, Amr};

const PASSWORD_ONLY: [Amr; 1] = [Amr::Pwd];
const PASSWORD_AND_TOTP: [Amr; 3] = [Amr::Pwd, Amr::Otp, Amr::Mfa];
const PASSWORD_AND_PASSKEY: [Amr; 3] = [Amr::Pwd, Amr::Hwk, Amr::Mfa];

/// A finished authentication, before the SSO session exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    pub user_oid: String,
    pub amr: Vec<Amr>,
    pub auth_time: i64,
}

/// Where a sign-in flow stands; each variant carries what the next step needs.
#[derive(Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum Step {
    AccountPicker {
        session_id: String,
    },
    Username {
        prefill: Option<String>,
    },
    Password {
        user_oid: String,
    },
    Totp {
        user_oid: String,
    },
    Passkey {
        user_oid: String,
        options: String,
        state: PasskeyAuthentication,
    },
    EnrolChoice {
        user_oid: String,
    },
    EnrolTotp {
        user_oid: String,
        secret: TotpSecret,
    },
    EnrolPasskey {
        user_oid: String,
        options: String,
        state: PasskeyRegistration,
    },
    StaySignedIn {
        done: Done,
    },
    /// "Permissions requested": the scopes to consent to (each as `{resource}/{value}`), and
    /// what follows an accept.
    Consent {
        user_oid: String,
        scopes: crate::oauth::grants::scopes::ConsentList,
        next: ConsentNext,
    },
}

/// What an accepted consent page leads to: the end of a sign-in, or the browser's session.
#[derive(Serialize, Deserialize)]
#[serde(tag = "then")]
pub enum ConsentNext {
    Finish {
        done: Done,
        persistence: Persistence,
    },
    Session {
        session_id: String,
    },
}

/// A flow as its pages carry it: the request it answers, the browser it is bound to, its step.
#[derive(Serialize, Deserialize)]
struct Flow {
    request: AuthorizeRequest,
    /// SHA-256 (hex) of the browser's `esctx` cookie: a flow only advances in the browser that
    /// started it (no login CSRF).
    browser: String,
    step: Step,
}

/// Whether the SSO cookie outlives the browser session ("Stay signed in?" answered yes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persistence {
    BrowserSession,
    Persistent,
}

/// The end of a flow: who signed in and how, and whether the SSO cookie outlives the browser
/// session.
pub(crate) struct Finish {
    pub done: Done,
    pub persistence: Persistence,
}

/// A new SSO session whose cookie the response must set.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie's value: a random secret (its digest is stored), not the session id.
    pub cookie: String,
    pub persistence: Persistence,
}

/// What the browser gets next.
#[derive(Debug)]
pub enum Outcome {
    /// Back to the application, with a new SSO session when one was just created.
    Reply {
        reply: Reply,
        session: Option<NewSession>,
    },
    Page(Page),
}

/// The button pressed (`action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Next,
    Cancel,
    Yes,
    No,
}

impl Action {
    /// Entra's primary and back buttons are `<input type="submit">` whose value is their label
    /// (`Next`, `Sign in`, `Verify`, `Yes`, `No`), so labels parse as well as the plain values.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "next" | "sign in" | "verify" => Some(Action::Next),
            "cancel" => Some(Action::Cancel),
            "yes" | "accept" => Some(Action::Yes),
            "no" | "decline" => Some(Action::No),
            _ => None,
        }
    }
}

/// The method chosen at MFA enrolment (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolMethod {
    Totp,
    Passkey,
}

impl EnrolMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(EnrolMethod::Totp),
            "passkey" => Some(EnrolMethod::Passkey),
            _ => None,
        }
    }
}

/// The account picker's choice (`account`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChoice {
    /// "Use another account".
    Other,
    /// A signed-in account, by object id.
    User(String),
}

impl AccountChoice {
    pub fn parse(s: &str) -> Self {
        match s {
            "other" => AccountChoice::Other,
            oid => AccountChoice::User(oid.to_string()),
        }
    }
}

/// A form posted by a sign-in page (Entra's field names), parsed.
pub struct Submission {
    /// `ctx`: the flow, sealed ([`ctx`]).
    pub ctx: String,
    /// `flowToken`: the flow's CSRF token.
    pub csrf: String,
    /// The button pressed; an unknown value counts as none.
    pub action: Option<Action>,
    pub loginfmt: Option<String>,
    pub passwd: Option<Password>,
    pub otc: Option<String>,
    /// The WebAuthn answer, JSON.
    pub credential: Option<String>,
    /// Enrolment choice.
    pub method: Option<EnrolMethod>,
    /// Account picker choice.
    pub account: Option<AccountChoice>,
    /// The browser's SSO cookie (`ESTSAUTH` / `ESTSAUTHPERSISTENT`), if any: its session is
    /// replaced when the same user signs in again.
    pub sso_cookie: Option<String>,
}

/// What the domain needs from the server: the store, the directory and the time.
pub struct Deps<'a> {
    pub store: &'a Store,
    pub directory: &'a Directory,
    /// Unix seconds from the injected clock.
    pub now: i64,
    /// Scheme and host the pages are served on (the WebAuthn relying party).
    pub base_url: &'a str,
    /// ID tokens of the hybrid and implicit flows.
    pub id_tokens: IdTokens<'a>,
    /// Users this request read ([`UsersRead`]).
    pub users: UsersRead,
    /// The flows the pages carry ([`ctx`]).
    pub flows: &'a crate::flows::Flows,
}

/// The users one request read, by object id: a sign-in step, the page it renders and the end of
/// sign-in each want the user, a query each before (issue 12: a sign-in's CPU went to such
/// round trips). Forgotten at every write to a user during the request, so what is kept is what
/// the store holds, as far as this request knows.
#[derive(Default)]
pub struct UsersRead(std::sync::Mutex<Vec<crate::directory::User>>);

impl UsersRead {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<crate::directory::User>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, oid: &str) -> Option<crate::directory::User> {
        self.lock().iter().find(|u| u.oid == oid).cloned()
    }

    fn keep(&self, user: &crate::directory::User) {
        let mut users = self.lock();
        users.retain(|u| u.oid != user.oid);
        users.push(user.clone());
    }

    fn forget(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_is_rendered_as_a_json_array() {
        assert_eq!(amr_json(&PASSWORD_ONLY), r#"["pwd"]"#);
        assert_eq!(amr_json(&PASSWORD_AND_TOTP), r#"["pwd","otp","mfa"]"#);
        assert_eq!(amr_json(&PASSWORD_AND_PASSKEY), r#"["pwd","hwk","mfa"]"#);
    }
}
