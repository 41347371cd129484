//! `ecs-reactor import-sfn STATE_MACHINE [--out jobs/] [--prefix P] [--dry-run]`: a Step Functions state
//! machine's ECS tasks as job files (`asl`: the mapping), for teams moving off the designs ecs-reactor replaces
//! (RunTask `.sync` with Retry and Catch, Wait, SNS). Every file is validated and every target checked before
//! anything is written; a file already there with other content is refused, never overwritten. What the job
//! does differently from the state, and what was left out, is printed per job (fields named, values never).

mod asl;

use crate::args::ImportSfnArgs;
use crate::failure::{read_input, Failure};
use serde_json::{json, Value};
use std::path::Path;

pub fn run(args: &ImportSfnArgs) -> Result<String, Failure> {
    let text = read_input(&args.state_machine)?;
    let value = match serde_json::from_str::<Value>(&text) {
        Ok(value) => value,
        Err(_) => crate::yaml::to_json(&text)
            .map_err(|e| Failure::BadInput(format!("{}: {e}", args.state_machine)))?,
    };
    let machine = asl::definition(value)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", args.state_machine)))?;
    let import = asl::import(&machine, args.prefix.as_deref().unwrap_or(""));
    if !import.problems.is_empty() {
        return Err(Failure::Problems(
            import
                .problems
                .iter()
                .map(|p| format!("{}: {p}", args.state_machine))
                .collect(),
        ));
    }

    // Every target checked before the first write: a problem with any of them writes nothing.
    let out = Path::new(&args.out);
    let mut actions = Vec::new();
    let mut problems = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for job in &import.jobs {
        if !names.insert(job.job.clone()) {
            problems.push(format!(
                "states {} and another both make job {:?}: give one of them another name in the state machine",
                job.state, job.job
            ));
            continue;
        }
        let path = out.join(format!("{}.json", job.job));
        let content = serde_json::to_string_pretty(&job.file).unwrap_or_default() + "\n";
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == content => actions.push((job, path, content, "unchanged")),
            Ok(_) => problems.push(format!(
                "{}: exists with other content; not overwritten (move it, or import with --prefix)",
                path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                actions.push((job, path, content, "wrote"))
            }
            Err(e) => problems.push(format!("{}: cannot read: {e}", path.display())),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Problems(problems));
    }
    if !args.dry_run {
        std::fs::create_dir_all(out)
            .map_err(|e| Failure::BadInput(format!("{}: cannot create: {e}", out.display())))?;
        for (_, path, content, action) in &actions {
            if *action == "wrote" {
                write_new(path, content)?;
            }
        }
    }
    let verb = |action: &'static str| -> &'static str {
        match (args.dry_run, action) {
            (true, "wrote") => "would write",
            (_, action) => action,
        }
    };
    if args.json {
        return Ok(serde_json::to_string_pretty(&json!({
            "jobs": actions.iter().map(|(job, path, _, action)| json!({
                "state": job.state, "job": job.job, "file": path.display().to_string(),
                "action": verb(action), "notes": job.notes,
            })).collect::<Vec<_>>(),
            "notes": import.notes,
        }))
        .unwrap_or_default());
    }
    let mut lines = Vec::new();
    for (job, path, _, action) in &actions {
        lines.push(format!(
            "{} {}  ← state {}",
            verb(action),
            path.display(),
            job.state
        ));
        lines.extend(job.notes.iter().map(|n| format!("    {n}")));
    }
    if !import.notes.is_empty() {
        lines.push("the other states:".into());
        lines.extend(import.notes.iter().map(|n| format!("    {n}")));
    }
    lines.push(format!(
        "next: add each job's schedule (the rule or schedule that started the state machine), then\n    ecs-reactor validate {0} && ecs-reactor jobs apply {0} --dry-run",
        out.display()
    ));
    Ok(lines.join("\n"))
}

/// Writes a new file whole or not at all: the content goes to a temporary file beside it, which is then linked
/// under the file's name only if no file has that name (one created since the check is never overwritten).
fn write_new(path: &Path, content: &str) -> Result<(), Failure> {
    let failed =
        |e: std::io::Error| Failure::BadInput(format!("{}: cannot write: {e}", path.display()));
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&temporary, content).map_err(failed)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Failure::BadInput(format!(
            "{}: created by someone else while importing; not overwritten",
            path.display()
        ))),
        Err(e) => Err(failed(e)),
    }
}
