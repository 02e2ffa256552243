//! The local disk tier: outputs by OutputID (`o/<2 hex>/<hex>`, no file extension, as Go's own
//! cache names them) and action → output records per namespace (`a/<namespace>/<2 hex>/<hex>`).
//! Files are written to a temporary name and renamed, so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::namespace::segment;
use super::protocol::{Id, hex, parse_hex};

/// An action record: the output an action produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// OutputID, hex.
    pub output: String,
    /// Output size in bytes.
    pub size: u64,
    /// When it was put (RFC 3339).
    pub time: String,
}

impl Record {
    /// The output id, when the record is well formed.
    pub fn output_id(&self) -> Option<Id> {
        parse_hex(&self.output)
    }
}

/// The local tier rooted at a directory.
#[derive(Debug, Clone)]
pub struct Local {
    root: PathBuf,
}

impl Local {
    /// Opens (creating) the tier; the root is made absolute, since the go command needs
    /// absolute paths.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the local cache `{}`", root.display()))?;
        let root =
            std::path::absolute(root).with_context(|| format!("resolving `{}`", root.display()))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an output's body lives.
    pub fn output_path(&self, output: &Id) -> PathBuf {
        let h = hex(output);
        self.root.join("o").join(&h[..2]).join(h)
    }

    fn record_path(&self, ns: &str, action: &Id) -> PathBuf {
        let h = hex(action);
        self.root.join("a").join(segment(ns)).join(&h[..2]).join(h)
    }

    /// Whether the output is here with the expected size.
    pub fn has_output(&self, output: &Id, size: u64) -> bool {
        std::fs::metadata(self.output_path(output)).is_ok_and(|m| m.len() == size)
    }

    /// Refreshes a used output's mtime (at most hourly, as Go does for its own cache), so
    /// `cacheprog-gc --local` removes what went unused.
    pub fn touch(&self, output: &Id) {
        let p = self.output_path(output);
        let now = filetime::FileTime::now();
        let stale = std::fs::metadata(&p)
            .map(|m| filetime::FileTime::from_last_modification_time(&m))
            .is_ok_and(|t| now.unix_seconds() - t.unix_seconds() > 3600);
        if stale {
            let _ = filetime::set_file_mtime(&p, now);
        }
    }

    /// Stores an output body (already verified or produced by the go command); returns its path.
    pub fn put_output(&self, output: &Id, body: &[u8]) -> Result<PathBuf> {
        let path = self.output_path(output);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == body.len() as u64) {
            return Ok(path);
        }
        write_atomic(&path, body)?;
        Ok(path)
    }

    /// Records an action's output in a namespace.
    pub fn put_record(&self, ns: &str, action: &Id, rec: &Record) -> Result<()> {
        write_atomic(
            &self.record_path(ns, action),
            &serde_json::to_vec(rec).expect("a record serializes"),
        )
    }

    /// The action's record in a namespace, if any and well formed.
    pub fn record(&self, ns: &str, action: &Id) -> Option<Record> {
        let bytes = std::fs::read(self.record_path(ns, action)).ok()?;
        let rec: Record = serde_json::from_slice(&bytes).ok()?;
        rec.output_id().map(|_| rec)
    }

    /// A file in the tier's own bookkeeping directory (manifests used, statistics).
    pub fn meta_path(&self, rel: &str) -> PathBuf {
        self.root.join("meta").join(rel)
    }
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a cache path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .expect("a cache path has a name")
        .to_string_lossy();
    let tmp = dir.join(format!(".tmp-{}-{n}-{name}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("writing `{}`", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("renaming into `{}`", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_per_namespace_and_outputs_shared() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("c")).unwrap();
        let (a, o) = ([1u8; 32], [2u8; 32]);
        let p = l.put_output(&o, b"body").unwrap();
        assert!(p.is_absolute());
        assert!(p.extension().is_none());
        assert!(l.has_output(&o, 4) && !l.has_output(&o, 5));
        let rec = Record {
            output: hex(&o),
            size: 4,
            time: "2026-01-01T00:00:00Z".into(),
        };
        l.put_record("ref-refs/pull/1/merge", &a, &rec).unwrap();
        assert_eq!(l.record("ref-refs/pull/1/merge", &a), Some(rec));
        assert_eq!(l.record("trusted", &a), None);
    }
}
