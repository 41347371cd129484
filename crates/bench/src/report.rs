//! BENCHMARKS.md from the figures.

use crate::calls::{Calls, Scenario};
use crate::emulated::Measured;
use crate::flood::{Burst, INSTANCES};
use crate::lateness::{Lateness, TTL_LAG};
use crate::package::Package;
use crate::stats::{max, median, percentile};
use crate::Options;
use std::fmt::Write;

pub struct Figures<'a> {
    pub options: &'a Options,
    pub calls: &'a Calls,
    pub functions: &'a [Measured],
    pub package: &'a Package,
    pub burst: &'a Burst,
    pub lateness: &'a Lateness,
    pub storm: &'a crate::storm::Storm,
    pub seconds: f64,
}

/// List prices, us-east-1, as published on the pricing pages named, read on the date below.
pub const PRICES_READ: &str = "2026-11-21";
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
const SNS_PUBLISH: f64 = 0.50 / 1e6;
/// KMS: $0.03 per 10,000 requests (GenerateDataKey, Decrypt).
const KMS_REQUEST: f64 = 0.03 / 1e4;
/// SQS standard queue: $0.40 per million requests. A queued retry is three: our SendMessage, and the
/// event source's ReceiveMessage and DeleteMessage (batched, so at most that).
const SQS_REQUEST: f64 = 0.40 / 1e6;
const SQS_REQUESTS_PER_SEND: f64 = 3.0;
const LOGS_PER_GB: f64 = 0.50;
const SFN_TRANSITION: f64 = 0.025 / 1000.0;
/// template.yml's MemorySize for the three functions.
const MEMORY_GB: f64 = 128.0 / 1024.0;
const GOAL_INIT_MS: f64 = 15.0;
const GOAL_CPU_MS: f64 = 1.0;
const GOAL_RSS_MB: f64 = 24.0;
const GOAL_ZIP_MB: f64 = 6.0;
const GOAL_COST: f64 = 4.0;
const GOAL_RATIO: f64 = 12.0;
const GOAL_LATE_P99: f64 = 60.0;

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Dollars per run of one scenario, by item.
struct Cost {
    requests: f64,
    duration: f64,
    writes: f64,
    reads: f64,
    sns: f64,
    kms: f64,
    sqs: f64,
    logs: f64,
}

impl Cost {
    fn total(&self) -> f64 {
        self.requests
            + self.duration
            + self.writes
            + self.reads
            + self.sns
            + self.kms
            + self.sqs
            + self.logs
    }
}

fn function<'a>(functions: &'a [Measured], name: &str) -> &'a Measured {
    functions.iter().find(|f| f.name == name).unwrap()
}

fn cost(s: &Scenario, functions: &[Measured]) -> Cost {
    let billed_seconds = |f: &Measured| median(&f.durations).ceil() / 1000.0;
    let mut c = Cost {
        requests: 0.0,
        duration: 0.0,
        writes: 0.0,
        reads: 0.0,
        sns: 0.0,
        kms: 0.0,
        sqs: 0.0,
        logs: 0.0,
    };
    for invocation in &s.invocations {
        let f = function(functions, invocation.function);
        if invocation.request {
            c.requests += LAMBDA_REQUEST;
        }
        c.duration += billed_seconds(f) * MEMORY_GB * LAMBDA_ARM_GB_SECOND;
        c.logs += f.log_bytes / 1e9 * LOGS_PER_GB;
    }
    c.writes = (s.write_units.0 + s.write_units.1) * DYNAMODB_WRITE_UNIT;
    c.reads = s.read_units * DYNAMODB_READ_UNIT;
    c.sns = s.count("SNS") as f64 * SNS_PUBLISH;
    c.kms = s.count("KMS") as f64 * KMS_REQUEST;
    c.sqs = s.count("SQS") as f64 * SQS_REQUESTS_PER_SEND * SQS_REQUEST;
    c
}

/// The Step Functions design per run: RunTask.sync then SNS (2 transitions), each retry 4 more (Catch →
/// error-handler Lambda → Choice → Wait/RunTask) and one invocation of its Lambda, whose duration is taken as
/// the Python twin's (an upper bound: the seed's handler makes no AWS call).
fn step_functions(retries: usize, twin: &Measured) -> f64 {
    let transitions = 2 + 4 * retries;
    let lambda = retries as f64
        * (LAMBDA_REQUEST
            + median(&twin.durations).ceil() / 1000.0 * MEMORY_GB * LAMBDA_ARM_GB_SECOND);
    transitions as f64 * SFN_TRANSITION + SNS_PUBLISH + lambda
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {memory} RAM, Linux {} ({})",
        kernel.trim(),
        std::env::consts::ARCH
    )
}

