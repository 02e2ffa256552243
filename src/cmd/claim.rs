//! `claim`: before the restore, take the job's leases and say what this machine's caches
//! already hold.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::context::{self, Ctx, now_unix, stdout};
use crate::cache::state::State;
use crate::cache::state::{self, ClaimReport, RootClaim};
use crate::cache::trim::canonical_root;
use crate::cache::{lease, machine};
use crate::cli::ClaimArgs;
use crate::go::Go;
use crate::job;
use crate::output::progress::{Log, Style};

/// `claim`: before the restore. Takes the job's lease on the roots it restores into (marked
/// as restoring, so no other job's trim removes what the restore extracts) and says which
/// entries the machine's caches already hold.
pub fn run(a: &ClaimArgs, go: &Go) -> Result<ExitCode> {
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
    let open = context::open_claim(&st, now).filter(|c| {
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
            context::release_in(
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
                hosted: context::hosted(),
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
        let restore_keys =
            machine::narrowed_restore_keys(&verdict, l.record.as_ref(), held.is_ok(), same_set);
        let rc = RootClaim {
            filled_before: l.filled,
            why: match &held {
                Ok(k) => format!("a job on this machine left it (`{k}`)"),
                Err(why) => why.clone(),
            },
            held: held.ok(),
            restore_keys,
        };
        let may = l.kind == machine::Root::Build || context::leasable_modcache(&l.root);
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
                    None if rc.restore_keys.is_some() => format!(
                        "restoring only an entry of this dependency set: {}; an earlier set's entry would bring back what this machine holds",
                        rc.why
                    ),
                    None if verdict.persistent => format!("restoring: {}", rc.why),
                    None => "restoring".to_string(),
                }
            ));
        }
    }
    let doc = serde_json::json!({
        "persistent": verdict.persistent,
        "why": verdict.why,
        "modules": cl.modules.as_ref().map(root_doc),
        "build": cl.build.as_ref().map(root_doc),
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
    Ok(context::finish(&mut c, &warnings, o.strict))
}

/// One root's part of the `claim` document: whether the machine holds the entry (and which
/// key), why, and the restore keys to use instead of the entry's own (`null`: its own).
fn root_doc(r: &RootClaim) -> serde_json::Value {
    serde_json::json!({
        "held": r.held.is_some(),
        "key": r.held,
        "why": r.why,
        "restore_keys": r.restore_keys,
    })
}
