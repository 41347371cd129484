//! A job file: one job per file in `jobs/`, the job request's fields plus its `schedule`.
//!
//! ```json
//! { "job": "nightly-report",
//!   "schedule": { "expression": "cron(30 2 * * ? *)", "timezone": "Europe/Berlin" },
//!   "runTask": { "cluster": "jobs", "taskDefinition": "report:7" } }
//! ```
//!
//! Reading one collects every problem at once, each with its field's path, as a job request's are; the file's
//! name must be its job's (so that a directory cannot hold two definitions of one job unnoticed).

use crate::job::{deserialize_all, JobRequest};
use crate::timetable::{self, Timetable};
use serde::{Deserialize, Serialize};

/// When a job runs: an EventBridge Scheduler schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// `cron(minutes hours day-of-month month day-of-week year)`, `rate(1 hour)` or
    /// `at(2027-01-01T00:00:00)`, as EventBridge Scheduler reads them.
    pub expression: String,
    /// The IANA time zone the expression is read in (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Scheduler may start the run up to this many minutes after the tick (spreads a cron storm); off when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flexible_window_minutes: Option<u32>,
    /// DISABLED: the schedule exists and does not fire (`ecs-reactor jobs suspend` sets it).
    #[serde(default, skip_serializing_if = "ScheduleState::is_enabled")]
    pub state: ScheduleState,
    /// The schedule's first possible tick (`2027-01-01T00:00:00`, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// The schedule's last possible tick (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleState {
    #[default]
    Enabled,
    Disabled,
}

/// What a registered job's schedule says at a moment (epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// When it fires next; none when it is off, suspended or over, or a rate without a start.
    pub next_tick: Option<i64>,
    /// The tick whose run should exist by now: it is MISSED if there is none.
    pub due_tick: Option<i64>,
}

impl Schedule {
    /// What the schedule says at `now`, for a job `suspended` or not, registered as it is since `since` (its
    /// last apply or resume).
    pub fn expected(&self, suspended: bool, since: i64, now: i64) -> Expected {
        let timetable = match self.timetable() {
            Ok(t) if !suspended && self.state.is_enabled() => t,
            _ => return Expected::default(),
        };
        Expected {
            next_tick: timetable.next_after(now),
            due_tick: timetable.tick_due_by(now, self.flexible_window_minutes.unwrap_or(0), since),
        }
    }

    /// When the schedule fires (its expression in its time zone, between its start and end).
    pub fn timetable(&self) -> Result<Timetable, String> {
        Timetable::new(
            &self.expression,
            self.timezone.as_deref(),
            self.start_date.as_deref(),
            self.end_date.as_deref(),
        )
    }
}

impl ScheduleState {
    pub fn is_enabled(&self) -> bool {
        *self == ScheduleState::Enabled
    }
}

/// A job file as read: the job request and its schedule (a job without one runs only when started).
#[derive(Debug, Clone, PartialEq)]
pub struct JobFile {
    pub job: JobRequest,
    pub schedule: Option<Schedule>,
}

impl JobFile {
    /// The job file as the registry keeps it: the job request's fields and `schedule`.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut value = serde_json::to_value(&self.job)?;
        if let (Some(fields), Some(schedule)) = (value.as_object_mut(), &self.schedule) {
            fields.insert("schedule".into(), serde_json::to_value(schedule)?);
        }
        Ok(value)
    }
}

/// The shape of a job file, for its JSON Schema: the job request's fields and `schedule`.
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(title = "ecs-reactor job file", deny_unknown_fields)]
#[allow(dead_code)]
pub struct JobFileShape {
    #[serde(flatten)]
    job: JobRequest,
    #[serde(default)]
    schedule: Option<Schedule>,
}

/// The JSON Schema of a job file, for editors and CI (`docs/job.schema.json`).
#[cfg(feature = "schema")]
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(JobFileShape)).unwrap_or_default()
}

