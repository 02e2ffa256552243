//! The prune policy: which listed Actions cache entries go. Pure: it takes the listing and the
//! scope and returns a plan; the client does the listing and the deleting.
//!
//! An entry is in scope only when its key starts with the scope's prefix (one entry kind of one
//! configuration: the entry's least specific restore key) and it belongs to the scope's ref.
//! In scope, the newest `keep` entries stay (newest by creation time, then by id, which GitHub
//! hands out in increasing order), and so does every protected key (the one this job just saved
//! or restored). Everything out of scope is never touched, whatever the API returned.
//!
//! A scope may also carry a byte cap (a share of the repository's cache budget): the newest
//! entries stay only while together they fit under it, so one configuration of a large project
//! cannot fill the repository's store by itself. The newest entry always stays.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

/// One cache entry as `GET /repos/{owner}/{repo}/actions/caches` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The entry's id (for `DELETE …/actions/caches/{cache_id}`).
    pub id: u64,
    /// The full ref it was saved from (`refs/heads/main`, `refs/pull/7/merge`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Its key.
    pub key: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last restore, RFC 3339.
    #[serde(default)]
    pub last_accessed_at: String,
    /// Size of the archive.
    #[serde(default)]
    pub size_in_bytes: u64,
}

/// What may be pruned and how much stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Key prefix of one entry kind and configuration (ends in `-`).
    pub prefix: String,
    /// The ref whose entries are pruned.
    pub git_ref: String,
    /// How many of the newest entries in scope stay.
    pub keep: usize,
    /// Keys that stay whatever their age.
    pub protect: Vec<String>,
    /// At most this many bytes of unprotected entries stay in scope (the newest always does).
    pub max_bytes: Option<u64>,
}

/// The outcome: what stays and what goes, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// In scope and kept.
    pub keep: Vec<CacheEntry>,
    /// In scope and to be deleted.
    pub delete: Vec<CacheEntry>,
    /// Listed but out of scope (another ref, prefix or configuration): untouched.
    pub untouched: usize,
}

impl PrunePlan {
    /// Bytes the deletions free.
    pub fn bytes_deleted(&self) -> u64 {
        self.delete.iter().map(|e| e.size_in_bytes).sum()
    }
}

/// Creation time as nanoseconds since the epoch; unparsable times sort as oldest.
fn created(e: &CacheEntry) -> i128 {
    e.created_at
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .unwrap_or(i128::MIN)
}

