//! Finding the project: its root, the Go modules taking part and every dependency file
//! (go.mod, go.sum, go.work, go.work.sum, vendor/modules.txt) with its digest.
//!
//! This module reads the filesystem; the go.work parser is pure.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use globset::{GlobBuilder, GlobSetBuilder};
use serde::Serialize;
use walkdir::WalkDir;

use crate::error::usage;
use crate::go::env::GoEnv;
use crate::key::sha256_hex;

use crate::go::gomod;

/// Directories never searched for modules: Go ignores them, or they hold copies.
const SKIP_DIRS: &[&str] = &["vendor", "testdata", "node_modules"];

/// How the project is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One go.mod at the root (nested modules, if any, make it multi-module).
    Module,
    /// Several modules under one directory, built one by one.
    MultiModule,
    /// A go.work workspace.
    Workspace,
}

/// A file that went into a key, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDigest {
    /// Path relative to the project root, `/`-separated (absolute when outside the root).
    pub path: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// The Go project a command works on.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// Absolute root: the workspace or module root, or the directory searched for modules.
    pub root: PathBuf,
    /// Layout.
    pub mode: Mode,
    /// Absolute directories of the modules taking part, sorted.
    pub modules: Vec<PathBuf>,
    /// The module paths of `modules` (`module …` in each go.mod), sorted: which project this
    /// is, whatever directory it was checked out to.
    pub module_paths: Vec<String>,
    /// The go.work file, in workspace mode.
    pub workspace: Option<PathBuf>,
    /// Dependency files, sorted by path.
    pub dependency_files: Vec<FileDigest>,
    /// `default.pgo` profiles found (they key every package of a PGO build).
    pub pgo_files: Vec<FileDigest>,
}

/// What discovery needs to know.
#[derive(Debug)]
pub struct Discover<'a> {
    /// The directory the user pointed at.
    pub dir: &'a Path,
    /// `go env -json` from that directory.
    pub env: &'a GoEnv,
    /// Explicit dependency-file globs, relative to `dir` (replace the automatic set).
    pub patterns: &'a [String],
}

/// Finds the project around `dir`.
pub fn discover(d: &Discover<'_>) -> Result<Project> {
    let dir = canonical_dir(d.dir)?;
    // Never search inside the caches themselves (GitLab keeps them under the project dir).
    let exclude: Vec<PathBuf> = ["GOMODCACHE", "GOCACHE"]
        .iter()
        .map(|v| d.env.get(v))
        .filter(|p| !p.is_empty())
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p)))
        .collect();

    let mut scanned = Scan::default();
    let (root, mode, workspace, mut modules) = if let Some(work) = d.env.gowork() {
        let work = PathBuf::from(work);
        let root = work.parent().map_or_else(|| dir.clone(), Path::to_path_buf);
        let text = read(&work)?;
        let modules: Vec<PathBuf> = parse_go_work_uses(&text)
            .into_iter()
            .map(|u| normalize(&root.join(u)))
            .filter(|m| m.join("go.mod").is_file())
            .collect();
        (root, Mode::Workspace, Some(work), modules)
    } else {
        let root = match d.env.gomod() {
            Some(gomod) => Path::new(gomod)
                .parent()
                .map_or_else(|| dir.clone(), Path::to_path_buf),
            None => dir.clone(),
        };
        scanned = scan(&root, &exclude);
        let modules = std::mem::take(&mut scanned.modules);
        let mode = if d.env.gomod().is_some() && modules.len() <= 1 {
            Mode::Module
        } else {
            Mode::MultiModule
        };
        (root, mode, None, modules)
    };
    modules.sort();
    modules.dedup();
    if modules.is_empty() {
        return Err(usage(
            format!(
                "`{}` is not a Go module: no go.mod or go.work in it or below it",
                d.dir.display()
            ),
            "run `go mod init <module path>` there, or point --dir at your module or workspace",
        ));
    }

    // Every go.mod taking part must parse (`go env` tolerates a broken one), and the go.mod of
    // every local `replace` target takes part too: Go reads its requirements.
    let mut replaced: Vec<PathBuf> = Vec::new();
    let mut module_paths: Vec<String> = Vec::new();
    let mut manifests: Vec<PathBuf> = modules.iter().map(|m| m.join("go.mod")).collect();
    manifests.extend(workspace.clone());
    for f in &manifests {
        let text = read(f)?;
        let parsed = gomod::parse(&text).map_err(|e| {
            usage(
                format!(
                    "`{}` does not parse: line {}: {}",
                    f.display(),
                    e.line,
                    e.msg
                ),
                "fix the file (`go mod edit -fmt` in its directory reports the same error)",
            )
        })?;
        let base = f.parent().unwrap_or(&root);
        if Some(f) != workspace.as_ref() {
            // A go.mod without a module line: its directory names it.
            module_paths.push(parsed.module.unwrap_or_else(|| relative(&root, base)));
        }
        for target in parsed.local_replacements {
            let dir = normalize(&base.join(target));
            if !modules.contains(&dir) {
                replaced.push(dir.join("go.mod"));
            }
        }
    }

    let mut files: Vec<PathBuf> = Vec::new();
    if d.patterns.is_empty() {
        if let Some(work) = &workspace {
            files.push(work.clone());
            files.push(root.join("go.work.sum"));
            files.push(root.join("vendor/modules.txt"));
        }
        for m in &modules {
            files.push(m.join("go.mod"));
            files.push(m.join("go.sum"));
            if workspace.is_none() {
                files.push(m.join("vendor/modules.txt"));
            }
        }
        files.extend(replaced);
        files.retain(|f| f.is_file());
    } else {
        files = match_patterns(&dir, d.patterns, &exclude)?;
    }
    let dependency_files = digest_all(&root, files)?;
    if mode == Mode::Workspace {
        scanned = scan(&root, &exclude);
    }
    // `-pgo=auto` uses the default.pgo of each main package (`load.setPGOProfilePath`).
    let mains: Vec<PathBuf> = scanned
        .pgo
        .into_iter()
        .filter(|p| p.parent().is_some_and(is_main_package_dir))
        .collect();
    let pgo_files = digest_all(&root, mains)?;
    module_paths.sort();
    module_paths.dedup();
    Ok(Project {
        root,
        mode,
        modules,
        module_paths,
        workspace,
        dependency_files,
        pgo_files,
    })
}

