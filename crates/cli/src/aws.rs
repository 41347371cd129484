//! Reaching AWS from the command line: the SDK configuration (the standard chain, `--region` and
//! `--profile` on top), the table and topic (given, or from the stack's outputs), who is calling, and an AWS
//! failure in on-call's words.

use crate::args::TableArgs;
use crate::failure::Failure;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use reactor_aws::aws_error::{find_in_chain, AwsError, FailureKind};
use reactor_aws::flow::FlowError;
use reactor_aws::store::{DynamoStore, StoreError};

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Aws(format!("cannot start the async runtime: {e}")))
}

/// The stack outputs the command line reads (template.yml's Outputs).
pub const TABLE_OUTPUT: &str = "AttemptsTableName";
pub const TOPIC_OUTPUT: &str = "OutcomesTopicArn";
/// The stack's namespace (its tasks' `startedBy` prefix); a stack deployed before namespaces has none and uses
/// the default.
pub const NAMESPACE_OUTPUT: &str = "Namespace";
/// The KMS key that seals jobs' override values at rest: a command that starts or relaunches a run seals or
/// opens them with it (on-call's reads never need it).
pub const OVERRIDES_KEY_OUTPUT: &str = "OverridesKeyArn";
/// The queue that fires a delayed retry at its due second: a retry the command line schedules is sent there.
pub const RETRY_QUEUE_OUTPUT: &str = "RetryQueueUrl";
/// The byDue shards the stack's functions write retries to: the command line writes to the same ones.
pub const SWEEP_SHARDS_OUTPUT: &str = "SweepShards";

/// The variable `var` when set, else the stack's output `output` when the stack was read.
fn variable_or_output(
    var: &'static str,
    outputs: Option<&StackOutputs>,
    output: &str,
) -> Option<String> {
    match given(None, var) {
        Some((value, _)) => Some(value.trim().to_owned()),
        None => outputs.and_then(|o| o.optional(output)),
    }
}

/// The byDue shards: `variable` (`REACTOR_SWEEP_SHARDS`, checked with the Lambdas' other variables) when set,
/// else the stack's output when the stack was read, which must be a count the sweep knows.
fn sweep_shards_of(
    variable: Option<String>,
    outputs: Option<&StackOutputs>,
) -> Result<Option<String>, Failure> {
    let max = reactor_aws::flow::MAX_SWEEP_SHARDS;
    if variable.is_some() {
        return Ok(variable);
    }
    let Some(shards) = outputs.and_then(|o| o.optional(SWEEP_SHARDS_OUTPUT)) else {
        return Ok(None);
    };
    match shards.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(shards)),
        _ => Err(Failure::BadInput(format!(
            "the stack's {SWEEP_SHARDS_OUTPUT} output: a whole number from 1 to {max} expected, got {shards:?}"
        ))),
    }
}

/// The overrides key: `REACTOR_OVERRIDES_KEY` when set, else the stack's output when the stack was read.
fn overrides_key_of(outputs: Option<&StackOutputs>) -> Option<String> {
    variable_or_output("REACTOR_OVERRIDES_KEY", outputs, OVERRIDES_KEY_OUTPUT)
}

/// The namespace of a stack whose outputs were read: `REACTOR_NAMESPACE` when set (it wins, as the table's
/// variable does), else its `Namespace` output, else the default (a stack deployed before namespaces).
fn namespace_of(outputs: &StackOutputs) -> Result<reactor_core::Namespace, Failure> {
    match (
        given(None, "REACTOR_NAMESPACE"),
        outputs.optional(NAMESPACE_OUTPUT),
    ) {
        (None, Some(name)) => reactor_core::Namespace::new(&name)
            .map_err(|e| Failure::BadInput(format!("the stack's {NAMESPACE_OUTPUT} output: {e}"))),
        _ => namespace_from_env(),
    }
}

