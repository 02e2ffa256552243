//! Safe removal inside a cache root. Nothing outside the root is ever touched: paths are checked
//! to lie under the root, symlinks are never followed (a symlink is removed as a link, never its
//! target), read-only directories (Go's module trees) are made writable first, and a directory
//! is first renamed into a trash directory inside the root, so a removal that fails half-way
//! never leaves a tree that Go would take for complete. Every removal of cache content goes
//! through here (the other files the crate removes are its own: leases, temporary files, the
//! cache program's local tier); [`remove_all`] runs it over a trim's list on a few threads.

use std::io;
use std::path::{Component, Path, PathBuf};

use walkdir::WalkDir;

/// Prefix of trash directories; leftovers are removed by the next trim.
pub const TRASH_PREFIX: &str = ".go-ci-cache-trash-";

/// Whether `path` is strictly inside `root` without any `..` (lexically).
pub fn within(root: &Path, path: &Path) -> bool {
    path != root
        && path.starts_with(root)
        && !path.components().any(|c| matches!(c, Component::ParentDir))
}

/// Removes a file, symlink or directory tree at `path` inside `root`.
pub fn remove(root: &Path, path: &Path) -> io::Result<()> {
    if !within(root, path) {
        return Err(io::Error::other(format!(
            "refusing to remove `{}`: it is not inside `{}`",
            path.display(),
            root.display()
        )));
    }
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        // Regular file or symlink: unlinking never touches a link's target.
        return std::fs::remove_file(path);
    }
    make_writable(path)?;
    let trash = trash_path(root)?;
    std::fs::rename(path, &trash)?;
    remove_tree(&trash)
}

/// Removes a tree that is already out of Go's sight (a trash directory).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    for e in WalkDir::new(path).follow_links(false).into_iter().flatten() {
        if e.file_type().is_dir() {
            let _ = make_writable(e.path());
        }
    }
    // std's remove_dir_all does not follow symlinks (CVE-2022-21658 fix, Rust 1.58.1).
    std::fs::remove_dir_all(path)
}

fn trash_path(root: &Path) -> io::Result<PathBuf> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(io::Error::other)?;
    Ok(root.join(format!("{TRASH_PREFIX}{}", hex::encode(b))))
}

#[cfg(unix)]
fn make_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_writable(dir: &Path) -> io::Result<()> {
    let mut p = std::fs::symlink_metadata(dir)?.permissions();
    if p.readonly() {
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        std::fs::set_permissions(dir, p)?;
    }
    Ok(())
}

/// Removes paths in order-preserving batches on a few threads: unlinking is I/O-bound and
/// entries spread over 256 directories, so removals in different directories overlap.
/// `paths` must already be in a safe order for batches (the GOCACHE plan puts every action
/// record before any output; the batch boundary between them is kept by [`split_phases`]).
pub fn remove_all(root: &Path, paths: &[(PathBuf, u64)]) -> Vec<(PathBuf, u64, std::io::Error)> {
    const THREADS: usize = 4;
    let mut failures = Vec::new();
    for phase in split_phases(paths) {
        let chunk = phase.len().div_ceil(THREADS).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = phase
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .filter_map(|(p, size)| {
                                remove(root, p).err().map(|e| (p.clone(), *size, e))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                failures.extend(h.join().unwrap_or_default());
            }
        });
    }
    failures
}

/// Splits a removal list where GOCACHE action records end and outputs begin, so every record is
/// gone before any output is (anything else is one phase).
pub fn split_phases(paths: &[(PathBuf, u64)]) -> Vec<&[(PathBuf, u64)]> {
    let is_output = |p: &PathBuf| p.to_string_lossy().ends_with("-d");
    match paths.iter().position(|(p, _)| is_output(p)) {
        Some(i) if i > 0 => vec![&paths[..i], &paths[i..]],
        _ => vec![paths],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_is_lexical_and_strict() {
        let r = Path::new("/c/root");
        assert!(within(r, Path::new("/c/root/a/b")));
        assert!(!within(r, Path::new("/c/root")));
        assert!(!within(r, Path::new("/c/rootx/a")));
        assert!(!within(r, Path::new("/c/root/../x")));
    }

    #[test]
    fn removes_read_only_trees_and_never_follows_links() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("m@v1/sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep.txt"), "x").unwrap();
        std::fs::write(root.join("m@v1/sub/f.go"), "package f").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::os::unix::fs::symlink(&outside, root.join("m@v1/link")).unwrap();
            for d in ["m@v1/sub", "m@v1"] {
                std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o555))
                    .unwrap();
            }
        }
        remove(&root, &root.join("m@v1")).unwrap();
        assert!(!root.join("m@v1").exists());
        assert!(outside.join("keep.txt").exists());
        assert_eq!(
            std::fs::read_dir(&root).unwrap().count(),
            0,
            "no trash left"
        );
        assert!(remove(&root, &outside).is_err());
    }
}
