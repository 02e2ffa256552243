//! `plan`: the local preview of everything go-ci-cache would do for a project.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::go::{GoRunner, list};
use crate::job;
use crate::output::doc::KeysDoc;
use crate::{fsutil, output, warm};

/// `plan`: the local preview.
pub fn run(a: &PlanArgs, go: &dyn GoRunner) -> Result<ExitCode> {
    let job = job::load(&a.job.job_args(), go)?;
    let coverage = if a.no_coverage {
        None
    } else {
        let units = list::units(&job.project);
        let opts = warm::Options {
            job: a.job_kind,
            ..warm::Options::default()
        };
        let compile_flags = job.flags.fingerprint_tokens();
        match list::coverage_with_packages(go, &units, &compile_flags, true, opts.needs_tests()) {
            Ok((mut c, deps)) => {
                c.vet = warm::count_vet(
                    go,
                    &units,
                    &job.flags,
                    opts,
                    &warm::noop_exec(),
                    &deps,
                    true,
                );
                Some(c)
            }
            Err(e) => {
                eprintln!("go-ci-cache: warning: dependency coverage unavailable: {e:#}");
                None
            }
        }
    };
    let doc = output::plan::PlanDoc {
        keys: KeysDoc::new(&job),
        modules_size: fsutil::dir_size(&job.env.gomodcache()),
        build_size: fsutil::dir_size(&job.env.gocache()),
        coverage,
        remote_cache: crate::cacheprog::plan(&a.cacheprog)?,
    };
    if a.json {
        print!("{}", serde_json::to_string_pretty(&doc)? + "\n");
    } else {
        print!("{}", output::plan::render(&doc));
    }
    Ok(ExitCode::SUCCESS)
}
