//! No run left behind: a task whose STOPPED event never reaches the classifier is found by the sweep and judged
//! from DescribeTasks through the classifier's own path, against moto with the real handlers. moto sends no
//! events, so these tests simply do not deliver one.

use crate::faults::{sns_error, Faults};
use crate::handlers::{started, started_by, T0};
use crate::stack::{sweep_event, LocalReactor, Stack};
use reactor_aws::metrics::Metric;
use reactor_aws::records::AttemptItem;
use reactor_aws::store::prelude::*;
use reactor_aws::store::LaunchFacts;
use reactor_testkit::recorded::RecordedMetrics;
use serde_json::{json, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

async fn sweep(reactor: &LocalReactor, now: OffsetDateTime) -> Value {
    scheduler::handle(reactor, sweep_event(), now)
        .await
        .unwrap()
}

fn counting(stack: &Stack) -> (LocalReactor, Arc<RecordedMetrics>) {
    let recorded = Arc::new(RecordedMetrics::new());
    let mut reactor = stack.reactor();
    reactor.metrics = recorded.clone();
    (reactor, recorded)
}

fn reconciled(metrics: &RecordedMetrics) -> Vec<String> {
    metrics
        .taken()
        .into_iter()
        .filter(|(_, m)| *m == Metric::RunReconciled)
        .map(|(job, _)| job)
        .collect()
}

#[tokio::test]
async fn a_lost_stopped_event_is_judged_by_the_sweep_and_the_late_event_changes_nothing() {
    let stack = Stack::new().await;
    let (reactor, metrics) = counting(&stack);
    let (run_id, task) = started(&stack, &reactor, "lost").await;
    // The task fails; its event is lost on the way (nothing delivers it).
    let event = stack
        .stop(&task, &started_by(&run_id, 1), "stopped-app-exit-1.json", 3)
        .await;

    // Within the interval the run is left alone: a long job's task may well still run.
    let early = sweep(&reactor, T0 + Duration::minutes(9)).await;
    assert_eq!(early["sweep"]["reconciled"], 0, "{early}");
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "RUNNING"
    );

    // Past it, the sweep asks ECS, finds the task STOPPED and judges it as its event would have been.
    let late = sweep(&reactor, T0 + Duration::minutes(11)).await;
    assert_eq!(late["sweep"]["reconciled"], 1, "{late}");
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_ne!(run["status"], "RUNNING", "{run}");
    let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(attempt["state"], "DECIDED", "{attempt}");
    assert_eq!(
        attempt["stoppedReason"], "stopped by the test to play a STOPPED event",
        "what ECS described"
    );
    assert_eq!(reconciled(&metrics), vec!["lost".to_owned()]);
    let rows = stack.rows(&run_id).await;

    // The real event arrives after all: a duplicate, nothing changes, nothing counted again.
    let answer = classifier::handle(&reactor, event, T0 + Duration::minutes(12))
        .await
        .unwrap();
    assert_eq!(answer.outcome, "DUPLICATE", "{answer:?}");
    assert_eq!(stack.rows(&run_id).await, rows);
    let again = sweep(&reactor, T0 + Duration::minutes(30)).await;
    assert_eq!(again["sweep"]["reconciled"], 0, "{again}");
    assert_eq!(reconciled(&metrics), Vec::<String>::new());
}

#[tokio::test]
async fn an_event_that_arrived_leaves_the_sweep_nothing_to_reconcile() {
    let stack = Stack::new().await;
    let (reactor, metrics) = counting(&stack);
    let (run_id, task) = started(&stack, &reactor, "delivered").await;
    let event = stack
        .stop(&task, &started_by(&run_id, 1), "stopped-success.json", 3)
        .await;
    classifier::handle(&reactor, event, T0 + Duration::minutes(1))
        .await
        .unwrap();
    let rows = stack.rows(&run_id).await;
    let swept = sweep(&reactor, T0 + Duration::minutes(30)).await;
    assert_eq!(swept["sweep"]["reconciled"], 0, "{swept}");
    assert_eq!(stack.rows(&run_id).await, rows);
    assert_eq!(reconciled(&metrics), Vec::<String>::new());
}

#[tokio::test]
async fn a_long_running_task_is_asked_about_and_left_alone() {
    let stack = Stack::new().await;
    let (reactor, metrics) = counting(&stack);
    let (run_id, _task) = started(&stack, &reactor, "long").await;
    for hour in 1..=3 {
        let swept = sweep(&reactor, T0 + Duration::hours(hour)).await;
        assert_eq!(swept["sweep"]["reconciled"], 0, "{swept}");
    }
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "RUNNING"
    );
    assert_eq!(reconciled(&metrics), Vec::<String>::new());
}

