//! The job's configuration, gathered once: `go env`, the project's dependency files, the build
//! flags, the probes the key table asks for, and the keys computed from them. This is the
//! loader of [`crate::key::inputs`]; [`crate::output::doc`] describes what it loaded.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::usage;
use crate::go::env::GoEnv;
use crate::go::flags::BuildFlags;
use crate::go::{GoRunner, cc_version, compiler_id};
pub use crate::key::inputs::{KeyInputsArgs, Probes, key_inputs};
use crate::key::inputs::{RULES, Source, effective_flags};
use crate::key::{self, CacheKeys, KeyInputs};
use crate::project::{self, Discover, FileDigest, Project};

/// What the user asked for, before anything is looked up.
#[derive(Debug, Clone, Default)]
pub struct JobArgs {
    /// Project directory.
    pub dir: PathBuf,
    /// Key prefix.
    pub key_prefix: String,
    /// Explicit dependency-file globs.
    pub dependency_files: Vec<String>,
    /// The job's build flags, shell-quoted.
    pub build_flags: String,
    /// Optional rolling suffix for the build key.
    pub rolling_suffix: Option<String>,
    /// The runner image, for cgo builds outside GitHub and GitLab (`--runner-image`).
    pub runner_image: Option<String>,
}

/// Everything known about the job.
#[derive(Debug, Clone)]
pub struct Job {
    /// `go env -json` in the project directory.
    pub env: GoEnv,
    /// The project layout and dependency files.
    pub project: Project,
    /// The job's build flags (`--build-flags`).
    pub flags: BuildFlags,
    /// GOFLAGS, parsed.
    pub goflags: BuildFlags,
    /// Facts measured for the keys.
    pub probes: Probes,
    /// PGO profiles in effect.
    pub pgo: Vec<FileDigest>,
    /// The `-modfile` go.mod/go.sum, when given.
    pub modfile: Vec<FileDigest>,
    /// What the keys were computed from.
    pub inputs: KeyInputs,
    /// The keys.
    pub keys: CacheKeys,
}

impl Job {
    /// Whether `-trimpath` is in effect (flags or GOFLAGS).
    pub fn trimpath(&self) -> bool {
        effective_flags(&self.goflags, &self.flags).is_set("trimpath")
    }
}

/// What the lifecycle commands need: the cache paths, the project and the flags (no keys).
#[derive(Debug, Clone)]
pub struct Target {
    /// The few Go variables asked for (see [`LIGHT_VARS`]).
    pub env: GoEnv,
    /// The project.
    pub project: Project,
    /// The job's build flags.
    pub flags: BuildFlags,
}

/// The variables [`load_target`] asks `go env` for: none that makes it probe the C compiler or
/// set up the build cache, so the lifecycle commands still run (and warn) when GOCACHE is
/// unusable.
pub const LIGHT_VARS: &[&str] = &[
    "GOCACHE",
    "GOMODCACHE",
    "GOMOD",
    "GOWORK",
    "GOROOT",
    "GOFLAGS",
    "GOVERSION",
    "GOOS",
    "GOARCH",
    "GOHOSTOS",
    "GOTOOLCHAIN",
];

/// Gathers what the lifecycle commands need, with a light `go env`.
pub fn load_target(args: &JobArgs, go: &dyn GoRunner) -> Result<Target> {
    let (target, _goflags) = load_common(args, go, LIGHT_VARS)?;
    Ok(target)
}

/// What both loaders do: check --dir, parse the flags, one `go env -json` (all variables when
/// `vars` is empty), check the cache paths, and find the project. Returns GOFLAGS parsed too.
fn load_common(args: &JobArgs, go: &dyn GoRunner, vars: &[&str]) -> Result<(Target, BuildFlags)> {
    check_dir(&args.dir)?;
    let flags = BuildFlags::parse(&args.build_flags, "--build-flags")?;
    let env = go.go_env(&args.dir, vars)?;
    let goflags = BuildFlags::parse_goflags(env.get("GOFLAGS"))?;
    go.use_goflags(env.get("GOFLAGS"));
    check_cache_vars(&env)?;
    let project = project::discover(&Discover {
        dir: &args.dir,
        env: &env,
        patterns: &args.dependency_files,
    })?;
    Ok((
        Target {
            env,
            project,
            flags,
        },
        goflags,
    ))
}

fn check_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(usage(
            format!("--dir `{}` is not a directory", dir.display()),
            "point --dir at the directory of your Go module or workspace",
        ))
    }
}

fn check_cache_vars(env: &GoEnv) -> Result<()> {
    for var in ["GOCACHE", "GOMODCACHE"] {
        let v = env.get(var);
        if v.is_empty() || v == "off" || !Path::new(v).is_absolute() {
            return Err(usage(
                format!("{var} is `{v}`: go-ci-cache needs an absolute directory"),
                format!(
                    "set {var} to an absolute path, e.g. `export {var}=$HOME/.cache/{}`",
                    var.to_lowercase()
                ),
            ));
        }
    }
    Ok(())
}

