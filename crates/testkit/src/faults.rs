//! Faults under the real adapters: an HTTP connector between the AWS SDK clients and moto that sees every call
//! and, by a plan, lets it through, answers it with an AWS error without sending it, loses its answer after
//! moto acted on it (the process died right after the call), or refuses every later call (the process is
//! gone). (A stalled endpoint is a real socket that never answers: `reliability.rs`.)
//!
//! The clients are built as a Lambda's `main` builds them (the configuration's SDK timeouts, the SDK's
//! standard retries), so what the SDK retries by itself is retried here too.
//!
//! Shared by the integration tests (crash, fault and reconcile suites) and the benchmark's cron storm (RunTask
//! throttled at ECS's rate).

use crate::stack::{LocalReactor, Stack};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use reactor_aws::flow::{Reactor, Settings};
use reactor_aws::launcher::EcsLauncher;
use reactor_aws::notifier::SnsNotifier;
use reactor_aws::store::DynamoStore;
use std::fmt;
use std::sync::{Arc, Mutex};

/// What happens to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Answered with this HTTP status and body; the call never reaches AWS.
    Answer {
        status: u16,
        body: String,
    },
    /// Sent, then its answer is lost: AWS acted, the caller never learns it.
    LoseAnswer,
    /// Never sent: the process that would send it is gone.
    Dead,
}

/// One call as the plan sees it: its place among all calls (from 1), its operation (`ecs:RunTask`,
/// `dynamodb:TransactWriteItems`, `sns:Publish`) and its place among the calls of that operation (from 1).
#[derive(Debug, Clone)]
pub struct Call {
    pub index: usize,
    pub operation: String,
    pub nth_of_operation: usize,
}

type Plan = dyn Fn(&Call) -> Fault + Send + Sync;

/// The connector and the log of what it did; cheap to clone, shared by the three clients.
#[derive(Clone)]
pub struct Faults {
    plan: Arc<Plan>,
    log: Arc<Mutex<Vec<(String, Fault)>>>,
    http: SharedHttpClient,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("calls", &self.calls())
            .finish()
    }
}

impl Faults {
    pub fn new(plan: impl Fn(&Call) -> Fault + Send + Sync + 'static) -> Faults {
        Faults {
            plan: Arc::new(plan),
            log: Arc::default(),
            http: aws_smithy_http_client::Builder::new().build_http(),
        }
    }

    /// Every call goes through: a recorder of the calls a fault-free step makes.
    pub fn none() -> Faults {
        Faults::new(|_| Fault::Pass)
    }

    /// The process dies right after call `k` reached AWS: its answer is lost and no later call is made.
    pub fn crash_after(k: usize) -> Faults {
        Faults::new(move |call| match call.index {
            i if i < k => Fault::Pass,
            i if i == k => Fault::LoseAnswer,
            _ => Fault::Dead,
        })
    }

    /// The first `times` calls of `operation` are answered with `answer` (never reaching AWS).
    pub fn answer(operation: &'static str, times: usize, answer: Fault) -> Faults {
        Faults::new(move |call| {
            if call.operation == operation && call.nth_of_operation <= times {
                answer.clone()
            } else {
                Fault::Pass
            }
        })
    }

    /// The operations called so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(op, _)| op.clone())
            .collect()
    }

    /// The real adapters on `stack`, with clients built as a Lambda builds them and this connector under them.
    pub fn reactor(&self, stack: &Stack) -> LocalReactor {
        lambda_reactor(stack, Some(self.clone()), None)
    }
}

/// The real adapters on `stack` with clients built as a Lambda's `main` builds them (the configuration's SDK
/// timeouts, the SDK's standard retries), optionally over a fault-injecting connector or another endpoint.
pub fn lambda_reactor(stack: &Stack, http: Option<Faults>, endpoint: Option<&str>) -> LocalReactor {
    let timeouts = reactor_aws::config::Config::from_lookup(|name| match name {
        "REACTOR_TABLE" => Some(stack.table.clone()),
        "REACTOR_TOPIC_ARN" => Some(stack.topic_arn.clone()),
        _ => None,
    })
    .unwrap()
    .timeouts();
    let mut sdk = stack.config.to_builder().timeout_config(timeouts);
    if let Some(http) = http {
        sdk = sdk.http_client(http);
    }
    if let Some(endpoint) = endpoint {
        sdk = sdk.endpoint_url(endpoint);
    }
    let sdk = sdk.build();
    Reactor {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &stack.table),
        launcher: EcsLauncher::new(aws_sdk_ecs::Client::new(&sdk)),
        notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), &stack.topic_arn),
        settings: Settings::default(),
        guard: stack.guard(),
        metrics: std::sync::Arc::new(reactor_aws::metrics::NoMetrics),
        namespace: stack.namespace.clone(),
        vault: Some(stack.vault(&sdk)),
        retry_queue: Some(stack.retry_queue(&sdk)),
    }
}

/// `ecs:RunTask` from the JSON protocols' target header, `sns:Publish` from the query protocol's form.
fn operation(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        let (service, op) = target.split_once('.').unwrap_or(("?", target));
        let service = match service {
            s if s.starts_with("DynamoDB") => "dynamodb",
            s if s.starts_with("AmazonEC2ContainerService") => "ecs",
            s if s.starts_with("AmazonSQS") => "sqs",
            "TrentService" => "kms",
            s => s,
        };
        return format!("{service}:{op}");
    }
    let body = request
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let action = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("?");
    format!("sns:{action}")
}

impl HttpClient for Faults {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            faults: self.clone(),
            inner: self.http.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    faults: Faults,
    inner: SharedHttpConnector,
}

#[derive(Debug)]
struct Injected(&'static str);

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Injected {}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = operation(&request);
        let fault = {
            let mut log = self.faults.log.lock().unwrap();
            let call = Call {
                index: log.len() + 1,
                nth_of_operation: log.iter().filter(|(op, _)| *op == operation).count() + 1,
                operation: operation.clone(),
            };
            let fault = (self.faults.plan)(&call);
            log.push((operation, fault.clone()));
            fault
        };
        // Errors of kind "other" without a retry hint: the SDK does not retry them, as a dead process would not.
        let gone = |what| ConnectorError::other(Box::new(Injected(what)), None);
        match fault {
            Fault::Pass => self.inner.call(request),
            Fault::Answer { status, body } => {
                let status = status.try_into().unwrap();
                HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
            }
            Fault::LoseAnswer => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = sent.await;
                    Err(gone(
                        "injected: the process died after this call reached AWS",
                    ))
                })
            }
            Fault::Dead => HttpConnectorFuture::ready(Err(gone("injected: the process is gone"))),
        }
    }
}

/// An error answer in the JSON protocols (ECS, DynamoDB); throttling codes the SDK retries with backoff.
pub fn json_error(status: u16, code: &str) -> Fault {
    Fault::Answer {
        status,
        body: format!(r#"{{"__type":"{code}","message":"Rate exceeded"}}"#),
    }
}

/// SNS's (query protocol) error answer.
pub fn sns_error(status: u16, code: &str) -> Fault {
    Fault::Answer {
        status,
        body: format!(
            r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected</Message></Error><RequestId>f</RequestId></ErrorResponse>"#
        ),
    }
}

/// RunTask's answer when ECS placed nothing: `failures[]` with `reason`, no task.
pub fn run_task_failure(reason: &str) -> Fault {
    Fault::Answer {
        status: 200,
        body: format!(
            r#"{{"tasks":[],"failures":[{{"arn":"arn:aws:ecs:us-east-1:123456789012:container-instance/jobs/0f3c","reason":"{reason}"}}]}}"#
        ),
    }
}
