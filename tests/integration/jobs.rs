//! `ecs-reactor jobs` against moto's EventBridge Scheduler and DynamoDB: 500 job files applied once (a second
//! apply changes nothing, one changed file changes one schedule, `--prune` deletes exactly the removed ones, a
//! broken file writes nothing); a registered job's tick through the starter (run id and scheduled time from the
//! tick in a DST-changing zone, Scheduler's retry starts nothing new, an apply in between is no conflict);
//! suspend (schedule disabled, a tick on its way SKIPPED, an apply keeps it), resume, run now. moto never fires a
//! schedule: the tests play the tick with exactly the input the schedule holds.

use crate::oncall::{output, shell, Out};
use crate::stack::Stack;
use reactor_testkit::moto::unique;
use reactor_testkit::utc;
use serde_json::{json, Value};
use std::path::PathBuf;

const STARTER_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:ecs-reactor-starter";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ecs-reactor-scheduler";
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:ecs-reactor-rule-delivery";
/// An environment value no output may show.
const MARKER: &str = "SECRET-MARKER-17";

/// A stack with a schedule group, and the environment that points `ecs-reactor jobs` at both.
struct Jobs {
    stack: Stack,
    group: String,
    scheduler: aws_sdk_scheduler::Client,
    dir: PathBuf,
}

impl Jobs {
    async fn new() -> Jobs {
        let stack = Stack::new().await;
        let scheduler = aws_sdk_scheduler::Client::new(&stack.config);
        let group = unique("jobs");
        scheduler
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(unique("ecs-reactor-jobs"));
        std::fs::create_dir_all(&dir).unwrap();
        Jobs {
            stack,
            group,
            scheduler,
            dir,
        }
    }

    fn cli(&self, args: &[&str]) -> Out {
        let mut command = shell(
            env!("CARGO_BIN_EXE_ecs-reactor"),
            &[
                ("REACTOR_TABLE", &self.stack.table),
                ("REACTOR_TOPIC_ARN", &self.stack.topic_arn),
                ("REACTOR_SCHEDULE_GROUP", &self.group),
                ("REACTOR_STARTER_ARN", STARTER_ARN),
                ("REACTOR_SCHEDULER_ROLE_ARN", ROLE_ARN),
                ("REACTOR_TICK_DLQ_ARN", DLQ_ARN),
                ("REACTOR_OVERRIDES_KEY", &self.stack.overrides_key),
            ],
        );
        command.args(args);
        output(command)
    }

