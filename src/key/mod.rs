//! The key model: two cache entries (modules, build), each with a layered key whose restore keys
//! are its own prefixes, most specific first. Pure code: no env, filesystem, clock or process.
//!
//! ```text
//! modules: {prefix}-mod-{schema}-{host os}-{project}-{deps}
//! build:   {prefix}-build-{schema}-{goos}-{goarch}-{go version}-{fingerprint}-{project}-{deps}[-{rolling}]
//! ```
//!
//! Restore keys end in `-` so a layer value can never match a longer one (`go1.26.1-` is not a
//! prefix of `go1.26.10-`). The build entry never restores across a Go version or fingerprint;
//! the modules entry falls back to any module cache of the same OS. Both fall back, last, to
//! another project's entry (another module of a monorepo), but an entry's own project (the
//! module paths taking part) is its scope: pruning after a save never reaches past it, so one
//! module's job never deletes a sibling module's entries. Keys are valid on GitHub
//! (≤ 512 characters, no commas, ≤ 10 restore keys) and GitLab (no `/`, ≤ 5 fallback keys).

mod digest;
pub mod inputs;
mod rules;

use anyhow::Result;
use serde::Serialize;
use sha2::Digest;

pub use digest::{LAYER_HEX, layer_digest, sha256_hex};

use crate::error::usage;

/// Version of the key format. Bump it (and note a "Cache key change" in the CHANGELOG) whenever
/// the same inputs would produce a different key.
pub const SCHEMA: &str = "v1";
/// The default user prefix.
pub const DEFAULT_PREFIX: &str = "go-ci-cache";
/// GitHub's limit on key length.
pub const MAX_KEY_LEN: usize = 512;
/// GitHub's limit on restore keys.
pub const MAX_RESTORE_KEYS: usize = 10;
/// GitLab's limit on `fallback_keys`.
pub const MAX_FALLBACK_KEYS: usize = 5;
const MAX_LABEL_LEN: usize = 64;

/// One named value that went into a layer (a file and its digest, a variable and its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    /// What it is: a path relative to the project root, or a variable or flag name.
    pub name: String,
    /// Its value: a SHA-256 for a file, the verbatim value for a variable.
    pub value: String,
}

impl Input {
    /// Shorthand constructor.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Everything the keys are computed from. Built by the caller from the Go environment, the
/// dependency files and the flags; the model itself only reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInputs {
    /// User prefix (validated here).
    pub prefix: String,
    /// The OS the cache is restored on (`GOHOSTOS`): module archives are per OS.
    pub host_os: String,
    /// Target `GOOS`.
    pub goos: String,
    /// Target `GOARCH`.
    pub goarch: String,
    /// Resolved `GOVERSION`, patch included.
    pub go_version: String,
    /// Everything else that changes Go's action IDs.
    pub fingerprint: Vec<Input>,
    /// Which project: the module paths taking part (`module` → path).
    pub project: Vec<Input>,
    /// Every dependency file (path → SHA-256) plus module-mode settings (GOWORK, -mod).
    pub dependencies: Vec<Input>,
    /// Optional rolling suffix for the build entry (e.g. a date), so a build cache with an
    /// unchanged dependency set can still be refreshed.
    pub rolling: Option<String>,
}

/// One layer of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// The layer's name (`prefix`, `entry`, `schema`, `os`, `deps`, …).
    pub name: &'static str,
    /// The text it contributes to the key.
    pub value: String,
    /// What went into it (empty for literal layers).
    pub inputs: Vec<Input>,
}

/// One cache entry's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryKeys {
    /// The exact key to restore and save.
    pub key: String,
    /// Prefix restore keys, most specific first (actions/cache `restore-keys`).
    pub restore_keys: Vec<String>,
    /// Exact fallback keys for GitLab (`cache:fallback_keys`): the restore keys without their
    /// trailing separator. Some job must save under these for them to ever match.
    pub fallback_keys: Vec<String>,
    /// The entry's own scope, a restore key: this kind, configuration and project. The
    /// entries a save supersedes are under it; another project's never are.
    pub prune_prefix: String,
    /// The layers, left to right.
    pub layers: Vec<Layer>,
}

/// The keys of both entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheKeys {
    /// GOMODCACHE.
    pub modules: EntryKeys,
    /// GOCACHE.
    pub build: EntryKeys,
}

/// Where a job's remote build cache manifest belongs (see [`manifest_scope`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestScope {
    /// A short digest of the build key's layers before `project`: the key prefix, schema,
    /// target, Go and build fingerprint, which decide the action IDs a build asks for.
    pub configuration: String,
    /// The build key's project layer (the module paths taking part).
    pub project: String,
}

