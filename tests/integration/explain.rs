//! `ecs-reactor explain` (and `validate`) on the sample events and on bad input.

use crate::cli::{root, run, run_with_stdin};

const JOB: &str = "events/job-nightly-report.json";

#[test]
fn every_sample_event_is_judged_as_an_operator_would() {
    // (event, extra args, action, ruleId). The job names `app` as its essential container.
    #[rustfmt::skip]
    let cases: &[(&str, &[&str], &str, &str)] = &[
        ("stopped-success",             &[], "SUCCEED",     "essential-containers-exited-0"),
        ("stopped-success-sidecar-137", &[], "SUCCEED",     "essential-containers-exited-0"),
        ("stopped-app-exit-1",          &[], "RETRY_LATER", "application-exit-nonzero"),
        ("stopped-pull-rate-limit",     &[], "RETRY_LATER", "image-pull-rate-limited"),
        ("stopped-image-not-found",     &[], "FAIL",        "image-not-found"),
        ("stopped-eni-timeout",         &[], "RETRY_LATER", "eni-provisioning"),
        ("stopped-spot-interruption",   &[], "RETRY_NOW",   "spot-interruption"),
        ("stopped-host-terminated",     &[], "RETRY_NOW",   "host-lost"),
        ("stopped-out-of-memory",       &[], "FAIL",        "out-of-memory"),
        ("stopped-user-stop",           &[], "FAIL",        "stopped-on-purpose"),
        // Later attempts of the same job: the budget speaks.
        ("stopped-app-exit-1",          &["--attempt", "4"], "FAIL", "attempts-exhausted"),
        ("stopped-spot-interruption",   &["--attempt", "5", "--disruptions", "4"], "RETRY_NOW", "spot-interruption"),
        ("stopped-spot-interruption",   &["--attempt", "8", "--disruptions", "5"], "RETRY_NOW", "spot-interruption"),
        ("stopped-spot-interruption",   &["--attempt", "9", "--disruptions", "5"], "FAIL", "attempts-exhausted"),
    ];
    let samples: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("stopped-"))
        .collect();
    for sample in &samples {
        let name = sample.trim_end_matches(".json");
        assert!(
            cases.iter().any(|c| c.0 == name) || name == "stopped-foreign-task",
            "events/{sample} has no expected judgement here"
        );
    }
    for &(name, extra, action, rule_id) in cases {
        let path = format!("events/{name}.json");
        let mut args = vec!["explain", path.as_str(), "--policy", JOB];
        args.extend_from_slice(extra);
        let out = run(&args).json();
        assert_eq!(
            (out["action"].as_str(), out["ruleId"].as_str()),
            (Some(action), Some(rule_id)),
            "{args:?}: {out:#}"
        );
        let rule = out["rule"].as_str().unwrap();
        assert!(
            rule.len() > 15 && rule.contains(' '),
            "{name}: the rule should read as words: {rule:?}"
        );
        assert!(
            out["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{name}: no reason"
        );
        assert_eq!(
            out["delaySeconds"].is_u64(),
            action == "RETRY_LATER",
            "{name}: delaySeconds iff RETRY_LATER: {out:#}"
        );
        assert!(out["countsAsAttempt"].is_boolean());
    }
}

/// A task another launcher started is not judged, as the classifier does not judge it.
#[test]
fn a_foreign_task_would_be_ignored_as_the_classifier_ignores_it() {
    let out = run(&["explain", "events/stopped-foreign-task.json"]).json();
    assert_eq!(out["action"], "IGNORED", "{out:#}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("would be ignored (not launched by ecs-reactor): "),
        "{reason}"
    );
}

