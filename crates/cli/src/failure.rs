//! Why a command did not do its job, and the exit code scripts can rely on.

use std::fmt;
use std::process::ExitCode;

/// Exit codes: 0 done; 2 the command line is wrong (clap's own); 3 an input file is unreadable or invalid;
/// 4 no such run or task; 5 AWS could not be asked (no table, no credentials, no answer); 6 the run is not in a
/// state that allows the change (cancel a finished run, redrive a running one), or ECS refused a start.
#[derive(Debug)]
pub enum Failure {
    /// An input file could not be read or is not what it should be.
    BadInput(String),
    /// An input file has these problems: one line each (exit code 3, as [`Failure::BadInput`]).
    Problems(Vec<String>),
    /// The run or task asked for is not in the table.
    NotFound(String),
    /// The table could not be read: missing, no credentials, no network.
    Aws(String),
    /// The run's state does not allow the change asked for.
    Conflict(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::BadInput(_) | Failure::Problems(_) => ExitCode::from(3),
            Failure::NotFound(_) => ExitCode::from(4),
            Failure::Aws(_) => ExitCode::from(5),
            Failure::Conflict(_) => ExitCode::from(6),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Errors from serde can span lines; the contract is one line.
            Failure::BadInput(message)
            | Failure::NotFound(message)
            | Failure::Aws(message)
            | Failure::Conflict(message) => f.write_str(&message.replace('\n', " ")),
            // One problem a line, each a line of its own whatever it holds.
            Failure::Problems(problems) => {
                let lines: Vec<String> = problems.iter().map(|p| p.replace('\n', " ")).collect();
                f.write_str(&lines.join("\n"))
            }
        }
    }
}

/// Reads a file, `-` meaning standard input.
pub fn read_input(path: &str) -> Result<String, Failure> {
    let read = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|e| Failure::BadInput(format!("{path}: cannot read: {e}")))
}
