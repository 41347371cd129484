//! The values of a job request that may be secret, apart from the rest, so that the run item keeps them
//! sealed (encrypted) while everything on-call needs stays readable.
//!
//! What counts as secret is what the logs never show either: each container override's `environment`
//! values and its `command`. Names stay (`DB_PASSWORD` is how on-call recognises a job's settings); each
//! value becomes [`SEALED`]. [`split`] takes the values out, [`restore`] puts them back for a launch, by
//! position: the stored request and its sealed values are written together and never change.
//!
//! Pure: the encryption is the adapter's (`reactor_aws::vault`).

use crate::job::JobRequest;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a secret value reads as in the stored request.
pub const SEALED: &str = "(sealed)";

/// The secret values of a request's container overrides, by the override's position.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideValues {
    pub containers: Vec<ContainerValues>,
}

/// One container override's values: its environment values in order, and its command.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerValues {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// Never printed, not even in debug output: only how many values there are.
impl fmt::Debug for OverrideValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OverrideValues({} values, redacted)", self.count())
    }
}

impl fmt::Debug for ContainerValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContainerValues(redacted)")
    }
}

impl OverrideValues {
    /// How many values: environment values and command arguments.
    pub fn count(&self) -> usize {
        self.containers
            .iter()
            .map(|c| c.environment.len() + c.command.as_ref().map_or(0, Vec::len))
            .sum()
    }

    /// True when the request had nothing to seal (then nothing is encrypted and no key is needed).
    pub fn is_empty(&self) -> bool {
        self.containers
            .iter()
            .all(|c| c.environment.is_empty() && c.command.is_none())
    }
}

/// The stored values do not fit the stored request (a different number of overrides or values): the two
/// were not written together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sealed override values do not match the stored request ({0})")]
pub struct Mismatch(pub String);

/// The request with each secret value replaced by [`SEALED`], and the values taken out.
pub fn split(job: &JobRequest) -> (JobRequest, OverrideValues) {
    let mut redacted = job.clone();
    let mut values = OverrideValues::default();
    for container in container_overrides(&mut redacted) {
        let mut taken = ContainerValues::default();
        for pair in container.environment.iter_mut().flatten() {
            taken
                .environment
                .push(std::mem::replace(&mut pair.value, SEALED.to_owned()));
        }
        if let Some(command) = container.command.as_mut() {
            let sealed = vec![SEALED.to_owned(); command.len()];
            taken.command = Some(std::mem::replace(command, sealed));
        }
        values.containers.push(taken);
    }
    if values.is_empty() {
        values.containers.clear();
    }
    (redacted, values)
}

/// The request as it was before [`split`]: each value put back where it was taken from.
pub fn restore(redacted: &JobRequest, values: &OverrideValues) -> Result<JobRequest, Mismatch> {
    let mut job = redacted.clone();
    if values.containers.is_empty() {
        return Ok(job);
    }
    let overrides = container_overrides(&mut job);
    if overrides.len() != values.containers.len() {
        return Err(Mismatch(format!(
            "{} container overrides, {} sealed",
            overrides.len(),
            values.containers.len()
        )));
    }
    for (i, (container, taken)) in overrides.iter_mut().zip(&values.containers).enumerate() {
        let environment = container.environment.as_deref_mut().unwrap_or_default();
        if environment.len() != taken.environment.len() {
            return Err(Mismatch(format!(
                "containerOverrides[{i}]: {} environment variables, {} sealed",
                environment.len(),
                taken.environment.len()
            )));
        }
        for (pair, value) in environment.iter_mut().zip(&taken.environment) {
            pair.value.clone_from(value);
        }
        match (container.command.as_mut(), &taken.command) {
            (Some(command), Some(sealed)) if command.len() == sealed.len() => {
                command.clone_from(sealed)
            }
            (None, None) => {}
            _ => {
                return Err(Mismatch(format!(
                    "containerOverrides[{i}]: the command does not match the sealed one"
                )))
            }
        }
    }
    Ok(job)
}

