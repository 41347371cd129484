//! Every file in events/ on its Lambda binary under SAM's runtime emulator, against moto: the answer's body
//! is checked (a handler error is HTTP 200 with `errorType`), and so is what the invocation wrote.

use crate::cli::root;
use crate::rie::Function;
use crate::stack::Stack;
use reactor_aws::records::{AttemptItem, RunItem};
use reactor_aws::store::prelude::*;
use reactor_testkit::utc;
use serde_json::{json, Value};

/// The run every sample event belongs to (`startedBy` ecs-reactor/nightly-report-20261121T023000Z/1), as
/// [`shifted`].
fn sample_run() -> String {
    shifted("nightly-report-20261121T023000Z")
}

/// A sample event as the binaries get it, [`shifted`].
fn sample(name: &str) -> String {
    shifted(&std::fs::read_to_string(root().join("events").join(name)).unwrap())
}

/// How many days the samples are moved back: none on any clock past them (2026-11-21; the latest time in them is
/// the sweep's, 02:43). The binaries read the real clock, so a suite run with the clock set before the samples
/// (`make test-clock`) gets them moved to a day before its clock; a tick is never one from the future.
fn days_back() -> i64 {
    static DAYS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *DAYS.get_or_init(|| {
        let latest = utc("2026-11-21T02:43:00Z");
        let now = time::OffsetDateTime::now_utc();
        if now > latest + time::Duration::hours(1) {
            0
        } else {
            (latest - now).whole_days() + 2
        }
    })
}

/// `text` with every date, run-id stamp and epoch second of the samples moved back [`days_back`] days.
fn shifted(text: &str) -> String {
    let days = days_back();
    if days == 0 {
        return text.to_owned();
    }
    let date = (utc("2026-11-21T00:00:00Z") - time::Duration::days(days)).date();
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    let mut out = text
        .replace("2026-11-21", &format!("{y:04}-{m:02}-{d:02}"))
        .replace("20261121T", &format!("{y:04}{m:02}{d:02}T"));
    for epoch in [
        1_795_228_901i64,
        1_795_228_943,
        1_795_228_961,
        1_795_228_963,
        1_795_229_783,
        1_795_000_000,
    ] {
        out = out.replace(&epoch.to_string(), &(epoch - days * 86_400).to_string());
    }
    out
}

