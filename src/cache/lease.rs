//! Leases: which jobs on this machine are using a cache root right now, so that one job's
//! `prepare` and `trim` never make another live job lose entries it used.
//!
//! `prepare` registers a lease (`<root>/.go-ci-cache-leases/<id>.json`: the job's start T0 and
//! the machine's boot ID) and `trim` releases it. Both take an exclusive lock
//! (`.go-ci-cache-leases/lock`, an OS file lock, released when the process dies) around their
//! work on the root, so a prepare never runs while another job's trim deletes, and vice versa.
//! A lease counts as live when it was written on this boot of this machine (a lease restored
//! from another machine's archive does not) and is younger than [`TTL_SECS`] (a job killed
//! before its trim stops counting then). The policy — [`live_others`], [`backdate_floor`],
//! [`trim_cutoff`] — is pure; see README "Several jobs on one machine" for the guarantee.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Directory of the leases inside a cache root. Not a valid module path element (it starts
/// with a dot) nor a GOCACHE entry directory, so Go and the trims never take it for theirs.
pub const DIR: &str = ".go-ci-cache-leases";
/// A lease older than this no longer protects anything (longer than any hosted job may run).
pub const TTL_SECS: i64 = 24 * 3600;
/// How long `prepare` and `trim` wait for another job's prepare or trim to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(600);

/// One job's claim on a cache root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Random ID, recorded in the job's run state.
    pub id: String,
    /// Unix seconds when the job's use of the cache began (its T0).
    pub started_at: i64,
    /// The boot the lease was written on ([`machine`]).
    pub machine: String,
    /// Taken before the job's restore (`claim`) and not yet followed by `prepare`: the restore
    /// may be extracting entries with old mtimes, which no trim may take meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restoring: bool,
}

/// A restore longer than this is over (or was killed): its lease then protects what a live job
/// used, as any other, and no longer holds off every removal.
pub const RESTORE_SECS: i64 = 3600;

/// The live leases of jobs that are restoring into the root right now (pure): a trim removes
/// nothing from it while there is one, since what they extract carries the archive's mtimes.
pub fn restoring<'a>(others: &[&'a Lease], now: i64) -> Vec<&'a Lease> {
    others
        .iter()
        .copied()
        .filter(|l| l.restoring && now - l.started_at < RESTORE_SECS)
        .collect()
}

/// Leases of other jobs that still count (pure).
pub fn live_others<'a>(
    leases: &'a [Lease],
    own: Option<&str>,
    machine: &str,
    now: i64,
) -> Vec<&'a Lease> {
    leases
        .iter()
        .filter(|l| Some(l.id.as_str()) != own)
        .filter(|l| l.machine == machine && now - l.started_at < TTL_SECS)
        .collect()
}

/// Entries with an mtime at or after this may have been used by another live job (each job's
/// used entries have mtime ≥ its T0 − 1 h, `mtimeInterval` in cmd/go/internal/cache/cache.go): `prepare` must not backdate them.
/// `None`: no other job is live, every entry may be backdated (pure).
pub fn backdate_floor(others: &[&Lease], unused_before: i64) -> Option<i64> {
    others.iter().map(|l| l.started_at - unused_before).min()
}

/// The mtime below which `trim` may delete: older than this job's start and every other live
/// job's start, minus the unused margin (pure).
pub fn trim_cutoff(own_start: i64, others: &[&Lease], unused_before: i64) -> i64 {
    others
        .iter()
        .map(|l| l.started_at)
        .chain([own_start])
        .min()
        .unwrap_or(own_start)
        - unused_before
}

/// This machine's current boot: the Linux boot ID (shared by every container on the host, new
/// at each boot), else the host name.
pub fn machine() -> String {
    if let Ok(id) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") {
        let id = id.trim();
        if !id.is_empty() {
            return format!("boot:{id}");
        }
    }
    let host = std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_default();
    format!("host:{host}")
}

/// A fresh lease ID.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The lease registry of a root, held under its lock until dropped.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    _lock: File,
}

