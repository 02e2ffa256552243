//! Where and how the job's go commands run: one "unit" per go invocation (a module, each module
//! of a multi-module repository, or the whole workspace) and the `go list` queries run in them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::go::{self, GoRunner};
use crate::project::{Mode, Project, relative};
use crate::warm::coverage::{self, Coverage, PackageState};

/// A directory and the package patterns a go command runs on there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Working directory.
    pub dir: PathBuf,
    /// Package patterns (`./...`).
    pub patterns: Vec<String>,
}

impl Unit {
    /// The directory relative to the project root, `.` for the root.
    pub fn label(&self, root: &Path) -> String {
        match relative(root, &self.dir).as_str() {
            "" => ".".into(),
            r => r.into(),
        }
    }
}

/// The units of a project (pure): the workspace root with a pattern per module, or each module.
pub fn units(p: &Project) -> Vec<Unit> {
    match p.mode {
        Mode::Workspace => vec![Unit {
            dir: p.root.clone(),
            patterns: p
                .modules
                .iter()
                .map(|m| match m.strip_prefix(&p.root) {
                    Ok(r) if r.as_os_str().is_empty() => "./...".to_string(),
                    Ok(r) => format!("./{}/...", r.to_string_lossy().replace('\\', "/")),
                    Err(_) => format!("{}/...", m.display()),
                })
                .collect(),
        }],
        Mode::Module | Mode::MultiModule => p
            .modules
            .iter()
            .map(|m| Unit {
                dir: m.clone(),
                patterns: vec!["./...".into()],
            })
            .collect(),
    }
}

/// Dependency coverage of every unit for the given flags. `offline` sets GOPROXY=off so the
/// query never downloads (plan); packages of missing modules then count as unavailable.
pub fn coverage(
    go: &dyn GoRunner,
    units: &[Unit],
    flags: &[String],
    offline: bool,
) -> Result<Coverage> {
    Ok(coverage_with_packages(go, units, flags, offline, true)?.0)
}

/// [`coverage`], with or without test dependencies (`tests`), and the dependency import paths.
pub fn coverage_with_packages(
    go: &dyn GoRunner,
    units: &[Unit],
    flags: &[String],
    offline: bool,
    tests: bool,
) -> Result<(Coverage, BTreeSet<String>)> {
    let mut per_unit = Vec::new();
    for u in units {
        per_unit.push(unit_packages(go, u, flags, offline, tests)?);
    }
    let deps = per_unit
        .iter()
        .flat_map(|m| m.iter().filter(|(_, s)| !s.missing).map(|(p, _)| p.clone()))
        .collect();
    Ok((coverage::summarize(&per_unit), deps))
}

fn unit_packages(
    go: &dyn GoRunner,
    u: &Unit,
    flags: &[String],
    offline: bool,
    tests: bool,
) -> Result<std::collections::BTreeMap<String, PackageState>> {
    let mut args: Vec<String> = ["list", "-e", "-deps"].map(String::from).to_vec();
    if tests {
        args.push("-test".into());
    }
    args.extend(flags.iter().cloned());
    args.push("-f".into());
    args.push(coverage::TEMPLATE.into());
    args.extend(u.patterns.iter().cloned());
    let env: &[(&str, &str)] = if offline { &[("GOPROXY", "off")] } else { &[] };
    let out = go::stdout_of(go, &u.dir, &args, env)?;
    Ok(coverage::parse(&out))
}

/// The template that lists each package's module (and its replacement).
const MODULE_TEMPLATE: &str =
    "{{with .Module}}{{.Path}}@{{.Version}}{{with .Replace}} {{.Path}}@{{.Version}}{{end}}{{end}}";

/// The template for `go list -m`: each module (and its replacement).
const BUILD_LIST_TEMPLATE: &str =
    "{{.Path}}@{{.Version}}{{with .Replace}} {{.Path}}@{{.Version}}{{end}}";

/// The module versions the job's packages come from, as `path@version` (pure parse).
pub fn parse_modules(out: &str) -> BTreeSet<String> {
    out.split_whitespace()
        .filter(|m| !m.ends_with('@') && m.contains('@'))
        .map(str::to_string)
        .collect()
}

/// The build list that matters for the job: every module providing a package to the job's
/// packages and their tests, across all units. Runs offline: the job already fetched them.
pub fn live_modules(
    go: &dyn GoRunner,
    units: &[Unit],
    flags: &[String],
) -> Result<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    for u in units {
        let mut args: Vec<String> = ["list", "-e", "-deps", "-test"].map(String::from).to_vec();
        args.extend(flags.iter().cloned());
        args.push("-f".into());
        args.push(MODULE_TEMPLATE.into());
        args.extend(u.patterns.iter().cloned());
        let out = go::stdout_of(go, &u.dir, &args, &[("GOPROXY", "off")])?;
        live.extend(parse_modules(&out));
    }
    Ok(live)
}

/// The build list (`go list -m all`) of every unit, offline. Where that cannot be computed (in
/// vendor mode Go refuses `all`), the modules of the job's packages stand in.
pub fn build_list(go: &dyn GoRunner, units: &[Unit], flags: &[String]) -> Result<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    for u in units {
        let args: Vec<String> = ["list", "-m", "-e", "-f"]
            .map(String::from)
            .into_iter()
            .chain([BUILD_LIST_TEMPLATE.to_string(), "all".into()])
            .collect();
        match go::stdout_of(go, &u.dir, &args, &[("GOPROXY", "off")]) {
            Ok(out) => live.extend(parse_modules(&out)),
            Err(_) => live.extend(live_modules(go, std::slice::from_ref(u), flags)?),
        }
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_parse() {
        let m = parse_modules(
            "\nexample.com/a@v1.0.0\nexample.com/b@v1.2.0 example.com/c@v0.1.0\nexample.com/main@\n",
        );
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [
                "example.com/a@v1.0.0",
                "example.com/b@v1.2.0",
                "example.com/c@v0.1.0"
            ]
        );
    }

    #[test]
    fn workspace_has_one_unit_with_a_pattern_per_module() {
        let p = Project {
            root: "/w".into(),
            mode: Mode::Workspace,
            modules: vec!["/w".into(), "/w/a".into(), "/x/b".into()],
            module_paths: vec![
                "example.com/a".into(),
                "example.com/b".into(),
                "example.com/w".into(),
            ],
            workspace: Some("/w/go.work".into()),
            dependency_files: vec![],
            pgo_files: vec![],
        };
        assert_eq!(
            units(&p),
            [Unit {
                dir: "/w".into(),
                patterns: vec!["./...".into(), "./a/...".into(), "/x/b/...".into()]
            }]
        );
    }
}