pub fn render(f: &Figures) -> String {
    let o = f.options;
    let lambdas = &f.functions[..3];
    let twin = &f.functions[3];
    let classifier = function(f.functions, "classifier");
    let now = time::OffsetDateTime::now_utc();
    let date = crate::play::rfc3339(now);
    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Benchmarks\n").unwrap();
    if o.quick {
        writeln!(w, "> **Quick run** (`--quick`): every section small and on debug binaries, to prove the benchmark runs. Not the benchmark's figures.\n").unwrap();
    }
    writeln!(w, "Measured {date} on {} in {:.0} s by `make bench` (`{}`). The Lambda binaries are the {} build (`{}`, x86_64) run under SAM's runtime emulator (`aws-lambda-rie`, what `sam local invoke` runs) against moto on 127.0.0.1; AWS's own latency is not in these figures, moto's is.\n",
        machine(), f.seconds, if o.quick { "cargo run -p reactor-bench -- --quick" } else { "cargo run -p reactor-bench -- --bin-dir target/release" }, o.profile, o.bin_dir.strip_prefix(crate::cli::root()).unwrap_or(&o.bin_dir).display()).unwrap();

    // Summary.
    let inits: Vec<String> = lambdas
        .iter()
        .map(|m| {
            format!(
                "{} {:.1} / {:.1}",
                m.name,
                median(&m.inits),
                percentile(&m.inits, 90.0)
            )
        })
        .collect();
    let worst_init = lambdas
        .iter()
        .map(|m| percentile(&m.inits, 90.0))
        .fold(0.0, f64::max);
    let cpus: Vec<String> = lambdas
        .iter()
        .map(|m| format!("{} {:.2}", m.name, m.cpu_ms))
        .collect();
    let worst_cpu = lambdas.iter().map(|m| m.cpu_ms).fold(0.0, f64::max);
    let peaks: Vec<String> = lambdas
        .iter()
        .map(|m| format!("{} {:.1}", m.name, mb(m.peak_kib)))
        .collect();
    let worst_peak = lambdas.iter().map(|m| mb(m.peak_kib)).fold(0.0, f64::max);
    let success = &f.calls.scenarios[0];
    let ours = cost(success, f.functions).total() * 1e6;
    let theirs = step_functions(0, twin) * 1e6;
    let burst_rate = f.burst.events as f64 / f.burst.seconds;
    let lost = f.burst.wrong.len() + f.burst.applied_not_once;
    let steady_p99 = percentile(&f.lateness.steady, 99.0);
    let burst_p99 = percentile(&f.lateness.burst, 99.0);
    writeln!(w, "## Summary\n").unwrap();
    writeln!(w, "| # | measure | figure | goal | |").unwrap();
    writeln!(w, "|---|---|---|---|---|").unwrap();
    writeln!(
        w,
        "| 1 | init (cold start), median / p90 of {} starts, ms | {} | ≤ {GOAL_INIT_MS} ms | {} |",
        o.cold_starts,
        inits.join("; "),
        mark(worst_init <= GOAL_INIT_MS)
    )
    .unwrap();
    writeln!(
        w,
        "| 2 | own CPU per warm invocation, ms | {} | ≤ {GOAL_CPU_MS} ms | {} |",
        cpus.join("; "),
        mark(worst_cpu <= GOAL_CPU_MS)
    )
    .unwrap();
    writeln!(
        w,
        "| 3 | peak RSS after {} invocations, MB | {} | ≤ {GOAL_RSS_MB} MB | {} |",
        o.invokes,
        peaks.join("; "),
        mark(worst_peak <= GOAL_RSS_MB)
    )
    .unwrap();
    match f.package {
        Package::Skipped => writeln!(
            w,
            "| 4 | zipped arm64 bootstrap | not measured in --quick | ≤ {GOAL_ZIP_MB} MB | – |"
        )
        .unwrap(),
        Package::Measured { sizes, .. } => {
            let worst = sizes.iter().map(|s| s.2).fold(0.0, f64::max);
            let list: Vec<String> = sizes
                .iter()
                .map(|(n, _, z)| {
                    format!("{} {z:.2}", n.trim_end_matches("Function").to_lowercase())
                })
                .collect();
            writeln!(
                w,
                "| 4 | zipped arm64 bootstrap, MB | {} | ≤ {GOAL_ZIP_MB} MB | {} |",
                list.join("; "),
                mark(worst <= GOAL_ZIP_MB)
            )
            .unwrap()
        }
    }
    writeln!(w, "| 5 | cost per 1 million runs, 0 % retries | ${ours:.2} (Step Functions design ${theirs:.2}: {:.1}× cheaper) | ≤ ${GOAL_COST:.2}, ≥ {GOAL_RATIO}× cheaper | {} |", theirs / ours, mark(ours <= GOAL_COST && theirs / ours >= GOAL_RATIO)).unwrap();
    writeln!(w, "| 6 | Python/boto3 twin of the classifier: init, peak RSS | {:.0} ms, {:.1} MB: {:.0}× the init and {:.1}× the memory of the Rust classifier | – | – |", median(&twin.inits), mb(twin.peak_kib), median(&twin.inits) / median(&classifier.inits), twin.peak_kib as f64 / classifier.peak_kib as f64).unwrap();
    writeln!(w, "| 7 | burst of {} STOPPED events ({} duplicates), {INSTANCES} instances | {burst_rate:.0} decisions/s, {lost} lost or judged twice | none lost | {} |", f.burst.events, f.burst.duplicates, mark(lost == 0)).unwrap();
    writeln!(w, "| 8 | retry lateness past due, p99 | burst of {} due within a minute {burst_p99:.0} s (retry queue, sweep beside it); steady flow, the sweep alone {steady_p99:.0} s | ≤ {GOAL_LATE_P99:.0} s | {} (burst), {} (steady) |", f.lateness.burst.len(), mark(burst_p99 <= GOAL_LATE_P99), mark(steady_p99 <= GOAL_LATE_P99)).unwrap();
    let storm = f.storm;
    let storm_floor = storm.ticks as f64 / crate::storm::RUN_TASK_RATE;
    let storm_ok = storm.wrong.is_empty() && storm.failed == 0;
    writeln!(w, "| 9 | cron storm: {} jobs tick at once, RunTask throttled at ECS's rate | every run started once: {}; FAILED or attempt used up: {}; drained in {:.0} s (floor {:.0} s) | all started once, none FAILED | {} |", storm.ticks, if storm.wrong.is_empty() { "yes".to_owned() } else { format!("**no, {} runs**", storm.wrong.len()) }, storm.failed, storm.drain_seconds, storm_floor, mark(storm_ok)).unwrap();
    writeln!(w).unwrap();

    // 1–3.
    writeln!(
        w,
        "## 1–3. Init, warm duration and own CPU, memory (runtime emulator, {} binaries)\n",
        o.profile
    )
    .unwrap();
    writeln!(w, "Init is the emulator's `INIT REPORT` of {} fresh starts (a new emulator and process each). Warm figures come from one process invoked {} times in a row after one warm-up invocation: duration is the emulator's `REPORT Duration` (moto's round trips included), own CPU is the process's user + system time from `/proc/<pid>/stat` over those invocations divided by their number (the AWS round trips are waiting, not CPU), memory is `VmRSS` sampled along the way and the peak `VmHWM` at the end.\n", o.cold_starts, o.invokes).unwrap();
    writeln!(w, "| function | init median / p90 ms | warm duration median / p90 ms | own CPU ms / invocation | RSS after warm-up → end MB | peak RSS MB | logged bytes / invocation | warm work |").unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|---|").unwrap();
    for m in f.functions {
        let (first, last) = (
            m.rss.first().map_or(0, |r| r.1),
            m.rss.last().map_or(0, |r| r.1),
        );
        writeln!(
            w,
            "| {} | {:.1} / {:.1} | {:.2} / {:.2} | {:.3} | {:.1} → {:.1} | {:.1} | {:.0} | {} |",
            m.name,
            median(&m.inits),
            percentile(&m.inits, 90.0),
            median(&m.durations),
            percentile(&m.durations, 90.0),
            m.cpu_ms,
            mb(first),
            mb(last),
            mb(m.peak_kib),
            m.log_bytes,
            m.work
        )
        .unwrap();
    }
    let retried: Vec<String> = f
        .functions
        .iter()
        .map(|m| format!("{} {}", m.name, m.retried))
        .collect();
    writeln!(w, "\nInvocations repeated because moto did not answer within the functions' 8 s call timeout (a handler then fails with `RetryableError` and Lambda retries it; so does the benchmark): {}.", retried.join(", ")).unwrap();
    writeln!(w, "\nRSS along the way (MB, after N invocations):\n").unwrap();
    for m in f.functions {
        let samples: Vec<String> = m
            .rss
            .iter()
            .map(|(i, kib)| format!("{i}: {:.1}", mb(*kib)))
            .collect();
        writeln!(w, "- {}: {}", m.name, samples.join(", ")).unwrap();
    }
    writeln!(w).unwrap();

    // 4.
    writeln!(w, "## 4. Package size\n").unwrap();
    match f.package {
        Package::Skipped => writeln!(
            w,
            "Not measured in --quick (it needs `make build`, a release cross-build for arm64).\n"
        )
        .unwrap(),
        Package::Measured { sizes, built_now } => {
            writeln!(w, "`make build` (one `cargo lambda build` of the three functions, zig, arm64, release profile){}; sizes as `tools/package_sizes.py` reports them (zip at deflate level 9, as Lambda receives it).\n", if *built_now { ", run by this benchmark" } else { ": its output reused, no source is newer" }).unwrap();
            writeln!(w, "| function | bootstrap MB | zipped MB |\n|---|---|---|").unwrap();
            for (name, size, zipped) in sizes {
                writeln!(w, "| {name} | {size:.2} | {zipped:.2} |").unwrap();
            }
            writeln!(w).unwrap();
        }
    }

    // 5.
    writeln!(w, "## 5. AWS calls per run and cost per million runs\n").unwrap();
    writeln!(w, "Each run is played with the real handlers in-process on clients that record every call (an SDK interceptor), against moto. DynamoDB request units follow DynamoDB's rules from the recorded requests and answers and the table's stream (old and new image of every change): 1 write unit per KB written, 2 in a transaction; every index whose key or projected item changes is written too (a key that changes: a delete and a put); a strongly consistent read 1 unit per 4 KB, eventually consistent half. The largest item written was {} bytes. A delayed retry due within 15 minutes is fired by the retry queue at its due second (the classifier sends it with its delay; the queue's delivery is one scheduler invocation, counted with the run); the one-minute sweep is the backstop, and its own calls are a fixed cost per minute (below).\n", f.calls.scenarios.iter().map(|s| s.largest_item).max().unwrap_or(0)).unwrap();
    writeln!(w, "| run | Lambda invocations | DynamoDB calls | write units (table + indexes) | read units | ECS calls | SNS publishes | KMS calls (sealed environment values) | SQS calls (retry queue) |").unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|---|---|").unwrap();
    for s in &f.calls.scenarios {
        let invocations: Vec<String> = ["starter", "classifier", "scheduler"]
            .iter()
            .filter_map(|n| {
                let all = s.invocations.iter().filter(|i| i.function == *n).count();
                (all > 0).then(|| {
                    if s.requests(n) == all {
                        format!("{n} ×{all}")
                    } else {
                        format!("{n} ×{all} (inside the sweep)")
                    }
                })
            })
            .collect();
        writeln!(
            w,
            "| {} | {} | {} ({}) | {:.0} + {:.0} | {:.1} | {} ({}) | {} | {} ({}) | {} |",
            s.name,
            invocations.join(", "),
            s.count("DynamoDB"),
            s.operations("DynamoDB"),
            s.write_units.0,
            s.write_units.1,
            s.read_units,
            s.count("ECS"),
            s.operations("ECS"),
            s.count("SNS"),
            s.count("KMS"),
            s.operations("KMS"),
            s.count("SQS")
        )
        .unwrap();
    }
    let (table, index) = success.write_units;
    writeln!(w, "\nWhere a run's money goes: DynamoDB writes. Of the {:.0} write units of a run that succeeds at once, {index:.0} are index writes (every index is keys-only but `byDue`, so an index is written only when its key is: the run's creation in `byJob`, `byStatus` and `byCreated`, the attempt's task in `byTask`, each status change in `byStatus` as a delete and a put) and {:.0} are the second unit of transactional writes; {} DynamoDB writes in all (create, record the launch, judge, claim the notification, mark it sent).", table + index, success.transaction_units, success.calls().filter(|c| c.service == "DynamoDB" && c.operation != "GetItem" && c.operation != "Query").count()).unwrap();
    writeln!(w, "\nPrices (us-east-1 list prices, read {PRICES_READ}): Lambda $0.20 per million requests and $0.0000133334 per GB-second on arm64 (https://aws.amazon.com/lambda/pricing/), at the template's 128 MB and each function's measured median warm duration above, rounded up to the millisecond; DynamoDB on-demand $0.625 per million write request units and $0.125 per million read request units (https://aws.amazon.com/dynamodb/pricing/on-demand/), stream reads by Lambda and TTL deletes free; SNS $0.50 per million publishes (https://aws.amazon.com/sns/pricing/); KMS $0.03 per 10,000 requests, the key's $1 a month left out (https://aws.amazon.com/kms/pricing/); SQS $0.40 per million requests, three per queued retry (its SendMessage, the event source's ReceiveMessage and DeleteMessage) (https://aws.amazon.com/sqs/pricing/); EventBridge: ECS's events on the default bus and scheduled rules free (https://aws.amazon.com/eventbridge/pricing/); CloudWatch Logs $0.50 per GB ingested (https://aws.amazon.com/cloudwatch/pricing/), the bytes each function logged at INFO above (26 bytes per event included); Step Functions Standard $0.025 per 1,000 state transitions (https://aws.amazon.com/step-functions/pricing/). Free tiers left out.\n").unwrap();
    writeln!(w, "| run | Lambda requests | Lambda GB-s | DynamoDB writes | DynamoDB reads | SNS | KMS | SQS | Logs | **ecs-reactor per 1M runs** | Step Functions design per 1M runs | cheaper |").unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for (retries, s) in [0usize, 1, 1].iter().zip(&f.calls.scenarios) {
        let c = cost(s, f.functions);
        let sfn = step_functions(*retries, twin) * 1e6;
        writeln!(w, "| {} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | **${:.2}** | ${sfn:.2} ({} transitions) | {:.1}× |", s.name, c.requests * 1e6, c.duration * 1e6, c.writes * 1e6, c.reads * 1e6, c.sns * 1e6, c.kms * 1e6, c.sqs * 1e6, c.logs * 1e6, c.total() * 1e6, 2 + 4 * retries, sfn / (c.total() * 1e6)).unwrap();
    }
    let scheduler = function(f.functions, "scheduler");
    let per_month = 43_200.0;
    let sweep_month = per_month
        * (LAMBDA_REQUEST
            + median(&scheduler.durations).ceil() / 1000.0 * MEMORY_GB * LAMBDA_ARM_GB_SECOND
            + f.calls.sweep_read_units * DYNAMODB_READ_UNIT);
    writeln!(w, "\nThe Step Functions design (seeds): RunTask.sync then an SNS publish, 2 state transitions a run; each retry 4 more (Catch, the error-handler Lambda, Choice, Wait or RunTask) and one invocation of its Lambda, costed at the Python twin's measured duration. Its SNS publish is counted; its RunTask polling and Lambda logs are not (in its favour).\n").unwrap();
    writeln!(w, "Fixed, whatever the runs: the one-minute sweep, 43,200 invocations a month, {} calls each when idle ({}; {:.1} read units): ${sweep_month:.2} a month. The retry queue's event source long-polls the queue while it is empty (Lambda's pollers, 20 s polls: about 15 ReceiveMessage a minute, ${:.2} a month).\n", f.calls.sweep_calls.len(), f.calls.sweep_calls.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>().join(", "), f.calls.sweep_read_units, per_month * 15.0 * SQS_REQUEST).unwrap();

    // 6.
    writeln!(w, "## 6. The Python twin of the classifier\n").unwrap();
    writeln!(w, "`bench/twin/` (not shipped): the classifier's work in Python 3 with boto3 from the tools' venv — the same event parsing, an equivalent small rule table, the same consistent reads, the same conditional transaction (attempt + run + delay item) and the same publish-once of the outcome. Its `bootstrap` is a runtime API loop on the standard library (`urllib`), not awslambdaric: that would add a compiled extension to the pinned tools and change nothing that is measured. Same emulator, same moto, same kind of events, same number of starts and invocations as the Rust classifier in this run.\n").unwrap();
    writeln!(
        w,
        "| | Rust classifier | Python twin | ratio |\n|---|---|---|---|"
    )
    .unwrap();
    writeln!(
        w,
        "| init median ms | {:.1} | {:.1} | {:.0}× |",
        median(&classifier.inits),
        median(&twin.inits),
        median(&twin.inits) / median(&classifier.inits)
    )
    .unwrap();
    writeln!(
        w,
        "| warm duration median ms | {:.2} | {:.2} | {:.1}× |",
        median(&classifier.durations),
        median(&twin.durations),
        median(&twin.durations) / median(&classifier.durations)
    )
    .unwrap();
    writeln!(
        w,
        "| own CPU ms / invocation | {:.3} | {:.3} | {:.1}× |",
        classifier.cpu_ms,
        twin.cpu_ms,
        twin.cpu_ms / classifier.cpu_ms
    )
    .unwrap();
    writeln!(
        w,
        "| peak RSS MB | {:.1} | {:.1} | {:.1}× |\n",
        mb(classifier.peak_kib),
        mb(twin.peak_kib),
        twin.peak_kib as f64 / classifier.peak_kib as f64
    )
    .unwrap();

    // 7.
    let mut outcomes: Vec<String> = f
        .burst
        .outcomes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    outcomes.sort();
    writeln!(w, "## 7. Burst\n").unwrap();
    writeln!(w, "{} runs' tasks all stop with Docker Hub's pull rate limit at once. Their {} STOPPED events plus {} delivered twice, shuffled, go to {INSTANCES} concurrent classifier instances (the real handler in-process, each with its own clients, as separate Lambda instances) against moto: **{:.0} decisions per second** ({:.1} s for all; moto, one Python process on this machine, is the bottleneck, not the classifier). Answers: {}. Rows checked after: {} runs judged other than exactly once, {} runs whose rows are not \"attempt 1 DECIDED RETRY_LATER, run RETRY_SCHEDULED, one delay item, no attempt 2\": **{} lost**.\n",
        f.burst.runs.len(), f.burst.runs.len(), f.burst.duplicates, burst_rate, f.burst.seconds, outcomes.join(", "), f.burst.applied_not_once, f.burst.wrong.len(), lost).unwrap();

    // 8.
    let l = f.lateness;
    let summary = |v: &[f64]| {
        format!(
            "{:.0} / {:.0} / {:.0} / {:.0}",
            median(v),
            percentile(v, 90.0),
            percentile(v, 99.0),
            max(v)
        )
    };
    writeln!(w, "## 8. Retry lateness\n").unwrap();
    writeln!(w, "A retry due within 15 minutes (SQS's longest delay) is sent by the classifier to the retry queue with its delay, and the queue delivers it to the scheduler at its due second (up to {} instances at once, 10 messages a batch, fired together). The sweep is the backstop: it runs every minute and drains what is due that nothing fired (`dueAt <= now` on `byDue`) page after page, a few at once, RunTask paced at {} calls a second (ECS's RunTask rate, \"AWS Fargate throttling quotas\": 20 a second, burst and sustained), for up to {} s: at most {} retries a sweep; within that budget it waits for what comes due in the next {} s (`REACTOR_SWEEP_LOOKAHEAD_SECONDS`) and fires each at its due second, never before. TTL deletes a delay item {:.0}–{:.0} minutes after it expires (public measurements). Whichever comes first claims the retry; lateness is the launch claim's time minus the due time.\n", crate::lateness::QUEUE_INSTANCES, l.launch_rate, l.sweep_budget, l.sweep_capacity, l.lookahead, TTL_LAG.0 / 60.0, TTL_LAG.1 / 60.0).unwrap();
    writeln!(
        w,
        "| case | retries | p50 / p90 / p99 / max s late | how |\n|---|---|---|---|"
    )
    .unwrap();
    writeln!(w, "| the burst's retries, all due within one minute | {} | {} | the real scheduler handler against moto: the retry queue's {} messages received from moto and delivered at their due second, the sweep at each whole minute beside them ({} sweep(s), {} retries fired by a sweep), on one clock (every event judged at one instant, 10 s past a whole minute, plus the time run since); {} runs without exactly one launched attempt 2 |", l.burst.len(), summary(&l.burst), l.delivered, l.sweeps, l.burst_by_sweep, l.burst_wrong).unwrap();
    writeln!(w, "| the sweep alone (the queue unavailable, or a delay over 15 minutes): steady flow, fewer than {} due a minute, each written a minute or more before it falls due | {} | {} | model of the sweep: a retry due in the first {} s after a sweep fired at its due second, one due later at the next sweep; TTL wins only if it comes before the next sweep (never: it is ≥ 8 min late) |", l.sweep_capacity, l.steady.len(), summary(&l.steady), l.sweep_budget.min(l.lookahead)).unwrap();
    writeln!(w, "| the sweep alone: retries with a delay under a minute (FULL jitter, 60 s ceiling), judged at random moments | {} | {} | model: a sweep sees only a delay item written before it reads, so one judged just after a sweep read is fired by the next; what the retry queue saves |\n", l.short.len(), summary(&l.short)).unwrap();
    writeln!(w, "Not modelled: EventBridge's and SQS's own delivery delays (SQS's event source polls continuously; a delivery is typically within a second). The floor for a burst is ECS's: 1,000 retries due at the same moment take 1,000 / 20 = 50 s of RunTask calls however they are fired; spread over a minute, as FULL jitter spreads them, they fit under ECS's rate. The sweep alone drained the same burst at p99 64 s (commit 41dad05): it sees a retry only once its delay item is written, and starts at the next whole minute.\n").unwrap();
    writeln!(w, "The sweep's other work is bounded per run, whatever the table holds: launches left behind (interrupted or deferred), paced the same way within the same budget; unpublished outcomes, one Query of `DUE#NOTIFY` and at most `sweep_batch` publications; the reconciliation of quiet RUNNING runs, at most `REACTOR_RECONCILE_BATCH` (100) runs: one Query, two GetItem a run (run and attempt), one DescribeTasks per 100 tasks of a cluster, one PutItem (its cursor), and the decisions it applies — 1,000 RUNNING runs are all checked within ten sweeps (`reconcile::each_sweep_checks_at_most_its_batch_and_moves_on_from_where_it_stopped` asserts the calls of each sweep).\n").unwrap();

    storm_section(w, storm);
    partition_section(w, &f.calls.scenarios);

    writeln!(w, "## Reproduce\n").unwrap();
    writeln!(w, "```sh\nmake bench          # builds the release binaries, runs every section (several minutes), writes BENCHMARKS.md\nmake bench-quick    # every section small on the debug binaries (what `make test` checks runs)\n```\n").unwrap();
    writeln!(w, "Sources: `crates/bench/` (the program), `bench/twin/` (the Python twin); it reuses the tests' moto, emulator and stack helpers (`crates/testkit/`).").unwrap();
    md
}