fn canonical_dir(dir: &Path) -> Result<PathBuf> {
    let c = std::fs::canonicalize(dir).map_err(|e| {
        usage(
            format!("cannot open --dir `{}`: {e}", dir.display()),
            "point --dir at the directory of your Go module or workspace",
        )
    })?;
    if !c.is_dir() {
        return Err(usage(
            format!("--dir `{}` is not a directory", dir.display()),
            "point --dir at the directory of your Go module or workspace",
        ));
    }
    Ok(c)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        usage(
            format!("cannot read `{}`: {e}", path.display()),
            "check that the file exists and is readable",
        )
    })
}

/// Whether a directory holds a `package main` (a non-test .go file whose package clause says so).
fn is_main_package_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.ends_with(".go")
            && !name.ends_with("_test.go")
            && std::fs::read_to_string(e.path()).is_ok_and(|t| package_clause(&t) == Some("main"))
    })
}

/// The package name of a Go source file (pure): the first `package` clause outside comments.
fn package_clause(src: &str) -> Option<&str> {
    let mut in_block = false;
    for line in src.lines() {
        let mut l = line.trim();
        if in_block {
            match l.find("*/") {
                Some(i) => {
                    in_block = false;
                    l = l[i + 2..].trim();
                }
                None => continue,
            }
        }
        if l.starts_with("/*") {
            if !l.contains("*/") {
                in_block = true;
            }
            continue;
        }
        if l.is_empty() || l.starts_with("//") {
            continue;
        }
        return l
            .strip_prefix("package ")
            .map(|r| r.split_whitespace().next().unwrap_or(""));
    }
    None
}

/// What one walk of the project finds.
#[derive(Default)]
struct Scan {
    /// Directories holding a go.mod.
    modules: Vec<PathBuf>,
    /// `default.pgo` files.
    pgo: Vec<PathBuf>,
}

/// Walks `root` once, skipping what Go skips and the cache roots.
fn scan(root: &Path, exclude: &[PathBuf]) -> Scan {
    let mut s = Scan::default();
    for p in walk(root, exclude, true) {
        match p.file_name().and_then(|n| n.to_str()) {
            Some("go.mod") => s.modules.extend(p.parent().map(Path::to_path_buf)),
            Some("default.pgo") => s.pgo.push(p),
            _ => {}
        }
    }
    s
}

