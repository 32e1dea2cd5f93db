//! The BFF's HTTP surface: pages (`/`, `/protected`), the sign-in endpoints (`/auth/login`,
//! `/auth/callback`, `/auth/frontchannel-logout`), the API proxy (`/api/tasks`,
//! `/api/tasks/admin`) and `POST /logout`. Handlers read cookies and forms and call
//! [`super::session`]; every page carries a strict Content-Security-Policy and `no-store`.

use actix_web::cookie::Cookie;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{self, BffError, Callback};
use super::store::Session;
use super::BffState;
use crate::clients::browser_session::{cookie_name, login_state_cookie, session_cookie};

const SESSION: &str = "bff-session";
const LOGIN: &str = "bff-login";
const CSRF_HEADER: &str = "X-CSRF-Token";
const CSS: &str = include_str!("../static/app.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/protected", web::get().to(protected))
        .route("/app.css", web::get().to(css))
        .route("/auth/login", web::get().to(login))
        .route("/auth/callback", web::get().to(callback))
        .route(
            "/auth/frontchannel-logout",
            web::get().to(frontchannel_logout),
        )
        .route("/api/tasks", web::get().to(list_tasks))
        .route("/api/tasks", web::post().to(add_task))
        .route("/api/tasks/admin", web::post().to(admin))
        .route("/logout", web::post().to(logout))
        .default_service(web::route().to(not_found));
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn cookie_value(bff: &BffState, req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(&cookie_name(name, bff.https))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// A cookie that removes `name` (same attributes, expired).
fn removal(bff: &BffState, name: &str) -> Cookie<'static> {
    let mut c = session_cookie(name, "", bff.https);
    c.make_removal();
    c
}

async fn current(bff: &BffState, req: &HttpRequest) -> Result<Option<Session>, BffError> {
    match cookie_value(bff, req, SESSION) {
        Some(id) => Ok(bff.store.session(&id).await?),
        None => Ok(None),
    }
}

fn csp(bff: &BffState) -> String {
    // Forms post to us; POST /logout then redirects to Entra, which form-action also governs.
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {}; \
         frame-ancestors 'none'; base-uri 'none'",
        bff.entra.reg.authority_host
    )
}

fn html(bff: &BffState, status: StatusCode, body: askama::Result<String>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CONTENT_SECURITY_POLICY, csp(bff)))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Frame-Options", "DENY"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .body(body),
        Err(e) => {
            tracing::error!("rendering a BFF page: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// What a page shows of a session.
struct View {
    name: String,
    username: String,
    oid: String,
    amr: String,
    access_expires_in: i64,
    id_token_expires_in: i64,
    has_refresh_token: bool,
    refreshed: bool,
    csrf: String,
}

impl View {
    fn of(bff: &BffState, s: &Session) -> Self {
        let now = now();
        View {
            name: s.name.clone(),
            username: s.username.clone(),
            oid: s.oid.clone(),
            amr: s.amr.join(", "),
            access_expires_in: s.access_expires_at - now,
            id_token_expires_in: s.id_token_exp - now,
            has_refresh_token: s.refresh_token.is_some(),
            refreshed: s.refreshed_at.is_some(),
            csrf: bff.csrf.token(s.id.expose()),
        }
    }
}

#[derive(Template)]
#[template(path = "bff/home.html")]
struct HomePage {
    user: Option<View>,
}

#[derive(Template)]
#[template(path = "bff/protected.html")]
struct ProtectedPage {
    user: View,
    tasks: Vec<(u64, String)>,
    api_status: u16,
    notice: String,
}

/// The end of the callback. Not a redirect: the navigation that brings the browser back from
/// Entra is cross-site, and a redirect would stay part of it, so the new `SameSite=Strict`
/// session cookie would not be sent with the next request and the sign-in would loop. A page
/// that moves on by itself (meta refresh) starts a same-site navigation, which carries it.
#[derive(Template)]
#[template(path = "bff/continue.html")]
struct ContinuePage<'a> {
    to: &'a str,
}

#[derive(Template)]
#[template(path = "bff/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(CSS)
}

async fn not_found(bff: web::Data<BffState>) -> HttpResponse {
    error_page(&bff, &BffError::BadRequest("There is no such page.".into()))
}

/// The error as a page: 400 for what the request got wrong, 401 for an ended session, 502 when
/// Entra or the API cannot be reached, 500 (message logged, not shown) for the store.
fn error_page(bff: &BffState, e: &BffError) -> HttpResponse {
    let (status, title) = match e {
        BffError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        BffError::Upstream(_) | BffError::Entra(super::entra::EntraError::Unavailable(_)) => {
            (StatusCode::BAD_GATEWAY, "Service unavailable")
        }
        BffError::SessionEnded(_) | BffError::LoginRequired => {
            (StatusCode::UNAUTHORIZED, "Please sign in again")
        }
        BffError::Csrf => (StatusCode::FORBIDDEN, "Request refused"),
        _ => (StatusCode::BAD_REQUEST, "Sign-in failed"),
    };
    let message = match e {
        BffError::Store(err) => {
            tracing::error!("BFF store: {err}");
            "The session store failed; see the BFF's log.".to_string()
        }
        other => other.to_string(),
    };
    html(
        bff,
        status,
        ErrorPage {
            title,
            message: &message,
        }
        .render(),
    )
}