/// The runner image that cgo objects were compiled on (pure): `--runner-image` when given,
/// else GitHub's `ImageOS`/`ImageVersion`, else GitLab's `CI_JOB_IMAGE`.
pub fn runner_image(
    explicit: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(i) = explicit.filter(|i| !i.is_empty()) {
        return Some(i.to_string());
    }
    if let Some(os) = var("ImageOS").filter(|v| !v.is_empty()) {
        let version = var("ImageVersion").unwrap_or_default();
        return Some(format!("{os}/{version}"));
    }
    var("CI_JOB_IMAGE").filter(|v| !v.is_empty())
}

/// Gathers the job: one `go env -json`, discovery, digests, probes, keys.
pub fn load(args: &JobArgs, go: &dyn GoRunner) -> Result<Job> {
    let (
        Target {
            env,
            project,
            flags,
        },
        goflags,
    ) = load_common(args, go, &[])?;
    let effective = effective_flags(&goflags, &flags);
    let var = |k: &str| std::env::var(k).ok();
    let probes = Probes {
        compiler_id: compiler_id(&env),
        cc_version: env.cgo_enabled().then(|| cc_version(&env, &project.root)),
        runner_image: if env.cgo_enabled() {
            runner_image(args.runner_image.as_deref(), var)
        } else {
            None
        },
        process_env: RULES
            .iter()
            .filter_map(|r| match r.source {
                Source::ProcessEnv(v) => var(v).map(|x| (v.to_string(), x)),
                _ => None,
            })
            .collect(),
    };
    let dirs = crate::go::list::units(&project)
        .into_iter()
        .map(|u| u.dir)
        .collect::<Vec<_>>();
    let pgo = pgo_files(&effective, &project, &dirs)?;
    let modfile = modfile_files(&effective, &project, &dirs)?;
    let inputs = key_inputs(&KeyInputsArgs {
        env: &env,
        project: &project,
        flags: &flags,
        goflags: &goflags,
        probes: &probes,
        pgo: &pgo,
        modfile: &modfile,
        prefix: &args.key_prefix,
        rolling: args.rolling_suffix.as_deref(),
    });
    let keys = key::compute(&inputs)?;
    Ok(Job {
        env,
        project,
        flags,
        goflags,
        probes,
        pgo,
        modfile,
        inputs,
        keys,
    })
}

/// Reads `file` as the go command would from each directory it runs in (a relative path is
/// relative to the working directory, `base.Cwd()`); the digests of those that exist.
fn digest_from_dirs(file: &str, dirs: &[PathBuf]) -> Vec<(PathBuf, std::io::Result<Vec<u8>>)> {
    let mut seen = Vec::new();
    for d in dirs {
        let p = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            d.join(file)
        };
        if !seen.iter().any(|(q, _)| q == &p) {
            let bytes = std::fs::read(&p);
            seen.push((p, bytes));
        }
    }
    seen
}

/// The PGO profiles that key the build: none with `-pgo=off`, the named file with `-pgo=FILE`
/// (relative to the directory each go command runs in), else every `default.pgo` (`auto`).
fn pgo_files(flags: &BuildFlags, project: &Project, dirs: &[PathBuf]) -> Result<Vec<FileDigest>> {
    let pgo = flags
        .value("pgo")
        .and_then(|f| f.value.clone())
        .unwrap_or_else(|| "auto".into());
    match pgo.as_str() {
        "off" => Ok(Vec::new()),
        "auto" | "" => Ok(project.pgo_files.clone()),
        file => {
            let found = digest_from_dirs(file, dirs);
            let mut out = Vec::new();
            for (path, bytes) in &found {
                if let Ok(b) = bytes {
                    out.push(FileDigest {
                        path: project::relative(&project.root, path),
                        sha256: key::sha256_hex(b),
                    });
                }
            }
            if out.is_empty() {
                let (path, err) = &found[0];
                let e = err
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Err(usage(
                    format!("cannot read the -pgo profile `{}`: {e}", path.display()),
                    "a relative -pgo path is relative to the module (or workspace) directory the go command runs in; or use `auto`/`off`",
                ));
            }
            Ok(out)
        }
    }
}

/// The `-modfile` go.mod and its go.sum (`x.mod` → `x.sum`), which replace the module's own.
fn modfile_files(
    flags: &BuildFlags,
    project: &Project,
    dirs: &[PathBuf],
) -> Result<Vec<FileDigest>> {
    let Some(file) = flags.value("modfile").and_then(|f| f.value.clone()) else {
        return Ok(Vec::new());
    };
    let sum = format!("{}.sum", file.strip_suffix(".mod").unwrap_or(&file));
    let mut out = Vec::new();
    for (path, bytes) in digest_from_dirs(&file, dirs) {
        let b = bytes.map_err(|e| {
            usage(
                format!("cannot read the -modfile `{}`: {e}", path.display()),
                "a relative -modfile path is relative to the module directory the go command runs in",
            )
        })?;
        out.push(FileDigest {
            path: project::relative(&project.root, &path),
            sha256: key::sha256_hex(&b),
        });
    }
    for (path, bytes) in digest_from_dirs(&sum, dirs) {
        if let Ok(b) = bytes {
            out.push(FileDigest {
                path: project::relative(&project.root, &path),
                sha256: key::sha256_hex(&b),
            });
        }
    }
    Ok(out)
}
