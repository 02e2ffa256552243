//! The `go-ci-cache` binary: parse, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use go_ci_cache::{cli::Cli, error};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => match cacheprog_despite(&e) {
            Some(c) => c,
            None => e.exit(),
        },
    };
    match go_ci_cache::cmd::run(cli) {
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

/// A GOCACHEPROG whose command line does not parse (a mistyped flag) would make every go
/// command of the job fail: the cache program runs instead on its environment alone, and says
/// once per job which arguments it ignored.
fn cacheprog_despite(e: &clap::Error) -> Option<Cli> {
    use clap::error::ErrorKind;
    let args: Vec<String> = std::env::args().collect();
    let is_cacheprog = args.get(1).is_some_and(|a| a == "cacheprog");
    if !is_cacheprog || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return None;
    }
    let first = e.to_string().lines().next().unwrap_or_default().to_string();
    let first = first.trim_start_matches("error: ").to_string();
    go_ci_cache::cacheprog::ignore_arguments(format!(
        "the cache program's arguments `{}` do not parse ({first}); they are ignored and the environment alone configures it",
        args[2..].join(" ")
    ));
    Cli::try_parse_from(&args[..2]).ok()
}
