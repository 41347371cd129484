//! Launching tasks on ECS: RunTask with the attempt's `startedBy` and `clientToken`, adoption of a task that an
//! earlier, interrupted launch of the same attempt already started, and the essential containers of a task
//! definition.

use crate::aws_error::{kind_of_code, AwsError, FailureKind};
use crate::described::{task_of, Described, MISSING};
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{self as ecs, DesiredStatus};
use aws_sdk_ecs::Client;
use reactor_core::job::{JobRequest, RunTask};
use reactor_core::judge::LaunchFailure;
use reactor_core::AttemptRef;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// What RunTask said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    Started {
        task_arn: String,
    },
    /// A 200 response that started no task; `failures[]` says why (judged by `reactor_core::judge_launch`).
    NotStarted {
        failures: Vec<LaunchFailure>,
    },
    /// ECS refused the call; the code and message are judged by `reactor_core::judge_launch`.
    Refused {
        code: String,
        message: String,
    },
    /// AWS's own trouble, not the task's: ECS answered with a server error (after the SDK's retries) or
    /// throttled the call. The launch is deferred, the attempt kept (`reactor_core::step::defers_launch`).
    Unavailable {
        status: u16,
        code: String,
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// No answer (timeout, connection): whether a task started is unknown. The invocation should fail and be
    /// retried; the retry adopts the task by its `startedBy` if there is one.
    #[error("ECS did not answer: {0}")]
    Unanswered(#[source] AwsError),
    #[error("the request could not be built: {0}")]
    Invalid(String),
}

pub trait Launcher: Send + Sync {
    /// A task already carrying this `startedBy` (running or stopped), if any.
    fn find_task(
        &self,
        cluster: Option<&str>,
        started_by: &str,
    ) -> impl Future<Output = Result<Option<String>, LaunchError>> + Send;
    /// Launches the attempt's task with its `startedBy` (the stack's namespace, run and attempt) and `clientToken`.
    fn run_task(
        &self,
        job: &JobRequest,
        attempt: &AttemptRef,
        started_by: &str,
        client_token: &str,
    ) -> impl Future<Output = Result<LaunchOutcome, LaunchError>> + Send;
    /// The names of the task definition's essential containers.
    fn essential_containers(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<Vec<String>, LaunchError>> + Send;
    /// Stops a task, with a reason ECS shows as its `stoppedReason`. A task that is gone already (or
    /// unknown to ECS) is not an error: stopping is idempotent.
    fn stop_task(
        &self,
        cluster: Option<&str>,
        task_arn: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), LaunchError>> + Send;
    /// The tasks as ECS describes them now (at most [`DESCRIBE_TASKS_MAX`] ARNs, one cluster), and the ARNs it
    /// no longer knows.
    fn describe_tasks(
        &self,
        cluster: Option<&str>,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Described, LaunchError>> + Send;
}

/// DescribeTasks takes at most 100 task ARNs a call.
pub const DESCRIBE_TASKS_MAX: usize = 100;

/// ECS keeps at most 255 characters of a stop reason.
pub const STOP_REASON_MAX: usize = 255;

/// The launcher on ECS. Task definitions are immutable per revision, so their essential containers are
/// cached for the life of the process (a Lambda container).
pub struct EcsLauncher {
    client: Client,
    essentials: Mutex<HashMap<String, Vec<String>>>,
}

impl EcsLauncher {
    pub fn new(client: Client) -> Self {
        EcsLauncher {
            client,
            essentials: Mutex::new(HashMap::new()),
        }
    }
}

fn unanswered<E, R>(e: SdkError<E, R>) -> LaunchError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // ECS's own words when it answered; the whole chain (timeout, connection) otherwise.
    LaunchError::Unanswered(AwsError::from_sdk(e))
}

/// An ECS answer worth asking again (throttling, a server-side fault), as opposed to a refusal.
fn is_transient(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "ServerException"
                | "ServiceUnavailableException"
                | "RequestLimitExceeded"
        )
    )
}

/// An error response is ECS's answer: AWS's own trouble (HTTP 5xx, or throttling by its code) when it is
/// [`LaunchOutcome::Unavailable`], a refusal of this launch otherwise. Anything else (timeout, dispatch failure)
/// is no answer: whether a task started is unknown.
fn answered<E>(e: SdkError<E, HttpResponse>) -> Result<LaunchOutcome, LaunchError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let (status, code, message) = match &e {
        SdkError::ServiceError(service) => (
            service.raw().status().as_u16(),
            service.err().code().map(str::to_owned),
            service.err().message().unwrap_or_default().to_owned(),
        ),
        // A 5xx whose body the SDK could not read (an empty 503, a proxy's HTML page) is still ECS's answer.
        SdkError::ResponseError(response) if response.raw().status().is_server_error() => {
            (response.raw().status().as_u16(), None, String::new())
        }
        _ => return Err(unanswered(e)),
    };
    let throttled = kind_of_code(code.as_deref()) == FailureKind::Throttled;
    if status >= 500 || throttled {
        return Ok(LaunchOutcome::Unavailable {
            status,
            code: code.unwrap_or_else(|| format!("HTTP {status}")),
            message,
        });
    }
    Ok(LaunchOutcome::Refused {
        code: code.unwrap_or_else(|| "Unknown".into()),
        message,
    })
}

