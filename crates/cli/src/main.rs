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
        args::Command::Explain(a) => explain::run(&a).map(Some),
        args::Command::Rules(a) => rules::run(&a).map(Some),
        args::Command::Validate(a) => validate::run(&a).map(Some),
        args::Command::Runs(a) => oncall::runs(&a, now).map(Some),
        args::Command::Show(a) => oncall::show(&a, now).map(Some),
        // `logs` writes its lines itself, each whole as it comes: a follower (`| grep` too) sees it at once.
        args::Command::Logs(a) => logs::run(&a).map(|()| None),
        args::Command::Start(a) => operate::start(&a, now).map(Some),
        args::Command::Cancel(a) => operate::cancel(&a, now).map(Some),
        args::Command::Redrive(a) => operate::redrive(&a, now).map(Some),
        args::Command::Dlq(a) => dlq::run(&a, now).map(Some),
        args::Command::Jobs(a) => jobs::run(&a, now).map(Some),
        args::Command::ImportSfn(a) => import_sfn::run(&a).map(Some),
    };
    match result {
        Ok(Some(output)) => print(&output),
        Ok(None) => ExitCode::SUCCESS,
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
