//! History-aware verdicts: a fall-back verdict (the outer error's transient class, or no recognised reason
//! at all) that repeats word for word on consecutive attempts of a run stops retrying early.
//!
//! Why: a transient cause (a network blip, a runtime hiccup) rarely produces the same message twice; the
//! same message twice in a row, ids and numbers aside, is almost always a deterministic cause the table does
//! not know yet (an image the runtime cannot use, a configuration it rejects). Retrying it until
//! `maxAttempts` costs the whole backoff and tells on-call nothing new.
//!
//! The judge stays pure: the previous attempts' facts ([`PastFailure`]) are an input, read by the caller
//! from the run's attempt items.

use super::Verdict;
use crate::builtin::STOPPED_TASK_RULES;
use crate::event::Task;
use crate::policy::Action;

/// Id of the rule that stops a run whose fall-back failure repeats.
pub const REPEATED_FAILURE_RULE_ID: &str = "repeated-failure";

/// What an earlier attempt of the run ended with, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastFailure {
    /// Its 1-based attempt number.
    pub attempt: u32,
    /// The rule of its verdict (`network-timeout`), as recorded on the attempt.
    pub rule_id: String,
    /// Its [`failure_signature`].
    pub signature: String,
}

/// Whether a repeat of this rule's verdict means the cause is not transient: true for the fall-back
/// rules (a family recognised only by its outer error, or nothing recognised at all).
pub fn stops_when_repeated(rule_id: &str) -> bool {
    STOPPED_TASK_RULES
        .iter()
        .any(|r| r.id == rule_id && r.stops_when_repeated)
}

/// The text of a failure with what differs between two occurrences of the same cause taken out: every
/// word holding a digit (ids, digests, addresses, ports, times, counts) becomes `#`, case is folded and
/// runs of white space become one space.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.bytes().any(|b| b.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(&word.to_ascii_lowercase());
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        if c.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.trim_end().to_owned()
}

/// What identifies a failure across attempts: the stop code, and the normalised stoppedReason and
/// container reasons (containers in name order). Exit codes are left out: the rules that stop when
/// repeated are recognised by reasons, not codes.
pub fn failure_signature<'a>(
    stop_code: Option<&str>,
    stopped_reason: Option<&str>,
    containers: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    let mut parts = vec![
        stop_code.unwrap_or("-").to_owned(),
        stopped_reason.map(normalise).unwrap_or_default(),
    ];
    let mut reasons: Vec<(&str, String)> = containers
        .into_iter()
        .filter_map(|(name, reason)| reason.map(|r| (name, normalise(r))))
        .collect();
    reasons.sort();
    parts.extend(reasons.into_iter().map(|(name, r)| format!("{name}: {r}")));
    parts.join(" | ")
}

/// [`failure_signature`] of a stopped task.
pub fn signature_of(task: &Task) -> String {
    failure_signature(
        task.stop_code.as_ref().map(|c| c.as_str()),
        task.stopped_reason.as_deref(),
        task.containers
            .iter()
            .map(|c| (c.name.as_str(), c.reason.as_deref())),
    )
}

