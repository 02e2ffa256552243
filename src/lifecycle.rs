//! The cache lifecycle commands — `prepare`, `warm`, `trim`, `report` — wiring the pure policies
//! to the filesystem and the go command. Cache trouble is a warning and exit status 0; with
//! `--strict` it is exit status 1.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{
    Caches, ClaimArgs, LifecycleOpts, PrepareArgs, ReportArgs, ReportFormat, TrimArgs, WarmArgs,
};
use crate::error::usage;
use crate::fsutil::{DirSize, dir_size, human_bytes};
use crate::gocmd::Go;
use crate::golist;
use crate::job::{self, Target};
use crate::machine;
use crate::output::sink;
use crate::progress::{Log, Style};
use crate::state::{
    self, ClaimReport, PrepareReport, RestoreInfo, RootClaim, RootTrim, State, TrimReport,
    WarmReport,
};
use crate::{budget, coverage, gocache, lease, modcache, remove, report, warm};

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

/// A GitHub-hosted runner: one machine per job.
fn hosted() -> bool {
    std::env::var("RUNNER_ENVIRONMENT").as_deref() == Ok("github-hosted")
}

/// Ends a lease in whichever of the roots holds it.
fn release_in(roots: &[PathBuf], id: &str, machine: &str, now: i64) {
    for root in roots {
        if root.join(lease::DIR).is_dir()
            && let Ok(reg) = lease::Registry::lock(root)
        {
            reg.release(id, machine, now);
        }
    }
}

/// The claim of this job cycle that `prepare` (or a second `claim`) goes on from: taken by
/// `claim` for this state file, not yet followed by a `prepare`, within the hour a restore
/// may take.
fn open_claim(st: &State, now: i64) -> Option<ClaimReport> {
    st.claim.clone().filter(|c| {
        st.prepare.is_none() && (0..lease::RESTORE_SECS).contains(&(now - c.started_at))
    })
}

/// Whether a module cache root may get this job's lease: a module cache, or an empty
/// directory where one is about to be created (never a project or home directory that
/// GOMODCACHE points at by mistake).
fn leasable_modcache(root: &Path) -> bool {
    let empty = std::fs::read_dir(root).map_or(true, |mut d| {
        d.all(|e| e.is_ok_and(|e| e.file_name() == lease::DIR || e.file_name() == machine::DIR))
    });
    empty || modcache::looks_like_modcache(root)
}

