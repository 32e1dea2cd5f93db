//! The in-process test server for Rust users: `entra_mock::TestServer::start().await` runs a
//! complete entra-mock (HTTP and HTTPS on port 0 of loopback, an ephemeral data dir, the built-in
//! tenant or your fixtures) inside the test's Tokio runtime, and exposes the authority, issuer, CA
//! certificate and the test controls of `/_mock/` as methods.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let server = entra_mock::TestServer::start().await?;
//! let authority = server.authority(); // https://localhost:PORT/{tenant id}
//! server.advance_clock(3600);
//! server.rotate_keys(entra_mock::keys::rotation::Phase::RollNow).await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use crate::config::{DataDir, FixtureSource, Settings};
use crate::error::Error;
use crate::keys::rotation::Phase;
use crate::mock;
pub use crate::mock::directory::Collection;
use crate::mock::faults::{NewFault, Rule};
use crate::mock::requests::{Entry, Filter, Finding};
use crate::startup::Application;
use crate::state::AppState;

/// A running entra-mock for one test. Stops when dropped.
pub struct TestServer {
    http: String,
    https: String,
    state: AppState,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

/// Options of [`TestServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct TestServerOptions {
    /// A fixture file instead of the built-in tenant.
    pub fixtures: Option<PathBuf>,
    /// A data dir to keep (for restart tests) instead of an ephemeral one.
    pub data_dir: Option<PathBuf>,
    /// Start with the virtual clock moved by this many seconds.
    pub clock_offset: i64,
    /// `--key-rotation-interval`.
    pub key_rotation_interval: Option<i64>,
}

impl TestServer {
    /// The built-in tenant on an ephemeral data dir.
    pub async fn start() -> anyhow::Result<TestServer> {
        Self::start_with(TestServerOptions::default()).await
    }

    pub async fn start_with(options: TestServerOptions) -> anyhow::Result<TestServer> {
        let mut settings = Settings::for_tests(PathBuf::new());
        settings.data_dir = match options.data_dir {
            Some(dir) => DataDir::Persistent(dir),
            None => DataDir::Ephemeral,
        };
        if let Some(f) = options.fixtures {
            settings.fixtures = FixtureSource::File(f);
        }
        settings.clock_offset = options.clock_offset;
        settings.key_rotation_interval = options.key_rotation_interval;
        Self::start_with_settings(settings).await
    }

    /// Full control over the settings (listeners should stay on port 0).
    pub async fn start_with_settings(settings: Settings) -> anyhow::Result<TestServer> {
        let app = Application::build(settings).await?;
        let http = app
            .http_url()
            .ok_or_else(|| anyhow::anyhow!("the test server needs its HTTP listener"))?;
        let https = app
            .https_url()
            .ok_or_else(|| anyhow::anyhow!("the test server needs its HTTPS listener"))?;
        let state = app.state.clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Ok(TestServer {
            http,
            https,
            state,
            handle,
        })
    }

    /// `http://localhost:PORT`.
    pub fn http_url(&self) -> &str {
        &self.http
    }

    /// `https://localhost:PORT` (certificate by [`TestServer::ca_pem`]).
    pub fn https_url(&self) -> &str {
        &self.https
    }

    /// The first tenant's id.
    pub fn tenant_id(&self) -> String {
        self.state
            .directory()
            .tenants
            .first()
            .map_or(String::new(), |t| t.id.clone())
    }

    /// What MSAL takes as `authority`: `https://localhost:PORT/{tenant id}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.https, self.tenant_id())
    }

    /// The v2.0 issuer of the first tenant, as tokens carry it.
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.https, self.tenant_id())
    }

    /// The local CA certificate (PEM) that signs the HTTPS certificate.
    pub fn ca_pem(&self) -> &str {
        &self.state.tls.ca_pem
    }

    /// The server's shared state (store, keys, directory), for assertions on what it holds.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Moves the virtual clock by `secs` (negative: back).
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock.advance(secs);
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.state.clock.set_offset(secs);
    }

    /// Unix seconds by the virtual clock.
    pub fn now(&self) -> i64 {
        self.state.clock.unix()
    }

    pub async fn keys(&self) -> Result<mock::keys::KeyList, Error> {
        mock::keys::list(&self.state).await
    }

    pub async fn rotate_keys(&self, phase: Phase) -> Result<mock::keys::KeyList, Error> {
        mock::keys::rotate(&self.state, phase).await
    }

    pub fn add_fault(&self, rule: NewFault) -> Result<Rule, Error> {
        self.state.faults.add(rule)
    }

    pub fn clear_faults(&self) {
        self.state.faults.remove(None);
    }

    pub async fn mint_token(
        &self,
        req: mock::tokens::MintRequest,
    ) -> Result<mock::tokens::Minted, Error> {
        mock::tokens::mint(&self.state, req, &self.https, self.now()).await
    }

    /// A token of the test issuer for workload identity federation (`/_mock/federation`), named
    /// by the HTTPS URL.
    pub async fn federation_token(
        &self,
        req: mock::federation::FederationTokenRequest,
    ) -> Result<mock::federation::FederationToken, Error> {
        mock::federation::mint(req, &self.https, self.now()).await
    }

    pub async fn sign_in(
        &self,
        req: mock::signin::SignInRequest,
    ) -> Result<mock::signin::SignedIn, Error> {
        mock::signin::sign_in(&self.state, req, self.now()).await
    }

    /// The user's current one-time code by the virtual clock, if the user has TOTP.
    pub async fn totp(&self, user: &str) -> Result<Option<String>, Error> {
        Ok(mock::current_totp(&self.state, user)
            .await?
            .map(|(code, _)| code))
    }

    pub fn faults(&self) -> Vec<Rule> {
        self.state.faults.list()
    }

    /// Removes one fault rule; whether it existed.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.state.faults.remove(Some(id))
    }

    /// Adds a user, application, group or role assignment (`entry` in the fixture format, as
    /// JSON), usable by the next request.
    pub async fn create(
        &self,
        collection: Collection,
        entry: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        mock::directory::create(&self.state, collection, None, entry).await
    }

    /// Changes fields of an entry (`null` removes one).
    pub async fn update(
        &self,
        collection: Collection,
        key: &str,
        changes: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        mock::directory::patch(&self.state, collection, key, changes).await
    }

    pub async fn delete(&self, collection: Collection, key: &str) -> Result<(), Error> {
        mock::directory::delete(&self.state, collection, key).await
    }

    /// Everything back to the fixtures; new signing keys too when `keys`.
    pub async fn reset(&self, keys: bool) -> Result<(), Error> {
        mock::directory::reset(&self.state, keys).await
    }

    pub async fn sessions(&self) -> Result<Vec<mock::sessions::SessionView>, Error> {
        mock::sessions::sessions(&self.state).await
    }

    pub async fn end_session(&self, id: &str) -> Result<(), Error> {
        mock::sessions::end_session(&self.state, id).await
    }

    pub async fn refresh_families(
        &self,
    ) -> Result<Vec<crate::store::refresh::FamilySummary>, Error> {
        mock::sessions::families(&self.state).await
    }

    pub async fn revoke_family(&self, family_id: &str) -> Result<(), Error> {
        mock::sessions::revoke_family(&self.state, family_id).await
    }

    pub fn requests(&self, filter: &Filter) -> Vec<Entry> {
        self.state.requests.list(filter)
    }

    pub fn findings(&self) -> Vec<Finding> {
        self.state.requests.findings()
    }

    /// Stops the server and waits for it.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { handle.stop(false).await });
        }
    }
}
