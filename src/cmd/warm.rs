//! `warm`: the warm-up that matches the job, with coverage measured before and after.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::context::{self};
use crate::cache::state::WarmReport;
use crate::cli::WarmArgs;
use crate::go::{Go, list};
use crate::warm::{self, coverage};

/// `warm`: the warm-up that matches the job (`--job`).
pub fn run(a: &WarmArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let mut c = context::ctx(&a.common, go)?;
    let units = list::units(&c.job.project);
    let opts = warm::Options {
        job: a.job,
        vet: a.vet,
        test: a.test,
    };
    let flags = c.job.flags.fingerprint_tokens();
    let noop = warm::noop_exec();
    let measure = |go: &Go, offline: bool| {
        list::coverage_with_packages(go, &units, &flags, offline, opts.needs_tests()).map(
            |(mut cov, deps)| {
                cov.vet = warm::count_vet(go, &units, &c.job.flags, opts, &noop, &deps, offline);
                cov
            },
        )
    };
    let mut report = WarmReport::default();

    c.log
        .group("go-ci-cache: resolving packages (downloads missing modules)");
    match measure(go, false) {
        Ok(cov) => {
            c.log.info(&format!("before: {}", cov.sentence()));
            report.before = Some(cov);
        }
        Err(e) => report
            .warnings
            .push(format!("dependency coverage before the warm-up: {e:#}")),
    }
    let compiled_all = report
        .before
        .is_some_and(|b| b.cached() == b.total() && b.unavailable == 0);
    let vetted_all = report
        .before
        .is_some_and(|b| b.vet.is_some_and(|v| v.cached == v.total));
    let mut steps = warm::plan(&units, &c.job.flags, opts, &noop);
    if compiled_all {
        c.log.info("every dependency package is already compiled for these flags; skipping the compile step");
        steps.retain(|s| s.kind != warm::StepKind::Compile);
    }
    if compiled_all && vetted_all {
        c.log
            .info("every dependency vet action is already cached; skipping the vet and test steps");
        steps.clear();
    }
    let estimate = report.before.map_or(0, |b| b.total() - b.cached());
    let outcome = warm::run(
        go,
        &c.job.project.root,
        &units,
        &steps,
        estimate,
        &mut c.log,
    );
    report.steps = outcome.steps;
    report.failed = outcome.failed;
    report.warnings.extend(outcome.warnings);

    // A warm-up whose every step succeeded compiled (and vetted) every package of the graph the
    // count before it listed: that is the count after, without loading the graph again. Only
    // when something failed, or the first count could not see everything, is it measured.
    if let Some(after) = report
        .before
        .filter(|_| report.failed.is_empty() && report.steps.iter().all(|s| s.ok))
        .and_then(coverage::after_success)
    {
        c.log.info(&format!(
            "after: {} (every warm-up step succeeded)",
            after.sentence()
        ));
        report.after = Some(after);
    } else {
        c.log
            .group("go-ci-cache: dependency coverage after the warm-up");
        match measure(go, true) {
            Ok(cov) => {
                c.log.info(&format!("after: {}", cov.sentence()));
                report.after = Some(cov);
            }
            Err(e) => report
                .warnings
                .push(format!("dependency coverage after the warm-up: {e:#}")),
        }
        c.log.end_group();
    }
    for (p, e) in &report.failed {
        c.log.info(&format!("failed to compile {p}: {e}"));
    }
    report.seconds = started.elapsed().as_secs_f64();
    let compiled: u64 = report.steps.iter().map(|s| s.compiled).sum();
    c.log.info(&format!(
        "go-ci-cache: warm-up done in {:.1}s, {compiled} packages compiled",
        report.seconds
    ));
    let warnings = report.warnings.clone();
    c.state.warm = Some(report);
    c.state
        .timings
        .insert("warm".into(), started.elapsed().as_secs_f64());
    Ok(context::finish(&mut c, &warnings, a.common.strict))
}
