//! ecs-reactor's test support: what the integration tests, `make demo` and `make bench` share. Nothing here
//! ships in a Lambda or the CLI.
//!
//! A map of the crate:
//! - [`moto`]: moto server started on a free loopback port (one per process, a serial one, a soak one), and
//!   SDK configuration pointing at it. Fails with a clear message when moto is not installed (`make venv`).
//! - [`rie`]: the Lambda binaries built once and run under SAM's runtime emulator (RIE), invoked over HTTP
//!   as `sam local invoke` would; the emulator's port is one per machine, hence [`rie::one_at_a_time`].
//! - [`provision`]: the attempts table as template.yml declares it (a test keeps the two equal).
//! - [`stack`]: a provisioned stack on moto (table, topic, cluster, task definition) with the real handlers
//!   wired to it, and sample events (`events/`) aimed at its tasks.
//! - [`story`]: the demo's story (a Docker Hub rate limit, a delayed retry, success), asserted by a test and
//!   told by `make demo`.
//! - [`faults`]: an HTTP connector under the SDK clients that fails chosen calls (an AWS error, a lost answer,
//!   a dead process) by a plan: the crash and fault suites, and the benchmark's throttled RunTask.
//! - [`recorded`]: a metric sink that keeps every data point, for assertions.

// Test support: a panic with its message is how a test (or the demo, or the bench) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod faults;
pub mod moto;
pub mod provision;
pub mod recorded;
pub mod rie;
pub mod stack;
pub mod story;

use std::path::PathBuf;

/// The repository root (events, template.yml, the Python venv and the target directory are found from it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The handlers' `now` for a test that plays fixed ticks but wants its runs recent (the command line's windows
/// count from the real clock): the real time, but never before `tick` (plus a few seconds), so a suite run with
/// the clock set before the tick (`make test-clock`) does not see the tick refused as one from the future.
pub fn now_after(tick: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc().max(utc(tick) + time::Duration::seconds(5))
}

/// A time written as in the table (`2026-11-21T02:30:00Z`), for items a test writes itself.
pub fn utc(rfc3339: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"))
}
