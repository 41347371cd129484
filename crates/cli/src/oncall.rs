//! On-call's questions, answered from the attempts table: `runs` (all runs, runs of a job, runs in a status,
//! runs that look stuck) and `show` (a run's story, with where to look next: the task's console page and log
//! streams). Each is a Query or a few (never a Scan); output is an aligned table with dates and relative
//! times, or `--json`.

// `logs` reads the same run (by run id, task ARN or task id) and the same log streams.
pub(crate) mod find;
pub(crate) mod links;
mod stuck;
pub(crate) mod times;

use crate::args::{RunsArgs, ShowArgs};
use crate::aws::{aws_failure, locate_table, runtime, store};
use crate::failure::Failure;
use links::Logs;
use reactor_aws::history::RunStory;
use reactor_aws::records::stamp;
use reactor_aws::records::{AttemptItem, RunItem};
use reactor_aws::store::DynamoStore;
use reactor_core::run::RunStatus;
use serde_json::{json, Value};
use std::fmt::Write as _;
use time::OffsetDateTime;
use times::{date_time, parse_age, relative, span, when};

/// `runs --stuck` without `--older-than`: a RUNNING run with nothing to stop it is suspicious after this.
const DEFAULT_OLDER_THAN: &str = "2h";

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
    if args.stuck {
        return stuck_runs(args, now);
    }
    let status = args.status.as_deref().map(parse_status).transpose()?;
    // A run can sit in an unfinished status for longer than any default window (a two-day task): asked for
    // one of those, on-call means "all of them now".
    let since = match (&args.since, status) {
        (Some(age), _) => Some(stamp(
            now - time::Duration::seconds(parse_age("--since", age)?),
        )),
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
    let rows: Vec<Vec<String>> = runs.iter().map(|r| run_row(r, now)).collect();
    Ok(table(&RUN_HEADERS, &rows).trim_end().to_owned())
}

const RUN_HEADERS: [&str; 9] = [
    "RUN",
    "JOB",
    "STATUS",
    "ATTEMPT",
    "CREATED",
    "CHANGED",
    "DURATION",
    "LAST RULE",
    "NEXT RETRY",
];

fn run_row(r: &RunItem, now: OffsetDateTime) -> Vec<String> {
    vec![
        r.run_id.clone(),
        r.job.clone(),
        r.status.to_string(),
        r.attempt.to_string(),
        relative(r.created_at, now),
        relative(r.updated_at, now),
        span(run_seconds(r, now)),
        r.last_rule_id.clone().unwrap_or_else(|| "-".into()),
        r.next_retry_at
            .map(|t| relative(t, now))
            .unwrap_or_else(|| "-".into()),
    ]
}

/// How long the run took: from its creation to its end (a finished run's last status change), or to `now`
/// while it is unfinished.
fn run_seconds(r: &RunItem, now: OffsetDateTime) -> i64 {
    let end = if r.status.is_terminal() {
        r.updated_at
    } else {
        now
    };
    (end - r.created_at).whole_seconds()
}

