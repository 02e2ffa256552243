//! The manifest: the action → output records a job used, written to its namespace at the end of
//! each go command and read by the next job at start, so it downloads what it will need in bulk
//! instead of one round trip per package.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::local::Record;
use super::protocol::{Id, hex, parse_hex};

/// Manifest shape version.
pub const VERSION: u32 = 1;

/// Entries unused for this long leave the manifest.
pub const MAX_AGE_SECS: i64 = 7 * 24 * 3600;

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

    /// The entries as action → record, malformed ones dropped.
    pub fn index(&self) -> HashMap<Id, Record> {
        self.entries
            .iter()
            .filter(|e| e.record.output_id().is_some())
            .filter_map(|e| Some((parse_hex(&e.action)?, e.record.clone())))
            .collect()
    }

    /// Both manifests' entries, the later use of an action winning.
    pub fn union(&self, other: &Manifest) -> Manifest {
        let mut by: HashMap<&str, &Entry> = HashMap::new();
        for e in self.entries.iter().chain(&other.entries) {
            let keep = by.get(e.action.as_str()).is_none_or(|k| k.used < e.used);
            if keep {
                by.insert(&e.action, e);
            }
        }
        Manifest {
            version: VERSION,
            entries: by.into_values().cloned().collect(),
        }
    }

    /// This manifest with `used` (used at `now`) merged in, stale entries dropped, newest first.
    pub fn merged(&self, used: &HashMap<Id, Record>, now: i64) -> Manifest {
        let mut by: HashMap<String, Entry> = self
            .entries
            .iter()
            .filter(|e| now - e.used <= MAX_AGE_SECS)
            .map(|e| (e.action.clone(), e.clone()))
            .collect();
        for (a, r) in used {
            let action = hex(a);
            by.insert(
                action.clone(),
                Entry {
                    action,
                    record: r.clone(),
                    used: now,
                },
            );
        }
        let mut entries: Vec<Entry> = by.into_values().collect();
        entries.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.action.cmp(&b.action)));
        entries.truncate(MAX_ENTRIES);
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
        }
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
        let used = HashMap::from([([1u8; 32], rec(9)), ([3u8; 32], rec(3))]);
        let m = old.merged(&used, now);
        let idx = m.index();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx[&[1u8; 32]], rec(9));
        assert!(idx.contains_key(&[3u8; 32]));
        let back = Manifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(Manifest::parse(br#"{"version":2,"entries":[]}"#), None);
    }
}
