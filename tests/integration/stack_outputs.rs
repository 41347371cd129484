//! `--stack NAME` (and `REACTOR_STACK`) against a CloudFormation stack in moto: the table and the outcomes
//! topic come from its outputs, what is given explicitly wins over them, and a missing stack or output is one
//! line naming it. moto cannot run template.yml's SAM transform, so each stack here is a plain template with
//! template.yml's output names (read from template.yml) and values pointing at a test stack's table and topic.

use crate::cli::root;
use crate::oncall::{dir_with_job, output, seeded, shell, Out, CALLER};
use crate::stack::Stack;
use serde_json::{json, Map, Value};

/// The output names template.yml declares (the keys under `Outputs:`).
fn template_outputs() -> Vec<String> {
    let template = std::fs::read_to_string(root().join("template.yml")).unwrap();
    let outputs = &template[template
        .find("\nOutputs:\n")
        .expect("template.yml has Outputs")..];
    outputs
        .lines()
        .skip(2)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|name| !name.starts_with(' '))
        .map(str::to_owned)
        .collect()
}

/// A CloudFormation stack in moto with these outputs (name, value); its name.
async fn cfn_stack(stack: &Stack, outputs: &[(&str, &str)]) -> String {
    let name = crate::moto::unique("ecs-reactor");
    let outputs: Map<String, Value> = outputs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json!({ "Value": value })))
        .collect();
    // A stack needs a resource; the outputs are what the CLI reads.
    let template = json!({
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs,
    });
    aws_sdk_cloudformation::Client::new(&stack.config)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    name
}

/// A stack with every output template.yml declares: the table and topic of `stack`, placeholders for the rest.
pub async fn reactor_stack(stack: &Stack) -> String {
    let names = template_outputs();
    for expected in ["AttemptsTableName", "OutcomesTopicArn"] {
        assert!(
            names.iter().any(|n| n == expected),
            "template.yml has no output {expected}: {names:?}"
        );
    }
    let outputs: Vec<(&str, &str)> = names
        .iter()
        .map(|name| match name.as_str() {
            "AttemptsTableName" => (name.as_str(), stack.table.as_str()),
            "OutcomesTopicArn" => (name.as_str(), stack.topic_arn.as_str()),
            "Namespace" => (name.as_str(), stack.namespace.as_str()),
            "OverridesKeyArn" => (name.as_str(), stack.overrides_key.as_str()),
            "RetryQueueUrl" => (name.as_str(), stack.retry_queue_url.as_str()),
            // The test stacks' reactors write with the default count.
            "SweepShards" => (name.as_str(), "4"),
            other => (other, "placeholder"),
        })
        .collect();
    cfn_stack(stack, &outputs).await
}

