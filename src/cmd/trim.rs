//! `trim`: right before the save (and at the end of every job on a machine that keeps its
//! caches): trim both caches through [`crate::cache::trim`], release the job's leases and
//! record what the caches hold for the next job.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::context::{self, now_unix};
use crate::cache::state::{RootTrim, TrimReport};
use crate::cache::{budget, lease, machine, trim};
use crate::cli::TrimArgs;
use crate::fsutil::human_bytes;
use crate::go::Go;
use crate::job;

/// `trim`: right before a save, and at the end of every job on a machine that keeps its
/// caches. Ends the job's leases and records what the caches hold.
pub fn run(a: &TrimArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let job = job::load(&a.common.job.job_args(), go)?;
    let mut c = context::ctx_of(&a.common, &job);
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
            t.gocache = trim::build(&c.scope(), budget.as_ref(), a.dry_run, &mut t.warnings);
        } else {
            off(&mut t.gocache, "build cache off (--caches)");
        }
        if a.common.caches.modules() {
            let opts = trim::Options {
                dry_run: a.dry_run,
                prune_modules: a.prune_modules,
            };
            t.gomodcache = trim::modules(&c.scope(), go, &opts, persistent, &mut t.warnings);
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
            context::release_in(
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
            let Some(root) = trim::canonical_root(&path).filter(|_| on) else {
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
    Ok(context::finish(&mut c, &warnings, a.common.strict))
}
