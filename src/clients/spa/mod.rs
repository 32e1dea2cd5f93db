//! The reference single-page app's host (`entra-mock spa`, the `spa` app; steps 21-38 of the
//! seed flow). It serves static HTML and plain JavaScript from its own origin (no build step, no
//! third-party script) and its settings as `/config.json`; everything else happens in the
//! browser: the authorization code flow with PKCE S256 (WebCrypto), `state` and `nonce`, the
//! cross-origin code redemption, tokens in memory only, bearer calls to the API, refresh and
//! retry on 401 or expiry, the MFA claims challenge, and logout. The Content-Security-Policy
//! allows scripts and styles from this origin only (no `unsafe-inline`) and connections to the
//! authority and the API only.

use std::net::{SocketAddr, TcpListener};

use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer};
use clap::Args;

const INDEX: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const CSS: &str = include_str!("../static/app.css");

#[derive(Debug, Clone, Args)]
pub struct SpaArgs {
    #[command(flatten)]
    pub authority: crate::clients::Authority,
    #[arg(
        long,
        env = "SPA_CLIENT_ID",
        default_value = "11112222-bbbb-3333-cccc-4444dddd5555"
    )]
    pub client_id: String,
    #[arg(long, env = "SPA_LISTEN", default_value = "127.0.0.1:5002")]
    pub listen: SocketAddr,
    /// The SPA's origin as the browser sees it; the redirect URI is `{public_url}/`. Empty:
    /// `http://localhost:{the port listened on}`.
    #[arg(long, env = "SPA_PUBLIC_URL", default_value = "http://localhost:5002")]
    pub public_url: String,
    /// The resource API's base URL.
    #[arg(long, env = "SPA_API_URL", default_value = "http://localhost:5003")]
    pub api_url: String,
    /// The API's delegated scope.
    #[arg(
        long,
        env = "SPA_API_SCOPE",
        default_value = "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user"
    )]
    pub api_scope: String,
}

struct SpaState {
    config: String,
    csp: String,
}

/// The SPA host running on its listener.
pub struct RunningSpa {
    pub addr: SocketAddr,
    pub public_url: String,
    pub server: actix_web::dev::Server,
}

pub fn start(args: &SpaArgs) -> anyhow::Result<RunningSpa> {
    let listener = TcpListener::bind(args.listen)?;
    let addr = listener.local_addr()?;
    let public_url = match args.public_url.trim_end_matches('/') {
        "" => format!("http://localhost:{}", addr.port()),
        u => u.to_string(),
    };
    let authority_host = args.authority.host.trim_end_matches('/').to_string();
    let api_url = args.api_url.trim_end_matches('/').to_string();
    let config = serde_json::json!({
        "authorityHost": authority_host,
        "tenantId": args.authority.tenant_id,
        "clientId": args.client_id,
        "redirectUri": format!("{public_url}/"),
        "apiUrl": api_url,
        "apiScope": args.api_scope,
    })
    .to_string();
    let origin = |u: &str| {
        url::Url::parse(u)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' {} {}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        origin(&authority_host),
        origin(&api_url)
    );
    let state = web::Data::new(SpaState { config, csp });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/", web::get().to(index))
            .route("/index.html", web::get().to(index))
            .route("/app.js", web::get().to(app_js))
            .route("/app.css", web::get().to(css))
            .route("/config.json", web::get().to(config_json))
            .default_service(web::route().to(not_found))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(RunningSpa {
        addr,
        public_url,
        server,
    })
}

/// `entra-mock spa`.
pub async fn run(args: SpaArgs) -> anyhow::Result<()> {
    let spa = start(&args)?;
    println!(
        "reference SPA on {} (listening on {})",
        spa.public_url, spa.addr
    );
    spa.server.await?;
    Ok(())
}

fn asset(state: &SpaState, content_type: &str, body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, state.csp.clone()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("X-Frame-Options", "DENY"))
        // The code arrives in the URL's fragment, never sent in a Referer; say so anyway.
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body.into())
}

async fn index(state: web::Data<SpaState>) -> HttpResponse {
    asset(&state, "text/html; charset=utf-8", INDEX)
}

async fn app_js(state: web::Data<SpaState>) -> HttpResponse {
    if crate::clients::mutation::Mutation::SpaUsesLocalStorage.active() {
        let js = APP_JS.replace(
            "  function keep(t) {\n",
            "  function keep(t) {\n    localStorage.setItem(\"spa.tokens\", JSON.stringify(t));\n",
        );
        return asset(&state, "text/javascript; charset=utf-8", js);
    }
    asset(&state, "text/javascript; charset=utf-8", APP_JS)
}

async fn css(state: web::Data<SpaState>) -> HttpResponse {
    asset(&state, "text/css; charset=utf-8", CSS)
}

async fn config_json(state: web::Data<SpaState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(state.config.clone())
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body("not found")
}
