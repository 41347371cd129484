//! The public corpus: real STOPPED situations quoted from AWS documentation, the ECS agent's source and
//! public issues (`tests/corpus/cases.jsonl`, one case a line with its source and the verdict a person would
//! give, and why). The judge runs over all of them as the classifier would (the default policy, the first
//! attempt, the essential containers known from the task definition); the score is printed with the
//! counts per rule and every miss, and the README's judgement section quotes it (kept equal by a test).

use super::*;
use crate::policy::UpperBound;
use serde::Deserialize;
use std::collections::BTreeMap;

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/cases.jsonl"
));
const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    id: String,
    source: String,
    stop_code: Option<String>,
    stopped_reason: Option<String>,
    launch_type: Option<String>,
    containers: Vec<CaseContainer>,
    expected: String,
    why: String,
    clear_cut: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CaseContainer {
    name: String,
    exit_code: Option<i32>,
    reason: Option<String>,
    essential: bool,
}

fn cases() -> Vec<Case> {
    CASES
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("tests/corpus/cases.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

fn task_of(case: &Case) -> Task {
    Task::stopped(
        &format!("arn:aws:ecs:us-east-1:111122223333:task/jobs/{}", case.id),
        case.launch_type.as_deref(),
        case.stop_code.as_deref(),
        case.stopped_reason.as_deref(),
        case.containers
            .iter()
            .map(|c| (c.name.clone(), c.exit_code, c.reason.clone())),
    )
}

/// The containers the case marks essential (the classifier reads them from the task definition).
fn essential_of(case: &Case) -> Vec<String> {
    case.containers
        .iter()
        .filter(|c| c.essential)
        .map(|c| c.name.clone())
        .collect()
}

/// The classifier's decision on a case: the default policy, attempt 1, the essential containers known.
fn decision_on(case: &Case) -> Decision {
    let task = task_of(case);
    let essential = essential_of(case);
    let policy = RetryPolicy::default();
    let verdict = judge_stopped_task(&task, &policy, Some(&essential));
    decide(verdict, History::FIRST, &policy, &mut UpperBound)
}

struct Score {
    right: usize,
    total: usize,
}

impl Score {
    fn percent(&self) -> f64 {
        100.0 * self.right as f64 / self.total.max(1) as f64
    }
}

/// The sentence the README's judgement section carries, from the scores.
fn readme_sentence(clear: &Score, all: &Score) -> String {
    format!(
        "On the public corpus ({} real stops in `tests/corpus/`), the default policy decides {} of {} clear-cut cases as a person would ({:.1} %), and {} of {} in all ({:.1} %).",
        all.total,
        clear.right,
        clear.total,
        clear.percent(),
        all.right,
        all.total,
        all.percent()
    )
}

#[test]
fn the_judge_decides_the_public_corpus_as_a_person_would() {
    let cases = cases();
    let mut ids = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(
            ids.insert(case.id.as_str()),
            "duplicate case id {}",
            case.id
        );
        assert!(
            !case.source.trim().is_empty() && !case.why.trim().is_empty(),
            "{}: source and why are required",
            case.id
        );
        assert!(
            Action::ALL.iter().any(|a| a.as_str() == case.expected),
            "{}: expected {:?} is not an action",
            case.id,
            case.expected
        );
    }
    let (mut clear, mut all) = (Score { right: 0, total: 0 }, Score { right: 0, total: 0 });
    let mut by_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for case in &cases {
        let decision = decision_on(case);
        let essential = essential_of(case);
        let first =
            consider_stopped_task(&task_of(case), &RetryPolicy::default(), Some(&essential))
                .into_iter()
                .find(|c| c.matched)
                .map(|c| c.rule_id);
        assert_eq!(
            first.as_deref(),
            Some(decision.verdict.rule_id.as_str()),
            "{}: explain's first matching rule is the rule that decides",
            case.id
        );
        let right = decision.action.as_str() == case.expected;
        let entry = by_rule.entry(decision.rule_id.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(right);
        all.total += 1;
        all.right += usize::from(right);
        if case.clear_cut {
            clear.total += 1;
            clear.right += usize::from(right);
        }
        if !right {
            misses.push(format!(
                "  {}{}: expected {}, got {} by {} ({})",
                case.id,
                if case.clear_cut {
                    ""
                } else {
                    " (not clear-cut)"
                },
                case.expected,
                decision.action,
                decision.rule_id,
                decision.verdict.evidence
            ));
        }
    }
    println!("{}", readme_sentence(&clear, &all));
    println!("decided by rule (cases, right):");
    for (rule, (n, right)) in &by_rule {
        println!("  {rule:<36} {n:>4} {right:>4}");
    }
    println!("misses:\n{}", misses.join("\n"));

    // Every built-in rule is exercised by real public stops, not only by the table in tests.rs. (Six have one
    // public case so far; tests/corpus/README.md lists them.)
    let unexercised: Vec<&str> = crate::builtin::STOPPED_TASK_RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !by_rule.contains_key(*id))
        .collect();
    assert!(
        unexercised.is_empty(),
        "built-in rules no corpus case reaches: {unexercised:?}"
    );
    assert!(
        clear.percent() >= 95.0,
        "the goal is 95 % of the clear-cut cases; misses:\n{}",
        misses.join("\n")
    );
    assert!(
        README.contains(&readme_sentence(&clear, &all)),
        "README.md must quote the corpus score as this test computes it:\n{}",
        readme_sentence(&clear, &all)
    );
}
