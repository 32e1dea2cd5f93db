//! `POST /{tenant}/login`: every sign-in page posts here (Entra's `/common/login`); and the
//! pages' static script and style.

use actix_web::{web, HttpRequest, HttpResponse};

use super::signin_pages::{self, BrowserId};
use crate::context::RequestContext;
use crate::error::Error;
use crate::signin::password::Password;
use crate::signin::{self, AccountChoice, Action, EnrolMethod, Submission};
use crate::state::AppState;

/// The fields of Entra's sign-in forms; the first occurrence of a name wins.
struct LoginForm(Vec<(String, String)>);

impl LoginForm {
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.swap_remove(i).1)
    }
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = RequestContext::current();
    let browser = BrowserId::of(&req);
    let mut f = LoginForm(signin_pages::form_pairs(&body));
    let outcome = match (
        state.directory().resolve_tenant(&tenant),
        f.take("ctx"),
        f.take("flowToken"),
    ) {
        (Err(e), _, _) => Err(e),
        (Ok(_), Some(ctx_field), Some(csrf)) => {
            let directory = state.directory();
            let deps = signin_pages::deps(&state, &ctx, &directory);
            let sub = Submission {
                ctx: ctx_field,
                csrf,
                action: f.take("action").as_deref().and_then(Action::parse),
                loginfmt: f.take("loginfmt"),
                passwd: f.take("passwd").map(Password),
                otc: f.take("otc"),
                credential: f.take("credential"),
                method: f.take("method").as_deref().and_then(EnrolMethod::parse),
                account: f.take("account").as_deref().map(AccountChoice::parse),
                sso_cookie: super::http::sso_cookie(&req),
            };
            signin::advance(&deps, sub, browser.value()).await
        }
        _ => Err(Error::SignInSessionInvalid),
    };
    let hints = signin_pages::hints(&state, &outcome);
    signin_pages::respond(outcome, &ctx, &browser, &hints)
}

/// Other methods get Entra's error page rather than a bare 405.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let e = Error::MethodNotAllowed {
        allowed: if req.path().ends_with("/login") {
            "POST"
        } else if req.path().ends_with("/adminconsent") {
            "GET"
        } else {
            "GET and POST"
        },
        received: req.method().to_string(),
    };
    signin_pages::error_page(&e, &RequestContext::current())
}

const WEBAUTHN_JS: &str = include_str!("../../templates/static/webauthn.js");
const AUTOSUBMIT_JS: &str = include_str!("../../templates/static/autosubmit.js");
const SIGNIN_CSS: &str = include_str!("../../templates/static/signin.css");
const LOGOUT_JS: &str = include_str!("../../templates/static/logout.js");

/// `GET /_signin/{file}`: the only script the pages run (CSP `script-src 'self'`).
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, Error> {
    let (body, content_type) = match file.as_str() {
        "webauthn.js" => (WEBAUTHN_JS, "text/javascript; charset=utf-8"),
        "autosubmit.js" => (AUTOSUBMIT_JS, "text/javascript; charset=utf-8"),
        "logout.js" => (LOGOUT_JS, "text/javascript; charset=utf-8"),
        "signin.css" => (SIGNIN_CSS, "text/css; charset=utf-8"),
        other => return Err(Error::NotFound(format!("/_signin/{other}"))),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body))
}
