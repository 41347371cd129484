//! Section 5: the AWS API calls of one run, counted on the real clients (an interceptor records every
//! attempt of every call), for a run that succeeds at once, one retried later and one retried at once; the
//! DynamoDB request units they consume, from the requests, the answers and the table's stream (item sizes and
//! index updates by DynamoDB's documented rules).

use crate::play::{started_by, stopped};
use crate::stack::{sweep_event, LocalReactor, Stack};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use reactor_aws::flow::{Reactor, Settings};
use reactor_aws::launcher::EcsLauncher;
use reactor_aws::notifier::SnsNotifier;
use reactor_aws::store::DynamoStore;
use reactor_testkit::provision::{IndexDef, INDEXES};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// One attempt of one AWS call.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: &'static str,
    pub operation: String,
    pub ok: bool,
    pub request: Value,
    pub response: Value,
}

/// Records every call of the clients it is installed on.
#[derive(Debug, Clone)]
struct Recorder {
    service: &'static str,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "bench-call-recorder"
    }

    // The request as sent (it is gone once transmitted); the flows measured here call one at a time, so the
    // answer read after the attempt belongs to the last request recorded.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let body = request.body().bytes().unwrap_or_default();
        let operation = match request.headers().get("x-amz-target") {
            // JSON protocols (DynamoDB, ECS): "DynamoDB_20120810.GetItem".
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
            // Query protocol (SNS): "Action=Publish&…".
            None => String::from_utf8_lossy(body)
                .split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .unwrap_or("?")
                .to_owned(),
        };
        self.calls.lock().unwrap().push(Call {
            service: self.service,
            operation,
            ok: false,
            request: serde_json::from_slice(body).unwrap_or(Value::Null),
            response: Value::Null,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut calls = self.calls.lock().unwrap();
        let Some(call) = calls.iter_mut().rev().find(|c| c.service == self.service) else {
            return Ok(());
        };
        if let Some(response) = context.response() {
            call.ok = response.status().is_success();
            call.response = response
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
        }
        Ok(())
    }
}

/// One Lambda invocation's share of a run: its calls.
pub struct Invocation {
    pub function: &'static str,
    /// A request of its own (false: work done inside the one-minute sweep, which runs anyway).
    pub request: bool,
    pub calls: Vec<Call>,
}

/// What a run costs in AWS requests.
pub struct Scenario {
    pub name: &'static str,
    pub invocations: Vec<Invocation>,
    /// DynamoDB write request units: (base table, index updates).
    pub write_units: (f64, f64),
    pub read_units: f64,
    /// Of the base table's write units, those transactions add (their second unit per KB).
    pub transaction_units: f64,
    /// The largest item written (bytes, by DynamoDB's size rules).
    pub largest_item: usize,
    /// Write units by partition key, the run's own parts named (`RUN#<run>`, `STATUS#RUNNING`):
    /// (table or index, key) → units.
    pub per_key: BTreeMap<(String, String), f64>,
}

