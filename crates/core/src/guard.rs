//! What a job may ask for in this deployment: defence in depth behind IAM.
//!
//! Whoever can invoke the starter can run containers with roles in the account. IAM already limits RunTask
//! to the stack's task-definition families and cluster; the guard refuses the same requests earlier, with a
//! message naming the rule broken, and refuses what IAM cannot see: a job that swaps the task's roles through
//! `overrides`, or a request too large to store and show. A refused job writes nothing.

use crate::glob::Glob;
use crate::job::JobRequest;
use std::collections::BTreeSet;
use std::fmt;

/// Largest job request accepted, as JSON: it is stored on the run item (DynamoDB items ≤ 400 KB) and shown
/// by on-call's tools; RunTask's own overrides limit is 8 KiB.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Names a set of allowed values, or allows any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Allowed {
    /// No list configured: anything (IAM still decides).
    #[default]
    Any,
    Only(BTreeSet<String>),
}

impl Allowed {
    /// A comma-separated list of names, or patterns with `*` (`reports-*`, as the stack's IAM policy allows
    /// them); empty or absent means [`Allowed::Any`].
    pub fn from_list(list: Option<&str>) -> Allowed {
        let names: BTreeSet<String> = list
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            Allowed::Any
        } else {
            Allowed::Only(names)
        }
    }

    fn allows(&self, name: &str) -> bool {
        match self {
            Allowed::Any => true,
            // Names never contain `*` (ECS allows letters, digits, `-` and `_`), so an entry with one is a pattern.
            Allowed::Only(names) => names.iter().any(|n| Glob::new(n).matches(name)),
        }
    }

    fn list(&self) -> String {
        match self {
            Allowed::Any => "any".into(),
            Allowed::Only(names) => names.iter().cloned().collect::<Vec<_>>().join(", "),
        }
    }
}

/// The deployment's limits on job requests (read from the environment by the AWS adapter's `Config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Task-definition families a job may run.
    pub task_families: Allowed,
    /// Clusters (names) a job may run in; a job without `cluster` runs in `default`.
    pub clusters: Allowed,
    /// Whether a job may set `overrides.taskRoleArn` / `overrides.executionRoleArn`.
    pub role_overrides: bool,
    pub max_request_bytes: usize,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            task_families: Allowed::Any,
            clusters: Allowed::Any,
            role_overrides: false,
            max_request_bytes: MAX_REQUEST_BYTES,
        }
    }
}

/// One rule a job broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable name of the rule, for logs and alarms.
    pub rule: &'static str,
    pub message: String,
}

/// Every rule a job broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GuardError {
    pub refusals: Vec<Refusal>,
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("job request not allowed here: ")?;
        for (i, r) in self.refusals.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "[{}] {}", r.rule, r.message)?;
        }
        Ok(())
    }
}

/// The family of a task definition given as `family`, `family:revision` or its ARN.
pub fn task_family(task_definition: &str) -> &str {
    let name = task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, rest)| rest);
    name.split_once(':').map_or(name, |(family, _)| family)
}

/// The name of a cluster given as its name or ARN; ECS runs a task without one in `default`.
pub fn cluster_name(cluster: Option<&str>) -> &str {
    match cluster {
        None => "default",
        Some(c) => c.rsplit_once(":cluster/").map_or(c, |(_, name)| name),
    }
}

