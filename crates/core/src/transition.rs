//! The run's life as one table: which event may move a run from which status, and to which.
//!
//! Every state change of a run is one conditional write; the AWS adapter derives the status part of each
//! write's condition from [`RunEvent::from`], so the rules the store enforces and the rules written here
//! cannot drift apart. Creating a run (LAUNCHING, or SKIPPED under `concurrency: FORBID`) has no "from": its
//! condition is that no run of that id exists yet.

use crate::policy::Action;
use crate::run::RunStatus;

/// What moves a run that exists, always on its current attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// The attempt's task was started (or adopted) and recorded.
    TaskRecorded,
    /// A decision on the current attempt was applied: a stopped task judged, or a refused launch.
    Decided(Action),
    /// A delayed retry fell due and was claimed (by TTL or the sweep).
    RetryFired,
    /// On-call cancelled the run, or a REPLACE run replaced it.
    Cancelled,
    /// On-call redrove a run that had ended without success.
    Redriven,
}

use RunStatus::*;

impl RunEvent {
    pub const ALL: [RunEvent; 8] = [
        RunEvent::TaskRecorded,
        RunEvent::Decided(Action::Succeed),
        RunEvent::Decided(Action::RetryNow),
        RunEvent::Decided(Action::RetryLater),
        RunEvent::Decided(Action::Fail),
        RunEvent::RetryFired,
        RunEvent::Cancelled,
        RunEvent::Redriven,
    ];

    /// The statuses a run may be in for the event to apply.
    pub fn from(self) -> &'static [RunStatus] {
        match self {
            RunEvent::TaskRecorded => &[Launching],
            // LAUNCHING too: a task can stop before its launch was recorded (or after a crash recording it).
            RunEvent::Decided(_) => &[Launching, Running],
            RunEvent::RetryFired => &[RetryScheduled],
            RunEvent::Cancelled => &[Launching, Running, RetryScheduled],
            RunEvent::Redriven => &[Failed, Cancelled],
        }
    }

    /// The status the event leaves the run in.
    pub fn to(self) -> RunStatus {
        match self {
            RunEvent::TaskRecorded => Running,
            RunEvent::Decided(Action::Succeed) => Succeeded,
            RunEvent::Decided(Action::Fail) => Failed,
            RunEvent::Decided(Action::RetryNow) => Launching,
            RunEvent::Decided(Action::RetryLater) => RetryScheduled,
            RunEvent::RetryFired => Launching,
            RunEvent::Cancelled => Cancelled,
            RunEvent::Redriven => Launching,
        }
    }
}

/// Where `event` moves a run in status `from`; `None` if it may not.
pub fn transition(from: RunStatus, event: RunEvent) -> Option<RunStatus> {
    event.from().contains(&from).then(|| event.to())
}

/// Where an attempt stands. It is decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptState {
    /// Claimed by a conditional write; RunTask not yet confirmed.
    Claimed,
    /// The task is known.
    Launched,
    /// Judged: the decision is recorded.
    Decided,
}

impl AttemptState {
    pub const ALL: [AttemptState; 3] = [
        AttemptState::Claimed,
        AttemptState::Launched,
        AttemptState::Decided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Claimed => "CLAIMED",
            AttemptState::Launched => "LAUNCHED",
            AttemptState::Decided => "DECIDED",
        }
    }
}

/// What moves an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEvent {
    /// Its task was started (or adopted) and recorded.
    TaskRecorded,
    /// Its stop (or its refused launch) was judged.
    Decided,
    /// An interrupted launch is taken over by another invocation (the launch lease): it stays CLAIMED.
    LaunchTakenOver,
    /// AWS refused the launch for reasons of its own (throttled, a server error): it stays CLAIMED, its lease
    /// pushed out to when it is tried again.
    LaunchDeferred,
}

impl AttemptEvent {
    pub const ALL: [AttemptEvent; 4] = [
        AttemptEvent::TaskRecorded,
        AttemptEvent::Decided,
        AttemptEvent::LaunchTakenOver,
        AttemptEvent::LaunchDeferred,
    ];

