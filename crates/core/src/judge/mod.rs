//! Where a STOPPED task is judged.
//!
//! Two steps, both pure:
//! 1. [`judge_stopped_task`] (or [`judge_launch`] for a RunTask that started nothing) finds the rule that
//!    applies: a clean success first, then the job's rules in order, then the built-in table
//!    ([`crate::builtin`]). The result is a [`Verdict`]: an action, the rule, and the evidence it matched.
//! 2. [`decide`] applies the run's budget to the verdict: free relaunches after disruptions (bounded by
//!    `maxDisruptions`), counted attempts (bounded by `maxAttempts`, then FAIL "attempts exhausted"), and the
//!    backoff delay of a RETRY_LATER, with jitter from an injected source.
//!
//! Success is judged by the essential containers only: a sidecar killed with 137 after the main container
//! exited 0 is not a failure. Which containers are essential is not in the event; the caller passes the
//! job's `essentialContainers` or the task definition's, and without either every container counts.

use crate::builtin::{BuiltinRule, LaunchMatcher, Matcher, LAUNCH_RULES, STOPPED_TASK_RULES};
use crate::deadline::{timed_out, DeadlineKind};
use crate::event::{Container, StopCode, Task};
use crate::glob::Glob;
use crate::memory::{escalate, TaskSize};
use crate::policy::{Action, JitterSource, RetryPolicy, Rule};
use serde::Serialize;

#[cfg(test)]
mod corpus;
mod repeat;
#[cfg(test)]
mod tests;

pub use repeat::{
    failure_signature, normalise, signature_of, stops_when_repeated, with_run_history, PastFailure,
    REPEATED_FAILURE_RULE_ID,
};

/// Id of the rule that recognises a clean success.
pub const SUCCESS_RULE_ID: &str = "essential-containers-exited-0";
/// Id of the budget rule that turns a retry into FAIL.
pub const EXHAUSTED_RULE_ID: &str = "attempts-exhausted";

/// Which rule applies to what happened, before the run's budget is considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub action: Action,
    /// `retry.rules[N]` for a job rule, the built-in id otherwise.
    pub rule_id: String,
    /// The rule in words.
    pub rule: String,
    /// The fact that matched, quoted from the event.
    pub evidence: String,
    /// Capacity taken away: a free relaunch.
    pub disruption: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For a retry after an OutOfMemoryError under `retry.onOutOfMemory`: the size of the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<TaskSize>,
}

/// Where the run stands when this attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// 1-based number of the attempt that ended (every launch is an attempt, free or counted).
    pub attempt: u32,
    /// How many attempts since `counts_from` ended in a disruption and were relaunched for free.
    pub disruptions: u32,
    /// The first attempt that counts against the budget: 1, or the first attempt after the run's latest
    /// redrive (a redriven run gets a fresh budget, as a redriven Step Functions execution does).
    pub counts_from: u32,
}

impl History {
    pub const FIRST: History = History {
        attempt: 1,
        disruptions: 0,
        counts_from: 1,
    };

    /// Counted attempts used, this one included.
    pub fn counted(&self) -> u32 {
        (self.attempt + 1)
            .saturating_sub(self.counts_from.max(1))
            .saturating_sub(self.disruptions)
            .max(1)
    }
}

/// What to do, with everything a person needs to agree with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub action: Action,
    pub rule_id: String,
    pub rule: String,
    /// One sentence: what happened and what follows.
    pub reason: String,
    /// Whether this attempt used up one of `maxAttempts`.
    pub counts_as_attempt: bool,
    /// For RETRY_LATER: seconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    /// For a retry: the number of the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<u32>,
    /// What the rule said before the budget was applied (differs when attempts are exhausted).
    pub verdict: Verdict,
}

/// The essential containers of `task`: those named (when at least one of them is in the task), else all.
pub fn essential_containers<'t>(task: &'t Task, named: Option<&[String]>) -> Vec<&'t Container> {
    let chosen: Vec<&Container> = match named {
        Some(names) => task
            .containers
            .iter()
            .filter(|c| names.contains(&c.name))
            .collect(),
        None => Vec::new(),
    };
    if chosen.is_empty() {
        task.containers.iter().collect()
    } else {
        chosen
    }
}

