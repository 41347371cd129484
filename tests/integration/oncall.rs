//! On-call's commands against moto: `runs` and `show` on runs the real handlers left in each status, their
//! table and JSON output, and exit codes scripts can rely on.

use crate::stack::Stack;
use serde_json::Value;
use std::process::Command;
use time::OffsetDateTime;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// `ecs-reactor ARGS` pointed at moto through the standard chain, as on-call's shell would be.
fn ecs_reactor(table: Option<&str>, args: &[&str]) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-reactor"));
    command
        .args(args)
        .env_remove("REACTOR_TABLE")
        .env("AWS_ENDPOINT_URL", &crate::moto::moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    if let Some(table) = table {
        command.env("REACTOR_TABLE", table);
    }
    let out = command.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs of one job in several statuses, left by the real handlers; returns (run id, its first task) by status.
async fn seeded(stack: &Stack) -> Vec<(&'static str, String, String)> {
    let reactor = stack.reactor();
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    #[rustfmt::skip]
    let plays: &[(&str, &str, Option<&str>)] = &[
        ("SUCCEEDED",       "2026-11-21T01:00:00Z", Some("stopped-success.json")),
        ("FAILED",          "2026-11-21T02:00:00Z", Some("stopped-image-not-found.json")),
        ("RETRY_SCHEDULED", "2026-11-21T03:00:00Z", Some("stopped-pull-rate-limit.json")),
        ("RUNNING",         "2026-11-21T04:00:00Z", None),
    ];
    for (status, tick, stop) in plays {
        let started = starter::handle(&reactor, stack.tick("nightly-report", tick), "r", now)
            .await
            .unwrap();
        let task = started.task_arn.unwrap();
        if let Some(sample) = stop {
            let event = stack
                .stop(
                    &task,
                    &format!("ecs-reactor/{}/1", started.run_id),
                    sample,
                    3,
                )
                .await;
            classifier::handle(&reactor, event, now).await.unwrap();
        }
        out.push((*status, started.run_id, task));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn show_tells_a_runs_story_by_run_id_or_task_arn() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, waiting, task) = &runs[2];

    let text = ecs_reactor(Some(&stack.table), &["show", waiting]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for needle in [
        format!("run {waiting}"),
        "RETRY_SCHEDULED at attempt 1".into(),
        "TaskFailedToStart".into(),
        "RETRY_LATER".into(),
        "image-pull-rate-limited".into(),
        "toomanyrequests".into(),
        "pending retry: attempt 2 due".into(),
        "app=-".into(),
    ] {
        assert!(
            text.stdout.contains(&needle),
            "{needle:?} missing from:\n{}",
            text.stdout
        );
    }

    let json = ecs_reactor(Some(&stack.table), &["show", task, "--json"]).json();
    assert_eq!(
        json["run"]["runId"],
        waiting.as_str(),
        "found by its task ARN"
    );
    assert_eq!(json["attempts"][0]["action"], "RETRY_LATER");
    assert_eq!(json["attempts"][0]["taskArn"], task.as_str());
    assert_eq!(json["pendingRetry"]["attempt"], 2);
    assert!(
        json["run"].get("request").is_none(),
        "the job request (override values) is not printed"
    );

    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        (&["show", "nightly-report-19990101T000000Z"], 4, "no run \"nightly-report-19990101T000000Z\""),
        (&["show", "arn:aws:ecs:us-east-1:123456789012:task/jobs/0000"], 4, "no run launched task"),
    ];
    for (args, code, message) in cases {
        let out = ecs_reactor(Some(&stack.table), args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_lists_a_job_newest_first_and_filters_by_status() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["runId"].as_str().unwrap().to_owned())
            .collect()
    };

    let all = ecs_reactor(
        Some(&stack.table),
        &["runs", "--job", "nightly-report", "--json"],
    )
    .json();
    let newest_first: Vec<String> = runs.iter().rev().map(|r| r.1.clone()).collect();
    assert_eq!(ids(&all), newest_first);
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["RUNNING", "RETRY_SCHEDULED", "FAILED", "SUCCEEDED"]
    );

    let failed = ecs_reactor(
        Some(&stack.table),
        &["runs", "--status", "failed", "--json"],
    )
    .json();
    assert_eq!(ids(&failed), vec![runs[1].1.clone()]);
    let failed_of_job = ecs_reactor(
        Some(&stack.table),
        &[
            "runs",
            "--job",
            "nightly-report",
            "--status",
            "FAILED",
            "--json",
        ],
    )
    .json();
    assert_eq!(ids(&failed_of_job), vec![runs[1].1.clone()]);
    let two = ecs_reactor(
        Some(&stack.table),
        &["runs", "--job", "nightly-report", "--limit", "2", "--json"],
    )
    .json();
    assert_eq!(ids(&two).len(), 2);

    let text = ecs_reactor(Some(&stack.table), &["runs", "--job", "nightly-report"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(
        lines[0].starts_with("RUN")
            && lines[0].contains("STATUS")
            && lines[0].contains("NEXT RETRY"),
        "{}",
        text.stdout
    );
    assert_eq!(lines.len(), 5, "a header and four runs:\n{}", text.stdout);
    assert!(
        lines[2].contains("RETRY_SCHEDULED") && lines[2].contains("image-pull-rate-limited"),
        "{}",
        text.stdout
    );
    assert!(
        lines[2].contains("in ") || lines[2].contains(" ago"),
        "relative times: {}",
        lines[2]
    );

    let none = ecs_reactor(Some(&stack.table), &["runs", "--job", "no-such-job"]);
    assert_eq!(
        (none.code, none.stdout.starts_with("no runs since")),
        (0, true),
        "{}",
        none.stdout
    );

    #[rustfmt::skip]
    let cases: &[(Option<&str>, &[&str], i32, &str)] = &[
        (Some(&stack.table), &["runs"], 3, "give --job JOB or --status STATUS"),
        (Some(&stack.table), &["runs", "--status", "DONE"], 3, "expected one of LAUNCHING"),
        (Some(&stack.table), &["runs", "--job", "j", "--since", "yesterday"], 3, "--since \"yesterday\""),
        (None,               &["runs", "--job", "j"], 3, "give --table NAME or set REACTOR_TABLE"),
        (Some("no-such-table"), &["runs", "--job", "j"], 5, "table \"no-such-table\" not found"),
    ];
    for (table, args, code, message) in cases {
        let out = ecs_reactor(*table, args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}