/// The remote build cache's scope of a job's manifest (pure over the build entry's layers). The
/// cache program names a job's manifest `<configuration>-<job>-<project>`, so each matrix entry
/// and each module of a monorepo keeps its own, and a job without one yet starts from the newest
/// of its configuration; a Go upgrade starts new ones instead of prefetching outputs no build
/// of the new Go asks for.
pub fn manifest_scope(build: &EntryKeys) -> ManifestScope {
    let at = build.layers.iter().position(|l| l.name == "project");
    let before: Vec<&str> = build.layers[..at.unwrap_or(build.layers.len())]
        .iter()
        .map(|l| l.value.as_str())
        .collect();
    let digest = sha2::Sha256::digest(format!("{}-", before.join("-")).as_bytes());
    ManifestScope {
        configuration: hex::encode(&digest[..6]),
        project: at.map_or_else(|| "any".to_string(), |i| build.layers[i].value.clone()),
    }
}

/// Computes both entries' keys.
pub fn compute(inp: &KeyInputs) -> Result<CacheKeys> {
    check_label(&inp.prefix, "--key-prefix")?;
    if let Some(r) = &inp.rolling {
        check_label(r, "--rolling-suffix")?;
    }
    let deps = Layer {
        name: "deps",
        value: layer_digest(&inp.dependencies),
        inputs: inp.dependencies.clone(),
    };
    let lit = |name, value: &str| Layer {
        name,
        value: value.to_string(),
        inputs: Vec::new(),
    };
    let project = Layer {
        name: "project",
        value: layer_digest(&inp.project),
        inputs: inp.project.clone(),
    };
    let modules = entry(
        vec![
            lit("prefix", &inp.prefix),
            lit("entry", "mod"),
            lit("schema", SCHEMA),
            Layer {
                name: "os",
                value: segment(&inp.host_os),
                inputs: vec![Input::new("GOHOSTOS", &inp.host_os)],
            },
            project.clone(),
            deps.clone(),
        ],
        4,
    );
    let mut build_layers = vec![
        lit("prefix", &inp.prefix),
        lit("entry", "build"),
        lit("schema", SCHEMA),
        Layer {
            name: "target",
            value: format!("{}-{}", segment(&inp.goos), segment(&inp.goarch)),
            inputs: vec![
                Input::new("GOOS", &inp.goos),
                Input::new("GOARCH", &inp.goarch),
            ],
        },
        Layer {
            name: "go",
            value: segment(&inp.go_version),
            inputs: vec![Input::new("GOVERSION", &inp.go_version)],
        },
        Layer {
            name: "fingerprint",
            value: layer_digest(&inp.fingerprint),
            inputs: inp.fingerprint.clone(),
        },
        project,
        deps,
    ];
    if let Some(r) = &inp.rolling {
        build_layers.push(Layer {
            name: "rolling",
            value: r.clone(),
            inputs: vec![Input::new("--rolling-suffix", r)],
        });
    }
    let build = entry(build_layers, 6);
    for e in [&modules, &build] {
        debug_assert!(e.key.len() <= MAX_KEY_LEN);
        debug_assert!(e.restore_keys.len() <= MAX_RESTORE_KEYS);
        debug_assert!(e.fallback_keys.len() <= MAX_FALLBACK_KEYS);
    }
    Ok(CacheKeys { modules, build })
}

/// Joins layers into a key; restore keys drop layers from the right down to `min_layers`.
fn entry(layers: Vec<Layer>, min_layers: usize) -> EntryKeys {
    let join = |n: usize| -> String {
        layers[..n]
            .iter()
            .map(|l| l.value.as_str())
            .collect::<Vec<_>>()
            .join("-")
    };
    let key = join(layers.len());
    let fallback_keys: Vec<String> = (min_layers..layers.len()).rev().map(join).collect();
    let restore_keys = fallback_keys.iter().map(|k| format!("{k}-")).collect();
    let scope = layers
        .iter()
        .position(|l| l.name == "project")
        .map_or(min_layers, |i| i + 1);
    EntryKeys {
        key,
        restore_keys,
        fallback_keys,
        prune_prefix: format!("{}-", join(scope)),
        layers,
    }
}

/// Makes a free-form value (a Go version like `devel go1.27-abc Tue …`) safe as one key segment.
fn segment(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(MAX_LABEL_LEN);
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// Checks a user-supplied key label (prefix, rolling suffix).
fn check_label(s: &str, flag: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_LABEL_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(usage(
            format!("invalid {flag} `{s}`"),
            format!(
                "use 1 to {MAX_LABEL_LEN} characters of A-Z, a-z, 0-9, `.`, `_` and `-` (keys may not contain `,` or `/`)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests;
