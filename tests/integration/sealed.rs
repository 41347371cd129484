//! Override values at rest: a job's environment values and command are stored sealed with the stack's KMS key
//! (moto's KMS encrypts for real), so what on-call reads from the table — the runbook's `aws dynamodb query`,
//! `ecs-reactor show`, `runs` and `explain` — shows `(sealed)`, while every attempt's task is launched with
//! the real values.

use crate::handlers::{started_by, T0, T_STOP};
use crate::oncall::{output, shell, Out};
use crate::stack::Stack;
use reactor_aws::edge::HandlerError;
use reactor_core::secrets::{ContainerValues, OverrideValues};
use serde_json::{json, Value};

const MARKER: &str = "MARKER-sealed-7f3a";
const TICK: &str = "2026-11-21T02:30:00Z";

/// The stack's job with `value` in its container's environment and command.
fn job_with(stack: &Stack, value: &str) -> Value {
    let mut job = stack.job("sealed");
    job["runTask"]["overrides"] = json!({"containerOverrides": [
        {"name": "app", "command": ["report", "--token", value], "environment": [
            {"name": "DB_PASSWORD", "value": value}, {"name": "REGION", "value": "eu-west-1"}
        ]},
        {"name": "log-router", "memory": 128}
    ]});
    job
}

fn tick(stack: &Stack, job: Value) -> Value {
    let mut event = stack.tick("sealed", TICK);
    event["detail"] = job;
    event
}

/// What the task was launched with: its app container's command and environment as ECS describes them (but
/// the run's identity, `ECS_REACTOR_*`, which every launch adds).
async fn launched_with(stack: &Stack, task: &str) -> (Vec<String>, Vec<(String, String)>) {
    let described = stack.task(task).await;
    let app = crate::stack::container_override(&described, "app");
    (
        app.command().to_vec(),
        app.environment()
            .iter()
            .filter(|kv| !kv.name().unwrap_or_default().starts_with("ECS_REACTOR_"))
            .map(|kv| {
                (
                    kv.name().unwrap_or_default().to_owned(),
                    kv.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    )
}

fn cli(stack: &Stack, args: &[&str]) -> Out {
    cli_with(stack, &[], args)
}

fn cli_with(stack: &Stack, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut all = vec![("REACTOR_TABLE", stack.table.as_str())];
    all.extend_from_slice(env);
    let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), &all);
    command.args(args);
    output(command)
}

#[tokio::test]
async fn override_values_are_sealed_in_the_table_and_every_attempt_launches_with_them() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let started = starter::handle(&reactor, tick(&stack, job_with(&stack, MARKER)), "r1", T0)
        .await
        .unwrap();
    assert_eq!(started.outcome, "STARTED", "{started:?}");
    let (run_id, task) = (started.run_id.clone(), started.task_arn.clone().unwrap());
    let expected = (
        vec!["report".to_owned(), "--token".into(), MARKER.into()],
        vec![
            ("DB_PASSWORD".to_owned(), MARKER.to_owned()),
            ("REGION".into(), "eu-west-1".into()),
        ],
    );
    assert_eq!(launched_with(&stack, &task).await, expected, "attempt 1");

    // The run item: names and shape readable, values sealed, and version 3 (a release before would launch
    // the placeholders: it refuses the item instead).
    let run = stack.row(&run_id, "RUN").await.unwrap();
    let request: Value = serde_json::from_str(run["request"].as_str().unwrap()).unwrap();
    assert_eq!(
        request["runTask"]["overrides"],
        json!({"containerOverrides": [
            {"name": "app", "command": ["(sealed)", "(sealed)", "(sealed)"], "environment": [
                {"name": "DB_PASSWORD", "value": "(sealed)"}, {"name": "REGION", "value": "(sealed)"}
            ]},
            {"name": "log-router", "memory": 128}
        ]})
    );
    assert!(run["sealedOverrides"].as_str().unwrap().starts_with("v1."));
    assert_eq!(run["schemaVersion"], json!(3));

    // The same tick again is a duplicate (the values opened to compare); another value for the same tick
    // is a conflict, refused with nothing written.
    let again = starter::handle(&reactor, tick(&stack, job_with(&stack, MARKER)), "r2", T0)
        .await
        .unwrap();
    assert_eq!(again.outcome, "DUPLICATE");
    let before = stack.rows(&run_id).await;
    let other = starter::handle(
        &reactor,
        tick(&stack, job_with(&stack, "another-value")),
        "r3",
        T0,
    )
    .await
    .unwrap_err();
    assert_eq!(other.error_type(), "RunConflict", "{other}");
    assert_eq!(stack.rows(&run_id).await, before, "nothing written");

    // A relaunch (the task lost to a Spot interruption; ECS repeats the overrides in the event) opens the
    // values again for attempt 2.
    let mut event = stack
        .stop(
            &task,
            &started_by(&run_id, 1),
            "stopped-spot-interruption.json",
            4,
        )
        .await;
    event["detail"]["overrides"] = job_with(&stack, MARKER)["runTask"]["overrides"].clone();
    let judged = classifier::handle(&reactor, event, T_STOP).await.unwrap();
    assert_eq!(judged.action, Some("RETRY_NOW"));
    let second = stack.row(&run_id, "ATTEMPT#0002").await.unwrap();
    let second_task = second["taskArn"].as_str().unwrap();
    assert_eq!(
        launched_with(&stack, second_task).await,
        expected,
        "attempt 2"
    );

    // What on-call reads: every item of the table, the runbook's Query, show, runs and explain.
    let everything = serde_json::to_string(&stack.scan().await).unwrap();
    assert!(!everything.contains(MARKER), "{everything}");
    let key = json!({":pk": {"S": format!("RUN#{run_id}")}}).to_string();
    let aws = crate::cli::root().join(".venv/bin/aws");
    assert!(
        aws.exists(),
        "the AWS CLI is not in .venv — run `make venv`"
    );
    let mut query = shell(aws.to_str().unwrap(), &[]);
    query.args([
        "dynamodb",
        "query",
        "--table-name",
        &stack.table,
        "--key-condition-expression",
        "pk = :pk",
        "--expression-attribute-values",
        &key,
    ]);
    let reads = [
        output(query),
        cli(&stack, &["show", &run_id, "--json"]),
        cli(&stack, &["show", &run_id]),
        cli(&stack, &["runs", "--job", "sealed", "--json"]),
        cli(&stack, &["explain", &run_id, "--attempt", "1"]),
    ];
    for read in &reads {
        assert_eq!(read.code, 0, "{}", read.stderr);
        assert!(
            !read.stdout.contains(MARKER) && !read.stderr.contains(MARKER),
            "{}{}",
            read.stdout,
            read.stderr
        );
    }
    assert!(reads[0].stdout.contains("(sealed)"), "{}", reads[0].stdout);
}

