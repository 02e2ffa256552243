//! The local disk tier: outputs by OutputID (`o/<2 hex>/<hex>`, no file extension, as Go's own
//! cache names them) and action → output records per namespace (`a/<namespace>/<2 hex>/<hex>`).
//! Files are written to an exclusive temporary name and renamed, so a reader never sees half a
//! file, and nothing is written or removed through a symlink inside the tier: the tier's
//! directories are checked to be real directories before a write, and its walks follow no
//! link (a tier in a shared temporary directory cannot be made to write or delete elsewhere).
//! Under GOCACHEPROG the go command trims nothing (go-caches.md §5), so the tier trims itself as
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
                    || !crate::remove::within(&self.root, e.path())
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
            scope: None,
        };
        l.put_record("ref-refs/pull/1/merge", &a, &rec).unwrap();
        assert_eq!(l.record("ref-refs/pull/1/merge", &a), Some(rec));
        assert_eq!(l.record("trusted", &a), None);
    }

    #[test]
    fn a_down_note_keeps_the_same_store_off_for_a_while() {
        let n = DownNote {
            store: "s3://b/p at http://127.0.0.1:9000".into(),
            at: 1_000_000,
            reason: "no answer within 10s".into(),
        };
        let s = n.store.clone();
        for (store, now, off) in [
            (s.as_str(), 1_000_000, true),
            (s.as_str(), 1_000_000 + DOWN_FOR_SECS - 1, true),
            (s.as_str(), 1_000_000 + DOWN_FOR_SECS, false),
            // Another store, or the same bucket through another endpoint, is asked.
            ("s3://b/p", 1_000_001, false),
            ("s3://b/q at http://127.0.0.1:9000", 1_000_001, false),
            // A clock set back by more than a minute does not keep the store off.
            (s.as_str(), 1_000_000 - 60, true),
            (s.as_str(), 1_000_000 - 61, false),
        ] {
            assert_eq!(n.applies(store, now), off, "{store} at {now}");
        }
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(dir.path()).unwrap();
        assert_eq!(l.down_note(), None);
        l.note_down(&n.store, &n.reason, n.at).unwrap();
        assert_eq!(l.down_note(), Some(n));
        std::fs::write(l.meta_path(DOWN_NOTE), b"{").unwrap();
        assert_eq!(l.down_note(), None);
    }

    fn age(p: &Path, secs: i64) {
        let t =
            filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
        filetime::set_file_mtime(p, t).unwrap();
    }

    #[test]
    fn trims_once_a_day_what_went_unused() {
        const DAY: i64 = 86_400;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        let l = Local::open(&root).unwrap();
        let rec = |o: &Id| Record {
            output: hex(o),
            size: 4,
            time: "2026-01-01T00:00:00Z".into(),
            scope: None,
        };
        // Old and unused; old but used now (a hit touches output and record); fresh.
        let (old_a, old_o) = ([1u8; 32], [2u8; 32]);
        let (used_a, used_o) = ([3u8; 32], [4u8; 32]);
        let (new_a, new_o) = ([5u8; 32], [6u8; 32]);
        for (a, o) in [(old_a, old_o), (used_a, used_o), (new_a, new_o)] {
            l.put_output(&o, b"body").unwrap();
            l.put_record("trusted", &a, &rec(&o)).unwrap();
        }
        let stats = root.join("meta/stats/1-1.json");
        l.write(&stats, b"{}").unwrap();
        let outside = dir.path().join("beside.txt");
        std::fs::write(&outside, "not the tier's").unwrap();
        for p in [
            l.output_path(&old_o),
            l.record_path("trusted", &old_a),
            l.output_path(&used_o),
            l.record_path("trusted", &used_a),
            stats.clone(),
            outside.clone(),
        ] {
            age(&p, 10 * DAY);
        }
        l.touch(&used_o);
        l.touch_record("trusted", &used_a);
        let five = Duration::from_secs(5 * DAY as u64);
        let now = SystemTime::now();

        // No stamp yet: one is written and nothing goes (as a new Go cache does).
        assert_eq!(l.trim_if_due(five, now), None);
        assert!(l.has_output(&old_o, 4));
        // A day has not passed.
        assert_eq!(l.trim_if_due(five, now + Duration::from_secs(3600)), None);
        assert!(l.has_output(&old_o, 4));

        let record_bytes = std::fs::metadata(l.record_path("trusted", &old_a))
            .unwrap()
            .len();
        let later = now + TRIM_EVERY;
        let r = l.trim_if_due(five, later).expect("a day later it trims");
        assert_eq!(
            (r.listed, r.removed, r.bytes, r.errors),
            (7, 3, 4 + record_bytes + 2, 0)
        );
        assert!(!l.has_output(&old_o, 4) && l.record("trusted", &old_a).is_none());
        assert!(!stats.exists());
        assert!(l.has_output(&used_o, 4) && l.record("trusted", &used_a).is_some());
        assert!(l.has_output(&new_o, 4) && l.record("trusted", &new_a).is_some());
        assert!(outside.exists(), "nothing outside the tier is touched");
        // The stamp moved: not again the same day.
        assert_eq!(l.trim_if_due(five, later + Duration::from_secs(60)), None);
    }

    /// An ar archive of the given members, as `pack` writes Go archives.
    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = b"!<arch>\n".to_vec();
        for (name, data) in members {
            b.extend(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    644,
                    data.len()
                )
                .as_bytes(),
            );
            b.extend_from_slice(data);
            if data.len() % 2 == 1 {
                b.push(b'\n');
            }
        }
        b
    }

    #[test]
    fn native_outputs_are_told_from_pure_go_ones() {
        let pkgdef: &[u8] = b"go object linux amd64 go1.26.8 X:none\n$$B\n";
        let go: &[u8] = b"go object linux amd64 go1.26.8 X:none\n!\n\x00go120ld";
        let elf: &[u8] = b"\x7fELF\x02\x01\x01\x00rest";
        // A pure package, one with assembly (Go's own object format), and a cgo one.
        assert!(!is_native(&archive(&[
            ("__.PKGDEF", pkgdef),
            ("_go_.o", go)
        ])));
        assert!(!is_native(&archive(&[
            ("__.PKGDEF", pkgdef),
            ("_go_.o", go),
            ("asm_amd64.o", go)
        ])));
        assert!(is_native(&archive(&[
            ("__.PKGDEF", pkgdef),
            ("_go_.o", go),
            ("_x001.o", elf)
        ])));
        // Executables and objects of every platform's format.
        for magic in [&b"\x7fELF"[..], b"\xcf\xfa\xed\xfe", b"MZ\x90\x00"] {
            assert!(is_native(magic), "{magic:?}");
        }
        // Anything else (test results, vet facts, Go's module index).
        for other in [
            &b"ok  \texample.com/x\t0.1s\n"[..],
            b"go index v2\n",
            b"",
            b"!<arch>\nshort",
        ] {
            assert!(!is_native(other), "{other:?}");
        }
        let scoped = Record {
            output: hex(&[1; 32]),
            size: 1,
            time: String::new(),
            scope: Some("image-aaaa".into()),
        };
        assert!(scoped.usable("image-aaaa"));
        assert!(!scoped.usable("image-bbbb"));
        let pure = Record {
            scope: None,
            ..scoped.clone()
        };
        assert!(pure.usable("image-bbbb"));
        assert!(
            !Record {
                output: "zz".into(),
                ..pure
            }
            .usable("image-bbbb")
        );
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_written_or_removed_through_a_symlink_in_the_tier() {
        const DAY: i64 = 86_400;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(outside.join("ab")).unwrap();
        let victim = outside.join("ab").join("old");
        std::fs::write(&victim, "not the tier's").unwrap();
        age(&victim, 30 * DAY);
        let root = dir.path().join("tier");
        let l = Local::open(&root).unwrap();
        // A planted link where the outputs' directory belongs: the daily trim and
        // `cacheprog-gc --local` walk nothing through it, and writes refuse it.
        std::os::unix::fs::symlink(&outside, root.join("o")).unwrap();
        let r = l.trim(SystemTime::now(), false);
        assert_eq!(r.removed, 0, "{r:?}");
        assert!(victim.exists());
        let err = l.put_output(&[0xab; 32], b"body").unwrap_err();
        assert!(format!("{err:#}").contains("not a directory"), "{err:#}");
        assert_eq!(std::fs::read_dir(outside.join("ab")).unwrap().count(), 1);
        // A link deeper down (one namespace's directory) is refused the same way.
        std::fs::remove_file(root.join("o")).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a").join("trusted")).unwrap();
        let rec = Record {
            output: hex(&[2; 32]),
            size: 4,
            time: String::new(),
            scope: None,
        };
        assert!(l.put_record("trusted", &[0xab; 32], &rec).is_err());
        assert_eq!(std::fs::read_dir(outside.join("ab")).unwrap().count(), 1);
        assert_eq!(l.trim(SystemTime::now(), false).removed, 0);
        assert!(victim.exists());
        // The tier's own files still go.
        l.put_output(&[0xcd; 32], b"body").unwrap();
        age(&l.output_path(&[0xcd; 32]), 30 * DAY);
        assert_eq!(
            l.trim(SystemTime::now() - Duration::from_secs(DAY as u64), false)
                .removed,
            1
        );
    }
}
