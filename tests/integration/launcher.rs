//! The ECS launcher against moto: RunTask carries the attempt's identity, a relaunch adopts, and the task
//! definition's essential containers are read.

use crate::moto::{moto, unique};
use reactor_aws::launcher::{EcsLauncher, LaunchOutcome, Launcher};
use reactor_core::run::client_token;
use reactor_core::{AttemptRef, JobRequest};

/// A cluster and a task definition (app essential, log-router not) in moto; returns the job that runs it.
async fn setup(ecs: &aws_sdk_ecs::Client, ec2_subnet: &str) -> JobRequest {
    let (cluster, family) = crate::stack::cluster_and_task_definition(ecs).await;
    JobRequest::from_value(serde_json::json!({
        "job": "nightly-report",
        "runTask": {
            "cluster": cluster, "taskDefinition": format!("{family}:1"), "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": [ec2_subnet], "securityGroups": []}},
            "overrides": {"containerOverrides": [{"name": "app", "command": ["run"], "environment": [{"name": "MODE", "value": "full"}]}]},
            "tags": [{"key": "team", "value": "data"}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn a_task_is_launched_with_the_attempts_identity_and_adopted_after() {
    let config = moto().sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let job = setup(&ecs, &crate::stack::default_subnet(crate::moto::moto())).await;
    let launcher = EcsLauncher::new(ecs.clone());
    let attempt = AttemptRef {
        run_id: "nightly-report-20261121T023000Z".into(),
        attempt: 1,
    };
    let cluster = job.run_task.cluster.as_deref();

    assert_eq!(
        launcher
            .find_task(
                cluster,
                &reactor_core::Namespace::default().started_by(&attempt)
            )
            .await
            .unwrap(),
        None,
        "nothing to adopt yet"
    );
    let outcome = launcher
        .run_task(
            &job,
            &attempt,
            &reactor_core::Namespace::default().started_by(&attempt),
            &client_token(&reactor_core::Namespace::default(), &attempt),
        )
        .await
        .unwrap();
    let LaunchOutcome::Started { task_arn } = outcome else {
        panic!("not started: {outcome:?}")
    };
    // An interrupted launch of the same attempt finds the task instead of starting another.
    assert_eq!(
        launcher
            .find_task(
                cluster,
                &reactor_core::Namespace::default().started_by(&attempt)
            )
            .await
            .unwrap()
            .as_deref(),
        Some(task_arn.as_str())
    );
    let other = AttemptRef {
        attempt: 2,
        ..attempt.clone()
    };
    assert_eq!(
        launcher
            .find_task(
                cluster,
                &reactor_core::Namespace::default().started_by(&other)
            )
            .await
            .unwrap(),
        None
    );

    let described = ecs
        .describe_tasks()
        .set_cluster(job.run_task.cluster.clone())
        .tasks(&task_arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(
        task.started_by(),
        Some("ecs-reactor/nightly-report-20261121T023000Z/1")
    );
    let tags: Vec<(&str, &str)> = task
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    for want in [
        ("team", "data"),
        ("ecs-reactor:job", "nightly-report"),
        ("ecs-reactor:run", "nightly-report-20261121T023000Z"),
        ("ecs-reactor:attempt", "1"),
    ] {
        assert!(tags.contains(&want), "{want:?} not in {tags:?}");
    }
    let app = crate::stack::container_override(task, "app");
    assert_eq!(app.command(), ["run"]);
    assert_eq!(app.environment()[0].name(), Some("MODE"));
}

#[tokio::test]
async fn refusals_are_answers_and_essentials_come_from_the_task_definition() {
    let config = moto().sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let job = setup(&ecs, &crate::stack::default_subnet(crate::moto::moto())).await;
    let launcher = EcsLauncher::new(ecs);
    assert_eq!(
        launcher
            .essential_containers(&job.run_task.task_definition)
            .await
            .unwrap(),
        ["app"]
    );

    let mut missing = job.clone();
    missing.run_task.cluster = Some(unique("no-such-cluster"));
    let attempt = AttemptRef {
        run_id: "r-20261121T023000Z".into(),
        attempt: 1,
    };
    match launcher
        .run_task(
            &missing,
            &attempt,
            &reactor_core::Namespace::default().started_by(&attempt),
            &client_token(&reactor_core::Namespace::default(), &attempt),
        )
        .await
        .unwrap()
    {
        LaunchOutcome::Refused { code, .. } => assert_eq!(code, "ClusterNotFoundException"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
