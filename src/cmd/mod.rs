//! Where every command starts: [`run`] dispatches the parsed command line to the subcommand's
//! own file, and nothing else holds a command body. The cache lifecycle commands (`claim`,
//! `prepare`, `warm`, `trim`, `report`) share [`context`].

pub mod cacheprog;
pub mod cacheprog_gc;
pub mod claim;
mod context;
pub mod keys;
pub mod plan;
pub mod prepare;
pub mod prune;
pub mod report;
pub mod trim;
pub mod trust;
pub mod warm;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::go::Go;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let go = Go::from_env();
    match cli.command {
        Command::Plan(a) => plan::run(&a, &go),
        Command::Keys(a) => keys::run(&a, &go),
        Command::Claim(a) => claim::run(&a, &go),
        Command::Prepare(a) => prepare::run(&a, &go),
        Command::Warm(a) => warm::run(&a, &go),
        Command::Trim(a) => trim::run(&a, &go),
        Command::Report(a) => report::run(&a, &go),
        Command::Prune(a) => prune::run(&a, &go),
        Command::Cacheprog(a) => cacheprog::run(&a),
        Command::CacheprogGc(a) => cacheprog_gc::run(&a),
        Command::Trust(a) => trust::run(&a),
        // The no-op program the warm-up gives `go test -exec`: runs nothing.
        Command::ExecNothing(_) => Ok(ExitCode::SUCCESS),
    }
}
