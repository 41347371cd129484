//! When a job's schedule fires: EventBridge Scheduler's expressions — `cron(…)` in AWS's six-field dialect,
//! `rate(…)`, `at(…)` — evaluated in the schedule's time zone, so that `jobs list` can say when a job runs next
//! and a tick that should have come and did not is noticed (MISSED).
//!
//! The cron dialect (EventBridge's "Cron expressions" reference): `minutes hours day-of-month month day-of-week
//! year`; `,` `-` `*` `/` in every field; `?` in exactly one of the two day fields; day-of-month `L` (the last
//! day) and `nW` (the weekday nearest day n, within its month); day-of-week `1-7` or `SUN-SAT` with **1 = SUN**
//! (not Unix's 0), `L` (the last day of the week: every Saturday), `nL` (the month's last weekday n) and `n#k`
//! (its k-th weekday n), no `/` (AWS refuses a step there); years 1970–2199. Start and end bound cron and rate
//! schedules; a one-time `at(…)` ignores them, as Scheduler does.
//!
//! Daylight saving time as Scheduler documents it: a tick on a local time that does not exist (the hour skipped
//! in spring) does not happen; a local time that happens twice (autumn) fires once, at the first.
//! Time zones come from the IANA database bundled into the binary, so every machine answers alike.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

/// How far ahead (or back) a tick is looked for: a cron whose next tick is further than this (a 29 February
/// that is also a Monday, say) is reported as having none in reach.
const REACH_DAYS: usize = 366 * 8;
const FIRST_YEAR: i16 = 1970;
const LAST_YEAR: i16 = 2199;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A schedule's expression with its time zone and start and end: the instants it fires at.
#[derive(Debug, Clone)]
pub struct Timetable {
    expression: Expression,
    zone: TimeZone,
    /// Ticks before this instant do not happen (`startDate`, UTC).
    start: Option<Timestamp>,
    /// Nor ticks after this one (`endDate`, UTC).
    end: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
enum Expression {
    Cron(Box<Cron>),
    /// Every this many seconds from `start`; without a start Scheduler counts from when the schedule was
    /// created, which nobody recorded, so such a rate has no ticks to name.
    Rate(i64),
    /// Once, at this local date and time.
    At(DateTime),
}

#[derive(Debug, Clone, PartialEq)]
struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Days,
    months: Vec<bool>,
    years: Vec<bool>,
}

/// The day fields: exactly one of them says something, the other is `?`.
#[derive(Debug, Clone, PartialEq)]
enum Days {
    /// Days of the month, 1–31 (`*` is all of them).
    OfMonth(Vec<bool>),
    /// `L`: the month's last day.
    LastOfMonth,
    /// `nW`: the weekday (MON–FRI) nearest day n, never in another month.
    NearestWeekday(i8),
    /// Days of the week, 1 = SUN … 7 = SAT.
    OfWeek(Vec<bool>),
    /// `n#k`: the k-th weekday n of the month.
    NthOfWeek(i8, i8),
    /// `nL`: the month's last weekday n.
    LastOfWeek(i8),
}

/// Why `expression` is not one EventBridge Scheduler takes, if it is not.
pub fn expression_problem(expression: &str) -> Option<String> {
    parse(expression).err()
}

/// Why `name` is not a time zone Scheduler knows, if it is not.
pub fn zone_problem(name: &str) -> Option<String> {
    TimeZone::get(name).is_err().then(|| {
        format!("{name:?} is not an IANA time zone name like \"Europe/Berlin\" or \"UTC\"")
    })
}

/// A tick with no run is MISSED this long after it (plus the schedule's flexible window): long enough for a
/// delivery Scheduler retried, short enough that on-call hears of it the same hour.
pub const MISSED_AFTER_SECONDS: i64 = 600;

impl Timetable {
    /// The tick whose run should exist by `now`: the last at or before `now − MISSED_AFTER_SECONDS − the
    /// flexible window`, if it came after `since` (when the job was applied or last resumed: ticks before
    /// that were not this schedule's to fire).
    pub fn tick_due_by(&self, now: i64, flexible_window_minutes: u32, since: i64) -> Option<i64> {
        let grace = MISSED_AFTER_SECONDS + i64::from(flexible_window_minutes) * 60;
        self.last_at_or_before(now - grace)
            .filter(|tick| *tick > since)
    }

