//! `ecs-reactor jobs`: jobs as data. The job files of a directory are applied to the stack: each job's spec
//! to the registry (items in the attempts table, `JOBS` / `<job>`, read by the starter at every tick) and
//! each scheduled job's EventBridge Scheduler schedule to the stack's schedule group, whose input is only the
//! job's name and the tick. A spec changes without touching its schedule; 500 jobs add nothing to the stack.
//!
//! - [`apply`](jobs/apply.rs): validate every file, plan (+ create, ~ change, − delete, = same), apply.
//! - [`plan`](jobs/plan.rs): the plan, pure and table-tested.
//! - [`schedules`](jobs/schedules.rs): the schedule group (list, create or update, delete).
//! - [`registered`](jobs/registered.rs): `list`, `show`, `suspend`, `resume` and `run` on registered jobs.

mod apply;
mod plan;
mod registered;
mod schedules;

use crate::args::{GroupArgs, JobsArgs, JobsCommand};
use crate::aws::{given, locate_table, stack_outputs, StackOutputs};
use crate::failure::Failure;
use reactor_aws::records::JobItem;
use schedules::Group;
use time::OffsetDateTime;

pub fn run(args: &JobsArgs, now: OffsetDateTime) -> Result<String, Failure> {
    match &args.command {
        JobsCommand::Apply(a) => apply::run(a, now),
        JobsCommand::List(a) => registered::list(a, now),
        JobsCommand::Show(a) => registered::show(a, now),
        JobsCommand::Suspend(a) => registered::suspend(a, true, now),
        JobsCommand::Resume(a) => registered::suspend(a, false, now),
        JobsCommand::Run(a) => registered::run_now(a, now),
    }
}

/// The stack outputs naming the schedule group and what its schedules invoke (template.yml's Outputs), with
/// the flag and variable that give each instead.
const GROUP_OUTPUTS: [(&str, &str, &str); 4] = [
    (
        "ScheduleGroupName",
        "--schedule-group",
        "REACTOR_SCHEDULE_GROUP",
    ),
    ("StarterFunctionArn", "--starter-arn", "REACTOR_STARTER_ARN"),
    (
        "SchedulerRoleArn",
        "--scheduler-role-arn",
        "REACTOR_SCHEDULER_ROLE_ARN",
    ),
    (
        "TickDeadLetterQueueArn",
        "--tick-dlq-arn",
        "REACTOR_TICK_DLQ_ARN",
    ),
];

/// The SDK configuration, the table and the schedule group: each given by its flag, else its variable,
/// else the stack's output (one DescribeStacks call, only when something was not given).
async fn locate_group(args: &GroupArgs) -> Result<(aws_config::SdkConfig, String, Group), Failure> {
    let flags = [
        args.schedule_group.as_deref(),
        args.starter_arn.as_deref(),
        args.scheduler_role_arn.as_deref(),
        args.tick_dlq_arn.as_deref(),
    ];
    let mut values: Vec<Option<String>> = GROUP_OUTPUTS
        .iter()
        .zip(flags)
        .map(|((_, _, var), flag)| given(flag, var).map(|(v, _)| v))
        .collect();
    let stack = given(args.table.stack.as_deref(), "REACTOR_STACK").map(|(name, _)| name);
    if values.iter().any(Option::is_none) && stack.is_none() {
        let missing: Vec<String> = GROUP_OUTPUTS
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|((_, flag, var), _)| format!("{flag} / {var}"))
            .collect();
        return Err(Failure::BadInput(format!(
            "no schedule group: give --stack NAME (or set REACTOR_STACK), or {}",
            missing.join(", ")
        )));
    }
    let (sdk, table) = locate_table(&args.table, None).await?;
    if let (Some(stack), true) = (stack, values.iter().any(Option::is_none)) {
        let outputs: StackOutputs = stack_outputs(&sdk, &stack).await?;
        for ((output, flag, var), value) in GROUP_OUTPUTS.iter().zip(values.iter_mut()) {
            if value.is_none() {
                *value = Some(outputs.value(output, &format!("{flag} or set {var}"))?);
            }
        }
    }
    let mut values = values.into_iter().map(Option::unwrap_or_default);
    let mut next = || values.next().unwrap_or_default();
    let group = Group {
        name: next(),
        starter_arn: next(),
        role_arn: next(),
        dead_letter_arn: next(),
    };
    Ok((sdk, table, group))
}

/// A registered job's spec as JSON; a spec this release cannot read is named.
fn spec_of(item: &JobItem) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(&item.spec).map_err(|e| {
        Failure::Aws(format!(
            "job {:?}: the registry holds a spec that is not JSON ({}); apply its file again",
            item.job,
            e.classify_name()
        ))
    })
}

/// The name of a serde_json error's category, never its text (which may quote a value).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}
