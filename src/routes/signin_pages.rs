//! Rendering of the sign-in pages, the form_post reply and the error page (askama templates in
//! `templates/`), with the headers every page carries: `X-Frame-Options: DENY`, a strict
//! Content-Security-Policy (scripts only from `/_signin/`, forms only to us and to the app's
//! redirect URI), `Cache-Control: no-store`. Also the cookies: the SSO session (`ESTSAUTH`) and
//! the browser binding of sign-in flows (`esctx`).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::context::RequestContext;
use crate::error::Error;
use crate::mock::hints::{test_accounts, TestAccount};
use crate::oauth::authorize::{IdTokens, Reply, ReplyBody, ResponseMode};
use crate::signin::{
    Account, Deps, NewSession, Outcome, Page, Persistence, View, PERSISTENT_SESSION_SECS,
};
use crate::state::AppState;
use crate::store::sessions::{SSO_COOKIE, SSO_PERSISTENT_COOKIE};

/// What the sign-in domain needs, for `/authorize` and `/login` alike.
pub fn deps<'a>(
    state: &'a AppState,
    ctx: &'a RequestContext,
    directory: &'a crate::directory::Directory,
) -> Deps<'a> {
    Deps {
        store: &state.store,
        directory,
        now: ctx.now.unix_timestamp(),
        base_url: &ctx.base_url,
        id_tokens: IdTokens {
            keys: state.keys.snapshot(),
            directory,
            store: &state.store,
            base_url: &ctx.base_url,
        },
        users: Default::default(),
        flows: &state.flows,
    }
}

/// The cookie binding sign-in flows to the browser that started them.
pub const BROWSER_COOKIE: &str = "esctx";

/// The browser's `esctx` value, new when it had none.
pub struct BrowserId {
    value: String,
    fresh: bool,
}

impl BrowserId {
    pub fn of(req: &HttpRequest) -> Self {
        match req.cookie(BROWSER_COOKIE) {
            Some(c) if c.value().len() >= 32 => BrowserId {
                value: c.value().to_string(),
                fresh: false,
            },
            _ => BrowserId {
                value: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
                fresh: true,
            },
        }
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

/// `application/x-www-form-urlencoded` pairs, first occurrence first. Never fails: bad percent
/// escapes and invalid UTF-8 are decoded lossily, so a malformed request still gets an Entra
/// error rather than a framework one.
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// Cookie attributes: `HttpOnly` always; on HTTPS `Secure` and `SameSite=None`, so that
/// msal-browser's hidden-iframe `prompt=none` request from the app's origin carries the session;
/// on plain HTTP `SameSite=Lax` (browsers refuse `None` without `Secure`; localhost apps are
/// same-site anyway).
fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .finish()
}

/// `esctx` only serves our own pages posting to us: `SameSite=Lax` everywhere.
fn browser_cookie(value: String, secure: bool) -> Cookie<'static> {
    let mut c = cookie(BROWSER_COOKIE, value, secure);
    c.set_same_site(SameSite::Lax);
    c
}

/// `ESTSAUTH` lives as long as the browser session; after "Stay signed in?" answered yes the
/// session rides in `ESTSAUTHPERSISTENT`, which outlives it, as Entra names them. The other one is
/// removed: a browser holds one SSO session, the newest (a persistent cookie of an earlier
/// sign-in must not outrank a later sign-in's, or silent SSO would answer for the earlier user).
fn session_cookies(s: &NewSession, secure: bool) -> [Cookie<'static>; 2] {
    let (name, other) = match s.persistence {
        Persistence::BrowserSession => (SSO_COOKIE, SSO_PERSISTENT_COOKIE),
        Persistence::Persistent => (SSO_PERSISTENT_COOKIE, SSO_COOKIE),
    };
    let mut new = cookie(name, s.cookie.clone(), secure);
    if s.persistence == Persistence::Persistent {
        new.set_max_age(CookieDuration::seconds(PERSISTENT_SESSION_SECS));
    }
    let mut removed = cookie(other, String::new(), secure);
    removed.make_removal();
    [new, removed]
}

/// The headers of the sign-out pages (and their error page): the sign-in pages' CSP with no form,
/// frames only from the front-channel logout URLs' origins.
pub fn signout_headers(res: &mut HttpResponse, frame_origins: &[String]) {
    let frames: Vec<String> = frame_origins.iter().map(|o| csp_source(o)).collect();
    let frame_src = if frames.is_empty() {
        "'none'".to_string()
    } else {
        frames.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         frame-src {frame_src}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", csp.as_str()),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(value) {
            h.insert(actix_web::http::header::HeaderName::from_static(name), v);
        }
    }
}

/// Only characters a serialised origin can hold: nothing can break out of the CSP directive.
fn csp_source(origin: &str) -> String {
    origin
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '+' | '[' | ']')
        })
        .collect()
}