/// `claim`: before the restore. Takes the job's lease on the roots it restores into (marked
/// as restoring, so no other job's trim removes what the restore extracts) and says which
/// entries the machine's caches already hold.
pub fn claim(a: &ClaimArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let o = &a.common;
    let job = job::load(&o.job.job_args(), go)?;
    let (gocache_p, gomodcache_p) = (job.env.gocache(), job.env.gomodcache());
    let state_path = o
        .state
        .clone()
        .unwrap_or_else(|| state::default_path(&gocache_p, |k| std::env::var(k).ok()));
    let mut st = State::load(&state_path, &gocache_p, &gomodcache_p);
    let log = Log::new(Style::detect());
    let now = now_unix();
    let machine_id = lease::machine();
    let caches = o.caches;
    let open = open_claim(&st, now).filter(|c| {
        (!caches.modules() || c.modules.is_none()) && (!caches.build() || c.build.is_none())
    });
    if open.is_none() {
        // A new job cycle: a lease the previous cycle of this state file left ends here.
        for id in [
            st.prepare.as_ref().and_then(|p| p.lease.clone()),
            st.claim.as_ref().map(|c| c.lease.clone()),
        ]
        .into_iter()
        .flatten()
        {
            release_in(
                &[gocache_p.clone(), gomodcache_p.clone()],
                &id,
                &machine_id,
                now,
            );
        }
        st = State::fresh(&gocache_p, &gomodcache_p);
    }
    let mut cl = open.clone().unwrap_or_else(|| ClaimReport {
        started_at: now,
        lease: lease::new_id(),
        ..ClaimReport::default()
    });
    // What each root holds, looked at before anything of this job is in it.
    struct Look {
        kind: machine::Root,
        root: PathBuf,
        keys: crate::key::EntryKeys,
        filled: bool,
        record: Option<machine::Record>,
        any: bool,
    }
    let mut looks = Vec::new();
    for (kind, path, keys, on) in [
        (
            machine::Root::Modules,
            &gomodcache_p,
            &job.keys.modules,
            caches.modules(),
        ),
        (
            machine::Root::Build,
            &gocache_p,
            &job.keys.build,
            caches.build(),
        ),
    ] {
        if !on {
            continue;
        }
        if let Err(e) = std::fs::create_dir_all(path) {
            cl.warnings
                .push(format!("cannot create `{}`: {e}", path.display()));
            continue;
        }
        let root = canonical_root(path).unwrap_or_else(|| path.clone());
        looks.push(Look {
            kind,
            filled: machine::filled(&root, kind),
            record: machine::read(&root, &keys.prune_prefix),
            any: machine::any_valid(&root),
            root,
            keys: keys.clone(),
        });
    }
    let verdict = st
        .machine
        .clone()
        .filter(|_| open.is_some())
        .unwrap_or_else(|| {
            machine::judge(machine::Signs {
                forced: o.persistent.forced(),
                hosted: hosted(),
                record: looks.iter().any(|l| l.any),
                filled_before: Some(looks.iter().any(|l| l.filled)),
            })
        });
    let lease = lease::Lease {
        id: cl.lease.clone(),
        started_at: cl.started_at,
        machine: machine_id.clone(),
        restoring: true,
    };
    for l in &looks {
        // With a per-run last layer, another run's key of the same dependency set and
        // configuration (the first restore key) is the same content.
        let rolling = l.keys.layers.last().is_some_and(|x| x.name == "rolling");
        let same_set = (l.kind == machine::Root::Build && rolling)
            .then(|| l.keys.restore_keys.first().map(String::as_str))
            .flatten();
        let held = machine::holds(&verdict, l.record.as_ref(), &l.keys.key, same_set);
        let rc = RootClaim {
            filled_before: l.filled,
            why: match &held {
                Ok(k) => format!("a job on this machine left it (`{k}`)"),
                Err(why) => why.clone(),
            },
            held: held.ok(),
        };
        let may = l.kind == machine::Root::Build || leasable_modcache(&l.root);
        if may
            && let Err(e) = lease::Registry::lock(&l.root)
                .and_then(|r| r.register(&lease).map_err(std::io::Error::other))
        {
            cl.warnings.push(format!(
                "cannot register this job in `{}`: {e}",
                l.root.display()
            ));
        }
        match l.kind {
            machine::Root::Modules => cl.modules = Some(rc),
            machine::Root::Build => cl.build = Some(rc),
        }
    }
    if open.is_none() {
        log.info(&format!(
            "go-ci-cache: {} ({})",
            if verdict.persistent {
                "this machine keeps its caches between jobs"
            } else {
                "the caches live for this job only"
            },
            verdict.why
        ));
    }
    for (name, rc) in [("modules", &cl.modules), ("build", &cl.build)] {
        if let Some(rc) = rc {
            log.info(&format!(
                "go-ci-cache: {name}: {}",
                match &rc.held {
                    Some(_) => format!("already on this machine, nothing to restore: {}", rc.why),
                    None if verdict.persistent => format!("restoring: {}", rc.why),
                    None => "restoring".to_string(),
                }
            ));
        }
    }
    let doc = serde_json::json!({
        "persistent": verdict.persistent,
        "why": verdict.why,
        "modules": cl.modules.as_ref().map(|r| serde_json::json!({"held": r.held.is_some(), "key": r.held, "why": r.why})),
        "build": cl.build.as_ref().map(|r| serde_json::json!({"held": r.held.is_some(), "key": r.held, "why": r.why})),
    });
    let warnings = cl.warnings.clone();
    st.claim = Some(cl);
    st.machine = Some(verdict);
    *st.timings.entry("claim".into()).or_insert(0.0) += started.elapsed().as_secs_f64();
    let mut c = Ctx {
        job: job::Target {
            env: job.env.clone(),
            project: job.project.clone(),
            flags: job.flags.clone(),
        },
        state_path,
        state: st,
        log,
    };
    stdout(&(serde_json::to_string(&doc)? + "\n"))?;
    Ok(finish(&mut c, &warnings, o.strict))
}

