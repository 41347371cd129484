//! The workspace's one integration test binary: runs the built `ecs-reactor` like a user would.
//!
//! Modules by subject; each test names the files and flags it uses, so a failure reads like a bug report.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The test support lives in its own crate (`crates/testkit`), shared with `make demo` and `make bench`.
use reactor_testkit::{moto, rie, stack, story};

/// Proves: every AWS failure on-call meets (no region, unknown profile, no login, closed port, 403, 500,
/// throttling) is one line naming the cause and what to do; a closed pipe ends the CLI quietly.
mod aws_errors;
/// Proves: `make bench` still runs: the quick mode writes all ten sections with figures, and its cron storm (RunTask
/// throttled) starts every run exactly once.
mod bench;
/// Proves: concurrency, deadlines, memory escalation, notifications, metrics, the history rule: each through the real handlers.
mod beyond;
/// Proves: running the built `ecs-reactor` binary (shared helpers).
mod cli;
/// Proves: `make demo`'s story end to end: the rows, one task per attempt, the notification.
mod demo;
/// Proves: `dlq` explains each failure-queue shape; a replay judges or starts once through the flow, deleting only after success; purge needs --yes; no secret printed.
mod dlq;
/// Proves: every file in events/ on its Lambda binary under the runtime emulator: answer, rows, one log line; no secret logged.
mod emulated;
/// Proves: `explain` and `validate` on the sample events and on bad input.
mod explain;
/// Proves: throttled, failed and stalled AWS calls under the real adapters: classified, retried, nothing lost.
mod faults;
/// Proves: the three handlers in-process: launch, each decision and its consequence, TTL and sweep, duplicates.
mod handlers;
mod import_sfn;
/// Proves: `jobs apply` of 500 job files to moto's Scheduler and the registry (again: nothing; one changed: one; --prune; a broken file writes nothing); a registered tick runs once, SKIPPED while suspended; resume; run now.
mod jobs;
/// Proves: RunTask carries the attempt's identity; a relaunch adopts the task an interrupted launch started.
mod launcher;
/// Proves: `logs` prints an attempt's container lines from CloudWatch Logs (time, container; --container, --attempt, --json, --follow ends on a stopped task); another log driver is named; no stream yet is exit 4.
mod logs;
/// Proves: two stacks with two namespaces on one account share a cluster and a job, and neither adopts, judges, counts nor announces the other's tasks.
mod namespaces;
/// Proves: a notification reaches subscribers with its subject, attributes and body; filter policies choose.
mod notifier;
/// Proves: `runs`, `show`, `start`, `cancel`, `redrive` as a process: tables, --json, exit codes, the runbook, who acted (STS).
mod oncall;
/// Proves: cancel and redrive: nothing launches after a cancel; a redrive runs attempt n+1 with a fresh budget.
mod operate;
/// Proves: the README's rule tables are printed by the code they describe.
mod readme;
/// Proves: a task whose STOPPED event is lost is judged by the sweep from DescribeTasks (or as vanished), once.
mod reconcile;
/// Proves: a different request for an existing run, a tick from the future and an early TTL record are refused or left alone, loudly.
mod refusals;
/// Proves: exactly once under a crash after every AWS call of every step, duplicates and reordering.
mod reliability;
/// Proves: a retry scheduled for later is queued with its delay and fired once when the queue delivers it,
/// never early; unreadable messages are refused, a failed fire fails the invocation; what the queue did not take, the
/// sweep fires.
mod retry_queue;
/// Proves: jobs' environment values and commands are sealed in the table (on-call's queries, show, runs and explain
/// never show them) and every attempt launches with them; a sealed value opens only for its table and job.
mod sealed;
/// Proves: many runs with random endings and deliveries end exactly once, notified once.
mod soak;
/// Proves: `--stack NAME` finds the table and topic in the stack's outputs; explicit ones win; a missing stack or output is one line naming it.
mod stack_outputs;
/// Proves: each conditional write of the attempts table holds under duplicates and races.
mod store;
/// Proves: template.yml lints clean, equals the locally provisioned table, wires the loop, alarms every failure.
mod template;
/// Proves: runs the previous release left in the table (item schema 1) finish under this one; a newer release's item is refused by key.
mod upgrade;
