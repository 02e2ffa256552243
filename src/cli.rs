//! The command line: clap derive definitions. Every flag can also come from a `GO_CI_CACHE_*`
//! environment variable, which is how the GitHub Action and the GitLab template pass inputs
//! without ever interpolating them into a shell.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::job::JobArgs;
use crate::key::DEFAULT_PREFIX;
use crate::output::Format;
pub use crate::warm::JobKind as WarmJob;

/// The environment variables the binary reads besides its flags' own (each flag's variable is
/// in its `env`): name(s) → what for. docs/cli.md's table is generated from this list, and a test
/// checks it against the `GO_CI_CACHE_*` names the source reads.
pub const ENVIRONMENT: &[(&[&str], &str)] = &[
    (
        &["GO_CI_CACHE_GO"],
        "the `go` binary every command runs (default: `go` on PATH)",
    ),
    (
        &["GOCACHEPROG"],
        "`plan` shows the remote build cache when it is set; this tool's own `go env` and `go list` run without it",
    ),
    (
        &[
            "GITHUB_ACTIONS",
            "GITHUB_EVENT_NAME",
            "GITHUB_REF",
            "GITHUB_EVENT_PATH",
        ],
        "GitHub: whose code the job runs (`trust`, `cacheprog`); `GITHUB_EVENT_PATH` is the event payload (the default branch, the pull request)",
    ),
    (
        &[
            "GITLAB_CI",
            "CI_PIPELINE_SOURCE",
            "CI_COMMIT_BRANCH",
            "CI_COMMIT_TAG",
            "CI_DEFAULT_BRANCH",
        ],
        "GitLab: whose code the job runs (`trust`, `cacheprog`)",
    ),
    (
        &[
            "CI_MERGE_REQUEST_IID",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "CI_EXTERNAL_PULL_REQUEST_IID",
            "CI_PROJECT_ID",
        ],
        "GitLab: the merge request (or external pull request) whose code runs, and where it comes from",
    ),
    (
        &["ACTIONS_CACHE_MODE"],
        "GitHub: a read-only (`read`) or absent (`none`) cache token writes nothing",
    ),
    (
        &["GITHUB_JOB", "CI_JOB_NAME", "RUNNER_OS", "RUNNER_ARCH"],
        "the remote build cache's manifest name",
    ),
    (
        &["ImageOS", "ImageVersion", "CI_JOB_IMAGE"],
        "the runner image: the build key with cgo, and the scope of native outputs in the remote build cache",
    ),
    (
        &["PKG_CONFIG"],
        "the scope of native outputs in the remote build cache (it chooses which C libraries they link)",
    ),
    (
        &[
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ],
        "the remote build cache's store; credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity)",
    ),
    (
        &["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"],
        "where `keys --format github` and `report --format github` write",
    ),
    (
        &["RUNNER_TEMP", "TMPDIR"],
        "the default place of the run state, outside both caches",
    ),
    (
        &["RUNNER_ENVIRONMENT"],
        "`github-hosted`: one machine per job (the module cache is the job's own; never a persistent machine)",
    ),
    (
        &["XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"],
        "the cache program's default local tier (`$XDG_CACHE_HOME/go-ci-cache/cacheprog`, else `~/.cache/…`)",
    ),
];

