//! The job environment → key inputs: [`key_inputs`] applies the table of [`super::rules`]
//! (each Go variable, build flag and probed fact, its layer, when it applies and how it is
//! canonicalised) to plain data, and renders the table for the docs. Pure code; the loader
//! that gathers the data is [`crate::job::load`].
//!
//! The rule of the table: an input belongs in the build fingerprint exactly when it changes
//! the action ID of a *dependency* package (std or third-party), because those are what the
//! build entry carries from job to job (`(*Builder).buildActionID` in cmd/go/internal/work/exec.go). Inputs that only change
//! link actions, the main module's own packages or how tests run stay out, so a version stamp
//! (`-ldflags=-X main.version=<sha>`) or `-count=1` never turns the cache off. Two inputs Go's
//! cache does not see are in on purpose: the compiler binary's identity (forks and distro
//! builds share version strings) and, with cgo, the runner image (C headers and libraries).
//! `tests/it/key_table.rs` checks the table against what really changes Go's action IDs.

use std::collections::BTreeSet;

use crate::go::env::GoEnv;
use crate::go::flags::{BuildFlags, FLAGS};
use crate::key::{Input, KeyInputs};
use crate::project::{FileDigest, Project};

pub use super::rules::*;
use Canon::*;
use Layer::*;
use Source::*;
use When::*;

/// Facts the loader measured outside `go env`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    /// The compile tool's build ID (or another identity of the compiler binary).
    pub compiler_id: Option<String>,
    /// The first line of `$CC --version`, when cgo is on.
    pub cc_version: Option<String>,
    /// The runner image and where it was read (`ImageOS/ImageVersion`, `CI_JOB_IMAGE`,
    /// `--runner-image`), when cgo is on.
    pub runner_image: Option<String>,
    /// Process variables of [`Source::ProcessEnv`] rows that are set.
    pub process_env: Vec<(String, String)>,
}

impl Probes {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            PROBE_COMPILER => self.compiler_id.as_deref(),
            PROBE_CC => self.cc_version.as_deref(),
            PROBE_IMAGE => self.runner_image.as_deref(),
            _ => None,
        }
    }
}

/// Arguments of [`key_inputs`]: plain data.
#[derive(Debug)]
pub struct KeyInputsArgs<'a> {
    /// Go environment.
    pub env: &'a GoEnv,
    /// Project (its dependency files).
    pub project: &'a Project,
    /// The job's `--build-flags`.
    pub flags: &'a BuildFlags,
    /// GOFLAGS, parsed.
    pub goflags: &'a BuildFlags,
    /// Measured facts.
    pub probes: &'a Probes,
    /// PGO profiles in effect (empty with -pgo=off).
    pub pgo: &'a [FileDigest],
    /// The `-modfile` go.mod and go.sum, when given.
    pub modfile: &'a [FileDigest],
    /// Key prefix.
    pub prefix: &'a str,
    /// Rolling suffix.
    pub rolling: Option<&'a str>,
}

/// The flags in effect for keys: GOFLAGS, then `--build-flags` (which override it).
pub fn effective_flags(goflags: &BuildFlags, flags: &BuildFlags) -> BuildFlags {
    goflags.then(flags)
}

