//! Exactly once under faults, against moto with the real handlers: a crash after every AWS call of every
//! step, duplicates delivered at once, events out of order, throttling and failed calls, a stalled endpoint,
//! arbitrary input. Each test ends on the invariant that no run is left without a next step
//! ([`runs_without_a_next_step`]). The soak is in `soak.rs`.

use crate::faults::{
    after, json_error, lambda_reactor, run_task_failure, runs_without_a_next_step, sns_error,
    Fault, Faults,
};
use crate::handlers::{started, started_by, T0, T_STOP};
use crate::moto::serial_moto;
use crate::stack::{sweep_event, LocalReactor, Stack};
use reactor_aws::edge::HandlerError;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// An event as Lambda hands it to one of the three functions.
#[derive(Debug, Clone)]
pub enum Delivery {
    Starter(Value),
    Classifier(Value),
    Scheduler(Value),
}

/// Delivers `delivery` to its handler; `Err` is what the invocation would fail with (a stream batch that hands
/// records back counts as failed: Lambda delivers them again).
pub async fn deliver(
    reactor: &LocalReactor,
    delivery: &Delivery,
    now: OffsetDateTime,
) -> Result<Value, String> {
    match delivery {
        Delivery::Starter(payload) => starter::handle(reactor, payload.clone(), "req-1", now)
            .await
            .map(|r| json!(r))
            .map_err(|e| format!("{}: {e}", e.error_type())),
        Delivery::Classifier(payload) => classifier::handle(reactor, payload.clone(), now)
            .await
            .map(|r| json!(r))
            .map_err(|e| format!("{}: {e}", e.error_type())),
        Delivery::Scheduler(payload) => {
            match scheduler::handle(reactor, payload.clone(), now).await {
                Ok(r)
                    if r["batchItemFailures"]
                        .as_array()
                        .is_some_and(|f| !f.is_empty()) =>
                {
                    Err(format!("records handed back: {r}"))
                }
                Ok(r) => Ok(r),
                Err(e) => Err(format!("{}: {e}", e.error_type())),
            }
        }
    }
}

/// What Lambda and the sweep do after a failed invocation at `t`: an asynchronous invocation is retried about
/// one and three minutes later (a stream record sooner and more often, a sweep a minute later), and the sweep
/// runs every minute.
pub async fn recover(stack: &Stack, delivery: &Delivery, t: OffsetDateTime) {
    let reactor = stack.reactor();
    for minute in 1..=5 {
        let now = after(t, 60 * minute);
        if minute == 1 || minute == 3 {
            let _ = deliver(&reactor, delivery, now).await;
        }
        let _ = deliver(&reactor, &Delivery::Scheduler(sweep_event()), now).await;
    }
}

/// A run as the comparison sees it: its items without times or task ids, the tasks ECS has per attempt.
pub async fn shape(stack: &Stack, run_id: &str) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    };
    let mut lines = Vec::new();
    let mut attempts = 0;
    for row in stack.rows(run_id).await {
        let sk = text(&row["sk"]);
        lines.push(match sk.as_str() {
            "RUN" => {
                attempts = row["attempt"].as_u64().unwrap();
                format!(
                    "RUN {} attempt {} disruptions {} rule {} notified {}",
                    text(&row["status"]),
                    attempts,
                    text(&row["disruptions"]),
                    text(&row["lastRuleId"]),
                    row["notifiedAt"].is_string()
                )
            }
            s if s.starts_with("ATTEMPT#") => format!(
                "{s} {} {} {} task {} stop {}",
                text(&row["state"]),
                text(&row["action"]),
                text(&row["ruleId"]),
                row["taskArn"].is_string(),
                text(&row["stopCode"])
            ),
            s => format!("{s} due {}", text(&row["dueAt"])),
        });
    }
    for n in 1..=attempts as u32 {
        let tasks = stack.tasks(&started_by(run_id, n)).await.len();
        lines.push(format!("attempt {n}: {tasks} task(s) in ECS"));
    }
    lines
}

/// The steps of the loop a crash can interrupt, each one delivery to one handler.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The starter on a schedule tick: create the run, learn its essential containers, launch attempt 1.
    Start,
    /// The classifier on a success: close the run, publish its outcome.
    JudgeSuccess,
    /// The classifier on a Spot interruption: launch the next attempt at once.
    JudgeRetryNow,
    /// The classifier on an application failure: write the delay item.
    JudgeRetryLater,
    /// The classifier on a missing image: fail the run, publish.
    JudgeFailure,
    /// The scheduler on a TTL delete of the delay item: claim and launch the retry.
    FireByTtl,
    /// The scheduler's sweep finding the delay overdue.
    FireBySweep,
    /// The retry queue delivering the retry at its due second.
    FireByQueue,
    /// The starter on a tick of a `concurrency: REPLACE` job whose previous run still runs: create the run
    /// under the job's lock, cancel the previous run and stop its task, launch.
    StartReplacing,
    /// The sweep finding an attempt past its `timeoutSeconds`: stop its task.
    SweepDeadline,
    /// The sweep finding a quiet RUNNING run whose task stopped and whose STOPPED event was lost: judge it from
    /// DescribeTasks.
    Reconcile,
}

