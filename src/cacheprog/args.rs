//! Command-line arguments of `cacheprog` and `cacheprog-gc` (clap derive, each flag also a
//! `GO_CI_CACHE_*` variable, like the rest of the command line).

use std::path::PathBuf;

use clap::Args;

/// Options both commands share: where the caches are.
#[derive(Debug, Clone, Args)]
pub struct StoreOpts {
    /// The remote tier: an S3-compatible store, `s3://BUCKET/PREFIX`. Credentials, region and
    /// endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    /// AWS_REGION and AWS_ENDPOINT_URL (an `http://` endpoint is allowed). Without it, only the
    /// local tier is used.
    #[arg(long, env = "GO_CI_CACHE_REMOTE")]
    pub remote: Option<String>,
    /// The local tier's directory. Default: `$XDG_CACHE_HOME/go-ci-cache/cacheprog` (else
    /// `~/.cache/…`).
    #[arg(long, env = "GO_CI_CACHE_LOCAL_DIR")]
    pub local_dir: Option<PathBuf>,
    /// How long one remote request may take (`10s`, `1m`; a bare number is seconds; 1 s to
    /// 10 min) before the remote tier is off for the rest of the go command and, on this
    /// machine, for the go commands of the next minutes (transfers get a second more per 4 MiB).
    #[arg(long, env = "GO_CI_CACHE_REMOTE_TIMEOUT", default_value = "10s")]
    pub remote_timeout: String,
}

/// Who writes what ([`crate::trust`]): the options `cacheprog` and `trust` share. Values that do
/// not parse are cache trouble for `cacheprog` (a warning; it then writes nothing) and usage
/// errors for `trust`.
#[derive(Debug, Clone, Args)]
pub struct TrustOpts {
    /// When this job writes (the action's `save`): `default-branch`, `pull-requests`, `always`
    /// (every ref its own namespace) or `never`. Which namespace follows from the CI's
    /// variables: `trusted` for the default branch's own runs, `pr-<number>` or `mr-<iid>` for
    /// a pull or merge request's code, `ref-<ref>` for other branches and tags.
    #[arg(long, env = "GO_CI_CACHE_SAVE", default_value = "always")]
    pub save: String,
    /// Read from the remote store, write nothing to it (the local tier still fills).
    #[arg(
        long,
        env = "GO_CI_CACHE_READ_ONLY",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "false"
    )]
    pub read_only: String,
    /// The namespace this job writes action records to instead of its own (never `trusted`
    /// for a job that is not the default branch's own run).
    #[arg(long, env = "GO_CI_CACHE_NAMESPACE")]
    pub namespace: Option<String>,
    /// The namespaces this job reads, in order (repeatable, comma-separated or one per line).
    /// Default: its own, then `trusted`; a job that writes `trusted` reads only `trusted`.
    #[arg(
        long = "read-namespaces",
        env = "GO_CI_CACHE_READ_NAMESPACES",
        value_delimiter = ','
    )]
    pub read_namespaces: Vec<String>,
    /// The default branch's name, which decides whether this job writes `trusted`. Default:
    /// CI_DEFAULT_BRANCH (GitLab), else the event payload's repository.default_branch (GitHub).
    #[arg(long, env = "GO_CI_CACHE_DEFAULT_BRANCH")]
    pub default_branch: Option<String>,
}

