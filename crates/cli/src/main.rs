//! `ecs-reactor`: on-call's command line. Each subcommand lives in its own module; `main` only parses the
//! arguments, runs the command and turns its error into a one-line message and an exit code.

mod args;
mod aws;
mod explain;
mod failure;
mod oncall;
mod operate;
mod rules;
mod validate;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let now = cli.now();
    let result = match cli.command {
        args::Command::Explain(a) => explain::run(&a),
        args::Command::Rules(a) => rules::run(&a),
        args::Command::Validate(a) => validate::run(&a),
        args::Command::Runs(a) => oncall::runs(&a, now),
        args::Command::Show(a) => oncall::show(&a, now),
        args::Command::Start(a) => operate::start(&a, now),
        args::Command::Cancel(a) => operate::cancel(&a, now),
        args::Command::Redrive(a) => operate::redrive(&a, now),
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("ecs-reactor: {failure}");
            failure.exit_code()
        }
    }
}
