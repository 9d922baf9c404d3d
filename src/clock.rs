//! Wall-clock readings, passed in rather than fetched: the pipeline takes `processed_at` from
//! its caller, and the worker gets a [`Clock`] from `pagesift run` ([`SystemClock`]) or from a
//! test ([`FixedClock`]).

use std::fmt::Debug;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A source of the current time.
pub trait Clock: Debug + Send + Sync {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;

    /// The current time as RFC 3339 (`processed_at` of events and summaries).
    fn now_rfc3339(&self) -> String {
        rfc3339(self.now())
    }

    /// The current time in whole seconds since the Unix epoch (the AMQP `timestamp` property;
    /// 0 before 1970).
    fn unix_seconds(&self) -> u64 {
        u64::try_from(self.now().unix_timestamp()).unwrap_or(0)
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that always reads the same time (tests, reproducible output).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// A time as RFC 3339; a time RFC 3339 cannot express (before year 0) reads as the epoch.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The system clock's current time as RFC 3339 (for the offline commands).
pub fn now_rfc3339() -> String {
    SystemClock.now_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_reads_its_time_in_both_forms() {
        let clock = FixedClock(OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time"));
        assert_eq!(clock.now_rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(clock.unix_seconds(), 1_700_000_000);
    }

    #[test]
    fn times_before_the_epoch_give_zero_seconds() {
        let clock = FixedClock(OffsetDateTime::from_unix_timestamp(-5).expect("time"));
        assert_eq!(clock.unix_seconds(), 0);
    }
}
