//! Commands that change runs: `start` (the starter Lambda's own parse-and-start code), `cancel` and `redrive`.
//! Each goes through the flow the Lambdas use, one conditional write per change, so a repeated command changes
//! nothing twice and a command racing a Lambda loses cleanly (and says so).

use crate::args::{ActArgs, CancelArgs, RedriveArgs, StartArgs};
use crate::aws::{
    aws_failure, caller_arn, command_reactor, lambda_config, locate_with_topic, runtime, AwsReactor,
};
use crate::failure::{read_input, Failure};
use reactor_aws::flow::{Cancel, FlowError, Launch, Redrive, StartResponse};
use reactor_aws::launcher::STOP_REASON_MAX;
use reactor_aws::store::prelude::*;
use reactor_aws::store::DynamoStore;
use reactor_core::request::start_request;
use reactor_core::run::RunStatus;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// The Lambdas' timeouts, for every call the command makes (the stack's and STS's too): read, and a bad
/// variable refused, before the table and topic are found, which the timeouts do not depend on.
fn timeouts() -> Result<aws_config::timeout::TimeoutConfig, Failure> {
    lambda_config("-", "-", None, |_| None).map(|config| config.timeouts())
}

/// What a command acts through: the reactor on the table and topic it found, and the SDK configuration.
pub(crate) struct Acting {
    pub(crate) reactor: AwsReactor,
    pub(crate) table: String,
    sdk: aws_config::SdkConfig,
}

/// The reactor for a command that changes runs. `run`: the run it changes (cancel, redrive). Without an
/// outcomes topic that run is looked up first: "no such run" is the answer on-call needs, not the topic it
/// would not have needed.
pub(crate) async fn acting(args: &ActArgs, run: Option<&str>) -> Result<Acting, Failure> {
    let located =
        locate_with_topic(&args.table, args.topic_arn.as_deref(), Some(timeouts()?)).await?;
    let topic = match located.topic {
        Ok(topic) => topic,
        Err(missing) => {
            if let Some(run) = run {
                let store = DynamoStore::new(
                    aws_sdk_dynamodb::Client::new(&located.sdk),
                    located.table.clone(),
                );
                let found = store
                    .run(run)
                    .await
                    .map_err(|e| aws_failure(&located.table, &e))?;
                if found.is_none() {
                    return Err(unknown_run(run, &located.table));
                }
            }
            return Err(missing);
        }
    };
    let reactor = command_reactor((&located.sdk, &located.table), &topic, &located.launch)?;
    Ok(Acting {
        reactor,
        table: located.table,
        sdk: located.sdk,
    })
}

/// Runs one step of the flow on `run` at `now`, as the caller (see [`actor`]); returns its result, the
/// table and who acted.
fn act<T>(
    args: &ActArgs,
    run: &str,
    person: Option<&str>,
    reason: Option<&str>,
    now: OffsetDateTime,
    step: impl AsyncFnOnce(&AwsReactor, &str, OffsetDateTime) -> Result<T, FlowError>,
) -> Result<(T, String, String), Failure> {
    runtime()?.block_on(async {
        let acting = acting(args, Some(run)).await?;
        let arn = caller_arn(&acting.sdk, &acting.table).await?;
        let by = actor(&arn, person, reason, run);
        let result = step(&acting.reactor, &by, now)
            .await
            .map_err(|e| aws_failure(&acting.table, &e))?;
        Ok((result, acting.table, by))
    })
}

fn unknown_run(run: &str, table: &str) -> Failure {
    Failure::NotFound(format!("no run {run:?} in table {table}"))
}

/// Who is acting, as recorded on the run and in a stopped task's reason: the caller's AWS identity (`arn`,
/// what CloudTrail shows for the same calls), after a person's name when given, then why:
/// `alice (arn:aws:sts::…:assumed-role/OnCall/alice, ecs-reactor CLI): wrong date`. The reason is shortened
/// so that the stop reason (`ecs-reactor: run <run> cancelled by <this>`, built in the flow) fits the 255
/// characters ECS keeps; the identity and the name are never cut.
pub(crate) fn actor(arn: &str, person: Option<&str>, reason: Option<&str>, run: &str) -> String {
    let who = match person.map(str::trim).filter(|p| !p.is_empty()) {
        Some(person) => format!("{person} ({arn}, ecs-reactor CLI)"),
        None => format!("{arn} (ecs-reactor CLI)"),
    };
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return who;
    };
    let stop_reason = format!("ecs-reactor: run {run} cancelled by {who}: ");
    // When a long identity and run id leave (almost) no room, the run still records a readable reason; ECS
    // cuts the stop reason's end.
    let room = STOP_REASON_MAX
        .saturating_sub(stop_reason.chars().count())
        .max(MIN_REASON);
    format!("{who}: {}", shorten(reason, room))
}

