//! The manifests in the store: reading the job's (or, on its first run, a sibling job's) into
//! the index the prefetch and lookups use, once for the go commands of the next minutes on the
//! machine, and writing the job's when it changed or is an hour old. The manifest's own shape
//! and rules are [`super::manifest`].

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use indexmap::IndexMap;

use super::local::Record;
use super::manifest::Manifest;
use super::protocol::{self, Id};
use super::remote::Remote;
use super::shared::{Shared, lock, now_unix};
use super::stats::add;

impl Shared {
    /// The read namespaces' manifests: action → (namespace index, record); read once, by
    /// the prefetch or the first request that needs it, whichever comes first. A go command
    /// that starts minutes after another one on this machine fetched them reuses that copy.
    pub(super) async fn load_index(&self) -> IndexMap<Id, (usize, Record)> {
        let mut index: IndexMap<Id, (usize, Record)> = IndexMap::new();
        let Some(remote) = &self.remote else {
            return index;
        };
        let key = self.fetched_key(remote);
        let now = now_unix();
        let fetched = match self.fetched_before(&key, now) {
            Some(f) => f,
            None => {
                let errors = self.counters.remote_errors.load(Relaxed);
                let f = self.fetch_manifests(remote, key, now).await;
                let clean = self.counters.remote_errors.load(Relaxed) == errors
                    && remote.down_reason().is_none();
                if clean {
                    let body = serde_json::to_vec(&f).expect("fetched manifests serialize");
                    let path = self.local.meta_path(&fetched_rel(&f.key));
                    if let Err(e) = self.local.write(&path, &body) {
                        self.warn("local", &format!("local cache: {e:#}"));
                    }
                }
                f
            }
        };
        // Read order wins: an action an earlier namespace lists keeps its record and place.
        for (i, m) in fetched.own.into_iter().enumerate() {
            let Some(m) = m else { continue };
            for (a, r) in m.index() {
                index.entry(a).or_insert((i, r));
            }
            if self.cfg.write() == Some(self.cfg.read()[i].as_str()) {
                *lock(&self.previous) = Some(m);
            }
        }
        if let Some((i, m)) = fetched.sibling {
            add(&self.counters.sibling_manifests, 1);
            for (a, r) in m.index() {
                index.entry(a).or_insert((i, r));
            }
            *lock(&self.prefetch_limit) = Some(SIBLING_PREFETCH_BYTES);
        }
        index
    }

    /// What names the manifests this process reads: the store, the manifest, the namespaces
    /// read and the sibling prefixes.
    pub(super) fn fetched_key(&self, remote: &Remote) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            remote.store_id(),
            self.cfg.manifest,
            self.cfg.read().join(","),
            self.cfg.manifest_siblings.join(",")
        )
    }

    /// The manifests a go command on this machine fetched under `key` less than
    /// [`FETCHED_FRESH_SECS`] ago, if any.
    pub(super) fn fetched_before(&self, key: &str, now: i64) -> Option<Fetched> {
        let body = std::fs::read(self.local.meta_path(&fetched_rel(key))).ok()?;
        let f: Fetched = serde_json::from_slice(&body).ok()?;
        let fresh = f.key == key
            && f.own.len() == self.cfg.read().len()
            && f.sibling.as_ref().is_none_or(|(i, _)| *i < f.own.len())
            && (0..FETCHED_FRESH_SECS).contains(&(now - f.at));
        fresh.then_some(f)
    }

    /// Asks the store for this job's manifest in every read namespace at once and, when none
    /// has it, for a sibling job's.
    pub(super) async fn fetch_manifests(&self, remote: &Remote, key: String, now: i64) -> Fetched {
        let asks = self
            .cfg
            .read()
            .iter()
            .map(|ns| remote.manifest(ns, &self.cfg.manifest));
        let answers = futures::future::join_all(asks).await;
        add(&self.counters.manifest_requests, answers.len() as u64);
        let found = answers.iter().any(|a| matches!(a, Ok(Some(_))));
        let mut own = Vec::with_capacity(answers.len());
        for (i, ans) in answers.into_iter().enumerate() {
            own.push(match ans {
                Ok(Some(bytes)) => {
                    add(&self.counters.manifest_bytes, bytes.len() as u64);
                    let m = Manifest::parse(&bytes);
                    if m.is_none() {
                        self.warn(
                            "manifest",
                            &format!(
                                "the manifest of namespace `{}` is not one this version reads; ignored",
                                self.cfg.read()[i]
                            ),
                        );
                    }
                    m
                }
                Ok(None) => None,
                Err(e) => {
                    self.remote_trouble(&e);
                    None
                }
            });
        }
        let sibling = if !found && !self.cfg.manifest_siblings.is_empty() {
            self.sibling_manifest(remote).await
        } else {
            None
        };
        Fetched {
            key,
            at: now,
            own,
            sibling,
        }
    }

    /// This job has no manifest yet: the newest manifest of the first sibling prefix (in
    /// order) that a read namespace (in order) has. A manifest is as trusted as the namespace
    /// it is in, so this reads nothing the job could not read anyway. Two round trips (the
    /// listings at once, then one manifest), which the build's first lookups wait for.
    pub(super) async fn sibling_manifest(&self, remote: &Remote) -> Option<(usize, Manifest)> {
        let read = self.cfg.read();
        let lists =
            futures::future::join_all(read.iter().map(|ns| remote.list_manifests(ns))).await;
        add(&self.counters.remote_round_trips, 1);
        add(&self.counters.manifest_requests, lists.len() as u64);
        let own = super::namespace::segment(&self.cfg.manifest);
        let lists: Vec<Vec<(String, i64)>> = lists
            .into_iter()
            .map(|l| {
                l.unwrap_or_else(|e| {
                    self.remote_trouble(&e);
                    Vec::new()
                })
            })
            .collect();
        let (i, name) = pick_sibling(&self.cfg.manifest_siblings, &own, &lists)?;
        add(&self.counters.remote_round_trips, 1);
        add(&self.counters.manifest_requests, 1);
        match remote.manifest_escaped(&read[i], &name).await {
            Ok(Some(bytes)) => {
                add(&self.counters.manifest_bytes, bytes.len() as u64);
                Manifest::parse(&bytes).map(|m| (i, m))
            }
            Ok(None) => None,
            Err(e) => {
                self.remote_trouble(&e);
                None
            }
        }
    }
}

