//! `ecs-reactor validate JOB_FILE`: the starter's validation, offline.

use crate::args::ValidateArgs;
use crate::failure::{read_input, Failure};
use reactor_core::JobRequest;

pub fn run(args: &ValidateArgs) -> Result<String, Failure> {
    let text = read_input(&args.job)?;
    let job = JobRequest::from_json(&text)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", args.job)))?;
    serde_json::to_string_pretty(&job).map_err(|e| Failure::BadInput(e.to_string()))
}
