//! Small filesystem measurements (directory sizes) that never follow symlinks.

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
    fn human() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