/// A run RUNNING a task ECS never heard of (or forgot: ECS keeps a stopped task for about an hour).
async fn running_a_forgotten_task(stack: &Stack, reactor: &LocalReactor, job: &Value) -> String {
    let request = reactor_core::JobRequest::from_value(job.clone()).unwrap();
    let run_id = format!("{}-20261121T023000Z", request.job);
    let run = reactor_aws::records::RunItem::new(
        &run_id,
        &request.job,
        serde_json::to_string(&request).unwrap(),
        Some(vec!["app".into()]),
        T0,
    );
    let claim = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        &run_id,
        1,
        T0,
        T0.unix_timestamp() + 120,
    );
    reactor.store.create_run(&run, &claim).await.unwrap();
    let forgotten = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/{}/0f0f0f0f0f0f4f0f8f0f0f0f0f0f0f0f",
        stack.cluster
    );
    reactor
        .store
        .record_launch(&run_id, 1, &forgotten, T0, &LaunchFacts::default())
        .await
        .unwrap();
    run_id
}

#[tokio::test]
async fn a_task_ecs_no_longer_knows_is_judged_task_vanished_and_a_job_may_decide_otherwise() {
    let stack = Stack::new().await;
    let (reactor, metrics) = counting(&stack);
    let run_id = running_a_forgotten_task(&stack, &reactor, &stack.job("forgotten")).await;
    let swept = sweep(&reactor, T0 + Duration::hours(2)).await;
    assert_eq!(swept["sweep"]["reconciled"], 1, "{swept}");
    let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(
        (&attempt["ruleId"], &attempt["action"]),
        (&json!("task-vanished"), &json!("RETRY_LATER")),
        "{attempt}"
    );
    assert_eq!(
        attempt["stoppedReason"],
        reactor_core::judge::VANISHED_REASON,
        "its evidence is recorded"
    );
    assert_eq!(
        stack.row(&run_id, "RUN").await.unwrap()["status"],
        "RETRY_SCHEDULED"
    );
    assert_eq!(reconciled(&metrics), vec!["forgotten".to_owned()]);

    // A job that would rather not retry an unknown ending says so with a rule of its own.
    let mut strict = stack.job("strict");
    strict["retry"]["rules"] =
        json!([{"onStatusReason": "*no longer knows this task*", "action": "FAIL"}]);
    let run_id = running_a_forgotten_task(&stack, &reactor, &strict).await;
    sweep(&reactor, T0 + Duration::hours(2)).await;
    let attempt = stack.row(&run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(
        (&attempt["ruleId"], &attempt["action"]),
        (&json!("retry.rules[0]"), &json!("FAIL")),
        "{attempt}"
    );
    assert_eq!(stack.row(&run_id, "RUN").await.unwrap()["status"], "FAILED");
}

#[tokio::test]
async fn a_task_stopped_at_its_deadline_whose_event_was_lost_is_closed_as_timed_out() {
    let stack = Stack::new().await;
    let (reactor, metrics) = counting(&stack);
    let mut job = stack.job("hung");
    job["timeoutSeconds"] = json!(1800);
    let tick = json!({
        "version": "0", "id": "tick-hung", "detail-type": "Scheduled Event", "source": "aws.events",
        "time": "2026-11-21T02:30:00Z", "detail": job
    });
    let started = starter::handle(&reactor, tick, "r", T0).await.unwrap();
    // The sweep stops the task at its deadline; the STOPPED event that follows is lost.
    let stopped = sweep(&reactor, T0 + Duration::seconds(1801)).await;
    assert_eq!(stopped["sweep"]["timedOut"], 1, "{stopped}");
    // Its event is due in the seconds after: the sweeps within the interval leave the run to it.
    for minute in [1, 9] {
        let waiting = sweep(
            &reactor,
            T0 + Duration::seconds(1801) + Duration::minutes(minute),
        )
        .await;
        assert_eq!(waiting["sweep"]["reconciled"], 0, "{waiting}");
    }
    assert_eq!(
        stack.row(&started.run_id, "RUN").await.unwrap()["status"],
        "RUNNING"
    );
    // It never comes: the next sweep finds the task stopped with the deadline's reason.
    let closed = sweep(
        &reactor,
        T0 + Duration::seconds(1801) + Duration::minutes(11),
    )
    .await;
    assert_eq!(closed["sweep"]["reconciled"], 1, "{closed}");
    let run = stack.row(&started.run_id, "RUN").await.unwrap();
    assert_eq!(run["status"], "FAILED", "{run}");
    let attempt = stack.row(&started.run_id, "ATTEMPT#0001").await.unwrap();
    assert_eq!(attempt["ruleId"], "timeout", "{attempt}");
    let counted: Vec<Metric> = metrics.taken().into_iter().map(|(_, m)| m).collect();
    assert!(counted.contains(&Metric::RunTimedOut), "{counted:?}");
    assert!(counted.contains(&Metric::RunReconciled), "{counted:?}");
}

#[tokio::test]
async fn an_outcome_sns_refused_until_lambda_gave_up_is_published_by_the_sweep_once() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let (run_id, task) = started(&stack, &reactor, "unheard").await;
    let event = stack
        .stop(
            &task,
            &started_by(&run_id, 1),
            "stopped-image-not-found.json",
            3,
        )
        .await;
    // SNS fails every time: the classifier's invocation and Lambda's two retries all fail after the run
    // was closed, and the event goes to the failure destination.
    let sns_down = Faults::answer("sns:Publish", usize::MAX, sns_error(500, "InternalError"));
    for minute in [1, 2, 4] {
        let failed = classifier::handle(
            &sns_down.reactor(&stack),
            event.clone(),
            T0 + Duration::minutes(minute),
        )
        .await;
        assert!(failed.is_err(), "{failed:?}");
    }
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["notifiedAt"].is_null()),
        (Some("FAILED"), true),
        "{run}"
    );
    assert_eq!(stack.notifications_now().await.len(), 0);

    // The sweep finds the outcome unpublished once its publisher's lease ran out, and publishes it once.
    let swept = sweep(&reactor, T0 + Duration::minutes(6)).await;
    assert_eq!(swept["sweep"]["republished"], 1, "{swept}");
    let again = sweep(&reactor, T0 + Duration::minutes(7)).await;
    assert_eq!(again["sweep"]["republished"], 0, "{again}");
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["status"], "FAILED", "{notes:?}");
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert!(run["notifiedAt"].is_string(), "{run}");
    assert!(run["dueShard"].is_null() && run["dueAt"].is_null(), "{run}");
}