/// `runs --stuck`: the runs table with a REASON column (`reason` in --json).
fn stuck_runs(args: &RunsArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let older_than = parse_age(
        "--older-than",
        args.older_than.as_deref().unwrap_or(DEFAULT_OLDER_THAN),
    )?;
    let limit = i32::try_from(args.limit).unwrap_or(i32::MAX);
    let mut found = runtime()?.block_on(async {
        let store = store(&args.table).await?;
        stuck::stuck_runs(&store, now, older_than, limit)
            .await
            .map_err(|e| aws_failure(store.table(), &e))
    })?;
    if let Some(job) = &args.job {
        found.stuck.retain(|s| s.run.job == *job);
    }
    if args.table.json {
        // The notes are not data: on stderr, so that stdout stays one JSON value.
        for note in &found.notes {
            eprintln!("ecs-reactor: {note}");
        }
        let list: Vec<Value> = found
            .stuck
            .iter()
            .map(|s| {
                let mut value = run_json(&s.run);
                value["reason"] = json!(s.reason);
                value
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default());
    }
    let mut out = if found.stuck.is_empty() {
        "no stuck runs\n".to_owned()
    } else {
        let rows: Vec<Vec<String>> = found
            .stuck
            .iter()
            .map(|s| {
                let mut row = run_row(&s.run, now);
                row.push(s.reason.clone());
                row
            })
            .collect();
        let mut headers = RUN_HEADERS.to_vec();
        headers.push("REASON");
        table(&headers, &rows)
    };
    for note in &found.notes {
        let _ = writeln!(out, "note: {note}");
    }
    Ok(out.trim_end().to_owned())
}

pub fn show(args: &ShowArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let (story, logs) = runtime()?.block_on(async {
        // One configuration for the table and ECS (the task definition's log configuration).
        let (config, table) = locate_table(&args.table, None).await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
        let story = find::story(&store, &args.run).await?;
        // No task, no log stream to name: ECS is not asked.
        let logs = if story.attempts.iter().any(|a| a.task_arn.is_some()) {
            let ecs = aws_sdk_ecs::Client::new(&config);
            Some(links::logs(&ecs, &story.run.request).await)
        } else {
            None
        };
        Ok::<_, Failure>((story, logs))
    })?;
    if args.table.json {
        return Ok(
            serde_json::to_string_pretty(&story_json(&story, logs.as_ref())).unwrap_or_default(),
        );
    }
    Ok(render_story(&story, logs.as_ref(), now))
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

/// An attempt for scripts: the item without its keys, plus where to look at its task (`taskId`,
/// `consoleUrl`, and `logs` per container or `logsUnknown` with the reason).
fn attempt_json(attempt: &AttemptItem, logs: Option<&Logs>) -> Value {
    let mut value = serde_json::to_value(attempt).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for key in ["pk", "sk", "launchLeaseUntil"] {
            map.remove(key);
        }
        if let Some(arn) = &attempt.task_arn {
            let id = links::task_id(arn);
            map.insert("taskId".into(), json!(id));
            map.insert("consoleUrl".into(), json!(links::console_url(arn)));
            match logs {
                Some(Logs::Known { containers, .. }) => {
                    let each: Vec<Value> = containers.iter().map(|c| c.to_json(id)).collect();
                    map.insert("logs".into(), json!(each));
                }
                Some(Logs::Unknown(why)) => {
                    map.insert("logsUnknown".into(), json!(why));
                }
                None => {}
            }
        }
    }
    value
}

fn story_json(story: &RunStory, logs: Option<&Logs>) -> Value {
    let task_definition = match logs {
        Some(Logs::Known {
            task_definition, ..
        }) => Some(task_definition.as_str()),
        _ => None,
    };
    json!({
        "run": run_json(&story.run),
        "taskDefinition": task_definition,
        "attempts": story.attempts.iter().map(|a| attempt_json(a, logs)).collect::<Vec<_>>(),
        "pendingRetry": story.delays.first().map(|d| json!({"attempt": d.attempt, "dueAt": d.due_at})),
    })
}

fn render_story(story: &RunStory, logs: Option<&Logs>, now: OffsetDateTime) -> String {
    let mut out = story_header(&story.run, now);
    let rows: Vec<Vec<String>> = story
        .attempts
        .iter()
        .map(|a| attempt_row(a, &story.run, now))
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
            "HINT",
        ],
        &rows,
    ));
    for a in &story.attempts {
        out.push_str(&attempt_notes(a, now));
        out.push_str(&attempt_links(a, logs));
    }
    out.push_str(&logs_caveat(logs));
    for d in &story.delays {
        let due = OffsetDateTime::from_unix_timestamp(d.due_at).unwrap_or(now);
        let _ = writeln!(
            out,
            "pending retry: attempt {} due {}",
            d.attempt,
            when(due, now)
        );
    }
    out.trim_end().to_owned()
}

/// The run line and what happened to the run as a whole (relaunches, concurrency, size, cancel, redrive).
fn story_header(run: &RunItem, now: OffsetDateTime) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}  job {}  {} at attempt {}  created {}  changed {}",
        run.run_id,
        run.job,
        run.status,
        run.attempt,
        when(run.created_at, now),
        when(run.updated_at, now)
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
    if let (Some(by), Some(at)) = (&run.cancelled_by, run.cancelled_at) {
        let _ = writeln!(out, "cancelled {} by {by}", when(at, now));
    }
    if let (Some(by), Some(at)) = (&run.redriven_by, run.redriven_at) {
        let _ = writeln!(
            out,
            "redriven {} time(s), last {} by {by}; attempts count from {}",
            run.redrives,
            when(at, now),
            run.counts_from
        );
    }
    out
}

