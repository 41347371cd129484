//! An attempt's launch: claimed, taken over when its lease ran out, recorded with its task.

use super::dynamo::{built, item, transaction_error};
use super::expression::{
    conditional, set_clause, state_condition, status_condition, status_fields,
};
use super::{Changed, Claimed, DynamoStore, LaunchFacts, Recorded, Runs, StoreError};
use crate::records::{attempt_sk, delay_sk, run_pk, stamp, AttemptItem, AttemptState, RUN_SK};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use reactor_core::transition::{AttemptEvent, RunEvent};
use std::collections::HashMap;
use std::future::Future;
use time::OffsetDateTime;

/// An attempt's launch: claimed, taken over when its lease ran out, recorded with its task.
pub trait Launches: Send + Sync {
    /// Records the task of a claimed attempt, and the run as RUNNING. Idempotent: recording the same task
    /// again, or after the attempt was already judged, is not an error. If the run moved on while the task
    /// was launched (it was cancelled), the task is still written on the attempt and the run is returned.
    fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: OffsetDateTime,
        facts: &LaunchFacts,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// Takes over the launch of a CLAIMED attempt whose launch lease has run out (its claimer crashed or
    /// timed out): `true` if this caller now holds the lease until `until`.
    fn take_launch(
        &self,
        run_id: &str,
        attempt: u32,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Defers the launch of CLAIMED attempt `attempt`, which AWS refused for reasons of its own: its lease runs
    /// until `until` (epoch seconds), when the sweep resumes it; `reason` and the count are kept for on-call.
    /// `false` if the attempt is no longer CLAIMED (launched or decided meanwhile).
    fn defer_launch(
        &self,
        run_id: &str,
        attempt: u32,
        until: i64,
        reason: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims the retry a delay item stood for: the run goes from RETRY_SCHEDULED on the previous attempt to
    /// LAUNCHING on `claim.attempt`, the attempt is created, and the delay item removed — all or nothing, so
    /// that of TTL, sweep and their redeliveries exactly one launches.
    fn claim_retry(
        &self,
        claim: &AttemptItem,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Claimed, StoreError>> + Send;
}

impl Launches for DynamoStore {
    async fn record_launch(
        &self,
        run_id: &str,
        attempt: u32,
        task_arn: &str,
        at: OffsetDateTime,
        facts: &LaunchFacts,
    ) -> Result<Recorded, StoreError> {
        let at = &stamp(at);
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let mut set = vec![
            ("state", s(AttemptEvent::TaskRecorded.to().as_str())),
            ("taskArn", s(task_arn)),
            ("launchedAt", s(at)),
        ];
        if let Some(size) = facts.size {
            set.push(("memoryMiB", n(size.memory_mib)));
            if let Some(cpu) = size.cpu {
                set.push(("cpu", n(cpu)));
            }
        }
        if let Some(deadline) = &facts.deadline {
            let due = time::OffsetDateTime::from_unix_timestamp(deadline.due_at)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            set.push(("deadlineAt", s(&due)));
        }
        let (expression, mut names, mut values) = set_clause(set);
        names.insert("#cond_state".into(), "state".into());
        let condition = state_condition("#cond_state", AttemptEvent::TaskRecorded, &mut values);
        let update_attempt = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(&attempt_sk(attempt)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let recorded = RunEvent::TaskRecorded;
        let (run_expression, mut run_names, mut values) =
            set_clause(status_fields(recorded.to(), at, run_id).collect());
        run_names.insert("#status".into(), "status".into());
        values.insert(":n".to_owned(), AttributeValue::N(attempt.to_string()));
        let condition = format!(
            "{} AND attempt = :n",
            status_condition("#status", recorded, &mut values)
        );
        let update_run = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&run_pk(run_id)))
                .key("sk", s(RUN_SK))
                .update_expression(run_expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(run_names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update_attempt.clone())
                .build(),
            TransactWriteItem::builder().update(update_run).build(),
        ];
        if let Some(deadline) = &facts.deadline {
            // No condition: a redelivered launch writes the same item again.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item(deadline)?));
            items.push(
                TransactWriteItem::builder()
                    .put(built(put.build())?)
                    .build(),
            );
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(transaction_error);
        match result {
            Ok(_) => Ok(Recorded::Recorded),
            Err(e) if e.is_conditional_check_failed() => {
                // Already recorded (a redelivery), or the task stopped and was judged before we got here:
                // both leave nothing to do.
                match self.attempt(run_id, attempt).await? {
                    Some(a) if a.task_arn.as_deref() == Some(task_arn) => {
                        return Ok(Recorded::Recorded)
                    }
                    Some(a) if a.state == AttemptState::Decided => return Ok(Recorded::Recorded),
                    _ => {}
                }
                // The run moved on while the task was launched (cancelled): keep the task on the attempt so
                // the story shows it, and let the caller stop it.
                match self.run(run_id).await? {
                    Some(run) if run.attempt != attempt || run.status.is_terminal() => {
                        let single = self
                            .client
                            .update_item()
                            .table_name(&self.table)
                            .key("pk", s(&run_pk(run_id)))
                            .key("sk", s(&attempt_sk(attempt)))
                            .update_expression(update_attempt.update_expression())
                            .condition_expression(
                                update_attempt.condition_expression().unwrap_or_default(),
                            )
                            .set_expression_attribute_names(
                                update_attempt.expression_attribute_names().cloned(),
                            )
                            .set_expression_attribute_values(
                                update_attempt.expression_attribute_values().cloned(),
                            )
                            .send()
                            .await;
                        if conditional(single)? {
                            Ok(Recorded::RunMovedOn(Box::new(run)))
                        } else {
                            // Not a claimed attempt of this run: nothing of ours was launched.
                            Err(e)
                        }
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn defer_launch(
        &self,
        run_id: &str,
        attempt: u32,
        until: i64,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = &stamp(at);
        let mut values = HashMap::from([
            (":until".to_owned(), AttributeValue::N(until.to_string())),
            (
                ":reason".to_owned(),
                AttributeValue::S(reason.chars().take(1000).collect()),
            ),
            (":at".to_owned(), AttributeValue::S(at.to_owned())),
            (":one".to_owned(), AttributeValue::N("1".into())),
        ]);
        let condition = state_condition("#state", AttemptEvent::LaunchDeferred, &mut values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(attempt_sk(attempt)))
            .update_expression(
                "SET #lease = :until, lastDeferral = :reason, deferredAt = :at ADD deferrals :one",
            )
            .condition_expression(condition)
            .expression_attribute_names("#lease", "launchLeaseUntil")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(result)
    }

    async fn take_launch(
        &self,
        run_id: &str,
        attempt: u32,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":now".to_owned(), AttributeValue::N(now.to_string())),
            (":until".to_owned(), AttributeValue::N(until.to_string())),
        ]);
        let condition = format!(
            "{} AND (attribute_not_exists(#lease) OR #lease < :now)",
            state_condition("#state", AttemptEvent::LaunchTakenOver, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(attempt_sk(attempt)))
            .update_expression("SET #lease = :until")
            .condition_expression(condition)
            .expression_attribute_names("#lease", "launchLeaseUntil")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(result)
    }

    async fn claim_retry(
        &self,
        claim: &AttemptItem,
        at: OffsetDateTime,
    ) -> Result<Claimed, StoreError> {
        let at = &stamp(at);
        let _s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u32| AttributeValue::N(v.to_string());
        let run_id = claim.run_id.as_str();
        let previous = claim.attempt.saturating_sub(1);
        let mut fields = vec![("attempt", n(claim.attempt))];
        fields.extend(status_fields(RunEvent::RetryFired.to(), at, run_id));
        let (mut expression, mut names, mut values) = set_clause(fields);
        expression.push_str(" REMOVE #nextRetryAt");
        names.insert("#nextRetryAt".into(), "nextRetryAt".into());
        names.insert("#cond_status".into(), "status".into());
        names.insert("#cond_attempt".into(), "attempt".into());
        values.insert(":cond_previous".into(), n(previous));
        let condition = format!(
            "{} AND #cond_attempt = :cond_previous",
            status_condition("#cond_status", RunEvent::RetryFired, &mut values)
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;
        let items = vec![
            update_run,
            self.put_new(claim)?,
            // No condition: on the TTL path the item is already gone.
            self.delete(run_id, &delay_sk(claim.attempt))?,
        ];
        match self.change(items).await? {
            Changed::Changed => Ok(Claimed::Claimed),
            Changed::Refused if self.attempt(run_id, claim.attempt).await?.is_some() => {
                Ok(Claimed::AlreadyClaimed)
            }
            Changed::Refused => Ok(Claimed::Stale),
        }
    }
}
