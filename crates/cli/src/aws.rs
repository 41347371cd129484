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

/// Where this process points AWS calls, for the one line a failure prints (the command makes its calls with
/// one configuration; the failures are turned into words far from where it was built).
struct Pointed {
    /// `--profile`, else `AWS_PROFILE`: whose credentials.
    profile: Option<String>,
    region: String,
    /// `AWS_ENDPOINT_URL`'s host:port, when set.
    endpoint: Option<String>,
}

static POINTED: std::sync::OnceLock<Pointed> = std::sync::OnceLock::new();

/// The SDK configuration: the standard chain (`AWS_ENDPOINT_URL` works), `--region` and `--profile` on top.
/// Refused before any call: an unknown profile (named, with the ones defined) and no region. A profile given
/// with `--profile` supplies the credentials even when the environment has some (the chain would prefer the
/// environment's and ignore the flag silently).
pub async fn sdk_config(
    args: &TableArgs,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<aws_config::SdkConfig, Failure> {
    let profile = args
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .filter(|p| !p.is_empty());
    if let Some(profile) = &profile {
        known_profile(profile).await?;
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(flag) = &args.profile {
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(flag)
            .build();
        loader = loader.profile_name(flag).credentials_provider(credentials);
    }
    if let Some(timeouts) = timeouts {
        loader = loader.timeout_config(timeouts);
    }
    let config = loader.load().await;
    let Some(region) = config.region().map(ToString::to_string) else {
        let whose = profile
            .as_deref()
            .map(|p| format!(" (profile {p:?} names none)"))
            .unwrap_or_default();
        return Err(Failure::Aws(format!(
            "no AWS region{whose}: pass --region REGION or set AWS_REGION"
        )));
    };
    let _ = POINTED.set(Pointed {
        profile,
        region,
        endpoint: config.endpoint_url().map(host_and_port),
    });
    Ok(config)
}

/// A profile that is defined in the AWS config or credentials files; else a failure naming it and the
/// profiles that are.
async fn known_profile(name: &str) -> Result<(), Failure> {
    use aws_types::os_shim_internal::{Env, Fs};
    // The default files, moved by AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE as the SDK moves them.
    let defined: Vec<String> =
        aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None)
            .await
            .map(|set| set.profiles().map(str::to_owned).collect())
            .unwrap_or_default();
    if defined.iter().any(|p| p == name) {
        return Ok(());
    }
    let listed = if defined.is_empty() {
        "none is defined".to_owned()
    } else {
        format!("defined: {}", defined.join(", "))
    };
    Err(Failure::Aws(format!(
        "AWS profile {name:?} is not in ~/.aws/config or ~/.aws/credentials ({listed}): check --profile / \
         AWS_PROFILE (aws configure list-profiles)"
    )))
}

/// `http://127.0.0.1:4566/` → `127.0.0.1:4566`; the scheme's port when none is given.
fn host_and_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split('/').next().unwrap_or(rest);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{}", if scheme == "http" { 80 } else { 443 })
    }
}

pub async fn store(args: &TableArgs) -> Result<DynamoStore, Failure> {
    let table = table_name(args)?;
    let config = sdk_config(args, None).await?;
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
    let pointed = POINTED.get();
    let profile = pointed.and_then(|p| p.profile.as_deref());
    let login = match profile {
        Some(p) => format!("aws sso login --profile {p}"),
        None => "aws sso login".to_owned(),
    };
    let whose = profile
        .map(|p| format!(" of profile {p:?}"))
        .unwrap_or_default();
    Failure::Aws(match aws.kind() {
        FailureKind::NotFound if from_table(e) => format!(
            "table {table:?} not found in this account and region{} (check --table / REACTOR_TABLE, --region)",
            pointed.map(|p| format!(" ({})", p.region)).unwrap_or_default()
        ),
        FailureKind::NoCredentials => match profile {
            Some(p) => {
                // The innermost cause the credentials provider gives (no credentials in the profile, a
                // missing or expired SSO token): the most specific words.
                let why = find_in_chain::<aws_credential_types::provider::error::CredentialsError>(e)
                    .map(|c| innermost(c))
                    .map(|why| format!(" ({why})"))
                    .unwrap_or_default();
                format!("no usable AWS credentials for profile {p:?}{why}: log in ({login}) or fix the profile")
            }
            None => format!(
                "no AWS credentials found (environment, profile, web identity, container, instance metadata): \
                 pass --profile, set AWS_PROFILE, or log in ({login})"
            ),
        },
        FailureKind::AccessDenied => format!(
            "AWS refused the call{whose}: {aws}; the caller needs that permission{}, or its credentials are \
             expired ({login})",
            if from_table(e) {
                format!(" on table {table:?}")
            } else {
                String::new()
            }
        ),
        FailureKind::Unreachable => {
            let at = match pointed {
                Some(Pointed {
                    endpoint: Some(endpoint),
                    ..
                }) => endpoint.clone(),
                Some(p) if from_table(e) => format!("dynamodb.{}.amazonaws.com:443", p.region),
                Some(p) => format!("AWS's {} endpoint", p.region),
                None => "AWS".to_owned(),
            };
            let os = find_in_chain::<std::io::Error>(e)
                .map(ToString::to_string)
                .unwrap_or_else(|| "no connection".to_owned());
            format!("AWS could not be reached at {at}: {os}; check --region / AWS_REGION, AWS_ENDPOINT_URL and the network")
        }
        FailureKind::Timeout => format!("AWS did not answer in time; try again ({aws})"),
        FailureKind::Throttled => format!(
            "AWS throttled the calls ({}); try again in a moment",
            aws.code().unwrap_or("no code")
        ),
        FailureKind::NotFound | FailureKind::Refused | FailureKind::Other => {
            format!("AWS answered with an error: {aws}")
        }
    })
}

/// The last error of a chain, on one line.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(cause) = last.source() {
        last = cause;
    }
    last.to_string().replace('\n', " ")
}

/// Whether the failure is the table's (a store call), not ECS's or SNS's.
fn from_table(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<StoreError>().is_some()
        || matches!(e.downcast_ref::<FlowError>(), Some(FlowError::Store(_)))
}
