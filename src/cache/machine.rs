//! The machine record: what a machine's local caches hold, so a job on a machine that keeps its
//! disks restores nothing the caches already have, and a budget trim replaces the use-based one.
//!
//! Each cache root holds one small file per entry kind, configuration and project
//! (`<root>/.go-ci-cache-machine/<id>.json`: the key the job used and when), written by `trim`
//! at the end of a job. A record counts only where it was written: its change time (ctime; the
//! creation time where there is none) must match its modification time, which tar, zip, `cp -a`
//! and rsync cannot arrange — a record that arrives in a restored archive, or in a cache copied
//! from another machine, has an mtime from the past and a ctime of now. So a fresh runner from
//! the same image, which restores an archive that holds a record, still restores.
//!
//! The decisions — [`judge`] (is this machine's cache persistent?), [`holds`] (does it hold
//! this entry?) and [`narrowed_restore_keys`] (what is still worth looking up?) — are pure;
//! [`read`], [`write`], [`any_valid`] and [`filled`] touch the disk.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Directory of the records inside a cache root (a dot name: neither a module path element
/// nor a GOCACHE entry directory, so Go and the trims never take it for theirs).
pub const DIR: &str = ".go-ci-cache-machine";

/// How far apart a record's change (or creation) time and modification time may be for it to
/// count as written on this machine. A rename right after the write keeps them microseconds
/// apart; an archive restored here has its mtime from the save, long before.
pub const BINDING_SLACK_SECS: f64 = 2.0;

/// One entry kind of one configuration and project, as a job on this machine left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The entry's prune prefix (kind, configuration and project): which entry this is.
    pub prefix: String,
    /// The key the job used (the modules key: its dependency set; the build key, whose first
    /// restore key is the same dependency set and configuration).
    pub key: String,
    /// The cache root the record describes, as the job saw it.
    pub root: String,
    /// Unix seconds of the job's end.
    pub used_at: i64,
}

/// Whether a machine's caches are treated as persistent, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Persistent: the caches outlive the job (budget trim, nothing restored that they hold).
    pub persistent: bool,
    /// The reason, for the log and the report.
    pub why: String,
}

/// What [`judge`] looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signs {
    /// `--persistent true|false`; `None` for `auto`.
    pub forced: Option<bool>,
    /// A GitHub-hosted runner (`RUNNER_ENVIRONMENT=github-hosted`): one machine per job.
    pub hosted: bool,
    /// A record written on this machine is in either cache root.
    pub record: bool,
    /// The cache roots held entries before this job restored anything; `None` when unknown
    /// (the restore already happened, or the CI extracted its cache before the job started).
    pub filled_before: Option<bool>,
}

/// Is this machine's cache persistent? (pure)
pub fn judge(s: Signs) -> Verdict {
    let v = |persistent: bool, why: &str| Verdict {
        persistent,
        why: why.to_string(),
    };
    match s.forced {
        Some(true) => return v(true, "`persistent` is `true`"),
        Some(false) => return v(false, "`persistent` is `false`"),
        None => {}
    }
    if s.hosted {
        return v(
            false,
            "a GitHub-hosted runner: one machine per job (RUNNER_ENVIRONMENT=github-hosted)",
        );
    }
    if s.record {
        return v(
            true,
            "an earlier job on this machine left its record in the cache directories",
        );
    }
    if s.filled_before == Some(true) {
        return v(
            true,
            "the cache directories held entries before this job restored anything",
        );
    }
    v(
        false,
        "no sign that the caches outlive this job: no record of an earlier job here, and the cache directories were empty",
    )
}