/// A sibling's manifest is prefetched up to this many bytes of outputs (in its order of use);
/// the rest of it still spares the build a record lookup each.
const SIBLING_PREFETCH_BYTES: u64 = 256 << 20;

/// The sibling manifest to start from (pure): for each prefix in order, the newest manifest of
/// the first read namespace, in order, that has one with that prefix, this job's own name
/// aside. Returns the namespace's index and the escaped name.
pub(super) fn pick_sibling(
    prefixes: &[String],
    own: &str,
    lists: &[Vec<(String, i64)>],
) -> Option<(usize, String)> {
    prefixes.iter().find_map(|p| {
        lists.iter().enumerate().find_map(|(i, l)| {
            l.iter()
                .filter(|(n, _)| n.starts_with(p.as_str()) && n != own)
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(n, _)| (i, n.clone()))
        })
    })
}

/// What the read namespaces' manifests said when a go command on this machine fetched them
/// (`meta/fetched/<digest of the key>.json`): this job's own, per read namespace, or, when
/// none had it, a sibling job's with its namespace's index. A job's go commands that start
/// soon after (and the first one after `--prefetch-only`) read this instead of downloading
/// the same manifests again: a job of ten go commands asks once, not ten times. Written only
/// when the store answered every request.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Fetched {
    key: String,
    at: i64,
    own: Vec<Option<Manifest>>,
    sibling: Option<(usize, Manifest)>,
}

/// How long fetched manifests stand for the store's (a job that writes its manifest meanwhile
/// keeps its own copy of what it wrote; see [`write_manifest`]).
const FETCHED_FRESH_SECS: i64 = 600;

fn fetched_rel(key: &str) -> String {
    use sha2::Digest;
    let d: Id = sha2::Sha256::digest(key.as_bytes()).into();
    format!("fetched/{}.json", &protocol::hex(&d)[..16])
}

/// The fewest actions a go command must use to write a job's first manifest.
const MIN_FIRST_MANIFEST: usize = 32;

