//! go-ci-cache: layered cache keys, warm-up and trimming for Go's module cache (GOMODCACHE) and
//! build cache (GOCACHE) in CI, and a GOCACHEPROG program for a remote build cache.
//!
//! The map, from where a command starts to what it calls:
//!
//! - [`cli`]: the command line (clap definitions, every flag with its `GO_CI_CACHE_*` variable,
//!   and the other variables the binary reads); [`error`]: usage errors and exit codes.
//! - [`cmd`]: one file per subcommand, and the only place a command body lives; `main.rs`
//!   parses and calls [`cmd::run`].
//! - [`go`]: everything about `go`: running it (the runner trait, the real runner and a fake),
//!   `go env`, `go list`, the build-flag parser, the toolchain rules, the go.mod/go.work reader.
//! - [`project`]: finding the project's modules and dependency files; [`job`]: loading a job
//!   (environment, project, flags, probes) into plain data.
//! - [`key`]: the pure key model and the key-input table.
//! - [`cache`]: GOCACHE and GOMODCACHE on disk: their models and policies, leases, the machine
//!   record, the budget, the run state, the trim engine, and the remover (every removal of
//!   cache content goes through it).
//! - [`warm`]: the warm-up that matches the job, and dependency coverage.
//! - [`trust`]: who writes what: the one decision of which namespace a job writes and reads.
//! - [`cacheprog`]: the GOCACHEPROG program: protocol, tiers, prefetch, manifests, gc; its async
//!   runtime stays inside it.
//! - [`github`]: the Actions cache REST client and the pure prune policy.
//! - [`output`]: everything printed or written: the keys document ([`output::doc`]) and its
//!   renderings in each CI's format, `plan`, `report`, the
//!   log; [`fsutil`]: directory sizes and the one atomic writer.
//!
//! Pure core, thin shell: the key model, plans, policies and renderers take plain data and
//! return plain data; `go`, the filesystem, the environment and the network are reached only
//! through [`go`], [`project`], [`job`], [`cache`]'s I/O, [`cacheprog`] and [`output::sink`].

pub mod cache;
pub mod cacheprog;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod fsutil;
pub mod github;
pub mod go;
pub mod job;
pub mod key;
pub mod output;
pub mod project;
pub mod trust;
pub mod warm;
