//! `ecs-reactor explain EVENT_FILE`: the classifier's judgement of one STOPPED event, offline; `explain --run
//! RUN_ID`: a stored run's attempts judged again from their recorded facts, beside what was recorded.
//!
//! It calls the same functions the classifier Lambda does (`judge_stopped_task`, the run's history, then
//! `decide`), so what it prints is what the reactor did, given the same policy and attempt number; and
//! `consider_stopped_task` for the reasoning: every rule looked at, which matched, whether a fall-back decided.

use crate::args::{ExplainArgs, TableArgs};
use crate::aws::{aws_failure, runtime, store, table_named};
use crate::failure::{read_input, Failure};
use reactor_aws::history::RunStory;
use reactor_core::event::task_state_change_from_value;
use reactor_core::judge::{
    consider_stopped_task, essential_containers, signature_of, with_run_history, Considered,
    PastFailure,
};
use reactor_core::started_by::{is_valid_run_id, Owner};
use reactor_core::{
    decide, judge_stopped_task, Action, Decision, History, Jitter, JobRequest, RetryPolicy, Task,
    UpperBound,
};
use serde_json::{json, Map, Value};

pub fn run(args: &ExplainArgs) -> Result<String, Failure> {
    let path = match (&args.event, &args.run) {
        (_, Some(run_id)) => return explain_run(run_id, args.attempt, &args.table),
        (Some(text), None) if names_a_run(text) => {
            return explain_run(text, args.attempt, &args.table)
        }
        (Some(path), None) => path,
        (None, None) => {
            return Err(Failure::BadInput(
                "give an EVENT_FILE, a RUN_ID or --run RUN_ID".into(),
            ))
        }
    };
    let text = read_input(path)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::BadInput(format!("{path}: not JSON: {e}")))?;
    let (value, held_in) = unwrap_event(value);
    let event = task_state_change_from_value(value)
        .map_err(|e| Failure::BadInput(format!("{path}: {e}")))?;
    let task = &event.detail;
    if !task.is_stopped() {
        return Err(Failure::BadInput(format!(
            "{path}: task is {}, not STOPPED: only stopped tasks are judged",
            task.last_status
        )));
    }
    // Whose task it is, decided as the classifier decides it, in the stack's namespace (REACTOR_NAMESPACE, else
    // the stack's Namespace output when a stack is named, else ecs-reactor).
    let namespace = crate::aws::namespace_for(&args.table)?;
    let attempt_ref = match namespace.owner_of(task.started_by.as_deref()) {
        Owner::Ours(attempt) => Some(attempt),
        Owner::Foreign(why) => {
            let ignored = json!({
                "action": "IGNORED",
                "reason": format!("would be ignored (not launched by ecs-reactor): {why}"),
                "taskArn": task.task_arn,
                "startedBy": task.started_by,
            });
            return serde_json::to_string_pretty(&ignored)
                .map_err(|e| Failure::BadInput(e.to_string()));
        }
        Owner::Malformed(e) => return Err(Failure::BadInput(format!("{path}: {e}"))),
    };
    let attempt = args
        .attempt
        .or(attempt_ref.as_ref().map(|r| r.attempt))
        .unwrap_or(1);
    // The knowledge the classifier judged with: the run's job and the essential containers it learnt at
    // launch, read from the table when there is one and no --policy overrides them.
    let stored = match (&args.policy, &attempt_ref) {
        (None, Some(r)) if table_named(&args.table) => stored_run(&r.run_id, &args.table)?.0,
        _ => None,
    };
    let (policy, job_essentials, policy_from) = match (&args.policy, &stored) {
        (Some(path), _) => {
            let (policy, essentials) = load_policy(path)?;
            (policy, essentials, format!("--policy {path}"))
        }
        (None, Some(story)) => {
            let job = stored_job(story)?;
            let essentials = job
                .essential_containers
                .clone()
                .or_else(|| story.run.essential_containers.clone());
            (job.retry, essentials, format!("run {}'s job in the table", story.run.run_id))
        }
        (None, None) if attempt_ref.is_some() && table_named(&args.table) => (
            RetryPolicy::default(),
            None,
            "the default policy: the run is not in the table".to_owned(),
        ),
        (None, None) => (
            RetryPolicy::default(),
            None,
            "the default policy: no table to read the run's job from (--table, REACTOR_TABLE, --stack) and no --policy"
                .to_owned(),
        ),
    };
    let (named, source) = if !args.essential.is_empty() {
        (Some(args.essential.clone()), "--essential")
    } else if let Some(names) = job_essentials {
        (
            Some(names),
            "the job's essentialContainers, else the task definition's",
        )
    } else {
        (None, "none given: every container counts (pass --essential or a job with essentialContainers)")
    };
    let earlier = stored
        .as_ref()
        .map(|story| Earlier::of(story, attempt))
        .unwrap_or_default();
    let history = History {
        attempt,
        disruptions: if stored.is_some() {
            earlier.disruptions
        } else {
            args.disruptions.min(attempt.saturating_sub(1))
        },
        counts_from: earlier.counts_from,
    };

    let verdict = judge_stopped_task(task, &policy, named.as_deref());
    let verdict = with_run_history(
        verdict,
        attempt,
        &signature_of(task),
        &earlier.past,
        policy.same_failure_limit,
    );
    let decision = decide(verdict, history, &policy, &mut UpperBound);
    let considered = consider_stopped_task(task, &policy, named.as_deref());
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
    put(
        "reasoning",
        reasoning(&considered, &decision, policy.same_failure_limit),
    );
    put("policy", json!({ "from": policy_from }));
    if let Some(held_in) = held_in {
        put("input", json!(held_in));
    }
    let recorded = stored
        .as_ref()
        .and_then(|story| story.attempts.iter().find(|a| a.attempt == attempt))
        .filter(|a| a.rule_id.is_some());
    if let Some(a) = recorded {
        put(
            "recorded",
            json!({"action": a.action, "ruleId": a.rule_id, "reason": a.reason}),
        );
        put(
            "agrees",
            json!(
                a.action == Some(decision.action)
                    && a.rule_id.as_deref() == Some(decision.rule_id.as_str())
            ),
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

/// Whether `text` names a stored run rather than a file: no such file, and the form of a run id.
fn names_a_run(text: &str) -> bool {
    text != "-" && !std::path::Path::new(text).exists() && is_valid_run_id(text)
}

/// The event inside what on-call holds: the event itself (a rule's dead-letter message), a Lambda
/// on-failure destination record (`requestPayload`), an SQS message (`Body`), or `aws sqs receive-message`
/// output (its first message). Also says which, when it was not the bare event.
fn unwrap_event(value: Value) -> (Value, Option<&'static str>) {
    if let Some(first) = value
        .get("Messages")
        .and_then(Value::as_array)
        .and_then(|m| m.first())
    {
        let (event, _) = unwrap_event(first.clone());
        return (event, Some("the first message of aws sqs receive-message"));
    }
    if let Some(body) = value.get("Body").and_then(Value::as_str) {
        if let Ok(inner) = serde_json::from_str::<Value>(body) {
            let (event, held) = unwrap_event(inner);
            return (event, held.or(Some("an SQS message body")));
        }
    }
    if let Some(payload) = value.get("requestPayload") {
        return (
            payload.clone(),
            Some("a Lambda on-failure destination record (requestPayload)"),
        );
    }
    (value, None)
}

/// A stored run, `None` if the table has no such run; and the table's name.
fn stored_run(run_id: &str, table: &TableArgs) -> Result<(Option<RunStory>, String), Failure> {
    runtime()?.block_on(async {
        let store = store(table).await?;
        let story = store
            .story(run_id)
            .await
            .map_err(|e| aws_failure(store.table(), &e))?;
        Ok((story, store.table().to_owned()))
    })
}

fn stored_job(story: &RunStory) -> Result<JobRequest, Failure> {
    JobRequest::from_json(&story.run.request).map_err(|e| {
        Failure::BadInput(format!(
            "run {}: its stored job request is invalid: {e}",
            story.run.run_id
        ))
    })
}

/// What the earlier attempts of a run leave for judging attempt `n`, as the classifier reads them: since the
/// run's latest redrive (a fresh budget), the disruptions used and the failures for the repeat rule.
#[derive(Default)]
struct Earlier {
    past: Vec<PastFailure>,
    disruptions: u32,
    counts_from: u32,
}

impl Earlier {
    fn of(story: &RunStory, n: u32) -> Earlier {
        let counts_from = story.run.counts_from.max(1);
        let earlier = story
            .attempts
            .iter()
            .filter(|a| a.attempt >= counts_from && a.attempt < n);
        Earlier {
            past: earlier.clone().filter_map(|a| a.past_failure()).collect(),
            disruptions: earlier
                .filter(|a| a.counts_as_attempt == Some(false))
                .count() as u32,
            counts_from,
        }
    }
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

/// The judge's reasoning: how many rules it looked at, those that matched (the first decides), and whether
/// a fall-back decided, and why.
fn reasoning(considered: &[Considered], decision: &Decision, same_failure_limit: u32) -> Value {
    let matched: Vec<&Considered> = considered.iter().filter(|c| c.matched).collect();
    let fallback = match matched.first() {
        Some(first) if first.fallback => {
            let repeat = if same_failure_limit >= 2 {
                format!(
                    "; the same failure on {same_failure_limit} attempts in a row stops the retries (retry.sameFailureLimit)"
                )
            } else {
                String::new()
            };
            format!(
                "used: no specific rule matched, so the fall-back `{}` decided (it recognises the error's family, not its cause){repeat}",
                first.rule_id
            )
        }
        Some(first) => match matched.iter().find(|c| c.fallback) {
            Some(f) => format!(
                "not used: the specific rule `{}` matched before the fall-back `{}`",
                first.rule_id, f.rule_id
            ),
            None => format!("not needed: `{}` recognised the cause", first.rule_id),
        },
        None => "no rule matched".into(),
    };
    let mut out = json!({
        "rulesConsidered": considered.len(),
        "matched": matched,
        "decidedBy": matched.first().map(|c| c.rule_id.as_str()),
        "fallback": fallback,
    });
    // The run's history or budget changed what the first matching rule said.
    if matched.first().map(|c| c.rule_id.as_str()) != Some(decision.rule_id.as_str()) {
        out["then"] = json!(format!(
            "{} ({}): {}",
            decision.rule_id, decision.action, decision.rule
        ));
    }
    out
}

/// `explain --run RUN_ID`: every judged attempt of a stored run, judged again from its recorded facts with
/// the run's own policy and its earlier attempts, beside what was recorded. The launch type is not recorded:
/// the one Fargate-only rule (`fargate-disk-full`) reads such an attempt as on EC2.
fn explain_run(run_id: &str, only: Option<u32>, table: &TableArgs) -> Result<String, Failure> {
    let (story, table) = stored_run(run_id, table)?;
    let story =
        story.ok_or_else(|| Failure::NotFound(format!("no run {run_id:?} in table {table}")))?;
    let run = &story.run;
    let job = stored_job(&story)?;
    let policy = &job.retry;
    let essentials = job
        .essential_containers
        .clone()
        .or_else(|| run.essential_containers.clone());
    let mut attempts: Vec<_> = story.attempts.iter().collect();
    attempts.sort_by_key(|a| a.attempt);
    let (mut past, mut disruptions, mut out) = (Vec::new(), 0, Vec::new());
    let (mut counts_from, mut ended) = (1, false);
    for attempt in attempts {
        let n = attempt.attempt;
        // An attempt after one that ended the run (SUCCEED or FAIL recorded), or the run's latest redrive,
        // is a redrive: a fresh budget and a fresh history. The table keeps only the latest redrive's number.
        if ended || n == run.counts_from {
            counts_from = n;
            past.clear();
            disruptions = 0;
        }
        ended = matches!(attempt.action, Some(Action::Succeed | Action::Fail));
        let Some(recorded_rule) = attempt.rule_id.as_deref() else {
            continue;
        };
        let recorded =
            json!({"action": attempt.action, "ruleId": recorded_rule, "reason": attempt.reason});
        let Some(task_arn) = attempt.task_arn.as_deref().filter(|_| {
            attempt.stop_code.is_some()
                || attempt.stopped_reason.is_some()
                || !attempt.containers.is_empty()
        }) else {
            out.push(json!({
                "attempt": n,
                "recorded": recorded,
                "note": "no task stopped: the launch was refused or the attempt never ran; launches are judged by the launch table (ecs-reactor rules)",
            }));
            continue;
        };
        let task = Task {
            // The size it ran at: what `retry.onOutOfMemory` raises from.
            cpu: attempt.cpu.map(|c| c.to_string()),
            memory: attempt.memory_mib.map(|m| m.to_string()),
            ..Task::stopped(
                task_arn,
                None,
                attempt.stop_code.as_deref(),
                attempt.stopped_reason.as_deref(),
                attempt
                    .containers
                    .iter()
                    .map(|c| (c.name.clone(), c.exit_code, c.reason.clone())),
            )
        };
        let verdict = judge_stopped_task(&task, policy, essentials.as_deref());
        let verdict = with_run_history(
            verdict,
            n,
            &signature_of(&task),
            &past,
            policy.same_failure_limit,
        );
        let history = History {
            attempt: n,
            disruptions,
            counts_from,
        };
        let decision = decide(verdict, history, policy, &mut UpperBound);
        let considered = consider_stopped_task(&task, policy, essentials.as_deref());
        let agrees = attempt.action == Some(decision.action) && recorded_rule == decision.rule_id;
        out.push(json!({
            "attempt": n,
            "taskArn": task_arn,
            "recorded": recorded,
            "judgedNow": {"action": decision.action, "ruleId": decision.rule_id, "rule": decision.rule, "reason": decision.reason},
            "agrees": agrees,
            "evidence": decision.verdict.evidence,
            "hint": decision.verdict.hint,
            "reasoning": reasoning(&considered, &decision, policy.same_failure_limit),
        }));
        if attempt.counts_as_attempt == Some(false) {
            disruptions += 1;
        }
        past.extend(attempt.past_failure());
    }
    if let Some(n) = only {
        out.retain(|a| a["attempt"] == json!(n));
        if out.is_empty() {
            return Err(Failure::NotFound(format!(
                "run {run_id} has no attempt {n}"
            )));
        }
    }
    let value =
        json!({"runId": run_id, "job": run.job, "status": run.status.as_str(), "attempts": out});
    serde_json::to_string_pretty(&value).map_err(|e| Failure::BadInput(e.to_string()))
}
