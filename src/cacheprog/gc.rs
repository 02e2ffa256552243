//! `cacheprog-gc`: removes objects older than an age from the store and, with `--local`, old
//! files from the local tier. It lists and deletes only under the cache's own layout
//! (`<prefix>/v1/` in the bucket; `o/`, `a/` and `meta/` in the local directory), never
//! anything else.
//!
//! Objects are written once, so in the store age is "last written", not "last used". A sweep by
//! age alone (what a lifecycle rule does) would also expire what every job still uses, all of a
//! week's writes in the same week. So the sweep first marks what the live manifests list (those
//! written within the age: each job rewrites its own at every run, with what it used in the last
//! seven days) and keeps those outputs and records however old; `--by-age` sweeps by age alone.
//!
//! Anyone who may write the bucket can put anything there, so the sweep trusts no manifest to be
//! readable: one that cannot be read (garbage, another version's, larger than a manifest can be,
//! or the store failed to serve it) stops nothing. What it would have kept is kept instead,
//! by namespace: every record of its namespace, and every output those records name; when a
//! record of such a namespace cannot be read either, no output is removed at all. Each such
//! manifest is named in a warning.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;

use anyhow::Result;

use super::local::Removed;
use super::manifest::Manifest;
use super::remote::Remote;
use crate::error::usage;

/// Parses an age: a whole number and a unit, `d`, `h`, `m` or `s`.
pub fn parse_age(s: &str) -> Result<Duration> {
    let t = s.trim();
    let hint = "give an age such as `30d`, `12h`, `90m` or `3600s`";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| usage(format!("age `{s}` is not a number and a unit"), hint))?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => return Err(usage(format!("age `{s}` has no unit"), hint)),
    };
    match secs {
        Some(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(usage(format!("age `{s}` is out of range"), hint)),
    }
}

/// Deletes and manifest reads in flight at once.
const GC_CONCURRENCY: usize = 32;

/// A live manifest larger than this is not one a go command wrote (they hold at most 200 000
/// entries of about 200 bytes): it is not read, and counts as unreadable.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// What the live manifests list: outputs and actions, by hex id. An action is kept in every
/// namespace (a pull request's manifest lists the `trusted` records it read). Namespaces with
/// an unreadable live manifest keep every record; `all_outputs` keeps every output.
#[derive(Debug, Default)]
pub struct Marked {
    outputs: HashSet<String>,
    actions: HashSet<String>,
    namespaces: HashSet<String>,
    all_outputs: bool,
}

impl Marked {
    /// Adds a manifest's entries.
    pub fn add(&mut self, m: &Manifest) {
        for e in &m.entries {
            self.outputs.insert(e.record.output.clone());
            self.actions.insert(e.action.clone());
        }
    }
}

/// Whether an object last written before the cutoff goes (pure). `rel` is its path under the
/// cache's root (`o/<OutputID>`, `a/<namespace>/<ActionID>`, `m/<namespace>/<name>.json`); with
/// `marked` (the live manifests' entries), outputs and records they list stay. An old manifest
/// is not live, so it goes, as does anything else old under the root.
pub fn removable(rel: &str, marked: Option<&Marked>) -> bool {
    let Some(m) = marked else { return true };
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["o", out] => !m.all_outputs && !m.outputs.contains(*out),
        ["a", ns, action] => !m.namespaces.contains(*ns) && !m.actions.contains(*action),
        _ => true,
    }
}

/// The namespace segment of a manifest's path under the root (`m/<namespace>/<name>.json`).
fn manifest_namespace(rel: &str) -> Option<&str> {
    let mut parts = rel.split('/');
    (parts.next()? == "m").then_some(())?;
    parts.next()
}

/// The manifests that are live: written at or after the cutoff.
fn is_live_manifest(rel: &str, time: i64, cutoff: i64) -> bool {
    rel.starts_with("m/") && rel.ends_with(".json") && time >= cutoff
}

