//! The command line: clap derive definitions. Every flag can also come from a `GO_CI_CACHE_*`
//! environment variable, which is how the GitHub Action and the GitLab template pass inputs
//! without ever interpolating them into a shell.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::job::JobArgs;
use crate::key::DEFAULT_PREFIX;
use crate::output::Format;

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
        }
    }
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    /// The job.
    pub job: JobOpts,
    /// Print the plan as JSON (the `keys --format json` document plus sizes).
    #[arg(long)]
    pub json: bool,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
