//! A local ecs-reactor stack on moto: the attempts table, the outcomes topic with an SQS subscriber, a
//! cluster and a task definition (app essential, log-router not) — what template.yml declares, provisioned
//! with the same code — plus what tests need to play ECS's part (stop a task, build its STOPPED event,
//! play DynamoDB TTL) and to look at the result (rows, tasks, notifications).

use crate::moto::{moto, unique, Moto};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_aws::flow::{Reactor, Settings};
use reactor_aws::launcher::EcsLauncher;
use reactor_aws::notifier::SnsNotifier;
use reactor_aws::store::DynamoStore;
use serde_json::{json, Value};
use std::collections::HashMap;

pub struct Stack {
    pub config: SdkConfig,
    pub table: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub cluster: String,
    pub family: String,
    pub subnet: String,
    /// The stack's namespace (`REACTOR_NAMESPACE`): `ecs-reactor` unless a test gives it another.
    pub namespace: reactor_core::Namespace,
    /// The KMS key that seals override values (`REACTOR_OVERRIDES_KEY`; template.yml's `OverridesKey`).
    pub overrides_key: String,
    /// The queue that delivers delayed retries at their due second (`REACTOR_RETRY_QUEUE_URL`; template.yml's
    /// `RetryQueue`). moto sends no events: a test receives its messages and hands them to the scheduler.
    pub retry_queue_url: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub type LocalReactor = Reactor<DynamoStore, EcsLauncher, SnsNotifier>;

impl Stack {
    /// Provisions a fresh stack with names no other test uses.
    pub async fn new() -> Stack {
        Stack::on(moto()).await
    }

    /// A fresh stack on the given server.
    pub async fn on(server: &Moto) -> Stack {
        let config = server.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let ecs = aws_sdk_ecs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let table = unique("attempts");
        crate::provision::create_table(&dynamodb, &table)
            .await
            .unwrap();
        let (topic_arn, queue_url) = topic_with_inbox(&sns, &sqs).await;
        let (cluster, family) = cluster_and_task_definition(&ecs).await;
        let overrides_key = overrides_key(&config).await;
        let retry_queue_url = sqs
            .create_queue()
            .queue_name(unique("retries"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        Stack {
            table,
            topic_arn,
            queue_url,
            cluster,
            family,
            subnet: default_subnet(server),
            namespace: reactor_core::Namespace::default(),
            overrides_key,
            retry_queue_url,
            dynamodb,
            ecs,
            sqs,
            config,
        }
    }

    /// The environment a Lambda of this stack runs with (template.yml sets the same variables).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REACTOR_TABLE", self.table.clone()),
            ("REACTOR_TOPIC_ARN", self.topic_arn.clone()),
            ("REACTOR_ALLOWED_TASK_FAMILIES", self.family.clone()),
            ("REACTOR_ALLOWED_CLUSTERS", self.cluster.clone()),
            ("REACTOR_NAMESPACE", self.namespace.to_string()),
            ("REACTOR_OVERRIDES_KEY", self.overrides_key.clone()),
            ("REACTOR_RETRY_QUEUE_URL", self.retry_queue_url.clone()),
        ]
    }

    /// The guard a Lambda of this stack runs with: this stack's family and cluster only.
    pub fn guard(&self) -> reactor_core::Guard {
        reactor_core::Guard {
            task_families: reactor_core::guard::Allowed::from_list(Some(&self.family)),
            clusters: reactor_core::guard::Allowed::from_list(Some(&self.cluster)),
            ..reactor_core::Guard::default()
        }
    }