pub async fn trim_remote(
    remote: &Remote,
    cutoff: i64,
    dry_run: bool,
    keep_listed: bool,
) -> Result<Removed> {
    let root = remote.root();
    // Each object with its path under the root, worked out once.
    let all: Vec<_> = remote
        .list_all()
        .await?
        .into_iter()
        .map(|(p, size, t)| {
            let rel = p
                .prefix_match(&root)
                .map(|parts| {
                    parts
                        .map(|x| x.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            (p, rel, size, t)
        })
        .collect();
    let mut marked = None;
    let mut unreadable = 0u64;
    if keep_listed {
        // Mark what every live manifest lists.
        let live: Vec<_> = all
            .iter()
            .filter(|(_, rel, _, t)| is_live_manifest(rel, *t, cutoff))
            .collect();
        let reads: Vec<_> = futures::stream::iter(live.iter())
            .map(|(p, rel, size, _)| async move {
                let got = if *size > MAX_MANIFEST_BYTES {
                    Err(format!("{} bytes, more than a manifest holds", size))
                } else {
                    match remote.manifest_at(p).await {
                        Ok(Some(bytes)) => Manifest::parse(&bytes)
                            .map(Some)
                            .ok_or_else(|| "not a manifest this version reads".to_string()),
                        // Removed since the listing: nothing to keep for it.
                        Ok(None) => Ok(None),
                        Err(e) => Err(e.to_string()),
                    }
                };
                (p, rel.as_str(), got)
            })
            .buffer_unordered(GC_CONCURRENCY)
            .collect()
            .await;
        let mut m = Marked::default();
        for (p, rel, got) in reads {
            match got {
                Ok(Some(man)) => m.add(&man),
                Ok(None) => {}
                Err(why) => {
                    unreadable += 1;
                    if let Some(ns) = manifest_namespace(rel) {
                        m.namespaces.insert(ns.to_string());
                    }
                    eprintln!(
                        "go-ci-cache: warning: manifest `{p}` cannot be read ({why}); every record of its namespace and every output they name are kept"
                    );
                }
            }
        }
        // What the records of those namespaces name is kept too: read them.
        if !m.namespaces.is_empty() {
            let records: Vec<_> = all
                .iter()
                .filter(|(_, rel, _, _)| {
                    let parts: Vec<&str> = rel.split('/').collect();
                    matches!(parts.as_slice(), ["a", ns, _] if m.namespaces.contains(*ns))
                })
                .map(|(p, _, _, _)| p)
                .collect();
            let outs: Vec<_> = futures::stream::iter(records)
                .map(|p| async move { remote.record_at(p).await })
                .buffer_unordered(GC_CONCURRENCY)
                .collect()
                .await;
            for o in outs {
                match o {
                    Ok(Some(out)) => {
                        m.outputs.insert(out);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        if !m.all_outputs {
                            eprintln!(
                                "go-ci-cache: warning: a record of a namespace whose manifest cannot be read cannot be read either ({e}); no output is removed this time"
                            );
                        }
                        m.all_outputs = true;
                    }
                }
            }
        }
        marked = Some(m);
    }
    let mut r = Removed {
        listed: all.len() as u64,
        unreadable_manifests: unreadable,
        ..Removed::default()
    };
    let mut old = Vec::new();
    for (p, rel, size, t) in all {
        if t >= cutoff {
            continue;
        }
        if removable(&rel, marked.as_ref()) {
            old.push((p, size));
        } else {
            r.kept_in_use += 1;
        }
    }
    if dry_run {
        for (p, size) in &old {
            println!("{p}");
            r.removed += 1;
            r.bytes += size;
        }
        return Ok(r);
    }
    let results: Vec<_> = futures::stream::iter(old.iter())
        .map(|(p, size)| async move { (remote.delete(p).await, *size) })
        .buffer_unordered(GC_CONCURRENCY)
        .collect()
        .await;
    for (res, size) in results {
        match res {
            Ok(()) => {
                r.removed += 1;
                r.bytes += size;
            }
            Err(e) => {
                if r.errors == 0 {
                    eprintln!("go-ci-cache: warning: {e:#}");
                }
                r.errors += 1;
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_age("5s").unwrap(), Duration::from_secs(5));
        for bad in ["", "d", "30", "30w", "0d", "-1d", "99999999999999999999d"] {
            let e = parse_age(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn the_sweep_keeps_what_live_manifests_list() {
        use super::super::local::Record;
        use super::super::manifest::Entry;
        let (o1, o2) = ("11".repeat(32), "22".repeat(32));
        let (a1, a2) = ("aa".repeat(32), "bb".repeat(32));
        let mut m = Marked::default();
        m.add(&Manifest {
            version: super::super::manifest::VERSION,
            entries: vec![Entry {
                action: a1.clone(),
                record: Record {
                    output: o1.clone(),
                    size: 3,
                    time: "2026-01-01T00:00:00Z".into(),
                    scope: None,
                },
                used: 0,
            }],
        });
        for (rel, by_age, kept) in [
            (format!("o/{o1}"), true, false),
            (format!("o/{o1}"), false, true),
            (format!("o/{o2}"), false, false),
            (format!("a/trusted/{a1}"), false, true),
            (format!("a/ref-refs_2fpull_2f7_2fmerge/{a1}"), false, true),
            (format!("a/trusted/{a2}"), false, false),
            // An old manifest is not live; anything else old under the root goes.
            ("m/trusted/test.json".to_string(), false, false),
            ("probe".to_string(), false, false),
        ] {
            let marked = (!by_age).then_some(&m);
            assert_eq!(removable(&rel, marked), !kept, "{rel} by_age={by_age}");
        }
        // An unreadable live manifest in `pr-9` keeps that namespace's records; a record of it
        // that cannot be read keeps every output.
        m.namespaces.insert("pr-9".into());
        assert!(!removable(&format!("a/pr-9/{a2}"), Some(&m)));
        assert!(removable(&format!("a/pr-8/{a2}"), Some(&m)));
        assert!(removable(&format!("o/{o2}"), Some(&m)));
        m.all_outputs = true;
        assert!(!removable(&format!("o/{o2}"), Some(&m)));
        assert_eq!(manifest_namespace("m/pr-9/x.json"), Some("pr-9"));
        assert_eq!(manifest_namespace(&format!("o/{o1}")), None);
        assert!(is_live_manifest("m/trusted/test.json", 100, 100));
        assert!(!is_live_manifest("m/trusted/test.json", 99, 100));
        assert!(!is_live_manifest(&format!("o/{o1}"), 100, 100));
    }
}
