//! The demo's story, played with the real Lambda binaries under SAM's runtime emulator against moto:
//! `jobs/nightly-report.json` registered as `jobs apply` registers it, its schedule's tick, a first attempt
//! that dies pulling its image (`toomanyrequests`), is retried later when
//! DynamoDB's TTL deletes the delay item, succeeds on attempt 2, and the success reaches an SQS queue
//! subscribed to the outcomes topic. `make demo` prints it; a test asserts it.
//!
//! moto plays ECS's part (it sends no ECS events): the story stops each task and hands the classifier the
//! STOPPED event ECS would send, taken from events/ with the task's identity. It plays DynamoDB's TTL too (moto
//! never expires items): it deletes the due delay item and hands the scheduler the stream record.

use crate::rie::Function;
use crate::stack::{sweep_event, Stack};
use serde_json::Value;
use std::time::Instant;

pub struct Story {
    /// The local stack the story ran on (moto keeps running until the process ends).
    pub stack: Stack,
    pub run_id: String,
    /// One line per step, as printed.
    pub timeline: Vec<String>,
    /// The run's items (run, attempts, delays) at the end.
    pub rows: Vec<Value>,
    /// The messages the on-call queue received.
    pub notifications: Vec<Value>,
    /// Tasks per attempt (ListTasks by startedBy).
    pub tasks: Vec<(u32, Vec<String>)>,
}

struct Teller {
    start: Instant,
    lines: Vec<String>,
    echo: bool,
}