/// `form-action` must allow the app's origin too: browsers apply it to the redirect that ends a
/// form submission.
fn csp(form_target: Option<&str>) -> String {
    let extra = form_target.map(csp_source).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' {extra}; frame-ancestors 'none'; base-uri 'none'"
    )
}

pub(super) fn html(status: StatusCode, form_target: Option<&str>) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", csp(form_target)))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .insert_header(("Pragma", "no-cache"));
    b
}

/// The "Test accounts" hint for a page (none for other outcomes).
pub fn hints(state: &AppState, outcome: &Result<Outcome, Error>) -> Vec<TestAccount> {
    match outcome {
        Ok(Outcome::Page(page)) => test_accounts(state, page.strict_app),
        _ => Vec::new(),
    }
}

/// Turns the domain's answer into the HTTP response.
pub fn respond(
    outcome: Result<Outcome, Error>,
    ctx: &RequestContext,
    browser: &BrowserId,
    hints: &[TestAccount],
) -> HttpResponse {
    let mut res = match outcome {
        Ok(Outcome::Page(page)) => page_response(&page, hints),
        Ok(Outcome::Reply { reply, session }) => {
            let mut res = reply_response(reply, ctx);
            if let Some(s) = session {
                for c in session_cookies(&s, ctx.secure) {
                    if let Err(e) = res.add_cookie(&c) {
                        tracing::error!(error = %e, "setting the SSO cookie");
                    }
                }
            }
            res
        }
        Err(e) => error_page(&e, ctx),
    };
    if browser.fresh {
        let c = browser_cookie(browser.value.clone(), ctx.secure);
        if let Err(e) = res.add_cookie(&c) {
            tracing::error!(error = %e, "setting the esctx cookie");
        }
    }
    res
}

/// An error shown on a page: Entra's element id, AADSTS code and the text its pages use.
pub struct PageError {
    pub id: &'static str,
    pub code: u32,
    pub message: String,
}

