//! `jobs apply`'s plan, decided apart from applying it: the job files against what the registry holds and
//! which schedules the group has. Pure; `apply` writes what it says, in the order it says.

use reactor_core::jobfile::Schedule;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// EventBridge Scheduler's longest schedule name; a schedule is named after its job.
pub const SCHEDULE_NAME_MAX: usize = 64;

/// A job as its file asks for it: the spec the registry is to hold (the file's JSON) and its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub job: String,
    pub spec: Value,
    pub schedule: Option<Schedule>,
}

/// A job as the registry holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub job: String,
    pub spec: Value,
    pub revision: u64,
    pub suspended: bool,
    /// The fingerprint of what was last written to its schedule.
    pub schedule_applied: Option<String>,
}

/// What a step does to the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryWrite {
    None,
    /// Writes the spec as `revision`, only over `expected` (`None`: the job is new).
    Put {
        spec: Value,
        expected: Option<u64>,
        revision: u64,
    },
    /// Removes the job, only at revision `expected`.
    Delete {
        expected: u64,
    },
}

/// What a step does to the job's schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleWrite {
    None,
    /// Creates (`exists` false) or updates the schedule; `enabled` is the file's state unless the job is
    /// suspended.
    Put {
        schedule: Schedule,
        enabled: bool,
        exists: bool,
        /// What the registry records once it is written.
        fingerprint: String,
    },
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Delete,
    Same,
}

impl Change {
    pub fn sign(self) -> char {
        match self {
            Change::Create => '+',
            Change::Update => '~',
            Change::Delete => '-',
            Change::Same => '=',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "change",
            Change::Delete => "delete",
            Change::Same => "same",
        }
    }
}

/// One job's part of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub job: String,
    pub change: Change,
    /// What differs, as field paths and words (never a value: a spec may hold secrets).
    pub what: Vec<String>,
    pub registry: RegistryWrite,
    pub schedule: ScheduleWrite,
    /// The job's revision once the registry write is done (what the schedule's record is conditional on).
    pub revision: u64,
}

/// The whole plan: a step per job, by name, and the registered jobs (or schedules) without a file that are
/// kept because `--prune` was not given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub kept: Vec<String>,
}

impl Plan {
    pub fn count(&self, change: Change) -> usize {
        self.steps.iter().filter(|s| s.change == change).count()
    }

    pub fn changes_nothing(&self) -> bool {
        self.steps.iter().all(|s| s.change == Change::Same)
    }
}

/// Names a schedule cannot have, said before anything is written.
pub fn problems(desired: &[Desired]) -> Vec<String> {
    desired
        .iter()
        .filter(|d| d.schedule.is_some() && d.job.chars().count() > SCHEDULE_NAME_MAX)
        .map(|d| {
            format!(
                "job {:?}: a scheduled job's name is its schedule's, at most {SCHEDULE_NAME_MAX} characters",
                d.job
            )
        })
        .collect()
}

/// What a schedule written now would be, as a fingerprint (the schedule, its state, its target).
pub type Fingerprint<'a> = &'a dyn Fn(&Schedule, bool) -> String;

/// The plan: `scheduled` is every schedule in the group, by name, with whether it is enabled.
pub fn plan(
    desired: &[Desired],
    registered: &[Registered],
    scheduled: &BTreeMap<String, bool>,
    fingerprint: Fingerprint,
    prune: bool,
) -> Plan {
    let registered: BTreeMap<&str, &Registered> =
        registered.iter().map(|r| (r.job.as_str(), r)).collect();
    let mut plan = Plan::default();
    for d in desired {
        plan.steps.push(step(
            d,
            registered.get(d.job.as_str()).copied(),
            scheduled.get(&d.job).copied(),
            fingerprint,
        ));
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.job.as_str()).collect();
    let mut gone: BTreeSet<&str> = registered.keys().copied().collect();
    gone.extend(scheduled.keys().map(String::as_str));
    for job in gone.into_iter().filter(|j| !wanted.contains(j)) {
        if !prune {
            plan.kept.push(job.to_owned());
            continue;
        }
        let (registry, what, revision) = match registered.get(job) {
            Some(r) => (
                RegistryWrite::Delete {
                    expected: r.revision,
                },
                "no file".to_owned(),
                r.revision,
            ),
            None => (
                RegistryWrite::None,
                "a schedule in the group with neither file nor registered job".to_owned(),
                0,
            ),
        };
        plan.steps.push(Step {
            job: job.to_owned(),
            change: Change::Delete,
            what: vec![what],
            registry,
            schedule: if scheduled.contains_key(job) {
                ScheduleWrite::Delete
            } else {
                ScheduleWrite::None
            },
            revision,
        });
    }
    plan.steps.sort_by(|a, b| a.job.cmp(&b.job));
    plan
}

