//! What the cache lifecycle commands (`claim`, `prepare`, `warm`, `trim`, `report`) share: the
//! job and its run state ([`Ctx`]), how a command ends (the state saved, warnings printed,
//! `--strict`), and the leases they take and release.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::cache::state::{self, ClaimReport, State};
use crate::cache::{lease, machine, modcache, trim};
use crate::cli::LifecycleOpts;
use crate::go::Go;
use crate::job::{self, Target};
use crate::output::progress::{Log, Style};

pub(super) use crate::cache::now_unix;

/// What a lifecycle command works with: the job, its run state and where that lives, the log.
pub(super) struct Ctx {
    pub(super) job: Target,
    pub(super) state_path: PathBuf,
    pub(super) state: State,
    pub(super) log: Log,
}

impl Ctx {
    /// What the trim engine works on.
    pub(super) fn scope(&self) -> trim::Scope<'_> {
        trim::Scope {
            target: &self.job,
            state: &self.state,
            state_path: &self.state_path,
        }
    }
}

pub(super) fn ctx(o: &LifecycleOpts, go: &Go) -> Result<Ctx> {
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

pub(super) fn finish(c: &mut Ctx, warnings: &[String], strict: bool) -> ExitCode {
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
pub(super) fn hosted() -> bool {
    std::env::var("RUNNER_ENVIRONMENT").as_deref() == Ok("github-hosted")
}

/// Ends a lease in whichever of the roots holds it.
pub(super) fn release_in(roots: &[PathBuf], id: &str, machine: &str, now: i64) {
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
pub(super) fn open_claim(st: &State, now: i64) -> Option<ClaimReport> {
    st.claim.clone().filter(|c| {
        st.prepare.is_none() && (0..lease::RESTORE_SECS).contains(&(now - c.started_at))
    })
}

/// Whether a module cache root may get this job's lease: a module cache, or an empty
/// directory where one is about to be created (never a project or home directory that
/// GOMODCACHE points at by mistake).
pub(super) fn leasable_modcache(root: &Path) -> bool {
    let empty = std::fs::read_dir(root).map_or(true, |mut d| {
        d.all(|e| e.is_ok_and(|e| e.file_name() == lease::DIR || e.file_name() == machine::DIR))
    });
    empty || modcache::looks_like_modcache(root)
}

/// The context of a command that loaded the whole job (keys included).
pub(super) fn ctx_of(o: &LifecycleOpts, job: &job::Job) -> Ctx {
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

/// Writes to stdout; a reader that went away (`report | head`) is not an error.
pub(super) fn stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
