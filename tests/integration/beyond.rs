//! What ecs-reactor does beyond the Step Functions designs, each opt-in per job, through the real handlers
//! against moto: the concurrency policy (FORBID, REPLACE), deadlines (`timeoutSeconds`,
//! `runTimeoutSeconds`), memory escalation after an OutOfMemoryError, and which outcomes notify.

use crate::handlers::{started_by, T0};
use crate::moto::{serial_moto, unique};
use crate::stack::{stopped_event_at, sweep_event, LocalReactor, Stack};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// The schedule rule's event for a tick of `job` at `time`.
fn tick(job: &Value, time: &str) -> Value {
    json!({
        "version": "0", "id": unique("tick"), "detail-type": "Scheduled Event", "source": "aws.events",
        "time": time, "detail": job
    })
}

/// The stack's job with `edit` applied.
fn job(stack: &Stack, name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut job = stack.job(name);
    edit(&mut job);
    job
}

async fn start(
    reactor: &LocalReactor,
    payload: Value,
    now: OffsetDateTime,
) -> reactor_aws::flow::StartResponse {
    starter::handle(reactor, payload, &unique("req"), now)
        .await
        .unwrap()
}

/// Plays ECS: stops the attempt's task with `sample`'s ending and judges the event.
async fn stop(
    stack: &Stack,
    reactor: &LocalReactor,
    task: &str,
    run_id: &str,
    attempt: u32,
    sample: &str,
    now: OffsetDateTime,
) -> classifier::ClassifyResponse {
    let event = stack
        .stop(task, &started_by(run_id, attempt), sample, 5)
        .await;
    classifier::handle(reactor, event, now).await.unwrap()
}

/// The STOPPED event of a task the reactor itself stopped: ECS's words (its stoppedReason in moto) under the
/// sample of a user's stop.
async fn event_of_stopped(
    stack: &Stack,
    task: &str,
    run_id: &str,
    attempt: u32,
    now: OffsetDateTime,
) -> Value {
    let described = stack.task(task).await;
    assert_eq!(
        described.desired_status(),
        Some("STOPPED"),
        "{task} was not stopped"
    );
    let mut event = stopped_event_at(
        "stopped-user-stop.json",
        task,
        &started_by(run_id, attempt),
        7,
        now,
    );
    event["detail"]["stoppedReason"] = json!(described.stopped_reason().unwrap_or_default());
    event
}

async fn sweep(reactor: &LocalReactor, now: OffsetDateTime) -> Value {
    scheduler::handle(reactor, sweep_event(), now)
        .await
        .unwrap()
}

fn status(row: &Option<Value>) -> &str {
    row.as_ref()
        .and_then(|r| r["status"].as_str())
        .unwrap_or("(none)")
}

const TICK_1: &str = "2026-11-21T02:30:00Z";
const TICK_2: &str = "2026-11-21T02:31:00Z";
const TICK_3: &str = "2026-11-21T02:32:00Z";
/// The CLI reports as of the ticks above (its `--now`), never as of the day the suite runs.
const AS_OF: &str = "2026-11-21T03:00:00Z";

