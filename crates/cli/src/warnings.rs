//! The loop's warnings, on stderr. The command line runs the Lambdas' steps (start, redrive, replay), and a step
//! that goes on despite something worth knowing logs a warning (a retry the retry queue did not take, values
//! stored unsealed for want of a key, a task ListTasks could not look for): in a Lambda that is a log line, here
//! it is one stderr line, so that nothing the command did is silently worse than it says. Errors are not
//! repeated (the command's failure says them), nor what the command's own output reports.

use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The loop's steps: their warnings are said. The SDK's own (a config file named but missing, which it then
/// does without) are not ours to word.
const THE_LOOP: &str = "reactor_aws::";
/// Warnings about what the command's output reports itself: an event for no run and a second task of an
/// attempt (`dlq replay`'s outcome), a launch deferred, overtaken or refused (the launch summary).
const SAID_BY_THE_COMMAND: &[&str] = &["reactor_aws::flow::judge", "reactor_aws::flow::launch"];

/// Writes every warning of the loop's steps to stderr for the rest of the process.
pub fn to_stderr() {
    // A second call (none today) keeps the first subscriber: nothing to report.
    // Filtered before the layer: the SDK's debug events are never built.
    let _ = tracing_subscriber::registry()
        .with(Warnings.with_filter(LevelFilter::WARN))
        .try_init();
}

struct Warnings;

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() != Level::WARN
            || !meta.target().starts_with(THE_LOOP)
            || SAID_BY_THE_COMMAND
                .iter()
                .any(|t| meta.target().starts_with(t))
        {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        eprintln!("{}", line(&fields.message, &fields.pairs));
    }
}

/// A warning's one line: its message, then its fields as `name=value`.
fn line(message: &str, fields: &[(String, String)]) -> String {
    let mut line = format!("ecs-reactor: warning: {message}");
    if !fields.is_empty() {
        let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(line, " ({})", pairs.join(", "));
    }
    line
}

/// An event's message and its other fields, as written (strings without quotes).
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.pairs.push((field.name().to_owned(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_one_line_with_its_fields() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("no fields", &[], "ecs-reactor: warning: no fields"),
            ("queue refused", &[("run", "r-1"), ("attempt", "2")], "ecs-reactor: warning: queue refused (run=r-1, attempt=2)"),
        ];
        for (message, fields, expected) in cases {
            assert_eq!(line(message, &pairs(fields)), *expected, "{message}");
        }
    }
}