    /// The real adapters on this stack, as a Lambda's `main` builds them.
    pub fn reactor(&self) -> LocalReactor {
        Reactor {
            store: DynamoStore::new(self.dynamodb.clone(), &self.table),
            launcher: EcsLauncher::new(self.ecs.clone()),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&self.config), &self.topic_arn),
            settings: Settings::default(),
            guard: self.guard(),
            metrics: std::sync::Arc::new(reactor_aws::metrics::NoMetrics),
            namespace: self.namespace.clone(),
            vault: Some(self.vault(&self.config)),
            retry_queue: Some(self.retry_queue(&self.config)),
        }
    }

    /// The retry queue this stack's functions send delayed retries to, on clients of `sdk`.
    pub fn retry_queue(&self, sdk: &SdkConfig) -> reactor_aws::retry_queue::RetryQueue {
        reactor_aws::retry_queue::RetryQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            &self.retry_queue_url,
        )
    }

    /// The retry queue's messages visible now (moto honours `DelaySeconds`: a message shows once its delay
    /// has passed), as the scheduler's SQS event source delivers them: one event of up to 10 records. Waits up
    /// to `wait_seconds` for the first. The messages stay in flight (not deleted), as during an invocation.
    pub async fn queued_retries(&self, wait_seconds: i32) -> Value {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.retry_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .unwrap();
        sqs_event(
            got.messages()
                .iter()
                .map(|m| {
                    (
                        m.message_id().unwrap_or_default(),
                        m.body().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
                .as_slice(),
        )
    }

    /// The retry queue's delivery of `run_id`'s attempt `attempt` at its due second, as the queue would hand it
    /// over (built from its delay item, without waiting `DelaySeconds` in real time). `None`: no delay item.
    pub async fn retry_delivery(&self, run_id: &str, attempt: u32) -> Option<Value> {
        let delay = self.row(run_id, &format!("DELAY#{attempt:04}")).await?;
        let body =
            json!({"runId": run_id, "attempt": attempt, "dueAt": delay["dueAt"]}).to_string();
        Some(sqs_event(&[(&format!("retry-{run_id}-{attempt}"), &body)]))
    }

    /// The vault this stack's functions seal override values with, on clients of `sdk`.
    pub fn vault(&self, sdk: &SdkConfig) -> reactor_aws::vault::Vault {
        self.vault_for(sdk, &self.table)
    }

    /// The same key, for another table's values.
    pub fn vault_for(&self, sdk: &SdkConfig, table: &str) -> reactor_aws::vault::Vault {
        reactor_aws::vault::Vault::new(aws_sdk_kms::Client::new(sdk), &self.overrides_key, table)
    }

    /// A job request for this stack's cluster and task definition. It sets an environment variable, as most
    /// jobs do, so every run the tests start stores a sealed value (and every launch opens it): the crash,
    /// duplicate and soak suites go through the vault's calls too.
    pub fn job(&self, name: &str) -> Value {
        json!({
            "job": name,
            "runTask": {
                "cluster": self.cluster, "taskDefinition": format!("{}:1", self.family), "launchType": "FARGATE",
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": []}},
                "overrides": {"containerOverrides": [
                    {"name": "app", "environment": [{"name": "REPORT_FORMAT", "value": "csv"}]}
                ]}
            },
            "retry": {"maxAttempts": 4, "intervalSeconds": 60, "jitter": "NONE"}
        })
    }

    /// Registers a job file of the repository's `jobs/` as `ecs-reactor jobs apply` would, pointed at this
    /// stack (its cluster, task definition and subnets; the rest of the file as written), and returns the job's
    /// name. Its schedule's ticks are then `{"scheduledJob": NAME, "scheduledTime": …}`.
    pub async fn register_job_file(&self, file: &str) -> String {
        use reactor_aws::store::Registry;
        let path = format!("{}/../../jobs/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut spec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let local = self.job("-");
        for field in ["cluster", "taskDefinition", "networkConfiguration"] {
            spec["runTask"][field] = local["runTask"][field].clone();
        }
        let job = spec["job"]
            .as_str()
            .expect("a job file names its job")
            .to_owned();
        reactor_core::jobfile::read(spec.clone(), Some(&job))
            .unwrap_or_else(|problems| panic!("{path}: {problems:?}"));
        let store = reactor_aws::store::DynamoStore::new(self.dynamodb.clone(), &self.table);
        let item = reactor_aws::records::JobItem::new(
            &job,
            spec.to_string(),
            1,
            "make demo",
            time::OffsetDateTime::now_utc(),
        );
        store.register_job(&item, None).await.unwrap();
        job
    }

    /// The EventBridge scheduled event the template's schedule rule sends for a tick at `time`.
    pub fn tick(&self, name: &str, time: &str) -> Value {
        json!({
            "version": "0", "id": unique("tick"), "detail-type": "Scheduled Event", "source": "aws.events",
            "time": time, "detail": self.job(name)
        })
    }

    /// Plays ECS: stops `task_arn` in moto and returns the STOPPED event ECS would send, taken from the sample
    /// event `events/<sample>` with this task's identity.
    pub async fn stop(
        &self,
        task_arn: &str,
        started_by: &str,
        sample: &str,
        version: u64,
    ) -> Value {
        self.ecs
            .stop_task()
            .cluster(&self.cluster)
            .task(task_arn)
            .reason("stopped by the test to play a STOPPED event")
            .send()
            .await
            .unwrap();
        // Now, not when the sample was recorded: the tests stop a task right after launching it, so every time
        // of the task is now and a story's timeline reads in order.
        stopped_event_at(
            sample,
            task_arn,
            started_by,
            version,
            time::OffsetDateTime::now_utc(),
        )
    }

    /// The task as ECS describes it, with its tags.
    pub async fn task(&self, arn: &str) -> aws_sdk_ecs::types::Task {
        let described = self
            .ecs
            .describe_tasks()
            .cluster(&self.cluster)
            .tasks(arn)
            .include(aws_sdk_ecs::types::TaskField::Tags)
            .send()
            .await
            .unwrap();
        described.tasks()[0].clone()
    }

    /// Tasks (running or stopped) carrying `started_by`.
    pub async fn tasks(&self, started_by: &str) -> Vec<String> {
        self.list_tasks(Some(started_by)).await
    }

    /// Every task of the cluster.
    pub async fn all_tasks(&self) -> Vec<String> {
        self.list_tasks(None).await
    }

    async fn list_tasks(&self, started_by: Option<&str>) -> Vec<String> {
        let mut arns = Vec::new();
        for status in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            let mut pages = self
                .ecs
                .list_tasks()
                .cluster(&self.cluster)
                .set_started_by(started_by.map(str::to_owned))
                .desired_status(status)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                arns.extend(page.unwrap().task_arns().iter().cloned());
            }
        }
        arns
    }

    /// The notifications received by the subscriber queue so far (drained), as the published JSON bodies
    /// with `subject` and `attributes` added.
    pub async fn notifications(&self) -> Vec<Value> {
        self.received(1).await
    }

    /// The notifications received so far, without waiting for more (moto delivers SNS to SQS at once).
    pub async fn notifications_now(&self) -> Vec<Value> {
        self.received(0).await
    }

    async fn received(&self, wait_seconds: i32) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait_seconds)
                .send()
                .await
                .unwrap();
            if received.messages().is_empty() {
                return out;
            }
            for m in received.messages() {
                let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                let mut body: Value =
                    serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                body["subject"] = envelope["Subject"].clone();
                body["attributes"] = envelope["MessageAttributes"].clone();
                out.push(body);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// The items of a run's partition (run, attempts, delays) as JSON, in key order.
    pub async fn rows(&self, run_id: &str) -> Vec<Value> {
        let out = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("RUN#{run_id}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        serde_dynamo::from_items(out.items().to_vec()).unwrap()
    }

    /// One item of a run's partition by sort key (`RUN`, `ATTEMPT#0001`, `DELAY#0002`).
    pub async fn row(&self, run_id: &str, sk: &str) -> Option<Value> {
        self.rows(run_id).await.into_iter().find(|r| r["sk"] == sk)
    }

    /// Every item of the table (tests only: on-call never scans).
    pub async fn scan(&self) -> Vec<Value> {
        let mut items = Vec::new();
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            items.extend(
                serde_dynamo::from_items::<_, Value>(page.unwrap().items().to_vec()).unwrap(),
            );
        }
        items
    }

    /// Plays DynamoDB TTL: deletes the delay item and returns the stream batch Lambda would deliver for it
    /// (moto neither expires items nor marks the deleting principal).
    pub async fn expire(&self, run_id: &str, delay_sk: &str) -> Value {
        self.expire_if_present(run_id, delay_sk)
            .await
            .expect("the delay item was there to expire")
    }

    /// Plays the minutes passing before a delay falls due, for a story told on the real clock: the delay item
    /// becomes due at `due_at` (epoch seconds), as TTL would find it once its time has come.
    pub async fn make_due(&self, run_id: &str, delay_sk: &str, due_at: i64) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("RUN#{run_id}")))
            .key("sk", AttributeValue::S(delay_sk.to_owned()))
            .update_expression("SET dueAt = :due, #ttl = :due")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":due", AttributeValue::N(due_at.to_string()))
            .send()
            .await
            .unwrap();
    }

    /// As [`Stack::expire`], or `None` if the item is gone already (the sweep claimed the retry first: TTL has
    /// nothing left to delete).
    pub async fn expire_if_present(&self, run_id: &str, delay_sk: &str) -> Option<Value> {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("RUN#{run_id}"))),
            ("sk".to_owned(), AttributeValue::S(delay_sk.to_owned())),
        ]);
        let old = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .unwrap()
            .attributes?;
        Some(ttl_batch(&self.table, old))
    }
}

