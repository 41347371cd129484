//! A task as DescribeTasks answers it, read into the judge's model: what the sweep's reconciliation judges
//! when a task's STOPPED event never arrived. The event's `detail` and DescribeTasks' `Task` are the same
//! shape (ECS documents the event as "resembling" it), so a described task is judged like its event.

use aws_sdk_ecs::types as ecs;
use reactor_core::event::{Container, StopCode, Task};
use time::OffsetDateTime;

/// What DescribeTasks said about some task ARNs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    /// The tasks ECS still knows, in any status.
    pub tasks: Vec<Task>,
    /// Task ARNs ECS no longer knows (`failures[]` with reason MISSING): stopped more than about an hour ago,
    /// or never started.
    pub missing: Vec<String>,
    /// Other failures, as (ARN, reason): not judged; the next sweep asks again.
    pub other_failures: Vec<(String, String)>,
}

/// DescribeTasks answers a task ARN it does not know in `failures[]` with this reason.
pub const MISSING: &str = "MISSING";

/// The judge's model of a described task.
pub fn task_of(t: &ecs::Task) -> Task {
    let time = |d: Option<&aws_sdk_ecs::primitives::DateTime>| {
        d.and_then(|d| {
            OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(d.secs()) * 1_000_000_000 + i128::from(d.subsec_nanos()),
            )
            .ok()
        })
    };
    Task {
        task_arn: t.task_arn().unwrap_or_default().to_owned(),
        cluster_arn: t.cluster_arn().unwrap_or_default().to_owned(),
        task_definition_arn: t.task_definition_arn().unwrap_or_default().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        desired_status: t.desired_status().map(str::to_owned),
        version: u64::try_from(t.version()).unwrap_or(0),
        started_by: t.started_by().map(str::to_owned),
        group: t.group().map(str::to_owned),
        launch_type: t.launch_type().map(|l| l.as_str().to_owned()),
        capacity_provider_name: t.capacity_provider_name().map(str::to_owned),
        stop_code: t.stop_code().map(|c| StopCode::parse(c.as_str())),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        created_at: time(t.created_at()),
        started_at: time(t.started_at()),
        stopping_at: time(t.stopping_at()),
        stopped_at: time(t.stopped_at()),
        execution_stopped_at: time(t.execution_stopped_at()),
        containers: t
            .containers()
            .iter()
            .map(|c| Container {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
                last_status: c.last_status().map(str::to_owned),
                image: c.image().map(str::to_owned),
            })
            .collect(),
        cpu: t.cpu().map(str::to_owned),
        memory: t.memory().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_task_reads_like_its_event() {
        let described = ecs::Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:1:task/c/abc")
            .last_status("STOPPED")
            .version(4)
            .started_by("ecs-reactor/nightly-20261121T023000Z/1")
            .stop_code(ecs::TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .stopped_at(aws_sdk_ecs::primitives::DateTime::from_secs(1_795_000_000))
            .containers(
                ecs::Container::builder()
                    .name("app")
                    .exit_code(1)
                    .reason("boom")
                    .build(),
            )
            .memory("512")
            .build();
        let task = task_of(&described);
        let event: Task = serde_json::from_value(serde_json::json!({
            "taskArn": "arn:aws:ecs:us-east-1:1:task/c/abc", "clusterArn": "", "taskDefinitionArn": "",
            "lastStatus": "STOPPED", "version": 4, "startedBy": "ecs-reactor/nightly-20261121T023000Z/1",
            "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
            "stoppedAt": "2026-11-18T11:06:40Z", "memory": "512",
            "containers": [{"name": "app", "exitCode": 1, "reason": "boom"}]
        }))
        .unwrap();
        assert_eq!(task, event);
    }
}