/// Files under `root` in a deterministic order. `go_rules` prunes what the go command ignores
/// (vendor/, testdata/, node_modules/, and names starting with `.` or `_`); otherwise only
/// `.git` and `node_modules` are pruned.
fn walk<'a>(
    root: &Path,
    exclude: &'a [PathBuf],
    go_rules: bool,
) -> impl Iterator<Item = PathBuf> + 'a {
    WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(move |e| {
            if e.depth() == 0 || !e.file_type().is_dir() {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            let pruned = if go_rules {
                SKIP_DIRS.contains(&name.as_ref()) || name.starts_with('.') || name.starts_with('_')
            } else {
                name == ".git" || name == "node_modules"
            };
            !pruned && !exclude.iter().any(|x| x == e.path())
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
}

fn match_patterns(dir: &Path, patterns: &[String], exclude: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = GlobBuilder::new(p.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| {
                usage(
                    format!("invalid --dependency-files pattern `{p}`: {}", e.kind()),
                    "use globs relative to --dir, e.g. `**/go.sum` or `services/*/go.mod`",
                )
            })?;
        builder.add(glob);
    }
    let set = builder
        .build()
        .context("building the dependency-file globs")?;
    let mut hits = vec![0usize; patterns.len()];
    let mut files = Vec::new();
    for f in walk(dir, exclude, false) {
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        let m = set.matches(&rel);
        if !m.is_empty() {
            for i in m {
                hits[i] += 1;
            }
            files.push(f);
        }
    }
    if let Some(i) = hits.iter().position(|&n| n == 0) {
        return Err(usage(
            format!(
                "--dependency-files pattern `{}` matches no file under `{}`",
                patterns[i],
                dir.display()
            ),
            "patterns are relative to --dir; check the spelling, or leave the input empty to find go.mod/go.sum/go.work automatically",
        ));
    }
    Ok(files)
}

fn digest_all(root: &Path, files: Vec<PathBuf>) -> Result<Vec<FileDigest>> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| {
            usage(
                format!("cannot read dependency file `{}`: {e}", f.display()),
                "check that the file is readable by this user",
            )
        })?;
        out.push(FileDigest {
            path: relative(root, &f),
            sha256: sha256_hex(&bytes),
        });
    }
    out.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    out.dedup();
    Ok(out)
}

/// `path` relative to `root` with `/` separators; a path outside `root` is spelled with `..`
/// (`../shared/go.mod`) so keys never hold where the checkout lives. Only a path on another
/// drive (Windows) stays absolute.
pub fn relative(root: &Path, path: &Path) -> String {
    if let Ok(r) = path.strip_prefix(root) {
        return r.to_string_lossy().replace('\\', "/");
    }
    let (root, path) = (normalize(root), normalize(path));
    let rc: Vec<_> = root.components().collect();
    let pc: Vec<_> = path.components().collect();
    let common = rc.iter().zip(&pc).take_while(|(a, b)| a == b).count();
    if common == 0 || (common == 1 && !matches!(rc[0], std::path::Component::RootDir)) {
        return path.to_string_lossy().replace('\\', "/");
    }
    let mut parts: Vec<String> = vec!["..".to_string(); rc.len() - common];
    parts.extend(
        pc[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Resolves `.` and `..` without touching the filesystem.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The directories named by `use` directives in a go.work file (pure).
pub fn parse_go_work_uses(text: &str) -> Vec<String> {
    let mut uses = Vec::new();
    let mut in_block = false;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if in_block {
            if line == ")" {
                in_block = false;
            } else {
                uses.push(unquote(line));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("use") {
            let rest = rest.trim();
            if rest == "(" {
                in_block = true;
            } else if !rest.is_empty() && (line.starts_with("use ") || line.starts_with("use\t")) {
                uses.push(unquote(rest));
            }
        }
    }
    uses
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(|c| c == '"' || c == '`').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_work_uses() {
        let text =
            "go 1.22\n\nuse ./a // first\nuse (\n\t./b\n\t\"./c d\"\n)\nuser x\nreplace x => ./y\n";
        assert_eq!(parse_go_work_uses(text), ["./a", "./b", "./c d"]);
    }

    #[test]
    fn paths_outside_the_root_are_relative() {
        let r = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(r("/w/repo", "/w/repo/a/go.mod"), "a/go.mod");
        assert_eq!(r("/w/repo", "/w/shared/go.mod"), "../shared/go.mod");
        assert_eq!(r("/w/repo/x", "/w/other/y/go.mod"), "../../other/y/go.mod");
        assert_eq!(r("/w/repo", "/w/repo/../lib/go.mod"), "../lib/go.mod");
    }

    #[test]
    fn package_clauses() {
        assert_eq!(
            package_clause("// c\n/* x\n y */\npackage main // m\n"),
            Some("main")
        );
        assert_eq!(package_clause("//go:build x\n\npackage lib\n"), Some("lib"));
        assert_eq!(package_clause(""), None);
    }

    #[test]
    fn normalize_dots() {
        assert_eq!(normalize(Path::new("/r/./a/../b")), PathBuf::from("/r/b"));
    }
}