/// Turns a retry into FAIL (`repeated-failure`) when this attempt's fall-back verdict and signature are
/// those of the `limit - 1` attempts right before it (`past`, any order; only attempts from `counts_from`
/// on, the run's latest redrive, count). `limit` 0 turns the rule off.
pub fn with_run_history(
    verdict: Verdict,
    attempt: u32,
    signature: &str,
    past: &[PastFailure],
    limit: u32,
) -> Verdict {
    if limit < 2 || !verdict.action.is_retry() || !stops_when_repeated(&verdict.rule_id) {
        return verdict;
    }
    let streak = (1..limit).all(|back| {
        attempt.checked_sub(back).is_some_and(|n| {
            past.iter()
                .any(|p| p.attempt == n && p.rule_id == verdict.rule_id && p.signature == signature)
        })
    });
    if !streak {
        return verdict;
    }
    let first = attempt + 1 - limit;
    Verdict {
        action: Action::Fail,
        rule_id: REPEATED_FAILURE_RULE_ID.into(),
        rule: format!(
            "the same failure ended {limit} attempts in a row ({}: {}); a transient cause rarely repeats word for word, so it is not retried (retry.sameFailureLimit {limit})",
            verdict.rule_id, verdict.rule
        ),
        evidence: format!(
            "{}; the same reason, ids and numbers aside, as attempt{} {}",
            verdict.evidence,
            if limit > 2 { "s" } else { "" },
            (first..attempt)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        disruption: false,
        memory: None,
        ..verdict
    }
}

#[cfg(test)]
mod tests {
    // Tables of cases read best as tuples.
    #![allow(clippy::type_complexity)]

    use super::*;

    #[test]
    fn normalise_folds_what_differs_between_occurrences() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("dial tcp 10.0.1.23:443: i/o timeout",                  "dial tcp #.#.#.#:#: i/o timeout"),
            ("dial tcp 52.94.8.1:443: i/o timeout",                  "dial tcp #.#.#.#:#: i/o timeout"),
            ("pull image manifest has been retried 5 time(s)",       "pull image manifest has been retried # time(s)"),
            ("sha256:2bb501e6429 Too   Many\tRequests",              "#:# too many requests"),
            ("task/jobs/a1f0c0de00000000000000000000004d",           "task/jobs/#"),
            ("CannotPullContainerError: ref pull has been retried",  "cannotpullcontainererror: ref pull has been retried"),
            ("  ",                                                   ""),
        ];
        for (text, want) in cases {
            assert_eq!(normalise(text), *want, "{text:?}");
        }
    }

    #[test]
    fn signatures_differ_only_where_the_cause_differs() {
        let sig = |reason: &str| {
            failure_signature(Some("TaskFailedToStart"), Some(reason), [("app", None)])
        };
        #[rustfmt::skip]
        let cases: &[(&str, &str, bool)] = &[
            // Identical.
            ("CannotPullContainerError: dial tcp 10.0.1.23:443: i/o timeout", "CannotPullContainerError: dial tcp 10.0.1.23:443: i/o timeout", true),
            // Only ids, addresses, digests and timestamps differ.
            ("CannotPullContainerError: dial tcp 10.0.1.23:443: i/o timeout", "CannotPullContainerError: dial tcp 10.0.7.201:443: i/o timeout", true),
            ("ResourceInitializationError: unable to pull secrets: 2026-11-21T02:30:01Z req 7f1e", "ResourceInitializationError: unable to pull secrets: 2026-11-22T04:10:59Z req 9a02", true),
            ("CannotPullContainerError: failed to copy: sha256:aa11 unexpected EOF", "CannotPullContainerError: failed to copy: sha256:bb22 unexpected EOF", true),
            // A different cause.
            ("CannotPullContainerError: dial tcp 10.0.1.23:443: i/o timeout", "CannotPullContainerError: connection reset by peer", false),
            ("ResourceInitializationError: unable to pull secrets", "ResourceInitializationError: failed to validate logger args", false),
        ];
        for (a, b, same) in cases {
            assert_eq!(sig(a) == sig(b), *same, "{a:?} vs {b:?}");
        }
        assert_ne!(
            failure_signature(Some("TaskFailedToStart"), Some("x"), [("app", Some("a"))]),
            failure_signature(Some("TaskFailedToStart"), Some("x"), [("app", Some("b"))]),
            "container reasons are part of it"
        );
        assert_eq!(
            failure_signature(None, None, [("b", Some("2")), ("a", Some("1"))]),
            failure_signature(None, None, [("a", Some("1")), ("b", Some("2"))]),
            "containers in name order"
        );
    }

    fn verdict(rule_id: &str, action: Action) -> Verdict {
        Verdict {
            action,
            rule_id: rule_id.into(),
            rule: "a network call during start-up timed out".into(),
            evidence: "stoppedReason \"i/o timeout\"".into(),
            disruption: false,
            hint: Some("check the route".into()),
            memory: None,
        }
    }

    fn past(attempt: u32, rule_id: &str, signature: &str) -> PastFailure {
        PastFailure {
            attempt,
            rule_id: rule_id.into(),
            signature: signature.into(),
        }
    }

    #[test]
    fn a_fall_back_failure_repeated_stops_retrying() {
        use Action::*;
        const S: &str = "sig";
        #[rustfmt::skip]
        let cases: &[(&str, Action, u32, &[PastFailure], u32, Action, &str)] = &[
            // rule,                 action,      attempt, past,                                        limit, => action, rule
            ("network-timeout",      RetryLater,  2, &[past(1, "network-timeout", S)],                   2, Fail,       REPEATED_FAILURE_RULE_ID),
            ("unrecognised-stop",    RetryLater,  2, &[past(1, "unrecognised-stop", S)],                 2, Fail,       REPEATED_FAILURE_RULE_ID),
            ("image-pull-failed",    RetryLater,  3, &[past(2, "image-pull-failed", S), past(1, "image-pull-failed", S)], 3, Fail, REPEATED_FAILURE_RULE_ID),
            // The first failure: nothing to compare with.
            ("network-timeout",      RetryLater,  1, &[],                                                2, RetryLater, "network-timeout"),
            // Another reason, another rule, or not the attempt right before.
            ("network-timeout",      RetryLater,  2, &[past(1, "network-timeout", "other")],             2, RetryLater, "network-timeout"),
            ("network-timeout",      RetryLater,  2, &[past(1, "image-pull-failed", S)],                 2, RetryLater, "network-timeout"),
            ("network-timeout",      RetryLater,  3, &[past(1, "network-timeout", S)],                   2, RetryLater, "network-timeout"),
            // A streak shorter than the limit.
            ("image-pull-failed",    RetryLater,  3, &[past(2, "image-pull-failed", S), past(1, "image-pull-failed", "x")], 3, RetryLater, "image-pull-failed"),
            // Off.
            ("network-timeout",      RetryLater,  2, &[past(1, "network-timeout", S)],                   0, RetryLater, "network-timeout"),
            // Specific rules keep their own judgement: a rate limit repeats word for word and is still transient.
            ("image-pull-rate-limited", RetryLater, 2, &[past(1, "image-pull-rate-limited", S)],         2, RetryLater, "image-pull-rate-limited"),
            ("application-exit-nonzero", RetryLater, 2, &[past(1, "application-exit-nonzero", S)],       2, RetryLater, "application-exit-nonzero"),
            // Not a retry: nothing to stop.
            ("network-timeout",      Fail,        2, &[past(1, "network-timeout", S)],                   2, Fail,       "network-timeout"),
        ];
        for (rule, action, attempt, earlier, limit, want_action, want_rule) in cases {
            let got = with_run_history(verdict(rule, *action), *attempt, S, earlier, *limit);
            assert_eq!(
                (got.action, got.rule_id.as_str()),
                (*want_action, *want_rule),
                "{rule} attempt {attempt} limit {limit}"
            );
        }
    }

    #[test]
    fn the_repeated_failure_verdict_names_the_rule_and_the_attempts() {
        let got = with_run_history(
            verdict("network-timeout", Action::RetryLater),
            4,
            "s",
            &[
                past(3, "network-timeout", "s"),
                past(2, "network-timeout", "s"),
            ],
            3,
        );
        assert!(
            got.rule.contains("network-timeout") && got.rule.contains("3 attempts in a row"),
            "{}",
            got.rule
        );
        assert!(
            got.evidence.ends_with("as attempts 2, 3"),
            "{}",
            got.evidence
        );
        assert_eq!(
            got.hint.as_deref(),
            Some("check the route"),
            "the fall-back rule's hint is kept"
        );
    }
}
