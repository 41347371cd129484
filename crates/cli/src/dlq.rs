//! `ecs-reactor dlq list|show|replay|purge`: the stack's failure queues, for on-call. Each message is read
//! into what failed (the function or the rule), when, why, and what it is about (run, attempt, task, job);
//! `replay` hands it to the flow step its handler runs and deletes it only once that step succeeded; `purge`
//! deletes. The queues are `--queue` URLs or the stack's outputs (`--stack`, `REACTOR_STACK`).
//!
//! A message may hold a job request or a task's overrides: environment values and commands are never
//! printed (see [`letter::redacted`]).

pub(crate) mod letter;
mod queue;
mod replay;

use crate::args::{
    DlqArgs, DlqCommand, DlqListArgs, DlqPurgeArgs, DlqReplayArgs, DlqShowArgs, QueueArgs,
    TableArgs,
};
use crate::aws::{locate_queues, runtime};
use crate::failure::Failure;
use crate::oncall::table;
use crate::oncall::times::{date_time, when};
use letter::{name_of, redacted, About, Reading};
use queue::{Queue, Received, ACT_SECONDS, LOOK_SECONDS, MAX_PER_QUEUE};
use reactor_aws::records::stamp;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::fmt::Write as _;
use time::OffsetDateTime;

pub fn run(args: &DlqArgs, now: OffsetDateTime) -> Result<String, Failure> {
    match &args.command {
        DlqCommand::List(a) => list(a, now),
        DlqCommand::Show(a) => show(a, now),
        DlqCommand::Replay(a) => replay(a, now),
        DlqCommand::Purge(a) => purge(a, now),
    }
}

/// A message of a failure queue, read.
struct Letter {
    queue: Queue,
    message: Received,
    reading: Reading,
}

impl Letter {
    fn id(&self) -> &str {
        &self.message.message_id
    }

    /// When it failed: the record's time, else when the message was sent.
    fn when(&self) -> Option<OffsetDateTime> {
        self.reading.failed.at.or(self.message.sent_at)
    }
}

/// What a command read: the queues, their messages (hidden from other readers until released), and the
/// queues whose reading stopped at the cap.
struct Read {
    sqs: aws_sdk_sqs::Client,
    queues: Vec<Queue>,
    letters: Vec<Letter>,
    capped: Vec<String>,
}

/// The SDK settings the queue flags give (`--table` only for replay).
fn table_args(args: &QueueArgs, table: Option<String>) -> TableArgs {
    TableArgs {
        table,
        stack: args.stack.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        json: args.json,
    }
}

/// The Lambdas' timeouts, for every call the command makes (a bad variable refused before any call).
fn timeouts() -> Result<aws_config::timeout::TimeoutConfig, Failure> {
    crate::aws::lambda_config("-", "-", None, |_| None).map(|config| config.timeouts())
}

