//! What every handler shares.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::Directory;
use crate::keys::KeyRing;
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
    pub directory: Arc<Directory>,
    pub settings: Arc<Settings>,
    pub tls: Arc<TlsMaterial>,
    pub documents: Arc<RenderCache>,
    /// Fault rules of the test-control API (in memory).
    pub faults: Arc<Faults>,
    /// The request log of the test-control API (in memory, bounded).
    pub requests: Arc<RequestLog>,
}
