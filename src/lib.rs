//! go-ci-cache: layered cache keys, warm-up and trimming for Go's module cache (GOMODCACHE) and
//! build cache (GOCACHE) in CI.
//!
//! The pure core — [`key`], [`job::key_inputs`], [`output`] renderers, [`plan::render`] — takes
//! plain data and returns plain data. [`gocmd`], [`project`], [`fsutil`] and [`output::sink`]
//! are the thin shell that runs `go` and touches the filesystem.

pub mod cli;
pub mod coverage;
pub mod error;
pub mod flags;
pub mod fsutil;
pub mod gocache;
pub mod gocmd;
pub mod goenv;
pub mod golist;
pub mod job;
pub mod key;
pub mod lifecycle;
pub mod modcache;
pub mod output;
pub mod plan;
pub mod progress;
pub mod project;
pub mod remove;
pub mod report;
pub mod state;
pub mod toolchain;
pub mod warm;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, KeysArgs, PlanArgs};
use crate::error::usage;
use crate::gocmd::Go;
use crate::job::KeysDoc;
use crate::output::{Format, github, gitlab, shell, sink, text};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let go = Go::from_env();
    match cli.command {
        Command::Plan(a) => cmd_plan(&a, &go),
        Command::Keys(a) => cmd_keys(&a, &go),
        Command::Prepare(a) => lifecycle::prepare(&a, &go),
        Command::Warm(a) => lifecycle::warm(&a, &go),
        Command::Trim(a) => lifecycle::trim(&a, &go),
        Command::Report(a) => lifecycle::report(&a, &go),
    }
}

fn cmd_plan(a: &PlanArgs, go: &Go) -> Result<ExitCode> {
    let job = job::load(&a.job.job_args(), go)?;
    let coverage = if a.no_coverage {
        None
    } else {
        let units = golist::units(&job.project);
        match golist::coverage(go, &units, &job.flags.fingerprint_tokens(), true) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("go-ci-cache: warning: dependency coverage unavailable: {e:#}");
                None
            }
        }
    };
    let doc = plan::PlanDoc {
        keys: KeysDoc::new(&job),
        modules_size: fsutil::dir_size(&job.env.gomodcache()),
        build_size: fsutil::dir_size(&job.env.gocache()),
        coverage,
    };
    if a.json {
        print!("{}", serde_json::to_string_pretty(&doc)? + "\n");
    } else {
        print!("{}", plan::render(&doc));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_keys(a: &KeysArgs, go: &Go) -> Result<ExitCode> {
    let format = a.format.resolve(|k| std::env::var(k).ok());
    let job = job::load(&a.job.job_args(), go)?;
    warn_if_go_too_old(&job);
    let doc = KeysDoc::new(&job);
    let outs = output::outputs(&doc);
    match format {
        Format::Github => {
            let out_path = a
                .output
                .clone()
                .or_else(|| std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from))
                .ok_or_else(|| {
                    usage(
                        "`--format github` needs `$GITHUB_OUTPUT`, which is not set",
                        "run inside GitHub Actions, or pass --output FILE",
                    )
                })?;
            let rendered = github::render_random(&outs)?;
            let env_part = if a.export_env {
                let env_path = std::env::var_os("GITHUB_ENV").map(PathBuf::from).ok_or_else(|| {
                    usage(
                        "`--export-env` with `--format github` needs `$GITHUB_ENV`, which is not set",
                        "run inside GitHub Actions, or drop --export-env",
                    )
                })?;
                Some((
                    env_path,
                    github::render_random(&output::exported_env(&doc))?,
                ))
            } else {
                None
            };
            sink::append(&out_path, &rendered, "the GitHub output file")?;
            if let Some((p, t)) = env_part {
                sink::append(&p, &t, "the GitHub env file")?;
            }
        }
        Format::Gitlab => {
            let rendered = gitlab::render(&gitlab::variables(&doc, a.export_env))?;
            let path = a
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from("go-ci-cache.env"));
            sink::replace(&path, &rendered, "the dotenv report")?;
        }
        Format::Json => emit(a, &output::render_json(&doc)?)?,
        Format::Shell => {
            let env = if a.export_env {
                output::exported_env(&doc)
            } else {
                Vec::new()
            };
            emit(a, &shell::render(&outs, &env))?;
        }
        Format::Text | Format::Auto => emit(a, &text::render(&outs))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Under a GOTOOLCHAIN that cannot switch, a project that needs a newer Go gets one warning;
/// the keys stay those of the installed Go and the job's own `go` step is what fails.
fn warn_if_go_too_old(job: &job::Job) {
    let p = &job.project;
    let env = &job.env;
    if let Some(w) = toolchain::check_project(
        p.workspace.as_deref(),
        &p.modules,
        env.get("GOVERSION"),
        env.get("GOTOOLCHAIN"),
    ) {
        progress::Log::new(progress::Style::detect()).warn(&w);
    }
}

fn emit(a: &KeysArgs, text: &str) -> Result<()> {
    match &a.output {
        Some(p) => sink::replace(p, text, "the output file"),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
