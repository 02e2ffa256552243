//! The keys document: the `keys --format json` contract, built from a loaded [`Job`] (pure),
//! and the source every other output format renders.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::job::Job;
use crate::key::{EntryKeys, Input, Layer};
use crate::project::{self, FileDigest, Mode};

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
    /// Where the remote build cache keeps this job's manifest.
    pub remote_manifest: crate::key::ManifestScope,
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
    /// The entry's own scope (kind, configuration, project): what `prune` after a save of it
    /// may touch, and GitLab's rolling key.
    pub prune_prefix: String,
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
    /// The compiler binary's build ID.
    pub compiler_id: Option<String>,
    /// The runner image, when cgo is on.
    pub runner_image: Option<String>,
    /// Dependency files and digests.
    pub dependency_files: Vec<FileDigest>,
    /// PGO profiles that key the build (none with `-pgo=off`).
    pub pgo_files: Vec<FileDigest>,
    /// The `-modfile` files, when given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modfile_files: Vec<FileDigest>,
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
    /// The highest Go its go.work or go.mod files ask for (`go` or `toolchain` line), e.g.
    /// `go1.27.3`; null when none does.
    pub required_go: Option<String>,
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
            prune_prefix: k.prune_prefix.clone(),
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
                cc_version: job.probes.cc_version.clone(),
                compiler_id: job.probes.compiler_id.clone(),
                runner_image: job.probes.runner_image.clone(),
                dependency_files: job.project.dependency_files.clone(),
                pgo_files: job.pgo.clone(),
                modfile_files: job.modfile.clone(),
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
                required_go: crate::go::toolchain::required_project(
                    job.project.workspace.as_deref(),
                    &job.project.modules,
                ),
            },
            remote_manifest: crate::key::manifest_scope(&job.keys.build),
        }
    }
}
