//! `logs`: an attempt's container logs, read from CloudWatch Logs (GetLogEvents) in the streams the awslogs
//! configuration of the run's task definition names (`oncall::links`), each line with its time and
//! container; `--follow` keeps reading until the attempt's task is recorded as stopped.

use crate::args::LogsArgs;
use crate::aws::{aws_failure, locate_table, runtime};
use crate::failure::Failure;
use crate::oncall::find;
use crate::oncall::links::{self, ContainerLogs, Logs};
use reactor_aws::aws_error::AwsError;
use reactor_aws::history::RunStory;
use reactor_aws::records::{AttemptItem, AttemptState};
use reactor_aws::store::prelude::*;
use reactor_aws::store::DynamoStore;
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// How long `--follow` waits between two reads: new lines show within about that, at one GetItem and one
/// GetLogEvents per stream each time.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// `2026-11-21 02:30:01.250Z`: as `show` writes times (UTC, a space before the time), to the millisecond
/// CloudWatch Logs keeps.
const TEXT_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");
/// `2026-11-21T02:30:01.250Z` (RFC 3339), for `--json`.
const JSON_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn run(args: &LogsArgs) -> Result<(), Failure> {
    runtime()?.block_on(logs(args))
}

async fn logs(args: &LogsArgs) -> Result<(), Failure> {
    // One configuration for the table, ECS (the task definition) and CloudWatch Logs.
    let (config, table) = locate_table(&args.table, None).await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let story = find::story(&store, &args.run).await?;
    let (attempt, task_arn) = chosen_attempt(&story, &args.run, args.attempt)?;
    let n = attempt.attempt;
    let task_id = links::task_id(task_arn);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let (task_definition, containers) = match links::logs(&ecs, &story.run.request).await {
        Logs::Known {
            task_definition,
            latest,
            containers,
        } => {
            if latest {
                eprintln!(
                    "ecs-reactor: note: log streams as configured in {task_definition}, the latest revision of \
                     the family the job names; attempt {n} may have run an earlier one"
                );
            }
            (task_definition, containers)
        }
        Logs::Unknown(why) => {
            return Err(Failure::Aws(format!(
                "attempt {n}'s log streams cannot be named: {why}"
            )))
        }
    };
    let chosen = chosen_containers(&containers, args.container.as_deref(), &task_definition)?;
    let (readable, unreadable): (Vec<&ContainerLogs>, Vec<&ContainerLogs>) = chosen
        .into_iter()
        .partition(|c| c.stream(task_id).is_some());
    let elsewhere: Vec<String> = unreadable.iter().map(|c| not_in_cloudwatch(c)).collect();
    if readable.is_empty() {
        return Err(failure(elsewhere));
    }
    for line in &elsewhere {
        eprintln!("ecs-reactor: {line}");
    }
    if args.container.is_none() {
        let others: Vec<&str> = containers
            .iter()
            .filter(|c| !c.essential && c.stream(task_id).is_some())
            .map(|c| c.container.as_str())
            .collect();
        if !others.is_empty() {
            eprintln!(
                "ecs-reactor: note: not shown (not essential): {}; ask with --container NAME",
                others.join(", ")
            );
        }
    }

    let streams = readable
        .iter()
        .filter_map(|c| Some(Stream::new(&config, c, c.stream(task_id)?)))
        .collect();
    let width = readable
        .iter()
        .map(|c| c.container.chars().count())
        .max()
        .unwrap_or(0);
    let mut source = Cloud {
        store: &store,
        run_id: &story.run.run_id,
        attempt: n,
        streams,
        follow: args.follow,
        stopped: false,
        interval: POLL_INTERVAL,
    };
    let mut printer = Printer::new(std::io::stdout().lock(), args.table.json, width);
    tail(&mut source, args.follow, &mut printer).await?;
    if printer.closed {
        // The reader went away (`| head`): the command ends quietly, as for any command.
        return Ok(());
    }
    let unread: Vec<String> = source.streams.iter().filter_map(Stream::unread).collect();
    if !printer.printed {
        return Err(failure(unread));
    }
    for line in &unread {
        eprintln!("ecs-reactor: {line}");
    }
    Ok(())
}