    /// A schedule as a job file gives it: `cron(…)`, `rate(…)` or `at(…)`, an IANA time zone (UTC without one),
    /// and start and end as `2027-01-01T00:00:00` in UTC. The error names what is wrong, for `schedule.<field>`.
    pub fn new(
        expression: &str,
        timezone: Option<&str>,
        start_date: Option<&str>,
        end_date: Option<&str>,
    ) -> Result<Timetable, String> {
        let zone = match timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name)
                .map_err(|_| format!("timezone: {}", zone_problem(name).unwrap_or_default()))?,
        };
        let utc = |field: &str, text: Option<&str>| -> Result<Option<Timestamp>, String> {
            text.map(|t| {
                local_date_time(t)
                    .and_then(|dt| TimeZone::UTC.to_timestamp(dt).ok())
                    .ok_or_else(|| {
                        format!(
                            "{field}: {t:?} is not a date and time like \"2027-01-01T00:00:00\""
                        )
                    })
            })
            .transpose()
        };
        Ok(Timetable {
            expression: parse(expression).map_err(|e| format!("expression: {e}"))?,
            zone,
            start: utc("startDate", start_date)?,
            end: utc("endDate", end_date)?,
        })
    }

    /// The first tick after `after` (epoch seconds), if there is one in reach.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let after = Timestamp::from_second(after).ok()?;
        let found = match &self.expression {
            Expression::Cron(cron) => {
                let mut date = after.to_zoned(self.zone.clone()).date();
                let mut found = None;
                for _ in 0..REACH_DAYS {
                    if self
                        .end
                        .is_some_and(|end| first_instant(date, &self.zone) > end)
                    {
                        break;
                    }
                    if let Some(t) = cron
                        .ticks_on(date, &self.zone)
                        .into_iter()
                        .find(|t| *t > after && self.within(*t))
                    {
                        found = Some(t);
                        break;
                    }
                    date = date.tomorrow().ok()?;
                }
                found
            }
            Expression::Rate(period) => {
                let start = self.start?;
                let elapsed = after.as_second() - start.as_second();
                let k = if elapsed < 0 { 0 } else { elapsed / period + 1 };
                Timestamp::from_second(start.as_second() + k * period).ok()
            }
            Expression::At(at) => self
                .zone
                .to_ambiguous_timestamp(*at)
                .compatible()
                .ok()
                .filter(|t| *t > after),
        };
        found.filter(|t| self.within(*t)).map(|t| t.as_second())
    }

    /// The last tick at or before `at` (epoch seconds), if there is one in reach.
    pub fn last_at_or_before(&self, at: i64) -> Option<i64> {
        let at = Timestamp::from_second(at).ok()?;
        let found = match &self.expression {
            Expression::Cron(cron) => {
                let mut date = at.to_zoned(self.zone.clone()).date();
                let mut found = None;
                for _ in 0..REACH_DAYS {
                    if self
                        .start
                        .is_some_and(|start| last_instant(date, &self.zone) < start)
                    {
                        break;
                    }
                    if let Some(t) = cron
                        .ticks_on(date, &self.zone)
                        .into_iter()
                        .rev()
                        .find(|t| *t <= at && self.within(*t))
                    {
                        found = Some(t);
                        break;
                    }
                    date = date.yesterday().ok()?;
                }
                found
            }
            Expression::Rate(period) => {
                let start = self.start?;
                let elapsed = at.as_second() - start.as_second();
                (elapsed >= 0)
                    .then(|| {
                        Timestamp::from_second(start.as_second() + elapsed / period * period).ok()
                    })
                    .flatten()
            }
            Expression::At(local) => self
                .zone
                .to_ambiguous_timestamp(*local)
                .compatible()
                .ok()
                .filter(|t| *t <= at),
        };
        found.filter(|t| self.within(*t)).map(|t| t.as_second())
    }

    /// Whether `t` is within the start and end (a one-time schedule has neither).
    fn within(&self, t: Timestamp) -> bool {
        matches!(self.expression, Expression::At(_))
            || (self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t <= e))
    }
}

fn first_instant(date: Date, zone: &TimeZone) -> Timestamp {
    zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .earlier()
        .unwrap_or(Timestamp::MIN)
}

fn last_instant(date: Date, zone: &TimeZone) -> Timestamp {
    zone.to_ambiguous_timestamp(date.at(23, 59, 59, 0))
        .later()
        .unwrap_or(Timestamp::MAX)
}