/// Reads a job file's value; `stem` is the file's name without its extension, when it comes from a
/// directory of job files (then it must be the job's name). Every problem, each naming its field.
pub fn read(mut value: serde_json::Value, stem: Option<&str>) -> Result<JobFile, Vec<String>> {
    let schedule_value = value.as_object_mut().and_then(|o| o.remove("schedule"));
    let mut problems = Vec::new();
    let job = match JobRequest::from_value(value) {
        Ok(job) => Some(job),
        Err(e) => {
            problems.extend(e.problems);
            None
        }
    };
    let schedule = schedule_value.and_then(|v| {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Holder {
            schedule: Schedule,
        }
        let parsed = deserialize_all::<Holder>(serde_json::json!({ "schedule": v }));
        match parsed.into_parts() {
            (Some(holder), found) if found.is_empty() => {
                let wrong = schedule_problems(&holder.schedule);
                problems.extend(wrong.iter().cloned());
                wrong.is_empty().then_some(holder.schedule)
            }
            (_, found) => {
                problems.extend(found);
                None
            }
        }
    });
    if let (Some(job), Some(stem)) = (&job, stem) {
        if job.job != stem {
            problems.push(format!(
                "job: the file is named {stem:?} but its job is {:?}: name the file after its job",
                job.job
            ));
        }
    }
    match job {
        Some(job) if problems.is_empty() => Ok(JobFile { job, schedule }),
        _ => Err(problems),
    }
}

/// What EventBridge Scheduler would refuse, said before anything is applied.
fn schedule_problems(s: &Schedule) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(problem) = expression_problem(&s.expression) {
        problems.push(format!("schedule.expression: {problem}"));
    }
    if let Some(problem) = s.timezone.as_deref().and_then(timetable::zone_problem) {
        problems.push(format!("schedule.timezone: {problem}"));
    }
    if let Some(minutes) = s.flexible_window_minutes {
        if !(1..=1440).contains(&minutes) {
            problems.push(format!(
                "schedule.flexibleWindowMinutes must be between 1 and 1440 (got {minutes})"
            ));
        }
    }
    for (field, date) in [("startDate", &s.start_date), ("endDate", &s.end_date)] {
        if let Some(date) = date {
            if !is_local_date_time(date) {
                problems.push(format!(
                    "schedule.{field}: {date:?} is not a date and time like \"2027-01-01T00:00:00\""
                ));
            }
        }
    }
    problems
}

/// Why `expression` is not one EventBridge Scheduler takes, if it is not (every field of a cron read as
/// Scheduler reads it: `timetable`).
pub fn expression_problem(expression: &str) -> Option<String> {
    timetable::expression_problem(expression)
}