fn container_overrides(job: &mut JobRequest) -> &mut [crate::job::ContainerOverride] {
    job.run_task
        .overrides
        .as_mut()
        .map(|o| o.container_overrides.as_mut_slice())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn job(overrides: Value) -> JobRequest {
        JobRequest::from_value(json!({
            "job": "j",
            "runTask": {"taskDefinition": "jobs-app:1", "overrides": overrides}
        }))
        .unwrap()
    }

    fn overrides_of(job: &JobRequest) -> Value {
        serde_json::to_value(&job.run_task.overrides).unwrap()
    }

    #[test]
    fn each_value_is_sealed_and_put_back_where_it_was() {
        // (overrides, what the stored request shows, how many values were taken out)
        let cases = [
            (
                json!({"containerOverrides": [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "s3cret"}]}]}),
                json!({"containerOverrides": [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": SEALED}]}]}),
                1,
            ),
            (
                json!({"containerOverrides": [{"name": "app", "command": ["run", "--token", "t"]}]}),
                json!({"containerOverrides": [{"name": "app", "command": [SEALED, SEALED, SEALED]}]}),
                3,
            ),
            (
                json!({"containerOverrides": [{"name": "a", "cpu": 256}, {"name": "b", "command": [], "environment": [{"name": "X", "value": ""}]}]}),
                json!({"containerOverrides": [{"name": "a", "cpu": 256}, {"name": "b", "command": [], "environment": [{"name": "X", "value": SEALED}]}]}),
                1,
            ),
            (json!({"cpu": "512"}), json!({"cpu": "512"}), 0),
            (
                json!({"containerOverrides": [{"name": "app", "memory": 512}]}),
                json!({"containerOverrides": [{"name": "app", "memory": 512}]}),
                0,
            ),
        ];
        for (given, stored, count) in cases {
            let original = job(given.clone());
            let (redacted, values) = split(&original);
            assert_eq!(overrides_of(&redacted), stored, "{given}");
            assert_eq!(values.count(), count, "{given}");
            assert_eq!(values.is_empty(), count == 0, "{given}");
            assert_eq!(restore(&redacted, &values).unwrap(), original, "{given}");
        }
    }

    #[test]
    fn a_request_without_overrides_has_nothing_to_seal() {
        let plain = JobRequest::from_value(
            json!({"job": "j", "runTask": {"taskDefinition": "jobs-app:1"}}),
        )
        .unwrap();
        let (redacted, values) = split(&plain);
        assert_eq!((redacted.clone(), values.is_empty()), (plain.clone(), true));
        assert!(values.containers.is_empty());
        assert_eq!(restore(&redacted, &values).unwrap(), plain);
    }

    #[test]
    fn values_that_do_not_fit_the_request_are_refused() {
        let two = job(
            json!({"containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}),
        );
        let (redacted, values) = split(&two);
        let other = job(
            json!({"containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": SEALED}]}]}),
        );
        let command = job(
            json!({"containerOverrides": [{"name": "app", "command": ["x"], "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}),
        );
        let none = job(json!({"cpu": "256"}));
        for (stored, expected) in [
            (
                &other,
                "containerOverrides[0]: 1 environment variables, 2 sealed",
            ),
            (
                &command,
                "containerOverrides[0]: the command does not match the sealed one",
            ),
            (&none, "0 container overrides, 1 sealed"),
        ] {
            assert_eq!(restore(stored, &values), Err(Mismatch(expected.into())));
        }
        assert!(restore(&redacted, &values).is_ok());
    }

    #[test]
    fn values_never_show_in_debug_output() {
        let (_, values) = split(&job(
            json!({"containerOverrides": [{"name": "app", "command": ["MARKER-1"], "environment": [{"name": "A", "value": "MARKER-2"}]}]}),
        ));
        let shown = format!("{values:?} {:?}", values.containers);
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(shown.contains("2 values"), "{shown}");
    }
}
