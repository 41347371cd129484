//! `ecs-reactor`: on-call's command line. Each subcommand lives in its own module; `main` only parses the
//! arguments, runs the command and turns its error into a one-line message and an exit code.

mod args;
mod aws;
mod dlq;
mod explain;
mod failure;
mod import_sfn;
mod jobs;
mod logs;
mod oncall;
mod operate;
mod rules;
mod validate;
mod warnings;
mod yaml;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    warnings::to_stderr();
    let now = cli.now();
    let result = match cli.command {
        args::Command::Explain(a) => explain::run(&a),
        args::Command::Rules(a) => rules::run(&a),
        args::Command::Validate(a) => validate::run(&a),
        args::Command::Runs(a) => oncall::runs(&a, now),
        args::Command::Show(a) => oncall::show(&a, now),
        args::Command::Logs(a) => logs::run(&a),
        args::Command::Start(a) => operate::start(&a, now),
        args::Command::Cancel(a) => operate::cancel(&a, now),
        args::Command::Redrive(a) => operate::redrive(&a, now),
        args::Command::Dlq(a) => dlq::run(&a, now),
        args::Command::Jobs(a) => jobs::run(&a, now),
        args::Command::ImportSfn(a) => import_sfn::run(&a),
    };
    match result {
        Ok(output) => print(&output),
        Err(failure) => {
            eprintln!("ecs-reactor: {failure}");
            failure.exit_code()
        }
    }
}

/// Writes the output. A reader that stopped reading (`ecs-reactor runs --json | head`) is not a failure:
/// the command ends quietly with 0, as `cat` does (println! would panic with exit 101).
fn print(output: &str) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{output}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecs-reactor: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}