/// A DynamoDB stream batch with one TTL REMOVE record of `old_image`.
pub fn ttl_batch(table: &str, old_image: HashMap<String, AttributeValue>) -> Value {
    let keys: HashMap<String, AttributeValue> = old_image
        .iter()
        .filter(|(k, _)| *k == "pk" || *k == "sk")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let image = serde_json::to_value(serde_dynamo::Item::from(old_image)).unwrap();
    let keys = serde_json::to_value(serde_dynamo::Item::from(keys)).unwrap();
    json!({"Records": [{
        "eventID": unique("ttl"), "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": 1795000000, "Keys": keys, "OldImage": image,
                     "SequenceNumber": format!("4{:020}", std::process::id()), "SizeBytes": 220,
                     "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-21T00:00:00.000")
    }]})
}

/// The sweep's input: the default scheduled event of a rate(1 minute) rule.
pub fn sweep_event() -> Value {
    json!({
        "version": "0", "id": unique("sweep"), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-21T02:45:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ecs-reactor-sweep"], "detail": {}
    })
}

/// As [`stopped_event`], every time of the task (and the event's) `at`, to the second.
pub fn stopped_event_at(
    sample: &str,
    task_arn: &str,
    started_by: &str,
    version: u64,
    at: time::OffsetDateTime,
) -> Value {
    let mut event = stopped_event(sample, task_arn, started_by, version);
    let at = at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    event["time"] = json!(at);
    for field in [
        "createdAt",
        "connectivityAt",
        "pullStartedAt",
        "pullStoppedAt",
        "startedAt",
        "stoppingAt",
        "executionStoppedAt",
        "stoppedAt",
        "updatedAt",
    ] {
        if event["detail"].get(field).is_some() {
            event["detail"][field] = json!(at);
        }
    }
    event
}

