//! The pure half of the loop's steps: from what a step loaded to what it writes next.
//!
//! Each step in the shell (`reactor-aws`'s `flow/`) is load → **plan** → apply (one conditional write) → effects
//! → one log line. The planning is here, without AWS types or a clock of its own, so it is table-tested:
//! - [`judgement`]: a verdict becomes the run's decision, under the attempt budget and the run's deadline.
//! - [`after_decision`]: what the store writes in the same transaction as the decision: the run closed (and
//!   whether its outcome is announced), the next attempt claimed, or the retry's due time.
//! - [`deadline_counts_from`]: the moment a run's deadline counts from (its latest redrive, else its start).
//! - [`defers_launch`], [`launch_backoff`]: a launch AWS refused (throttled, a server error) waits and is tried
//!   again without using up an attempt, [`MAX_LAUNCH_DEFERRALS`] times at most.
//! - [`time_to_reconcile`]: whether a quiet RUNNING run's task is asked about (its STOPPED event may be lost).
//!
//! Which status each plan leaves the run in is [`crate::transition`]'s table, not repeated here.

use crate::deadline::run_deadline;
use crate::job::JobRequest;
use crate::judge::{decide, within_run_deadline, Decision, History, Verdict};
use crate::policy::{Action, JitterSource};
use crate::run::RunStatus;

/// How long a claimer holds a launch, and a publisher a run's notification, before another may take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leases {
    pub launch_seconds: i64,
    pub notify_seconds: i64,
}

/// What follows a decision, written with it in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDecision {
    /// SUCCEED or FAIL: the run ends in `status`. With `notify_lease_until` (epoch seconds) the decider takes the
    /// right to publish the outcome in the same write (one write fewer than claiming it afterwards); without,
    /// the job does not announce this status.
    Close {
        status: RunStatus,
        notify_lease_until: Option<i64>,
    },
    /// RETRY_NOW: attempt `attempt` is claimed for launch by the decider until `lease_until`.
    LaunchNow { attempt: u32, lease_until: i64 },
    /// RETRY_LATER: attempt `attempt` falls due at `due_at` (epoch seconds).
    LaunchAt { attempt: u32, due_at: i64 },
}

/// What follows `decision` on attempt `attempt` of a run of `job`, decided at `now` (epoch seconds).
pub fn after_decision(
    decision: &Decision,
    job: &JobRequest,
    attempt: u32,
    now: i64,
    leases: Leases,
) -> AfterDecision {
    let next = decision.next_attempt.unwrap_or(attempt + 1);
    let close = |status| AfterDecision::Close {
        status,
        notify_lease_until: job.announces(status).then_some(now + leases.notify_seconds),
    };
    match decision.action {
        Action::Succeed => close(RunStatus::Succeeded),
        Action::Fail => close(RunStatus::Failed),
        Action::RetryNow => AfterDecision::LaunchNow {
            attempt: next,
            lease_until: now + leases.launch_seconds,
        },
        Action::RetryLater => AfterDecision::LaunchAt {
            attempt: next,
            due_at: now + i64::from(decision.delay_seconds.unwrap_or(0)),
        },
    }
}

/// The run's decision on a verdict: the attempt budget applied (`decide`), then the run's deadline
/// (`runTimeoutSeconds`, counted from `run_started_at`): a retry that could not begin before it is a FAIL.
pub fn judgement(
    verdict: Verdict,
    history: History,
    job: &JobRequest,
    run_started_at: i64,
    now: i64,
    jitter: &mut dyn JitterSource,
) -> Decision {
    let seconds_left = run_deadline(job, run_started_at).map(|d| d.at - now);
    within_run_deadline(decide(verdict, history, &job.retry, jitter), seconds_left)
}

/// Whether the sweep asks ECS about a RUNNING run's task (its STOPPED event may have been lost): nothing changed
/// for `interval` seconds since `last_change`, nor since the attempt's `deadline` if that has passed (the sweep
/// stopped the task then, and its STOPPED event is due in the seconds after).
pub fn time_to_reconcile(last_change: i64, deadline: Option<i64>, now: i64, interval: i64) -> bool {
    let last_sign_of_life = match deadline {
        Some(at) if at <= now => at.max(last_change),
        _ => last_change,
    };
    now - last_sign_of_life >= interval
}

