//! GitLab CI: a dotenv file for `artifacts:reports:dotenv`. GitLab's limits: at most 5 KB, one
//! `NAME=value` per line, names of letters, digits and `_`, single-line values, no empty values
//! (https://docs.gitlab.com/ci/yaml/artifacts_reports/#artifactsreportsdotenv). Multi-line restore keys become numbered fallback keys.

use anyhow::{Result, bail};

use super::{Output, var_name};
use crate::output::doc::KeysDoc;

/// GitLab's dotenv size limit.
pub const MAX_DOTENV_BYTES: usize = 5 * 1024;

/// The dotenv variables (pure): `GO_CI_CACHE_<ENTRY>_KEY`, `…_ROLLING_KEY` (the entry's own
/// scope: kind, configuration and project), `…_FALLBACK_KEY_<n>` (1-based, exact keys for `cache:fallback_keys`), `…_PATH`, `GO_CI_CACHE_GO_VERSION`,
/// `GO_CI_CACHE_REMOTE_CONFIGURATION` and `…_REMOTE_PROJECT` (the remote build cache's manifest
/// scope), plus GOMODCACHE and GOCACHE with `export_env`.
pub fn variables(doc: &KeysDoc, export_env: bool) -> Vec<Output> {
    let mut vars = Vec::new();
    for (entry, e) in [("modules", &doc.modules), ("build", &doc.build)] {
        vars.push(Output {
            name: var_name(&format!("{entry}-key")),
            value: e.key.clone(),
        });
        // A rolling key that the template's warm job also writes, so a `fallback_keys` entry
        // always names something that exists (GitLab matches exactly). Per project: the jobs of
        // a monorepo's other modules never overwrite it.
        let rolling = e.prune_prefix.trim_end_matches('-');
        if !rolling.is_empty() {
            vars.push(Output {
                name: var_name(&format!("{entry}-rolling-key")),
                value: rolling.to_string(),
            });
        }
        for (i, k) in e.fallback_keys.iter().enumerate() {
            vars.push(Output {
                name: var_name(&format!("{entry}-fallback-key-{}", i + 1)),
                value: k.clone(),
            });
        }
        vars.push(Output {
            name: var_name(&format!("{entry}-path")),
            value: e.path.clone(),
        });
    }
    if let Some(v) = doc.inputs.go.get("GOVERSION") {
        vars.push(Output {
            name: var_name("go-version"),
            value: v.clone(),
        });
    }
    // The remote build cache names each job's manifest after these and the job's name.
    for (name, value) in [
        ("remote-configuration", &doc.remote_manifest.configuration),
        ("remote-project", &doc.remote_manifest.project),
    ] {
        vars.push(Output {
            name: var_name(name),
            value: value.clone(),
        });
    }
    if export_env {
        vars.extend(super::exported_env(doc));
    }
    vars
}

/// Renders a dotenv file (pure), enforcing GitLab's rules.
pub fn render(vars: &[Output]) -> Result<String> {
    let mut s = String::new();
    for v in vars {
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!("dotenv variable name `{}` is not valid on GitLab", v.name);
        }
        if v.value.is_empty() {
            bail!(
                "dotenv variable `{}` is empty, which GitLab rejects",
                v.name
            );
        }
        if v.value.contains(['\n', '\r']) {
            bail!(
                "dotenv variable `{}` spans lines, which GitLab rejects",
                v.name
            );
        }
        s.push_str(&v.name);
        s.push('=');
        s.push_str(&v.value);
        s.push('\n');
    }
    if s.len() > MAX_DOTENV_BYTES {
        bail!(
            "the dotenv report is {} bytes, over GitLab's limit of {MAX_DOTENV_BYTES}",
            s.len()
        );
    }
    Ok(s)
}

/// `section_start` marker for a collapsible log section.
pub fn section_start(name: &str, title: &str, unix: u64, collapsed: bool) -> String {
    let opt = if collapsed { "[collapsed=true]" } else { "" };
    format!("\x1b[0Ksection_start:{unix}:{name}{opt}\r\x1b[0K{title}\n")
}

/// `section_end` marker.
pub fn section_end(name: &str, unix: u64) -> String {
    format!("\x1b[0Ksection_end:{unix}:{name}\r\x1b[0K\n")
}
