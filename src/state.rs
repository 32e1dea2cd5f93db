//! What every handler shares.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::Directory;
use crate::keys::KeyRing;
use crate::mock::document::FixtureDocument;
use crate::mock::faults::Faults;
use crate::mock::requests::RequestLog;
use crate::render_cache::RenderCache;
use crate::store::Store;
use crate::tls::TlsMaterial;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub clock: Clock,
    /// Tenants, applications, groups and role assignments: replaced as a whole when the
    /// test-control API changes them (see [`AppState::directory`]).
    pub directory_cell: Arc<std::sync::RwLock<Arc<Directory>>>,
    pub settings: Arc<Settings>,
    pub tls: Arc<TlsMaterial>,
    pub documents: Arc<RenderCache>,
    /// Fault rules of the test-control API (in memory).
    pub faults: Arc<Faults>,
    /// The request log of the test-control API (in memory, bounded).
    pub requests: Arc<RequestLog>,
    /// The fixture document as loaded and as changed at run time.
    pub fixtures: Arc<FixtureDocument>,
    /// Outbound HTTP (an external issuer's OIDC discovery and keys), trusting the local CA: made
    /// on first use, so a server that never federates never pays for it (idle memory, start-up).
    pub http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// Federated issuers' key sets, cached between requests.
    pub issuer_keys: Arc<crate::oauth::federation::IssuerKeys>,
    /// The sign-in flows their pages carry (`signin::ctx`).
    pub flows: Arc<crate::flows::Flows>,
}

impl AppState {
    /// The directory as it is now. A request takes it once and keeps that snapshot, so a change
    /// made meanwhile never shows half-applied.
    pub fn directory(&self) -> Arc<Directory> {
        match self.directory_cell.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The outbound HTTP client: HTTP, or HTTPS signed by the local CA; no redirects, short
    /// timeouts.
    pub fn http(&self) -> crate::error::Result<&reqwest::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let client = reqwest::Certificate::from_pem(self.tls.ca_pem.as_bytes())
            .and_then(|ca| {
                reqwest::Client::builder()
                    .use_rustls_tls()
                    .add_root_certificate(ca)
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
            })
            .map_err(|e| {
                crate::error::Error::Internal(anyhow::anyhow!("outbound HTTP client: {e}"))
            })?;
        Ok(self.http.get_or_init(|| client))
    }

    /// Replaces the directory (after the store changed).
    pub fn set_directory(&self, directory: Directory) {
        let directory = Arc::new(directory);
        match self.directory_cell.write() {
            Ok(mut d) => *d = directory,
            Err(poisoned) => *poisoned.into_inner() = directory,
        }
    }
}