/// `ecs-reactor ARGS` pointed at moto with `env` and nothing else naming a table, topic or stack.
fn ecs_reactor(env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), env);
    command.args(args).current_dir(std::env::temp_dir());
    output(command)
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_show_explain_cancel_and_redrive_find_the_table_and_topic_in_the_stack() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, failed, _) = &runs[1];
    let (_, running, task) = &runs[3];
    let name = reactor_stack(&stack).await;
    let ok = |out: Out, what: &str| -> Out {
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
        assert!(out.stderr.is_empty(), "{what}: no note: {}", out.stderr);
        out
    };

    let listed = ok(
        ecs_reactor(&[], &["runs", "--stack", &name, "--json"]),
        "runs",
    )
    .json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["runId"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = runs.iter().rev().map(|r| r.1.as_str()).collect();
    assert_eq!(ids, newest_first);
    let story = ok(
        ecs_reactor(&[], &["show", failed, "--stack", &name]),
        "show",
    );
    assert!(
        story.stdout.starts_with(&format!("run {failed}")),
        "{}",
        story.stdout
    );
    ok(
        ecs_reactor(&[], &["explain", "--run", failed, "--stack", &name]),
        "explain --run",
    );

    // cancel: the table and the topic from the stack; the task stopped, the outcome published on the topic.
    let cancelled = ok(
        ecs_reactor(
            &[],
            &[
                "cancel",
                running,
                "--stack",
                &name,
                "--stop-task",
                "--by",
                "alice",
                "--reason",
                "wrong date",
                "--json",
            ],
        ),
        "cancel",
    )
    .json();
    assert_eq!(
        (&cancelled["outcome"], &cancelled["stoppedTask"]),
        (&json!("CANCELLED"), &json!(task))
    );
    assert_eq!(
        stack.task(task).await.stopped_reason(),
        Some(
            format!("ecs-reactor: run {running} cancelled by alice ({CALLER}, ecs-reactor CLI): wrong date")
                .as_str()
        )
    );
    let announced: Vec<Value> = stack
        .notifications()
        .await
        .into_iter()
        .filter(|n| n["runId"] == running.as_str())
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0]["status"], "CANCELLED");

    // REACTOR_STACK does what --stack does.
    let redriven = ok(
        ecs_reactor(&[("REACTOR_STACK", &name)], &["redrive", failed]),
        "redrive",
    );
    assert!(
        redriven
            .stdout
            .contains("attempt 2 launched task arn:aws:ecs:"),
        "{}",
        redriven.stdout
    );
    assert_eq!(stack.row(failed, "RUN").await.unwrap()["status"], "RUNNING");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_or_topic_given_explicitly_wins_over_the_stacks_outputs() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, running, _) = &runs[3];
    // Outputs naming what does not exist: the command works only if what was given is used.
    let elsewhere = cfn_stack(
        &stack,
        &[
            ("AttemptsTableName", "no-such-table"),
            (
                "OutcomesTopicArn",
                "arn:aws:sns:us-east-1:123456789012:no-such-topic",
            ),
        ],
    )
    .await;
    let wrong_topic = cfn_stack(
        &stack,
        &[
            ("AttemptsTableName", stack.table.as_str()),
            (
                "OutcomesTopicArn",
                "arn:aws:sns:us-east-1:123456789012:no-such-topic",
            ),
        ],
    )
    .await;

    let flag = ecs_reactor(
        &[],
        &[
            "runs",
            "--stack",
            &elsewhere,
            "--table",
            &stack.table,
            "--json",
        ],
    );
    assert_eq!(flag.json().as_array().unwrap().len(), runs.len());
    assert!(
        flag.stderr.is_empty(),
        "a flag is in plain sight: {}",
        flag.stderr
    );

    // A variable wins too, and is named: it may have been exported for another stack.
    let variable = ecs_reactor(
        &[
            ("REACTOR_TABLE", &stack.table),
            ("REACTOR_STACK", &elsewhere),
        ],
        &["runs", "--json"],
    );
    assert_eq!(variable.json().as_array().unwrap().len(), runs.len());
    assert_eq!(
        variable.stderr.trim_end(),
        format!(
            "ecs-reactor: note: using REACTOR_TABLE={}, not stack {elsewhere:?}'s output (unset to use the stack's)",
            stack.table
        )
    );

    // The table from the stack, the topic from --topic-arn: the outcome reaches the topic given.
    let cancelled = ecs_reactor(
        &[],
        &[
            "cancel",
            running,
            "--stack",
            &wrong_topic,
            "--topic-arn",
            &stack.topic_arn,
            "--json",
        ],
    )
    .json();
    assert_eq!(cancelled["outcome"], "CANCELLED");
    let announced: Vec<Value> = stack
        .notifications()
        .await
        .into_iter()
        .filter(|n| n["runId"] == running.as_str())
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_stack_or_output_is_one_line_naming_it() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, running, _) = &runs[3];
    let bare = cfn_stack(&stack, &[]).await;
    let table_only = cfn_stack(&stack, &[("AttemptsTableName", stack.table.as_str())]).await;
    let dir = dir_with_job(&stack.job("nightly-report"));
    let rows_before = stack.scan().await.len();
    let missing = "no-such-run-20261121T000000Z";
    let no_topic = format!(
        "ecs-reactor: stack {table_only:?} (CREATE_COMPLETE) has no output OutcomesTopicArn (its outputs: \
         AttemptsTableName): is it an ecs-reactor stack, fully deployed? give --topic-arn ARN or set REACTOR_TOPIC_ARN"
    );
    let unknown = format!("ecs-reactor: no run {missing:?} in table {}", stack.table);
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["runs"], 3,
            "ecs-reactor: no table: give --table NAME or --stack NAME, or set REACTOR_TABLE or REACTOR_STACK".into()),
        (vec!["runs", "--stack", "no-such-stack"], 5,
            "ecs-reactor: stack \"no-such-stack\" not found in this account and region (us-east-1): check --stack / \
             REACTOR_STACK, --region and --profile".into()),
        (vec!["cancel", running, "--stack", "no-such-stack"], 5,
            "ecs-reactor: stack \"no-such-stack\" not found in this account and region (us-east-1): check --stack / \
             REACTOR_STACK, --region and --profile".into()),
        (vec!["show", running, "--stack", &bare], 3,
            format!("ecs-reactor: stack {bare:?} (CREATE_COMPLETE) has no output AttemptsTableName (its outputs: \
                     none): is it an ecs-reactor stack, fully deployed? give --table NAME or set REACTOR_TABLE")),
        // The table is there, the topic is not: a run that does not exist is still the answer first.
        (vec!["cancel", missing, "--stack", &table_only], 4, unknown.clone()),
        (vec!["redrive", missing, "--stack", &table_only], 4, unknown),
        (vec!["cancel", running, "--stack", &table_only], 3, no_topic.clone()),
        (vec!["start", "job.json", "--stack", &table_only], 3, no_topic),
    ];
    for (args, code, expected) in &cases {
        let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), &[]);
        command.args(args).current_dir(&dir);
        let out = output(command);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim_end(), expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    assert_eq!(stack.scan().await.len(), rows_before, "nothing written");
    assert_eq!(
        stack.row(running, "RUN").await.unwrap()["status"],
        "RUNNING"
    );
}

/// A redrive with `--stack` launches in the stack's namespace (its `Namespace` output), even with the table and
/// topic given explicitly, so the stack's rule and classifier see the new task (a stack deployed before
/// namespaces has no such output: `ecs-reactor`).
#[tokio::test(flavor = "multi_thread")]
async fn a_redrive_through_the_stack_launches_in_the_stacks_namespace() {
    let mut stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (status, failed, _) = &runs[1];
    assert_eq!(*status, "FAILED");
    stack.namespace = reactor_core::Namespace::new("reactor-blue").unwrap();
    let name = reactor_stack(&stack).await;

    // The table and topic given explicitly (so the stack is not needed for them): the namespace is still the
    // stack's, not the default one its rule would not see.
    let redriven = ecs_reactor(
        &[],
        &[
            "redrive",
            failed,
            "--stack",
            &name,
            "--table",
            &stack.table,
            "--topic-arn",
            &stack.topic_arn,
        ],
    );
    assert_eq!(redriven.code, 0, "{}", redriven.stderr);
    assert_eq!(
        stack
            .tasks(&format!("reactor-blue/{}/2", failed))
            .await
            .len(),
        1,
        "attempt 2 carries the stack's namespace: {}",
        redriven.stdout
    );
    assert!(stack
        .tasks(&format!("ecs-reactor/{}/2", failed))
        .await
        .is_empty());
}
