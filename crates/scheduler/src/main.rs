//! The scheduler Lambda's entry point: configuration and clients once, then one handler call per event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use reactor_aws::config::Config;
use reactor_aws::edge::diagnostic;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let reactor = config.connect().await;
    let reactor = &reactor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        scheduler::handle(reactor, event.payload, time::OffsetDateTime::now_utc())
            .await
            .map_err(diagnostic)
    }))
    .await
}
