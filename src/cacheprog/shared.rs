//! What every request of one cache-program process shares ([`Shared`]): its configuration and
//! tiers, its counters and warnings, and the lookups that go through both tiers (`get`, an
//! output fetched once however many ask for it, a record installed from the remote). A store
//! given up on is noted in the local tier, and the go commands that start on the machine in the
//! next minutes leave it alone, quietly.

pub(super) use crate::cache::now_unix;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use tokio::sync::{OnceCell, Semaphore};

use super::Config;
use super::local::{DOWN_FOR_SECS, Local, Record};
use super::manifest::Manifest;
use super::protocol::{self, Id, Response};
use super::remote::{Remote, RemoteError};
use super::stats::{self, Counters, Stats, add};

/// What every request handler shares.
pub(super) struct Shared {
    pub(super) cfg: Config,
    pub(super) local: Local,
    pub(super) remote: Option<Remote>,
    pub(super) counters: Counters,
    /// Output downloads, one per OutputID per process, however many ask for it.
    pub(super) fetches: Mutex<HashMap<Id, Arc<OnceCell<bool>>>>,
    /// The previous run's manifests: action → (read-namespace index, record), in the order
    /// the first namespace's manifest lists them (the order its job asked), then the others'.
    pub(super) index: OnceCell<IndexMap<Id, (usize, Record)>>,
    /// The manifest of the namespace this process writes, as it was read at start.
    pub(super) previous: Mutex<Option<Manifest>>,
    /// Set when the index came from a sibling job's manifest: the prefetch stops at this many
    /// bytes of outputs (a sibling may use far more than this job).
    pub(super) prefetch_limit: Mutex<Option<u64>>,
    /// Actions whose local record this process fetched from the remote (their hits are the
    /// remote tier's).
    pub(super) from_remote: Mutex<HashSet<Id>>,
    /// Actions this process answered or stored, in the order of first use, for the manifest.
    pub(super) used: Mutex<IndexMap<Id, Record>>,
    /// Bounds uploads and prefetch downloads in flight.
    pub(super) transfers: Arc<Semaphore>,
    /// Outputs whose remote copy failed verification: their puts upload again, so the store
    /// heals.
    pub(super) corrupt: Mutex<HashSet<Id>>,
    /// Kinds of warning already printed.
    pub(super) warned: Mutex<HashSet<String>>,
    /// Set once the store is off for a reason the local tier's down note holds (this process
    /// wrote it, or found it at start).
    pub(super) noted_down: std::sync::atomic::AtomicBool,
    /// Set once the store refused a write (the credentials may not write there): this process
    /// writes nothing more to it, and keeps reading.
    pub(super) writes_denied: std::sync::atomic::AtomicBool,
    /// Where outputs go that the local tier could not take (a full disk, a directory replaced
    /// by a symlink): the go command needs a file for every put, and a failed put would fail
    /// its build. Removed when the process ends, after the go command is done with them.
    pub(super) scratch: std::sync::OnceLock<Option<tempfile::TempDir>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(super) fn warn(&self, kind: &str, msg: &str) {
        self.counters.warning(msg);
        if lock(&self.warned).insert(kind.to_string()) {
            eprintln!("go-ci-cache: warning: {msg}");
        }
    }

    /// A warning about the job's configuration (the same for each of its go commands): printed
    /// once per job on this machine, recorded by every process for `report`.
    pub(super) fn warn_job(&self, msg: &str) {
        self.counters.warning(msg);
        if self.local.warn_once(msg, now_unix()) {
            eprintln!("go-ci-cache: warning: {msg}");
        }
    }

    /// Writes an output the local tier could not take into this process's scratch directory;
    /// its path, or `None` when not even that works.
    pub(super) fn scratch_put(&self, o: &Id, body: &[u8]) -> Option<std::path::PathBuf> {
        let dir = self
            .scratch
            .get_or_init(|| {
                tempfile::Builder::new()
                    .prefix("go-ci-cache-scratch-")
                    .tempdir()
                    .ok()
            })
            .as_ref()?;
        let p = dir.path().join(protocol::hex(o));
        crate::fsutil::write_atomic(&p, body).ok()?;
        Some(p)
    }

    /// An upload that did not land: counted with its reason for `report`.
    pub(super) fn upload_failed(&self, reason: &str) {
        self.counters.upload_failed(reason, 1);
    }

