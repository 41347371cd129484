//! Runs and attempts: their identities and states, and the rules for moving between states.
//!
//! A *run* is one execution of a job (one schedule tick, one `start`); an *attempt* is one task launch within
//! it, numbered from 1. Every state change is a conditional write keyed on run, attempt number and expected
//! state (see the AWS adapter); this module says which changes are allowed, so that the adapter and the
//! tests agree on one table.

use crate::started_by::{is_valid_run_id, AttemptRef, Namespace};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// An attempt is claimed and being launched (RunTask not yet confirmed).
    Launching,
    /// The current attempt's task is running (or starting).
    Running,
    /// A delayed retry is waiting for its due time.
    RetryScheduled,
    Succeeded,
    Failed,
    Cancelled,
    /// Never launched: `concurrency: FORBID` and another run of the job was unfinished.
    Skipped,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Launching,
        RunStatus::Running,
        RunStatus::RetryScheduled,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Launching => "LAUNCHING",
            RunStatus::Running => "RUNNING",
            RunStatus::RetryScheduled => "RETRY_SCHEDULED",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Cancelled => "CANCELLED",
            RunStatus::Skipped => "SKIPPED",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further attempt will be made (until a redrive).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Skipped
        )
    }

    /// A STOPPED event of the run's current attempt may be judged in this state. LAUNCHING is included:
    /// a task can stop before the launcher has recorded it (or after it crashed recording it).
    pub fn accepts_stop(self) -> bool {
        crate::transition::RunEvent::Decided(crate::policy::Action::Fail)
            .from()
            .contains(&self)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STAMP: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// The run id of a request that has no scheduled time: `<job>-<discriminator of key>`. The key is what stays
/// the same across redeliveries of the request (the invocation's request id, which Lambda keeps across its
/// own retries of an asynchronous invocation; an idempotency key a script chooses), never the clock: a retry
/// arrives minutes later and must name the same run.
pub fn request_run_id(job: &str, key: &str) -> Result<String, RunIdError> {
    let id = format!("{job}-{}", discriminator(key));
    if is_valid_run_id(&id) {
        Ok(id)
    } else {
        Err(RunIdError::Invalid(id))
    }
}

/// The run id of a job started at `at`: `<job>-<yyyymmddThhmmssZ>`, plus `-<discriminator>` when given.
///
/// A schedule tick carries its scheduled time, so every delivery of the same tick derives the same id and the
/// conditional create of the run record lets only the first one through.
pub fn run_id(
    job: &str,
    at: OffsetDateTime,
    discriminator: Option<&str>,
) -> Result<String, RunIdError> {
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .map_err(|_| RunIdError::Time)?;
    let id = match discriminator {
        Some(d) => format!("{job}-{stamp}-{d}"),
        None => format!("{job}-{stamp}"),
    };
    if is_valid_run_id(&id) {
        Ok(id)
    } else {
        Err(RunIdError::Invalid(id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunIdError {
    #[error("the time cannot be written as a run id")]
    Time,
    #[error(
        "run id {0:?} would not fit startedBy (letters, digits, '-', '_'; at most 102 characters)"
    )]
    Invalid(String),
}

/// A short discriminator from arbitrary text (a request id): 10 lowercase base-32 characters of its FNV-1a hash.
pub fn discriminator(text: &str) -> String {
    let hash = fnv1a64(text.as_bytes());
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..10)
        .map(|i| ALPHABET[((hash >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The RunTask `clientToken` of an attempt: deterministic (a retried launch of the same attempt reuses it, so
/// ECS starts the task once), the stack's own (ECS honours a token account-wide: another stack's run of the same
/// name must not get this stack's task back) and within ECS's 64 characters.
pub fn client_token(namespace: &Namespace, attempt: &AttemptRef) -> String {
    format!(
        "{namespace}-{:016x}-{}",
        fnv1a64(attempt.run_id.as_bytes()),
        attempt.attempt
    )
}

/// The DynamoDB `ClientRequestToken` of the transaction that creates a run: a retry within ten minutes is a
/// no-op. DynamoDB honours a token account-wide, so the table is part of it (two stacks, one run name).
pub fn create_token(table: &str, run_id: &str) -> String {
    let key = format!("{table}/{run_id}");
    format!("ecs-reactor-{:016x}", fnv1a64(key.as_bytes()))
}

/// Which of `shards` sweep partitions a delay item goes to: spread by run so the sweep has no hot key.
pub fn delay_shard(run_id: &str, shards: u32) -> u32 {
    (fnv1a64(run_id.as_bytes()) % u64::from(shards.max(1))) as u32
}

/// The jitter seed of an attempt's retry delay: deterministic, so that a redelivered event computes the same
/// delay, and different per run, so that runs failing together do not retry together.
pub fn jitter_seed(attempt: &AttemptRef) -> u64 {
    fnv1a64(attempt.run_id.as_bytes())
        ^ u64::from(attempt.attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn run_ids() {
        let at = datetime!(2026-11-21 02:30:00 UTC);
        assert_eq!(
            run_id("nightly-report", at, None).unwrap(),
            "nightly-report-20261121T023000Z"
        );
        assert_eq!(
            run_id("j", at, Some("abc")).unwrap(),
            "j-20261121T023000Z-abc"
        );
        let paris = datetime!(2026-11-21 03:30:00 +1);
        assert_eq!(
            run_id("j", paris, None).unwrap(),
            "j-20261121T023000Z",
            "always UTC"
        );
        assert!(matches!(
            run_id(&"x".repeat(100), at, None),
            Err(RunIdError::Invalid(_))
        ));
    }

    #[test]
    fn statuses_round_trip_and_classify() {
        for st in RunStatus::ALL {
            assert_eq!(RunStatus::parse(st.as_str()), Some(st));
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
            assert!(!(st.is_terminal() && st.accepts_stop()), "{st}");
        }
        assert_eq!(RunStatus::parse("DONE"), None);
    }

    proptest! {
        #[test]
        fn client_tokens_fit_ecs_and_are_the_stacks_own(
            namespace in "[A-Za-z0-9_-]{1,20}",
            run in "[A-Za-z0-9_-]{1,102}",
            attempt in 1u32..=9999,
        ) {
            let ns = Namespace::new(&namespace).unwrap();
            let token = client_token(&ns, &AttemptRef { run_id: run.clone(), attempt });
            prop_assert!(token.len() <= 64);
            prop_assert!(token.bytes().all(|b| (33..=126).contains(&b)));
            let other = client_token(&ns, &AttemptRef { run_id: run.clone(), attempt: attempt % 9999 + 1 });
            prop_assert_ne!(&token, &other);
            let other_stack = Namespace::new(if namespace == "ecs-reactor" { "other" } else { "ecs-reactor" }).unwrap();
            prop_assert_ne!(&token, &client_token(&other_stack, &AttemptRef { run_id: run, attempt }));
        }

        #[test]
        fn create_tokens_fit_dynamodb_and_are_the_tables_own(table in "[A-Za-z0-9_.-]{3,255}", run in "[A-Za-z0-9_-]{1,102}") {
            let token = create_token(&table, &run);
            prop_assert!(token.len() <= 36);
            prop_assert_ne!(token, create_token(&format!("{table}2"), &run));
        }

        #[test]
        fn discriminators_are_run_id_safe(text in ".{0,80}", shards in 1u32..64) {
            let d = discriminator(&text);
            prop_assert_eq!(d.len(), 10);
            prop_assert!(is_valid_run_id(&d));
            prop_assert!(delay_shard(&text, shards) < shards);
        }
    }
}
