//! The local disk tier: outputs by OutputID (`o/<2 hex>/<hex>`, no file extension, as Go's own
//! cache names them) and action → output records per namespace (`a/<namespace>/<2 hex>/<hex>`).
//! Files are written to an exclusive temporary name and renamed, so a reader never sees half a
//! file, and nothing is written or removed through a symlink inside the tier: the tier's
//! directories are checked to be real directories before a write, and its walks follow no
//! link (a tier in a shared temporary directory cannot be made to write or delete elsewhere).
//! Under GOCACHEPROG the go command trims nothing (cmd/go/internal/cache/prog.go: a cache program is never asked to trim), so the tier trims itself as
//! Go trims its own cache: a file is touched when used (at most hourly), and at most once a day
//! the end of a go command removes what went unused for longer than the maximum age.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

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
    /// For a native output (an archive with cgo objects in it, an executable): the scope it was
    /// built in ([`super::Config::native_scope`], from the runner image). Go's action IDs do
    /// not see the C headers and libraries it was compiled against, so only a job of the same
    /// scope may use it. None for pure Go outputs, which every job may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Record {
    /// The output id, when the record is well formed.
    pub fn output_id(&self) -> Option<Id> {
        parse_hex(&self.output)
    }

    /// Whether a job of `scope` may use this record: well formed, and either pure Go or built
    /// in the same scope.
    pub fn usable(&self, scope: &str) -> bool {
        self.output_id().is_some() && self.scope.as_deref().is_none_or(|s| s == scope)
    }
}

/// Whether an output holds native code (pure): a Go archive with a member that is not Go's own
/// object format (cgo's `_x001.o`, … are ELF, Mach-O or COFF objects), or a native executable
/// or object itself. Such an output depends on the C toolchain's headers and libraries, which
/// Go's action IDs do not see.
pub fn is_native(body: &[u8]) -> bool {
    const NATIVE: [&[u8]; 6] = [
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"MZ",
    ];
    if NATIVE.iter().any(|m| body.starts_with(m)) {
        return true;
    }
    let Some(mut rest) = body.strip_prefix(b"!<arch>\n") else {
        return false;
    };
    // ar members: a 60-byte header (name, …, decimal size at 48..58, "`\n"), the data, padded
    // to an even length.
    while rest.len() >= 60 {
        let (head, tail) = rest.split_at(60);
        let Some(size) = std::str::from_utf8(&head[48..58])
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
        else {
            return false;
        };
        let data = &tail[..size.min(tail.len())];
        let name = &head[..16];
        if !name.starts_with(b"__.PKGDEF") && !data.starts_with(b"go object ") {
            return true;
        }
        rest = tail.get(size + (size & 1)..).unwrap_or_default();
    }
    false
}

/// How long a store that one go command gave up on stays off for the other go commands that
/// share its local tier: the rest of a job's steps, or the next jobs of a persistent runner.
/// Without it, each go command of a job (a `go generate` may start a hundred) would wait for
/// the same dead store and print the same warning.
pub const DOWN_FOR_SECS: i64 = 300;

/// The note a go command leaves when it gives up on a store (`meta/remote-down.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownNote {
    /// The store: its URL and endpoint ([`super::remote::Remote::store_id`]).
    pub store: String,
    /// Unix seconds when it was given up on.
    pub at: i64,
    /// Why.
    pub reason: String,
}

impl DownNote {
    /// Whether the note keeps `store` off at `now` (pure): the same store, given up on less
    /// than [`DOWN_FOR_SECS`] ago and not more than a minute in the future (a clock that
    /// jumped back must not keep a store off for long).
    pub fn applies(&self, store: &str, now: i64) -> bool {
        self.store == store && now - self.at < DOWN_FOR_SECS && self.at - now <= 60
    }
}

const DOWN_NOTE: &str = "remote-down.json";