impl Cron {
    /// The day's ticks in time order: a local time the clocks skip has none, one they pass twice has the first.
    fn ticks_on(&self, date: Date, zone: &TimeZone) -> Vec<Timestamp> {
        if !self.matches(date) {
            return Vec::new();
        }
        let mut ticks = Vec::new();
        for hour in (0..24).filter(|h| self.hours[*h]) {
            for minute in (0..60).filter(|m| self.minutes[*m]) {
                let local = date.at(hour as i8, minute as i8, 0, 0);
                let offset = match zone.to_ambiguous_timestamp(local).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset,
                    AmbiguousOffset::Gap { .. } => continue,
                    AmbiguousOffset::Fold { before, .. } => before,
                };
                if let Ok(t) = offset.to_timestamp(local) {
                    ticks.push(t);
                }
            }
        }
        ticks
    }

    fn matches(&self, date: Date) -> bool {
        let year = date.year();
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year)
            || !self.years[(year - FIRST_YEAR) as usize]
            || !self.months[date.month() as usize]
        {
            return false;
        }
        let weekday = date.weekday().to_sunday_one_offset();
        let days_in_month = date.days_in_month();
        match &self.days {
            Days::OfMonth(days) => days[date.day() as usize],
            Days::LastOfMonth => date.day() == days_in_month,
            Days::NearestWeekday(n) => nearest_weekday(date, *n) == Some(date.day()),
            Days::OfWeek(days) => days[weekday as usize],
            Days::NthOfWeek(w, k) => weekday == *w && (date.day() - 1) / 7 + 1 == *k,
            Days::LastOfWeek(w) => weekday == *w && date.day() + 7 > days_in_month,
        }
    }
}

/// The day of `date`'s month that `nW` means: day n if it is a weekday, else the nearest weekday in the same
/// month (a Saturday the 1st moves to Monday the 3rd); none if the month has no day n.
fn nearest_weekday(date: Date, n: i8) -> Option<i8> {
    let last = date.days_in_month();
    if n > last {
        return None;
    }
    let day = Date::new(date.year(), date.month(), n).ok()?;
    Some(match day.weekday().to_sunday_one_offset() {
        7 if n == 1 => 3,
        7 => n - 1,
        1 if n == last => n - 2,
        1 => n + 1,
        _ => n,
    })
}

fn parse(expression: &str) -> Result<Expression, String> {
    let inner = |kind: &str| {
        expression
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(fields) = inner("cron") {
        return parse_cron(fields).map(|c| Expression::Cron(Box::new(c)));
    }
    if let Some(rate) = inner("rate") {
        let mut parts = rate.split_whitespace();
        let value = parts.next().and_then(|v| v.parse::<i64>().ok());
        let unit = match (value, parts.next(), parts.next()) {
            (Some(1), Some("minute"), None) | (Some(2..), Some("minutes"), None) => 60,
            (Some(1), Some("hour"), None) | (Some(2..), Some("hours"), None) => 3600,
            (Some(1), Some("day"), None) | (Some(2..), Some("days"), None) => 86_400,
            _ => {
                return Err(format!(
                    "rate takes a positive number and a unit: \"rate(1 hour)\", \"rate(15 minutes)\" (got {expression:?})"
                ))
            }
        };
        return Ok(Expression::Rate(value.unwrap_or(1).saturating_mul(unit)));
    }
    if let Some(at) = inner("at") {
        return local_date_time(at).map(Expression::At).ok_or_else(|| {
            format!(
                "at takes a date and time like \"at(2027-01-01T00:00:00)\" (got {expression:?})"
            )
        });
    }
    Err(format!("{expression:?} is not cron(…), rate(…) or at(…)"))
}

/// `2027-01-01T00:00:00` exactly (Scheduler's form: no zone, no fraction, seconds written).
fn local_date_time(text: &str) -> Option<DateTime> {
    let shape = text.len() == "2027-01-01T00:00:00".len() && text.as_bytes()[10] == b'T';
    text.parse::<DateTime>().ok().filter(|_| shape)
}

fn parse_cron(text: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minutes, hours, day_of_month, month, day_of_week, year] = fields[..] else {
        return Err(format!(
            "cron takes 6 fields (minutes hours day-of-month month day-of-week year), got {} in \"cron({text})\"",
            fields.len()
        ));
    };
    let days = match (day_of_month, day_of_week) {
        ("?", "?") | (_, "?") if day_of_month == "?" => {
            return Err("cron: one of day-of-month and day-of-week must be ? and the other not".into())
        }
        (_, "?") => day_of_month_field(day_of_month)?,
        ("?", _) => day_of_week_field(day_of_week)?,
        _ => {
            return Err(format!(
                "cron: day-of-month ({day_of_month}) and day-of-week ({day_of_week}) cannot both be given: make one of them ?"
            ))
        }
    };
    Ok(Cron {
        minutes: field("minutes", minutes, 0, 59, &[])?,
        hours: field("hours", hours, 0, 23, &[])?,
        days,
        months: field("month", month, 1, 12, &MONTHS)?,
        years: field("year", year, FIRST_YEAR as u32, LAST_YEAR as u32, &[])?
            .split_off(FIRST_YEAR as usize),
    })
}

