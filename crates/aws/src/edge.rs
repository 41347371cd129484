//! The Lambdas' edge: the runtime loop each of the three `main`s runs ([`serve`]: configuration and clients
//! once, then one handler call per event with the clock read there), and how a handler's error reaches Lambda,
//! so the `errorType` a failure destination record carries. Every handler error is reported through
//! [`diagnostic`], the one conversion.

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
    lambda_runtime::tracing::init_default_subscriber();
    let config = crate::config::Config::from_env()?;
    let reactor: &'static LambdaReactor = Box::leak(Box::new(config.connect().await));
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| async move {
        // Boxed: the steps' futures nest deeply, and the runtime's own types would push the compiler's
        // layout computation past its recursion limit.
        Box::pin(handler(reactor, event, time::OffsetDateTime::now_utc()))
            .await
            .map_err(diagnostic)
    }))
    .await
}