/// Reads every queue (at once: each ends with a one-second wait for more), at most `cap` messages each,
/// hiding what it read for `hide` seconds; stops reading a queue once it holds every id of `wanted`.
async fn read_queues(
    args: &QueueArgs,
    cap: usize,
    hide: i32,
    wanted: Option<&HashSet<String>>,
    now: OffsetDateTime,
) -> Result<Read, Failure> {
    let (sdk, urls, namespace) =
        locate_queues(&table_args(args, None), &args.queues, Some(timeouts()?)).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut queues: Vec<Queue> = Vec::new();
    for url in urls {
        let queue = Queue::new(&url);
        if !queues.iter().any(|q| q.url == queue.url) {
            queues.push(queue);
        }
    }
    let mut reading = tokio::task::JoinSet::new();
    for (i, q) in queues.iter().enumerate() {
        let (sqs, q, wanted) = (sqs.clone(), q.clone(), wanted.cloned());
        reading
            .spawn(async move { (i, queue::browse(&sqs, &q, cap, hide, wanted.as_ref()).await) });
    }
    let mut results = Vec::new();
    let mut failure = None;
    while let Some(joined) = reading.join_next().await {
        match joined {
            Ok((i, Ok(found))) => results.push((i, found)),
            Ok((_, Err(e))) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(Failure::Aws(format!("reading a queue stopped: {e}")));
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut read = Read {
        sqs,
        queues,
        letters: Vec::new(),
        capped: Vec::new(),
    };
    for (i, (messages, capped)) in results {
        let queue = read.queues[i].clone();
        if capped {
            read.capped.push(queue.name.clone());
        }
        for message in messages {
            let reading = letter::read(
                &namespace,
                &message.body,
                &message.attributes,
                message.sent_at,
                now,
            );
            read.letters.push(Letter {
                queue: queue.clone(),
                message,
                reading,
            });
        }
    }
    if let Some(failure) = failure {
        // What the other queues gave up is shown again before the failure is reported.
        release(&read, &HashSet::new()).await;
        return Err(failure);
    }
    Ok(read)
}

/// Makes every message read visible again, but the `deleted` ones. A failure is only mentioned: SQS shows
/// the messages again by itself when their hiding time ends.
async fn release(read: &Read, deleted: &HashSet<String>) {
    for q in &read.queues {
        let mine: Vec<&Received> = read
            .letters
            .iter()
            .filter(|l| l.queue.url == q.url && !deleted.contains(l.id()))
            .map(|l| &l.message)
            .collect();
        if mine.is_empty() {
            continue;
        }
        if let Err(e) = queue::release(&read.sqs, q, &mine).await {
            eprintln!(
                "ecs-reactor: note: {} message(s) of {} stay hidden from other readers for a while (they could \
                 not be shown again at once: {e})",
                mine.len(),
                q.name
            );
        }
    }
}

fn queue_names(read: &Read) -> String {
    let names: Vec<&str> = read.queues.iter().map(|q| q.name.as_str()).collect();
    names.join(", ")
}

/// The ids asked for, each once, in the order given.
fn distinct(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

fn no_such_message(ids: &[&String], read: &Read) -> Failure {
    let ids: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    Failure::NotFound(format!(
        "no message {} in {}: another reader (a replay, a purge, the console) may hide it for a while; \
         `ecs-reactor dlq list` shows what is there",
        ids.join(", "),
        queue_names(read)
    ))
}

/// Writes `output` before a failure's one line (main prints only a success's output); a closed pipe is not
/// worth a second failure.
fn print_before_failing(output: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{output}");
}

// ------------------------------------------------------------------------------------------------------
// list
// ------------------------------------------------------------------------------------------------------

fn list(args: &DlqListArgs, now: OffsetDateTime) -> Result<String, Failure> {
    runtime()?.block_on(async {
        let read = read_queues(&args.queue, args.limit as usize, LOOK_SECONDS, None, now).await?;
        release(&read, &HashSet::new()).await;
        let mut letters: Vec<&Letter> = read.letters.iter().collect();
        // Newest first, as `runs` lists.
        letters.sort_by_key(|l| std::cmp::Reverse(l.when()));
        if args.queue.json {
            let all: Vec<Value> = letters.iter().map(|l| letter_json(l, false)).collect();
            return Ok(serde_json::to_string_pretty(&all).unwrap_or_default());
        }
        if letters.is_empty() {
            return Ok(format!("no messages in {}", queue_names(&read)));
        }
        let rows: Vec<Vec<String>> = letters
            .iter()
            .map(|l| {
                vec![
                    l.id().to_owned(),
                    l.queue.name.clone(),
                    l.reading.kind.as_str().to_owned(),
                    l.when().map(|t| when(t, now)).unwrap_or_else(|| "-".into()),
                    about_line(&l.reading.about),
                    shorten(&l.reading.failed.error().unwrap_or_else(|| "-".into()), 120),
                ]
            })
            .collect();
        let mut out = table(
            &["MESSAGE ID", "QUEUE", "KIND", "WHEN", "RUN/TASK", "ERROR"],
            &rows,
        );
        for name in &read.capped {
            let _ = write!(
                out,
                "\n{name}: only the first {} messages were read (--limit); more are waiting",
                args.limit
            );
        }
        Ok(out.trim_end().to_owned())
    })
}

// ------------------------------------------------------------------------------------------------------
// show
// ------------------------------------------------------------------------------------------------------

fn show(args: &DlqShowArgs, now: OffsetDateTime) -> Result<String, Failure> {
    runtime()?.block_on(async {
        let wanted = HashSet::from([args.id.trim().to_owned()]);
        let read =
            read_queues(&args.queue, MAX_PER_QUEUE, LOOK_SECONDS, Some(&wanted), now).await?;
        release(&read, &HashSet::new()).await;
        let Some(letter) = read.letters.iter().find(|l| wanted.contains(l.id())) else {
            return Err(no_such_message(&wanted.iter().collect::<Vec<_>>(), &read));
        };
        if args.queue.json {
            return Ok(serde_json::to_string_pretty(&letter_json(letter, true)).unwrap_or_default());
        }
        Ok(explain(letter, now))
    })
}

/// A message explained, a line per question: what it is, what failed, when, why, what it is about, and what
/// a replay would do.
fn explain(l: &Letter, now: OffsetDateTime) -> String {
    let r = &l.reading;
    let f = &r.failed;
    let mut out = format!("message {}\n", l.id());
    let _ = writeln!(out, "queue: {} ({})", l.queue.name, l.queue.url);
    let _ = writeln!(out, "kind: {}: {}", r.kind.as_str(), r.kind.words());
    let mut failed = match (&f.rule, &f.function) {
        (Some(rule), Some(function)) => {
            format!("rule {} → function {}", name_of(rule), name_of(function))
        }
        (Some(rule), None) => format!("rule {}", name_of(rule)),
        (None, Some(function)) => format!("function {}", name_of(function)),
        (None, None) => "-".to_owned(),
    };
    match (&f.condition, &f.tries) {
        (Some(c), Some(n)) => {
            let _ = write!(failed, " ({c}; tried {n} times)");
        }
        (Some(c), None) => {
            let _ = write!(failed, " ({c})");
        }
        (None, Some(n)) => {
            let _ = write!(failed, " (tried {n} times)");
        }
        (None, None) => {}
    }
    let _ = writeln!(out, "failed: {failed}");
    let mut at = l.when().map(|t| when(t, now)).unwrap_or_else(|| "-".into());
    if let Some(sent) = l.message.sent_at.filter(|s| Some(*s) != f.at) {
        let _ = write!(at, "; sent to the queue {}", when(sent, now));
    }
    let _ = writeln!(out, "when: {at}");
    let _ = writeln!(out, "why: {}", f.error().unwrap_or_else(|| "-".into()));
    match &r.about {
        About::Task { task, attempt } => {
            let _ = write!(
                out,
                "about: the {} event of task {}",
                task.last_status, task.task_arn
            );
            match attempt {
                Ok(a) => {
                    let _ = writeln!(out, " (run {} attempt {})", a.run_id, a.attempt);
                }
                Err(_) => out.push('\n'),
            }
            let code = task.stop_code.as_ref().map(|c| c.as_str().to_owned());
            if code.is_some() || task.stopped_reason.is_some() {
                let _ = writeln!(
                    out,
                    "stop: {}: {}",
                    code.as_deref().unwrap_or("-"),
                    task.stopped_reason.as_deref().unwrap_or("-")
                );
            }
        }
        About::Start { job, request } => {
            let job = job.as_deref().unwrap_or("-");
            match request {
                Ok(req) => match req.scheduled_at {
                    Some(tick) => {
                        let _ = writeln!(
                            out,
                            "about: job {job}, run {} (the schedule's tick of {})",
                            req.run_id,
                            date_time(tick)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "about: job {job}, run {} (a job request invoked directly)",
                            req.run_id
                        );
                    }
                },
                Err(_) => {
                    let _ = writeln!(out, "about: a job request of job {job}");
                }
            }
        }
        About::Tick(Ok(tick)) => {
            let _ = writeln!(
                out,
                "about: registered job {}, run {} (its schedule's tick of {})",
                tick.job,
                tick.run_id,
                date_time(tick.scheduled_at)
            );
        }
        About::Tick(Err(_)) => out.push_str("about: a registered job's tick the starter refuses\n"),
        About::Sweep => out
            .push_str("about: a Scheduled Event with no job in it (the sweep's one-minute tick)\n"),
        About::Stream(b) => {
            let _ = writeln!(
                out,
                "about: stream records of table {}: shard {}, sequence numbers {} to {}, {} record(s), arrived {} to {}",
                b.table().unwrap_or("-"),
                b.shard_id.as_deref().unwrap_or("-"),
                b.start_sequence.as_deref().unwrap_or("-"),
                b.end_sequence.as_deref().unwrap_or("-"),
                b.batch_size.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                b.first_arrival.as_deref().unwrap_or("-"),
                b.last_arrival.as_deref().unwrap_or("-"),
            );
            if let Some(arn) = &b.stream_arn {
                let _ = writeln!(out, "stream: {arn}");
            }
        }
        About::Other(what) => {
            let _ = writeln!(out, "about: {what}");
        }
    }
    match plan(r) {
        Ok(plan) => {
            let _ = write!(
                out,
                "replay: `ecs-reactor dlq replay {}` runs {}: {}; then the message is deleted",
                l.id(),
                plan.step,
                plan.does
            );
        }
        Err(why) => {
            let _ = write!(out, "replay: cannot be replayed: {why}");
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------------
// replay
// ------------------------------------------------------------------------------------------------------

fn replay(args: &DlqReplayArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let ids = distinct(&args.ids);
    let wanted: HashSet<String> = ids.iter().cloned().collect();
    let (output, failures) = runtime()?.block_on(async {
        let read = read_queues(
            &args.queue,
            MAX_PER_QUEUE,
            ACT_SECONDS,
            (!args.all).then_some(&wanted),
            now,
        )
        .await?;
        let chosen: Vec<&Letter> = if args.all {
            read.letters.iter().collect()
        } else {
            ids.iter()
                .filter_map(|id| read.letters.iter().find(|l| l.id() == id))
                .collect()
        };
        let mut deleted = HashSet::new();
        let result = replay_each(args, &read, &chosen, &mut deleted, now).await;
        release(&read, &deleted).await;
        let (mut lines, mut failures) = result?;
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !read.letters.iter().any(|l| l.id() == id.as_str()))
            .collect();
        if !args.all && !missing.is_empty() {
            let failure = no_such_message(&missing, &read);
            lines.push((
                format!("not found: {failure}"),
                json!({"messageIds": missing, "found": false}),
            ));
            failures.push(failure);
        }
        if args.all && chosen.is_empty() {
            lines.push((
                format!("no messages in {}", queue_names(&read)),
                Value::Null,
            ));
        }
        for name in &read.capped {
            lines.push((
                format!("{name}: only the first {MAX_PER_QUEUE} messages were read; run the replay again for the rest"),
                Value::Null,
            ));
        }
        let output = if args.queue.json {
            let all: Vec<&Value> = lines.iter().map(|(_, v)| v).filter(|v| !v.is_null()).collect();
            serde_json::to_string_pretty(&all).unwrap_or_default()
        } else {
            let text: Vec<&str> = lines.iter().map(|(t, _)| t.as_str()).collect();
            text.join("\n")
        };
        Ok::<_, Failure>((output, failures))
    })?;
    finish(output, failures, "replayed")
}

/// Each message replayed (text and JSON line), and the failures, in order. Stops only when the reactor
/// cannot be built (no table or topic): nothing can be replayed then.
async fn replay_each(
    args: &DlqReplayArgs,
    read: &Read,
    chosen: &[&Letter],
    deleted: &mut HashSet<String>,
    now: OffsetDateTime,
) -> Result<(Vec<(String, Value)>, Vec<Failure>), Failure> {
    let mut replayer = None;
    let (mut lines, mut failures) = (Vec::new(), Vec::new());
    for letter in chosen {
        let head = format!("{} ({})", letter.id(), letter.queue.name);
        let mut fields = Map::new();
        fields.insert("messageId".into(), json!(letter.id()));
        fields.insert("queue".into(), json!(letter.queue.name));
        fields.insert("kind".into(), json!(letter.reading.kind.as_str()));
        let step = match plan(&letter.reading) {
            Ok(plan) => plan.step,
            Err(why) => {
                fields.insert("replayed".into(), json!(false));
                fields.insert("deleted".into(), json!(false));
                fields.insert("why".into(), json!(why));
                lines.push((
                    format!("{head}: not replayed, kept: {why}"),
                    Value::Object(fields),
                ));
                // --all replays what can be replayed and leaves the rest, listed; a message asked for by its
                // id is a failure not to replay.
                if !args.all {
                    failures.push(Failure::Conflict(format!(
                        "message {} ({}) cannot be replayed; it is kept (the line above says what to do)",
                        letter.id(),
                        letter.reading.kind.as_str()
                    )));
                }
                continue;
            }
        };
        // Built for the first message that needs it: a queue of stream batches needs no table or topic.
        let replayer: &replay::Replayer = match replayer {
            Some(ref built) => built,
            None => {
                let table = table_args(&args.queue, args.table.clone());
                let topic = args.topic_arn.as_deref();
                replayer.insert(replay::connect(&table, topic, timeouts()?).await?)
            }
        };
        fields.insert("replayed".into(), json!(true));
        match replay::replay(replayer, &letter.reading.about, now).await {
            Ok(done) => {
                fields.insert("outcome".into(), json!(done.outcome));
                fields.extend(done.fields);
                let said = format!("{head}: {step} → {}: {}", done.outcome, done.words);
                if let Some(keep) = done.keep {
                    fields.insert("deleted".into(), json!(false));
                    fields.insert("error".into(), json!(keep.to_string()));
                    lines.push((format!("{said}; message kept"), Value::Object(fields)));
                    failures.push(keep);
                    continue;
                }
                // Only now: the step has done the message's work (or found it done).
                match queue::delete(&read.sqs, &letter.queue, &letter.message).await {
                    Ok(()) => {
                        deleted.insert(letter.id().to_owned());
                        fields.insert("deleted".into(), json!(true));
                        lines.push((format!("{said}; message deleted"), Value::Object(fields)));
                    }
                    Err(e) => {
                        fields.insert("deleted".into(), json!(false));
                        fields.insert("error".into(), json!(e.to_string()));
                        lines.push((
                            format!(
                                "{said}; the message could not be deleted ({e}): replaying it again changes nothing"
                            ),
                            Value::Object(fields),
                        ));
                        failures.push(e);
                    }
                }
            }
            Err(e) => {
                fields.insert("deleted".into(), json!(false));
                fields.insert("error".into(), json!(e.to_string()));
                lines.push((
                    format!("{head}: {step} failed, message kept: {e}"),
                    Value::Object(fields),
                ));
                failures.push(e);
            }
        }
    }
    Ok((lines, failures))
}

/// The command's end: its output, or the output and then the first failure (its exit code), with a count
/// when several messages were not `done`.
fn finish(output: String, mut failures: Vec<Failure>, done: &str) -> Result<String, Failure> {
    if failures.is_empty() {
        return Ok(output);
    }
    print_before_failing(&output);
    let n = failures.len();
    let first = failures.remove(0);
    if n == 1 {
        return Err(first);
    }
    let say = |m: String| format!("{n} messages not {done} (kept in their queue); the first: {m}");
    Err(match first {
        Failure::BadInput(m) => Failure::BadInput(say(m)),
        Failure::Problems(p) => Failure::BadInput(say(p.join("; "))),
        Failure::NotFound(m) => Failure::NotFound(say(m)),
        Failure::Aws(m) => Failure::Aws(say(m)),
        Failure::Conflict(m) => Failure::Conflict(say(m)),
    })
}

// ------------------------------------------------------------------------------------------------------
// purge
// ------------------------------------------------------------------------------------------------------

fn purge(args: &DlqPurgeArgs, now: OffsetDateTime) -> Result<String, Failure> {
    let ids = distinct(&args.ids);
    let wanted: HashSet<String> = ids.iter().cloned().collect();
    let (output, failures) = runtime()?.block_on(async {
        let read = read_queues(
            &args.queue,
            MAX_PER_QUEUE,
            ACT_SECONDS,
            (!args.all).then_some(&wanted),
            now,
        )
        .await?;
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !read.letters.iter().any(|l| l.id() == id.as_str()))
            .collect();
        if !args.all && !missing.is_empty() {
            // A mistyped id deletes nothing at all: the ids were meant together.
            release(&read, &HashSet::new()).await;
            return Err(no_such_message(&missing, &read));
        }
        let chosen: Vec<&Letter> = if args.all {
            read.letters.iter().collect()
        } else {
            ids.iter()
                .filter_map(|id| read.letters.iter().find(|l| l.id() == id))
                .collect()
        };
        if !args.yes {
            release(&read, &HashSet::new()).await;
            let output = if args.queue.json {
                let all: Vec<Value> = chosen.iter().map(|l| letter_json(l, false)).collect();
                serde_json::to_string_pretty(&all).unwrap_or_default()
            } else {
                let mut text = String::from("would delete:\n");
                for l in &chosen {
                    let _ = writeln!(
                        text,
                        "{} ({}) {}: {}",
                        l.id(),
                        l.queue.name,
                        l.reading.kind.as_str(),
                        about_line(&l.reading.about)
                    );
                }
                text.trim_end().to_owned()
            };
            let failure = Failure::BadInput(format!(
                "nothing deleted: purge deletes for good; run it again with --yes to delete {} message(s)",
                chosen.len()
            ));
            return Ok((output, vec![failure]));
        }
        let mut deleted = HashSet::new();
        let (mut lines, mut failures) = (Vec::new(), Vec::new());
        for l in &chosen {
            let head = format!("{} ({})", l.id(), l.queue.name);
            let mut fields = Map::new();
            fields.insert("messageId".into(), json!(l.id()));
            fields.insert("queue".into(), json!(l.queue.name));
            fields.insert("kind".into(), json!(l.reading.kind.as_str()));
            match queue::delete(&read.sqs, &l.queue, &l.message).await {
                Ok(()) => {
                    deleted.insert(l.id().to_owned());
                    fields.insert("deleted".into(), json!(true));
                    lines.push((
                        format!("{head}: deleted ({})", about_line(&l.reading.about)),
                        Value::Object(fields),
                    ));
                }
                Err(e) => {
                    fields.insert("deleted".into(), json!(false));
                    fields.insert("error".into(), json!(e.to_string()));
                    lines.push((format!("{head}: not deleted: {e}"), Value::Object(fields)));
                    failures.push(e);
                }
            }
        }
        release(&read, &deleted).await;
        if chosen.is_empty() {
            lines.push((format!("no messages in {}", queue_names(&read)), Value::Null));
        }
        let output = if args.queue.json {
            let all: Vec<&Value> = lines.iter().map(|(_, v)| v).filter(|v| !v.is_null()).collect();
            serde_json::to_string_pretty(&all).unwrap_or_default()
        } else {
            let text: Vec<&str> = lines.iter().map(|(t, _)| t.as_str()).collect();
            text.join("\n")
        };
        Ok((output, failures))
    })?;
    finish(output, failures, "deleted")
}

// ------------------------------------------------------------------------------------------------------
// What a message says, in words and as JSON
// ------------------------------------------------------------------------------------------------------

/// What a replay runs: the flow step (short, for the replay's lines) and what it does (for `show`).
struct Plan {
    step: &'static str,
    does: String,
}

/// What replaying the message runs, or why it cannot be replayed (and what to do instead).
fn plan(reading: &Reading) -> Result<Plan, String> {
    match &reading.about {
        About::Task { attempt: Ok(a), .. } => Ok(Plan {
            step: "the classifier's judge step",
            does: format!(
                "the stopped task of run {} attempt {} is judged and the decision applied; a run that moved on \
                 answers DUPLICATE or STALE and changes nothing",
                a.run_id, a.attempt
            ),
        }),
        About::Task { attempt: Err(why), .. } => Err(format!(
            "{why}; this stack's classifier would leave it alone, so there is nothing to replay here (another \
             stack's task? give that stack's --stack or REACTOR_NAMESPACE; else purge it)"
        )),
        About::Start { request: Ok(r), .. } => Ok(Plan {
            step: "the starter's start step",
            does: format!(
                "run {} is started under the run id its first try used; a run that exists already answers \
                 DUPLICATE and nothing starts twice",
                r.run_id
            ),
        }),
        About::Start { request: Err(why), .. } => Err(format!(
            "the starter refuses it: {why}; fix the job, start it with `ecs-reactor start`, then purge this \
             message"
        )),
        About::Tick(Ok(t)) => Ok(Plan {
            step: "the starter's start step",
            does: format!(
                "run {} of registered job {} is started from the registry's spec under the tick's run id; a run \
                 that exists already answers DUPLICATE and nothing starts twice; a suspended job's tick is \
                 recorded SKIPPED",
                t.run_id, t.job
            ),
        }),
        About::Tick(Err(why)) => Err(format!(
            "the starter refuses it: {why}; if the job should still run, `ecs-reactor jobs run JOB`, then purge \
             this message"
        )),
        // EventBridge may dead-letter a rule's event as it was before the rule's input transformer: the job
        // schedule's tick would then carry no job either, and its run cannot be named from it.
        About::Sweep => Err(
            "a Scheduled Event with no job in it: the sweep's tick, and the sweep runs every minute and does \
             the same work by itself (if its rule is a job's schedule instead, that tick's run did not start: \
             start it with `ecs-reactor start`); purge it"
                .into(),
        ),
        About::Stream(_) => Err(STREAM_ADVICE.into()),
        About::Other(what) => Err(format!("{what}: nothing ecs-reactor can replay")),
    }
}

/// What on-call does about a stream batch the scheduler gave up on.
const STREAM_ADVICE: &str = "a stream batch cannot be replayed from its record: the record says where the \
    records were in the table's stream, not what they held, and the stream's data is gone after 24 h. The \
    records were TTL deletes of delay items (due retries), and the sweep fires due delays by itself every \
    minute. Check `ecs-reactor runs --stuck`: a RETRY_SCHEDULED run with no delay item lost its retry (cancel \
    it, then redrive it); then purge this message";

/// One line for `list`: the run and task, the job, or the stream batch.
fn about_line(about: &About) -> String {
    match about {
        About::Task { task, attempt } => {
            let id = task.task_arn.rsplit('/').next().unwrap_or(&task.task_arn);
            match attempt {
                Ok(a) => format!("run {} attempt {} task {id}", a.run_id, a.attempt),
                Err(_) => format!("task {id} (not judged)"),
            }
        }
        About::Start { job, request } => match (job, request) {
            (_, Ok(r)) => format!("job {} run {}", r.job.job, r.run_id),
            (Some(job), Err(_)) => format!("job {job} (refused by the starter)"),
            (None, Err(_)) => "a job request (refused by the starter)".into(),
        },
        About::Tick(Ok(t)) => format!("job {} run {} (registered)", t.job, t.run_id),
        About::Tick(Err(_)) => "a registered job's tick (refused by the starter)".into(),
        About::Sweep => "a scheduled tick with no job (the sweep's)".into(),
        About::Stream(b) => format!(
            "{} stream record(s) of table {}",
            b.batch_size
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            b.table().unwrap_or("-")
        ),
        About::Other(what) => shorten(what, 80),
    }
}

/// A message as JSON; `full` adds its message attributes and its payload, redacted.
fn letter_json(l: &Letter, full: bool) -> Value {
    let r = &l.reading;
    let mut out = Map::new();
    out.insert("messageId".into(), json!(l.id()));
    out.insert("queue".into(), json!(l.queue.name));
    out.insert("queueUrl".into(), json!(l.queue.url));
    out.insert("kind".into(), json!(r.kind.as_str()));
    out.insert("failedAt".into(), json!(l.when().map(stamp)));
    out.insert("sentAt".into(), json!(l.message.sent_at.map(stamp)));
    out.insert("failed".into(), failed_json(&r.failed));
    out.insert("about".into(), about_json(&r.about));
    out.insert(
        "replay".into(),
        match plan(r) {
            Ok(plan) => json!({"possible": true, "step": plan.step, "does": plan.does}),
            Err(why) => json!({"possible": false, "why": why}),
        },
    );
    if full {
        out.insert("attributes".into(), json!(l.message.attributes));
        out.insert("payload".into(), json!(r.payload.as_ref().map(redacted)));
    }
    Value::Object(out)
}

fn failed_json(f: &letter::Failed) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            out.insert(key.to_owned(), json!(v));
        }
    };
    put("rule", f.rule.clone());
    put("ruleName", f.rule.as_deref().map(|a| name_of(a).to_owned()));
    put("function", f.function.clone());
    put(
        "functionName",
        f.function.as_deref().map(|a| name_of(a).to_owned()),
    );
    put("condition", f.condition.clone());
    put("tries", f.tries.clone());
    put("at", f.at.map(stamp));
    put("errorType", f.error_type.clone());
    put("errorMessage", f.error_message.clone());
    Value::Object(out)
}

fn about_json(about: &About) -> Value {
    match about {
        About::Task { task, attempt } => {
            let mut out = json!({
                "event": "ECS Task State Change",
                "taskArn": task.task_arn,
                "lastStatus": task.last_status,
                "stopCode": task.stop_code.as_ref().map(|c| c.as_str().to_owned()),
                "stoppedReason": task.stopped_reason,
                "startedBy": task.started_by,
            });
            if let Ok(a) = attempt {
                out["runId"] = json!(a.run_id);
                out["attempt"] = json!(a.attempt);
            }
            out
        }
        About::Start { job, request } => match request {
            Ok(r) => json!({
                "event": if r.scheduled_at.is_some() { "Scheduled Event" } else { "job request" },
                "job": r.job.job,
                "runId": r.run_id,
                "scheduledAt": r.scheduled_at.map(stamp),
            }),
            Err(why) => json!({"event": "job request", "job": job, "refused": why}),
        },
        About::Tick(Ok(t)) => json!({
            "event": "registered tick", "job": t.job, "runId": t.run_id, "scheduledAt": stamp(t.scheduled_at),
        }),
        About::Tick(Err(why)) => json!({"event": "registered tick", "refused": why}),
        About::Sweep => json!({"event": "Scheduled Event", "sweep": true}),
        About::Stream(b) => json!({
            "streamArn": b.stream_arn,
            "table": b.table(),
            "shardId": b.shard_id,
            "startSequenceNumber": b.start_sequence,
            "endSequenceNumber": b.end_sequence,
            "batchSize": b.batch_size,
            "approximateArrivalOfFirstRecord": b.first_arrival,
            "approximateArrivalOfLastRecord": b.last_arrival,
        }),
        About::Other(what) => json!({"what": what}),
    }
}

/// `text` on one line, in at most `max` characters, ending with … when cut.
fn shorten(text: &str, max: usize) -> String {
    let line = text.replace('\n', " ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
