//! GOMODCACHE pruning (the layout cmd/go/internal/modfetch/cache.go writes): zips, lock files, VCS clones, the sumdb cache,
//! toolchains no module of the project names, and extracted module trees outside the build list
//! go; every `.mod`, `.info` and `.ziphash` stays, so `go build`, `go test` and `go mod verify`
//! keep working offline. The policy ([`plan_prune`]) is pure over a listing.
//!
//! Only what is provably Go's is ever listed: a root without `cache/download/` is not a module
//! cache and lists nothing, and a directory is a module tree only when its name is a valid
//! escaped `<module path>@<version>` whose `cache/download/<path>/@v/<version>.mod` exists. So a
//! GOMODCACHE pointed by mistake at a project or a home directory never loses
//! `node_modules/@types/node` or `docs/release@2024`.

use std::collections::BTreeSet;
use std::path::Path;

use walkdir::WalkDir;

use crate::cache::remove;

/// What an item in the module cache is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModKind {
    /// `cache/download/**/*.zip`: a compressed copy of an extracted tree.
    Zip,
    /// `*.lock` and `cache/lock`.
    Lock,
    /// `cache/download/sumdb`: checksum-database lookups and tiles.
    SumDb,
    /// `cache/vcs`: bare clones for direct/private modules.
    Vcs,
    /// An extracted module tree, `<escaped path>@<escaped version>`.
    Module(String),
    /// A symlink where a module tree would be: never followed, never removed.
    Symlink,
    /// A trash directory left by an interrupted trim.
    Trash,
}

/// One item of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModEntry {
    /// Path relative to GOMODCACHE, `/`-separated.
    pub rel: String,
    /// What it is.
    pub kind: ModKind,
    /// Bytes (whole tree for directories).
    pub size: u64,
}

/// Whether `root` looks like a module cache: Go creates `cache/download/` in it on the first
/// download. Anything else (a project, a home directory, an empty directory) is never pruned.
pub fn looks_like_modcache(root: &Path) -> bool {
    std::fs::symlink_metadata(root.join("cache/download")).is_ok_and(|m| m.is_dir())
}

/// What decides whether a module cache is this job's own to prune ([`not_owned_reason`]).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// GOMODCACHE (canonical).
    pub gomodcache: &'a Path,
    /// `$HOME` (canonical), for the message about Go's per-user default.
    pub home: Option<&'a Path>,
    /// The job's own directories (canonical): the project, and the CI's checkout directory
    /// (`CI_PROJECT_DIR`, `GITHUB_WORKSPACE`).
    pub project_dirs: &'a [std::path::PathBuf],
    /// The runner lives for one job (GitHub-hosted).
    pub ephemeral: bool,
    /// The machine keeps its caches between jobs ([`crate::cache::machine::judge`]).
    pub persistent: bool,
    /// GOMODCACHE held nothing before this job's restore; `None` when unknown.
    pub empty_before: Option<bool>,
}

/// Why a module cache is not this job's own to prune, or `None` when it is (pure). A module
/// cache is often shared — by every project on a laptop or a self-hosted runner — and
/// `cache/vcs/` may hold the only copy of a private module, so it is the job's own only when
/// that is proven: the runner lives for one job, or the cache lies inside the job's own
/// directories, or it was empty before this job restored it. On a machine that keeps its
/// caches it never is: every later job, of any project, uses it.
pub fn not_owned_reason(o: &Owner<'_>) -> Option<String> {
    if o.persistent {
        return Some(format!(
            "this machine keeps its caches between jobs, so `{}` serves every later job of any project",
            o.gomodcache.display()
        ));
    }
    if o.ephemeral
        || o.project_dirs.iter().any(|d| o.gomodcache.starts_with(d))
        || o.empty_before == Some(true)
    {
        return None;
    }
    let default = o.home.map(|h| h.join("go").join("pkg").join("mod"));
    Some(if default.as_deref() == Some(o.gomodcache) {
        format!(
            "`{}` is Go's per-user default module cache, shared by every project and job of this user",
            o.gomodcache.display()
        )
    } else {
        format!(
            "`{}` lies outside the job's directories and held modules before this job (or nobody said it was empty), so it may serve other projects",
            o.gomodcache.display()
        )
    })
}

