//! Builds the application (store, fixtures, keys, TLS) and binds the listeners. Port 0 works: the
//! bound addresses are read back from the sockets.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::clock::Clock;
use crate::config::{DataDir, FixtureSource, Listen, Settings};
use crate::context::{self, RequestContext};
use crate::error::Error;
use crate::fixtures::{self, Fixtures};
use crate::keys::{self, KeyRing};
use crate::mock::document::FixtureDocument;
use crate::mock::faults::Faults;
use crate::mock::requests::RequestLog;
use crate::render_cache::RenderCache;
use crate::routes;
use crate::state::AppState;
use crate::store::Store;
use crate::tls::TlsMaterial;

pub struct Application {
    pub http_addr: Option<SocketAddr>,
    pub https_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub state: AppState,
    server: Server,
    _ephemeral: Option<tempfile::TempDir>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        keys::provider::install();
        let open_files = crate::open_files::soft_limit();
        if let Some(warning) = crate::open_files::shortfall(settings.max_connections, open_files) {
            tracing::warn!("{warning}");
        }
        let (data_dir, ephemeral) = match &settings.data_dir {
            DataDir::Persistent(p) => {
                std::fs::create_dir_all(p)
                    .with_context(|| format!("creating the data dir {}", p.display()))?;
                (p.clone(), None)
            }
            DataDir::Ephemeral => {
                let t = tempfile::Builder::new().prefix("entra-mock-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // Checked as written first, so that errors name the file and its line.
        match &settings.fixtures {
            FixtureSource::BuiltIn => Fixtures::built_in(),
            FixtureSource::File(p) => Fixtures::from_path(p),
        }?;
        // The same text again, kept for run-time changes and `/_mock/reset`: the changes saved
        // for this text survive a restart.
        let document = match &settings.fixtures {
            FixtureSource::BuiltIn => {
                FixtureDocument::open(fixtures::DEFAULT_FIXTURE, None, &data_dir)
            }
            FixtureSource::File(p) => FixtureDocument::open(
                &std::fs::read_to_string(p)?,
                p.parent().map(std::path::Path::to_path_buf),
                &data_dir,
            ),
        }?;
        let fixtures = document.fixtures().await?;
        let mut store = Store::open(&data_dir.join("entra-mock.sqlite")).await?;
        if settings.workers > 1 {
            store.start_writer_thread()?;
        }
        fixtures.apply(&store).await.context("loading fixtures")?;
        let directory = Arc::new(store.load_directory().await?);
        anyhow::ensure!(
            Clock::in_range(settings.clock_offset),
            "--clock-offset {} would move the clock outside 1970-01-01 to 4000-01-01 (UTC)",
            settings.clock_offset
        );
        let clock = Clock::default();
        clock.set_offset(settings.clock_offset);
        let keys =
            Arc::new(KeyRing::load_or_create(&store, clock.unix(), settings.first_keys).await?);
        let tls = Arc::new(TlsMaterial::load_or_create(&data_dir, &settings.tls_san)?);
        let state = AppState {
            store,
            keys,
            clock,
            directory_cell: Arc::new(std::sync::RwLock::new(directory)),
            settings: Arc::new(settings.clone()),
            tls: tls.clone(),
            documents: Arc::new(RenderCache::default()),
            faults: Arc::new(Faults::default()),
            requests: Arc::new(RequestLog::default()),
            fixtures: Arc::new(document),
            http: Arc::default(),
            issuer_keys: Arc::default(),
            flows: Arc::new(crate::flows::Flows::new()?),
        };

        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            let state = app_state.clone();
            let base = state.settings.public_base_url.clone();
            let tls_san = state.settings.tls_san.clone();
            let clock = state.clock.clone();
            App::new()
                .app_data(web::Data::new(state))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    Error::InvalidParameter {
                        name: "query",
                        reason: e.to_string(),
                    }
                    .into()
                }))
                .app_data(
                    web::FormConfig::default()
                        .limit(256 * 1024)
                        .error_handler(|e, _| {
                            Error::InvalidParameter {
                                name: "body",
                                reason: e.to_string(),
                            }
                            .into()
                        }),
                )
                .app_data(
                    web::JsonConfig::default()
                        .limit(64 * 1024)
                        .error_handler(|e, _| {
                            Error::InvalidParameter {
                                name: "body",
                                reason: e.to_string(),
                            }
                            .into()
                        }),
                )
                .app_data(web::PathConfig::default().error_handler(|e, _| {
                    Error::InvalidParameter {
                        name: "path",
                        reason: e.to_string(),
                    }
                    .into()
                }))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(actix_web::middleware::from_fn(routes::request_log::record))
                .wrap(actix_web::middleware::from_fn(routes::guard::limits))
                .wrap(actix_web::middleware::from_fn(routes::guard::catch_panics))
                // No response is to be sniffed into another type (issue 12, security headers).
                .wrap(
                    actix_web::middleware::DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff")),
                )
                .wrap_fn(move |req, srv| {
                    let serving = keys::parallel::Serving::start();
                    let ctx = RequestContext::from_request(&req, base.as_deref(), &tls_san, &clock);
                    let served = context::scoped(ctx, srv.call(req));
                    async move {
                        let res = served.await;
                        drop(serving);
                        res
                    }
                })
        })
        .workers(settings.workers)
        // Issue 12, limits: a client gets 5 s to send its request head (then 408), an idle
        // keep-alive connection is closed after 15 s, a closing one is dropped after 1 s, and
        // no more than --max-connections are open at once (actix counts per worker).
        .client_request_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(15))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .max_connections(settings.max_connections.div_ceil(settings.workers.max(1)))
        .shutdown_timeout(2);

        let mut http_addr = None;
        if let Listen::On(addr) = settings.http {
            let l = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
            http_addr = Some(l.local_addr()?);
            server = server.listen(l)?;
        }
        let mut https_addr = None;
        if let Listen::On(addr) = settings.https {
            let l = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
            https_addr = Some(l.local_addr()?);
            server = server.listen_rustls_0_23(l, tls.server_config()?)?;
        }
        if http_addr.is_none() && https_addr.is_none() {
            anyhow::bail!("both listeners are off: turn on --http-addr or --https-addr");
        }
        tokio::spawn(purge(state.clone()));
        if let Some(interval) = settings.key_rotation_interval {
            tokio::spawn(roll_keys(state.clone(), interval));
        }
        Ok(Application {
            http_addr,
            https_addr,
            data_dir,
            state,
            server: server.run(),
            _ephemeral: ephemeral,
        })
    }

    /// `http://127.0.0.1:PORT`, when the HTTP listener is on.
    pub fn http_url(&self) -> Option<String> {
        self.http_addr
            .map(|a| format!("http://{}", display_addr(a)))
    }

    /// `https://localhost:PORT`, when the HTTPS listener is on.
    pub fn https_url(&self) -> Option<String> {
        self.https_addr
            .map(|a| format!("https://{}", display_addr(a)))
    }

    pub fn banner(&self) -> String {
        let mut out = String::from("entra-mock is running\n");
        if let Some(u) = self.http_url() {
            out += &format!("  http:   {u}\n");
        }
        if let Some(u) = self.https_url() {
            out += &format!("  https:  {u}\n");
        }
        for t in &self.state.directory().tenants {
            out += &format!("  tenant: {} ({}, {})\n", t.id, t.domain, t.display_name);
        }
        if let (Some(u), Some(t)) = (
            self.https_url().or_else(|| self.http_url()),
            self.state.directory().tenants.first(),
        ) {
            out += &format!("  authority (MSAL): {u}/{}\n", t.id);
        }
        out += &format!("  CA certificate: {}\n", self.state.tls.ca_path.display());
        if let Some(secs) = self.state.settings.key_rotation_interval {
            out += &format!("  signing keys roll over every {secs} s\n");
        }
        out += match self.state.settings.admin_token {
            Some(_) => "  test control: /_mock/ (needs the admin token)\n",
            None => "  test control: /_mock/ (open to anyone on every listener; --admin-token locks it)\n",
        };
        out
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server, _ephemeral, ..
        } = self;
        let result = server.await;
        drop(_ephemeral);
        result
    }
}