/// Layered cache keys, warm-up and trimming for Go's module and build caches in CI.
#[derive(Debug, Parser)]
#[command(name = "go-ci-cache", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preview everything for a local dry run: Go environment, dependency files, both cache
    /// entries' keys and restore keys, which input lands in which layer, cache paths and sizes.
    Plan(PlanArgs),
    /// Compute the keys and write them in the CI's own format.
    Keys(KeysArgs),
    /// Before restoring the caches: take this job's lease on both cache roots (so no other
    /// job's trim removes what the restore extracts) and say, from the machine record, whether
    /// the machine keeps its caches and which entries they already hold (those need no
    /// restore). Prints JSON on stdout.
    Claim(ClaimArgs),
    /// Right after restoring the caches: mark every restored build-cache entry unused
    /// (backdate it) and pause Go's own trim, so `trim` can later tell what the job used.
    Prepare(PrepareArgs),
    /// Download what the build needs and warm the build cache for the job (`--job`): compile
    /// every dependency package with the job's exact flags, then vet and link as `go test`
    /// does (test), or run `go vet`'s actions (vet) — without running any test.
    ///
    /// Exit status: 0 even when a package fails to compile or `go` dies (each is a warning and
    /// the job goes on; what compiled stays cached); 1 for those with --strict; 2 for bad input.
    Warm(WarmArgs),
    /// Right before saving the caches: remove every build-cache entry the job did not use, and
    /// prune the module cache when it is the job's own (zips, locks, VCS clones, sumdb cache,
    /// unused toolchains, module versions outside the build list). Entries other live jobs on
    /// this machine may use stay. Never touches anything outside the two cache roots.
    Trim(TrimArgs),
    /// Show what the cache did for this job: restore, coverage, warm-up, sizes before and after
    /// trim, bytes removed, time spent.
    Report(ReportArgs),
    /// Delete superseded GitHub Actions cache entries of this job's configuration and ref
    /// through the REST API, keeping the newest `--keep`. Never touches another configuration's,
    /// ref's or prefix's entries. Needs a token with `actions: write`; without it, a notice.
    Prune(PruneArgs),
    /// A GOCACHEPROG program (Go 1.24 or later): `GOCACHEPROG='go-ci-cache cacheprog'`. Serves
    /// the build cache from a local directory and, with --remote, an S3-compatible store shared
    /// by every runner; namespaces keep what other refs wrote out of this job's build.
    Cacheprog(crate::cacheprog::CacheprogArgs),
    /// Remove objects older than an age from the remote build cache (for stores without
    /// lifecycle rules), and with --local from the local directory.
    CacheprogGc(crate::cacheprog::CacheprogGcArgs),
    /// Who writes what: from the CI's variables and event payload, whether this job writes the
    /// shared caches (the remote build cache's namespace, GitHub's archives) and which
    /// namespaces it reads, and why. The action, the GitLab template and `cacheprog` all use
    /// this one decision.
    Trust(TrustArgs),
    /// The no-op program `warm` gives `go test -exec`: runs nothing, exits 0.
    #[command(hide = true)]
    ExecNothing(ExecNothingArgs),
}

/// `trust` arguments.
#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(flatten)]
    /// The policy.
    pub trust: crate::cacheprog::TrustOpts,
    /// The action's `lookup-only`: nothing is written.
    #[arg(long, env = "GO_CI_CACHE_LOOKUP_ONLY")]
    pub lookup_only: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `exec-nothing` arguments: the test binary and its flags, ignored.
#[derive(Debug, Args)]
pub struct ExecNothingArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ignored: Vec<std::ffi::OsString>,
}

/// Which caches a lifecycle command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Caches {
    /// GOMODCACHE and GOCACHE.
    Both,
    /// GOMODCACHE only.
    Modules,
    /// GOCACHE only.
    Build,
}

/// Options shared by `prepare`, `warm` and `trim`.
#[derive(Debug, Clone, Args)]
pub struct LifecycleOpts {
    #[command(flatten)]
    /// The job.
    pub job: JobOpts,
    /// The run-state file shared by prepare, warm, trim and report. Default:
    /// `$GO_CI_CACHE_STATE`, else `${RUNNER_TEMP:-$TMPDIR}/go-ci-cache/state-<id>.json`.
    #[arg(long, env = "GO_CI_CACHE_STATE")]
    pub state: Option<PathBuf>,
    /// Exit with status 1 on cache trouble instead of warning and going on.
    #[arg(long, env = "GO_CI_CACHE_STRICT")]
    pub strict: bool,
    /// Which caches to act on.
    #[arg(long, value_enum, env = "GO_CI_CACHE_CACHES", default_value = "both")]
    pub caches: Caches,
    /// Whether the machine keeps its caches between jobs: `auto` detects it (a record an
    /// earlier job left on this machine, or cache directories that held entries before the
    /// restore; never on a GitHub-hosted runner); `true` and `false` force it.
    #[arg(
        long,
        value_enum,
        env = "GO_CI_CACHE_PERSISTENT",
        default_value = "auto"
    )]
    pub persistent: Persistent,
}

/// `--persistent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Persistent {
    /// Detect it.
    Auto,
    /// The caches outlive the job.
    True,
    /// The caches live for this job only.
    False,
}

impl Persistent {
    /// `None` for auto.
    pub fn forced(self) -> Option<bool> {
        match self {
            Self::Auto => None,
            Self::True => Some(true),
            Self::False => Some(false),
        }
    }
}

/// `claim` arguments.
#[derive(Debug, Args)]
pub struct ClaimArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: LifecycleOpts,
}

/// `prepare` arguments.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: LifecycleOpts,
    /// The key the modules entry was restored from (recorded for `report`).
    #[arg(long, env = "GO_CI_CACHE_MODULES_RESTORED_KEY")]
    pub modules_restored_key: Option<String>,
    /// The modules entry was an exact hit.
    #[arg(long, env = "GO_CI_CACHE_MODULES_HIT")]
    pub modules_hit: bool,
    /// The key the build entry was restored from (recorded for `report`).
    #[arg(long, env = "GO_CI_CACHE_BUILD_RESTORED_KEY")]
    pub build_restored_key: Option<String>,
    /// The build entry was an exact hit.
    #[arg(long, env = "GO_CI_CACHE_BUILD_HIT")]
    pub build_hit: bool,
}