impl Guard {
    /// Checks a validated job and the size of the request it came in (`request_bytes`, its JSON).
    pub fn check(&self, job: &JobRequest, request_bytes: usize) -> Result<(), GuardError> {
        let mut refusals = Vec::new();
        if request_bytes > self.max_request_bytes {
            refusals.push(Refusal {
                rule: "request-too-large",
                message: format!(
                    "the job request is {request_bytes} bytes; at most {} are accepted",
                    self.max_request_bytes
                ),
            });
        }
        let family = task_family(&job.run_task.task_definition);
        if !self.task_families.allows(family) {
            refusals.push(Refusal {
                rule: "task-family-not-allowed",
                message: format!(
                    "runTask.taskDefinition family {family:?} is not one this stack may run (allowed: {})",
                    self.task_families.list()
                ),
            });
        }
        let cluster = cluster_name(job.run_task.cluster.as_deref());
        if !self.clusters.allows(cluster) {
            refusals.push(Refusal {
                rule: "cluster-not-allowed",
                message: format!(
                    "runTask.cluster {cluster:?} is not one this stack may run in (allowed: {})",
                    self.clusters.list()
                ),
            });
        }
        if !self.role_overrides {
            let overrides = job.run_task.overrides.as_ref();
            for (field, set) in [
                (
                    "taskRoleArn",
                    overrides.is_some_and(|o| o.task_role_arn.is_some()),
                ),
                (
                    "executionRoleArn",
                    overrides.is_some_and(|o| o.execution_role_arn.is_some()),
                ),
            ] {
                if set {
                    refusals.push(Refusal {
                        rule: "role-override-not-allowed",
                        message: format!(
                            "runTask.overrides.{field} would run the task with another role; this stack does not allow role overrides (REACTOR_ALLOW_ROLE_OVERRIDES)"
                        ),
                    });
                }
            }
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(GuardError { refusals })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(task_definition: &str, cluster: Option<&str>, roles: &str) -> JobRequest {
        let cluster = cluster.map_or(String::new(), |c| format!(r#""cluster":"{c}","#));
        let overrides = if roles.is_empty() {
            String::new()
        } else {
            format!(r#","overrides":{{{roles}}}"#)
        };
        JobRequest::from_json(&format!(
            r#"{{"job":"j","runTask":{{{cluster}"taskDefinition":"{task_definition}"{overrides}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn families_and_clusters_by_name_or_arn() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("report", "report"),
            ("report:7", "report"),
            ("arn:aws:ecs:us-east-1:111122223333:task-definition/report:7", "report"),
            ("arn:aws-cn:ecs:cn-north-1:111122223333:task-definition/report", "report"),
        ];
        for (given, family) in cases {
            assert_eq!(task_family(given), *family, "{given}");
        }
        #[rustfmt::skip]
        let clusters: &[(Option<&str>, &str)] = &[
            (None, "default"),
            (Some("jobs"), "jobs"),
            (Some("arn:aws:ecs:us-east-1:111122223333:cluster/jobs"), "jobs"),
        ];
        for (given, name) in clusters {
            assert_eq!(cluster_name(*given), *name, "{given:?}");
        }
    }

    #[test]
    fn the_guard_names_every_rule_broken() {
        let guard = Guard {
            task_families: Allowed::from_list(Some("report, export")),
            clusters: Allowed::from_list(Some("jobs")),
            role_overrides: false,
            max_request_bytes: 1000,
        };
        #[rustfmt::skip]
        let cases: &[(JobRequest, usize, &[&str])] = &[
            (job("report:7", Some("jobs"), ""), 500, &[]),
            (job("arn:aws:ecs:us-east-1:1:task-definition/export:2", Some("arn:aws:ecs:us-east-1:1:cluster/jobs"), ""), 500, &[]),
            (job("miner:1", Some("jobs"), ""), 500, &["task-family-not-allowed"]),
            (job("report:7", None, ""), 500, &["cluster-not-allowed"]),
            (job("report:7", Some("jobs"), r#""taskRoleArn":"arn:aws:iam::1:role/admin""#), 500, &["role-override-not-allowed"]),
            (job("report:7", Some("jobs"), r#""executionRoleArn":"arn:aws:iam::1:role/x""#), 500, &["role-override-not-allowed"]),
            (job("report:7", Some("jobs"), ""), 1001, &["request-too-large"]),
            (job("miner", Some("prod"), r#""taskRoleArn":"r","executionRoleArn":"e""#), 5000, &["request-too-large", "task-family-not-allowed", "cluster-not-allowed", "role-override-not-allowed", "role-override-not-allowed"]),
        ];
        for (job, bytes, rules) in cases {
            let got: Vec<&str> = match guard.check(job, *bytes) {
                Ok(()) => vec![],
                Err(e) => e.refusals.iter().map(|r| r.rule).collect(),
            };
            assert_eq!(got, *rules, "{:?} {bytes}", job.run_task);
        }
        let message = guard
            .check(&job("miner:1", Some("jobs"), ""), 10)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "job request not allowed here: [task-family-not-allowed] runTask.taskDefinition family \"miner\" is not one this stack may run (allowed: export, report)"
        );
    }

    #[test]
    fn a_family_prefix_allows_every_family_it_begins() {
        let allowed = Allowed::from_list(Some("reports-*, etl"));
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("reports-daily", true),
            ("reports-", true),
            ("reports", false),
            ("etl", true),
            ("etl-backfill", false),
            ("payroll", false),
        ];
        for (family, allows) in cases {
            assert_eq!(allowed.allows(family), *allows, "{family}");
        }
    }

    #[test]
    fn no_list_allows_any_family_and_cluster_but_never_role_overrides() {
        let guard = Guard::default();
        assert_eq!(guard.check(&job("anything:1", None, ""), 100), Ok(()));
        assert!(guard
            .check(&job("anything:1", None, r#""taskRoleArn":"r""#), 100)
            .is_err());
        let open = Guard {
            role_overrides: true,
            ..Guard::default()
        };
        assert_eq!(
            open.check(&job("anything:1", None, r#""taskRoleArn":"r""#), 100),
            Ok(())
        );
    }
}
