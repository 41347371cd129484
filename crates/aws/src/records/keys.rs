//! The table's keys and indexes: one helper per key (and one to read a run id back), the index definitions,
//! and the attributes every status change writes. Nothing else spells a prefix or an index attribute.

use reactor_core::run::RunStatus;

pub const RUN_SK: &str = "RUN";

const RUN_PREFIX: &str = "RUN#";
const DELAY_PREFIX: &str = "DELAY#";

pub fn run_pk(run_id: &str) -> String {
    format!("{RUN_PREFIX}{run_id}")
}

/// The run id of an item as an index answers it (keys only: its `pk`), if it is one of a run's items.
pub fn run_id_of_item(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Option<String> {
    let pk = item.get("pk")?.as_s().ok()?;
    run_id_of_pk(pk).map(str::to_owned)
}

/// The run id a partition key names (`RUN#<run id>`), if it is a run's.
pub fn run_id_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(RUN_PREFIX)
}

/// Whether a sort key is a delay item's (`DELAY#<attempt>`).
pub(crate) fn is_delay_sk(sk: &str) -> bool {
    sk.starts_with(DELAY_PREFIX)
}

pub fn attempt_sk(attempt: u32) -> String {
    format!("ATTEMPT#{attempt:04}")
}

pub fn delay_sk(attempt: u32) -> String {
    format!("{DELAY_PREFIX}{attempt:04}")
}

pub const DEADLINE_PREFIX: &str = "DEADLINE#";

pub fn deadline_sk(attempt: u32) -> String {
    format!("{DEADLINE_PREFIX}{attempt:04}")
}

pub const LOCK_SK: &str = "LOCK";

/// The one item outside runs the sweep keeps: where its last reconciliation stopped in the `byStatus` index.
pub const RECONCILE_CURSOR_PK: &str = "SWEEP";

/// The `byDue` partition of runs whose outcome is being published: a run item carries `dueShard` = this and
/// `dueAt` = the publisher's lease while it holds the right to publish; publishing removes both. A run still
/// there after its lease was not published (the publisher failed for good), and the sweep publishes it.
pub const NOTIFY_DUE_SHARD: &str = "DUE#NOTIFY";
pub const RECONCILE_CURSOR_SK: &str = "RECONCILE";

/// A registered job's ticks that never started a run: `MISSED#<job>` / `<tick>`, one item each, so that each is
/// counted once however many sweeps notice it.
pub fn missed_pk(job: &str) -> String {
    format!("MISSED#{job}")
}

/// The job registry's one partition: a registered job's item is `JOBS` / `<job>`, so `jobs list` is one Query.
pub const REGISTRY_PK: &str = "JOBS";

/// The partition of a job's lock item.
pub fn lock_pk(job: &str) -> String {
    format!("JOB#{job}")
}

pub fn job_key(job: &str) -> String {
    format!("JOB#{job}")
}

pub fn status_key(status: RunStatus) -> String {
    format!("STATUS#{status}")
}

/// The `byStatus` sort key of a run whose status changed at `at`: runs in a status list by last change.
pub fn status_sort_key(at: &str, run_id: &str) -> String {
    format!("{at}#{run_id}")
}

/// Every attribute a run's status change writes, with the index keys that go with it: the status, when it
/// changed, and its place in the `byStatus` index. Each write that moves a run uses this one list.
pub fn status_change(status: RunStatus, at: &str, run_id: &str) -> [(&'static str, String); 4] {
    [
        ("status", status.as_str().to_owned()),
        ("updatedAt", at.to_owned()),
        ("byStatusPk", status_key(status)),
        ("byStatusSk", status_sort_key(at, run_id)),
    ]
}

pub fn due_shard_key(shard: u32) -> String {
    format!("DUE#{shard}")
}

/// The one `byCreated` partition.
pub const ALL_RUNS_KEY: &str = "RUNS";

/// A global secondary index of the table: its name and key attributes (template.yml declares the same).
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// Runs of a job (`JOB#<job>`), by `<createdAt>#<runId>`; keys only.
pub const BY_JOB: Index = Index {
    name: "byJob",
    partition_key: "byJobPk",
    sort_key: "byJobSk",
};
/// Runs in a status (`STATUS#<status>`), by `<updatedAt>#<runId>`; keys only.
pub const BY_STATUS: Index = Index {
    name: "byStatus",
    partition_key: "byStatusPk",
    sort_key: "byStatusSk",
};
/// Every run under one key, by `<createdAt>#<runId>`; keys only.
pub const BY_CREATED: Index = Index {
    name: "byCreated",
    partition_key: "byCreatedPk",
    sort_key: "byCreatedSk",
};
/// Delay and deadline items of a sweep shard (`DUE#<shard>`), by due time (epoch seconds).
pub const BY_DUE: Index = Index {
    name: "byDue",
    partition_key: "dueShard",
    sort_key: "dueAt",
};