/// Judges a STOPPED task. `essential` names the essential containers (job or task definition); `None`
/// means every container counts.
pub fn judge_stopped_task(
    task: &Task,
    policy: &RetryPolicy,
    essential: Option<&[String]>,
) -> Verdict {
    let essentials = essential_containers(task, essential);
    // First: a task ecs-reactor stopped at its deadline timed out, even if its containers exited 0 on the
    // SIGTERM (a graceful shutdown is not a finished job).
    if let Some(kind) = timed_out(task) {
        return timeout_verdict(task, kind, policy);
    }
    if let Some(verdict) = clean_success(task, &essentials) {
        return verdict;
    }
    if essential.is_none() {
        if let Some(verdict) = success_beside_unreported_sidecars(task) {
            return verdict;
        }
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        if let Some(evidence) = job_rule_matches(rule, task, &essentials) {
            return Verdict {
                action: rule.action,
                rule_id: format!("retry.rules[{index}]"),
                rule: format!("job rule retry.rules[{index}]: {}", rule.describe()),
                evidence,
                disruption: false,
                hint: None,
                memory: None,
            };
        }
    }
    if let Some(verdict) = vanished_verdict(task) {
        return verdict;
    }
    for rule in STOPPED_TASK_RULES {
        if let Some(evidence) = builtin_matches(rule, task, &essentials) {
            let verdict = builtin_verdict(rule, evidence);
            return match &policy.on_out_of_memory {
                Some(escalation)
                    if verdict.rule_id == OUT_OF_MEMORY_RULE_ID
                        || verdict.rule_id == OUT_OF_MEMORY_AT_START_RULE_ID =>
                {
                    with_more_memory(verdict, task, escalation)
                }
                _ => verdict,
            };
        }
    }
    // Unreachable in practice: the table ends with a rule that matches anything.
    Verdict {
        action: Action::RetryLater,
        rule_id: "unrecognised-stop".into(),
        rule: "the task stopped for a reason ecs-reactor does not recognise".into(),
        evidence: describe_stop(task),
        disruption: false,
        hint: None,
        memory: None,
    }
}

/// One rule the judge looked at, for `explain`'s reasoning: whether it matched, on what, and whether it is
/// a fall-back (it recognises only the error's family, or nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Considered {
    pub rule_id: String,
    pub matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
}

/// Every rule [`judge_stopped_task`] would look at for `task`, in its order, each with whether it matches.
/// The first that matches is the one that decides; the others show what else the event looks like.
pub fn consider_stopped_task(
    task: &Task,
    policy: &RetryPolicy,
    essential: Option<&[String]>,
) -> Vec<Considered> {
    let essentials = essential_containers(task, essential);
    let entry = |rule_id: String, verdict: Option<String>, fallback: bool| Considered {
        rule_id,
        matched: verdict.is_some(),
        evidence: verdict,
        fallback,
    };
    let deadline = timed_out(task).map(|kind| timeout_verdict(task, kind, policy));
    let mut out = vec![entry(
        deadline
            .as_ref()
            .map_or(TIMEOUT_RULE_ID.into(), |v| v.rule_id.clone()),
        deadline.map(|v| v.evidence),
        false,
    )];
    out.push(entry(
        SUCCESS_RULE_ID.into(),
        clean_success(task, &essentials).map(|v| v.evidence),
        false,
    ));
    if essential.is_none() {
        out.push(entry(
            SUCCESS_BESIDE_SIDECARS_RULE_ID.into(),
            success_beside_unreported_sidecars(task).map(|v| v.evidence),
            false,
        ));
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        out.push(entry(
            format!("retry.rules[{index}]"),
            job_rule_matches(rule, task, &essentials),
            false,
        ));
    }
    out.push(entry(
        TASK_VANISHED_RULE_ID.into(),
        vanished_verdict(task).map(|v| v.evidence),
        false,
    ));
    for rule in STOPPED_TASK_RULES {
        out.push(entry(
            rule.id.into(),
            builtin_matches(rule, task, &essentials),
            rule.stops_when_repeated,
        ));
    }
    out
}

