//! Counters of one cache-program process (hits, misses and bytes per tier, uploads, remote trouble),
//! written at exit as `meta/stats/<time>-<random>.json` in the local tier for `report` to sum.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Live counters, shared by the request handlers.
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) gets: AtomicU64,
    pub(super) local_hits: AtomicU64,
    pub(super) local_hit_bytes: AtomicU64,
    pub(super) remote_hits: AtomicU64,
    pub(super) remote_hit_bytes: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) puts: AtomicU64,
    pub(super) put_bytes: AtomicU64,
    pub(super) uploads: AtomicU64,
    pub(super) upload_bytes: AtomicU64,
    pub(super) uploads_skipped: AtomicU64,
    pub(super) upload_failures: AtomicU64,
    pub(super) prefetched: AtomicU64,
    pub(super) prefetched_bytes: AtomicU64,
    pub(super) corrupt: AtomicU64,
    pub(super) remote_errors: AtomicU64,
    pub(super) remote_round_trips: AtomicU64,
    pub(super) download_bytes: AtomicU64,
    pub(super) local_trimmed: AtomicU64,
    pub(super) sibling_manifests: AtomicU64,
    pub(super) local_trimmed_bytes: AtomicU64,
    pub(super) remote_off: AtomicU64,
    pub(super) manifest_requests: AtomicU64,
    pub(super) manifest_bytes: AtomicU64,
    pub(super) manifests_unchanged: AtomicU64,
    warnings: Mutex<Vec<String>>,
    failure_reasons: Mutex<BTreeMap<String, u64>>,
}

/// Adds to a counter.
pub(super) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// What one cache-program process did, as written to disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Unix seconds when the process started.
    pub started_at: i64,
    /// Unix seconds when it finished.
    pub finished_at: i64,
    /// The remote store (`s3://…`), if any.
    pub remote: Option<String>,
    /// The namespace written (none in read-only mode).
    pub write_namespace: Option<String>,
    /// The namespaces read, in order.
    pub read_namespaces: Vec<String>,
    /// `get` requests.
    pub gets: u64,
    /// Answered from the local tier.
    pub local_hits: u64,
    /// Bytes of those.
    pub local_hit_bytes: u64,
    /// Answered from the remote tier (downloaded on demand or prefetched for this run).
    pub remote_hits: u64,
    /// Bytes of those.
    pub remote_hit_bytes: u64,
    /// Misses (the go command compiles).
    pub misses: u64,
    /// `put` requests.
    pub puts: u64,
    /// Bytes of those.
    pub put_bytes: u64,
    /// Objects uploaded (outputs and records).
    pub uploads: u64,
    /// Bytes uploaded.
    pub upload_bytes: u64,
    /// Outputs not uploaded because the store had them.
    pub uploads_skipped: u64,
    /// Uploads that failed or were left when the flush timed out.
    pub upload_failures: u64,
    /// Outputs prefetched from the previous run's manifest.
    pub prefetched: u64,
    /// Bytes of those.
    pub prefetched_bytes: u64,
    /// Downloaded bodies whose SHA-256 was not their OutputID (never served).
    pub corrupt: u64,
    /// Remote requests that failed or timed out.
    pub remote_errors: u64,
    /// Round trips to the remote while the build waited: a record asked of the read
    /// namespaces (at once: one round trip), an output downloaded on demand. The bulk prefetch
    /// at start is not among them.
    #[serde(default)]
    pub remote_round_trips: u64,
    /// Bytes downloaded (outputs as they travel, deflated; `remote_hit_bytes` counts them
    /// inflated).
    #[serde(default)]
    pub download_bytes: u64,
    /// Go commands that started from a sibling job's manifest (this job had none yet).
    #[serde(default)]
    pub sibling_manifests: u64,
    /// Files the local tier's daily trim removed at the end of this process (unused longer
    /// than `--local-max-age`).
    #[serde(default)]
    pub local_trimmed: u64,
    /// Bytes of those.
    #[serde(default)]
    pub local_trimmed_bytes: u64,
    /// Go commands that left the remote tier alone from the start because another go command
    /// on this machine had given up on the store minutes before.
    #[serde(default)]
    pub remote_off: u64,
    /// Requests for manifests: reads and listings (a job's go commands on one machine read
    /// them once in ten minutes), and writes.
    #[serde(default)]
    pub manifest_requests: u64,
    /// Bytes of manifests read and written.
    #[serde(default)]
    pub manifest_bytes: u64,
    /// Go commands whose use the job's manifest in the store already listed, so it was not
    /// written again.
    #[serde(default)]
    pub manifests_unchanged: u64,
    /// Warnings printed.
    pub warnings: Vec<String>,
    /// Why uploads failed: reason → count (they add up to `upload_failures`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upload_failure_reasons: BTreeMap<String, u64>,
}

impl Counters {
    /// Counts `n` uploads that did not land, and why.
    pub(super) fn upload_failed(&self, reason: &str, n: u64) {
        add(&self.upload_failures, n);
        let mut m = self
            .failure_reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(reason.to_string()).or_default() += n;
    }

    /// Records a warning for the stats file.
    pub(super) fn warning(&self, w: &str) {
        let mut v = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < 20 && !v.iter().any(|x| x == w) {
            v.push(w.to_string());
        }
    }

