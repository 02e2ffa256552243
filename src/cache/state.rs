//! The run state shared by `prepare`, `warm`, `trim` and `report` within one job: a small JSON
//! file outside both caches (so it is never saved into them).
//!
//! Default location: `$GO_CI_CACHE_STATE`, else `${RUNNER_TEMP:-${TMPDIR:-/tmp}}/go-ci-cache/
//! state-<hash of GOCACHE>.json`, so two jobs with different caches on one machine do not meet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::DirSize;
use crate::warm::coverage::Coverage;

/// Version of the state file's shape.
pub const STATE_VERSION: u32 = 1;

/// What the lifecycle commands recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Shape version.
    pub version: u32,
    /// GOCACHE the state belongs to.
    pub gocache: String,
    /// GOMODCACHE the state belongs to.
    pub gomodcache: String,
    /// Set by `claim` (before the restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<ClaimReport>,
    /// Whether this machine keeps its caches between jobs (set by `claim`, else `prepare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<crate::cache::machine::Verdict>,
    /// Set by `prepare`.
    pub prepare: Option<PrepareReport>,
    /// Set by `warm`.
    pub warm: Option<WarmReport>,
    /// Set by `trim`.
    pub trim: Option<TrimReport>,
    /// Restore results recorded by the CI glue (`report --restored …`).
    pub restore: Option<RestoreInfo>,
    /// Wall seconds per phase of this job's cache work: `prepare`, `warm` and `trim` record
    /// their own; the CI glue adds the rest (`keys`, `restore.<entry>.lookup|download|extract`,
    /// `save.<entry>.lookup|compress|upload`, `prune`) with `report --timing`.
    #[serde(default)]
    pub timings: BTreeMap<String, f64>,
    /// What the GOCACHEPROG program did in this job, summed by `report` from the cache program's
    /// statistics files (never stored in the state file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacheprog: Option<crate::cacheprog::stats::Stats>,
}

/// `prepare`'s record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrepareReport {
    /// Unix seconds when the job's use of the cache began (T0).
    pub started_at: i64,
    /// Build-cache entries backdated.
    pub backdated: u64,
    /// GOCACHE size as restored.
    pub gocache: Option<DirSize>,
    /// GOMODCACHE size as restored.
    pub gomodcache: Option<DirSize>,
    /// Problems met (each also printed as a warning).
    pub warnings: Vec<String>,
    /// The job's lease on the cache roots ([`crate::cache::lease`]), released by `trim`.
    #[serde(default)]
    pub lease: Option<String>,
    /// Whether GOMODCACHE belongs to this job, so `trim` may prune it; `None` when
    /// `prepare` left the module cache alone (`--caches build`).
    #[serde(default)]
    pub modules_owned: Option<bool>,
    /// Why not, when it does not.
    #[serde(default)]
    pub modules_not_owned: Option<String>,
}

/// `claim`'s record: the job's lease, taken before the restore, and what the local caches hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimReport {
    /// Unix seconds when the job's use of the caches began (its T0, kept by `prepare`).
    pub started_at: i64,
    /// The lease ID, kept by `prepare` and released by `trim`.
    pub lease: String,
    /// GOMODCACHE, when claimed.
    pub modules: Option<RootClaim>,
    /// GOCACHE, when claimed.
    pub build: Option<RootClaim>,
    /// Problems met (each also printed as a warning).
    pub warnings: Vec<String>,
}

/// What `claim` found in one cache root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootClaim {
    /// The root held cache entries before the restore.
    pub filled_before: bool,
    /// The key the machine record says the root holds for this entry, when it holds it (the
    /// restore is skipped).
    pub held: Option<String>,
    /// Why the root holds it or not.
    pub why: String,
    /// The restore keys to look up instead of the entry's own, when the root holds another
    /// dependency set of this configuration ([`crate::cache::machine::narrowed_restore_keys`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_keys: Option<Vec<String>>,
}