/// The down note of the local tier at `root`, read without creating anything (for `plan`).
pub fn down_note_in(root: &Path) -> Option<DownNote> {
    let path = root.join("meta").join(DOWN_NOTE);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The local tier rooted at a directory.
#[derive(Debug, Clone)]
pub struct Local {
    root: PathBuf,
    /// Directories under the root already checked to be real directories (not symlinks).
    checked: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Local {
    /// Opens (creating) the tier; the root is made absolute, since the go command needs
    /// absolute paths.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the local cache `{}`", root.display()))?;
        let root =
            std::path::absolute(root).with_context(|| format!("resolving `{}`", root.display()))?;
        Ok(Self {
            root,
            checked: Arc::default(),
        })
    }

    /// Checks that the tier can be written: its three directories are real directories (not
    /// symlinks), and a bookkeeping file is written and removed.
    pub fn probe_writable(&self) -> Result<()> {
        for sub in ["o", "a", "meta"] {
            self.real_dir(&self.root.join(sub))?;
        }
        let p = self.meta_path("probe");
        self.write(&p, b"")?;
        let _ = std::fs::remove_file(&p);
        Ok(())
    }

    /// Writes a file of the tier atomically, its directories created as real directories: a
    /// symlink where a directory of the tier belongs is refused, never written through.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = path.parent().expect("a tier path has a parent");
        self.real_dir(dir)?;
        crate::fsutil::write_atomic(path, bytes)
            .with_context(|| format!("writing `{}`", path.display()))
    }

    /// Creates `dir` (under the root) and every directory between, refusing any that is not a
    /// real directory.
    fn real_dir(&self, dir: &Path) -> Result<()> {
        let rel = dir.strip_prefix(&self.root).map_err(|_| {
            anyhow::anyhow!(
                "`{}` is not inside the local cache `{}`",
                dir.display(),
                self.root.display()
            )
        })?;
        if lock(&self.checked).contains(dir) {
            return Ok(());
        }
        let mut at = self.root.clone();
        for c in rel.components() {
            at.push(c);
            if lock(&self.checked).contains(&at) {
                continue;
            }
            match std::fs::create_dir(&at) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("creating `{}`", at.display())),
            }
            let m = std::fs::symlink_metadata(&at)
                .with_context(|| format!("creating `{}`", at.display()))?;
            if !m.is_dir() {
                anyhow::bail!(
                    "`{}` is not a directory (a symbolic link or a file); the local cache writes nothing through it",
                    at.display()
                );
            }
            lock(&self.checked).insert(at.clone());
        }
        Ok(())
    }

    /// Whether a warning of this text should be printed now: once per job, that is once in
    /// ten minutes on this tier (the go commands of one job each start a cache program).
    pub fn warn_once(&self, text: &str, now: i64) -> bool {
        use sha2::Digest;
        let d = sha2::Sha256::digest(text.as_bytes());
        let p = self.meta_path(&format!("warned/{}", &hex(&d.into())[..16]));
        let last = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        if last.is_some_and(|t| (0..WARN_AGAIN_SECS).contains(&(now - t))) {
            return false;
        }
        let _ = self.write(&p, format!("{now}\n").as_bytes());
        true
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

    /// Whether the output is here, a regular file (never a symlink) of the expected size.
    pub fn has_output(&self, output: &Id, size: u64) -> bool {
        std::fs::symlink_metadata(self.output_path(output))
            .is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Refreshes a used output's mtime (at most hourly, as Go does for its own cache), so the
    /// trim keeps it.
    pub fn touch(&self, output: &Id) {
        touch_path(&self.output_path(output));
    }

    /// Refreshes a used record's mtime, as [`Local::touch`] does an output's.
    pub fn touch_record(&self, ns: &str, action: &Id) {
        touch_path(&self.record_path(ns, action));
    }

    /// Stores an output body (already verified or produced by the go command); returns its path.
    pub fn put_output(&self, output: &Id, body: &[u8]) -> Result<PathBuf> {
        let path = self.output_path(output);
        if self.has_output(output, body.len() as u64) {
            touch_path(&path);
            return Ok(path);
        }
        self.write(&path, body)?;
        Ok(path)
    }

    /// Records an action's output in a namespace.
    pub fn put_record(&self, ns: &str, action: &Id, rec: &Record) -> Result<()> {
        self.write(
            &self.record_path(ns, action),
            &serde_json::to_vec(rec).expect("a record serializes"),
        )
    }

    /// The action's record in a namespace, if any and well formed (whether this job may use it
    /// is [`Record::usable`]).
    pub fn record(&self, ns: &str, action: &Id) -> Option<Record> {
        let bytes = std::fs::read(self.record_path(ns, action)).ok()?;
        let rec: Record = serde_json::from_slice(&bytes).ok()?;
        rec.output_id().map(|_| rec)
    }

    /// The note that a go command gave up on a store, if any is readable.
    pub fn down_note(&self) -> Option<DownNote> {
        down_note_in(&self.root)
    }

    /// Leaves the note that this go command gave up on `store`.
    pub fn note_down(&self, store: &str, reason: &str, now: i64) -> Result<()> {
        let note = DownNote {
            store: store.to_string(),
            at: now,
            reason: reason.to_string(),
        };
        self.write(
            &self.meta_path(DOWN_NOTE),
            &serde_json::to_vec(&note).expect("a note serializes"),
        )
    }

    /// A file in the tier's own bookkeeping directory (manifests used, statistics).
    pub fn meta_path(&self, rel: &str) -> PathBuf {
        self.root.join("meta").join(rel)
    }

    /// Trims the tier when its last trim is [`TRIM_EVERY`] old: removes the files unused for
    /// longer than `max_age` (see [`Local::trim`]). A tier without a trim stamp gets one now and
    /// is first trimmed a day later, as Go does with its cache's `trim.txt`. The stamp is
    /// written before the walk, so of the go commands that end at once only one trims.
    pub fn trim_if_due(&self, max_age: Duration, now: SystemTime) -> Option<Removed> {
        let stamp = self.meta_path(TRIM_STAMP);
        let now_s = unix(now);
        let last = std::fs::read_to_string(&stamp)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let due = last.is_some_and(|t| now_s.saturating_sub(t) >= TRIM_EVERY.as_secs() as i64);
        if last.is_some() && !due {
            return None;
        }
        self.write(&stamp, format!("{now_s}\n").as_bytes()).ok()?;
        due.then(|| {
            self.trim(
                now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH),
                false,
            )
        })
    }

    /// Removes the files of `o/`, `a/` and `meta/` (the trim stamp aside) last modified before
    /// `cutoff`; with `dry_run`, prints their paths instead. Used files are touched at most
    /// hourly, so with a cutoff hours in the past nothing a live go command uses goes. Only
    /// regular files under those three directories are ever removed; directories stay. No
    /// symlink is followed, not even one standing where `o/`, `a/` or `meta/` belongs: a
    /// symlink is neither walked into nor removed.
    pub fn trim(&self, cutoff: SystemTime, dry_run: bool) -> Removed {
        let mut r = Removed::default();
        let stamp = self.meta_path(TRIM_STAMP);
        for sub in ["o", "a", "meta"] {
            for e in walkdir::WalkDir::new(self.root.join(sub))
                .follow_links(false)
                .follow_root_links(false)
                .into_iter()
                .flatten()
            {
                if !e.file_type().is_file()
                    || e.path() == stamp
                    || !crate::cache::remove::within(&self.root, e.path())
                {
                    continue;
                }
                r.listed += 1;
                let Ok(m) = e.metadata() else { continue };
                if !m.modified().is_ok_and(|t| t < cutoff) {
                    continue;
                }
                if dry_run {
                    println!("{}", e.path().display());
                } else if let Err(err) = std::fs::remove_file(e.path()) {
                    // Another go command's trim got there first.
                    if err.kind() != std::io::ErrorKind::NotFound {
                        r.errors += 1;
                    }
                    continue;
                }
                r.removed += 1;
                r.bytes += m.len();
            }
        }
        r
    }
}