pub(super) fn page_error(e: &Error, id: &'static str) -> PageError {
    let message = match e {
        Error::MissingParameter("loginfmt") => {
            "Enter a valid email address, phone number, or Skype name.".to_string()
        }
        Error::UserNotFound { .. } => "This username may be incorrect. Make sure you typed it \
            correctly. Otherwise, contact your admin."
            .to_string(),
        Error::InvalidCredentials => "Your account or password is incorrect. If you don't \
            remember your password, reset it now."
            .to_string(),
        Error::AccountLocked => "Your account is temporarily locked to prevent unauthorized \
            use. Try again later, and if you still have trouble, contact your admin."
            .to_string(),
        Error::InvalidOtp => {
            "You didn't enter the expected verification code. Please try again.".to_string()
        }
        Error::InvalidParameter { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    PageError {
        id,
        code: e.code(),
        message,
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninTemplate<'a> {
    kind: &'static str,
    title: &'static str,
    action: String,
    ctx: &'a str,
    csrf: &'a str,
    app_name: &'a str,
    upn: &'a str,
    prefill: &'a str,
    options: &'a str,
    secret: &'a str,
    qr: &'a str,
    accounts: &'a [Account],
    scopes: &'a [String],
    admin: bool,
    error: Option<PageError>,
    hints: &'a [TestAccount],
}

fn page_response(page: &Page, hints: &[TestAccount]) -> HttpResponse {
    let mut t = SigninTemplate {
        kind: "",
        title: "Sign in to your account",
        action: format!("/{}/login", page.tenant_segment),
        ctx: &page.ctx,
        csrf: &page.csrf,
        app_name: &page.app_name,
        upn: "",
        prefill: "",
        options: "",
        secret: "",
        qr: "",
        accounts: &[],
        scopes: &[],
        admin: false,
        error: None,
        hints,
    };
    match &page.view {
        View::AccountPicker { accounts } => {
            t.kind = "picker";
            t.title = "Pick an account";
            t.accounts = accounts;
        }
        View::Username { prefill, error } => {
            t.kind = "username";
            t.prefill = prefill.as_deref().unwrap_or("");
            t.error = error.as_ref().map(|e| page_error(e, "usernameError"));
        }
        View::Password { upn, error } => {
            t.kind = "password";
            t.title = "Enter password";
            t.upn = upn;
            t.error = error.as_ref().map(|e| page_error(e, "passwordError"));
        }
        View::Totp { upn, error } => {
            t.kind = "totp";
            t.title = "Enter code";
            t.upn = upn;
            t.error = error
                .as_ref()
                .map(|e| page_error(e, "idSpan_SAOTCC_Error_OTC"));
        }
        View::Passkey {
            upn,
            options,
            error,
        } => {
            t.kind = "passkey";
            t.title = "Sign in with a passkey";
            t.upn = upn;
            t.options = options;
            t.error = error.as_ref().map(|e| page_error(e, "passkeyError"));
        }
        View::EnrolChoice { upn } => {
            t.kind = "enrol_choice";
            t.title = "More information required";
            t.upn = upn;
        }
        View::EnrolTotp {
            upn,
            secret,
            qr_png_base64,
            error,
        } => {
            t.kind = "enrol_totp";
            t.title = "Set up your authenticator app";
            t.upn = upn;
            t.secret = secret;
            t.qr = qr_png_base64.as_deref().unwrap_or("");
            t.error = error
                .as_ref()
                .map(|e| page_error(e, "idSpan_SAOTCC_Error_OTC"));
        }
        View::EnrolPasskey {
            upn,
            options,
            error,
        } => {
            t.kind = "enrol_passkey";
            t.title = "Create a passkey";
            t.upn = upn;
            t.options = options;
            t.error = error.as_ref().map(|e| page_error(e, "passkeyError"));
        }
        View::StaySignedIn { upn } => {
            t.kind = "kmsi";
            t.title = "Stay signed in?";
            t.upn = upn;
        }
        View::Consent { upn, scopes, admin } => {
            t.kind = "consent";
            t.title = "Permissions requested";
            t.upn = upn;
            t.scopes = scopes;
            t.admin = *admin;
        }
    }
    match t.render() {
        Ok(body) => html(StatusCode::OK, Some(&page.reply_origin)).body(body),
        Err(e) => error_page(
            &Error::Internal(anyhow::anyhow!("rendering a sign-in page: {e}")),
            &RequestContext::current(),
        ),
    }
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostTemplate<'a> {
    redirect_uri: &'a str,
    params: &'a [(String, String)],
}

fn reply_response(reply: Reply, ctx: &RequestContext) -> HttpResponse {
    let Reply { target, body } = reply;
    let params = match body {
        ReplyBody::Success(p) => p,
        ReplyBody::Error { error, subcode } => {
            if let Error::Internal(cause) = &error {
                tracing::error!(error = ?cause, "internal error during sign-in");
            }
            let b = error.body(ctx);
            let mut p = Vec::new();
            // v2-admin-consent "Error response": the admin-consent flag comes back with the error.
            if matches!(error, Error::AdminConsentDeclined) {
                p.push(("admin_consent".to_string(), "True".to_string()));
            }
            p.push(("error".to_string(), b.error.to_string()));
            match subcode {
                // A cancelled sign-in carries no description, as Entra's does:
                // `error=access_denied&error_subcode=cancel&state=...`.
                Some(s) => p.push(("error_subcode".to_string(), s.to_string())),
                None => {
                    p.push(("error_description".to_string(), b.error_description));
                    p.push(("error_uri".to_string(), b.error_uri));
                }
            }
            if let Some(state) = &target.state {
                p.push(("state".to_string(), state.clone()));
            }
            p
        }
    };
    match target.mode {
        ResponseMode::FormPost => {
            let t = FormPostTemplate {
                redirect_uri: &target.redirect_uri,
                params: &params,
            };
            match t.render() {
                Ok(body) => html(StatusCode::OK, Some(&target.origin())).body(body),
                Err(e) => error_page(&Error::Internal(anyhow::anyhow!("form_post: {e}")), ctx),
            }
        }
        ResponseMode::Query | ResponseMode::Fragment => match target.location(&params) {
            Ok(location) => HttpResponse::Found()
                .insert_header(("Location", location))
                .insert_header(("Cache-Control", "no-store, no-cache"))
                .insert_header(("Pragma", "no-cache"))
                .finish(),
            Err(e) => error_page(&e, ctx),
        },
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    code: u32,
    error: &'a str,
    message: String,
    trace_id: String,
    correlation_id: &'a str,
    timestamp: String,
}

/// Entra's error page: AADSTS code, message, trace id, correlation id, timestamp. Used for errors
/// that must not be redirected (unknown client, redirect URI mismatch, expired flow).
pub fn error_page(e: &Error, ctx: &RequestContext) -> HttpResponse {
    if let Error::Internal(cause) = e {
        tracing::error!(error = ?cause, "internal error");
    }
    let spec = e.spec();
    let t = ErrorTemplate {
        code: spec.code,
        error: spec.error,
        message: e.to_string(),
        trace_id: ctx.trace_id.to_string(),
        correlation_id: &ctx.correlation_id,
        timestamp: ctx.timestamp(),
    };
    let body = t
        .render()
        .unwrap_or_else(|_| format!("AADSTS{}: error. Trace ID: {}", spec.code, ctx.trace_id));
    let mut res = html(spec.status, None).body(body);
    res.extensions_mut()
        .insert(crate::error::AadstsCode(spec.code));
    res
}
