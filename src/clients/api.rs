//! The reference resource API (`entra-mock api`, the `api` app; steps 14-16 and 30-33 of the
//! seed flow): `GET/POST /tasks`, tasks kept per user `oid` (or per calling app), behind bearer
//! JWTs checked by [`super::validate`]; `POST /tasks/admin` needs the Conditional Access
//! authentication context `c1` (step-up: entra-mock asks for MFA) and answers a token without it
//! with Entra's claims challenge. CORS for the SPA's origin only. It uses nothing but what
//! Entra offers, so it runs unchanged against a real tenant given its authority and client id.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate::{
    auth_context_challenge, has_auth_context, require_any, Validator, ValidatorConfig,
};

/// The scope and the app role that grant access.
const SCOPE: &str = "access_as_user";
const ROLE: &str = "Tasks.ReadWrite.All";
/// The authentication context the admin call needs (a tenant's Conditional Access names its
/// contexts `c1` to `c99`; against a real tenant, a policy requiring MFA targets `c1`).
const ADMIN_CONTEXT: &str = "c1";

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub authority: super::Authority,
    /// The API's client id (its App ID URI `api://{client id}` is accepted too).
    #[arg(
        long,
        env = "API_CLIENT_ID",
        default_value = "22223333-cccc-4444-dddd-5555eeee6666"
    )]
    pub client_id: String,
    #[arg(long, env = "API_LISTEN", default_value = "127.0.0.1:5003")]
    pub listen: SocketAddr,
    /// The one browser origin allowed to call it (the SPA).
    #[arg(long, env = "API_SPA_ORIGIN", default_value = "http://localhost:5002")]
    pub spa_origin: String,
    /// A CA certificate (PEM) to trust for the authority, e.g. entra-mock's `ca.pem`.
    #[arg(long, env = "API_CA_FILE", default_value = ".entra-mock/ca.pem")]
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub title: String,
}

#[derive(Deserialize)]
struct NewTask {
    title: String,
}

struct ApiState {
    validator: Validator,
    /// `realm` and `authorization_uri` of the claims challenge: the tenant and its authorize
    /// endpoint.
    realm: String,
    authorization_uri: String,
    spa_origin: String,
    tasks: Mutex<HashMap<String, Vec<Task>>>,
}

/// The API running on its listener.
pub struct RunningApi {
    pub addr: SocketAddr,
    pub server: actix_web::dev::Server,
}

/// Builds the API; `ca_pem` is trusted for the authority besides nothing else (entra-mock's CA).
pub fn start(args: &ApiArgs, ca_pem: Option<&str>) -> anyhow::Result<RunningApi> {
    let mut http = reqwest::Client::builder().use_rustls_tls();
    if let Some(pem) = ca_pem {
        http = http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
    }
    let app_id_uri = format!("api://{}", args.client_id);
    let config = ValidatorConfig::for_api(
        &args.authority.host,
        &args.authority.tenant_id,
        &[&args.client_id, &app_id_uri],
    );
    let state = web::Data::new(ApiState {
        validator: Validator::new(config, http.build()?),
        realm: args.authority.tenant_id.clone(),
        authorization_uri: format!(
            "{}/{}/oauth2/v2.0/authorize",
            args.authority.host.trim_end_matches('/'),
            args.authority.tenant_id
        ),
        spa_origin: args.spa_origin.clone(),
        tasks: Mutex::new(HashMap::new()),
    });
    let listener = TcpListener::bind(args.listen)?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/tasks", web::get().to(list))
            .route("/tasks", web::post().to(create))
            .route("/tasks/admin", web::post().to(admin))
            .default_service(web::route().to(other))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(RunningApi { addr, server })
}

/// `entra-mock api`.
pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let ca = match &args.ca_file {
        Some(p) if p.exists() => Some(std::fs::read_to_string(p)?),
        _ => None,
    };
    let api = start(&args, ca.as_deref())?;
    println!("reference API on http://{}", api.addr);
    api.server.await?;
    Ok(())
}