#[tokio::test]
async fn each_sweep_checks_at_most_its_batch_and_moves_on_from_where_it_stopped() {
    let stack = Stack::new().await;
    let mut reactor = stack.reactor();
    // 25 quiet RUNNING runs, all on one task that still runs, checked 10 per sweep.
    let (first, task) = started(&stack, &reactor, "busy-0").await;
    let mut runs = vec![first];
    for i in 1..25 {
        let run_id = format!("busy-{i}-20261121T023000Z");
        let request =
            reactor_core::JobRequest::from_value(stack.job(&format!("busy-{i}"))).unwrap();
        let run = reactor_aws::records::RunItem::new(
            &run_id,
            &request.job,
            serde_json::to_string(&request).unwrap(),
            None,
            T0 + Duration::seconds(i),
        );
        let claim = AttemptItem::claim(&reactor_core::Namespace::default(), &run_id, 1, T0, 0);
        reactor.store.create_run(&run, &claim).await.unwrap();
        reactor
            .store
            .record_launch(
                &run_id,
                1,
                &task,
                T0 + Duration::seconds(i),
                &LaunchFacts::default(),
            )
            .await
            .unwrap();
        runs.push(run_id);
    }
    reactor.settings.reconcile_batch = 10;
    let mut checked_per_sweep = Vec::new();
    for minute in 0..4 {
        let faults = Faults::none();
        let mut counted = faults.reactor(&stack);
        counted.settings = reactor.settings;
        sweep(
            &counted,
            T0 + Duration::hours(1) + Duration::minutes(minute),
        )
        .await;
        let calls = faults.calls();
        let of = |op: &str| calls.iter().filter(|c| *c == op).count();
        checked_per_sweep.push(of("dynamodb:GetItem") - 1);
        assert_eq!(
            of("ecs:DescribeTasks"),
            1,
            "one call per 100 tasks of a cluster: {calls:?}"
        );
        assert_eq!(of("dynamodb:PutItem"), 1, "the cursor: {calls:?}");
    }
    // Two reads per run (run and attempt) beside the cursor's: 10, 10, then the 5 left, then from the start.
    assert_eq!(checked_per_sweep, vec![20, 20, 10, 20]);
    for run_id in &runs {
        assert_eq!(stack.row(run_id, "RUN").await.unwrap()["status"], "RUNNING");
    }
}

