//! `make bench`: the figures of BENCHMARKS.md, measured in one run on this machine — cold start, warm duration
//! and own CPU, memory over many invocations (the real Lambda binaries under SAM's runtime emulator, against
//! moto), the deployable package, AWS calls and cost per run (the real handlers, their clients counted by an
//! interceptor) next to the Step Functions design, a Python/boto3 twin of the classifier, a burst of STOPPED
//! events, and how late delayed retries fire (the real sweep on a simulated clock).
//!
//! `--quick` runs every section small (a few starts and invocations, the debug binaries) so that a test can
//! prove the benchmark still runs; its figures are not the benchmark's.
//!
//! Usage: `bench [--quick] [--bin-dir DIR] [--out FILE] [--storm N] [--lateness-only]` (default: the debug
//! binaries, BENCHMARKS.md; `--storm` sets the cron storm's ticks; `--lateness-only` runs the burst and its
//! retries' lateness alone and prints the figures, writing nothing).

// A benchmark program: a panic with its message is the right way to fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reactor_testkit::{moto, rie, stack};

mod calls;
mod emulated;
mod flood;
mod lateness;
mod package;
mod play;
mod report;
mod stats;
mod storm;

mod cli {
    pub use reactor_testkit::root;
}

use std::path::PathBuf;
use std::time::Instant;

/// How big each section is.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    /// Where the Lambda binaries are (`target/release` for the benchmark, the tests' debug build otherwise).
    pub bin_dir: PathBuf,
    /// The build profile of those binaries, as BENCHMARKS.md states it.
    pub profile: String,
    pub out: PathBuf,
    /// Fresh starts per function.
    pub cold_starts: usize,
    /// Sequential warm invocations per function.
    pub invokes: usize,
    /// STOPPED events in the burst.
    pub burst: usize,
    /// Jobs ticking at the same minute in the cron storm.
    pub storm: usize,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let (mut quick, mut bin_dir, mut out, mut storm_size) =
        (false, None, cli::root().join("BENCHMARKS.md"), None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--lateness-only" => {}
            "--bin-dir" => bin_dir = Some(PathBuf::from(args.next().expect("--bin-dir DIR"))),
            "--out" => out = PathBuf::from(args.next().expect("--out FILE")),
            "--storm" => {
                storm_size = Some(args.next().and_then(|n| n.parse().ok()).expect("--storm N"))
            }
            other => panic!(
                "unknown argument {other:?}; usage: bench [--quick] [--bin-dir DIR] [--out FILE] [--storm N]"
            ),
        }
    }
    let bin_dir = bin_dir.unwrap_or_else(|| rie::binaries().to_path_buf());
    let profile = if bin_dir.ends_with("release") {
        "release"
    } else {
        "debug"
    }
    .to_owned();
    let (cold_starts, invokes, burst, storm) = if quick {
        (2, 10, 20, 60)
    } else {
        (21, 1000, 1000, 2000)
    };
    Options {
        quick,
        bin_dir,
        profile,
        out,
        cold_starts,
        invokes,
        burst,
        storm: storm_size.unwrap_or(storm),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    // moto one request at a time with a bounded stream per table (bench/moto_lean.py says why), before
    // anything starts moto.
    std::env::set_var("MOTO_SERVER", cli::root().join("bench/moto-server"));
    let options = options();
    let began = Instant::now();
    let say = |what: &str| eprintln!("[{:>6.1}s] {what}", began.elapsed().as_secs_f64());
    say(&format!(
        "bench: {} binaries in {}",
        options.profile,
        options.bin_dir.display()
    ));

    if std::env::args().any(|a| a == "--lateness-only") {
        // While working on the sweep: the burst and its retries' lateness, printed, nothing written.
        let burst = flood::run(options.burst).await;
        let lateness = lateness::run(&burst, options.quick).await;
        let late = &lateness.burst;
        say(&format!(
            "burst retries late p50 / p90 / p99 / max: {:.0} / {:.0} / {:.0} / {:.0} s ({} retries; {} delivered by the queue, {} fired by {} sweep(s), {} wrong)",
            stats::median(late),
            stats::percentile(late, 90.0),
            stats::percentile(late, 99.0),
            stats::max(late),
            late.len(),
            lateness.delivered,
            lateness.burst_by_sweep,
            lateness.sweeps,
            lateness.burst_wrong
        ));
        return;
    }
    say("AWS calls per run (in-process handlers, counted by an interceptor)");
    let calls = calls::run().await;
    say("the Lambdas under the runtime emulator: cold starts, warm invocations, memory");
    let functions = emulated::run(&options).await;
    say("package size");
    let package = package::run(&options);
    say(&format!("burst of {} STOPPED events", options.burst));
    let burst = flood::run(options.burst).await;
    say("retry lateness (the real sweep on a simulated clock, and the model)");
    let lateness = lateness::run(&burst, options.quick).await;
    say(&format!(
        "cron storm: {} ticks at once, RunTask throttled at ECS's rate",
        options.storm
    ));
    let storm = storm::run(options.storm).await;

    let markdown = report::render(&report::Figures {
        options: &options,
        calls: &calls,
        functions: &functions,
        package: &package,
        burst: &burst,
        lateness: &lateness,
        storm: &storm,
        seconds: began.elapsed().as_secs_f64(),
    });
    std::fs::write(&options.out, markdown).expect("write the report");
    say(&format!("wrote {}", options.out.display()));
}