fn step(
    d: &Desired,
    registered: Option<&Registered>,
    scheduled: Option<bool>,
    fingerprint: Fingerprint,
) -> Step {
    let mut what = Vec::new();
    let registry = match registered {
        None => RegistryWrite::Put {
            spec: d.spec.clone(),
            expected: None,
            revision: 1,
        },
        Some(r) if r.spec != d.spec => {
            what.extend(changed_paths(&r.spec, &d.spec, ""));
            RegistryWrite::Put {
                spec: d.spec.clone(),
                expected: Some(r.revision),
                revision: r.revision + 1,
            }
        }
        Some(_) => RegistryWrite::None,
    };
    let suspended = registered.is_some_and(|r| r.suspended);
    let schedule_changed = match registered {
        Some(r) => r.spec.get("schedule") != d.spec.get("schedule"),
        None => true,
    };
    let schedule = match (&d.schedule, scheduled) {
        (Some(s), in_group) => {
            let enabled = s.state.is_enabled() && !suspended;
            let wanted = fingerprint(s, enabled);
            let stale = registered.and_then(|r| r.schedule_applied.as_deref()) != Some(&wanted);
            let differs = in_group != Some(enabled);
            if !schedule_changed {
                match in_group {
                    None => what.push("schedule missing from the group: created again".into()),
                    Some(enabled_now) if differs => what.push(format!(
                        "schedule {} in the group, {} by its file{}",
                        if enabled_now { "enabled" } else { "disabled" },
                        if s.state.is_enabled() { "enabled" } else { "disabled" },
                        if suspended { " (suspended: stays disabled)" } else { "" }
                    )),
                    Some(_) if stale => what.push(
                        "schedule not as last applied (a write that failed, or a new starter, role or queue): \
                         written again"
                            .into(),
                    ),
                    Some(_) => {}
                }
            }
            if schedule_changed || differs || stale {
                ScheduleWrite::Put {
                    schedule: s.clone(),
                    enabled,
                    exists: in_group.is_some(),
                    fingerprint: wanted,
                }
            } else {
                ScheduleWrite::None
            }
        }
        (None, Some(_)) => {
            if !schedule_changed {
                what.push("a schedule in the group the file has none for: deleted".into());
            }
            ScheduleWrite::Delete
        }
        (None, None) => ScheduleWrite::None,
    };
    let change = match (registered, &registry, &schedule) {
        (None, _, _) => Change::Create,
        (Some(_), RegistryWrite::None, ScheduleWrite::None) => Change::Same,
        _ => Change::Update,
    };
    let revision = match &registry {
        RegistryWrite::Put { revision, .. } => *revision,
        _ => registered.map_or(0, |r| r.revision),
    };
    Step {
        job: d.job.clone(),
        change,
        what,
        registry,
        schedule,
        revision,
    }
}

