//! Where to look at an attempt's task beyond the table: its ECS console page, from the task ARN alone, and
//! its CloudWatch log streams, from the awslogs configuration of the run's task definition (ECS names an
//! awslogs stream `<awslogs-stream-prefix>/<container>/<task id>`).

use reactor_aws::aws_error::{AwsError, FailureKind};
use serde_json::{json, Value};

/// The id ECS shows for a task (console, log stream names): the last part of its ARN.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The ECS console's page of the task: `arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id>` holds
/// all it needs. `None` for an ARN of the old format (no cluster) or not a task's.
pub fn console_url(arn: &str) -> Option<String> {
    let mut fields = arn.splitn(6, ':');
    let (_, partition, _, region, _, resource) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let mut path = resource.strip_prefix("task/")?.split('/');
    let (cluster, id) = (path.next()?, path.next()?);
    // The console lives under another domain in the China and GovCloud partitions.
    let host = match partition {
        "aws-cn" => format!("{region}.console.amazonaws.cn"),
        "aws-us-gov" => format!("{region}.console.amazonaws-us-gov.com"),
        _ => format!("{region}.console.aws.amazon.com"),
    };
    Some(format!(
        "https://{host}/ecs/v2/clusters/{cluster}/tasks/{id}/configuration?region={region}"
    ))
}

/// What the run's task definition says about its containers' logs, or why that is not known.
#[derive(Debug, Clone, PartialEq)]
pub enum Logs {
    Known {
        /// The task definition as ECS resolved it (`family:revision`).
        task_definition: String,
        /// The job names a family without a revision: this is the latest, which a task may not have run.
        latest: bool,
        containers: Vec<ContainerLogs>,
    },
    /// The task definition could not be read: why, in a few words.
    Unknown(String),
}

/// One container's awslogs destination, or why it has none on record.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLogs {
    pub container: String,
    pub group: Option<String>,
    pub prefix: Option<String>,
    /// `awslogs-region`, when the logs go to another region than the task's.
    pub region: Option<String>,
    /// Why the stream cannot be named, when it cannot.
    pub unknown: Option<String>,
    /// The log driver (`awslogs`, `awsfirelens`, `splunk`…), `None` without a logConfiguration: for `logs`,
    /// to say where the logs of a container it cannot read went.
    pub driver: Option<String>,
    /// Whether the task stops when this container does (ECS's default: yes): `logs` shows these by default.
    pub essential: bool,
}

impl ContainerLogs {
    /// The container's stream for the task `task_id`.
    pub fn stream(&self, task_id: &str) -> Option<String> {
        match (&self.group, &self.prefix, &self.unknown) {
            (Some(_), Some(prefix), None) => Some(format!("{prefix}/{}/{task_id}", self.container)),
            _ => None,
        }
    }

    /// For `show`'s table output: `group /ecs/report, stream report/app/<id>`, or why not.
    pub fn describe(&self, task_id: &str) -> String {
        let region = self
            .region
            .as_deref()
            .map(|r| format!(" (region {r})"))
            .unwrap_or_default();
        match (&self.group, self.stream(task_id)) {
            (Some(group), Some(stream)) => format!("group {group}, stream {stream}{region}"),
            (Some(group), None) => format!(
                "group {group}{region}, stream unknown: {}",
                self.unknown.as_deref().unwrap_or("")
            ),
            _ => format!("unknown: {}", self.unknown.as_deref().unwrap_or("")),
        }
    }

    /// For `show --json`.
    pub fn to_json(&self, task_id: &str) -> Value {
        let mut value = json!({
            "container": self.container,
            "logGroup": self.group,
            "logStream": self.stream(task_id),
        });
        if let Some(region) = &self.region {
            value["region"] = json!(region);
        }
        if let Some(why) = &self.unknown {
            value["unknown"] = json!(why);
        }
        value
    }
}

/// The run's task definition (from its job request, `runTask.taskDefinition`) read with
/// DescribeTaskDefinition. Never fails: a task definition that cannot be read (access denied, deleted) is
/// `Logs::Unknown` with the reason, and `show` goes on without it.
pub async fn logs(ecs: &aws_sdk_ecs::Client, request: &str) -> Logs {
    let Some(wanted) = task_definition_of(request) else {
        return Logs::Unknown("the run's job request names no runTask.taskDefinition".into());
    };
    let described = match ecs
        .describe_task_definition()
        .task_definition(&wanted)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Logs::Unknown(refused(&wanted, &AwsError::from_sdk(e))),
    };
    let Some(definition) = described.task_definition() else {
        return Logs::Unknown(format!("ECS described no task definition for {wanted}"));
    };
    Logs::Known {
        task_definition: definition
            .task_definition_arn()
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_owned())
            .unwrap_or_else(|| wanted.clone()),
        // `family` or an ARN ending in a family: no revision, so ECS answered with its latest.
        latest: !wanted.rsplit('/').next().unwrap_or(&wanted).contains(':'),
        containers: definition
            .container_definitions()
            .iter()
            .map(container_logs)
            .collect(),
    }
}

