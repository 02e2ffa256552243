//! The job's configuration, gathered once: `go env`, the project's dependency files, the build
//! flags, and the keys computed from them. [`key_inputs`] and [`KeysDoc::new`] are pure; [`load`]
//! is the shell around them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::error::usage;
use crate::flags::BuildFlags;
use crate::gocmd::{Go, cc_version};
use crate::goenv::GoEnv;
use crate::key::{self, CacheKeys, EntryKeys, Input, KeyInputs, Layer};
use crate::project::{self, Discover, FileDigest, Mode, Project};

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
    /// `$CC --version`, when cgo is on.
    pub cc_version: Option<String>,
    /// What the keys were computed from.
    pub inputs: KeyInputs,
    /// The keys.
    pub keys: CacheKeys,
}

impl Job {
    /// Whether `-trimpath` is in effect (flags or GOFLAGS).
    pub fn trimpath(&self) -> bool {
        self.flags.is_set("trimpath") || self.goflags.is_set("trimpath")
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
pub fn load_target(args: &JobArgs, go: &Go) -> Result<Target> {
    let (target, _goflags) = load_common(args, go, LIGHT_VARS)?;
    Ok(target)
}

/// What both loaders do: check --dir, parse the flags, one `go env -json` (all variables when
/// `vars` is empty), check the cache paths, and find the project. Returns GOFLAGS parsed too.
fn load_common(args: &JobArgs, go: &Go, vars: &[&str]) -> Result<(Target, BuildFlags)> {
    check_dir(&args.dir)?;
    let flags = BuildFlags::parse(&args.build_flags, "--build-flags")?;
    let env = go.env_vars(&args.dir, vars)?;
    let goflags = BuildFlags::parse_goflags(env.get("GOFLAGS"))?;
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

/// Gathers the job: one `go env -json`, discovery, digests, keys.
pub fn load(args: &JobArgs, go: &Go) -> Result<Job> {
    let (
        Target {
            env,
            project,
            flags,
        },
        goflags,
    ) = load_common(args, go, &[])?;
    let cc = env.cgo_enabled().then(|| cc_version(&env, &project.root));
    let pgo = pgo_files(&flags, &goflags, &project)?;
    let inputs = key_inputs(&KeyInputsArgs {
        env: &env,
        project: &project,
        flags: &flags,
        goflags: &goflags,
        cc_version: cc.as_deref(),
        pgo: &pgo,
        prefix: &args.key_prefix,
        rolling: args.rolling_suffix.as_deref(),
    });
    let keys = key::compute(&inputs)?;
    Ok(Job {
        env,
        project,
        flags,
        goflags,
        cc_version: cc,
        inputs,
        keys,
    })
}

/// The PGO profiles that key the build: none with `-pgo=off`, the named file with `-pgo=FILE`,
/// else every `default.pgo` (the `auto` default).
fn pgo_files(
    flags: &BuildFlags,
    goflags: &BuildFlags,
    project: &Project,
) -> Result<Vec<FileDigest>> {
    let pgo = flags
        .value("pgo")
        .or_else(|| goflags.value("pgo"))
        .and_then(|f| f.value.clone())
        .unwrap_or_else(|| "auto".into());
    match pgo.as_str() {
        "off" => Ok(Vec::new()),
        "auto" => Ok(project.pgo_files.clone()),
        file => {
            let path = project.root.join(file);
            let bytes = std::fs::read(&path).map_err(|e| {
                usage(
                    format!("cannot read the -pgo profile `{}`: {e}", path.display()),
                    "give -pgo a profile path relative to the project root, or `auto`/`off`",
                )
            })?;
            Ok(vec![FileDigest {
                path: project::relative(&project.root, &path),
                sha256: key::sha256_hex(&bytes),
            }])
        }
    }
}

/// Arguments of [`key_inputs`].
#[derive(Debug)]
pub struct KeyInputsArgs<'a> {
    /// Go environment.
    pub env: &'a GoEnv,
    /// Project.
    pub project: &'a Project,
    /// Job build flags.
    pub flags: &'a BuildFlags,
    /// GOFLAGS, parsed.
    pub goflags: &'a BuildFlags,
    /// C compiler version line when cgo is on.
    pub cc_version: Option<&'a str>,
    /// PGO profiles in effect.
    pub pgo: &'a [FileDigest],
    /// Key prefix.
    pub prefix: &'a str,
    /// Rolling suffix.
    pub rolling: Option<&'a str>,
}

/// Variables that key the build when cgo is on (reference: go-caches.md §2.4).
const CGO_VARS: &[&str] = &[
    "CC",
    "CXX",
    "CGO_CFLAGS",
    "CGO_CPPFLAGS",
    "CGO_CXXFLAGS",
    "CGO_FFLAGS",
    "CGO_LDFLAGS",
    "PKG_CONFIG",
];

/// Builds the key inputs from plain data (pure).
pub fn key_inputs(a: &KeyInputsArgs<'_>) -> KeyInputs {
    let env = a.env;
    let mut fp = vec![
        Input::new("GOVERSION", env.get("GOVERSION")),
        Input::new("GOOS", env.get("GOOS")),
        Input::new("GOARCH", env.get("GOARCH")),
    ];
    if let Some(level) = env.arch_level_var() {
        fp.push(Input::new(level, env.get(level)));
    }
    fp.push(Input::new("CGO_ENABLED", env.get("CGO_ENABLED")));
    if env.cgo_enabled() {
        for v in CGO_VARS {
            fp.push(Input::new(*v, env.get(v)));
        }
        fp.push(Input::new(
            "cc --version",
            a.cc_version.unwrap_or("unavailable"),
        ));
    }
    for v in ["GOEXPERIMENT", "GOFIPS140", "GOFLAGS"] {
        fp.push(Input::new(v, env.get(v)));
    }
    fp.push(Input::new(
        "--build-flags",
        a.flags.fingerprint_tokens().join(" "),
    ));
    let trimpath = a.flags.is_set("trimpath") || a.goflags.is_set("trimpath");
    if !trimpath {
        // Without -trimpath every dependency's action ID holds its absolute directory.
        fp.push(Input::new("GOMODCACHE", env.get("GOMODCACHE")));
    }
    for f in a.pgo {
        fp.push(Input::new(format!("pgo:{}", f.path), &f.sha256));
    }

    let mut deps: Vec<Input> = a
        .project
        .dependency_files
        .iter()
        .map(|f| Input::new(&f.path, &f.sha256))
        .collect();
    if env.get("GOWORK") == "off" {
        deps.push(Input::new("GOWORK", "off"));
    }
    for name in ["mod", "modfile"] {
        if let Some(v) = a
            .flags
            .value(name)
            .or_else(|| a.goflags.value(name))
            .and_then(|f| f.value.as_deref())
        {
            deps.push(Input::new(format!("-{name}"), v));
        }
    }
    KeyInputs {
        prefix: a.prefix.to_string(),
        host_os: env.get("GOHOSTOS").to_string(),
        goos: env.get("GOOS").to_string(),
        goarch: env.get("GOARCH").to_string(),
        go_version: env.get("GOVERSION").to_string(),
        fingerprint: fp,
        dependencies: deps,
        rolling: a.rolling.map(str::to_string),
    }
}

/// Schema version of the JSON document.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The machine-readable description of a job's keys: the `keys --format json` contract and the
/// source of every other output format.
#[derive(Debug, Clone, Serialize)]
pub struct KeysDoc {
    /// Version of this document's shape.
    pub schema_version: u32,
    /// The GOMODCACHE entry.
    pub modules: EntryDoc,
    /// The GOCACHE entry.
    pub build: EntryDoc,
    /// What was hashed.
    pub inputs: InputsDoc,
    /// The project.
    pub project: ProjectDoc,
}

/// One entry of [`KeysDoc`].
#[derive(Debug, Clone, Serialize)]
pub struct EntryDoc {
    /// Exact key.
    pub key: String,
    /// Prefix restore keys, most specific first.
    pub restore_keys: Vec<String>,
    /// Exact fallback keys (GitLab).
    pub fallback_keys: Vec<String>,
    /// Absolute cache directory.
    pub path: String,
    /// Layers with their inputs.
    pub layers: Vec<Layer>,
}

/// What went into the keys.
#[derive(Debug, Clone, Serialize)]
pub struct InputsDoc {
    /// The Go variables that were read.
    pub go: BTreeMap<String, String>,
    /// The job's build flags, canonical.
    pub build_flags: Vec<String>,
    /// Whether -trimpath is in effect.
    pub trimpath: bool,
    /// C compiler version line, when cgo is on.
    pub cc_version: Option<String>,
    /// Dependency files and digests.
    pub dependency_files: Vec<FileDigest>,
    /// PGO profiles that key the build.
    pub pgo_files: Vec<FileDigest>,
    /// The build fingerprint's inputs.
    pub fingerprint: Vec<Input>,
    /// The dependency layer's inputs.
    pub dependencies: Vec<Input>,
}

/// The project, as shown to users.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectDoc {
    /// Absolute root.
    pub root: String,
    /// Layout.
    pub mode: Mode,
    /// Module directories, relative to the root.
    pub modules: Vec<String>,
    /// The go.work file, relative to the root.
    pub workspace: Option<String>,
}

/// Go variables shown in the inputs (a superset of what keys; the rest explain paths and mode).
const SHOWN_VARS: &[&str] = &[
    "GOVERSION",
    "GOOS",
    "GOARCH",
    "GOHOSTOS",
    "GOHOSTARCH",
    "GOAMD64",
    "GOARM64",
    "GOARM",
    "GO386",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "GOWASM",
    "CGO_ENABLED",
    "CC",
    "CXX",
    "GOEXPERIMENT",
    "GOFIPS140",
    "GOFLAGS",
    "GOCACHE",
    "GOMODCACHE",
    "GOMOD",
    "GOWORK",
    "GOTOOLCHAIN",
    "GOPROXY",
    "GOROOT",
    "GOCACHEPROG",
];

impl KeysDoc {
    /// Describes a job (pure).
    pub fn new(job: &Job) -> Self {
        let entry = |k: &EntryKeys, path: PathBuf| EntryDoc {
            key: k.key.clone(),
            restore_keys: k.restore_keys.clone(),
            fallback_keys: k.fallback_keys.clone(),
            path: path.to_string_lossy().into_owned(),
            layers: k.layers.clone(),
        };
        let fp_layer = |name| {
            job.keys
                .build
                .layers
                .iter()
                .find(|l| l.name == name)
                .map(|l| l.inputs.clone())
                .unwrap_or_default()
        };
        let root = &job.project.root;
        Self {
            schema_version: JSON_SCHEMA_VERSION,
            modules: entry(&job.keys.modules, job.env.gomodcache()),
            build: entry(&job.keys.build, job.env.gocache()),
            inputs: InputsDoc {
                go: SHOWN_VARS
                    .iter()
                    .filter(|v| !job.env.get(v).is_empty())
                    .map(|v| ((*v).to_string(), job.env.get(v).to_string()))
                    .collect(),
                build_flags: job.flags.args(),
                trimpath: job.trimpath(),
                cc_version: job.cc_version.clone(),
                dependency_files: job.project.dependency_files.clone(),
                pgo_files: job.project.pgo_files.clone(),
                fingerprint: fp_layer("fingerprint"),
                dependencies: fp_layer("deps"),
            },
            project: ProjectDoc {
                root: root.to_string_lossy().into_owned(),
                mode: job.project.mode,
                modules: job
                    .project
                    .modules
                    .iter()
                    .map(|m| match project::relative(root, m).as_str() {
                        "" => ".".to_string(),
                        r => r.to_string(),
                    })
                    .collect(),
                workspace: job
                    .project
                    .workspace
                    .as_ref()
                    .map(|w| project::relative(root, w)),
            },
        }
    }
}
