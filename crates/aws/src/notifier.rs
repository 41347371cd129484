//! Notifications to SNS: one versioned JSON message per event of a run (it ended, or an attempt is being
//! retried), with message attributes subscribers filter on and a subject line people can read.
//!
//! The message is a contract with code we do not see (subscribers' Lambdas, chat bots, filters), so its
//! shape is named by [`SCHEMA`] and documented in README ("Notifications"); a test compares the README's
//! sample with what [`Outcome`] serializes to. Adding an optional field keeps the schema version; renaming,
//! removing or changing the meaning of a field needs a new one.

use crate::aws_error::AwsError;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde::{Serialize, Serializer};
use std::future::Future;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The `schema` field of every message: its name and major version.
pub const SCHEMA: &str = "ecs-reactor.notification/1";

/// SNS refuses a subject of 100 characters or more ("less than 100 characters long").
pub const SUBJECT_MAX_CHARS: usize = 99;

/// What happened to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    RunSucceeded,
    RunFailed,
    RunCancelled,
    RunSkipped,
    /// An attempt failed and another one follows (now or at `nextRetryAt`); the run goes on.
    AttemptRetrying,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::RunSucceeded,
        Event::RunFailed,
        Event::RunCancelled,
        Event::RunSkipped,
        Event::AttemptRetrying,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::RunSucceeded => "RUN_SUCCEEDED",
            Event::RunFailed => "RUN_FAILED",
            Event::RunCancelled => "RUN_CANCELLED",
            Event::RunSkipped => "RUN_SKIPPED",
            Event::AttemptRetrying => "ATTEMPT_RETRYING",
        }
    }

    /// How loudly the event should reach people. A cancel is INFO: someone chose it. A skipped run is
    /// WARNING: scheduled work did not happen and nobody decided that at the time (repeated skips point at
    /// a run that does not end). A retry is WARNING: the run may still succeed, but something failed.
    pub fn severity(self) -> Severity {
        match self {
            Event::RunSucceeded | Event::RunCancelled => Severity::Info,
            Event::RunSkipped | Event::AttemptRetrying => Severity::Warning,
            Event::RunFailed => Severity::Error,
        }
    }

    /// The first word of the subject line.
    fn headline(self) -> &'static str {
        match self {
            Event::RunSucceeded => "SUCCEEDED",
            Event::RunFailed => "FAILED",
            Event::RunCancelled => "CANCELLED",
            Event::RunSkipped => "SKIPPED",
            Event::AttemptRetrying => "RETRYING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        }
    }
}

/// One notification. It serializes to the published message: these fields in camelCase, absent options
/// left out, plus `schema` and `severity` (derived from `event`, so the two cannot disagree).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub event: Event,
    pub run_id: String,
    pub job: String,
    /// The run's status at that moment: SUCCEEDED, FAILED, CANCELLED, SKIPPED, RETRY_SCHEDULED, LAUNCHING…
    pub status: String,
    /// Attempts made so far, free relaunches included.
    pub attempts: u32,
    /// The id of the rule behind the last decision, e.g. `application-exit-nonzero`, `spot-interruption`.
    pub rule_id: String,
    /// That rule, in words.
    pub rule: String,
    /// The last decision's reason.
    pub reason: String,
    pub task_arn: Option<String>,
    pub hint: Option<String>,
    /// RFC 3339: when the next attempt is due, for a delayed retry.
    pub next_retry_at: Option<String>,
    /// The memory of the next attempt, when it was raised after an OutOfMemoryError.
    pub memory_mib: Option<u32>,
}

/// The wire form of an [`Outcome`]; field order is the order in the message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    schema: &'static str,
    event: Event,
    severity: Severity,
    run_id: &'a str,
    job: &'a str,
    status: &'a str,
    attempts: u32,
    rule_id: &'a str,
    rule: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_retry_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mib: Option<u32>,
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Message {
            schema: SCHEMA,
            event: self.event,
            severity: self.severity(),
            run_id: &self.run_id,
            job: &self.job,
            status: &self.status,
            attempts: self.attempts,
            rule_id: &self.rule_id,
            rule: &self.rule,
            reason: &self.reason,
            task_arn: self.task_arn.as_deref(),
            hint: self.hint.as_deref(),
            next_retry_at: self.next_retry_at.as_deref(),
            memory_mib: self.memory_mib,
        }
        .serialize(serializer)
    }
}