/// Decides which entries of the listing go.
pub fn plan(listing: &[CacheEntry], scope: &Scope) -> PrunePlan {
    let mut in_scope: Vec<&CacheEntry> = listing
        .iter()
        .filter(|e| e.git_ref == scope.git_ref && e.key.starts_with(&scope.prefix))
        .collect();
    in_scope.sort_by_key(|e| Reverse((created(e), e.id)));
    in_scope.dedup_by_key(|e| e.id);
    let mut out = PrunePlan {
        untouched: listing.len() - in_scope.len(),
        ..PrunePlan::default()
    };
    let mut kept_bytes = 0u64;
    // Once an entry does not fit under the cap, every older one goes too.
    let mut full = false;
    for (i, e) in in_scope.into_iter().enumerate() {
        let protected = scope.protect.iter().any(|k| k == &e.key);
        full = full
            || scope
                .max_bytes
                .is_some_and(|cap| i > 0 && kept_bytes + e.size_in_bytes > cap);
        if protected || (i < scope.keep && !full) {
            kept_bytes += e.size_in_bytes;
            out.keep.push(e.clone());
        } else {
            out.delete.push(e.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u64, git_ref: &str, key: &str, created_at: &str) -> CacheEntry {
        CacheEntry {
            id,
            git_ref: git_ref.into(),
            key: key.into(),
            created_at: created_at.into(),
            last_accessed_at: created_at.into(),
            size_in_bytes: 100 * id,
        }
    }

    const MAIN: &str = "refs/heads/main";
    const P: &str = "go-ci-cache-build-v1-linux-amd64-go1.26.8-aaaa-";

    fn scope(keep: usize) -> Scope {
        Scope {
            prefix: P.into(),
            git_ref: MAIN.into(),
            keep,
            protect: vec![],
            max_bytes: None,
        }
    }

    fn ids(v: &[CacheEntry]) -> Vec<u64> {
        v.iter().map(|e| e.id).collect()
    }

    #[test]
    fn table() {
        let listing = vec![
            e(1, MAIN, &format!("{P}d1-r1"), "2026-11-01T10:00:00Z"),
            e(2, MAIN, &format!("{P}d1-r2"), "2026-11-02T10:00:00Z"),
            e(3, MAIN, &format!("{P}d2-r3"), "2026-11-03T10:00:00.5Z"),
            e(4, MAIN, &format!("{P}d2-r4"), "2026-11-03T10:00:00Z"),
            // Another ref, another configuration, another prefix, the modules entry.
            e(
                5,
                "refs/pull/7/merge",
                &format!("{P}d3-r5"),
                "2026-11-04T00:00:00Z",
            ),
            e(
                6,
                MAIN,
                "go-ci-cache-build-v1-linux-amd64-go1.26.8-bbbb-d1-r6",
                "2026-10-01T00:00:00Z",
            ),
            e(7, MAIN, &format!("other-{P}d1"), "2026-10-01T00:00:00Z"),
            e(
                8,
                MAIN,
                "go-ci-cache-mod-v1-linux-d1",
                "2026-10-01T00:00:00Z",
            ),
        ];
        struct Case {
            name: &'static str,
            keep: usize,
            protect: &'static [&'static str],
            kept: Vec<u64>,
            deleted: Vec<u64>,
        }
        let cases = [
            Case {
                name: "keep 2: the two newest stay (fractional seconds are later)",
                keep: 2,
                protect: &[],
                kept: vec![3, 4],
                deleted: vec![2, 1],
            },
            Case {
                name: "keep 1",
                keep: 1,
                protect: &[],
                kept: vec![3],
                deleted: vec![4, 2, 1],
            },
            Case {
                name: "keep more than there are",
                keep: 10,
                protect: &[],
                kept: vec![3, 4, 2, 1],
                deleted: vec![],
            },
            Case {
                name: "keep 0 deletes the whole scope",
                keep: 0,
                protect: &[],
                kept: vec![],
                deleted: vec![3, 4, 2, 1],
            },
            Case {
                name: "a protected key stays",
                keep: 1,
                protect: &["go-ci-cache-build-v1-linux-amd64-go1.26.8-aaaa-d1-r1"],
                kept: vec![3, 1],
                deleted: vec![4, 2],
            },
        ];
        for c in cases {
            let mut s = scope(c.keep);
            s.protect = c.protect.iter().map(|p| p.to_string()).collect();
            let p = plan(&listing, &s);
            assert_eq!(ids(&p.keep), c.kept, "{}", c.name);
            assert_eq!(ids(&p.delete), c.deleted, "{}", c.name);
            assert_eq!(
                p.untouched, 4,
                "{}: other refs, configurations and prefixes",
                c.name
            );
        }
    }

    #[test]
    fn a_byte_cap_keeps_fewer_but_never_none() {
        // Sizes are 100 × id: 400, 300, 200, 100 bytes, newest first 3 (300), 4 (400), 2, 1.
        let listing = vec![
            e(1, MAIN, &format!("{P}d1-r1"), "2026-11-01T10:00:00Z"),
            e(2, MAIN, &format!("{P}d1-r2"), "2026-11-02T10:00:00Z"),
            e(3, MAIN, &format!("{P}d2-r3"), "2026-11-04T10:00:00Z"),
            e(4, MAIN, &format!("{P}d2-r4"), "2026-11-03T10:00:00Z"),
        ];
        struct Case {
            name: &'static str,
            cap: u64,
            protect: &'static [&'static str],
            kept: Vec<u64>,
        }
        let cases = [
            Case {
                name: "the cap binds after two",
                cap: 700,
                protect: &[],
                kept: vec![3, 4],
            },
            Case {
                name: "a cap below the newest keeps the newest",
                cap: 10,
                protect: &[],
                kept: vec![3],
            },
            Case {
                name: "a cap above everything: keep decides",
                cap: 1 << 40,
                protect: &[],
                kept: vec![3, 4, 2],
            },
            Case {
                name: "once one does not fit, older ones go too",
                cap: 500,
                protect: &[],
                kept: vec![3],
            },
            Case {
                name: "protected keys stay and count",
                cap: 700,
                protect: &["go-ci-cache-build-v1-linux-amd64-go1.26.8-aaaa-d1-r1"],
                kept: vec![3, 4, 1],
            },
        ];
        for c in cases {
            let mut s = scope(3);
            s.max_bytes = Some(c.cap);
            s.protect = c.protect.iter().map(|p| p.to_string()).collect();
            let p = plan(&listing, &s);
            assert_eq!(ids(&p.keep), c.kept, "{}", c.name);
            assert_eq!(p.keep.len() + p.delete.len(), 4, "{}", c.name);
        }
    }

    #[test]
    fn ties_go_by_id_and_duplicates_count_once() {
        let t = "2026-11-01T10:00:00Z";
        let listing = vec![
            e(10, MAIN, &format!("{P}a"), t),
            e(12, MAIN, &format!("{P}c"), t),
            e(11, MAIN, &format!("{P}b"), t),
            e(12, MAIN, &format!("{P}c"), t),
        ];
        let p = plan(&listing, &scope(1));
        assert_eq!(ids(&p.keep), [12]);
        assert_eq!(ids(&p.delete), [11, 10]);
        assert_eq!(p.bytes_deleted(), 2100);
    }

    #[test]
    fn other_refs_are_never_touched_even_when_the_api_returns_them() {
        let listing = vec![
            e(
                1,
                "refs/heads/feature",
                &format!("{P}a"),
                "2026-11-01T00:00:00Z",
            ),
            e(
                2,
                "refs/heads/main2",
                &format!("{P}a"),
                "2026-11-01T00:00:00Z",
            ),
        ];
        let p = plan(&listing, &scope(0));
        assert!(p.delete.is_empty() && p.keep.is_empty());
        assert_eq!(p.untouched, 2);
    }

    #[test]
    fn unparsable_times_sort_oldest() {
        let listing = vec![
            e(1, MAIN, &format!("{P}a"), "yesterday"),
            e(2, MAIN, &format!("{P}b"), "2020-01-01T00:00:00Z"),
        ];
        let p = plan(&listing, &scope(1));
        assert_eq!(ids(&p.keep), [2]);
        assert_eq!(ids(&p.delete), [1]);
    }
}