/// Section 9: the cron storm.
fn storm_section(w: &mut String, s: &crate::storm::Storm) {
    use crate::storm::{INSTANCES, RUN_TASK_RATE};
    let floor = s.ticks as f64 / RUN_TASK_RATE;
    let outcomes = {
        let mut o: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        o.sort();
        o.join(", ")
    };
    let sweeps: Vec<String> = s.sweeps.iter().map(u64::to_string).collect();
    writeln!(w, "## 9. Cron storm\n").unwrap();
    writeln!(w, "{} jobs tick at the same minute. ECS's RunTask is played by a token bucket of {RUN_TASK_RATE:.0} calls refilled at {RUN_TASK_RATE:.0} a second (\"AWS Fargate throttling quotas\": RunTask 20 calls a second, burst and sustained; tasks 100 burst, 20 a second): a call that finds the bucket empty is answered `ThrottlingException`, as ECS answers, by a connector under every SDK client. The ticks go to {INSTANCES} concurrent starter instances (the real handler, clients built as a Lambda builds them, the SDK's own retries included); the one-minute sweep (the real scheduler handler) drains what they could not launch, on a clock that is the tick plus the time run, idle waits for the next minute skipped.\n", s.ticks).unwrap();
    writeln!(w, "| measure | figure |\n|---|---|").unwrap();
    writeln!(w, "| starter answers | {outcomes} |").unwrap();
    writeln!(
        w,
        "| RunTask calls that reached ECS / answered ThrottlingException | {} / {} |",
        s.run_task_passed, s.run_task_throttled
    )
    .unwrap();
    writeln!(
        w,
        "| runs launched by each sweep, in order | {} |",
        sweeps.join(", ")
    )
    .unwrap();
    writeln!(
        w,
        "| the most deferrals of one launch | {} |",
        s.most_deferrals
    )
    .unwrap();
    writeln!(
        w,
        "| runs not started exactly once (no task, two tasks, an attempt 2, not RUNNING) | {} |",
        s.wrong.len()
    )
    .unwrap();
    writeln!(
        w,
        "| runs FAILED or with an attempt used up | {} |",
        s.failed
    )
    .unwrap();
    writeln!(w, "| drain: the tick to the last run's launch | **{:.0} s**, floor {:.0} s ({} / {RUN_TASK_RATE:.0} a second) |", s.drain_seconds, floor, s.ticks).unwrap();
    writeln!(
        w,
        "| the starters' own wall time on moto | {:.0} s |\n",
        s.starters_seconds
    )
    .unwrap();
    writeln!(w, "Why the drain is above the floor: the starters launch what the bucket lets through while they run and defer the rest; the first sweep comes at the next whole minute, and a sweep drains for at most its budget (50 s at 20 launches a second: 1,000 runs), so {} ticks take the starters' share, then whole sweeps. In AWS the starters' own time is seconds (Lambda runs them side by side); here it is moto's pace, and the bucket refills meanwhile.\n", s.ticks).unwrap();
}