impl Outcome {
    pub fn severity(&self) -> Severity {
        self.event.severity()
    }

    /// The message body as published: pretty JSON, because e-mail subscribers read it as it is.
    pub fn body(&self) -> Result<String, NotifyError> {
        serde_json::to_string_pretty(self).map_err(|e| NotifyError::Message(e.to_string()))
    }

    /// The SNS message attributes (all of type String), which subscription filter policies match on.
    pub fn message_attributes(&self) -> [(&'static str, String); 5] {
        [
            ("job", self.job.clone()),
            ("status", self.status.clone()),
            ("severity", self.severity().as_str().to_owned()),
            ("event", self.event.as_str().to_owned()),
            ("runId", self.run_id.clone()),
        ]
    }

    /// The subject line: what happened, to which job, and why, in under 100 printable ASCII characters.
    /// The variable part (the rule or reason) is what gets shortened, so the job, the count and the next
    /// attempt's time survive truncation.
    pub fn subject(&self) -> String {
        let job = printable(&self.job);
        let word = self.event.headline();
        let after = match self.attempts {
            0 => "before any attempt".to_owned(),
            1 => "after 1 attempt".to_owned(),
            n => format!("after {n} attempts"),
        };
        // The rule says why a run failed or is retried; a cancel's or a skip's reason says who or what.
        let detail = printable(match self.event {
            Event::RunFailed | Event::AttemptRetrying if !self.rule.trim().is_empty() => &self.rule,
            Event::RunCancelled | Event::RunSkipped if self.reason.trim().is_empty() => &self.rule,
            _ => &self.reason,
        });
        // (the line without the detail, the text before the detail, the text after it)
        let (bare, head, tail) = match self.event {
            Event::RunSucceeded => (
                format!("{word} {job} {after}"),
                String::new(),
                String::new(),
            ),
            Event::RunFailed | Event::RunCancelled => {
                let bare = format!("{word} {job} {after}");
                let head = format!("{bare}: ");
                (bare, head, String::new())
            }
            Event::RunSkipped => (
                format!("{word} {job}"),
                format!("{word} {job}: "),
                String::new(),
            ),
            Event::AttemptRetrying => {
                let when = match self.next_retry_at.as_deref().map(clock_time) {
                    Some(Some(at)) => format!("next at {at}"),
                    // Unparseable: the body has it as sent; the subject stays short and true.
                    Some(None) => "next attempt later".to_owned(),
                    None => "next attempt now".to_owned(),
                };
                let memory = self
                    .memory_mib
                    .map(|m| format!(" with {m} MiB"))
                    .unwrap_or_default();
                let failed = format!("{word} {job}: attempt {} failed", self.attempts);
                (
                    format!("{failed}, {when}{memory}"),
                    format!("{failed} ("),
                    format!("), {when}{memory}"),
                )
            }
        };
        match (self.event, detail.as_str()) {
            (Event::RunSucceeded, _) | (_, "") => shorten(&bare, SUBJECT_MAX_CHARS),
            (_, detail) => fit(&bare, &head, detail, &tail),
        }
    }
}

/// `HH:MM:SSZ` of an RFC 3339 time, in UTC.
fn clock_time(rfc3339: &str) -> Option<String> {
    let at = OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()?
        .to_offset(UtcOffset::UTC);
    Some(format!(
        "{:02}:{:02}:{:02}Z",
        at.hour(),
        at.minute(),
        at.second()
    ))
}

/// Text safe in a subject: SNS rejects line breaks and control characters, and ASCII keeps every mail
/// client and chat bridge honest. Control characters become spaces, other non-ASCII characters `?`, runs
/// of spaces one space. Rules and reasons come from ECS and from users' job files, so nothing is trusted.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            c if c.is_control() || c.is_whitespace() => ' ',
            c if c.is_ascii() => c,
            _ => '?',
        };
        if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

