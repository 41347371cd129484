//! Times as on-call reads them at 3 a.m.: a date and a time in UTC (pasteable into a ticket or a log
//! search) with how long ago, and spans ("3 h 12 min").

use crate::failure::Failure;
use reactor_aws::records::stamp;
use time::OffsetDateTime;

/// `24h`, `30m`, `7d`, `90s` → seconds; `flag` names the option in the error.
pub fn parse_age(flag: &str, text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::BadInput(format!(
            "{flag} {text:?}: expected a number and a unit, e.g. 30m, 24h, 7d"
        ))
    };
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// "3 min ago", "in 2 h".
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (t - now).whole_seconds();
    let magnitude = seconds.unsigned_abs();
    let amount = match magnitude {
        0..=59 => format!("{magnitude} s"),
        60..=3599 => format!("{} min", magnitude / 60),
        3600..=172_799 => format!("{} h", magnitude / 3600),
        _ => format!("{} d", magnitude / 86_400),
    };
    if seconds > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `2026-11-21 02:30:01Z`: the stored time, with a space instead of the `T` so that it reads as a date and a
/// time; still UTC, as every log line and console page can be asked in.
pub fn date_time(t: OffsetDateTime) -> String {
    stamp(t).replacen('T', " ", 1)
}

/// `2026-11-21 02:30:01Z (3 min ago)`: when, and how long ago from `now` (`--now`).
pub fn when(t: OffsetDateTime, now: OffsetDateTime) -> String {
    format!("{} ({})", date_time(t), relative(t, now))
}

/// A span of time in its two largest units: `42 s`, `12 min 5 s`, `3 h 12 min`, `2 d 4 h`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ages_and_relative_times() {
        #[rustfmt::skip]
        let ages: &[(&str, Option<i64>)] = &[("90s", Some(90)), ("30m", Some(1800)), ("24h", Some(86_400)), ("7d", Some(604_800)), ("24", None), ("h", None), ("1w", None), ("-1h", None), ("99999999999999999d", None)];
        for (text, expected) in ages {
            assert_eq!(parse_age("--since", text).ok(), *expected, "{text}");
        }
        let now = datetime!(2026-11-21 12:00:00 UTC);
        #[rustfmt::skip]
        let times: &[(OffsetDateTime, &str)] = &[(datetime!(2026-11-21 11:57:00 UTC), "3 min ago"), (datetime!(2026-11-21 12:00:30 UTC), "in 30 s"), (datetime!(2026-11-20 12:00:00 UTC), "24 h ago"), (datetime!(2026-11-11 12:00:00 UTC), "10 d ago")];
        for (time, expected) in times {
            assert_eq!(relative(*time, now), *expected, "{time}");
        }
    }

    #[test]
    fn dates_and_spans() {
        let now = datetime!(2026-11-21 02:33:01 UTC);
        assert_eq!(
            when(datetime!(2026-11-21 02:30:01 UTC), now),
            "2026-11-21 02:30:01Z (3 min ago)"
        );
        #[rustfmt::skip]
        let spans: &[(i64, &str)] = &[(-5, "0 s"), (42, "42 s"), (725, "12 min 5 s"), (11_520, "3 h 12 min"), (187_200, "2 d 4 h")];
        for (seconds, expected) in spans {
            assert_eq!(span(*seconds), *expected, "{seconds}");
        }
    }
}
