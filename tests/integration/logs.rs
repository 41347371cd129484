//! `ecs-reactor logs` against moto: runs played by the real handlers on a task definition whose containers
//! log with awslogs (and one with FireLens), their containers' lines put in moto's CloudWatch Logs where
//! awslogs writes them (the group, stream PREFIX/CONTAINER/TASK_ID), and read back by the built binary.

use crate::handlers::started_by;
use crate::moto::unique;
use crate::oncall::{ecs_reactor, output, shell, Out};
use crate::stack::{stopped_event_at, LocalReactor, Stack};
use reactor_aws::records::stamp;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// A run of `nightly-report` on revision 2 of the stack's family, and where its containers log.
struct Logged {
    stack: Stack,
    reactor: LocalReactor,
    logs: aws_sdk_cloudwatchlogs::Client,
    group: String,
    run: String,
    /// Yesterday 00:00 UTC: the run starts then and its containers log right after. Not a fixed date as in
    /// the other on-call tests: CloudWatch Logs (and moto) refuse events older than 14 days.
    t0: OffsetDateTime,
}

/// Revision 2 of the stack's family: `app` and `sidecar` (essential) and `debug` (not) log with awslogs to
/// `group`, prefix `report`; `log-router` (essential) with FireLens. The job runs it; attempt 1 starts at
/// `t0`.
async fn logged_run() -> (Logged, String) {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode,
    };
    let stack = Stack::new().await;
    let reactor = stack.reactor();
    let group = unique("/ecs/reports");
    let awslogs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &group)
        .options("awslogs-stream-prefix", "report")
        .build()
        .unwrap();
    let firelens = LogConfiguration::builder()
        .log_driver(LogDriver::Awsfirelens)
        .options("Name", "datadog")
        .build()
        .unwrap();
    let container = |name: &str, essential: bool, logs: &LogConfiguration| {
        ContainerDefinition::builder()
            .name(name)
            .image("public.ecr.aws/docker/library/python:3.12")
            .memory(128)
            .essential(essential)
            .log_configuration(logs.clone())
            .build()
    };
    let registered = stack
        .ecs
        .register_task_definition()
        .family(&stack.family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(container("app", true, &awslogs))
        .container_definitions(container("sidecar", true, &awslogs))
        .container_definitions(container("log-router", true, &firelens))
        .container_definitions(container("debug", false, &awslogs))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.task_definition().unwrap().revision(), 2);
    let mut job = stack.job("nightly-report");
    job["runTask"]["taskDefinition"] = json!(format!("{}:2", stack.family));
    let t0 = (OffsetDateTime::now_utc() - Duration::days(1)).replace_time(time::Time::MIDNIGHT);
    let tick = json!({
        "version": "0", "id": unique("tick"), "detail-type": "Scheduled Event", "source": "aws.events",
        "time": stamp(t0), "detail": job
    });
    let started = starter::handle(&reactor, tick, &unique("req"), t0)
        .await
        .unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.config);
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let logged = Logged {
        stack,
        reactor,
        logs,
        group,
        run: started.run_id,
        t0,
    };
    (logged, started.task_arn.unwrap())
}