/// JSON errors for the `/api/` routes.
fn error_json(bff: &BffState, e: &BffError) -> HttpResponse {
    let (status, code) = match e {
        BffError::LoginRequired => (StatusCode::UNAUTHORIZED, "login_required"),
        BffError::SessionEnded(_) => (StatusCode::UNAUTHORIZED, "session_ended"),
        BffError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
        BffError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        BffError::Store(err) => {
            tracing::error!("BFF store: {err}");
            return HttpResponse::InternalServerError().json(json!({"error": "server_error"}));
        }
        _ => (StatusCode::BAD_GATEWAY, "upstream"),
    };
    let mut res = HttpResponse::build(status).json(json!({
        "error": code,
        "error_description": e.to_string(),
        "login": "/auth/login",
    }));
    if matches!(e, BffError::SessionEnded(_)) {
        let _ = res.add_cookie(&removal(bff, SESSION));
    }
    res
}

async fn home(bff: web::Data<BffState>, req: HttpRequest) -> HttpResponse {
    match current(&bff, &req).await {
        Ok(s) => {
            let page = HomePage {
                user: s.map(|s| View::of(&bff, &s)),
            };
            html(&bff, StatusCode::OK, page.render())
        }
        Err(e) => error_page(&bff, &e),
    }
}

/// Step 2 from anywhere: the login state stored, its cookie set (`Lax`, see
/// [`login_state_cookie`]), the browser sent to Entra.
async fn redirect_to_login(bff: &BffState, claims: Option<&str>, return_to: &str) -> HttpResponse {
    match session::start_login(bff, claims, return_to, now()).await {
        Ok((url, state)) => see_other(&url)
            .cookie(login_state_cookie(LOGIN, &state, bff.https))
            .finish(),
        Err(e) => error_page(bff, &e),
    }
}

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

