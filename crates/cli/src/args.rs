//! The command line.

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ecs-reactor",
    version,
    about = "Reliable Amazon ECS task runs with smart retries: on-call's tool"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    Explain(ExplainArgs),
    Rules(RulesArgs),
    Validate(ValidateArgs),
    Runs(RunsArgs),
    Show(ShowArgs),
}

/// Where the attempts table is: the standard AWS chain (`AWS_ENDPOINT_URL` works) plus these.
#[derive(Args, Clone)]
pub struct TableArgs {
    /// The attempts table. Default: $REACTOR_TABLE.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// AWS region. Default: the standard chain (AWS_REGION, profile).
    #[arg(long)]
    pub region: Option<String>,
    /// AWS profile. Default: the standard chain (AWS_PROFILE).
    #[arg(long)]
    pub profile: Option<String>,
    /// One JSON value on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// List runs, newest first: of a job, or in a status (one Query on the table's indexes).
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor runs --job nightly-report
  ecs-reactor runs --status FAILED --since 24h
  ecs-reactor runs --status RETRY_SCHEDULED --json

Exit codes: 0 listed (possibly none); 2 bad command line; 5 the table could not be read.")]
pub struct RunsArgs {
    /// Only runs of this job (newest first by creation).
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Only runs in this status: LAUNCHING, RUNNING, RETRY_SCHEDULED, SUCCEEDED, FAILED, CANCELLED
    /// (newest first by their last change).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// How far back: e.g. 30m, 24h, 7d.
    #[arg(long, value_name = "AGE", default_value = "24h")]
    pub since: String,
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    #[command(flatten)]
    pub table: TableArgs,
}

/// A run's story: every attempt with its task, times, stop code, reasons, exit codes, decision and rule, and the
/// pending retry.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor show nightly-report-20261121T023000Z
  ecs-reactor show arn:aws:ecs:us-east-1:111122223333:task/jobs/0123456789abcdef

Exit codes: 0 shown; 2 bad command line; 4 no such run or task; 5 the table could not be read.")]
pub struct ShowArgs {
    /// A run id, or the ARN of a task one of its attempts ran.
    #[arg(value_name = "RUN_ID|TASK_ARN")]
    pub run: String,
    #[command(flatten)]
    pub table: TableArgs,
}

/// Judge a STOPPED task the way the classifier does, offline, and say why.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor explain events/stopped-spot-interruption.json
  ecs-reactor explain stopped.json --policy job.json --attempt 3
  aws events ... | ecs-reactor explain - --essential app

Prints one JSON object: action (SUCCEED, RETRY_NOW, RETRY_LATER or FAIL), rule (what matched, in words),
ruleId, reason, countsAsAttempt, delaySeconds (RETRY_LATER; the upper bound when jitter is FULL), evidence
(the words of the event that matched), hint (what to check), and the task's facts.
Exit codes: 0 judged; 2 bad command line; 3 unreadable or invalid event or policy.")]
pub struct ExplainArgs {
    /// A full EventBridge `ECS Task State Change` event (JSON); `-` reads standard input.
    #[arg(value_name = "EVENT_FILE")]
    pub event: String,
    /// A job request (its `retry` and `essentialContainers` are used) or a bare retry policy object.
    /// Without it, the default policy.
    #[arg(long, value_name = "POLICY_FILE")]
    pub policy: Option<String>,
    /// Number of the attempt that stopped. Default: read from the task's startedBy, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: Option<u32>,
    /// How many earlier attempts ended in a disruption (free relaunches used).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub disruptions: u32,
    /// An essential container (repeat, or separate with commas). Overrides the policy's
    /// essentialContainers. Without either, every container counts.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub essential: Vec<String>,
}

/// Print the built-in rule table: how a stopped task and a failed launch are judged.
#[derive(Args)]
pub struct RulesArgs {
    /// As a Markdown table (the README's).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

/// Check a job request and print it with every default filled in.
#[derive(Args)]
#[command(after_help = "\
Example:
  ecs-reactor validate events/job-request.json

Exit codes: 0 valid; 2 bad command line; 3 unreadable or invalid (every problem named, on one line).")]
pub struct ValidateArgs {
    /// The job request (JSON); `-` reads standard input.
    #[arg(value_name = "JOB_FILE")]
    pub job: String,
}
