//! The reference backend-for-frontend (`entra-mock bff`, the `bff` app; steps 1-20 of the seed
//! flow): a confidential web app that keeps every token server-side in its own SQLite store and
//! gives the browser only an opaque, `HttpOnly`, `SameSite=Strict` session cookie. It signs in
//! with the authorization code flow (client secret and PKCE), refreshes the access token before
//! it expires (the rotated refresh token stored atomically), calls the resource API with the
//! bearer token, protects state-changing requests with a CSRF token bound to the session, answers
//! the API's claims challenge by signing in again with that `claims` value, and logs out both
//! locally and at Entra (plus front-channel logout by `sid`). It uses nothing but what Entra
//! offers, so it runs unchanged against a real tenant given its authority, client id and secret.

pub mod entra;
mod routes;
pub mod session;
pub mod store;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use actix_web::{web, App, HttpServer};
use clap::Args;

use self::entra::{Entra, Registration};
use self::store::BffStore;
use super::browser_session::CsrfKey;
use crate::secret::Secret;

#[derive(Debug, Clone, Args)]
pub struct BffArgs {
    #[command(flatten)]
    pub authority: crate::clients::Authority,
    #[arg(
        long,
        env = "BFF_CLIENT_ID",
        default_value = "00001111-aaaa-2222-bbbb-3333cccc4444"
    )]
    pub client_id: String,
    /// The app's client secret (the well-known tenant's by default).
    #[arg(
        long,
        env = "BFF_CLIENT_SECRET",
        default_value = "bff-secret-local-dev-only",
        hide_default_value = true
    )]
    pub client_secret: String,
    #[arg(long, env = "BFF_LISTEN", default_value = "127.0.0.1:5001")]
    pub listen: SocketAddr,
    /// The URL the browser uses for this app: the redirect URI is `{public_url}/auth/callback`.
    /// An `https://` URL gives the cookies `Secure` and the `__Host-` prefix; an empty one means
    /// `http://localhost:{the port listened on}`.
    #[arg(long, env = "BFF_PUBLIC_URL", default_value = "http://localhost:5001")]
    pub public_url: String,
    /// The resource API's base URL.
    #[arg(long, env = "BFF_API_URL", default_value = "http://localhost:5003")]
    pub api_url: String,
    /// The API's delegated scope.
    #[arg(
        long,
        env = "BFF_API_SCOPE",
        default_value = "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user"
    )]
    pub api_scope: String,
    /// The session store (SQLite file).
    #[arg(long, env = "BFF_DATABASE", default_value = ".entra-mock/bff.sqlite")]
    pub database: PathBuf,
    /// A CA certificate (PEM) to trust for the authority, e.g. entra-mock's `ca.pem`.
    #[arg(long, env = "BFF_CA_FILE", default_value = ".entra-mock/ca.pem")]
    pub ca_file: Option<PathBuf>,
}

/// What every handler shares.
pub struct BffState {
    entra: Entra,
    store: BffStore,
    csrf: CsrfKey,
    api_url: String,
    https: bool,
    http: reqwest::Client,
}

/// The BFF running on its listener.
pub struct RunningBff {
    pub addr: SocketAddr,
    /// The URL the browser uses (`{public_url}/auth/callback` is the redirect URI).
    pub public_url: String,
    pub server: actix_web::dev::Server,
    /// Its session store (tests read and age sessions through it).
    pub store: BffStore,
}

/// Builds the BFF; `ca_pem` is trusted for the authority (entra-mock's CA).
pub async fn start(args: &BffArgs, ca_pem: Option<&str>) -> anyhow::Result<RunningBff> {
    let mut http = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(pem) = ca_pem {
        http = http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
    }
    let http = http.build()?;
    let listener = TcpListener::bind(args.listen)?;
    let addr = listener.local_addr()?;
    // No public URL: this listener on localhost (tests on port 0, the demo).
    let public_url = match args.public_url.trim_end_matches('/') {
        "" => format!("http://localhost:{}", addr.port()),
        u => u.to_string(),
    };
    let reg = Registration {
        authority_host: args.authority.host.trim_end_matches('/').to_string(),
        tenant_id: args.authority.tenant_id.clone(),
        client_id: args.client_id.clone(),
        client_secret: Secret::new(args.client_secret.clone()),
        redirect_uri: format!("{public_url}/auth/callback"),
        post_logout_redirect_uri: format!("{public_url}/"),
        scopes: format!("openid profile offline_access {}", args.api_scope),
    };
    let store = BffStore::open(&args.database).await?;
    let public = public_url.clone();
    let state = web::Data::new(BffState {
        entra: Entra::new(reg, http.clone())?,
        store: store.clone(),
        csrf: CsrfKey::generate(),
        api_url: args.api_url.trim_end_matches('/').to_string(),
        https: public.starts_with("https://"),
        http,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .app_data(web::JsonConfig::default().limit(16 * 1024))
            .configure(routes::configure)
    })
    .workers(2)
    .listen(listener)?
    .run();
    Ok(RunningBff {
        addr,
        public_url,
        server,
        store,
    })
}

/// `entra-mock bff`.
pub async fn run(args: BffArgs) -> anyhow::Result<()> {
    let ca = match &args.ca_file {
        Some(p) if p.exists() => Some(std::fs::read_to_string(p)?),
        _ => None,
    };
    let bff = start(&args, ca.as_deref()).await?;
    println!(
        "reference BFF on {} (listening on {})",
        bff.public_url, bff.addr
    );
    bff.server.await?;
    Ok(())
}