/// `prepare`: right after a restore.
pub fn prepare(a: &PrepareArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let mut c = ctx(&a.common, go)?;
    let now = now_unix();
    let machine = lease::machine();
    let roots = [c.job.env.gocache(), c.job.env.gomodcache()];
    let open = open_claim(&c.state, now);
    let (t0, id, verdict) = match &open {
        // The claim before the restore started this job's cycle: its lease and T0 go on.
        Some(cl) => (
            cl.started_at,
            cl.lease.clone(),
            c.state
                .machine
                .clone()
                .unwrap_or_else(|| machine::judge(machine::Signs::default())),
        ),
        None => {
            // A new job cycle starts here; a lease the previous cycle of this state file left
            // (a prepare without a trim) ends with it.
            if let Some(old) = c.state.prepare.as_ref().and_then(|p| p.lease.clone()) {
                release_in(&roots, &old, &machine, now);
            }
            let record = roots
                .iter()
                .any(|r| canonical_root(r).is_some_and(|r| machine::any_valid(&r)));
            let v = machine::judge(machine::Signs {
                forced: a.common.persistent.forced(),
                hosted: hosted(),
                record,
                filled_before: None,
            });
            c.state = State::fresh(&roots[0], &roots[1]);
            (now, lease::new_id(), v)
        }
    };
    c.state.machine = Some(verdict.clone());
    let mut p = PrepareReport {
        started_at: t0,
        lease: Some(id.clone()),
        ..PrepareReport::default()
    };
    if a.common.caches.build() {
        let root = c.job.env.gocache();
        match prepare_build(&root, t0, &id, &machine) {
            Ok((prepared, others)) => {
                let n = prepared.backdated;
                p.backdated = n;
                p.gocache = Some(prepared.size);
                p.warnings.extend(prepared.problems);
                let set = restored_set_path(&c.state_path);
                if let Err(e) = set
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| {
                        crate::fsutil::write_atomic(&set, &gocache::encode_tags(&prepared.tags))
                    })
                {
                    p.warnings.push(format!(
                        "cannot record the restored entries in `{}` (trim will not know what is new): {e}",
                        set.display()
                    ));
                }
                c.log.info(&format!(
                    "go-ci-cache: prepared GOCACHE: {n} restored entries marked unused until the job uses them; Go's own trim paused for this job"
                ));
                if others > 0 {
                    c.log.info(&format!(
                        "go-ci-cache: {others} other job(s) on this machine are using GOCACHE; entries they may have used keep their mtime"
                    ));
                }
            }
            Err(e) => p.warnings.push(format!(
                "cannot prepare GOCACHE `{}`: {e:#}",
                root.display()
            )),
        }
    }
    if a.common.caches.modules() {
        let root = c.job.env.gomodcache();
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let home = std::env::var_os("HOME").map(|h| canon(Path::new(&h)));
        let project_dirs: Vec<PathBuf> = ["CI_PROJECT_DIR", "GITHUB_WORKSPACE"]
            .iter()
            .filter_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
            .map(|v| canon(Path::new(&v)))
            .chain([canon(&c.job.project.root)])
            .collect();
        let modroot = canon(&root);
        let reason = modcache::not_owned_reason(&modcache::Owner {
            gomodcache: &modroot,
            home: home.as_deref(),
            project_dirs: &project_dirs,
            ephemeral: hosted(),
            persistent: verdict.persistent,
            empty_before: open
                .as_ref()
                .and_then(|cl| cl.modules.as_ref())
                .map(|m| !m.filled_before),
        });
        p.modules_owned = Some(reason.is_none());
        p.modules_not_owned = reason;
        // Register only in a module cache (or where one is about to be created), never in a
        // project or home directory that GOMODCACHE points at by mistake. A claim's lease is
        // renewed as done restoring.
        let claimed = open.as_ref().is_some_and(|cl| cl.modules.is_some());
        if (claimed || p.modules_owned == Some(true)) && leasable_modcache(&root) {
            let lease = lease::Lease {
                id: id.clone(),
                started_at: t0,
                machine: machine.clone(),
                restoring: false,
            };
            if let Err(e) = lease::Registry::lock(&root)
                .and_then(|r| r.register(&lease).map_err(std::io::Error::other))
            {
                p.warnings.push(format!(
                    "cannot register this job in GOMODCACHE `{}`: {e}",
                    root.display()
                ));
            }
        }
    }
    // GOCACHE's size came from the listing above. GOMODCACHE is not walked here (tens of
    // thousands of files in module trees): `trim` measures it before it prunes.
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
    c.state
        .timings
        .insert("prepare".into(), started.elapsed().as_secs_f64());
    Ok(finish(&mut c, &warnings, a.common.strict))
}

