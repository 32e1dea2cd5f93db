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
    /// Outbound HTTP (an external issuer's OIDC discovery and keys), trusting the local CA.
    pub http: reqwest::Client,
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

    /// Replaces the directory (after the store changed).
    pub fn set_directory(&self, directory: Directory) {
        let directory = Arc::new(directory);
        match self.directory_cell.write() {
            Ok(mut d) => *d = directory,
            Err(poisoned) => *poisoned.into_inner() = directory,
        }
    }
}
