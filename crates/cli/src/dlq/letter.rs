//! What a dead letter is. The stack's failure queues hold three shapes (template.yml):
//! - an EventBridge rule's dead letter (RuleDeliveryFailureQueue): the body is the event itself, the message
//!   attributes say which rule could not deliver it to which target, and why (`RULE_ARN`, `TARGET_ARN`,
//!   `ERROR_CODE`, `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION`, `RETRY_ATTEMPTS`);
//! - a Lambda on-failure destination record (InvokeFailureQueue): `requestContext` (the function, the
//!   condition, the invocation's request id), the event in `requestPayload`, the error in `responsePayload`;
//! - the DynamoDB stream's on-failure record (StreamFailureQueue): `requestContext` and `DDBStreamBatchInfo`,
//!   which says where the records were in the stream, not what they held.
//!
//! Each is read into what failed (function or rule), when, why, and what it is about (run, attempt, task,
//! job), and whether and how it can be replayed. Nothing here talks to AWS.

use reactor_core::event::{task_state_change_from_value, Task};
use reactor_core::request::{start_request, RegisteredTick, StartRequest, StarterInput};
use reactor_core::started_by::{AttemptRef, Namespace, Owner};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Which failure path left the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RuleDelivery,
    InvokeFailure,
    StreamBatch,
    Unrecognised,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RuleDelivery => "rule-delivery",
            Kind::InvokeFailure => "invoke-failure",
            Kind::StreamBatch => "stream-batch",
            Kind::Unrecognised => "unrecognised",
        }
    }

    /// The kind in on-call's words.
    pub fn words(self) -> &'static str {
        match self {
            Kind::RuleDelivery => {
                "an EventBridge rule could not deliver the event to its function (the rule's dead-letter queue; \
                 also a job's EventBridge Scheduler schedule)"
            }
            Kind::InvokeFailure => {
                "Lambda gave up on an asynchronous invocation (the function's on-failure destination record)"
            }
            Kind::StreamBatch => {
                "Lambda gave up on a batch of the table's stream records (the stream's on-failure record)"
            }
            Kind::Unrecognised => "not a message the stack's failure paths write",
        }
    }
}

/// What gave up, when and why, as far as the message says.
#[derive(Debug, Default, Clone)]
pub struct Failed {
    /// The EventBridge rule (its ARN) that could not deliver.
    pub rule: Option<String>,
    /// The function (its ARN): the record's `functionArn`, or the rule's target.
    pub function: Option<String>,
    /// Why it gave up: Lambda's `condition` (RetriesExhausted, EventAgeExceeded…) or EventBridge's
    /// `EXHAUSTED_RETRY_CONDITION`.
    pub condition: Option<String>,
    /// How often it was tried: Lambda's `approximateInvokeCount`, EventBridge's `RETRY_ATTEMPTS`.
    pub tries: Option<String>,
    /// When it gave up: the record's `timestamp`, else when the message was sent to the queue.
    pub at: Option<OffsetDateTime>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
}

impl Failed {
    /// `errorType: errorMessage`, or what there is of it.
    pub fn error(&self) -> Option<String> {
        match (&self.error_type, &self.error_message, &self.condition) {
            (Some(t), Some(m), _) => Some(format!("{t}: {m}")),
            (None, Some(m), _) => Some(m.clone()),
            // Lambda's word alone (Unhandled: a crash or a timeout) says little without why it gave up.
            (Some(t), None, Some(c)) => Some(format!("{t} ({c})")),
            (Some(t), None, None) => Some(t.clone()),
            (None, None, c) => c.clone(),
        }
    }
}

/// Where a failed stream batch was (`DDBStreamBatchInfo`).
#[derive(Debug, Default, Clone)]
pub struct StreamBatch {
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub start_sequence: Option<String>,
    pub end_sequence: Option<String>,
    pub batch_size: Option<u64>,
    pub first_arrival: Option<String>,
    pub last_arrival: Option<String>,
}

impl StreamBatch {
    /// The table whose stream it is: `arn:…:table/NAME/stream/…`.
    pub fn table(&self) -> Option<&str> {
        let after = self.stream_arn.as_deref()?.split_once(":table/")?.1;
        after.split('/').next().filter(|t| !t.is_empty())
    }
}

