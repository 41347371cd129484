//! Playing ECS's and DynamoDB's part for the benchmark, as tests/integration/stack.rs does for the tests:
//! STOPPED events of our tasks, runs started in bulk by the real starter handler, TTL deletes.

use crate::stack::{stopped_event_at, LocalReactor, Stack};
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn started_by(run_id: &str, attempt: u32) -> String {
    format!("ecs-reactor/{run_id}/{attempt}")
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
}

/// The STOPPED event ECS sends for `task_arn` (attempt `attempt` of `run_id`), from the sample `events/<sample>`,
/// every time of the task at `at`.
pub fn stopped(
    sample: &str,
    task_arn: &str,
    run_id: &str,
    attempt: u32,
    at: OffsetDateTime,
) -> Value {
    stopped_event_at(sample, task_arn, &started_by(run_id, attempt), 3, at)
}

/// Runs `work` over `items` on `workers` concurrent tasks, each with its own value from `worker` (a Lambda
/// instance's clients); answers in the order of `items`.
pub async fn concurrently<W, I, F, Fut, R>(
    workers: usize,
    worker: impl Fn() -> W,
    items: Vec<I>,
    work: F,
) -> Vec<R>
where
    W: Send + Sync + 'static,
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(Arc<W>, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send,
{
    let total = items.len();
    let queue = Arc::new(Mutex::new(
        items.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let work = Arc::new(work);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (queue, work, state) = (queue.clone(), work.clone(), Arc::new(worker()));
        set.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some((i, item)) = next else { break };
                done.push((i, work(state.clone(), item).await));
            }
            done
        });
    }
    let mut answers: Vec<Option<R>> = (0..total).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        for (i, r) in done.unwrap() {
            answers[i] = Some(r);
        }
    }
    answers.into_iter().map(Option::unwrap).collect()
}

/// What a Lambda instance of a stack builds its clients from: each instance gets its own clients (and
/// connections), as separate Lambda instances do.
#[derive(Clone)]
pub struct Instance {
    config: aws_config::SdkConfig,
    table: String,
    topic_arn: String,
    guard: reactor_core::Guard,
    overrides_key: String,
    retry_queue_url: String,
}

impl Instance {
    pub fn of(stack: &Stack) -> Instance {
        Instance {
            config: stack.config.clone(),
            table: stack.table.clone(),
            topic_arn: stack.topic_arn.clone(),
            guard: stack.guard(),
            overrides_key: stack.overrides_key.clone(),
            retry_queue_url: stack.retry_queue_url.clone(),
        }
    }

    pub fn reactor(&self) -> LocalReactor {
        use reactor_aws::{launcher::EcsLauncher, notifier::SnsNotifier, store::DynamoStore};
        reactor_aws::flow::Reactor {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.config), &self.table),
            launcher: EcsLauncher::new(aws_sdk_ecs::Client::new(&self.config)),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&self.config), &self.topic_arn),
            settings: reactor_aws::flow::Settings::default(),
            guard: self.guard.clone(),
            metrics: std::sync::Arc::new(reactor_aws::metrics::NoMetrics),
            namespace: reactor_core::Namespace::default(),
            vault: Some(reactor_aws::vault::Vault::new(
                aws_sdk_kms::Client::new(&self.config),
                &self.overrides_key,
                &self.table,
            )),
            retry_queue: Some(reactor_aws::retry_queue::RetryQueue::on(
                &self.config,
                &self.retry_queue_url,
            )),
        }
    }
}

/// Starts `n` runs of `job` (one schedule tick each, a minute apart) with the real starter handler, on 8
/// concurrent instances: (run id, task ARN of attempt 1).
pub async fn start_runs(stack: &Stack, job: &Value, n: usize) -> Vec<(String, String)> {
    let base = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(30);
    let ticks: Vec<Value> = (0..n)
        .map(|i| {
            let mut tick = stack.tick("x", &rfc3339(base + time::Duration::minutes(i as i64)));
            tick["detail"] = job.clone();
            tick
        })
        .collect();
    let instance = Instance::of(stack);
    concurrently(
        8,
        move || instance.reactor(),
        ticks,
        |reactor: Arc<LocalReactor>, tick| async move {
            let answer = starter::handle(&reactor, tick, "bench", OffsetDateTime::now_utc())
                .await
                .unwrap();
            let answer = serde_json::to_value(answer).unwrap();
            (
                answer["runId"].as_str().unwrap().to_owned(),
                answer["taskArn"].as_str().unwrap().to_owned(),
            )
        },
    )
    .await
}

/// Every item of the table, all pages (the benchmark checks rows; on-call never scans).
pub async fn scan(stack: &Stack) -> Vec<Value> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = stack
            .dynamodb
            .scan()
            .table_name(&stack.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(serde_dynamo::from_items::<_, Value>(out.items().to_vec()).unwrap());
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}