/// The launch rules whose refusal is AWS's, not the task's: RunTask throttled, or ECS answering with a server
/// error. Such a launch is deferred, not judged: the attempt keeps its number and is launched again later,
/// paced, so an outage or a cron storm never uses up a job's attempts nor fails a run.
pub const DEFERRED_LAUNCH_RULES: [&str; 2] = ["launch-throttled", "launch-server-error"];

/// How often one attempt's launch is deferred at most: about 47 minutes of waiting (30 s doubling to 5 min). An
/// AWS-side refusal that outlasts it is judged like any refused launch (RETRY_LATER within `maxAttempts`), so
/// a run never waits in LAUNCHING for good.
pub const MAX_LAUNCH_DEFERRALS: u32 = 12;

/// Whether a launch judged by `rule_id` is deferred instead of decided ([`DEFERRED_LAUNCH_RULES`]).
pub fn defers_launch(rule_id: &str) -> bool {
    DEFERRED_LAUNCH_RULES.contains(&rule_id)
}

/// Seconds until a launch AWS refused `deferrals` times already is tried again: 30 s doubling up to 5 minutes,
/// between half and all of it (jitter spreads a storm's launches instead of bringing them back together).
pub fn launch_backoff(deferrals: u32, jitter: &mut dyn JitterSource) -> i64 {
    let ceiling = (30_i64 << deferrals.min(4)).min(300);
    let fraction = jitter.fraction().clamp(0.0, 1.0);
    ceiling / 2 + (((ceiling / 2) as f64) * fraction).round() as i64
}

