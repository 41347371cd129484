//! The Lambdas' edge: the runtime loop each of the three `main`s runs ([`serve`]: configuration and clients
//! once, then one handler call per event with the clock read there), and how a handler's error reaches Lambda,
//! so the `errorType` a failure destination record carries. Every handler error is reported through
//! [`diagnostic`], the one conversion. Input that is not JSON never reaches a handler: the runtime would
//! refuse it with a Rust type path as its `errorType`, so [`serve`] answers it as `InputNotJson` first.

/// A handler's error: `error_type` names the problem (`InvalidJobRequest`, `RetryableError` …) for whoever
/// reads the invocation's result or a failure destination record; the message is the error's `Display`.
pub trait HandlerError: std::fmt::Display {
    fn error_type(&self) -> &'static str;
}

/// What Lambda reports for a handler's error.
#[cfg(feature = "lambda")]
pub fn diagnostic<E: HandlerError>(e: E) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: e.error_type().into(),
        error_message: e.to_string(),
    }
}

/// The reactor a Lambda runs with: the real adapters, built once per execution environment.
#[cfg(feature = "lambda")]
pub type LambdaReactor = crate::flow::Reactor<
    crate::store::DynamoStore,
    crate::launcher::EcsLauncher,
    crate::notifier::SnsNotifier,
>;

/// Runs a Lambda: tracing, the configuration from the environment (a missing or bad variable ends the
/// process with its name, before any event is taken), the clients once, then `handler` for each event with
/// the time it arrived. The reactor lives as long as the process, as the execution environment does.
#[cfg(feature = "lambda")]
pub async fn serve<F, Fut, R, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(
        &'static LambdaReactor,
        lambda_runtime::LambdaEvent<serde_json::Value>,
        time::OffsetDateTime,
    ) -> Fut,
    Fut: std::future::Future<Output = Result<R, E>>,
    R: serde::Serialize,
    E: HandlerError,
{
    init_logging();
    let config = crate::config::Config::from_env()?;
    let reactor: &'static LambdaReactor = Box::leak(Box::new(config.connect().await));
    let handler = &handler;
    let events = lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            if let Some(problem) = not_json::problem_of(&event.payload) {
                tracing::error!(
                    error_type = NOT_JSON,
                    problem,
                    "refused: the input is not JSON"
                );
                return Err(lambda_runtime::Diagnostic {
                    error_type: NOT_JSON.into(),
                    error_message: format!("the input is not JSON ({problem}); send a JSON object"),
                });
            }
            // Boxed: the steps' futures nest deeply, and the runtime's own types would push the compiler's
            // layout computation past its recursion limit.
            Box::pin(handler(reactor, event, time::OffsetDateTime::now_utc()))
                .await
                .map_err(diagnostic)
        },
    );
    lambda_runtime::Runtime::new(events)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(not_json::Layer)
        .run()
        .await
}

/// Log lines as Lambda's logging controls ask: JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the template sets
/// it), with each event's fields at the top level of the line (`{"level":"INFO","message":"decision",
/// "job":…,"run":…}`) so that Logs Insights queries name them directly; the level from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG`, INFO by default. No time: Lambda stamps every line.
#[cfg(feature = "lambda")]
fn init_logging() {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let lines = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        lines
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        lines.init();
    }
}

/// The `errorType` of an input that is not JSON.
pub const NOT_JSON: &str = "InputNotJson";

/// Input that is not JSON, caught before the runtime deserializes it. The runtime's own refusal names no
/// problem (its `errorType` is a Rust type path), and the runtime loop offers no other hook, so a layer over
/// the raw invocation replaces such a body with a JSON object under a reserved key that [`serve`] refuses.
#[cfg(feature = "lambda")]
mod not_json {
    use lambda_runtime::tower::{Layer as TowerLayer, Service};
    use lambda_runtime::LambdaInvocation;
    use std::task::{Context, Poll};

    /// The reserved key; no event, tick or request of this project has it.
    const KEY: &str = "ecsReactor.inputNotJson";

    /// Where and how the input is not JSON, from serde_json's error kind and position only: never the
    /// input's text, which may hold a secret.
    pub fn describe(body: &[u8]) -> Option<String> {
        let e = serde_json::from_slice::<serde::de::IgnoredAny>(body).err()?;
        let what = match e.classify() {
            serde_json::error::Category::Eof => "it ends early",
            _ => "a syntax error",
        };
        Some(if body.is_empty() {
            "it is empty".to_owned()
        } else {
            format!("{what} at line {}, column {}", e.line(), e.column())
        })
    }

    /// The problem a replaced body names, if the payload is one.
    pub fn problem_of(payload: &serde_json::Value) -> Option<&str> {
        payload.get(KEY)?.as_str()
    }

    pub struct Layer;

    impl<S> TowerLayer<S> for Layer {
        type Service = Refuse<S>;
        fn layer(&self, inner: S) -> Refuse<S> {
            Refuse(inner)
        }
    }

    pub struct Refuse<S>(S);

    impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for Refuse<S> {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
            if let Some(problem) = describe(&invocation.body) {
                invocation.body = serde_json::json!({ KEY: problem }).to_string().into();
            }
            self.0.call(invocation)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::describe;

        #[rustfmt::skip]
        #[test]
        fn input_that_is_not_json_is_described_by_position_never_by_its_text() {
            for (input, expected) in [
                (&b"{\"detail\": 1}"[..],            None),
                (b"[]",                              None),
                (b"",                                Some("it is empty")),
                (b"DB_PASSWORD=hunter2",             Some("a syntax error at line 1, column 1")),
                (b"{\"detail\": ",                   Some("it ends early at line 1, column 11")),
                (b"{} trailing",                     Some("a syntax error at line 1, column 4")),
            ] {
                assert_eq!(describe(input).as_deref(), expected, "{:?}", String::from_utf8_lossy(input));
            }
        }
    }
}
