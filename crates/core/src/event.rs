//! The `ECS Task State Change` event as EventBridge delivers it.
//!
//! ECS adds fields over time, so everything here is lenient about what it does not know; it is exact only
//! about what the reactor needs: that the event is one (source and detail-type), the task ARN, the status,
//! the version that orders events of one task, and the shape of the facts we judge by.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// `source` of every ECS event.
pub const ECS_SOURCE: &str = "aws.ecs";
/// `detail-type` of task state changes.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";

/// An EventBridge event whose detail is a task.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskStateChangeEvent {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub time: Option<OffsetDateTime>,
    pub detail: Task,
}

/// The task as ECS describes it in the event: a subset of DescribeTasks' `Task`, camelCase.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub task_arn: String,
    #[serde(default)]
    pub cluster_arn: String,
    #[serde(default)]
    pub task_definition_arn: String,
    pub last_status: String,
    #[serde(default)]
    pub desired_status: Option<String>,
    /// Grows with every state change of the task; duplicates share it. Orders out-of-order deliveries.
    pub version: u64,
    #[serde(default)]
    pub started_by: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub launch_type: Option<String>,
    #[serde(default)]
    pub capacity_provider_name: Option<String>,
    #[serde(default)]
    pub stop_code: Option<StopCode>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub stopping_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub stopped_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub execution_stopped_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Task-level CPU units and memory (MiB) as ECS reports them (`"256"`, `"512"`); absent on EC2 tasks
    /// sized per container. What an attempt that ran out of memory had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    /// Absent when the container never ran (e.g. its image could not be pulled).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why the container stopped, in ECS's words (≤ 255 chars), e.g. `OutOfMemoryError: Container killed
    /// due to memory usage`. Absent for an ordinary exit.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub last_status: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
}

impl Task {
    /// A STOPPED task from the facts the judge reads, everything else empty: how a recorded attempt (or a
    /// case of the public corpus) is judged again. Containers are (name, exit code, reason).
    pub fn stopped(
        task_arn: &str,
        launch_type: Option<&str>,
        stop_code: Option<&str>,
        stopped_reason: Option<&str>,
        containers: impl IntoIterator<Item = (String, Option<i32>, Option<String>)>,
    ) -> Task {
        Task {
            task_arn: task_arn.into(),
            cluster_arn: String::new(),
            task_definition_arn: String::new(),
            last_status: "STOPPED".into(),
            desired_status: Some("STOPPED".into()),
            version: 0,
            started_by: None,
            group: None,
            launch_type: launch_type.map(Into::into),
            capacity_provider_name: None,
            stop_code: stop_code.map(StopCode::parse),
            stopped_reason: stopped_reason.map(Into::into),
            created_at: None,
            started_at: None,
            stopping_at: None,
            stopped_at: None,
            execution_stopped_at: None,
            containers: containers
                .into_iter()
                .map(|(name, exit_code, reason)| Container {
                    name,
                    exit_code,
                    reason,
                    last_status: Some("STOPPED".into()),
                    image: None,
                })
                .collect(),
            cpu: None,
            memory: None,
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Whether the task ran on Fargate (launch type, or a FARGATE / FARGATE_SPOT capacity provider).
    pub fn on_fargate(&self) -> bool {
        self.launch_type.as_deref() == Some("FARGATE")
            || self
                .capacity_provider_name
                .as_deref()
                .is_some_and(|c| c.starts_with("FARGATE"))
    }

    /// The task's size, when the event says its memory.
    pub fn size(&self) -> Option<crate::memory::TaskSize> {
        let memory_mib = crate::memory::parse_units(self.memory.as_deref()?, "gb")?;
        Some(crate::memory::TaskSize {
            cpu: self
                .cpu
                .as_deref()
                .and_then(|c| crate::memory::parse_units(c, "vcpu")),
            memory_mib,
        })
    }
}

/// Why ECS stopped a task. The set is open (ECS adds codes, e.g. `InfrastructureHealth`): codes this
/// version does not know are kept verbatim in [`StopCode::Other`] rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    ServiceSchedulerInitiated,
    SpotInterruption,
    TerminationNotice,
    InfrastructureHealth,
    Other(String),
}

impl StopCode {
    /// Every code this version knows, for error messages and documentation.
    pub const KNOWN: [&'static str; 7] = [
        "TaskFailedToStart",
        "EssentialContainerExited",
        "UserInitiated",
        "ServiceSchedulerInitiated",
        "SpotInterruption",
        "TerminationNotice",
        "InfrastructureHealth",
    ];

