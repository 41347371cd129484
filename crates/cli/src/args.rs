//! The command line.

use clap::{Args, Parser, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "ecs-reactor",
    version,
    about = "Reliable Amazon ECS task runs with smart retries: on-call's tool"
)]
pub struct Cli {
    /// Act as of this time (RFC 3339, e.g. 2026-11-21T12:00:00Z) instead of the clock: `runs --since` windows
    /// and relative times ("3 min ago") are measured from it, and `start`/`cancel`/`redrive` record it. For
    /// reproducible reports ("as of") and tests. Default: now.
    #[arg(long, global = true, value_name = "TIMESTAMP", value_parser = parse_now)]
    pub now: Option<OffsetDateTime>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The one notion of "now" every command uses: `--now`, else the clock.
    pub fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(OffsetDateTime::now_utc)
    }
}

fn parse_now(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-21T12:00:00Z ({e})"))
}

/// A person's name for `--by`: a few words, as short as an IAM session name, so the stop reason keeps room
/// for the reason.
fn parse_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    match name.chars().count() {
        0 => Err("a name, e.g. alice".into()),
        1..=64 => Ok(name.to_owned()),
        n => Err(format!("at most 64 characters (got {n})")),
    }
}

#[derive(Subcommand)]
pub enum Command {
    Explain(ExplainArgs),
    Rules(RulesArgs),
    Validate(ValidateArgs),
    Runs(RunsArgs),
    Show(ShowArgs),
    Logs(LogsArgs),
    Start(StartArgs),
    Cancel(CancelArgs),
    Redrive(RedriveArgs),
    Dlq(DlqArgs),
    Jobs(JobsArgs),
    ImportSfn(ImportSfnArgs),
}