/// CORS for the SPA's origin only (preflights and answers alike).
fn cors(state: &ApiState, req: &HttpRequest, mut res: HttpResponse) -> HttpResponse {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    if origin == Some(state.spa_origin.as_str()) {
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&state.spa_origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
    res
}

fn refuse(status: u16, www_authenticate: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED);
    let mut res = HttpResponse::build(status).json(serde_json::json!({"error": www_authenticate}));
    if let Ok(v) = HeaderValue::from_str(&www_authenticate) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The caller's claims, or the refusal to send.
async fn caller(state: &ApiState, req: &HttpRequest) -> Result<Value, HttpResponse> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let Some(token) = token else {
        // RFC 6750 section 3.1: no credentials, no error code.
        return Err(refuse(401, "Bearer".into()));
    };
    let claims = state
        .validator
        .validate(&token)
        .await
        .map_err(|r| refuse(r.status(), r.www_authenticate()))?;
    require_any(&claims, &[SCOPE], &[ROLE])
        .map_err(|r| refuse(r.status(), r.www_authenticate()))?;
    Ok(claims)
}

/// Whose tasks: the user's `oid`, or the calling app's for app-only tokens.
fn owner(claims: &Value) -> String {
    match (claims["idtyp"].as_str(), claims["scp"].as_str()) {
        (Some("app"), _) | (None, None) => format!(
            "app:{}",
            claims["azp"]
                .as_str()
                .or(claims["appid"].as_str())
                .unwrap_or_default()
        ),
        _ => claims["oid"].as_str().unwrap_or_default().to_string(),
    }
}

async fn list(state: web::Data<ApiState>, req: HttpRequest) -> HttpResponse {
    let res = match caller(&state, &req).await {
        Ok(claims) => {
            let tasks = state
                .tasks
                .lock()
                .map(|t| t.get(&owner(&claims)).cloned().unwrap_or_default())
                .unwrap_or_default();
            HttpResponse::Ok().json(serde_json::json!({ "owner": owner(&claims), "tasks": tasks }))
        }
        Err(refused) => refused,
    };
    cors(&state, &req, res)
}

async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    body: Option<web::Json<NewTask>>,
) -> HttpResponse {
    let res = match (caller(&state, &req).await, body) {
        (Err(refused), _) => refused,
        (Ok(_), None) => {
            HttpResponse::BadRequest().json(serde_json::json!({"error": "give {\"title\": ...}"}))
        }
        (Ok(claims), Some(body)) => {
            let task = match state.tasks.lock() {
                Ok(mut all) => {
                    let mine = all.entry(owner(&claims)).or_default();
                    let task = Task {
                        id: mine.len() as u64 + 1,
                        title: body.title.chars().take(200).collect(),
                    };
                    mine.push(task.clone());
                    Some(task)
                }
                Err(_) => None,
            };
            match task {
                Some(t) => HttpResponse::Created().json(t),
                None => HttpResponse::InternalServerError().finish(),
            }
        }
    };
    cors(&state, &req, res)
}

/// Needs the authentication context `c1`: a token without it in `acrs` gets Entra's claims
/// challenge (the developer guide to authentication context: the API checks `acrs`, not `amr`,
/// which v2.0 access tokens do not carry).
async fn admin(state: web::Data<ApiState>, req: HttpRequest) -> HttpResponse {
    let res = match caller(&state, &req).await {
        Err(refused) => refused,
        Ok(claims) if !has_auth_context(&claims, ADMIN_CONTEXT) => refuse(
            401,
            auth_context_challenge(&state.realm, &state.authorization_uri, ADMIN_CONTEXT),
        ),
        Ok(claims) => {
            HttpResponse::Ok().json(serde_json::json!({"admin": true, "acrs": claims["acrs"]}))
        }
    };
    cors(&state, &req, res)
}

/// Preflights from the SPA's origin; everything else is 404.
async fn other(state: web::Data<ApiState>, req: HttpRequest) -> HttpResponse {
    if req.method() == Method::OPTIONS && req.path().starts_with("/tasks") {
        let mut res = HttpResponse::NoContent().finish();
        let allowed = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            == Some(state.spa_origin.as_str());
        if allowed {
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        return cors(&state, &req, res);
    }
    HttpResponse::NotFound().json(serde_json::json!({"error": "not found"}))
}
