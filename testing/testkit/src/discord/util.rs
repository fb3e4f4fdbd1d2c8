//! Snowflakes and timestamps, shaped as Discord shapes them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds between the Unix epoch and Discord's epoch (2015-01-01).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Hands out strictly increasing snowflakes: `(ms since Discord epoch) << 22 | counter`, so ids
/// sort by creation time exactly as Discord's do.
#[derive(Debug, Default)]
pub struct Snowflakes {
    last: u64,
}

impl Snowflakes {
    pub fn next_id(&mut self) -> u64 {
        let ms = now_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = ms << 22;
        self.last = candidate.max(self.last + 1);
        self.last
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The creation time a snowflake encodes, in Unix milliseconds.
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// ISO 8601 with microseconds and an explicit offset, as Discord writes timestamps.
pub fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let micros = (unix_ms % 1000) * 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso8601(1_700_000_000_123),
            "2023-11-14T22:13:20.123000+00:00"
        );
    }

    #[test]
    fn snowflakes_increase_and_encode_time() {
        let mut s = Snowflakes::default();
        let a = s.next_id();
        let b = s.next_id();
        assert!(b > a);
        assert!(snowflake_ms(a).abs_diff(now_ms()) < 5_000);
    }
}