impl Scenario {
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.invocations.iter().flat_map(|i| i.calls.iter())
    }

    pub fn count(&self, service: &str) -> usize {
        self.calls().filter(|c| c.service == service).count()
    }

    /// "GetItem ×2, TransactWriteItems ×3, …" of one service.
    pub fn operations(&self, service: &str) -> String {
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for c in self.calls().filter(|c| c.service == service) {
            *ops.entry(c.operation.as_str()).or_default() += 1;
        }
        ops.iter()
            .map(|(op, n)| format!("{op} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn requests(&self, function: &str) -> usize {
        self.invocations
            .iter()
            .filter(|i| i.request && i.function == function)
            .count()
    }
}

/// The sweep's own calls each minute (Query of every shard and of stuck launches), whatever the runs.
pub struct Calls {
    pub scenarios: Vec<Scenario>,
    pub sweep_calls: Vec<Call>,
    pub sweep_read_units: f64,
}

pub async fn run() -> Calls {
    let stack = Stack::new().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let reactor = recorded(&stack, &calls);
    let mut stream = Stream::new(&stack).await;
    let take = |function, request| Invocation {
        function,
        request,
        calls: std::mem::take(&mut *calls.lock().unwrap()),
    };

    let mut scenarios = Vec::new();
    let mut sweep_calls = Vec::new();
    for (name, first_stop) in [
        ("succeeds at once", "stopped-success.json"),
        (
            "one delayed retry (image pull rate-limited, then success)",
            "stopped-pull-rate-limit.json",
        ),
        (
            "one immediate retry (Spot interruption, then success)",
            "stopped-spot-interruption.json",
        ),
    ] {
        let now = OffsetDateTime::now_utc();
        let job = format!("calls-{}", scenarios.len());
        let tick = stack.tick(&job, &crate::play::rfc3339(now));
        let started = starter::handle(&reactor, tick, "bench", now).await.unwrap();
        let started = serde_json::to_value(started).unwrap();
        let mut invocations = vec![take("starter", true)];
        let run_id = started["runId"].as_str().unwrap().to_owned();
        let task = started["taskArn"].as_str().unwrap().to_owned();
        let judged = classifier::handle(&reactor, stopped(first_stop, &task, &run_id, 1, now), now)
            .await
            .unwrap();
        invocations.push(take("classifier", true));
        let second_task = match judged.action {
            Some("SUCCEED") => None,
            Some("RETRY_NOW") => judged.next_task_arn.clone(),
            Some("RETRY_LATER") => {
                // The retry queue delivers the retry at its due second (the classifier sent it, with its
                // delay): one scheduler invocation of its own.
                let due =
                    now + time::Duration::seconds(i64::from(judged.delay_seconds.unwrap_or(0)) + 1);
                let delivery = stack.retry_delivery(&run_id, 2).await.unwrap();
                let answer = scheduler::handle(&reactor, delivery, due).await.unwrap();
                assert_eq!(
                    answer["batchItemFailures"],
                    serde_json::json!([]),
                    "{answer}"
                );
                invocations.push(take("scheduler", true));
                // The sweep of the minute after finds nothing due: its own calls are a fixed cost a minute.
                scheduler::handle(&reactor, sweep_event(), due + time::Duration::minutes(1))
                    .await
                    .unwrap();
                sweep_calls = take("scheduler", false).calls;
                stack
                    .tasks(&started_by(&run_id, 2))
                    .await
                    .into_iter()
                    .next()
            }
            other => panic!("{name}: unexpected decision {other:?}"),
        };
        if let Some(task) = second_task {
            let later = now + time::Duration::minutes(3);
            let judged = classifier::handle(
                &reactor,
                stopped("stopped-success.json", &task, &run_id, 2, later),
                later,
            )
            .await
            .unwrap();
            assert_eq!(judged.action, Some("SUCCEED"), "{name}: attempt 2");
            invocations.push(take("classifier", true));
        }
        let records = stream.read().await;
        let (write_units, read_units, transaction_units, largest_item) =
            units(&invocations, &records);
        let per_key = units_per_key(&invocations, &records, &run_id, &job);
        scenarios.push(Scenario {
            name,
            invocations,
            write_units,
            read_units,
            transaction_units,
            largest_item,
            per_key,
        });
    }
    let sweep_read_units = sweep_calls.iter().map(read_units).sum();
    Calls {
        scenarios,
        sweep_calls,
        sweep_read_units,
    }
}

/// The stack's adapters on clients that record their calls into `calls`.
fn recorded(stack: &Stack, calls: &Arc<Mutex<Vec<Call>>>) -> LocalReactor {
    let recorder = |service| Recorder {
        service,
        calls: calls.clone(),
    };
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.config)
            .interceptor(recorder("DynamoDB"))
            .build(),
    );
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&stack.config)
            .interceptor(recorder("ECS"))
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&stack.config)
            .interceptor(recorder("SNS"))
            .build(),
    );
    // The job sets an environment variable (testkit's job does): its value is sealed and opened per launch.
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&stack.config)
            .interceptor(recorder("KMS"))
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&stack.config)
            .interceptor(recorder("SQS"))
            .build(),
    );
    Reactor {
        store: DynamoStore::new(dynamodb, &stack.table),
        launcher: EcsLauncher::new(ecs),
        notifier: SnsNotifier::new(sns, &stack.topic_arn),
        settings: Settings::default(),
        guard: stack.guard(),
        metrics: std::sync::Arc::new(reactor_aws::metrics::NoMetrics),
        namespace: stack.namespace.clone(),
        vault: Some(reactor_aws::vault::Vault::new(
            kms,
            &stack.overrides_key,
            &stack.table,
        )),
        retry_queue: Some(reactor_aws::retry_queue::RetryQueue::new(
            sqs,
            &stack.retry_queue_url,
        )),
    }
}

/// DynamoDB's size of an item in its JSON form (attribute names plus values; numbers by significant digits).
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map_or(0, |m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
}

fn value_size(v: &Value) -> usize {
    let Some((kind, v)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => v.as_str().map_or(0, str::len),
        "N" => v.as_str().map_or(1, |n| {
            n.trim_start_matches('-').replace('.', "").len().div_ceil(2) + 1
        }),
        "B" => v.as_str().map_or(0, |b| b.len() * 3 / 4),
        "BOOL" | "NULL" => 1,
        "L" => {
            3 + v
                .as_array()
                .map_or(0, |l| l.iter().map(|x| 1 + value_size(x)).sum())
        }
        "M" => {
            3 + v.as_object().map_or(0, |m| {
                m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum()
            })
        }
        _ => v.to_string().len(),
    }
}