/// The attempt to show, and its task: `--attempt N`; else the attempt that ran the task `wanted` names (a
/// task ARN or id); else the latest attempt that launched a task.
fn chosen_attempt<'a>(
    story: &'a RunStory,
    wanted: &str,
    number: Option<u32>,
) -> Result<(&'a AttemptItem, &'a str), Failure> {
    let run = &story.run.run_id;
    let attempt = match number {
        Some(n) => story
            .attempts
            .iter()
            .find(|a| a.attempt == n)
            .ok_or_else(|| {
                let all: Vec<String> = story
                    .attempts
                    .iter()
                    .map(|a| a.attempt.to_string())
                    .collect();
                Failure::NotFound(format!(
                    "run {run} has no attempt {n} (its attempts: {})",
                    if all.is_empty() {
                        "none".to_owned()
                    } else {
                        all.join(", ")
                    }
                ))
            })?,
        None => {
            let with_task = || story.attempts.iter().filter(|a| a.task_arn.is_some());
            let ran_it = with_task().find(|a| {
                a.task_arn
                    .as_deref()
                    .is_some_and(|arn| arn == wanted || links::task_id(arn) == wanted)
            });
            ran_it
                .or_else(|| with_task().max_by_key(|a| a.attempt))
                .ok_or_else(|| {
                    Failure::NotFound(format!(
                        "run {run} has launched no task (attempt {}, {}): no logs yet",
                        story.run.attempt, story.run.status
                    ))
                })?
        }
    };
    match attempt.task_arn.as_deref() {
        Some(arn) => Ok((attempt, arn)),
        None => Err(Failure::NotFound(format!(
            "attempt {} of run {run} launched no task ({}): it has no logs",
            attempt.attempt,
            attempt.state.as_str()
        ))),
    }
}

/// `--container NAME`, else every essential container (the ones whose end ends the task: what on-call
/// looks at first).
fn chosen_containers<'a>(
    containers: &'a [ContainerLogs],
    wanted: Option<&str>,
    task_definition: &str,
) -> Result<Vec<&'a ContainerLogs>, Failure> {
    let Some(name) = wanted else {
        return Ok(containers.iter().filter(|c| c.essential).collect());
    };
    match containers.iter().find(|c| c.container == name) {
        Some(c) => Ok(vec![c]),
        None => {
            let names: Vec<&str> = containers.iter().map(|c| c.container.as_str()).collect();
            Err(Failure::BadInput(format!(
                "--container {name:?}: task definition {task_definition} has no such container (its \
                 containers: {})",
                names.join(", ")
            )))
        }
    }
}

/// Why a container's logs cannot be read here, and where they went.
fn not_in_cloudwatch(c: &ContainerLogs) -> String {
    let name = &c.container;
    match c.driver.as_deref() {
        Some("awslogs") => format!(
            "container {name}: its awslogs stream cannot be named ({}); ecs-reactor cannot read it",
            c.unknown.as_deref().unwrap_or("no stream")
        ),
        Some(driver) => format!(
            "container {name}: logs go to the {driver} driver, not CloudWatch Logs; ecs-reactor cannot read them"
        ),
        None => format!(
            "container {name}: no logConfiguration in the task definition, so its output goes to no log \
             service (Fargate drops it; on EC2 the instance's Docker keeps it); ecs-reactor cannot read it"
        ),
    }
}

/// The failure when nothing could be printed: every reason but the last on stderr first, the last as the
/// command's one-line failure (each is a line of its own).
fn failure(mut reasons: Vec<String>) -> Failure {
    let last = reasons
        .pop()
        .unwrap_or_else(|| "no container's logs to show".to_owned());
    for reason in &reasons {
        eprintln!("ecs-reactor: {reason}");
    }
    Failure::NotFound(last)
}

