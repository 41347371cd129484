//! `ecs-reactor`: on-call's command line. Each subcommand lives in its own module; `main` only parses the
//! arguments, runs the command and turns its error into a one-line message and an exit code.

mod args;
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
    let result = match cli.command {
        args::Command::Explain(a) => explain::run(&a),
        args::Command::Rules(a) => rules::run(&a),
        args::Command::Validate(a) => validate::run(&a),
        args::Command::Runs(a) => oncall::runs(&a),
        args::Command::Show(a) => oncall::show(&a),
        args::Command::Start(a) => operate::start(&a),
        args::Command::Cancel(a) => operate::cancel(&a),
        args::Command::Redrive(a) => operate::redrive(&a),
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