    /// `jobs apply <dir> ARGS`, which must succeed; its output.
    fn apply(&self, args: &[&str]) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut all = vec!["jobs", "apply", dir.as_str()];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert_eq!(
            out.code, 0,
            "jobs apply {args:?}: {}{}",
            out.stdout, out.stderr
        );
        assert!(!out.stdout.contains(MARKER) && !out.stderr.contains(MARKER));
        out.stdout
    }

    /// A job file for this stack: the stack's job request, a schedule, and an environment value to keep secret.
    fn job_file(&self, name: &str, schedule: Option<Value>) -> Value {
        let mut job = self.stack.job(name);
        job["runTask"]["overrides"] = json!({"containerOverrides": [{"name": "app", "environment": [{"name": "TOKEN", "value": MARKER}]}]});
        if let Some(schedule) = schedule {
            job["schedule"] = schedule;
        }
        job
    }

    fn write(&self, name: &str, file: &Value) {
        std::fs::write(self.dir.join(format!("{name}.json")), file.to_string()).unwrap();
    }

    async fn schedules(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut pages = self
            .scheduler
            .list_schedules()
            .group_name(&self.group)
            .into_paginator()
            .items()
            .send();
        while let Some(s) = pages.next().await {
            names.push(s.unwrap().name().unwrap().to_owned());
        }
        names.sort();
        names
    }

    async fn schedule(
        &self,
        name: &str,
    ) -> aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput {
        self.scheduler
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .unwrap()
    }

    fn registered(&self) -> Vec<Value> {
        let list = self.cli(&["jobs", "list", "--json"]);
        assert!(!list.stdout.contains(MARKER));
        list.json().as_array().unwrap().clone()
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.starts_with(needle)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_job_files_apply_once_then_change_one_prune_two_and_a_broken_file_writes_nothing(
) {
    let jobs = Jobs::new().await;
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "UTC",
        "Australia/Sydney",
    ];
    for i in 0..500 {
        let name = format!("job-{i:03}");
        let schedule = (i % 10 != 9).then(|| {
            json!({"expression": format!("cron({} {} * * ? *)", i % 60, i % 24), "timezone": zones[i % 4],
                   "state": if i % 50 == 3 { "DISABLED" } else { "ENABLED" }})
        });
        let file = jobs.job_file(&name, schedule);
        if i % 7 == 0 {
            // Some in YAML: the same job either way.
            let yaml = serde_yaml_ng::to_string(&file).unwrap();
            std::fs::write(jobs.dir.join(format!("{name}.yaml")), yaml).unwrap();
        } else {
            jobs.write(&name, &file);
        }
    }
    let first = jobs.apply(&[]);
    assert!(
        first.contains("500 to create, 0 to change, 0 to delete, 0 unchanged"),
        "{first}"
    );
    assert!(first.ends_with("applied.\n"), "{first}");
    let registered = jobs.registered();
    assert_eq!(registered.len(), 500);
    let scheduled = jobs.schedules().await;
    assert_eq!(scheduled.len(), 450, "one schedule per scheduled job");
    assert!(
        !scheduled.contains(&"job-009".to_owned()),
        "job-009 has no schedule"
    );
    // One schedule as EventBridge Scheduler holds it.
    let s = jobs.schedule("job-013").await;
    assert_eq!(s.schedule_expression(), Some("cron(13 13 * * ? *)"));
    assert_eq!(s.schedule_expression_timezone(), Some("America/New_York"));
    assert_eq!(s.state().map(|s| s.as_str()), Some("ENABLED"));
    let target = s.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (STARTER_ARN, ROLE_ARN));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"scheduledJob": "job-013", "scheduledTime": "<aws.scheduler.scheduled-time>"})
    );
    assert!(
        !target.input().unwrap().contains(MARKER),
        "the spec is not in the schedule"
    );
    // Nor readable in the registry: the values are sealed (a tick opens them, below and in `jobs run`).
    let table = serde_json::to_string(&jobs.stack.scan().await).unwrap();
    assert!(
        !table.contains(MARKER),
        "the registry keeps the values sealed"
    );
    assert!(table.contains("sealedOverrides"));
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(DLQ_ARN)
    );
    let disabled = jobs.schedule("job-003").await;
    assert_eq!(disabled.state().map(|s| s.as_str()), Some("DISABLED"));
    let row = registered.iter().find(|j| j["job"] == "job-013").unwrap();
    assert_eq!(
        (
            row["state"].as_str(),
            row["revision"].as_u64(),
            row["timezone"].as_str()
        ),
        (Some("ENABLED"), Some(1), Some("America/New_York"))
    );

    // Again: nothing to change.
    let second = jobs.apply(&[]);
    assert!(
        second.contains("0 to create, 0 to change, 0 to delete, 500 unchanged"),
        "{second}"
    );
    assert!(second.ends_with("nothing to change.\n"), "{second}");

    // A schedule write that failed after its spec was registered (played: the group keeps another expression
    // and the registry's record of the last write differs): the next apply writes it again.
    jobs.stack
        .dynamodb
        .update_item()
        .table_name(&jobs.stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("JOBS".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("job-013".into()),
        )
        .update_expression("SET scheduleApplied = :f")
        .expression_attribute_values(
            ":f",
            aws_sdk_dynamodb::types::AttributeValue::S("an-older-write".into()),
        )
        .send()
        .await
        .unwrap();
    let old = jobs.schedule("job-013").await;
    jobs.scheduler
        .update_schedule()
        .group_name(&jobs.group)
        .name("job-013")
        .schedule_expression("cron(0 0 * * ? *)")
        .set_flexible_time_window(old.flexible_time_window().cloned())
        .set_target(old.target().cloned())
        .set_state(old.state().cloned())
        .send()
        .await
        .unwrap();
    let healed = jobs.apply(&[]);
    assert!(
        healed.contains("~ job-013") && healed.contains("schedule not as last applied"),
        "{healed}"
    );
    assert!(
        healed.contains("0 to create, 1 to change, 0 to delete, 499 unchanged"),
        "{healed}"
    );
    assert_eq!(
        jobs.schedule("job-013").await.schedule_expression(),
        Some("cron(13 13 * * ? *)")
    );
    assert!(jobs.apply(&[]).ends_with("nothing to change.\n"));

    // One file changed: its schedule and its secret; the plan names the fields, never the values.
    let changed = jobs.job_file(
        "job-007",
        Some(json!({"expression": "cron(15 4 * * ? *)", "timezone": "Europe/Berlin"})),
    );
    let mut changed_env = changed.clone();
    changed_env["runTask"]["overrides"]["containerOverrides"][0]["environment"][0]["value"] =
        json!(format!("{MARKER}-2"));
    std::fs::remove_file(jobs.dir.join("job-007.yaml")).unwrap();
    jobs.write("job-007", &changed_env);
    let dry = jobs.apply(&["--dry-run"]);
    assert!(
        dry.contains("0 to create, 1 to change, 0 to delete, 499 unchanged"),
        "{dry}"
    );
    assert_eq!(count(&dry, "~ job-007"), 1, "{dry}");
    assert!(
        dry.contains("runTask.overrides.containerOverrides") && dry.contains("schedule.expression"),
        "{dry}"
    );
    assert!(dry.ends_with("dry run: nothing written.\n"), "{dry}");
    assert_eq!(
        jobs.schedule("job-007").await.schedule_expression(),
        Some("cron(7 7 * * ? *)"),
        "a dry run writes nothing"
    );
    jobs.apply(&[]);
    let s = jobs.schedule("job-007").await;
    assert_eq!(
        (s.schedule_expression(), s.schedule_expression_timezone()),
        (Some("cron(15 4 * * ? *)"), Some("Europe/Berlin"))
    );
    let revisions: Vec<(String, u64)> = jobs
        .registered()
        .iter()
        .filter(|j| j["revision"] != 1)
        .map(|j| {
            (
                j["job"].as_str().unwrap().to_owned(),
                j["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(revisions, [("job-007".to_owned(), 2)], "one job changed");
    assert_eq!(
        jobs.schedule("job-008").await.schedule_expression(),
        Some("cron(8 8 * * ? *)"),
        "the others are untouched"
    );

    // Two files removed: kept and named without --prune, deleted with it.
    std::fs::remove_file(jobs.dir.join("job-001.json")).unwrap();
    std::fs::remove_file(jobs.dir.join("job-022.json")).unwrap();
    let kept = jobs.apply(&[]);
    assert_eq!(count(&kept, "! job-0"), 2, "{kept}");
    assert!(kept.contains("nothing to change."), "{kept}");
    assert_eq!(jobs.registered().len(), 500);
    let pruned = jobs.apply(&["--prune"]);
    assert!(
        pruned.contains("0 to create, 0 to change, 2 to delete, 498 unchanged"),
        "{pruned}"
    );
    assert_eq!(jobs.registered().len(), 498);
    let left = jobs.schedules().await;
    assert_eq!(left.len(), 448);
    assert!(!left.contains(&"job-001".to_owned()) && !left.contains(&"job-022".to_owned()));

    // A broken file (and a good new one beside it): every problem named, nothing written.
    jobs.write(
        "job-new",
        &jobs.job_file("job-new", Some(json!({"expression": "rate(1 hour)"}))),
    );
    let mut broken = jobs.job_file(
        "job-broken",
        Some(json!({"expression": "cron(0 2 * *)", "timezone": "Europe Berlin"})),
    );
    broken["retry"] = json!({"maxAttempt": 3});
    jobs.write("job-broken", &broken);
    let dir = jobs.dir.to_string_lossy().into_owned();
    let refused = jobs.cli(&["jobs", "apply", &dir]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    for problem in [
        "schedule.expression",
        "schedule.timezone",
        "did you mean maxAttempts",
    ] {
        assert!(
            refused.stderr.contains(problem),
            "{problem} not named: {}",
            refused.stderr
        );
    }
    assert!(
        refused.stderr.contains("job-broken.json"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(MARKER));
    assert_eq!(jobs.registered().len(), 498, "nothing written");
    assert_eq!(jobs.schedules().await.len(), 448, "nothing written");
}

/// The tick the job's schedule sends at `time`, as the starter receives it.
fn tick(job: &str, time: &str) -> Value {
    json!({"scheduledJob": job, "scheduledTime": time})
}

fn scheduled_time_of(task: &aws_sdk_ecs::types::Task) -> Option<String> {
    task.overrides()?
        .container_overrides()
        .iter()
        .find(|c| c.name() == Some("app"))?
        .environment()
        .iter()
        .find(|p| p.name() == Some("ECS_REACTOR_SCHEDULED_TIME"))?
        .value()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_jobs_tick_runs_once_suspend_skips_it_resume_and_run_now_start_it() {
    let jobs = Jobs::new().await;
    let reactor = jobs.stack.reactor();
    let name = unique("berlin");
    // 02:30 in Berlin. Scheduler computes the tick in the zone (DST included: on 2026-03-29 the clocks jump from
    // 02:00 to 03:00) and sends its instant; the run is named by that instant and the container told it. (Which
    // instants the expression yields is Scheduler's part, not played here.)
    let mut file = jobs.job_file(
        &name,
        Some(json!({"expression": "cron(30 2 * * ? *)", "timezone": "Europe/Berlin"})),
    );
    file["runTask"]["overrides"]["containerOverrides"][0]["command"] =
        json!(["report", "--date", "{{scheduledDate}}"]);
    jobs.write(&name, &file);
    jobs.apply(&[]);

    let at = "2026-03-29T01:30:00Z";
    let started = starter::handle(&reactor, tick(&name, at), "r1", utc("2026-03-29T01:30:04Z"))
        .await
        .unwrap();
    assert_eq!(
        (started.outcome, started.run_id.as_str()),
        ("STARTED", format!("{name}-20260329T013000Z").as_str())
    );
    let task = jobs.stack.task(started.task_arn.as_deref().unwrap()).await;
    assert_eq!(
        scheduled_time_of(&task).as_deref(),
        Some(at),
        "the tick, not the clock"
    );
    let app = crate::stack::container_override(&task, "app");
    assert_eq!(app.command(), ["report", "--date", "2026-03-29"]);
    assert!(
        app.environment()
            .iter()
            .any(|p| p.name() == Some("TOKEN") && p.value() == Some(MARKER)),
        "the user's overrides are kept"
    );

    // The spec changes, then Scheduler retries the same tick: the run exists, nothing new, no conflict.
    let mut changed = file.clone();
    changed["retry"] = json!({"maxAttempts": 2});
    jobs.write(&name, &changed);
    jobs.apply(&[]);
    let again = starter::handle(&reactor, tick(&name, at), "r2", utc("2026-03-29T01:31:00Z"))
        .await
        .unwrap();
    assert_eq!(
        (again.outcome, again.run_id.as_str()),
        ("DUPLICATE", started.run_id.as_str())
    );
    assert_eq!(
        jobs.stack
            .tasks(&format!("ecs-reactor/{}/1", started.run_id))
            .await
            .len(),
        1
    );

    // Suspended: the schedule is disabled; a tick already on its way is recorded SKIPPED, nothing launched.
    let suspended = jobs.cli(&["jobs", "suspend", &name, "--by", "alice"]);
    assert_eq!(suspended.code, 0, "{}", suspended.stderr);
    assert!(
        suspended.stdout.contains("suspended"),
        "{}",
        suspended.stdout
    );
    assert_eq!(
        jobs.schedule(&name).await.state().map(|s| s.as_str()),
        Some("DISABLED")
    );
    let tasks_before = jobs.stack.all_tasks().await.len();
    let skipped = starter::handle(
        &reactor,
        tick(&name, "2026-03-30T00:30:00Z"),
        "r3",
        utc("2026-03-30T00:30:02Z"),
    )
    .await
    .unwrap();
    assert_eq!(skipped.outcome, "SKIPPED");
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap()
            .contains("suspended (by alice"),
        "{skipped:?}"
    );
    let run = jobs.stack.row(&skipped.run_id, "RUN").await.unwrap();
    assert_eq!(
        (run["status"].as_str(), run["lastRuleId"].as_str()),
        (Some("SKIPPED"), Some("suspended"))
    );
    assert_eq!(
        jobs.stack.all_tasks().await.len(),
        tasks_before,
        "nothing launched"
    );
    // An apply keeps the suspension (the file says ENABLED; on-call said stop).
    let kept = jobs.apply(&[]);
    assert!(kept.contains("nothing to change."), "{kept}");
    assert_eq!(
        jobs.schedule(&name).await.state().map(|s| s.as_str()),
        Some("DISABLED")
    );
    let row = jobs
        .registered()
        .into_iter()
        .find(|j| j["job"] == name.as_str())
        .unwrap();
    assert_eq!(row["state"], "SUSPENDED");
    assert!(
        row["suspendedBy"]
            .as_str()
            .unwrap()
            .starts_with("alice (arn:aws:sts::"),
        "{row}"
    );

    // Resumed: the schedule is enabled and the next tick runs.
    let resumed = jobs.cli(&["jobs", "resume", &name]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(
        jobs.schedule(&name).await.state().map(|s| s.as_str()),
        Some("ENABLED")
    );
    let next = starter::handle(
        &reactor,
        tick(&name, "2026-03-31T00:30:00Z"),
        "r4",
        utc("2026-03-31T00:30:01Z"),
    )
    .await
    .unwrap();
    assert_eq!(next.outcome, "STARTED");
    let request: Value = serde_json::from_str(
        jobs.stack.row(&next.run_id, "RUN").await.unwrap()["request"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        request["retry"]["maxAttempts"], 2,
        "a new run takes the spec as applied now"
    );

    // Run now: a run id of its own, in `runs` and as the job's last run.
    let now = jobs
        .cli(&[
            "jobs",
            "run",
            &name,
            "--json",
            "--now",
            "2026-04-01T09:00:00Z",
        ])
        .json();
    assert_eq!(now["outcome"], "STARTED");
    let run_id = now["runId"].as_str().unwrap();
    assert!(
        run_id.starts_with(&format!("{name}-")) && !run_id.ends_with('Z'),
        "no tick's id: {run_id}"
    );
    let runs = jobs
        .cli(&[
            "runs",
            "--job",
            &name,
            "--json",
            "--since",
            "400d",
            "--now",
            "2026-04-01T09:00:10Z",
        ])
        .json();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["runId"] == run_id),
        "{runs}"
    );
    let row = jobs
        .registered()
        .into_iter()
        .find(|j| j["job"] == name.as_str())
        .unwrap();
    assert_eq!(
        (row["lastRun"].as_str(), row["state"].as_str()),
        (Some(run_id), Some("ENABLED"))
    );

    // `show` names the state and the runs, never the secret.
    let shown = jobs.cli(&["jobs", "show", &name]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("ENABLED") && shown.stdout.contains(run_id),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains(MARKER), "{}", shown.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tick_of_a_job_nobody_registered_is_refused_and_writes_nothing() {
    let jobs = Jobs::new().await;
    let reactor = jobs.stack.reactor();
    let name = unique("ghost");
    let e = starter::handle(
        &reactor,
        tick(&name, "2026-03-29T01:30:00Z"),
        "r",
        utc("2026-03-29T01:30:01Z"),
    )
    .await
    .unwrap_err();
    use reactor_aws::edge::HandlerError;
    assert_eq!(e.error_type(), "JobNotRegistered", "{e}");
    assert!(e.to_string().contains("jobs apply"), "{e}");
    assert!(
        jobs.stack
            .row(&format!("{name}-20260329T013000Z"), "RUN")
            .await
            .is_none(),
        "nothing written"
    );
    for args in [
        vec!["jobs", "show", name.as_str()],
        vec!["jobs", "suspend", name.as_str()],
        vec!["jobs", "run", name.as_str()],
    ] {
        let out = jobs.cli(&args);
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("no job") && out.stderr.contains("jobs list"),
            "{}",
            out.stderr
        );
    }
    let not_dir = jobs.cli(&["jobs", "apply", "README.md"]);
    assert_eq!(not_dir.code, 3, "{}", not_dir.stderr);
    let empty = jobs.cli(&["jobs", "list"]);
    assert_eq!(empty.code, 0);
    assert!(
        empty.stdout.contains("no registered jobs"),
        "{}",
        empty.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tick_that_never_came_shows_missed_and_is_counted_once_while_a_skipped_tick_is_not() {
    use reactor_aws::metrics::Metric;
    use reactor_testkit::recorded::RecordedMetrics;
    let jobs = Jobs::new().await;
    let recorded = std::sync::Arc::new(RecordedMetrics::new());
    let mut reactor = jobs.stack.reactor();
    reactor.metrics = recorded.clone();
    let (quiet, skipped) = (unique("quiet"), unique("forbid"));
    // Both daily at 02:30 in Berlin: 01:30 UTC in November. `skipped` forbids overlapping runs.
    for name in [&quiet, &skipped] {
        let mut file = jobs.job_file(
            name,
            Some(json!({"expression": "cron(30 2 * * ? *)", "timezone": "Europe/Berlin"})),
        );
        file["concurrency"] = json!("FORBID");
        jobs.write(name, &file);
    }
    jobs.apply(&["--now", "2026-11-20T12:00:00Z"]);
    // `skipped` has a run going (started by hand), so its tick comes and is recorded SKIPPED; `quiet`'s tick
    // never comes (a schedule disabled in the console, say).
    let by_hand = jobs.cli(&["jobs", "run", &skipped, "--now", "2026-11-21T01:00:00Z"]);
    assert_eq!(by_hand.code, 0, "{}", by_hand.stderr);
    let tick_answer = starter::handle(
        &reactor,
        tick(&skipped, "2026-11-21T01:30:00Z"),
        "r1",
        utc("2026-11-21T01:30:02Z"),
    )
    .await
    .unwrap();
    assert_eq!(tick_answer.outcome, "SKIPPED");

    let listed = |now: &str| -> Vec<Value> {
        let out = jobs.cli(&["jobs", "list", "--json", "--now", now]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json().as_array().unwrap().clone()
    };
    let row = |rows: &[Value], name: &str| rows.iter().find(|r| r["job"] == name).unwrap().clone();
    // Within the grace (ten minutes after the tick) nothing is missed yet; the next tick is named.
    let early = listed("2026-11-21T01:35:00Z");
    assert_eq!(row(&early, &quiet)["state"], "ENABLED");
    assert_eq!(row(&early, &quiet)["nextTick"], "2026-11-22T01:30:00Z");
    let late = listed("2026-11-21T01:41:00Z");
    let missed = row(&late, &quiet);
    assert_eq!(
        (missed["state"].as_str(), missed["missedTick"].as_str()),
        (Some("MISSED"), Some("2026-11-21T01:30:00Z")),
        "{missed}"
    );
    assert_eq!(
        row(&late, &skipped)["state"],
        "ENABLED",
        "a SKIPPED tick came"
    );
    let table = jobs.cli(&["jobs", "list", "--now", "2026-11-21T01:41:00Z"]);
    assert!(
        table.stdout.contains("MISSED 2026-11-21 01:30:00Z"),
        "{}",
        table.stdout
    );

    // The sweep of the minute after the grace counts it once, and says so in the table; a second sweep of
    // that minute (a duplicated invocation) and the next minute's count nothing more.
    let sweep = |now: &str| {
        let reactor = &reactor;
        let now = utc(now);
        async move {
            scheduler::handle(reactor, crate::stack::sweep_event(), now)
                .await
                .unwrap()
        }
    };
    let before = sweep("2026-11-21T01:39:30Z").await;
    assert_eq!(before["sweep"]["missed"], 0, "{before}");
    for now in [
        "2026-11-21T01:40:10Z",
        "2026-11-21T01:40:50Z",
        "2026-11-21T01:41:10Z",
    ] {
        sweep(now).await;
    }
    let counted: Vec<String> = recorded
        .taken()
        .into_iter()
        .filter(|(_, m)| *m == Metric::TickMissed)
        .map(|(job, _)| job)
        .collect();
    assert_eq!(counted, vec![quiet.clone()]);
    let noted = jobs
        .stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i["pk"] == format!("MISSED#{quiet}").as_str())
        .collect::<Vec<_>>();
    assert_eq!(noted.len(), 1, "{noted:?}");
    assert_eq!(
        (noted[0]["sk"].as_str(), noted[0]["runId"].as_str()),
        (
            Some("2026-11-21T01:30:00Z"),
            Some(format!("{quiet}-20261121T013000Z").as_str())
        )
    );
}