#[tokio::test]
async fn a_burst_of_due_retries_is_drained_page_after_page_in_one_sweep_within_its_budget() {
    use crate::handlers::{at, waiting};
    let stack = Stack::new().await;
    let mut reactor = stack.reactor();
    // Small pages and one shard, so that 12 retries due at once take several pages.
    reactor.settings.sweep_shards = 1;
    reactor.settings.sweep_batch = 4;
    reactor.settings.launch_rate = 6;
    reactor.settings.sweep_concurrency = 3;
    let mut latest_due = 0;
    let mut runs = Vec::new();
    for i in 0..12 {
        let (run_id, due) = waiting(&stack, &reactor, &format!("burst-{i}")).await;
        latest_due = latest_due.max(due);
        runs.push(run_id);
    }
    // With no time to spend, one sweep fires one group (as many as it fires at once) and leaves the rest.
    let mut hurried = stack.reactor();
    hurried.settings = reactor.settings;
    hurried.settings.sweep_budget_seconds = 0;
    let first = sweep(&hurried, at(latest_due + 1)).await;
    assert_eq!(first["sweep"]["launched"], 3, "{first}");
    // With its budget, the next sweep drains everything still due, page after page, paced.
    let second = sweep(&reactor, at(latest_due + 61)).await;
    assert_eq!(second["sweep"]["launched"], 9, "{second}");
    for run_id in &runs {
        assert_eq!(
            stack.tasks(&started_by(run_id, 2)).await.len(),
            1,
            "{run_id}"
        );
    }
}

#[tokio::test]
async fn a_sweep_fires_retries_coming_due_within_its_budget_at_their_due_times_never_before() {
    use crate::handlers::{at, waiting};
    use time::format_description::well_known::Rfc3339;
    let stack = Stack::new().await;
    let mut reactor = stack.reactor();
    reactor.settings.sweep_shards = 1;
    reactor.settings.sweep_budget_seconds = 20;
    reactor.settings.sweep_lookahead_seconds = 20;
    let (mut runs, mut latest_due) = (Vec::new(), 0);
    for i in 0..4 {
        let (run_id, due) = waiting(&stack, &reactor, &format!("coming-{i}")).await;
        latest_due = latest_due.max(due);
        runs.push(run_id);
    }
    // Due when the sweep reads, 1 s and 2 s later (within its budget), and 40 s later (past it).
    let t = latest_due + 600;
    let offsets = [0, 1, 2, 40];
    for (run_id, offset) in runs.iter().zip(offsets) {
        stack.make_due(run_id, "DELAY#0002", t + offset).await;
    }
    let swept = sweep(&reactor, at(t)).await;
    assert_eq!(swept["sweep"]["launched"], 3, "{swept}");
    for (run_id, offset) in runs.iter().zip(offsets) {
        let second = stack.row(run_id, "ATTEMPT#0002").await;
        if offset > 20 {
            assert_eq!(
                second, None,
                "{run_id}: due after the budget, the next sweep's"
            );
            assert!(stack.row(run_id, "DELAY#0002").await.is_some(), "{run_id}");
            continue;
        }
        let second = second.unwrap_or_else(|| panic!("{run_id}: attempt 2 was not claimed"));
        let claimed =
            OffsetDateTime::parse(second["claimedAt"].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(
            claimed >= at(t + offset),
            "{run_id}: claimed at {claimed}, before it was due at {}",
            at(t + offset)
        );
        assert_eq!(
            stack.tasks(&started_by(run_id, 2)).await.len(),
            1,
            "{run_id}"
        );
    }
    // Without look-ahead a sweep fires only what is due when it reads.
    let mut prompt = stack.reactor();
    prompt.settings = reactor.settings;
    prompt.settings.sweep_lookahead_seconds = 0;
    let before = sweep(&prompt, at(t + 39)).await;
    assert_eq!(before["sweep"]["launched"], 0, "{before}");
    let due = sweep(&prompt, at(t + 40)).await;
    assert_eq!(due["sweep"]["launched"], 1, "{due}");
    assert_eq!(stack.tasks(&started_by(&runs[3], 2)).await.len(), 1);
}