/// Section 10: which limit binds first, the table's hottest partition key or ECS's launch rate.
fn partition_section(w: &mut String, scenarios: &[crate::calls::Scenario]) {
    use std::collections::BTreeSet;
    const PARTITION_WRITE_UNITS: f64 = 1000.0;
    let shards = reactor_aws::flow::Settings::default().sweep_shards;
    let keys: BTreeSet<&(String, String)> =
        scenarios.iter().flat_map(|s| s.per_key.keys()).collect();
    let spread = |key: &str| -> Option<f64> {
        if key.contains("<run>")
            || key.contains("<task>")
            || key.contains("<job>")
            || key == reactor_aws::records::RECONCILE_CURSOR_PK
        {
            None
        } else if key.contains("<shard>") {
            Some(f64::from(shards))
        } else {
            Some(1.0)
        }
    };
    writeln!(
        w,
        "## 10. The table's partition keys next to ECS's launch rate\n"
    )
    .unwrap();
    writeln!(w, "From the writes recorded in section 5, the write units each run puts on each partition key of the table and its indexes (a key holding the run's own id, task or job is its own; the others are shared by every run, `DUE#<shard>` spread over the {shards} sweep shards). A partition takes at most {PARTITION_WRITE_UNITS:.0} write units a second (DynamoDB's per-partition limit; adaptive capacity can split a hot key by sort key, which is not counted on here), so a shared key passes it at {PARTITION_WRITE_UNITS:.0} / (units per run) runs a second, whatever the table's capacity. ECS launches 20 tasks a second per account and Region (section 9), one a run.\n").unwrap();
    write!(w, "| partition key | where |").unwrap();
    for s in scenarios {
        write!(w, " units per run: {} |", s.name).unwrap();
    }
    writeln!(
        w,
        " runs a second at {PARTITION_WRITE_UNITS:.0} units a second |"
    )
    .unwrap();
    writeln!(w, "|{}", "---|".repeat(scenarios.len() + 3)).unwrap();
    let mut binding: Option<(f64, String)> = None;
    for (place, key) in keys {
        write!(w, "| `{key}` | {place} |").unwrap();
        let mut most: f64 = 0.0;
        for s in scenarios {
            let units = s
                .per_key
                .get(&(place.clone(), key.clone()))
                .copied()
                .unwrap_or(0.0);
            most = most.max(units);
            write!(w, " {units:.0} |").unwrap();
        }
        match spread(key) {
            Some(over) if most > 0.0 => {
                let rate = PARTITION_WRITE_UNITS * over / most;
                writeln!(w, " {rate:.0} |").unwrap();
                if binding.as_ref().is_none_or(|(r, _)| rate < *r) {
                    binding = Some((rate, format!("`{key}` ({place})")));
                }
            }
            _ if key == reactor_aws::records::RECONCILE_CURSOR_PK => {
                writeln!(w, " the sweep's cursor: one write a minute |").unwrap()
            }
            _ => writeln!(w, " its own: never shared |").unwrap(),
        }
    }
    if let Some((rate, key)) = binding {
        writeln!(w, "\nThe first key to bind is {key} at **{rate:.0} runs a second** (the worst of the runs above); ECS's 20 launches a second binds {:.0}× earlier, so the table is not the limit. Per job, `JOB#<job>` is shared by that job's runs only.\n", rate / 20.0).unwrap();
    }
}