/// Whether the local cache holds an entry (pure): on a persistent machine, a record of the same
/// entry (prefix) whose key is `want` (modules: the same dependency set) or starts with
/// `same_set` (build: the first restore key, the same dependency set and configuration).
/// Returns the held key, or why not.
pub fn holds(
    verdict: &Verdict,
    record: Option<&Record>,
    want: &str,
    same_set: Option<&str>,
) -> Result<String, String> {
    if !verdict.persistent {
        return Err("the caches do not outlive the job".into());
    }
    let Some(r) = record else {
        return Err("no job on this machine left a record of this entry".into());
    };
    let same = r.key.eq_ignore_ascii_case(want)
        || same_set.is_some_and(|p| {
            !p.is_empty()
                && r.key
                    .to_ascii_lowercase()
                    .starts_with(&p.to_ascii_lowercase())
        });
    if same {
        Ok(r.key.clone())
    } else {
        Err(format!(
            "the last job here of this configuration used another dependency set (`{}`)",
            r.key
        ))
    }
}

/// What the restore may still look up when the machine does not hold the entry (pure): `None`
/// for the entry's own restore keys, or the narrower list to use instead.
///
/// A persistent machine whose record of this entry (the same kind, configuration and project)
/// names another dependency set holds that set's work. A restore key would match an entry of
/// an earlier set, most likely the very one the machine holds, and extracting it over the
/// caches brings back only what they already have (a dependency bump's pull request or first
/// default-branch run). So only an entry of this job's dependency set is looked up: the exact
/// key, plus `same_set` (the build entry's first restore key, another run's entry of this set
/// and configuration, when the key has a per-run layer). The job fetches and compiles the rest
/// as the bare machine would.
pub fn narrowed_restore_keys(
    verdict: &Verdict,
    record: Option<&Record>,
    held: bool,
    same_set: Option<&str>,
) -> Option<Vec<String>> {
    (verdict.persistent && record.is_some() && !held).then(|| {
        same_set
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .into_iter()
            .collect()
    })
}

/// The record file of an entry (its prune prefix) in a cache root.
pub fn path(root: &Path, prefix: &str) -> PathBuf {
    let id = &crate::key::sha256_hex(prefix.as_bytes())[..16];
    root.join(DIR).join(format!("{id}.json"))
}

/// Whether a file was written where it is (see the module documentation): its change time (or
/// creation time) within [`BINDING_SLACK_SECS`] of its modification time.
pub fn written_here(meta: &std::fs::Metadata) -> bool {
    let Ok(m) = meta.modified() else {
        return false;
    };
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    #[cfg(unix)]
    let changed = {
        use std::os::unix::fs::MetadataExt;
        meta.ctime() as f64 + meta.ctime_nsec() as f64 / 1e9
    };
    #[cfg(not(unix))]
    let changed = match meta.created() {
        Ok(c) => secs(c),
        Err(_) => return false,
    };
    (changed - secs(m)).abs() <= BINDING_SLACK_SECS
}

/// The record of an entry in a root, when one was written here for this root.
pub fn read(root: &Path, prefix: &str) -> Option<Record> {
    let p = path(root, prefix);
    let meta = std::fs::symlink_metadata(&p).ok()?;
    if !meta.is_file() || !written_here(&meta) {
        return None;
    }
    let r: Record = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
    (r.prefix == prefix && Path::new(&r.root) == root).then_some(r)
}

/// Whether any record in the root was written here for this root.
pub fn any_valid(root: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(root.join(DIR)) else {
        return false;
    };
    rd.flatten().any(|e| {
        e.file_name().to_string_lossy().ends_with(".json")
            && std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file() && written_here(&m))
            && std::fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
                .is_some_and(|r| Path::new(&r.root) == root)
    })
}

/// Writes (replaces) the record of an entry.
pub fn write(root: &Path, record: &Record) -> anyhow::Result<()> {
    let p = path(root, &record.prefix);
    std::fs::create_dir_all(p.parent().expect("a record has a directory"))?;
    crate::output::sink::replace(&p, &serde_json::to_string(record)?, "the machine record")
}

/// Which cache a root is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// GOMODCACHE.
    Modules,
    /// GOCACHE.
    Build,
}