fn day_of_month_field(text: &str) -> Result<Days, String> {
    if text == "L" {
        return Ok(Days::LastOfMonth);
    }
    if let Some(n) = text.strip_suffix('W') {
        return match n.parse::<i8>() {
            Ok(n @ 1..=31) => Ok(Days::NearestWeekday(n)),
            _ => Err(format!(
                "day-of-month: {text:?}: W follows a day from 1 to 31 (15W)"
            )),
        };
    }
    field("day-of-month", text, 1, 31, &[]).map(Days::OfMonth)
}

fn day_of_week_field(text: &str) -> Result<Days, String> {
    let weekday = |t: &str| value("day-of-week", t, 1, 7, &WEEKDAYS).map(|v| v as i8);
    if text == "L" {
        let mut saturday = vec![false; 8];
        saturday[7] = true;
        return Ok(Days::OfWeek(saturday));
    }
    if text.contains('/') {
        return Err(format!(
            "day-of-week: {text:?}: no / here (AWS takes , - * ? L # in this field)"
        ));
    }
    if let Some(w) = text.strip_suffix('L') {
        return weekday(w).map(Days::LastOfWeek);
    }
    if let Some((w, k)) = text.split_once('#') {
        return match k.parse::<i8>() {
            Ok(k @ 1..=5) => Ok(Days::NthOfWeek(weekday(w)?, k)),
            _ => Err(format!(
                "day-of-week: {text:?}: # is followed by 1 to 5 (3#2: the second Tuesday)"
            )),
        };
    }
    field("day-of-week", text, 1, 7, &WEEKDAYS).map(Days::OfWeek)
}

/// One field as a table from 0 to `hi`: true where it fires. Items are `*`, `n`, `a-b`, each with an optional
/// `/step`, separated by commas; `names` (JAN…, SUN…) stand for `lo`, `lo + 1`, ….
fn field(name: &str, text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut table = vec![false; hi as usize + 1];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(step) if step > 0 => (range, step),
                _ => {
                    return Err(format!(
                        "{name}: {item:?}: the step after / is a positive number"
                    ))
                }
            },
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (lo, hi),
            _ => match range.split_once('-') {
                Some((a, b)) => (
                    value(name, a, lo, hi, names)?,
                    value(name, b, lo, hi, names)?,
                ),
                None => {
                    let v = value(name, range, lo, hi, names)?;
                    (v, if item.contains('/') { hi } else { v })
                }
            },
        };
        if from > to {
            return Err(format!(
                "{name}: {item:?}: a range runs from the smaller to the larger"
            ));
        }
        for v in (from..=to).step_by(step as usize) {
            table[v as usize] = true;
        }
    }
    Ok(table)
}

