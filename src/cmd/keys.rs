//! `keys`: compute the keys and write them in the CI's own format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::KeysArgs;
use crate::error::usage;
use crate::go::GoRunner;
use crate::job;
use crate::output::doc::KeysDoc;
use crate::output::{self, Format, github, gitlab, shell, sink, text};

/// `keys`: compute and write the keys.
pub fn run(a: &KeysArgs, go: &dyn GoRunner) -> Result<ExitCode> {
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

fn emit(a: &KeysArgs, text: &str) -> Result<()> {
    match &a.output {
        Some(p) => sink::replace(p, text, "the output file"),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Under a GOTOOLCHAIN that cannot switch, a project that needs a newer Go gets one warning;
/// the keys stay those of the installed Go and the job's own `go` step is what fails.
fn warn_if_go_too_old(job: &job::Job) {
    let p = &job.project;
    let env = &job.env;
    if let Some(w) = crate::go::toolchain::check_project(
        p.workspace.as_deref(),
        &p.modules,
        env.get("GOVERSION"),
        env.get("GOTOOLCHAIN"),
    ) {
        crate::output::progress::Log::new(crate::output::progress::Style::detect()).warn(&w);
    }
}
