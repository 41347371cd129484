//! The classifier Lambda's entry point: configuration and clients once, then one handler call per event.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    reactor_aws::edge::serve(|reactor, event, now| async move {
        classifier::handle(reactor, event.payload, now).await
    })
    .await
}
