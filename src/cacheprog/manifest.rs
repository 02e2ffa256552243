//! The manifest: the action → output records a job used, written to its namespace at the end of
//! each go command and read by the next job at start, so it downloads what it will need in bulk
//! instead of one round trip per package. Entries are kept newest use first and, within one go
//! command, in the order it asked for them, so the prefetch downloads first what the build
//! needs first.

use indexmap::IndexMap;

use serde::{Deserialize, Serialize};

use super::local::Record;
use super::protocol::{Id, hex, parse_hex};

/// Manifest shape version.
pub const VERSION: u32 = 1;

/// Entries unused for this long leave the manifest.
pub const MAX_AGE_SECS: i64 = 7 * 24 * 3600;

/// A job's manifest is written again at least this often while jobs use it, even when it
/// already lists everything they used.
pub const REFRESH_SECS: i64 = 3600;

/// At most this many entries (the most recently used stay).
pub const MAX_ENTRIES: usize = 200_000;

/// One used action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// ActionID, hex.
    pub action: String,
    /// Its record.
    #[serde(flatten)]
    pub record: Record,
    /// Unix seconds of its last use.
    pub used: i64,
}

/// A manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Shape version.
    pub version: u32,
    /// The used actions.
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Parses a manifest; anything else (another version, garbage) is `None`.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let m: Manifest = serde_json::from_slice(bytes).ok()?;
        (m.version == VERSION).then_some(m)
    }

    /// The entries as action → record, in manifest order, malformed ones dropped.
    pub fn index(&self) -> IndexMap<Id, Record> {
        self.entries
            .iter()
            .filter(|e| e.record.output_id().is_some())
            .filter_map(|e| Some((parse_hex(&e.action)?, e.record.clone())))
            .collect()
    }

    /// Both manifests' entries, the later use of an action winning; newest use first, ties in
    /// the order of `self`, then `other`.
    pub fn union(&self, other: &Manifest) -> Manifest {
        let mut by: IndexMap<&str, &Entry> = IndexMap::new();
        for e in self.entries.iter().chain(&other.entries) {
            let keep = by.get(e.action.as_str()).is_none_or(|k| k.used < e.used);
            if keep {
                by.insert(&e.action, e);
            }
        }
        Manifest::newest_first(by.into_values().cloned().collect())
    }

    /// This manifest with `used` (used at `now`, in the order of use) merged in, stale entries
    /// dropped: what `used` lists first, in its order, then the rest, newest use first.
    pub fn merged(&self, used: &IndexMap<Id, Record>, now: i64) -> Manifest {
        let mut entries: Vec<Entry> = used
            .iter()
            .map(|(a, r)| Entry {
                action: hex(a),
                record: r.clone(),
                used: now,
            })
            .collect();
        entries.extend(
            self.entries
                .iter()
                .filter(|e| now - e.used <= MAX_AGE_SECS)
                .filter(|e| parse_hex(&e.action).is_none_or(|a| !used.contains_key(&a)))
                .cloned(),
        );
        let mut m = Manifest::newest_first(entries);
        m.entries.truncate(MAX_ENTRIES);
        m
    }

    /// The newest use any entry records (0 when empty): about when the manifest was last
    /// written, since a write stamps what the go command used with its end.
    pub fn newest_use(&self) -> i64 {
        self.entries.iter().map(|e| e.used).max().unwrap_or(0)
    }

    /// Whether a go command that used `used` may leave the store's copy of the job's manifest as
    /// it is (pure): that copy (`stored`, as far as this machine knows it, last written at
    /// `written_at`) lists every action it used with the same record, and was written less than
    /// [`REFRESH_SECS`] ago. The rewrite that staleness forces keeps the manifest live for
    /// `cacheprog-gc` and its entries' last use current, so what jobs use never ages out.
    pub fn covers(&self, written_at: i64, used: &IndexMap<Id, Record>, now: i64) -> bool {
        if self.entries.is_empty() || now - written_at >= REFRESH_SECS || written_at > now + 60 {
            return false;
        }
        let have = self.index();
        used.iter().all(|(a, r)| have.get(a) == Some(r))
    }

    /// Entries sorted by last use, newest first; a stable sort, so ties keep their order.
    fn newest_first(mut entries: Vec<Entry>) -> Manifest {
        entries.sort_by_key(|e| std::cmp::Reverse(e.used));
        Manifest {
            version: VERSION,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_union_keeps_every_action_at_its_latest_use() {
        let e = |a: &str, used: i64| Entry {
            action: a.into(),
            record: Record {
                output: "00".repeat(32),
                size: 1,
                time: String::new(),
                scope: None,
            },
            used,
        };
        let a = Manifest {
            version: VERSION,
            entries: vec![e("aa", 1), e("bb", 5)],
        };
        let b = Manifest {
            version: VERSION,
            entries: vec![e("bb", 9), e("cc", 2)],
        };
        let mut got: Vec<(String, i64)> = a
            .union(&b)
            .entries
            .into_iter()
            .map(|e| (e.action, e.used))
            .collect();
        got.sort();
        assert_eq!(got, [("aa".into(), 1), ("bb".into(), 9), ("cc".into(), 2)]);
    }
    use super::*;

    fn rec(o: u8) -> Record {
        Record {
            output: hex(&[o; 32]),
            size: 1,
            time: "2026-01-01T00:00:00Z".into(),
            scope: None,
        }
    }

    #[test]
    fn a_manifest_that_lists_what_was_used_is_not_written_again_for_an_hour() {
        let now = 1_000_000_000;
        let entry = |a: u8, o: u8| Entry {
            action: hex(&[a; 32]),
            record: rec(o),
            used: now - 100,
        };
        let stored = Manifest {
            version: VERSION,
            entries: vec![entry(1, 1), entry(2, 2), entry(3, 3)],
        };
        let used = |v: &[(u8, u8)]| -> IndexMap<Id, Record> {
            v.iter().map(|&(a, o)| ([a; 32], rec(o))).collect()
        };
        let written = now - 100;
        for (what, m, at, u, covered) in [
            (
                "a subset, fresh",
                &stored,
                written,
                used(&[(2, 2), (1, 1)]),
                true,
            ),
            ("nothing used", &stored, written, used(&[]), true),
            (
                "a new action",
                &stored,
                written,
                used(&[(1, 1), (4, 4)]),
                false,
            ),
            (
                "another output for an action",
                &stored,
                written,
                used(&[(1, 9)]),
                false,
            ),
            (
                "written an hour ago",
                &stored,
                now - REFRESH_SECS,
                used(&[(1, 1)]),
                false,
            ),
            (
                "written just under an hour ago",
                &stored,
                now - REFRESH_SECS + 1,
                used(&[(1, 1)]),
                true,
            ),
            (
                "written in the future",
                &stored,
                now + 61,
                used(&[(1, 1)]),
                false,
            ),
            (
                "no manifest yet",
                &Manifest::default(),
                written,
                used(&[]),
                false,
            ),
        ] {
            assert_eq!(m.covers(at, &u, now), covered, "{what}");
        }
        assert_eq!(stored.newest_use(), now - 100);
        assert_eq!(Manifest::default().newest_use(), 0);
    }

    #[test]
    fn merge_keeps_recent_and_replaces_records() {
        let now = 1_000_000_000;
        let old = Manifest {
            version: VERSION,
            entries: vec![
                Entry {
                    action: hex(&[1; 32]),
                    record: rec(1),
                    used: now - 10,
                },
                Entry {
                    action: hex(&[2; 32]),
                    record: rec(2),
                    used: now - MAX_AGE_SECS - 1,
                },
            ],
        };
        let used = IndexMap::from([([3u8; 32], rec(3)), ([1u8; 32], rec(9))]);
        let m = old.merged(&used, now);
        let idx = m.index();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx[&[1u8; 32]], rec(9));
        assert!(idx.contains_key(&[3u8; 32]));
        // In the order of use: what the next job's prefetch downloads first.
        assert_eq!(
            idx.keys().copied().collect::<Vec<_>>(),
            [[3u8; 32], [1u8; 32]]
        );
        let back = Manifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(Manifest::parse(br#"{"version":2,"entries":[]}"#), None);
    }
}
