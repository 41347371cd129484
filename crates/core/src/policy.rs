//! The retry policy: how many attempts, how long between them, and the job's own rules.
//!
//! Field names follow the Step Functions Retrier (`maxAttempts`, `intervalSeconds`, `backoffRate`,
//! `maxDelaySeconds`, `jitter`) and rules follow AWS Batch `evaluateOnExit` (`onExitCode`, `onStatusReason`,
//! `onReason`), so that users migrating from either can paste what they know.

use crate::event::StopCode;
use crate::glob::Glob;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What to do about a stopped task (or a launch that did not start one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Succeed,
    RetryNow,
    RetryLater,
    Fail,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Succeed,
        Action::RetryNow,
        Action::RetryLater,
        Action::Fail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Succeed => "SUCCEED",
            Action::RetryNow => "RETRY_NOW",
            Action::RetryLater => "RETRY_LATER",
            Action::Fail => "FAIL",
        }
    }

    pub fn parse(s: &str) -> Result<Action, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                // Users arrive from AWS Batch (RETRY / EXIT) and Step Functions; point them at our words.
                let hint = match s.to_ascii_uppercase().as_str() {
                    "RETRY" => " (AWS Batch's RETRY is RETRY_LATER here)",
                    "EXIT" => " (AWS Batch's EXIT is FAIL here)",
                    "SUCCESS" | "SUCCEEDED" | "OK" => " (did you mean SUCCEED?)",
                    "FAILED" | "FAILURE" => " (did you mean FAIL?)",
                    _ => "",
                };
                format!("must be one of SUCCEED, RETRY_NOW, RETRY_LATER, FAIL (got {s:?}){hint}")
            })
    }

    pub fn is_retry(self) -> bool {
        matches!(self, Action::RetryNow | Action::RetryLater)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Action::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Action {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Action".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["SUCCEED", "RETRY_NOW", "RETRY_LATER", "FAIL"],
            "description": "what follows: the run succeeds, the next attempt launches now or after the backoff, or the run fails"
        })
    }
}

/// How the backoff delay is spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Jitter {
    /// Uniform in `[0, delay]` ("full jitter"): retries of many runs hit by one outage do not arrive together.
    #[default]
    Full,
    /// Exactly the computed delay.
    None,
}

/// The retry policy of a job, as written in its `retry` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Counted attempts in all, the first included. Disruptions (capacity taken away) do not count.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// Delay before the second attempt.
    #[serde(default = "defaults::interval_seconds")]
    pub interval_seconds: u32,
    /// Factor applied to the delay for each further attempt.
    #[serde(default = "defaults::backoff_rate")]
    pub backoff_rate: f64,
    /// Upper bound of any delay.
    #[serde(default = "defaults::max_delay_seconds")]
    pub max_delay_seconds: u32,
    #[serde(default)]
    pub jitter: Jitter,
    /// Free relaunches after disruptions (Spot, host loss, maintenance) before they start to count as
    /// attempts: a run on a Spot pool that keeps being reclaimed must still come to an end.
    #[serde(default = "defaults::max_disruptions")]
    pub max_disruptions: u32,
    /// Consecutive attempts ended by the same fall-back failure (same rule, same reason with ids and numbers
    /// aside) after which the run is not retried (`repeated-failure`); 0 turns it off.
    #[serde(default = "defaults::same_failure_limit")]
    pub same_failure_limit: u32,
    /// The job's rules, consulted in order before the built-in table; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What follows an attempt stopped for running past `timeoutSeconds` (default FAIL: a job that hung once
    /// usually hangs again, and each try costs the whole timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<Action>,
    /// Retry an attempt killed for memory with more memory instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_out_of_memory: Option<crate::memory::MemoryEscalation>,
}

pub(crate) mod defaults {
    pub fn max_attempts() -> u32 {
        3
    }
    pub fn interval_seconds() -> u32 {
        30
    }
    pub fn backoff_rate() -> f64 {
        2.0
    }
    pub fn max_delay_seconds() -> u32 {
        900
    }
    pub fn max_disruptions() -> u32 {
        5
    }
    pub fn same_failure_limit() -> u32 {
        2
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: defaults::max_attempts(),
            interval_seconds: defaults::interval_seconds(),
            backoff_rate: defaults::backoff_rate(),
            max_delay_seconds: defaults::max_delay_seconds(),
            jitter: Jitter::Full,
            max_disruptions: defaults::max_disruptions(),
            same_failure_limit: defaults::same_failure_limit(),
            rules: Vec::new(),
            on_timeout: None,
            on_out_of_memory: None,
        }
    }
}

