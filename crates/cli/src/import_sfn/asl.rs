//! Amazon States Language → job files: each ECS `runTask` Task state of a Step Functions state machine becomes
//! a job, its `Parameters` the job's `runTask` (RunTask's own fields, in the job file's camelCase) and its
//! `Retry` on task failure the job's `retry`. What has no counterpart in a job (a `Catch`, a `Wait`, a Lambda
//! that parses exit codes, an SNS notification) is said in a note, so nothing is dropped unnoticed. Notes name
//! states and fields, never values (an environment value may be a secret).

use reactor_core::jobfile;
use serde_json::{json, Map, Value};

/// One Task state turned into a job file.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The state's path in the machine (`Branch 1/RunExport` inside a Parallel).
    pub state: String,
    pub job: String,
    pub file: Value,
    /// What the job does differently from the state, and what was left out.
    pub notes: Vec<String>,
}

/// What a state machine holds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Import {
    pub jobs: Vec<Imported>,
    /// Notes on the other states.
    pub notes: Vec<String>,
    /// Why a state could not become a valid job file; nothing is written while there are any.
    pub problems: Vec<String>,
}

/// The errors ecs-reactor's judge decides on: a retrier for these is the job's retry policy.
const TASK_FAILURES: [&str; 2] = ["States.TaskFailed", "States.ALL"];

/// Reads a state machine's definition: ASL itself, or what `aws stepfunctions describe-state-machine` prints
/// (its `definition` is the ASL as a string).
pub fn definition(value: Value) -> Result<Value, String> {
    match value.get("definition").and_then(Value::as_str) {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("definition: not JSON (line {}, column {})", e.line(), e.column())),
        None if value.get("States").is_some_and(Value::is_object) => Ok(value),
        None => Err("not a state machine: no States (Amazon States Language) and no definition (describe-state-machine's output)".into()),
    }
}

/// Every ECS task of the machine as a job file named `<prefix><state>`.
pub fn import(machine: &Value, prefix: &str) -> Import {
    let mut import = Import::default();
    if let Some(states) = machine.get("States").and_then(Value::as_object) {
        walk(states, "", prefix, &mut import);
    }
    if import.jobs.is_empty() && import.problems.is_empty() {
        import.problems.push(
            "no ECS task in the state machine (a Task state with Resource arn:aws:states:::ecs:runTask[.sync])"
                .into(),
        );
    }
    import
}

fn walk(states: &Map<String, Value>, path: &str, prefix: &str, import: &mut Import) {
    for (name, state) in states {
        let at = format!("{path}{name}");
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
        let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
        match kind {
            "Task" if ecs_run_task(resource).is_some() => convert(&at, state, resource, prefix, import),
            "Task" if resource.contains(":sns:publish") => import.notes.push(format!(
                "state {at} publishes to SNS: ecs-reactor publishes every run's outcome to its outcomes topic (notify.on chooses which)"
            )),
            "Task" if resource.contains(":lambda:") => import.notes.push(format!(
                "state {at} runs a Lambda function: if it reads the task's exit code or stop reason to decide on a retry, write that as retry.rules (onExitCode, onReason) — ecs-reactor's judge decides without it"
            )),
            "Task" => import.notes.push(format!("state {at} ({resource}) is not an ECS task: left out")),
            "Wait" => import.notes.push(format!(
                "state {at} waits: a wait between attempts is retry.intervalSeconds (with backoffRate, maxDelaySeconds), a wait before the first is the job's schedule"
            )),
            "Choice" => import.notes.push(format!(
                "state {at} chooses on a result: a choice between retrying and giving up is retry.rules (RETRY_NOW, RETRY_LATER, FAIL)"
            )),
            "Parallel" => {
                import.notes.push(format!("state {at} runs branches in parallel: each of their tasks is a job of its own, started by its own schedule or start"));
                for (i, branch) in state.get("Branches").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    if let Some(inner) = branch.get("States").and_then(Value::as_object) {
                        walk(inner, &format!("{at}/branch {}/", i + 1), prefix, import);
                    }
                }
            }
            "Map" => {
                import.notes.push(format!("state {at} runs its states for each item: ecs-reactor runs one task per run; start one run per item (ecs-reactor start)"));
                let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator"));
                if let Some(inner) = processor.and_then(|p| p.get("States")).and_then(Value::as_object) {
                    walk(inner, &format!("{at}/"), prefix, import);
                }
            }
            _ => {}
        }
    }
}

