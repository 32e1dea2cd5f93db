//! Rendered discovery and JWKS bodies, kept until the key set changes. Keys include the request's
//! base URL (it is written into the documents), so the cache is bounded: past its size, bodies are
//! rendered without being kept. A key is a list of parts, looked up without joining them (the
//! metadata documents answer from here on every request: issue 12, JWKS and discovery against
//! `/healthz`).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::RwLock;

use actix_web::web::Bytes;

const MAX_ENTRIES: usize = 256;

#[derive(Debug, Default)]
pub struct RenderCache {
    hasher: RandomState,
    /// By the hash of the key's parts; an entry whose parts differ (a collision) is replaced.
    entries: RwLock<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: Vec<String>,
    generation: u64,
    body: Bytes,
}

impl RenderCache {
    /// The body for `key` at key-set `generation`, rendering it with `render` when missing.
    pub fn get_or_render(
        &self,
        key: &[&str],
        generation: u64,
        render: impl FnOnce() -> serde_json::Value,
    ) -> Bytes {
        let hash = self.hasher.hash_one(key);
        if let Ok(map) = self.entries.read() {
            if let Some(e) = map.get(&hash) {
                if e.generation == generation
                    && e.key.iter().map(String::as_str).eq(key.iter().copied())
                {
                    return e.body.clone();
                }
            }
        }
        let body = Bytes::from(render().to_string());
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, e| e.generation == generation);
            }
            if map.len() < MAX_ENTRIES || map.contains_key(&hash) {
                map.insert(
                    hash,
                    Entry {
                        key: key.iter().map(|p| (*p).to_string()).collect(),
                        generation,
                        body: body.clone(),
                    },
                );
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
        let first = cache.get_or_render(&["jwks", "a"], 1, render);
        let again = cache.get_or_render(&["jwks", "a"], 1, render);
        assert_eq!(first, again);
        assert_eq!(renders.get(), 1);
        let rotated = cache.get_or_render(&["jwks", "a"], 2, render);
        assert_eq!(renders.get(), 2);
        assert_ne!(first, rotated);
        // Parts are compared as parts: "jwks|a" + "b" is another key than "jwks" + "a|b".
        cache.get_or_render(&["jwks|a", "b"], 2, render);
        let other = cache.get_or_render(&["jwks", "a|b"], 2, render);
        assert_eq!(renders.get(), 4);
        assert_eq!(cache.get_or_render(&["jwks", "a|b"], 2, render), other);
        assert_eq!(renders.get(), 4);
    }
}