/// Limits of the policy's numbers. Wide enough for any real job, narrow enough that a typo (`maxAttempts:
/// 1000`) is caught before it costs a thousand task launches.
pub mod limits {
    pub const MAX_ATTEMPTS: u32 = 100;
    pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
    pub const MAX_BACKOFF_RATE: f64 = 10.0;
    /// Seven days: a delayed retry later than that is a new run, not a retry.
    pub const MAX_DELAY_SECONDS: u32 = 604_800;
    pub const MAX_DISRUPTIONS: u32 = 100;
    /// `retry.sameFailureLimit`: 0 (off) or from 2 (1 would not retry at all: a job rule with FAIL says that).
    pub const MAX_SAME_FAILURE_LIMIT: u32 = 100;
    pub const MAX_RULES: usize = 25;
    pub const MAX_PATTERN_LEN: usize = 512;
}

impl RetryPolicy {
    /// What follows an attempt stopped at `timeoutSeconds`: `onTimeout`, FAIL when not given.
    pub fn on_timeout(&self) -> Action {
        self.on_timeout.unwrap_or(Action::Fail)
    }

    /// Checks the numbers and rules, appending one message per problem to `problems`, each naming the field
    /// under `prefix` (e.g. `retry.`).
    pub fn validate(&self, prefix: &str, problems: &mut Vec<String>) {
        use limits::*;
        let mut range = |field: &str, value: u32, min: u32, max: u32| {
            if value < min || value > max {
                problems.push(format!(
                    "{prefix}{field} must be between {min} and {max} (got {value})"
                ));
            }
        };
        range("maxAttempts", self.max_attempts, 1, MAX_ATTEMPTS);
        range(
            "intervalSeconds",
            self.interval_seconds,
            1,
            MAX_INTERVAL_SECONDS,
        );
        range(
            "maxDelaySeconds",
            self.max_delay_seconds,
            1,
            MAX_DELAY_SECONDS,
        );
        range("maxDisruptions", self.max_disruptions, 0, MAX_DISRUPTIONS);
        if self.same_failure_limit != 0 {
            range(
                "sameFailureLimit",
                self.same_failure_limit,
                2,
                MAX_SAME_FAILURE_LIMIT,
            );
        }
        if self.backoff_rate.is_nan() || self.backoff_rate < 1.0 {
            problems.push(format!(
                "{prefix}backoffRate must be >= 1.0 (got {})",
                self.backoff_rate
            ));
        } else if self.backoff_rate > MAX_BACKOFF_RATE {
            problems.push(format!(
                "{prefix}backoffRate must be <= {MAX_BACKOFF_RATE} (got {})",
                self.backoff_rate
            ));
        }
        if self.rules.len() > MAX_RULES {
            problems.push(format!(
                "{prefix}rules may hold at most {MAX_RULES} rules (got {})",
                self.rules.len()
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate(&format!("{prefix}rules[{i}]."), problems);
        }
        if self.on_timeout == Some(Action::Succeed) {
            problems.push(format!(
                "{prefix}onTimeout must be RETRY_NOW, RETRY_LATER or FAIL (got SUCCEED: a task stopped for its deadline did not finish)"
            ));
        }
        if let Some(m) = &self.on_out_of_memory {
            m.validate(&format!("{prefix}onOutOfMemory."), problems);
        }
    }

    /// The delay before the attempt after counted attempt `n` (1-based), before jitter:
    /// `intervalSeconds × backoffRate^(n−1)`, capped by `maxDelaySeconds`.
    pub fn backoff_seconds(&self, n: u32) -> u32 {
        let exponent = n.saturating_sub(1).min(i32::MAX as u32) as i32;
        let raw = f64::from(self.interval_seconds) * self.backoff_rate.powi(exponent);
        // `raw` may be +inf for large n; `min` keeps it finite and the cast saturates.
        raw.min(f64::from(self.max_delay_seconds)).floor() as u32
    }

    /// The delay with jitter applied; `fraction` (from an injected source) is clamped to `[0, 1]`.
    pub fn delay_seconds(&self, n: u32, fraction: f64) -> u32 {
        let ceiling = self.backoff_seconds(n);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                let f = if fraction.is_nan() {
                    1.0
                } else {
                    fraction.clamp(0.0, 1.0)
                };
                (f64::from(ceiling) * f).round() as u32
            }
        }
    }
}

