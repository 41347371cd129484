//! The items of the attempts table, as on-call reads them.
//!
//! One table, three kinds of item under the run's partition `RUN#<run id>`:
//!
//! | item | sort key | what it holds | indexes |
//! |---|---|---|---|
//! | run | `RUN` | job, status, current attempt, the job request, last decision, cancel/redrive | `byJob` (runs of a job, newest first), `byStatus` (runs in a status, by last change), `byCreated` (all runs, newest first; keys only) |
//! | attempt | `ATTEMPT#0001` | task, times, stop code, reasons, exit codes, decision and rule, next retry time | `byTask` (the run of a task ARN) |
//! | delay | `DELAY#0002` | the attempt to launch and when (`ttl`, epoch seconds) | `byDue` (overdue delays, sharded) |
//! | deadline | `DEADLINE#0001` | the running attempt's task and when it must be stopped (no `ttl`) | `byDue` (sharded) |
//!
//! While its outcome is being published, a run item is also in `byDue` (`dueShard` `DUE#NOTIFY`, `dueAt` the
//! publisher's lease); publishing removes both, so a run still there after the lease is one the sweep publishes.
//!
//! Two items outside run partitions: the job lock `JOB#<job>` / `LOCK` of a job with `concurrency` FORBID or
//! REPLACE, naming the run that holds the job (never released; a new run takes it over when its holder has
//! finished, a conditional write on the holder's id, so no crash can leave a job locked); and `SWEEP` /
//! `RECONCILE`, where the sweep's last check of quiet RUNNING runs stopped in `byStatus`.
//!
//! The job registry: one item per registered job, `JOBS` / `<job>` ([`JobItem`]), the job file `jobs apply`
//! wrote (the request and its schedule) that a registered job's tick starts a run of, and who suspended it.
//!
//! So a run's whole story is one Query on its partition, and every other question on-call asks (README: On-call runbook) is one Query
//! on an index. Items stay well under 4 KB: reasons are ECS's (≤ 255 chars), the job request ≤ ~10 KB is the
//! exception and lives only on the run item.

use reactor_core::deadline::{Deadline, DeadlineKind};
use reactor_core::memory::TaskSize;
use reactor_core::run::{client_token, delay_shard, RunStatus};
use reactor_core::Action;
use reactor_core::{AttemptRef, Namespace};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use keys::*;
pub use wire_time::stamp;

mod keys;
pub mod wire_time;

/// The delay item an image from the table's stream holds (a TTL delete's old image), or `None` if the image
/// is another kind of item. `Err`: a delay item this version cannot read.
pub fn delay_of_image(image: serde_dynamo::Item) -> Result<Option<DelayItem>, serde_dynamo::Error> {
    let is_delay =
        matches!(image.get("sk"), Some(serde_dynamo::AttributeValue::S(sk)) if is_delay_sk(sk));
    if !is_delay {
        return Ok(None);
    }
    serde_dynamo::from_item(image).map(Some)
}

/// The version of the item shapes this release writes: every item it puts carries it as `schemaVersion`.
/// Items without one were written by the first release (version 1) and read the same; a reader refuses, by
/// key, an item of a higher version (a newer release's). Version 2 added `scheduledAt` on runs (optional).
/// Version 3 added `sealedOverrides` on runs: a release before it would launch the `(sealed)` placeholders, so
/// only the items that carry it are written as version 3 ([`schema_version_of`]); every other item stays 2.
/// What changes a version, and the upgrade procedure: docs/DEPLOY.md, "Upgrades".
pub const SCHEMA_VERSION: u32 = 3;
pub const SCHEMA_VERSION_ATTRIBUTE: &str = "schemaVersion";

/// The schema version an item is written as: the lowest that reads it right (so a rollback to the release
/// before keeps reading every item it can).
pub fn schema_version_of(item: &std::collections::HashMap<String, impl Sized>) -> u32 {
    if item.contains_key("sealedOverrides") {
        3
    } else {
        2
    }
}