/// A sample event from events/ with another task's identity.
pub fn stopped_event(sample: &str, task_arn: &str, started_by: &str, version: u64) -> Value {
    let text = std::fs::read_to_string(crate::root().join("events").join(sample)).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["detail"]["taskArn"] = json!(task_arn);
    event["detail"]["startedBy"] = json!(started_by);
    event["detail"]["version"] = json!(version);
    event["resources"] = json!([task_arn]);
    event
}

/// An outcomes topic with an SQS queue subscribed to it (on-call's inbox): (topic ARN, queue URL).
pub async fn topic_with_inbox(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(unique("outcomes"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = subscriber(sns, sqs, &topic_arn, None).await;
    (topic_arn, queue_url)
}

/// The event Lambda's SQS event source hands the scheduler for these messages (id, body), as
/// `events/scheduler-retry-due.json` shows it.
pub fn sqs_event(messages: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                               "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795000000000"},
                "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ecs-reactor-RetryQueue",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A queue subscribed to `topic`, with `policy` as its subscription's FilterPolicy (on message attributes).
pub async fn subscriber(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    policy: Option<&Value>,
) -> String {
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("subscriber"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let mut subscribe = sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(&queue_arn);
    if let Some(policy) = policy {
        subscribe = subscribe.attributes("FilterPolicy", policy.to_string());
    }
    subscribe.send().await.unwrap();
    queue_url
}

/// A cluster and a task definition (app essential, log-router not): (cluster name, family), revision 1.
pub async fn cluster_and_task_definition(ecs: &aws_sdk_ecs::Client) -> (String, String) {
    use aws_sdk_ecs::types::ContainerDefinition;
    let cluster = unique("jobs");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let family = unique("report");
    ecs.register_task_definition()
        .family(&family)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/docker/library/python:3.12")
                .memory(256)
                .essential(true)
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name("log-router")
                .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
                .memory(128)
                .essential(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    (cluster, family)
}

/// A subnet of moto's default VPC (RunTask checks that it exists), asked of EC2's query API directly: the
/// whole EC2 SDK would cost minutes of build for one call.
pub fn default_subnet(server: &Moto) -> String {
    let body = server.post_form("Action=DescribeSubnets&Version=2016-11-15");
    let start = body
        .find("<subnetId>")
        .expect("a subnet in moto's default VPC")
        + "<subnetId>".len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

/// A symmetric KMS key, as template.yml's `OverridesKey`; its ARN.
async fn overrides_key(config: &SdkConfig) -> String {
    let key = aws_sdk_kms::Client::new(config)
        .create_key()
        .description("ecs-reactor test: override values at rest")
        .send()
        .await
        .unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// The override a launched task carries for `container` (its command and environment as RunTask sent them).
pub fn container_override<'t>(
    task: &'t aws_sdk_ecs::types::Task,
    container: &str,
) -> &'t aws_sdk_ecs::types::ContainerOverride {
    task.overrides()
        .and_then(|o| {
            o.container_overrides()
                .iter()
                .find(|c| c.name() == Some(container))
        })
        .unwrap_or_else(|| {
            panic!(
                "no override for container {container:?} on {:?}",
                task.task_arn()
            )
        })
}
