//! Reaching AWS from the command line: the SDK configuration (the standard chain, `--region` and
//! `--profile` on top), the table, and an AWS failure in on-call's words.

use crate::args::TableArgs;
use crate::failure::Failure;
use reactor_aws::aws_error::{find_in_chain, AwsError, FailureKind};
use reactor_aws::flow::FlowError;
use reactor_aws::store::{DynamoStore, StoreError};

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Aws(format!("cannot start the async runtime: {e}")))
}

/// The table named by `--table` or `REACTOR_TABLE`.
pub fn table_name(args: &TableArgs) -> Result<String, Failure> {
    args.table
        .clone()
        .or_else(|| std::env::var("REACTOR_TABLE").ok())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| Failure::BadInput("no table: give --table NAME or set REACTOR_TABLE".into()))
}

/// The SDK configuration: the standard chain (`AWS_ENDPOINT_URL` works), `--region` and `--profile` on top.
pub async fn sdk_config(
    args: &TableArgs,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(timeouts) = timeouts {
        loader = loader.timeout_config(timeouts);
    }
    loader.load().await
}

pub async fn store(args: &TableArgs) -> Result<DynamoStore, Failure> {
    let table = table_name(args)?;
    let config = sdk_config(args, None).await;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    ))
}

/// An AWS error in on-call's words: one line naming the cause and what to do, from the failure's kind (the
/// SDK's typed error, found in the error's source chain), never from its text.
pub fn aws_failure(table: &str, e: &(dyn std::error::Error + 'static)) -> Failure {
    let Some(aws) = find_in_chain::<AwsError>(e) else {
        return Failure::Aws(e.to_string());
    };
    let code = aws.code().unwrap_or("no code");
    Failure::Aws(match aws.kind() {
        FailureKind::NotFound if from_table(e) => format!(
            "table {table:?} not found in this account and region (check --table, --region, REACTOR_TABLE)"
        ),
        FailureKind::NoCredentials => "no AWS credentials found (environment, profile, web identity, container, \
             instance metadata): pass --profile, set AWS_PROFILE, or log in (aws sso login)"
            .into(),
        FailureKind::AccessDenied if from_table(e) => format!(
            "AWS refused the call ({code}): check that the credentials are current (aws sso login) and that their \
             role may use table {table:?}"
        ),
        FailureKind::AccessDenied => format!(
            "AWS refused the call ({aws}): check that the credentials are current (aws sso login) and that their \
             role has the permission named"
        ),
        FailureKind::Unreachable => format!(
            "AWS could not be reached: check --region / AWS_REGION, AWS_ENDPOINT_URL and the network ({aws})"
        ),
        FailureKind::Timeout => format!("AWS did not answer in time; try again ({aws})"),
        FailureKind::Throttled => format!("AWS throttled the calls ({code}); try again in a moment"),
        FailureKind::NotFound | FailureKind::Refused | FailureKind::Other => e.to_string(),
    })
}

/// Whether the failure is the table's (a store call), not ECS's or SNS's.
fn from_table(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<StoreError>().is_some()
        || matches!(e.downcast_ref::<FlowError>(), Some(FlowError::Store(_)))
}