    /// The states the attempt may be in for the event to apply.
    pub fn from(self) -> &'static [AttemptState] {
        match self {
            AttemptEvent::TaskRecorded
            | AttemptEvent::LaunchTakenOver
            | AttemptEvent::LaunchDeferred => &[AttemptState::Claimed],
            // CLAIMED too: a task can stop (or a launch be refused) before the task was recorded.
            AttemptEvent::Decided => &[AttemptState::Claimed, AttemptState::Launched],
        }
    }

    pub fn to(self) -> AttemptState {
        match self {
            AttemptEvent::TaskRecorded => AttemptState::Launched,
            AttemptEvent::Decided => AttemptState::Decided,
            AttemptEvent::LaunchTakenOver | AttemptEvent::LaunchDeferred => AttemptState::Claimed,
        }
    }
}

/// Where `event` moves an attempt in state `from`; `None` if it may not.
pub fn attempt_transition(from: AttemptState, event: AttemptEvent) -> Option<AttemptState> {
    event.from().contains(&from).then(|| event.to())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Action::*;

    /// Every allowed move, one line each; every pair not listed is refused.
    #[rustfmt::skip]
    const ALLOWED: &[(RunStatus, RunEvent, RunStatus)] = &[
        // from,           event,                             to
        (Launching,      RunEvent::TaskRecorded,             Running),
        (Launching,      RunEvent::Decided(Succeed),         Succeeded),
        (Running,        RunEvent::Decided(Succeed),         Succeeded),
        (Launching,      RunEvent::Decided(Fail),            Failed),
        (Running,        RunEvent::Decided(Fail),            Failed),
        (Launching,      RunEvent::Decided(RetryNow),        Launching),
        (Running,        RunEvent::Decided(RetryNow),        Launching),
        (Launching,      RunEvent::Decided(RetryLater),      RetryScheduled),
        (Running,        RunEvent::Decided(RetryLater),      RetryScheduled),
        (RetryScheduled, RunEvent::RetryFired,               Launching),
        (Launching,      RunEvent::Cancelled,                Cancelled),
        (Running,        RunEvent::Cancelled,                Cancelled),
        (RetryScheduled, RunEvent::Cancelled,                Cancelled),
        (Failed,         RunEvent::Redriven,                 Launching),
        (Cancelled,      RunEvent::Redriven,                 Launching),
    ];

    #[test]
    fn the_transition_table() {
        for from in RunStatus::ALL {
            for event in RunEvent::ALL {
                let want = ALLOWED
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(transition(from, event), want, "{from} on {event:?}");
            }
        }
    }

    #[test]
    fn the_status_helpers_agree_with_the_table() {
        for status in RunStatus::ALL {
            // Terminal: nothing but a redrive moves it.
            let moves: Vec<RunEvent> = RunEvent::ALL
                .into_iter()
                .filter(|e| transition(status, *e).is_some())
                .collect();
            assert_eq!(
                status.is_terminal(),
                moves.iter().all(|e| *e == RunEvent::Redriven),
                "{status}: {moves:?}"
            );
            assert_eq!(
                status.accepts_stop(),
                transition(status, RunEvent::Decided(Succeed)).is_some(),
                "{status}"
            );
        }
    }

    #[rustfmt::skip]
    const ATTEMPT_ALLOWED: &[(AttemptState, AttemptEvent, AttemptState)] = &[
        (AttemptState::Claimed,  AttemptEvent::TaskRecorded,    AttemptState::Launched),
        (AttemptState::Claimed,  AttemptEvent::Decided,         AttemptState::Decided),
        (AttemptState::Launched, AttemptEvent::Decided,         AttemptState::Decided),
        (AttemptState::Claimed,  AttemptEvent::LaunchTakenOver, AttemptState::Claimed),
        (AttemptState::Claimed,  AttemptEvent::LaunchDeferred,  AttemptState::Claimed),
    ];

    #[test]
    fn the_attempt_transition_table() {
        for from in AttemptState::ALL {
            for event in AttemptEvent::ALL {
                let want = ATTEMPT_ALLOWED
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    attempt_transition(from, event),
                    want,
                    "{from:?} on {event:?}"
                );
            }
        }
        // Decided once: nothing moves a decided attempt.
        assert!(AttemptEvent::ALL
            .iter()
            .all(|e| attempt_transition(AttemptState::Decided, *e).is_none()));
        for state in AttemptState::ALL {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()), "as stored");
        }
    }
}