#[tokio::test]
async fn sealed_values_open_only_for_their_table_and_job() {
    let stack = Stack::new().await;
    let vault = stack.vault(&stack.config);
    let values = OverrideValues {
        containers: vec![ContainerValues {
            environment: vec![MARKER.into()],
            command: None,
        }],
    };
    let sealed = vault.seal("nightly", &values).await.unwrap();
    assert!(!sealed.contains(MARKER));
    assert_eq!(vault.open("nightly", &sealed).await.unwrap(), values);
    // Two seals of the same values differ (a fresh data key and nonce each).
    assert_ne!(vault.seal("nightly", &values).await.unwrap(), sealed);

    let elsewhere = stack.vault_for(&stack.config, "another-table");
    let mut tampered = sealed.clone();
    tampered.replace_range(sealed.len() - 6..sealed.len() - 2, "AAAA");
    for (what, opened) in [
        ("another job", vault.open("weekly", &sealed).await),
        ("another table", elsewhere.open("nightly", &sealed).await),
        ("altered", vault.open("nightly", &tampered).await),
        ("not sealed", vault.open("nightly", "plain").await),
    ] {
        let e = opened.expect_err(what);
        assert!(!e.is_retryable(), "{what}: {e}");
        assert!(!e.to_string().contains(MARKER), "{what}: {e}");
    }
}

#[tokio::test]
async fn without_a_key_the_values_are_stored_as_given_and_the_run_still_works() {
    let stack = Stack::new().await;
    let mut reactor = stack.reactor();
    reactor.vault = None;
    let started = starter::handle(&reactor, tick(&stack, job_with(&stack, MARKER)), "r1", T0)
        .await
        .unwrap();
    assert_eq!(started.outcome, "STARTED");
    let run = stack.row(&started.run_id, "RUN").await.unwrap();
    assert!(run.get("sealedOverrides").is_none());
    assert_eq!(run["schemaVersion"], json!(2));
    assert!(run["request"].as_str().unwrap().contains(MARKER));
}

