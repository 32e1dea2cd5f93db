//! The sign-in flows of the server's run (`signin::ctx`): the key that seals the flows the pages
//! carry, and which flows ended. In memory only, as long as the run: a leaf, so that the shared
//! state can hold it.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::crypto::{SealError, SealKey};

/// Ended flows remembered at most (the first ended go first, [`Ended`]).
pub const MAX_ENDED_FLOWS: usize = 5_000;

/// The sign-in flows of this server's run: the key that seals them, their ids, and the ones that
/// ended.
#[derive(Debug)]
pub struct Flows {
    key: SealKey,
    /// The last id given (ids count from 1, in the order the flows start).
    last: AtomicU64,
    ended: Mutex<Ended>,
}

impl Flows {
    pub fn new() -> Result<Flows, SealError> {
        Ok(Flows {
            key: SealKey::new()?,
            last: AtomicU64::new(0),
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

    /// The id of a flow that starts now: above every id given before in this run.
    pub fn next_id(&self) -> u64 {
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `plain` sealed for `purpose` ([`SealKey::seal`]).
    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Result<String, SealError> {
        self.key.seal(purpose, plain)
    }

    /// What [`Flows::seal`] sealed for `purpose` in this run since the last reset.
    pub fn open(&self, purpose: &[u8], sealed: &str) -> Option<Vec<u8>> {
        self.key.open(purpose, sealed)
    }

    /// Whether the flow `id` ended.
    pub fn has_ended(&self, id: u64) -> bool {
        self.ended().has(id)
    }

    /// Ends the flow; true for exactly one caller.
    pub fn end(&self, id: u64) -> bool {
        self.ended().end(id)
    }
}

/// The ids of the flows that ended, at most `cap` (the first ended go first). Forgetting one
/// ends every flow that started before it as well (`floor`), so a flow that ended never
/// starts again. Ids count up by start, not by the virtual clock, which a test may move back.
#[derive(Debug)]
struct Ended {
    ids: HashSet<u64>,
    order: VecDeque<u64>,
    cap: usize,
    /// Flows with an id up to this one count as ended.
    floor: u64,
}

impl Ended {
    fn new(cap: usize) -> Ended {
        Ended {
            ids: HashSet::new(),
            order: VecDeque::new(),
            cap,
            floor: 0,
        }
    }

    fn has(&self, id: u64) -> bool {
        id <= self.floor || self.ids.contains(&id)
    }

    fn end(&mut self, id: u64) -> bool {
        if self.has(id) {
            return false;
        }
        while self.order.len() >= self.cap {
            let Some(gone) = self.order.pop_front() else {
                break;
            };
            self.ids.remove(&gone);
            self.floor = self.floor.max(gone);
        }
        self.ids.insert(id);
        self.order.push_back(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Ended;

    #[test]
    fn a_flow_ends_once_and_one_forgotten_for_the_cap_stays_ended() {
        let mut ended = Ended::new(3);
        assert!(ended.end(5));
        assert!(!ended.end(5));
        assert!(ended.end(2));
        assert!(ended.end(7));
        // The fourth evicts the first ended (5): it, and every flow that started before it,
        // counts as ended still; later ones end as before.
        assert!(ended.end(8));
        assert_eq!(ended.ids.len(), 3);
        assert!(ended.has(5));
        assert!(!ended.end(5));
        assert!(ended.has(4));
        assert!(!ended.end(1));
        assert!(ended.has(7));
        assert!(!ended.has(6));
        assert!(ended.end(6));
    }
}