fn units_of(size: usize, per: usize) -> f64 {
    size.div_ceil(per).max(1) as f64
}

/// Read request units of one call: strongly consistent 1 per 4 KB, eventually consistent half.
fn read_units(call: &Call) -> f64 {
    let consistent = if call.request["ConsistentRead"] == json!(true) {
        1.0
    } else {
        0.5
    };
    match call.operation.as_str() {
        "GetItem" => consistent * units_of(item_size(&call.response["Item"]), 4096),
        "Query" | "Scan" => {
            let size: usize = call.response["Items"]
                .as_array()
                .map_or(0, |i| i.iter().map(item_size).sum());
            consistent * units_of(size, 4096)
        }
        "BatchGetItem" => call.response["Responses"].as_object().map_or(0.0, |t| {
            t.values()
                .flat_map(|i| i.as_array().cloned().unwrap_or_default())
                .map(|i| 0.5 * units_of(item_size(&i), 4096))
                .sum()
        }),
        _ => 0.0,
    }
}

/// The items one write call touches: (key, transactional).
fn written(call: &Call) -> Vec<((String, String), bool)> {
    let key = |v: &Value| {
        (
            v["pk"]["S"].as_str().unwrap_or("").to_owned(),
            v["sk"]["S"].as_str().unwrap_or("").to_owned(),
        )
    };
    match call.operation.as_str() {
        "PutItem" => vec![(key(&call.request["Item"]), false)],
        "UpdateItem" | "DeleteItem" => vec![(key(&call.request["Key"]), false)],
        "TransactWriteItems" => call.request["TransactItems"]
            .as_array()
            .unwrap_or(&vec![])
            .iter()
            .filter_map(|t| {
                let (_, action) = t.as_object()?.iter().next()?;
                Some((
                    key(if action.get("Item").is_some() {
                        &action["Item"]
                    } else {
                        &action["Key"]
                    }),
                    true,
                ))
            })
            .collect(),
        _ => vec![],
    }
}

/// (write units of the base table, write units of the indexes), read units, the transactions' share of the
/// base table's units, largest item.
fn units(invocations: &[Invocation], records: &[Value]) -> ((f64, f64), f64, f64, usize) {
    let mut unused: Vec<&Value> = records.iter().collect();
    let (mut base, mut index, mut reads, mut doubled, mut largest) = (0.0, 0.0, 0.0, 0.0, 0);
    for call in invocations
        .iter()
        .flat_map(|i| i.calls.iter())
        .filter(|c| c.service == "DynamoDB")
    {
        reads += read_units(call);
        for (key, transactional) in written(call) {
            let factor = if transactional { 2.0 } else { 1.0 };
            if !call.ok {
                // A refused conditional write is still paid for.
                base += factor;
                continue;
            }
            let at = unused.iter().position(|r| {
                let k = &r["dynamodb"]["Keys"];
                (k["pk"]["S"].as_str(), k["sk"]["S"].as_str())
                    == (Some(key.0.as_str()), Some(key.1.as_str()))
            });
            let Some(at) = at else {
                // Nothing changed (a delete of an item already gone): one unit all the same.
                base += factor;
                continue;
            };
            let record = unused.remove(at);
            let (old, new) = (
                &record["dynamodb"]["OldImage"],
                &record["dynamodb"]["NewImage"],
            );
            let size = item_size(old).max(item_size(new));
            largest = largest.max(size);
            base += factor * units_of(size, 1024);
            doubled += (factor - 1.0) * units_of(size, 1024);
            index += index_writes(old, new);
        }
    }
    ((base, index), reads, doubled, largest)
}

/// The write units of a run by the partition key they land on (the base table's `pk`, each index's partition
/// key), the run's own parts replaced by a name: the run id by `<run>`, the job by `<job>`, a task ARN by
/// `<task>`, a sweep shard by `<shard>`. Keys left without a name are shared by every run.
fn units_per_key(
    invocations: &[Invocation],
    records: &[Value],
    run_id: &str,
    job: &str,
) -> BTreeMap<(String, String), f64> {
    let name = |key: &str| -> String {
        if key.starts_with("arn:aws:ecs:") {
            return "<task>".to_owned();
        }
        let key = key.replace(run_id, "<run>").replace(job, "<job>");
        match key.strip_prefix("DUE#") {
            Some(shard) if shard.parse::<u32>().is_ok() => "DUE#<shard>".to_owned(),
            _ => key,
        }
    };
    let mut per_key: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut add = |place: &str, key: &str, units: f64| {
        *per_key.entry((place.to_owned(), name(key))).or_default() += units;
    };
    let mut unused: Vec<&Value> = records.iter().collect();
    for call in invocations
        .iter()
        .flat_map(|i| i.calls.iter())
        .filter(|c| c.service == "DynamoDB")
    {
        for ((pk, sk), transactional) in written(call) {
            let factor = if transactional { 2.0 } else { 1.0 };
            let at = unused.iter().position(|r| {
                let k = &r["dynamodb"]["Keys"];
                (k["pk"]["S"].as_str(), k["sk"]["S"].as_str())
                    == (Some(pk.as_str()), Some(sk.as_str()))
            });
            let Some(at) = at.filter(|_| call.ok) else {
                add("table", &pk, factor);
                continue;
            };
            let record = unused.remove(at);
            let (old, new) = (
                &record["dynamodb"]["OldImage"],
                &record["dynamodb"]["NewImage"],
            );
            add(
                "table",
                &pk,
                factor * units_of(item_size(old).max(item_size(new)), 1024),
            );
            for (index, key, units) in index_writes_by_key(old, new) {
                add(index, &key, units);
            }
        }
    }
    per_key
}

