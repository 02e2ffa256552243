//! The cache lifecycle commands — `prepare`, `warm`, `trim`, `report` — wiring the pure policies
//! to the filesystem and the go command. Cache trouble is a warning and exit status 0; with
//! `--strict` it is exit status 1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{
    Caches, LifecycleOpts, PrepareArgs, ReportArgs, ReportFormat, TrimArgs, WarmArgs,
};
use crate::error::usage;
use crate::fsutil::{DirSize, dir_size, human_bytes};
use crate::gocmd::Go;
use crate::golist;
use crate::job::{self, Target};
use crate::output::sink;
use crate::progress::{Log, Style};
use crate::state::{self, PrepareReport, RestoreInfo, RootTrim, State, TrimReport, WarmReport};
use crate::{gocache, modcache, remove, report, warm};

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

struct Ctx {
    job: Target,
    state_path: PathBuf,
    state: State,
    log: Log,
}

fn ctx(o: &LifecycleOpts, go: &Go) -> Result<Ctx> {
    let job = job::load_target(&o.job.job_args(), go)?;
    let state_path = o
        .state
        .clone()
        .unwrap_or_else(|| state::default_path(&job.env.gocache(), |k| std::env::var(k).ok()));
    let state = State::load(&state_path, &job.env.gocache(), &job.env.gomodcache());
    Ok(Ctx {
        job,
        state_path,
        state,
        log: Log::new(Style::detect()),
    })
}