/// What the message is about.
#[derive(Debug, Clone)]
pub enum About {
    /// A task's `ECS Task State Change` event: the classifier's input. `attempt`: the run and attempt its
    /// `startedBy` names, or why the classifier would not judge it.
    Task {
        task: Box<Task>,
        attempt: Result<AttemptRef, String>,
    },
    /// A job request (a schedule's tick, or invoked directly): the starter's input. `request`: the run it
    /// starts, or why the starter refuses it.
    Start {
        job: Option<String>,
        request: Result<Box<StartRequest>, String>,
    },
    /// A registered job's tick (`{"scheduledJob", "scheduledTime"}`, what its EventBridge Scheduler schedule
    /// sends): the starter's input. The tick, or why the starter refuses it.
    Tick(Result<RegisteredTick, String>),
    /// The sweep's one-minute `Scheduled Event` (no job in it): the scheduler's input.
    Sweep,
    /// Stream records the scheduler gave up on.
    Stream(StreamBatch),
    /// Anything else, in words (names only: never a value, which may be a secret).
    Other(String),
}

/// A message of a failure queue, read.
#[derive(Debug, Clone)]
pub struct Reading {
    pub kind: Kind,
    pub failed: Failed,
    pub about: About,
    /// The event or request that failed (the body, or the record's `requestPayload`): what a replay hands
    /// to the flow. Never printed as it is: see [`redacted`].
    pub payload: Option<Value>,
}

