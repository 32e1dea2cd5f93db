//! The sign-in flows of the server's run (`signin::ctx`): the key that seals the flows the pages
//! carry, and which flows ended. In memory only, as long as the run: a leaf, so that the shared
//! state can hold it.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::crypto::{SealError, SealKey};

/// Ended flows remembered at most (the first ended go first, [`Ended`]).
pub const MAX_ENDED_FLOWS: usize = 5_000;

/// The sign-in flows of this server's run: the key that seals them and the ones that ended.
#[derive(Debug)]
pub struct Flows {
    key: SealKey,
    ended: Mutex<Ended>,
}

impl Flows {
    pub fn new() -> Result<Flows, SealError> {
        Ok(Flows {
            key: SealKey::new()?,
            ended: Mutex::new(Ended::new(MAX_ENDED_FLOWS)),
        })
    }

    /// Ends every flow in progress (`POST /_mock/reset`).
    pub fn reset(&self) -> Result<(), SealError> {
        self.key.renew()?;
        *self.ended() = Ended::new(MAX_ENDED_FLOWS);
        Ok(())
    }

    fn ended(&self) -> std::sync::MutexGuard<'_, Ended> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `plain` sealed for `purpose` ([`SealKey::seal`]).
    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<String, SealError> {
        self.key.seal(purpose, plain)
    }

    /// What [`Flows::seal`] sealed for `purpose` in this run since the last reset.
    pub fn open(&self, purpose: &[u8], sealed: &str) -> Option<Vec<u8>> {
        self.key.open(purpose, sealed)
    }

    /// Whether the flow `id` (expiring at `expires_at`) ended.
    pub fn has_ended(&self, id: u128, expires_at: i64) -> bool {
        self.ended().has(id, expires_at)
    }

    /// Ends the flow; true for exactly one caller.
    pub fn end(&self, id: u128, expires_at: i64) -> bool {
        self.ended().end(id, expires_at)
    }
}

/// The ids of the flows that ended, until they would have expired anyway. At most `cap` (the
/// first ended go first); a flow that expires no later than one that went is refused as ended,
/// so forgetting one never lets it be used again.
#[derive(Debug)]
struct Ended {
    ids: HashSet<u128>,
    order: VecDeque<(u128, i64)>,
    cap: usize,
    /// Flows that expire at or before this count as ended.
    floor: i64,
}

impl Ended {
    fn new(cap: usize) -> Ended {
        Ended {
            ids: HashSet::new(),
            order: VecDeque::new(),
            cap,
            floor: i64::MIN,
        }
    }

    fn has(&self, id: u128, expires_at: i64) -> bool {
        expires_at <= self.floor || self.ids.contains(&id)
    }

    fn end(&mut self, id: u128, expires_at: i64) -> bool {
        if self.has(id, expires_at) {
            return false;
        }
        while self.order.len() >= self.cap {
            let Some((gone, at)) = self.order.pop_front() else {
                break;
            };
            self.ids.remove(&gone);
            self.floor = self.floor.max(at);
        }
        self.ids.insert(id);
        self.order.push_back((id, expires_at));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Ended;

    #[test]
    fn a_flow_ends_once_and_one_forgotten_for_the_cap_stays_ended() {
        let mut ended = Ended::new(3);
        assert!(ended.end(1, 100));
        assert!(!ended.end(1, 100));
        assert!(ended.end(2, 90));
        assert!(ended.end(3, 110));
        // The fourth evicts the first ended (1, expiring at 100): it, and every flow that
        // expires by then, counts as ended still.
        assert!(ended.end(4, 120));
        assert_eq!(ended.ids.len(), 3);
        assert!(ended.has(1, 100));
        assert!(!ended.end(1, 100));
        assert!(!ended.end(5, 95));
        // Later flows end as before.
        assert!(ended.has(3, 110));
        assert!(!ended.has(6, 130));
        assert!(ended.end(6, 130));
    }
}