/// One warm-up step's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WarmStep {
    /// Directory it ran in, relative to the project root.
    pub dir: String,
    /// What ran (`go list -export …`, `go vet …`, `go test -run=^$ …`).
    pub command: String,
    /// Packages compiled (counted from `-x`).
    pub compiled: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Whether the go command succeeded.
    pub ok: bool,
}

/// `warm`'s record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WarmReport {
    /// Dependency coverage before the warm-up.
    pub before: Option<Coverage>,
    /// Dependency coverage after.
    pub after: Option<Coverage>,
    /// Steps run.
    pub steps: Vec<WarmStep>,
    /// Packages that failed to compile, with the first line of their error.
    pub failed: Vec<(String, String)>,
    /// Total seconds.
    pub seconds: f64,
    /// Problems met.
    pub warnings: Vec<String>,
}

/// One cache root's trim record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootTrim {
    /// Size before.
    pub before: Option<DirSize>,
    /// Size after.
    pub after: Option<DirSize>,
    /// Entries (files, directories or module trees) removed.
    pub removed: u64,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// Removals that failed.
    pub failed: u64,
    /// Why the root was not trimmed, if it was not.
    pub skipped: Option<String>,
    /// GOCACHE: action records the job added since `prepare`, Go's module index aside (0 means
    /// a save would add nothing a later job can use).
    #[serde(default)]
    pub added: Option<u64>,
    /// How it was trimmed: `used` (every entry the job did not use went) or `budget` (least
    /// recently used first, to the budget, on a machine that keeps its caches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// On a machine that keeps its caches: a file of the root's entries the job did not use
    /// (one GNU tar exclude pattern a line), so the saved archive holds the job's set while
    /// the local cache keeps everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_file: Option<String>,
    /// How many entries that file names.
    #[serde(default)]
    pub excluded: u64,
}

/// `trim`'s record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrimReport {
    /// GOCACHE.
    pub gocache: RootTrim,
    /// GOMODCACHE.
    pub gomodcache: RootTrim,
    /// Seconds it took.
    pub seconds: f64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The build cache's budget, on a machine that keeps its caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::cache::budget::Budget>,
    /// Problems met.
    pub warnings: Vec<String>,
}

/// What the CI glue restored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreInfo {
    /// Key the modules entry was restored from, if any.
    pub modules_key: Option<String>,
    /// Whether that was an exact hit.
    pub modules_hit: bool,
    /// Key the build entry was restored from, if any.
    pub build_key: Option<String>,
    /// Whether that was an exact hit.
    pub build_hit: bool,
}

/// The default state path for a GOCACHE (`env` reads the process environment).
pub fn default_path(gocache: &Path, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(p) = env("GO_CI_CACHE_STATE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = env("RUNNER_TEMP")
        .or_else(|| env("TMPDIR"))
        .filter(|p| !p.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let id = &crate::key::sha256_hex(gocache.to_string_lossy().as_bytes())[..12];
    base.join("go-ci-cache").join(format!("state-{id}.json"))
}

impl State {
    /// Reads the state, or a fresh one for these caches when there is none (or it belongs to
    /// other caches).
    pub fn load(path: &Path, gocache: &Path, gomodcache: &Path) -> Self {
        let fresh = Self::fresh(gocache, gomodcache);
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Self>(&b).ok())
            .filter(|s| s.version == STATE_VERSION && s.gocache == fresh.gocache)
            .unwrap_or(fresh)
    }

    /// An empty state for these caches (a new job cycle).
    pub fn fresh(gocache: &Path, gomodcache: &Path) -> Self {
        Self {
            version: STATE_VERSION,
            gocache: gocache.to_string_lossy().into_owned(),
            gomodcache: gomodcache.to_string_lossy().into_owned(),
            ..Self::default()
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the state directory `{}`", dir.display())
            })?;
        }
        let text = serde_json::to_string_pretty(self)?;
        crate::output::sink::replace(path, &text, "the state file")
    }
}
/// Where `prepare` keeps the set of restored GOCACHE entries, beside the run state.
pub fn restored_set_path(state: &Path) -> PathBuf {
    state.with_extension("restored")
}
