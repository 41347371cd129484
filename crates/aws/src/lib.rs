//! ecs-reactor's AWS adapter: the imperative shell around `reactor-core`.
//!
//! How it fits with the rest (the steps, the data flows, where to add a step): `docs/ARCHITECTURE.md`.
//!
//! A map of the crate:
//! - [`flow`]: **the retry loop's steps** (start, launch, judge a stopped task, fire a due retry, sweep,
//!   notify once), shared by the three Lambdas; generic over the three traits below.
//! - [`aws_error`]: an AWS call that failed, classified from the SDK's typed error (throttled? no credentials?).
//! - [`edge`]: a handler's error as Lambda reports it (`errorType` and message), one conversion for the three Lambdas.
//! - [`described`]: a task as DescribeTasks answers it, read into the judge's model (the sweep's reconciliation).
//! - [`config`]: the environment, read once into a typed `Config`, and the clients built from it.
//! - [`history`]: what on-call reads (a run's story, runs of a job or in a status, the run of a task), one Query each.
//! - [`records`]: the items of the attempts table (run, attempt, delay) and their keys and indexes.
//! - [`launcher`]: the [`launcher::Launcher`] trait and [`launcher::EcsLauncher`]: RunTask with the attempt's startedBy and clientToken, adoption by startedBy, essential containers.
//! - [`metrics`]: the [`metrics::MetricSink`] trait and [`metrics::EmfLines`]: CloudWatch metrics as Embedded Metric Format lines on stdout.
//! - [`notifier`]: the [`notifier::Notifier`] trait and [`notifier::SnsNotifier`]: one versioned message per run event (ended, retrying).
//! - [`store`]: the [`store::Store`] (runs, launches, decisions, sweeps: one trait and file each) and [`store::DynamoStore`]; every state change a conditional write.
//! - [`retry_queue`]: a delayed retry due within 15 minutes also sent to an SQS queue that delivers it at its due second.
//! - [`vault`]: override values sealed at rest (KMS data key, AES-256-GCM), opened only for a launch.
//!
//! Handlers are generic over the traits, so tests can wrap the real adapters (to inject faults) and
//! `main` builds the clients once.

pub mod aws_error;
pub mod config;
pub mod described;
pub mod edge;
pub mod flow;
pub mod history;
pub mod launcher;
pub mod metrics;
pub mod notifier;
pub mod records;
pub mod retry_queue;
pub mod store;
pub mod vault;
