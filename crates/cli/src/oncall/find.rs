//! The run `show` was asked about: by run id, by task ARN, or by task id (what the ECS console and the log
//! stream names show), each found with Queries and reads by key, never a Scan.

use crate::aws::aws_failure;
use crate::failure::Failure;
use reactor_aws::history::RunStory;
use reactor_aws::records::RunItem;
use reactor_aws::store::{DynamoStore, Runs, StoreError};
use serde_json::Value;

/// How many of the newest runs lend their clusters to a task id's lookup.
const RECENT_RUNS: usize = 100;
/// At most this many attempt items are read to learn those clusters' task ARN prefixes.
const MAX_PROBES: usize = 20;

/// The story of the run `wanted` names.
pub async fn story(store: &DynamoStore, wanted: &str) -> Result<RunStory, Failure> {
    let failed = |e: StoreError| aws_failure(store.table(), &e);
    if wanted.starts_with("arn:") {
        let run_id = store
            .run_of_task(wanted)
            .await
            .map_err(failed)?
            .ok_or_else(|| Failure::NotFound(format!("no run launched task {wanted}")))?;
        return story_of(store, &run_id).await;
    }
    // A run id first: one Query, and the common case.
    if let Some(story) = store.story(wanted).await.map_err(failed)? {
        return Ok(story);
    }
    if !looks_like_task_id(wanted) {
        return Err(Failure::NotFound(format!(
            "no run {wanted:?} in table {}",
            store.table()
        )));
    }
    let (found, clusters) = run_of_task_id(store, wanted).await.map_err(failed)?;
    match found {
        Some(run_id) => story_of(store, &run_id).await,
        None => Err(Failure::NotFound(format!(
            "no run {wanted:?} in table {}, and no run launched a task with id {wanted} in {}: give the task's \
             full ARN (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/{wanted})",
            store.table(),
            if clusters.is_empty() {
                format!("the clusters of the latest {RECENT_RUNS} runs (none launched a task)")
            } else {
                format!(
                    "cluster(s) {} (those of the latest {RECENT_RUNS} runs)",
                    clusters.join(", ")
                )
            }
        ))),
    }
}

async fn story_of(store: &DynamoStore, run_id: &str) -> Result<RunStory, Failure> {
    store
        .story(run_id)
        .await
        .map_err(|e| aws_failure(store.table(), &e))?
        .ok_or_else(|| Failure::NotFound(format!("no run {run_id:?} in table {}", store.table())))
}

/// An ECS task id: 32 hex digits, or a UUID (36, with dashes) in older accounts and emulators.
fn looks_like_task_id(text: &str) -> bool {
    (32..=36).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The run that launched the task with id `task_id`; and the clusters looked in.
///
/// `byTask` is keyed by the whole task ARN (`arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID`) and a Query needs
/// the whole key: no begins_with or ends-with on a partition key, and a Scan is what on-call must never run.
/// So the ARN is built: REGION, ACCOUNT and CLUSTER are those of tasks this table already holds. The
/// clusters are those the newest runs' jobs name; a cluster's ARN prefix comes from the job itself when it
/// names the cluster by ARN, else from one of its runs' attempts (a read by key). Then one `byTask` Query per
/// cluster. Bounded: one Query and one BatchGetItem for the runs, at most MAX_PROBES attempt reads, one
/// Query per cluster. A task of a cluster none of the newest runs used is not found; the error says so.
async fn run_of_task_id(
    store: &DynamoStore,
    task_id: &str,
) -> Result<(Option<String>, Vec<String>), StoreError> {
    let runs = store.recent_runs("0", RECENT_RUNS).await?;
    let prefixes = task_arn_prefixes(store, &runs).await?;
    for (_, prefix) in &prefixes {
        if let Some(run_id) = store.run_of_task(&format!("{prefix}{task_id}")).await? {
            return Ok((Some(run_id), Vec::new()));
        }
    }
    Ok((None, prefixes.into_iter().map(|(c, _)| c).collect()))
}

/// (cluster, `arn:…:task/<cluster>/`) for each cluster the runs' jobs name, newest run first.
async fn task_arn_prefixes(
    store: &DynamoStore,
    runs: &[RunItem],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut prefixes: Vec<(String, String)> = Vec::new();
    let mut probes = 0;
    for run in runs {
        let cluster = cluster_of(&run.request);
        let name = reactor_core::guard::cluster_name(cluster.as_deref()).to_owned();
        if prefixes.iter().any(|(c, _)| *c == name) {
            continue;
        }
        if let Some(prefix) = cluster.as_deref().and_then(prefix_of_cluster_arn) {
            prefixes.push((name, prefix));
            continue;
        }
        if probes >= MAX_PROBES {
            continue;
        }
        probes += 1;
        let attempt = store.attempt(&run.run_id, run.attempt).await?;
        if let Some(arn) = attempt.and_then(|a| a.task_arn) {
            // Everything but the id: `arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/`.
            let prefix = &arn[..arn.len() - super::links::task_id(&arn).len()];
            prefixes.push((name, prefix.to_owned()));
        }
    }
    Ok(prefixes)
}

/// `runTask.cluster` of a stored job request, as the job gave it (name or ARN).
fn cluster_of(request: &str) -> Option<String> {
    let request: Value = serde_json::from_str(request).ok()?;
    request["runTask"]["cluster"].as_str().map(str::to_owned)
}

/// `arn:aws:ecs:R:A:cluster/NAME` → `arn:aws:ecs:R:A:task/NAME/`.
fn prefix_of_cluster_arn(cluster: &str) -> Option<String> {
    let (head, name) = cluster.split_once(":cluster/")?;
    cluster
        .starts_with("arn:")
        .then(|| format!("{head}:task/{name}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_and_cluster_prefixes() {
        #[rustfmt::skip]
        let ids: &[(&str, bool)] = &[
            ("0123456789abcdef0123456789abcdef", true),
            ("4bb7e0b0-bb0a-4c4e-9f0e-0123456789ab", true),
            ("nightly-report-20261121T023000Z", false),
            ("0123abcd", false),
        ];
        for (id, want) in ids {
            assert_eq!(looks_like_task_id(id), *want, "{id}");
        }
        assert_eq!(
            prefix_of_cluster_arn("arn:aws:ecs:us-east-1:111122223333:cluster/jobs").as_deref(),
            Some("arn:aws:ecs:us-east-1:111122223333:task/jobs/")
        );
        assert_eq!(prefix_of_cluster_arn("jobs"), None);
        assert_eq!(
            cluster_of(r#"{"job":"j","runTask":{"cluster":"jobs","taskDefinition":"t"}}"#)
                .as_deref(),
            Some("jobs")
        );
    }
}
