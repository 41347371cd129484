//! Parsing never panics: arbitrary JSON, and the sample events and job with random subtrees replaced,
//! go through every parser and, when they parse, through the judge. Each input ends in a value or a clear
//! error; nothing else is acceptable.

use crate::event::task_state_change_from_value;
use crate::job::{retry_policy_from_value, JobRequest};
use crate::judge::{
    decide, judge_launch, judge_stopped_task, History, LaunchFailure, LaunchProblem,
};
use crate::policy::{RetryPolicy, SplitMix64};
use proptest::prelude::*;
use serde_json::Value;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        // Words the parsers look for, so that random documents get past the first checks.
        prop::sample::select(vec![
            "aws.ecs",
            "ECS Task State Change",
            "STOPPED",
            "RETRY_LATER",
            "FULL",
            "FARGATE",
            "*",
            "2"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "source",
                    "detail-type",
                    "detail",
                    "taskArn",
                    "lastStatus",
                    "version",
                    "containers",
                    "name",
                    "exitCode",
                    "reason",
                    "stopCode",
                    "stoppedReason",
                    "job",
                    "runTask",
                    "retry",
                    "taskDefinition",
                    "rules",
                    "action",
                    "onExitCode",
                    "maxAttempts",
                    "backoffRate",
                    "x",
                ])
                .prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn samples() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    out.sort_by_key(|v| v.to_string());
    assert!(out.len() >= 10, "expected the sample events in {dir}");
    out
}

/// Replaces the subtree reached by following `path` (indices taken modulo each level's size).
fn replace_at(value: &mut Value, path: &[usize], replacement: Value) {
    let Some((&first, rest)) = path.split_first() else {
        *value = replacement;
        return;
    };
    let child = match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(first % map.len()).cloned().unwrap();
            map.get_mut(&key)
        }
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            items.get_mut(first % n)
        }
        _ => None,
    };
    match child {
        Some(child) => replace_at(child, rest, replacement),
        None => *value = replacement,
    }
}

/// Everything a handler would do with the value; must not panic.
fn exercise(value: Value, seed: u64) {
    if let Ok(job) = JobRequest::from_value(value.clone()) {
        let again = serde_json::to_value(&job).unwrap();
        assert_eq!(
            JobRequest::from_value(again).unwrap(),
            job,
            "a valid job survives its own round trip"
        );
    }
    let _ = retry_policy_from_value(value.clone());
    if let Ok(failures) = serde_json::from_value::<Vec<LaunchFailure>>(value.clone()) {
        let _ = judge_launch(LaunchProblem::Failures(&failures));
    }
    if let Ok(event) = task_state_change_from_value(value) {
        let policy = RetryPolicy::default();
        let verdict = judge_stopped_task(&event.detail, &policy, Some(&["app".to_owned()]));
        let attempt = (seed % 7) as u32 + 1;
        let history = History {
            attempt,
            disruptions: (seed % 3) as u32 % attempt,
            counts_from: 1,
        };
        let decision = decide(verdict, history, &policy, &mut SplitMix64(seed));
        assert!(decision.delay_seconds.unwrap_or(0) <= policy.max_delay_seconds);
    }
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json(), seed: u64) {
        exercise(value, seed);
    }

    #[test]
    fn mutated_samples_never_panic(index: usize, path in prop::collection::vec(any::<usize>(), 0..6), replacement in arbitrary_json(), seed: u64) {
        let samples = samples();
        let mut value = samples[index % samples.len()].clone();
        replace_at(&mut value, &path, replacement);
        exercise(value, seed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = crate::event::parse_task_state_change(&text);
        let _ = JobRequest::from_json(&text);
        let _ = judge_launch(LaunchProblem::ApiError { code: &text, message: &text });
    }
}

#[test]
fn every_sample_event_parses() {
    let mut jobs = 0;
    for sample in samples() {
        let is_task_event = sample["detail-type"] == "ECS Task State Change";
        let is_malformed = sample["detail"].get("version").is_none();
        if is_task_event && !is_malformed {
            task_state_change_from_value(sample.clone())
                .unwrap_or_else(|e| panic!("{e}: {sample}"));
        }
        // Job requests, bare or as the schedule rule's `detail`; the invalid sample is known by its typo.
        let job = if sample.get("runTask").is_some() {
            sample.clone()
        } else if sample["detail"].get("runTask").is_some() {
            sample["detail"].clone()
        } else {
            continue;
        };
        jobs += 1;
        match (
            JobRequest::from_value(job.clone()),
            job["retry"].get("maxAttempt").is_some(),
        ) {
            (Ok(_), false) => {}
            (Err(e), true) => assert!(e.to_string().contains("did you mean maxAttempts"), "{e}"),
            (result, _) => panic!("{job}: {result:?}"),
        }
    }
    assert!(jobs >= 3, "the job samples: direct, scheduled, invalid");
}