fn finish(c: &mut Ctx, warnings: &[String], strict: bool) -> ExitCode {
    if let Err(e) = c.state.save(&c.state_path) {
        c.log.warn(&format!(
            "cannot record the run state (report and trim need it): {e:#}"
        ));
        if strict {
            return ExitCode::from(crate::error::EXIT_FAILURE);
        }
    }
    for w in warnings {
        c.log.warn(w);
    }
    if strict && !warnings.is_empty() {
        ExitCode::from(crate::error::EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// `prepare`: right after a restore.
pub fn prepare(a: &PrepareArgs, go: &Go) -> Result<ExitCode> {
    let mut c = ctx(&a.common, go)?;
    let t0 = now_unix();
    // A new job cycle starts here.
    c.state = State::fresh(&c.job.env.gocache(), &c.job.env.gomodcache());
    let mut p = PrepareReport {
        started_at: t0,
        ..PrepareReport::default()
    };
    if a.common.caches.build() {
        match gocache::prepare(&c.job.env.gocache(), t0) {
            Ok((n, problems)) => {
                p.backdated = n;
                p.warnings.extend(problems);
                c.log.info(&format!(
                    "go-ci-cache: prepared GOCACHE: {n} restored entries marked unused until the job uses them; Go's own trim paused for this job"
                ));
            }
            Err(e) => p.warnings.push(format!(
                "cannot prepare GOCACHE `{}`: {e:#}",
                c.job.env.gocache().display()
            )),
        }
    }
    p.gocache = dir_size(&c.job.env.gocache());
    p.gomodcache = dir_size(&c.job.env.gomodcache());
    if a.modules_restored_key.is_some()
        || a.build_restored_key.is_some()
        || a.modules_hit
        || a.build_hit
    {
        c.state.restore = Some(RestoreInfo {
            modules_key: a.modules_restored_key.clone().filter(|k| !k.is_empty()),
            modules_hit: a.modules_hit,
            build_key: a.build_restored_key.clone().filter(|k| !k.is_empty()),
            build_hit: a.build_hit,
        });
    }
    let warnings = p.warnings.clone();
    c.state.prepare = Some(p);
    Ok(finish(&mut c, &warnings, a.common.strict))
}

/// `warm`: the warm-up that matches the job (`--job`).
pub fn warm(a: &WarmArgs, go: &Go) -> Result<ExitCode> {
    let mut c = ctx(&a.common, go)?;
    let started = Instant::now();
    let units = golist::units(&c.job.project);
    let opts = warm::Options {
        job: a.job,
        vet: a.vet,
        test: a.test,
    };
    let flags = c.job.flags.fingerprint_tokens();
    let noop = crate::commands::noop_exec();
    let measure = |go: &Go, offline: bool| {
        golist::coverage_with_packages(go, &units, &flags, offline, opts.needs_tests()).map(
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
    Ok(finish(&mut c, &warnings, a.common.strict))
}

/// `trim`: right before a save.
pub fn trim(a: &TrimArgs, go: &Go) -> Result<ExitCode> {
    let mut c = ctx(&a.common, go)?;
    let started = Instant::now();
    let mut t = TrimReport {
        dry_run: a.dry_run,
        ..TrimReport::default()
    };
    if a.common.caches.build() {
        t.gocache = trim_build(&c, a.dry_run, &mut t.warnings);
    } else {
        t.gocache.skipped = Some("build cache off (--caches)".into());
    }
    if a.common.caches.modules() {
        t.gomodcache = trim_modules(&c, go, a.dry_run, &mut t.warnings);
    } else {
        t.gomodcache.skipped = Some("module cache off (--caches)".into());
    }
    t.seconds = started.elapsed().as_secs_f64();
    for (name, r) in [("GOCACHE", &t.gocache), ("GOMODCACHE", &t.gomodcache)] {
        let line = match &r.skipped {
            Some(why) => format!("go-ci-cache: {name} not trimmed: {why}"),
            None => format!(
                "go-ci-cache: {name}: {} {} entries ({}){}",
                if a.dry_run { "would remove" } else { "removed" },
                r.removed,
                human_bytes(r.removed_bytes),
                r.after.map_or(String::new(), |s| format!(
                    ", {} left",
                    human_bytes(s.bytes)
                ))
            ),
        };
        c.log.info(&line);
    }
    let warnings = t.warnings.clone();
    // A dry run reports but leaves the recorded state as it was.
    if !a.dry_run {
        c.state.trim = Some(t);
    }
    Ok(finish(&mut c, &warnings, a.common.strict))
}

fn canonical_root(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok().filter(|c| c.is_dir())
}

fn trim_build(c: &Ctx, dry_run: bool, warnings: &mut Vec<String>) -> RootTrim {
    let mut r = RootTrim::default();
    let Some(prep) = &c.state.prepare else {
        r.skipped = Some(
            "`prepare` did not run after the restore, so used and unused entries cannot be told apart (nothing removed)".into(),
        );
        return r;
    };
    let Some(root) = canonical_root(&c.job.env.gocache()) else {
        r.skipped = Some("GOCACHE does not exist".into());
        return r;
    };
    let cutoff = prep.started_at - gocache::UNUSED_BEFORE_SECS;
    let listing = match gocache::list(&root, Some(cutoff)) {
        Ok(l) => l,
        Err(e) => {
            warnings.push(format!("cannot list GOCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot list it: {e}"));
            return r;
        }
    };
    // Sizes come from the listing: a second walk of 100 000 entries would cost more than the
    // trim itself.
    let before = DirSize {
        bytes: listing.entries.iter().map(|e| e.size).sum(),
        files: listing.entries.len() as u64,
    };
    r.before = Some(before);
    let plan = gocache::plan_trim(&listing.entries, cutoff);
    let paths: Vec<(PathBuf, u64)> = listing
        .trash
        .iter()
        .map(|p| (p.clone(), 0))
        .chain(
            plan.remove
                .iter()
                .map(|&i| (root.join(&listing.entries[i].rel), listing.entries[i].size)),
        )
        .collect();
    apply(&root, &paths, dry_run, &mut r, warnings);
    r.after = Some(if dry_run {
        before
    } else {
        DirSize {
            bytes: before.bytes.saturating_sub(r.removed_bytes),
            files: before.files.saturating_sub(r.removed),
        }
    });
    r
}

fn trim_modules(c: &Ctx, go: &Go, dry_run: bool, warnings: &mut Vec<String>) -> RootTrim {
    let mut r = RootTrim::default();
    let Some(root) = canonical_root(&c.job.env.gomodcache()) else {
        r.skipped = Some("GOMODCACHE does not exist".into());
        return r;
    };
    r.before = dir_size(&root);
    let units = golist::units(&c.job.project);
    let live = match golist::build_list(go, &units, &c.job.flags.fingerprint_tokens()) {
        Ok(l) => Some(
            l.iter()
                .map(|m| modcache::escape(m))
                .collect::<BTreeSet<_>>(),
        ),
        Err(e) => {
            warnings.push(format!(
                "cannot compute the build list, so no module tree is removed: {e:#}"
            ));
            None
        }
    };
    // The toolchain in use, if GOTOOLCHAIN put it in the module cache.
    let keep: BTreeSet<String> = canonical_root(Path::new(c.job.env.get("GOROOT")))
        .and_then(|g| {
            g.strip_prefix(&root)
                .ok()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
        })
        .into_iter()
        .collect();
    let entries = match modcache::list(&root) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("cannot list GOMODCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot list it: {e}"));
            return r;
        }
    };
    let paths: Vec<(PathBuf, u64)> = modcache::plan_prune(&entries, live.as_ref(), &keep)
        .into_iter()
        .map(|i| (root.join(&entries[i].rel), entries[i].size))
        .collect();
    apply(&root, &paths, dry_run, &mut r, warnings);
    r.after = if dry_run { r.before } else { dir_size(&root) };
    r
}

fn apply(
    root: &Path,
    paths: &[(PathBuf, u64)],
    dry_run: bool,
    r: &mut RootTrim,
    warnings: &mut Vec<String>,
) {
    if dry_run {
        for (p, size) in paths {
            println!("would remove {} ({})", p.display(), human_bytes(*size));
            r.removed += 1;
            r.removed_bytes += size;
        }
        return;
    }
    let failures = remove_all(root, paths);
    r.removed = paths.len() as u64 - failures.len() as u64;
    r.removed_bytes =
        paths.iter().map(|p| p.1).sum::<u64>() - failures.iter().map(|f| f.1).sum::<u64>();
    r.failed = failures.len() as u64;
    for (p, _, e) in failures.iter().take(5) {
        warnings.push(format!("cannot remove `{}`: {e}", p.display()));
    }
    if r.failed > 5 {
        warnings.push(format!(
            "{} more removals failed in `{}`",
            r.failed - 5,
            root.display()
        ));
    }
}

/// Removes paths in order-preserving batches on a few threads: unlinking is I/O-bound and
/// entries spread over 256 directories, so removals in different directories overlap.
/// `paths` must already be in a safe order for batches (the GOCACHE plan puts every action
/// record before any output; the batch boundary between them is kept by [`split_phases`]).
fn remove_all(root: &Path, paths: &[(PathBuf, u64)]) -> Vec<(PathBuf, u64, std::io::Error)> {
    const THREADS: usize = 4;
    let mut failures = Vec::new();
    for phase in split_phases(paths) {
        let chunk = phase.len().div_ceil(THREADS).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = phase
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .filter_map(|(p, size)| {
                                remove::remove(root, p).err().map(|e| (p.clone(), *size, e))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                failures.extend(h.join().unwrap_or_default());
            }
        });
    }
    failures
}

/// Splits a removal list where GOCACHE action records end and outputs begin, so every record is
/// gone before any output is (anything else is one phase).
fn split_phases(paths: &[(PathBuf, u64)]) -> Vec<&[(PathBuf, u64)]> {
    let is_output = |p: &PathBuf| p.to_string_lossy().ends_with("-d");
    match paths.iter().position(|(p, _)| is_output(p)) {
        Some(i) if i > 0 => vec![&paths[..i], &paths[i..]],
        _ => vec![paths],
    }
}

/// `report`.
pub fn report(a: &ReportArgs, go: &Go) -> Result<ExitCode> {
    let state_path = match &a.state {
        Some(p) => p.clone(),
        None => {
            // Only GOCACHE is needed; asking for nothing else keeps this working when the
            // cache directory itself is unusable.
            let env = go.env_vars(&a.dir, &["GOCACHE"])?;
            state::default_path(Path::new(env.get("GOCACHE")), |k| std::env::var(k).ok())
        }
    };
    let bytes = std::fs::read(&state_path).map_err(|e| {
        usage(
            format!("cannot read the run state `{}`: {e}", state_path.display()),
            "run `go-ci-cache prepare`, `warm` or `trim` in this job first (or pass --state)",
        )
    })?;
    let st: State = serde_json::from_slice(&bytes).map_err(|e| {
        usage(
            format!("the run state `{}` is not valid: {e}", state_path.display()),
            "delete it and run the job again",
        )
    })?;
    let now = u64::try_from(now_unix()).unwrap_or(0);
    let format = match a.format {
        ReportFormat::Auto => match Style::detect() {
            Style::Github => ReportFormat::Github,
            Style::Gitlab => ReportFormat::Gitlab,
            _ => ReportFormat::Text,
        },
        f => f,
    };
    match format {
        ReportFormat::Github => {
            let md = report::markdown(&st);
            match a
                .output
                .clone()
                .or_else(|| std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from))
            {
                Some(p) => sink::append(&p, &md, "the step summary")?,
                None => print!("{md}"),
            }
        }
        ReportFormat::Gitlab => print!("{}", report::gitlab_section(&st, now, now)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&st)?),
        ReportFormat::Text | ReportFormat::Auto => print!("{}", report::text(&st)),
    }
    Ok(ExitCode::SUCCESS)
}

