//! `ecs-reactor validate JOB_FILE`: the starter's validation, offline: every problem at once, one a line,
//! each with the file and the field's path; a valid job is printed with every default filled in.

use crate::args::ValidateArgs;
use crate::failure::{read_input, Failure};
use reactor_core::JobRequest;

pub fn run(args: &ValidateArgs) -> Result<String, Failure> {
    let text = read_input(&args.job)?;
    let job = JobRequest::from_json(&text).map_err(|e| {
        Failure::Problems(
            e.problems
                .iter()
                .map(|problem| format!("{}: {problem}", args.job))
                .collect(),
        )
    })?;
    serde_json::to_string_pretty(&job.with_defaults_shown())
        .map_err(|e| Failure::BadInput(e.to_string()))
}
