//! `ecs-reactor rules`: the built-in tables, as text, Markdown (the README's) or JSON.

use crate::args::RulesArgs;
use crate::failure::Failure;
use reactor_core::builtin::{LaunchMatcher, Matcher, LAUNCH_RULES, STOPPED_TASK_RULES};
use serde_json::{json, Value};

struct Row {
    id: &'static str,
    when: String,
    action: String,
    description: &'static str,
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stopped_rows() -> Vec<Row> {
    STOPPED_TASK_RULES
        .iter()
        .map(|r| Row {
            id: r.id,
            when: match r.matcher {
                Matcher::StopCode(codes) => format!("stopCode {}", quoted(codes)),
                Matcher::Reason(patterns) => format!("reason {}", quoted(patterns)),
                Matcher::ReasonOnFargate(patterns) => {
                    format!("on Fargate, reason {}", quoted(patterns))
                }
                Matcher::StopCodeOrReason(codes, patterns) => {
                    format!("stopCode {} or reason {}", quoted(codes), quoted(patterns))
                }
                Matcher::EssentialExitCode(codes) => format!(
                    "an essential container exited {}",
                    codes
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                Matcher::EssentialExitNonZero => "an essential container exited non-zero".into(),
                Matcher::FailedToStart => "stopCode `TaskFailedToStart`".into(),
                Matcher::Anything => "anything else".into(),
            },
            action: if r.disruption {
                format!("{} (free)", r.action)
            } else if r.stops_when_repeated {
                format!("{} (FAIL when repeated)", r.action)
            } else {
                r.action.to_string()
            },
            description: r.description,
        })
        .collect()
}

fn launch_rows() -> Vec<Row> {
    LAUNCH_RULES
        .iter()
        .map(|r| Row {
            id: r.id,
            when: r
                .matchers
                .iter()
                .map(|m| match *m {
                    LaunchMatcher::FailureReason(patterns) => {
                        format!("failures[].reason {}", quoted(patterns))
                    }
                    LaunchMatcher::ApiError(codes, messages) if codes == ["*"] => {
                        format!("any error, message {}", quoted(messages))
                    }
                    LaunchMatcher::ApiError(codes, ["*"]) => format!("error {}", quoted(codes)),
                    LaunchMatcher::ApiError(codes, messages) => {
                        format!("error {}, message {}", quoted(codes), quoted(messages))
                    }
                    LaunchMatcher::AnyProblem => "anything else".to_string(),
                })
                .collect::<Vec<_>>()
                .join("; or "),
            // AWS's own trouble is not judged: the launch waits and is tried again, no attempt used.
            action: if reactor_core::step::defers_launch(r.id) {
                "DEFERRED (no attempt used)".to_string()
            } else {
                r.action.to_string()
            },
            description: r.description,
        })
        .collect()
}

/// The Markdown tables of the README section "How a stopped task is judged".
pub fn markdown() -> String {
    let table = |rows: Vec<Row>| {
        let mut out =
            String::from("| # | rule | when | action | what it means |\n|---|---|---|---|---|\n");
        for (i, r) in rows.iter().enumerate() {
            let when = r.when.replace('|', "\\|");
            out.push_str(&format!(
                "| {} | `{}` | {when} | {} | {} |\n",
                i + 1,
                r.id,
                r.action,
                r.description
            ));
        }
        out
    };
    format!(
        "A stopped task (after the job's own rules):\n\n{}\nA RunTask call that started no task:\n\n{}",
        table(stopped_rows()),
        table(launch_rows())
    )
}

/// `rules --json`: each rule's conditions as data (stop codes, patterns, exit codes), its action alone, and
/// its modifiers as booleans, for scripts and dashboards; the words stay in `description` and `hint`.
fn machine_readable() -> Value {
    let stopped: Vec<Value> = STOPPED_TASK_RULES
        .iter()
        .map(|r| {
            let when = match r.matcher {
                Matcher::StopCode(codes) => json!({ "stopCodes": codes }),
                Matcher::Reason(patterns) => json!({ "stoppedReasons": patterns }),
                Matcher::ReasonOnFargate(patterns) => {
                    json!({ "stoppedReasons": patterns, "fargateOnly": true })
                }
                Matcher::StopCodeOrReason(codes, patterns) => {
                    json!({ "stopCodes": codes, "stoppedReasons": patterns })
                }
                Matcher::EssentialExitCode(codes) => json!({ "essentialExitCodes": codes }),
                Matcher::EssentialExitNonZero => json!({ "essentialExitNonZero": true }),
                Matcher::FailedToStart => json!({ "stopCodes": ["TaskFailedToStart"] }),
                Matcher::Anything => json!({ "anything": true }),
            };
            json!({
                "id": r.id,
                "when": when,
                "action": r.action,
                "free": r.disruption,
                "failWhenRepeated": r.stops_when_repeated,
                "description": r.description,
                "hint": r.hint,
            })
        })
        .collect();
    let launch: Vec<Value> = LAUNCH_RULES
        .iter()
        .map(|r| {
            let when: Vec<Value> = r
                .matchers
                .iter()
                .map(|m| match *m {
                    LaunchMatcher::FailureReason(patterns) => json!({ "failureReasons": patterns }),
                    LaunchMatcher::ApiError(codes, messages) => {
                        json!({ "errorCodes": codes, "errorMessages": messages })
                    }
                    LaunchMatcher::AnyProblem => json!({ "anything": true }),
                })
                .collect();
            json!({
                "id": r.id,
                "whenAny": when,
                "action": r.action,
                "deferred": reactor_core::step::defers_launch(r.id),
                "description": r.description,
                "hint": r.hint,
            })
        })
        .collect();
    json!({ "stoppedTask": stopped, "launch": launch })
}

pub fn run(args: &RulesArgs) -> Result<String, Failure> {
    if args.markdown {
        return Ok(markdown().trim_end().to_owned());
    }
    let (stopped, launch) = (stopped_rows(), launch_rows());
    if args.json {
        return serde_json::to_string_pretty(&machine_readable())
            .map_err(|e| Failure::BadInput(e.to_string()));
    }
    let mut out = String::from(
        "A stopped task that did not succeed (after the job's own rules), first match wins:\n",
    );
    let width = stopped
        .iter()
        .chain(&launch)
        .map(|r| r.id.len())
        .max()
        .unwrap_or(0);
    for r in &stopped {
        out.push_str(&format!(
            "  {:<width$}  {:<17}  {}\n",
            r.id, r.action, r.description
        ));
    }
    out.push_str("\nA RunTask call that started no task:\n");
    for r in &launch {
        out.push_str(&format!(
            "  {:<width$}  {:<17}  {}\n",
            r.id, r.action, r.description
        ));
    }
    Ok(out.trim_end().to_owned())
}
