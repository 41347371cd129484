//! `ecs-reactor validate PATH`: the starter's validation, offline, of one job file or a directory of them
//! (`jobs/`): every problem of every file at once, one a line, each with the file and the field's path.
//! A valid job file is printed with every default filled in; a valid directory, one line per job.

use crate::args::ValidateArgs;
use crate::failure::{read_input, Failure};
use reactor_core::jobfile::{self, JobFile};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn run(args: &ValidateArgs) -> Result<String, Failure> {
    let path = Path::new(&args.job);
    if path.is_dir() {
        let files = read_dir(path)?;
        let jobs = validate_all(&files)?;
        return Ok(summary(&jobs));
    }
    let value = parse(&args.job, &read_input(&args.job)?)?;
    let file = jobfile::read(value, None).map_err(|problems| located(&args.job, problems))?;
    let mut shown = file.job.with_defaults_shown();
    if let (Some(fields), Some(schedule)) = (shown.as_object_mut(), &file.schedule) {
        fields.insert(
            "schedule".into(),
            serde_json::to_value(schedule).unwrap_or_default(),
        );
    }
    serde_json::to_string_pretty(&shown).map_err(|e| Failure::BadInput(e.to_string()))
}

/// The job files of a directory (`*.json`, `*.yaml`, `*.yml`), by name; anything else is named and refused
/// rather than skipped (a `nightly.jsn` would otherwise never be applied).
pub fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::BadInput(format!("{}: cannot read: {e}", dir.display())))?;
    let mut files = Vec::new();
    let mut strays = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::BadInput(format!("{}: cannot read: {e}", dir.display())))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || path.is_dir() {
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json" | "yaml" | "yml") => files.push(path),
            _ => strays.push(format!(
                "{}: not a job file (job files end in .json, .yaml or .yml)",
                path.display()
            )),
        }
    }
    if !strays.is_empty() {
        return Err(Failure::Problems(strays));
    }
    files.sort();
    Ok(files)
}

/// Every file read, or every problem of every file; two files of one job are a problem too.
pub fn validate_all(files: &[PathBuf]) -> Result<Vec<(PathBuf, JobFile)>, Failure> {
    let mut problems = Vec::new();
    let mut jobs: Vec<(PathBuf, JobFile)> = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let read = std::fs::read_to_string(path)
            .map_err(|e| format!("{shown}: cannot read: {e}"))
            .and_then(|text| parse(&shown, &text).map_err(|f| f.to_string()));
        match read {
            Err(problem) => problems.push(problem),
            Ok(value) => match jobfile::read(value, stem.as_deref()) {
                Ok(file) => jobs.push((path.clone(), file)),
                Err(found) => problems.extend(found.into_iter().map(|p| format!("{shown}: {p}"))),
            },
        }
    }
    for (i, (path, file)) in jobs.iter().enumerate() {
        if let Some((other, _)) = jobs[..i].iter().find(|(_, f)| f.job.job == file.job.job) {
            problems.push(format!(
                "{}: job {:?} is defined in {} too",
                path.display(),
                file.job.job,
                other.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(Failure::Problems(problems))
    }
}

/// A job file's text as JSON, whether written as JSON or YAML (by its extension).
pub fn parse(path: &str, text: &str) -> Result<Value, Failure> {
    let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    if yaml {
        return crate::yaml::to_json(text).map_err(|e| Failure::BadInput(format!("{path}: {e}")));
    }
    serde_json::from_str(text).map_err(|e| {
        // serde_json's syntax errors give a position, never the text.
        Failure::BadInput(format!("{path}: not JSON: {e}"))
    })
}

fn located(path: &str, problems: Vec<String>) -> Failure {
    Failure::Problems(
        problems
            .into_iter()
            .map(|p| format!("{path}: {p}"))
            .collect(),
    )
}

fn summary(jobs: &[(PathBuf, JobFile)]) -> String {
    let mut out = format!("{} job files valid:", jobs.len());
    for (path, file) in jobs {
        let schedule = match &file.schedule {
            Some(s) => format!(
                "{} {}{}",
                s.expression,
                s.timezone.as_deref().unwrap_or("UTC"),
                if s.state.is_enabled() {
                    ""
                } else {
                    " DISABLED"
                }
            ),
            None => "no schedule (started by hand)".to_owned(),
        };
        out.push_str(&format!(
            "\n  {}  {}  {schedule}",
            path.display(),
            file.job.job
        ));
    }
    out
}