/// The namespace of the stack a command works on when it has not read the stack's outputs for anything else:
/// `REACTOR_NAMESPACE`; else, when a stack is named (`--stack`, `REACTOR_STACK`), its `Namespace` output (one
/// DescribeStacks call: a table and topic given explicitly must not silently put a redrive in the default
/// namespace, where the stack's rule would not see its task); else the default.
async fn stack_namespace(
    args: &TableArgs,
    sdk: &aws_config::SdkConfig,
) -> Result<reactor_core::Namespace, Failure> {
    if given(None, "REACTOR_NAMESPACE").is_some() {
        return namespace_from_env();
    }
    match given(args.stack.as_deref(), "REACTOR_STACK") {
        Some((stack, _)) => namespace_of(&stack_outputs(sdk, &stack).await?),
        None => Ok(reactor_core::Namespace::default()),
    }
}

/// As [`stack_namespace`], for a command that is otherwise offline (`explain EVENT_FILE`): AWS is asked only when
/// a stack is named and `REACTOR_NAMESPACE` is not set.
pub fn namespace_for(args: &TableArgs) -> Result<reactor_core::Namespace, Failure> {
    let stack_named = given(args.stack.as_deref(), "REACTOR_STACK").is_some();
    if !stack_named || given(None, "REACTOR_NAMESPACE").is_some() {
        return namespace_from_env();
    }
    runtime()?.block_on(async {
        let sdk = sdk_config(args, None).await?;
        stack_namespace(args, &sdk).await
    })
}

/// The vault `jobs apply` seals job files' values with: `REACTOR_OVERRIDES_KEY`, else the named stack's
/// `OverridesKeyArn` output (one DescribeStacks call); `None` without either (values are then stored as given).
pub async fn registry_vault(
    args: &TableArgs,
    sdk: &aws_config::SdkConfig,
    table: &str,
) -> Result<Option<reactor_aws::vault::Vault>, Failure> {
    let key = match (
        overrides_key_of(None),
        given(args.stack.as_deref(), "REACTOR_STACK"),
    ) {
        (Some(key), _) => Some(key),
        (None, Some((stack, _))) => overrides_key_of(Some(&stack_outputs(sdk, &stack).await?)),
        (None, None) => None,
    };
    Ok(key.map(|key| reactor_aws::vault::Vault::on(sdk, &key, table)))
}

/// The Lambdas' configuration (timeouts, sweep shards, leases and the guard from the same variables) with the
/// table and topic the command line found, in the stack's namespace when it is known (else `REACTOR_NAMESPACE`
/// or the default), so that what the command line launches is the stack's to judge. `found`: the other
/// variables the command line found in the stack's outputs (its overrides key and retry queue); a variable it
/// has no value for is read from the environment.
pub fn lambda_config(
    table: &str,
    topic: &str,
    namespace: Option<&reactor_core::Namespace>,
    found: impl Fn(&str) -> Option<String>,
) -> Result<reactor_aws::config::Config, Failure> {
    reactor_aws::config::Config::from_lookup(|name| match name {
        "REACTOR_TABLE" => Some(table.to_owned()),
        "REACTOR_TOPIC_ARN" => Some(topic.to_owned()),
        "REACTOR_NAMESPACE" if namespace.is_some() => namespace.map(|n| n.to_string()),
        other => found(other).or_else(|| std::env::var(other).ok()),
    })
    .map_err(|e| Failure::BadInput(e.to_string()))
}

/// The loop's steps on the real AWS adapters, as the command line runs them.
pub type AwsReactor = reactor_aws::flow::Reactor<
    DynamoStore,
    reactor_aws::launcher::EcsLauncher,
    reactor_aws::notifier::SnsNotifier,
>;

/// The reactor a command that starts or relaunches runs uses: the Lambdas' configuration for the located
/// stack (`located`'s table, and its `topic`, taken out of it by the caller, and what it launches with), and
/// no metric lines, since the command line's own output is on stdout (the Lambdas count what follows).
pub fn command_reactor(
    (sdk, table): (&aws_config::SdkConfig, &str),
    topic: &str,
    launch: &LaunchSettings,
) -> Result<AwsReactor, Failure> {
    let config = lambda_config(table, topic, Some(&launch.namespace), |name| match name {
        "REACTOR_OVERRIDES_KEY" => launch.overrides_key.clone(),
        "REACTOR_RETRY_QUEUE_URL" => launch.retry_queue_url.clone(),
        "REACTOR_SWEEP_SHARDS" => launch.sweep_shards.clone(),
        _ => None,
    })?;
    Ok(config.reactor(sdk, std::sync::Arc::new(reactor_aws::metrics::NoMetrics)))
}

