//! `startedBy` of every task ecs-reactor launches: `<namespace>/<run>/<attempt>`, the namespace being the
//! stack's (`ecs-reactor` unless the stack's `Namespace` parameter says otherwise).
//!
//! The namespace lets a stack's EventBridge rule select its own tasks and nobody else's — not even another
//! ecs-reactor stack's in the same account and Region; run and attempt in the value let the classifier find the
//! attempt without a lookup. ECS allows 128 characters of letters, digits, `-`, `/` and `_`, so namespaces and
//! run ids are built from those alone (never `/`, so one namespace is never the prefix of another's tasks).

use std::fmt;

/// ECS's limit on `startedBy`.
pub const MAX_LEN: usize = 128;
/// The longest namespace: what is left of [`MAX_LEN`] for run ids does not depend on the stack.
pub const NAMESPACE_MAX_LEN: usize = 20;
/// The namespace of a stack deployed with the defaults (and of every stack before namespaces existed).
pub const DEFAULT_NAMESPACE: &str = "ecs-reactor";

/// A stack's namespace: the first part of its tasks' `startedBy`, its metrics' CloudWatch namespace and its
/// RunTask client tokens. Two stacks in one account and Region need two namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "namespace {0:?} must be 1 to {NAMESPACE_MAX_LEN} letters, digits, '-' or '_' (it starts every task's \
     startedBy and names the metrics)"
)]
pub struct NamespaceError(pub String);

impl Namespace {
    pub fn new(name: &str) -> Result<Namespace, NamespaceError> {
        let ok = (1..=NAMESPACE_MAX_LEN).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Namespace(name.to_owned()))
        } else {
            Err(NamespaceError(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `startedBy` of an attempt launched by this stack.
    pub fn started_by(&self, attempt: &AttemptRef) -> String {
        format!("{}/{}/{}", self.0, attempt.run_id, attempt.attempt)
    }

    /// The attempt a `startedBy` names, if it is this stack's.
    pub fn parse(&self, started_by: &str) -> Result<AttemptRef, StartedByError> {
        let rest = started_by
            .strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StartedByError::Foreign {
                started_by: started_by.to_owned(),
                namespace: self.0.clone(),
            })?;
        let malformed = || StartedByError::Malformed {
            started_by: started_by.to_owned(),
            namespace: self.0.clone(),
        };
        let (run_id, attempt) = rest.rsplit_once('/').ok_or_else(malformed)?;
        let attempt: u32 = attempt.parse().map_err(|_| malformed())?;
        // Run ids are checked against the longest namespace when runs start; a task's value only has to fit.
        let fits = started_by.len() <= MAX_LEN && is_run_id_charset(run_id);
        if attempt == 0 || !fits || attempt.to_string().len() > 4 {
            return Err(malformed());
        }
        Ok(AttemptRef {
            run_id: run_id.to_owned(),
            attempt,
        })
    }

    /// Whose a stopped task is, as the classifier decides it (and `ecs-reactor explain` repeats).
    pub fn owner_of(&self, started_by: Option<&str>) -> Owner {
        match started_by.map(|s| self.parse(s)) {
            None => Owner::Foreign("task has no startedBy: not launched by ecs-reactor".into()),
            Some(Ok(attempt)) => Owner::Ours(attempt),
            Some(Err(e)) if e.is_foreign() => Owner::Foreign(e.to_string()),
            Some(Err(e)) => Owner::Malformed(e),
        }
    }
}

impl Default for Namespace {
    fn default() -> Namespace {
        Namespace(DEFAULT_NAMESPACE.to_owned())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The attempt a task belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptRef {
    pub run_id: String,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartedByError {
    #[error(
        "startedBy {started_by:?} is not this stack's (it does not start with \"{namespace}/\"): another \
         launcher's task, or another ecs-reactor stack's"
    )]
    Foreign {
        started_by: String,
        namespace: String,
    },
    #[error(
        "startedBy {started_by:?} has this stack's namespace but not the form {namespace}/<run>/<attempt>"
    )]
    Malformed {
        started_by: String,
        namespace: String,
    },
}

impl StartedByError {
    /// Another launcher's task (or another stack's): not ours to judge.
    pub fn is_foreign(&self) -> bool {
        matches!(self, StartedByError::Foreign { .. })
    }
}

/// Whose a stopped task is: an attempt of ours, another launcher's task (ignored, with the reason), or our
/// namespace in a form we never write (poison).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Ours(AttemptRef),
    /// Not launched by this stack: why, in words.
    Foreign(String),
    Malformed(StartedByError),
}

fn is_run_id_charset(run_id: &str) -> bool {
    !run_id.is_empty()
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `run_id` can be used in `startedBy` by any stack: letters, digits, `-`, `_`, short enough to leave
/// room for the longest namespace and a 4-digit attempt number.
pub fn is_valid_run_id(run_id: &str) -> bool {
    is_run_id_charset(run_id) && NAMESPACE_MAX_LEN + 1 + run_id.len() + 1 + 4 <= MAX_LEN
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
            // Another stack's namespace, or one that merely begins like ours: foreign, never judged here.
            ("ecs-reactor-prod/nightly-20261121T023000Z/1", Err(true)),
            ("ecs-reactorx/r/1", Err(true)),
            ("ecs/r/1", Err(true)),
        ];
        let ours = Namespace::default();
        for &(input, ref want) in cases {
            let got = ours.parse(input);
            match (got, want) {
                (Ok(r), Ok((run, attempt))) => {
                    assert_eq!((r.run_id.as_str(), r.attempt), (*run, *attempt), "{input}")
                }
                (Err(e), Err(foreign)) => assert_eq!(e.is_foreign(), *foreign, "{input}: {e}"),
                (got, _) => panic!("{input}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn namespaces() {
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("ecs-reactor", true),
            ("prod_2", true),
            ("a", true),
            ("abcdefghij0123456789", true),
            ("abcdefghij0123456789x", false),
            ("", false),
            ("ecs/reactor", false),
            ("ecs reactor", false),
            ("écs", false),
        ];
        for &(name, valid) in cases {
            assert_eq!(Namespace::new(name).is_ok(), valid, "{name:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_within_ecs_limits(
            namespace in "[A-Za-z0-9_-]{1,20}",
            other in "[A-Za-z0-9_-]{1,20}",
            run in "[A-Za-z0-9_-]{1,102}",
            attempt in 1u32..=9999,
        ) {
            prop_assert!(is_valid_run_id(&run));
            let ns = Namespace::new(&namespace).unwrap();
            let r = AttemptRef { run_id: run, attempt };
            let s = ns.started_by(&r);
            prop_assert!(s.len() <= MAX_LEN);
            prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || "-/_".contains(c)));
            prop_assert_eq!(ns.parse(&s).unwrap(), r);
            // Another stack never takes this task for its own.
            if other != namespace {
                let e = Namespace::new(&other).unwrap().parse(&s).unwrap_err();
                prop_assert!(e.is_foreign(), "{}", e);
            }
        }
    }
}