/// Fewer build-cache files than this are not a filled cache: a `go env` stores about ten cgo
/// probe results, while any build cache that served a job holds the standard library's
/// compiled packages, hundreds of files.
pub const BUILD_FILLED_MIN: usize = 64;

/// Whether a root holds cache entries (not just what a `go env` leaves): GOCACHE has at least
/// [`BUILD_FILLED_MIN`] files in its `00`…`ff` directories; GOMODCACHE has `cache/download/`
/// with something in it.
pub fn filled(root: &Path, kind: Root) -> bool {
    let nonempty = |d: &Path| std::fs::read_dir(d).is_ok_and(|mut r| r.next().is_some());
    match kind {
        Root::Modules => nonempty(&root.join("cache").join("download")),
        Root::Build => {
            let Ok(rd) = std::fs::read_dir(root) else {
                return false;
            };
            let mut n = 0;
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.len() != 2
                    || !name.bytes().all(|b| b.is_ascii_hexdigit())
                    || !e.file_type().is_ok_and(|t| t.is_dir())
                {
                    continue;
                }
                n += std::fs::read_dir(e.path()).map_or(0, Iterator::count);
                if n >= BUILD_FILLED_MIN {
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signs(forced: Option<bool>, hosted: bool, record: bool, filled: Option<bool>) -> Signs {
        Signs {
            forced,
            hosted,
            record,
            filled_before: filled,
        }
    }

    #[test]
    fn judge_table() {
        // (forced, hosted, record, filled before) → persistent
        let table = [
            (Some(true), true, false, Some(false), true),
            (Some(false), false, true, Some(true), false),
            (None, true, true, Some(true), false),
            (None, false, true, Some(false), true),
            (None, false, true, None, true),
            (None, false, false, Some(true), true),
            (None, false, false, Some(false), false),
            (None, false, false, None, false),
        ];
        for (f, h, r, b, want) in table {
            let v = judge(signs(f, h, r, b));
            assert_eq!(v.persistent, want, "{f:?} {h} {r} {b:?}: {}", v.why);
            assert!(!v.why.is_empty());
        }
    }

    #[test]
    fn holds_table() {
        let yes = judge(signs(Some(true), false, false, None));
        let no = judge(signs(Some(false), false, false, None));
        let rec = |key: &str| Record {
            prefix: "p".into(),
            key: key.into(),
            root: "/c".into(),
            used_at: 1,
        };
        let m = rec("go-ci-cache-mod-v1-linux-aaaa");
        assert_eq!(
            holds(&yes, Some(&m), "go-ci-cache-mod-v1-linux-aaaa", None).as_deref(),
            Ok("go-ci-cache-mod-v1-linux-aaaa")
        );
        assert!(holds(&yes, Some(&m), "go-ci-cache-mod-v1-linux-bbbb", None).is_err());
        assert!(holds(&no, Some(&m), "go-ci-cache-mod-v1-linux-aaaa", None).is_err());
        assert!(holds(&yes, None, "x", None).is_err());
        // The build entry: another run's key of the same dependency set and configuration.
        let b = rec("go-ci-cache-build-v1-cfg-deps1-r7.1");
        assert!(
            holds(
                &yes,
                Some(&b),
                "go-ci-cache-build-v1-cfg-deps1-r9.1",
                Some("Go-CI-Cache-build-v1-cfg-deps1-")
            )
            .is_ok()
        );
        assert!(
            holds(
                &yes,
                Some(&b),
                "go-ci-cache-build-v1-cfg-deps2-r9.1",
                Some("go-ci-cache-build-v1-cfg-deps2-")
            )
            .is_err()
        );
        assert!(holds(&yes, Some(&b), "x", Some("")).is_err());
    }

    #[test]
    fn an_earlier_dependency_set_narrows_the_restore_to_this_one() {
        let yes = judge(signs(Some(true), false, false, None));
        let no = judge(signs(Some(false), false, false, None));
        let rec = Record {
            prefix: "p".into(),
            key: "go-ci-cache-build-v1-cfg-deps1-r7.1".into(),
            root: "/c".into(),
            used_at: 1,
        };
        let same = Some("go-ci-cache-build-v1-cfg-deps2-");
        // (verdict, record, held, same_set) → the restore keys to use instead of the entry's.
        type Row<'a> = (
            &'a Verdict,
            Option<&'a Record>,
            bool,
            Option<&'a str>,
            Option<Vec<&'a str>>,
        );
        let table: [Row; 6] = [
            // An earlier set here: this set's entries only.
            (
                &yes,
                Some(&rec),
                false,
                same,
                Some(vec!["go-ci-cache-build-v1-cfg-deps2-"]),
            ),
            // Modules (no per-run layer): the exact key only.
            (&yes, Some(&rec), false, None, Some(vec![])),
            (&yes, Some(&rec), false, Some(""), Some(vec![])),
            // Held: nothing is restored at all (the caller skips the restore).
            (&yes, Some(&rec), true, same, None),
            // No record of this configuration here, or caches that do not persist: as today.
            (&yes, None, false, same, None),
            (&no, Some(&rec), false, same, None),
        ];
        for (v, r, held, set, want) in table {
            let want = want.map(|w| w.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(
                narrowed_restore_keys(v, r, held, set),
                want,
                "{} {:?} {held} {set:?}",
                v.persistent,
                r.map(|r| &r.key)
            );
        }
    }

    #[test]
    fn a_record_counts_only_where_it_was_written() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("gocache");
        std::fs::create_dir_all(&root).unwrap();
        let r = Record {
            prefix: "go-ci-cache-build-v1-x-".into(),
            key: "go-ci-cache-build-v1-x-d-r1.1".into(),
            root: root.display().to_string(),
            used_at: 5,
        };
        assert!(!any_valid(&root));
        write(&root, &r).unwrap();
        assert_eq!(read(&root, &r.prefix), Some(r.clone()));
        assert!(any_valid(&root));
        assert_eq!(read(&root, "another"), None);
        // Copied as tar or cp -a copy it (the mtime from the past, the ctime of now): not here.
        let p = path(&root, &r.prefix);
        let past = filetime::FileTime::from_unix_time(1_700_000_000, 0);
        filetime::set_file_mtime(&p, past).unwrap();
        assert_eq!(read(&root, &r.prefix), None);
        assert!(!any_valid(&root));
        // A record written for another root (a directory moved or copied) does not count.
        let other = t.path().join("moved");
        std::fs::create_dir_all(&other).unwrap();
        write(&other, &r).unwrap();
        assert_eq!(read(&other, &r.prefix), None);
        assert!(!any_valid(&other));
    }

    #[test]
    fn filled_ignores_the_skeleton() {
        let t = tempfile::tempdir().unwrap();
        let g = t.path().join("g");
        std::fs::create_dir_all(g.join("00")).unwrap();
        std::fs::write(g.join("README"), "x").unwrap();
        std::fs::create_dir_all(g.join(DIR)).unwrap();
        std::fs::write(g.join(DIR).join("x.json"), "{}").unwrap();
        assert!(!filled(&g, Root::Build));
        for i in 0..BUILD_FILLED_MIN - 1 {
            std::fs::write(g.join("00").join(format!("{i:064}-a")), "v1").unwrap();
        }
        assert!(!filled(&g, Root::Build), "a go env's probes");
        std::fs::create_dir_all(g.join("ff")).unwrap();
        std::fs::write(g.join("ff").join(format!("{}-d", "f".repeat(64))), "x").unwrap();
        assert!(filled(&g, Root::Build));
        let m = t.path().join("m");
        std::fs::create_dir_all(m.join("cache/download")).unwrap();
        assert!(!filled(&m, Root::Modules));
        std::fs::create_dir_all(m.join("cache/download/example.com")).unwrap();
        assert!(filled(&m, Root::Modules));
    }
}