/// Id of the built-in rule for a container killed for memory.
pub const OUT_OF_MEMORY_RULE_ID: &str = "out-of-memory";
/// Id of the built-in rule for a container killed for memory while it was being started.
pub const OUT_OF_MEMORY_AT_START_RULE_ID: &str = "out-of-memory-at-start";
/// Id of the verdict for a container that exited 0 beside containers that report no exit code.
pub const SUCCESS_BESIDE_SIDECARS_RULE_ID: &str = "exited-0-beside-unreported-sidecars";
/// Ids of the verdicts for a task ecs-reactor stopped at a deadline.
pub const TIMEOUT_RULE_ID: &str = "timeout";
pub const RUN_TIMEOUT_RULE_ID: &str = "run-timeout";
/// Id of the verdict for a task whose STOPPED event was lost and that ECS no longer knows.
pub const TASK_VANISHED_RULE_ID: &str = "task-vanished";

/// The stop reason the sweep gives a task of ours that ECS no longer knows (DescribeTasks answers it in
/// `failures[]` with reason MISSING: ECS forgets a stopped task after about an hour). How it ended is lost with
/// it; the task stands for itself in the judge with this reason and nothing else.
pub const VANISHED_REASON: &str = "ecs-reactor: ECS no longer knows this task (DescribeTasks: MISSING) and its STOPPED event never arrived";

/// The task ECS forgot, as the judge sees it: stopped, with [`VANISHED_REASON`] and nothing else known.
pub fn vanished_task(task_arn: &str) -> Task {
    Task::stopped(task_arn, None, None, Some(VANISHED_REASON), [])
}

/// A vanished task ([`vanished_task`]): retried later by default, as its end is unknown; after the job's own
/// rules, so a job can decide otherwise (a rule on the reason `*no longer knows this task*`).
fn vanished_verdict(task: &Task) -> Option<Verdict> {
    (task.stopped_reason.as_deref() == Some(VANISHED_REASON)).then(|| Verdict {
        action: Action::RetryLater,
        rule_id: TASK_VANISHED_RULE_ID.into(),
        rule: "the task's STOPPED event was lost and ECS no longer knows the task: how it ended is unknown, so it is retried".into(),
        evidence: VANISHED_REASON.into(),
        disruption: false,
        hint: Some("an ECS event was lost before the classifier: check the classifier's failure queue, the rule's FailedInvocations and the RunsReconciled alarm".into()),
        memory: None,
    })
}

/// Id of the verdict that retries with more memory.
pub const MORE_MEMORY_RULE_ID: &str = "out-of-memory-more-memory";

/// A task the sweep stopped at its deadline: `retry.onTimeout` (FAIL by default) for the attempt's own
/// deadline; always FAIL for the run's.
fn timeout_verdict(task: &Task, kind: DeadlineKind, policy: &RetryPolicy) -> Verdict {
    let evidence = describe_stop(task);
    match kind {
        DeadlineKind::Attempt => Verdict {
            action: policy.on_timeout(),
            rule_id: TIMEOUT_RULE_ID.into(),
            rule: format!(
                "the attempt ran past timeoutSeconds and ecs-reactor stopped it (retry.onTimeout: {})",
                policy.on_timeout()
            ),
            evidence,
            disruption: false,
            hint: Some("find where the task hangs or raise timeoutSeconds".into()),
            memory: None,
        },
        DeadlineKind::Run => Verdict {
            action: Action::Fail,
            rule_id: RUN_TIMEOUT_RULE_ID.into(),
            rule: "the run ran past runTimeoutSeconds and ecs-reactor stopped it; a run past its deadline is not retried".into(),
            evidence,
            disruption: false,
            hint: Some("raise runTimeoutSeconds, or make each attempt shorter (timeoutSeconds)".into()),
            memory: None,
        },
    }
}

