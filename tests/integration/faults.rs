//! The fault-injecting connector lives in `reactor_testkit::faults` (the benchmark's cron storm uses it too);
//! here, the invariant every fault test ends on — every unfinished run has a next step.

pub use reactor_testkit::faults::*;

use crate::stack::Stack;
use serde_json::Value;
use time::OffsetDateTime;

/// The invariant: no run is ever left without a next step. For each run of the table, what its status
/// promises must be there for whoever keeps that promise:
/// - LAUNCHING at attempt n: attempt n is CLAIMED with a lease, so the sweep resumes it once the lease ran out;
/// - RUNNING at attempt n: attempt n is LAUNCHED and ECS has its task (whose STOPPED event comes);
/// - RETRY_SCHEDULED at attempt n: the delay item of attempt n+1 is there, due, for TTL or the sweep;
/// - SUCCEEDED, FAILED, CANCELLED: nothing more to launch, and no delay item left behind.
///
/// Returns what is broken, one line per run.
pub async fn runs_without_a_next_step(stack: &Stack) -> Vec<String> {
    let items = stack.scan().await;
    let item = |run_id: &str, sk: &str| {
        items
            .iter()
            .find(|i| i["pk"] == format!("RUN#{run_id}") && i["sk"] == sk)
            .cloned()
    };
    let mut broken = Vec::new();
    for run in items.iter().filter(|i| i["sk"] == "RUN") {
        let run_id = run["runId"].as_str().unwrap();
        let n = run["attempt"].as_u64().unwrap();
        let attempt = item(run_id, &format!("ATTEMPT#{n:04}")).unwrap_or(Value::Null);
        let delay = item(run_id, &format!("DELAY#{:04}", n + 1));
        let status = run["status"].as_str().unwrap();
        let problem = match status {
            "LAUNCHING"
                if attempt["state"] != "CLAIMED" || !attempt["launchLeaseUntil"].is_number() =>
            {
                Some(format!(
                    "attempt {n} is not claimed with a lease: {attempt}"
                ))
            }
            "RUNNING" => match attempt["taskArn"].as_str() {
                _ if attempt["state"] != "LAUNCHED" => {
                    Some(format!("attempt {n} is {}", attempt["state"]))
                }
                None => Some(format!("attempt {n} has no task")),
                Some(arn) if !stack.all_tasks().await.iter().any(|t| t == arn) => {
                    Some(format!("ECS has no task {arn}"))
                }
                Some(_) => None,
            },
            "RETRY_SCHEDULED" => match &delay {
                Some(d) if d["dueAt"].is_number() && d["ttl"].is_number() => None,
                _ => Some(format!("no delay item for attempt {}", n + 1)),
            },
            "SUCCEEDED" | "FAILED" | "CANCELLED" => delay
                .as_ref()
                .map(|d| format!("a finished run keeps a delay item: {d}")),
            _ => None,
        };
        if let Some(problem) = problem {
            broken.push(format!("{run_id} {status}: {problem}"));
        }
    }
    broken
}

/// A point in time `seconds` after `t`.
pub fn after(t: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    t + time::Duration::seconds(seconds)
}
