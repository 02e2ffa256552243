//! `prepare`: right after the restore, mark the restored GOCACHE entries unused until the job
//! uses them, pause Go's own trim, and record whose module cache it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::context::{self, now_unix};
use crate::cache::state::restored_set_path;
use crate::cache::state::{PrepareReport, RestoreInfo, State};
use crate::cache::trim::canonical_root;
use crate::cache::{gocache, lease, machine, modcache};
use crate::cli::PrepareArgs;
use crate::go::Go;

/// `prepare`: right after a restore.
pub fn run(a: &PrepareArgs, go: &Go) -> Result<ExitCode> {
    let started = Instant::now();
    let mut c = context::ctx(&a.common, go)?;
    let now = now_unix();
    let machine = lease::machine();
    let roots = [c.job.env.gocache(), c.job.env.gomodcache()];
    let open = context::open_claim(&c.state, now);
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
                context::release_in(&roots, &old, &machine, now);
            }
            let record = roots
                .iter()
                .any(|r| canonical_root(r).is_some_and(|r| machine::any_valid(&r)));
            let v = machine::judge(machine::Signs {
                forced: a.common.persistent.forced(),
                hosted: context::hosted(),
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
            ephemeral: context::hosted(),
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
        if (claimed || p.modules_owned == Some(true)) && context::leasable_modcache(&root) {
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
    Ok(context::finish(&mut c, &warnings, a.common.strict))
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
