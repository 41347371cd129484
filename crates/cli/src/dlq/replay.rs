//! A dead letter replayed through the flow step its handler runs, in-process (as `start`, `cancel` and
//! `redrive` do): a STOPPED event → the classifier's [`reactor_aws::flow::Reactor::judge_stop`], a job request or a schedule's
//! tick → the starter's [`reactor_aws::flow::Reactor::start_scheduled`] under the run id the first try used. Each step is
//! idempotent, so a replay of what was handled since changes nothing: DUPLICATE or STALE.

use super::letter::About;
use crate::aws::{aws_failure, command_reactor, locate_with_topic, AwsReactor};
use crate::failure::Failure;
use reactor_aws::flow::{FlowError, Judged, Launch, StartResponse};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// The reactor replays run on, and its table (named in failures).
pub struct Replayer {
    reactor: AwsReactor,
    table: String,
}

/// The reactor on the table and outcomes topic (`--table`, `--topic-arn`, their variables, or the stack's
/// outputs): a replayed step records and announces as the Lambda's would.
pub async fn connect(
    args: &crate::args::TableArgs,
    topic: Option<&str>,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> Result<Replayer, Failure> {
    let located = locate_with_topic(args, topic, Some(timeouts)).await?;
    let topic = located.topic?;
    let reactor = command_reactor((&located.sdk, &located.table), &topic, &located.launch)?;
    Ok(Replayer {
        reactor,
        table: located.table,
    })
}

/// What a replay did.
pub struct Replayed {
    /// The flow's answer, as the handler's response says it: APPLIED, DUPLICATE, STALE, OTHER_TASK,
    /// UNKNOWN_RUN (classifier); STARTED, DUPLICATE, NOT_STARTED, DEFERRED, SKIPPED (starter).
    pub outcome: &'static str,
    /// The same in words.
    pub words: String,
    /// The same as JSON fields (runId, attempt, action, ruleId, taskArn…).
    pub fields: Map<String, Value>,
    /// Why the message is kept although the step ran, when it is: the run is not in this table.
    pub keep: Option<Failure>,
}

/// Replays what `about` holds. `Err`: the step failed (nothing was done, or what was done is repeated
/// safely by the next replay).
pub async fn replay(
    replayer: &Replayer,
    about: &About,
    now: OffsetDateTime,
) -> Result<Replayed, Failure> {
    match about {
        About::Task {
            task,
            attempt: Ok(attempt),
        } => {
            let judged = replayer
                .reactor
                .judge_stop(task, attempt, now)
                .await
                .map_err(|e| flow_failure(&replayer.table, e))?;
            Ok(judged_of(judged, &replayer.table))
        }
        About::Start {
            request: Ok(request),
            ..
        } => {
            let started = replayer
                .reactor
                .start_scheduled(&request.job, &request.run_id, request.scheduled_at, now)
                .await
                .map_err(|e| flow_failure(&replayer.table, e))?;
            Ok(started_of(StartResponse::from(started)))
        }
        About::Tick(Ok(tick)) => {
            let started = replayer
                .reactor
                .start_registered(tick, now)
                .await
                .map_err(|e| flow_failure(&replayer.table, e))?;
            Ok(started_of(StartResponse::from(started)))
        }
        _ => Err(Failure::Conflict(
            "nothing in this message can be replayed".into(),
        )),
    }
}

/// A failed step in on-call's words, with the exit code its kind has elsewhere: a job the deployment does
/// not allow 3 (as `start`), a run started with another request 6, AWS 5.
fn flow_failure(table: &str, e: FlowError) -> Failure {
    match e {
        FlowError::NotAllowed(e) => Failure::BadInput(format!("the job is not allowed here: {e}")),
        e @ FlowError::Conflict { .. } => Failure::Conflict(e.to_string()),
        e => aws_failure(table, &e),
    }
}

fn judged_of(judged: Judged, table: &str) -> Replayed {
    let mut fields = Map::new();
    let (outcome, run_id, attempt, words) = match judged {
        Judged::Applied {
            run_id,
            attempt,
            decision,
            launch,
        } => {
            fields.insert("action".into(), json!(decision.action.as_str()));
            fields.insert("ruleId".into(), json!(decision.rule_id));
            if let Some(delay) = decision.delay_seconds {
                fields.insert("delaySeconds".into(), json!(delay));
            }
            let next = match launch {
                Some(Launch::Started { task_arn, .. }) => {
                    fields.insert("nextTaskArn".into(), json!(task_arn));
                    format!("; next attempt's task {task_arn}")
                }
                _ => String::new(),
            };
            let words = format!(
                "judged: {} ({}){next}",
                decision.action.as_str(),
                decision.rule_id
            );
            ("APPLIED", run_id, attempt, words)
        }
        Judged::Duplicate { run_id, attempt } => (
            "DUPLICATE",
            run_id,
            attempt,
            "judged already: nothing changed".to_owned(),
        ),
        Judged::Stale { run_id, attempt } => (
            "STALE",
            run_id,
            attempt,
            "the run has moved on: nothing changed".to_owned(),
        ),
        Judged::OtherTask { run_id, attempt } => (
            "OTHER_TASK",
            run_id,
            attempt,
            "a second task of the attempt: not judged (as the classifier leaves it)".to_owned(),
        ),
        Judged::Unknown { run_id, attempt } => (
            "UNKNOWN_RUN",
            run_id,
            attempt,
            format!("no such run or attempt in table {table}"),
        ),
    };
    let keep = (outcome == "UNKNOWN_RUN").then(|| {
        // Most likely the wrong table (another stack's): the message is the only record of the stop, so it
        // stays until on-call says otherwise.
        Failure::NotFound(format!(
            "run {run_id} attempt {attempt} is not in table {table}: message kept (check --stack / --table; \
             purge it if the run is gone)"
        ))
    });
    fields.insert("runId".into(), json!(run_id));
    fields.insert("attempt".into(), json!(attempt));
    Replayed {
        outcome,
        words: format!("run {run_id} attempt {attempt}: {words}"),
        fields,
        keep,
    }
}

fn started_of(response: StartResponse) -> Replayed {
    let mut fields = match serde_json::to_value(&response) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    fields.remove("outcome");
    let run = &response.run_id;
    let words = match (response.outcome, &response.task_arn) {
        ("DUPLICATE", _) => format!("run {run} exists already: nothing new started"),
        ("STARTED", Some(task)) => format!(
            "run {run} started: attempt {} task {task}",
            response.attempt.unwrap_or(1)
        ),
        (outcome, _) => format!(
            "run {run}: {outcome}{}",
            response
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
    };
    Replayed {
        outcome: response.outcome,
        words,
        fields,
        keep: None,
    }
}