const ELLIPSIS: &str = "...";
/// Below this many characters of detail, a shortened detail says nothing; the whole line is cut instead.
const MIN_DETAIL_CHARS: usize = 12;

/// `head + detail + tail` in at most [`SUBJECT_MAX_CHARS`]: the detail shortened if that leaves enough of
/// it to mean something, else `bare` (the line without the detail, which the body still has).
fn fit(bare: &str, head: &str, detail: &str, tail: &str) -> String {
    if head.len() + detail.len() + tail.len() <= SUBJECT_MAX_CHARS {
        return format!("{head}{detail}{tail}");
    }
    let room = SUBJECT_MAX_CHARS.saturating_sub(head.len() + tail.len());
    if room >= MIN_DETAIL_CHARS + ELLIPSIS.len() {
        return format!("{head}{}{tail}", shorten(detail, room));
    }
    shorten(bare, SUBJECT_MAX_CHARS)
}

/// `text` in at most `max` bytes, ending in an ellipsis when cut: at a word boundary when one is near,
/// without a dangling separator.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut kept = &text[..cut];
    if let Some(space) = kept.rfind(' ') {
        if cut - space <= 15 {
            kept = &kept[..space];
        }
    }
    let kept = kept.trim_end_matches([' ', ',', ';', ':', '(', '-']);
    format!("{kept}{ELLIPSIS}")
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// SNS (or the way to it) failed; the kind says how. A retry of the invocation may help.
    #[error("SNS publish failed: {0}")]
    Publish(#[source] AwsError),
    /// The message could not be put together (a serializer or attribute error).
    #[error("SNS publish failed: the message could not be built: {0}")]
    Message(String),
}

pub trait Notifier: Send + Sync {
    fn notify(&self, outcome: &Outcome) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotifyError::Message(e.to_string()))
}