/// The run item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunItem {
    pub pk: String,
    pub sk: String,
    pub run_id: String,
    pub job: String,
    pub status: RunStatus,
    /// The attempt in progress (or the last one, once the run is over).
    pub attempt: u32,
    /// Earlier attempts that ended in a disruption and were relaunched for free.
    pub disruptions: u32,
    #[serde(with = "wire_time")]
    pub created_at: OffsetDateTime,
    #[serde(with = "wire_time")]
    pub updated_at: OffsetDateTime,
    /// The tick that started the run (a schedule's), told to its containers as their scheduled time; absent
    /// for a direct request (then `created_at` is) and on runs written before it existed.
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_at: Option<OffsetDateTime>,
    /// The job request as validated, JSON; with a key configured, each environment value and command argument
    /// reads `(sealed)` (`reactor_core::secrets`) and the values are in `sealed_overrides`.
    pub request: String,
    /// The request's override values, encrypted (`crate::vault`): only the functions' role may open them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_overrides: Option<String>,
    /// The containers whose exit decides, once known (job, else task definition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential_containers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rule_id: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_retry_at: Option<OffsetDateTime>,
    /// When the outcome was published to SNS (a finished run notifies once).
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub notified_at: Option<OffsetDateTime>,
    /// Epoch seconds until which one invocation holds the right to publish the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_lease_until: Option<i64>,
    /// Redrives so far; the budget counts from `countsFrom`, the first attempt after the latest one.
    #[serde(default)]
    pub redrives: u32,
    #[serde(default = "first_attempt")]
    pub counts_from: u32,
    /// Who cancelled the run (or redrove it last), in their words, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redriven_by: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub redriven_at: Option<OffsetDateTime>,
    /// The size attempts launch with, once ecs-reactor raised it after an OutOfMemoryError.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_size: Option<TaskSize>,
    /// `concurrency: REPLACE`: the run this one cancelled (or is to cancel) before its first launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// `concurrency: FORBID`: the unfinished run this SKIPPED run gave way to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_for: Option<String>,
    /// `byJob` index: `JOB#<job>`, sorted by `<createdAt>#<runId>`.
    pub by_job_pk: String,
    pub by_job_sk: String,
    /// `byStatus` index: `STATUS#<status>`, sorted by `<updatedAt>#<runId>`.
    pub by_status_pk: String,
    pub by_status_sk: String,
    /// `byCreated` index (keys only, so later updates of the run never write it): every run under one key,
    /// sorted by `<createdAt>#<runId>`, for "what ran lately" across jobs.
    pub by_created_pk: String,
    pub by_created_sk: String,
}

fn first_attempt() -> u32 {
    1
}

/// Where an attempt stands: the core's type, with its transition table.
pub use reactor_core::transition::AttemptState;

/// A container's end, kept because DescribeTasks forgets a stopped task after about an hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEnd {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An attempt item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptItem {
    pub pk: String,
    pub sk: String,
    pub run_id: String,
    pub attempt: u32,
    pub state: AttemptState,
    pub started_by: String,
    pub client_token: String,
    #[serde(with = "wire_time")]
    pub claimed_at: OffsetDateTime,
    /// Also the `byTask` index key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub launched_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopped_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerEnd>,
    /// `detail.version` of the event that was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_as_attempt: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    /// What on-call could check, from the rule that judged the attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_retry_at: Option<OffsetDateTime>,
    /// The task's size: as ECS reported it when it stopped, else as ecs-reactor asked for it at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, rename = "memoryMiB", skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// When the attempt's task must stop (RFC 3339) and which limit that is (`timeoutSeconds` …).
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline_at: Option<OffsetDateTime>,
    /// When the outcome of a retry decision was published (`notify.on` RETRYING).
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub notified_at: Option<OffsetDateTime>,
    /// Epoch seconds until which the claimer has the attempt's launch to itself; after it, a launch that
    /// was interrupted (the invocation crashed between claim and RunTask) may be resumed by someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_lease_until: Option<i64>,
    /// How often AWS refused to launch this attempt for reasons of its own (throttled, a server error), the
    /// last such answer and when: the launch was deferred each time, the attempt kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrals: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deferral: Option<String>,
    #[serde(
        default,
        with = "wire_time::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub deferred_at: Option<OffsetDateTime>,
}