/// The field paths at which `old` and `new` differ (`runTask.overrides`, `schedule.expression`): objects are
/// compared key by key, anything else as a whole.
pub fn changed_paths(old: &Value, new: &Value, prefix: &str) -> Vec<String> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .flat_map(|k| {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    match (a.get(k), b.get(k)) {
                        (Some(x), Some(y)) => changed_paths(x, y, &path),
                        (None, Some(_)) => vec![format!("{path} (added)")],
                        (Some(_), None) => vec![format!("{path} (removed)")],
                        (None, None) => vec![],
                    }
                })
                .collect()
        }
        (a, b) if a == b => vec![],
        _ => vec![if prefix.is_empty() {
            "(whole spec)".into()
        } else {
            prefix.to_owned()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reactor_core::jobfile::ScheduleState;
    use serde_json::json;

    fn schedule(expression: &str) -> Schedule {
        Schedule {
            expression: expression.into(),
            timezone: Some("Europe/Berlin".into()),
            flexible_window_minutes: None,
            state: ScheduleState::Enabled,
            start_date: None,
            end_date: None,
        }
    }

    fn desired(job: &str, expression: Option<&str>, image: &str) -> Desired {
        let mut spec = json!({"job": job, "runTask": {"taskDefinition": image}});
        if let Some(e) = expression {
            spec["schedule"] = json!({"expression": e, "timezone": "Europe/Berlin"});
        }
        Desired {
            job: job.into(),
            spec,
            schedule: expression.map(schedule),
        }
    }

    /// A stand-in fingerprint: the expression and the state.
    fn fp(s: &Schedule, enabled: bool) -> String {
        format!("{}|{enabled}", s.expression)
    }

    /// `d` as registered by an apply that went through (its schedule written as planned).
    fn registered(d: &Desired, revision: u64, suspended: bool) -> Registered {
        Registered {
            job: d.job.clone(),
            spec: d.spec.clone(),
            revision,
            suspended,
            schedule_applied: d
                .schedule
                .as_ref()
                .map(|s| fp(s, s.state.is_enabled() && !suspended)),
        }
    }

    /// (job, change, what) of each step, and the kept jobs.
    type Summary = (Vec<(String, char, Vec<String>)>, Vec<String>);

    fn summary(plan: &Plan) -> Summary {
        (
            plan.steps
                .iter()
                .map(|s| (s.job.clone(), s.change.sign(), s.what.clone()))
                .collect(),
            plan.kept.clone(),
        )
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_job_is_created_changed_deleted_or_the_same() {
        let a = desired("a", Some("cron(0 2 * * ? *)"), "t:1");
        let b_old = desired("b", Some("cron(0 3 * * ? *)"), "t:1");
        let b = desired("b", Some("cron(0 4 * * ? *)"), "t:2");
        let c = desired("c", None, "t:1");
        let gone = desired("gone", Some("rate(1 hour)"), "t:1");
        let registry = vec![
            registered(&b_old, 3, false),
            registered(&c, 1, false),
            registered(&gone, 2, false),
        ];
        let scheduled: BTreeMap<String, bool> = [
            ("b".into(), true),
            ("gone".into(), true),
            ("stray".into(), false),
        ]
        .into();
        let kept = plan(
            &[a.clone(), b.clone(), c.clone()],
            &registry,
            &scheduled,
            &fp,
            false,
        );
        #[rustfmt::skip]
        assert_eq!(summary(&kept), (vec![
            ("a".into(), '+', s(&[])),
            ("b".into(), '~', s(&["runTask.taskDefinition", "schedule.expression"])),
            ("c".into(), '=', s(&[])),
        ], s(&["gone", "stray"])));
        let b_step = &kept.steps[1];
        assert_eq!(
            b_step.registry,
            RegistryWrite::Put {
                spec: b.spec.clone(),
                expected: Some(3),
                revision: 4
            }
        );
        assert!(matches!(
            b_step.schedule,
            ScheduleWrite::Put {
                exists: true,
                enabled: true,
                ..
            }
        ));
        let pruned = plan(&[a, b, c], &registry, &scheduled, &fp, true);
        #[rustfmt::skip]
        assert_eq!(summary(&pruned).0[2..], [
            ("c".into(), '=', s(&[])),
            ("gone".into(), '-', s(&["no file"])),
            ("stray".into(), '-', s(&["a schedule in the group with neither file nor registered job"])),
        ]);
        assert_eq!(
            pruned.steps[3].registry,
            RegistryWrite::Delete { expected: 2 }
        );
        assert_eq!(pruned.steps[4].registry, RegistryWrite::None);
        assert_eq!(pruned.steps[4].schedule, ScheduleWrite::Delete);
    }

    #[test]
    fn the_group_is_brought_back_to_the_files_and_a_suspension_is_kept() {
        let a = desired("a", Some("rate(1 hour)"), "t:1");
        #[rustfmt::skip]
        type Case<'a> = (bool, Option<bool>, char, &'a str, Option<bool>);
        let cases: &[Case] = &[
            // suspended, schedule in the group (enabled?), change, what, schedule put (enabled?)
            (false, Some(true), '=', "", None),
            (
                false,
                None,
                '~',
                "schedule missing from the group: created again",
                Some(true),
            ),
            (
                false,
                Some(false),
                '~',
                "schedule disabled in the group, enabled by its file",
                Some(true),
            ),
            (true, Some(false), '=', "", None),
            (
                true,
                Some(true),
                '~',
                "schedule enabled in the group, enabled by its file (suspended: stays disabled)",
                Some(false),
            ),
            (
                true,
                None,
                '~',
                "schedule missing from the group: created again",
                Some(false),
            ),
        ];
        for (suspended, in_group, sign, what, put) in cases {
            let scheduled: BTreeMap<String, bool> =
                in_group.map(|e| ("a".to_owned(), e)).into_iter().collect();
            let p = plan(
                std::slice::from_ref(&a),
                &[registered(&a, 1, *suspended)],
                &scheduled,
                &fp,
                false,
            );
            let step = &p.steps[0];
            assert_eq!(
                (step.change.sign(), step.what.join("; ")),
                (*sign, what.to_string()),
                "{suspended} {in_group:?}"
            );
            let enabled = match &step.schedule {
                ScheduleWrite::Put { enabled, .. } => Some(*enabled),
                _ => None,
            };
            assert_eq!(enabled, *put, "{suspended} {in_group:?}");
        }
        // A schedule write that failed after its spec was registered (or a new target): written again.
        let mut half_applied = registered(&a, 2, false);
        half_applied.schedule_applied = Some("rate(2 hours)|true".into());
        let p = plan(
            std::slice::from_ref(&a),
            &[half_applied],
            &[("a".to_owned(), true)].into(),
            &fp,
            false,
        );
        assert_eq!(p.steps[0].change, Change::Update);
        assert!(
            p.steps[0].what[0].starts_with("schedule not as last applied"),
            "{:?}",
            p.steps[0].what
        );
        assert!(
            matches!(&p.steps[0].schedule, ScheduleWrite::Put { fingerprint, exists: true, .. } if fingerprint == "rate(1 hour)|true")
        );
        assert_eq!(
            (p.steps[0].registry.clone(), p.steps[0].revision),
            (RegistryWrite::None, 2)
        );
    }

    #[test]
    fn a_second_plan_of_what_the_first_applied_changes_nothing() {
        let files = vec![
            desired("a", Some("rate(1 hour)"), "t:1"),
            desired("b", None, "t:1"),
        ];
        let first = plan(&files, &[], &BTreeMap::new(), &fp, false);
        assert_eq!(
            (first.count(Change::Create), first.changes_nothing()),
            (2, false)
        );
        let registry: Vec<Registered> = files.iter().map(|d| registered(d, 1, false)).collect();
        let second = plan(
            &files,
            &registry,
            &[("a".to_owned(), true)].into(),
            &fp,
            false,
        );
        assert!(second.changes_nothing(), "{second:?}");
    }

    #[test]
    fn paths_name_fields_never_values() {
        let old = json!({"runTask": {"overrides": {"containerOverrides": [{"environment": [{"name": "K", "value": "SECRET-1"}]}]}}, "retry": {"maxAttempts": 3}});
        let new = json!({"runTask": {"overrides": {"containerOverrides": [{"environment": [{"name": "K", "value": "SECRET-2"}]}]}}, "notify": {}});
        let paths = changed_paths(&old, &new, "");
        assert_eq!(
            paths,
            s(&[
                "notify (added)",
                "retry (removed)",
                "runTask.overrides.containerOverrides"
            ])
        );
        assert!(!paths.join(" ").contains("SECRET"));
    }

    #[test]
    fn a_schedule_name_is_at_most_64_characters() {
        let long = "j".repeat(65);
        assert_eq!(
            problems(&[desired(&long, Some("rate(1 hour)"), "t:1")]).len(),
            1
        );
        assert!(problems(&[
            desired(&long, None, "t:1"),
            desired(&"j".repeat(64), Some("rate(1 hour)"), "t:1")
        ])
        .is_empty());
    }
}