/// What the failure queues hold — a Lambda on-failure destination record, an SQS message body, `aws sqs
/// receive-message` output — is read for the event inside, and judged as the bare event is.
#[test]
fn an_event_inside_a_failure_record_or_an_sqs_message_is_judged_as_the_bare_event() {
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/stopped-pull-rate-limit.json")).unwrap(),
    )
    .unwrap();
    let record = serde_json::json!({
        "version": "1.0", "timestamp": "2026-11-21T02:41:45.000Z",
        "requestContext": {"requestId": "c0ffee", "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:classifier:$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "RetryableError", "errorMessage": "the table did not answer"}
    });
    let message =
        serde_json::json!({"MessageId": "m-1", "ReceiptHandle": "r", "Body": record.to_string()});
    let received = serde_json::json!({"Messages": [message.clone()]});
    let bare = run(&["explain", "events/stopped-pull-rate-limit.json"]).json();
    #[rustfmt::skip]
    let shapes = [
        (record,   "a Lambda on-failure destination record (requestPayload)"),
        (message,  "a Lambda on-failure destination record (requestPayload)"),
        (received, "the first message of aws sqs receive-message"),
    ];
    for (shape, held_in) in shapes {
        let out = run_with_stdin(&["explain", "-"], &shape.to_string()).json();
        assert_eq!(
            (&out["action"], &out["ruleId"]),
            (&bare["action"], &bare["ruleId"]),
            "{held_in}: {out:#}"
        );
        assert_eq!(out["input"], held_in, "{out:#}");
    }
}

#[test]
fn retry_later_says_when_and_the_budget_says_why_not() {
    // Attempt 1 comes from the task's startedBy (ecs-reactor/<run>/1); the job's interval is 30 s.
    let first = run(&["explain", "events/stopped-app-exit-1.json", "--policy", JOB]).json();
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["delaySeconds"], 30);
    assert_eq!(first["nextAttempt"], 2);
    assert_eq!(
        first["jitter"],
        serde_json::json!({"strategy": "FULL", "minSeconds": 0, "maxSeconds": 30})
    );
    assert_eq!(first["runId"], "nightly-report-20261121T023000Z");
    let third = run(&[
        "explain",
        "events/stopped-app-exit-1.json",
        "--policy",
        JOB,
        "--attempt",
        "3",
    ])
    .json();
    assert_eq!(third["delaySeconds"], 120);
    let last = run(&[
        "explain",
        "events/stopped-app-exit-1.json",
        "--policy",
        JOB,
        "--attempt",
        "4",
    ])
    .json();
    assert_eq!(last["action"], "FAIL");
    assert!(
        last["rule"]
            .as_str()
            .unwrap()
            .starts_with("attempts exhausted: 4 of 4 used"),
        "{last:#}"
    );
    assert_eq!(last["verdict"]["action"], "RETRY_LATER");
    assert_eq!(last["verdict"]["ruleId"], "application-exit-nonzero");
    // A disruption does not count as an attempt.
    let spot = run(&["explain", "events/stopped-spot-interruption.json"]).json();
    assert_eq!(spot["countsAsAttempt"], false);
}

#[test]
fn essential_containers_come_from_the_flag_the_job_or_nowhere() {
    let sidecar = "events/stopped-success-sidecar-137.json";
    let nothing = run(&["explain", sidecar]).json();
    assert_eq!(
        nothing["action"], "RETRY_LATER",
        "without knowing which container matters, the sidecar's 137 counts"
    );
    assert!(nothing["essentialContainers"]["from"]
        .as_str()
        .unwrap()
        .starts_with("none given"));
    let flag = run(&["explain", sidecar, "--essential", "app"]).json();
    assert_eq!(flag["action"], "SUCCEED");
    assert_eq!(
        flag["essentialContainers"]["names"],
        serde_json::json!(["app"])
    );
    let containers = flag["task"]["containers"].as_array().unwrap();
    assert_eq!(
        containers[1],
        serde_json::json!({"name": "log-router", "exitCode": 137, "reason": null, "essential": false})
    );
    assert_eq!(
        run(&["explain", sidecar, "--policy", JOB]).json()["action"],
        "SUCCEED"
    );
}

#[test]
fn a_bare_retry_policy_works_too_and_reads_stdin() {
    let dir = tempdir();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"maxAttempts": 2, "rules": [{"onExitCode": "1", "action": "FAIL"}]}"#,
    )
    .unwrap();
    let event = std::fs::read_to_string(root().join("events/stopped-app-exit-1.json")).unwrap();
    let out = run_with_stdin(
        &["explain", "-", "--policy", policy.to_str().unwrap()],
        &event,
    )
    .json();
    assert_eq!(out["action"], "FAIL");
    assert_eq!(out["ruleId"], "retry.rules[0]");
    assert_eq!(
        out["rule"],
        "job rule retry.rules[0]: onExitCode \"1\" → FAIL"
    );
}