fn task_definition_of(request: &str) -> Option<String> {
    let request: Value = serde_json::from_str(request).ok()?;
    request["runTask"]["taskDefinition"]
        .as_str()
        .map(str::to_owned)
}

/// Why DescribeTaskDefinition did not answer, in on-call's words (the error's kind, then ECS's own).
fn refused(wanted: &str, e: &AwsError) -> String {
    let what = match e.kind() {
        FailureKind::AccessDenied | FailureKind::NoCredentials => {
            "the caller may not read it (ecs:DescribeTaskDefinition)"
        }
        FailureKind::NotFound => "ECS does not know it (deleted?)",
        // ECS answers an unknown task definition with a ClientException, not a not-found code.
        FailureKind::Refused => "ECS refused (deleted, or a name ECS does not know?)",
        FailureKind::Throttled | FailureKind::Timeout | FailureKind::Unreachable => {
            "ECS did not answer; try again"
        }
        FailureKind::Other => "ECS's answer could not be read",
    };
    format!("task definition {wanted} could not be read: {what} ({e})")
}

fn container_logs(c: &aws_sdk_ecs::types::ContainerDefinition) -> ContainerLogs {
    let name = c.name().unwrap_or("?").to_owned();
    let config = c.log_configuration();
    let option = |key: &str| {
        config
            .and_then(|l| l.options())
            .and_then(|o| o.get(key))
            .cloned()
    };
    let driver = config.map(|l| l.log_driver().as_str().to_owned());
    let unknown = match driver.as_deref() {
        None => Some("no logConfiguration in the task definition".to_owned()),
        Some("awslogs") if option("awslogs-group").is_none() => {
            Some("awslogs without awslogs-group".to_owned())
        }
        // Without a prefix ECS names the stream after the Docker container's id, which only the running
        // task knows (EC2 launch type; Fargate requires the prefix).
        Some("awslogs") if option("awslogs-stream-prefix").is_none() => Some(
            "no awslogs-stream-prefix: the stream is named after the Docker container id"
                .to_owned(),
        ),
        Some("awslogs") => None,
        Some(other) => Some(format!("log driver {other}, not awslogs")),
    };
    ContainerLogs {
        container: name,
        group: option("awslogs-group").filter(|_| driver.as_deref() == Some("awslogs")),
        prefix: option("awslogs-stream-prefix"),
        region: option("awslogs-region"),
        unknown,
        driver,
        essential: c.essential().unwrap_or(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};

    #[test]
    fn console_urls_from_task_arns() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("arn:aws:ecs:us-east-1:111122223333:task/jobs/0123456789abcdef0123456789abcdef",
             Some("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/jobs/tasks/0123456789abcdef0123456789abcdef/configuration?region=us-east-1")),
            ("arn:aws-cn:ecs:cn-north-1:111122223333:task/jobs/abc",
             Some("https://cn-north-1.console.amazonaws.cn/ecs/v2/clusters/jobs/tasks/abc/configuration?region=cn-north-1")),
            ("arn:aws:ecs:us-east-1:111122223333:task/abc", None),
            ("arn:aws:ecs:us-east-1:111122223333:cluster/jobs", None),
            ("abc", None),
        ];
        for (arn, url) in cases {
            assert_eq!(console_url(arn).as_deref(), *url, "{arn}");
        }
        assert_eq!(task_id("arn:aws:ecs:r:1:task/jobs/0123abcd"), "0123abcd");
    }

    #[test]
    fn log_streams_from_awslogs_options() {
        let container = |name: &str, driver: Option<LogDriver>, options: &[(&str, &str)]| {
            let mut c = ContainerDefinition::builder().name(name);
            if let Some(driver) = driver {
                let mut l = LogConfiguration::builder().log_driver(driver);
                for (k, v) in options {
                    l = l.options(*k, *v);
                }
                c = c.log_configuration(l.build().unwrap());
            }
            container_logs(&c.build())
        };
        let app = container(
            "app",
            Some(LogDriver::Awslogs),
            &[
                ("awslogs-group", "/ecs/report"),
                ("awslogs-stream-prefix", "report"),
            ],
        );
        assert_eq!(app.stream("t1").as_deref(), Some("report/app/t1"));
        assert_eq!(
            app.describe("t1"),
            "group /ecs/report, stream report/app/t1"
        );
        let no_prefix = container("app", Some(LogDriver::Awslogs), &[("awslogs-group", "/g")]);
        assert_eq!(no_prefix.stream("t1"), None);
        assert!(no_prefix
            .describe("t1")
            .starts_with("group /g, stream unknown: no awslogs-stream-prefix"));
        let router = container("log-router", Some(LogDriver::Awsfirelens), &[]);
        assert_eq!(
            router.describe("t1"),
            "unknown: log driver awsfirelens, not awslogs"
        );
        let none = container("sidecar", None, &[]);
        assert_eq!(
            none.to_json("t1"),
            json!({"container": "sidecar", "logGroup": null, "logStream": null,
                   "unknown": "no logConfiguration in the task definition"})
        );
    }
}
