//! GOMODCACHE pruning (go-caches.md §3.2–3.3): zips, lock files, VCS clones, the sumdb cache,
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

use crate::remove;

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
    /// The machine keeps its caches between jobs ([`crate::machine::judge`]).
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
        if e.depth() == 1 && name == crate::lease::DIR {
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
                tree_size(e.path())
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

fn tree_size(p: &Path) -> u64 {
    WalkDir::new(p)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
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
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("go"), Some(v), None) => {
                    out.insert(format!("go{v}"));
                }
                (Some("toolchain"), Some(v), None) if v.starts_with("go1") => {
                    out.insert(v.to_string());
                }
                _ => {}
            }
        }
    }
    let pinned = gotoolchain.split('+').next().unwrap_or("");
    if pinned.starts_with("go1") {
        out.insert(pinned.to_string());
    }
    out
}

/// Whether a module tree is one Go keeps for itself rather than for a build: the FIPS 140
/// snapshot (unpacked from GOROOT, go-caches.md §3.1), or a toolchain whose Go version is in
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
        crate::lease::DIR.to_string(),
        crate::machine::DIR.to_string(),
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
mod tests {
    use super::*;

    fn m(rel: &str, kind: ModKind) -> ModEntry {
        ModEntry {
            rel: rel.into(),
            kind,
            size: 1,
        }
    }

    #[test]
    fn prune_policy() {
        let entries = vec![
            m("cache/download/example.com/a/@v/v1.0.0.zip", ModKind::Zip),
            m("cache/download/example.com/a/@v/v1.0.0.lock", ModKind::Lock),
            m("cache/download/sumdb", ModKind::SumDb),
            m("cache/vcs", ModKind::Vcs),
            m(
                "example.com/a@v1.0.0",
                ModKind::Module("example.com/a@v1.0.0".into()),
            ),
            m(
                "example.com/a@v0.9.0",
                ModKind::Module("example.com/a@v0.9.0".into()),
            ),
            m(
                "golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64",
                ModKind::Module("golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64".into()),
            ),
            m(
                "golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64",
                ModKind::Module("golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64".into()),
            ),
            m("example.com/link@v1.0.0", ModKind::Symlink),
        ];
        let live: BTreeSet<String> = ["example.com/a@v1.0.0".to_string()].into();
        let keep: BTreeSet<String> =
            ["golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64".to_string()].into();
        let gone: Vec<&str> = plan_prune(&entries, Some(&live), &keep, &BTreeSet::new())
            .iter()
            .map(|&i| entries[i].rel.as_str())
            .collect();
        assert_eq!(
            gone,
            [
                "cache/download/example.com/a/@v/v1.0.0.zip",
                "cache/download/example.com/a/@v/v1.0.0.lock",
                "cache/download/sumdb",
                "cache/vcs",
                "example.com/a@v0.9.0",
                "golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64",
            ]
        );
        // Without a build list no module tree goes.
        let gone = plan_prune(&entries, None, &keep, &BTreeSet::new());
        assert!(
            gone.iter()
                .all(|&i| !matches!(entries[i].kind, ModKind::Module(_)))
        );
    }

    #[test]
    fn an_archive_of_a_shared_module_cache_holds_only_the_jobs_modules() {
        let entries = vec![
            m("cache/download/example.com/a/@v/v1.0.0.zip", ModKind::Zip),
            m(
                "example.com/a@v1.0.0",
                ModKind::Module("example.com/a@v1.0.0".into()),
            ),
            m(
                "corp.example/private@v0.1.0",
                ModKind::Module("corp.example/private@v0.1.0".into()),
            ),
        ];
        let live: BTreeSet<String> = ["example.com/a@v1.0.0".to_string()].into();
        let plan = plan_prune(&entries, Some(&live), &BTreeSet::new(), &BTreeSet::new());
        let downloads = [
            "example.com/a".to_string(),
            "corp.example/private".to_string(),
            "golang.org/toolchain".to_string(),
        ];
        let ex = archive_excludes(&entries, &plan, &downloads, &live);
        assert_eq!(
            ex,
            [
                "cache/download/example.com/a/@v/v1.0.0.zip",
                "corp.example/private@v0.1.0",
                "cache/download/corp.example/private/@v",
                ".go-ci-cache-leases",
                ".go-ci-cache-machine",
                ".go-ci-cache-trash-*",
            ]
        );
    }

