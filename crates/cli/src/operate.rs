//! Commands that change runs: `start` (the starter Lambda's own parse-and-start code), `cancel` and `redrive`.
//! Each goes through the flow the Lambdas use, one conditional write per change, so a repeated command changes
//! nothing twice and a command racing a Lambda loses cleanly (and says so).

use crate::args::{ActArgs, CancelArgs, RedriveArgs, StartArgs};
use crate::aws::{aws_failure, runtime, sdk_config, table_name};
use crate::failure::{read_input, Failure};
use reactor_aws::config::Config;
use reactor_aws::flow::{Cancel, FlowError, Launch, Reactor, Redrive, StartResponse};
use reactor_aws::launcher::EcsLauncher;
use reactor_aws::notifier::SnsNotifier;
use reactor_aws::store::DynamoStore;
use reactor_core::request::start_request;
use reactor_core::run::RunStatus;
use serde_json::{json, Value};
use time::OffsetDateTime;

type AwsReactor = Reactor<DynamoStore, EcsLauncher, SnsNotifier>;

/// The Lambdas' configuration (timeouts, sweep shards, leases from the same variables), with the table and
/// topic from the command line when given.
fn config(args: &ActArgs) -> Result<Config, Failure> {
    let table = table_name(&args.table)?;
    let topic = args
        .topic_arn
        .clone()
        .or_else(|| std::env::var("REACTOR_TOPIC_ARN").ok())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::BadInput(
                "no outcomes topic: give --topic-arn ARN or set REACTOR_TOPIC_ARN (the stack's \
                 OutcomesTopicArn output); a run that ends is announced there"
                    .into(),
            )
        })?;
    Config::from_lookup(|name| match name {
        "REACTOR_TABLE" => Some(table.clone()),
        "REACTOR_TOPIC_ARN" => Some(topic.clone()),
        other => std::env::var(other).ok(),
    })
    .map_err(|e| Failure::BadInput(e.to_string()))
}

async fn connect(args: &ActArgs, config: &Config) -> Result<AwsReactor, Failure> {
    // The command line's own output is on stdout: no EMF lines there (the Lambdas count what follows).
    Ok(config.reactor(
        &sdk_config(&args.table, Some(config.timeouts())).await?,
        std::sync::Arc::new(reactor_aws::metrics::NoMetrics),
    ))
}

/// Runs one step of the flow on a reactor built from the command line, at `now`; returns its result and the
/// table.
fn act<T>(
    args: &ActArgs,
    now: OffsetDateTime,
    step: impl AsyncFnOnce(&AwsReactor, OffsetDateTime) -> Result<T, FlowError>,
) -> Result<(T, String), Failure> {
    let config = config(args)?;
    let result = runtime()?.block_on(async {
        let reactor = connect(args, &config).await?;
        step(&reactor, now)
            .await
            .map_err(|e| aws_failure(&config.table, &e))
    })?;
    Ok((result, config.table))
}

fn unknown_run(run: &str, table: &str) -> Failure {
    Failure::NotFound(format!("no run {run:?} in table {table}"))
}

/// Who is acting, as recorded on the run and in a stopped task's reason.
fn who(reason: Option<&str>) -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "an unnamed user".into());
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => format!("{user} (ecs-reactor CLI): {reason}"),
        None => format!("{user} (ecs-reactor CLI)"),
    }
}

/// A key no other start has used: the time to the nanosecond and the process.
fn fresh_key() -> String {
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
    let config = config(&args.act)?;
    let response = runtime()?
        .block_on(async {
            let reactor = connect(&args.act, &config).await?;
            reactor
                .start(&request.job, &request.run_id, now)
                .await
                .map_err(|e| match e {
                    FlowError::NotAllowed(e) => Failure::BadInput(format!("{}: {e}", args.job)),
                    e @ FlowError::Conflict { .. } => Failure::Conflict(e.to_string()),
                    e => aws_failure(&config.table, &e),
                })
        })
        .map(StartResponse::from)?;
    let output = if args.act.table.json {
        serde_json::to_string_pretty(&response).unwrap_or_default()
    } else {
        match response.outcome {
            "DUPLICATE" => format!(
                "run {} exists already (same --idempotency-key): nothing new started",
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
    let by = who(args.reason.as_deref());
    let (result, table) = act(&args.act, now, async |reactor, now| {
        reactor.cancel(&args.run, &by, args.stop_task, now).await
    })?;
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
    let by = who(args.reason.as_deref());
    let (result, table) = act(&args.act, now, async |reactor, now| {
        reactor.redrive(&args.run, &by, now).await
    })?;
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