/// `2027-01-01T00:00:00`: Scheduler's local date and time, no zone (the schedule's `timezone` is).
fn is_local_date_time(text: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:dd";
    text.len() == shape.len()
        && text.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            s => c == s,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[rustfmt::skip]
    #[test]
    fn schedule_expressions_are_checked_as_scheduler_reads_them() {
        for (expression, ok) in [
            ("cron(30 2 * * ? *)",         true),
            ("cron(0 9 ? * MON-FRI *)",    true),
            ("cron(30 2 * * ?)",           false),
            ("rate(1 hour)",               true),
            ("rate(15 minutes)",           true),
            ("rate(1 hours)",              false),
            ("rate(0 minutes)",            false),
            ("at(2027-01-01T00:00:00)",    true),
            ("at(2027-01-01)",             false),
            ("every day",                  false),
        ] {
            assert_eq!(expression_problem(expression).is_none(), ok, "{expression}");
        }
    }

    #[test]
    fn every_problem_of_a_job_file_at_once() {
        let file = json!({
            "job": "nightly",
            "schedule": {"expression": "cron(30 2 * *)", "timezone": "Europe Berlin", "flexibleWindowMinutes": 0},
            "runTask": {"taskDefinition": "report:7", "clusterr": "jobs"}
        });
        assert_eq!(
            read(file, Some("nightly-report")).unwrap_err(),
            vec![
                "unknown field runTask.clusterr at runTask, did you mean cluster?".to_owned(),
                "schedule.expression: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got 4 in \"cron(30 2 * *)\"".to_owned(),
                "schedule.timezone: \"Europe Berlin\" is not an IANA time zone name like \"Europe/Berlin\" or \"UTC\"".to_owned(),
                "schedule.flexibleWindowMinutes must be between 1 and 1440 (got 0)".to_owned(),
            ]
        );
        let unknown = json!({"job": "nightly", "schedule": {"expresion": "rate(1 hour)"}, "runTask": {"taskDefinition": "t:1"}});
        assert_eq!(
            read(unknown, Some("nightly")).unwrap_err(),
            vec![
                "unknown field schedule.expresion at schedule, did you mean expression?".to_owned(),
                "schedule.expression is required".to_owned(),
            ]
        );
        let misnamed = json!({"job": "nightly", "runTask": {"taskDefinition": "t:1"}});
        assert_eq!(
            read(misnamed, Some("weekly")).unwrap_err(),
            vec!["job: the file is named \"weekly\" but its job is \"nightly\": name the file after its job".to_owned()]
        );
        let good = json!({"job": "nightly", "schedule": {"expression": "rate(1 hour)", "timezone": "Europe/Berlin"}, "runTask": {"taskDefinition": "t:1"}});
        let read = read(good, None).unwrap();
        // What the registry keeps reads back as the same file.
        assert_eq!(
            super::read(read.to_value().unwrap(), Some("nightly")).unwrap(),
            read
        );
        assert_eq!(
            read.schedule.unwrap().timezone.as_deref(),
            Some("Europe/Berlin")
        );
    }

    /// docs/job.schema.json is what the types generate (`UPDATE_SCHEMA=1 cargo test -p reactor-core --features
    /// schema published_schema` rewrites it).
    #[cfg(feature = "schema")]
    #[test]
    fn the_published_schema_is_the_generated_one() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/job.schema.json");
        let generated = format!("{}\n", serde_json::to_string_pretty(&schema()).unwrap());
        if std::env::var("UPDATE_SCHEMA").is_ok() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "docs/job.schema.json differs from the job types: UPDATE_SCHEMA=1 cargo test -p reactor-core --features schema published_schema"
        );
        // The schema knows the fields a job file has.
        let properties = &schema()["properties"];
        for field in ["job", "runTask", "retry", "schedule"] {
            assert!(
                properties.get(field).is_some(),
                "no {field} in {properties}"
            );
        }
    }

    #[rustfmt::skip]
    #[test]
    fn what_a_schedule_expects_at_a_moment() {
        let epoch = |t: &str| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp();
        let schedule = |expression: &str, window: Option<u32>, state: ScheduleState| Schedule {
            expression: expression.into(), timezone: Some("Europe/Berlin".into()), flexible_window_minutes: window,
            state, start_date: None, end_date: None,
        };
        let daily = schedule("cron(30 3 * * ? *)", None, ScheduleState::Enabled); // 02:30 UTC in winter
        let since = epoch("2026-11-01T00:00:00Z");
        type Case<'a> = (&'a Schedule, bool, i64, &'a str, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            // schedule, suspended, since, now, next tick, due tick
            (&daily, false, since, "2026-11-21T02:41:00Z", Some("2026-11-22T02:30:00Z"), Some("2026-11-21T02:30:00Z")),
            // Within the grace (10 minutes) today's tick is not due yet: yesterday's is.
            (&daily, false, since, "2026-11-21T02:35:00Z", Some("2026-11-22T02:30:00Z"), Some("2026-11-20T02:30:00Z")),
            // A tick before the job was applied (or resumed) is not its own.
            (&daily, false, epoch("2026-11-21T02:31:00Z"), "2026-11-21T02:41:00Z", Some("2026-11-22T02:30:00Z"), None),
            (&daily, true, since, "2026-11-21T02:41:00Z", None, None),
            (&schedule("cron(30 3 * * ? *)", None, ScheduleState::Disabled), false, since, "2026-11-21T02:41:00Z", None, None),
            // A flexible window of 15 minutes lengthens the grace by as much.
            (&schedule("cron(30 3 * * ? *)", Some(15), ScheduleState::Enabled), false, since, "2026-11-21T02:41:00Z", Some("2026-11-22T02:30:00Z"), Some("2026-11-20T02:30:00Z")),
            (&schedule("cron(30 3 * * ? *)", Some(15), ScheduleState::Enabled), false, since, "2026-11-21T02:55:00Z", Some("2026-11-22T02:30:00Z"), Some("2026-11-21T02:30:00Z")),
        ];
        for (schedule, suspended, since, now, next, due) in cases {
            let expected = schedule.expected(*suspended, *since, epoch(now));
            assert_eq!(
                (expected.next_tick, expected.due_tick),
                (next.map(epoch), due.map(epoch)),
                "{} suspended {suspended} at {now}", schedule.expression
            );
        }
    }
}