impl Caches {
    /// Whether the build cache takes part.
    pub fn build(self) -> bool {
        matches!(self, Self::Both | Self::Build)
    }
    /// Whether the module cache takes part.
    pub fn modules(self) -> bool {
        matches!(self, Self::Both | Self::Modules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_removal_is_counted_and_the_rest_still_goes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("cache");
        std::fs::create_dir_all(root.join("ab")).unwrap();
        let mut paths = Vec::new();
        for i in 0..10 {
            let p = root.join("ab").join(format!("{i:064}-a"));
            std::fs::write(&p, "v1").unwrap();
            paths.push((p, 2));
        }
        // One entry that cannot be removed: it lies outside the root (refused, never touched).
        let outside = t.path().join("outside-d");
        std::fs::write(&outside, "keep").unwrap();
        paths.insert(5, (outside.clone(), 4));
        let mut r = RootTrim::default();
        let mut warnings = Vec::new();
        apply(&root, &paths, false, &mut r, &mut warnings);
        assert_eq!((r.removed, r.removed_bytes, r.failed), (10, 20, 1));
        assert!(warnings[0].contains("not inside"), "{warnings:?}");
        assert!(outside.exists());
        assert_eq!(std::fs::read_dir(root.join("ab")).unwrap().count(), 0);
    }

    #[test]
    fn records_are_removed_before_outputs() {
        let p = |s: &str| (PathBuf::from(s), 1);
        let paths = [
            p("/c/aa/1-a"),
            p("/c/bb/2-a"),
            p("/c/aa/3-d"),
            p("/c/cc/4-d"),
        ];
        let phases = split_phases(&paths);
        assert_eq!(phases.len(), 2);
        assert!(
            phases[0]
                .iter()
                .all(|(x, _)| x.to_string_lossy().ends_with("-a"))
        );
        assert!(
            phases[1]
                .iter()
                .all(|(x, _)| x.to_string_lossy().ends_with("-d"))
        );
    }
}