impl Logged {
    /// Plays ECS stopping attempt `n`'s task at `t0 + minutes` with `sample`'s ending, and the classifier
    /// judging it; returns the decision.
    async fn stop(&self, task: &str, n: u32, sample: &str, minutes: i64) -> Option<&'static str> {
        let at = self.t0 + Duration::minutes(minutes);
        self.stack
            .ecs
            .stop_task()
            .cluster(&self.stack.cluster)
            .task(task)
            .send()
            .await
            .unwrap();
        let event = stopped_event_at(sample, task, &started_by(&self.run, n), 3, at);
        classifier::handle(&self.reactor, event, at)
            .await
            .unwrap()
            .action
    }

    /// Writes `lines` (milliseconds after `t0`, message) to `container`'s stream of `task`, as awslogs would.
    async fn log(&self, task: &str, container: &str, lines: &[(i64, &str)]) {
        let stream = stream(container, task);
        // A second call for the same stream writes on in it.
        let created = self
            .logs
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&stream)
            .send()
            .await;
        if let Err(e) = created {
            assert!(
                e.as_service_error()
                    .is_some_and(|e| e.is_resource_already_exists_exception()),
                "{e:?}"
            );
        }
        let mut put = self
            .logs
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&stream);
        for (ms, message) in lines {
            let timestamp = (self.t0.unix_timestamp() * 1000) + ms;
            put = put.log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(timestamp)
                    .message(*message)
                    .build()
                    .unwrap(),
            );
        }
        // PutLogEvents takes one event or more; a stream with none is only created.
        if !lines.is_empty() {
            put.send().await.unwrap();
        }
    }

    /// `ecs-reactor logs ARGS` on this stack's table.
    fn cli(&self, args: &[&str]) -> Out {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        ecs_reactor(Some(&self.stack.table), &all)
    }

    /// `logs RUN ARGS --follow` under `timeout 60`: a follow that never ended ends the test (124), not hangs it.
    fn follow(&self, args: &[&str]) -> std::process::Command {
        let mut command = shell("timeout", &[("REACTOR_TABLE", &self.stack.table)]);
        command
            .args(["60", env!("CARGO_BIN_EXE_ecs-reactor"), "logs", &self.run])
            .args(args)
            .arg("--follow");
        command
    }

    /// `t0`'s date and `time` (`00:00:01.000`) as `logs` prints them.
    fn at(&self, time: &str) -> String {
        format!("{} {time}Z", &stamp(self.t0)[..10])
    }
}

/// The stream awslogs names for `container` of `task`: prefix/container/task id.
fn stream(container: &str, task: &str) -> String {
    format!("report/{container}/{}", task.rsplit('/').next().unwrap())
}

fn task_id(task: &str) -> &str {
    task.rsplit('/').next().unwrap()
}