/// [`index_writes`] by index and partition key: a delete lands on the old key's partition, a put on the new.
fn index_writes_by_key(old: &Value, new: &Value) -> Vec<(&'static str, String, f64)> {
    let mut writes = Vec::new();
    for index in INDEXES {
        let pk = |image: &Value| {
            image.get(index.partition_key).and_then(|v| {
                v["S"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| v["N"].as_str().map(str::to_owned))
            })
        };
        let (before, after) = (pk(old), pk(new));
        let total = index_writes_of(index, old, new);
        match (before, after) {
            (Some(a), Some(b)) if a != b => {
                writes.push((index.name, a, 1.0));
                writes.push((index.name, b, total - 1.0));
            }
            (Some(a), None) => writes.push((index.name, a, total)),
            (_, Some(b)) => writes.push((index.name, b, total)),
            (None, None) => {}
        }
    }
    writes.retain(|(_, _, units)| *units > 0.0);
    writes
}

/// Index writes of one item change: an index whose key appears is a put, one whose key goes away a delete,
/// a changed key both; an item staying in an index that projects everything is rewritten when it changes.
fn index_writes(old: &Value, new: &Value) -> f64 {
    INDEXES
        .iter()
        .map(|index| index_writes_of(index, old, new))
        .sum()
}

/// [`index_writes`] of one index.
fn index_writes_of(index: &IndexDef, old: &Value, new: &Value) -> f64 {
    let key = |image: &Value| {
        let pk = image.get(index.partition_key)?.clone();
        let sk = match index.sort_key {
            Some((sort, _)) => Some(image.get(sort)?.clone()),
            None => None,
        };
        Some((pk, sk))
    };
    let size = |image: &Value| {
        if index.keys_only {
            1.0
        } else {
            units_of(item_size(image), 1024)
        }
    };
    match (key(old), key(new)) {
        (None, None) => 0.0,
        (Some(_), None) => 1.0,
        (None, Some(_)) => size(new),
        (Some(a), Some(b)) if a != b => 1.0 + size(new),
        (Some(_), Some(_)) if !index.keys_only && old != new => size(new),
        _ => 0.0,
    }
}

/// The table's DynamoDB stream as moto keeps it, read over its HTTP API (the SDK for streams is not a
/// dependency): every record since the last read.
struct Stream {
    arn: String,
    seen: usize,
}

impl Stream {
    async fn new(stack: &Stack) -> Stream {
        let table = stack
            .dynamodb
            .describe_table()
            .table_name(&stack.table)
            .send()
            .await
            .unwrap();
        Stream {
            arn: table
                .table()
                .unwrap()
                .latest_stream_arn()
                .unwrap()
                .to_owned(),
            seen: 0,
        }
    }

    async fn read(&mut self) -> Vec<Value> {
        let arn = self.arn.clone();
        let records = tokio::task::spawn_blocking(move || {
            let described = streams("DescribeStream", json!({"StreamArn": arn}));
            let mut records = Vec::new();
            for shard in described["StreamDescription"]["Shards"].as_array().unwrap() {
                let iterator = streams(
                    "GetShardIterator",
                    json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
                );
                let mut iterator = iterator["ShardIterator"].clone();
                loop {
                    let page = streams("GetRecords", json!({"ShardIterator": iterator, "Limit": 1000}));
                    let got = page["Records"].as_array().cloned().unwrap_or_default();
                    if got.is_empty() {
                        break;
                    }
                    records.extend(got);
                    iterator = page["NextShardIterator"].clone();
                }
            }
            records
        })
        .await
        .unwrap();
        let fresh = records[self.seen.min(records.len())..].to_vec();
        self.seen = records.len();
        fresh
    }
}

fn streams(operation: &str, body: Value) -> Value {
    let response = crate::moto::moto().post(
        "dynamodb",
        &format!("Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDBStreams_20120810.{operation}"),
        &body.to_string(),
    );
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or(("", ""));
    serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("DynamoDB Streams {operation}: {e}: {response}"))
}