    #[test]
    fn download_directories_are_found_without_sumdb() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        touch(&r.join("cache/download/example.com/a/@v/v1.0.0.mod"));
        touch(&r.join("cache/download/example.com/a/b/@v/v1.0.0.mod"));
        touch(&r.join("cache/download/sumdb/sum.golang.org/lookup/x"));
        assert_eq!(download_paths(r), ["example.com/a", "example.com/a/b"]);
    }

    #[test]
    fn case_encoding() {
        assert_eq!(
            escape("github.com/BurntSushi/toml@v1.2.0"),
            "github.com/!burnt!sushi/toml@v1.2.0"
        );
    }
    #[test]
    fn a_module_cache_is_the_jobs_own_only_when_proven() {
        let home = Path::new("/home/u");
        let default = Path::new("/home/u/go/pkg/mod");
        let shared = Path::new("/opt/gomod");
        let inside = Path::new("/builds/p/.go-cache/mod");
        let dirs = [std::path::PathBuf::from("/builds/p")];
        let o = |m: &'static Path, ephemeral, persistent, empty: Option<bool>| Owner {
            gomodcache: m,
            home: Some(home),
            project_dirs: &dirs,
            ephemeral,
            persistent,
            empty_before: empty,
        };
        // (cache, ephemeral, persistent, empty before) → owned
        let table: [(&'static Path, bool, bool, Option<bool>, bool); 10] = [
            (default, false, false, None, false),
            (default, true, false, None, true),
            (shared, false, false, None, false),
            (shared, false, false, Some(false), false),
            (shared, false, false, Some(true), true),
            (shared, true, false, None, true),
            (inside, false, false, None, true),
            (inside, false, true, None, false),
            (shared, false, true, Some(true), false),
            (default, true, true, None, false),
        ];
        for (m, e, p, b, owned) in table {
            let why = not_owned_reason(&o(m, e, p, b));
            assert_eq!(
                why.is_none(),
                owned,
                "{} {e} {p} {b:?}: {why:?}",
                m.display()
            );
        }
        assert!(
            not_owned_reason(&o(default, false, false, None))
                .unwrap()
                .contains("per-user default")
        );
        assert!(
            not_owned_reason(&o(shared, false, false, None))
                .unwrap()
                .contains("other projects")
        );
        assert!(
            not_owned_reason(&o(inside, false, true, None))
                .unwrap()
                .contains("keeps its caches")
        );
    }

    #[test]
    fn only_valid_escaped_trees_are_module_trees() {
        for ok in [
            "example.com/a@v1.0.0",
            "github.com/!burnt!sushi/toml@v1.2.0",
            "golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64",
            "gopkg.in/yaml.v3@v3.0.1",
            "example.com/m@v0.0.0-20260101000000-abcdef123456",
            "example.com/x@v2.0.0+incompatible",
        ] {
            assert!(split_tree(ok).is_some(), "{ok}");
        }
        for bad in [
            "node_modules/@types",
            "docs/release@2024",
            "project/node_modules/@babel",
            "home/u/.npm/_cacache@x",
            "localhost/a@v1.0.0",
            "example.com/A@v1.0.0",
            "example.com/!@v1.0.0",
            "example.com/a@1.0.0",
            "example.com/a@v",
            "example.com/a@vX",
            "example.com/.a@v1.0.0",
            "example.com//a@v1.0.0",
            "@types",
        ] {
            assert!(split_tree(bad).is_none(), "{bad}");
        }
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }

    #[test]
    fn a_root_that_is_not_a_module_cache_lists_nothing() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        touch(&home.join("project/node_modules/@types/node/index.d.ts"));
        touch(&home.join("project/docs/release@2024/notes.md"));
        touch(&home.join("project/x.zip"));
        touch(&home.join("go.lock"));
        assert!(!looks_like_modcache(home));
        assert!(list(home).unwrap().is_empty());
        // Once it has cache/download/, only Go's own items are listed: a module-shaped tree
        // without its .mod file is not one of them, nor are zips outside cache/download/.
        touch(&home.join("cache/download/example.com/a/@v/v1.0.0.mod"));
        touch(&home.join("cache/download/example.com/a/@v/v1.0.0.zip"));
        touch(&home.join("example.com/a@v1.0.0/a.go"));
        touch(&home.join("example.com/b@v1.0.0/b.go"));
        touch(&home.join("golang.org/fips140@v1.0.0-c2097c7c/LICENSE"));
        let rels: Vec<String> = list(home).unwrap().into_iter().map(|e| e.rel).collect();
        assert_eq!(
            rels,
            [
                "cache/download/example.com/a/@v/v1.0.0.zip",
                "example.com/a@v1.0.0"
            ]
        );
    }

    #[test]
    fn toolchains_named_by_any_module_stay() {
        let named = named_toolchains(
            [
                "module example.com/a\n\ngo 1.26.0\n",
                "module example.com/b\n\ngo 1.25\n\ntoolchain go1.27.3 // pinned\n",
                "go 1.24.0\n\nuse ./a\n",
            ],
            "go1.23.4+auto",
        );
        assert_eq!(
            named.iter().map(String::as_str).collect::<Vec<_>>(),
            ["go1.23.4", "go1.24.0", "go1.25", "go1.26.0", "go1.27.3"]
        );
        let tc = |v: &str| format!("golang.org/toolchain@v0.0.1-{v}.linux-amd64");
        assert!(is_kept_tool(&tc("go1.27.3"), &named));
        assert!(
            is_kept_tool(&tc("go1.25.4"), &named),
            "`go 1.25` names go1.25.x"
        );
        assert!(!is_kept_tool(&tc("go1.27.2"), &named));
        assert!(!is_kept_tool(&tc("go1.2"), &named));
        assert!(is_kept_tool("golang.org/fips140@v1.0.0-c2097c7c", &named));
        assert!(!is_kept_tool("example.com/a@v1.0.0", &named));
        let entries = vec![m(&tc("go1.27.3"), ModKind::Module(tc("go1.27.3")))];
        assert!(plan_prune(&entries, Some(&BTreeSet::new()), &BTreeSet::new(), &named).is_empty());
    }
}
