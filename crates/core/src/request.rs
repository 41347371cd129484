//! What starts a run: a job request invoked directly, a schedule rule's tick carrying one, or a registered
//! job's tick (the job's name and the scheduled time, from its EventBridge Scheduler schedule), and the run
//! id each names. Parsing and validation happen here, before anything is written; the starter Lambda reads
//! its input through [`starter_input`], the CLI's `start` through [`start_request`].

use crate::job::{JobError, JobRequest};
use crate::run::{request_run_id, run_id, RunIdError};
use serde_json::Value;
use time::OffsetDateTime;

/// How far ahead of the clock a tick's time may be (clock skew between EventBridge and the function).
pub const TICK_EARLY_TOLERANCE_SECONDS: i64 = 300;

/// Why an input cannot start a run; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request is not a job request ecs-reactor can run.
    #[error("{0}")]
    InvalidJob(#[from] JobError),
    #[error("scheduled event: {0}")]
    InvalidSchedule(String),
    #[error(transparent)]
    RunId(#[from] RunIdError),
}

/// A job request and the run id it runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    pub job: JobRequest,
    pub run_id: String,
    /// The tick's time, for a run a schedule started (the same for every retry: what the container is told
    /// as its scheduled time); `None` for a direct request.
    pub scheduled_at: Option<OffsetDateTime>,
}

/// The key of a registered job's tick: `{"scheduledJob": "<job>", "scheduledTime": "<time>"}`, what the
/// job's EventBridge Scheduler schedule sends (`<aws.scheduler.scheduled-time>`). No job request has it.
pub const TICK_JOB_FIELD: &str = "scheduledJob";
pub const TICK_TIME_FIELD: &str = "scheduledTime";

/// A registered job's tick: the job's spec is read from the registry, the run id is the job and the tick's
/// time (as a schedule rule's tick names it), so Scheduler's own retry of a tick starts nothing new.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredTick {
    pub job: String,
    pub run_id: String,
    pub scheduled_at: OffsetDateTime,
}

/// What the starter was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum StarterInput {
    /// A job request, direct or carried by a schedule rule's tick.
    Request(Box<StartRequest>),
    /// A registered job's tick.
    Tick(RegisteredTick),
}

/// Reads the starter's input: a registered job's tick, else what [`start_request`] reads.
pub fn starter_input(
    payload: Value,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<StarterInput, RequestError> {
    if payload.get(TICK_JOB_FIELD).is_none() {
        return start_request(payload, request_id, now).map(|r| StarterInput::Request(Box::new(r)));
    }
    let bad = |m: String| RequestError::InvalidSchedule(m);
    let Some(fields) = payload.as_object() else {
        return Err(bad("a tick is a JSON object".into()));
    };
    // Field names only: a value is never repeated back (a mistyped request may carry secrets).
    if let Some(unknown) = fields
        .keys()
        .find(|k| *k != TICK_JOB_FIELD && *k != TICK_TIME_FIELD)
    {
        return Err(bad(format!(
            "unknown field {unknown:?}: a registered job's tick has only {TICK_JOB_FIELD:?} and {TICK_TIME_FIELD:?} (a job request has no {TICK_JOB_FIELD:?})"
        )));
    }
    let job = fields
        .get(TICK_JOB_FIELD)
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad(format!("{TICK_JOB_FIELD} must be the job's name")))?;
    let time = fields
        .get(TICK_TIME_FIELD)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(format!(
                "no {TICK_TIME_FIELD:?}: the scheduled time names the run (the schedule's input sets it to <aws.scheduler.scheduled-time>)"
            ))
        })?;
    let at = tick_time(time, now)?;
    Ok(StarterInput::Tick(RegisteredTick {
        job: job.to_owned(),
        run_id: run_id(job, at, None)?,
        scheduled_at: at,
    }))
}

/// A tick's time, checked: RFC 3339, and not from the future. A scheduler delivers a tick at or after its
/// time; one from the future is not a tick: invoked directly with a forged or mistyped time, it would take
/// that tick's run id and the real tick would never run.
fn tick_time(time: &str, now: OffsetDateTime) -> Result<OffsetDateTime, RequestError> {
    let at = OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).map_err(
        |e| RequestError::InvalidSchedule(format!("time {time:?} is not RFC 3339: {e}")),
    )?;
    let early = (at - now).whole_seconds();
    if early > TICK_EARLY_TOLERANCE_SECONDS {
        return Err(RequestError::InvalidSchedule(format!(
            "time {time} is {early} s in the future: a schedule delivers a tick at or after its time, so this is no tick (it would take that tick's run)"
        )));
    }
    Ok(at)
}