#[test]
fn bad_input_is_one_line_naming_the_problem() {
    let dir = tempdir();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let not_json = write("not-json.json", "{\"detail\": ");
    let ec2 = write(
        "ec2.json",
        r#"{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}"#,
    );
    let bad_policy = write("bad-policy.json", r#"{"backoffRate": 0.5, "retyr": 1}"#);
    let bad_job = write(
        "bad-job.json",
        r#"{"job": "x", "runTask": {"taskDefinition": "td", "launchType": "FARGATE"}, "retry": {"maxAttempts": 0}}"#,
    );
    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        (&["explain", "events/malformed-event.json"], 3, "detail.containers[0].exitCode: expected a whole number, found a string"),
        (&["explain", &not_json], 3, "not JSON"),
        (&["explain", &ec2], 3, "not an ECS Task State Change event (source \"aws.ec2\""),
        (&["explain", "events/running.json"], 3, "task is RUNNING, not STOPPED"),
        (&["explain", "events/no-such-file.json"], 3, "events/no-such-file.json: cannot read"),
        (&["explain", "events/stopped-success.json", "--policy", &bad_policy], 3, "invalid retry policy: unknown field retyr at the top level (expected one of: maxAttempts"),
        (&["explain", "events/stopped-success.json", "--policy", &bad_job], 3, "required on Fargate (tasks use awsvpc networking); retry.maxAttempts must be between 1 and 100 (got 0)"),
        (&["explain", "events/stopped-success.json", "--attempt", "0"], 2, "--attempt"),
        (&["explain"], 2, "EVENT_FILE"),
    ];
    for &(args, code, needle) in cases {
        let out = run(args);
        assert_eq!(out.code, code, "{args:?}: stderr {}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing on stdout when failing, got {}",
            out.stdout
        );
        assert!(
            out.stderr.contains(needle),
            "{args:?}: want {needle:?} in {:?}",
            out.stderr
        );
        if code == 3 {
            assert_eq!(
                out.stderr.trim_end().lines().count(),
                1,
                "{args:?}: one line: {:?}",
                out.stderr
            );
            assert!(out.stderr.starts_with("ecs-reactor: "));
        }
    }
}