fn built<T>(r: Result<T, aws_sdk_ecs::error::BuildError>) -> Result<T, LaunchError> {
    r.map_err(|e| LaunchError::Invalid(e.to_string()))
}

/// The tags ecs-reactor puts on every task, besides the job's own.
pub fn reactor_tags(job: &str, attempt: &AttemptRef) -> [(&'static str, String); 3] {
    [
        ("ecs-reactor:job", job.to_owned()),
        ("ecs-reactor:run", attempt.run_id.clone()),
        ("ecs-reactor:attempt", attempt.attempt.to_string()),
    ]
}

fn overrides(o: &reactor_core::job::TaskOverride) -> Result<ecs::TaskOverride, LaunchError> {
    let mut out = ecs::TaskOverride::builder()
        .set_cpu(o.cpu.clone())
        .set_memory(o.memory.clone())
        .set_task_role_arn(o.task_role_arn.clone())
        .set_execution_role_arn(o.execution_role_arn.clone());
    if let Some(storage) = &o.ephemeral_storage {
        out = out.ephemeral_storage(
            ecs::EphemeralStorage::builder()
                .size_in_gib(storage.size_in_gi_b as i32)
                .build(),
        );
    }
    for c in &o.container_overrides {
        let mut co = ecs::ContainerOverride::builder()
            .name(&c.name)
            .set_command(c.command.clone())
            .set_cpu(c.cpu.map(|v| v as i32))
            .set_memory(c.memory.map(|v| v as i32))
            .set_memory_reservation(c.memory_reservation.map(|v| v as i32));
        for kv in c.environment.iter().flatten() {
            co = co.environment(
                ecs::KeyValuePair::builder()
                    .name(&kv.name)
                    .value(&kv.value)
                    .build(),
            );
        }
        for f in c.environment_files.iter().flatten() {
            co = co.environment_files(built(
                ecs::EnvironmentFile::builder()
                    .value(&f.value)
                    .r#type(ecs::EnvironmentFileType::S3)
                    .build(),
            )?);
        }
        for r in c.resource_requirements.iter().flatten() {
            let kind = match r.kind {
                reactor_core::job::ResourceType::Gpu => ecs::ResourceType::Gpu,
                reactor_core::job::ResourceType::InferenceAccelerator => {
                    ecs::ResourceType::InferenceAccelerator
                }
            };
            co = co.resource_requirements(built(
                ecs::ResourceRequirement::builder()
                    .value(&r.value)
                    .r#type(kind)
                    .build(),
            )?);
        }
        out = out.container_overrides(co.build());
    }
    Ok(out.build())
}

/// Serialises a serde enum of the job model to the string ECS expects (`FARGATE`, `ENABLED`, …).
fn wire<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Launcher for EcsLauncher {
    async fn find_task(
        &self,
        cluster: Option<&str>,
        started_by: &str,
    ) -> Result<Option<String>, LaunchError> {
        // ListTasks shows RUNNING (and PENDING) by default; a task that already stopped needs the second ask.
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let out = match self
                .client
                .list_tasks()
                .set_cluster(cluster.map(str::to_owned))
                .started_by(started_by)
                .desired_status(status)
                .send()
                .await
            {
                Ok(out) => out,
                // A refusal (no such cluster, access denied) means no task of ours can be there; RunTask
                // will be refused too, and that refusal is judged.
                Err(SdkError::ServiceError(e)) if !is_transient(e.err().code()) => {
                    tracing::warn!(
                        started_by,
                        code = e.err().code(),
                        "ListTasks refused; nothing to adopt"
                    );
                    return Ok(None);
                }
                Err(e) => return Err(unanswered(e)),
            };
            if let Some(arn) = out.task_arns().first() {
                return Ok(Some(arn.clone()));
            }
        }
        Ok(None)
    }

    async fn run_task(
        &self,
        job: &JobRequest,
        attempt: &AttemptRef,
        started_by: &str,
        client_token: &str,
    ) -> Result<LaunchOutcome, LaunchError> {
        let r: &RunTask = &job.run_task;
        let mut call = self
            .client
            .run_task()
            .task_definition(&r.task_definition)
            .set_cluster(r.cluster.clone())
            .count(1)
            .started_by(started_by)
            .client_token(client_token)
            .set_platform_version(r.platform_version.clone())
            .set_group(r.group.clone())
            .set_reference_id(r.reference_id.clone())
            .set_enable_ecs_managed_tags(r.enable_ecs_managed_tags)
            .set_enable_execute_command(r.enable_execute_command);
        if let Some(lt) = &r.launch_type {
            call = call.launch_type(ecs::LaunchType::from(wire(lt).as_str()));
        }
        if let Some(p) = &r.propagate_tags {
            call = call.propagate_tags(ecs::PropagateTags::from(wire(p).as_str()));
        }
        for item in r.capacity_provider_strategy.iter().flatten() {
            call = call.capacity_provider_strategy(built(
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider(&item.capacity_provider)
                    .set_weight(item.weight.map(|w| w as i32))
                    .set_base(item.base.map(|b| b as i32))
                    .build(),
            )?);
        }
        if let Some(net) = &r.network_configuration {
            let vpc = &net.awsvpc_configuration;
            let mut b = ecs::AwsVpcConfiguration::builder()
                .set_subnets(Some(vpc.subnets.clone()))
                .set_security_groups(vpc.security_groups.clone());
            if let Some(ip) = &vpc.assign_public_ip {
                b = b.assign_public_ip(ecs::AssignPublicIp::from(wire(ip).as_str()));
            }
            call = call.network_configuration(
                ecs::NetworkConfiguration::builder()
                    .awsvpc_configuration(built(b.build())?)
                    .build(),
            );
        }
        if let Some(o) = &r.overrides {
            call = call.overrides(overrides(o)?);
        }
        for c in r.placement_constraints.iter().flatten() {
            call = call.placement_constraints(
                ecs::PlacementConstraint::builder()
                    .r#type(ecs::PlacementConstraintType::from(wire(&c.kind).as_str()))
                    .set_expression(c.expression.clone())
                    .build(),
            );
        }
        for s in r.placement_strategy.iter().flatten() {
            call = call.placement_strategy(
                ecs::PlacementStrategy::builder()
                    .r#type(ecs::PlacementStrategyType::from(wire(&s.kind).as_str()))
                    .set_field(s.field.clone())
                    .build(),
            );
        }
        for t in r.tags.iter().flatten() {
            call = call.tags(ecs::Tag::builder().key(&t.key).value(&t.value).build());
        }
        for (key, value) in reactor_tags(&job.job, attempt) {
            call = call.tags(ecs::Tag::builder().key(key).value(value).build());
        }
        match call.send().await {
            Ok(out) => match out.tasks().first().and_then(|t| t.task_arn()) {
                Some(arn) => Ok(LaunchOutcome::Started {
                    task_arn: arn.to_owned(),
                }),
                None => Ok(LaunchOutcome::NotStarted {
                    failures: out
                        .failures()
                        .iter()
                        .map(|f| LaunchFailure {
                            arn: f.arn().map(str::to_owned),
                            reason: f.reason().unwrap_or("UNKNOWN").to_owned(),
                            detail: f.detail().map(str::to_owned),
                        })
                        .collect(),
                }),
            },
            Err(e) => answered(e),
        }
    }

    async fn stop_task(
        &self,
        cluster: Option<&str>,
        task_arn: &str,
        reason: &str,
    ) -> Result<(), LaunchError> {
        let result = self
            .client
            .stop_task()
            .set_cluster(cluster.map(str::to_owned))
            .task(task_arn)
            .reason(reason.chars().take(STOP_REASON_MAX).collect::<String>())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // "The referenced task was not found": it stopped and was forgotten, or never was.
            Err(SdkError::ServiceError(e))
                if e.err().code() == Some("InvalidParameterException")
                    && e.err().message().is_some_and(|m| m.contains("not found")) =>
            {
                Ok(())
            }
            Err(e) => Err(unanswered(e)),
        }
    }

    async fn describe_tasks(
        &self,
        cluster: Option<&str>,
        task_arns: &[String],
    ) -> Result<Described, LaunchError> {
        let out = self
            .client
            .describe_tasks()
            .set_cluster(cluster.map(str::to_owned))
            .set_tasks(Some(task_arns.to_vec()))
            .send()
            .await
            .map_err(unanswered)?;
        let mut described = Described {
            tasks: out.tasks().iter().map(task_of).collect(),
            ..Described::default()
        };
        for failure in out.failures() {
            let arn = failure.arn().unwrap_or_default().to_owned();
            match failure.reason() {
                Some(MISSING) => described.missing.push(arn),
                reason => described
                    .other_failures
                    .push((arn, reason.unwrap_or("no reason given").to_owned())),
            }
        }
        // ECS lists an ARN it does not know under failures; an ARN the answer leaves out altogether (moto does)
        // is not known either.
        for arn in task_arns {
            let answered = described.tasks.iter().any(|t| &t.task_arn == arn)
                || described.missing.contains(arn)
                || described.other_failures.iter().any(|(a, _)| a == arn);
            if !answered {
                described.missing.push(arn.clone());
            }
        }
        Ok(described)
    }

    async fn essential_containers(
        &self,
        task_definition: &str,
    ) -> Result<Vec<String>, LaunchError> {
        if let Some(names) = self
            .essentials
            .lock()
            .ok()
            .and_then(|m| m.get(task_definition).cloned())
        {
            return Ok(names);
        }
        let out = self
            .client
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(unanswered)?;
        let names: Vec<String> = out
            .task_definition()
            .map(|td| {
                td.container_definitions()
                    .iter()
                    // `essential` defaults to true in ECS.
                    .filter(|c| c.essential().unwrap_or(true))
                    .filter_map(|c| c.name().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Ok(mut cache) = self.essentials.lock() {
            cache.insert(task_definition.to_owned(), names.clone());
        }
        Ok(names)
    }
}