#[tokio::test]
async fn a_redrive_by_a_caller_who_may_not_open_the_values_is_recorded_and_the_sweep_launches_it() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let mut job = job_with(&stack, MARKER);
    job["retry"]["maxAttempts"] = json!(1);
    let started = starter::handle(&reactor, tick(&stack, job), "r1", T0)
        .await
        .unwrap();
    let (run_id, task) = (started.run_id.clone(), started.task_arn.clone().unwrap());
    let event = stack
        .stop(&task, &started_by(&run_id, 1), "stopped-app-exit-1.json", 3)
        .await;
    let judged = classifier::handle(&reactor, event, T_STOP).await.unwrap();
    assert_eq!(judged.action, Some("FAIL"));

    // On-call's credentials, with a key they may not use (here: one that does not exist).
    let out = cli_with(
        &stack,
        &[
            ("REACTOR_TOPIC_ARN", stack.topic_arn.as_str()),
            ("REACTOR_OVERRIDES_KEY", "alias/not-this-stacks-key"),
        ],
        &["redrive", &run_id, "--reason", "image fixed"],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    for needle in [
        "KMS (Decrypt on the overrides key)",
        "kms:Decrypt",
        "launched by the sweep",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    assert!(!line.contains(MARKER) && !out.stdout.contains(MARKER));
    let run = stack.row(&run_id, "RUN").await.unwrap();
    assert_eq!(
        (&run["status"], &run["attempt"]),
        (&json!("LAUNCHING"), &json!(2))
    );

    // The sweep, once the CLI's launch lease has run out, launches attempt 2 with the values.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
    scheduler::handle(&reactor, crate::stack::sweep_event(), later)
        .await
        .unwrap();
    let second = stack.row(&run_id, "ATTEMPT#0002").await.unwrap();
    let (command, environment) = launched_with(&stack, second["taskArn"].as_str().unwrap()).await;
    assert_eq!(command, ["report", "--token", MARKER]);
    assert_eq!(
        environment[0],
        ("DB_PASSWORD".to_owned(), MARKER.to_owned())
    );
}

#[tokio::test]
async fn a_duplicate_start_is_a_duplicate_across_the_key_and_under_dynamodbs_token_mismatch() {
    let stack = Stack::new().await;
    // A run started as given (before the stack had a key) …
    let mut before_the_key = stack.reactor();
    before_the_key.vault = None;
    let first = starter::handle(
        &before_the_key,
        tick(&stack, job_with(&stack, MARKER)),
        "r1",
        T0,
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, "STARTED");
    // … delivered again to a starter that seals: the same request, so a duplicate, not a conflict; another
    // value for the same tick still is one.
    let again = starter::handle(
        &stack.reactor(),
        tick(&stack, job_with(&stack, MARKER)),
        "r2",
        T0,
    )
    .await
    .unwrap();
    assert_eq!(
        (again.outcome, again.run_id.as_str()),
        ("DUPLICATE", first.run_id.as_str())
    );
    let other = starter::handle(
        &stack.reactor(),
        tick(&stack, job_with(&stack, "other")),
        "r3",
        T0,
    )
    .await
    .unwrap_err();
    assert_eq!(other.error_type(), "RunConflict");

    // DynamoDB answers a creation under the same client token with other parameters (each delivery seals anew)
    // IdempotentParameterMismatch for ten minutes (moto ignores tokens: played by a fault): the run exists.
    let second = starter::handle(
        &stack.reactor(),
        tick(&stack, job_with(&stack, MARKER)),
        "r4",
        T0,
    )
    .await
    .unwrap();
    let mismatch = crate::faults::Faults::answer(
        "dynamodb:TransactWriteItems",
        1,
        crate::faults::json_error(400, "IdempotentParameterMismatchException"),
    );
    let third = starter::handle(
        &mismatch.reactor(&stack),
        tick(&stack, job_with(&stack, MARKER)),
        "r5",
        T0,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.outcome, third.outcome, third.run_id.as_str()),
        ("DUPLICATE", "DUPLICATE", first.run_id.as_str())
    );
    assert_eq!(stack.tasks(&started_by(&first.run_id, 1)).await.len(), 1);
}