/// A delay item: "launch attempt N of this run at `dueAt`". DynamoDB's TTL deletes it some time after `ttl`
/// (the stream then wakes the scheduler); the sweep finds it through `byDue` if TTL is late.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayItem {
    pub pk: String,
    pub sk: String,
    pub run_id: String,
    /// The attempt to launch.
    pub attempt: u32,
    /// Epoch seconds; also the `byDue` sort key.
    pub due_at: i64,
    /// TTL attribute: epoch seconds, equal to `dueAt`.
    pub ttl: i64,
    /// `byDue` partition: `DUE#<shard>`.
    pub due_shard: String,
}

/// A deadline item: "stop attempt N's task at `dueAt`" (`timeoutSeconds` / `runTimeoutSeconds`). Shares the
/// `byDue` index with delay items (one Query per shard serves both), but has no `ttl`: it is the sweep's alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadlineItem {
    pub pk: String,
    pub sk: String,
    pub run_id: String,
    pub attempt: u32,
    pub task_arn: String,
    /// Epoch seconds; also the `byDue` sort key.
    pub due_at: i64,
    pub due_shard: String,
    /// ATTEMPT (`timeoutSeconds`) or RUN (`runTimeoutSeconds`).
    pub kind: String,
    pub limit_seconds: u32,
}

impl DeadlineItem {
    pub fn new(
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        deadline: &Deadline,
        shards: u32,
    ) -> DeadlineItem {
        DeadlineItem {
            pk: run_pk(run_id),
            sk: deadline_sk(attempt),
            run_id: run_id.into(),
            attempt,
            task_arn: task_arn.into(),
            due_at: deadline.at,
            due_shard: due_shard_key(delay_shard(run_id, shards)),
            kind: deadline.kind.as_str().into(),
            limit_seconds: deadline.limit_seconds,
        }
    }

    pub fn deadline(&self) -> Deadline {
        Deadline {
            at: self.due_at,
            kind: DeadlineKind::parse(&self.kind).unwrap_or(DeadlineKind::Attempt),
            limit_seconds: self.limit_seconds,
        }
    }
}

/// What the sweep found due in `byDue`.
#[derive(Debug, Clone, PartialEq)]
pub enum DueItem {
    Retry(DelayItem),
    Deadline(DeadlineItem),
}

impl DueItem {
    /// When it falls due, epoch seconds (its `byDue` sort key).
    pub fn due_at(&self) -> i64 {
        match self {
            DueItem::Retry(delay) => delay.due_at,
            DueItem::Deadline(deadline) => deadline.due_at,
        }
    }
}

/// A registered job: the job file as applied (JSON: the job request and its `schedule`), and whether on-call
/// suspended it. A tick of the job's schedule starts a run of this spec; the run keeps its own copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobItem {
    pub pk: String,
    pub sk: String,
    pub job: String,
    /// The job file as applied, JSON; with a key, its environment values and command arguments read `(sealed)`
    /// and the values are in `sealed_overrides` (as on a run item).
    pub spec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_overrides: Option<String>,
    /// 1 for the first apply, one more for each that changed the spec: an apply writes only over the revision
    /// it planned from, so two applies racing cannot merge.
    pub revision: u64,
    #[serde(with = "wire_time")]
    pub applied_at: OffsetDateTime,
    /// Who applied it (their AWS identity).
    pub applied_by: String,
    /// Who suspended the job (`jobs suspend`), when it is suspended: its ticks are recorded SKIPPED, and an
    /// apply keeps it suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_by: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire_time::optional"
    )]
    pub suspended_at: Option<OffsetDateTime>,
    /// When `jobs resume` last resumed it: a tick before then (while it was suspended) is not MISSED.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "wire_time::optional"
    )]
    pub resumed_at: Option<OffsetDateTime>,
    /// What was last written to the job's schedule, as a fingerprint of the schedule, its state and its target
    /// (`jobs apply`, `suspend`, `resume`): an apply that computes another one writes the schedule again (a
    /// write that failed half-way, a new starter, role or queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_applied: Option<String>,
}

impl JobItem {
    /// Since when the job's schedule has been firing as registered: its last apply or resume (a tick before
    /// was another spec's, or came while it was suspended).
    pub fn firing_since(&self) -> OffsetDateTime {
        self.resumed_at
            .map_or(self.applied_at, |resumed| resumed.max(self.applied_at))
    }

