//! `entra-mock demo`: the identity provider and the three reference clients in one process, so a
//! newcomer can click through both flows of the seed in a browser. The clients are configured for
//! the built-in tenant and trust the provider's CA; when they listen on other ports than the
//! registered ones (5001-5003), their apps' redirect URIs are registered for the ports in use.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use serde_json::json;

use super::api::{self, ApiArgs};
use super::bff::{self, BffArgs};
use super::spa::{self, SpaArgs};
use crate::config::{DemoArgs, Settings};
use crate::mock::directory::{self, Collection};
use crate::startup::Application;

const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
const BFF_APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SPA_APP: &str = "11112222-bbbb-3333-cccc-4444dddd5555";
const API_APP: &str = "22223333-cccc-4444-dddd-5555eeee6666";

/// A port to listen on: `0` picks a free one now, because each client must know the others'
/// URLs before it starts.
fn port(p: u16) -> anyhow::Result<u16> {
    if p != 0 {
        return Ok(p);
    }
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Registers the clients' URLs when they are not the fixture's.
async fn register(app: &Application, bff: &str, spa: &str) -> anyhow::Result<()> {
    let state = &app.state;
    if bff != "http://localhost:5001" {
        let changes = json!({
            "web": {
                "redirectUris": ["http://localhost:5001/auth/callback", format!("{bff}/auth/callback")],
                "logoutUrl": format!("{bff}/auth/frontchannel-logout"),
            },
            "postLogoutRedirectUris": ["http://localhost:5001/", format!("{bff}/")],
        });
        directory::patch(state, Collection::Applications, BFF_APP, changes)
            .await
            .context("registering the BFF's URLs")?;
    }
    if spa != "http://localhost:5002" {
        let changes = json!({
            "spa": {"redirectUris": ["http://localhost:5002/", format!("{spa}/")]},
            "postLogoutRedirectUris": ["http://localhost:5002/", format!("{spa}/")],
        });
        directory::patch(state, Collection::Applications, SPA_APP, changes)
            .await
            .context("registering the SPA's URLs")?;
    }
    Ok(())
}

/// `entra-mock demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let app = Application::build(Settings::from_args(args.serve)?).await?;
    let authority_host = app
        .https_url()
        .context("the demo needs the HTTPS listener (MSAL and browsers need https)")?;
    let ca_pem = app.state.tls.ca_pem.clone();
    let (bff_port, spa_port, api_port) = (
        port(args.bff_port)?,
        port(args.spa_port)?,
        port(args.api_port)?,
    );
    let (bff_url, spa_url, api_url) = (
        format!("http://localhost:{bff_port}"),
        format!("http://localhost:{spa_port}"),
        format!("http://localhost:{api_port}"),
    );
    register(&app, &bff_url, &spa_url).await?;
    let authority = super::Authority {
        host: authority_host.clone(),
        tenant_id: TENANT.into(),
    };

    let api = api::start(
        &ApiArgs {
            authority: authority.clone(),
            client_id: API_APP.into(),
            listen: loopback(api_port),
            spa_origin: spa_url.clone(),
            ca_file: None,
        },
        Some(&ca_pem),
    )?;
    let bff = bff::start(
        &BffArgs {
            authority: authority.clone(),
            client_id: BFF_APP.into(),
            client_secret: "bff-secret-local-dev-only".into(),
            listen: loopback(bff_port),
            public_url: bff_url.clone(),
            api_url: api_url.clone(),
            api_scope: format!("api://{API_APP}/access_as_user"),
            database: app.data_dir.join("bff.sqlite"),
            ca_file: None,
        },
        Some(&ca_pem),
    )
    .await?;
    let spa = spa::start(&SpaArgs {
        authority: authority.clone(),
        client_id: SPA_APP.into(),
        listen: loopback(spa_port),
        public_url: spa_url.clone(),
        api_url: api_url.clone(),
        api_scope: format!("api://{API_APP}/access_as_user"),
    })?;

    print!("{}", app.banner());
    println!("the reference clients (entra-mock demo):");
    println!("  BFF:  {bff_url}/  (cookie session; open /protected to sign in)");
    println!("  SPA:  {spa_url}/  (PKCE in the browser, tokens in memory)");
    println!("  API:  {api_url}/tasks  (bearer tokens only)");
    println!("  users: alice@contoso.onmicrosoft.com (password only), bob@contoso.onmicrosoft.com (TOTP);");
    println!("         password Passw0rd!; the sign-in page's \"Test accounts\" shows bob's current code");
    println!(
        "  your browser must trust {} (or accept the certificate of {authority_host} once)",
        app.state.tls.ca_path.display()
    );
    use std::io::Write;
    std::io::stdout().flush()?;
    let (idp, bff, spa, api) =
        tokio::join!(app.run_until_stopped(), bff.server, spa.server, api.server);
    idp?;
    bff?;
    spa?;
    api?;
    Ok(())
}
