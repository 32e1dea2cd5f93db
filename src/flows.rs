//! The sign-in flows of the server's run (`signin::ctx`): the key that seals the flows the pages
//! carry, and which flows ended. In memory only, as long as the run: a leaf, so that the shared
//! state can hold it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::crypto::{SealError, SealKey};

/// Flows remembered at most, one bit each ([`Ended`]): 4,194,304 (512 KiB). A flow still in
/// progress when this many later ones have started and one of those ends counts as ended.
pub const FLOW_WINDOW: u64 = 1 << 22;

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
            ended: Mutex::new(Ended::new(FLOW_WINDOW)),
        })
    }

    /// Ends every flow in progress (`POST /_mock/reset`).
    pub fn reset(&self) -> Result<(), SealError> {
        self.key.renew()?;
        *self.ended() = Ended::new(FLOW_WINDOW);
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

    /// Opens again a flow its caller ended ([`Flows::end`]) before work that then failed and
    /// wrote nothing (the end of a sign-in whose transaction was refused): its page may be posted
    /// again rather than the sign-in started over.
    pub fn reopen(&self, id: u64) {
        self.ended().reopen(id)
    }
}

/// Which flows ended: every flow up to `floor`, and one bit for each flow after it. A flow that
/// ended never starts again. The bits start at the oldest flow not known to have ended, so
/// flows that end in about the order they started leave a few words behind; at most `window`
/// bits are kept, and a flow that ends further than that from the oldest one not ended moves
/// the floor past the oldest, which then count as ended. Ids count up by start, not by the
/// virtual clock, which a test may move back.
///
/// Before, the last 5,000 ended ids were kept (about 50 bytes each) and forgetting one ended
/// every flow that started before it: a sign-in left open while 5,000 others ended was refused
/// at its next step.
#[derive(Debug)]
struct Ended {
    /// Flows with an id up to this one count as ended.
    floor: u64,
    /// Bit `i` of word `w` is flow `floor + 1 + 64 * w + i`: set when it ended.
    words: VecDeque<u64>,
    /// Bits kept at most (a multiple of 64).
    window: u64,
}

impl Ended {
    fn new(window: u64) -> Ended {
        Ended {
            floor: 0,
            words: VecDeque::new(),
            window: window.max(64) / 64 * 64,
        }
    }

    /// Where flow `id` (above the floor) is: its word and its bit.
    fn place(&self, id: u64) -> (usize, u64) {
        let offset = id - self.floor - 1;
        ((offset / 64) as usize, 1 << (offset % 64))
    }

    fn has(&self, id: u64) -> bool {
        if id <= self.floor {
            return true;
        }
        let (word, bit) = self.place(id);
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    fn end(&mut self, id: u64) -> bool {
        if self.has(id) {
            return false;
        }
        // Too far from the floor: the oldest words go, their flows counted as ended.
        let offset = id - self.floor - 1;
        if offset >= self.window {
            let gone = (offset - self.window) / 64 + 1;
            let kept = usize::try_from(gone).map_or(0, |g| self.words.len().saturating_sub(g));
            self.words.drain(..self.words.len() - kept);
            self.floor += 64 * gone;
        }
        let (word, bit) = self.place(id);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= bit;
        // Words whose flows all ended move the floor on.
        while self.words.front() == Some(&u64::MAX) {
            self.words.pop_front();
            self.floor += 64;
        }
        true
    }

    /// Clears the bit of flow `id`, moving the floor back below it if it had passed (the flows
    /// between count as ended, as they did), unless that would take more than the window.
    fn reopen(&mut self, id: u64) {
        while id <= self.floor
            && self.floor >= 64
            && (self.words.len() as u64 + 1) * 64 <= self.window
        {
            self.words.push_front(u64::MAX);
            self.floor -= 64;
        }
        if id > self.floor {
            let (word, bit) = self.place(id);
            if let Some(w) = self.words.get_mut(word) {
                *w &= !bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ended;

    #[test]
    fn a_flow_ends_once_and_those_that_end_in_order_leave_nothing_behind() {
        let mut ended = Ended::new(128);
        assert!(!ended.has(1));
        assert!(ended.end(1));
        assert!(ended.has(1));
        assert!(!ended.end(1));
        for id in 2..=1_000 {
            assert!(ended.end(id), "{id}");
        }
        assert_eq!(ended.floor, 960);
        assert_eq!(ended.words.len(), 1);
        assert!((1..=1_000).all(|id| ended.has(id) && !ended.end(id)));
        assert!(!ended.has(1_001));
        assert!(ended.end(1_001));
    }

    #[test]
    fn a_flow_left_open_stays_open_until_the_window_passes_it() {
        let mut ended = Ended::new(4_096);
        // Flow 1 is left open while 4,000 later ones end, out of order.
        for id in (2..=4_001).rev() {
            assert!(ended.end(id));
        }
        assert!(!ended.has(1), "the open flow counts as ended");
        assert_eq!(ended.floor, 0);
        assert_eq!(ended.words.len(), 63);
        assert!(ended.end(1));
        assert!(!ended.end(1));
        // Once it ended, the words of the flows before 4,033 go.
        assert_eq!(ended.floor, 3_968);
        assert!((1..=4_001).all(|id| ended.has(id)));
        // Flow 5,000 left open: the window starts at the word that holds it (4,993-5,056), and
        // a flow that ends 4,096 or more after that start passes it.
        for id in 4_002..5_000 {
            assert!(ended.end(id));
        }
        assert_eq!(ended.floor, 4_992);
        assert!(ended.end(9_000));
        assert!(!ended.has(5_000));
        assert!(ended.end(9_100));
        assert!(
            ended.has(5_000),
            "past the window, an open flow counts as ended"
        );
        assert!(!ended.end(5_000));
        assert!(!ended.has(9_095));
        assert!(ended.words.len() as u64 * 64 <= 4_096);
    }

    #[test]
    fn a_flow_opened_again_ends_again_even_after_the_floor_passed_it() {
        let mut ended = Ended::new(128);
        assert!(ended.end(5));
        ended.reopen(5);
        assert!(!ended.has(5));
        assert!(ended.end(5));
        // Flows 1 to 64 end, in order: the floor passes them, and flow 64 opens again.
        for id in (1..=64).filter(|&id| id != 5) {
            assert!(ended.end(id));
        }
        assert_eq!(ended.floor, 64);
        ended.reopen(64);
        assert_eq!(ended.floor, 0);
        assert!(!ended.has(64));
        assert!((1..64).all(|id| ended.has(id)), "the others stay ended");
        assert!(ended.end(64));
        assert!(!ended.end(64));
        assert_eq!(ended.floor, 64);
        // Not further back than the window: flow 1 stays ended once 128 more are kept.
        for id in 66..=192 {
            assert!(ended.end(id));
        }
        ended.reopen(1);
        assert!(ended.has(1));
        assert!(ended.words.len() as u64 * 64 <= 128);
    }
}
