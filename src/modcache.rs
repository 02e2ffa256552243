//! GOMODCACHE pruning (go-caches.md §3.2–3.3): zips, lock files, VCS clones, the sumdb cache,
//! toolchains other than the one in use, and extracted module trees outside the build list go;
//! every `.mod`, `.info` and `.ziphash` stays, so `go build`, `go test` and `go mod verify` keep
//! working offline. The policy ([`plan_prune`]) is pure over a listing.

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

/// Lists what pruning may act on.
pub fn list(root: &Path) -> std::io::Result<Vec<ModEntry>> {
    let mut out = Vec::new();
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
        let kind = if e.depth() == 1 && name.starts_with(remove::TRASH_PREFIX) {
            Some(ModKind::Trash)
        } else if r == "cache/download/sumdb" {
            Some(ModKind::SumDb)
        } else if r == "cache/vcs" {
            Some(ModKind::Vcs)
        } else if r == "cache/lock" {
            Some(ModKind::Lock)
        } else if r.starts_with("cache/") {
            if ft.is_file() && name.ends_with(".zip") {
                Some(ModKind::Zip)
            } else if ft.is_file() && name.ends_with(".lock") {
                Some(ModKind::Lock)
            } else {
                None
            }
        } else if name.contains('@') && ft.is_symlink() {
            Some(ModKind::Symlink)
        } else if name.contains('@') && ft.is_dir() {
            Some(ModKind::Module(r.clone()))
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

/// Decides what goes (pure). `live` holds the escaped `path@version` of every module in the
/// build list (`None` when it could not be computed: then no module tree is removed); `keep`
/// holds trees that must stay anyway (the toolchain in use).
pub fn plan_prune(
    entries: &[ModEntry],
    live: Option<&BTreeSet<String>>,
    keep: &BTreeSet<String>,
) -> Vec<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| match &e.kind {
            ModKind::Zip | ModKind::Lock | ModKind::SumDb | ModKind::Vcs | ModKind::Trash => true,
            ModKind::Symlink => false,
            ModKind::Module(m) => live.is_some_and(|l| !l.contains(m)) && !keep.contains(m),
        })
        .map(|(i, _)| i)
        .collect()
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
        let gone: Vec<&str> = plan_prune(&entries, Some(&live), &keep)
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
        let gone = plan_prune(&entries, None, &keep);
        assert!(
            gone.iter()
                .all(|&i| !matches!(entries[i].kind, ModKind::Module(_)))
        );
    }

    #[test]
    fn case_encoding() {
        assert_eq!(
            escape("github.com/BurntSushi/toml@v1.2.0"),
            "github.com/!burnt!sushi/toml@v1.2.0"
        );
    }
}