/// The fewest characters of a reason kept, however little room the stop reason leaves.
const MIN_REASON: usize = 40;

/// `text` in at most `max` characters, ending with … when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// A key no other start has used: the time to the nanosecond and the process.
pub(crate) fn fresh_key() -> String {
    // An identity, not a time: the clock's nanoseconds and the process id make it unique even when `--now`
    // pins the time every start records.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("cli-{nanos}-{}", std::process::id())
}

/// A launch in words and as JSON fields.
fn launch_summary(launch: &Launch) -> (String, Value) {
    match launch {
        Launch::Started {
            attempt,
            task_arn,
            adopted,
        } => (
            format!(
                "attempt {attempt} {} task {task_arn}",
                if *adopted { "adopted" } else { "launched" }
            ),
            json!({"attempt": attempt, "taskArn": task_arn}),
        ),
        Launch::Refused {
            attempt, decision, ..
        } => (
            format!(
                "attempt {attempt}: ECS refused the launch → {} ({}): {}",
                decision.action, decision.rule, decision.reason
            ),
            json!({"attempt": attempt, "action": decision.action.as_str(), "ruleId": decision.rule_id, "reason": decision.reason}),
        ),
        Launch::Deferred {
            attempt,
            retry_at,
            reason,
        } => (
            format!(
                "attempt {attempt}: AWS refused the launch ({reason}); the run is recorded and the sweep launches it from {} without using up an attempt",
                reactor_aws::records::stamp(*retry_at)
            ),
            json!({"attempt": attempt, "deferred": true, "retryAt": reactor_aws::records::stamp(*retry_at), "reason": reason}),
        ),
        Launch::Overtaken {
            attempt,
            task_arn,
            status,
        } => (
            format!("attempt {attempt}: the run became {status} during the launch; task {task_arn} was stopped"),
            json!({"attempt": attempt, "taskArn": task_arn, "runStatus": status.as_str()}),
        ),
    }
}

pub fn start(args: &StartArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let text = read_input(&args.job)?;
    let payload: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::BadInput(format!("{}: not JSON: {e}", args.job)))?;
    let key = args.idempotency_key.clone().unwrap_or_else(fresh_key);
    // The starter's own validation, before anything is asked of AWS.
    let request = start_request(payload, &key, now)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", args.job)))?;
    let response = runtime()?
        .block_on(async {
            let acting = acting(&args.act, None).await?;
            acting
                .reactor
                .start(&request.job, &request.run_id, now)
                .await
                .map_err(|e| match e {
                    FlowError::NotAllowed(e) => Failure::BadInput(format!("{}: {e}", args.job)),
                    e @ FlowError::Conflict { .. } => Failure::Conflict(e.to_string()),
                    e => aws_failure(&acting.table, &e),
                })
        })
        .map(StartResponse::from)?;
    start_output(response, args.act.table.json, "--idempotency-key")
}

/// What `start` (and `jobs run`) print for a start: the run, its attempt and task, or why it did not launch
/// (exit code 6 when ECS refused it). `key`: what names the run, for a duplicate.
pub(crate) fn start_output(
    response: StartResponse,
    json: bool,
    key: &str,
) -> Result<String, Failure> {
    let output = if json {
        serde_json::to_string_pretty(&response).unwrap_or_default()
    } else {
        match response.outcome {
            "DUPLICATE" => format!(
                "run {} exists already (same {key}): nothing new started",
                response.run_id
            ),
            "DEFERRED" => format!(
                "run {}: {}",
                response.run_id,
                response.reason.as_deref().unwrap_or("-")
            ),
            _ => match (&response.task_arn, &response.action) {
                (Some(task), None) => format!(
                    "run {} started: attempt {} task {task}",
                    response.run_id,
                    response.attempt.unwrap_or(1)
                ),
                _ => format!(
                    "run {}: attempt {} not started → {}: {}",
                    response.run_id,
                    response.attempt.unwrap_or(1),
                    response.action.unwrap_or("-"),
                    response.reason.as_deref().unwrap_or("-")
                ),
            },
        }
    };
    if response.outcome == "NOT_STARTED" {
        println!("{output}");
        return Err(Failure::Conflict(format!(
            "ECS refused the launch of run {}; the refusal was judged like a stopped task (see `ecs-reactor show {}`)",
            response.run_id, response.run_id
        )));
    }
    Ok(output)
}