impl Teller {
    fn say(&mut self, who: &str, what: String) {
        let line = format!(
            "[{:>6.2}s] {who:<11} {what}",
            self.start.elapsed().as_secs_f64()
        );
        if self.echo {
            println!("{line}");
        }
        self.lines.push(line);
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Plays the story. `echo` prints the timeline as it happens.
pub async fn play(echo: bool) -> Story {
    let mut tell = Teller {
        start: Instant::now(),
        lines: Vec::new(),
        echo,
    };
    crate::rie::binaries();
    let stack = Stack::new().await;
    tell.say(
        "local AWS",
        format!(
            "moto at {}: table {}, topic + on-call SQS queue, cluster {}, task definition {}:1",
            crate::moto::moto().endpoint,
            stack.table,
            stack.cluster,
            stack.family
        ),
    );

    // The schedule rule ticks (this minute).
    let now = time::OffsetDateTime::now_utc();
    let minute = now
        - time::Duration::seconds(i64::from(now.second()))
        - time::Duration::nanoseconds(i64::from(now.nanosecond()));
    let tick_time = minute
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let job = stack.register_job_file("nightly-report.json").await;
    tell.say(
        "jobs apply",
        format!("registered {job} from jobs/nightly-report.json (cluster, task definition and subnets: the local stack's)"),
    );
    let tick = serde_json::json!({"scheduledJob": job, "scheduledTime": tick_time});
    let started = {
        let starter = Function::start("starter", &stack.env());
        let started = starter.answer(&tick);
        let again = starter.answer(&tick);
        tell.say(
            "starter",
            format!(
                "schedule tick {tick_time} → {} {} attempt 1, task {}",
                started["outcome"].as_str().unwrap_or("?"),
                started["runId"].as_str().unwrap_or("?"),
                short(started["taskArn"].as_str().unwrap_or("-"))
            ),
        );
        tell.say(
            "starter",
            format!(
                "same tick delivered again → {} (no second run)",
                again["outcome"].as_str().unwrap_or("?")
            ),
        );
        started
    };
    let run_id = started["runId"].as_str().unwrap().to_owned();
    let started_by = |attempt: u32| format!("ecs-reactor/{run_id}/{attempt}");
    let first_task = started["taskArn"].as_str().unwrap().to_owned();

    // Attempt 1 cannot pull its image: Docker Hub's rate limit.
    let stopped = stack
        .stop(
            &first_task,
            &started_by(1),
            "stopped-pull-rate-limit.json",
            3,
        )
        .await;
    tell.say(
        "ECS",
        format!(
            "task {} STOPPED ({}): {}",
            short(&first_task),
            stopped["detail"]["stopCode"].as_str().unwrap_or("?"),
            stopped["detail"]["stoppedReason"].as_str().unwrap_or("")
        ),
    );
    {
        let classifier = Function::start("classifier", &stack.env());
        let judged = classifier.answer(&stopped);
        tell.say(
            "classifier",
            format!(
                "attempt 1 → {} ({}), retry in {} s",
                judged["action"].as_str().unwrap_or("?"),
                judged["ruleId"].as_str().unwrap_or("?"),
                judged["delaySeconds"]
            ),
        );
        let duplicate = classifier.answer(&stopped);
        tell.say(
            "classifier",
            format!(
                "same STOPPED event again → {}",
                duplicate["outcome"].as_str().unwrap_or("?")
            ),
        );
    }
    let delay = stack
        .row(&run_id, "DELAY#0002")
        .await
        .expect("a delay item for attempt 2");
    tell.say(
        "DynamoDB",
        format!(
            "delay item DELAY#0002 written: ttl {} (epoch seconds), sweep shard {}",
            delay["ttl"],
            delay["dueShard"].as_str().unwrap_or("?")
        ),
    );

    // Minutes later (played: the delay falls due now) DynamoDB's TTL deletes the delay item; the stream wakes
    // the scheduler, which fires a retry only once it is due.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    stack.make_due(&run_id, "DELAY#0002", now - 1).await;
    let batch = stack.expire(&run_id, "DELAY#0002").await;
    {
        let scheduler = Function::start("scheduler", &stack.env());
        tell.say(
            "DynamoDB",
            "TTL deletes DELAY#0002 → stream REMOVE record (userIdentity dynamodb.amazonaws.com)"
                .into(),
        );
        let fired = scheduler.answer(&batch);
        tell.say(
            "scheduler",
            format!(
                "TTL record → batchItemFailures {}",
                fired["batchItemFailures"]
            ),
        );
        let swept = scheduler.answer(&sweep_event());
        tell.say(
            "scheduler",
            format!(
                "one-minute sweep → {} overdue, {} launched (TTL won the race)",
                swept["sweep"]["due"], swept["sweep"]["launched"]
            ),
        );
    }
    let second_task = stack
        .tasks(&started_by(2))
        .await
        .into_iter()
        .next()
        .expect("attempt 2 launched");
    tell.say(
        "ECS",
        format!("attempt 2 running as task {}", short(&second_task)),
    );

    // Attempt 2 succeeds.
    let succeeded = stack
        .stop(&second_task, &started_by(2), "stopped-success.json", 4)
        .await;
    {
        let classifier = Function::start("classifier", &stack.env());
        tell.say(
            "ECS",
            format!(
                "task {} STOPPED: essential container app exited 0",
                short(&second_task)
            ),
        );
        let judged = classifier.answer(&succeeded);
        tell.say(
            "classifier",
            format!(
                "attempt 2 → {} ({}) → run SUCCEEDED, outcome published",
                judged["action"].as_str().unwrap_or("?"),
                judged["ruleId"].as_str().unwrap_or("?")
            ),
        );
    }
    let notifications = stack.notifications().await;
    for n in &notifications {
        tell.say(
            "on-call",
            format!(
                "SQS ← SNS: {:?} [attributes job={} status={}]",
                n["subject"].as_str().unwrap_or(""),
                n["attributes"]["job"]["Value"].as_str().unwrap_or("?"),
                n["attributes"]["status"]["Value"].as_str().unwrap_or("?")
            ),
        );
    }
    let rows = stack.rows(&run_id).await;
    let mut tasks = Vec::new();
    for attempt in 1..=2 {
        tasks.push((attempt, stack.tasks(&started_by(attempt)).await));
    }
    Story {
        stack,
        run_id,
        timeline: tell.lines,
        rows,
        notifications,
        tasks,
    }
}

/// The run's items as on-call reads them: one line per item.
pub fn render_rows(rows: &[Value]) -> String {
    let text = |v: &Value, k: &str| match &v[k] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // The run first, then its attempts and delays in order.
    let mut rows: Vec<&Value> = rows.iter().collect();
    rows.sort_by_key(|r| (r["sk"] != "RUN", r["sk"].as_str().unwrap_or("").to_owned()));
    let mut out = format!(
        "{:<13} {:<16} {:<13} {:<24} {:<12} {:<32} {}\n",
        "item", "status/state", "task", "stop code", "decision", "rule", "next retry / when"
    );
    for row in rows {
        let sk = text(row, "sk");
        let line = if sk == "RUN" {
            format!(
                "{:<13} {:<16} {:<13} {:<24} {:<12} {:<32} attempt {}, updated {}",
                "RUN",
                text(row, "status"),
                "-",
                "-",
                text(row, "lastAction"),
                "-",
                text(row, "attempt"),
                text(row, "updatedAt")
            )
        } else if sk.starts_with("ATTEMPT#") {
            format!(
                "{:<13} {:<16} {:<13} {:<24} {:<12} {:<32} {}",
                sk,
                text(row, "state"),
                short(&text(row, "taskArn"))
                    .chars()
                    .take(12)
                    .collect::<String>(),
                text(row, "stopCode"),
                text(row, "action"),
                text(row, "ruleId"),
                row["nextRetryAt"]
                    .as_str()
                    .map(|t| format!("retry at {t}"))
                    .unwrap_or_else(|| text(row, "stoppedAt"))
            )
        } else {
            format!(
                "{:<13} {:<16} due {} ({})",
                sk,
                "-",
                text(row, "dueAt"),
                text(row, "dueShard")
            )
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One `ecs-reactor` command of the epilogue and what it printed.
pub struct Said {
    pub command: String,
    pub code: i32,
    pub output: String,
}

/// On-call's view after the story: a second job waits for a retry (its ENI could not be attached), and
/// on-call asks and acts with the real `ecs-reactor` binary: runs, show, cancel, show, redrive.
pub async fn on_call(story: &Story, echo: bool) -> Vec<Said> {
    let stack = &story.stack;
    let now = time::OffsetDateTime::now_utc();
    let tick_time = (now - time::Duration::seconds(i64::from(now.second())))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let waiting = {
        let starter = Function::start("starter", &stack.env());
        starter.answer(&stack.tick("weekly-export", &tick_time))
    };
    let run = waiting["runId"].as_str().unwrap().to_owned();
    let stopped = stack
        .stop(
            waiting["taskArn"].as_str().unwrap(),
            &format!("ecs-reactor/{run}/1"),
            "stopped-eni-timeout.json",
            3,
        )
        .await;
    {
        let classifier = Function::start("classifier", &stack.env());
        classifier.answer(&stopped);
    }
    let cli = crate::rie::binaries().join("ecs-reactor");
    let mut said = Vec::new();
    for args in [
        vec!["runs"],
        vec!["show", story.run_id.as_str()],
        vec!["runs", "--status", "RETRY_SCHEDULED"],
        vec![
            "cancel",
            run.as_str(),
            "--reason",
            "export target down for maintenance",
        ],
        vec!["show", run.as_str()],
        vec!["redrive", run.as_str(), "--reason", "export target back"],
    ] {
        let out = std::process::Command::new(&cli)
            .args(&args)
            .envs(stack.env())
            .env("AWS_ENDPOINT_URL", &crate::moto::moto().endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("run ecs-reactor");
        let mut output = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            output.push_str(&format!("\n{}", stderr.trim_end()));
        }
        let command = format!("ecs-reactor {}", args.join(" "));
        if echo {
            println!("$ {command}\n{output}\n");
        }
        said.push(Said {
            command,
            code: out.status.code().unwrap_or(-1),
            output,
        });
    }
    said
}