    /// The counters now, over `base` (which carries the configuration and times).
    pub fn snapshot(&self, base: Stats) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            gets: g(&self.gets),
            local_hits: g(&self.local_hits),
            local_hit_bytes: g(&self.local_hit_bytes),
            remote_hits: g(&self.remote_hits),
            remote_hit_bytes: g(&self.remote_hit_bytes),
            misses: g(&self.misses),
            puts: g(&self.puts),
            put_bytes: g(&self.put_bytes),
            uploads: g(&self.uploads),
            upload_bytes: g(&self.upload_bytes),
            uploads_skipped: g(&self.uploads_skipped),
            upload_failures: g(&self.upload_failures),
            prefetched: g(&self.prefetched),
            prefetched_bytes: g(&self.prefetched_bytes),
            corrupt: g(&self.corrupt),
            remote_errors: g(&self.remote_errors),
            remote_round_trips: g(&self.remote_round_trips),
            download_bytes: g(&self.download_bytes),
            local_trimmed: g(&self.local_trimmed),
            sibling_manifests: g(&self.sibling_manifests),
            local_trimmed_bytes: g(&self.local_trimmed_bytes),
            remote_off: g(&self.remote_off),
            manifest_requests: g(&self.manifest_requests),
            manifest_bytes: g(&self.manifest_bytes),
            manifests_unchanged: g(&self.manifests_unchanged),
            warnings: self
                .warnings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            upload_failure_reasons: self
                .failure_reasons
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ..base
        }
    }
}

impl Stats {
    /// Sums several processes' counters (configuration from the last one).
    pub fn sum(all: &[Stats]) -> Option<Stats> {
        let mut it = all.iter();
        let mut t = it.next()?.clone();
        for s in it {
            t.started_at = t.started_at.min(s.started_at);
            t.finished_at = t.finished_at.max(s.finished_at);
            t.remote = s.remote.clone().or(t.remote);
            t.write_namespace = s.write_namespace.clone().or(t.write_namespace);
            if !s.read_namespaces.is_empty() {
                t.read_namespaces = s.read_namespaces.clone();
            }
            t.gets += s.gets;
            t.local_hits += s.local_hits;
            t.local_hit_bytes += s.local_hit_bytes;
            t.remote_hits += s.remote_hits;
            t.remote_hit_bytes += s.remote_hit_bytes;
            t.misses += s.misses;
            t.puts += s.puts;
            t.put_bytes += s.put_bytes;
            t.uploads += s.uploads;
            t.upload_bytes += s.upload_bytes;
            t.uploads_skipped += s.uploads_skipped;
            t.upload_failures += s.upload_failures;
            for (r, n) in &s.upload_failure_reasons {
                *t.upload_failure_reasons.entry(r.clone()).or_default() += n;
            }
            t.prefetched += s.prefetched;
            t.prefetched_bytes += s.prefetched_bytes;
            t.corrupt += s.corrupt;
            t.remote_errors += s.remote_errors;
            t.remote_round_trips += s.remote_round_trips;
            t.download_bytes += s.download_bytes;
            t.local_trimmed += s.local_trimmed;
            t.sibling_manifests += s.sibling_manifests;
            t.local_trimmed_bytes += s.local_trimmed_bytes;
            t.remote_off += s.remote_off;
            t.manifest_requests += s.manifest_requests;
            t.manifest_bytes += s.manifest_bytes;
            t.manifests_unchanged += s.manifests_unchanged;
            for w in &s.warnings {
                if !t.warnings.contains(w) {
                    t.warnings.push(w.clone());
                }
            }
        }
        Some(t)
    }
}

/// The statistics directory of a local tier.
pub fn dir(local_root: &Path) -> PathBuf {
    local_root.join("meta").join("stats")
}

/// Every cache-program process's statistics under a local tier that finished at or after `since`
/// (Unix seconds), in the order they ended. Unreadable files are skipped. The files' times
/// order them: the statistics' own times are whole seconds, and a go command served from the
/// local tier starts and ends within one.
pub fn load(local_root: &Path, since: i64) -> Vec<Stats> {
    let Ok(rd) = std::fs::read_dir(dir(local_root)) else {
        return Vec::new();
    };
    let mut v: Vec<(Option<std::time::SystemTime>, Stats)> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let written = e.metadata().and_then(|m| m.modified()).ok();
            let s = serde_json::from_slice::<Stats>(&std::fs::read(e.path()).ok()?).ok()?;
            Some((written, s))
        })
        .filter(|(_, s)| s.finished_at >= since)
        .collect();
    v.sort_by_key(|(written, s)| (*written, s.finished_at));
    v.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_processes() {
        let a = Stats {
            started_at: 10,
            finished_at: 20,
            gets: 3,
            local_hits: 1,
            misses: 2,
            warnings: vec!["w".into()],
            ..Stats::default()
        };
        let b = Stats {
            started_at: 5,
            finished_at: 30,
            gets: 4,
            remote_hits: 4,
            remote_hit_bytes: 100,
            warnings: vec!["w".into(), "x".into()],
            ..Stats::default()
        };
        let t = Stats::sum(&[a, b]).unwrap();
        assert_eq!((t.started_at, t.finished_at), (5, 30));
        assert_eq!(
            (t.gets, t.local_hits, t.remote_hits, t.misses),
            (7, 1, 4, 2)
        );
        assert_eq!(t.remote_hit_bytes, 100);
        assert_eq!(t.warnings, ["w", "x"]);
        assert_eq!(Stats::sum(&[]), None);
    }
}