/// `cacheprog` arguments. Every value is read leniently: one that does not parse is a warning,
/// and the program serves the go command anyway (see [`super::config`]).
#[derive(Debug, Clone, Args)]
pub struct CacheprogArgs {
    #[command(flatten)]
    /// Where the caches are.
    pub store: StoreOpts,
    #[command(flatten)]
    /// Who writes what.
    pub trust: TrustOpts,
    /// The manifest this job reads at start and writes at the end. Default:
    /// `<configuration>-<job>-<project>` with `--manifest-configuration`, where the job is
    /// `$GITHUB_JOB` or `$CI_JOB_NAME`; without it, the job plus `$RUNNER_OS-$RUNNER_ARCH` when
    /// set, else `default`.
    #[arg(long, env = "GO_CI_CACHE_REMOTE_MANIFEST")]
    pub manifest: Option<String>,
    /// The configuration the job's manifest belongs to (`keys` gives it as
    /// `remote-configuration`: a digest of Go, target and build flags). With it, the manifest's
    /// default name is `<configuration>-<job>-<project>` and a job's first run starts from the
    /// newest manifest of the same job, then of any job, of its configuration.
    #[arg(long, env = "GO_CI_CACHE_REMOTE_CONFIGURATION")]
    pub manifest_configuration: Option<String>,
    /// The project the job's manifest belongs to (`keys` gives it as `remote-project`).
    #[arg(long, env = "GO_CI_CACHE_REMOTE_PROJECT")]
    pub manifest_project: Option<String>,
    /// When no read namespace has this job's manifest (its first run, a new matrix entry),
    /// prefetch the newest manifest whose name starts with one of these prefixes instead, tried
    /// in order (comma-separated), up to 256 MiB of its outputs. The action passes its
    /// configuration's digest, so a job starts from a sibling job of the same Go, target and
    /// flags.
    #[arg(
        long = "manifest-siblings",
        env = "GO_CI_CACHE_REMOTE_MANIFEST_SIBLINGS",
        value_delimiter = ','
    )]
    pub manifest_siblings: Vec<String>,
    /// Uploads and prefetch downloads in flight at once (1 to 256). A warm job's prefetch
    /// waits about one round trip per this many outputs.
    #[arg(long, env = "GO_CI_CACHE_REMOTE_CONCURRENCY", default_value = "32")]
    pub concurrency: String,
    /// How long the end of a go command waits for its uploads (`120s`, `5m`; a bare number is
    /// seconds; 1 s to 1 h); what is left is dropped with a warning.
    #[arg(long, env = "GO_CI_CACHE_FLUSH_TIMEOUT", default_value = "120s")]
    pub flush_timeout: String,
    /// The local tier trims itself, at most once a day, of files unused for longer than this
    /// (`5d`, `36h`; Go trims its own cache the same way), or `off`. The go command trims
    /// nothing under GOCACHEPROG.
    #[arg(long, env = "GO_CI_CACHE_LOCAL_MAX_AGE", default_value = "5d")]
    pub local_max_age: String,
    /// Serve no go command: download what the job's manifest (or a sibling's) lists into the
    /// local tier, then exit. A step runs this beside the modules restore, so the job's first
    /// go command finds its outputs on disk; that go command's hits on them still count as
    /// the remote tier's. Bounded by `--flush-timeout`.
    #[arg(long)]
    pub prefetch_only: bool,
    /// Serve no go command: start as a go command would start this program (the same
    /// configuration, local tier and store client), print the configuration as JSON on stdout
    /// and exit 0 when it can serve. The action and the GitLab template run this before they
    /// set GOCACHEPROG. Makes no request to the store.
    #[arg(long)]
    pub check: bool,
}

/// `cacheprog-gc` arguments.
#[derive(Debug, Clone, Args)]
pub struct CacheprogGcArgs {
    #[command(flatten)]
    /// Where the caches are.
    pub store: StoreOpts,
    /// Remove objects last written longer ago than this (`30d`, `12h`, `90m`), except the
    /// outputs and records that manifests written within it list.
    #[arg(long, env = "GO_CI_CACHE_GC_OLDER_THAN")]
    pub older_than: String,
    /// Sweep by age alone: also remove old outputs and records that the live manifests (those
    /// written within the age) list, as a lifecycle rule would.
    #[arg(long)]
    pub by_age: bool,
    /// Also remove old files of the local tier (the remote is listed and trimmed only when
    /// `--remote` is given).
    #[arg(long)]
    pub local: bool,
    /// Show what would be removed and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