/// One log event.
#[derive(Debug)]
struct Line {
    container: String,
    /// Milliseconds since the epoch, as CloudWatch Logs keeps it.
    timestamp: i64,
    message: String,
}

/// Where the lines come from, and how time passes between reads: CloudWatch Logs and the table, or a test's
/// script.
trait Tail {
    /// Whether the attempt's task is recorded as stopped.
    async fn stopped(&mut self) -> Result<bool, Failure>;
    /// The lines written since the last read, read to the end of every stream, oldest first.
    async fn read(&mut self) -> Result<Vec<Line>, Failure>;
    /// Waits before the next read.
    async fn pause(&mut self);
}

/// Prints the lines: what there is, once; with `follow`, again after each pause until the task has
/// stopped. The stop is asked before the read, so the last read starts after the stop was recorded and
/// takes every line written before it: the streams are drained, and a stopped task's first read is its last.
async fn tail<T: Tail, W: Write>(
    source: &mut T,
    follow: bool,
    out: &mut Printer<W>,
) -> Result<(), Failure> {
    loop {
        let last = !follow || source.stopped().await?;
        for line in source.read().await? {
            out.line(&line);
        }
        out.flush();
        if last || out.closed {
            return Ok(());
        }
        source.pause().await;
    }
}

/// Writes the lines as they come, each whole with its newline and flushed after each read: while following,
/// the newest line shows at once on a terminal and to a reader that waits for whole lines (`| grep`).
struct Printer<W: Write> {
    out: W,
    json: bool,
    /// The widest container name: the messages line up.
    width: usize,
    /// A line was written.
    printed: bool,
    /// Writing failed (the reader went away): nothing more is written or read.
    closed: bool,
}

impl<W: Write> Printer<W> {
    fn new(out: W, json: bool, width: usize) -> Printer<W> {
        Printer {
            out,
            json,
            width,
            printed: false,
            closed: false,
        }
    }

    fn line(&mut self, line: &Line) {
        let text = if self.json {
            json_line(line)
        } else {
            text_lines(line, self.width)
        };
        self.write(&text);
    }

    fn write(&mut self, text: &str) {
        if self.closed {
            return;
        }
        if writeln!(self.out, "{text}").is_err() {
            self.closed = true;
        }
        self.printed = true;
    }

    fn flush(&mut self) {
        if !self.closed && self.out.flush().is_err() {
            self.closed = true;
        }
    }
}

/// `2026-11-21 02:30:01.250Z app     | message`: a message of several lines gives one line each, each with
/// its time and container.
fn text_lines(line: &Line, width: usize) -> String {
    let time = time_of(line.timestamp, TEXT_TIME);
    let message = line.message.trim_end_matches(['\n', '\r']);
    let each: Vec<String> = message
        .split('\n')
        .map(|part| {
            format!(
                "{time} {:<width$} | {}",
                line.container,
                part.trim_end_matches('\r')
            )
        })
        .collect();
    each.join("\n")
}

/// `{"container":"app","timestamp":"2026-11-21T02:30:01.250Z","message":"…"}`: the message as logged.
fn json_line(line: &Line) -> String {
    json!({
        "container": line.container,
        "timestamp": time_of(line.timestamp, JSON_TIME),
        "message": line.message,
    })
    .to_string()
}

/// A CloudWatch timestamp (ms) in `format`; the number itself if it is no time `time` can hold.
fn time_of(millis: i64, format: &[FormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| millis.to_string())
}

/// The real source: the attempt's streams in CloudWatch Logs, and the attempt item for its stop.
struct Cloud<'a> {
    store: &'a DynamoStore,
    run_id: &'a str,
    attempt: u32,
    streams: Vec<Stream>,
    follow: bool,
    /// The task was recorded as stopped when last asked.
    stopped: bool,
    interval: Duration,
}

