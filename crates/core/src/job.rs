//! The job request: an ECS RunTask request plus a retry policy, as the starter receives it.
//!
//! Strict on purpose: a job is written once by a person and then runs unattended for months, so every
//! unknown field and bad value is rejected up front, before any side effect, with a message that names the
//! field and the rule (`retry.backoffRate must be >= 1.0`, `unknown field retry.intervalSecond, did you mean
//! intervalSeconds?`). All problems are reported at once.

use crate::policy::RetryPolicy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// RunTask refuses overrides longer than this (ECS API reference).
pub const MAX_OVERRIDES_CHARS: usize = 8192;
/// Longest job name: the run id, and so `startedBy` (≤ 128 chars), is built from it.
pub const MAX_JOB_NAME_LEN: usize = 64;
/// Longest attempt timeout we accept: 14 days.
pub const MAX_TIMEOUT_SECONDS: u32 = 14 * 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobRequest {
    /// Name of the job: letters, digits, `-` and `_`. Runs, alarms and notifications are named after it.
    pub job: String,
    pub run_task: RunTask,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Containers whose exit decides success. When absent, the task definition's essential containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential_containers: Option<Vec<String>>,
    /// Longest time one attempt may run; the sweep stops its task after it (see [`crate::deadline`]) and
    /// `retry.onTimeout` decides what follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Longest time the whole run may take, from its start (or latest redrive); past it the task is stopped
    /// and the run fails without a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_timeout_seconds: Option<u32>,
    /// What a new run does while another run of the job is unfinished (Kubernetes CronJob semantics).
    #[serde(default, skip_serializing_if = "Concurrency::is_allow")]
    pub concurrency: Concurrency,
    /// Which outcomes are published to the SNS topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyPolicy>,
}

/// `concurrency`: what a new run of a job does while an earlier run of it is unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Concurrency {
    /// Runs overlap freely (the default).
    #[default]
    Allow,
    /// The new run is skipped, and recorded as SKIPPED so that `runs` shows the tick that did not run.
    Forbid,
    /// The unfinished run is cancelled (its task stopped) and the new run starts.
    Replace,
}

impl Concurrency {
    pub fn is_allow(&self) -> bool {
        *self == Concurrency::Allow
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Allow => "ALLOW",
            Concurrency::Forbid => "FORBID",
            Concurrency::Replace => "REPLACE",
        }
    }
}

/// What can be published about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotifyOn {
    Succeeded,
    Failed,
    Cancelled,
    /// A tick skipped by `concurrency: FORBID`.
    Skipped,
    /// Each retry: an attempt failed and another follows.
    Retrying,
}

/// `notify`: which outcomes to publish. Without it: SUCCEEDED, FAILED and CANCELLED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyPolicy {
    pub on: Vec<NotifyOn>,
}

impl NotifyPolicy {
    pub const DEFAULT: [NotifyOn; 3] = [NotifyOn::Succeeded, NotifyOn::Failed, NotifyOn::Cancelled];
}

impl NotifyOn {
    /// What a run that ended in `status` is published as; `None` for a run that has not ended.
    pub fn of_status(status: crate::run::RunStatus) -> Option<NotifyOn> {
        use crate::run::RunStatus;
        match status {
            RunStatus::Succeeded => Some(NotifyOn::Succeeded),
            RunStatus::Failed => Some(NotifyOn::Failed),
            RunStatus::Cancelled => Some(NotifyOn::Cancelled),
            RunStatus::Skipped => Some(NotifyOn::Skipped),
            RunStatus::Launching | RunStatus::Running | RunStatus::RetryScheduled => None,
        }
    }
}

impl JobRequest {
    /// The job as launched at a size ecs-reactor chose (after an OutOfMemoryError, `retry.onOutOfMemory`):
    /// the task-level `overrides.memory`, and `overrides.cpu` when known, replaced.
    pub fn with_size(&self, size: crate::memory::TaskSize) -> JobRequest {
        let mut job = self.clone();
        let overrides = job
            .run_task
            .overrides
            .get_or_insert_with(TaskOverride::default);
        overrides.memory = Some(size.memory_mib.to_string());
        if let Some(cpu) = size.cpu {
            overrides.cpu = Some(cpu.to_string());
        }
        job
    }

    /// Whether the job wants `what` published.
    pub fn notifies(&self, what: NotifyOn) -> bool {
        match &self.notify {
            Some(policy) => policy.on.contains(&what),
            None => NotifyPolicy::DEFAULT.contains(&what),
        }
    }

