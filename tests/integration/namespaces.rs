//! Two ecs-reactor stacks in one account and Region (one moto), deployed with two namespaces and sharing a
//! cluster and a task definition: the same job ticking at the same time in both is two runs with two tasks,
//! and each stack's classifier judges, counts and announces its own task only — even when an event of the
//! other's reaches it (a rule written by hand, a replay from the wrong dead-letter queue).

use crate::handlers::T_STOP;
use crate::stack::Stack;
use reactor_aws::metrics::Metric;
use reactor_core::Namespace;
use reactor_testkit::recorded::RecordedMetrics;
use reactor_testkit::utc;
use std::sync::Arc;

const TICK: &str = "2027-01-01T02:30:00Z";

#[tokio::test]
async fn two_stacks_neither_adopts_judges_counts_nor_announces_the_others_tasks() {
    let server = crate::moto::moto();
    let mut blue = Stack::on(server).await;
    blue.namespace = Namespace::new("reactor-blue").unwrap();
    let mut green = Stack::on(server).await;
    green.namespace = Namespace::new("reactor-green").unwrap();
    // One cluster, one task definition: what a team running staging and production side by side often has.
    green.cluster = blue.cluster.clone();
    green.family = blue.family.clone();

    let metrics = [
        Arc::new(RecordedMetrics::new()),
        Arc::new(RecordedMetrics::new()),
    ];
    let stacks = [&blue, &green];
    let reactors: Vec<_> = stacks
        .iter()
        .zip(&metrics)
        .map(|(stack, recorded)| {
            let mut reactor = stack.reactor();
            reactor.metrics = recorded.clone();
            reactor
        })
        .collect();

    // The same job ticks at the same time in both stacks: the same run id, two runs, two tasks. (Without
    // namespaces the second starter adopted the first's task by its startedBy, and ECS's account-wide client
    // token would have answered with it too.)
    let now = utc("2027-01-01T02:30:02Z");
    let mut started = Vec::new();
    for (stack, reactor) in stacks.iter().zip(&reactors) {
        let response = starter::handle(reactor, stack.tick("nightly-report", TICK), "req-1", now)
            .await
            .unwrap();
        assert_eq!(response.outcome, "STARTED", "{response:?}");
        let task = response.task_arn.unwrap();
        let started_by = format!("{}/{}/1", stack.namespace, response.run_id);
        assert_eq!(
            stack.tasks(&started_by).await,
            vec![task.clone()],
            "{started_by}"
        );
        started.push((response.run_id, task, started_by));
    }
    assert_eq!(started[0].0, started[1].0, "one run id in both stacks");
    assert_ne!(
        started[0].1, started[1].1,
        "each stack launched its own task"
    );
    assert_eq!(
        blue.all_tasks().await.len(),
        2,
        "two tasks in the shared cluster"
    );

    // Both tasks stop; every event reaches both classifiers.
    let mut events = Vec::new();
    for (stack, (_, task, started_by)) in stacks.iter().zip(&started) {
        events.push(
            stack
                .stop(task, started_by, "stopped-success.json", 3)
                .await,
        );
    }
    for (i, reactor) in reactors.iter().enumerate() {
        for (j, event) in events.iter().enumerate() {
            let response = classifier::handle(reactor, event.clone(), T_STOP)
                .await
                .unwrap();
            if i == j {
                assert_eq!(
                    (response.outcome, response.action),
                    ("APPLIED", Some("SUCCEED")),
                    "{response:?}"
                );
            } else {
                assert_eq!(response.outcome, "IGNORED", "{response:?}");
                let why = response.why.unwrap_or_default();
                assert!(why.contains("not this stack's"), "{why}");
            }
        }
    }

    // Each run ended once, in its own table; each topic announced its own run once; each stack counted its own.
    for ((stack, recorded), (run_id, task, _)) in stacks.iter().zip(&metrics).zip(&started) {
        let run = stack.row(run_id, "RUN").await.unwrap();
        assert_eq!(run["status"], "SUCCEEDED", "{}", stack.namespace);
        let attempt = stack.row(run_id, "ATTEMPT#0001").await.unwrap();
        assert_eq!(attempt["taskArn"], task.as_str());
        let notified = stack.notifications().await;
        assert_eq!(notified.len(), 1, "{}: {notified:?}", stack.namespace);
        assert_eq!(
            (&notified[0]["runId"], &notified[0]["event"]),
            (
                &serde_json::json!(run_id),
                &serde_json::json!("RUN_SUCCEEDED")
            ),
            "{}",
            stack.namespace
        );
        let counted: Vec<Metric> = recorded.taken().into_iter().map(|(_, m)| m).collect();
        let ended = counted
            .iter()
            .filter(|m| **m == Metric::RunSucceeded)
            .count();
        assert_eq!(ended, 1, "{}: {counted:?}", stack.namespace);
    }
}
