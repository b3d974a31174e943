//! Formatting of event timestamps (nanoseconds since the epoch, UTC) the way Falco prints
//! them. Falco prints `evt.time` in local time; the sensor prints UTC so that alerts from
//! nodes in different zones line up.

use std::fmt::Write;

/// (year, month, day) of a day number counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
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

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    nanos: u64,
}

fn parts(timestamp_ns: u64) -> Parts {
    let seconds = timestamp_ns / 1_000_000_000;
    let nanos = timestamp_ns % 1_000_000_000;
    let days = (seconds / 86_400) as i64;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: of_day / 3600,
        minute: (of_day % 3600) / 60,
        second: of_day % 60,
        nanos,
    }
}

/// `2024-05-01T12:34:56.123456789Z`: RFC 3339 with nanoseconds, as Falco's JSON `time`.
pub fn rfc3339_nanos(timestamp_ns: u64) -> String {
    let p = parts(timestamp_ns);
    let mut out = String::with_capacity(30);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.nanos
    );
    out
}

/// `12:34:56.123456789` (`evt.time`).
pub fn time_of_day_nanos(timestamp_ns: u64) -> String {
    let p = parts(timestamp_ns);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        p.hour, p.minute, p.second, p.nanos
    )
}

/// `12:34:56` (`evt.time.s`).
pub fn time_of_day(timestamp_ns: u64) -> String {
    let p = parts(timestamp_ns);
    format!("{:02}:{:02}:{:02}", p.hour, p.minute, p.second)
}

/// `2024-05-01 12:34:56.123456789` (`evt.datetime`).
pub fn date_time_nanos(timestamp_ns: u64) -> String {
    let p = parts(timestamp_ns);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.nanos
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        // 2024-02-29T23:59:59.000000042Z (leap day)
        let ts = 1_709_251_199_000_000_042;
        assert_eq!(rfc3339_nanos(ts), "2024-02-29T23:59:59.000000042Z");
        assert_eq!(time_of_day_nanos(ts), "23:59:59.000000042");
        assert_eq!(time_of_day(ts), "23:59:59");
        assert_eq!(date_time_nanos(ts), "2024-02-29 23:59:59.000000042");
    }
}
