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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_body_is_rendered_once_per_key_generation() {
        let cache = RenderCache::default();
        let renders = Cell::new(0);
        let render = || {
            renders.set(renders.get() + 1);
            serde_json::json!({ "n": renders.get() })
        };
        let first = cache.get_or_render("jwks|a", 1, render);
        let again = cache.get_or_render("jwks|a", 1, render);
        assert_eq!(first, again);
        assert_eq!(renders.get(), 1);
        let rotated = cache.get_or_render("jwks|a", 2, render);
        assert_eq!(renders.get(), 2);
        assert_ne!(first, rotated);
    }
}