/// Reads a message: its body, its message attributes (string values) and when it was sent. `now` only
/// decides whether a tick's time is in the future, as the starter does.
pub fn read(
    namespace: &Namespace,
    body: &str,
    attributes: &BTreeMap<String, String>,
    sent_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Reading {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return unrecognised("the body is not JSON".into(), sent_at);
    };
    let text = |v: &Value, pointer: &str| {
        v.pointer(pointer).and_then(|x| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let record_failed = |v: &Value| Failed {
        rule: None,
        function: text(v, "/requestContext/functionArn"),
        condition: text(v, "/requestContext/condition"),
        tries: text(v, "/requestContext/approximateInvokeCount"),
        at: text(v, "/timestamp")
            .and_then(|t| parse_time(&t))
            .or(sent_at),
        // The handler's own error (its errorType names the kind: see each handler's HandlerError); without a
        // payload, the kind of failure Lambda saw (Unhandled: a crash or a timeout).
        error_type: text(v, "/responsePayload/errorType")
            .or_else(|| text(v, "/responseContext/functionError")),
        error_message: text(v, "/responsePayload/errorMessage"),
    };
    if let Some(info) = value.get("DDBStreamBatchInfo") {
        let batch = StreamBatch {
            stream_arn: text(info, "/streamArn"),
            shard_id: text(info, "/shardId"),
            start_sequence: text(info, "/startSequenceNumber"),
            end_sequence: text(info, "/endSequenceNumber"),
            batch_size: info.get("batchSize").and_then(Value::as_u64),
            first_arrival: text(info, "/approximateArrivalOfFirstRecord"),
            last_arrival: text(info, "/approximateArrivalOfLastRecord"),
        };
        return Reading {
            kind: Kind::StreamBatch,
            failed: record_failed(&value),
            about: About::Stream(batch),
            payload: None,
        };
    }
    if value.get("requestContext").is_some()
        && ["requestPayload", "responsePayload", "responseContext"]
            .iter()
            .any(|k| value.get(k).is_some())
    {
        let request_id = text(&value, "/requestContext/requestId");
        let payload = value.get("requestPayload").cloned();
        let about = match &payload {
            Some(payload) => about(namespace, payload, request_id.as_deref(), now),
            None => About::Other("the record has no requestPayload: the event is not in it".into()),
        };
        return Reading {
            kind: Kind::InvokeFailure,
            failed: record_failed(&value),
            about,
            payload,
        };
    }
    let attribute = |name: &str| attributes.get(name).cloned();
    let from_a_rule = ["RULE_ARN", "SCHEDULE_ARN", "TARGET_ARN", "ERROR_CODE"]
        .iter()
        .any(|a| attributes.contains_key(*a));
    let a_tick = value.get(reactor_core::request::TICK_JOB_FIELD).is_some();
    if from_a_rule || a_tick || value.get("detail-type").is_some() {
        let failed = Failed {
            // A job's schedule names itself as EventBridge Scheduler's dead letters do.
            rule: attribute("RULE_ARN").or_else(|| attribute("SCHEDULE_ARN")),
            function: attribute("TARGET_ARN"),
            condition: attribute("EXHAUSTED_RETRY_CONDITION"),
            tries: attribute("RETRY_ATTEMPTS"),
            // The message says nothing else of when: EventBridge sent it when it gave up.
            at: sent_at,
            error_type: attribute("ERROR_CODE"),
            error_message: attribute("ERROR_MESSAGE"),
        };
        // A rule hands its function the event only: no request id (a job request from a rule is a tick).
        let about = about(namespace, &value, None, now);
        return Reading {
            kind: Kind::RuleDelivery,
            failed,
            about,
            payload: Some(value),
        };
    }
    unrecognised(
        format!("a JSON {} with {}", json_type(&value), keys(&value)),
        sent_at,
    )
}

fn unrecognised(what: String, sent_at: Option<OffsetDateTime>) -> Reading {
    Reading {
        kind: Kind::Unrecognised,
        failed: Failed {
            at: sent_at,
            ..Failed::default()
        },
        about: About::Other(what),
        payload: None,
    }
}

/// What an event or a job request is about, read as its handler reads it. `request_id`: the invocation's
/// (a Lambda record's `requestContext.requestId`), which names a directly invoked job request's run.
fn about(
    namespace: &Namespace,
    payload: &Value,
    request_id: Option<&str>,
    now: OffsetDateTime,
) -> About {
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    if detail_type == Some("ECS Task State Change") {
        return match task_state_change_from_value(payload.clone()) {
            Ok(event) => {
                let task = event.detail;
                let attempt = if !task.is_stopped() {
                    Err(format!(
                        "the task is {}, not STOPPED: the classifier judges only stopped tasks",
                        task.last_status
                    ))
                } else {
                    match namespace.owner_of(task.started_by.as_deref()) {
                        Owner::Ours(attempt) => Ok(attempt),
                        Owner::Foreign(why) => Err(format!("not ecs-reactor's task: {why}")),
                        Owner::Malformed(e) => Err(e.to_string()),
                    }
                };
                About::Task {
                    task: Box::new(task),
                    attempt,
                }
            }
            Err(e) => About::Other(format!(
                "an ECS Task State Change event the classifier cannot read: {e}"
            )),
        };
    }
    // A registered job's tick: EventBridge Scheduler could not deliver it (its dead-letter queue is the rule
    // delivery queue), or the starter failed it (Lambda's on-failure record).
    if payload.get(reactor_core::request::TICK_JOB_FIELD).is_some() {
        return About::Tick(
            match reactor_core::request::starter_input(payload.clone(), "-", now) {
                Ok(StarterInput::Tick(tick)) => Ok(tick),
                Ok(StarterInput::Request(_)) => {
                    Err("the starter reads it as a job request, not a tick".to_owned())
                }
                Err(e) => Err(e.to_string()),
            },
        );
    }
    let is_tick = detail_type == Some("Scheduled Event");
    let has_job = payload
        .get("detail")
        .and_then(Value::as_object)
        .is_some_and(|d| !d.is_empty());
    if is_tick && !has_job {
        return About::Sweep;
    }
    let job_value = if is_tick {
        payload.get("detail")
    } else {
        Some(payload)
    };
    let job = job_value
        .and_then(|j| j.get("job"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if !is_tick && job.is_none() && payload.get("runTask").is_none() {
        return About::Other(format!(
            "not an event or a job request ecs-reactor knows: a JSON {} with {}",
            json_type(payload),
            keys(payload)
        ));
    }
    let request = match (is_tick, request_id) {
        // A directly invoked request's run is named by the invocation's request id, which Lambda kept in
        // the record; the same id names the same run, so a replay cannot start a second one.
        (false, None) => Err(
            "a job request without the invocation's request id, which names its run: replaying it could \
             start a second run"
                .to_owned(),
        ),
        (_, id) => start_request(payload.clone(), id.unwrap_or("-"), now)
            .map(Box::new)
            .map_err(|e| e.to_string()),
    };
    About::Start { job, request }
}

/// The keys of a JSON object (never its values), for a message nobody recognises.
fn keys(value: &Value) -> String {
    match value.as_object() {
        Some(map) if map.is_empty() => "no keys".to_owned(),
        Some(map) => {
            let names: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            format!("keys {}", names.join(", "))
        }
        None => "no keys".to_owned(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "list",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// The last part of an ARN (`…:function:NAME`, `…:rule/NAME`), without a function's qualifier.
pub fn name_of(arn: &str) -> &str {
    if let Some((_, rest)) = arn.split_once(":function:") {
        return rest.split(':').next().unwrap_or(rest);
    }
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// What replaces a value that may be a secret.
pub const REDACTED: &str = "<redacted>";

/// `value` as it may be printed: every `environment` entry's value and every `command` replaced by
/// [`REDACTED`] (a job's container overrides, and the same overrides as ECS repeats them in a task's event,
/// may carry secrets); names, ids and everything else kept.
pub fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "environment" => redacted_environment(v),
                        "command" => json!(REDACTED),
                        _ => redacted(v),
                    };
                    (k.clone(), v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// An `environment` list keeps its names; anything else in its place is replaced whole.
fn redacted_environment(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| match item.as_object() {
                    Some(pair) => Value::Object(
                        pair.iter()
                            .map(|(k, v)| {
                                let v = if k == "name" && v.is_string() {
                                    v.clone()
                                } else {
                                    json!(REDACTED)
                                };
                                (k.clone(), v)
                            })
                            .collect(),
                    ),
                    None => json!(REDACTED),
                })
                .collect(),
        ),
        _ => json!(REDACTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 03:00:00 UTC);
    const SECRET: &str = "hunter2-dlq-marker";

    fn job() -> Value {
        json!({"job": "nightly-report", "runTask": {"taskDefinition": "report:7", "overrides": {"containerOverrides": [
            {"name": "app", "command": ["run", SECRET], "environment": [{"name": "DB_PASSWORD", "value": SECRET}]}
        ]}}})
    }

    fn stopped() -> Value {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../events/stopped-pull-rate-limit.json"),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn no_attributes() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn a_rules_dead_letter_is_the_event_with_the_rules_words_in_its_attributes() {
        let attributes: BTreeMap<String, String> = [
            (
                "RULE_ARN",
                "arn:aws:events:us-east-1:111122223333:rule/ecs-reactor-TaskStopped-1A2B",
            ),
            (
                "TARGET_ARN",
                "arn:aws:lambda:us-east-1:111122223333:function:ecs-reactor-classifier",
            ),
            ("ERROR_CODE", "THROTTLING"),
            ("ERROR_MESSAGE", "Rate exceeded"),
            ("EXHAUSTED_RETRY_CONDITION", "MaximumEventAgeInSeconds"),
            ("RETRY_ATTEMPTS", "24"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sent = datetime!(2026-11-21 02:45:00 UTC);
        let reading = read(
            &Namespace::default(),
            &stopped().to_string(),
            &attributes,
            Some(sent),
            NOW,
        );
        assert_eq!(reading.kind, Kind::RuleDelivery);
        assert_eq!(
            reading.failed.error().as_deref(),
            Some("THROTTLING: Rate exceeded")
        );
        assert_eq!(reading.failed.at, Some(sent));
        assert_eq!(
            name_of(reading.failed.rule.as_deref().unwrap_or_default()),
            "ecs-reactor-TaskStopped-1A2B"
        );
        assert_eq!(
            name_of(reading.failed.function.as_deref().unwrap_or_default()),
            "ecs-reactor-classifier"
        );
        let About::Task { attempt, .. } = reading.about else {
            panic!("not a task: {:?}", reading.about);
        };
        assert_eq!(
            attempt.ok(),
            Some(AttemptRef {
                run_id: "nightly-report-20261121T023000Z".into(),
                attempt: 1
            })
        );
    }

    #[test]
    fn a_lambda_record_names_the_function_the_condition_and_the_error() {
        let tick = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
                          "time": "2026-11-21T02:30:00Z", "detail": job()});
        let record = json!({
            "version": "1.0", "timestamp": "2026-11-21T02:41:45.568Z",
            "requestContext": {"requestId": "c0ffee", "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:ecs-reactor-starter:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": tick,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "RetryableError", "errorMessage": "the table did not answer"}
        });
        let reading = read(
            &Namespace::default(),
            &record.to_string(),
            &no_attributes(),
            None,
            NOW,
        );
        assert_eq!(reading.kind, Kind::InvokeFailure);
        assert_eq!(
            reading.failed.condition.as_deref(),
            Some("RetriesExhausted")
        );
        assert_eq!(reading.failed.tries.as_deref(), Some("3"));
        assert_eq!(
            reading.failed.at,
            Some(datetime!(2026-11-21 02:41:45.568 UTC))
        );
        assert_eq!(
            reading.failed.error().as_deref(),
            Some("RetryableError: the table did not answer")
        );
        assert_eq!(
            name_of(reading.failed.function.as_deref().unwrap_or_default()),
            "ecs-reactor-starter"
        );
        let About::Start { job, request } = reading.about else {
            panic!("not a start: {:?}", reading.about);
        };
        assert_eq!(job.as_deref(), Some("nightly-report"));
        assert_eq!(
            request.map(|r| r.run_id).ok().as_deref(),
            Some("nightly-report-20261121T023000Z"),
            "a tick's run is named by its time"
        );
    }

    #[test]
    fn a_direct_request_is_named_by_the_invocations_request_id_and_refused_without_it() {
        let record = |request_id: Option<&str>| {
            let mut context = json!({"functionArn": "arn:aws:lambda:us-east-1:1:function:starter", "condition": "RetriesExhausted"});
            if let Some(id) = request_id {
                context["requestId"] = json!(id);
            }
            json!({"requestContext": context, "requestPayload": job(), "responsePayload": {"errorType": "StartFailed"}})
                .to_string()
        };
        let named = read(
            &Namespace::default(),
            &record(Some("c0ffee")),
            &no_attributes(),
            None,
            NOW,
        );
        let again = read(
            &Namespace::default(),
            &record(Some("c0ffee")),
            &no_attributes(),
            None,
            NOW,
        );
        let run = |r: &Reading| match &r.about {
            About::Start { request, .. } => request
                .as_ref()
                .map(|r| r.run_id.clone())
                .map_err(Clone::clone),
            other => Err(format!("{other:?}")),
        };
        assert_eq!(
            run(&named),
            run(&again),
            "the same request id names the same run"
        );
        assert!(run(&named).is_ok_and(|id| id.starts_with("nightly-report-")));
        let unnamed = read(
            &Namespace::default(),
            &record(None),
            &no_attributes(),
            None,
            NOW,
        );
        assert!(
            run(&unnamed).is_err_and(|e| e.contains("request id")),
            "{:?}",
            run(&unnamed)
        );
    }

    #[test]
    fn a_stream_record_says_where_the_records_were() {
        let record = json!({
            "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:1:function:ecs-reactor-scheduler",
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0", "timestamp": "2026-11-21T02:50:00.000Z",
            "DDBStreamBatchInfo": {"shardId": "shardId-0001", "startSequenceNumber": "100", "endSequenceNumber": "200",
                "approximateArrivalOfFirstRecord": "2026-11-21T02:45:00Z", "approximateArrivalOfLastRecord": "2026-11-21T02:46:00Z",
                "batchSize": 2, "streamArn": "arn:aws:dynamodb:us-east-1:1:table/attempts/stream/2026-11-01T00:00:00.000"}
        });
        let reading = read(
            &Namespace::default(),
            &record.to_string(),
            &no_attributes(),
            None,
            NOW,
        );
        assert_eq!(reading.kind, Kind::StreamBatch);
        assert_eq!(
            reading.failed.error().as_deref(),
            Some("RetryAttemptsExhausted")
        );
        let About::Stream(batch) = reading.about else {
            panic!("not a stream batch");
        };
        assert_eq!(
            (batch.table(), batch.batch_size),
            (Some("attempts"), Some(2))
        );
        assert!(reading.payload.is_none(), "nothing to replay");
    }

    #[test]
    fn the_sweeps_tick_and_unknown_bodies_are_named_without_their_values() {
        let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-21T02:45:00Z", "detail": {}});
        assert!(matches!(
            read(
                &Namespace::default(),
                &sweep.to_string(),
                &no_attributes(),
                None,
                NOW
            )
            .about,
            About::Sweep
        ));
        let odd = json!({"password": SECRET});
        let reading = read(
            &Namespace::default(),
            &odd.to_string(),
            &no_attributes(),
            None,
            NOW,
        );
        assert_eq!(reading.kind, Kind::Unrecognised);
        let About::Other(what) = reading.about else {
            panic!("not other");
        };
        assert_eq!(what, "a JSON object with keys password");
        assert_eq!(
            read(
                &Namespace::default(),
                "not json",
                &no_attributes(),
                None,
                NOW
            )
            .kind,
            Kind::Unrecognised
        );
    }

    #[test]
    fn environment_values_and_commands_are_redacted_wherever_they_are() {
        let mut event = stopped();
        event["detail"]["overrides"] = job()["runTask"]["overrides"].clone();
        let odd = json!({"environment": format!("DB_PASSWORD={SECRET}"), "x": [{"environment": [{"name": "A", "value": SECRET, "extra": [SECRET]}]}]});
        for value in [job(), event, odd] {
            let shown = redacted(&value).to_string();
            assert!(!shown.contains(SECRET), "{shown}");
        }
        let shown = redacted(&job());
        assert_eq!(
            shown["runTask"]["overrides"]["containerOverrides"][0]["environment"][0],
            json!({"name": "DB_PASSWORD", "value": REDACTED}),
            "the name stays: it says which variable"
        );
    }
}
