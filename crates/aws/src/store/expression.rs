//! Condition and update expressions: every status or state condition derived from the core's transition table.

use super::dynamo::service;
use super::StoreError;
use crate::records::status_change;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use reactor_core::run::RunStatus;
use reactor_core::transition::{AttemptEvent, RunEvent};
use std::collections::HashMap;

/// `<name> IN (:cond_status0, …)`: the statuses `event` may move a run from, as the core's transition table
/// says; their values are added to `values`. Every status condition on a run is written by this function.
pub(super) fn status_condition(
    name: &str,
    event: RunEvent,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    one_of(
        name,
        ":cond_status",
        event.from().iter().map(|s| s.as_str()),
        values,
    )
}

/// `<name> IN (:cond_state0, …)`: the states `event` may move an attempt from, as the core's table says.
pub(super) fn state_condition(
    name: &str,
    event: AttemptEvent,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    one_of(
        name,
        ":cond_state",
        event.from().iter().map(|s| s.as_str()),
        values,
    )
}

/// `<name> IN (<placeholder>0, …)` for `allowed`, their values added to `values`.
pub(super) fn one_of(
    name: &str,
    placeholder: &str,
    allowed: impl Iterator<Item = &'static str>,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    let placeholders: Vec<String> = allowed
        .enumerate()
        .map(|(i, value)| {
            let key = format!("{placeholder}{i}");
            values.insert(key.clone(), AttributeValue::S(value.to_owned()));
            key
        })
        .collect();
    format!("{name} IN ({})", placeholders.join(", "))
}

/// A conditional UpdateItem's result as "did the condition hold".
pub(super) fn conditional<O, R: std::fmt::Debug + Send + Sync + 'static>(
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(service(e)),
    }
}

/// `SET #f0 = :v0, #f1 = :v1, …` with its name and value maps: every attribute through a placeholder, so
/// reserved words (`action`, `state`, `status`, `reason`, …) need no special care.
pub(super) fn set_clause(
    fields: Vec<(&str, AttributeValue)>,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let parts: Vec<String> = fields
        .into_iter()
        .enumerate()
        .map(|(i, (name, value))| {
            names.insert(format!("#f{i}"), name.to_owned());
            values.insert(format!(":v{i}"), value);
            format!("#f{i} = :v{i}")
        })
        .collect();
    (format!("SET {}", parts.join(", ")), names, values)
}

/// A run's status change (`records::status_change`: status, updatedAt, its `byStatus` keys) as `set_clause` fields.
pub(super) fn status_fields(
    status: RunStatus,
    at: &str,
    run_id: &str,
) -> impl Iterator<Item = (&'static str, AttributeValue)> {
    status_change(status, at, run_id)
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
}
