//! Rendered discovery and JWKS bodies, kept until the key set changes. Keys include the request's
//! base URL (it is written into the documents), so the cache is bounded: past its size, bodies are
//! rendered without being kept.

use std::collections::HashMap;
use std::sync::RwLock;

use actix_web::web::Bytes;

const MAX_ENTRIES: usize = 256;

#[derive(Debug, Default)]
pub struct RenderCache {
    entries: RwLock<HashMap<String, (u64, Bytes)>>,
}

impl RenderCache {
    /// The body for `key` at key-set `generation`, rendering it with `render` when missing.
    pub fn get_or_render(
        &self,
        key: &str,
        generation: u64,
        render: impl FnOnce() -> serde_json::Value,
    ) -> Bytes {
        if let Ok(map) = self.entries.read() {
            if let Some((g, body)) = map.get(key) {
                if *g == generation {
                    return body.clone();
                }
            }
        }
        let body = Bytes::from(render().to_string());
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (g, _)| *g == generation);
            }
            if map.len() < MAX_ENTRIES {
                map.insert(key.to_string(), (generation, body.clone()));
            }
        }
        body
    }
}
