//! Configuration, read once per Lambda container from the environment into a typed [`Config`], and the AWS
//! clients built from it.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `REACTOR_TABLE` | the attempts table | required |
//! | `REACTOR_TOPIC_ARN` | the SNS topic for outcomes | required |
//! | `REACTOR_NAMESPACE` | the stack's namespace: its tasks' `startedBy` prefix and its metrics' namespace | `ecs-reactor` |
//! | `REACTOR_OVERRIDES_KEY` | the KMS key (ARN, id or `alias/…`) that seals jobs' override values at rest | none: stored as given, with a warning |
//! | `REACTOR_SWEEP_SHARDS` | partitions of the overdue-delay index (writers and sweep must agree) | 4 |
//! | `REACTOR_CALL_TIMEOUT_MS` | one AWS call, retries included | 8000 |
//! | `REACTOR_ATTEMPT_TIMEOUT_MS` | one try of an AWS call | 3000 |
//! | `REACTOR_LAUNCH_LEASE_SECONDS` | how long a launch is its claimer's before the sweep may resume it | 120 |
//! | `REACTOR_ALLOWED_TASK_FAMILIES` | task-definition families a job may run, comma-separated | any (IAM decides) |
//! | `REACTOR_ALLOWED_CLUSTERS` | clusters a job may run in, comma-separated names | any (IAM decides) |
//! | `REACTOR_ALLOW_ROLE_OVERRIDES` | `true` lets a job set `overrides.taskRoleArn` / `executionRoleArn` | `false` |
//!
//! The Rust SDK has no read timeout by default: without these, a stalled endpoint holds a handler until the
//! Lambda timeout. Keep `REACTOR_CALL_TIMEOUT_MS` well below the function timeout.