/// Steps 1-2 without a session; steps 12-16 with one (the tasks come from the API).
async fn protected(
    bff: web::Data<BffState>,
    req: HttpRequest,
    q: web::Query<Notice>,
) -> HttpResponse {
    let session = match current(&bff, &req).await {
        Ok(Some(s)) => s,
        Ok(None) => return redirect_to_login(&bff, None, "/protected").await,
        Err(e) => return error_page(&bff, &e),
    };
    match session::call_api(&bff, &session, reqwest::Method::GET, "/tasks", None, now()).await {
        Ok(answer) => {
            let tasks = answer.body["tasks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            (
                                t["id"].as_u64().unwrap_or_default(),
                                t["title"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            // Show the session as it is now (a refresh may have just updated it).
            let session = bff
                .store
                .session(session.id.expose())
                .await
                .ok()
                .flatten()
                .unwrap_or(session);
            let notice = match q.notice.as_deref() {
                Some("added") => "Task added.",
                Some("admin") => {
                    "The admin call succeeded: this session meets the authentication context c1."
                }
                Some("stepped-up") => {
                    "Signed in again for the authentication context the API asked for: try the admin call again."
                }
                _ => "",
            };
            let page = ProtectedPage {
                user: View::of(&bff, &session),
                tasks,
                api_status: answer.status,
                notice: notice.to_string(),
            };
            html(&bff, StatusCode::OK, page.render())
        }
        Err(BffError::SessionEnded(_)) => redirect_to_login(&bff, None, "/protected").await,
        Err(e) => error_page(&bff, &e),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    claims: Option<String>,
    return_to: Option<String>,
}

async fn login(bff: web::Data<BffState>, q: web::Query<LoginQuery>) -> HttpResponse {
    match session::claims_param(q.claims.as_deref()) {
        Ok(claims) => {
            let to = session::local_path(q.return_to.as_deref());
            redirect_to_login(&bff, claims.as_deref(), &to).await
        }
        Err(e) => error_page(&bff, &e),
    }
}

/// Steps 7-11.
async fn callback(bff: web::Data<BffState>, req: HttpRequest) -> HttpResponse {
    let cb = web::Query::<Callback>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let cookie_state = cookie_value(&bff, &req, LOGIN);
    let mut clear_login = login_state_cookie(LOGIN, "", bff.https);
    clear_login.make_removal();
    match session::finish_login(&bff, cookie_state.as_deref(), &cb, now()).await {
        Ok((session, to)) => {
            let mut res = html(&bff, StatusCode::OK, ContinuePage { to: &to }.render());
            let _ = res.add_cookie(&session_cookie(SESSION, session.id.expose(), bff.https));
            let _ = res.add_cookie(&clear_login);
            res
        }
        Err(e) => {
            let mut res = error_page(&bff, &e);
            let _ = res.add_cookie(&clear_login);
            res
        }
    }
}

#[derive(Deserialize)]
struct FrontChannel {
    sid: Option<String>,
}

/// Entra's front-channel logout (an iframe on its sign-out page): ends this app's sessions of
/// that Entra session.
async fn frontchannel_logout(
    bff: web::Data<BffState>,
    q: web::Query<FrontChannel>,
) -> HttpResponse {
    let ended = match q.sid.as_deref().filter(|s| !s.is_empty()) {
        Some(sid) => match bff.store.delete_by_sid(sid).await {
            Ok(n) => n,
            Err(e) => return error_page(&bff, &BffError::Store(e)),
        },
        None => 0,
    };
    tracing::info!(ended, "front-channel logout");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(format!("ended {ended} session(s)"))
}

/// The session of an API call, and for state-changing calls its CSRF check (header
/// `X-CSRF-Token` or form field `csrf`).
async fn api_session(
    bff: &BffState,
    req: &HttpRequest,
    form_csrf: Option<&str>,
    needs_csrf: bool,
) -> Result<Session, BffError> {
    let session = current(bff, req).await?.ok_or(BffError::LoginRequired)?;
    if needs_csrf {
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|h| h.to_str().ok())
            .or(form_csrf)
            .unwrap_or_default();
        if !bff.csrf.verify(session.id.expose(), presented) {
            return Err(BffError::Csrf);
        }
    }
    Ok(session)
}

fn pass_on(answer: &session::ApiAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(&answer.body)
}

async fn list_tasks(bff: web::Data<BffState>, req: HttpRequest) -> HttpResponse {
    let result = async {
        let s = api_session(&bff, &req, None, false).await?;
        session::call_api(&bff, &s, reqwest::Method::GET, "/tasks", None, now()).await
    }
    .await;
    match result {
        Ok(a) => pass_on(&a),
        Err(e) => error_json(&bff, &e),
    }
}

/// A JSON body (`fetch`) or a form post (the page): the fields and whether it was a form.
fn fields(req: &HttpRequest, body: &[u8]) -> (Value, bool) {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let map: serde_json::Map<String, Value> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        (Value::Object(map), true)
    } else {
        (serde_json::from_slice(body).unwrap_or(Value::Null), false)
    }
}

async fn add_task(bff: web::Data<BffState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (fields, is_form) = fields(&req, &body);
    let result = async {
        let s = api_session(&bff, &req, fields["csrf"].as_str(), true).await?;
        let title = fields["title"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| BffError::BadRequest("give a task title".into()))?;
        let body = json!({ "title": title });
        session::call_api(
            &bff,
            &s,
            reqwest::Method::POST,
            "/tasks",
            Some(&body),
            now(),
        )
        .await
    }
    .await;
    match (result, is_form) {
        (Ok(a), true) if a.status < 300 => see_other("/protected?notice=added").finish(),
        (Ok(a), _) => pass_on(&a),
        (Err(e), true) => error_page(&bff, &e),
        (Err(e), false) => error_json(&bff, &e),
    }
}

/// The call that needs the authentication context `c1` (step-up): a claims challenge sends the
/// browser to sign in again with that `claims` value (a form post is redirected, and comes back
/// to try again; a `fetch` gets 401 and the URL to go to).
async fn admin(bff: web::Data<BffState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (fields, is_form) = fields(&req, &body);
    let result = async {
        let s = api_session(&bff, &req, fields["csrf"].as_str(), true).await?;
        session::call_api(&bff, &s, reqwest::Method::POST, "/tasks/admin", None, now()).await
    }
    .await;
    match result {
        Ok(a) => match &a.claims_challenge {
            Some(claims) => {
                let login = format!(
                    "/auth/login?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("claims", claims)
                        .append_pair("return_to", "/protected?notice=stepped-up")
                        .finish()
                );
                if is_form {
                    return see_other(&login).finish();
                }
                HttpResponse::Unauthorized()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(json!({"error": "insufficient_claims", "claims": claims, "login": login}))
            }
            None if is_form && a.status < 300 => see_other("/protected?notice=admin").finish(),
            None => pass_on(&a),
        },
        Err(e) if is_form => error_page(&bff, &e),
        Err(e) => error_json(&bff, &e),
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

/// Deletes the session and its tokens, clears the cookie, then Entra's end-session endpoint.
async fn logout(
    bff: web::Data<BffState>,
    req: HttpRequest,
    form: Option<web::Form<LogoutForm>>,
) -> HttpResponse {
    let csrf = form.as_ref().and_then(|f| f.csrf.clone());
    let session = match api_session(&bff, &req, csrf.as_deref(), true).await {
        Ok(s) => s,
        Err(BffError::LoginRequired) => return see_other("/").finish(),
        Err(e) => return error_page(&bff, &e),
    };
    match session::logout(&bff, session.id.expose()).await {
        Ok(next) => {
            let mut res = see_other(&next).finish();
            let _ = res.add_cookie(&removal(&bff, SESSION));
            if let Ok(v) = HeaderValue::from_str("\"cookies\"") {
                res.headers_mut()
                    .insert(header::HeaderName::from_static("clear-site-data"), v);
            }
            res
        }
        Err(e) => error_page(&bff, &e),
    }
}