#[test]
fn help_shows_an_example() {
    let out = run(&["explain", "--help"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("ecs-reactor explain events/stopped-spot-interruption.json"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--policy <POLICY_FILE>") && out.stdout.contains("--attempt <N>"));
}

#[test]
fn validate_fills_in_the_defaults() {
    let out = run(&["validate", JOB]).json();
    assert_eq!(out["retry"]["maxDisruptions"], 5);
    assert_eq!(
        out["retry"]["rules"][0],
        serde_json::json!({"onExitCode": "2", "action": "RETRY_NOW"})
    );
    let minimal = run_with_stdin(
        &["validate", "-"],
        r#"{"job": "j", "runTask": {"taskDefinition": "td:1"}}"#,
    )
    .json();
    assert_eq!(minimal["retry"]["maxAttempts"], 3);
    assert_eq!(minimal["retry"]["jitter"], "FULL");
    // The defaults a run goes by though the job does not say them.
    assert_eq!(minimal["concurrency"], "ALLOW");
    assert_eq!(
        minimal["notify"]["on"],
        serde_json::json!(["SUCCEEDED", "FAILED", "CANCELLED"])
    );
    assert_eq!(minimal["retry"]["onTimeout"], "FAIL");
}

#[test]
fn validate_reports_every_problem_at_once_one_a_line_with_file_and_field() {
    let dir = tempdir();
    let file = dir.join("bad-job.json");
    std::fs::write(
        &file,
        r#"{"job": "x", "runTask": {"taskDefinition": "td", "launchTyp": "FARGATE"},
            "retry": {"maxAttempts": 0, "backoffRate": "2", "rules": [{"onExitCode": "1-5", "action": "FAIL"}, {"onExitCode": "5-1", "action": "FAIL"}]}}"#,
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let out = run(&["validate", &file]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.trim_end().lines().collect();
    let want = [
        "unknown field runTask.launchTyp at runTask, did you mean launchType?",
        "retry.backoffRate: expected a number, found a string",
        "retry.maxAttempts must be between 1 and 100 (got 0)",
        "retry.rules[1].onExitCode: the range \"5-1\" runs backwards",
    ];
    assert_eq!(lines.len(), want.len(), "{}", out.stderr);
    for (line, want) in lines.iter().zip(want) {
        let line = line.trim_start_matches("ecs-reactor: ");
        assert!(
            line.starts_with(&format!("{file}: ")) && line.contains(want),
            "want {want:?} in {line:?}"
        );
    }
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ecs-reactor-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_reasoning_names_every_rule_that_matched_and_whether_a_fall_back_decided() {
    // (event, decided by, every rule that matched in order, the fall-back's part)
    #[rustfmt::skip]
    let cases: &[(&str, &str, &[&str], &str)] = &[
        // A specific rule before the family's fall-back: the rate limit, not "a pull failed".
        ("stopped-pull-rate-limit", "image-pull-rate-limited", &["image-pull-rate-limited", "image-pull-failed", "failed-to-start", "unrecognised-stop"], "not used: the specific rule `image-pull-rate-limited` matched before the fall-back `image-pull-failed`"),
        ("stopped-image-not-found", "image-not-found", &["image-not-found", "image-pull-failed", "failed-to-start", "unrecognised-stop"], "not used: the specific rule `image-not-found` matched before the fall-back `image-pull-failed`"),
        ("stopped-success",         "essential-containers-exited-0", &["essential-containers-exited-0", "unrecognised-stop"], "not used: the specific rule `essential-containers-exited-0` matched before the fall-back `unrecognised-stop`"),
    ];
    for &(name, decided_by, matched, fallback) in cases {
        let path = format!("events/{name}.json");
        let out = run(&["explain", path.as_str(), "--policy", JOB]).json();
        let reasoning = &out["reasoning"];
        assert_eq!(
            reasoning["decidedBy"].as_str(),
            Some(decided_by),
            "{name}: {reasoning:#}"
        );
        assert_eq!(
            out["ruleId"].as_str(),
            Some(decided_by),
            "{name}: the reasoning's rule is the decision's"
        );
        let got: Vec<&str> = reasoning["matched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["ruleId"].as_str().unwrap())
            .collect();
        assert_eq!(got, matched, "{name}");
        assert_eq!(reasoning["fallback"].as_str(), Some(fallback), "{name}");
        assert!(
            reasoning["rulesConsidered"].as_u64().unwrap() > 30,
            "{name}: every rule is considered: {reasoning:#}"
        );
    }
}

/// `explain` judges with what the classifier used: every sample STOPPED event played through the real
/// starter and classifier against moto, then `explain EVENT` (the run's job and essential containers read
/// from the table) and `explain RUN_ID` agree with the verdict the classifier stored — the sidecar killed
/// with 137 after the app exited 0 included (the task definition says the sidecar is not essential).
#[tokio::test(flavor = "multi_thread")]
async fn explain_agrees_with_the_classifiers_stored_verdict_for_every_sample() {
    let stack = crate::stack::Stack::new().await;
    let reactor = stack.reactor();
    let now = reactor_testkit::now_after("2026-11-21T02:30:00Z");
    let dir = tempdir();
    let mut samples: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("stopped-") && n != "stopped-foreign-task.json")
        .collect();
    samples.sort();
    for (i, sample) in samples.iter().enumerate() {
        let tick = stack.tick(&format!("agree-{i}"), "2026-11-21T02:30:00Z");
        let started = starter::handle(&reactor, tick, "r", now).await.unwrap();
        let task = started.task_arn.clone().unwrap();
        let started_by = format!("ecs-reactor/{}/1", started.run_id);
        let event = stack.stop(&task, &started_by, sample, 3).await;
        let judged = classifier::handle(&reactor, event.clone(), now)
            .await
            .unwrap();
        let file = dir.join(sample);
        std::fs::write(&file, event.to_string()).unwrap();

        let explained: serde_json::Value = serde_json::from_str(&crate::oncall::cli_on(
            &stack,
            &["explain", &file.to_string_lossy()],
        ))
        .unwrap();
        assert_eq!(
            (explained["action"].as_str(), explained["ruleId"].as_str()),
            (judged.action, judged.rule_id.as_deref()),
            "{sample}: explain EVENT: {explained:#}"
        );
        assert_eq!(explained["agrees"], true, "{sample}: {explained:#}");
        assert!(
            explained["policy"]["from"]
                .as_str()
                .is_some_and(|f| f.contains("job in the table")),
            "{sample}: {explained:#}"
        );

        let by_run: serde_json::Value = serde_json::from_str(&crate::oncall::cli_on(
            &stack,
            &["explain", &started.run_id, "--attempt", "1"],
        ))
        .unwrap();
        let attempts = by_run["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{sample}: {by_run:#}");
        assert_eq!(
            attempts[0]["agrees"], true,
            "{sample}: explain RUN_ID: {by_run:#}"
        );
    }
}

/// `validate DIR` (a `jobs/` directory of JSON and YAML job files): every problem of every file at once, one a
/// line with the file and the field's path; anything that is not a job file is named, not skipped.
#[test]
fn validate_reads_a_directory_of_job_files_and_reports_every_problem_of_every_file() {
    let good = run(&["validate", "jobs"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert!(
        good.stdout.starts_with("2 job files valid:"),
        "{}",
        good.stdout
    );
    assert!(
        good.stdout.contains(
            "jobs/weekly-export.yaml  weekly-export  cron(0 6 ? * MON *) America/New_York"
        ),
        "{}",
        good.stdout
    );

    let dir = tempdir();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write(
        "a.json",
        r#"{"job": "a", "schedule": {"expression": "cron(0 2 * * ?)"}, "runTask": {"taskDefinition": "t:1", "clustr": "jobs"}}"#,
    );
    write(
        "b.yaml",
        "job: b\nschedule:\n  expression: rate(1 hour)\n  timezone: Europe Berlin\nrunTask:\n  taskDefinition: t:1\nretry:\n  maxAttempts: 0\n",
    );
    write(
        "c.json",
        r#"{"job": "a", "runTask": {"taskDefinition": "t:1"}}"#,
    );
    let dir_arg = dir.to_string_lossy().into_owned();
    let out = run(&["validate", &dir_arg]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let lines: Vec<&str> = out
        .stderr
        .trim_end()
        .lines()
        .map(|l| l.trim_start_matches("ecs-reactor: "))
        .collect();
    let at = |file: &str, problem: &str| format!("{dir_arg}/{file}: {problem}");
    assert_eq!(
        lines,
        [
            at("a.json", "unknown field runTask.clustr at runTask, did you mean cluster?"),
            at("a.json", "schedule.expression: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got 5 in \"cron(0 2 * * ?)\""),
            at("b.yaml", "retry.maxAttempts must be between 1 and 100 (got 0)"),
            at("b.yaml", "schedule.timezone: \"Europe Berlin\" is not an IANA time zone name like \"Europe/Berlin\" or \"UTC\""),
            at("c.json", "job: the file is named \"c\" but its job is \"a\": name the file after its job"),
        ]
    );
    write("README.txt", "notes");
    let stray = run(&["validate", &dir_arg]);
    assert_eq!(stray.code, 3);
    assert!(
        stray
            .stderr
            .contains("README.txt: not a job file (job files end in .json, .yaml or .yml)"),
        "{}",
        stray.stderr
    );
}

/// docs/job.schema.json (generated from the job types) accepts the repository's job files and refuses a
/// misspelt field, checked by a real JSON Schema validator (Python's jsonschema, in the tools' venv).
#[test]
fn the_published_schema_validates_job_files_in_a_real_validator() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "no {} (make venv)", python.display());
    let script = r#"
import json, sys, pathlib, yaml, jsonschema
schema = json.load(open("docs/job.schema.json"))
validator = jsonschema.Draft202012Validator(schema)
for path in sorted(pathlib.Path("jobs").iterdir()):
    doc = yaml.safe_load(path.read_text()) if path.suffix in (".yaml", ".yml") else json.loads(path.read_text())
    errors = list(validator.iter_errors(doc))
    print(path, "valid" if not errors else "INVALID: " + "; ".join(e.message for e in errors))
bad = json.loads(pathlib.Path("jobs/nightly-report.json").read_text())
bad["retyr"] = {"maxAttempts": 2}
print("misspelt", "valid" if validator.is_valid(bad) else "refused")
"#;
    let out = std::process::Command::new(python)
        .current_dir(root())
        .args(["-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "jobs/nightly-report.json valid",
            "jobs/weekly-export.yaml valid",
            "misspelt refused",
        ]
    );
}
