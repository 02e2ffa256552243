//! The prefetch: what the job's manifest (or a sibling's) lists is downloaded in manifest order,
//! `--concurrency` at a time, while the build starts; `--prefetch-only` runs it alone, ahead of
//! the job's go commands, and hands what it fetched over to the next cache program.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use anyhow::Result;
use indexmap::IndexMap;
use tokio::task::JoinSet;

use super::Config;
use super::local::{DOWN_FOR_SECS, Local, Record};
use super::protocol::{self, Id};
use super::remote::Remote;
use super::shared::{Shared, lock, now_unix, shared, stats_now};
use super::stats::Stats;

/// Downloads what the previous run's manifests list that is not local, in manifest order (the
/// semaphore is fair, so downloads start in that order too).
pub(super) async fn prefetch(sh: Arc<Shared>) {
    let index = sh.index.get_or_init(|| sh.load_index()).await;
    let limit = *lock(&sh.prefetch_limit);
    let mut budget = limit.unwrap_or(u64::MAX);
    let todo: Vec<(Id, usize, Record)> = index
        .iter()
        .filter(|(_, (_, rec))| sh.usable(rec))
        .filter(|(a, (i, rec))| {
            let ns = &sh.cfg.read()[*i];
            sh.local.record(ns, a).as_ref() != Some(rec)
                || !rec
                    .output_id()
                    .is_some_and(|o| sh.local.has_output(&o, rec.size))
        })
        .take_while(|(_, (_, r))| {
            let fits = r.size <= budget;
            budget = budget.saturating_sub(r.size);
            fits
        })
        .map(|(a, (i, r))| (*a, *i, r.clone()))
        .collect();
    let mut set = JoinSet::new();
    for (a, i, rec) in todo {
        let sh = sh.clone();
        set.spawn(async move {
            let Ok(_permit) = sh.transfers.clone().acquire_owned().await else {
                return;
            };
            let Some(o) = rec.output_id() else { return };
            if sh.fetch_output(&o, rec.size, true).await {
                sh.install(i, &a, &rec);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// Where `--prefetch-only` leaves the actions it fetched for the job's next cache program.
const HANDOVER: &str = "prefetched.json";

/// A hand-over older than this belongs to no job that is still running its steps.
const HANDOVER_MAX_AGE_SECONDS: i64 = 3600;

/// What an early prefetch leaves the cache program that serves the job's first go command
/// after it: the actions it fetched from the remote (whose hits are the remote tier's) and its
/// counters (summed into that process's statistics, which the job's report reads: the
/// prefetch ends before `prepare` starts the job's window).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Handover {
    pub(super) written_at: i64,
    pub(super) actions: Vec<String>,
    pub(super) stats: Stats,
}

/// A recent `--prefetch-only`'s hand-over, claimed by this process (the file is renamed away
/// first, so of go commands that start at once only one claims it); `None` when there is none,
/// or it is stale or unreadable.
pub(super) fn claim_handover(local: &Local, now: i64) -> Option<Handover> {
    let path = local.meta_path(HANDOVER);
    // A random name, not the pid: the local directory may be shared by several machines.
    let mine = local.meta_path(&format!("{HANDOVER}.{}", crate::cache::lease::new_id()));
    std::fs::rename(&path, &mine).ok()?;
    let body = std::fs::read(&mine).ok();
    let _ = std::fs::remove_file(&mine);
    let h = serde_json::from_slice::<Handover>(&body?).ok()?;
    (now.saturating_sub(h.written_at) <= HANDOVER_MAX_AGE_SECONDS).then_some(h)
}

/// `--prefetch-only`: downloads what the job's manifest (or a sibling's) lists into the local
/// tier, bounded by the flush timeout, says what it did on stderr, and leaves the fetched
/// actions and its counters in the hand-over for the job's next cache program. Nothing is
/// written to the remote and nothing is trimmed.
pub async fn prefetch_only(
    cfg: Config,
    local: Local,
    remote: Option<Remote>,
    notes: Vec<String>,
) -> Result<()> {
    let started_at = now_unix();
    let sh = shared(cfg, local, remote, &notes);
    let Some(url) = sh.remote.as_ref().map(|r| r.url().to_string()) else {
        eprintln!("go-ci-cache: nothing to prefetch: no remote cache is set");
        return Ok(());
    };
    let limit = sh.cfg.flush_timeout;
    let done = tokio::time::timeout(limit, prefetch(sh.clone()))
        .await
        .is_ok();
    if !done {
        sh.warn(
            "prefetch",
            &format!(
                "the prefetch from `{url}` did not finish within {}s; the job fetches the rest as it needs it",
                limit.as_secs()
            ),
        );
    }
    // Nothing waited for these round trips: they ran beside the step's other work.
    let c = &sh.counters;
    c.remote_round_trips.store(0, Relaxed);
    let listed = sh.index.get().map_or(0, IndexMap::len);
    let (n, bytes, wire) = (
        c.prefetched.load(Relaxed),
        c.prefetched_bytes.load(Relaxed),
        c.download_bytes.load(Relaxed),
    );
    let sibling = c.sibling_manifests.load(Relaxed) > 0;
    let whose = if sibling {
        "a sibling job's"
    } else {
        "this job's"
    };
    let failed = !done || c.remote_errors.load(Relaxed) > 0 || c.corrupt.load(Relaxed) > 0;
    let down = sh.remote.as_ref().and_then(Remote::down_reason);
    let msg = if let Some(why) = down.as_ref().filter(|_| c.remote_off.load(Relaxed) > 0) {
        format!(
            "go-ci-cache: nothing prefetched from `{url}`: {why}; the job's go commands skip it for up to {} minutes",
            DOWN_FOR_SECS / 60
        )
    } else if n == 0 && failed {
        let then = if down.is_some() {
            format!(
                "the go commands that start on this machine in the next {} minutes leave it alone",
                DOWN_FOR_SECS / 60
            )
        } else {
            "the job's go commands ask it again".to_string()
        };
        format!(
            "go-ci-cache: nothing prefetched from `{url}`: it did not answer well (the warning above says how); {then}"
        )
    } else if listed == 0 {
        format!(
            "go-ci-cache: nothing to prefetch from `{url}`: no manifest of this job or a sibling job in the read namespaces"
        )
    } else if n == 0 {
        format!(
            "go-ci-cache: {listed} actions in {whose} manifest; nothing to prefetch from `{url}` (the local tier has them, or the store answered nothing)"
        )
    } else {
        format!(
            "go-ci-cache: prefetched {n} build outputs ({}, {} downloaded) of the {listed} actions in {whose} manifest from `{url}`",
            crate::fsutil::human_bytes(bytes),
            crate::fsutil::human_bytes(wire)
        )
    };
    eprintln!("{msg}");
    let mut actions: Vec<String> = lock(&sh.from_remote).iter().map(protocol::hex).collect();
    let mut stats = stats_now(&sh, started_at);
    // A second prefetch before any go command (the action used twice in one job, for two
    // modules) adds to the first one's hand-over instead of dropping it.
    if let Some(prev) = claim_handover(&sh.local, now_unix()) {
        actions.extend(prev.actions);
        stats = Stats::sum(&[prev.stats, stats]).expect("two stats");
    }
    actions.sort();
    actions.dedup();
    let h = Handover {
        written_at: now_unix(),
        actions,
        stats,
    };
    let body = serde_json::to_vec(&h).expect("a hand-over serializes");
    if let Err(e) = sh.local.write(&sh.local.meta_path(HANDOVER), &body) {
        sh.warn("local", &format!("local cache: {e:#}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{HANDOVER, Handover, claim_handover};
    use crate::cacheprog::local::Local;

    #[test]
    fn a_hand_over_is_claimed_once_and_only_while_fresh() {
        let d = tempfile::tempdir().unwrap();
        let local = Local::open(d.path()).unwrap();
        let write = |at: i64, actions: Vec<String>| {
            let h = Handover {
                written_at: at,
                actions,
                ..Handover::default()
            };
            local
                .write(&local.meta_path(HANDOVER), &serde_json::to_vec(&h).unwrap())
                .unwrap();
        };
        assert!(claim_handover(&local, 1000).is_none());
        write(1000, vec!["ab".repeat(32)]);
        let h = claim_handover(&local, 1000 + 3600).unwrap();
        assert_eq!(h.actions, vec!["ab".repeat(32)]);
        // Claimed: gone, so the job's second go command counts its hits as local ones.
        assert!(claim_handover(&local, 1000 + 3600).is_none());
        assert!(!local.meta_path(HANDOVER).exists());
        // Left by a prefetch whose job ran no go command (a persistent runner's earlier job).
        write(1000, vec!["cd".repeat(32)]);
        assert!(claim_handover(&local, 1000 + 3601).is_none());
        assert!(!local.meta_path(HANDOVER).exists());
        // Unreadable: nothing claimed, nothing left behind.
        local.write(&local.meta_path(HANDOVER), b"{").unwrap();
        assert!(claim_handover(&local, 1000).is_none());
        let left = std::fs::read_dir(local.meta_path("")).unwrap().flatten();
        assert_eq!(
            left.filter(|e| e.file_name().to_string_lossy().starts_with("prefetched"))
                .count(),
            0
        );
    }
}