impl Tail for Cloud<'_> {
    async fn stopped(&mut self) -> Result<bool, Failure> {
        let item = self
            .store
            .attempt(self.run_id, self.attempt)
            .await
            .map_err(|e| aws_failure(self.store.table(), &e))?;
        // The stop is recorded with the STOPPED event (or the sweep's finding); an attempt item that is gone
        // will record nothing more, so waiting would never end.
        self.stopped =
            item.is_none_or(|a| a.stopped_at.is_some() || a.state == AttemptState::Decided);
        Ok(self.stopped)
    }

    async fn read(&mut self) -> Result<Vec<Line>, Failure> {
        let mut lines = Vec::new();
        for stream in &mut self.streams {
            stream.read(self.store.table(), &mut lines).await?;
            // A stopped task's stream will not come: that is said once at the end, not waited for.
            if self.follow && !self.stopped && !stream.found && !stream.waiting_said {
                stream.waiting_said = true;
                eprintln!(
                    "ecs-reactor: no log stream {} in group {} yet: waiting for the container to start",
                    stream.name, stream.group
                );
            }
        }
        // Each stream's lines are in order; across containers, by time (a stable sort keeps a stream's
        // lines of the same millisecond in their order).
        lines.sort_by_key(|l| l.timestamp);
        Ok(lines)
    }

    async fn pause(&mut self) {
        tokio::time::sleep(self.interval).await;
    }
}

/// One container's stream, and how far it has been read.
struct Stream {
    container: String,
    group: String,
    name: String,
    /// A client for the stream's region (`awslogs-region` may name another than the task's).
    client: aws_sdk_cloudwatchlogs::Client,
    /// Where the next read starts: the forward token of the last answer.
    token: Option<String>,
    /// The stream exists (it is created when the container starts).
    found: bool,
    events: usize,
    /// `--follow` said it waits for the stream.
    waiting_said: bool,
}

impl Stream {
    fn new(sdk: &aws_config::SdkConfig, c: &ContainerLogs, name: String) -> Stream {
        let mut config = aws_sdk_cloudwatchlogs::config::Builder::from(sdk);
        if let Some(region) = &c.region {
            config = config.region(aws_sdk_cloudwatchlogs::config::Region::new(region.clone()));
        }
        Stream {
            container: c.container.clone(),
            group: c.group.clone().unwrap_or_default(),
            name,
            client: aws_sdk_cloudwatchlogs::Client::from_conf(config.build()),
            token: None,
            found: false,
            events: 0,
            waiting_said: false,
        }
    }

