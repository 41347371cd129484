//! The run's context in the container: which job, run, attempt and scheduled time a task is.
//!
//! A job written `command: ["run", "--date", "today"]` and retried after midnight processes another day; a
//! container that cannot tell a retry from a first try cannot deduplicate its own side effects. So every
//! launched attempt carries its identity, two ways:
//! - environment variables on the job's containers ([`ENV_JOB`], [`ENV_RUN_ID`], [`ENV_ATTEMPT`],
//!   [`ENV_SCHEDULED_TIME`]) — the essential containers and any container the job overrides;
//! - placeholders in the job's `command` and `environment` values, expanded at launch:
//!   `{{scheduledTime}}` (`2026-11-21T02:30:00Z`), `{{scheduledDate}}` (`2026-11-21`), `{{runId}}`,
//!   `{{attempt}}`, `{{job}}`.
//!
//! The scheduled time is the tick's (the same for every retry and redrive of the run); a run started
//! directly, without a tick, is scheduled when it was created. Times are UTC.

use crate::job::{ContainerOverride, JobRequest, KeyValuePair, TaskOverride};
use time::OffsetDateTime;

pub const ENV_JOB: &str = "ECS_REACTOR_JOB";
pub const ENV_RUN_ID: &str = "ECS_REACTOR_RUN_ID";
pub const ENV_ATTEMPT: &str = "ECS_REACTOR_ATTEMPT";
pub const ENV_SCHEDULED_TIME: &str = "ECS_REACTOR_SCHEDULED_TIME";
/// Names a job may not set itself: ecs-reactor sets them.
pub const RESERVED_ENV_PREFIX: &str = "ECS_REACTOR_";

/// The placeholders, as written in a job.
pub const PLACEHOLDERS: [&str; 5] = [
    "{{scheduledTime}}",
    "{{scheduledDate}}",
    "{{runId}}",
    "{{attempt}}",
    "{{job}}",
];

/// One launched attempt's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    pub job: String,
    pub run_id: String,
    pub attempt: u32,
    pub scheduled_at: OffsetDateTime,
}