/// Where the attempts table is: the standard AWS chain (`AWS_ENDPOINT_URL` works) plus these.
#[derive(Args, Clone)]
pub struct TableArgs {
    /// The attempts table. Default: $REACTOR_TABLE, else the stack's AttemptsTableName output (--stack).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// The ecs-reactor CloudFormation stack (name or ID): what is not given explicitly is read from its
    /// outputs, the table (AttemptsTableName) and, for start/cancel/redrive, the outcomes topic
    /// (OutcomesTopicArn); one DescribeStacks call. --table, --topic-arn, $REACTOR_TABLE and
    /// $REACTOR_TOPIC_ARN win over the stack's outputs. Default: $REACTOR_STACK.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
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

/// What changes a run needs besides the table: the outcomes topic (a run that ends is announced there).
#[derive(Args, Clone)]
pub struct ActArgs {
    /// The SNS topic for outcomes. Default: $REACTOR_TOPIC_ARN, else the stack's OutcomesTopicArn output
    /// (--stack).
    #[arg(long, value_name = "ARN")]
    pub topic_arn: Option<String>,
    #[command(flatten)]
    pub table: TableArgs,
}

/// List runs, newest first: all of them, of a job, or in a status (one Query on the table's indexes); or the
/// runs that look stuck (`--stuck`).
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor runs
  ecs-reactor runs --job nightly-report
  ecs-reactor runs --status FAILED --since 24h
  ecs-reactor runs --status RETRY_SCHEDULED --json
  ecs-reactor runs --stuck
  ecs-reactor runs --stuck --older-than 6h

--stuck lists unfinished runs whose next step is late, each with the reason (one Query per unfinished
status on the byStatus index, then each candidate's partition): LAUNCHING with its attempt's launch lease
run out; RUNNING longer than --older-than when nothing stops it (no timeoutSeconds or runTimeoutSeconds),
or past its deadline by more than 5 minutes; RETRY_SCHEDULED with its retry overdue by more than 5
minutes, or without its delay item.
Exit codes: 0 listed (possibly none); 2 bad command line; 3 bad --status, --since or --older-than, no
table named, or the stack has no AttemptsTableName output; 5 the table or the stack could not be read.")]
pub struct RunsArgs {
    /// Only runs of this job (newest first by creation).
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Only runs in this status: LAUNCHING, RUNNING, RETRY_SCHEDULED, SUCCEEDED, FAILED, CANCELLED
    /// (newest first by their last change).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// How far back: e.g. 30m, 24h, 7d. Default: 24h; for LAUNCHING, RUNNING and RETRY_SCHEDULED, every run
    /// in that status now, however long ago it got there.
    #[arg(long, value_name = "AGE")]
    pub since: Option<String>,
    /// Only runs that look stuck, with the reason (a REASON column; `reason` in --json), oldest first in
    /// each status; with --job, only that job's. --limit caps the runs checked per status.
    #[arg(long, conflicts_with_all = ["status", "since"])]
    pub stuck: bool,
    /// With --stuck: how long a run may be RUNNING with nothing to stop it before it counts as stuck, e.g.
    /// 30m, 2h, 1d. Default: 2h.
    #[arg(long, value_name = "AGE", requires = "stuck")]
    pub older_than: Option<String>,
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    #[command(flatten)]
    pub table: TableArgs,
}

/// A run's story: every attempt with its full task id, times (date and time, UTC), stop code, reasons, exit
/// codes, decision, rule and hint, its ECS console page and CloudWatch log streams, and the pending retry.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor show nightly-report-20261121T023000Z
  ecs-reactor show arn:aws:ecs:us-east-1:111122223333:task/jobs/0123456789abcdef0123456789abcdef
  ecs-reactor show 0123456789abcdef0123456789abcdef

A task id (what the ECS console and log stream names show) is looked up in the clusters of the latest 100
runs; a task of another cluster needs its full ARN. The log streams come from the awslogs configuration of
the run's task definition (ecs:DescribeTaskDefinition); if it cannot be read, show says why and goes on.
Exit codes: 0 shown; 2 bad command line; 3 no table named, or the stack has no AttemptsTableName output;
4 no such run or task; 5 the table or the stack could not be read.")]
pub struct ShowArgs {
    /// A run id, or the ARN or id of a task one of its attempts ran.
    #[arg(value_name = "RUN_ID|TASK_ARN|TASK_ID")]
    pub run: String,
    #[command(flatten)]
    pub table: TableArgs,
}

/// An attempt's container logs, from CloudWatch Logs: each line with its time (UTC) and container.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor logs nightly-report-20261121T023000Z
  ecs-reactor logs nightly-report-20261121T023000Z --attempt 1 --container app
  ecs-reactor logs 0123456789abcdef0123456789abcdef --follow
  ecs-reactor logs nightly-report-20261121T023000Z --json | jq -r .message

The streams are those the awslogs configuration of the run's task definition names
(ecs:DescribeTaskDefinition): PREFIX/CONTAINER/TASK_ID in its group, read with logs:GetLogEvents. Given a
task ARN or id, the attempt that ran it; else the latest attempt that launched a task. A container that
logs elsewhere (another log driver, or none) is named on stderr. --json prints one JSON object per line
(container, timestamp, message).
Exit codes: 0 printed; 2 bad command line; 3 no table named, no such --container, or the stack has no
AttemptsTableName output; 4 no such run, task or attempt, no log stream (yet) or no events in it, or no
chosen container logs to CloudWatch Logs; 5 AWS could not be asked, or the task definition could not be read.")]
pub struct LogsArgs {
    /// A run id, or the ARN or id of a task one of its attempts ran.
    #[arg(value_name = "RUN_ID|TASK_ARN|TASK_ID")]
    pub run: String,
    /// The attempt. Default: the one that ran the task given, else the latest that launched a task.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: Option<u32>,
    /// Only this container's stream. Default: every essential container's.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Keep printing new events (asked for every 2 s) until the attempt's task is recorded as stopped and
    /// its streams are read to the end.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub table: TableArgs,
}

/// Start a run of a job, as the starter Lambda does (same validation, same code): the run is recorded and
/// its first task launched.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor start events/job-nightly-report.json
  ecs-reactor start job.json --idempotency-key deploy-4711 --json

Repeating a start with the same --idempotency-key names the same run and starts nothing new (safe to retry
after a timeout). Without it, every start is a new run.
Exit codes: 0 started (or the run existed already); 2 bad command line; 3 unreadable or invalid job
(every problem named), no table or outcomes topic, or the stack lacks the output; 5 AWS could not be asked;
6 ECS refused the launch (the run is judged: see output).")]
pub struct StartArgs {
    /// The job request (JSON); `-` reads standard input.
    #[arg(value_name = "JOB_FILE")]
    pub job: String,
    /// Names the run: the same key always names the same run. Default: a fresh one.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

/// Cancel a run: no further attempt is launched (a pending retry is removed; the classifier and scheduler
/// leave a cancelled run alone). The outcome CANCELLED is published.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor cancel nightly-report-20261121T023000Z
  ecs-reactor cancel nightly-report-20261121T023000Z --stop-task --by alice --reason \"bad input file, rerun tomorrow\"

Who cancelled is recorded on the run and in the task's stop reason: the caller's AWS identity (the ARN STS
GetCallerIdentity answers, as CloudTrail shows the calls), after --by's name when given, then the reason:
\"alice (arn:aws:sts::123456789012:assumed-role/OnCall/alice, ecs-reactor CLI): bad input file\". The
reason is shortened to keep the stop reason within the 255 characters ECS keeps.
Without --stop-task a running task runs on; its end is recorded but not judged. A task that was being
launched at the moment of the cancel is stopped either way.
Exit codes: 0 cancelled (or cancelled already); 2 bad command line; 3 no table or outcomes topic, or the
stack lacks the output (the topic is asked for once the run is found); 4 no such run; 5 AWS could not be
asked; 6 the run has finished (SUCCEEDED or FAILED): nothing to cancel.")]
pub struct CancelArgs {
    #[arg(value_name = "RUN_ID")]
    pub run: String,
    /// Also stop the current attempt's task (StopTask, with a reason naming who cancelled).
    #[arg(long)]
    pub stop_task: bool,
    /// Why, in a few words: recorded with the run and in the task's stop reason.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Your name, recorded before your AWS identity (when the role's session name does not say who).
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub by: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

/// Redrive a FAILED or CANCELLED run: a new attempt with a fresh retry budget; every earlier attempt stays
/// in the run's story.
#[derive(Args)]
#[command(after_help = "\
Example:
  ecs-reactor redrive nightly-report-20261121T023000Z --by alice --reason \"image fixed\"

Who redrove it is recorded on the run: the caller's AWS identity (the ARN STS GetCallerIdentity answers),
after --by's name when given, then the reason.
Exit codes: 0 redriven (its launch may still have been refused: see output); 2 bad command line; 3 no table
or outcomes topic, or the stack lacks the output (the topic is asked for once the run is found); 4 no such
run; 5 AWS could not be asked; 6 the run is not FAILED or CANCELLED.")]
pub struct RedriveArgs {
    #[arg(value_name = "RUN_ID")]
    pub run: String,
    /// Why, in a few words: recorded with the run.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Your name, recorded before your AWS identity (when the role's session name does not say who).
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub by: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

/// Judge a STOPPED task the way the classifier does, offline, and say why; or judge a stored run's attempts
/// again (`--run`), beside what was recorded.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor explain events/stopped-spot-interruption.json
  ecs-reactor explain stopped.json --policy job.json --attempt 3
  aws events ... | ecs-reactor explain - --essential app
  ecs-reactor explain --run nightly-report-20261121T023000Z

Prints one JSON object: action (SUCCEED, RETRY_NOW, RETRY_LATER or FAIL), rule (what matched, in words),
ruleId, reason, countsAsAttempt, delaySeconds (RETRY_LATER; the upper bound when jitter is FULL), evidence
(the words of the event that matched), hint (what to check), reasoning (every rule considered, those that
matched, whether a fall-back decided and why), and the task's facts. With --run: one object per judged
attempt, with what was recorded, the judgement now (the run's own policy and history) and the reasoning.
Exit codes: 0 judged; 2 bad command line; 3 unreadable or invalid event or policy, or the stack has no
AttemptsTableName output; 4 no such run; 5 the table or the stack could not be read.")]
pub struct ExplainArgs {
    /// A full EventBridge `ECS Task State Change` event (JSON; also inside a Lambda on-failure record or an
    /// SQS message, as the failure queues hold it); `-` reads standard input. A run id instead of a file
    /// explains the stored run (as --run).
    #[arg(
        value_name = "EVENT_FILE",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    pub event: Option<String>,
    /// A stored run instead of an event: each judged attempt judged again from its recorded facts, with the
    /// run's job policy and its earlier attempts (the table: --table, $REACTOR_TABLE or --stack).
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["policy", "essential", "disruptions"])]
    pub run: Option<String>,
    #[command(flatten)]
    pub table: TableArgs,
    /// A job request (its `retry` and `essentialContainers` are used) or a bare retry policy object.
    /// Without it, the default policy.
    #[arg(long, value_name = "POLICY_FILE")]
    pub policy: Option<String>,
    /// Number of the attempt that stopped. Default: read from the task's startedBy, else 1. With a run: only
    /// that attempt.
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

/// Turn a Step Functions state machine's ECS tasks into job files: each `ecs:runTask[.sync]` Task state becomes
/// `<out>/<job>.json` (its Parameters the job's runTask, its Retry on task failure the job's retry); what has no
/// counterpart (Catch, Wait, Choice, a Lambda parsing exit codes, SNS) is said per state. Every file is
/// validated and every target checked before anything is written; a file there with other content is refused.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor import-sfn nightly.asl.json --out jobs/
  aws stepfunctions describe-state-machine --state-machine-arn ARN > nightly.json
  ecs-reactor import-sfn nightly.json --out jobs/ --prefix nightly- --dry-run

Exit codes: 0 written (or unchanged); 2 bad command line; 3 unreadable, a task that cannot become a job, or a
file there with other content (nothing written).")]
pub struct ImportSfnArgs {
    /// The state machine: its Amazon States Language definition (JSON or YAML), or what `aws stepfunctions
    /// describe-state-machine` prints; `-` reads standard input.
    #[arg(value_name = "STATE_MACHINE")]
    pub state_machine: String,
    /// Where the job files go.
    #[arg(long, value_name = "DIR", default_value = "jobs")]
    pub out: String,
    /// Put before every job's name (letters, digits, - and _).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Say what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON value on stdout instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// The stack's failure queues: what a function or a rule could not handle, explained, replayed through the
/// flow, or deleted.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor dlq list --stack ecs-reactor
  ecs-reactor dlq show 0f6c1b7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b
  ecs-reactor dlq replay 0f6c1b7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b
  ecs-reactor dlq replay --all
  ecs-reactor dlq purge 0f6c1b7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b --yes

The queues (the stack's outputs): InvokeFailureQueueUrl, Lambda's on-failure records of the three functions
(the event, the function, its error); RuleDeliveryFailureQueueUrl, events an EventBridge rule could not
deliver (the event, with the rule's error in the message attributes); StreamFailureQueueUrl, batches of
stream records the scheduler gave up on (where they were, not what they held). Reading a queue hides its
messages from other readers for a moment and shows them again; only replay and purge delete. Environment
values and commands in a message (a job's overrides) are never printed.")]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Subcommand)]
pub enum DlqCommand {
    List(DlqListArgs),
    Show(DlqShowArgs),
    Replay(DlqReplayArgs),
    Purge(DlqPurgeArgs),
}

/// Which failure queues, and how AWS is reached (the standard chain, `AWS_ENDPOINT_URL` works, plus these).
#[derive(Args, Clone)]
pub struct QueueArgs {
    /// A failure queue's URL; repeat for several. Default: the stack's three (its InvokeFailureQueueUrl,
    /// RuleDeliveryFailureQueueUrl and StreamFailureQueueUrl outputs).
    #[arg(long = "queue", value_name = "URL")]
    pub queues: Vec<String>,
    /// The ecs-reactor CloudFormation stack (name or ID): its outputs name the queues and, for replay, the
    /// table and the outcomes topic. Default: $REACTOR_STACK.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// AWS region. Default: the standard chain (AWS_REGION, profile).
    #[arg(long)]
    pub region: Option<String>,
    /// AWS profile. Default: the standard chain (AWS_PROFILE).
    #[arg(long)]
    pub profile: Option<String>,
    /// JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The messages of the failure queues, newest first: one line each (message id, queue, kind, when, run or
/// task, error).
#[derive(Args)]
#[command(after_help = "\
Kinds: rule-delivery (an EventBridge rule could not deliver the event), invoke-failure (Lambda gave up on an
invocation), stream-batch (Lambda gave up on stream records), unrecognised.
Exit codes: 0 listed (possibly none); 2 bad command line; 3 no queue named (--queue, --stack,
REACTOR_STACK), or the stack lacks a queue output; 5 a queue or the stack could not be read.")]
pub struct DlqListArgs {
    /// At most this many messages per queue.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// One message explained: what failed (the function or the rule), when, why, what it is about (run,
/// attempt, task, job), and what a replay would do.
#[derive(Args)]
#[command(after_help = "\
--json adds the message attributes and the payload (the event or job request), environment values and
commands redacted.
Exit codes: 0 shown; 2 bad command line; 3 no queue named, or the stack lacks a queue output; 4 no such
message (or another reader hides it for a while); 5 a queue or the stack could not be read.")]
pub struct DlqShowArgs {
    /// The message id (`ecs-reactor dlq list` shows them).
    #[arg(value_name = "MESSAGE_ID")]
    pub id: String,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// Replay messages through the step their handler runs, in-process: a STOPPED event is judged (the
/// classifier's step), a job request or a schedule's tick starts its run (the starter's, under the run id
/// its first try used). A message is deleted only once its replay succeeded.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor dlq replay 0f6c1b7e-2d3a-4e5f-8a9b-0c1d2e3f4a5b
  ecs-reactor dlq replay --all --stack ecs-reactor --json

Idempotent: a message whose run has moved on changes nothing (DUPLICATE or STALE) and is deleted. A stream
batch cannot be replayed from its record (the stream's data is gone after 24 h; the sweep fires due delays
by itself), nor can the sweep's tick; they are kept and say what to do. --all replays what can be replayed
and lists the rest, kept. A message whose run is not in the table is kept (another stack's table?).
Exit codes: 0 every message asked for replayed and deleted (with --all: every replayable one); 2 bad command
line; 3 no queue, table or topic named, or the job is not allowed here; 4 no such message, or its run is not
in the table; 5 AWS could not be asked (the message is kept); 6 the message cannot be replayed, or its run
exists with another job request. With several messages not replayed, the first one's code.")]
pub struct DlqReplayArgs {
    /// Message ids (`ecs-reactor dlq list` shows them).
    #[arg(
        value_name = "MESSAGE_ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,
    /// Every message of the queues (up to 1000 a queue).
    #[arg(long)]
    pub all: bool,
    /// The attempts table. Default: $REACTOR_TABLE, else the stack's AttemptsTableName output.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// The SNS topic for outcomes. Default: $REACTOR_TOPIC_ARN, else the stack's OutcomesTopicArn output.
    #[arg(long, value_name = "ARN")]
    pub topic_arn: Option<String>,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// Delete messages for good (after reading them: `ecs-reactor dlq show`).
#[derive(Args)]
#[command(after_help = "\
Without --yes nothing is deleted: the messages are listed. An id that is not found deletes nothing at all.
Exit codes: 0 deleted; 2 bad command line; 3 no queue named, or no --yes (nothing deleted); 4 no such message
(nothing deleted); 5 a queue or the stack could not be read, or a message could not be deleted.")]
pub struct DlqPurgeArgs {
    /// Message ids (`ecs-reactor dlq list` shows them).
    #[arg(
        value_name = "MESSAGE_ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,
    /// Every message of the queues (up to 1000 a queue).
    #[arg(long)]
    pub all: bool,
    /// Delete: without it the messages are only listed.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// Jobs as data: a directory of job files applied to the stack (each job's spec to the registry, its
/// schedule to the stack's EventBridge Scheduler group); registered jobs listed, shown, suspended, resumed,
/// run now.
#[derive(Args)]
#[command(after_help = "\
Examples:
  ecs-reactor jobs apply jobs/ --stack ecs-reactor --dry-run
  ecs-reactor jobs apply jobs/ --stack ecs-reactor
  ecs-reactor jobs apply jobs/ --stack ecs-reactor --prune
  ecs-reactor jobs list --stack ecs-reactor
  ecs-reactor jobs show nightly-report --stack ecs-reactor
  ecs-reactor jobs suspend nightly-report --stack ecs-reactor --by alice
  ecs-reactor jobs resume nightly-report --stack ecs-reactor
  ecs-reactor jobs run nightly-report --stack ecs-reactor

A schedule sends the starter only the job's name and the tick; the starter reads the job's spec from the
registry (items in the attempts table), so changing a job file changes no schedule. A run keeps the spec it
started with. Exit codes: 0 done; 2 bad command line; 3 a job file is invalid (every problem, one a line;
nothing written) or no table or group named; 4 no such registered job; 5 AWS could not be asked; 6 a job
changed since the plan was made (apply again).")]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: JobsCommand,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    Apply(JobsApplyArgs),
    List(JobsListArgs),
    Show(JobArgs),
    Suspend(JobControlArgs),
    Resume(JobControlArgs),
    Run(JobRunArgs),
}

/// The stack's schedule group and what its schedules invoke: each from its flag, else its variable, else the
/// stack's output (--stack).
#[derive(Args, Clone)]
pub struct GroupArgs {
    /// The EventBridge Scheduler schedule group. Default: $REACTOR_SCHEDULE_GROUP, else the stack's
    /// ScheduleGroupName output.
    #[arg(long, value_name = "NAME")]
    pub schedule_group: Option<String>,
    /// The starter function every schedule invokes. Default: $REACTOR_STARTER_ARN, else the stack's
    /// StarterFunctionArn output.
    #[arg(long, value_name = "ARN")]
    pub starter_arn: Option<String>,
    /// The role Scheduler invokes the starter with. Default: $REACTOR_SCHEDULER_ROLE_ARN, else the stack's
    /// SchedulerRoleArn output.
    #[arg(long, value_name = "ARN")]
    pub scheduler_role_arn: Option<String>,
    /// The queue Scheduler sends a tick it could not deliver to. Default: $REACTOR_TICK_DLQ_ARN, else the
    /// stack's TickDeadLetterQueueArn output.
    #[arg(long, value_name = "ARN")]
    pub tick_dlq_arn: Option<String>,
    #[command(flatten)]
    pub table: TableArgs,
}

/// Validate every job file of DIR, show the plan (+ create, ~ change, - delete), and apply it.
#[derive(Args)]
pub struct JobsApplyArgs {
    /// The directory of job files (*.json, *.yaml, *.yml), one job per file named after it.
    #[arg(value_name = "DIR")]
    pub dir: String,
    /// Show the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete registered jobs and schedules that have no file (without it they are kept and named).
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub group: GroupArgs,
}

/// The registered jobs: NAME, SCHEDULE, TZ, STATE (MISSED when a tick started no run), LAST RUN, LAST STATUS,
/// NEXT TICK (one Query, then each job's last
/// run).
#[derive(Args)]
pub struct JobsListArgs {
    #[command(flatten)]
    pub table: TableArgs,
}

/// A registered job: its state, who applied and suspended it, its spec (environment values and commands not
/// shown) and its last runs.
#[derive(Args)]
pub struct JobArgs {
    /// The job's name.
    #[arg(value_name = "JOB")]
    pub name: String,
    #[command(flatten)]
    pub table: TableArgs,
}

/// Suspend a job (its schedule disabled, a tick already on its way recorded SKIPPED; an apply keeps it
/// suspended) or resume it.
#[derive(Args)]
pub struct JobControlArgs {
    /// The job's name.
    #[arg(value_name = "JOB")]
    pub name: String,
    /// Your name, recorded with your AWS identity.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub by: Option<String>,
    #[command(flatten)]
    pub group: GroupArgs,
}

/// Start a run of a registered job now, under a run id of its own (never a tick's).
#[derive(Args)]
pub struct JobRunArgs {
    /// The job's name.
    #[arg(value_name = "JOB")]
    pub name: String,
    #[command(flatten)]
    pub act: ActArgs,
}