    pub(super) fn remote_trouble(&self, e: &RemoteError) {
        let Some(r) = &self.remote else { return };
        match e {
            RemoteError::Down => {}
            RemoteError::Corrupt => {
                add(&self.counters.corrupt, 1);
                self.warn(
                    "corrupt",
                    &format!(
                        "an object in `{}` does not match its OutputID; it was not used (the go command compiles instead)",
                        r.url()
                    ),
                );
            }
            RemoteError::Denied(msg) => {
                add(&self.counters.remote_errors, 1);
                self.warn_job(&format!(
                    "remote cache `{}` refused a request ({msg}); check the credentials' permissions",
                    r.url()
                ));
            }
            RemoteError::Timeout | RemoteError::Other(_) => {
                add(&self.counters.remote_errors, 1);
                let Some(why) = r.down_reason() else {
                    self.warn(
                        "error",
                        &format!("remote cache `{}`: {e}; going on", r.url()),
                    );
                    return;
                };
                self.warn(
                    "down",
                    &format!(
                        "remote cache `{}` is off for this go command ({why}), and for the go commands that start on this machine in the next {} minutes; going on with the local tier and compiling what it lacks",
                        r.url(),
                        DOWN_FOR_SECS / 60
                    ),
                );
                if !self.noted_down.swap(true, Relaxed) {
                    let noted = self.local.note_down(&r.store_id(), &why, now_unix());
                    if let Err(e) = noted {
                        self.warn("local", &format!("local cache: {e:#}"));
                    }
                }
            }
        }
    }

    /// At start: a store that a go command sharing this local tier gave up on moments ago is
    /// not asked at all, and quietly (that go command said why): the job's later go commands
    /// neither wait for it again nor repeat the warning. `report` counts them.
    pub(super) fn skip_if_noted_down(&self, now: i64) {
        let Some(r) = &self.remote else { return };
        let Some(note) = self.local.down_note() else {
            return;
        };
        if note.applies(&r.store_id(), now) {
            r.give_up(format!(
                "a go command on this machine gave up on it {}s before: {}",
                (now - note.at).max(0),
                note.reason
            ));
            self.noted_down.store(true, Relaxed);
            add(&self.counters.remote_off, 1);
        }
    }

    pub(super) fn note_used(&self, a: &Id, rec: &Record) {
        lock(&self.used).insert(*a, rec.clone());
    }

    /// Downloads an output into the local tier once per process; true when it is there.
    pub(super) async fn fetch_output(&self, o: &Id, size: u64, prefetch: bool) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        let cell = lock(&self.fetches).entry(*o).or_default().clone();
        *cell
            .get_or_init(|| async {
                if self.local.has_output(o, size) {
                    return true;
                }
                if !prefetch {
                    add(&self.counters.remote_round_trips, 1);
                }
                match remote.output(o, size).await {
                    Ok(Some((body, wire))) => match self.local.put_output(o, &body) {
                        Ok(_) => {
                            add(&self.counters.download_bytes, wire);
                            if prefetch {
                                add(&self.counters.prefetched, 1);
                                add(&self.counters.prefetched_bytes, size);
                            }
                            true
                        }
                        Err(e) => {
                            self.warn("local", &format!("local cache: {e:#}"));
                            false
                        }
                    },
                    Ok(None) => false,
                    Err(e) => {
                        if matches!(e, RemoteError::Corrupt) {
                            lock(&self.corrupt).insert(*o);
                        }
                        self.remote_trouble(&e);
                        false
                    }
                }
            })
            .await
    }

    /// The namespaces looked up in the local tier, in order: this job's own records first (what
    /// its earlier go commands stored), then those of the namespaces it reads.
    pub(super) fn local_reads(&self) -> impl Iterator<Item = &String> {
        let own = &self.cfg.local_namespace;
        std::iter::once(own).chain(self.cfg.read().iter().filter(move |n| *n != own))
    }

    /// Whether this job may use a record (see [`Record::usable`]).
    pub(super) fn usable(&self, rec: &Record) -> bool {
        rec.usable(&self.cfg.native_scope)
    }

    pub(super) fn local_lookup(&self, a: &Id) -> Option<Record> {
        self.local_reads().find_map(|ns| {
            let rec = self.local.record(ns, a).filter(|r| self.usable(r))?;
            let o = rec.output_id()?;
            if !self.local.has_output(&o, rec.size) {
                return None;
            }
            self.local.touch_record(ns, a);
            Some(rec)
        })
    }

    /// A hit from the remote: records it locally under the namespace it came from.
    pub(super) fn install(&self, ns_index: usize, a: &Id, rec: &Record) {
        let ns = &self.cfg.read()[ns_index];
        if let Err(e) = self.local.put_record(ns, a, rec) {
            self.warn("local", &format!("local cache: {e:#}"));
        }
        lock(&self.from_remote).insert(*a);
    }

    pub(super) async fn remote_lookup(&self, a: &Id) -> Option<Record> {
        let remote = self.remote.as_ref()?;
        // A job that used this action before: the manifest has its record, no round trip.
        let index = self.index.get_or_init(|| self.load_index()).await;
        if let Some((i, rec)) = index.get(a).filter(|(_, r)| self.usable(r))
            && let Some(o) = rec.output_id()
            && self.fetch_output(&o, rec.size, false).await
        {
            self.install(*i, a, rec);
            return Some(rec.clone());
        }
        // Ask every read namespace at once; the first in order that has a good output wins.
        add(&self.counters.remote_round_trips, 1);
        let asks = self.cfg.read().iter().map(|ns| remote.record(ns, a));
        let answers = futures::future::join_all(asks).await;
        for (i, ans) in answers.into_iter().enumerate() {
            match ans {
                Ok(Some(rec)) if self.usable(&rec) => {
                    let Some(o) = rec.output_id() else { continue };
                    if self.fetch_output(&o, rec.size, false).await {
                        self.install(i, a, &rec);
                        return Some(rec);
                    }
                }
                Ok(_) => {}
                Err(e) => self.remote_trouble(&e),
            }
        }
        None
    }

    pub(super) async fn get(&self, id: i64, a: Id) -> Response {
        add(&self.counters.gets, 1);
        let mut found = self.local_lookup(&a).map(|r| (r, false));
        if found.is_none() {
            found = self.remote_lookup(&a).await.map(|r| (r, true));
        }
        let Some((rec, fetched_now)) = found else {
            add(&self.counters.misses, 1);
            return Response::miss(id);
        };
        let o = rec.output_id().expect("looked-up records are well formed");
        if fetched_now || lock(&self.from_remote).contains(&a) {
            add(&self.counters.remote_hits, 1);
            add(&self.counters.remote_hit_bytes, rec.size);
        } else {
            add(&self.counters.local_hits, 1);
            add(&self.counters.local_hit_bytes, rec.size);
        }
        self.note_used(&a, &rec);
        self.local.touch(&o);
        let path = self.local.output_path(&o);
        Response::hit(
            id,
            &o,
            rec.size,
            Some(rec.time.clone()),
            path.to_string_lossy().into_owned(),
        )
    }

    /// Whether this job writes to the store at all (a namespace to write, a store).
    pub(super) fn may_write(&self) -> bool {
        self.remote.is_some() && self.cfg.write().is_some()
    }

    /// Whether this process writes to the store now: it may, it has not given up on the store,
    /// and the store has not refused its writes.
    pub(super) fn writes_remote(&self) -> bool {
        self.may_write()
            && self
                .remote
                .as_ref()
                .is_some_and(|r| r.down_reason().is_none())
            && !self.writes_denied.load(Relaxed)
    }

    /// After a failed write: a refusal stops this process's writes (its reads go on).
    pub(super) fn write_failed(&self, e: &RemoteError) {
        self.upload_failed(e.reason());
        if matches!(e, RemoteError::Denied(_)) {
            self.writes_denied.store(true, Relaxed);
        }
        self.remote_trouble(e);
    }
}

