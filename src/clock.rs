//! The injectable clock. Domain code takes `now` from here, never from the system clock, so that
//! expiry, TOTP windows and key ages can be tested and moved forward at run time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset())
    }

    /// Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    /// Moves the clock forward (or back, with a negative value) by `secs`, saturating.
    pub fn advance(&self, secs: i64) {
        let _ = self
            .offset_secs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(secs))
            });
    }

    pub fn set_offset(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }
}

/// Entra's timestamp format in error messages: `2026-01-09 02:02:12Z`.
pub fn entra_timestamp(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.unix();
        clock.advance(3600);
        assert!(clock.unix() >= before + 3600);
        assert_eq!(clock.offset(), 3600);
    }

    #[test]
    fn timestamps_use_entras_format() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_924_132).unwrap();
        assert_eq!(entra_timestamp(t), "2026-01-09 02:02:12Z");
    }
}