    pub fn parse(code: &str) -> StopCode {
        match code {
            "TaskFailedToStart" => StopCode::TaskFailedToStart,
            "EssentialContainerExited" => StopCode::EssentialContainerExited,
            "UserInitiated" => StopCode::UserInitiated,
            "ServiceSchedulerInitiated" => StopCode::ServiceSchedulerInitiated,
            "SpotInterruption" => StopCode::SpotInterruption,
            "TerminationNotice" => StopCode::TerminationNotice,
            "InfrastructureHealth" => StopCode::InfrastructureHealth,
            other => StopCode::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            StopCode::TaskFailedToStart => "TaskFailedToStart",
            StopCode::EssentialContainerExited => "EssentialContainerExited",
            StopCode::UserInitiated => "UserInitiated",
            StopCode::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
            StopCode::SpotInterruption => "SpotInterruption",
            StopCode::TerminationNotice => "TerminationNotice",
            StopCode::InfrastructureHealth => "InfrastructureHealth",
            StopCode::Other(code) => code,
        }
    }
}

impl fmt::Display for StopCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| StopCode::parse(&s))
    }
}

impl Serialize for StopCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why an event could not be read as a task state change. The variants answer the question a handler
/// has to answer: drop it quietly ([`EventError::is_foreign`]) or treat it as poison.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error(
        "not an ECS Task State Change event (source {event_source:?}, detail-type {detail_type:?})"
    )]
    Foreign {
        event_source: String,
        detail_type: String,
    },
    #[error("malformed ECS Task State Change event: {0}")]
    Malformed(String),
}

impl EventError {
    /// Another service's event or another detail-type: not ours to judge, not an error worth a retry.
    pub fn is_foreign(&self) -> bool {
        matches!(self, EventError::Foreign { .. })
    }
}

/// Reads an EventBridge event and insists that it is an ECS Task State Change.
pub fn parse_task_state_change(json: &str) -> Result<TaskStateChangeEvent, EventError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| EventError::NotJson(e.to_string()))?;
    task_state_change_from_value(value)
}

/// As [`parse_task_state_change`], for a handler that already holds the JSON value.
pub fn task_state_change_from_value(
    value: serde_json::Value,
) -> Result<TaskStateChangeEvent, EventError> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (source, detail_type) = (field("source"), field("detail-type"));
    if source != ECS_SOURCE || detail_type != TASK_STATE_CHANGE {
        return Err(EventError::Foreign {
            event_source: source,
            detail_type,
        });
    }
    // The event carries the task's overrides (environment values among them): an error names the field and
    // the kind of value found, never the value.
    let original = value.clone();
    serde_path_to_error::deserialize(value).map_err(|e| {
        let found = crate::job::value_at(&original, &crate::job::steps_of(e.path()));
        let path = e.path().to_string();
        let message = crate::job::without_the_value(&e.into_inner().to_string(), found);
        EventError::Malformed(format!("{path}: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOPPED: &str = r#"{
      "version": "0", "id": "3317b2af-7005-947d-b652-f55e762e571a", "detail-type": "ECS Task State Change",
      "source": "aws.ecs", "account": "111122223333", "time": "2020-01-23T17:57:58Z", "region": "us-west-2",
      "resources": ["arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad"],
      "detail": {
        "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster",
        "containers": [{"name": "app", "exitCode": 1, "lastStatus": "STOPPED", "somethingNew": true}],
        "lastStatus": "STOPPED", "stopCode": "SomeFutureCode", "stoppedReason": "Essential container in task exited",
        "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "stoppedAt": "2020-01-23T17:57:58.021Z", "version": 5, "brandNewField": {"x": 1}
      }
    }"#;

    #[test]
    fn lenient_about_unknown_fields_and_codes() {
        let event = parse_task_state_change(STOPPED).unwrap();
        assert!(event.detail.is_stopped());
        assert_eq!(event.detail.version, 5);
        assert_eq!(
            event.detail.stop_code,
            Some(StopCode::Other("SomeFutureCode".into()))
        );
        assert_eq!(event.detail.containers[0].exit_code, Some(1));
        assert_eq!(
            event.detail.stopped_at.unwrap().unix_timestamp(),
            1579802278
        );
    }

    #[test]
    fn foreign_and_malformed_are_told_apart() {
        let foreign = r#"{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}"#;
        assert!(parse_task_state_change(foreign).unwrap_err().is_foreign());
        let no_version = STOPPED.replace(r#""version": 5,"#, "");
        let err = parse_task_state_change(&no_version).unwrap_err();
        assert!(!err.is_foreign());
        assert!(
            err.to_string().contains("detail: missing field `version`"),
            "{err}"
        );
        let bad_exit = STOPPED.replace(r#""exitCode": 1"#, r#""exitCode": "one""#);
        let err = parse_task_state_change(&bad_exit).unwrap_err().to_string();
        assert!(err.contains("detail.containers[0].exitCode"), "{err}");
        assert!(matches!(
            parse_task_state_change("{"),
            Err(EventError::NotJson(_))
        ));
    }
}