fn attempt_row(a: &AttemptItem, run: &RunItem, now: OffsetDateTime) -> Vec<String> {
    let dash = || "-".to_owned();
    let exits: Vec<String> = a
        .containers
        .iter()
        .map(|c| {
            let code = c.exit_code.map(|e| e.to_string());
            format!("{}={}", c.name, code.unwrap_or_else(dash))
        })
        .collect();
    vec![
        a.attempt.to_string(),
        // The whole id: what `aws ecs describe-tasks --tasks` and the console's search take.
        a.task_arn
            .as_deref()
            .map(|arn| links::task_id(arn).to_owned())
            .unwrap_or_else(dash),
        a.started_at
            .or(a.launched_at)
            .map(|t| when(t, now))
            .unwrap_or_else(dash),
        a.stopped_at.map(|t| when(t, now)).unwrap_or_else(dash),
        a.stop_code.clone().unwrap_or_else(dash),
        a.memory_mib
            .map(|m| format!("{m} MiB"))
            .unwrap_or_else(dash),
        if exits.is_empty() {
            dash()
        } else {
            exits.join(" ")
        },
        a.action
            .map(|x| x.as_str().to_owned())
            .unwrap_or_else(|| format!("({:?})", a.state).to_uppercase()),
        a.rule_id.clone().unwrap_or_else(dash),
        a.next_retry_at
            .map(|t| next_retry(a, run, t, now))
            .unwrap_or_else(dash),
        a.hint.clone().unwrap_or_else(dash),
    ]
}

/// An attempt's next retry time; only the pending retry is "in 40 s": an earlier one happened (or was
/// cancelled).
fn next_retry(a: &AttemptItem, run: &RunItem, t: OffsetDateTime, now: OffsetDateTime) -> String {
    let current = a.attempt == run.attempt;
    match run.status {
        RunStatus::RetryScheduled if current => when(t, now),
        RunStatus::Cancelled if current => format!("{} (cancelled)", date_time(t)),
        _ => date_time(t),
    }
}

/// The attempt's reasons (ECS's, each container's, the decision's) and a deadline still ahead.
fn attempt_notes(a: &AttemptItem, now: OffsetDateTime) -> String {
    let mut out = String::new();
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
    if let (Some(deadline), None) = (a.deadline_at, a.action) {
        let _ = writeln!(
            out,
            "attempt {}: stopped by the sweep at {} if still running (timeoutSeconds / runTimeoutSeconds)",
            a.attempt,
            when(deadline, now)
        );
    }
    out
}

/// Where to look at the attempt's task: its console page and each container's log stream.
fn attempt_links(a: &AttemptItem, logs: Option<&Logs>) -> String {
    let mut out = String::new();
    let Some(arn) = &a.task_arn else {
        return out;
    };
    let n = a.attempt;
    match links::console_url(arn) {
        Some(url) => {
            let _ = writeln!(out, "attempt {n} console: {url}");
        }
        None => {
            let _ = writeln!(
                out,
                "attempt {n} console: unknown (the task ARN names no cluster): {arn}"
            );
        }
    }
    let id = links::task_id(arn);
    match logs {
        Some(Logs::Known { containers, .. }) => {
            for c in containers {
                let _ = writeln!(out, "attempt {n} logs {}: {}", c.container, c.describe(id));
            }
        }
        Some(Logs::Unknown(why)) => {
            let _ = writeln!(out, "attempt {n} logs: log stream unknown: {why}");
        }
        None => {}
    }
    out
}

/// Which task definition the log streams come from, when the job named a family without a revision: its
/// latest now, which an earlier attempt may not have run.
fn logs_caveat(logs: Option<&Logs>) -> String {
    match logs {
        Some(Logs::Known {
            task_definition,
            latest: true,
            ..
        }) => format!(
            "logs as configured in {task_definition}, the latest revision of the family the job names; an \
             attempt may have run an earlier one\n"
        ),
        _ => String::new(),
    }
}

/// An aligned text table.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
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
