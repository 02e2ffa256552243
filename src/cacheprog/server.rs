//! The request loop: announces the commands, answers every request in its own task (so answers
//! go out in whatever order they finish), uploads puts in the background with bounded
//! concurrency, prefetches the previous run's manifest (fetched once for the go commands of the
//! next minutes on the machine), and on `close` flushes the uploads (bounded), writes the
//! manifest when it changed or is an hour old, trims the local tier when a day has passed since
//! its last trim, writes the counters, answers and returns. `--prefetch-only` runs the prefetch
//! alone, ahead of the job's go commands, and hands what it fetched over to the next cache
//! program.
//!
//! Remote trouble is never an error here: a request the remote cannot answer falls back to the
//! local tier, then to a miss (the go command compiles), with one warning per kind of trouble.
//! A store given up on is noted in the local tier, and the go commands that start on the
//! machine in the next minutes leave it alone, quietly.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use indexmap::IndexMap;
use tokio::sync::{OnceCell, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::Config;
use super::local::{DOWN_FOR_SECS, Local, Record};
use super::manifest::Manifest;
use super::protocol::{self, Command, Id, Response};
use super::remote::{Remote, RemoteError};
use super::stats::{self, Counters, Stats, add};

/// What every request handler shares.
struct Shared {
    cfg: Config,
    local: Local,
    remote: Option<Remote>,
    counters: Counters,
    /// Output downloads, one per OutputID per process, however many ask for it.
    fetches: Mutex<HashMap<Id, Arc<OnceCell<bool>>>>,
    /// The previous run's manifests: action → (read-namespace index, record), in the order
    /// the first namespace's manifest lists them (the order its job asked), then the others'.
    index: OnceCell<IndexMap<Id, (usize, Record)>>,
    /// The manifest of the namespace this process writes, as it was read at start.
    previous: Mutex<Option<Manifest>>,
    /// Set when the index came from a sibling job's manifest: the prefetch stops at this many
    /// bytes of outputs (a sibling may use far more than this job).
    prefetch_limit: Mutex<Option<u64>>,
    /// Actions whose local record this process fetched from the remote (their hits are the
    /// remote tier's).
    from_remote: Mutex<HashSet<Id>>,
    /// Actions this process answered or stored, in the order of first use, for the manifest.
    used: Mutex<IndexMap<Id, Record>>,
    /// Bounds uploads and prefetch downloads in flight.
    transfers: Arc<Semaphore>,
    /// Outputs whose remote copy failed verification: their puts upload again, so the store
    /// heals.
    corrupt: Mutex<HashSet<Id>>,
    /// Kinds of warning already printed.
    warned: Mutex<HashSet<String>>,
    /// Set once the store is off for a reason the local tier's down note holds (this process
    /// wrote it, or found it at start).
    noted_down: std::sync::atomic::AtomicBool,
    /// Set once the store refused a write (the credentials may not write there): this process
    /// writes nothing more to it, and keeps reading.
    writes_denied: std::sync::atomic::AtomicBool,
    /// Where outputs go that the local tier could not take (a full disk, a directory replaced
    /// by a symlink): the go command needs a file for every put, and a failed put would fail
    /// its build. Removed when the process ends, after the go command is done with them.
    scratch: std::sync::OnceLock<Option<tempfile::TempDir>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn warn(&self, kind: &str, msg: &str) {
        self.counters.warning(msg);
        if lock(&self.warned).insert(kind.to_string()) {
            eprintln!("go-ci-cache: warning: {msg}");
        }
    }

    /// A warning about the job's configuration (the same for each of its go commands): printed
    /// once per job on this machine, recorded by every process for `report`.
    fn warn_job(&self, msg: &str) {
        self.counters.warning(msg);
        if self.local.warn_once(msg, now_unix()) {
            eprintln!("go-ci-cache: warning: {msg}");
        }
    }

    /// Writes an output the local tier could not take into this process's scratch directory;
    /// its path, or `None` when not even that works.
    fn scratch_put(&self, o: &Id, body: &[u8]) -> Option<std::path::PathBuf> {
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
    fn upload_failed(&self, reason: &str) {
        self.counters.upload_failed(reason, 1);
    }

    fn remote_trouble(&self, e: &RemoteError) {
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
    fn skip_if_noted_down(&self, now: i64) {
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

    fn note_used(&self, a: &Id, rec: &Record) {
        lock(&self.used).insert(*a, rec.clone());
    }

    /// Downloads an output into the local tier once per process; true when it is there.
    async fn fetch_output(&self, o: &Id, size: u64, prefetch: bool) -> bool {
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
    fn local_reads(&self) -> impl Iterator<Item = &String> {
        let own = &self.cfg.local_namespace;
        std::iter::once(own).chain(self.cfg.read().iter().filter(move |n| *n != own))
    }

    /// Whether this job may use a record (see [`Record::usable`]).
    fn usable(&self, rec: &Record) -> bool {
        rec.usable(&self.cfg.native_scope)
    }

    fn local_lookup(&self, a: &Id) -> Option<Record> {
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
    fn install(&self, ns_index: usize, a: &Id, rec: &Record) {
        let ns = &self.cfg.read()[ns_index];
        if let Err(e) = self.local.put_record(ns, a, rec) {
            self.warn("local", &format!("local cache: {e:#}"));
        }
        lock(&self.from_remote).insert(*a);
    }

    /// The read namespaces' manifests: action → (namespace index, record); read once, by
    /// the prefetch or the first request that needs it, whichever comes first. A go command
    /// that starts minutes after another one on this machine fetched them reuses that copy.
    async fn load_index(&self) -> IndexMap<Id, (usize, Record)> {
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
    fn fetched_key(&self, remote: &Remote) -> String {
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
    fn fetched_before(&self, key: &str, now: i64) -> Option<Fetched> {
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
    async fn fetch_manifests(&self, remote: &Remote, key: String, now: i64) -> Fetched {
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
    async fn sibling_manifest(&self, remote: &Remote) -> Option<(usize, Manifest)> {
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

    async fn remote_lookup(&self, a: &Id) -> Option<Record> {
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

    async fn get(&self, id: i64, a: Id) -> Response {
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
    fn may_write(&self) -> bool {
        self.remote.is_some() && self.cfg.write().is_some()
    }

    /// Whether this process writes to the store now: it may, it has not given up on the store,
    /// and the store has not refused its writes.
    fn writes_remote(&self) -> bool {
        self.may_write()
            && self
                .remote
                .as_ref()
                .is_some_and(|r| r.down_reason().is_none())
            && !self.writes_denied.load(Relaxed)
    }

    /// After a failed write: a refusal stops this process's writes (its reads go on).
    fn write_failed(&self, e: &RemoteError) {
        self.upload_failed(e.reason());
        if matches!(e, RemoteError::Denied(_)) {
            self.writes_denied.store(true, Relaxed);
        }
        self.remote_trouble(e);
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Stores a put locally and answers; queues its upload. A native output (cgo objects, an
/// executable) is recorded with the job's native scope.
fn put(
    sh: &Arc<Shared>,
    uploads: &mut JoinSet<()>,
    id: i64,
    a: Id,
    o: Id,
    body: Vec<u8>,
) -> Response {
    add(&sh.counters.puts, 1);
    add(&sh.counters.put_bytes, body.len() as u64);
    let rec = Record {
        output: protocol::hex(&o),
        size: body.len() as u64,
        time: now_rfc3339(),
        scope: super::local::is_native(&body).then(|| sh.cfg.native_scope.clone()),
    };
    let path = match sh.local.put_output(&o, &body).and_then(|p| {
        sh.local
            .put_record(&sh.cfg.local_namespace, &a, &rec)
            .map(|()| p)
    }) {
        Ok(p) => p,
        Err(e) => match sh.scratch_put(&o, &body) {
            Some(p) => {
                sh.warn(
                    "local",
                    &format!("local cache: {e:#}; what it cannot store stays in a temporary directory until the go command ends"),
                );
                p
            }
            None => return Response::error(id, format!("go-ci-cache cacheprog: {e:#}")),
        },
    };
    sh.note_used(&a, &rec);
    drop(body);
    if sh.may_write() && !sh.writes_remote() {
        // Given up on, or refused: this output does not reach the store, and the report says so.
        let why = if sh.writes_denied.load(Relaxed) {
            "access denied"
        } else {
            "the store was given up on"
        };
        sh.upload_failed(why);
    } else if let (true, Some(ns)) = (sh.writes_remote(), sh.cfg.write()) {
        let (sh, ns, path) = (sh.clone(), ns.to_string(), path.clone());
        uploads.spawn(async move {
            let Ok(_permit) = sh.transfers.clone().acquire_owned().await else {
                return;
            };
            let remote = sh.remote.as_ref().expect("writes_remote");
            // The body comes back from disk only now, so queued uploads do not hold a build's
            // outputs in memory.
            let body = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    sh.upload_failed("the local copy could not be read");
                    sh.warn(
                        "local",
                        &format!("local cache: reading an output to upload: {e}"),
                    );
                    return;
                }
            };
            let r = async {
                let replace = lock(&sh.corrupt).contains(&o);
                match remote.put_output(&o, body, replace).await? {
                    Some(n) => {
                        add(&sh.counters.uploads, 1);
                        add(&sh.counters.upload_bytes, n);
                    }
                    None => add(&sh.counters.uploads_skipped, 1),
                }
                // The record after its output: a reader never finds a record without a body.
                let n = remote.put_record(&ns, &a, &rec).await?;
                add(&sh.counters.uploads, 1);
                add(&sh.counters.upload_bytes, n);
                Ok::<(), RemoteError>(())
            }
            .await;
            if let Err(e) = r {
                sh.write_failed(&e);
            }
        });
    }
    Response::stored(id, path.to_string_lossy().into_owned())
}

/// A sibling's manifest is prefetched up to this many bytes of outputs (in its order of use);
/// the rest of it still spares the build a record lookup each.
const SIBLING_PREFETCH_BYTES: u64 = 256 << 20;

/// The sibling manifest to start from (pure): for each prefix in order, the newest manifest of
/// the first read namespace, in order, that has one with that prefix, this job's own name
/// aside. Returns the namespace's index and the escaped name.
fn pick_sibling(
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

/// Downloads what the previous run's manifests list that is not local, in manifest order (the
/// semaphore is fair, so downloads start in that order too).
async fn prefetch(sh: Arc<Shared>) {
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

fn shared(cfg: Config, local: Local, remote: Option<Remote>, notes: &[String]) -> Arc<Shared> {
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

/// What the read namespaces' manifests said when a go command on this machine fetched them
/// (`meta/fetched/<digest of the key>.json`): this job's own, per read namespace, or, when
/// none had it, a sibling job's with its namespace's index. A job's go commands that start
/// soon after (and the first one after `--prefetch-only`) read this instead of downloading
/// the same manifests again: a job of ten go commands asks once, not ten times. Written only
/// when the store answered every request.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Fetched {
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

/// Where `--prefetch-only` leaves the actions it fetched for the job's next cache program.
const HANDOVER: &str = "prefetched.json";

/// A hand-over older than this belongs to no job that is still running its steps.
const HANDOVER_MAX_AGE_SECONDS: i64 = 3600;

/// What an early prefetch leaves the cache program that serves the job's first go command
/// after it: the actions it fetched from the remote (whose hits are the remote tier's) and its
/// counters (summed into that process's statistics, which the job's report reads: the
/// prefetch ends before `prepare` starts the job's window).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Handover {
    written_at: i64,
    actions: Vec<String>,
    stats: Stats,
}

/// A recent `--prefetch-only`'s hand-over, claimed by this process (the file is renamed away
/// first, so of go commands that start at once only one claims it); `None` when there is none,
/// or it is stale or unreadable.
fn claim_handover(local: &Local, now: i64) -> Option<Handover> {
    let path = local.meta_path(HANDOVER);
    let mine = local.meta_path(&format!("{HANDOVER}.{}", std::process::id()));
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

/// Serves the go command until `close` or the end of input.
pub async fn serve(
    cfg: Config,
    local: Local,
    remote: Option<Remote>,
    notes: Vec<String>,
) -> Result<()> {
    let started_at = now_unix();
    let sh = shared(cfg, local, remote, &notes);
    let early = claim_handover(&sh.local, started_at);
    if let Some(h) = &early {
        let ids = h.actions.iter().filter_map(|a| protocol::parse_hex(a));
        lock(&sh.from_remote).extend(ids);
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let send = |out: &Mutex<std::io::Stdout>, r: &Response| -> Result<()> {
        let mut o = lock(out);
        o.write_all(r.to_line().as_bytes())
            .and_then(|()| o.flush())
            .context("writing to the go command")
    };
    send(&out, &Response::hello())?;

    // Requests come from a plain thread (stdin is blocking); bodies can be large, so the
    // channel is bounded.
    let (tx, mut rx) = mpsc::channel::<Result<protocol::Request>>(64);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut r = std::io::BufReader::with_capacity(1 << 20, stdin.lock());
        loop {
            let next = protocol::read_request(&mut r);
            let stop = !matches!(next, Ok(Some(_)));
            let msg = match next {
                Ok(Some(req)) => Ok(req),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.blocking_send(msg).is_err() || stop {
                break;
            }
        }
    });

    let prefetcher = tokio::spawn(prefetch(sh.clone()));
    let mut handlers: JoinSet<()> = JoinSet::new();
    let mut uploads: JoinSet<()> = JoinSet::new();
    let mut close_id = None;
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        let req = match msg {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        match req.command {
            Command::Get { action } => {
                let (sh, out) = (sh.clone(), out.clone());
                handlers.spawn(async move {
                    let resp = sh.get(req.id, action).await;
                    if let Err(e) = send(&out, &resp) {
                        sh.warn("stdout", &format!("{e:#}"));
                    }
                });
            }
            Command::Put {
                action,
                output,
                body,
            } => {
                let resp = put(&sh, &mut uploads, req.id, action, output, body);
                send(&out, &resp)?;
            }
            Command::Close => {
                close_id = Some(req.id);
                break;
            }
            Command::Unknown(c) => {
                send(
                    &out,
                    &Response::error(
                        req.id,
                        format!("go-ci-cache cacheprog: unknown command `{c}`"),
                    ),
                )?;
            }
        }
        // Reap finished tasks so the sets stay small in long builds.
        while handlers.try_join_next().is_some() {}
        while uploads.try_join_next().is_some() {}
    }
    while handlers.join_next().await.is_some() {}
    prefetcher.abort();

    // Flush: wait for the uploads, bounded.
    let left = flush(&mut uploads, sh.cfg.flush_timeout).await;
    if left > 0 {
        sh.counters
            .upload_failed("not finished within the flush timeout", left as u64);
        sh.warn(
            "flush",
            &format!(
                "{left} uploads to the remote cache did not finish within {}s and were dropped",
                sh.cfg.flush_timeout.as_secs()
            ),
        );
    }
    if sh.writes_remote() {
        write_manifest(&sh).await;
    }
    if let Some(age) = sh.cfg.local_max_age
        && let Some(r) = sh.local.trim_if_due(age, std::time::SystemTime::now())
    {
        add(&sh.counters.local_trimmed, r.removed);
        add(&sh.counters.local_trimmed_bytes, r.bytes);
    }
    write_stats(&sh, started_at, early.map(|h| h.stats));
    if let Some(id) = close_id {
        send(&out, &Response::stored(id, String::new()))?;
    }
    match failure {
        Some(e) => Err(e.context("the go command sent something this program cannot read")),
        None => Ok(()),
    }
}

/// Waits for the uploads up to `limit`; returns how many were left (and aborts them).
async fn flush(uploads: &mut JoinSet<()>, limit: std::time::Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, uploads.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => return 0,
            Err(_) => {
                let n = uploads.len();
                uploads.abort_all();
                return n;
            }
        }
    }
}

/// The fewest actions a go command must use to write a job's first manifest.
const MIN_FIRST_MANIFEST: usize = 32;

/// Merges this process's used actions into the job's manifest and uploads it, unless the
/// store's copy already lists them and is fresh ([`Manifest::covers`]): the `go env`,
/// `go list` and `go vet` of a job, and every go command of a job that builds what the last
/// one built, leave it alone. The local tier keeps the job's copy (`meta/manifests/…json`:
/// what this machine's go commands used, whether or not they wrote it) and when this machine
/// last wrote it (`….json.written`).
async fn write_manifest(sh: &Arc<Shared>) {
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

/// This process's counters now.
fn stats_now(sh: &Arc<Shared>, started_at: i64) -> Stats {
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
fn write_stats(sh: &Arc<Shared>, started_at: i64, early: Option<Stats>) {
    let mine = stats_now(sh, started_at);
    let s = match early {
        Some(e) => Stats::sum(&[e, mine]).expect("two stats"),
        None => mine,
    };
    let path =
        stats::dir(sh.local.root()).join(format!("{}-{}.json", s.finished_at, std::process::id()));
    let body = serde_json::to_vec_pretty(&s).expect("stats serialize");
    if let Err(e) = sh.local.write(&path, &body) {
        sh.warn("local", &format!("local cache: {e:#}"));
    }
}

#[cfg(test)]
mod tests {
    use super::{HANDOVER, Handover, claim_handover, pick_sibling};
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
