//! The byte budget of the build cache on a machine that keeps its disks: `--budget` parsed
//! (`auto`, or a size such as `20GB`, `512MiB`), and the default sized from the filesystem
//! that holds GOCACHE ([`default_for`], pure over its size; [`filesystem_size`] asks the OS).

use std::path::Path;

use crate::error::usage;

/// The default budget's share of the filesystem that holds GOCACHE.
pub const SHARE: f64 = 0.10;
/// The default budget never exceeds this (bytes).
pub const CAP: u64 = 20_000_000_000;
/// Nor falls below this (bytes): a smaller cache would not hold one project's dependencies.
pub const FLOOR: u64 = 1_000_000_000;
/// The default when the filesystem's size cannot be read.
pub const UNKNOWN_DISK: u64 = 10_000_000_000;

/// A budget and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// Bytes.
    pub bytes: u64,
    /// `--budget`, or how the default was sized.
    pub source: String,
}

/// The default budget for a filesystem of `size` bytes (pure): [`SHARE`] of it, between
/// [`FLOOR`] and [`CAP`]; [`UNKNOWN_DISK`] when the size is unknown.
pub fn default_for(size: Option<u64>) -> Budget {
    match size.filter(|s| *s > 0) {
        Some(s) => Budget {
            bytes: ((s as f64 * SHARE) as u64).clamp(FLOOR, CAP),
            source: format!(
                "{:.0} % of the {} filesystem that holds GOCACHE, between {} and {}",
                SHARE * 100.0,
                crate::fsutil::human_bytes(s),
                crate::fsutil::human_bytes(FLOOR),
                crate::fsutil::human_bytes(CAP)
            ),
        },
        None => Budget {
            bytes: UNKNOWN_DISK,
            source: "the size of GOCACHE's filesystem is unknown".into(),
        },
    }
}

/// Parses `--budget` (pure): `auto` (or empty) is `None`; otherwise a positive size with an
/// optional unit (`B`, `KB`, `MB`, `GB`, `TB`, powers of 1000; `KiB`, `MiB`, `GiB`, `TiB`,
/// powers of 1024).
pub fn parse(raw: &str) -> anyhow::Result<Option<u64>> {
    let s = raw.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (s[..split].trim(), s[split..].trim());
    let mult: Option<f64> = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => Some(1.0),
        "k" | "kb" => Some(1e3),
        "m" | "mb" => Some(1e6),
        "g" | "gb" => Some(1e9),
        "t" | "tb" => Some(1e12),
        "kib" => Some(1024.0),
        "mib" => Some(1024.0 * 1024.0),
        "gib" => Some(1024.0 * 1024.0 * 1024.0),
        "tib" => Some(1024.0 * 1024.0 * 1024.0 * 1024.0),
        _ => None,
    };
    match (num.parse::<f64>(), mult) {
        (Ok(n), Some(m)) if n.is_finite() && n > 0.0 && n * m >= 1.0 => Ok(Some((n * m) as u64)),
        _ => Err(usage(
            format!("`--budget` must be `auto` or a size such as `20GB` or `512MiB`, got `{raw}`"),
            "pass a positive size with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), or `auto` to size it from the disk",
        )),
    }
}

/// The budget: `--budget` when given, else the default for GOCACHE's filesystem.
pub fn resolve(raw: &str, gocache: &Path) -> anyhow::Result<Budget> {
    Ok(match parse(raw)? {
        Some(bytes) => Budget {
            bytes,
            source: "--budget".into(),
        },
        None => default_for(filesystem_size(gocache)),
    })
}

/// The size of the filesystem that holds `path` (its nearest existing ancestor).
pub fn filesystem_size(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    size_of(existing)
}

#[cfg(unix)]
fn size_of(p: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(p).ok()?;
    Some(s.f_blocks.saturating_mul(s.f_frsize))
}

#[cfg(not(unix))]
fn size_of(_: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (raw, want) in [
            ("auto", None),
            ("", None),
            ("AUTO", None),
            ("20GB", Some(20_000_000_000)),
            ("20 gb", Some(20_000_000_000)),
            ("512MiB", Some(512 * 1024 * 1024)),
            ("1.5G", Some(1_500_000_000)),
            ("4096", Some(4096)),
            ("3TiB", Some(3 * (1u64 << 40))),
        ] {
            assert_eq!(parse(raw).unwrap(), want, "{raw}");
        }
        for bad in ["-1GB", "0", "ten", "5 parsecs", "GB", "0.1"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("hint:"),
                "{e}"
            );
        }
    }

    #[test]
    fn default_is_a_share_of_the_disk_within_bounds() {
        assert_eq!(default_for(Some(100_000_000_000)).bytes, 10_000_000_000);
        assert_eq!(default_for(Some(1_000_000_000_000)).bytes, CAP);
        assert_eq!(default_for(Some(2_000_000_000)).bytes, FLOOR);
        assert_eq!(default_for(None).bytes, UNKNOWN_DISK);
        assert_eq!(default_for(Some(0)).bytes, UNKNOWN_DISK);
        let here = filesystem_size(Path::new("/nonexistent/deeper/still"));
        #[cfg(unix)]
        assert!(here.is_some_and(|s| s > 0));
        let _ = here;
    }
}