#[tokio::test]
async fn forbid_records_a_skipped_tick_while_a_run_is_unfinished_and_runs_again_once_it_ends() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let forbid = job(&stack, "exporter", |j| {
        j["concurrency"] = json!("FORBID");
        j["notify"] = json!({"on": ["FAILED", "SKIPPED"]});
    });
    let first = start(&reactor, tick(&forbid, TICK_1), T0).await;
    assert_eq!(first.outcome, "STARTED");

    // The next tick, twice: one SKIPPED run, no task.
    for _ in 0..2 {
        let skipped = start(&reactor, tick(&forbid, TICK_2), T0 + Duration::minutes(1)).await;
        assert_eq!(
            (skipped.outcome, skipped.run_id.as_str()),
            ("SKIPPED", "exporter-20261121T023100Z"),
            "{skipped:?}"
        );
    }
    let row = stack.row("exporter-20261121T023100Z", "RUN").await;
    assert_eq!(status(&row), "SKIPPED");
    assert_eq!(row.as_ref().unwrap()["skippedFor"], json!(first.run_id));
    assert_eq!(
        stack.all_tasks().await.len(),
        1,
        "the skipped tick launched nothing"
    );
    let notices = stack.notifications_now().await;
    assert_eq!(
        notices.len(),
        1,
        "one SKIPPED notice for two deliveries: {notices:#?}"
    );
    assert_eq!(notices[0]["status"], "SKIPPED");

    // `runs --job` lists the skipped tick beside the run.
    let runs = crate::oncall::cli_on(&stack, &["--now", AS_OF, "runs", "--job", "exporter"]);
    assert!(
        runs.contains("exporter-20261121T023100Z") && runs.contains("SKIPPED"),
        "{runs}"
    );

    // The first run ends (SUCCEEDED is not in notify.on): the next tick runs.
    let task = first.task_arn.clone().unwrap();
    let judged = stop(
        &stack,
        &reactor,
        &task,
        &first.run_id,
        1,
        "stopped-success.json",
        T0 + Duration::minutes(2),
    )
    .await;
    assert_eq!(judged.action, Some("SUCCEED"));
    let third = start(&reactor, tick(&forbid, TICK_3), T0 + Duration::minutes(2)).await;
    assert_eq!(third.outcome, "STARTED", "{third:?}");
    assert_eq!(stack.all_tasks().await.len(), 2);
    assert!(
        stack.notifications_now().await.is_empty(),
        "SUCCEEDED is not in notify.on"
    );
}

#[tokio::test]
async fn ticks_racing_for_a_forbid_job_start_exactly_one_run() {
    // Each request alone and atomic, as DynamoDB applies them; the deliveries themselves run at once.
    let stack = Stack::on(serial_moto()).await;
    let forbid = job(&stack, "exclusive", |j| j["concurrency"] = json!("FORBID"));
    let deliveries = [TICK_1, TICK_1, TICK_2, TICK_2, TICK_3]
        .into_iter()
        .map(|time| {
            let (reactor, payload) = (stack.reactor(), tick(&forbid, time));
            tokio::spawn(async move { start(&reactor, payload, T0).await })
        })
        .collect::<Vec<_>>();
    let mut outcomes = Vec::new();
    for d in deliveries {
        let r = d.await.unwrap();
        outcomes.push((r.outcome, r.run_id));
    }
    let started: Vec<_> = outcomes.iter().filter(|(o, _)| *o == "STARTED").collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    assert_eq!(stack.all_tasks().await.len(), 1, "{outcomes:?}");
    // Every other tick is recorded as SKIPPED (or was a duplicate of the started one).
    for time in ["20261121T023000Z", "20261121T023100Z", "20261121T023200Z"] {
        let run_id = format!("exclusive-{time}");
        let row = stack.row(&run_id, "RUN").await;
        let expected = if run_id == started[0].1 {
            "RUNNING"
        } else {
            "SKIPPED"
        };
        assert_eq!(status(&row), expected, "{run_id}: {outcomes:?}");
    }
}