/// The job of `name` with `edit` applied, as a schedule tick at `time`.
fn tick_of(stack: &Stack, name: &str, time: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut tick = stack.tick(name, time);
    edit(&mut tick["detail"]);
    tick
}

const TICK: &str = "2026-11-21T02:30:00Z";

impl Step {
    /// Plays the run up to this step without faults; returns the run id, the delivery and when it comes.
    async fn prepare(self, stack: &Stack, job: &str) -> (String, Delivery, OffsetDateTime) {
        let reactor = stack.reactor();
        if let Step::Start = self {
            let run_id = format!("{job}-20261121T023000Z");
            return (run_id, Delivery::Starter(stack.tick(job, TICK)), T0);
        }
        if let Step::StartReplacing = self {
            let replace = |j: &mut Value| j["concurrency"] = json!("REPLACE");
            let first = tick_of(stack, job, TICK, replace);
            starter::handle(&reactor, first, "req-first", T0)
                .await
                .unwrap();
            let second = tick_of(stack, job, "2026-11-21T02:31:00Z", replace);
            let run_id = format!("{job}-20261121T023100Z");
            return (run_id, Delivery::Starter(second), after(T0, 60));
        }
        if let Step::SweepDeadline = self {
            let timed = tick_of(stack, job, TICK, |j| j["timeoutSeconds"] = json!(600));
            let started = starter::handle(&reactor, timed, "req-first", T0)
                .await
                .unwrap();
            let sweep = Delivery::Scheduler(sweep_event());
            return (started.run_id, sweep, after(T0, 601));
        }
        let (run_id, task) = started(stack, &reactor, job).await;
        if let Step::Reconcile = self {
            // The task fails and its event is lost: nothing delivers it.
            stack
                .stop(&task, &started_by(&run_id, 1), "stopped-app-exit-1.json", 3)
                .await;
            let sweep = Delivery::Scheduler(sweep_event());
            return (run_id, sweep, after(T0, 11 * 60));
        }
        let sample = match self {
            Step::JudgeSuccess => "stopped-success.json",
            Step::JudgeRetryNow => "stopped-spot-interruption.json",
            Step::JudgeFailure => "stopped-image-not-found.json",
            _ => "stopped-app-exit-1.json",
        };
        let stopped = stack.stop(&task, &started_by(&run_id, 1), sample, 3).await;
        let stopped = Delivery::Classifier(stopped);
        match self {
            Step::FireByTtl | Step::FireBySweep | Step::FireByQueue => {
                deliver(&reactor, &stopped, T_STOP).await.unwrap();
                let due = after(T_STOP, 60);
                match self {
                    Step::FireByTtl => {
                        let batch = stack.expire(&run_id, "DELAY#0002").await;
                        (run_id, Delivery::Scheduler(batch), after(due, 600))
                    }
                    Step::FireByQueue => {
                        let delivery = stack.retry_delivery(&run_id, 2).await.unwrap();
                        (run_id, Delivery::Scheduler(delivery), due)
                    }
                    _ => (run_id, Delivery::Scheduler(sweep_event()), after(due, 30)),
                }
            }
            _ => (run_id, stopped, T_STOP),
        }
    }
}

/// For each step: the fault-free delivery and recovery give the reference; then for every k, a crash right
/// after the k-th AWS call (its answer lost, nothing after it sent), the invariant checked at once, recovery
/// as Lambda and the sweep would do it, and the run must equal the reference: the same items, one task per
/// attempt, one notification — two identical ones only when the crash fell between SNS accepting the
/// message and `notifiedAt` being written (subscribers deduplicate by `runId`).
async fn crash_after_every_call(step: Step) {
    let stack = Stack::new().await;
    let name = format!("{step:?}").to_lowercase();

    let (run_id, delivery, t) = step.prepare(&stack, &format!("{name}-ref")).await;
    let recorder = Faults::none();
    deliver(&recorder.reactor(&stack), &delivery, t)
        .await
        .unwrap();
    let calls = recorder.calls();
    recover(&stack, &delivery, t).await;
    let reference = shape(&stack, &run_id).await;
    assert_beyond_the_run(&stack, step, &run_id, "fault-free").await;
    let reference_notes = stack.notifications_now().await.len();
    assert!(calls.len() >= 2, "{step:?}: {calls:?}");
    println!(
        "{step:?}: a crash after each of {} calls: {}",
        calls.len(),
        calls.join(", ")
    );

    for k in 1..=calls.len() {
        let (run_id, delivery, t) = step.prepare(&stack, &format!("{name}-k{k}")).await;
        let faults = Faults::crash_after(k);
        let crashed = deliver(&faults.reactor(&stack), &delivery, t).await;
        let at = format!(
            "{step:?}, crash after call {k} ({}) of {calls:?}",
            calls[k - 1]
        );
        // Sending to the retry queue is the one call whose failure a step tolerates (logged; the delay item is
        // the record and the sweep fires it): a crash right after it, as the step's last call, is the step done.
        let tolerated = k == calls.len() && calls[k - 1] == "sqs:SendMessage";
        assert!(
            crashed.is_err() || tolerated,
            "{at}: the invocation must fail: {crashed:?}"
        );
        assert_eq!(
            runs_without_a_next_step(&stack).await,
            Vec::<String>::new(),
            "{at}"
        );
        recover(&stack, &delivery, t).await;
        assert_eq!(shape(&stack, &run_id).await, reference, "{at}");
        assert_beyond_the_run(&stack, step, &run_id, &at).await;
        let notes = stack.notifications_now().await;
        if calls[k - 1] == "sns:Publish" {
            assert_eq!(
                notes.len(),
                2,
                "{at}: published, then again after the lost answer"
            );
            assert_eq!(notes[0], notes[1], "{at}: the same message twice");
        } else {
            assert_eq!(notes.len(), reference_notes, "{at}: {notes:?}");
        }
    }
    assert_eq!(runs_without_a_next_step(&stack).await, Vec::<String>::new());
}