    pub fn new(job: &str, spec: String, revision: u64, by: &str, at: OffsetDateTime) -> JobItem {
        JobItem {
            pk: REGISTRY_PK.into(),
            sk: job.into(),
            job: job.into(),
            spec,
            sealed_overrides: None,
            revision,
            applied_at: at,
            applied_by: by.into(),
            suspended_by: None,
            suspended_at: None,
            resumed_at: None,
            schedule_applied: None,
        }
    }
}

/// A registered job's tick that should have started a run and did not (MISSED), as the sweep noticed it. Kept
/// 90 days (TTL); nothing reads it back but on-call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedTickItem {
    pub pk: String,
    pub sk: String,
    pub job: String,
    /// The run id the tick would have started.
    pub run_id: String,
    #[serde(with = "wire_time")]
    pub noticed_at: OffsetDateTime,
    /// TTL attribute, epoch seconds.
    pub ttl: i64,
}

impl MissedTickItem {
    pub fn new(job: &str, tick: OffsetDateTime, run_id: &str, noticed_at: OffsetDateTime) -> Self {
        MissedTickItem {
            pk: keys::missed_pk(job),
            sk: stamp(tick),
            job: job.into(),
            run_id: run_id.into(),
            noticed_at,
            ttl: noticed_at.unix_timestamp() + 90 * 86_400,
        }
    }
}

/// A job's lock (`concurrency` FORBID or REPLACE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockItem {
    pub pk: String,
    pub sk: String,
    pub job: String,
    /// The run that holds the job.
    pub run_id: String,
    #[serde(with = "wire_time")]
    pub since: OffsetDateTime,
}

impl LockItem {
    pub fn new(job: &str, run_id: &str, since: OffsetDateTime) -> LockItem {
        LockItem {
            pk: lock_pk(job),
            sk: LOCK_SK.into(),
            job: job.into(),
            run_id: run_id.into(),
            since,
        }
    }
}

impl RunItem {
    /// A new run, LAUNCHING its first attempt.
    pub fn new(
        run_id: &str,
        job: &str,
        request: String,
        essential_containers: Option<Vec<String>>,
        at: OffsetDateTime,
    ) -> RunItem {
        let stamp = stamp(at);
        RunItem {
            pk: run_pk(run_id),
            sk: RUN_SK.into(),
            run_id: run_id.into(),
            job: job.into(),
            status: RunStatus::Launching,
            attempt: 1,
            disruptions: 0,
            created_at: at,
            updated_at: at,
            scheduled_at: None,
            request,
            sealed_overrides: None,
            essential_containers,
            last_action: None,
            last_rule: None,
            last_rule_id: None,
            next_retry_at: None,
            notified_at: None,
            notify_lease_until: None,
            redrives: 0,
            counts_from: 1,
            cancelled_by: None,
            cancelled_at: None,
            redriven_by: None,
            redriven_at: None,
            task_size: None,
            replaces: None,
            skipped_for: None,
            by_job_pk: job_key(job),
            by_job_sk: format!("{stamp}#{run_id}"),
            by_status_pk: status_key(RunStatus::Launching),
            by_status_sk: status_sort_key(&stamp, run_id),
            by_created_pk: ALL_RUNS_KEY.into(),
            by_created_sk: format!("{stamp}#{run_id}"),
        }
    }
}

impl AttemptItem {
    /// What this attempt ended with, for the judge's history rule (`repeated-failure`): `None` until it
    /// was judged.
    pub fn past_failure(&self) -> Option<reactor_core::judge::PastFailure> {
        let rule_id = self.rule_id.clone()?;
        Some(reactor_core::judge::PastFailure {
            attempt: self.attempt,
            rule_id,
            signature: reactor_core::judge::failure_signature(
                self.stop_code.as_deref(),
                self.stopped_reason.as_deref(),
                self.containers
                    .iter()
                    .map(|c| (c.name.as_str(), c.reason.as_deref())),
            ),
        })
    }