fn value(name: &str, text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(lo + i as u32);
    }
    match text.parse::<u32>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "{name}: {text:?} is not {}from {lo} to {hi}",
            if names.is_empty() {
                String::new()
            } else {
                format!("{}–{} or a number ", names[0], names[names.len() - 1])
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    fn iso(t: Option<i64>) -> String {
        t.map(|t| Timestamp::from_second(t).unwrap().to_string())
            .unwrap_or_else(|| "none".into())
    }

    #[rustfmt::skip]
    #[test]
    fn next_ticks_in_the_aws_dialect() {
        let cases: &[(&str, Option<&str>, &str, &str)] = &[
            // expression, time zone, after, next tick
            ("cron(30 2 * * ? *)",          None,                   "2026-11-21T02:30:00Z", "2026-11-22T02:30:00Z"),
            ("cron(30 2 * * ? *)",          None,                   "2026-11-21T02:29:59Z", "2026-11-21T02:30:00Z"),
            ("cron(0 9 ? * MON-FRI *)",     None,                   "2026-11-20T09:00:00Z", "2026-11-23T09:00:00Z"), // Fri → Mon
            ("cron(0 9 ? * 2-6 *)",         None,                   "2026-11-20T09:00:00Z", "2026-11-23T09:00:00Z"), // 1 = SUN: 2-6 is MON-FRI
            ("cron(0/15 * * * ? *)",        None,                   "2026-11-21T10:07:00Z", "2026-11-21T10:15:00Z"),
            ("cron(5,35 10-11 * * ? *)",    None,                   "2026-11-21T10:35:00Z", "2026-11-21T11:05:00Z"),
            ("cron(0 0 L * ? *)",           None,                   "2027-02-01T00:00:00Z", "2027-02-28T00:00:00Z"),
            ("cron(0 0 L * ? *)",           None,                   "2028-02-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            ("cron(0 0 15W * ? *)",         None,                   "2026-08-01T00:00:00Z", "2026-08-14T00:00:00Z"), // Sat 15 → Fri 14
            ("cron(0 0 1W * ? *)",          None,                   "2026-07-31T00:00:00Z", "2026-08-03T00:00:00Z"), // Sat 1 → Mon 3
            ("cron(0 0 ? * 3#2 *)",         None,                   "2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z"), // 2nd Tuesday
            ("cron(0 0 ? * 6L *)",          None,                   "2026-12-01T00:00:00Z", "2026-12-25T00:00:00Z"), // last Friday
            ("cron(0 0 ? * L *)",           None,                   "2026-12-01T00:00:00Z", "2026-12-05T00:00:00Z"), // L alone: Saturdays
            ("cron(0 0 ? * L *)",           None,                   "2026-12-05T00:00:00Z", "2026-12-12T00:00:00Z"),
            ("cron(0 12 1 JAN ? 2028)",     None,                   "2026-12-01T00:00:00Z", "2028-01-01T12:00:00Z"),
            ("cron(0 12 1 JAN ? 2025)",     None,                   "2026-12-01T00:00:00Z", "none"),
            ("cron(0 0 29 2 ? *)",          None,                   "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            // Time zones: 02:30 in Berlin is 01:30 UTC in winter, 00:30 UTC in summer.
            ("cron(30 2 * * ? *)",          Some("Europe/Berlin"),  "2026-12-01T00:00:00Z", "2026-12-01T01:30:00Z"),
            ("cron(30 2 * * ? *)",          Some("Europe/Berlin"),  "2026-07-01T00:00:00Z", "2026-07-01T00:30:00Z"),
            // Spring forward (Berlin, 2027-03-28: 02:00 → 03:00): 02:30 does not exist that day, no tick.
            ("cron(30 2 * * ? *)",          Some("Europe/Berlin"),  "2027-03-27T01:30:00Z", "2027-03-29T00:30:00Z"),
            // Fall back (Berlin, 2026-10-25: 03:00 → 02:00): 02:30 happens twice, one tick, at the first.
            ("cron(30 2 * * ? *)",          Some("Europe/Berlin"),  "2026-10-24T23:00:00Z", "2026-10-25T00:30:00Z"),
            ("cron(30 2 * * ? *)",          Some("Europe/Berlin"),  "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
            // Every 30 minutes across the autumn hour: 02:00 and 02:30 once each, no repeats at 02:00+1h.
            ("cron(0/30 * * * ? *)",        Some("Europe/Berlin"),  "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"),
            ("at(2027-01-01T00:00:00)",     Some("Europe/Berlin"),  "2026-12-01T00:00:00Z", "2026-12-31T23:00:00Z"),
            ("at(2027-01-01T00:00:00)",     None,                   "2027-01-01T00:00:00Z", "none"),
            ("rate(1 hour)",                None,                   "2026-12-01T00:00:00Z", "none"), // no start: no phase
        ];
        for (expression, zone, after, next) in cases {
            let timetable = Timetable::new(expression, *zone, None, None).unwrap();
            assert_eq!(iso(timetable.next_after(epoch(after))), *next, "{expression} {zone:?} after {after}");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn last_ticks_and_the_schedules_start_and_end() {
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str, &'a str);
        let cases: &[Case] = &[
            // expression, time zone, start, end, at, last tick at or before
            ("cron(30 2 * * ? *)",  None,                  None, None,                            "2026-11-21T02:30:00Z", "2026-11-21T02:30:00Z"),
            ("cron(30 2 * * ? *)",  None,                  None, None,                            "2026-11-21T02:29:59Z", "2026-11-20T02:30:00Z"),
            ("cron(30 2 * * ? *)",  Some("Europe/Berlin"), None, None,                            "2027-03-28T12:00:00Z", "2027-03-27T01:30:00Z"), // skipped on the 28th
            ("cron(30 2 * * ? *)",  None,                  Some("2026-11-21T03:00:00"), None,     "2026-11-21T12:00:00Z", "none"),
            ("cron(30 2 * * ? *)",  None,                  None, Some("2026-11-19T00:00:00"),     "2026-11-21T12:00:00Z", "2026-11-18T02:30:00Z"),
            ("rate(15 minutes)",    None,                  Some("2026-11-21T00:00:00"), None,     "2026-11-21T00:44:59Z", "2026-11-21T00:30:00Z"),
            ("rate(15 minutes)",    None,                  Some("2026-11-21T00:00:00"), None,     "2026-11-20T23:59:59Z", "none"),
            ("at(2027-01-01T00:00:00)", None,              None, None,                            "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("at(2027-01-01T00:00:00)", None,              Some("2027-02-01T00:00:00"), None,     "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), // at() has no start
        ];
        for (expression, zone, start, end, at, last) in cases {
            let timetable = Timetable::new(expression, *zone, *start, *end).unwrap();
            assert_eq!(iso(timetable.last_at_or_before(epoch(at))), *last, "{expression} {zone:?} {start:?}..{end:?} at {at}");
        }
        let rate = Timetable::new("rate(15 minutes)", None, Some("2026-11-21T00:00:00"), None).unwrap();
        assert_eq!(iso(rate.next_after(epoch("2026-11-21T00:15:00Z"))), "2026-11-21T00:30:00Z");
    }

    #[rustfmt::skip]
    #[test]
    fn what_scheduler_would_refuse_is_refused_with_the_field_named() {
        let cases: &[(&str, &str)] = &[
            ("cron(30 2 * * *)",         "cron takes 6 fields"),
            ("cron(30 2 * * * *)",       "cannot both be given"),
            ("cron(30 2 ? * ? *)",       "one of day-of-month and day-of-week must be ?"),
            ("cron(60 2 * * ? *)",       "minutes: \"60\" is not from 0 to 59"),
            ("cron(0 2 ? * 0 *)",        "day-of-week: \"0\" is not SUN–SAT or a number from 1 to 7"),
            ("cron(0 2 ? * 3#6 *)",      "# is followed by 1 to 5"),
            ("cron(0 2 ? * 1/2 *)",      "day-of-week: \"1/2\": no / here"),
            ("cron(0 2 32W * ? *)",      "W follows a day from 1 to 31"),
            ("cron(0 2 * FOO ? *)",      "month: \"FOO\" is not JAN–DEC"),
            ("cron(0/0 2 * * ? *)",      "the step after / is a positive number"),
            ("cron(0 5-2 * * ? *)",      "a range runs from the smaller to the larger"),
            ("cron(0 2 * * ? 1969)",     "year: \"1969\" is not from 1970 to 2199"),
            ("rate(0 hours)",            "rate takes a positive number and a unit"),
            ("rate(2 hour)",             "rate takes a positive number and a unit"),
            ("at(2027-01-01)",           "at takes a date and time"),
            ("every day",                "is not cron(…), rate(…) or at(…)"),
        ];
        for (expression, message) in cases {
            let error = Timetable::new(expression, None, None, None).unwrap_err();
            assert!(error.starts_with("expression: ") && error.contains(message), "{expression}: {error}");
        }
        assert!(Timetable::new("cron(0 2 * * ? *)", Some("Mars/Olympus"), None, None).unwrap_err().starts_with("timezone: "));
        assert!(Timetable::new("cron(0 2 * * ? *)", None, Some("2027-01-01"), None).unwrap_err().starts_with("startDate: "));
    }
}
