//! Sections 1, 2, 3 and 6: each Lambda binary (and the Python twin of the classifier) under SAM's runtime
//! emulator against moto — fresh starts for the init duration, then many sequential invocations of real work
//! in one process for the warm duration, its own CPU time and its memory.

use crate::play::{rfc3339, start_runs, stopped};
use crate::rie::Function;
use crate::stack::{sweep_event, Stack};
use crate::Options;
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// One function's figures.
pub struct Measured {
    pub name: &'static str,
    /// The work of the warm invocations, in words.
    pub work: String,
    /// The emulator's INIT REPORT of each fresh start, ms.
    pub inits: Vec<f64>,
    /// The emulator's REPORT Duration of each warm invocation, ms.
    pub durations: Vec<f64>,
    /// The process's user + system CPU time over the warm invocations, per invocation, ms.
    pub cpu_ms: f64,
    /// (invocations done, resident set in KiB) along the way; the first after one warm-up invocation.
    pub rss: Vec<(usize, u64)>,
    /// The process's peak resident set (VmHWM) at the end, KiB.
    pub peak_kib: u64,
    /// Bytes the function logged per warm invocation (what CloudWatch Logs would ingest), 26 bytes of
    /// per-event overhead included.
    pub log_bytes: f64,
    /// Invocations repeated because moto did not answer in time (Lambda retries those too).
    pub retried: usize,
}

/// The stopped-task samples the classifiers judge, alternately: a success (close the run, publish the
/// outcome) and a pull rate limit (retry later: the delay item).
const SAMPLES: [&str; 2] = ["stopped-success.json", "stopped-pull-rate-limit.json"];

/// Invocations fed between two clean-ups of the table.
const CHUNK: usize = 50;

pub async fn run(options: &Options) -> Vec<Measured> {
    let per = CHUNK.min(options.invokes + 1);
    let stack = Stack::new().await;
    let bin = |name: &str| options.bin_dir.join(name);

    // The starter: schedule ticks a minute apart, each a new run launched on ECS.
    let base = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(60);
    let cold_tick = stack.tick("cold-start", "2026-01-01T00:00:00Z");
    let ticks = |chunk: usize| {
        let events = (chunk * per..(chunk + 1) * per)
            .map(|i| {
                stack.tick(
                    "nightly-report",
                    &rfc3339(base + time::Duration::minutes(i as i64)),
                )
            })
            .collect();
        async move { (events, Vec::new()) }
    };
    let starter = measure(
        "starter",
        &bin("starter"),
        &stack,
        options,
        &cold_tick,
        ticks,
    )
    .await;
    let starter = Measured {
        work: "a schedule tick: a new run, its first attempt launched on ECS".into(),
        ..starter
    };

    // The classifier: STOPPED events of runs started for it.
    let unknown = stopped(
        SAMPLES[0],
        "arn:aws:ecs:us-east-1:123456789012:task/jobs/0",
        "no-such-run",
        1,
        OffsetDateTime::now_utc(),
    );
    let judge = |stack: &'static Stack| {
        move |_| async move {
            let runs = start_runs(stack, &stack.job("nightly-report"), per).await;
            (
                stopped_events(&runs),
                runs.into_iter().map(|(run, _)| run).collect(),
            )
        }
    };
    // Each function its own stack: tasks do not pile up in one cluster across the phases.
    let stack: &'static Stack = Box::leak(Box::new(Stack::new().await));
    let classifier = measure(
        "classifier",
        &bin("classifier"),
        stack,
        options,
        &unknown,
        judge(stack),
    )
    .await;
    let classifier = Measured { work: "a STOPPED event: alternately a success (run closed, outcome published) and a pull rate limit (delay item written)".into(), ..classifier };

    // The scheduler: TTL deletes of delay items (runs judged "retry later" for it), alternating with sweeps.
    let stack: &'static Stack = Box::leak(Box::new(Stack::new().await));
    let waiting = |_| async move {
        let runs = start_runs(stack, &job_of(stack), per.div_ceil(2)).await;
        let reactor = stack.reactor();
        let now = OffsetDateTime::now_utc();
        let mut events = Vec::new();
        for (run, task) in &runs {
            classifier::handle(&reactor, stopped(SAMPLES[1], task, run, 1, now), now)
                .await
                .unwrap();
            events.push(stack.expire(run, "DELAY#0002").await);
            events.push(sweep_event());
        }
        (events, runs.into_iter().map(|(run, _)| run).collect())
    };
    let scheduler = measure(
        "scheduler",
        &bin("scheduler"),
        stack,
        options,
        &sweep_event(),
        waiting,
    )
    .await;
    let scheduler = Measured { work: "alternately a TTL stream record (attempt 2 claimed and launched) and the one-minute sweep".into(), ..scheduler };

    // The Python twin of the classifier: the same kind of events on runs of its own.
    let twin_stack: &'static Stack = Box::leak(Box::new(Stack::new().await));
    let twin = measure(
        "classifier (Python twin)",
        &twin_bootstrap(),
        twin_stack,
        options,
        &unknown,
        judge(twin_stack),
    )
    .await;
    let twin = Measured {
        work: classifier.work.clone(),
        ..twin
    };

    vec![starter, classifier, scheduler, twin]
}

fn job_of(stack: &Stack) -> Value {
    stack.job("nightly-report")
}

fn stopped_events(launched: &[(String, String)]) -> Vec<Value> {
    let now = OffsetDateTime::now_utc();
    launched
        .iter()
        .enumerate()
        .map(|(i, (run_id, task))| stopped(SAMPLES[i % 2], task, run_id, 1, now))
        .collect()
}