/// One rule of the job: conditions (all must hold) and the action to take when they do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Glob on the decimal exit code of a failed essential container (`"1"`, `"13*"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit_code: Option<Glob>,
    /// Glob on the task's `stoppedReason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_status_reason: Option<Glob>,
    /// Glob on a failed essential container's `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_reason: Option<Glob>,
    /// Glob on the task's `stopCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stop_code: Option<Glob>,
    /// Restricts `onExitCode`/`onReason` to this container (essential or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub action: Action,
}

impl Rule {
    fn validate(&self, prefix: &str, problems: &mut Vec<String>) {
        let patterns = [
            ("onExitCode", &self.on_exit_code),
            ("onStatusReason", &self.on_status_reason),
            ("onReason", &self.on_reason),
            ("onStopCode", &self.on_stop_code),
        ];
        if patterns.iter().all(|(_, p)| p.is_none()) {
            problems.push(format!(
                "{}: a rule needs at least one of onExitCode, onStatusReason, onReason, onStopCode",
                prefix.trim_end_matches('.')
            ));
        }
        for (field, pattern) in patterns {
            if let Some(p) = pattern {
                if p.as_str().is_empty() {
                    problems.push(format!("{prefix}{field} must not be empty"));
                } else if p.as_str().len() > limits::MAX_PATTERN_LEN {
                    problems.push(format!(
                        "{prefix}{field} must be at most {} characters",
                        limits::MAX_PATTERN_LEN
                    ));
                }
            }
        }
        if let Some(p) = &self.on_exit_code {
            if let Some(problem) = crate::exit_codes::problem(p.as_str()) {
                problems.push(format!(
                    "{prefix}onExitCode: {problem}; write numbers (\"1\", \"-1\"), ranges (\"1-5\"), patterns (\"13*\"), comma separated"
                ));
            }
        }
        if let Some(p) = &self.on_stop_code {
            // A misspelled stop code would silently never match (a complaint about the Step Functions
            // designs): a literal must be a code we know, anything newer needs a glob.
            let s = p.as_str();
            if !s.contains('*') && !StopCode::KNOWN.contains(&s) {
                problems.push(format!(
                    "{prefix}onStopCode {s:?} is not a known stop code (known: {}); use a glob such as \"Infra*\" for a code ecs-reactor does not know yet",
                    StopCode::KNOWN.join(", ")
                ));
            }
        }
        if let Some(c) = &self.container {
            if c.is_empty() {
                problems.push(format!("{prefix}container must not be empty"));
            }
            if self.on_exit_code.is_none() && self.on_reason.is_none() {
                problems.push(format!(
                    "{prefix}container needs onExitCode or onReason to apply to"
                ));
            }
        }
    }

    /// The rule in one line, as written: `onExitCode "2" → RETRY_NOW`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |name: &str, p: &Option<Glob>| {
            if let Some(p) = p {
                parts.push(format!("{name} {:?}", p.as_str()));
            }
        };
        push("onExitCode", &self.on_exit_code);
        push("onStatusReason", &self.on_status_reason);
        push("onReason", &self.on_reason);
        push("onStopCode", &self.on_stop_code);
        if let Some(c) = &self.container {
            parts.push(format!("container {c:?}"));
        }
        format!("{} → {}", parts.join(", "), self.action)
    }
}

impl Serialize for Glob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Glob::new(&s))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Glob {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "a pattern where * matches anything (case-sensitive), anchored at both ends"
        })
    }
}

/// A source of randomness for jitter: a number in `[0, 1]`. Injected so that decisions are reproducible in
/// tests and in `ecs-reactor explain`.
pub trait JitterSource {
    fn fraction(&mut self) -> f64;
}

/// Always the upper bound: the delay without jitter. What `explain` shows.
pub struct UpperBound;