/// Merges this process's used actions into the job's manifest and uploads it, unless the
/// store's copy already lists them and is fresh ([`Manifest::covers`]): the `go env`,
/// `go list` and `go vet` of a job, and every go command of a job that builds what the last
/// one built, leave it alone. The local tier keeps the job's copy (`meta/manifests/…json`:
/// what this machine's go commands used, whether or not they wrote it) and when this machine
/// last wrote it (`….json.written`).
pub(super) async fn write_manifest(sh: &Arc<Shared>) {
    let used = lock(&sh.used).clone();
    if used.is_empty() {
        return;
    }
    let Some(ns) = sh.cfg.write() else { return };
    let rel = format!(
        "manifests/{}/{}.json",
        super::namespace::segment(ns),
        super::namespace::segment(&sh.cfg.manifest)
    );
    let path = sh.local.meta_path(&rel);
    let mark = sh.local.meta_path(&format!("{rel}.written"));
    let mine = std::fs::read(&path)
        .ok()
        .and_then(|b| Manifest::parse(&b))
        .unwrap_or_default();
    let now = now_unix();
    sh.index.get_or_init(|| sh.load_index()).await;
    let previous = lock(&sh.previous).clone();
    // What the store holds, as far as this machine knows: what the job read from it, and what
    // this machine wrote to it or found listed there since.
    let written_at = std::fs::read_to_string(&mark)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0)
        .max(previous.as_ref().map_or(0, Manifest::newest_use));
    let stored = previous
        .as_ref()
        .map_or_else(|| mine.clone(), |p| p.union(&mine));
    if stored.covers(written_at, &used, now) {
        add(&sh.counters.manifests_unchanged, 1);
        // Kept for this job's later go commands: one that writes adds what this one used.
        let body = serde_json::to_vec(&mine.merged(&used, now)).expect("a manifest serializes");
        if let Err(e) = sh.local.write(&path, &body) {
            sh.warn("local", &format!("local cache: {e:#}"));
        }
        return;
    }
    let mut before = mine;
    // A small go command (the `go env` of this tool's own steps, a `go version` or a narrow
    // `go list` of the job) adds to the manifest the previous job left instead of replacing
    // it, or the job's build, which starts after it, would find nothing to prefetch.
    if let Some(prev) = &previous
        && used.len() * 2 < prev.entries.len()
    {
        before = prev.union(&before);
    }
    // A job's first manifest comes from a build, not from a `go env` or `go version` (a
    // handful of actions): written from those, it would stand for the job's set, and the
    // build after it would neither find a useful manifest nor fall back to a sibling's.
    if before.entries.is_empty() && used.len() < MIN_FIRST_MANIFEST {
        return;
    }
    let m = before.merged(&used, now);
    let body = serde_json::to_vec(&m).expect("a manifest serializes");
    let remote = sh.remote.as_ref().expect("writes_remote");
    add(&sh.counters.manifest_requests, 1);
    match remote
        .put_manifest(ns, &sh.cfg.manifest, body.clone())
        .await
    {
        Ok(n) => {
            add(&sh.counters.uploads, 1);
            add(&sh.counters.upload_bytes, n);
            add(&sh.counters.manifest_bytes, n);
            let kept = sh
                .local
                .write(&path, &body)
                .and_then(|()| sh.local.write(&mark, format!("{now}\n").as_bytes()));
            if let Err(e) = kept {
                sh.warn("local", &format!("local cache: {e:#}"));
            }
        }
        Err(e) => sh.write_failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::pick_sibling;

    #[test]
    fn picks_the_newest_sibling_by_prefix_then_namespace_order() {
        let l = |v: &[(&str, i64)]| -> Vec<(String, i64)> {
            v.iter().map(|(n, t)| (n.to_string(), *t)).collect()
        };
        let own_ns = l(&[("c1-lint-p1", 50)]);
        let trusted = l(&[
            ("c1-test-p1", 10),
            ("c1-test-p2", 30),
            ("c1-test-me", 99),
            ("c2-test-p1", 90),
            ("c1-lint-p2", 80),
        ]);
        let prefixes = ["c1-test-".to_string(), "c1-".to_string()];
        let lists = [own_ns.clone(), trusted.clone()];
        // The same job's newest sibling in trusted beats any job's in the own namespace; the
        // job's own name is never its sibling.
        assert_eq!(
            pick_sibling(&prefixes, "c1-test-me", &lists),
            Some((1, "c1-test-p2".into()))
        );
        // No sibling of the same job: any job of the configuration, namespaces in order.
        let lists = [own_ns, l(&[("c1-lint-p2", 80), ("c2-test-p1", 90)])];
        assert_eq!(
            pick_sibling(&prefixes, "c1-test-me", &lists),
            Some((0, "c1-lint-p1".into()))
        );
        let lists = [Vec::new(), l(&[("c2-test-p1", 90)])];
        assert_eq!(pick_sibling(&prefixes, "c1-test-me", &lists), None);
        assert_eq!(pick_sibling(&[], "x", &[trusted]), None);
    }
}
