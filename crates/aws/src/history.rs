//! What on-call reads: a run's story, runs of a job, runs in a status, the run of a task. Each is one Query
//! (DESIGN.md's access patterns); nothing here scans the table.

use crate::records::{job_key, run_pk, status_key, AttemptItem, DelayItem, RunItem};
use crate::store::{read_item, service, DynamoStore, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_core::run::RunStatus;

/// A run and everything under it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStory {
    pub run: RunItem,
    pub attempts: Vec<AttemptItem>,
    /// A pending delayed retry, if one is waiting.
    pub delays: Vec<DelayItem>,
}

impl DynamoStore {
    /// The run's partition: one Query. `None` if there is no such run.
    pub async fn story(&self, run_id: &str) -> Result<Option<RunStory>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(run_pk(run_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service)?;
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut run = None;
        let (mut attempts, mut delays) = (Vec::new(), Vec::new());
        for item in &items {
            match item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some("RUN") => run = Some(read_item(item)?),
                Some(sk) if sk.starts_with("ATTEMPT#") => attempts.push(read_item(item)?),
                Some(sk) if sk.starts_with("DELAY#") => delays.push(read_item(item)?),
                _ => {}
            }
        }
        Ok(run.map(|run| RunStory {
            run,
            attempts,
            delays,
        }))
    }

    /// The run id of the run that launched `task_arn`, through the `byTask` index.
    pub async fn run_of_task(&self, task_arn: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("byTask")
            .key_condition_expression("taskArn = :arn")
            .expression_attribute_values(":arn", AttributeValue::S(task_arn.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()))
            .find_map(|pk| pk.strip_prefix("RUN#").map(str::to_owned)))
    }

    /// Runs of `job` created at or after `since` (RFC 3339), newest first; optionally only in `status`.
    pub async fn runs_of_job(
        &self,
        job: &str,
        since: &str,
        status: Option<RunStatus>,
        limit: usize,
    ) -> Result<Vec<RunItem>, StoreError> {
        let mut query = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("byJob")
            .key_condition_expression("byJobPk = :job AND byJobSk >= :since")
            .expression_attribute_values(":job", AttributeValue::S(job_key(job)))
            .expression_attribute_values(":since", AttributeValue::S(since.to_owned()))
            .scan_index_forward(false);
        if let Some(status) = status {
            query = query
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().into()));
        }
        self.collect(query, limit).await
    }

    /// Runs that entered `status` at or after `since`, most recent change first.
    pub async fn runs_in_status(
        &self,
        status: RunStatus,
        since: &str,
        limit: usize,
    ) -> Result<Vec<RunItem>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("byStatus")
            .key_condition_expression("byStatusPk = :status AND byStatusSk >= :since")
            .expression_attribute_values(":status", AttributeValue::S(status_key(status)))
            .expression_attribute_values(":since", AttributeValue::S(since.to_owned()))
            .scan_index_forward(false);
        self.collect(query, limit).await
    }

    /// Follows a query's pages until `limit` runs are read (a filter can leave pages short).
    async fn collect(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<RunItem>, StoreError> {
        let mut runs = Vec::new();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service)?;
            for item in out.items() {
                runs.push(read_item(item)?);
                if runs.len() >= limit {
                    return Ok(runs);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(runs);
            }
        }
    }
}