pub fn cancel(args: &CancelArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let (result, table, by) = act(
        &args.act,
        &args.run,
        args.by.as_deref(),
        args.reason.as_deref(),
        now,
        async |reactor, by, now| reactor.cancel(&args.run, by, args.stop_task, now).await,
    )?;
    let (outcome, was, attempt, stopped) = match result {
        Cancel::Unknown => return Err(unknown_run(&args.run, &table)),
        Cancel::Finished(status) => {
            return Err(Failure::Conflict(format!(
                "run {} has finished ({status}): nothing to cancel{}",
                args.run,
                if status == RunStatus::Failed {
                    "; `ecs-reactor redrive` runs it again"
                } else {
                    ""
                }
            )))
        }
        Cancel::Cancelled {
            was,
            attempt,
            stopped_task,
        } => ("CANCELLED", Some(was), attempt, stopped_task),
        Cancel::AlreadyCancelled {
            attempt,
            stopped_task,
        } => ("ALREADY_CANCELLED", None, attempt, stopped_task),
    };
    if args.act.table.json {
        let value = json!({
            "runId": args.run,
            "outcome": outcome,
            "was": was.map(RunStatus::as_str),
            "attempt": attempt,
            "stoppedTask": stopped,
            "by": by,
        });
        return Ok(serde_json::to_string_pretty(&value).unwrap_or_default());
    }
    let mut text = match was {
        Some(was) => format!(
            "run {} cancelled (was {was} at attempt {attempt}) by {by}",
            args.run
        ),
        None => format!("run {} was cancelled already", args.run),
    };
    match (&stopped, args.stop_task) {
        (Some(task), _) => text.push_str(&format!("\ntask {task} stopped")),
        (None, true) => text.push_str("\nno running task to stop"),
        (None, false) => {
            text.push_str("\nno further attempt will be launched; a task still running runs on (--stop-task stops it)")
        }
    }
    Ok(text)
}

pub fn redrive(args: &RedriveArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let (result, table, by) = act(
        &args.act,
        &args.run,
        args.by.as_deref(),
        args.reason.as_deref(),
        now,
        async |reactor, by, now| reactor.redrive(&args.run, by, now).await,
    )?;
    match result {
        Redrive::Unknown => Err(unknown_run(&args.run, &table)),
        Redrive::NotRedrivable(status) => Err(Failure::Conflict(format!(
            "run {} is {status}: only a FAILED or CANCELLED run can be redriven",
            args.run
        ))),
        Redrive::Blocked { holder, status } => Err(Failure::Conflict(format!(
            "run {} cannot be redriven now: run {holder} of the same job is {status} and the job's concurrency does not allow two (cancel it first, or wait)",
            args.run
        ))),
        Redrive::Redriven { attempt, launch } => {
            let (words, mut fields) = launch_summary(&launch);
            if args.act.table.json {
                if let Some(map) = fields.as_object_mut() {
                    map.insert("runId".into(), json!(args.run));
                    map.insert("outcome".into(), json!("REDRIVEN"));
                    map.insert("attempt".into(), json!(attempt));
                    map.insert("by".into(), json!(by));
                }
                return Ok(serde_json::to_string_pretty(&fields).unwrap_or_default());
            }
            Ok(format!(
                "run {} redriven by {by}: {words}\nattempts count again from {attempt}; earlier attempts stay in `ecs-reactor show {}`",
                args.run, args.run
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sts::123456789012:assumed-role/OnCall/alice";
    const RUN: &str = "nightly-report-20261121T023000Z";

    #[test]
    fn the_actor_is_the_aws_identity_after_a_name_when_given_then_why() {
        assert_eq!(
            actor(ARN, Some("alice"), Some("wrong date"), RUN),
            format!("alice ({ARN}, ecs-reactor CLI): wrong date")
        );
        assert_eq!(
            actor(ARN, None, Some(" wrong date "), RUN),
            format!("{ARN} (ecs-reactor CLI): wrong date")
        );
        assert_eq!(
            actor(ARN, Some(" "), Some(""), RUN),
            format!("{ARN} (ecs-reactor CLI)")
        );
    }

    #[test]
    fn a_long_reason_is_cut_so_the_stop_reason_fits_what_ecs_keeps() {
        let reason = "the input file of the 21st was the 20th's, ".repeat(10);
        let by = actor(ARN, Some("alice"), Some(&reason), RUN);
        let stop_reason = format!("ecs-reactor: run {RUN} cancelled by {by}");
        assert_eq!(
            stop_reason.chars().count(),
            STOP_REASON_MAX,
            "{stop_reason}"
        );
        assert!(by.starts_with(&format!("alice ({ARN}, ecs-reactor CLI): the input file")));
        assert!(by.ends_with('…'), "{by}");
    }

    #[test]
    fn with_no_room_left_the_run_still_records_the_start_of_the_reason() {
        let run = "r".repeat(111);
        let arn = format!(
            "arn:aws:sts::123456789012:assumed-role/{}/{}",
            "R".repeat(64),
            "s".repeat(64)
        );
        let by = actor(&arn, None, Some(&"why ".repeat(30)), &run);
        let reason = by.rsplit_once("): ").map(|(_, r)| r).unwrap_or_default();
        assert_eq!(reason.chars().count(), MIN_REASON, "{by}");
    }
}
