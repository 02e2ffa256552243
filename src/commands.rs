//! One function per subcommand, thin: load the job, call the core, write the result. The cache
//! lifecycle commands live in [`crate::lifecycle`]; these are their entry points.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{KeysArgs, PlanArgs, PrepareArgs, PruneArgs, ReportArgs, TrimArgs, WarmArgs};
use crate::error::usage;
use crate::gocmd::{Go, GoRunner};
use crate::job::{self, KeysDoc};
use crate::output::{self, Format, github, gitlab, shell, sink, text};
use crate::{fsutil, golist, lifecycle, plan, warm};

/// `plan`: the local preview.
pub fn plan(a: &PlanArgs, go: &dyn GoRunner) -> Result<ExitCode> {
    let job = job::load(&a.job.job_args(), go)?;
    let coverage = if a.no_coverage {
        None
    } else {
        let units = golist::units(&job.project);
        let opts = warm::Options {
            job: a.job_kind,
            ..warm::Options::default()
        };
        let compile_flags = job.flags.fingerprint_tokens();
        match golist::coverage_with_packages(go, &units, &compile_flags, true, opts.needs_tests()) {
            Ok((mut c, deps)) => {
                c.vet = warm::count_vet(go, &units, &job.flags, opts, &noop_exec(), &deps, true);
                Some(c)
            }
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
        remote_cache: crate::cacheprog::plan(&a.cacheprog)?,
    };
    if a.json {
        print!("{}", serde_json::to_string_pretty(&doc)? + "\n");
    } else {
        print!("{}", plan::render(&doc));
    }
    Ok(ExitCode::SUCCESS)
}

/// The program `go test -exec` runs during the warm-up: this binary's hidden `exec-nothing`.
pub fn noop_exec() -> String {
    std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "go-ci-cache".into())
}

/// `keys`: compute and write the keys.
pub fn keys(a: &KeysArgs, go: &dyn GoRunner) -> Result<ExitCode> {
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
    if let Some(w) = crate::toolchain::check_project(
        p.workspace.as_deref(),
        &p.modules,
        env.get("GOVERSION"),
        env.get("GOTOOLCHAIN"),
    ) {
        crate::progress::Log::new(crate::progress::Style::detect()).warn(&w);
    }
}

/// `trust`: the decision of who writes what, for this environment. What does not parse is a
/// usage error here (the cache program itself falls back to writing nothing).
pub fn trust(a: &crate::cli::TrustArgs) -> Result<ExitCode> {
    let (d, problems) = a.trust.decide(a.lookup_only);
    if let Some(e) = problems.into_iter().next() {
        return Err(e);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", crate::plan::render_trust(&d));
    }
    Ok(ExitCode::SUCCESS)
}

/// `prepare`.
pub fn prepare(a: &PrepareArgs, go: &Go) -> Result<ExitCode> {
    lifecycle::prepare(a, go)
}

/// `warm`.
pub fn warm(a: &WarmArgs, go: &Go) -> Result<ExitCode> {
    lifecycle::warm(a, go)
}

/// `trim`.
pub fn trim(a: &TrimArgs, go: &Go) -> Result<ExitCode> {
    lifecycle::trim(a, go)
}

/// `report`.
pub fn report(a: &ReportArgs, go: &Go) -> Result<ExitCode> {
    lifecycle::report(a, go)
}

/// `prune`.
pub fn prune(a: &PruneArgs, go: &Go) -> Result<ExitCode> {
    crate::prune::run(a, go)
}