/// Where `prepare` keeps the set of restored GOCACHE entries, beside the run state.
fn restored_set_path(state: &Path) -> PathBuf {
    state.with_extension("restored")
}

/// Action records the job added to the restored cache, not counting Go's module index (see
/// [`gocache::is_index_output`]); `None` when `prepare` recorded no restored set.
fn added_actions(root: &Path, state: &Path, entries: &[gocache::Entry]) -> Option<u64> {
    let restored = gocache::decode_tags(&std::fs::read(restored_set_path(state)).ok()?)?;
    let by_id: std::collections::HashMap<&str, &gocache::Entry> = entries
        .iter()
        .filter(|e| e.kind == gocache::Kind::Output)
        .map(|e| (e.id.as_str(), e))
        .collect();
    let is_index = |out: &str| {
        by_id.get(out).is_some_and(|o| {
            let mut head = [0u8; 16];
            std::fs::File::open(root.join(&o.rel))
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .is_ok_and(|n| gocache::is_index_output(&head[..n]))
        })
    };
    let n = gocache::new_actions(entries, &restored)
        .into_iter()
        .filter(|a| !a.output_id.as_deref().is_some_and(is_index))
        .count();
    Some(n as u64)
}

/// Registers the job's lease in GOCACHE and backdates, under the registry lock, what no other
/// live job may have used. Returns what was prepared and the number of other live jobs.
fn prepare_build(
    root: &Path,
    t0: i64,
    id: &str,
    machine: &str,
) -> Result<(gocache::Prepared, usize)> {
    std::fs::create_dir_all(root)?;
    let reg = lease::Registry::lock(root)?;
    let leases = reg.leases();
    let others = lease::live_others(&leases, Some(id), machine, t0);
    let floor = lease::backdate_floor(&others, gocache::UNUSED_BEFORE_SECS);
    reg.register(&lease::Lease {
        id: id.to_string(),
        started_at: t0,
        machine: machine.to_string(),
        restoring: false,
    })?;
    let prepared = gocache::prepare(root, t0, floor)?;
    Ok((prepared, others.len()))
}

/// `warm`: the warm-up that matches the job (`--job`).
pub fn warm(a: &WarmArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let mut c = ctx(&a.common, go)?;
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
    Ok(finish(&mut c, &warnings, a.common.strict))
}