/// The namespace of the stack the command line works on when it reads no stack: `REACTOR_NAMESPACE`, else
/// `ecs-reactor` (what a stack deployed with the defaults uses).
pub fn namespace_from_env() -> Result<reactor_core::Namespace, Failure> {
    match given(None, "REACTOR_NAMESPACE") {
        None => Ok(reactor_core::Namespace::default()),
        Some((name, _)) => reactor_core::Namespace::new(name.trim())
            .map_err(|e| Failure::BadInput(format!("REACTOR_NAMESPACE: {e}"))),
    }
}

/// A setting given explicitly, and the variable it came from (`None`: its flag).
type Given = Option<(String, Option<&'static str>)>;

/// A setting given explicitly: its flag, else its environment variable (blank counts as not given); with the
/// variable's name when it came from there.
pub(crate) fn given(flag: Option<&str>, var: &'static str) -> Given {
    match flag.filter(|v| !v.trim().is_empty()) {
        Some(v) => Some((v.to_owned(), None)),
        None => std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v, Some(var))),
    }
}

/// Whether the command line names a table at all: `--table`, `REACTOR_TABLE`, `--stack` or `REACTOR_STACK`.
pub fn table_named(args: &TableArgs) -> bool {
    given(args.table.as_deref(), "REACTOR_TABLE").is_some()
        || given(args.stack.as_deref(), "REACTOR_STACK").is_some()
}

/// What a command that changes runs needs besides the SDK configuration: the table, and the outcomes topic or
/// why there is none (refused only when it is needed: `cancel` first looks for the run).
pub struct Located {
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    pub topic: Result<String, Failure>,
    /// What a start or a relaunch needs from the stack besides the table and topic.
    pub launch: LaunchSettings,
}

/// What the command line launches with, so that the stack's functions judge and fire what it launches as their
/// own: each from its variable when set, else from the stack's outputs when they were read.
pub struct LaunchSettings {
    /// The stack's namespace: `REACTOR_NAMESPACE`, else the stack's `Namespace` output, else `ecs-reactor`. A
    /// redrive launches with it, so the stack's classifier judges the new task.
    pub namespace: reactor_core::Namespace,
    /// The key that seals override values (`REACTOR_OVERRIDES_KEY`, else the stack's `OverridesKeyArn`): a
    /// start seals a job's values with it, a redrive opens them for its launch.
    pub overrides_key: Option<String>,
    /// The retry queue (`REACTOR_RETRY_QUEUE_URL`, else the stack's `RetryQueueUrl`): a launch the command
    /// line's step judges RETRY_LATER is sent there to fire at its due second; without it the sweep fires it
    /// (up to a minute late).
    pub retry_queue_url: Option<String>,
    /// The byDue shards (`REACTOR_SWEEP_SHARDS`, else the stack's `SweepShards`): a retry the command line
    /// schedules is written to one the sweep reads every minute (under another count it could wait for the
    /// sweep's turn through all 64, up to an hour).
    pub sweep_shards: Option<String>,
}