/// `--key-rotation-interval`: checks the virtual clock every second (so a clock moved forward
/// rolls the keys at once); a failed roll is logged and tried again.
async fn roll_keys(state: AppState, interval: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        match state
            .keys
            .roll_if_due(&state.store, interval, state.clock.unix())
            .await
        {
            Ok(true) => tracing::info!("signing keys rolled over (--key-rotation-interval)"),
            Ok(false) => {}
            Err(e) => tracing::error!("automatic key rollover failed: {e:#}"),
        }
    }
}

/// Deletes expired rows and applies the per-user caps ([`crate::store::purge`]) every 30 s, or
/// sooner when many sign-in flows start. Rows expire by real time here even when the virtual
/// clock was moved forward, so that a test that moves the clock sees Entra's errors for expired
/// grants (which need the rows) rather than unknown ones.
async fn purge(state: AppState) {
    loop {
        state
            .store
            .purge_signal
            .wait(std::time::Duration::from_secs(30))
            .await;
        let real = time::OffsetDateTime::now_utc().unix_timestamp();
        let lifetimes = crate::store::purge::RefreshLifetimes {
            spa_secs: crate::oauth::lifetimes::SPA_REFRESH_LIFETIME_SECS,
            inactivity_secs: crate::oauth::lifetimes::REFRESH_INACTIVITY_SECS,
        };
        match state
            .store
            .purge(state.clock.unix().min(real), lifetimes)
            .await
        {
            Ok(p) if p != Default::default() => tracing::debug!(?p, "purged"),
            Ok(_) => {}
            Err(e) => tracing::error!("purging expired rows failed: {e:#}"),
        }
    }
}

/// Loopback addresses are shown as `localhost` (WebAuthn and MSAL want a host name).
fn display_addr(a: SocketAddr) -> String {
    if a.ip().is_loopback() || a.ip().is_unspecified() {
        format!("localhost:{}", a.port())
    } else {
        a.to_string()
    }
}