impl JitterSource for UpperBound {
    fn fraction(&mut self) -> f64 {
        1.0
    }
}

/// SplitMix64: a small, well-distributed generator, seeded by the caller (e.g. from the request id and
/// clock), so the core needs no random-number crate.
pub struct SplitMix64(pub u64);

impl JitterSource for SplitMix64 {
    fn fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits → [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(interval: u32, rate: f64, cap: u32, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            interval_seconds: interval,
            backoff_rate: rate,
            max_delay_seconds: cap,
            jitter,
            ..Default::default()
        }
    }

    #[test]
    fn backoff_table() {
        #[rustfmt::skip]
        let cases: &[(u32, f64, u32, u32, u32)] = &[
            // interval, rate, cap, n, expected
            (30, 2.0, 900, 1, 30),
            (30, 2.0, 900, 2, 60),
            (30, 2.0, 900, 3, 120),
            (30, 2.0, 900, 6, 900),   // 960 capped
            (30, 2.0, 900, 1000, 900),
            (30, 1.0, 900, 50, 30),
            (10, 1.5, 3600, 3, 22),   // 22.5 floored
            (1, 10.0, 604_800, u32::MAX, 604_800),
            (86_400, 10.0, 5, 1, 5),  // cap below the interval wins
        ];
        for &(interval, rate, cap, n, want) in cases {
            assert_eq!(
                policy(interval, rate, cap, Jitter::None).backoff_seconds(n),
                want,
                "{interval} {rate} {cap} n={n}"
            );
        }
    }

    #[test]
    fn jitter_uses_the_injected_fraction() {
        let p = policy(30, 2.0, 900, Jitter::Full);
        assert_eq!(p.delay_seconds(2, 0.0), 0);
        assert_eq!(p.delay_seconds(2, 0.5), 30);
        assert_eq!(p.delay_seconds(2, 1.0), 60);
        assert_eq!(p.delay_seconds(2, 7.0), 60);
        assert_eq!(p.delay_seconds(2, f64::NAN), 60);
        assert_eq!(policy(30, 2.0, 900, Jitter::None).delay_seconds(2, 0.0), 60);
    }

    #[test]
    fn split_mix_is_deterministic_and_in_range() {
        let (mut a, mut b) = (SplitMix64(42), SplitMix64(42));
        for _ in 0..1000 {
            let x = a.fraction();
            assert_eq!(x, b.fraction());
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn action_errors_point_migrants_to_our_words() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("RETRY_LATER", None),
            ("RETRY", Some("AWS Batch's RETRY is RETRY_LATER here")),
            ("EXIT", Some("AWS Batch's EXIT is FAIL here")),
            ("retry_now", Some("got \"retry_now\"")),
            ("SUCCESS", Some("did you mean SUCCEED?")),
        ];
        for &(input, want) in cases {
            match (Action::parse(input), want) {
                (Ok(_), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{input}: {e}"),
                (got, _) => panic!("{input}: unexpected {got:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn never_above_the_cap(interval in 1u32..=86_400, rate in 1.0f64..=10.0, cap in 1u32..=604_800, n in 1u32..=200, f in 0.0f64..=1.0) {
            let p = policy(interval, rate, cap, Jitter::Full);
            prop_assert!(p.backoff_seconds(n) <= cap);
            prop_assert!(p.delay_seconds(n, f) <= cap);
        }

        #[test]
        fn monotone_before_jitter(interval in 1u32..=86_400, rate in 1.0f64..=10.0, cap in 1u32..=604_800, n in 1u32..=200) {
            let p = policy(interval, rate, cap, Jitter::None);
            prop_assert!(p.backoff_seconds(n) <= p.backoff_seconds(n + 1));
            prop_assert!(p.backoff_seconds(1) == interval.min(cap));
        }

        #[test]
        fn jitter_within_bounds(interval in 1u32..=86_400, rate in 1.0f64..=10.0, cap in 1u32..=604_800, n in 1u32..=200, seed: u64) {
            let p = policy(interval, rate, cap, Jitter::Full);
            let f = SplitMix64(seed).fraction();
            let d = p.delay_seconds(n, f);
            prop_assert!(d <= p.backoff_seconds(n));
            prop_assert!(f64::from(d) >= (f64::from(p.backoff_seconds(n)) * f).floor());
        }
    }
}
