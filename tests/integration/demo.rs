//! `make demo`'s story end to end, asserted on what on-call would look at: the table rows, the tasks ECS ran
//! and the notification on the SQS queue — not just exit codes.

use crate::story::{on_call, play, render_rows};

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_story_retries_a_rate_limited_pull_later_and_succeeds_on_attempt_2() {
    let story = play(false).await;
    let run_id = story.run_id.as_str();
    assert!(
        run_id.starts_with("nightly-report-") && run_id.ends_with("00Z"),
        "named after the job and the tick: {run_id}"
    );
    let row = |sk: &str| {
        story
            .rows
            .iter()
            .find(|r| r["sk"] == sk)
            .unwrap_or_else(|| panic!("no {sk} row in:\n{}", render_rows(&story.rows)))
    };
    let run = row("RUN");
    assert_eq!(
        (run["status"].as_str(), run["attempt"].as_u64()),
        (Some("SUCCEEDED"), Some(2)),
        "{run}"
    );
    assert_eq!(run["lastAction"], "SUCCEED");
    assert!(run["notifiedAt"].is_string());

    let first = row("ATTEMPT#0001");
    assert_eq!(first["action"], "RETRY_LATER");
    assert_eq!(first["ruleId"], "image-pull-rate-limited");
    assert_eq!(first["stopCode"], "TaskFailedToStart");
    assert!(first["stoppedReason"]
        .as_str()
        .unwrap()
        .contains("toomanyrequests"));
    assert!(
        first["nextRetryAt"].is_string(),
        "the retry time is on the attempt for on-call"
    );
    assert_eq!(first["countsAsAttempt"], true);

    let second = row("ATTEMPT#0002");
    assert_eq!(
        (second["state"].as_str(), second["action"].as_str()),
        (Some("DECIDED"), Some("SUCCEED"))
    );
    assert_eq!(second["ruleId"], "essential-containers-exited-0");
    assert!(
        story
            .rows
            .iter()
            .all(|r| !r["sk"].as_str().unwrap().starts_with("DELAY#")),
        "no delay left"
    );
    assert_eq!(story.rows.len(), 3, "{}", render_rows(&story.rows));

    for (attempt, tasks) in &story.tasks {
        assert_eq!(
            tasks.len(),
            1,
            "attempt {attempt}: exactly one task: {tasks:?}"
        );
    }
    assert_eq!(
        second["taskArn"].as_str(),
        Some(story.tasks[1].1[0].as_str())
    );

    assert_eq!(
        story.notifications.len(),
        1,
        "one outcome: {:?}",
        story.notifications
    );
    let note = &story.notifications[0];
    assert_eq!(
        (
            note["runId"].as_str(),
            note["status"].as_str(),
            note["attempts"].as_u64()
        ),
        (Some(run_id), Some("SUCCEEDED"), Some(2))
    );
    assert_eq!(note["subject"], "SUCCEEDED nightly-report after 2 attempts");
    assert_eq!(note["attributes"]["status"]["Value"], "SUCCEEDED");

    let timeline = story.timeline.join("\n");
    for step in [
        "STARTED",
        "DUPLICATE",
        "RETRY_LATER",
        "TTL deletes DELAY#0002",
        "0 overdue",
        "SUCCEED",
    ] {
        assert!(
            timeline.contains(step),
            "the timeline lacks {step:?}:\n{timeline}"
        );
    }

    // On-call's epilogue: the real CLI on the demo's table.
    let said = on_call(&story, false).await;
    let expect = |command: &str, needles: &[&str]| {
        let s = said
            .iter()
            .find(|s| s.command.starts_with(command))
            .unwrap_or_else(|| panic!("no `{command}` in the epilogue"));
        assert_eq!(s.code, 0, "{}: {}", s.command, s.output);
        for needle in needles {
            assert!(
                s.output.contains(needle),
                "{}: {needle:?} missing from:\n{}",
                s.command,
                s.output
            );
        }
    };
    expect(
        "ecs-reactor runs",
        &[run_id, "weekly-export-", "SUCCEEDED", "RETRY_SCHEDULED"],
    );
    expect(
        "ecs-reactor show nightly-report-",
        &[
            "SUCCEEDED at attempt 2",
            "image-pull-rate-limited",
            "essential-containers-exited-0",
        ],
    );
    expect(
        "ecs-reactor runs --status RETRY_SCHEDULED",
        &["weekly-export-", "eni-provisioning"],
    );
    expect(
        "ecs-reactor cancel",
        &[
            "cancelled (was RETRY_SCHEDULED at attempt 1)",
            "export target down for maintenance",
        ],
    );
    expect(
        "ecs-reactor show weekly-export-",
        &["CANCELLED at attempt 1", "cancelled", "TaskFailedToStart"],
    );
    expect("ecs-reactor redrive", &["attempt 2 launched task"]);
}