/// When a run's deadline counts from: its latest redrive (which grants a fresh deadline), else its start.
pub fn deadline_counts_from(started_at: i64, redriven_at: Option<i64>) -> i64 {
    redriven_at.unwrap_or(started_at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::type_complexity)]
    use super::*;
    use crate::judge::RUN_TIMEOUT_RULE_ID;
    use crate::SplitMix64;

    const LEASES: Leases = Leases {
        launch_seconds: 120,
        notify_seconds: 60,
    };
    const NOW: i64 = 1_800_000_000;

    fn job(extra: &str) -> JobRequest {
        JobRequest::from_json(&format!(
            r#"{{"job":"nightly","runTask":{{"taskDefinition":"etl"}}{extra}}}"#
        ))
        .unwrap()
    }

    fn decision(action: Action, delay: Option<u32>, next: Option<u32>) -> Decision {
        let verdict = Verdict {
            action,
            rule_id: "r".into(),
            rule: "r".into(),
            evidence: String::new(),
            disruption: false,
            hint: None,
            memory: None,
        };
        Decision {
            action,
            rule_id: "r".into(),
            rule: "r".into(),
            reason: String::new(),
            counts_as_attempt: true,
            delay_seconds: delay,
            next_attempt: next,
            verdict,
        }
    }

    #[test]
    #[rustfmt::skip]
    fn what_follows_a_decision() {
        use AfterDecision::*;
        let default_notify = "";
        let quiet = r#","notify":{"on":[]}"#;
        let cases: &[(&str, Action, Option<u32>, Option<u32>, u32, AfterDecision)] = &[
            // job extra     action              delay      next     attempt  what follows
            (default_notify, Action::Succeed,    None,      None,    1, Close { status: RunStatus::Succeeded, notify_lease_until: Some(NOW + 60) }),
            (default_notify, Action::Fail,       None,      None,    3, Close { status: RunStatus::Failed, notify_lease_until: Some(NOW + 60) }),
            (quiet,          Action::Succeed,    None,      None,    1, Close { status: RunStatus::Succeeded, notify_lease_until: None }),
            (quiet,          Action::Fail,       None,      None,    1, Close { status: RunStatus::Failed, notify_lease_until: None }),
            (default_notify, Action::RetryNow,   None,      None,    1, LaunchNow { attempt: 2, lease_until: NOW + 120 }),
            (default_notify, Action::RetryNow,   None,      Some(5), 4, LaunchNow { attempt: 5, lease_until: NOW + 120 }),
            (default_notify, Action::RetryLater, Some(900), None,    2, LaunchAt { attempt: 3, due_at: NOW + 900 }),
            (default_notify, Action::RetryLater, None,      None,    2, LaunchAt { attempt: 3, due_at: NOW }),
        ];
        for (extra, action, delay, next, attempt, want) in cases {
            let got = after_decision(&decision(*action, *delay, *next), &job(extra), *attempt, NOW, LEASES);
            assert_eq!(got, *want, "{action:?} delay {delay:?} next {next:?} attempt {attempt} job{extra}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn a_quiet_run_is_asked_about_once_nothing_happened_for_the_interval() {
        let cases: &[(i64, Option<i64>, bool)] = &[
            // last change (s ago)  deadline (s ago; negative: ahead)  ask ECS
            (599,                   None,                              false),
            (600,                   None,                              true),
            (7200,                  None,                              true),
            (7200,                  Some(-60),                         true),  // a deadline still ahead changes nothing
            (7200,                  Some(30),                          false), // stopped at its deadline just now
            (7200,                  Some(600),                         true),  // …and its event never came
            (100,                   Some(900),                         false), // changed since the deadline
        ];
        for (changed_ago, deadline_ago, ask) in cases {
            let got = time_to_reconcile(NOW - changed_ago, deadline_ago.map(|d| NOW - d), NOW, 600);
            assert_eq!(got, *ask, "changed {changed_ago}s ago, deadline {deadline_ago:?}s ago");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn a_launch_aws_refused_waits_longer_each_time_up_to_five_minutes() {
        struct Fixed(f64);
        impl JitterSource for Fixed {
            fn fraction(&mut self) -> f64 {
                self.0
            }
        }
        let cases: &[(u32, f64, i64)] = &[
            // deferrals so far  jitter  seconds
            (0,                  1.0,    30),
            (0,                  0.0,    15),
            (1,                  1.0,    60),
            (2,                  1.0,    120),
            (3,                  1.0,    240),
            (4,                  1.0,    300),
            (40,                 1.0,    300),
            (40,                 0.0,    150),
        ];
        for (deferrals, jitter, seconds) in cases {
            assert_eq!(launch_backoff(*deferrals, &mut Fixed(*jitter)), *seconds, "{deferrals} deferrals, jitter {jitter}");
        }
        for rule in crate::builtin::LAUNCH_RULES {
            assert_eq!(defers_launch(rule.id), DEFERRED_LAUNCH_RULES.contains(&rule.id), "{}", rule.id);
        }
        assert!(DEFERRED_LAUNCH_RULES.iter().all(|id| crate::builtin::LAUNCH_RULES.iter().any(|r| r.id == *id)), "every deferred rule exists");
    }

    #[test]
    fn the_status_a_plan_leaves_agrees_with_the_transition_table() {
        use crate::transition::RunEvent;
        for action in [
            Action::Succeed,
            Action::Fail,
            Action::RetryNow,
            Action::RetryLater,
        ] {
            let after = after_decision(&decision(action, Some(60), None), &job(""), 1, NOW, LEASES);
            let status = match after {
                AfterDecision::Close { status, .. } => status,
                AfterDecision::LaunchNow { .. } => RunStatus::Launching,
                AfterDecision::LaunchAt { .. } => RunStatus::RetryScheduled,
            };
            assert_eq!(status, RunEvent::Decided(action).to(), "{action:?}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn a_retry_the_run_deadline_leaves_no_time_for_fails() {
        let failed_once = Verdict {
            action: Action::RetryLater,
            rule_id: "exit-code".into(),
            rule: "exit code".into(),
            evidence: "exit 1".into(),
            disruption: false,
            hint: None,
            memory: None,
        };
        let with_deadline = r#","runTimeoutSeconds":3600,"retry":{"maxAttempts":5}"#;
        let no_deadline = r#","retry":{"maxAttempts":5}"#;
        let cases: &[(&str, i64, Option<i64>, Action, &str)] = &[
            // job extra    started (s ago)  redriven (s ago)  action              rule
            (with_deadline, 600,             None,             Action::RetryLater, "exit-code"),
            (with_deadline, 3601,            None,             Action::Fail,       RUN_TIMEOUT_RULE_ID),
            (with_deadline, 3601,            Some(100),        Action::RetryLater, "exit-code"),
            (no_deadline,   999_999,         None,             Action::RetryLater, "exit-code"),
        ];
        for (extra, started_ago, redriven_ago, action, rule) in cases {
            let from = deadline_counts_from(NOW - started_ago, redriven_ago.map(|r| NOW - r));
            let d = judgement(failed_once.clone(), History::FIRST, &job(extra), from, NOW, &mut SplitMix64(7));
            assert_eq!((d.action, d.rule_id.as_str()), (*action, *rule), "job{extra} started {started_ago}s ago, redriven {redriven_ago:?}");
        }
    }
}