impl RunContext {
    fn scheduled_time(&self) -> String {
        let t = self.scheduled_at.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    fn expand(&self, text: &str) -> String {
        if !text.contains("{{") {
            return text.to_owned();
        }
        let time = self.scheduled_time();
        text.replace("{{scheduledTime}}", &time)
            .replace("{{scheduledDate}}", &time[..10])
            .replace("{{runId}}", &self.run_id)
            .replace("{{attempt}}", &self.attempt.to_string())
            .replace("{{job}}", &self.job)
    }

    fn variables(&self) -> [KeyValuePair; 4] {
        let pair = |name: &str, value: String| KeyValuePair {
            name: name.to_owned(),
            value,
        };
        [
            pair(ENV_JOB, self.job.clone()),
            pair(ENV_RUN_ID, self.run_id.clone()),
            pair(ENV_ATTEMPT, self.attempt.to_string()),
            pair(ENV_SCHEDULED_TIME, self.scheduled_time()),
        ]
    }
}

/// The job as this attempt launches it: placeholders expanded in every container override's `command` and
/// `environment` values, and the context's variables on each container of `containers` and each container
/// the job overrides.
pub fn with_run_context(
    job: &JobRequest,
    context: &RunContext,
    containers: &[String],
) -> JobRequest {
    let mut job = job.clone();
    let overrides = job
        .run_task
        .overrides
        .get_or_insert_with(TaskOverride::default);
    for name in containers {
        if !overrides
            .container_overrides
            .iter()
            .any(|c| &c.name == name)
        {
            overrides.container_overrides.push(ContainerOverride {
                name: name.clone(),
                ..ContainerOverride::default()
            });
        }
    }
    for container in &mut overrides.container_overrides {
        // Only known placeholders are replaced; anything else in braces stays as written.
        if let Some(command) = &mut container.command {
            for arg in command.iter_mut() {
                *arg = context.expand(arg);
            }
        }
        let environment = container.environment.get_or_insert_with(Vec::new);
        for pair in environment.iter_mut() {
            pair.value = context.expand(&pair.value);
        }
        environment.extend(context.variables());
    }
    job
}

/// What is wrong with the job's use of placeholders and reserved names, one problem per field.
pub fn problems(job: &JobRequest) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(overrides) = &job.run_task.overrides else {
        return problems;
    };
    for (i, container) in overrides.container_overrides.iter().enumerate() {
        let at = format!("runTask.overrides.containerOverrides[{i}]");
        for (j, arg) in container.command.iter().flatten().enumerate() {
            if let Some(unknown) = unknown_placeholder(arg) {
                problems.push(format!(
                    "{at}.command[{j}]: unknown placeholder {unknown}; known: {}",
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
        for (j, pair) in container.environment.iter().flatten().enumerate() {
            if pair.name.starts_with(RESERVED_ENV_PREFIX) {
                problems.push(format!(
                    "{at}.environment[{j}].name: {} is set by ecs-reactor (names starting with {RESERVED_ENV_PREFIX} are reserved)",
                    pair.name
                ));
            }
            // The value is not quoted: it may be a secret. The placeholder is ecs-reactor's own syntax.
            if let Some(unknown) = unknown_placeholder(&pair.value) {
                problems.push(format!(
                    "{at}.environment[{j}].value: unknown placeholder {unknown}; known: {}",
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
    }
    problems
}

/// The first `{{word}}` in `text` that is not a placeholder (a misspelt one would reach the container as
/// written and never be noticed).
fn unknown_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").map(|e| start + e + 2)?;
        let candidate = &rest[start..end];
        // Only a bare word is meant as a placeholder: `{{json .}}` (a Go template in a command) is the
        // container's own business and stays as written.
        let word = &candidate[2..candidate.len() - 2];
        let meant = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if meant && !PLACEHOLDERS.contains(&candidate) {
            return Some(candidate);
        }
        rest = &rest[end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(attempt: u32) -> RunContext {
        RunContext {
            job: "nightly".into(),
            run_id: "nightly-20261121T233000Z".into(),
            attempt,
            scheduled_at: time::macros::datetime!(2026-11-21 23:30:00 UTC),
        }
    }

    fn job(overrides: serde_json::Value) -> JobRequest {
        JobRequest::from_value(json!({
            "job": "nightly",
            "runTask": {"taskDefinition": "report:7", "cluster": "jobs", "overrides": overrides}
        }))
        .unwrap()
    }

    fn environment(job: &JobRequest, container: &str) -> Vec<(String, String)> {
        job.run_task
            .overrides
            .iter()
            .flat_map(|o| &o.container_overrides)
            .filter(|c| c.name == container)
            .flat_map(|c| c.environment.iter().flatten())
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    }

    #[test]
    fn a_retry_after_midnight_still_processes_the_scheduled_day() {
        let job = job(json!({"containerOverrides": [
            {"name": "app", "command": ["run", "--date", "{{scheduledDate}}", "--run", "{{runId}}/{{attempt}}"],
             "environment": [{"name": "SINCE", "value": "{{scheduledTime}}"}]}
        ]}));
        // Attempt 3, launched the next day: the scheduled day, not the launch's.
        let launched = with_run_context(&job, &context(3), &["app".into(), "worker".into()]);
        let app = &launched
            .run_task
            .overrides
            .as_ref()
            .unwrap()
            .container_overrides[0];
        assert_eq!(
            app.command.as_deref().unwrap(),
            [
                "run",
                "--date",
                "2026-11-21",
                "--run",
                "nightly-20261121T233000Z/3"
            ]
        );
        assert_eq!(
            environment(&launched, "app"),
            [
                ("SINCE", "2026-11-21T23:30:00Z"),
                ("ECS_REACTOR_JOB", "nightly"),
                ("ECS_REACTOR_RUN_ID", "nightly-20261121T233000Z"),
                ("ECS_REACTOR_ATTEMPT", "3"),
                ("ECS_REACTOR_SCHEDULED_TIME", "2026-11-21T23:30:00Z"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        // A container the job does not override gets the variables too.
        assert_eq!(environment(&launched, "worker").len(), 4);
        // The job as stored is untouched: every attempt expands from it.
        assert_eq!(
            job.run_task.overrides.as_ref().unwrap().container_overrides[0]
                .command
                .as_deref()
                .unwrap()[2],
            "{{scheduledDate}}"
        );
    }

    #[rustfmt::skip]
    #[test]
    fn unknown_placeholders_and_reserved_names_are_refused_by_field() {
        for (overrides, expected) in [
            (json!({"containerOverrides": [{"name": "app", "command": ["{{scheduledDate}}"]}]}), vec![]),
            (json!({"containerOverrides": [{"name": "app", "command": ["docker", "--format", "{{json .}}"]}]}), vec![]),
            (json!({"containerOverrides": [{"name": "app", "command": ["x", "{{date}}"]}]}),
                vec!["runTask.overrides.containerOverrides[0].command[1]: unknown placeholder {{date}}; known: {{scheduledTime}}, {{scheduledDate}}, {{runId}}, {{attempt}}, {{job}}"]),
            (json!({"containerOverrides": [{"name": "app", "environment": [{"name": "ECS_REACTOR_ATTEMPT", "value": "1"}]}]}),
                vec!["runTask.overrides.containerOverrides[0].environment[0].name: ECS_REACTOR_ATTEMPT is set by ecs-reactor (names starting with ECS_REACTOR_ are reserved)"]),
            (json!({"containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": "s3cr3t{{x}}"}]}]}),
                vec!["runTask.overrides.containerOverrides[0].environment[0].value: unknown placeholder {{x}}; known: {{scheduledTime}}, {{scheduledDate}}, {{runId}}, {{attempt}}, {{job}}"]),
        ] {
            let job: JobRequest = serde_json::from_value(json!({
                "job": "nightly", "runTask": {"taskDefinition": "report:7", "overrides": overrides}
            })).unwrap();
            assert_eq!(problems(&job), expected);
        }
    }
}