/// Lists what pruning may act on; nothing when `root` does not look like a module cache.
pub fn list(root: &Path) -> std::io::Result<Vec<ModEntry>> {
    let mut out = Vec::new();
    if !looks_like_modcache(root) {
        return Ok(out);
    }
    let rel = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut walker = WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(e) = walker.next() {
        let Ok(e) = e else { continue };
        let r = rel(e.path());
        let name = e.file_name().to_string_lossy();
        let ft = e.file_type();
        if e.depth() == 1 && name == crate::cache::lease::DIR {
            walker.skip_current_dir();
            continue;
        }
        let tree = if r.starts_with("cache/") || r == "cache" {
            None
        } else {
            split_tree(&r)
        };
        let kind = if e.depth() == 1 && name.starts_with(remove::TRASH_PREFIX) {
            Some(ModKind::Trash)
        } else if r == "cache/download/sumdb" {
            Some(ModKind::SumDb)
        } else if r == "cache/vcs" {
            Some(ModKind::Vcs)
        } else if r == "cache/lock" {
            Some(ModKind::Lock)
        } else if r.starts_with("cache/download/") {
            if ft.is_file() && name.ends_with(".zip") {
                Some(ModKind::Zip)
            } else if ft.is_file() && name.ends_with(".lock") {
                Some(ModKind::Lock)
            } else {
                None
            }
        } else if let Some((path, version)) = tree {
            if ft.is_symlink() {
                Some(ModKind::Symlink)
            } else if ft.is_dir() {
                let dot_mod = root
                    .join("cache/download")
                    .join(path)
                    .join("@v")
                    .join(format!("{version}.mod"));
                if std::fs::symlink_metadata(&dot_mod).is_ok_and(|m| m.is_file()) {
                    Some(ModKind::Module(r.clone()))
                } else {
                    // A module-shaped tree Go did not download (the FIPS snapshot unzipped from
                    // GOROOT, or something else): never removed, never walked into.
                    walker.skip_current_dir();
                    None
                }
            } else {
                None
            }
        } else {
            None
        };
        if let Some(kind) = kind {
            let size = if ft.is_dir() {
                crate::fsutil::tree_bytes(e.path())
            } else {
                e.metadata().map_or(0, |m| m.len())
            };
            if ft.is_dir() {
                walker.skip_current_dir();
            }
            out.push(ModEntry { rel: r, kind, size });
        }
    }
    Ok(out)
}

/// Splits `<escaped path>@<escaped version>` when both halves are valid in Go's module cache
/// encoding (`golang.org/x/mod/module` `UnescapePath`, `CheckPath`, and a `v`-prefixed
/// version); `None` for anything else, such as `node_modules/@types` or `docs/release@2024`.
pub fn split_tree(rel: &str) -> Option<(&str, &str)> {
    let (path, version) = rel.split_once('@')?;
    (valid_escaped_path(path) && valid_escaped_version(version)).then_some((path, version))
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut bang = false;
    for c in s.chars() {
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            return None;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

fn valid_escaped_path(escaped: &str) -> bool {
    let Some(path) = unescape(escaped) else {
        return false;
    };
    let elems: Vec<&str> = path.split('/').collect();
    let elem_ok = |e: &str| {
        !e.is_empty()
            && !e.starts_with('.')
            && !e.ends_with('.')
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    // The first element is a domain-like name: it has a dot and does not start with a dash.
    elems.iter().all(|e| elem_ok(e)) && elems[0].contains('.') && !elems[0].starts_with('-')
}

fn valid_escaped_version(escaped: &str) -> bool {
    unescape(escaped).is_some_and(|v| {
        v.len() > 1
            && v.starts_with('v')
            && v.as_bytes()[1].is_ascii_digit()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.+".contains(c))
    })
}

/// Go versions (`go1.27.3`, `go1.27`) that the project's go.mod and go.work files name in their
/// `go` and `toolchain` lines, plus a `goX.Y.Z` in GOTOOLCHAIN: the toolchains `go` may switch to
/// in any module of the project (pure over the files' text).
pub fn named_toolchains<'a>(
    files: impl IntoIterator<Item = &'a str>,
    gotoolchain: &str,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for text in files {
        out.extend(crate::go::gomod::named_go_versions(text));
    }
    let pinned = gotoolchain.split('+').next().unwrap_or("");
    if pinned.starts_with("go1") {
        out.insert(pinned.to_string());
    }
    out
}

/// Whether a module tree is one Go keeps for itself rather than for a build: the FIPS 140
/// snapshot (unpacked from GOROOT/lib/fips140 by cmd/go/internal/fips140), or a toolchain whose Go version is in
/// `toolchains` (`go1.27` names every go1.27.x).
pub fn is_kept_tool(tree: &str, toolchains: &BTreeSet<String>) -> bool {
    if tree.starts_with("golang.org/fips140@") {
        return true;
    }
    let Some(v) = tree.strip_prefix("golang.org/toolchain@v0.0.1-") else {
        return false;
    };
    // `go1.27.3.linux-amd64`: the Go version is everything before the last `.`.
    let go = v.rsplit_once('.').map_or(v, |x| x.0);
    toolchains.iter().any(|t| {
        go == t
            || go
                .strip_prefix(t.as_str())
                .is_some_and(|r| r.starts_with('.'))
    })
}

/// Decides what goes (pure). `live` holds the escaped `path@version` of every module in the
/// build list (`None` when it could not be computed: then no module tree is removed); `keep`
/// holds trees that must stay anyway (the toolchain in use); `toolchains` the Go versions some
/// module of the project names (their toolchains stay, see [`is_kept_tool`]).
pub fn plan_prune(
    entries: &[ModEntry],
    live: Option<&BTreeSet<String>>,
    keep: &BTreeSet<String>,
    toolchains: &BTreeSet<String>,
) -> Vec<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| match &e.kind {
            ModKind::Zip | ModKind::Lock | ModKind::SumDb | ModKind::Vcs | ModKind::Trash => true,
            ModKind::Symlink => false,
            ModKind::Module(m) => {
                live.is_some_and(|l| !l.contains(m))
                    && !keep.contains(m)
                    && !is_kept_tool(m, toolchains)
            }
        })
        .map(|(i, _)| i)
        .collect()
}