impl Notifier for SnsNotifier {
    async fn notify(&self, outcome: &Outcome) -> Result<(), NotifyError> {
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(outcome.subject())
            .message(outcome.body()?);
        for (name, value) in outcome.message_attributes() {
            publish = publish.message_attributes(name, attribute(&value)?);
        }
        publish
            .send()
            .await
            .map_err(|e| NotifyError::Publish(AwsError::from_sdk(e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(event: Event) -> Outcome {
        Outcome {
            event,
            run_id: "nightly-report-20261121T023000Z".into(),
            job: "nightly-report".into(),
            status: "FAILED".into(),
            attempts: 3,
            rule_id: "image-not-found".into(),
            rule: "the image or tag does not exist".into(),
            reason: "attempt 3 failed; not retried".into(),
            task_arn: None,
            hint: None,
            next_retry_at: None,
            memory_mib: None,
        }
    }

    #[test]
    fn severities() {
        #[rustfmt::skip]
        let cases = [
            (Event::RunSucceeded,    "RUN_SUCCEEDED",    Severity::Info,    "INFO"),
            (Event::RunFailed,       "RUN_FAILED",       Severity::Error,   "ERROR"),
            (Event::RunCancelled,    "RUN_CANCELLED",    Severity::Info,    "INFO"),
            (Event::RunSkipped,      "RUN_SKIPPED",      Severity::Warning, "WARNING"),
            (Event::AttemptRetrying, "ATTEMPT_RETRYING", Severity::Warning, "WARNING"),
        ];
        assert_eq!(cases.len(), Event::ALL.len());
        for (event, name, severity, word) in cases {
            assert_eq!(event.as_str(), name);
            assert_eq!(json!(event), json!(name), "serde and as_str agree");
            assert_eq!(event.severity(), severity, "{name}");
            assert_eq!(outcome(event).severity(), severity, "{name}");
            assert_eq!(severity.as_str(), word);
            assert_eq!(json!(severity), json!(word));
        }
    }

    #[test]
    fn the_message_has_the_schema_and_the_severity_and_omits_absent_options() {
        let body: serde_json::Value =
            serde_json::from_str(&outcome(Event::RunFailed).body().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "schema": "ecs-reactor.notification/1", "event": "RUN_FAILED", "severity": "ERROR",
                "runId": "nightly-report-20261121T023000Z", "job": "nightly-report", "status": "FAILED",
                "attempts": 3, "ruleId": "image-not-found", "rule": "the image or tag does not exist",
                "reason": "attempt 3 failed; not retried",
            })
        );
        let mut retry = outcome(Event::AttemptRetrying);
        retry.next_retry_at = Some("2026-11-21T15:04:30Z".into());
        retry.memory_mib = Some(2048);
        let body = json!(retry);
        assert_eq!(
            (&body["nextRetryAt"], &body["memoryMib"], &body["severity"]),
            (
                &json!("2026-11-21T15:04:30Z"),
                &json!(2048),
                &json!("WARNING")
            )
        );
    }

    #[test]
    fn attributes_carry_what_filter_policies_match() {
        let mut retry = outcome(Event::AttemptRetrying);
        retry.status = "RETRY_SCHEDULED".into();
        assert_eq!(
            retry.message_attributes().to_vec(),
            vec![
                ("job", "nightly-report".to_owned()),
                ("status", "RETRY_SCHEDULED".to_owned()),
                ("severity", "WARNING".to_owned()),
                ("event", "ATTEMPT_RETRYING".to_owned()),
                ("runId", "nightly-report-20261121T023000Z".to_owned()),
            ]
        );
    }

    #[test]
    fn subjects() {
        let long = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/report:2026.11.4: not found";
        let long_job = "j".repeat(64);
        type Case<'a> = (
            Event,
            u32,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<u32>,
            &'a str,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // event, attempts, rule, reason, next retry, memory; subject
            (Event::RunSucceeded, 1, "every essential container exited 0", "", None, None,
             "SUCCEEDED nightly-report after 1 attempt"),
            (Event::RunSucceeded, 2, "every essential container exited 0", "", None, None,
             "SUCCEEDED nightly-report after 2 attempts"),
            (Event::RunFailed, 3, "the image or tag does not exist", "attempt 3 failed; not retried", None, None,
             "FAILED nightly-report after 3 attempts: the image or tag does not exist"),
            (Event::RunFailed, 1, "", "attempt 1 failed; not retried", None, None,
             "FAILED nightly-report after 1 attempt: attempt 1 failed; not retried"),
            (Event::RunFailed, 4, "", "", None, None,
             "FAILED nightly-report after 4 attempts"),
            (Event::RunFailed, 3, long, "", None, None,
             "FAILED nightly-report after 3 attempts: CannotPullContainerError: pull image manifest has been..."),
            (Event::RunFailed, 2, "the task stopped:\nOutOfMemoryError\r\n\tcontainer app", "", None, None,
             "FAILED nightly-report after 2 attempts: the task stopped: OutOfMemoryError container app"),
            (Event::RunFailed, 2, "caf\u{e9} \u{1b}[31mred\u{7} \u{2026}", "", None, None,
             "FAILED nightly-report after 2 attempts: caf? [31mred ?"),
            (Event::RunCancelled, 2, "cancelled", "cancelled by alice", None, None,
             "CANCELLED nightly-report after 2 attempts: cancelled by alice"),
            (Event::RunCancelled, 0, "cancelled", "", None, None,
             "CANCELLED nightly-report before any attempt: cancelled"),
            (Event::RunSkipped, 0, "overlap", "the previous run is still running", None, None,
             "SKIPPED nightly-report: the previous run is still running"),
            (Event::AttemptRetrying, 1, "the host ran out of disk space", "retrying in 30 s", Some("2026-11-21T15:04:30Z"), None,
             "RETRYING nightly-report: attempt 1 failed (the host ran out of disk space), next at 15:04:30Z"),
            (Event::AttemptRetrying, 1, "an essential container exited with a non-zero code and no platform reason",
             "retrying in 30 s", Some("2026-11-21T15:04:30Z"), None,
             "RETRYING nightly-report: attempt 1 failed (an essential container exited...), next at 15:04:30Z"),
            (Event::AttemptRetrying, 1, "a Spot interruption", "", None, None,
             "RETRYING nightly-report: attempt 1 failed (a Spot interruption), next attempt now"),
            (Event::AttemptRetrying, 2, "out of memory", "", Some("2026-11-21T16:04:30+01:00"), Some(2048),
             "RETRYING nightly-report: attempt 2 failed (out of memory), next at 15:04:30Z with 2048 MiB"),
            (Event::AttemptRetrying, 2, "", "", Some("not a time"), None,
             "RETRYING nightly-report: attempt 2 failed, next attempt later"),
            (Event::AttemptRetrying, 1, long, "", Some("2026-11-21T15:04:30Z"), None,
             "RETRYING nightly-report: attempt 1 failed (CannotPullContainerError: pull...), next at 15:04:30Z"),
            (Event::AttemptRetrying, 12, long, "", Some("2026-11-21T15:04:30Z"), Some(30720),
             "RETRYING nightly-report: attempt 12 failed (CannotPullContain...), next at 15:04:30Z with 30720 MiB"),
        ];
        let mut wrong = Vec::new();
        for &(event, attempts, rule, reason, next, memory, expected) in cases {
            let mut o = outcome(event);
            (o.attempts, o.rule, o.reason) = (attempts, rule.into(), reason.into());
            (o.next_retry_at, o.memory_mib) = (next.map(Into::into), memory);
            let subject = o.subject();
            assert!(subject.len() <= SUBJECT_MAX_CHARS, "{subject}");
            if subject != expected {
                wrong.push(format!("{event:?} {rule:?} {reason:?}\n  got      {subject:?}\n  expected {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));

        // A long job name leaves too little room for a detail worth reading: the line goes without it.
        let mut o = outcome(Event::AttemptRetrying);
        (o.job, o.attempts, o.rule) = ("billing-export-eu-west-1-daily".into(), 12, long.into());
        (o.next_retry_at, o.memory_mib) = (Some("2026-11-21T15:04:30Z".into()), Some(30720));
        assert_eq!(
            o.subject(),
            "RETRYING billing-export-eu-west-1-daily: attempt 12 failed, next at 15:04:30Z with 30720 MiB"
        );

        // A job name at its longest leaves no room for the detail: the whole line is cut.
        let mut o = outcome(Event::AttemptRetrying);
        (o.job, o.rule, o.memory_mib) = (long_job.clone(), long.into(), Some(30720));
        o.next_retry_at = Some("2026-11-21T15:04:30Z".into());
        let subject = o.subject();
        assert!(subject.len() <= SUBJECT_MAX_CHARS, "{subject}");
        assert_eq!(subject, format!("RETRYING {long_job}: attempt 3 failed..."));
    }

    #[test]
    fn every_subject_is_printable_ascii_under_100_characters() {
        let nasty = "\u{0}\u{7f}\u{85}\u{2028}x\u{feff}é漢字🙂\n\r\t ".repeat(20);
        for event in Event::ALL {
            for attempts in [0, 1, 7, u32::MAX] {
                let mut o = outcome(event);
                (o.attempts, o.rule, o.reason, o.job) =
                    (attempts, nasty.clone(), nasty.clone(), nasty.clone());
                (o.next_retry_at, o.memory_mib) = (Some(nasty.clone()), Some(u32::MAX));
                let subject = o.subject();
                assert!(subject.len() < 100, "{subject}");
                assert!(
                    subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
                    "{subject:?}"
                );
                assert!(subject.starts_with(event.headline()), "{subject}");
            }
        }
    }
}
