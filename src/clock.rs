//! The injectable clock. Domain code takes `now` from here, never from the system clock, so that
//! expiry, TOTP windows and key ages can be tested and moved forward at run time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

/// The latest time the virtual clock may show: the start of the year 4000 (Unix seconds). With
/// the Unix epoch as the earliest, every time the server computes from the clock stays a valid
/// date (expiries, certificates valid for years after now: `time` ends at the year 9999) and no
/// Unix time goes negative (TOTP steps, ages).
pub const LATEST: i64 = 64_060_588_800;

/// `offset` held to the range that keeps the virtual time between the Unix epoch and [`LATEST`].
fn clamped(offset: i64) -> i64 {
    let real = OffsetDateTime::now_utc().unix_timestamp();
    offset.clamp(-real, LATEST - real)
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        // The offset is held in range when set ([`clamped`]); were it not, real time rather than
        // a panic.
        real.checked_add(time::Duration::seconds(self.offset()))
            .unwrap_or(real)
    }

    /// Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    /// Whether an offset keeps the virtual time between the Unix epoch and [`LATEST`] (the
    /// setters hold it there: the control API refuses one that does not).
    pub fn in_range(offset: i64) -> bool {
        clamped(offset) == offset
    }

    /// Moves the clock forward (or back, with a negative value) by `secs`, no further than the
    /// range of [`Clock::in_range`].
    pub fn advance(&self, secs: i64) {
        let _ = self
            .offset_secs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(clamped(o.saturating_add(secs)))
            });
    }

    /// Sets the offset from real time, held to the range of [`Clock::in_range`].
    pub fn set_offset(&self, secs: i64) {
        self.offset_secs.store(clamped(secs), Ordering::Relaxed);
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
    fn the_clock_stays_between_the_epoch_and_the_year_4000() {
        let clock = Clock::default();
        for (offset, sets) in [(i64::MAX, LATEST), (i64::MIN, 0)] {
            assert!(!Clock::in_range(offset));
            clock.set_offset(offset);
            assert!((clock.unix() - sets).abs() <= 1, "{offset}");
            clock.set_offset(0);
            clock.advance(offset);
            clock.advance(offset);
            assert!((clock.unix() - sets).abs() <= 1, "{offset}");
            clock.set_offset(0);
        }
        assert!(Clock::in_range(-3600) && Clock::in_range(100 * 365 * 86_400));
    }

    #[test]
    fn timestamps_use_entras_format() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_924_132).unwrap();
        assert_eq!(entra_timestamp(t), "2026-01-09 02:02:12Z");
    }
}
