//! go-ci-cache: layered cache keys, warm-up and trimming for Go's module cache (GOMODCACHE) and
//! build cache (GOCACHE) in CI.
//!
//! The pure core — [`key`], [`job::key_inputs`], [`output`] renderers, [`plan::render`] — takes
//! plain data and returns plain data. [`gocmd`], [`project`], [`fsutil`] and [`output::sink`]
//! are the thin shell that runs `go` and touches the filesystem.

pub mod budget;
pub mod cacheprog;
pub mod cli;
pub mod commands;
pub mod coverage;
pub mod error;
pub mod flags;
pub mod fsutil;
pub mod github;
pub mod gocache;
pub mod gocmd;
pub mod goenv;
pub mod golist;
pub mod job;
pub mod key;
pub mod lease;
pub mod lifecycle;
pub mod machine;
pub mod modcache;
pub mod output;
pub mod plan;
pub mod progress;
pub mod project;
pub mod prune;
pub mod remove;
pub mod report;
pub mod state;
pub mod toolchain;
pub mod trust;
pub mod warm;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::gocmd::Go;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let go = Go::from_env();
    match cli.command {
        Command::Plan(a) => commands::plan(&a, &go),
        Command::Keys(a) => commands::keys(&a, &go),
        Command::Claim(a) => lifecycle::claim(&a, &go),
        Command::Prepare(a) => commands::prepare(&a, &go),
        Command::Warm(a) => commands::warm(&a, &go),
        Command::Trim(a) => commands::trim(&a, &go),
        Command::Report(a) => commands::report(&a, &go),
        Command::Prune(a) => commands::prune(&a, &go),
        Command::Cacheprog(a) => cacheprog::run(&a),
        Command::CacheprogGc(a) => cacheprog::run_gc(&a),
        Command::Trust(a) => commands::trust(&a),
        Command::ExecNothing(_) => Ok(ExitCode::SUCCESS),
    }
}