/// Every file in events/ must be claimed by one of the functions below.
fn samples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The sample run as the starter leaves it: attempt 1 claimed, its job runnable on this stack.
async fn reseed(stack: &Stack) {
    for row in stack.rows(&sample_run()).await {
        stack
            .dynamodb
            .delete_item()
            .table_name(&stack.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(row["pk"].as_str().unwrap().into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(row["sk"].as_str().unwrap().into()),
            )
            .send()
            .await
            .unwrap();
    }
    let at = utc(&shifted("2026-11-21T02:30:01Z"));
    let run = RunItem::new(
        &sample_run(),
        "nightly-report",
        stack.job("nightly-report").to_string(),
        Some(vec!["app".into()]),
        at,
    );
    let claim = AttemptItem::claim(
        &reactor_core::Namespace::default(),
        &sample_run(),
        1,
        at,
        shifted("1795000000").parse::<i64>().unwrap(),
    );
    stack
        .reactor()
        .store
        .create_run(&run, &claim)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_on_its_function_under_the_runtime_emulator() {
    let stack = Stack::new().await;
    let mut covered: Vec<&str> = Vec::new();

    // starter: a job request, the schedule rule's event, an invalid job.
    {
        // The samples name a family, cluster and subnet that do not exist here; this starter allows them, so
        // RunTask is refused, and the refusal is judged and recorded instead of lost.
        let mut env = stack.env();
        env.retain(|(name, _)| !name.starts_with("REACTOR_ALLOWED_"));
        env.push((
            "REACTOR_ALLOWED_TASK_FAMILIES",
            format!("report,{}", stack.family),
        ));
        env.push((
            "REACTOR_ALLOWED_CLUSTERS",
            format!("jobs,{}", stack.cluster),
        ));
        let starter = Function::start("starter", &env);
        for name in ["job-nightly-report.json", "scheduled-job.json"] {
            let answer = starter.invoke(&sample(name));
            assert_eq!(answer.status, 200);
            assert_eq!(
                answer.body["outcome"],
                "NOT_STARTED",
                "{name}: {}\n{}",
                answer.body,
                starter.logs()
            );
            assert!(
                answer.body["action"].is_string() && answer.body["reason"].is_string(),
                "{name}: {}",
                answer.body
            );
            let run_id = answer.body["runId"].as_str().unwrap().to_owned();
            assert_eq!(
                stack.row(&run_id, "ATTEMPT#0001").await.unwrap()["state"],
                "DECIDED",
                "{name}"
            );
            covered.push(name);
        }
        let tick = starter.invoke(&sample("scheduled-job.json"));
        assert_eq!(
            (tick.body["outcome"].as_str(), tick.body["runId"].as_str()),
            (Some("DUPLICATE"), Some(sample_run().as_str())),
            "a redelivered tick"
        );

        let invalid = starter.invoke(&sample("job-invalid.json"));
        assert_eq!(
            (invalid.status, invalid.error_type()),
            (200, Some("InvalidJobRequest")),
            "{}",
            invalid.body
        );
        let message = invalid.body["errorMessage"].as_str().unwrap();
        for needle in ["retry.maxAttempt", "did you mean maxAttempts"] {
            assert!(
                message.contains(needle),
                "{needle:?} missing from {message:?}"
            );
        }
        covered.push("job-invalid.json");
        let logs = starter.logs();
        assert!(
            logs.lines()
                .any(|l| l.contains("\"level\":\"ERROR\"") && l.contains("job request rejected")),
            "a structured log line says why:\n{logs}"
        );
    }

    // classifier: each STOPPED sample judged on the sample run; RUNNING, foreign and malformed events.
    {
        let classifier = Function::start("classifier", &stack.env());
        #[rustfmt::skip]
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("stopped-success.json",             "APPLIED", Some("SUCCEED")),
            ("stopped-success-sidecar-137.json", "APPLIED", Some("SUCCEED")),
            ("stopped-app-exit-1.json",          "APPLIED", Some("RETRY_LATER")),
            ("stopped-pull-rate-limit.json",     "APPLIED", Some("RETRY_LATER")),
            ("stopped-eni-timeout.json",         "APPLIED", Some("RETRY_LATER")),
            ("stopped-image-not-found.json",     "APPLIED", Some("FAIL")),
            ("stopped-out-of-memory.json",       "APPLIED", Some("FAIL")),
            ("stopped-user-stop.json",           "APPLIED", Some("FAIL")),
            ("stopped-spot-interruption.json",   "APPLIED", Some("RETRY_NOW")),
            ("stopped-host-terminated.json",     "APPLIED", Some("RETRY_NOW")),
            ("running.json",                     "IGNORED", None),
            ("stopped-foreign-task.json",        "IGNORED", None),
        ];
        for (name, outcome, action) in cases {
            reseed(&stack).await;
            // Every case replays the same sample run: attempt 2's tasks of earlier cases are still in ECS.
            let attempt_2 = format!("ecs-reactor/{}/2", sample_run());
            let earlier = stack.tasks(&attempt_2).await.len();
            let answer = classifier.invoke(&sample(name));
            assert_eq!(answer.status, 200);
            assert_eq!(
                (
                    answer.body["outcome"].as_str(),
                    answer.body["action"].as_str()
                ),
                (Some(*outcome), *action),
                "{name}: {}\n{}",
                answer.body,
                classifier.logs()
            );
            if let Some(action) = action {
                let attempt = stack.row(&sample_run(), "ATTEMPT#0001").await.unwrap();
                assert_eq!(attempt["action"], *action, "{name}: recorded");
            }
            if *action == Some("RETRY_NOW") {
                assert_eq!(
                    stack.tasks(&attempt_2).await.len(),
                    earlier + 1,
                    "{name}: attempt 2 launched"
                );
            }
            let again = classifier.invoke(&sample(name));
            let expected = if action.is_some() {
                "DUPLICATE"
            } else {
                "IGNORED"
            };
            assert_eq!(
                again.body["outcome"], expected,
                "{name} delivered twice: {}",
                again.body
            );
            covered.push(name);
        }
        let malformed = classifier.invoke(&sample("malformed-event.json"));
        assert_eq!(
            (malformed.status, malformed.error_type()),
            (200, Some("MalformedEvent")),
            "{}",
            malformed.body
        );
        covered.push("malformed-event.json");
        let logs = classifier.logs();
        let decision = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["message"] == "decision")
            .unwrap_or_else(|| panic!("no structured decision line in:\n{logs}"));
        // The fields at the top level of the line, where Logs Insights names them.
        for field in ["job", "run", "attempt", "task", "action", "rule"] {
            assert!(
                !decision[field].is_null(),
                "the decision line lacks a top-level {field:?}: {decision}"
            );
        }
    }

    // scheduler: the sample run waits for attempt 2; a non-TTL batch changes nothing, the TTL delete launches
    // it once, so does the retry queue's delivery of it, the sweep then finds nothing due.
    {
        let reactor = stack.reactor();
        // The sample run, reseeded, its attempt 1 judged RETRY_LATER: what each delivery below fires.
        let waiting_for_retry = || async {
            reseed(&stack).await;
            let event: Value =
                serde_json::from_str(&sample("stopped-pull-rate-limit.json")).unwrap();
            let judged = classifier::handle(&reactor, event, utc(&shifted("2026-11-21T02:41:41Z")))
                .await
                .unwrap();
            assert_eq!(judged.action, Some("RETRY_LATER"));
        };
        waiting_for_retry().await;

        let scheduler = Function::start("scheduler", &stack.env());
        let noise = scheduler.invoke(&sample("stream-not-ttl.json"));
        assert_eq!(
            noise.body,
            json!({"batchItemFailures": []}),
            "{}",
            scheduler.logs()
        );
        assert!(
            stack.row(&sample_run(), "ATTEMPT#0002").await.is_none(),
            "no launch from records that are not TTL deletes"
        );
        covered.push("stream-not-ttl.json");

        // The queue's sample is the message sent for this retry: its run, attempt and due second.
        let sample_body: Value = serde_json::from_str(
            serde_json::from_str::<Value>(&sample("scheduler-retry-due.json")).unwrap()["Records"]
                [0]["body"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let delay = stack.row(&sample_run(), "DELAY#0002").await.unwrap();
        assert_eq!(
            sample_body,
            json!({"runId": sample_run(), "attempt": 2, "dueAt": delay["dueAt"]})
        );

        // The classifier cases' attempt 2 tasks of the same sample run are still in ECS.
        let attempt_2 = format!("ecs-reactor/{}/2", sample_run());
        for (n, delivered) in ["stream-ttl-remove.json", "scheduler-retry-due.json"]
            .into_iter()
            .enumerate()
        {
            if n > 0 {
                waiting_for_retry().await;
            }
            let earlier = stack.tasks(&attempt_2).await.len();
            for delivery in 0..2 {
                let answer = scheduler.invoke(&sample(delivered));
                assert_eq!(
                    answer.body,
                    json!({"batchItemFailures": []}),
                    "{delivered}, delivery {delivery}: {}",
                    scheduler.logs()
                );
            }
            assert_eq!(
                stack.tasks(&attempt_2).await.len(),
                earlier + 1,
                "{delivered}: one launch for two deliveries"
            );
            assert_eq!(
                stack.row(&sample_run(), "ATTEMPT#0002").await.unwrap()["state"],
                "LAUNCHED",
                "{delivered}"
            );
            covered.push(delivered);
        }

        let sweep = scheduler.invoke(&sample("sweep.json"));
        assert_eq!(sweep.body["sweep"]["due"], 0, "{}", sweep.body);
        covered.push("sweep.json");
        let unknown = scheduler.invoke(&sample("job-nightly-report.json"));
        assert_eq!(
            unknown.error_type(),
            Some("UnrecognisedEvent"),
            "{}",
            unknown.body
        );
    }

    let missing: Vec<String> = samples()
        .into_iter()
        .filter(|n| !covered.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "events/ files no function was invoked with: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_starter_refuses_jobs_outside_its_guard_before_writing_anything() {
    let stack = Stack::new().await;
    let starter = Function::start("starter", &stack.env());
    let mut allowed = stack.job("guarded");
    allowed["runTask"]["overrides"] = json!({"containerOverrides": [
        {"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "hunter2-never-logged"}]}
    ]});
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut job = allowed.clone();
        edit(&mut job);
        job
    };
    let oversized = with(&|job| {
        let tags: Vec<Value> = (0..45)
            .map(|i| json!({"key": format!("k{i:03}-{}", "x".repeat(110)), "value": "v".repeat(250)}))
            .collect();
        job["runTask"]["tags"] = json!(tags);
    });
    // job → the rules named in the error (in order); no rule: allowed
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, &[&str])> = vec![
        ("another family", with(&|j| j["runTask"]["taskDefinition"] = json!("miner:1")), &["task-family-not-allowed"]),
        ("a family by ARN", with(&|j| j["runTask"]["taskDefinition"] = json!("arn:aws:ecs:us-east-1:123456789012:task-definition/miner:3")), &["task-family-not-allowed"]),
        ("another cluster", with(&|j| j["runTask"]["cluster"] = json!("prod")), &["cluster-not-allowed"]),
        ("no cluster (default)", with(&|j| { j["runTask"].as_object_mut().unwrap().remove("cluster"); }), &["cluster-not-allowed"]),
        ("a task role override", with(&|j| j["runTask"]["overrides"] = json!({"taskRoleArn": "arn:aws:iam::123456789012:role/admin"})), &["role-override-not-allowed"]),
        ("an execution role override", with(&|j| j["runTask"]["overrides"] = json!({"executionRoleArn": "arn:aws:iam::123456789012:role/x"})), &["role-override-not-allowed"]),
        ("over 16 KiB", oversized, &["request-too-large"]),
        ("the sample job (family report, cluster jobs)", serde_json::from_str(&sample("job-nightly-report.json")).unwrap(), &["task-family-not-allowed", "cluster-not-allowed"]),
    ];
    for (what, job, rules) in &cases {
        let answer = starter.invoke(&job.to_string());
        assert_eq!(
            answer.error_type(),
            Some("JobNotAllowed"),
            "{what}: {}",
            answer.body
        );
        let message = answer.body["errorMessage"].as_str().unwrap_or_default();
        let named: Vec<&str> = message
            .match_indices('[')
            .filter_map(|(i, _)| message[i + 1..].split_once(']').map(|(rule, _)| rule))
            .collect();
        assert_eq!(named, *rules, "{what}: {message}");
    }
    assert!(
        stack.scan().await.is_empty(),
        "a refused job writes nothing"
    );
    assert!(stack.all_tasks().await.is_empty(), "and launches nothing");

    let started = starter.invoke(&allowed.to_string());
    assert_eq!(started.body["outcome"], "STARTED", "{}", started.body);
    let logs = starter.logs();
    assert!(
        logs.contains("task-family-not-allowed") && logs.contains("role-override-not-allowed"),
        "each refusal is logged with its rule:\n{logs}"
    );
    assert!(
        !logs.contains("hunter2-never-logged"),
        "override values are never logged:\n{logs}"
    );
}

/// Input that is not JSON reaches no handler: each binary answers `InputNotJson` naming where the input stops
/// being JSON, quotes none of it (it may be a secret) in its answer or its log, and writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn input_that_is_not_json_is_refused_by_name_on_every_function() {
    let stack = Stack::new().await;
    const MARKER: &str = "hunter2-not-json-never-logged";
    for name in ["starter", "classifier", "scheduler"] {
        let function = Function::start(name, &stack.env());
        for (input, problem) in [
            (
                format!("DB_PASSWORD={MARKER}"),
                "a syntax error at line 1, column 1",
            ),
            (
                format!("{{\"detail\": \"{MARKER}"),
                "it ends early at line 1, column 41",
            ),
        ] {
            let answer = function.invoke(&input);
            assert_eq!(
                (answer.status, answer.error_type()),
                (200, Some("InputNotJson")),
                "{name}: {}",
                answer.body
            );
            let message = answer.body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains(problem), "{name}: {message}");
            assert!(
                !answer.body.to_string().contains(MARKER),
                "{name}: {}",
                answer.body
            );
        }
        let logs = function.logs();
        assert!(
            logs.contains("InputNotJson"),
            "{name}: the refusal is logged:\n{logs}"
        );
        assert!(
            !logs.contains(MARKER),
            "{name}: the input is not logged:\n{logs}"
        );
    }
    assert!(stack.scan().await.is_empty(), "nothing written");
}