pub fn twin_bootstrap() -> PathBuf {
    crate::cli::root().join("bench/twin/bootstrap")
}

/// Fresh starts (each invoked once with `cold_event`), then one process invoked `options.invokes` + 1 times
/// with the events `chunk(0)`, `chunk(1)`, … give: the first is a warm-up, the rest are measured. After each
/// chunk the harness deletes its runs' items (the runs `chunk` names and those the answers name), so that
/// moto's table stays small and every invocation meets the same table.
async fn measure<F, Fut>(
    name: &'static str,
    executable: &Path,
    stack: &Stack,
    options: &Options,
    cold_event: &Value,
    mut chunk: F,
) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = (Vec<Value>, Vec<String>)>,
{
    let mut env = stack.env();
    // The twin's bootstrap runs on the tools' Python, which has boto3.
    let venv_bin = crate::cli::root().join(".venv/bin");
    env.push((
        "PATH",
        format!(
            "{}:{}",
            venv_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    ));
    // Lambda sets both; boto3 reads only the second.
    env.push(("AWS_DEFAULT_REGION", "us-east-1".into()));
    let mut inits = Vec::new();
    for _ in 0..options.cold_starts {
        let function = Function::start_executable(name, executable, &env);
        function.answer(cold_event);
        let logs = function.logs();
        inits.push(init_ms(&logs).unwrap_or_else(|| panic!("{name}: no INIT REPORT in\n{logs}")));
    }

    let total = options.invokes + 1;
    let step = (options.invokes / 10).max(1);
    let function = Function::start_executable(name, executable, &env);
    let (mut done, mut pid, mut cpu_before, mut logged_before) = (0, 0, 0, 0);
    let mut rss = Vec::new();
    let mut retried = 0;
    for k in 0.. {
        if done == total {
            break;
        }
        let (events, mut runs) = chunk(k).await;
        for event in events.iter().take(total - done) {
            let answer = answer_retrying(&function, event, &mut retried);
            if let Some(run) = answer["runId"].as_str() {
                runs.push(run.to_owned());
            }
            if done == 0 {
                pid = function
                    .runtime_pid()
                    .unwrap_or_else(|| panic!("{name}: its process was not found"));
                cpu_before = cpu_ticks(pid);
                logged_before = function_log_bytes(&function.logs());
                rss.push((0, memory(pid).0));
            } else if done % step == 0 || done == total - 1 {
                rss.push((done, memory(pid).0));
            }
            done += 1;
        }
        forget(stack, &runs).await;
    }
    let measured = options.invokes as f64;
    let cpu_ms = (cpu_ticks(pid) - cpu_before) as f64 * 1000.0 / clock_ticks() / measured;
    let peak_kib = memory(pid).1;
    let logs = function.logs();
    let mut durations = report_durations(&logs);
    durations.remove(0);
    let log_bytes = (function_log_bytes(&logs) - logged_before) as f64 / measured;
    Measured {
        name,
        work: String::new(),
        inits,
        durations,
        cpu_ms,
        rss,
        peak_kib,
        log_bytes,
        retried,
    }
}

/// Invokes `event`; an invocation that moto did not answer in time (`RetryableError`) is what Lambda retries,
/// and so does the benchmark, twice at most, counting them.
fn answer_retrying(function: &Function, event: &Value, retried: &mut usize) -> Value {
    let mut answer = function.invoke(&event.to_string());
    for _ in 0..2 {
        if answer.error_type() != Some("RetryableError") {
            break;
        }
        *retried += 1;
        answer = function.invoke(&event.to_string());
    }
    assert!(
        answer.error_type().is_none(),
        "the function answered with an error: {}\n{}",
        answer.body,
        function.logs()
    );
    answer.body
}

/// Deletes every item of `runs` (run, attempts 1–2, delay): the harness's clean-up between chunks.
async fn forget(stack: &Stack, runs: &[String]) {
    use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
    let requests: Vec<WriteRequest> = runs
        .iter()
        .flat_map(|run| {
            ["RUN", "ATTEMPT#0001", "ATTEMPT#0002", "DELAY#0002"].map(|sk| {
                let key = [("pk", format!("RUN#{run}")), ("sk", sk.to_owned())]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
                    .collect();
                WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
                    .build()
            })
        })
        .collect();
    for batch in requests.chunks(25) {
        stack
            .dynamodb
            .batch_write_item()
            .request_items(&stack.table, batch.to_vec())
            .send()
            .await
            .unwrap();
    }
}

/// `INIT REPORT(durationMs: 7.53)` → 7.53.
fn init_ms(logs: &str) -> Option<f64> {
    let at = logs.find("INIT REPORT(durationMs: ")? + "INIT REPORT(durationMs: ".len();
    logs[at..].split(')').next()?.trim().parse().ok()
}

/// The `Duration:` of every `REPORT` line, ms.
fn report_durations(logs: &str) -> Vec<f64> {
    logs.lines()
        .filter(|l| l.starts_with("REPORT RequestId"))
        .filter_map(|l| {
            l.split('\t')
                .find_map(|f| f.trim().strip_prefix("Duration: "))
                .and_then(|d| d.trim_end_matches(" ms").parse().ok())
        })
        .collect()
}

/// Bytes of the function's own log lines (JSON, one event each) plus CloudWatch Logs' 26 bytes per event.
fn function_log_bytes(logs: &str) -> usize {
    logs.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| l.len() + 26)
        .sum()
}

/// utime + stime of a process (all its threads, the finished ones included), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of proc(5); the slice starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}

/// (VmRSS, VmHWM) of a process, KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