/// What a step did beyond its own run, which must hold after every crash and recovery too.
async fn assert_beyond_the_run(stack: &Stack, step: Step, run_id: &str, at: &str) {
    match step {
        Step::StartReplacing => {
            let replaced = run_id.replace("20261121T023100Z", "20261121T023000Z");
            let row = stack.row(&replaced, "RUN").await.unwrap();
            assert_eq!(row["status"], "CANCELLED", "{at}: the replaced run");
            let task = stack.tasks(&started_by(&replaced, 1)).await;
            assert_eq!(
                stack.task(&task[0]).await.desired_status(),
                Some("STOPPED"),
                "{at}: its task"
            );
        }
        Step::SweepDeadline => {
            let task = stack.tasks(&started_by(run_id, 1)).await;
            let stopped = stack.task(&task[0]).await;
            assert_eq!(stopped.desired_status(), Some("STOPPED"), "{at}");
            assert!(
                stopped
                    .stopped_reason()
                    .unwrap_or_default()
                    .starts_with("ecs-reactor timeout:"),
                "{at}: {:?}",
                stopped.stopped_reason()
            );
        }
        _ => {}
    }
}

#[tokio::test]
async fn a_crash_after_any_call_of_a_replacing_start_ends_like_no_crash() {
    crash_after_every_call(Step::StartReplacing).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_stopping_a_task_at_its_deadline_ends_like_no_crash() {
    crash_after_every_call(Step::SweepDeadline).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_reconciling_a_lost_event_ends_like_no_crash() {
    crash_after_every_call(Step::Reconcile).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_the_starter_ends_like_no_crash() {
    crash_after_every_call(Step::Start).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_judging_a_success_ends_like_no_crash() {
    crash_after_every_call(Step::JudgeSuccess).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_an_immediate_retry_ends_like_no_crash() {
    crash_after_every_call(Step::JudgeRetryNow).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_scheduling_a_retry_ends_like_no_crash() {
    crash_after_every_call(Step::JudgeRetryLater).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_judging_a_failure_ends_like_no_crash() {
    crash_after_every_call(Step::JudgeFailure).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_a_ttl_fired_retry_ends_like_no_crash() {
    crash_after_every_call(Step::FireByTtl).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_a_retry_the_queue_delivered_ends_like_no_crash() {
    crash_after_every_call(Step::FireByQueue).await;
}

#[tokio::test]
async fn a_crash_after_any_call_of_the_sweep_ends_like_no_crash() {
    crash_after_every_call(Step::FireBySweep).await;
}

/// One fault case: the step it hits, the fault, how the invocation ends, how often the faulted operation was
/// called (the SDK's own retries included) and the run's status right after.
struct FaultCase {
    step: Step,
    operation: &'static str,
    times: usize,
    answer: Fault,
    ends: &'static str,
    calls: usize,
    status: &'static str,
}

const ALWAYS: usize = usize::MAX;

/// Throttling and failed calls: the SDK retries within the invocation (standard mode, 3 attempts); what still
/// fails is deferred (a launch AWS refused for reasons of its own), judged (a launch refused for the task's
/// own reasons is retried later) or fails the invocation for Lambda to retry — and at
/// no point is a run left without a next step. After Lambda's retries and the sweep, no attempt has more than
/// one task and a finished run has one notification.
#[tokio::test]
async fn throttling_and_failed_calls_are_retried_and_no_run_is_left_without_a_next_step() {
    let throttled = || json_error(400, "ThrottlingException");
    let dynamodb_throttled = || {
        json_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        )
    };
    #[rustfmt::skip]
    let cases = [
        FaultCase { step: Step::Start, operation: "ecs:RunTask", times: 2, answer: throttled(), ends: "STARTED", calls: 3, status: "RUNNING" },
        // AWS's own trouble (throttled, a server error) defers the launch: recorded, no attempt used, the sweep launches it.
        FaultCase { step: Step::Start, operation: "ecs:RunTask", times: ALWAYS, answer: throttled(), ends: "DEFERRED", calls: 3, status: "LAUNCHING" },
        FaultCase { step: Step::Start, operation: "ecs:RunTask", times: 1, answer: run_task_failure("RESOURCE:MEMORY"), ends: "launch-no-instance-resources", calls: 1, status: "RETRY_SCHEDULED" },
        FaultCase { step: Step::Start, operation: "ecs:RunTask", times: 1, answer: run_task_failure("AGENT"), ends: "launch-agent-unavailable", calls: 1, status: "RETRY_SCHEDULED" },
        FaultCase { step: Step::Start, operation: "dynamodb:TransactWriteItems", times: ALWAYS, answer: dynamodb_throttled(), ends: "RetryableError", calls: 3, status: "-" },
        FaultCase { step: Step::JudgeRetryLater, operation: "dynamodb:TransactWriteItems", times: 2, answer: dynamodb_throttled(), ends: "RETRY_LATER", calls: 3, status: "RETRY_SCHEDULED" },
        FaultCase { step: Step::JudgeRetryLater, operation: "dynamodb:TransactWriteItems", times: ALWAYS, answer: dynamodb_throttled(), ends: "RetryableError", calls: 3, status: "RUNNING" },
        FaultCase { step: Step::JudgeRetryNow, operation: "ecs:RunTask", times: ALWAYS, answer: json_error(500, "ServerException"), ends: "RETRY_NOW", calls: 3, status: "LAUNCHING" },
        FaultCase { step: Step::JudgeSuccess, operation: "sns:Publish", times: 1, answer: sns_error(400, "Throttling"), ends: "SUCCEED", calls: 2, status: "SUCCEEDED" },
        FaultCase { step: Step::JudgeSuccess, operation: "sns:Publish", times: ALWAYS, answer: sns_error(500, "InternalError"), ends: "RetryableError", calls: 3, status: "SUCCEEDED" },
        FaultCase { step: Step::FireByTtl, operation: "dynamodb:GetItem", times: ALWAYS, answer: json_error(500, "InternalServerError"), ends: "records handed back", calls: 3, status: "LAUNCHING" },
    ];
    let stack = Stack::new().await;
    for (i, case) in cases.iter().enumerate() {
        let (run_id, delivery, t) = case.step.prepare(&stack, &format!("fault-{i}")).await;
        let faults = Faults::answer(case.operation, case.times, case.answer.clone());
        let ended = deliver(&faults.reactor(&stack), &delivery, t).await;
        let what = format!(
            "case {i}: {:?} with {} answered {:?} ×{}",
            case.step, case.operation, case.answer, case.times
        );
        let ended = match ended {
            Ok(answer) => answer.to_string(),
            Err(error) => error,
        };
        let calls = faults
            .calls()
            .iter()
            .filter(|op| *op == case.operation)
            .count();
        assert_eq!(calls, case.calls, "{what}: {:?}", faults.calls());
        let run = stack.row(&run_id, "RUN").await.unwrap_or_default();
        let ended = format!("{ended} (last rule {})", run["lastRuleId"]);
        assert!(ended.contains(case.ends), "{what}: ended {ended}");
        assert_eq!(run["status"].as_str().unwrap_or("-"), case.status, "{what}");
        assert_eq!(
            runs_without_a_next_step(&stack).await,
            Vec::<String>::new(),
            "{what}"
        );

        recover(&stack, &delivery, t).await;
        let shape = shape(&stack, &run_id).await;
        let at_most_one = |l: &String| {
            !l.starts_with("attempt ")
                || l.ends_with(": 1 task(s) in ECS")
                || l.ends_with(": 0 task(s) in ECS")
        };
        assert!(shape.iter().all(at_most_one), "{what}: {shape:#?}");
        assert_eq!(
            runs_without_a_next_step(&stack).await,
            Vec::<String>::new(),
            "{what}: after recovery"
        );
        let notes = stack.notifications_now().await;
        let finished = shape[shape.iter().position(|l| l.starts_with("RUN ")).unwrap()]
            .contains("notified true");
        assert_eq!(notes.len(), usize::from(finished), "{what}: {shape:#?}");
    }
    assert_eq!(runs_without_a_next_step(&stack).await, Vec::<String>::new());
}

/// A launch AWS refused for reasons of its own — throttled, a 500 with a JSON body, a proxy's HTML 500, an
/// empty 503 — never uses up an attempt: with `maxAttempts: 1` the run is deferred, not failed, and the sweep
/// launches the same attempt once ECS answers again. A launch ECS refused for the task's own reasons (an
/// unknown platform version) is still judged, and fails that run.
#[tokio::test]
async fn a_launch_aws_refused_for_its_own_reasons_never_uses_up_an_attempt() {
    let html = Fault::Answer {
        status: 500,
        body: "<!doctype html><html><body>502 Bad Gateway</body></html>".into(),
    };
    let empty = Fault::Answer {
        status: 503,
        body: String::new(),
    };
    let stack = Stack::new().await;
    let once = |j: &mut Value| j["retry"]["maxAttempts"] = json!(1);
    for (i, answer) in [
        json_error(400, "ThrottlingException"),
        json_error(500, "ServerException"),
        html,
        empty,
    ]
    .into_iter()
    .enumerate()
    {
        let job = format!("outage-{i}");
        let tick = tick_of(&stack, &job, TICK, once);
        let down = Faults::answer("ecs:RunTask", ALWAYS, answer.clone());
        let started = deliver(&down.reactor(&stack), &Delivery::Starter(tick), T0)
            .await
            .unwrap();
        assert_eq!(started["outcome"], "DEFERRED", "{answer:?}: {started}");
        let run_id = started["runId"].as_str().unwrap().to_owned();
        let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
        assert_eq!(
            (attempt["state"].as_str(), attempt["deferrals"].as_u64()),
            (Some("CLAIMED"), Some(1)),
            "{answer:?}: {attempt}"
        );
        assert_eq!(
            stack.row(&run_id, "RUN").await.unwrap()["status"],
            "LAUNCHING"
        );
        // Still down a minute later: deferred again, still attempt 1.
        let still_down = deliver(
            &down.reactor(&stack),
            &Delivery::Scheduler(sweep_event()),
            after(T0, 150),
        )
        .await
        .unwrap();
        assert_eq!(
            still_down["sweep"]["deferred"], 1,
            "{answer:?}: {still_down}"
        );
        // ECS answers again: the sweep launches attempt 1, the one and only attempt.
        let healthy = deliver(
            &stack.reactor(),
            &Delivery::Scheduler(sweep_event()),
            after(T0, 600),
        )
        .await
        .unwrap();
        assert_eq!(healthy["sweep"]["resumed"], 1, "{answer:?}: {healthy}");
        let run = stack.row(&run_id, "RUN").await.unwrap();
        assert_eq!(
            (run["status"].as_str(), run["attempt"].as_u64()),
            (Some("RUNNING"), Some(1)),
            "{answer:?}: {run}"
        );
        let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
        assert_eq!(attempt["deferrals"], 2, "{answer:?}: {attempt}");
        assert_eq!(stack.tasks(&started_by(&run_id, 1)).await.len(), 1);
    }
    // Deferred as often as it may be (`MAX_LAUNCH_DEFERRALS`), a refusal is judged like any other: with one
    // attempt, the run fails instead of waiting in LAUNCHING for good.
    let tick = tick_of(&stack, "outage-forever", TICK, once);
    let down = Faults::answer("ecs:RunTask", ALWAYS, json_error(500, "ServerException"));
    let started = deliver(&down.reactor(&stack), &Delivery::Starter(tick), T0)
        .await
        .unwrap();
    let run_id = started["runId"].as_str().unwrap().to_owned();
    stack
        .dynamodb
        .update_item()
        .table_name(&stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("RUN#{run_id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ATTEMPT#0001".into()),
        )
        .update_expression("SET deferrals = :n")
        .expression_attribute_values(
            ":n",
            aws_sdk_dynamodb::types::AttributeValue::N(
                reactor_core::step::MAX_LAUNCH_DEFERRALS.to_string(),
            ),
        )
        .send()
        .await
        .unwrap();
    deliver(
        &down.reactor(&stack),
        &Delivery::Scheduler(sweep_event()),
        after(T0, 600),
    )
    .await
    .unwrap();
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["lastRuleId"].as_str()),
        (Some("FAILED"), Some("attempts-exhausted")),
        "{run}"
    );

    // The task's own reason: judged as before, and with one attempt the run fails.
    let tick = tick_of(&stack, "bad-platform", TICK, once);
    let unknown_platform = Fault::Answer {
        status: 400,
        body: r#"{"__type":"PlatformUnknownException","message":"The specified platform version does not exist."}"#.into(),
    };
    let refused = Faults::answer("ecs:RunTask", ALWAYS, unknown_platform);
    let started = deliver(&refused.reactor(&stack), &Delivery::Starter(tick), T0)
        .await
        .unwrap();
    assert_eq!(started["outcome"], "NOT_STARTED", "{started}");
    let run = stack
        .row(started["runId"].as_str().unwrap(), "RUN")
        .await
        .unwrap();
    assert_eq!(
        (run["status"].as_str(), run["lastRuleId"].as_str()),
        (Some("FAILED"), Some("launch-platform-invalid")),
        "{run}"
    );
}

/// In a storm the adoption lookup (ListTasks by `startedBy`, asked before RunTask when a launch is taken over
/// from an interrupted or deferred one) is throttled too: the launch is deferred again like a throttled RunTask,
/// not failed, and a later sweep launches the same attempt. A launch under a claim written just now asks nothing.
#[tokio::test]
async fn a_throttled_adoption_lookup_defers_the_launch_too() {
    let stack = Stack::new().await;
    let tick = tick_of(&stack, "lookup-throttled", TICK, |j| {
        j["retry"]["maxAttempts"] = json!(1)
    });
    let run_task_throttled = Faults::answer(
        "ecs:RunTask",
        ALWAYS,
        json_error(400, "ThrottlingException"),
    );
    let started = deliver(
        &run_task_throttled.reactor(&stack),
        &Delivery::Starter(tick),
        T0,
    )
    .await
    .unwrap();
    assert_eq!(started["outcome"], "DEFERRED", "{started}");
    assert!(
        !run_task_throttled
            .calls()
            .iter()
            .any(|c| c == "ecs:ListTasks"),
        "a new claim has no earlier task to look for: {:?}",
        run_task_throttled.calls()
    );
    let run_id = started["runId"].as_str().unwrap().to_owned();

    // The sweep takes the deferred launch over: its lookup is throttled, so it is deferred again, and no
    // RunTask is made while the lookup cannot say whether the attempt's task exists.
    let lookup_throttled = Faults::answer(
        "ecs:ListTasks",
        ALWAYS,
        json_error(400, "ThrottlingException"),
    );
    let swept = deliver(
        &lookup_throttled.reactor(&stack),
        &Delivery::Scheduler(sweep_event()),
        after(T0, 600),
    )
    .await
    .unwrap();
    assert_eq!(swept["sweep"]["deferred"], 1, "{swept}");
    let calls = lookup_throttled.calls();
    assert!(calls.iter().any(|c| c == "ecs:ListTasks"), "{calls:?}");
    assert!(!calls.iter().any(|c| c == "ecs:RunTask"), "{calls:?}");
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_u64()),
        (Some("LAUNCHING"), Some(1)),
        "not failed, no attempt used: {run}"
    );

    let healthy = deliver(
        &stack.reactor(),
        &Delivery::Scheduler(sweep_event()),
        after(T0, 1200),
    )
    .await
    .unwrap();
    assert_eq!(healthy["sweep"]["resumed"], 1, "{healthy}");
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_u64()),
        (Some("RUNNING"), Some(1)),
        "{run}"
    );
    assert_eq!(stack.tasks(&started_by(&run_id, 1)).await.len(), 1);
}

/// An endpoint that accepts connections and never answers: each handler fails within the SDK timeouts of its
/// configuration (3 s an attempt, 8 s a call), well inside the function's own timeout, and says so.
#[tokio::test]
async fn a_stalled_endpoint_fails_the_invocation_within_the_sdk_timeout() {
    let stack = Stack::new().await;
    // Bound, never accepted: the kernel completes the handshake, nobody ever reads or answers.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", stalled.local_addr().unwrap());
    let reactor = lambda_reactor(&stack, None, Some(&endpoint));
    let template = std::fs::read_to_string(crate::cli::root().join("template.yml")).unwrap();
    let lambda_timeout: u64 = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("Timeout: "))
        .unwrap()
        .parse()
        .unwrap();
    let stopped = crate::stack::stopped_event(
        "stopped-success.json",
        "arn:aws:ecs:us-east-1:123456789012:task/jobs/0b1c",
        "ecs-reactor/stalled-20261121T023000Z/1",
        3,
    );
    let deliveries = [
        Delivery::Starter(stack.tick("stalled", TICK)),
        Delivery::Classifier(stopped),
        Delivery::Scheduler(sweep_event()),
    ];
    let [starter, classifier, scheduler] = &deliveries;
    // Only a guard against hanging the suite: the function's own timeout from template.yml.
    let (a, b, c) = tokio::time::timeout(std::time::Duration::from_secs(lambda_timeout), async {
        tokio::join!(
            deliver(&reactor, starter, T_STOP),
            deliver(&reactor, classifier, T_STOP),
            deliver(&reactor, scheduler, T_STOP)
        )
    })
    .await
    .expect("a handler outlived the function's timeout");
    for (delivery, ended) in deliveries.iter().zip([a, b, c]) {
        let error = ended.expect_err("a stalled endpoint must fail the invocation");
        assert!(error.starts_with("RetryableError"), "{delivery:?}: {error}");
        assert!(
            error.contains("timeout") || error.contains("timed out"),
            "{delivery:?}: {error}"
        );
    }
    drop(stalled);
}

/// Every delivery two or three times at the same moment, each copy in its own Lambda container (its own
/// clients), on a server that applies each request atomically as DynamoDB does: the tick starts one run with
/// one task, a STOPPED event is judged once and notifies once, an immediate retry launches one task, TTL
/// and sweep firing one delay (the TTL record twice) launch one task.
#[tokio::test]
async fn duplicates_delivered_at_the_same_moment_act_once() {
    let stack = Stack::on(serial_moto()).await;
    let containers = [stack.reactor(), stack.reactor(), stack.reactor()];
    let at_once = |deliveries: [Delivery; 3], now: OffsetDateTime| {
        let containers = &containers;
        async move {
            let [a, b, c] = &deliveries;
            let (a, b, c) = tokio::join!(
                deliver(&containers[0], a, now),
                deliver(&containers[1], b, now),
                deliver(&containers[2], c, now)
            );
            [a, b, c]
        }
    };

    // The tick, three times at once.
    let tick = Delivery::Starter(stack.tick("burst", TICK));
    let ended = at_once([tick.clone(), tick.clone(), tick.clone()], T0).await;
    let outcomes: Vec<_> = ended
        .iter()
        .map(|e| e.as_ref().unwrap()["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "STARTED").count(),
        1,
        "{ended:?}"
    );
    let run_id = "burst-20261121T023000Z";
    let first = stack.tasks(&started_by(run_id, 1)).await;
    assert_eq!(first.len(), 1, "one task for attempt 1");

    // Its Spot interruption, three times at once (versions 3, 3, 4): one immediate retry, one task.
    let mut spot = stack
        .stop(
            &first[0],
            &started_by(run_id, 1),
            "stopped-spot-interruption.json",
            3,
        )
        .await;
    let s3 = Delivery::Classifier(spot.clone());
    spot["detail"]["version"] = json!(4);
    let ended = at_once([s3.clone(), s3, Delivery::Classifier(spot)], T_STOP).await;
    let applied = ended
        .iter()
        .filter(|e| e.as_ref().unwrap()["outcome"] == "APPLIED")
        .count();
    assert_eq!(applied, 1, "{ended:?}");
    let second = stack.tasks(&started_by(run_id, 2)).await;
    assert_eq!(second.len(), 1, "one task for attempt 2");

    // Attempt 2 fails in the application: a retry later. Then TTL's record twice and the sweep, at once.
    let failed = stack
        .stop(
            &second[0],
            &started_by(run_id, 2),
            "stopped-app-exit-1.json",
            3,
        )
        .await;
    deliver(&containers[0], &Delivery::Classifier(failed), T_STOP)
        .await
        .unwrap();
    let ttl = Delivery::Scheduler(stack.expire(run_id, "DELAY#0003").await);
    let sweep = Delivery::Scheduler(sweep_event());
    let ended = at_once([ttl.clone(), sweep, ttl], after(T_STOP, 600)).await;
    assert!(ended.iter().all(Result::is_ok), "{ended:?}");
    let third = stack.tasks(&started_by(run_id, 3)).await;
    assert_eq!(third.len(), 1, "one task for attempt 3");

    // It succeeds; the event three times at once: one decision, one notification.
    let success = stack
        .stop(&third[0], &started_by(run_id, 3), "stopped-success.json", 3)
        .await;
    let success = Delivery::Classifier(success);
    let ended = at_once(
        [success.clone(), success.clone(), success],
        after(T_STOP, 700),
    )
    .await;
    let applied = ended
        .iter()
        .filter(|e| matches!(e, Ok(r) if r["outcome"] == "APPLIED"))
        .count();
    assert_eq!(applied, 1, "{ended:?}");
    recover(
        &stack,
        &Delivery::Scheduler(sweep_event()),
        after(T_STOP, 700),
    )
    .await;

    assert_eq!(
        shape(&stack, run_id).await,
        [
            "ATTEMPT#0001 DECIDED RETRY_NOW spot-interruption task true stop SpotInterruption",
            "ATTEMPT#0002 DECIDED RETRY_LATER application-exit-nonzero task true stop EssentialContainerExited",
            "ATTEMPT#0003 DECIDED SUCCEED essential-containers-exited-0 task true stop EssentialContainerExited",
            "RUN SUCCEEDED attempt 3 disruptions 1 rule essential-containers-exited-0 notified true",
            "attempt 1: 1 task(s) in ECS",
            "attempt 2: 1 task(s) in ECS",
            "attempt 3: 1 task(s) in ECS",
        ]
    );
    assert_eq!(stack.all_tasks().await.len(), 3);
    assert_eq!(stack.notifications_now().await.len(), 1, "one notification");
    assert_eq!(runs_without_a_next_step(&stack).await, Vec::<String>::new());
}

/// Events out of order change nothing: each is answered as what it is and the run's items, tasks and
/// notifications stay as they were.
#[tokio::test]
async fn events_out_of_order_change_nothing() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, first) = started(&stack, &reactor, "late").await;
    let by = |n| started_by(&run_id, n);
    // Attempt 1 is interrupted (version 3) and attempt 2 launched at once; attempt 2 then succeeds (version 3).
    let spot = stack
        .stop(&first, &by(1), "stopped-spot-interruption.json", 3)
        .await;
    deliver(&reactor, &Delivery::Classifier(spot), T_STOP)
        .await
        .unwrap();
    let second = stack.tasks(&by(2)).await.remove(0);
    let success = stack.stop(&second, &by(2), "stopped-success.json", 3).await;
    deliver(&reactor, &Delivery::Classifier(success), T_STOP)
        .await
        .unwrap();
    let before = (
        shape(&stack, &run_id).await,
        stack.notifications_now().await.len(),
    );
    assert_eq!(before.1, 1);

    let event = |sample, task: &str, n, version| {
        Delivery::Classifier(crate::stack::stopped_event(sample, task, &by(n), version))
    };
    let mut running = event("running.json", &second, 2, 2);
    if let Delivery::Classifier(e) = &mut running {
        e["detail"]["lastStatus"] = json!("RUNNING");
    }
    #[rustfmt::skip]
    let cases = [
        ("attempt 1 STOPPED, older version, after attempt 2 started", event("stopped-spot-interruption.json", &first, 1, 2), "DUPLICATE"),
        ("attempt 1 STOPPED, newer version with another ending", event("stopped-app-exit-1.json", &first, 1, 5), "DUPLICATE"),
        ("attempt 2 STOPPED, older version, after the run succeeded", event("stopped-app-exit-1.json", &second, 2, 2), "DUPLICATE"),
        ("attempt 2 RUNNING after its STOPPED", running, "IGNORED"),
        ("attempt 3 STOPPED: no such attempt", event("stopped-success.json", &second, 3, 3), "UNKNOWN_RUN"),
    ];
    for (what, delivery, expected) in cases {
        let answer = deliver(&reactor, &delivery, after(T_STOP, 60))
            .await
            .unwrap();
        assert_eq!(answer["outcome"], expected, "{what}: {answer}");
        let after = (
            shape(&stack, &run_id).await,
            stack.notifications_now().await.len() + 1,
        );
        assert_eq!(after, before, "{what}");
    }
}