/// `retry.onOutOfMemory`: an out-of-memory FAIL becomes a retry with a bigger task, while one exists.
fn with_more_memory(
    verdict: Verdict,
    task: &Task,
    escalation: &crate::memory::MemoryEscalation,
) -> Verdict {
    match escalate(task.size(), task.on_fargate(), escalation) {
        Ok(next) => Verdict {
            action: Action::RetryNow,
            rule_id: MORE_MEMORY_RULE_ID.into(),
            rule: format!(
                "a container ran out of memory; retrying with {next} (retry.onOutOfMemory: ×{}, up to {} MiB)",
                escalation.memory_multiplier, escalation.max_memory_mib
            ),
            hint: Some("the next attempt has more memory; raise the task definition's memory to avoid the failed first try".into()),
            memory: Some(next),
            ..verdict
        },
        Err(why) => Verdict {
            rule: format!("{} ({why})", verdict.rule),
            ..verdict
        },
    }
}

/// Success needs an ordinary stop (an essential container exited, or no stop code at all) and every
/// essential container at exit code 0. A task stopped by Spot or by a user whose containers exit 0 on
/// SIGTERM did not finish its work.
fn clean_success(task: &Task, essentials: &[&Container]) -> Option<Verdict> {
    let ordinary_stop = matches!(
        task.stop_code,
        None | Some(StopCode::EssentialContainerExited)
    );
    let all_zero = !essentials.is_empty() && essentials.iter().all(|c| c.exit_code == Some(0));
    (ordinary_stop && all_zero).then(|| Verdict {
        action: Action::Succeed,
        rule_id: SUCCESS_RULE_ID.into(),
        rule: "every essential container exited 0".into(),
        evidence: format!(
            "{} exited 0",
            essentials
                .iter()
                .map(|c| format!("container {:?}", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        disruption: false,
        hint: None,
        memory: None,
    })
}

/// Which containers are essential is not known (no job or task definition names them), an essential
/// container exited (stopCode EssentialContainerExited), every container with an exit code exited 0 and the
/// others report none: SUCCEED. A container with no exit code never ran to an end of its own; had it been
/// essential and never started, the task would have failed to start instead. So the container that ended
/// the task is one of those that exited 0, and the rest are sidecars stopped with it.
fn success_beside_unreported_sidecars(task: &Task) -> Option<Verdict> {
    let exited: Vec<&Container> = task
        .containers
        .iter()
        .filter(|c| c.exit_code.is_some())
        .collect();
    // A container with no exit code but a reason (CannotInspectContainerError …) did not just stop with the
    // task: something happened to it.
    let unreported_quietly = task
        .containers
        .iter()
        .filter(|c| c.exit_code.is_none())
        .all(|c| c.reason.is_none());
    let decided = task.stop_code == Some(StopCode::EssentialContainerExited)
        && !exited.is_empty()
        && exited.len() < task.containers.len()
        && exited.iter().all(|c| c.exit_code == Some(0))
        && unreported_quietly;
    decided.then(|| Verdict {
        action: Action::Succeed,
        rule_id: SUCCESS_BESIDE_SIDECARS_RULE_ID.into(),
        rule: "an essential container exited 0; the other containers report no exit code (sidecars stopped with the task)".into(),
        evidence: task
            .containers
            .iter()
            .map(describe_container)
            .collect::<Vec<_>>()
            .join("; "),
        disruption: false,
        hint: Some("name the essential containers (job essentialContainers) to have this judged by them alone".into()),
        memory: None,
    })
}

/// A job rule matches when all its conditions hold. Container conditions without `container` look at the
/// essential containers that did not exit 0: for SUCCEED every one of them must match (a rule "exit 3 is
/// fine" must not hide another container's crash), for the other actions one is enough.
fn job_rule_matches(rule: &Rule, task: &Task, essentials: &[&Container]) -> Option<String> {
    let mut evidence = Vec::new();
    if let Some(p) = &rule.on_stop_code {
        let code = task.stop_code.as_ref()?;
        if !p.matches(code.as_str()) {
            return None;
        }
        evidence.push(format!("stopCode {code}"));
    }
    if let Some(p) = &rule.on_status_reason {
        let reason = task.stopped_reason.as_deref()?;
        if !p.matches(reason) {
            return None;
        }
        evidence.push(format!("stoppedReason {reason:?}"));
    }
    if rule.on_exit_code.is_some() || rule.on_reason.is_some() {
        let candidates: Vec<&Container> = match &rule.container {
            Some(name) => task.containers.iter().filter(|c| &c.name == name).collect(),
            None => essentials
                .iter()
                .copied()
                .filter(|c| c.exit_code != Some(0))
                .collect(),
        };
        let fits = |c: &&&Container| {
            rule.on_exit_code.as_ref().is_none_or(|p| {
                c.exit_code
                    .is_some_and(|code| crate::exit_codes::matches(p.as_str(), i64::from(code)))
            }) && rule
                .on_reason
                .as_ref()
                .is_none_or(|p| c.reason.as_deref().is_some_and(|r| p.matches(r)))
        };
        let matched: Vec<&&Container> = candidates.iter().filter(fits).collect();
        let ok = if rule.action == Action::Succeed {
            !candidates.is_empty() && matched.len() == candidates.len()
        } else {
            !matched.is_empty()
        };
        if !ok {
            return None;
        }
        evidence.extend(matched.iter().map(|c| describe_container(c)));
    }
    Some(evidence.join("; "))
}

fn builtin_matches(rule: &BuiltinRule, task: &Task, essentials: &[&Container]) -> Option<String> {
    let by_code = |codes: &[&str]| {
        let code = task.stop_code.as_ref()?;
        codes
            .contains(&code.as_str())
            .then(|| format!("stopCode {code}"))
    };
    let by_reason = |patterns: &[&str]| reason_matches(patterns, task, essentials);
    match rule.matcher {
        Matcher::StopCode(codes) => by_code(codes),
        Matcher::Reason(patterns) => by_reason(patterns),
        Matcher::ReasonOnFargate(patterns) => {
            if task.on_fargate() {
                by_reason(patterns)
            } else {
                None
            }
        }
        Matcher::StopCodeOrReason(codes, patterns) => {
            by_code(codes).or_else(|| by_reason(patterns))
        }
        Matcher::EssentialExitCode(codes) => essentials
            .iter()
            .find(|c| c.exit_code.is_some_and(|code| codes.contains(&code)))
            .map(|c| describe_container(c)),
        Matcher::EssentialExitNonZero => essentials
            .iter()
            .find(|c| c.exit_code.is_some_and(|code| code != 0))
            .map(|c| describe_container(c)),
        Matcher::FailedToStart => {
            (task.stop_code == Some(StopCode::TaskFailedToStart)).then(|| describe_stop(task))
        }
        Matcher::Anything => Some(describe_stop(task)),
    }
}

/// The first reason text (stoppedReason, then each essential container's) matched by any pattern.
fn reason_matches(patterns: &[&str], task: &Task, essentials: &[&Container]) -> Option<String> {
    let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new_ignore_case(p)).collect();
    let hit = |text: &str| globs.iter().any(|g| g.matches(text));
    if let Some(reason) = task.stopped_reason.as_deref().filter(|r| hit(r)) {
        return Some(format!("stoppedReason {reason:?}"));
    }
    essentials
        .iter()
        .find(|c| c.reason.as_deref().is_some_and(hit))
        .map(|c| describe_container(c))
}

fn builtin_verdict(rule: &BuiltinRule, evidence: String) -> Verdict {
    Verdict {
        action: rule.action,
        rule_id: rule.id.into(),
        rule: rule.description.into(),
        evidence,
        disruption: rule.disruption,
        hint: Some(rule.hint.into()),
        memory: None,
    }
}

fn describe_container(c: &Container) -> String {
    let exit = match c.exit_code {
        Some(code) => format!("exited {code}"),
        None => "has no exit code".to_owned(),
    };
    match &c.reason {
        Some(reason) => format!("container {:?} {exit}, reason {reason:?}", c.name),
        None => format!("container {:?} {exit}", c.name),
    }
}

fn describe_stop(task: &Task) -> String {
    let code = task.stop_code.as_ref().map_or("none", |c| c.as_str());
    match &task.stopped_reason {
        Some(reason) => format!("stopCode {code}, stoppedReason {reason:?}"),
        None => format!("stopCode {code}, no stoppedReason"),
    }
}

/// One entry of RunTask's `failures[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LaunchFailure {
    #[serde(default)]
    pub arn: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub detail: Option<String>,
}

/// A RunTask call that started no task.
#[derive(Debug, Clone, Copy)]
pub enum LaunchProblem<'a> {
    /// A 200 response whose `failures[]` explains why no task was started.
    Failures(&'a [LaunchFailure]),
    /// An error response: the error code (`ThrottlingException`) and message.
    ApiError { code: &'a str, message: &'a str },
}

/// Judges a launch that started no task, by the built-in launch table.
pub fn judge_launch(problem: LaunchProblem<'_>) -> Verdict {
    for rule in LAUNCH_RULES {
        if let Some(evidence) = rule
            .matchers
            .iter()
            .find_map(|m| launch_matches(*m, problem))
        {
            return Verdict {
                action: rule.action,
                rule_id: rule.id.into(),
                rule: rule.description.into(),
                evidence,
                disruption: false,
                hint: Some(rule.hint.into()),
                memory: None,
            };
        }
    }
    Verdict {
        action: Action::RetryLater,
        rule_id: "launch-failed".into(),
        rule: "the launch failed for a reason ecs-reactor does not recognise".into(),
        evidence: describe_launch(problem),
        disruption: false,
        hint: None,
        memory: None,
    }
}

fn launch_matches(matcher: LaunchMatcher, problem: LaunchProblem<'_>) -> Option<String> {
    match (matcher, problem) {
        (LaunchMatcher::FailureReason(patterns), LaunchProblem::Failures(failures)) => {
            failures.iter().enumerate().find_map(|(i, f)| {
                patterns
                    .iter()
                    .any(|p| Glob::new_ignore_case(p).matches(&f.reason))
                    .then(|| {
                        let detail = f
                            .detail
                            .as_deref()
                            .map(|d| format!(", detail {d:?}"))
                            .unwrap_or_default();
                        format!("failures[{i}].reason {:?}{detail}", f.reason)
                    })
            })
        }
        (LaunchMatcher::ApiError(codes, messages), LaunchProblem::ApiError { code, message }) => {
            let code_ok = codes.iter().any(|c| Glob::new(c).matches(code));
            let message_ok = messages
                .iter()
                .any(|m| Glob::new_ignore_case(m).matches(message));
            (code_ok && message_ok).then(|| format!("{code}: {message}"))
        }
        (LaunchMatcher::AnyProblem, problem) => Some(describe_launch(problem)),
        _ => None,
    }
}

fn describe_launch(problem: LaunchProblem<'_>) -> String {
    match problem {
        LaunchProblem::Failures([]) => "RunTask started no task and reported no failure".into(),
        LaunchProblem::Failures(failures) => failures
            .iter()
            .map(|f| format!("failure {:?}", f.reason))
            .collect::<Vec<_>>()
            .join(", "),
        LaunchProblem::ApiError { code, message } => format!("{code}: {message}"),
    }
}

/// Applies the run's budget to a verdict: free relaunches, counted attempts, backoff.
pub fn decide(
    verdict: Verdict,
    history: History,
    policy: &RetryPolicy,
    jitter: &mut dyn JitterSource,
) -> Decision {
    let counted = history.counted();
    let max = policy.max_attempts;
    match verdict.action {
        Action::Succeed => final_decision(verdict, format!("attempt {} succeeded", history.attempt)),
        Action::Fail => final_decision(verdict, format!("attempt {} failed; not retried", history.attempt)),
        Action::RetryNow if verdict.disruption && history.disruptions < policy.max_disruptions => Decision {
            action: Action::RetryNow,
            rule_id: verdict.rule_id.clone(),
            rule: verdict.rule.clone(),
            reason: format!(
                "capacity was taken away; relaunching now without counting an attempt ({} of {} free relaunches used)",
                history.disruptions + 1,
                policy.max_disruptions
            ),
            counts_as_attempt: false,
            delay_seconds: None,
            next_attempt: Some(history.attempt + 1),
            verdict,
        },
        Action::RetryNow | Action::RetryLater if counted >= max => {
            let after_disruptions = if verdict.disruption {
                format!(", {} free relaunches after disruptions used too", history.disruptions)
            } else {
                String::new()
            };
            Decision {
                action: Action::Fail,
                rule_id: EXHAUSTED_RULE_ID.into(),
                rule: format!("attempts exhausted: {counted} of {max} used (the last: {})", verdict.rule),
                reason: format!(
                    "attempt {} would have been retried ({}), but the run has used all {max} attempts{after_disruptions}",
                    history.attempt,
                    verdict.action
                ),
                counts_as_attempt: true,
                delay_seconds: None,
                next_attempt: None,
                verdict,
            }
        }
        Action::RetryNow => {
            let over = if verdict.disruption {
                format!("; the {} free relaunches after disruptions are used up, so this one counts", policy.max_disruptions)
            } else {
                String::new()
            };
            Decision {
                action: Action::RetryNow,
                rule_id: verdict.rule_id.clone(),
                rule: verdict.rule.clone(),
                reason: format!("retrying now: attempt {counted} of {max} used{over}"),
                counts_as_attempt: true,
                delay_seconds: None,
                next_attempt: Some(history.attempt + 1),
                verdict,
            }
        }
        Action::RetryLater => {
            let delay = policy.delay_seconds(counted, jitter.fraction());
            Decision {
                action: Action::RetryLater,
                rule_id: verdict.rule_id.clone(),
                rule: verdict.rule.clone(),
                reason: format!("retrying in {delay} s: attempt {counted} of {max} used"),
                counts_as_attempt: true,
                delay_seconds: Some(delay),
                next_attempt: Some(history.attempt + 1),
                verdict,
            }
        }
    }
}

fn final_decision(verdict: Verdict, reason: String) -> Decision {
    Decision {
        action: verdict.action,
        rule_id: verdict.rule_id.clone(),
        rule: verdict.rule.clone(),
        reason,
        counts_as_attempt: !verdict.disruption,
        delay_seconds: None,
        next_attempt: None,
        verdict,
    }
}

/// `runTimeoutSeconds`: a retry that could not start before the run's deadline becomes FAIL, as in AWS
/// Batch. `seconds_left` is the time from the decision to the deadline (`None`: the job has no run deadline).
pub fn within_run_deadline(decision: Decision, seconds_left: Option<i64>) -> Decision {
    let Some(left) = seconds_left else {
        return decision;
    };
    if !decision.action.is_retry() || i64::from(decision.delay_seconds.unwrap_or(0)) < left {
        return decision;
    }
    Decision {
        action: Action::Fail,
        rule_id: RUN_TIMEOUT_RULE_ID.into(),
        rule: format!(
            "the run's deadline (runTimeoutSeconds) leaves no time for another attempt (the last: {})",
            decision.rule
        ),
        reason: format!(
            "would have been retried ({}), but the run's deadline {}",
            decision.action,
            if left <= 0 {
                "has passed".to_owned()
            } else {
                format!("is {left} s away")
            }
        ),
        counts_as_attempt: decision.counts_as_attempt,
        delay_seconds: None,
        next_attempt: None,
        verdict: decision.verdict,
    }
}

/// The verdict on an attempt whose launch came after the run's deadline (a retry fired late): not launched.
pub fn run_deadline_passed(limit_seconds: u32) -> Verdict {
    Verdict {
        action: Action::Fail,
        rule_id: RUN_TIMEOUT_RULE_ID.into(),
        rule: "the run's deadline passed before this attempt could start; a run past its deadline is not retried".into(),
        evidence: format!("runTimeoutSeconds {limit_seconds} exceeded"),
        disruption: false,
        hint: Some("raise runTimeoutSeconds, or shorten the retry delays".into()),
        memory: None,
    }
}
