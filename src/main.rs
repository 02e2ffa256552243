//! The `go-ci-cache` binary: parse, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use go_ci_cache::{cli::Cli, error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match go_ci_cache::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let msg = error::render(&err);
            eprintln!("go-ci-cache: error: {msg}");
            if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
                let escaped = msg
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A");
                // On stderr: stdout may be data a caller captures (`keys --format json` in the
                // action). The runner reads workflow commands from both streams (actions/runner
                // ScriptHandler and NodeScriptActionHandler attach the command parser to each).
                eprintln!("::error title=go-ci-cache::{escaped}");
            }
            ExitCode::from(error::exit_code(&err))
        }
    }
}
