//! The attempts table: every state change is a conditional write keyed on run, attempt and expected state,
//! so that at-least-once delivery cannot apply a change twice.
//!
//! The [`Store`] the steps are generic over is four traits, one file each, every one implemented for
//! [`DynamoStore`] next to its declaration:
//! - [`runs`](runs.rs): a run created (with its job's lock), read, cancelled, redriven.
//! - [`launches`](launches.rs): an attempt's launch claimed, taken over, recorded with its task.
//! - [`decisions`](decisions.rs): **a judged attempt applied** with what follows (close, retry now, delay) in one
//!   transaction; notifications claimed and marked.
//! - [`sweeps`](sweeps.rs): the due delay and deadline items the sweep reads, and discards.
//! - [`registry`](registry.rs): the job registry `jobs apply` writes and a registered job's tick reads (not part
//!   of [`Store`]: only the starter and the CLI need it).
//!
//! Underneath: [`dynamo`](dynamo.rs) (the client, transactions, item mapping, errors) and
//! [`expression`](expression.rs) (every status/state condition derived from `reactor_core::transition`). Item
//! shapes and keys are [`crate::records`].

use crate::aws_error::AwsError;
use crate::records::{AttemptItem, ContainerEnd, DeadlineItem, DelayItem, RunItem};
use reactor_core::memory::TaskSize;
use reactor_core::run::RunStatus;
use time::OffsetDateTime;

/// What the store can fail with; the questions a handler asks are methods.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold: someone else changed the item first.
    #[error("conditional write refused: {0}")]
    ConditionFailed(String),
    /// DynamoDB or the network failed; a retry may help. The kind says which (throttled, no credentials …).
    #[error("DynamoDB: {0}")]
    Aws(#[source] AwsError),
    /// A request that could not be made as written, or a transaction cancelled for another reason than a
    /// condition; a retry may help.
    #[error("DynamoDB: {0}")]
    Service(String),
    /// An item could not be read back as a record: the table holds something this version does not understand.
    #[error("unreadable item {key}: {message}")]
    Corrupt { key: String, message: String },
}

impl StoreError {
    pub fn is_conditional_check_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed(_))
    }

    /// Worth retrying the whole invocation.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Service(_) | StoreError::Aws(_))
    }

    /// The AWS failure underneath, with its kind, if DynamoDB (or the way to it) failed.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            StoreError::Aws(e) => Some(e),
            _ => None,
        }
    }
}

/// The outcome of creating a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// The run existed already: a duplicate delivery of the same tick or request.
    AlreadyExists,
    /// The job's lock no longer names the run the caller expected (another run took it meanwhile).
    LockTaken,
}

/// What is written with a launch, besides the task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchFacts {
    /// The size ecs-reactor asked for (after an OutOfMemoryError), shown per attempt by `show`.
    pub size: Option<TaskSize>,
    /// When the task must be stopped (`timeoutSeconds` / `runTimeoutSeconds`).
    pub deadline: Option<DeadlineItem>,
}

/// What happened to an attempt, as the event (or the failed launch) told it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StopFacts {
    pub task_arn: Option<String>,
    pub started_at: Option<OffsetDateTime>,
    pub stopped_at: Option<OffsetDateTime>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerEnd>,
    pub event_version: Option<u64>,
    /// The task's size as ECS reported it.
    pub size: Option<TaskSize>,
    /// The attempt ran under a deadline: its deadline item goes with the decision.
    pub had_deadline: bool,
}

/// What follows a decision, prepared by the caller so that the store writes it in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// SUCCEED or FAIL: the run ends in this status; with `notify_lease_until`, the decider takes the right to
    /// publish the outcome (until then, epoch seconds) in the same write.
    Close {
        status: RunStatus,
        notify_lease_until: Option<i64>,
    },
    /// RETRY_NOW: the next attempt, claimed.
    RetryNow(Box<AttemptItem>),
    /// RETRY_LATER: the delay item whose TTL is the due time.
    RetryLater(DelayItem),
}

/// How applying a decision went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The attempt was judged already: a duplicate event or a redelivery.
    Duplicate,
    /// The run has moved on (cancelled, finished, or another attempt is current): nothing to do.
    Stale,
}

/// How recording a launch went.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The run is RUNNING the attempt's task (now, or already: a redelivery).
    Recorded,
    /// The run was cancelled (or otherwise moved on) while the task was being launched: the task is an orphan.
    RunMovedOn(Box<RunItem>),
}

/// How a cancel or redrive request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Changed,
    /// The run was not in a state that allows it (or changed under the caller): nothing was written.
    Refused,
}

/// How claiming a due retry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// This caller claimed the attempt: it launches it.
    Claimed,
    /// The attempt was claimed already (TTL and sweep both fired, or a redelivery): nothing to do.
    AlreadyClaimed,
    /// The run is no longer waiting for this retry (cancelled, or it moved on): nothing to do.
    Stale,
}

/// The table operations the handlers need.
/// The table operations the handlers need: one trait per concern, each in its own file.
pub trait Store: Runs + Launches + Decisions + Sweeps + Registry {}

impl<T: Runs + Launches + Decisions + Sweeps + Registry> Store for T {}

mod decisions;
mod dynamo;
mod expression;
mod launches;
mod registry;
mod runs;
mod sweeps;

pub use decisions::Decisions;
pub use dynamo::DynamoStore;
pub(crate) use dynamo::{built, read_item, service};
pub use launches::Launches;
pub use registry::Registry;
pub use runs::Runs;
pub use sweeps::{QuietRun, Sweeps};

/// The store's traits, to call its operations on a concrete [`DynamoStore`]: `use reactor_aws::store::prelude::*`.
pub mod prelude {
    pub use super::{Decisions, Launches, Registry, Runs, Sweeps};
}
