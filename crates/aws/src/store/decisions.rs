//! A judged attempt: the decision and what follows it in one transaction; notifications claimed and marked.

use super::dynamo::{service, transaction_error};
use super::expression::{
    conditional, set_clause, state_condition, status_condition, status_fields,
};
use super::{Applied, DynamoStore, Next, Runs, StopFacts, StoreError};
use crate::records::{
    attempt_sk, deadline_sk, run_pk, stamp, AttemptState, NOTIFY_DUE_SHARD, RUN_SK,
};
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_core::run::RunStatus;
use reactor_core::transition::{AttemptEvent, RunEvent};
use reactor_core::Decision;
use std::future::Future;
use time::OffsetDateTime;

/// A judged attempt: the decision and what follows it in one transaction; notifications claimed and marked.
pub trait Decisions: Send + Sync {
    /// Records the judgement of attempt `attempt` and its consequence in one transaction: the attempt is
    /// DECIDED (only once), the run moves on (only from LAUNCHING/RUNNING on this attempt), and the next
    /// attempt is claimed or the delay item written (only if not there yet).
    fn apply_decision(
        &self,
        run_id: &str,
        attempt: u32,
        facts: &StopFacts,
        decision: &Decision,
        next: &Next,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;
    /// Records that a retry decision of attempt `attempt` was published (`notify.on` RETRYING).
    fn mark_attempt_notified(
        &self,
        run_id: &str,
        attempt: u32,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The right to publish a finished run's outcome: `true` if the run is not notified yet and nobody else
    /// holds the right (or their lease ran out); this caller then holds it until `until`.
    fn claim_notification(
        &self,
        run_id: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records that the outcome was published.
    fn mark_notified(
        &self,
        run_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl Decisions for DynamoStore {
    async fn apply_decision(
        &self,
        run_id: &str,
        attempt: u32,
        facts: &StopFacts,
        decision: &Decision,
        next: &Next,
        at: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let at = &stamp(at);
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u64| AttributeValue::N(v.to_string());
        let value = |v: &serde_json::Value| {
            serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt {
                key: "(decision)".into(),
                message: e.to_string(),
            })
        };

        // The attempt: its facts and its judgement, once. Attribute names go through placeholders: several
        // (`action`, `state`, `reason`, …) are DynamoDB reserved words.
        let mut fields: Vec<(&str, AttributeValue)> = vec![
            ("state", s(AttemptEvent::Decided.to().as_str())),
            ("action", s(decision.action.as_str())),
            ("ruleId", s(&decision.rule_id)),
            ("rule", s(&decision.rule)),
            ("reason", s(&decision.reason)),
            (
                "countsAsAttempt",
                AttributeValue::Bool(decision.counts_as_attempt),
            ),
        ];
        let optional = [
            ("taskArn", facts.task_arn.as_deref().map(s)),
            ("startedAt", facts.started_at.map(|t| s(&stamp(t)))),
            ("stoppedAt", facts.stopped_at.map(|t| s(&stamp(t)))),
            ("stopCode", facts.stop_code.as_deref().map(s)),
            ("stoppedReason", facts.stopped_reason.as_deref().map(s)),
            ("eventVersion", facts.event_version.map(n)),
            ("memoryMiB", facts.size.map(|z| n(u64::from(z.memory_mib)))),
            (
                "cpu",
                facts.size.and_then(|z| z.cpu).map(|c| n(u64::from(c))),
            ),
            (
                "delaySeconds",
                decision.delay_seconds.map(|d| n(u64::from(d))),
            ),
            // Kept so that an outcome published again (its first publish interrupted) is the same message.
            ("hint", decision.verdict.hint.as_deref().map(s)),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| (name, v))),
        );
        if !facts.containers.is_empty() {
            let list =
                serde_json::to_value(&facts.containers).map_err(|e| StoreError::Corrupt {
                    key: "(containers)".into(),
                    message: e.to_string(),
                })?;
            fields.push(("containers", value(&list)?));
        }
        let next_retry_at = match next {
            Next::RetryLater(delay) => time::OffsetDateTime::from_unix_timestamp(delay.due_at)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
            _ => None,
        };
        if let Some(t) = &next_retry_at {
            fields.push(("nextRetryAt", s(t)));
        }
        let (set, mut names, mut values) = set_clause(fields);
        names.insert("#cond_state".into(), "state".into());
        let condition = format!(
            "attribute_exists(pk) AND {}",
            state_condition("#cond_state", AttemptEvent::Decided, &mut values)
        );
        let update_attempt = self.conditional_update(
            (run_pk(run_id), attempt_sk(attempt)),
            set,
            &condition,
            names,
            values,
        )?;

        // The run: moves on from this attempt only.
        let (status, current) = match next {
            Next::Close { status, .. } => (*status, attempt),
            Next::RetryNow(claim) => (RunStatus::Launching, claim.attempt),
            Next::RetryLater(_) => (RunStatus::RetryScheduled, attempt),
        };
        debug_assert_eq!(
            status,
            RunEvent::Decided(decision.action).to(),
            "the step's next move and the core's transition table agree"
        );
        let free = decision.action == reactor_core::Action::RetryNow && !decision.counts_as_attempt;
        let mut fields: Vec<(&str, AttributeValue)> = vec![
            ("attempt", n(u64::from(current))),
            ("lastAction", s(decision.action.as_str())),
            ("lastRule", s(&decision.rule)),
            ("lastRuleId", s(&decision.rule_id)),
        ];
        fields.extend(status_fields(status, at, run_id));
        if let Some(t) = &next_retry_at {
            fields.push(("nextRetryAt", s(t)));
        }
        if let Next::Close {
            notify_lease_until: Some(until),
            ..
        } = next
        {
            fields.push(("notifyLeaseUntil", n(*until as u64)));
            // Found by the sweep if the outcome is never published (`NOTIFY_DUE_SHARD`).
            fields.push(("dueShard", s(NOTIFY_DUE_SHARD)));
            fields.push(("dueAt", n(*until as u64)));
        }
        // After an OutOfMemoryError under retry.onOutOfMemory, every later attempt launches at the new size.
        if let (true, Some(size)) = (decision.action.is_retry(), decision.verdict.memory) {
            let size = serde_json::to_value(size).map_err(|e| StoreError::Corrupt {
                key: "(taskSize)".into(),
                message: e.to_string(),
            })?;
            fields.push(("taskSize", value(&size)?));
        }
        let (mut expression, mut names, mut values) = set_clause(fields);
        if free {
            expression.push_str(", #disruptions = #disruptions + :one");
            names.insert("#disruptions".into(), "disruptions".into());
            values.insert(":one".into(), n(1));
        }
        if next_retry_at.is_none() {
            expression.push_str(" REMOVE #nextRetryAt");
            names.insert("#nextRetryAt".into(), "nextRetryAt".into());
        }
        names.insert("#cond_attempt".into(), "attempt".into());
        names.insert("#cond_status".into(), "status".into());
        values.insert(":cond_n".into(), n(u64::from(attempt)));
        let condition = format!(
            "#cond_attempt = :cond_n AND {}",
            status_condition(
                "#cond_status",
                RunEvent::Decided(decision.action),
                &mut values
            )
        );
        let update_run = self.conditional_update(
            (run_pk(run_id), RUN_SK.to_owned()),
            expression,
            &condition,
            names,
            values,
        )?;

        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(update_attempt)
            .transact_items(update_run);
        match next {
            Next::Close { .. } => {}
            Next::RetryNow(claim) => {
                transaction = transaction.transact_items(self.put_new(claim.as_ref())?)
            }
            Next::RetryLater(delay) => {
                transaction = transaction.transact_items(self.put_new(delay)?)
            }
        }
        if facts.had_deadline {
            transaction = transaction.transact_items(self.delete(run_id, &deadline_sk(attempt))?);
        }
        match transaction.send().await.map_err(transaction_error) {
            Ok(_) => Ok(Applied::Applied),
            Err(e) if e.is_conditional_check_failed() => {
                if self
                    .attempt(run_id, attempt)
                    .await?
                    .is_some_and(|a| a.state == AttemptState::Decided)
                {
                    return Ok(Applied::Duplicate);
                }
                match self.run(run_id).await? {
                    Some(run) if run.attempt != attempt || !run.status.accepts_stop() => {
                        Ok(Applied::Stale)
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn mark_attempt_notified(
        &self,
        run_id: &str,
        attempt: u32,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = &stamp(at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(attempt_sk(attempt)))
            .update_expression("SET #notified = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(())
    }

    async fn claim_notification(
        &self,
        run_id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(RUN_SK.into()))
            .update_expression("SET #lease = :until, dueShard = :pending, dueAt = :until")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(#notified) AND (attribute_not_exists(#lease) OR #lease < :now)",
            )
            .expression_attribute_names("#lease", "notifyLeaseUntil")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":pending", AttributeValue::S(NOTIFY_DUE_SHARD.into()))
            .send()
            .await;
        conditional(result)
    }

    async fn mark_notified(&self, run_id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let at = &stamp(at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(run_pk(run_id)))
            .key("sk", AttributeValue::S(RUN_SK.into()))
            .update_expression("SET #notified = :at REMOVE #lease, dueShard, dueAt")
            .expression_attribute_names("#notified", "notifiedAt")
            .expression_attribute_names("#lease", "notifyLeaseUntil")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await
            .map_err(service)?;
        Ok(())
    }
}