/// A stopped run whose app and sidecar logged, and debug (not essential) too.
async fn stopped_run_with_logs() -> (Logged, String) {
    let (logged, task) = logged_run().await;
    let decided = logged.stop(&task, 1, "stopped-success.json", 1).await;
    assert_eq!(decided, Some("SUCCEED"));
    logged
        .log(
            &task,
            "app",
            &[
                (1_000, "starting report\n"),
                (3_500, "wrote 42 rows"),
                (5_000, "done"),
            ],
        )
        .await;
    logged
        .log(&task, "sidecar", &[(2_000, "proxy ready")])
        .await;
    logged.log(&task, "debug", &[(4_000, "attached")]).await;
    (logged, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_prints_the_essential_containers_lines_in_time_order_and_names_the_firelens_one() {
    let (logged, task) = stopped_run_with_logs().await;
    let at = |t: &str| logged.at(t);
    let expected = format!(
        "{} app     | starting report\n\
         {} sidecar | proxy ready\n\
         {} app     | wrote 42 rows\n\
         {} app     | done\n",
        at("00:00:01.000"),
        at("00:00:02.000"),
        at("00:00:03.500"),
        at("00:00:05.000"),
    );
    let notes = "ecs-reactor: container log-router: logs go to the awsfirelens driver, not CloudWatch Logs; \
                 ecs-reactor cannot read them\n\
                 ecs-reactor: note: not shown (not essential): debug; ask with --container NAME\n";
    // By run id, task ARN and task id alike.
    for wanted in [logged.run.as_str(), task.as_str(), task_id(&task)] {
        let out = logged.cli(&[wanted]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, expected.as_str(), notes),
            "logs {wanted}"
        );
    }

    // One container: its lines only, nothing to say about the others.
    let out = logged.cli(&[&logged.run, "--container", "debug"]);
    assert_eq!(
        (out.code, out.stdout, out.stderr),
        (
            0,
            format!("{} debug | attached\n", at("00:00:04.000")),
            String::new()
        )
    );

    // --json: one object per line, the message as logged.
    let out = logged.cli(&[&logged.run, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let objects: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let iso = |t: &str| at(t).replace(' ', "T");
    assert_eq!(
        objects,
        [
            json!({"container": "app", "timestamp": iso("00:00:01.000"), "message": "starting report\n"}),
            json!({"container": "sidecar", "timestamp": iso("00:00:02.000"), "message": "proxy ready"}),
            json!({"container": "app", "timestamp": iso("00:00:03.500"), "message": "wrote 42 rows"}),
            json!({"container": "app", "timestamp": iso("00:00:05.000"), "message": "done"}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_on_a_stopped_task_prints_its_lines_and_ends() {
    let (logged, _) = stopped_run_with_logs().await;
    let plain = logged.cli(&[&logged.run]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    for extra in [&[][..], &["--json"][..]] {
        let once = logged.cli(&[&[logged.run.as_str()][..], extra].concat());
        let followed = output(logged.follow(extra));
        assert_eq!(
            (
                followed.code,
                followed.stdout.as_str(),
                followed.stderr.as_str()
            ),
            (0, once.stdout.as_str(), once.stderr.as_str()),
            "--follow {extra:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn following_a_running_task_shows_each_line_whole_as_it_comes() {
    use std::io::BufRead;
    let (logged, task) = logged_run().await;
    logged
        .log(&task, "app", &[(1_000, "starting report")])
        .await;
    let mut command = logged.follow(&["--container", "app"]);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut follower = command.spawn().unwrap();
    let mut lines = std::io::BufReader::new(follower.stdout.take().unwrap());

    // The one line there is, whole, while the task still runs (a reader waiting for whole lines, `| grep`,
    // gets it now, not when a next line comes).
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    assert_eq!(
        first,
        format!("{} app | starting report\n", logged.at("00:00:01.000"))
    );
    assert!(
        follower.try_wait().unwrap().is_none(),
        "still following: the task runs"
    );

    // A line more, then the stop: printed, and the follow ends.
    logged.log(&task, "app", &[(3_000, "done")]).await;
    let mut second = String::new();
    lines.read_line(&mut second).unwrap();
    assert_eq!(
        second,
        format!("{} app | done\n", logged.at("00:00:03.000"))
    );
    logged.stop(&task, 1, "stopped-success.json", 1).await;
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    let status = follower.wait().unwrap();
    assert_eq!((status.code(), rest.as_str()), (Some(0), ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_the_latest_attempt_or_the_one_asked_for_by_number_or_by_its_task() {
    let (logged, first) = logged_run().await;
    assert_eq!(
        logged.stop(&first, 1, "stopped-app-exit-1.json", 1).await,
        Some("RETRY_LATER")
    );
    let batch = logged.stack.expire(&logged.run, "DELAY#0002").await;
    scheduler::handle(&logged.reactor, batch, logged.t0 + Duration::minutes(3))
        .await
        .unwrap();
    let second = logged
        .stack
        .tasks(&started_by(&logged.run, 2))
        .await
        .remove(0);
    assert_eq!(
        logged.stop(&second, 2, "stopped-success.json", 4).await,
        Some("SUCCEED")
    );
    logged
        .log(&first, "app", &[(61_000, "KeyError: 'date'")])
        .await;
    logged.log(&second, "app", &[(181_000, "done")]).await;
    // Aligned with the sidecar's name: its stream is read too (it just is not there).
    let first_line = format!("{} app     | KeyError: 'date'\n", logged.at("00:01:01.000"));
    let second_line = format!("{} app     | done\n", logged.at("00:03:01.000"));

    #[rustfmt::skip]
    let cases: &[(&[&str], &str, &str)] = &[
        (&[logged.run.as_str()], &second_line, &second),
        (&[logged.run.as_str(), "--attempt", "1"], &first_line, &first),
        (&[task_id(&first)], &first_line, &first),
        (&[first.as_str()], &first_line, &first),
        (&[first.as_str(), "--attempt", "2"], &second_line, &second),
    ];
    for (args, stdout, task) in cases {
        let out = logged.cli(args);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, *stdout),
            "{args:?}: {}",
            out.stderr
        );
        // The sidecar never logged: said, and the app's lines are printed all the same.
        assert!(
            out.stderr.contains(&format!(
                "ecs-reactor: no log stream {} in group {} yet: the container may not have started\n",
                stream("sidecar", task),
                logged.group
            )),
            "{args:?}: {}",
            out.stderr
        );
    }

    let out = logged.cli(&[&logged.run, "--attempt", "3"]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (
            4,
            format!(
                "ecs-reactor: run {} has no attempt 3 (its attempts: 1, 2)",
                logged.run
            )
            .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_stream_yet_is_exit_4_and_a_container_logging_elsewhere_is_named() {
    let (logged, task) = logged_run().await;

    // The task is running but its app has not started: no stream yet.
    let out = logged.cli(&[&logged.run, "--container", "app"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            4,
            "",
            format!(
                "ecs-reactor: no log stream {} in group {} yet: the container may not have started\n",
                stream("app", &task),
                logged.group
            )
            .as_str()
        )
    );
    // Every essential container: the FireLens one named, then each missing stream; exit 4.
    let out = logged.cli(&[&logged.run]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        [
            "ecs-reactor: container log-router: logs go to the awsfirelens driver, not CloudWatch Logs; ecs-reactor cannot read them".to_owned(),
            "ecs-reactor: note: not shown (not essential): debug; ask with --container NAME".to_owned(),
            format!("ecs-reactor: no log stream {} in group {} yet: the container may not have started", stream("app", &task), logged.group),
            format!("ecs-reactor: no log stream {} in group {} yet: the container may not have started", stream("sidecar", &task), logged.group),
        ]
    );

    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--container", "log-router"], 4,
         "ecs-reactor: container log-router: logs go to the awsfirelens driver, not CloudWatch Logs; ecs-reactor cannot read them"),
        (&["--container", "nope"], 3, "ecs-reactor: --container \"nope\": task definition "),
        (&["--container", "nope"], 3, ":2 has no such container (its containers: app, sidecar, log-router, debug)"),
    ];
    for (args, code, message) in cases {
        let out = logged.cli(&[&[logged.run.as_str()][..], args].concat());
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }

    // Followed once the task has stopped: no stream will come, so no waiting; the same exit 4.
    logged
        .stop(&task, 1, "stopped-pull-rate-limit.json", 1)
        .await;
    let out = output(logged.follow(&["--container", "sidecar"]));
    assert_eq!(
        (out.code, out.stderr),
        (
            4,
            format!(
                "ecs-reactor: no log stream {} in group {} yet: the container may not have started\n",
                stream("sidecar", &task),
                logged.group
            )
        )
    );

    // A stream with nothing in it yet is not a success either.
    logged.log(&task, "app", &[]).await;
    let out = logged.cli(&[&logged.run, "--container", "app"]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (
            4,
            format!(
                "ecs-reactor: log stream {} in group {} has no events: the container logged nothing",
                stream("app", &task),
                logged.group
            )
            .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_stops_reading_ends_logs_quietly() {
    let (logged, task) = logged_run().await;
    logged.stop(&task, 1, "stopped-success.json", 1).await;
    // More than a pipe holds (64 KiB), so the writes meet the closed pipe.
    let lines: Vec<(i64, String)> = (0..5_000)
        .map(|i| {
            (
                i,
                format!("row {i} of the nightly report, written by the app"),
            )
        })
        .collect();
    let lines: Vec<(i64, &str)> = lines.iter().map(|(t, m)| (*t, m.as_str())).collect();
    logged.log(&task, "app", &lines).await;
    for follow in ["", " --follow"] {
        let mut bash = shell("bash", &[("REACTOR_TABLE", &logged.stack.table)]);
        bash.arg("-c").arg(format!(
            "timeout 60 {} logs {} --container app{follow} | head -1; echo \"exit ${{PIPESTATUS[0]}}\" >&2",
            env!("CARGO_BIN_EXE_ecs-reactor"),
            logged.run
        ));
        let out = output(bash);
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            (
                format!(
                    "{} app | row 0 of the nightly report, written by the app\n",
                    logged.at("00:00:00.000")
                )
                .as_str(),
                "exit 0\n"
            ),
            "{follow}"
        );
    }
}