#[tokio::test]
async fn replace_cancels_the_unfinished_run_and_stops_its_task_before_the_new_run_launches() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let replace = job(&stack, "refresher", |j| j["concurrency"] = json!("REPLACE"));
    let old = start(&reactor, tick(&replace, TICK_1), T0).await;
    let old_task = old.task_arn.clone().unwrap();

    let new = start(&reactor, tick(&replace, TICK_2), T0 + Duration::minutes(1)).await;
    assert_eq!(new.outcome, "STARTED", "{new:?}");
    let old_row = stack.row(&old.run_id, "RUN").await;
    assert_eq!(status(&old_row), "CANCELLED");
    let by = old_row.as_ref().unwrap()["cancelledBy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(by.contains(&new.run_id) && by.contains("REPLACE"), "{by}");
    let stopped = stack.task(&old_task).await;
    assert_eq!(stopped.desired_status(), Some("STOPPED"));
    assert!(
        stopped
            .stopped_reason()
            .unwrap_or_default()
            .starts_with("ecs-reactor"),
        "{:?}",
        stopped.stopped_reason()
    );
    let new_row = stack.row(&new.run_id, "RUN").await;
    assert_eq!(status(&new_row), "RUNNING");
    assert_eq!(new_row.unwrap()["replaces"], json!(old.run_id));
    let notices = stack.notifications_now().await;
    assert_eq!(
        notices
            .iter()
            .map(|n| (n["runId"].as_str().unwrap(), n["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(old.run_id.as_str(), "CANCELLED")]
    );

    // The old task's STOPPED event changes nothing; the new tick delivered again changes nothing.
    let late = crate::stack::stopped_event_at(
        "stopped-user-stop.json",
        &old_task,
        &started_by(&old.run_id, 1),
        6,
        T0 + Duration::minutes(1),
    );
    assert_eq!(
        classifier::handle(&reactor, late, T0 + Duration::minutes(1))
            .await
            .unwrap()
            .outcome,
        "STALE"
    );
    let again = start(&reactor, tick(&replace, TICK_2), T0 + Duration::minutes(2)).await;
    assert_eq!(again.outcome, "DUPLICATE");
    assert_eq!(stack.tasks(&started_by(&new.run_id, 1)).await.len(), 1);
    assert_eq!(stack.all_tasks().await.len(), 2);
}

#[tokio::test]
async fn an_attempt_past_its_timeout_is_stopped_by_the_sweep_and_judged_by_on_timeout() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let timed = job(&stack, "hangs", |j| {
        j["timeoutSeconds"] = json!(600);
        j["retry"]["onTimeout"] = json!("RETRY_LATER");
    });
    let run = start(&reactor, tick(&timed, TICK_1), T0).await;
    let task = run.task_arn.clone().unwrap();
    let attempt = stack.row(&run.run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(attempt["deadlineAt"], json!("2026-11-21T02:40:02Z"));

    // Before the deadline the sweep leaves it alone; after it, the task is stopped once.
    sweep(&reactor, T0 + Duration::minutes(9)).await;
    assert_eq!(stack.task(&task).await.desired_status(), Some("RUNNING"));
    sweep(&reactor, T0 + Duration::minutes(11)).await;
    assert!(
        stack.row(&run.run_id, "DEADLINE#0001").await.is_none(),
        "deadline item left behind"
    );
    let event = event_of_stopped(&stack, &task, &run.run_id, 1, T0 + Duration::minutes(11)).await;
    assert!(
        event["detail"]["stoppedReason"]
            .as_str()
            .unwrap()
            .starts_with("ecs-reactor timeout: attempt 1"),
        "{event}"
    );
    let judged = classifier::handle(&reactor, event, T0 + Duration::minutes(11))
        .await
        .unwrap();
    assert_eq!(
        (judged.action, judged.rule_id.as_deref()),
        (Some("RETRY_LATER"), Some("timeout")),
        "{judged:?}"
    );
    assert_eq!(
        status(&stack.row(&run.run_id, "RUN").await),
        "RETRY_SCHEDULED"
    );
    // A later sweep finds nothing to stop.
    let swept = sweep(&reactor, T0 + Duration::minutes(12)).await;
    assert_eq!(swept["sweep"]["timedOut"], json!(0), "{swept}");
}

#[tokio::test]
async fn a_run_past_its_run_timeout_is_stopped_and_not_retried() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let bounded = job(&stack, "bounded", |j| {
        j["runTimeoutSeconds"] = json!(900);
        j["timeoutSeconds"] = json!(3600);
        j["retry"]["onTimeout"] = json!("RETRY_NOW");
    });
    // A run whose deadline stops its task: FAIL whatever onTimeout says.
    let run = start(&reactor, tick(&bounded, TICK_1), T0).await;
    let task = run.task_arn.clone().unwrap();
    sweep(&reactor, T0 + Duration::minutes(16)).await;
    let event = event_of_stopped(&stack, &task, &run.run_id, 1, T0 + Duration::minutes(16)).await;
    let judged = classifier::handle(&reactor, event, T0 + Duration::minutes(16))
        .await
        .unwrap();
    assert_eq!(
        (judged.action, judged.rule_id.as_deref()),
        (Some("FAIL"), Some("run-timeout")),
        "{judged:?}"
    );
    assert_eq!(status(&stack.row(&run.run_id, "RUN").await), "FAILED");

    // A failure whose retry could not start before the deadline: FAIL, no delay item.
    let late = start(&reactor, tick(&bounded, TICK_2), T0).await;
    let late_task = late.task_arn.clone().unwrap();
    let judged = stop(
        &stack,
        &reactor,
        &late_task,
        &late.run_id,
        1,
        "stopped-app-exit-1.json",
        T0 + Duration::seconds(899),
    )
    .await;
    assert_eq!(
        (judged.action, judged.rule_id.as_deref()),
        (Some("FAIL"), Some("run-timeout")),
        "{judged:?}"
    );
    assert!(stack.row(&late.run_id, "DELAY#0002").await.is_none());
    let failed: Vec<_> = stack
        .notifications_now()
        .await
        .into_iter()
        .map(|n| n["ruleId"].clone())
        .collect();
    assert_eq!(failed, [json!("run-timeout"), json!("run-timeout")]);
}

#[tokio::test]
async fn out_of_memory_retries_with_more_memory_until_the_cap_and_show_tells_each_attempts_memory()
{
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let hungry = job(&stack, "hungry", |j| {
        j["retry"]["onOutOfMemory"] = json!({"memoryMultiplier": 2.0, "maxMemoryMiB": 4096});
    });
    let run = start(&reactor, tick(&hungry, TICK_1), T0).await;
    let mut task = run.task_arn.clone().unwrap();
    // The sample's task has 512 CPU units and 1024 MiB; each OutOfMemoryError doubles it up to 4096 MiB.
    let mut memory = 1024;
    for (attempt, next_memory) in [(1, Some(2048)), (2, Some(4096)), (3, None)] {
        let mut event = stack
            .stop(
                &task,
                &started_by(&run.run_id, attempt),
                "stopped-out-of-memory.json",
                5,
            )
            .await;
        event["detail"]["memory"] = json!(memory.to_string());
        let judged = classifier::handle(&reactor, event, T0).await.unwrap();
        let Some(next_memory) = next_memory else {
            assert_eq!(
                (judged.action, judged.rule_id.as_deref()),
                (Some("FAIL"), Some("out-of-memory")),
                "{judged:?}"
            );
            break;
        };
        assert_eq!(
            (judged.action, judged.rule_id.as_deref()),
            (Some("RETRY_NOW"), Some("out-of-memory-more-memory")),
            "{judged:?}"
        );
        let tasks = stack.tasks(&started_by(&run.run_id, attempt + 1)).await;
        assert_eq!(tasks.len(), 1);
        task = tasks[0].clone();
        let overrides = stack.task(&task).await.overrides().cloned().unwrap();
        assert_eq!(
            (overrides.cpu(), overrides.memory()),
            (Some("512"), Some(next_memory.to_string().as_str())),
            "attempt {} launched at the next Fargate size",
            attempt + 1
        );
        memory = next_memory;
    }
    let story = crate::oncall::cli_on(&stack, &["--now", AS_OF, "show", &run.run_id]);
    for line in [
        "1024 MiB",
        "2048 MiB",
        "4096 MiB",
        "raised after an OutOfMemoryError",
    ] {
        assert!(story.contains(line), "no {line:?} in:\n{story}");
    }
}

#[tokio::test]
async fn notify_on_retrying_publishes_each_retry_once_and_only_the_outcomes_asked_for() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let chatty = job(&stack, "chatty", |j| {
        j["notify"] = json!({"on": ["RETRYING", "FAILED"]})
    });
    let run = start(&reactor, tick(&chatty, TICK_1), T0).await;
    let task = run.task_arn.clone().unwrap();
    let event = stack
        .stop(
            &task,
            &started_by(&run.run_id, 1),
            "stopped-app-exit-1.json",
            5,
        )
        .await;
    for _ in 0..2 {
        classifier::handle(&reactor, event.clone(), T0 + Duration::minutes(5))
            .await
            .unwrap();
    }
    let notices = stack.notifications_now().await;
    assert_eq!(
        notices.len(),
        1,
        "one notice for a decision delivered twice: {notices:#?}"
    );
    let retry = &notices[0];
    assert_eq!(
        (
            retry["event"].as_str(),
            retry["status"].as_str(),
            retry["attempts"].as_u64()
        ),
        (Some("ATTEMPT_RETRYING"), Some("RETRY_SCHEDULED"), Some(1))
    );
    assert_eq!(retry["nextRetryAt"], json!("2026-11-21T02:36:02Z"));
    assert_eq!(
        stack.row(&run.run_id, "ATTEMPT#0001").await.unwrap()["notifiedAt"],
        json!("2026-11-21T02:35:02Z")
    );

    // The retry fires and succeeds: SUCCEEDED is not asked for.
    let ttl = stack.expire(&run.run_id, "DELAY#0002").await;
    scheduler::handle(&reactor, ttl, T0 + Duration::minutes(7))
        .await
        .unwrap();
    let second = stack.tasks(&started_by(&run.run_id, 2)).await;
    assert_eq!(second.len(), 1);
    stop(
        &stack,
        &reactor,
        &second[0],
        &run.run_id,
        2,
        "stopped-success.json",
        T0 + Duration::minutes(8),
    )
    .await;
    assert_eq!(status(&stack.row(&run.run_id, "RUN").await), "SUCCEEDED");
    assert!(stack.notifications_now().await.is_empty());
}

#[test]
fn every_example_job_in_the_readme_section_is_valid() {
    let readme = std::fs::read_to_string(crate::cli::root().join("README.md")).unwrap();
    let section = readme
        .split("## Beyond the retry loop")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has the section");
    let jobs: Vec<&str> = section
        .split("```json")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert_eq!(jobs.len(), 4, "one example job per feature");
    for text in jobs {
        reactor_core::JobRequest::from_json(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    }
}

#[tokio::test]
async fn a_redrive_of_a_forbid_job_waits_for_the_unfinished_run_and_then_holds_the_job() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let forbid = job(&stack, "ledger", |j| j["concurrency"] = json!("FORBID"));
    let first = start(&reactor, tick(&forbid, TICK_1), T0).await;
    let judged = stop(
        &stack,
        &reactor,
        first.task_arn.as_deref().unwrap(),
        &first.run_id,
        1,
        "stopped-image-not-found.json",
        T0,
    )
    .await;
    assert_eq!(judged.action, Some("FAIL"));
    let second = start(&reactor, tick(&forbid, TICK_2), T0 + Duration::minutes(1)).await;
    assert_eq!(
        second.outcome, "STARTED",
        "the failed run no longer holds the job"
    );

    let blocked = reactor
        .redrive(&first.run_id, "oncall", T0 + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(
        blocked,
        reactor_aws::flow::Redrive::Blocked {
            holder: second.run_id.clone(),
            status: reactor_core::run::RunStatus::Running
        }
    );
    assert_eq!(
        status(&stack.row(&first.run_id, "RUN").await),
        "FAILED",
        "a blocked redrive writes nothing"
    );

    stop(
        &stack,
        &reactor,
        second.task_arn.as_deref().unwrap(),
        &second.run_id,
        1,
        "stopped-success.json",
        T0 + Duration::minutes(3),
    )
    .await;
    let redriven = reactor
        .redrive(&first.run_id, "oncall", T0 + Duration::minutes(4))
        .await
        .unwrap();
    assert!(
        matches!(
            redriven,
            reactor_aws::flow::Redrive::Redriven { attempt: 2, .. }
        ),
        "{redriven:?}"
    );
    // The redriven run holds the job now: the next tick is skipped.
    let third = start(&reactor, tick(&forbid, TICK_3), T0 + Duration::minutes(5)).await;
    assert_eq!(third.outcome, "SKIPPED", "{third:?}");
}

#[tokio::test]
async fn each_applied_change_is_counted_once_in_the_metrics_and_duplicates_are_not() {
    use reactor_aws::metrics::Metric;
    use reactor_testkit::recorded::RecordedMetrics;
    let stack = Stack::new().await;
    let recorded = std::sync::Arc::new(RecordedMetrics::new());
    let mut reactor = stack.reactor();
    reactor.metrics = recorded.clone();
    let run = start(&reactor, tick(&stack.job("counted"), TICK_1), T0).await;
    start(&reactor, tick(&stack.job("counted"), TICK_1), T0).await;
    let task = run.task_arn.clone().unwrap();
    let failed = stack
        .stop(
            &task,
            &started_by(&run.run_id, 1),
            "stopped-app-exit-1.json",
            5,
        )
        .await;
    for _ in 0..2 {
        classifier::handle(&reactor, failed.clone(), T0 + Duration::minutes(1))
            .await
            .unwrap();
    }
    // The retry is due at +2 min; TTL deletes the item at +4, the sweep fires it at +3 (60 s late) first.
    sweep(&reactor, T0 + Duration::minutes(3)).await;
    let ttl = stack.expire_if_present(&run.run_id, "DELAY#0002").await;
    assert!(
        ttl.is_none(),
        "the sweep claimed the retry and deleted the item"
    );
    let second = stack.tasks(&started_by(&run.run_id, 2)).await;
    stop(
        &stack,
        &reactor,
        &second[0],
        &run.run_id,
        2,
        "stopped-success.json",
        T0 + Duration::minutes(4),
    )
    .await;
    let job = |m: Metric| ("counted".to_owned(), m);
    assert_eq!(
        recorded.taken(),
        [
            job(Metric::RunStarted),
            job(Metric::AttemptLaunched),
            job(Metric::Retry {
                class: "application-exit-nonzero".into()
            }),
            job(Metric::RetryLateness { seconds: 60.0 }),
            job(Metric::AttemptLaunched),
            job(Metric::RunSucceeded),
        ]
    );
}

/// A pull that timed out, in ECS's words (deepfence/terraform-aws-cloud-scanner#13), from `address`: the same
/// cause on every attempt, with another registry address each time.
fn pull_timed_out(event: &mut Value, address: &str) {
    let reason = format!(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref quay.io/deepfenceio/cloud-scanner:latest: failed to do request: Head \"https://quay.io/v2/deepfenceio/cloud-scanner/manifests/latest\": dial tcp {address}:443: i/o timeout"
    );
    event["detail"]["stoppedReason"] = json!(reason);
    event["detail"]["containers"][0]["reason"] = json!(reason);
}

#[tokio::test]
async fn the_same_fall_back_failure_on_two_attempts_in_a_row_fails_the_run_as_a_repeated_failure() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let puller = job(&stack, "puller", |j| {
        j["notify"] = json!({"on": ["RETRYING", "FAILED"]})
    });
    let run = start(&reactor, tick(&puller, TICK_1), T0).await;

    // Attempt 1: the pull timed out. A network timeout is transient: retried later.
    let mut event = stack
        .stop(
            run.task_arn.as_deref().unwrap(),
            &started_by(&run.run_id, 1),
            "stopped-pull-rate-limit.json",
            5,
        )
        .await;
    pull_timed_out(&mut event, "3.210.148.47");
    let first = classifier::handle(&reactor, event, T0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        (first.action, first.rule_id.as_deref()),
        (Some("RETRY_LATER"), Some("network-timeout")),
        "{first:?}"
    );

    // Attempt 2: the same failure, another address. Not retried a third time, though maxAttempts is 4.
    let ttl = stack.expire(&run.run_id, "DELAY#0002").await;
    scheduler::handle(&reactor, ttl, T0 + Duration::minutes(3))
        .await
        .unwrap();
    let second = stack.tasks(&started_by(&run.run_id, 2)).await;
    assert_eq!(second.len(), 1);
    let mut event = stack
        .stop(
            &second[0],
            &started_by(&run.run_id, 2),
            "stopped-pull-rate-limit.json",
            5,
        )
        .await;
    pull_timed_out(&mut event, "52.94.8.1");
    for _ in 0..2 {
        let judged = classifier::handle(&reactor, event.clone(), T0 + Duration::minutes(4))
            .await
            .unwrap();
        assert!(
            judged.outcome == "APPLIED" || judged.outcome == "DUPLICATE",
            "{judged:?}"
        );
    }
    let row = stack.row(&run.run_id, "RUN").await;
    assert_eq!(status(&row), "FAILED");
    let attempt = stack.row(&run.run_id, "ATTEMPT#0002").await.unwrap();
    assert_eq!(
        (attempt["action"].as_str(), attempt["ruleId"].as_str()),
        (Some("FAIL"), Some("repeated-failure")),
        "{attempt:#}"
    );
    assert!(
        stack.tasks(&started_by(&run.run_id, 3)).await.is_empty(),
        "no third attempt"
    );

    // On-call is told why: one retry notice, then one FAILED notice naming the rule.
    let notices = stack.notifications_now().await;
    let failed: Vec<&Value> = notices.iter().filter(|n| n["status"] == "FAILED").collect();
    assert_eq!(failed.len(), 1, "{notices:#?}");
    assert_eq!(failed[0]["ruleId"], json!("repeated-failure"));
    let rule = failed[0]["rule"].as_str().unwrap_or_default();
    assert!(
        rule.contains("network-timeout") && rule.contains("2 attempts in a row"),
        "{rule}"
    );

    // `explain --run` agrees with what was recorded, attempt by attempt, and shows the fall-back's part.
    let explained: Value = serde_json::from_str(&crate::oncall::cli_on(
        &stack,
        &["explain", "--run", &run.run_id],
    ))
    .unwrap();
    let attempts = explained["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{explained:#}");
    for a in attempts {
        assert_eq!(a["agrees"], json!(true), "{a:#}");
        assert!(
            a["reasoning"]["fallback"]
                .as_str()
                .is_some_and(|f| f.starts_with("used: ") && f.contains("network-timeout")),
            "{a:#}"
        );
    }
    assert_eq!(
        attempts[1]["judgedNow"]["ruleId"],
        json!("repeated-failure")
    );
}

/// The container knows which run, attempt and scheduled time it is: `ECS_REACTOR_*` variables on the
/// essential container, and `{{scheduledDate}}` in the command expanded to the tick's day — also for a retry
/// launched after midnight (the reason: `run --date today` retried after midnight processes another day).
#[tokio::test(flavor = "multi_thread")]
async fn every_attempt_knows_its_run_and_the_ticks_date_even_after_midnight() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let name = unique("dated");
    let job = job(&stack, &name, |j| {
        j["runTask"]["overrides"] = json!({"containerOverrides": [
            {"name": "app", "command": ["report", "--date", "{{scheduledDate}}", "--attempt", "{{attempt}}"]}
        ]});
    });
    let tick_at = "2026-11-21T23:59:00Z";
    let before_midnight = reactor_testkit::utc("2026-11-21T23:59:05Z");
    let started = start(&reactor, tick(&job, tick_at), before_midnight).await;
    let first = started.task_arn.clone().unwrap();
    // A Spot interruption just after midnight: attempt 2 launches at once, on the next day.
    let after_midnight = reactor_testkit::utc("2026-11-22T00:00:30Z");
    let event = stack
        .stop(
            &first,
            &started_by(&started.run_id, 1),
            "stopped-spot-interruption.json",
            3,
        )
        .await;
    let judged = classifier::handle(&reactor, event, after_midnight)
        .await
        .unwrap();
    let second = judged
        .next_task_arn
        .clone()
        .expect("attempt 2 launched at once");

    for (task, attempt) in [(&first, "1"), (&second, "2")] {
        let described = stack.task(task).await;
        let app = described
            .overrides()
            .and_then(|o| {
                o.container_overrides()
                    .iter()
                    .find(|c| c.name() == Some("app"))
            })
            .unwrap_or_else(|| panic!("attempt {attempt}: no override for app: {described:?}"));
        assert_eq!(
            app.command(),
            ["report", "--date", "2026-11-21", "--attempt", attempt],
            "attempt {attempt}: the tick's day, whenever the attempt launches"
        );
        let env: Vec<(&str, &str)> = app
            .environment()
            .iter()
            .map(|p| (p.name().unwrap_or(""), p.value().unwrap_or("")))
            .collect();
        assert_eq!(
            env,
            [
                ("ECS_REACTOR_JOB", name.as_str()),
                ("ECS_REACTOR_RUN_ID", started.run_id.as_str()),
                ("ECS_REACTOR_ATTEMPT", attempt),
                ("ECS_REACTOR_SCHEDULED_TIME", tick_at),
            ],
            "attempt {attempt}"
        );
    }
    // The run keeps the job as given, placeholders and all, for the next attempt to expand: the command
    // sealed (it may hold secrets), and the placeholders in what it opens to.
    let run = stack.row(&started.run_id, "RUN").await.unwrap();
    assert!(
        run["request"].as_str().unwrap().contains("(sealed)"),
        "{run}"
    );
    let opened = stack
        .vault(&stack.config)
        .open(&name, run["sealedOverrides"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        opened.containers[0].command.as_deref(),
        Some(
            [
                "report",
                "--date",
                "{{scheduledDate}}",
                "--attempt",
                "{{attempt}}"
            ]
            .map(String::from)
            .as_slice()
        )
    );
    assert_eq!(run["scheduledAt"], tick_at);
}
