//! Small filesystem helpers shared by the crate: directory sizes that never follow symlinks,
//! and the one atomic writer (an exclusive, randomly named temporary file renamed into place).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

/// Size of a directory tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirSize {
    /// Bytes in regular files.
    pub bytes: u64,
    /// Number of regular files.
    pub files: u64,
}

/// Measures a tree without following symlinks; `None` when it does not exist.
pub fn dir_size(path: &Path) -> Option<DirSize> {
    if !path.is_dir() {
        return None;
    }
    let mut size = DirSize::default();
    for e in WalkDir::new(path).into_iter().filter_map(Result::ok) {
        if e.file_type().is_file() {
            size.files += 1;
            size.bytes += e.metadata().map_or(0, |m| m.len());
        }
    }
    Some(size)
}

/// Bytes of the regular files at `p`: the file itself, or every file under a directory. No
/// symlink is counted or followed, `p` itself included; 0 when it does not exist.
pub fn tree_bytes(p: &Path) -> u64 {
    WalkDir::new(p)
        .follow_root_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Replaces `path` with `bytes` atomically: a reader sees the old file or the new one, never
/// half a file. The temporary sibling is created exclusively under a random name (never
/// through a symlink someone planted at a predictable name) and removed when anything fails.
/// The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut b = tempfile::Builder::new();
    b.prefix(".go-ci-cache-").suffix(".tmp");
    // Readable by the other users of a shared cache, as the files Go writes itself are.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = b.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Human-readable byte count (`12.3 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(unix)]
    fn atomic_writes_never_go_through_a_planted_link() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // Links at every name a predictable writer might use.
        for name in [".go-ci-cache-.tmp", ".tmp-1-0-f", "f.tmp"] {
            std::os::unix::fs::symlink(&victim, t.path().join(name)).unwrap();
        }
        let f = t.path().join("f");
        super::write_atomic(&f, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        super::write_atomic(&f, b"newer").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "newer");
        let left = std::fs::read_dir(t.path()).unwrap().count();
        assert_eq!(left, 5, "no temporary file is left behind");
    }

    #[test]
    #[cfg(unix)]
    fn tree_bytes_counts_files_and_follows_no_link() {
        let t = tempfile::tempdir().unwrap();
        let big = t.path().join("elsewhere");
        std::fs::create_dir_all(&big).unwrap();
        std::fs::write(big.join("x"), vec![0u8; 1000]).unwrap();
        let d = t.path().join("d");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), b"123").unwrap();
        std::fs::write(d.join("sub/b"), b"45").unwrap();
        std::os::unix::fs::symlink(&big, d.join("link")).unwrap();
        std::os::unix::fs::symlink(&big, t.path().join("root-link")).unwrap();
        assert_eq!(super::tree_bytes(&d), 5);
        assert_eq!(super::tree_bytes(&d.join("a")), 3);
        assert_eq!(super::tree_bytes(&t.path().join("root-link")), 0);
        assert_eq!(super::tree_bytes(&t.path().join("missing")), 0);
    }

    #[test]
    fn human() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