use crate::flow::{Reactor, Settings};
use crate::launcher::EcsLauncher;
use crate::notifier::SnsNotifier;
use crate::store::DynamoStore;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use reactor_core::guard::{Allowed, Guard};
use reactor_core::Namespace;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table: String,
    pub topic_arn: String,
    pub namespace: Namespace,
    /// The KMS key that seals override values at rest (`crate::vault`).
    pub overrides_key: Option<String>,
    /// The queue that delivers a delayed retry at its due second (`crate::retry_queue`).
    pub retry_queue_url: Option<String>,
    pub call_timeout: Duration,
    pub attempt_timeout: Duration,
    pub settings: Settings,
    pub guard: Guard,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: the function needs it (see template.yml)")]
    Missing(&'static str),
    #[error("{name} must be {expected} (got {value:?})")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Config::from_env`], reading variables through `lookup` (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str,
                      default: u64,
                      min: u64,
                      max: u64|
         -> Result<u64, ConfigError> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                    None => Ok(default),
                    Some(v) => v
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or(ConfigError::Invalid {
                            name,
                            expected: match name {
                                "REACTOR_SWEEP_SHARDS" => "a whole number from 1 to 64",
                                "REACTOR_LAUNCH_LEASE_SECONDS" => {
                                    "a whole number of seconds from 30 to 3600"
                                }
                                "REACTOR_RECONCILE_AFTER_SECONDS" => {
                                    "a whole number of seconds from 60 to 86400"
                                }
                                "REACTOR_RECONCILE_BATCH" => "a whole number from 1 to 1000",
                                "REACTOR_LAUNCH_RATE" => "a whole number of calls a second from 1 to 1000",
                                "REACTOR_SWEEP_BUDGET_SECONDS" => {
                                    "a whole number of seconds from 1 to 600, below the function's timeout"
                                }
                                "REACTOR_SWEEP_LOOKAHEAD_SECONDS" => {
                                    "a whole number of seconds from 0 (fire only what is due) to 600"
                                }
                                _ => "a whole number of milliseconds from 100 to 600000",
                            },
                            value: v,
                        }),
                }
        };
        let defaults = Settings::default();
        let role_overrides = match lookup("REACTOR_ALLOW_ROLE_OVERRIDES")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "REACTOR_ALLOW_ROLE_OVERRIDES",
                    expected: "true or false",
                    value: lookup("REACTOR_ALLOW_ROLE_OVERRIDES").unwrap_or_default(),
                })
            }
        };
        let namespace = match lookup("REACTOR_NAMESPACE").filter(|v| !v.trim().is_empty()) {
            None => Namespace::default(),
            Some(v) => Namespace::new(v.trim()).map_err(|_| ConfigError::Invalid {
                name: "REACTOR_NAMESPACE",
                expected: "1 to 20 letters, digits, '-' or '_'",
                value: v,
            })?,
        };
        let call = number("REACTOR_CALL_TIMEOUT_MS", 8_000, 100, 600_000)?;
        let attempt = number("REACTOR_ATTEMPT_TIMEOUT_MS", 3_000, 100, 600_000)?;
        Ok(Config {
            table: required("REACTOR_TABLE")?,
            topic_arn: required("REACTOR_TOPIC_ARN")?,
            namespace,
            overrides_key: lookup("REACTOR_OVERRIDES_KEY")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            retry_queue_url: lookup("REACTOR_RETRY_QUEUE_URL")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            call_timeout: Duration::from_millis(call),
            attempt_timeout: Duration::from_millis(attempt.min(call)),
            settings: Settings {
                sweep_shards: number(
                    "REACTOR_SWEEP_SHARDS",
                    u64::from(defaults.sweep_shards),
                    1,
                    64,
                )? as u32,
                launch_lease_seconds: number(
                    "REACTOR_LAUNCH_LEASE_SECONDS",
                    defaults.launch_lease_seconds as u64,
                    30,
                    3600,
                )? as i64,
                reconcile_after_seconds: number(
                    "REACTOR_RECONCILE_AFTER_SECONDS",
                    defaults.reconcile_after_seconds as u64,
                    60,
                    86_400,
                )? as i64,
                reconcile_batch: number(
                    "REACTOR_RECONCILE_BATCH",
                    defaults.reconcile_batch as u64,
                    1,
                    1000,
                )? as i32,
                launch_rate: number(
                    "REACTOR_LAUNCH_RATE",
                    u64::from(defaults.launch_rate),
                    1,
                    1000,
                )? as u32,
                sweep_budget_seconds: number(
                    "REACTOR_SWEEP_BUDGET_SECONDS",
                    defaults.sweep_budget_seconds,
                    1,
                    600,
                )?,
                sweep_lookahead_seconds: number(
                    "REACTOR_SWEEP_LOOKAHEAD_SECONDS",
                    defaults.sweep_lookahead_seconds,
                    0,
                    600,
                )?,
                ..defaults
            },
            guard: Guard {
                task_families: Allowed::from_list(
                    lookup("REACTOR_ALLOWED_TASK_FAMILIES").as_deref(),
                ),
                clusters: Allowed::from_list(lookup("REACTOR_ALLOWED_CLUSTERS").as_deref()),
                role_overrides,
                ..Guard::default()
            },
        })
    }

    /// The SDK's timeouts from this configuration.
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.attempt_timeout.min(Duration::from_secs(2)))
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.call_timeout)
            .build()
    }

    /// The SDK configuration: the standard chain (so `AWS_ENDPOINT_URL` works), with timeouts.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(self.timeouts())
            .load()
            .await
    }

    /// The adapters on real AWS clients, built once.
    /// The Lambda's adapters; metrics go to stdout as EMF lines, which CloudWatch Logs turns into metrics.
    pub async fn connect(&self) -> Reactor<DynamoStore, EcsLauncher, SnsNotifier> {
        self.reactor(
            &self.sdk_config().await,
            std::sync::Arc::new(crate::metrics::EmfLines::stdout(&self.namespace)),
        )
    }

    /// The adapters on clients of a given SDK configuration (the CLI's, with its region and profile).
    pub fn reactor(
        &self,
        sdk: &aws_config::SdkConfig,
        metrics: std::sync::Arc<dyn crate::metrics::MetricSink>,
    ) -> Reactor<DynamoStore, EcsLauncher, SnsNotifier> {
        Reactor {
            metrics,
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &self.table),
            launcher: EcsLauncher::new(aws_sdk_ecs::Client::new(sdk)),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(sdk), &self.topic_arn),
            settings: self.settings,
            guard: self.guard.clone(),
            namespace: self.namespace.clone(),
            vault: self
                .overrides_key
                .as_ref()
                .map(|key| crate::vault::Vault::on(sdk, key, &self.table)),
            retry_queue: self
                .retry_queue_url
                .as_ref()
                .map(|url| crate::retry_queue::RetryQueue::on(sdk, url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    const BASE: [(&str, &str); 2] = [
        ("REACTOR_TABLE", "t"),
        ("REACTOR_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let c = config(&BASE).unwrap();
        assert_eq!(
            (c.table.as_str(), c.call_timeout, c.attempt_timeout),
            ("t", Duration::from_secs(8), Duration::from_secs(3))
        );
        assert_eq!(c.settings, Settings::default());
        assert_eq!(
            c.namespace.as_str(),
            "ecs-reactor",
            "a stack deployed before namespaces keeps its own"
        );
        let c = config(&[
            BASE[0],
            BASE[1],
            ("REACTOR_SWEEP_SHARDS", "8"),
            ("REACTOR_CALL_TIMEOUT_MS", "2000"),
            ("REACTOR_SWEEP_LOOKAHEAD_SECONDS", "0"),
            ("REACTOR_NAMESPACE", "reactor-prod"),
        ])
        .unwrap();
        assert_eq!(c.namespace.as_str(), "reactor-prod");
        assert_eq!(c.settings.sweep_shards, 8);
        assert_eq!(c.settings.sweep_lookahead_seconds, 0, "0 turns waiting off");
        assert_eq!(
            c.attempt_timeout,
            Duration::from_secs(2),
            "an attempt never outlasts the call"
        );
    }

    #[test]
    fn errors_name_the_variable() {
        #[rustfmt::skip]
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("REACTOR_TOPIC_ARN", "x")], "REACTOR_TABLE is not set"),
            (&[("REACTOR_TABLE", "t"), ("REACTOR_TOPIC_ARN", " ")], "REACTOR_TOPIC_ARN is not set"),
            (&[BASE[0], BASE[1], ("REACTOR_SWEEP_SHARDS", "0")], "REACTOR_SWEEP_SHARDS must be a whole number from 1 to 64 (got \"0\")"),
            (&[BASE[0], BASE[1], ("REACTOR_CALL_TIMEOUT_MS", "5s")], "REACTOR_CALL_TIMEOUT_MS must be a whole number of milliseconds"),
            (&[BASE[0], BASE[1], ("REACTOR_LAUNCH_LEASE_SECONDS", "5")], "REACTOR_LAUNCH_LEASE_SECONDS must be a whole number of seconds"),
            (&[BASE[0], BASE[1], ("REACTOR_SWEEP_LOOKAHEAD_SECONDS", "-1")], "REACTOR_SWEEP_LOOKAHEAD_SECONDS must be a whole number of seconds from 0"),
            (&[BASE[0], BASE[1], ("REACTOR_ALLOW_ROLE_OVERRIDES", "yes")], "REACTOR_ALLOW_ROLE_OVERRIDES must be true or false (got \"yes\")"),
            (&[BASE[0], BASE[1], ("REACTOR_NAMESPACE", "ecs/reactor")], "REACTOR_NAMESPACE must be 1 to 20 letters, digits, '-' or '_' (got \"ecs/reactor\")"),
        ];
        for (vars, expected) in cases {
            let message = config(vars).unwrap_err().to_string();
            assert!(message.contains(expected), "{vars:?}: {message}");
        }
    }
}