/// Replaces (or, in an object, removes) the value at `path` — each step picks a child by index modulo the
/// number of children — with `replacement`.
fn mutate(value: &mut Value, path: &[usize], replacement: Option<Value>) {
    let Some((&step, rest)) = path.split_first() else {
        if let Some(r) = replacement {
            *value = r;
        }
        return;
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step % map.len()).unwrap().clone();
            if rest.is_empty() && replacement.is_none() {
                map.remove(&key);
            } else {
                mutate(map.get_mut(&key).unwrap(), rest, replacement);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            mutate(&mut items[step % n], rest, replacement);
        }
        other => {
            if let Some(r) = replacement {
                *other = r;
            }
        }
    }
}

/// Calls that change something in AWS.
const WRITES: [&str; 7] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
    "ecs:RunTask",
    "ecs:StopTask",
    "sns:Publish",
];

/// Arbitrary input to every handler — the sample events, job requests and stream batches with a random part
/// replaced or removed, each fed to all three functions — against moto: no panic; an answer, or an error
/// whose type says what it is; input rejected as invalid, malformed, not allowed or unrecognised touches
/// nothing in AWS (not even a read); and no run is left without a next step. `PROPTEST_CASES` bounds it.
#[test]
fn arbitrary_input_to_any_handler_is_answered_or_rejected_and_rejected_input_writes_nothing() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stack = runtime.block_on(Stack::new());
    let mut samples: Vec<Value> = std::fs::read_dir(crate::cli::root().join("events"))
        .unwrap()
        .map(|f| {
            serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    samples.extend([stack.job("fuzz"), stack.tick("fuzz", TICK)]);
    let leaf = prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<i64>().prop_map(|n| Some(json!(n))),
        ".{0,40}".prop_map(|s| Some(json!(s))),
        prop::sample::select(vec![
            "STOPPED",
            "REMOVE",
            "Scheduled Event",
            "ecs-reactor/x/1",
            "DELAY#0002",
            "aws.ecs"
        ])
        .prop_map(|s| Some(json!(s))),
        Just(Some(json!({}))),
        Just(Some(json!([]))),
    ];
    let input = (
        0..samples.len(),
        prop::collection::vec(any::<usize>(), 0..7),
        leaf,
    );
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let answered = std::cell::Cell::new([0usize; 2]);
    runner
        .run(&input, |(sample, path, replacement)| {
            let mut payload = samples[sample].clone();
            mutate(&mut payload, &path, replacement);
            for delivery in [
                Delivery::Starter(payload.clone()),
                Delivery::Classifier(payload.clone()),
                Delivery::Scheduler(payload.clone()),
            ] {
                let recorder = Faults::none();
                let ended = runtime.block_on(deliver(&recorder.reactor(&stack), &delivery, T_STOP));
                let calls = recorder.calls();
                match ended {
                    Ok(_) => answered.set([answered.get()[0] + 1, answered.get()[1]]),
                    Err(error) => {
                        answered.set([answered.get()[0], answered.get()[1] + 1]);
                        let (kind, message) = error.split_once(": ").unwrap_or((&error, ""));
                        prop_assert!(!message.trim().is_empty(), "{delivery:?}: {error}");
                        if ["InvalidJobRequest", "MalformedEvent", "UnrecognisedEvent"]
                            .contains(&kind)
                        {
                            prop_assert_eq!(
                                calls.len(),
                                0,
                                "{:?}: {}: {:?}",
                                delivery,
                                error,
                                calls
                            );
                        } else if kind == "JobNotAllowed" {
                            prop_assert!(
                                !calls.iter().any(|c| WRITES.contains(&c.as_str())),
                                "{delivery:?}: {error}: {calls:?}"
                            );
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(
        runtime.block_on(runs_without_a_next_step(&stack)),
        Vec::<String>::new()
    );
    let [ok, err] = answered.get();
    println!("{cases} inputs × 3 handlers: {ok} answered, {err} rejected or failed");
}