    /// Attempt `attempt` of a run of the stack `namespace`, CLAIMED at `at`, its launch leased to the claimer
    /// until `lease_until`.
    pub fn claim(
        namespace: &Namespace,
        run_id: &str,
        attempt: u32,
        at: OffsetDateTime,
        lease_until: i64,
    ) -> AttemptItem {
        let attempt_ref = AttemptRef {
            run_id: run_id.into(),
            attempt,
        };
        AttemptItem {
            pk: run_pk(run_id),
            sk: attempt_sk(attempt),
            run_id: run_id.into(),
            attempt,
            state: AttemptState::Claimed,
            started_by: namespace.started_by(&attempt_ref),
            client_token: client_token(namespace, &attempt_ref),
            claimed_at: at,
            task_arn: None,
            launched_at: None,
            started_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            containers: vec![],
            event_version: None,
            action: None,
            rule_id: None,
            rule: None,
            reason: None,
            counts_as_attempt: None,
            delay_seconds: None,
            hint: None,
            next_retry_at: None,
            cpu: None,
            memory_mib: None,
            deadline_at: None,
            notified_at: None,
            launch_lease_until: Some(lease_until),
            deferrals: None,
            last_deferral: None,
            deferred_at: None,
        }
    }

    /// The attempt's identity, as in its task's `startedBy`.
    pub fn attempt_ref(&self) -> AttemptRef {
        AttemptRef {
            run_id: self.run_id.clone(),
            attempt: self.attempt,
        }
    }
}

impl DelayItem {
    /// "Launch attempt `attempt` at `due_at`" (epoch seconds), in one of `shards` sweep partitions.
    pub fn new(run_id: &str, attempt: u32, due_at: i64, shards: u32) -> DelayItem {
        DelayItem {
            pk: run_pk(run_id),
            sk: delay_sk(attempt),
            run_id: run_id.into(),
            attempt,
            due_at,
            ttl: due_at,
            due_shard: due_shard_key(delay_shard(run_id, shards)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    #[rustfmt::skip]
    fn times_are_written_to_the_second_in_utc_and_read_back_in_any_rfc3339_form() {
        let cases: &[(&str, OffsetDateTime, &str)] = &[
            // on the wire (as read)          in memory                                  written back
            ("2026-11-21T02:30:00Z",          datetime!(2026-11-21 02:30:00 UTC),         "2026-11-21T02:30:00Z"),
            ("2026-11-21T02:41:40.733Z",      datetime!(2026-11-21 02:41:40.733 UTC),     "2026-11-21T02:41:40Z"),
            ("2026-11-21T03:30:00+01:00",     datetime!(2026-11-21 03:30:00 +1),          "2026-11-21T02:30:00Z"),
            ("0999-01-02T03:04:05Z",          datetime!(0999-01-02 03:04:05 UTC),         "0999-01-02T03:04:05Z"),
        ];
        for (wire, memory, written) in cases {
            let lock: LockItem = serde_json::from_value(serde_json::json!({
                "pk": "JOB#j", "sk": "LOCK", "job": "j", "runId": "r", "since": wire
            }))
            .unwrap();
            assert_eq!(lock.since, *memory, "{wire}");
            assert_eq!(serde_json::to_value(&lock).unwrap()["since"], *written, "{wire}");
        }
        let unreadable = serde_json::from_value::<LockItem>(serde_json::json!({
            "pk": "JOB#j", "sk": "LOCK", "job": "j", "runId": "r", "since": "yesterday"
        }));
        assert!(unreadable.unwrap_err().to_string().contains("\"yesterday\" is not RFC 3339"));
    }

    #[test]
    fn an_optional_time_is_left_out_when_absent_and_read_when_present() {
        let at = datetime!(2026-11-21 02:30:00 UTC);
        let mut attempt = AttemptItem::claim(&Namespace::default(), "r", 1, at, 0);
        let value = serde_json::to_value(&attempt).unwrap();
        assert!(value.get("launchedAt").is_none(), "{value}");
        attempt.launched_at = Some(at + time::Duration::seconds(5));
        let value = serde_json::to_value(&attempt).unwrap();
        assert_eq!(value["launchedAt"], "2026-11-21T02:30:05Z");
        let back: AttemptItem = serde_json::from_value(value).unwrap();
        assert_eq!(back, attempt);
    }
}