/// The integration pattern of an ECS RunTask resource (`""`, `.sync`, `.waitForTaskToken`), if it is one.
fn ecs_run_task(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(":states:::ecs:runTask")?;
    Some(rest)
}

fn convert(at: &str, state: &Value, resource: &str, prefix: &str, import: &mut Import) {
    let mut notes = Vec::new();
    match ecs_run_task(resource) {
        Some(".sync") => {}
        Some(".waitForTaskToken") => notes.push(
            "waited for a task token: ecs-reactor waits for the task to stop and judges it; the container no longer needs to call SendTaskSuccess".into(),
        ),
        _ => notes.push(
            "started the task without waiting (no .sync): ecs-reactor always waits for the task to stop and judges it".into(),
        ),
    }
    let parameters = state
        .get("Parameters")
        .or_else(|| state.get("Arguments"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut dropped = Vec::new();
    let run_task = camel(&parameters, "Parameters", &mut dropped);
    for field in dropped {
        notes.push(format!(
            "{field} comes from the execution's input at run time: left out, write its value in the job file"
        ));
    }
    let job = job_name(prefix, at);
    let mut file = json!({"job": job, "runTask": run_task});
    if let Some(fields) = file["runTask"].as_object_mut() {
        for ours in ["startedBy", "clientToken"] {
            if fields.remove(ours).is_some() {
                notes.push(format!(
                    "Parameters.{} left out: ecs-reactor sets it to name the attempt",
                    pascal(ours)
                ));
            }
        }
    }
    file["retry"] = retry(state.get("Retry"), &mut notes);
    if let Some(seconds) = state.get("TimeoutSeconds").and_then(Value::as_u64) {
        file["timeoutSeconds"] = json!(seconds);
        notes.push(
            "TimeoutSeconds → timeoutSeconds: each attempt is stopped when it runs longer".into(),
        );
    }
    if state.get("HeartbeatSeconds").is_some() {
        notes.push("HeartbeatSeconds left out: a task's liveness is ECS's; timeoutSeconds bounds an attempt".into());
    }
    for catcher in state
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        notes.push(format!(
            "Catch {} → {}: a run that fails is published to the outcomes topic (notify.on: FAILED by default); subscribe what {} did",
            errors(catcher),
            catcher.get("Next").and_then(Value::as_str).unwrap_or("?"),
            catcher.get("Next").and_then(Value::as_str).unwrap_or("that state"),
        ));
    }
    if let Err(problems) = jobfile::read(file.clone(), Some(&job)) {
        import
            .problems
            .extend(problems.into_iter().map(|p| format!("state {at}: {p}")));
        return;
    }
    import.jobs.push(Imported {
        state: at.to_owned(),
        job,
        file,
        notes,
    });
}

/// The retrier for task failures as the job's retry policy. Step Functions counts retries, ecs-reactor counts
/// attempts (one more); its defaults are ASL's (IntervalSeconds 1, MaxAttempts 3, BackoffRate 2, no jitter).
fn retry(retriers: Option<&Value>, notes: &mut Vec<String>) -> Value {
    let retriers = retriers
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let on_failure = retriers.iter().find(|r| {
        r.get("ErrorEquals")
            .and_then(Value::as_array)
            .is_some_and(|e| {
                e.iter()
                    .any(|e| TASK_FAILURES.contains(&e.as_str().unwrap_or("")))
            })
    });
    for other in retriers.iter().filter(|r| Some(*r) != on_failure) {
        notes.push(format!(
            "Retry {} left out: AWS's own errors starting a task (throttling, capacity, server errors) are retried by ecs-reactor's launch rules without using an attempt",
            errors(other)
        ));
    }
    let Some(retrier) = on_failure else {
        notes.push("no Retry on task failure: one attempt, as before (remove retry to use ecs-reactor's defaults and built-in rules)".into());
        return json!({"maxAttempts": 1});
    };
    let number = |field: &str| retrier.get(field).and_then(Value::as_f64);
    let retries = number("MaxAttempts").unwrap_or(3.0).max(0.0) as u64;
    let mut policy = json!({
        "maxAttempts": retries + 1,
        "intervalSeconds": number("IntervalSeconds").unwrap_or(1.0).max(1.0) as u64,
        "backoffRate": number("BackoffRate").unwrap_or(2.0),
        "jitter": match retrier.get("JitterStrategy").and_then(Value::as_str) {
            Some("FULL") => "FULL",
            _ => "NONE",
        },
    });
    if let Some(max) = number("MaxDelaySeconds") {
        policy["maxDelaySeconds"] = json!(max as u64);
    }
    notes.push(format!(
        "Retry {} → retry: maxAttempts {} (Step Functions' MaxAttempts {} counts retries, ecs-reactor counts attempts); built-in rules add what Step Functions could not tell apart (Spot interruptions do not use an attempt, a bad image fails at once)",
        errors(retrier),
        retries + 1,
        retries
    ));
    policy
}

fn errors(retrier_or_catcher: &Value) -> String {
    let list: Vec<&str> = retrier_or_catcher
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!("[{}]", list.join(", "))
}

/// ASL's PascalCase fields as RunTask's camelCase (`NetworkConfiguration.AwsvpcConfiguration.Subnets` →
/// `networkConfiguration.awsvpcConfiguration.subnets`). Fields ending in `.$` (JSONPath) and values written
/// `{% … %}` (JSONata) take their value from the execution at run time: left out, their paths in `dropped`.
fn camel(value: &Value, path: &str, dropped: &mut Vec<String>) -> Value {
    match value {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, inner) in fields {
                let jsonata = inner.as_str().is_some_and(|v| {
                    v.trim_start().starts_with("{%") && v.trim_end().ends_with("%}")
                });
                if key.ends_with(".$") || jsonata {
                    dropped.push(format!("{path}.{key}"));
                    continue;
                }
                let mut chars = key.chars();
                let name = match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                };
                out.insert(name, camel(inner, &format!("{path}.{key}"), dropped));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| camel(item, &format!("{path}[{i}]"), dropped))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn pascal(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A job name from a state's path: letters, digits, `-` and `_`, at most 64 characters, lower case.
fn job_name(prefix: &str, state: &str) -> String {
    let mut name = String::new();
    for c in format!("{prefix}{state}").chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(64).collect();
    if name.is_empty() {
        "job".into()
    } else {
        name.trim_end_matches('-').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state machine in the shape of the Step Functions designs ecs-reactor replaces: RunTask .sync with a
    /// Retry and a Catch, a Lambda that parses the exit code, a Choice, a Wait, an SNS notification.
    fn machine() -> Value {
        json!({
            "StartAt": "Run Report",
            "States": {
                "Run Report": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::ecs:runTask.sync",
                    "Parameters": {
                        "Cluster": "jobs",
                        "TaskDefinition": "report:7",
                        "LaunchType": "FARGATE",
                        "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}},
                        "Overrides": {"ContainerOverrides": [{"Name": "app", "Command.$": "$.command", "Environment": [{"Name": "DB_PASSWORD", "Value": "MARKER-SECRET"}]}]},
                        "StartedBy": "sfn"
                    },
                    "Retry": [
                        {"ErrorEquals": ["ECS.AmazonECSException"], "MaxAttempts": 6},
                        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 2.0, "JitterStrategy": "FULL"}
                    ],
                    "TimeoutSeconds": 3600,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Process Error"}],
                    "End": true
                },
                "Process Error": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Decide"},
                "Decide": {"Type": "Choice", "Choices": [], "Default": "Wait Before Retry"},
                "Wait Before Retry": {"Type": "Wait", "Seconds": 60, "Next": "Notify"},
                "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true},
                "Both": {"Type": "Parallel", "Branches": [{"StartAt": "Export", "States": {"Export": {
                    "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask",
                    "Parameters": {"Cluster": "jobs", "TaskDefinition": "export"}, "End": true}}}], "End": true}
            }
        })
    }

    #[test]
    fn an_ecs_task_state_becomes_a_job_file_and_the_rest_is_said_in_notes() {
        let import = import(&machine(), "");
        assert_eq!(import.problems, Vec::<String>::new());
        let names: Vec<&str> = import.jobs.iter().map(|j| j.job.as_str()).collect();
        assert_eq!(names, ["run-report", "both-branch-1-export"]);
        let report = &import.jobs[0];
        assert_eq!(
            report.file,
            json!({
                "job": "run-report",
                "runTask": {
                    "cluster": "jobs", "taskDefinition": "report:7", "launchType": "FARGATE",
                    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
                    "overrides": {"containerOverrides": [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "MARKER-SECRET"}]}]}
                },
                "retry": {"maxAttempts": 3, "intervalSeconds": 30, "backoffRate": 2.0, "jitter": "FULL"},
                "timeoutSeconds": 3600
            })
        );
        let notes = report.notes.join("\n");
        for expected in [
            "Parameters.Overrides.ContainerOverrides[0].Command.$ comes from the execution's input",
            "Parameters.StartedBy left out",
            "Retry [ECS.AmazonECSException] left out",
            "Retry [States.TaskFailed] → retry: maxAttempts 3",
            "Catch [States.ALL] → Process Error",
        ] {
            assert!(notes.contains(expected), "{expected}\n{notes}");
        }
        let export = &import.jobs[1];
        assert_eq!(export.file["retry"], json!({"maxAttempts": 1}));
        assert!(export
            .notes
            .iter()
            .any(|n| n.contains("without waiting (no .sync)")));
        let machine_notes = import.notes.join("\n");
        for state in [
            "Process Error",
            "Decide",
            "Wait Before Retry",
            "Notify",
            "Both",
        ] {
            assert!(
                machine_notes.contains(&format!("state {state} ")),
                "{state}\n{machine_notes}"
            );
        }
        // Notes name fields, never values.
        assert!(!notes.contains("MARKER-SECRET") && !machine_notes.contains("MARKER-SECRET"));
    }

    #[rustfmt::skip]
    #[test]
    fn what_cannot_become_a_job_is_a_problem_naming_the_state() {
        let cases: &[(Value, &str)] = &[
            (json!({"States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "Parameters": {"Cluster": "jobs", "TaskDefinition.$": "$.td"}}}}), "state Run: runTask.taskDefinition"),
            (json!({"States": {"Only": {"Type": "Pass", "End": true}}}), "no ECS task in the state machine"),
            (json!({"QueryLanguage": "JSONata", "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "Arguments": {"Cluster": "jobs", "TaskDefinition": "{% $states.input.td %}"}}}}), "state Run: runTask.taskDefinition"),
        ];
        for (machine, problem) in cases {
            let import = import(machine, "");
            assert!(import.problems.iter().any(|p| p.contains(problem)), "{problem}: {:?}", import.problems);
        }
    }

    #[rustfmt::skip]
    #[test]
    fn job_names_and_definitions() {
        for (prefix, state, name) in [
            ("", "Run Report", "run-report"),
            ("etl-", "Load/branch 2/Copy To S3", "etl-load-branch-2-copy-to-s3"),
            ("", "***", "job"),
        ] {
            assert_eq!(job_name(prefix, state), name);
        }
        let asl = json!({"StartAt": "A", "States": {}});
        assert_eq!(definition(json!({"definition": asl.to_string(), "name": "x"})).unwrap(), asl);
        assert_eq!(definition(asl.clone()).unwrap(), asl);
        assert!(definition(json!({"name": "x"})).unwrap_err().starts_with("not a state machine"));
    }
}