impl Registry {
    /// Locks the registry of `root` (creating it), waiting up to [`LOCK_WAIT`].
    pub fn lock(root: &Path) -> io::Result<Self> {
        let dir = root.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::other(format!(
                        "another job held `{}` for more than {} s",
                        dir.join("lock").display(),
                        LOCK_WAIT.as_secs()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        Ok(Self { dir, _lock: file })
    }

    /// Every readable lease.
    pub fn leases(&self) -> Vec<Lease> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }

    /// Writes (or renews) a lease.
    pub fn register(&self, lease: &Lease) -> anyhow::Result<()> {
        let text = serde_json::to_string(lease)?;
        crate::output::sink::replace(&self.path(&lease.id), &text, "the lease file")
    }

    /// Removes a lease, and every lease that no longer counts.
    pub fn release(&self, id: &str, machine: &str, now: i64) {
        let _ = std::fs::remove_file(self.path(id));
        for l in self.leases() {
            if l.machine != machine || now - l.started_at >= TTL_SECS {
                let _ = std::fs::remove_file(self.path(&l.id));
            }
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        // IDs are hex; anything else read from a file never becomes a path component.
        let safe: String = id.chars().filter(char::is_ascii_hexdigit).collect();
        self.dir.join(format!("{safe}.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: &str, t: i64, m: &str) -> Lease {
        Lease {
            id: id.into(),
            started_at: t,
            machine: m.into(),
            restoring: false,
        }
    }

    #[test]
    fn a_restore_in_progress_holds_off_removals_for_an_hour_at_most() {
        let now = 50_000;
        let r = Lease {
            restoring: true,
            ..l("aa", now - 60, "m")
        };
        let stale = Lease {
            restoring: true,
            ..l("bb", now - RESTORE_SECS, "m")
        };
        let done = l("cc", now - 60, "m");
        let ids = |v: Vec<&Lease>| v.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(restoring(&[&r, &stale, &done], now)), ["aa"]);
        // Old leases without the field still read.
        let old: Lease =
            serde_json::from_str(r#"{"id":"dd","started_at":1,"machine":"m"}"#).unwrap();
        assert!(!old.restoring);
    }

    #[test]
    fn only_this_boots_recent_other_leases_count() {
        let now = 100_000;
        let leases = [
            l("aa", now - 60, "boot:1"),
            l("bb", now - 600, "boot:1"),
            l("cc", now - 60, "boot:2"),
            l("dd", now - TTL_SECS, "boot:1"),
        ];
        let live: Vec<&str> = live_others(&leases, Some("aa"), "boot:1", now)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(live, ["bb"]);
    }

    #[test]
    fn floors_and_cutoffs_protect_the_oldest_live_job() {
        let b = l("bb", 10_000, "m");
        let c = l("cc", 20_000, "m");
        assert_eq!(backdate_floor(&[], 3600), None);
        assert_eq!(backdate_floor(&[&c, &b], 3600), Some(10_000 - 3600));
        assert_eq!(trim_cutoff(30_000, &[], 3600), 30_000 - 3600);
        assert_eq!(trim_cutoff(30_000, &[&c, &b], 3600), 10_000 - 3600);
        assert_eq!(trim_cutoff(5_000, &[&c], 3600), 5_000 - 3600);
    }

    #[test]
    fn register_release_and_stale_cleanup() {
        let t = tempfile::tempdir().unwrap();
        let r = Registry::lock(t.path()).unwrap();
        r.register(&l("aa", 100, "m")).unwrap();
        r.register(&l("bb", 100, "other")).unwrap();
        r.register(&l("cc", 100, "m")).unwrap();
        assert_eq!(r.leases().len(), 3);
        r.release("aa", "m", 200);
        let left: Vec<String> = r.leases().into_iter().map(|l| l.id).collect();
        assert_eq!(left, ["cc"]);
        // A second locker waits; with the first gone it gets the lock.
        drop(r);
        assert!(Registry::lock(t.path()).is_ok());
    }
}