/// `trim`: right before a save, and at the end of every job on a machine that keeps its
/// caches. Ends the job's leases and records what the caches hold.
pub fn trim(a: &TrimArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let job = job::load(&a.common.job.job_args(), go)?;
    let mut c = ctx_of(&a.common, &job);
    let persistent = c.state.machine.as_ref().is_some_and(|v| v.persistent);
    let mut t = TrimReport {
        dry_run: a.dry_run,
        ..TrimReport::default()
    };
    let budget = if persistent && a.common.caches.build() && !a.record_only {
        Some(budget::resolve(&a.budget, &c.job.env.gocache())?)
    } else {
        budget::parse(&a.budget)?;
        None
    };
    let off = |r: &mut RootTrim, why: &str| r.skipped = Some(why.to_string());
    if a.record_only {
        off(
            &mut t.gocache,
            "nothing is saved and the caches live for this job only",
        );
        off(
            &mut t.gomodcache,
            "nothing is saved and the caches live for this job only",
        );
    } else {
        if a.common.caches.build() {
            t.gocache = trim_build(&c, budget.as_ref(), a.dry_run, &mut t.warnings);
        } else {
            off(&mut t.gocache, "build cache off (--caches)");
        }
        if a.common.caches.modules() {
            t.gomodcache = trim_modules(&c, go, a, persistent, &mut t.warnings);
        } else {
            off(&mut t.gomodcache, "module cache off (--caches)");
        }
    }
    t.budget = budget;
    let now = now_unix();
    if !a.dry_run {
        // A cache left out of this trim is not saved either: the job is done with it, so its
        // lease goes too (otherwise other jobs would wait for it until the lease expires).
        let own = [
            c.state.prepare.as_ref().and_then(|p| p.lease.clone()),
            c.state.claim.as_ref().map(|cl| cl.lease.clone()),
        ];
        for id in own.into_iter().flatten() {
            release_in(
                &[c.job.env.gocache(), c.job.env.gomodcache()],
                &id,
                &lease::machine(),
                now,
            );
        }
        // What the caches hold now, for the next job on this machine.
        for (on, path, keys) in [
            (
                a.common.caches.modules(),
                c.job.env.gomodcache(),
                &job.keys.modules,
            ),
            (
                a.common.caches.build(),
                c.job.env.gocache(),
                &job.keys.build,
            ),
        ] {
            let Some(root) = canonical_root(&path).filter(|_| on) else {
                continue;
            };
            let rec = machine::Record {
                prefix: keys.prune_prefix.clone(),
                key: keys.key.clone(),
                root: root.display().to_string(),
                used_at: now,
            };
            if let Err(e) = machine::write(&root, &rec) {
                t.warnings.push(format!(
                    "cannot record what `{}` holds (the next job here restores it again): {e:#}",
                    root.display()
                ));
            }
        }
    }
    t.seconds = started.elapsed().as_secs_f64();
    if let Some(b) = &t.budget {
        c.log.info(&format!(
            "go-ci-cache: this machine keeps its caches: GOCACHE is trimmed to its budget of {} ({}), least recently used first",
            human_bytes(b.bytes),
            b.source
        ));
    }
    for (name, r) in [("GOCACHE", &t.gocache), ("GOMODCACHE", &t.gomodcache)] {
        let line = match &r.skipped {
            Some(why) => format!("go-ci-cache: {name} not trimmed: {why}"),
            None => format!(
                "go-ci-cache: {name}: {} {} entries ({}){}{}",
                if a.dry_run { "would remove" } else { "removed" },
                r.removed,
                human_bytes(r.removed_bytes),
                r.after.map_or(String::new(), |s| format!(
                    ", {} left",
                    human_bytes(s.bytes)
                )),
                r.added
                    .map_or(String::new(), |n| format!("; {n} new since the restore"))
            ),
        };
        c.log.info(&line);
        if r.exclude_file.is_some() {
            c.log.info(&format!(
                "go-ci-cache: {name}: an archive saved from it leaves out the {} entries this job did not use (the local cache keeps them)",
                r.excluded
            ));
        }
    }
    let warnings = t.warnings.clone();
    // A dry run reports but leaves the recorded state as it was.
    if !a.dry_run {
        c.state.trim = Some(t);
        c.state
            .timings
            .insert("trim".into(), started.elapsed().as_secs_f64());
    }
    Ok(finish(&mut c, &warnings, a.common.strict))
}

/// The context of a command that loaded the whole job (keys included).
fn ctx_of(o: &LifecycleOpts, job: &job::Job) -> Ctx {
    let target = job::Target {
        env: job.env.clone(),
        project: job.project.clone(),
        flags: job.flags.clone(),
    };
    let state_path = o
        .state
        .clone()
        .unwrap_or_else(|| state::default_path(&target.env.gocache(), |k| std::env::var(k).ok()));
    let state = State::load(&state_path, &target.env.gocache(), &target.env.gomodcache());
    Ctx {
        job: target,
        state_path,
        state,
        log: Log::new(Style::detect()),
    }
}