/// The escaped module paths that have a download directory (`cache/download/<path>/@v/`).
pub fn download_paths(root: &Path) -> Vec<String> {
    let base = root.join("cache").join("download");
    let mut out = Vec::new();
    let mut walker = WalkDir::new(&base)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(e) = walker.next() {
        let Ok(e) = e else { continue };
        if !e.file_type().is_dir() {
            continue;
        }
        if e.file_name() == "@v" {
            if let Ok(rel) = e.path().parent().unwrap_or(&base).strip_prefix(&base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
            walker.skip_current_dir();
        } else if e.depth() == 1 && e.file_name() == "sumdb" {
            walker.skip_current_dir();
        }
    }
    out
}

/// What an archive of a module cache shared with other jobs leaves out (pure), relative to the
/// root, one GNU tar exclude pattern each: whatever a prune would remove (`plan`: indexes into
/// `entries`), the download directories of modules outside the build list (`live`, escaped
/// `path@version`; Go's own toolchain and FIPS modules stay), and go-ci-cache's own
/// directories. So the archive holds this job's modules and nothing of other projects'.
pub fn archive_excludes(
    entries: &[ModEntry],
    plan: &[usize],
    downloads: &[String],
    live: &BTreeSet<String>,
) -> Vec<String> {
    let paths: BTreeSet<&str> = live
        .iter()
        .filter_map(|m| m.split_once('@').map(|x| x.0))
        .collect();
    let mut out: Vec<String> = plan.iter().map(|&i| entries[i].rel.clone()).collect();
    out.extend(
        downloads
            .iter()
            .filter(|d| {
                !paths.contains(d.as_str())
                    && d.as_str() != "golang.org/toolchain"
                    && d.as_str() != "golang.org/fips140"
            })
            // The `@v` directory only: a nested module (`a/b` inside `a`) keeps its own.
            .map(|d| format!("cache/download/{d}/@v")),
    );
    out.extend(own_dirs());
    out
}

/// go-ci-cache's own directories in a cache root (leases, machine records, trash): never in
/// an archive.
pub fn own_dirs() -> Vec<String> {
    vec![
        crate::cache::lease::DIR.to_string(),
        crate::cache::machine::DIR.to_string(),
        format!("{}*", remove::TRASH_PREFIX),
    ]
}

/// Go's case-encoding of module paths and versions in the cache (`golang.org/x/mod/module`
/// `EscapePath`): every upper-case letter becomes `!` and its lower case.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