/// `warm` arguments.
#[derive(Debug, Args)]
pub struct WarmArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: LifecycleOpts,
    /// What the job runs: `test` (compile, vet and link as `go test` does; no test runs),
    /// `build` (only what `go build` needs) or `vet` (`go vet`'s own vet actions).
    #[arg(long, value_enum, env = "GO_CI_CACHE_JOB", default_value = "test")]
    pub job: WarmJob,
    /// Also warm `go vet`'s own vet actions (for a job that runs both `go test` and `go vet`).
    #[arg(long, env = "GO_CI_CACHE_WARM_VET")]
    pub vet: bool,
    /// Also warm what `go test` needs (what `--job test` does; kept for older workflows). No
    /// test binary runs.
    #[arg(long, env = "GO_CI_CACHE_WARM_TEST")]
    pub test: bool,
}

/// `trim` arguments.
#[derive(Debug, Args)]
pub struct TrimArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: LifecycleOpts,
    /// List what would be removed (on stdout) and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The module cache belongs to this job alone: prune it even without a `prepare` in this
    /// job, or when it is Go's per-user default (`$HOME/go/pkg/mod`). Without it, GOMODCACHE is
    /// pruned only after this job's `prepare` judged it the job's own.
    #[arg(long, env = "GO_CI_CACHE_PRUNE_MODULES")]
    pub prune_modules: bool,
    /// On a machine that keeps its caches: the build cache's byte budget (`20GB`, `512MiB`), or
    /// `auto`: 10 % of the filesystem that holds GOCACHE, between 1 GB and 20 GB.
    #[arg(long, env = "GO_CI_CACHE_BUDGET", default_value = "auto")]
    pub budget: String,
    /// Remove nothing: record what the caches hold and end the job's leases (for a job that
    /// saves nothing on a machine that does not keep its caches).
    #[arg(long)]
    pub record_only: bool,
}

/// `report` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// github inside GitHub Actions, gitlab inside GitLab CI, else text.
    Auto,
    /// Markdown appended to `$GITHUB_STEP_SUMMARY` (or --output).
    Github,
    /// A collapsible log section on stdout.
    Gitlab,
    /// The recorded run state as JSON.
    Json,
    /// Plain text.
    Text,
}

/// `report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The Go project directory (used to find GOCACHE and so the default state file).
    #[arg(long, env = "GO_CI_CACHE_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The run-state file (see `prepare --help`).
    #[arg(long, env = "GO_CI_CACHE_STATE")]
    pub state: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        value_enum,
        env = "GO_CI_CACHE_REPORT_FORMAT",
        default_value = "auto"
    )]
    pub format: ReportFormat,
    /// Write to this file (github format) instead of `$GITHUB_STEP_SUMMARY`.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Record a phase's wall time in the run state first, as `NAME=SECONDS` (repeatable), e.g.
    /// `restore.build.download=1.25`: for CI glue that times what the binary does not run.
    #[arg(long = "timing", value_name = "NAME=SECONDS")]
    pub timings: Vec<String>,
}

/// `prune` arguments.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    /// The job whose entries are pruned (its keys give the prefixes unless --prefix is given).
    pub job: JobOpts,
    /// Which entries to prune.
    #[arg(long, value_enum, env = "GO_CI_CACHE_CACHES", default_value = "both")]
    pub caches: Caches,
    /// Prune entries whose key starts with this instead of the job's own prefixes
    /// (repeatable, or one per line); no Go project is needed then.
    #[arg(long = "prefix", env = "GO_CI_CACHE_PRUNE_PREFIX")]
    pub prefixes: Vec<String>,
    /// How many of the newest entries of each prefix stay.
    #[arg(long, env = "GO_CI_CACHE_KEEP", default_value_t = 2)]
    pub keep: usize,
    /// Keys that stay whatever their age, e.g. the one just saved (repeatable, or one per line).
    #[arg(long = "protect", env = "GO_CI_CACHE_PROTECT")]
    pub protect: Vec<String>,
    /// The repository's cache budget in GB; each prefix keeps at most a fifth of it. Default:
    /// the repository's `max_cache_size_gb`, read over the API, else GitHub's 10 GB.
    #[arg(long, env = "GO_CI_CACHE_BUDGET_GB")]
    pub budget_gb: Option<String>,
    /// The repository, `OWNER/NAME`.
    #[arg(long, env = "GITHUB_REPOSITORY")]
    pub repo: Option<String>,
    /// The ref whose entries are pruned (`refs/heads/main`, `refs/pull/7/merge`; a bare name
    /// means a branch).
    #[arg(long = "ref", env = "GITHUB_REF")]
    pub git_ref: Option<String>,
    /// The REST API's base URL.
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub api_url: String,
    /// A token allowed to delete caches (`permissions: actions: write`).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Show what would be deleted and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the API fails instead of warning and going on.
    #[arg(long, env = "GO_CI_CACHE_STRICT")]
    pub strict: bool,
}