/// Where `trim` writes a root's archive exclusions, beside the run state.
fn exclude_path(state: &Path, root: &str) -> PathBuf {
    state.with_extension(format!("exclude-{root}"))
}

/// Writes the archive exclusions of a root; `None` (after a warning) when it cannot.
fn write_excludes(
    state: &Path,
    root: &str,
    lines: &[String],
    warnings: &mut Vec<String>,
) -> Option<String> {
    let p = exclude_path(state, root);
    let mut text = lines.join("\n");
    text.push('\n');
    match crate::output::sink::replace(&p, &text, "the archive's exclusions") {
        Ok(()) => Some(p.display().to_string()),
        Err(e) => {
            warnings.push(format!("{e:#}"));
            None
        }
    }
}

fn canonical_root(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok().filter(|c| c.is_dir())
}

fn trim_build(
    c: &Ctx,
    budget: Option<&budget::Budget>,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> RootTrim {
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
    // Held until the removals are done: no other job's claim, prepare or trim runs meanwhile.
    let reg = match lease::Registry::lock(&root) {
        Ok(reg) => reg,
        Err(e) => {
            warnings.push(format!("cannot lock GOCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot lock it: {e}"));
            return r;
        }
    };
    let machine = lease::machine();
    let now = now_unix();
    let leases = reg.leases();
    let own_lease = prep.lease.as_deref();
    let others = lease::live_others(&leases, own_lease, &machine, now);
    let restoring = lease::restoring(&others, now);
    let cutoff = lease::trim_cutoff(prep.started_at, &others, gocache::UNUSED_BEFORE_SECS);
    let mut listing = match gocache::list(&root, Some(cutoff)) {
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
    // What the job added to the restored cache (what makes a new build entry worth saving).
    r.added = added_actions(&root, &c.state_path, &listing.entries);
    r.mode = Some(if budget.is_some() { "budget" } else { "used" }.into());
    let plan = match budget {
        _ if !restoring.is_empty() => {
            r.skipped = Some(format!(
                "{} other job(s) on this machine are restoring into it, and what they extract keeps the archive's old mtimes (nothing removed)",
                restoring.len()
            ));
            gocache::TrimPlan::default()
        }
        Some(b) => {
            // The records that stay name the outputs that must stay with them: read those the
            // listing did not (older than the cutoff), then plan again.
            let first = gocache::plan_budget(&listing.entries, b.bytes, cutoff, now);
            let gone: BTreeSet<usize> = first.remove.iter().copied().collect();
            for (i, e) in listing.entries.iter_mut().enumerate() {
                if e.kind == gocache::Kind::Action && e.output_id.is_none() && !gone.contains(&i) {
                    e.output_id = std::fs::read(root.join(&e.rel))
                        .ok()
                        .and_then(|b| gocache::parse_action(&b));
                }
            }
            gocache::plan_budget(&listing.entries, b.bytes, cutoff, now)
        }
        None => gocache::plan_trim(&listing.entries, cutoff),
    };
    let remove = still_unused(&root, &listing.entries, &plan.remove, cutoff);
    let trash = if restoring.is_empty() {
        listing.trash.clone()
    } else {
        Vec::new()
    };
    let paths: Vec<(PathBuf, u64)> = trash
        .iter()
        .map(|p| (p.clone(), 0))
        .chain(
            remove
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
    if budget.is_some() {
        // The archive for the rest of the fleet holds what this job used, as on a machine of
        // its own: every entry that stays but that the job did not use is left out of it.
        let gone: BTreeSet<usize> = remove.iter().copied().collect();
        let own_cutoff = prep.started_at - gocache::UNUSED_BEFORE_SECS;
        let mut lines: Vec<String> = gocache::plan_trim(&listing.entries, own_cutoff)
            .remove
            .into_iter()
            .filter(|i| !gone.contains(i))
            .map(|i| listing.entries[i].rel.clone())
            .collect();
        r.excluded = lines.len() as u64;
        lines.extend(modcache::own_dirs());
        r.exclude_file = write_excludes(&c.state_path, "build", &lines, warnings);
    }
    r
}

/// The planned removals minus entries some job used since the listing (checked again right
/// before deleting), and the outputs those entries' records point at. Actions come first in the
/// plan, so their outputs are known before any output is judged.
fn still_unused(
    root: &Path,
    entries: &[gocache::Entry],
    plan: &[usize],
    cutoff: i64,
) -> Vec<usize> {
    let mut revived: BTreeSet<String> = BTreeSet::new();
    plan.iter()
        .copied()
        .filter(|&i| {
            let e = &entries[i];
            let fresh = gocache::current_mtime(root, e).is_none_or(|m| m >= cutoff);
            if fresh
                && e.kind == gocache::Kind::Action
                && let Some(out) = std::fs::read(root.join(&e.rel))
                    .ok()
                    .and_then(|b| gocache::parse_action(&b))
            {
                revived.insert(out);
            }
            let revived_output = e.kind == gocache::Kind::Output && revived.contains(&e.id);
            !fresh && !revived_output
        })
        .collect()
}

fn trim_modules(
    c: &Ctx,
    go: &Go,
    a: &TrimArgs,
    persistent: bool,
    warnings: &mut Vec<String>,
) -> RootTrim {
    let dry_run = a.dry_run;
    let mut r = RootTrim::default();
    let prep = c.state.prepare.as_ref();
    // Whether anything may be removed; on a machine that keeps its caches, the module cache is
    // still listed for the archive's exclusions.
    let mut why_not: Option<String> = None;
    if !a.prune_modules {
        why_not = match prep.map(|p| (p.modules_owned, p.modules_not_owned.as_deref())) {
            None | Some((None, _)) => Some(
                "`prepare` did not run for it in this job, so it may belong to other projects or jobs (nothing removed; pass --prune-modules if it is this job's alone)".to_string(),
            ),
            Some((Some(false), why)) => Some(format!(
                "{} (nothing removed; pass --prune-modules if it is this job's alone)",
                why.unwrap_or("it is not this job's own")
            )),
            Some((Some(true), _)) => None,
        };
        if why_not.is_some() && !persistent {
            r.skipped = why_not;
            return r;
        }
    }
    let Some(root) = canonical_root(&c.job.env.gomodcache()) else {
        r.skipped = Some("GOMODCACHE does not exist".into());
        return r;
    };
    if !modcache::looks_like_modcache(&root) {
        r.skipped = Some(format!(
            "`{}` does not look like a module cache (no cache/download/ in it), so nothing is removed; check GOMODCACHE",
            root.display()
        ));
        return r;
    }
    let reg = match lease::Registry::lock(&root) {
        Ok(reg) => reg,
        Err(e) => {
            warnings.push(format!("cannot lock GOMODCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot lock it: {e}"));
            return r;
        }
    };
    let machine = lease::machine();
    let now = now_unix();
    let own = prep.and_then(|p| p.lease.as_deref()).or(c
        .state
        .claim
        .as_ref()
        .map(|cl| cl.lease.as_str()));
    let leases = reg.leases();
    let others = lease::live_others(&leases, own, &machine, now);
    if why_not.is_none()
        && let Some(oldest) = others.iter().map(|l| l.started_at).min()
    {
        why_not = Some(format!(
            "{} other job(s) on this machine are using it (the first for {} min), and a module one job no longer needs may be one another job builds with (nothing removed)",
            others.len(),
            (now - oldest).max(0) / 60
        ));
    }
    if why_not.is_some() && !persistent {
        r.skipped = why_not;
        return r;
    }
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
    // Toolchains any module or workspace of the project may switch to.
    let texts: Vec<String> = c
        .job
        .project
        .modules
        .iter()
        .map(|m| m.join("go.mod"))
        .chain(c.job.project.workspace.clone())
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let toolchains = modcache::named_toolchains(
        texts.iter().map(String::as_str),
        c.job.env.get("GOTOOLCHAIN"),
    );
    let entries = match modcache::list(&root) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("cannot list GOMODCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot list it: {e}"));
            return r;
        }
    };
    let plan = modcache::plan_prune(&entries, live.as_ref(), &keep, &toolchains);
    if persistent {
        // The archive for the rest of the fleet: this job's modules, nothing of other
        // projects' (a shared module cache may hold private modules of other repositories).
        match &live {
            Some(l) => {
                let lines = modcache::archive_excludes(
                    &entries,
                    &plan,
                    &modcache::download_paths(&root),
                    l,
                );
                r.excluded = (lines.len() - modcache::own_dirs().len()) as u64;
                r.exclude_file = write_excludes(&c.state_path, "modules", &lines, warnings);
            }
            None => warnings.push(
                "without the build list, an archive of this module cache would hold other projects' modules; the job's post step does not save it".into(),
            ),
        }
    }
    if let Some(why) = why_not {
        r.skipped = Some(why);
        return r;
    }
    r.before = dir_size(&root);
    let paths: Vec<(PathBuf, u64)> = plan
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
        // A reader that stops early (`trim --dry-run | head`) ends the listing, not the run.
        let mut out = std::io::stdout().lock();
        let mut listing = true;
        for (p, size) in paths {
            if listing {
                listing =
                    writeln!(out, "would remove {} ({})", p.display(), human_bytes(*size)).is_ok();
            }
            r.removed += 1;
            r.removed_bytes += size;
        }
        let _ = out.flush();
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

/// Writes to stdout; a reader that went away (`report | head`) is not an error.
fn stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
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
    let mut st: State = serde_json::from_slice(&bytes).map_err(|e| {
        usage(
            format!("the run state `{}` is not valid: {e}", state_path.display()),
            "delete it and run the job again",
        )
    })?;
    if !a.timings.is_empty() {
        for t in &a.timings {
            let (name, secs) = report::parse_timing(t)?;
            st.timings.insert(name, secs);
        }
        st.save(&state_path)?;
    }
    st.cacheprog = crate::cacheprog::job_stats(st.prepare.as_ref().map_or(0, |p| p.started_at));
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
                None => stdout(&md)?,
            }
        }
        ReportFormat::Gitlab => stdout(&report::gitlab_section(&st, now, now))?,
        ReportFormat::Json => stdout(&(serde_json::to_string_pretty(&st)? + "\n"))?,
        ReportFormat::Text | ReportFormat::Auto => stdout(&report::text(&st))?,
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
    fn an_entry_used_since_the_listing_stays_with_its_output() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("aa")).unwrap();
        let (a, d) = ("a".repeat(64), "d".repeat(64));
        let rec = format!("v1 {a} {d} 1 1\n");
        std::fs::write(root.join(format!("aa/{a}-a")), rec).unwrap();
        std::fs::write(root.join(format!("aa/{d}-d")), "out").unwrap();
        let entry = |id: &str, kind| gocache::Entry {
            rel: format!(
                "aa/{id}-{}",
                if kind == gocache::Kind::Action {
                    "a"
                } else {
                    "d"
                }
            ),
            kind,
            id: id.to_string(),
            is_dir: false,
            mtime: 0,
            size: 1,
            output_id: None,
        };
        let entries = [
            entry(&a, gocache::Kind::Action),
            entry(&d, gocache::Kind::Output),
        ];
        // Listed as old; the files' real mtimes are now, so another job used them since.
        let cutoff = now_unix() - 3600;
        assert!(still_unused(root, &entries, &[0, 1], cutoff).is_empty());
        // Really old: both go.
        let old = filetime::FileTime::from_unix_time(cutoff - 10, 0);
        for e in &entries {
            filetime::set_file_mtime(root.join(&e.rel), old).unwrap();
        }
        assert_eq!(still_unused(root, &entries, &[0, 1], cutoff), [0, 1]);
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
