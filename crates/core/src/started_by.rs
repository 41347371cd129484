//! `startedBy` of every task ecs-reactor launches: `ecs-reactor/<run>/<attempt>`.
//!
//! The prefix lets the EventBridge rule select our tasks and nobody else's; run and attempt in the value let
//! the classifier find the attempt without a lookup. ECS allows 128 characters of letters, digits, `-`, `/`
//! and `_`, so run ids are built from those alone.

use std::fmt;
use std::str::FromStr;

pub const PREFIX: &str = "ecs-reactor/";
/// ECS's limit on `startedBy`.
pub const MAX_LEN: usize = 128;

/// The attempt a task belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptRef {
    pub run_id: String,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartedByError {
    #[error("startedBy {0:?} is not ecs-reactor's (it does not start with {PREFIX:?})")]
    Foreign(String),
    #[error(
        "startedBy {0:?} has the ecs-reactor prefix but not the form ecs-reactor/<run>/<attempt>"
    )]
    Malformed(String),
}

impl StartedByError {
    /// Another launcher's task: not ours to judge.
    pub fn is_foreign(&self) -> bool {
        matches!(self, StartedByError::Foreign(_))
    }
}

/// Whose a stopped task is, as the classifier decides it (and `ecs-reactor explain` repeats): an attempt of
/// ours, another launcher's task (ignored, with the reason), or our prefix in a form we never write (poison).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Ours(AttemptRef),
    /// Not launched by ecs-reactor: why, in words.
    Foreign(String),
    Malformed(StartedByError),
}

pub fn owner_of(started_by: Option<&str>) -> Owner {
    match started_by.map(str::parse::<AttemptRef>) {
        None => Owner::Foreign("task has no startedBy: not launched by ecs-reactor".into()),
        Some(Ok(attempt)) => Owner::Ours(attempt),
        Some(Err(e)) if e.is_foreign() => Owner::Foreign(e.to_string()),
        Some(Err(e)) => Owner::Malformed(e),
    }
}

/// Whether `run_id` can be used in `startedBy`: letters, digits, `-`, `_`, short enough to leave room for
/// the prefix and a 4-digit attempt number.
pub fn is_valid_run_id(run_id: &str) -> bool {
    !run_id.is_empty()
        && PREFIX.len() + run_id.len() + 1 + 4 <= MAX_LEN
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for AttemptRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}/{}", self.run_id, self.attempt)
    }
}

impl FromStr for AttemptRef {
    type Err = StartedByError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| StartedByError::Foreign(s.to_owned()))?;
        let malformed = || StartedByError::Malformed(s.to_owned());
        let (run_id, attempt) = rest.rsplit_once('/').ok_or_else(malformed)?;
        let attempt: u32 = attempt.parse().map_err(|_| malformed())?;
        if attempt == 0 || !is_valid_run_id(run_id) || attempt.to_string().len() > 4 {
            return Err(malformed());
        }
        Ok(AttemptRef {
            run_id: run_id.to_owned(),
            attempt,
        })
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[(&str, Result<(&str, u32), bool>)] = &[
            ("ecs-reactor/nightly-20261121T023000Z/1", Ok(("nightly-20261121T023000Z", 1))),
            ("ecs-reactor/r_1/12", Ok(("r_1", 12))),
            ("ecs-svc/1234567890", Err(true)),
            ("", Err(true)),
            ("ecs-reactor/", Err(false)),
            ("ecs-reactor/run", Err(false)),
            ("ecs-reactor/run/0", Err(false)),
            ("ecs-reactor/run/x", Err(false)),
            ("ecs-reactor/a/b/1", Err(false)),
            ("ecs-reactor/run/12345", Err(false)),
        ];
        for &(input, ref want) in cases {
            let got = input.parse::<AttemptRef>();
            match (got, want) {
                (Ok(r), Ok((run, attempt))) => {
                    assert_eq!((r.run_id.as_str(), r.attempt), (*run, *attempt), "{input}")
                }
                (Err(e), Err(foreign)) => assert_eq!(e.is_foreign(), *foreign, "{input}: {e}"),
                (got, _) => panic!("{input}: unexpected {got:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn round_trips_within_ecs_limits(run in "[A-Za-z0-9_-]{1,111}", attempt in 1u32..=9999) {
            let r = AttemptRef { run_id: run, attempt };
            let s = r.to_string();
            prop_assert!(s.len() <= MAX_LEN);
            prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || "-/_".contains(c)));
            prop_assert_eq!(s.parse::<AttemptRef>().unwrap(), r);
        }
    }
}
