//! `GET|POST /devicelogin` and `GET /devicelogin/done`: where a person enters the user code of
//! the device code flow, confirms the app, and signs in through the normal sign-in pages
//! (`oauth::device_code`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::signin_pages::{self, BrowserId, PageError};
use crate::context::RequestContext;
use crate::error::Error;
use crate::oauth::device_code;
use crate::signin;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "devicelogin.html")]
struct DeviceLoginTemplate<'a> {
    kind: &'static str,
    title: &'static str,
    app_name: &'a str,
    user_code: &'a str,
    error: Option<PageError>,
}

fn page(t: DeviceLoginTemplate<'_>, status: StatusCode) -> HttpResponse {
    match t.render() {
        Ok(body) => signin_pages::html(status, None).body(body),
        Err(e) => signin_pages::error_page(
            &Error::Internal(anyhow::anyhow!("rendering the device login page: {e}")),
            &RequestContext::current(),
        ),
    }
}

fn enter(error: Option<&Error>) -> HttpResponse {
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    page(
        DeviceLoginTemplate {
            kind: "enter",
            title: "Enter code",
            app_name: "",
            user_code: "",
            error: error.map(|e| signin_pages::page_error(e, "error")),
        },
        status,
    )
}

/// `GET /devicelogin`: the code-entry page.
pub async fn form() -> HttpResponse {
    enter(None)
}

/// `POST /devicelogin`: the code alone shows the app to confirm; `action=continue` starts the
/// sign-in, `action=cancel` declines the device's request.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = signin_pages::form_pairs(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let ctx = RequestContext::current();
    let now = ctx.now.unix_timestamp();
    // `otc` as typed on the code page; `user_code` from the confirmation page.
    let typed = field("otc").or_else(|| field("user_code")).unwrap_or("");
    let code = match device_code::find_for_page(&state, typed, now).await {
        Ok(c) => c,
        Err(e @ Error::Internal(_)) => return signin_pages::error_page(&e, &ctx),
        Err(e) => return enter(Some(&e)),
    };
    let directory = state.directory();
    let app_name = directory
        .applications
        .get(&code.client_id)
        .map(|a| a.display_name.clone())
        .unwrap_or_default();
    match field("action") {
        Some("continue") => {
            let browser = BrowserId::of(&req);
            let outcome = match device_code::signin_request(&directory, &code, &ctx.base_url) {
                Ok(request) => {
                    let deps = signin_pages::deps(&state, &ctx, &directory);
                    let sso = super::http::sso_cookie(&req);
                    signin::start_prepared(&deps, request, sso.as_deref(), browser.value()).await
                }
                Err(e) => Err(e),
            };
            let hints = signin_pages::hints(&state, &outcome);
            signin_pages::respond(outcome, &ctx, &browser, &hints)
        }
        Some("cancel") => match device_code::decline(&state, &code, now).await {
            Ok(()) => finished("declined", &app_name),
            Err(e) => enter(Some(&e)),
        },
        _ => page(
            DeviceLoginTemplate {
                kind: "confirm",
                title: "Are you trying to sign in?",
                app_name: &app_name,
                user_code: &code.user_code,
                error: None,
            },
            StatusCode::OK,
        ),
    }
}

fn finished(kind: &'static str, app_name: &str) -> HttpResponse {
    page(
        DeviceLoginTemplate {
            kind,
            title: match kind {
                "done" => "You're signed in",
                _ => "Sign-in declined",
            },
            app_name,
            user_code: "",
            error: None,
        },
        StatusCode::OK,
    )
}

/// `GET /devicelogin/done`: where the device's sign-in ends, with `state` = the app's client id
/// (its name is shown from the directory, never the query) and `error` when the person
/// cancelled.
pub async fn done(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let query = signin_pages::form_pairs(req.query_string().as_bytes());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let app_name = param("state")
        .and_then(|id| {
            state
                .directory()
                .applications
                .get(&id)
                .map(|a| a.display_name.clone())
        })
        .unwrap_or_else(|| "requested".to_string());
    match param("error") {
        Some(_) => finished("declined", &app_name),
        None => finished("done", &app_name),
    }
}