/// What identifies the job's caches; shared by every subcommand that computes keys.
#[derive(Debug, Clone, Args)]
pub struct JobOpts {
    /// The Go module, workspace or multi-module directory.
    #[arg(long, env = "GO_CI_CACHE_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// First layer of every key (letters, digits, `.`, `_`, `-`).
    #[arg(long, env = "GO_CI_CACHE_KEY_PREFIX", default_value = DEFAULT_PREFIX)]
    pub key_prefix: String,
    /// Globs, relative to --dir, of the files whose content keys the caches, like
    /// `cache-dependency-path` (repeatable, or one per line). Default: every go.mod, go.sum,
    /// go.work, go.work.sum and vendor/modules.txt taking part.
    #[arg(long = "dependency-files", env = "GO_CI_CACHE_DEPENDENCY_FILES")]
    pub dependency_files: Vec<String>,
    /// The job's own build flags, shell-quoted, e.g. `-race -tags integration`. Write
    /// `--build-flags=-race` (with `=`) when the value starts with `-`.
    #[arg(
        long,
        env = "GO_CI_CACHE_BUILD_FLAGS",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub build_flags: String,
    /// Extra last layer of the build key (e.g. a date or a run number), so a build cache whose
    /// dependencies did not change is still saved afresh; restores fall back across it.
    #[arg(long, env = "GO_CI_CACHE_ROLLING_SUFFIX")]
    pub rolling_suffix: Option<String>,
    /// The runner image, which keys the build cache when cgo is on (C headers and libraries
    /// come from it). Default: `$ImageOS/$ImageVersion` on GitHub, `$CI_JOB_IMAGE` on GitLab.
    #[arg(long, env = "GO_CI_CACHE_RUNNER_IMAGE")]
    pub runner_image: Option<String>,
}

impl JobOpts {
    /// The job arguments, with multi-line and commented dependency globs split out.
    pub fn job_args(&self) -> JobArgs {
        JobArgs {
            dir: self.dir.clone(),
            key_prefix: self.key_prefix.clone(),
            dependency_files: self
                .dependency_files
                .iter()
                .flat_map(|v| v.lines())
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
            build_flags: self.build_flags.clone(),
            rolling_suffix: self.rolling_suffix.clone().filter(|s| !s.is_empty()),
            runner_image: self.runner_image.clone().filter(|s| !s.is_empty()),
        }
    }
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    /// The job.
    pub job: JobOpts,
    /// Print the plan as JSON (the `keys --format json` document plus sizes and coverage).
    #[arg(long)]
    pub json: bool,
    /// Skip the dependency-coverage check (it runs `go list` offline, compiling nothing).
    #[arg(long)]
    pub no_coverage: bool,
    /// What the job runs (see `warm --job`): decides which vet actions coverage counts.
    #[arg(
        long = "job",
        value_enum,
        env = "GO_CI_CACHE_JOB",
        default_value = "test"
    )]
    pub job_kind: WarmJob,
    /// The remote build cache (shown when GOCACHEPROG or --remote is set).
    #[command(flatten, next_help_heading = "Remote build cache (GOCACHEPROG)")]
    pub cacheprog: crate::cacheprog::CacheprogArgs,
}

/// `keys` arguments.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    /// The job.
    pub job: JobOpts,
    /// Output format.
    #[arg(long, value_enum, env = "GO_CI_CACHE_FORMAT", default_value = "auto")]
    pub format: Format,
    /// Write to this file instead of the default: `$GITHUB_OUTPUT` for github,
    /// `go-ci-cache.env` for gitlab, stdout for the others.
    #[arg(long, short = 'o', env = "GO_CI_CACHE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Also export GOCACHE and GOMODCACHE (github: to `$GITHUB_ENV`; gitlab and shell: as
    /// variables) so later steps use the same cache directories.
    #[arg(long, env = "GO_CI_CACHE_EXPORT_ENV")]
    pub export_env: bool,
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
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