/// A job whose override has the wrong shape is refused naming the field and the kind of value found, never
/// the value (serde's own message quotes it): neither the answer nor the log line holds the marker.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_override_is_refused_without_quoting_its_value() {
    let stack = Stack::new().await;
    const MARKER: &str = "hunter2-malformed-never-logged";
    let starter = Function::start("starter", &stack.env());
    let container = |overrides: Value| {
        let mut job = stack.job("secretive");
        job["runTask"]["overrides"] = json!({"containerOverrides": [overrides]});
        job
    };
    #[rustfmt::skip]
    let cases: Vec<(Value, &str)> = vec![
        (container(json!({"name": "app", "environment": format!("DB_PASSWORD={MARKER}")})),
            "runTask.overrides.containerOverrides[0].environment: expected a list, found a string"),
        (container(json!({"name": "app", "environment": [{"name": "DB_PASSWORD", "value": [MARKER]}]})),
            "runTask.overrides.containerOverrides[0].environment[0].value: expected a string, found a list"),
        (container(json!({"name": "app", "command": MARKER})),
            "runTask.overrides.containerOverrides[0].command: expected a list, found a string"),
        (container(json!({"name": "app", "cpu": MARKER})),
            "runTask.overrides.containerOverrides[0].cpu: expected a whole number, 0 or more, found a string"),
    ];
    for (job, expected) in &cases {
        let answer = starter.invoke(&job.to_string());
        assert_eq!(
            answer.error_type(),
            Some("InvalidJobRequest"),
            "{}",
            answer.body
        );
        let message = answer.body["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "want {expected:?} in {message}");
        assert!(!message.contains(MARKER), "{message}");
    }
    let logs = starter.logs();
    let refusals = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["level"] == "ERROR" && l["error_type"] == "InvalidJobRequest")
        .count();
    assert_eq!(refusals, cases.len(), "one error line per refusal:\n{logs}");
    assert!(!logs.contains(MARKER), "the value is not logged:\n{logs}");
    assert!(stack.scan().await.is_empty(), "nothing written");
}