/// Reads the input: a scheduled event carrying a job, or a job. Validation happens here, before anything
/// is written.
pub fn start_request(
    payload: Value,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<StartRequest, RequestError> {
    let is_schedule = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if is_schedule {
        let time = payload.get("time").and_then(Value::as_str).ok_or_else(|| {
            RequestError::InvalidSchedule("no \"time\": the scheduled time names the run".into())
        })?;
        let at = tick_time(time, now)?;
        let detail = payload
            .get("detail")
            .cloned()
            .filter(|d| d.as_object().is_some_and(|o| !o.is_empty()))
            .ok_or_else(|| {
                RequestError::InvalidSchedule(
                    "\"detail\" must be the job request (set by the schedule rule's input transformer)".into(),
                )
            })?;
        let job = JobRequest::from_value(detail)?;
        let run_id = run_id(&job.job, at, None)?;
        return Ok(StartRequest {
            job,
            run_id,
            scheduled_at: Some(at),
        });
    }
    let job = JobRequest::from_value(payload)?;
    let run_id = request_run_id(&job.job, request_id)?;
    Ok(StartRequest {
        job,
        run_id,
        scheduled_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-11-21 02:30:05 UTC);

    const JOB: &str = r#"{"job":"nightly","runTask":{"taskDefinition":"report:7"}}"#;

    fn schedule(time: &str, detail: &str) -> Value {
        serde_json::from_str(&format!(
            r#"{{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","time":{time},"resources":[],"detail":{detail}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn run_ids_come_from_the_schedule_or_the_request() {
        let direct = start_request(serde_json::from_str(JOB).unwrap(), "req-1", NOW).unwrap();
        let retried = start_request(serde_json::from_str(JOB).unwrap(), "req-1", NOW).unwrap();
        assert_eq!(
            direct.run_id,
            format!("nightly-{}", crate::run::discriminator("req-1"))
        );
        assert_eq!(
            direct.run_id, retried.run_id,
            "a retried invocation (minutes later, same request id) names the same run"
        );
        let tick = start_request(schedule("\"2026-11-21T02:30:00Z\"", JOB), "req-2", NOW).unwrap();
        assert_eq!(
            tick.run_id, "nightly-20261121T023000Z",
            "the scheduled time, not the clock"
        );
        let again = start_request(schedule("\"2026-11-21T02:30:00Z\"", JOB), "req-3", NOW).unwrap();
        assert_eq!(
            tick.run_id, again.run_id,
            "a duplicated tick names the same run"
        );
        // Up to five minutes ahead of the clock is skew, not a forgery.
        let skewed =
            start_request(schedule("\"2026-11-21T02:35:00Z\"", JOB), "req-4", NOW).unwrap();
        assert_eq!(skewed.run_id, "nightly-20261121T023500Z");
    }

    #[test]
    fn bad_input_is_named() {
        #[rustfmt::skip]
        let cases: &[(Value, &str, &str)] = &[
            (schedule("\"yesterday\"", JOB), "InvalidSchedule", "time \"yesterday\" is not RFC 3339"),
            (schedule("null", JOB), "InvalidSchedule", "no \"time\""),
            (schedule("\"2026-11-21T03:00:00Z\"", JOB), "InvalidSchedule", "is 1795 s in the future"),
            (schedule("\"2026-11-21T02:30:00Z\"", "{}"), "InvalidSchedule", "\"detail\" must be the job request"),
            (schedule("\"2026-11-21T02:30:00Z\"", r#"{"job":"x"}"#), "InvalidJob", "runTask"),
            (serde_json::json!({"job": "n", "runTask": {"taskDefinition": "t"}, "retry": {"maxAttempt": 3}}), "InvalidJob", "did you mean maxAttempts"),
            (serde_json::json!([1, 2]), "InvalidJob", "a job request is a JSON object, found a list"),
        ];
        for (payload, error_type, message) in cases {
            let e = start_request(payload.clone(), "r", NOW).unwrap_err();
            assert_eq!(kind(&e), *error_type, "{payload}");
            assert!(e.to_string().contains(message), "{payload}: {e}");
        }
    }

    #[test]
    fn a_registered_jobs_tick_names_the_job_and_the_time() {
        let tick = |v: Value| starter_input(v, "req", NOW);
        let StarterInput::Tick(t) = tick(
            serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "2026-11-21T02:30:00Z"}),
        )
        .unwrap() else {
            panic!("not a tick")
        };
        assert_eq!(
            t.run_id, "nightly-20261121T023000Z",
            "the tick's time, as a schedule rule's tick names it"
        );
        assert_eq!(t.job, "nightly");
        // A tick in a zone's offset names the same instant.
        let StarterInput::Tick(berlin) = tick(serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "2026-11-21T03:30:00+01:00"})).unwrap() else {
            panic!("not a tick")
        };
        assert_eq!(berlin.run_id, t.run_id);
        assert!(
            matches!(
                tick(serde_json::from_str(JOB).unwrap()).unwrap(),
                StarterInput::Request(_)
            ),
            "a job request is not a tick"
        );
        #[rustfmt::skip]
        let refused: &[(Value, &str)] = &[
            (serde_json::json!({"scheduledJob": "nightly"}), "no \"scheduledTime\""),
            (serde_json::json!({"scheduledJob": "", "scheduledTime": "2026-11-21T02:30:00Z"}), "scheduledJob must be the job's name"),
            (serde_json::json!({"scheduledJob": 7, "scheduledTime": "2026-11-21T02:30:00Z"}), "scheduledJob must be the job's name"),
            (serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "2026-11-21T04:30:00Z"}), "in the future"),
            (serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "soon"}), "not RFC 3339"),
            (serde_json::json!({"scheduledJob": "nightly", "scheduledTime": "2026-11-21T02:30:00Z", "runTask": {"overrides": "SECRET-MARKER"}}), "unknown field \"runTask\""),
            (serde_json::json!({"scheduledJob": "no spaces", "scheduledTime": "2026-11-21T02:30:00Z"}), "would not fit startedBy"),
        ];
        for (payload, message) in refused {
            let e = tick(payload.clone()).unwrap_err().to_string();
            assert!(e.contains(message), "{payload}: {e}");
            assert!(!e.contains("SECRET-MARKER"), "{e}");
        }
    }

    fn kind(e: &RequestError) -> &'static str {
        match e {
            RequestError::InvalidJob(_) => "InvalidJob",
            RequestError::InvalidSchedule(_) => "InvalidSchedule",
            RequestError::RunId(_) => "RunId",
        }
    }
}