    /// The job as JSON with the defaults it runs with written out (`concurrency`, `notify.on`,
    /// `retry.onTimeout`), for `ecs-reactor validate`. What is stored and compared stays the job as given.
    pub fn with_defaults_shown(&self) -> serde_json::Value {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(fields) = shown.as_object_mut() {
            fields.insert("concurrency".into(), self.concurrency.as_str().into());
            let on: Vec<NotifyOn> = match &self.notify {
                Some(policy) => policy.on.clone(),
                None => NotifyPolicy::DEFAULT.to_vec(),
            };
            fields.insert("notify".into(), serde_json::json!({ "on": on }));
        }
        if let Some(retry) = shown.get_mut("retry").and_then(|r| r.as_object_mut()) {
            retry.insert(
                "onTimeout".into(),
                serde_json::json!(self.retry.on_timeout()),
            );
        }
        shown
    }

    /// Whether a run of this job that ended in `status` is announced (`notify.on`).
    pub fn announces(&self, status: crate::run::RunStatus) -> bool {
        NotifyOn::of_status(status).is_some_and(|on| self.notifies(on))
    }
}

/// The part of ECS `RunTask` a job may set, in the ECS JSON API's camelCase. `startedBy` and `clientToken`
/// are ecs-reactor's own (they identify the attempt); `count` is always one task per attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub task_definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<LaunchType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<TaskOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_constraints: Option<Vec<PlacementConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_strategy: Option<Vec<PlacementStrategy>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<PropagateTags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(
        default,
        rename = "enableECSManagedTags",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ecs_managed_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Accepted only as 1: each attempt is one task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Reserved; present only so that the error can say why.
    #[serde(default, skip_serializing)]
    pub started_by: Option<serde_json::Value>,
    /// Reserved; present only so that the error can say why.
    #[serde(default, skip_serializing)]
    pub client_token: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchType {
    Ec2,
    Fargate,
    External,
    ManagedInstances,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapacityProviderStrategyItem {
    pub capacity_provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkConfiguration {
    pub awsvpc_configuration: AwsVpcConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsVpcConfiguration {
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<AssignPublicIp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum AssignPublicIp {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskOverride {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerOverride {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValuePair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_files: Option<Vec<EnvironmentFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_requirements: Option<Vec<ResourceRequirement>>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyValuePair {
    pub name: String,
    pub value: String,
}

/// Environment values may be secrets: never printed, not even in debug output.
impl fmt::Debug for KeyValuePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=<redacted>", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFile {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: EnvironmentFileType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum EnvironmentFileType {
    #[serde(rename = "s3")]
    S3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResourceRequirement {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ResourceType {
    #[serde(rename = "GPU")]
    Gpu,
    InferenceAccelerator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EphemeralStorage {
    pub size_in_gi_b: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlacementConstraint {
    #[serde(rename = "type")]
    pub kind: PlacementConstraintType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum PlacementConstraintType {
    DistinctInstance,
    MemberOf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlacementStrategy {
    #[serde(rename = "type")]
    pub kind: PlacementStrategyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum PlacementStrategyType {
    Random,
    Spread,
    Binpack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PropagateTags {
    TaskDefinition,
    Service,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Every problem found in a job request, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid job request: {}", problems.join("; "))]
pub struct JobError {
    pub problems: Vec<String>,
}

impl JobRequest {
    /// Parses and validates a job request from JSON text.
    pub fn from_json(json: &str) -> Result<JobRequest, JobError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| JobError {
            problems: vec![format!("not valid JSON: {e}")],
        })?;
        Self::from_value(value)
    }

    /// Parses and validates a job request from a JSON value (e.g. the `detail` of a schedule event).
    pub fn from_value(value: serde_json::Value) -> Result<JobRequest, JobError> {
        if !value.is_object() {
            // serde would read a list as the struct's fields in order, and complain about its first item.
            return Err(JobError {
                problems: vec![format!(
                    "a job request is a JSON object, found {}",
                    kind_of(Some(&value))
                )],
            });
        }
        deserialize_all::<JobRequest>(value).checked(JobRequest::problems)
    }

    /// Semantic checks serde cannot express.
    fn problems(&self) -> Vec<String> {
        let mut problems = crate::context::problems(self);
        if !is_name(&self.job, MAX_JOB_NAME_LEN) {
            problems.push(format!(
                "job must be 1-{MAX_JOB_NAME_LEN} letters, digits, '-' or '_' (got {:?})",
                self.job
            ));
        }
        self.run_task.validate(&mut problems);
        self.retry.validate("retry.", &mut problems);
        if let Some(names) = &self.essential_containers {
            if names.is_empty() {
                problems.push(
                    "essentialContainers must name at least one container when present".into(),
                );
            }
            check_unique("essentialContainers", names.iter(), &mut problems);
        }
        for (field, value) in [
            ("timeoutSeconds", self.timeout_seconds),
            ("runTimeoutSeconds", self.run_timeout_seconds),
        ] {
            if let Some(t) = value {
                if t == 0 || t > MAX_TIMEOUT_SECONDS {
                    problems.push(format!(
                        "{field} must be between 1 and {MAX_TIMEOUT_SECONDS} (got {t})"
                    ));
                }
            }
        }
        if let Some(policy) = &self.notify {
            for (i, on) in policy.on.iter().enumerate() {
                if policy.on[..i].contains(on) {
                    let name = serde_json::to_value(on).unwrap_or_default();
                    problems.push(format!("notify.on names {name} twice"));
                }
            }
        }
        problems
    }
}

impl RunTask {
    fn validate(&self, problems: &mut Vec<String>) {
        if self.started_by.is_some() {
            problems.push(
                "runTask.startedBy is set by ecs-reactor (ecs-reactor/<run>/<attempt>, it identifies the attempt) and cannot be given".into(),
            );
        }
        if self.client_token.is_some() {
            problems.push(
                "runTask.clientToken is set by ecs-reactor (one per attempt) and cannot be given"
                    .into(),
            );
        }
        if let Some(count) = self.count {
            if count != 1 {
                problems.push(format!(
                    "runTask.count must be 1: each attempt is one task (got {count})"
                ));
            }
        }
        if !is_task_definition(&self.task_definition) {
            problems.push(format!(
                "runTask.taskDefinition must be family, family:revision or a task-definition ARN (got {:?})",
                self.task_definition
            ));
        }
        if let Some(cluster) = &self.cluster {
            if cluster.is_empty() {
                problems.push(
                    "runTask.cluster must not be empty (leave it out for the default cluster)"
                        .into(),
                );
            }
        }
        let strategy = self
            .capacity_provider_strategy
            .as_deref()
            .unwrap_or_default();
        if self.launch_type.is_some() && self.capacity_provider_strategy.is_some() {
            problems.push(
                "runTask.launchType and runTask.capacityProviderStrategy cannot both be set".into(),
            );
        }
        if self.capacity_provider_strategy.is_some() && strategy.is_empty() {
            problems.push(
                "runTask.capacityProviderStrategy must hold at least one provider when present"
                    .into(),
            );
        }
        if strategy.len() > 20 {
            problems.push(format!(
                "runTask.capacityProviderStrategy may hold at most 20 providers (got {})",
                strategy.len()
            ));
        }
        for (i, item) in strategy.iter().enumerate() {
            if item.capacity_provider.is_empty() {
                problems.push(format!(
                    "runTask.capacityProviderStrategy[{i}].capacityProvider must not be empty"
                ));
            }
            if item.weight.is_some_and(|w| w > 1000) {
                problems.push(format!(
                    "runTask.capacityProviderStrategy[{i}].weight must be between 0 and 1000"
                ));
            }
            if item.base.is_some_and(|b| b > 100_000) {
                problems.push(format!(
                    "runTask.capacityProviderStrategy[{i}].base must be between 0 and 100000"
                ));
            }
        }
        let fargate = self.launch_type == Some(LaunchType::Fargate)
            || strategy
                .iter()
                .any(|s| s.capacity_provider.starts_with("FARGATE"));
        match &self.network_configuration {
            None if fargate => problems.push(
                "runTask.networkConfiguration.awsvpcConfiguration is required on Fargate (tasks use awsvpc networking)".into(),
            ),
            None => {}
            Some(net) => {
                let vpc = &net.awsvpc_configuration;
                if vpc.subnets.is_empty() || vpc.subnets.len() > 16 {
                    problems.push(format!(
                        "runTask.networkConfiguration.awsvpcConfiguration.subnets must hold 1 to 16 subnets (got {})",
                        vpc.subnets.len()
                    ));
                }
                if vpc.security_groups.as_ref().is_some_and(|g| g.len() > 5) {
                    problems.push("runTask.networkConfiguration.awsvpcConfiguration.securityGroups may hold at most 5 groups".into());
                }
            }
        }
        if let Some(overrides) = &self.overrides {
            overrides.validate(problems);
        }
        if let Some(tags) = &self.tags {
            // ECS allows 50 tags per task; ecs-reactor adds its own (run, attempt, job).
            if tags.len() > 45 {
                problems.push(format!(
                    "runTask.tags may hold at most 45 tags, ecs-reactor adds its own (got {})",
                    tags.len()
                ));
            }
            for (i, tag) in tags.iter().enumerate() {
                let key = tag.key.to_ascii_lowercase();
                if tag.key.is_empty() || tag.key.len() > 128 || tag.value.len() > 256 {
                    problems.push(format!("runTask.tags[{i}] must have a key of 1-128 and a value of at most 256 characters"));
                }
                if key.starts_with("aws:") || key.starts_with("ecs-reactor:") {
                    problems.push(format!(
                        "runTask.tags[{i}].key {:?} uses a reserved prefix (aws:, ecs-reactor:)",
                        tag.key
                    ));
                }
            }
            check_unique("runTask.tags[].key", tags.iter().map(|t| &t.key), problems);
        }
    }
}

impl TaskOverride {
    fn validate(&self, problems: &mut Vec<String>) {
        // Serialised as RunTask would send it; ECS counts the characters of this JSON.
        let size = serde_json::to_string(self)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > MAX_OVERRIDES_CHARS {
            problems.push(format!("runTask.overrides must be at most {MAX_OVERRIDES_CHARS} characters of JSON (got {size})"));
        }
        for (i, c) in self.container_overrides.iter().enumerate() {
            if c.name.is_empty() {
                problems.push(format!(
                    "runTask.overrides.containerOverrides[{i}].name must not be empty"
                ));
            }
            for (j, kv) in c.environment.iter().flatten().enumerate() {
                if kv.name.is_empty() {
                    problems.push(format!("runTask.overrides.containerOverrides[{i}].environment[{j}].name must not be empty"));
                }
            }
        }
        check_unique(
            "runTask.overrides.containerOverrides[].name",
            self.container_overrides.iter().map(|c| &c.name),
            problems,
        );
    }
}

fn check_unique<'a>(
    field: &str,
    names: impl Iterator<Item = &'a String>,
    problems: &mut Vec<String>,
) {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            problems.push(format!("{field} names {name:?} twice"));
        }
    }
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_task_definition(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("arn:") {
        return rest.contains(":task-definition/") && s.len() <= 1600;
    }
    let (family, revision) = match s.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (s, None),
    };
    is_name(family, 255)
        && revision.is_none_or(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
}

/// Parses and validates a bare retry policy (the `retry` object of a job), e.g. for `ecs-reactor explain
/// --policy`.
pub fn retry_policy_from_value(value: serde_json::Value) -> Result<RetryPolicy, JobError> {
    deserialize_all::<RetryPolicy>(value).checked(|policy| {
        let mut problems = Vec::new();
        policy.validate("", &mut problems);
        problems
    })
}

/// Deserializes, collecting every structural problem rather than the first: each problem's field is taken
/// out and the rest read again, until the rest reads (then it is returned, so that its semantic checks add
/// their problems too) or a problem cannot be taken out (a required field is missing). Each problem has the
/// path of its field, in the words a person uses: `runTask.taskDefinition is required`, `unknown field
/// retry.intervalSecond, did you mean intervalSeconds?`.
pub(crate) fn deserialize_all<T: serde::de::DeserializeOwned>(
    mut value: serde_json::Value,
) -> Parsed<T> {
    // Enough for any real file; a bound, because each round reads the whole value again.
    const MOST_PROBLEMS: usize = 50;
    let mut problems = Vec::new();
    // List items taken out so far, by their list's path in the original: later problems in the same list
    // are reported at their original index.
    let mut taken: HashMap<String, Vec<usize>> = HashMap::new();
    let mut fields_taken = Vec::new();
    while problems.len() < MOST_PROBLEMS {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => {
                return Parsed {
                    value: Some(parsed),
                    problems,
                    fields_taken,
                    items_taken: !taken.is_empty(),
                }
            }
            Err(e) => e,
        };
        let steps = steps_of(error.path());
        let raw = error.into_inner().to_string();
        let message = without_the_value(&raw, value_at(&value, &steps));
        let original = original_steps(&steps, &taken);
        problems.push(humanize(&render(&original), &message));
        if raw.starts_with("missing field ") || !take_out(&mut value, &steps) {
            break;
        }
        match original.split_last() {
            Some((Step::Index(index), list)) => {
                let list = taken.entry(render(list)).or_default();
                list.push(*index);
                list.sort_unstable();
            }
            Some((Step::Field(name), parent)) => fields_taken.push((render(parent), name.clone())),
            None => {}
        }
    }
    Parsed {
        value: None,
        problems,
        fields_taken,
        items_taken: !taken.is_empty(),
    }
}

/// What [`deserialize_all`] read: the value once its problems were taken out, if it then read.
pub(crate) struct Parsed<T> {
    value: Option<T>,
    problems: Vec<String>,
    /// Fields taken out for a problem: (their parent's path, their name).
    fields_taken: Vec<(String, String)>,
    /// Whether list items were taken out: the semantic checks would then name later items by their new
    /// index, so they wait until the structural problems are fixed.
    items_taken: bool,
}

impl<T> Parsed<T> {
    /// What was read and the structural problems, for a caller without semantic checks of its own.
    pub(crate) fn into_parts(self) -> (Option<T>, Vec<String>) {
        (self.value, self.problems)
    }

    /// Adds the semantic problems `check` finds in what was read, leaving out those that only say a field
    /// taken out is missing (`retry.rules[0]: a rule needs at least one of onExitCode…` after
    /// `retry.rules[0].onExitCode` had the wrong type: reported once, as what it is).
    fn checked(self, check: impl FnOnce(&T) -> Vec<String>) -> Result<T, JobError> {
        let Parsed {
            value,
            mut problems,
            fields_taken,
            items_taken,
        } = self;
        if let Some(value) = value.as_ref().filter(|_| !items_taken) {
            let consequence = |problem: &String| {
                fields_taken.iter().any(|(parent, name)| {
                    problem.starts_with(&format!("{parent}:")) && problem.contains(name.as_str())
                })
            };
            problems.extend(check(value).into_iter().filter(|p| !consequence(p)));
        }
        match value {
            Some(value) if problems.is_empty() => Ok(value),
            _ => Err(JobError { problems }),
        }
    }
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Field(String),
    Index(usize),
}

pub(crate) fn steps_of(path: &serde_path_to_error::Path) -> Vec<Step> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Field(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// `retry.rules[0].onExitCode`, or `.` for the whole value (serde_path_to_error's form).
fn render(steps: &[Step]) -> String {
    if steps.is_empty() {
        return ".".to_owned();
    }
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Field(name) if out.is_empty() => out.push_str(name),
            Step::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// `steps` in the value as it was, before list items were taken out.
fn original_steps(steps: &[Step], taken: &HashMap<String, Vec<usize>>) -> Vec<Step> {
    let mut original: Vec<Step> = Vec::new();
    for step in steps {
        let step = match step {
            Step::Index(index) => {
                let mut index = *index;
                for removed in taken.get(&render(&original)).into_iter().flatten() {
                    if *removed <= index {
                        index += 1;
                    }
                }
                Step::Index(index)
            }
            field => field.clone(),
        };
        original.push(step);
    }
    original
}

/// Removes the field or list item at `steps`; false if there is none to remove (the whole value).
fn take_out(root: &mut serde_json::Value, steps: &[Step]) -> bool {
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut at = root;
    for step in parents {
        let next = match step {
            Step::Index(index) => at.get_mut(*index),
            Step::Field(name) => at.get_mut(name.as_str()),
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    match (last, at) {
        (Step::Field(name), serde_json::Value::Object(map)) => map.remove(name.as_str()).is_some(),
        (Step::Index(index), serde_json::Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// The value at `steps` in `root`, if they lead to one.
pub(crate) fn value_at<'a>(
    root: &'a serde_json::Value,
    steps: &[Step],
) -> Option<&'a serde_json::Value> {
    steps.iter().try_fold(root, |at, step| match step {
        Step::Index(index) => at.get(*index),
        Step::Field(name) => at.get(name.as_str()),
    })
}

/// serde's "invalid type: string \"DB_PASSWORD=…\", expected a sequence" quotes the value, which may be a
/// secret (an environment override): the message keeps what was expected, in words, and names only the kind
/// of value found (a number or a boolean as it is: no override value is one). serde's formats for these
/// errors are fixed (`serde::de::Error::invalid_type` / `invalid_value`). Unknown variants are kept: they
/// are values of this project's own enums (`jitter`, `launchType`), never free text.
pub(crate) fn without_the_value(message: &str, found: Option<&serde_json::Value>) -> String {
    use serde_json::Value;
    let invalid_value = message.starts_with("invalid value: ");
    if !invalid_value && !message.starts_with("invalid type: ") {
        return message.to_owned();
    }
    let found = match found {
        Some(Value::Number(n)) if invalid_value => n.to_string(),
        Some(Value::Bool(b)) if invalid_value => b.to_string(),
        Some(Value::String(_)) if invalid_value => "a string that is not one".to_owned(),
        other => kind_of(other).to_owned(),
    };
    let expected = message
        .split_once(", expected ")
        .map_or("another value", |(_, expected)| expected);
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a sequence" => "a list",
        "a map" => "an object",
        e if e.starts_with("struct ") => "an object",
        e => e,
    };
    format!("expected {expected}, found {found}")
}

/// The kind of a JSON value in words, never the value.
fn kind_of(value: Option<&serde_json::Value>) -> &'static str {
    use serde_json::Value;
    match value {
        Some(Value::String(_)) => "a string",
        Some(Value::Number(_)) => "a number",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "an object",
        Some(Value::Null) => "null",
        None => "something else",
    }
}

fn humanize(path: &str, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return if path == "." {
            format!("{field} is required")
        } else {
            format!("{path}.{field} is required")
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde: "unknown field `x`, expected one of `a`, `b`" or "…, expected `a`"; the path ends with `x`.
        let mut quoted = rest.split('`');
        let field = quoted.next().unwrap_or_default();
        let expected: Vec<&str> = quoted
            .filter(|s| !s.is_empty() && !s.contains(',') && !s.contains(' '))
            .collect();
        let parent = path
            .strip_suffix(field)
            .map(|p| p.trim_end_matches('.'))
            .filter(|p| !p.is_empty() && *p != ".");
        let (field_path, here) = match parent {
            Some(parent) => (format!("{parent}.{field}"), parent.to_owned()),
            None => (field.to_owned(), "the top level".to_owned()),
        };
        let mut out = format!("unknown field {field_path} at {here}");
        match closest(field, &expected) {
            Some(close) => out.push_str(&format!(", did you mean {close}?")),
            None if !expected.is_empty() => {
                out.push_str(&format!(" (expected one of: {})", expected.join(", ")))
            }
            None => {}
        }
        return out;
    }
    if path == "." {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

/// The expected name closest to a misspelled one, if it is close enough to be a typo.
fn closest<'a>(wrong: &str, expected: &[&'a str]) -> Option<&'a str> {
    let wrong = wrong.to_ascii_lowercase();
    expected
        .iter()
        .map(|e| (edit_distance(&wrong, &e.to_ascii_lowercase()), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once_each_at_its_original_path() {
        let job = json!({
            "job": "nightly",
            "runTask": {"taskDefinition": "report:7", "cluster": "jobs", "launchTyp": "FARGATE"},
            "retry": {
                "maxAttempts": "4",
                "backoffRate": 0.5,
                "rules": [
                    {"onExitCode": 2, "action": "RETRY_NOW"},
                    {"onExitCode": "1", "action": "FAIL"},
                    {"onExitCode": 3, "action": "FAIL"},
                    {"onExitCode": "5-1", "action": "FAIL"}
                ]
            }
        });
        let problems = JobRequest::from_value(job).unwrap_err().problems;
        assert_eq!(
            problems,
            vec![
                "unknown field runTask.launchTyp at runTask, did you mean launchType?",
                "retry.maxAttempts: expected a whole number, 0 or more, found a string",
                "retry.rules[0].onExitCode: expected a string, found a number",
                "retry.rules[2].onExitCode: expected a string, found a number",
                "retry.backoffRate must be >= 1.0 (got 0.5)",
                "retry.rules[3].onExitCode: the range \"5-1\" runs backwards; write numbers (\"1\", \"-1\"), ranges (\"1-5\"), patterns (\"13*\"), comma separated",
            ]
        );
        // Whole list items taken out: later items keep their own index.
        let job = json!({
            "job": "nightly",
            "runTask": {"taskDefinition": "report:7", "cluster": "jobs"},
            "retry": {"rules": [5, "x", {"onExitCode": 3, "action": "FAIL"}]}
        });
        assert_eq!(
            JobRequest::from_value(job).unwrap_err().problems,
            vec![
                "retry.rules[0]: expected an object, found a number",
                "retry.rules[1]: expected an object, found a string",
                "retry.rules[2].onExitCode: expected a string, found a number",
            ]
        );
    }
    use serde_json::{json, Value};

    fn example() -> Value {
        json!({ "job": "nightly-report",
          "runTask": { "cluster": "jobs", "taskDefinition": "report:7", "launchType": "FARGATE",
                       "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}},
                       "overrides": {"containerOverrides": [{"name": "app", "command": ["run", "--date", "today"]}]} },
          "retry": { "maxAttempts": 4, "intervalSeconds": 30, "backoffRate": 2.0, "maxDelaySeconds": 900, "jitter": "FULL",
                     "rules": [ {"onExitCode": "2", "action": "RETRY_NOW"},
                                {"onStatusReason": "CannotPullContainerError*", "action": "RETRY_LATER"},
                                {"onReason": "OutOfMemoryError*", "action": "FAIL"} ] },
          "timeoutSeconds": 3600 })
    }

    /// Applies `edit` to the design's example job and returns the problems.
    fn problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut v = example();
        edit(&mut v);
        match JobRequest::from_value(v) {
            Ok(_) => vec![],
            Err(e) => e.problems,
        }
    }

    #[test]
    fn the_design_example_is_valid() {
        let job = JobRequest::from_value(example()).unwrap();
        assert_eq!(job.retry.max_attempts, 4);
        assert_eq!(job.retry.rules.len(), 3);
        // It survives a round trip through its own serialisation (the run record stores it).
        let again = JobRequest::from_value(serde_json::to_value(&job).unwrap()).unwrap();
        assert_eq!(again, job);
    }

    #[test]
    fn defaults_when_retry_is_absent() {
        let job =
            JobRequest::from_json(r#"{"job":"j","runTask":{"taskDefinition":"td"}}"#).unwrap();
        assert_eq!(job.retry, RetryPolicy::default());
        assert_eq!(
            (
                job.retry.max_attempts,
                job.retry.interval_seconds,
                job.retry.max_delay_seconds
            ),
            (3, 30, 900)
        );
    }

    #[test]
    fn every_error_names_the_field() {
        type Edit = fn(&mut Value);
        #[rustfmt::skip]
        let cases: &[(Edit, &str)] = &[
            (|v| { v["retyr"] = json!({}); }, "unknown field retyr at the top level, did you mean retry?"),
            (|v| { v["retry"]["intervalSecond"] = json!(1); }, "unknown field retry.intervalSecond at retry, did you mean intervalSeconds?"),
            (|v| { v["runTask"]["zzz"] = json!(1); }, "unknown field runTask.zzz at runTask (expected one of: cluster, taskDefinition"),
            (|v| { v["runTask"].as_object_mut().unwrap().remove("taskDefinition"); }, "runTask.taskDefinition is required"),
            (|v| { v.as_object_mut().unwrap().remove("job"); }, "job is required"),
            (|v| { v["retry"]["backoffRate"] = json!(0.5); }, "retry.backoffRate must be >= 1.0 (got 0.5)"),
            (|v| { v["retry"]["backoffRate"] = json!(11); }, "retry.backoffRate must be <= 10"),
            (|v| { v["retry"]["maxAttempts"] = json!(0); }, "retry.maxAttempts must be between 1 and 100 (got 0)"),
            (|v| { v["retry"]["maxAttempts"] = json!(-1); }, "retry.maxAttempts: expected a whole number, 0 or more, found -1"),
            (|v| { v["retry"]["maxAttempts"] = json!("4"); }, "retry.maxAttempts: expected a whole number, 0 or more, found a string"),
            (|v| { v["retry"]["intervalSeconds"] = json!(0); }, "retry.intervalSeconds must be between 1 and 86400 (got 0)"),
            (|v| { v["retry"]["maxDelaySeconds"] = json!(700000); }, "retry.maxDelaySeconds must be between 1 and 604800"),
            (|v| { v["retry"]["sameFailureLimit"] = json!(1); }, "retry.sameFailureLimit must be between 2 and 100 (got 1)"),
            (|v| { v["retry"]["sameFailureLimit"] = json!(101); }, "retry.sameFailureLimit must be between 2 and 100 (got 101)"),
            (|v| { v["retry"]["jitter"] = json!("HALF"); }, "retry.jitter: unknown variant `HALF`, expected `FULL` or `NONE`"),
            (|v| { v["retry"]["rules"][0]["action"] = json!("RETRY"); }, "retry.rules[0].action: must be one of SUCCEED, RETRY_NOW, RETRY_LATER, FAIL (got \"RETRY\") (AWS Batch's RETRY is RETRY_LATER here)"),
            (|v| { v["retry"]["rules"][0]["onExitCode"] = json!("two"); }, "retry.rules[0].onExitCode: \"two\" is not a number, a range like \"1-5\" or a pattern like \"13*\""),
            (|v| { v["retry"]["rules"][0]["onExitCode"] = json!("5-1"); }, "retry.rules[0].onExitCode: the range \"5-1\" runs backwards"),
            (|v| { v["retry"]["rules"][0]["onExitCode"] = json!(2); }, "retry.rules[0].onExitCode: expected a string, found a number"),
            (|v| { v["retry"]["rules"][1] = json!({"action": "FAIL"}); }, "retry.rules[1]: a rule needs at least one of onExitCode"),
            (|v| { v["retry"]["rules"][1] = json!({"onStopCode": "EssentialContainerExitted", "action": "FAIL"}); }, "retry.rules[1].onStopCode \"EssentialContainerExitted\" is not a known stop code"),
            (|v| { v["retry"]["rules"][1] = json!({"onStatusReason": "x", "container": "app", "action": "FAIL"}); }, "retry.rules[1].container needs onExitCode or onReason"),
            (|v| { v["retry"]["rules"][1] = json!({"onExitCode": "1", "action": "FAIL", "evaluate": true}); }, "unknown field retry.rules[1].evaluate"),
            (|v| { v["job"] = json!("nightly report"); }, "job must be 1-64 letters, digits, '-' or '_' (got \"nightly report\")"),
            (|v| { v["job"] = json!("x".repeat(65)); }, "job must be 1-64 letters"),
            (|v| { v["runTask"]["taskDefinition"] = json!("report:latest"); }, "runTask.taskDefinition must be family, family:revision or a task-definition ARN"),
            (|v| { v["runTask"]["launchType"] = json!("fargate"); }, "runTask.launchType: unknown variant `fargate`"),
            (|v| { v["runTask"]["capacityProviderStrategy"] = json!([{"capacityProvider": "FARGATE_SPOT"}]); }, "runTask.launchType and runTask.capacityProviderStrategy cannot both be set"),
            (|v| { v["runTask"].as_object_mut().unwrap().remove("networkConfiguration"); }, "runTask.networkConfiguration.awsvpcConfiguration is required on Fargate"),
            (|v| { v["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = json!([]); }, "subnets must hold 1 to 16 subnets (got 0)"),
            (|v| { v["runTask"]["startedBy"] = json!("me"); }, "runTask.startedBy is set by ecs-reactor"),
            (|v| { v["runTask"]["clientToken"] = json!("t"); }, "runTask.clientToken is set by ecs-reactor"),
            (|v| { v["runTask"]["count"] = json!(2); }, "runTask.count must be 1: each attempt is one task (got 2)"),
            (|v| { v["runTask"]["overrides"]["containerOverrides"][0]["command"] = json!(["x".repeat(9000)]); }, "runTask.overrides must be at most 8192 characters of JSON"),
            (|v| { v["runTask"]["overrides"]["containerOverrides"].as_array_mut().unwrap().push(json!({"name": "app"})); }, "runTask.overrides.containerOverrides[].name names \"app\" twice"),
            (|v| { v["runTask"]["overrides"]["containerOverrides"][0]["environment"] = json!([{"name": "A"}]); }, "runTask.overrides.containerOverrides[0].environment[0].value is required"),
            (|v| { v["runTask"]["tags"] = json!([{"key": "aws:x", "value": "y"}]); }, "runTask.tags[0].key \"aws:x\" uses a reserved prefix"),
            (|v| { v["essentialContainers"] = json!([]); }, "essentialContainers must name at least one container"),
            (|v| { v["essentialContainers"] = json!(["app", "app"]); }, "essentialContainers names \"app\" twice"),
            (|v| { v["timeoutSeconds"] = json!(0); }, "timeoutSeconds must be between 1 and 1209600 (got 0)"),
            (|v| { v["runTimeoutSeconds"] = json!(2_000_000); }, "runTimeoutSeconds must be between 1 and 1209600 (got 2000000)"),
            (|v| { v["concurrency"] = json!("SKIP"); }, "unknown variant `SKIP`, expected one of `ALLOW`, `FORBID`, `REPLACE`"),
            (|v| { v["notify"] = json!({"on": ["FAILED", "FAILED"]}); }, "notify.on names \"FAILED\" twice"),
            (|v| { v["notify"] = json!({"on": ["FAIL"]}); }, "unknown variant `FAIL`"),
            (|v| { v["retry"]["onTimeout"] = json!("SUCCEED"); }, "retry.onTimeout must be RETRY_NOW, RETRY_LATER or FAIL"),
            (|v| { v["retry"]["onOutOfMemory"] = json!({"memoryMultiplier": 1.0, "maxMemoryMiB": 4096}); }, "retry.onOutOfMemory.memoryMultiplier must be more than 1.0"),
            (|v| { v["retry"]["onOutOfMemory"] = json!({"memoryMultiplier": 2, "maxMemoryMiB": 64}); }, "retry.onOutOfMemory.maxMemoryMiB must be between 128"),
            (|v| { v["retry"]["onOutOfMemory"] = json!({"memoryMultiplier": 2}); }, "retry.onOutOfMemory.maxMemoryMiB is required"),
            (|v| { v["runTask"] = json!("report:7"); }, "runTask: expected an object, found a string"),
        ];
        for (i, (edit, want)) in cases.iter().enumerate() {
            let problems = problems_after(edit);
            assert!(
                problems.iter().any(|p| p.contains(want)),
                "case {i}: want {want:?} in {problems:?}"
            );
        }
    }

    #[test]
    fn a_run_that_ended_is_announced_as_notify_on_asks() {
        use crate::run::RunStatus::*;
        let default = JobRequest::from_value(example()).unwrap();
        let mut value = example();
        value["notify"] = json!({"on": ["FAILED", "SKIPPED"]});
        let chosen = JobRequest::from_value(value).unwrap();
        #[rustfmt::skip]
        let cases = [
            // status,        default notify, notify.on [FAILED, SKIPPED]
            (Succeeded,       true,           false),
            (Failed,          true,           true),
            (Cancelled,       true,           false),
            (Skipped,         false,          true),
            (Launching,       false,          false),
            (Running,         false,          false),
            (RetryScheduled,  false,          false),
        ];
        for (status, by_default, by_choice) in cases {
            assert_eq!(
                (default.announces(status), chosen.announces(status)),
                (by_default, by_choice),
                "{status}"
            );
        }
    }

    #[test]
    fn all_semantic_problems_are_reported_at_once() {
        let problems = problems_after(|v| {
            v["retry"]["maxAttempts"] = json!(0);
            v["retry"]["backoffRate"] = json!(0.5);
            v["job"] = json!("");
        });
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn environment_values_never_show_in_debug_output() {
        let kv = KeyValuePair {
            name: "DB_PASSWORD".into(),
            value: "hunter2".into(),
        };
        assert_eq!(format!("{kv:?}"), "DB_PASSWORD=<redacted>");
    }

    #[test]
    fn task_definition_forms() {
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("report", true), ("report:7", true), ("report_v2-x:12", true),
            ("arn:aws:ecs:us-east-1:123456789012:task-definition/report:7", true),
            ("", false), ("report:", false), ("report:latest", false), ("re port", false),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/jobs", false),
        ];
        for &(s, want) in cases {
            assert_eq!(is_task_definition(s), want, "{s:?}");
        }
    }
}