pub(super) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

pub(super) fn shared(
    cfg: Config,
    local: Local,
    remote: Option<Remote>,
    notes: &[String],
) -> Arc<Shared> {
    let transfers = Arc::new(Semaphore::new(cfg.concurrency));
    let sh = Arc::new(Shared {
        cfg,
        local,
        remote,
        counters: Counters::default(),
        fetches: Mutex::new(HashMap::new()),
        index: OnceCell::new(),
        previous: Mutex::new(None),
        prefetch_limit: Mutex::new(None),
        from_remote: Mutex::new(HashSet::new()),
        used: Mutex::new(IndexMap::new()),
        transfers,
        corrupt: Mutex::new(HashSet::new()),
        warned: Mutex::new(HashSet::new()),
        noted_down: std::sync::atomic::AtomicBool::new(false),
        writes_denied: std::sync::atomic::AtomicBool::new(false),
        scratch: std::sync::OnceLock::new(),
    });
    for n in notes {
        sh.warn_job(n);
    }
    sh.skip_if_noted_down(now_unix());
    sh
}

/// This process's counters now.
pub(super) fn stats_now(sh: &Arc<Shared>, started_at: i64) -> Stats {
    let base = Stats {
        started_at,
        finished_at: now_unix(),
        remote: sh.remote.as_ref().map(|r| r.url().to_string()),
        write_namespace: match &sh.remote {
            Some(_) => sh.cfg.write().map(str::to_string),
            None => Some(sh.cfg.local_namespace.clone()),
        },
        read_namespaces: sh.cfg.read().to_vec(),
        ..Stats::default()
    };
    sh.counters.snapshot(base)
}

/// Writes this process's counters, plus an early prefetch's it claimed, for `report`.
pub(super) fn write_stats(sh: &Arc<Shared>, started_at: i64, early: Option<Stats>) {
    let mine = stats_now(sh, started_at);
    let s = match early {
        Some(e) => Stats::sum(&[e, mine]).expect("two stats"),
        None => mine,
    };
    // Random, not the pid: machines sharing the local directory may have the same pids.
    let name = format!("{}-{}.json", s.finished_at, crate::cache::lease::new_id());
    let path = stats::dir(sh.local.root()).join(name);
    let body = serde_json::to_vec_pretty(&s).expect("stats serialize");
    if let Err(e) = sh.local.write(&path, &body) {
        sh.warn("local", &format!("local cache: {e:#}"));
    }
}
