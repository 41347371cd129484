//! On-call's questions, answered from the attempts table: `runs` (all runs, runs of a job, runs in a status)
//! and `show` (a run's story). Each is one Query; output is an aligned table with relative times, or `--json`.

use crate::args::{RunsArgs, ShowArgs};
use crate::aws::{aws_failure, runtime, store};
use crate::failure::Failure;
use reactor_aws::history::RunStory;
use reactor_aws::records::stamp;
use reactor_aws::records::{AttemptItem, RunItem};
use reactor_core::run::RunStatus;
use serde_json::{json, Value};
use std::fmt::Write as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `24h`, `30m`, `7d`, `90s` → seconds.
fn parse_age(text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::BadInput(format!(
            "--since {text:?}: expected a number and a unit, e.g. 30m, 24h, 7d"
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
    Ok(n * scale)
}

/// "3 min ago", "in 2 h", for an RFC 3339 time.
fn relative(time: &str, now: OffsetDateTime) -> String {
    let Ok(t) = OffsetDateTime::parse(time, &Rfc3339) else {
        return time.to_owned();
    };
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

fn parse_status(text: &str) -> Result<RunStatus, Failure> {
    RunStatus::parse(&text.to_ascii_uppercase()).ok_or_else(|| {
        let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        Failure::BadInput(format!(
            "--status {text:?}: expected one of {}",
            all.join(", ")
        ))
    })
}

pub fn runs(args: &RunsArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let status = args.status.as_deref().map(parse_status).transpose()?;
    // A run can sit in an unfinished status for longer than any default window (a two-day task): asked for
    // one of those, on-call means "all of them now".
    let since = match (&args.since, status) {
        (Some(age), _) => Some(stamp(now - time::Duration::seconds(parse_age(age)?))),
        (None, Some(s)) if !s.is_terminal() => None,
        (None, _) => Some(stamp(now - time::Duration::days(1))),
    };
    // Every stored time starts with a digit: "0" is before all of them.
    let from = since.as_deref().unwrap_or("0");
    let limit = args.limit as usize;
    let runs = runtime()?.block_on(async {
        let store = store(&args.table).await?;
        let result = match (&args.job, status) {
            (Some(job), status) => store.runs_of_job(job, from, status, limit).await,
            (None, Some(status)) => store.runs_in_status(status, from, limit).await,
            (None, None) => store.recent_runs(from, limit).await,
        };
        result.map_err(|e| aws_failure(store.table(), &e))
    })?;
    if args.table.json {
        let list: Vec<Value> = runs.iter().map(run_json).collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default());
    }
    if runs.is_empty() {
        return Ok(match since {
            Some(since) => format!("no runs since {since}"),
            None => "no runs".into(),
        });
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.run_id.clone(),
                r.status.to_string(),
                r.attempt.to_string(),
                relative(&stamp(r.created_at), now),
                relative(&stamp(r.updated_at), now),
                r.last_rule_id.clone().unwrap_or_else(|| "-".into()),
                r.next_retry_at
                    .map(stamp)
                    .as_deref()
                    .map(|t| relative(t, now))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    Ok(table(
        &[
            "RUN",
            "STATUS",
            "ATTEMPT",
            "CREATED",
            "CHANGED",
            "LAST RULE",
            "NEXT RETRY",
        ],
        &rows,
    )
    .trim_end()
    .to_owned())
}

pub fn show(args: &ShowArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let story = runtime()?.block_on(async {
        let store = store(&args.table).await?;
        let run_id = if args.run.starts_with("arn:") {
            store
                .run_of_task(&args.run)
                .await
                .map_err(|e| aws_failure(store.table(), &e))?
                .ok_or_else(|| Failure::NotFound(format!("no run launched task {}", args.run)))?
        } else {
            args.run.clone()
        };
        store
            .story(&run_id)
            .await
            .map_err(|e| aws_failure(store.table(), &e))?
            .ok_or_else(|| {
                Failure::NotFound(format!("no run {run_id:?} in table {}", store.table()))
            })
    })?;
    if args.table.json {
        return Ok(serde_json::to_string_pretty(&story_json(&story)).unwrap_or_default());
    }
    Ok(render_story(&story, now))
}

/// A run for scripts: the item without its keys and the job request (which may carry override values).
fn run_json(run: &RunItem) -> Value {
    let mut value = serde_json::to_value(run).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for key in [
            "pk",
            "sk",
            "request",
            "byJobPk",
            "byJobSk",
            "byStatusPk",
            "byStatusSk",
            "byCreatedPk",
            "byCreatedSk",
            "notifyLeaseUntil",
        ] {
            map.remove(key);
        }
    }
    value
}

fn attempt_json(attempt: &AttemptItem) -> Value {
    let mut value = serde_json::to_value(attempt).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for key in ["pk", "sk", "launchLeaseUntil"] {
            map.remove(key);
        }
    }
    value
}

fn story_json(story: &RunStory) -> Value {
    json!({
        "run": run_json(&story.run),
        "attempts": story.attempts.iter().map(attempt_json).collect::<Vec<_>>(),
        "pendingRetry": story.delays.first().map(|d| json!({"attempt": d.attempt, "dueAt": d.due_at})),
    })
}

fn short_task(arn: &str) -> String {
    arn.rsplit('/')
        .next()
        .unwrap_or(arn)
        .chars()
        .take(12)
        .collect()
}

fn time_of(t: Option<&str>) -> String {
    // The time of day is what on-call compares; the date is on the run line.
    t.and_then(|t| t.split_once('T'))
        .map(|(_, time)| time.trim_end_matches('Z').to_owned())
        .unwrap_or_else(|| "-".into())
}

fn render_story(story: &RunStory, now: OffsetDateTime) -> String {
    let run = &story.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}  job {}  {} at attempt {}  created {} ({})  changed {}",
        run.run_id,
        run.job,
        run.status,
        run.attempt,
        relative(&stamp(run.created_at), now),
        stamp(run.created_at),
        relative(&stamp(run.updated_at), now)
    );
    if run.disruptions > 0 {
        let _ = writeln!(
            out,
            "free relaunches after capacity was taken away: {}",
            run.disruptions
        );
    }
    if let Some(holder) = &run.skipped_for {
        let _ = writeln!(
            out,
            "never launched: run {holder} of the job was unfinished (concurrency FORBID)"
        );
    }
    if let Some(replaced) = &run.replaces {
        let _ = writeln!(
            out,
            "replaced run {replaced}, cancelled before this run's first launch (concurrency REPLACE)"
        );
    }
    if let Some(size) = &run.task_size {
        let _ = writeln!(
            out,
            "attempts launch with {size}, raised after an OutOfMemoryError (retry.onOutOfMemory)"
        );
    }
    if let (Some(by), Some(at)) = (&run.cancelled_by, run.cancelled_at.map(stamp)) {
        let _ = writeln!(out, "cancelled {} ({at}) by {by}", relative(&at, now));
    }
    if let (Some(by), Some(at)) = (&run.redriven_by, run.redriven_at.map(stamp)) {
        let _ = writeln!(
            out,
            "redriven {} time(s), last {} ({at}) by {by}; attempts count from {}",
            run.redrives,
            relative(&at, now),
            run.counts_from
        );
    }
    let rows: Vec<Vec<String>> = story
        .attempts
        .iter()
        .map(|a| {
            let exits: Vec<String> = a
                .containers
                .iter()
                .map(|c| {
                    format!(
                        "{}={}",
                        c.name,
                        c.exit_code
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "-".into())
                    )
                })
                .collect();
            vec![
                a.attempt.to_string(),
                a.task_arn
                    .as_deref()
                    .map(short_task)
                    .unwrap_or_else(|| "-".into()),
                time_of(a.started_at.or(a.launched_at).map(stamp).as_deref()),
                time_of(a.stopped_at.map(stamp).as_deref()),
                a.stop_code.clone().unwrap_or_else(|| "-".into()),
                a.memory_mib
                    .map(|m| format!("{m} MiB"))
                    .unwrap_or_else(|| "-".into()),
                if exits.is_empty() {
                    "-".into()
                } else {
                    exits.join(" ")
                },
                a.action
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_else(|| format!("({:?})", a.state).to_uppercase()),
                a.rule_id.clone().unwrap_or_else(|| "-".into()),
                a.next_retry_at
                    .map(stamp)
                    .as_deref()
                    .map(|t| {
                        // Only the pending retry is "in 40 s"; an earlier one happened (or was cancelled).
                        let current = a.attempt == run.attempt;
                        match run.status {
                            RunStatus::RetryScheduled if current => {
                                format!("{} ({})", time_of(Some(t)), relative(t, now))
                            }
                            RunStatus::Cancelled if current => {
                                format!("{} (cancelled)", time_of(Some(t)))
                            }
                            _ => time_of(Some(t)),
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "#",
            "TASK",
            "STARTED",
            "STOPPED",
            "STOP CODE",
            "MEMORY",
            "EXIT CODES",
            "DECISION",
            "RULE",
            "NEXT RETRY",
        ],
        &rows,
    ));
    for a in &story.attempts {
        if let Some(reason) = &a.stopped_reason {
            let _ = writeln!(out, "attempt {}: {}", a.attempt, reason);
        }
        for c in a.containers.iter().filter(|c| c.reason.is_some()) {
            let _ = writeln!(
                out,
                "attempt {} container {}: {}",
                a.attempt,
                c.name,
                c.reason.as_deref().unwrap_or("")
            );
        }
        if let Some(reason) = &a.reason {
            let _ = writeln!(out, "attempt {} decision: {}", a.attempt, reason);
        }
        if let (Some(deadline), None) = (a.deadline_at.map(stamp), a.action) {
            let _ = writeln!(
                out,
                "attempt {}: stopped by the sweep at {} ({}) if still running (timeoutSeconds / runTimeoutSeconds)",
                a.attempt,
                deadline,
                relative(&deadline, now)
            );
        }
    }
    for d in &story.delays {
        let due = OffsetDateTime::from_unix_timestamp(d.due_at)
            .map(stamp)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "pending retry: attempt {} due {} ({})",
            d.attempt,
            due,
            relative(&due, now)
        );
    }
    out.trim_end().to_owned()
}

/// An aligned text table.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ages_and_relative_times() {
        #[rustfmt::skip]
        let ages: &[(&str, Option<i64>)] = &[("90s", Some(90)), ("30m", Some(1800)), ("24h", Some(86_400)), ("7d", Some(604_800)), ("24", None), ("h", None), ("1w", None), ("-1h", None)];
        for (text, expected) in ages {
            assert_eq!(parse_age(text).ok(), *expected, "{text}");
        }
        let now = datetime!(2026-11-21 12:00:00 UTC);
        #[rustfmt::skip]
        let times: &[(&str, &str)] = &[("2026-11-21T11:57:00Z", "3 min ago"), ("2026-11-21T12:00:30Z", "in 30 s"), ("2026-11-20T12:00:00Z", "24 h ago"), ("2026-11-11T12:00:00Z", "10 d ago"), ("soon", "soon")];
        for (time, expected) in times {
            assert_eq!(relative(time, now), *expected, "{time}");
        }
    }
}