/// A warning [`Local::warn_once`] printed is not printed again on this tier for this long.
pub const WARN_AGAIN_SECS: i64 = 600;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often the tier trims itself, at most (Go's own cache: once a day).
pub const TRIM_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The trim stamp under `meta/`: the Unix time of the last trim.
const TRIM_STAMP: &str = "trim.txt";

/// What a trim removed (or would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Objects or files looked at.
    pub listed: u64,
    /// Removed (or, with --dry-run, to remove).
    pub removed: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Failures.
    pub errors: u64,
    /// Older than the age but kept: live manifests list them, or may (the store's sweep only).
    pub kept_in_use: u64,
    /// Live manifests that could not be read (the store's sweep only): what their namespaces'
    /// records name was kept instead.
    #[serde(default)]
    pub unreadable_manifests: u64,
}

/// A time as Unix seconds (0 before the epoch).
pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Sets a file's mtime to now when it is more than an hour old (Go's own granularity: a
/// touch per use would cost a write per lookup). Only a regular file: a symlink's target is
/// never touched.
fn touch_path(p: &Path) {
    let now = filetime::FileTime::now();
    let stale = std::fs::symlink_metadata(p)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| filetime::FileTime::from_last_modification_time(&m))
        .is_some_and(|t| now.unix_seconds() - t.unix_seconds() > 3600);
    if stale {
        let _ = filetime::set_file_mtime(p, now);
    }
}

#[cfg(test)]
mod tests;