/// The SDK configuration and the table: `--table`, else `REACTOR_TABLE`, else the stack's
/// `AttemptsTableName` output.
pub async fn locate_table(
    args: &TableArgs,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<(aws_config::SdkConfig, String), Failure> {
    let (sdk, table, _) = locate(args, None, timeouts).await?;
    Ok((sdk, table))
}

/// As [`locate_table`], and the outcomes topic: `--topic-arn` (`topic_flag`), else `REACTOR_TOPIC_ARN`,
/// else the stack's `OutcomesTopicArn` output.
pub async fn locate_with_topic(
    args: &TableArgs,
    topic_flag: Option<&str>,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<Located, Failure> {
    let topic = given(topic_flag, "REACTOR_TOPIC_ARN");
    let (sdk, table, mut outputs) = locate(args, Some(&topic), timeouts).await?;
    let stack = given(args.stack.as_deref(), "REACTOR_STACK");
    let env_has_all = [
        "REACTOR_NAMESPACE",
        "REACTOR_OVERRIDES_KEY",
        "REACTOR_RETRY_QUEUE_URL",
        "REACTOR_SWEEP_SHARDS",
    ]
    .into_iter()
    .all(|var| given(None, var).is_some());
    if let (None, Some((stack, _)), false) = (&outputs, stack, env_has_all) {
        // Table and topic given explicitly, a stack named: what it launches with still comes from it.
        outputs = Some(stack_outputs(&sdk, &stack).await?);
    }
    let namespace = match &outputs {
        Some(outputs) => namespace_of(outputs)?,
        None => namespace_from_env()?,
    };
    let launch = LaunchSettings {
        namespace,
        overrides_key: overrides_key_of(outputs.as_ref()),
        retry_queue_url: variable_or_output(
            "REACTOR_RETRY_QUEUE_URL",
            outputs.as_ref(),
            RETRY_QUEUE_OUTPUT,
        ),
        sweep_shards: sweep_shards_of(
            given(None, "REACTOR_SWEEP_SHARDS").map(|(v, _)| v),
            outputs.as_ref(),
        )?,
    };
    let topic = match (topic, outputs) {
        (Some((topic, _)), _) => Ok(topic),
        (None, Some(outputs)) => {
            outputs.value(TOPIC_OUTPUT, "--topic-arn ARN or set REACTOR_TOPIC_ARN")
        }
        (None, None) => Err(Failure::BadInput(format!(
            "no outcomes topic: give --topic-arn ARN or --stack NAME, or set REACTOR_TOPIC_ARN (the stack's \
             {TOPIC_OUTPUT} output); a run that ends is announced there"
        ))),
    };
    Ok(Located {
        sdk,
        table,
        topic,
        launch,
    })
}

/// The stack outputs naming its failure queues (template.yml's Outputs), in the order `dlq` reads them.
pub const QUEUE_OUTPUTS: [&str; 3] = [
    "InvokeFailureQueueUrl",
    "RuleDeliveryFailureQueueUrl",
    "StreamFailureQueueUrl",
];

/// `dlq`: the SDK configuration, the failure queues' URLs and the stack's namespace: `queues` (`--queue`) when
/// given, else the stack's (`--stack`, else `REACTOR_STACK`) [`QUEUE_OUTPUTS`] (one DescribeStacks call).
pub async fn locate_queues(
    args: &TableArgs,
    queues: &[String],
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<(aws_config::SdkConfig, Vec<String>, reactor_core::Namespace), Failure> {
    let named: Vec<String> = queues
        .iter()
        .filter(|q| !q.trim().is_empty())
        .cloned()
        .collect();
    if !named.is_empty() {
        let sdk = sdk_config(args, timeouts).await?;
        let namespace = stack_namespace(args, &sdk).await?;
        return Ok((sdk, named, namespace));
    }
    // Said before anything is asked of AWS, as for the table.
    let Some((stack, _)) = given(args.stack.as_deref(), "REACTOR_STACK") else {
        return Err(Failure::BadInput(
            "no failure queue: give --queue URL or --stack NAME, or set REACTOR_STACK".into(),
        ));
    };
    let sdk = sdk_config(args, timeouts).await?;
    let outputs = stack_outputs(&sdk, &stack).await?;
    let urls = QUEUE_OUTPUTS
        .iter()
        .map(|key| outputs.value(key, "--queue URL"))
        .collect::<Result<Vec<_>, _>>()?;
    let namespace = namespace_of(&outputs)?;
    Ok((sdk, urls, namespace))
}

/// The SDK configuration, the table, and the stack's outputs when they were read. `topic`: the topic given
/// explicitly, for a command that needs one (`None`: it needs none). The stack is asked only for what was
/// not given (one DescribeStacks call; none when everything was given).
async fn locate(
    args: &TableArgs,
    topic: Option<&Given>,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<(aws_config::SdkConfig, String, Option<StackOutputs>), Failure> {
    let stack = given(args.stack.as_deref(), "REACTOR_STACK").map(|(name, _)| name);
    let table = given(args.table.as_deref(), "REACTOR_TABLE");
    // Nothing names a table: said before anything is asked of AWS (no region or login needed to be told).
    let Some(stack) = stack else {
        let Some((table, _)) = table else {
            return Err(Failure::BadInput(
                "no table: give --table NAME or --stack NAME, or set REACTOR_TABLE or REACTOR_STACK"
                    .into(),
            ));
        };
        return Ok((sdk_config(args, timeouts).await?, table, None));
    };
    // A variable exported for another stack would silently win over the stack named: say so, once the command
    // is sure to go on (a flag on this command line is in plain sight; a failure stays one line).
    let overridden: Vec<String> = [Some(&table), topic]
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|(value, var)| var.map(|var| format!("{var}={value}")))
        .collect();
    let note = || {
        if !overridden.is_empty() {
            eprintln!(
                "ecs-reactor: note: using {}, not stack {stack:?}'s output (unset to use the stack's)",
                overridden.join(", ")
            );
        }
    };
    let sdk = sdk_config(args, timeouts).await?;
    if let (Some((table, _)), None | Some(Some(_))) = (&table, topic) {
        note();
        return Ok((sdk, table.clone(), None));
    }
    let outputs = stack_outputs(&sdk, &stack).await?;
    let table = match table {
        Some((table, _)) => table,
        None => outputs.value(TABLE_OUTPUT, "--table NAME or set REACTOR_TABLE")?,
    };
    note();
    Ok((sdk, table, Some(outputs)))
}

/// A stack's outputs, as DescribeStacks answered.
pub(crate) struct StackOutputs {
    name: String,
    status: String,
    outputs: Vec<(String, String)>,
}

impl StackOutputs {
    /// The output `key`, if the stack has it (an output added by a later release).
    pub(crate) fn optional(&self, key: &str) -> Option<String> {
        self.outputs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// The output `key`; else a failure naming the stack, its status and the outputs it has, and `instead`
    /// (how to give the value by hand).
    pub(crate) fn value(&self, key: &str, instead: &str) -> Result<String, Failure> {
        if let Some(value) = self.optional(key) {
            return Ok(value);
        }
        let has = if self.outputs.is_empty() {
            "none".to_owned()
        } else {
            let keys: Vec<&str> = self.outputs.iter().map(|(k, _)| k.as_str()).collect();
            keys.join(", ")
        };
        Err(Failure::BadInput(format!(
            "stack {:?} ({}) has no output {key} (its outputs: {has}): is it an ecs-reactor stack, fully \
             deployed? give {instead}",
            self.name, self.status
        )))
    }
}

/// DescribeStacks of `name` (a stack name or ID), in the configured account and region.
pub(crate) async fn stack_outputs(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<StackOutputs, Failure> {
    let answer = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(name)
        .send()
        .await;
    let missing = |what: &str| {
        let region = POINTED
            .get()
            .map(|p| format!(" ({})", p.region))
            .unwrap_or_default();
        Failure::Aws(format!(
            "stack {name:?} {what} in this account and region{region}: check --stack / REACTOR_STACK, \
             --region and --profile"
        ))
    };
    let answer = match answer {
        Ok(answer) => answer,
        // CloudFormation answers a stack it does not have with the code ValidationError ("Stack with id X
        // does not exist"): for DescribeStacks of one name, the only thing that code can mean.
        Err(SdkError::ServiceError(e)) if e.err().code() == Some("ValidationError") => {
            return Err(missing("not found"));
        }
        // Not a store's error: aws_failure words it as any AWS call's (the name is not taken for a table).
        Err(e) => return Err(aws_failure(name, &AwsError::from_sdk(e))),
    };
    let Some(stack) = answer.stacks.unwrap_or_default().into_iter().next() else {
        return Err(missing("not found"));
    };
    let status = stack.stack_status.as_ref().map(|s| s.as_str().to_owned());
    // Asked by its ID, a deleted stack is still described: its outputs name what no longer exists.
    if status.as_deref() == Some("DELETE_COMPLETE") {
        return Err(missing("was deleted"));
    }
    Ok(StackOutputs {
        name: name.to_owned(),
        status: status.unwrap_or_else(|| "status unknown".into()),
        outputs: stack
            .outputs
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| Some((o.output_key?, o.output_value.unwrap_or_default())))
            .collect(),
    })
}

/// The caller's AWS identity, as CloudTrail records its calls: the ARN GetCallerIdentity answers (an
/// assumed role's names the session, e.g. `arn:aws:sts::123456789012:assumed-role/OnCall/alice`). It needs
/// no IAM permission.
pub async fn caller_arn(sdk: &aws_config::SdkConfig, table: &str) -> Result<String, Failure> {
    let answer = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_failure(table, &AwsError::from_sdk(e)))?;
    answer
        .arn
        .filter(|arn| !arn.trim().is_empty())
        .ok_or_else(|| {
            Failure::Aws("STS answered GetCallerIdentity without the caller's ARN".into())
        })
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
    let (config, table) = locate_table(args, None).await?;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    ))
}

/// An AWS error in on-call's words: one line naming the cause and what to do, from the failure's kind (the
/// SDK's typed error, found in the error's source chain), never from its text.
pub fn aws_failure(table: &str, e: &(dyn std::error::Error + 'static)) -> Failure {
    if let Some(vault) = find_in_chain::<reactor_aws::vault::VaultError>(e) {
        // Starting or relaunching a job with environment values or a command seals or opens them; reading
        // never does. A run recorded before the failure is launched by the sweep, which may open them.
        let transient = vault.is_retryable();
        return Failure::Aws(format!(
            "{vault}: {}; `ecs-reactor show RUN` tells whether the run was recorded (a recorded run is launched \
             by the sweep within about 3 minutes)",
            if transient {
                "try again in a moment"
            } else {
                "starting or redriving a job with environment values or a command needs kms:GenerateDataKey and \
                 kms:Decrypt on the stack's overrides key (output OverridesKeyArn, or REACTOR_OVERRIDES_KEY)"
            }
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stacks_sweep_shards_output_is_a_count_the_sweep_knows() {
        let stack = |value: Option<&str>| StackOutputs {
            name: "s".into(),
            status: "CREATE_COMPLETE".into(),
            outputs: value
                .map(|v| vec![(SWEEP_SHARDS_OUTPUT.to_owned(), v.to_owned())])
                .unwrap_or_default(),
        };
        let refused = |v: &str| {
            format!(
                "the stack's SweepShards output: a whole number from 1 to 64 expected, got \"{v}\""
            )
        };
        // (REACTOR_SWEEP_SHARDS, the output, what is used)
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Result<Option<&'a str>, String>,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (None,      None,         Ok(None)),
            (None,      Some("4"),    Ok(Some("4"))),
            (None,      Some("64"),   Ok(Some("64"))),
            (None,      Some("0"),    Err(refused("0"))),
            (None,      Some("65"),   Err(refused("65"))),
            (None,      Some("many"), Err(refused("many"))),
            // The variable wins; it is checked with the Lambdas' other variables.
            (Some("2"), Some("16"),   Ok(Some("2"))),
            (Some("2"), Some("many"), Ok(Some("2"))),
        ];
        for (variable, output, expected) in cases {
            let got = sweep_shards_of(variable.map(str::to_owned), Some(&stack(*output)))
                .map_err(|e| e.to_string());
            let expected = expected.clone().map(|v| v.map(str::to_owned));
            assert_eq!(got, expected, "{variable:?} {output:?}");
        }
        assert_eq!(
            sweep_shards_of(None, None).map_err(|e| e.to_string()),
            Ok(None)
        );
    }
}