    /// Appends the events since the last read to `lines`: GetLogEvents from the head, page after page, until
    /// the forward token comes back unchanged (CloudWatch Logs' sign of the end; a page may be empty before
    /// it). A stream that does not exist (yet) gives nothing.
    async fn read(&mut self, table: &str, lines: &mut Vec<Line>) -> Result<(), Failure> {
        loop {
            let answer = self
                .client
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.name)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let page = match answer {
                Ok(page) => page,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(aws_failure(table, &AwsError::from_sdk(e))),
            };
            self.found = true;
            for event in page.events() {
                self.events += 1;
                lines.push(Line {
                    container: self.container.clone(),
                    timestamp: event.timestamp().unwrap_or_default(),
                    message: event.message().unwrap_or_default().to_owned(),
                });
            }
            let next = page.next_forward_token;
            if next.is_none() || next == self.token {
                return Ok(());
            }
            self.token = next;
        }
    }

    /// Why nothing of this stream was printed, if nothing was.
    fn unread(&self) -> Option<String> {
        let (name, group) = (&self.name, &self.group);
        if !self.found {
            Some(format!(
                "no log stream {name} in group {group} yet: the container may not have started"
            ))
        } else if self.events == 0 {
            Some(format!(
                "log stream {name} in group {group} has no events: the container logged nothing"
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn line(container: &str, timestamp: i64, message: &str) -> Line {
        Line {
            container: container.into(),
            timestamp,
            message: message.into(),
        }
    }

    /// 2026-11-21 02:30:00Z, in ms.
    const T: i64 = 1_795_228_200_000;

    #[test]
    fn text_and_json_lines() {
        assert_eq!(
            text_lines(&line("app", T + 1_250, "starting report\n"), 7),
            "2026-11-21 02:30:01.250Z app     | starting report"
        );
        assert_eq!(
            text_lines(&line("sidecar", T, "Traceback:\r\n  line 3\n"), 3),
            "2026-11-21 02:30:00.000Z sidecar | Traceback:\n2026-11-21 02:30:00.000Z sidecar |   line 3"
        );
        assert_eq!(
            json_line(&line("app", T + 7, "done\n")),
            r#"{"container":"app","timestamp":"2026-11-21T02:30:00.007Z","message":"done\n"}"#
        );
        assert_eq!(time_of(i64::MAX, TEXT_TIME), i64::MAX.to_string());
    }

    /// A script of reads: (stopped when asked before this read, the lines this read finds).
    struct Script {
        rounds: VecDeque<(bool, Vec<Line>)>,
        stopped_now: bool,
        asked: usize,
        pauses: usize,
    }

    impl Script {
        fn new(rounds: Vec<(bool, Vec<Line>)>) -> Script {
            Script {
                rounds: rounds.into(),
                stopped_now: false,
                asked: 0,
                pauses: 0,
            }
        }
    }

    impl Tail for Script {
        async fn stopped(&mut self) -> Result<bool, Failure> {
            self.asked += 1;
            self.stopped_now = self.rounds.front().map(|r| r.0).unwrap_or(true);
            Ok(self.stopped_now)
        }
        async fn read(&mut self) -> Result<Vec<Line>, Failure> {
            let (_, lines) = self.rounds.pop_front().expect("no read after the last one");
            Ok(lines)
        }
        async fn pause(&mut self) {
            self.pauses += 1;
        }
    }

    fn played(script: &mut Script, follow: bool) -> String {
        let mut printer = Printer::new(Vec::new(), false, 3);
        runtime()
            .unwrap()
            .block_on(tail(script, follow, &mut printer))
            .unwrap();
        assert!(!printer.closed);
        String::from_utf8(printer.out).unwrap()
    }

    #[test]
    fn following_reads_until_a_read_after_the_stop_and_pauses_between_reads() {
        let mut script = Script::new(vec![
            (false, vec![line("app", T, "one")]),
            (false, vec![]),
            // Written before the stop was recorded, read after: printed, then the end.
            (
                true,
                vec![line("app", T + 2, "three"), line("app", T + 1, "two")],
            ),
        ]);
        let out = played(&mut script, true);
        assert_eq!(
            out,
            "2026-11-21 02:30:00.000Z app | one\n\
             2026-11-21 02:30:00.002Z app | three\n\
             2026-11-21 02:30:00.001Z app | two\n",
            "each line whole, the last one too"
        );
        assert_eq!((script.asked, script.pauses), (3, 2));
        assert!(script.rounds.is_empty());
    }

    #[test]
    fn without_follow_one_read_and_no_pause() {
        let mut script = Script::new(vec![
            (false, vec![line("app", T, "one")]),
            (false, vec![line("app", T, "never read")]),
        ]);
        let out = played(&mut script, false);
        assert_eq!(out, "2026-11-21 02:30:00.000Z app | one\n");
        assert_eq!(
            (script.asked, script.pauses, script.rounds.len()),
            (0, 0, 1)
        );
    }

    /// A reader that went away after the first line.
    struct Closed(usize);
    impl Write for Closed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            if self.0 > 1 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_following_at_once() {
        // The task never stops: only the closed pipe can end it.
        let mut script = Script::new(vec![
            (false, vec![line("app", T, "one"), line("app", T, "two")]),
            (false, vec![line("app", T, "not read")]),
        ]);
        let mut printer = Printer::new(Closed(0), true, 3);
        runtime()
            .unwrap()
            .block_on(tail(&mut script, true, &mut printer))
            .unwrap();
        assert!(printer.closed);
        assert_eq!((script.pauses, script.rounds.len()), (0, 1));
    }
}
