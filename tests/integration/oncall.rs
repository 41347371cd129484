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

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Who moto says the caller is (GetCallerIdentity with keys it did not issue): what cancel and redrive
/// record as the actor.
pub const CALLER: &str = "arn:aws:sts::123456789012:user/moto";

/// A shell pointed at moto through the standard chain, as on-call's would be: no table, topic or stack
/// unless given. USER is set to show that the login name is not who acts: the AWS identity is.
pub fn shell(program: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("REACTOR_TABLE")
        .env_remove("REACTOR_TOPIC_ARN")
        .env_remove("REACTOR_STACK")
        .env_remove("REACTOR_NAMESPACE")
        .env_remove("REACTOR_OVERRIDES_KEY")
        .env_remove("REACTOR_RETRY_QUEUE_URL")
        .env_remove("REACTOR_SWEEP_SHARDS")
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
pub fn assert_mentions(text: &str, needles: &[String]) {
    for needle in needles {
        assert!(
            text.contains(needle.as_str()),
            "{needle:?} missing from:\n{text}"
        );
    }
}

pub fn output(mut command: Command) -> Out {
    let out = command.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `ecs-reactor ARGS` with `REACTOR_TABLE` set to `table` (when given).
pub fn ecs_reactor(table: Option<&str>, args: &[&str]) -> Out {
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
pub fn dir_with_job(job: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(crate::moto::unique("ecs-reactor-oncall"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("job.json"), job.to_string()).unwrap();
    dir
}

/// Runs of one job in several statuses, left by the real handlers; returns (run id, its first task) by status.
pub async fn seeded(stack: &Stack) -> Vec<(&'static str, String, String)> {
    let reactor = stack.reactor();
    let now = reactor_testkit::now_after("2026-11-21T04:00:00Z");
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
        (None,               &["runs", "--job", "j"], 3, "no table: give --table NAME or --stack NAME, or set REACTOR_TABLE or REACTOR_STACK"),
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
        reactor_testkit::now_after("2026-11-21T05:00:00Z"),
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
    let claim = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        &stuck.run_id,
        1,
        old,
        0,
    );
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
    // No overrides key here: the job's environment value (REPORT_FORMAT=csv) is stored as given, and the
    // command says so in one line that names the run and job, not the value.
    let run_of_started = started.stdout.split_whitespace().nth(1).unwrap();
    assert_eq!(
        started.stderr,
        format!(
            "ecs-reactor: warning: override values stored unsealed: REACTOR_OVERRIDES_KEY is not set \
             (run={run_of_started}, job=adhoc, values=1)\n"
        )
    );
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

    // cancel --stop-task: the run is CANCELLED, its task stopped with a reason naming who: the caller's AWS
    // identity, after the name given with --by.
    let cancelled = cli(&[
        "cancel",
        &run,
        "--stop-task",
        "--by",
        "alice",
        "--reason",
        "wrong date",
        "--json",
    ])
    .json();
    assert_eq!(
        cancelled["by"],
        format!("alice ({CALLER}, ecs-reactor CLI): wrong date")
    );
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
                "ecs-reactor: run {run} cancelled by alice ({CALLER}, ecs-reactor CLI): wrong date"
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
    assert!(
        redriven.stdout.contains(&format!(
            "redriven by {CALLER} (ecs-reactor CLI): date fixed"
        )),
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
            format!("by alice ({CALLER}, ecs-reactor CLI): wrong date"),
            "redriven 1 time(s)".into(),
            format!("by {CALLER} (ecs-reactor CLI): date fixed; attempts count from 2"),
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

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_redrive_without_a_topic_look_for_the_run_first() {
    let stack = Stack::new().await;
    let runs = seeded(&stack).await;
    let (_, failed, _) = &runs[1];
    let (_, running, _) = &runs[3];
    let rows_before = stack.scan().await.len();
    let missing = "no-such-run-20261121T000000Z";
    let unknown = format!("ecs-reactor: no run {missing:?} in table {}", stack.table);
    let no_topic = "ecs-reactor: no outcomes topic: give --topic-arn ARN or --stack NAME, or set \
                    REACTOR_TOPIC_ARN (the stack's OutcomesTopicArn output); a run that ends is announced there";
    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        // No such run: that is the answer, not the topic the command would not have needed.
        (&["cancel", missing], 4, &unknown),
        (&["redrive", missing], 4, &unknown),
        // The run exists: now the missing topic is what stops the command.
        (&["cancel", running, "--stop-task"], 3, no_topic),
        (&["redrive", failed], 3, no_topic),
    ];
    for (args, code, expected) in cases {
        // Only REACTOR_TABLE: no topic, no stack.
        let out = ecs_reactor(Some(&stack.table), args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim_end(), *expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    assert_eq!(stack.scan().await.len(), rows_before, "nothing written");
    assert_eq!(
        stack.row(running, "RUN").await.unwrap()["status"],
        "RUNNING"
    );
    assert_eq!(stack.row(failed, "RUN").await.unwrap()["status"], "FAILED");
}

/// A loopback HTTP server answering every request with `status` and an STS (XML) `body`; the request bodies
/// it received.
fn sts_answering(
    status: u16,
    body: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // The headers, then as much body as Content-Length says.
            while let Ok(n @ 1..) = stream.read(&mut buffer) {
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        log.lock().unwrap().push(text[end + 4..].to_owned());
                        break;
                    }
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{address}"), seen)
}

#[test]
fn who_acts_is_asked_of_sts_first_and_its_refusal_is_one_line() {
    let (endpoint, seen) = sts_answering(
        403,
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>4d5c2b8e</RequestId></ErrorResponse>"#,
    );
    for command in ["cancel", "redrive"] {
        let mut cli = shell(
            env!("CARGO_BIN_EXE_ecs-reactor"),
            &[("AWS_ENDPOINT_URL", &endpoint)],
        );
        cli.args([
            command,
            "nightly-report-20261121T023000Z",
            "--table",
            "attempts",
            "--topic-arn",
            "arn:aws:sns:us-east-1:123456789012:outcomes",
        ]);
        let out = output(cli);
        assert_eq!(out.code, 5, "{command}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim_end(),
            "ecs-reactor: AWS refused the call: ExpiredToken: The security token included in the request is \
             expired; the caller needs that permission, or its credentials are expired (aws sso login)",
            "{command}"
        );
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "one call each: {seen:?}");
    assert!(
        seen.iter()
            .all(|body| body.contains("Action=GetCallerIdentity")),
        "the first call is STS's: {seen:?}"
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
    let cfn_stack = crate::stack_outputs::reactor_stack(&stack).await;
    let env = [
        ("PATH", path.as_str()),
        // As the runbook says: the stack named, its table and topic found in its outputs.
        ("REACTOR_STACK", cfn_stack.as_str()),
        ("TABLE", stack.table.as_str()),
        ("RUN", waiting.as_str()),
        ("JOB", "nightly-report"),
        ("TASK_ARN", waiting_task.as_str()),
        ("TASK_ID", waiting_task.rsplit('/').next().unwrap()),
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
            .any(|c| c.starts_with("export REACTOR_STACK"))
        {
            // The placeholders this test fills in through the environment; but the table's name from the
            // stack's outputs, by hand, is checked.
            let by_hand: Vec<&String> = commands
                .iter()
                .filter(|c| c.starts_with("TABLE=$("))
                .collect();
            assert_eq!(by_hand.len(), 1, "{heading}: {commands:?}");
            let mut bash = shell("bash", &env);
            bash.arg("-c").arg(format!(
                "set -euo pipefail\n{}\necho \"$TABLE\"",
                by_hand[0]
            ));
            let out = output(bash);
            assert_eq!(
                out.code, 0,
                "{heading}: `{}` failed: {}",
                by_hand[0], out.stderr
            );
            assert_eq!(out.stdout.trim(), stack.table, "{heading}: {}", by_hand[0]);
            checked += 1;
            continue;
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
                ("aws", r) if r.starts_with("Which run owns this task") => {
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
    assert_eq!(
        run["cancelledBy"],
        format!("alice ({CALLER}, ecs-reactor CLI): bad input file; rerun after the fix")
    );
}

// ---------------------------------------------------------------------------------------------------------
// On-call at 3 a.m.: `show` with full task ids, dates, hints, console URLs and log streams, found by task id;
// `runs` with JOB and DURATION; `runs --stuck`. Every run is played by the real handlers at fixed times and
// the CLI reports as of `--now`, so nothing depends on the day or the hour the suite runs.
// ---------------------------------------------------------------------------------------------------------

use crate::handlers::started_by;
use crate::moto::unique;
use crate::stack::{stopped_event_at, LocalReactor};
use reactor_aws::records::stamp;
use time::macros::datetime;
use time::Duration;

/// When the runs below start.
const T0: OffsetDateTime = datetime!(2026-11-21 02:30:00 UTC);

/// The starter handles the schedule tick of `job` at `at`, at `at`.
async fn start_at(
    reactor: &LocalReactor,
    job: &Value,
    at: OffsetDateTime,
) -> reactor_aws::flow::StartResponse {
    let tick = json!({
        "version": "0", "id": unique("tick"), "detail-type": "Scheduled Event", "source": "aws.events",
        "time": stamp(at), "detail": job
    });
    starter::handle(reactor, tick, &unique("req"), at)
        .await
        .unwrap()
}

/// Plays ECS stopping attempt 1's task at `at` with `sample`'s ending, and the classifier judging it then.
async fn stop_at(
    stack: &Stack,
    reactor: &LocalReactor,
    started: &reactor_aws::flow::StartResponse,
    sample: &str,
    at: OffsetDateTime,
) {
    let task = started.task_arn.as_deref().unwrap();
    stack
        .ecs
        .stop_task()
        .cluster(&stack.cluster)
        .task(task)
        .send()
        .await
        .unwrap();
    let event = stopped_event_at(sample, task, &started_by(&started.run_id, 1), 3, at);
    classifier::handle(reactor, event, at).await.unwrap();
}

/// Registers revision 2 of the stack's family: `app` logs with awslogs (group `/ecs/reports`, prefix
/// `report`), `log-router` has no log configuration. Returns `family:2`.
async fn register_logged_revision(stack: &Stack) -> String {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode,
    };
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/reports")
        .options("awslogs-stream-prefix", "report")
        .build()
        .unwrap();
    let out = stack
        .ecs
        .register_task_definition()
        .family(&stack.family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/docker/library/python:3.12")
                .memory(256)
                .essential(true)
                .log_configuration(logs)
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name("log-router")
                .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
                .memory(128)
                .essential(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let revision = out.task_definition().unwrap().revision();
    assert_eq!(revision, 2, "the stack registered revision 1");
    format!("{}:{revision}", stack.family)
}

/// The cells of a table line: columns are two spaces or more apart, and no cell holds two spaces.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The table row of attempt `n` in `show`'s output.
fn attempt_line(text: &str, n: u32) -> &str {
    text.lines()
        .find(|l| l.starts_with(&format!("{n} ")))
        .unwrap_or_else(|| panic!("no row for attempt {n} in:\n{text}"))
}

/// A run of a job whose task definition logs with awslogs, its first attempt stopped at T0 + 1 min by a pull
/// rate limit (RETRY_LATER, retry due at T0 + 2 min): (run id, task ARN, task definition).
async fn logged_run_waiting_for_a_retry(stack: &Stack) -> (String, String, String) {
    let reactor = stack.reactor();
    let revision = register_logged_revision(stack).await;
    let mut job = stack.job("nightly-report");
    job["runTask"]["taskDefinition"] = json!(revision);
    let started = start_at(&reactor, &job, T0).await;
    stop_at(
        stack,
        &reactor,
        &started,
        "stopped-pull-rate-limit.json",
        T0 + Duration::minutes(1),
    )
    .await;
    (started.run_id, started.task_arn.unwrap(), revision)
}

#[tokio::test(flavor = "multi_thread")]
async fn show_finds_a_run_by_task_id_and_prints_full_ids_dates_hints_console_urls_and_log_streams()
{
    let stack = Stack::new().await;
    let (run, task, revision) = logged_run_waiting_for_a_retry(&stack).await;
    let id = task.rsplit('/').next().unwrap().to_owned();
    assert!(id.len() > 12, "a task id longer than the old cut: {id}");
    let as_of = "2026-11-21T02:31:30Z";

    // By the task id alone, as the console and the log stream names show it.
    let out = ecs_reactor(Some(&stack.table), &["--now", as_of, "show", &id]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = &out.stdout;
    assert!(text.starts_with(&format!(
        "run {run}  job nightly-report  RETRY_SCHEDULED at attempt 1  created 2026-11-21 02:30:00Z (1 min ago)  \
         changed 2026-11-21 02:31:00Z (30 s ago)\n"
    )), "{text}");
    assert_eq!(
        cells(text.lines().nth(1).unwrap()),
        [
            "#",
            "TASK",
            "STARTED",
            "STOPPED",
            "STOP CODE",
            "MEMORY",
            "EXIT CODES",
            "DECISION",
            "RULE",
            "NEXT RETRY",
            "HINT"
        ]
    );
    // The whole task id; STARTED (the launch: the task never started) and STOPPED with their dates; the
    // pending NEXT RETRY, in how long; the rule's HINT, as --json has it.
    assert_eq!(
        cells(attempt_line(text, 1)),
        [
            "1",
            id.as_str(),
            "2026-11-21 02:30:00Z (1 min ago)",
            "2026-11-21 02:31:00Z (30 s ago)",
            "TaskFailedToStart",
            "1024 MiB",
            "app=- log-router=-",
            "RETRY_LATER",
            "image-pull-rate-limited",
            "2026-11-21 02:32:00Z (in 30 s)",
            "pull from ECR (pull-through cache) instead of Docker Hub, or authenticate the pulls",
        ]
    );
    assert_mentions(
        text,
        &[
            format!(
                "\nattempt 1 console: https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/{}/tasks/{id}/configuration?region=us-east-1\n",
                stack.cluster
            ),
            format!("\nattempt 1 logs app: group /ecs/reports, stream report/app/{id}\n"),
            "\nattempt 1 logs log-router: unknown: no logConfiguration in the task definition\n".into(),
            "\npending retry: attempt 2 due 2026-11-21 02:32:00Z (in 30 s)".into(),
        ],
    );
    assert!(
        !text.contains("latest revision"),
        "the job names revision 2: {text}"
    );

    // The same in --json, found by run id.
    let json = ecs_reactor(
        Some(&stack.table),
        &["--now", as_of, "show", &run, "--json"],
    )
    .json();
    let attempt = &json["attempts"][0];
    assert_eq!(json["taskDefinition"], revision.as_str());
    assert_eq!(attempt["taskId"], id.as_str());
    assert_eq!(
        attempt["consoleUrl"],
        format!(
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/{}/tasks/{id}/configuration?region=us-east-1",
            stack.cluster
        )
    );
    assert_eq!(
        attempt["logs"],
        json!([
            {"container": "app", "logGroup": "/ecs/reports", "logStream": format!("report/app/{id}")},
            {"container": "log-router", "logGroup": null, "logStream": null,
             "unknown": "no logConfiguration in the task definition"}
        ])
    );
    assert_eq!(
        attempt["hint"],
        "pull from ECR (pull-through cache) instead of Docker Hub, or authenticate the pulls"
    );

    // A task id no run launched: exit 4, naming where it looked and what to give instead.
    let unknown = "0123456789abcdef0123456789abcdef";
    let out = ecs_reactor(Some(&stack.table), &["show", unknown]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_mentions(
        &out.stderr,
        &[
            format!(
                "no run launched a task with id {unknown} in cluster(s) {}",
                stack.cluster
            ),
            format!("give the task's full ARN (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/{unknown})"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn show_goes_on_without_log_streams_when_the_task_definition_cannot_be_read() {
    let stack = Stack::new().await;
    let (run, task, revision) = logged_run_waiting_for_a_retry(&stack).await;
    let id = task.rsplit('/').next().unwrap().to_owned();
    // The revision is deregistered and deleted after the run: ECS no longer describes it.
    stack
        .ecs
        .deregister_task_definition()
        .task_definition(&revision)
        .send()
        .await
        .unwrap();
    stack
        .ecs
        .delete_task_definitions()
        .task_definitions(&revision)
        .send()
        .await
        .unwrap();

    let out = ecs_reactor(
        Some(&stack.table),
        &["--now", "2026-11-21T02:31:30Z", "show", &run],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_mentions(
        &out.stdout,
        &[
            format!("1  {id}  "),
            format!(
                "\nattempt 1 console: https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/{}/tasks/{id}/configuration?region=us-east-1\n",
                stack.cluster
            ),
            format!("\nattempt 1 logs: log stream unknown: task definition {revision} could not be read: "),
            "Unable to describe task definition.".into(),
        ],
    );
    let json = ecs_reactor(Some(&stack.table), &["show", &run, "--json"]).json();
    assert_eq!(json["taskDefinition"], Value::Null);
    assert!(json["attempts"][0].get("logs").is_none(), "{json}");
    assert!(
        json["attempts"][0]["logsUnknown"]
            .as_str()
            .unwrap()
            .starts_with(&format!("task definition {revision} could not be read")),
        "{json}"
    );
    assert_eq!(json["attempts"][0]["taskId"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_shows_each_runs_job_and_how_long_it_took_or_has_been_going() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let done = start_at(&reactor, &stack.job("alpha"), T0).await;
    stop_at(
        &stack,
        &reactor,
        &done,
        "stopped-success.json",
        T0 + Duration::minutes(5),
    )
    .await;
    let going = start_at(&reactor, &stack.job("beta"), T0 + Duration::minutes(10)).await;

    let out = ecs_reactor(
        Some(&stack.table),
        &["--now", "2026-11-21T03:30:00Z", "runs"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "RUN", "JOB", "STATUS", "ATTEMPT", "CREATED", "CHANGED", "DURATION", "LAST", "RULE",
            "NEXT", "RETRY"
        ],
        "{}",
        out.stdout
    );
    let row = |run: &str| -> Vec<&str> {
        cells(
            lines
                .iter()
                .find(|l| l.starts_with(run))
                .unwrap_or_else(|| panic!("no {run} in:\n{}", out.stdout)),
        )
    };
    // Finished: from its creation to its end. Unfinished: to --now.
    assert_eq!(
        row(&done.run_id),
        [
            done.run_id.as_str(),
            "alpha",
            "SUCCEEDED",
            "1",
            "1 h ago",
            "55 min ago",
            "5 min 0 s",
            "essential-containers-exited-0",
            "-"
        ]
    );
    assert_eq!(
        row(&going.run_id),
        [
            going.run_id.as_str(),
            "beta",
            "RUNNING",
            "1",
            "50 min ago",
            "50 min ago",
            "50 min 0 s",
            "-",
            "-"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_stuck_lists_late_runs_with_their_reasons_and_leaves_healthy_ones_out() {
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let now = T0 + Duration::hours(3);
    let as_of = stamp(now);

    // LAUNCHING: a starter that crashed right after claiming attempt 1 at T0 (its lease ran out at T0 + 2
    // min), and one claimed 30 s ago whose claimer may still be launching.
    let lease = reactor.settings.launch_lease_seconds;
    for (job, at) in [("crashed", T0), ("claiming", now - Duration::seconds(30))] {
        let run_id = format!("{job}-{}", stamp(at).replace(['-', ':'], ""));
        let run = RunItem::new(&run_id, job, stack.job(job).to_string(), None, at);
        let claim = AttemptItem::claim(
            &reactor_core::Namespace::default(),
            &run_id,
            1,
            at,
            at.unix_timestamp() + lease,
        );
        reactor.store.create_run(&run, &claim).await.unwrap();
    }
    // RUNNING: 3 h with nothing to stop it; 30 min; 3 h under a one-day timeoutSeconds.
    let long = start_at(&reactor, &stack.job("long"), T0).await;
    let _young = start_at(&reactor, &stack.job("young"), now - Duration::minutes(30)).await;
    let mut bounded = stack.job("bounded");
    bounded["timeoutSeconds"] = json!(86_400);
    let _bounded = start_at(&reactor, &bounded, T0).await;
    // RETRY_SCHEDULED: a retry due at T0 + 2 min that nothing fired; one due right now.
    let overdue = start_at(&reactor, &stack.job("overdue"), T0).await;
    stop_at(
        &stack,
        &reactor,
        &overdue,
        "stopped-pull-rate-limit.json",
        T0 + Duration::minutes(1),
    )
    .await;
    let due = start_at(&reactor, &stack.job("due"), now - Duration::minutes(2)).await;
    stop_at(
        &stack,
        &reactor,
        &due,
        "stopped-pull-rate-limit.json",
        now - Duration::minutes(1),
    )
    .await;

    let out = ecs_reactor(Some(&stack.table), &["--now", &as_of, "runs", "--stuck"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = &out.stdout;
    let rows: Vec<Vec<&str>> = text.lines().map(cells).collect();
    assert_eq!(
        rows[0],
        [
            "RUN",
            "JOB",
            "STATUS",
            "ATTEMPT",
            "CREATED",
            "CHANGED",
            "DURATION",
            "LAST RULE",
            "NEXT RETRY",
            "REASON"
        ],
        "{text}"
    );
    let listed: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(
        listed,
        [
            "crashed-20261121T023000Z",
            long.run_id.as_str(),
            overdue.run_id.as_str()
        ],
        "the late ones, by status, and no healthy one:\n{text}"
    );
    #[rustfmt::skip]
    let expected: [&[&str]; 3] = [
        &["crashed-20261121T023000Z", "crashed", "LAUNCHING", "1", "3 h ago", "3 h ago", "3 h 0 min", "-", "-",
          "attempt 1 CLAIMED 3 h ago, its launch lease ran out 2026-11-21 02:32:00Z (2 h ago): the sweep should have resumed the launch (check the scheduler's log)"],
        &[&long.run_id, "long", "RUNNING", "1", "3 h ago", "3 h ago", "3 h 0 min", "-", "-",
          "running for 3 h 0 min (over 2 h 0 min) and nothing stops it: the job sets no timeoutSeconds or runTimeoutSeconds; is its task still working, or was its STOPPED event lost?"],
        &[&overdue.run_id, "overdue", "RETRY_SCHEDULED", "1", "3 h ago", "2 h ago", "3 h 0 min", "image-pull-rate-limited", "2 h ago",
          "the retry (attempt 2) was due 2026-11-21 02:32:00Z (2 h ago): neither DynamoDB TTL nor the sweep fired it (check the scheduler's log)"],
    ];
    for (row, want) in rows[1..].iter().zip(expected) {
        assert_eq!(row, want, "{text}");
    }

    let json = ecs_reactor(
        Some(&stack.table),
        &["--now", &as_of, "runs", "--stuck", "--json"],
    )
    .json();
    let reasons: Vec<(&str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["runId"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons.len(), 3, "{json}");
    assert_eq!(reasons[1].0, long.run_id);
    assert!(reasons[1].1.starts_with("running for 3 h 0 min"), "{json}");

    // A higher threshold leaves the 3-hour run alone; --job narrows the list to one job.
    #[rustfmt::skip]
    let cases: &[(&[&str], &[&str])] = &[
        (&["runs", "--stuck", "--older-than", "4h", "--json"], &["crashed-20261121T023000Z", overdue.run_id.as_str()]),
        (&["runs", "--stuck", "--job", "long", "--json"], &[long.run_id.as_str()]),
    ];
    for (args, want) in cases {
        let mut with_now = vec!["--now", as_of.as_str()];
        with_now.extend_from_slice(args);
        let got = run_ids(&ecs_reactor(Some(&stack.table), &with_now).json());
        assert_eq!(got, *want, "{args:?}");
    }

    // As of a minute after T0 nothing was late yet (the later runs had not happened).
    let early = ecs_reactor(
        Some(&stack.table),
        &["--now", "2026-11-21T02:31:00Z", "runs", "--stuck"],
    );
    assert_eq!(
        (early.code, early.stdout.trim()),
        (0, "no stuck runs"),
        "{}",
        early.stderr
    );

    #[rustfmt::skip]
    let refused: &[(&[&str], i32, &str)] = &[
        (&["runs", "--stuck", "--older-than", "soon"], 3, "--older-than \"soon\": expected a number and a unit"),
        (&["runs", "--stuck", "--status", "RUNNING"], 2, "cannot be used with"),
        (&["runs", "--older-than", "2h"], 2, "--stuck"),
    ];
    for (args, code, message) in refused {
        let out = ecs_reactor(Some(&stack.table), args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}
