//! On-call's commands against moto: `runs` and `show` on runs the real handlers left in each status, `start`,
//! `cancel` and `redrive` on them, their table and JSON output, exit codes scripts can rely on, and the
//! README's runbook run word for word (the `aws dynamodb query` recipes with the AWS CLI from the venv).

use crate::cli::root;
use crate::stack::Stack;
use reactor_aws::records::{AttemptItem, RunItem};
use reactor_aws::store::prelude::*;
use serde_json::{json, Value};
use std::path::Path;
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

/// A shell pointed at moto through the standard chain, as on-call's would be: no table or topic unless given.
fn shell(program: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("REACTOR_TABLE")
        .env_remove("REACTOR_TOPIC_ARN")
        .env("AWS_ENDPOINT_URL", &crate::moto::moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("USER", "oncall-test");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Fails naming the first of `needles` that `text` does not contain.
fn assert_mentions(text: &str, needles: &[String]) {
    for needle in needles {
        assert!(
            text.contains(needle.as_str()),
            "{needle:?} missing from:\n{text}"
        );
    }
}

fn output(mut command: Command) -> Out {
    let out = command.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `ecs-reactor ARGS` with `REACTOR_TABLE` set to `table` (when given).
fn ecs_reactor(table: Option<&str>, args: &[&str]) -> Out {
    let env: Vec<(&str, &str)> = table.map(|t| ("REACTOR_TABLE", t)).into_iter().collect();
    let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), &env);
    command.args(args);
    output(command)
}

/// `ecs-reactor ARGS` with the stack's table and outcomes topic, in `dir`.
fn ecs_reactor_on(stack: &Stack, dir: &Path, args: &[&str]) -> Out {
    let mut command = shell(
        env!("CARGO_BIN_EXE_ecs-reactor"),
        &[
            ("REACTOR_TABLE", &stack.table),
            ("REACTOR_TOPIC_ARN", &stack.topic_arn),
        ],
    );
    command.args(args).current_dir(dir);
    output(command)
}

/// `ecs-reactor ARGS` on the stack's table; its standard output, the command having succeeded.
pub fn cli_on(stack: &Stack, args: &[&str]) -> String {
    let out = ecs_reactor_on(stack, &std::env::temp_dir(), args);
    assert_eq!(out.code, 0, "ecs-reactor {args:?}: {}", out.stderr);
    out.stdout
}

/// A fresh directory holding `job.json`.
fn dir_with_job(job: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(crate::moto::unique("ecs-reactor-oncall"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("job.json"), job.to_string()).unwrap();
    dir
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
    assert_mentions(
        &text.stdout,
        &[
            format!("run {waiting}"),
            "RETRY_SCHEDULED at attempt 1".into(),
            "TaskFailedToStart".into(),
            "RETRY_LATER".into(),
            "image-pull-rate-limited".into(),
            "toomanyrequests".into(),
            "pending retry: attempt 2 due".into(),
            "app=-".into(),
        ],
    );

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

    // No credentials anywhere in the chain: one line that says so, not the SDK's error chain.
    let home = std::env::temp_dir().join(crate::moto::unique("empty-home"));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = shell(
        env!("CARGO_BIN_EXE_ecs-reactor"),
        &[("REACTOR_TABLE", &stack.table)],
    );
    command
        .args(["runs", "--job", "j"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = output(command);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "ecs-reactor: no AWS credentials found (environment, profile, web identity, container, instance metadata): pass --profile, set AWS_PROFILE, or log in (aws sso login)"
    );
}

fn run_ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["runId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_without_filters_lists_every_job_and_unfinished_statuses_reach_back() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let mut expected: Vec<String> = seeded(&stack).await.into_iter().map(|r| r.1).collect();
    let other = starter::handle(
        &reactor,
        stack.tick("weekly-export", "2026-11-21T05:00:00Z"),
        "r",
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    expected.push(other.run_id);
    // A launch interrupted two days ago, still LAUNCHING: older than any default window.
    let old = OffsetDateTime::now_utc() - time::Duration::days(2);
    let stuck = RunItem::new(
        "stuck-20261119T000000Z",
        "stuck",
        stack.job("stuck").to_string(),
        None,
        old,
    );
    let claim = AttemptItem::claim(&stuck.run_id, 1, old, 0);
    reactor.store.create_run(&stuck, &claim).await.unwrap();

    let all = ecs_reactor(Some(&stack.table), &["runs", "--json"]).json();
    let mut listed = run_ids(&all);
    let created: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}#{}",
                r["createdAt"].as_str().unwrap(),
                r["runId"].as_str().unwrap()
            )
        })
        .collect();
    let mut newest_first = created.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, newest_first, "newest first");
    listed.sort();
    expected.sort();
    assert_eq!(
        listed, expected,
        "every job's runs of the last 24 h, not the old one"
    );
    let text = ecs_reactor(Some(&stack.table), &["runs"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("weekly-export-20261121T050000Z"),
        "{}",
        text.stdout
    );

    #[rustfmt::skip]
    let cases: &[(&[&str], &[&str])] = &[
        (&["runs", "--status", "LAUNCHING", "--json"],                   &["stuck-20261119T000000Z"]),
        (&["runs", "--status", "LAUNCHING", "--since", "24h", "--json"], &[]),
        (&["runs", "--since", "3d", "--limit", "1", "--json"],           &["weekly-export-20261121T050000Z"]),
    ];
    for (args, want) in cases {
        let got = run_ids(&ecs_reactor(Some(&stack.table), args).json());
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert!(
            want.iter().all(|w| got.contains(w)) && (!want.is_empty() || got.is_empty()),
            "{args:?}: {got:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn start_cancel_and_redrive_from_the_command_line() {
    let stack = Stack::new().await;
    let dir = dir_with_job(&stack.job("adhoc"));
    let cli = |args: &[&str]| ecs_reactor_on(&stack, &dir, args);

    // start: the starter's code; the same key names the same run.
    let started = cli(&["start", "job.json"]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    assert!(
        started.stdout.starts_with("run adhoc-")
            && started
                .stdout
                .contains("started: attempt 1 task arn:aws:ecs:"),
        "{}",
        started.stdout
    );
    let keyed = cli(&[
        "start",
        "job.json",
        "--idempotency-key",
        "deploy-4711",
        "--json",
    ])
    .json();
    let again = cli(&[
        "start",
        "job.json",
        "--idempotency-key",
        "deploy-4711",
        "--json",
    ])
    .json();
    assert_eq!(
        (&keyed["outcome"], &again["outcome"]),
        (&json!("STARTED"), &json!("DUPLICATE"))
    );
    assert_eq!(keyed["runId"], again["runId"]);
    let run = keyed["runId"].as_str().unwrap().to_owned();
    let task = keyed["taskArn"].as_str().unwrap().to_owned();
    let rows_before = stack.scan().await.len();

    // Bad jobs are refused before anything is written; a refused launch is judged and exits 6.
    let mut typo = stack.job("adhoc");
    typo["retry"] = json!({"maxAttempt": 3});
    std::fs::write(dir.join("typo.json"), typo.to_string()).unwrap();
    let mut missing = stack.job("adhoc-missing");
    missing["runTask"]["taskDefinition"] = json!("no-such-family:1");
    std::fs::write(dir.join("missing.json"), missing.to_string()).unwrap();
    let no_topic = {
        let mut command = shell(
            env!("CARGO_BIN_EXE_ecs-reactor"),
            &[("REACTOR_TABLE", &stack.table)],
        );
        command.args(["start", "job.json"]).current_dir(&dir);
        output(command)
    };
    assert_eq!(no_topic.code, 3, "{}", no_topic.stderr);
    assert!(
        no_topic
            .stderr
            .contains("no outcomes topic: give --topic-arn"),
        "{}",
        no_topic.stderr
    );
    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        (&["start", "typo.json"], 3, "did you mean maxAttempts"),
        (&["start", "nothing.json"], 3, "nothing.json: cannot read"),
        (&["cancel", "no-such-run-20261121T000000Z"], 4, "no run \"no-such-run-20261121T000000Z\""),
        (&["redrive", "no-such-run-20261121T000000Z"], 4, "no run \"no-such-run-20261121T000000Z\""),
        (&["redrive", &run], 6, "is RUNNING: only a FAILED or CANCELLED run can be redriven"),
    ];
    for (args, code, message) in cases {
        let out = cli(args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    assert_eq!(
        stack.scan().await.len(),
        rows_before,
        "nothing written by refused commands"
    );
    let refused = cli(&["start", "missing.json", "--json"]);
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    let refused: Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(
        (&refused["outcome"], &refused["action"]),
        (&json!("NOT_STARTED"), &json!("FAIL")),
        "{refused}"
    );

    // cancel --stop-task: the run is CANCELLED, its task stopped with a reason naming who.
    let cancelled = cli(&[
        "cancel",
        &run,
        "--stop-task",
        "--reason",
        "wrong date",
        "--json",
    ])
    .json();
    assert_eq!(
        (
            &cancelled["outcome"],
            &cancelled["was"],
            &cancelled["stoppedTask"]
        ),
        (&json!("CANCELLED"), &json!("RUNNING"), &json!(task))
    );
    assert_eq!(
        stack.task(&task).await.stopped_reason(),
        Some(
            format!(
                "ecs-reactor: run {run} cancelled by oncall-test (ecs-reactor CLI): wrong date"
            )
            .as_str()
        )
    );
    let repeated = cli(&["cancel", &run]);
    assert_eq!(repeated.code, 0, "{}", repeated.stderr);
    assert!(
        repeated.stdout.contains("was cancelled already"),
        "{}",
        repeated.stdout
    );

    // redrive: attempt 2 runs; the story shows both attempts, the cancel and the redrive.
    let redriven = cli(&["redrive", &run, "--reason", "date fixed"]);
    assert_eq!(redriven.code, 0, "{}", redriven.stderr);
    assert!(
        redriven
            .stdout
            .contains("attempt 2 launched task arn:aws:ecs:"),
        "{}",
        redriven.stdout
    );
    let again = cli(&["redrive", &run]);
    assert_eq!(
        again.code, 6,
        "a second redrive starts nothing: {}",
        again.stderr
    );
    let story = cli(&["show", &run]);
    assert_mentions(
        &story.stdout,
        &[
            format!("run {run}"),
            "RUNNING at attempt 2".into(),
            "by oncall-test (ecs-reactor CLI): wrong date".into(),
            "redriven 1 time(s)".into(),
            "by oncall-test (ecs-reactor CLI): date fixed; attempts count from 2".into(),
        ],
    );
    let lines: Vec<&str> = story
        .stdout
        .lines()
        .filter(|l| l.starts_with("1 ") || l.starts_with("2 "))
        .collect();
    assert_eq!(lines.len(), 2, "{}", story.stdout);
    assert_eq!(stack.tasks(&format!("ecs-reactor/{run}/2")).await.len(), 1);

    // A finished run cannot be cancelled.
    let event = stack
        .stop(
            &stack.tasks(&format!("ecs-reactor/{run}/2")).await[0],
            &format!("ecs-reactor/{run}/2"),
            "stopped-success.json",
            3,
        )
        .await;
    classifier::handle(&stack.reactor(), event, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let finished = cli(&["cancel", &run]);
    assert_eq!(finished.code, 6, "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("has finished (SUCCEEDED): nothing to cancel"),
        "{}",
        finished.stderr
    );
    let statuses: Vec<String> = stack
        .notifications()
        .await
        .iter()
        .filter(|n| n["runId"] == run.as_str())
        .map(|n| n["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        ["CANCELLED", "SUCCEEDED"],
        "each ending announced once"
    );
}

/// The README's runbook: each `sh` block's commands, with their line continuations joined.
fn runbook_blocks() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("## On-call runbook")
        .expect("README has an On-call runbook");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.to_owned();
        }
        if line == "```sh" {
            let mut commands = Vec::new();
            let mut current = String::new();
            for line in lines.by_ref().take_while(|l| *l != "```") {
                let (text, continued) = match line.strip_suffix('\\') {
                    Some(text) => (text, true),
                    None => (line, false),
                };
                current.push_str(text);
                if !continued {
                    commands.push(std::mem::take(&mut current));
                }
            }
            blocks.push((heading.clone(), commands));
        }
    }
    blocks
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_runbook_runs_as_written() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, waiting, waiting_task) = &runs[2];
    let (_, failed, _) = &runs[1];
    let dir = dir_with_job(&stack.job("nightly-report"));
    let bin = Path::new(env!("CARGO_BIN_EXE_ecs-reactor"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    assert!(
        root().join(".venv/bin/aws").exists(),
        "the AWS CLI is not in .venv — run `make venv` (make test does)"
    );
    let env = [
        ("PATH", path.as_str()),
        ("REACTOR_TABLE", stack.table.as_str()),
        ("REACTOR_TOPIC_ARN", stack.topic_arn.as_str()),
        ("TABLE", stack.table.as_str()),
        ("RUN", waiting.as_str()),
        ("JOB", "nightly-report"),
        ("TASK_ARN", waiting_task.as_str()),
    ];
    let pks = |out: &Out| -> Vec<String> {
        out.json()["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["pk"]["S"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let keys = |ids: &[String]| -> Vec<String> { ids.iter().map(|r| format!("RUN#{r}")).collect() };
    let all_newest_first: Vec<String> = runs.iter().rev().map(|r| r.1.clone()).collect();
    let mut checked = 0;
    for (heading, commands) in runbook_blocks() {
        if commands
            .iter()
            .any(|c| c.starts_with("export REACTOR_TABLE"))
        {
            continue; // the placeholders this test fills in through the environment
        }
        let mut assignments = String::new();
        for command in commands {
            if command.starts_with("SINCE=") {
                assignments.push_str(&command);
                assignments.push('\n');
                continue;
            }
            let mut bash = shell("bash", &env);
            bash.arg("-c")
                .arg(format!("set -euo pipefail\n{assignments}{command}"))
                .current_dir(&dir);
            let out = output(bash);
            assert_eq!(
                out.code, 0,
                "{heading}: `{command}` failed: {}{}",
                out.stdout, out.stderr
            );
            let program = command.split_whitespace().next().unwrap_or_default();
            let recipe = heading.as_str();
            match (program, recipe) {
                ("ecs-reactor", _) => assert!(
                    !out.stdout.trim().is_empty(),
                    "{heading}: `{command}` printed nothing"
                ),
                ("aws", r) if r.starts_with("What happened to this run") => {
                    let sks: Vec<String> = out.json()["Items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["sk"]["S"].as_str().unwrap().to_owned())
                        .collect();
                    assert_eq!(sks, ["ATTEMPT#0001", "DELAY#0002", "RUN"], "{heading}");
                    assert!(
                        pks(&out).iter().all(|pk| *pk == format!("RUN#{waiting}")),
                        "{heading}"
                    );
                }
                ("aws", r) if r.starts_with("Which run owns this task ARN") => {
                    assert_eq!(pks(&out), [format!("RUN#{waiting}")], "{heading}");
                }
                ("aws", r) if r.starts_with("What runs did this job have") => {
                    assert_eq!(pks(&out), keys(&all_newest_first), "{heading}");
                }
                ("aws", r) if r.starts_with("What failed in the last 24 hours") => {
                    assert_eq!(pks(&out), keys(std::slice::from_ref(failed)), "{heading}");
                }
                ("aws", r) if r.starts_with("Which runs are waiting for a retry") => {
                    assert_eq!(pks(&out), keys(std::slice::from_ref(waiting)), "{heading}");
                }
                ("aws", r) if r.starts_with("What ran lately") => {
                    let expected: Vec<String> = all_newest_first
                        .iter()
                        .map(|r| format!("RUN#{r}"))
                        .collect();
                    assert_eq!(pks(&out), expected, "{heading}");
                }
                _ => panic!("{heading}: `{command}` has no expectation in this test; add one"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} runbook commands found");
    // The runbook's cancel and redrive acted on the waiting run: cancelled, then redriven to attempt 2.
    let run = stack.row(waiting, "RUN").await.unwrap();
    assert_eq!(
        (&run["status"], &run["attempt"], &run["redrives"]),
        (&json!("RUNNING"), &json!(2), &json!(1))
    );
    assert!(run["cancelledBy"]
        .as_str()
        .unwrap()
        .ends_with("bad input file; rerun after the fix"));
}
