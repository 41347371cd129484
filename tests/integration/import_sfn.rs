//! `ecs-reactor import-sfn`: a state machine in the shape of the Step Functions designs ecs-reactor replaces
//! (RunTask `.sync` with Retry and Catch, a Lambda parsing the exit code, a Choice, a Wait, an SNS
//! notification) becomes job files that `validate` accepts; a second import changes nothing; a file already
//! there with other content is refused and nothing is written; no environment value is ever printed.

use crate::oncall::{output, shell, Out};
use reactor_testkit::moto::unique;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const MARKER: &str = "SECRET-MARKER-21";

fn cli(args: &[&str]) -> Out {
    let mut command = shell(env!("CARGO_BIN_EXE_ecs-reactor"), &[]);
    command.args(args);
    output(command)
}

fn machine() -> Value {
    json!({
        "Comment": "nightly report with custom retries",
        "StartAt": "RunReport",
        "States": {
            "RunReport": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/jobs",
                    "TaskDefinition": "report:7",
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-0a1b2c3d4e5f60718"], "AssignPublicIp": "DISABLED"}},
                    "Overrides": {"ContainerOverrides": [{"Name": "app", "Command.$": "$.command",
                        "Environment": [{"Name": "DB_PASSWORD", "Value": MARKER}]}]}
                },
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 60, "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.taskError", "Next": "ProcessError"}],
                "Next": "Notify"
            },
            "ProcessError": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "ErrorStateChoice"},
            "ErrorStateChoice": {"Type": "Choice", "Choices": [{"Variable": "$.errorState.type", "StringEquals": "TEMPORARY", "Next": "WaitBeforeRetry"}], "Default": "Notify"},
            "WaitBeforeRetry": {"Type": "Wait", "SecondsPath": "$.errorState.waitSeconds", "Next": "RunReport"},
            "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}
        }
    })
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("import-sfn"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_state_machine_becomes_job_files_validate_accepts_and_a_second_import_changes_nothing() {
    let dir = scratch();
    let definition = dir.join("machine.asl.json");
    // As `aws stepfunctions describe-state-machine` prints it: the definition as a string.
    std::fs::write(
        &definition,
        json!({"name": "nightly", "definition": machine().to_string()}).to_string(),
    )
    .unwrap();
    let out = dir.join("jobs");
    let (definition, out_dir) = (
        definition.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );

    let dry = cli(&["import-sfn", &definition, "--out", &out_dir, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("would write"), "{}", dry.stdout);
    assert!(!out.exists(), "a dry run writes nothing");

    let first = cli(&["import-sfn", &definition, "--out", &out_dir]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stdout.contains(MARKER), "{}", first.stdout);
    assert_eq!(files(&out), ["runreport.json"]);
    for said in [
        "state RunReport",
        "Command.$ comes from the execution's input",
        "maxAttempts 4",
        "Catch [States.ALL] → ProcessError",
        "state ProcessError runs a Lambda function",
        "state ErrorStateChoice chooses",
        "state WaitBeforeRetry waits",
        "state Notify publishes to SNS",
    ] {
        assert!(first.stdout.contains(said), "{said}: {}", first.stdout);
    }
    let job: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runreport.json")).unwrap())
            .unwrap();
    assert_eq!(job["runTask"]["taskDefinition"], "report:7");
    assert_eq!(
        job["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        json!(["subnet-0a1b2c3d4e5f60718"])
    );
    assert_eq!(
        job["runTask"]["overrides"]["containerOverrides"][0]["environment"][0]["value"], MARKER,
        "the job keeps what the state had"
    );
    assert_eq!(
        job["retry"],
        json!({"maxAttempts": 4, "intervalSeconds": 60, "backoffRate": 2.0, "jitter": "NONE"})
    );
    let valid = cli(&["validate", &out_dir]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);

    let again = cli(&["import-sfn", &definition, "--out", &out_dir]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);

    // Someone edited the file (added a schedule): a new import refuses to overwrite it, and says so.
    let mut edited = job.clone();
    edited["schedule"] = json!({"expression": "cron(30 2 * * ? *)"});
    std::fs::write(out.join("runreport.json"), edited.to_string()).unwrap();
    let refused = cli(&["import-sfn", &definition, "--out", &out_dir]);
    assert_eq!(refused.code, 3, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("exists with other content"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        serde_json::from_str::<Value>(
            &std::fs::read_to_string(out.join("runreport.json")).unwrap()
        )
        .unwrap(),
        edited,
        "not overwritten"
    );
    // With a prefix the jobs are new files beside it.
    let prefixed = cli(&[
        "import-sfn",
        &definition,
        "--out",
        &out_dir,
        "--prefix",
        "sfn-",
        "--json",
    ]);
    assert_eq!(prefixed.code, 0, "{}", prefixed.stderr);
    assert_eq!(prefixed.json()["jobs"][0]["job"], "sfn-runreport");
    assert_eq!(files(&out), ["runreport.json", "sfn-runreport.json"]);
}

#[test]
fn a_task_that_cannot_become_a_job_writes_nothing_and_names_the_state() {
    let dir = scratch();
    let definition = dir.join("machine.json");
    let mut broken = machine();
    let parameters = broken["States"]["RunReport"]["Parameters"]
        .as_object_mut()
        .unwrap();
    parameters.remove("TaskDefinition");
    parameters.insert("TaskDefinition.$".into(), json!("$.taskDefinition"));
    std::fs::write(&definition, broken.to_string()).unwrap();
    let out = dir.join("jobs");
    let refused = cli(&[
        "import-sfn",
        &definition.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(refused.code, 3, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("state RunReport") && refused.stderr.contains("taskDefinition"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(MARKER), "{}", refused.stderr);
    assert!(!out.exists(), "nothing written");
}