/// Canonical `-tags` value: sorted, deduplicated, comma-separated.
pub fn canonical_tags(v: &str) -> String {
    v.split([',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a per-package flag value applies beyond the packages named on the command line
/// (`pattern=flags`; Go's `PerPackageFlag.set`: a value starting with `-`, or empty, is
/// unqualified).
pub fn is_qualified(v: &str) -> bool {
    !v.is_empty() && !v.starts_with('-') && v.contains('=')
}

/// Applies the table (pure).
pub fn key_inputs(a: &KeyInputsArgs<'_>) -> KeyInputs {
    let env = a.env;
    let flags = effective_flags(a.goflags, a.flags);
    let trimpath = flags.is_set("trimpath");
    let cgo = env.cgo_enabled();
    let level = env.arch_level_var();
    let mut fp = Vec::new();
    let mut deps: Vec<Input> = a
        .project
        .dependency_files
        .iter()
        .map(|f| Input::new(&f.path, &f.sha256))
        .collect();
    for rule in RULES {
        let applies = match rule.when {
            Always | Set | Off => true,
            Cgo => cgo,
            NoTrimpath => !trimpath,
            ArchLevel => true,
        };
        if !applies || rule.layer == Nowhere || rule.layer == HostOs {
            continue;
        }
        let out = if rule.layer == Deps {
            &mut deps
        } else {
            &mut fp
        };
        match rule.source {
            GoEnv(var) => {
                let (name, value) = if rule.when == ArchLevel {
                    match level {
                        Some(l) => (l, env.get(l)),
                        None => continue,
                    }
                } else {
                    (var, env.get(var))
                };
                match rule.when {
                    Off if value != "off" => {}
                    Set if value.is_empty() => {}
                    _ => out.push(Input::new(name, value)),
                }
            }
            ProcessEnv(var) => {
                if let Some((_, v)) = a.probes.process_env.iter().find(|(k, _)| k == var)
                    && !v.is_empty()
                {
                    out.push(Input::new(var, v));
                }
            }
            Probe(name) => out.push(Input::new(name, a.probes.get(name).unwrap_or("unknown"))),
            Flag(name) => flag_inputs(rule, name, &flags, a, out),
        }
    }
    KeyInputs {
        prefix: a.prefix.to_string(),
        host_os: env.get("GOHOSTOS").to_string(),
        goos: env.get("GOOS").to_string(),
        goarch: env.get("GOARCH").to_string(),
        go_version: env.get("GOVERSION").to_string(),
        fingerprint: fp,
        project: a
            .project
            .module_paths
            .iter()
            .map(|m| Input::new("module", m))
            .collect(),
        dependencies: deps,
        rolling: a.rolling.map(str::to_string),
    }
}

fn flag_inputs(
    rule: &Rule,
    name: &str,
    flags: &BuildFlags,
    a: &KeyInputsArgs<'_>,
    out: &mut Vec<Input>,
) {
    let key = format!("-{name}");
    match rule.canon {
        Bool => {
            if flags.is_set(name) {
                out.push(Input::new(key, "on"));
            }
        }
        ImpliesCover => {
            // Keyed as -cover, once, whichever turned it on.
            if flags.value(name).is_some() && !flags.is_set("cover") {
                out.push(Input::new("-cover", "on"));
            }
        }
        Verbatim => {
            if let Some(v) = flags.value(name).and_then(|f| f.value.as_deref())
                && !v.is_empty()
            {
                out.push(Input::new(key, v));
            }
        }
        SortedSet => {
            if let Some(v) = flags.value(name).and_then(|f| f.value.as_deref()) {
                let tags = canonical_tags(v);
                if !tags.is_empty() {
                    out.push(Input::new(key, tags));
                }
            }
        }
        Qualified => {
            let vals: Vec<&str> = flags
                .flags
                .iter()
                .filter(|f| f.name == name)
                .filter_map(|f| f.value.as_deref())
                .filter(|v| is_qualified(v))
                .collect();
            if !vals.is_empty() {
                out.push(Input::new(key, vals.join(" ")));
            }
        }
        FileDigest => {
            let files = if name == "pgo" { a.pgo } else { a.modfile };
            if name == "modfile" && flags.value(name).is_some() && files.is_empty() {
                out.push(Input::new(&key, "missing"));
            }
            for f in files {
                out.push(Input::new(format!("{key}:{}", f.path), &f.sha256));
            }
        }
        Dropped => {}
    }
}

/// The table as markdown, rows with the same effect and reason merged (for docs/key-model.md; a test
/// keeps the two in step).
pub fn markdown_table() -> String {
    let mut groups: Vec<(Vec<String>, &Rule)> = Vec::new();
    for rule in RULES {
        let name = match rule.source {
            GoEnv(v) if rule.when == ArchLevel => format!("`{v}` (arch level)"),
            GoEnv(v) | ProcessEnv(v) => format!("`{v}`"),
            Flag(f) => format!("`-{f}`"),
            Probe(p) => format!("*{p}*"),
        };
        match groups.iter_mut().find(|(_, r)| {
            r.layer == rule.layer
                && r.when == rule.when
                && r.canon == rule.canon
                && r.why == rule.why
        }) {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], rule)),
        }
    }
    let mut s = String::from("| input | layer | when | keyed as | why |\n|---|---|---|---|---|\n");
    for (names, r) in groups {
        let layer = match r.layer {
            Fingerprint => "fingerprint",
            Deps => "deps",
            HostOs => "os (modules)",
            Nowhere => "—",
        };
        let when = match r.when {
            Always => "always",
            Set => "when set",
            Cgo => "CGO_ENABLED=1",
            NoTrimpath => "without -trimpath",
            ArchLevel => "for GOARCH's level",
            Off => "when `off`",
        };
        let canon = match r.canon {
            Verbatim => "value",
            Bool => "`on` when true",
            SortedSet => "sorted, deduplicated",
            Qualified => "`pattern=` values only",
            ImpliesCover => "as `-cover`",
            FileDigest => "SHA-256 of the file(s)",
            Dropped => "not keyed",
        };
        let when = if r.layer == Nowhere { "" } else { when };
        s.push_str(&format!(
            "| {} | {layer} | {when} | {canon} | {} |\n",
            names.join(", "),
            r.why.replace('|', "\\|")
        ));
    }
    s
}

/// Every go flag name has a row (used by tests and docs).
pub fn unruled_flags() -> Vec<&'static str> {
    FLAGS
        .iter()
        .map(|s| s.name)
        .filter(|n| !RULES.iter().any(|r| r.source == Flag(n)))
        .collect()
}

/// Whether an arch-level variable name is one the table keys (for docs).
pub fn is_arch_level(var: &str) -> bool {
    [
        "amd64", "arm64", "arm", "386", "mips", "mips64", "ppc64", "riscv64", "wasm",
    ]
    .iter()
    .any(|a| crate::go::env::arch_level_var(a) == Some(var))
}

#[cfg(test)]
mod tests;
