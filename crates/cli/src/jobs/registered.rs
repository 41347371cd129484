//! What on-call does with registered jobs: `list` (one Query of the registry, then each job's last run),
//! `show`, `suspend` / `resume` (the registry first, so a tick already on its way is recorded SKIPPED, then
//! the schedule) and `run` (a run now, under a run id of its own that no tick can name).

use super::schedules::Schedules;
use super::{locate_group, spec_of};
use crate::args::{JobArgs, JobControlArgs, JobRunArgs, JobsListArgs};
use crate::aws::{aws_failure, caller_arn, runtime, store};
use crate::dlq::letter::redacted;
use crate::failure::Failure;
use crate::oncall::table;
use crate::oncall::times::{date_time, relative, when};
use crate::operate::{acting, actor, fresh_key, start_output};
use futures_util::StreamExt;
use reactor_aws::flow::FlowError;
use reactor_aws::records::{stamp, JobItem, RunItem};
use reactor_aws::store::{Changed, DynamoStore, Registry, Runs};
use reactor_core::jobfile::{self, JobFile};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// How many jobs' last runs are asked for at once.
const LAST_RUN_QUERIES_AT_ONCE: usize = 16;

pub fn list(args: &JobsListArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let rows = runtime()?.block_on(async {
        let store = store(&args.table).await?;
        let jobs = store
            .registered_jobs()
            .await
            .map_err(|e| aws_failure(store.table(), &e))?;
        let store = &store;
        let looked_up: Vec<Result<Row, Failure>> = futures_util::stream::iter(jobs)
            .map(|job| async move { row(store, job, now).await })
            .buffered(LAST_RUN_QUERIES_AT_ONCE)
            .collect()
            .await;
        looked_up.into_iter().collect::<Result<Vec<_>, Failure>>()
    })?;
    if args.table.json {
        let list: Vec<Value> = rows
            .iter()
            .map(|row| {
                let schedule = row.file.as_ref().and_then(|f| f.schedule.as_ref());
                json!({
                    "job": row.job.job,
                    "schedule": schedule.map(|s| s.expression.as_str()),
                    "timezone": schedule.map(|s| s.timezone.as_deref().unwrap_or("UTC")),
                    "state": row.state(),
                    "suspendedBy": row.job.suspended_by,
                    "revision": row.job.revision,
                    "lastRun": row.last.as_ref().map(|r| r.run_id.as_str()),
                    "lastRunCreatedAt": row.last.as_ref().map(|r| stamp(r.created_at)),
                    "lastStatus": row.last.as_ref().map(|r| r.status.as_str()),
                    "nextTick": row.next_tick.map(stamp),
                    "missedTick": row.missed.as_ref().map(|(tick, _)| stamp(*tick)),
                    "missedRun": row.missed.as_ref().map(|(_, run)| run.as_str()),
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default());
    }
    if rows.is_empty() {
        return Ok("no registered jobs (ecs-reactor jobs apply jobs/ registers them)".into());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let schedule = row.file.as_ref().and_then(|f| f.schedule.as_ref());
            vec![
                row.job.job.clone(),
                schedule.map_or("-".into(), |s| s.expression.clone()),
                schedule.map_or("-".into(), |s| {
                    s.timezone.clone().unwrap_or_else(|| "UTC".into())
                }),
                match &row.missed {
                    Some((tick, _)) => format!("MISSED {}", date_time(*tick)),
                    None => row.state().to_owned(),
                },
                row.last.as_ref().map_or("-".into(), |r| {
                    format!("{} ({})", r.run_id, relative(r.created_at, now))
                }),
                row.last
                    .as_ref()
                    .map_or("-".into(), |r| r.status.to_string()),
                row.next_tick.map_or("-".into(), |t| when(t, now)),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "SCHEDULE",
        "TZ",
        "STATE",
        "LAST RUN",
        "LAST STATUS",
        "NEXT TICK",
    ];
    Ok(table(&headers, &cells).trim_end().to_owned())
}

/// A line of `jobs list`: the registered job, its last run, and what its schedule says now.
struct Row {
    job: JobItem,
    file: Option<JobFile>,
    last: Option<RunItem>,
    next_tick: Option<OffsetDateTime>,
    /// The tick that should have started a run by now and did not, with the run id it names.
    missed: Option<(OffsetDateTime, String)>,
}

impl Row {
    fn state(&self) -> &'static str {
        if self.missed.is_some() {
            return "MISSED";
        }
        state(&self.job, self.file.as_ref())
    }
}

/// The job's last run, and — if its schedule should have started a run by now — whether that run exists (any
/// status, SKIPPED included: a skipped tick came).
async fn row(store: &DynamoStore, job: JobItem, now: OffsetDateTime) -> Result<Row, Failure> {
    let last = last_run(store, &job.job).await?;
    let file = parsed(&job).ok();
    let expected = file
        .as_ref()
        .and_then(|f| f.schedule.as_ref())
        .map(|s| {
            s.expected(
                job.suspended_by.is_some(),
                job.firing_since().unix_timestamp(),
                now.unix_timestamp(),
            )
        })
        .unwrap_or_default();
    let at = |t: Option<i64>| t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    let mut missed = None;
    if let Some(tick) = at(expected.due_tick) {
        if let Ok(run_id) = reactor_core::run::run_id(&job.job, tick, None) {
            let run = store
                .run(&run_id)
                .await
                .map_err(|e| aws_failure(store.table(), &e))?;
            if run.is_none() {
                missed = Some((tick, run_id));
            }
        }
    }
    Ok(Row {
        next_tick: at(expected.next_tick),
        job,
        file,
        last,
        missed,
    })
}

pub fn show(args: &JobArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let (job, runs) = runtime()?.block_on(async {
        let store = store(&args.table).await?;
        let job = registered(&store, &args.name).await?;
        let runs = store
            .runs_of_job(&args.name, "0", None, 5)
            .await
            .map_err(|e| aws_failure(store.table(), &e))?;
        Ok::<_, Failure>((job, runs))
    })?;
    let spec = redacted(&spec_of(&job)?);
    let file = parsed(&job).ok();
    if args.table.json {
        return Ok(serde_json::to_string_pretty(&json!({
            "job": job.job,
            "state": state(&job, file.as_ref()),
            "revision": job.revision,
            "appliedAt": stamp(job.applied_at),
            "appliedBy": job.applied_by,
            "suspendedBy": job.suspended_by,
            "suspendedAt": job.suspended_at.map(stamp),
            "spec": spec,
            "lastRuns": runs.iter().map(|r| json!({"runId": r.run_id, "status": r.status.as_str(), "createdAt": stamp(r.created_at)})).collect::<Vec<_>>(),
        }))
        .unwrap_or_default());
    }
    let mut lines = vec![
        format!("job {}  {}", job.job, state(&job, file.as_ref())),
        format!(
            "revision {}, applied {} by {}",
            job.revision,
            relative(job.applied_at, now),
            job.applied_by
        ),
    ];
    if let (Some(by), Some(at)) = (&job.suspended_by, job.suspended_at) {
        lines.push(format!("suspended {} by {by}", relative(at, now)));
    }
    lines.push(format!(
        "spec (environment values and commands not shown):\n{}",
        serde_json::to_string_pretty(&spec).unwrap_or_default()
    ));
    lines.push(if runs.is_empty() {
        "no runs yet".into()
    } else {
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                vec![
                    r.run_id.clone(),
                    r.status.to_string(),
                    relative(r.created_at, now),
                ]
            })
            .collect();
        table(&["LAST RUNS", "STATUS", "CREATED"], &rows)
            .trim_end()
            .to_owned()
    });
    Ok(lines.join("\n"))
}

/// `suspend` (`suspending`) or `resume`: the registry first (its revision counted, so an apply planned before
/// is refused rather than undo it), then the schedule, then the record of what the schedule now is. Both are
/// idempotent: done again, they put the schedule right.
pub fn suspend(
    args: &JobControlArgs,
    suspending: bool,
    now: OffsetDateTime,
) -> Result<String, Failure> {
    let (job, already, enabled) = runtime()?.block_on(async {
        let (sdk, table, group) = locate_group(&args.group).await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
        let job = registered(&store, &args.name).await?;
        let file = parsed(&job)?;
        let already = job.suspended_by.is_some() == suspending;
        let mut revision = job.revision;
        if !already {
            let arn = caller_arn(&sdk, &table).await?;
            // Who acts, as cancel and redrive record it (no reason: nothing is stopped).
            let by = actor(&arn, args.by.as_deref(), None, &args.name);
            let changed = store
                .suspend_job(&args.name, suspending.then_some(by.as_str()), now, revision)
                .await
                .map_err(|e| aws_failure(&table, &e))?;
            if changed == Changed::Refused {
                return Err(moved(&args.name));
            }
            revision += 1;
        }
        let Some(schedule) = &file.schedule else {
            return Ok((job, already, None));
        };
        let enabled = !suspending && schedule.state.is_enabled();
        let schedules = Schedules::new(&sdk, group);
        schedules.put(&args.name, schedule, enabled, true).await?;
        let fingerprint = schedules.group.fingerprint(schedule, enabled);
        let recorded = store
            .mark_schedule_applied(&args.name, revision, Some(&fingerprint))
            .await
            .map_err(|e| aws_failure(&table, &e))?;
        if recorded == Changed::Refused {
            return Err(moved(&args.name));
        }
        Ok::<_, Failure>((job, already, Some(enabled)))
    })?;
    let verb = if suspending { "suspended" } else { "resumed" };
    let schedule = match enabled {
        Some(true) => "its schedule is enabled: the next tick runs",
        Some(false) if suspending => {
            "its schedule is disabled, and a tick already on its way is recorded SKIPPED"
        }
        Some(false) => "its schedule stays disabled: its file says DISABLED",
        None => "it has no schedule",
    };
    if args.group.table.json {
        return Ok(serde_json::to_string_pretty(&json!({
            "job": job.job, "suspended": suspending, "changed": !already, "scheduleEnabled": enabled,
        }))
        .unwrap_or_default());
    }
    Ok(match (already, &job.suspended_by) {
        (true, Some(by)) => format!(
            "job {} was already suspended (by {by}); {schedule}",
            job.job
        ),
        (true, None) => format!("job {} was not suspended; {schedule}", job.job),
        (false, _) => format!("job {} {verb}; {schedule}", job.job),
    })
}

/// The job changed (an apply, another suspend or resume) between reading it and writing it.
fn moved(name: &str) -> Failure {
    Failure::Conflict(format!(
        "job {name:?} changed while this command ran (an apply, or another suspend or resume): run it again"
    ))
}

/// `run NAME`: a run of the registered spec now, as `start` starts one.
pub fn run_now(args: &JobRunArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let key = fresh_key();
    let run_id = reactor_core::run::request_run_id(&args.name, &key)
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let (response, suspended) = runtime()?.block_on(async {
        let acting = acting(&args.act, None).await?;
        let job = registered(&acting.reactor.store, &args.name).await?;
        // Read as `list` reads it (problems named), then with its sealed values opened for the launch.
        parsed(&job)?;
        let file = reactor_aws::flow::open_registered(acting.reactor.vault.as_ref(), &job)
            .await
            .map_err(|e| aws_failure(&acting.table, &e))?;
        let started = acting
            .reactor
            .start_scheduled(&file.job, &run_id, None, now)
            .await
            .map_err(|e| match e {
                FlowError::NotAllowed(e) => {
                    Failure::BadInput(format!("registered job {:?}: {e}", args.name))
                }
                e @ FlowError::Conflict { .. } => Failure::Conflict(e.to_string()),
                e => aws_failure(&acting.table, &e),
            })?;
        Ok::<_, Failure>((started.into(), job.suspended_by.is_some()))
    })?;
    if suspended && !args.act.table.json {
        eprintln!(
            "ecs-reactor: note: job {} is suspended: this run starts, its schedule stays off",
            args.name
        );
    }
    start_output(response, args.act.table.json, "jobs run")
}

async fn registered(store: &DynamoStore, name: &str) -> Result<JobItem, Failure> {
    store
        .registered_job(name)
        .await
        .map_err(|e| aws_failure(store.table(), &e))?
        .ok_or_else(|| unknown(name, store.table()))
}

async fn last_run(store: &DynamoStore, job: &str) -> Result<Option<RunItem>, Failure> {
    store
        .runs_of_job(job, "0", None, 1)
        .await
        .map(|runs| runs.into_iter().next())
        .map_err(|e| aws_failure(store.table(), &e))
}

fn unknown(name: &str, table: &str) -> Failure {
    Failure::NotFound(format!(
        "no job {name:?} in the registry of table {table} (ecs-reactor jobs list shows the registered jobs; \
         jobs apply DIR registers them)"
    ))
}

/// The registered spec as a job file; one this release cannot read is named (never quoted).
fn parsed(job: &JobItem) -> Result<JobFile, Failure> {
    jobfile::read(spec_of(job)?, None).map_err(|problems| {
        Failure::Problems(
            problems
                .into_iter()
                .map(|p| format!("registered job {:?}: {p}", job.job))
                .collect(),
        )
    })
}

/// SUSPENDED, DISABLED (its file says so), ENABLED, or UNSCHEDULED (runs only when started).
fn state(job: &JobItem, file: Option<&JobFile>) -> &'static str {
    match (
        job.suspended_by.is_some(),
        file.and_then(|f| f.schedule.as_ref()),
    ) {
        (true, _) => "SUSPENDED",
        (false, None) => "UNSCHEDULED",
        (false, Some(s)) if s.state.is_enabled() => "ENABLED",
        (false, Some(_)) => "DISABLED",
    }
}
