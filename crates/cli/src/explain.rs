//! `ecs-reactor explain EVENT_FILE`: the classifier's judgement of one STOPPED event, offline.
//!
//! It calls the same two functions the classifier Lambda does (`judge_stopped_task`, then `decide`), so
//! what it prints is what the reactor did, given the same policy and attempt number.

use crate::args::ExplainArgs;
use crate::failure::{read_input, Failure};
use reactor_core::judge::essential_containers;
use reactor_core::{
    decide, judge_stopped_task, parse_task_state_change, AttemptRef, History, Jitter, JobRequest,
    RetryPolicy, UpperBound,
};
use serde_json::{json, Map, Value};

pub fn run(args: &ExplainArgs) -> Result<String, Failure> {
    let text = read_input(&args.event)?;
    let event = parse_task_state_change(&text)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", args.event)))?;
    let task = &event.detail;
    if !task.is_stopped() {
        return Err(Failure::BadInput(format!(
            "{}: task is {}, not STOPPED: only stopped tasks are judged",
            args.event, task.last_status
        )));
    }
    let (policy, job_essentials) = match &args.policy {
        Some(path) => load_policy(path)?,
        None => (RetryPolicy::default(), None),
    };
    let (named, source) = if !args.essential.is_empty() {
        (Some(args.essential.clone()), "--essential")
    } else if let Some(names) = job_essentials {
        (Some(names), "job essentialContainers")
    } else {
        (None, "none given: every container counts (pass --essential or a job with essentialContainers)")
    };
    let attempt_ref = task
        .started_by
        .as_deref()
        .and_then(|s| s.parse::<AttemptRef>().ok());
    let attempt = args
        .attempt
        .or(attempt_ref.as_ref().map(|r| r.attempt))
        .unwrap_or(1);
    let history = History {
        attempt,
        disruptions: args.disruptions.min(attempt.saturating_sub(1)),
        counts_from: 1,
    };

    let verdict = judge_stopped_task(task, &policy, named.as_deref());
    let decision = decide(verdict, history, &policy, &mut UpperBound);

    let essentials = essential_containers(task, named.as_deref());
    let containers: Vec<Value> = task
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "exitCode": c.exit_code,
                "reason": c.reason,
                "essential": essentials.iter().any(|e| e.name == c.name),
            })
        })
        .collect();
    // Built field by field so that the answer comes first: action, rule, when, why; then the facts.
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    put("action", json!(decision.action));
    put("rule", json!(decision.rule));
    put("ruleId", json!(decision.rule_id));
    if let Some(delay) = decision.delay_seconds {
        put("delaySeconds", json!(delay));
        let min = if policy.jitter == Jitter::Full {
            0
        } else {
            delay
        };
        put(
            "jitter",
            json!({ "strategy": policy.jitter, "minSeconds": min, "maxSeconds": delay }),
        );
    }
    put("reason", json!(decision.reason));
    put("countsAsAttempt", json!(decision.counts_as_attempt));
    if let Some(next) = decision.next_attempt {
        put("nextAttempt", json!(next));
    }
    put("evidence", json!(decision.verdict.evidence));
    if let Some(hint) = &decision.verdict.hint {
        put("hint", json!(hint));
    }
    if decision.verdict.action != decision.action {
        put(
            "verdict",
            json!({ "action": decision.verdict.action, "ruleId": decision.verdict.rule_id, "rule": decision.verdict.rule }),
        );
    }
    if let Some(r) = &attempt_ref {
        put("runId", json!(r.run_id));
    }
    put("attempt", json!(attempt));
    put("maxAttempts", json!(policy.max_attempts));
    put(
        "essentialContainers",
        json!({ "names": essentials.iter().map(|c| &c.name).collect::<Vec<_>>(), "from": source }),
    );
    put(
        "task",
        json!({
            "taskArn": task.task_arn,
            "lastStatus": task.last_status,
            "stopCode": task.stop_code,
            "stoppedReason": task.stopped_reason,
            "startedBy": task.started_by,
            "version": task.version,
            "containers": containers,
        }),
    );
    serde_json::to_string_pretty(&out).map_err(|e| Failure::BadInput(e.to_string()))
}

/// A policy file is either a whole job request or just its `retry` object.
fn load_policy(path: &str) -> Result<(RetryPolicy, Option<Vec<String>>), Failure> {
    let text = read_input(path)?;
    let bad = |e: String| Failure::BadInput(format!("{path}: {e}"));
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let is_job = value.get("runTask").is_some() || value.get("job").is_some();
    if is_job {
        let job = JobRequest::from_value(value).map_err(|e| bad(e.to_string()))?;
        Ok((job.retry, job.essential_containers))
    } else {
        let policy = reactor_core::job::retry_policy_from_value(value)
            .map_err(|e| bad(format!("invalid retry policy: {}", e.problems.join("; "))))?;
        Ok((policy, None))
    }
}
