//! GOCACHE: the used-entry cycle (Go refreshes the mtime of an entry it uses when that mtime is
//! more than an hour old, and trims by mtime: `mtimeInterval` and `Trim` in
//! cmd/go/internal/cache/cache.go). `prepare` moves every entry newer than
//! T0 − 2 h two hours back (their order kept) and pins `trim.txt` to T0, so Go refreshes the mtime of every entry the job uses
//! (it does so for entries at least 1 h old) and its own trim cannot run mid-job; `trim` then
//! removes every entry still older than T0 − 1 h. The trim policy ([`plan_trim`]) is pure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use filetime::FileTime;

use crate::cache::remove;

/// How far `prepare` backdates restored entries.
pub const BACKDATE_SECS: i64 = 2 * 3600;
/// Entries older than T0 minus this were not used by the job.
pub const UNUSED_BEFORE_SECS: i64 = 3600;

/// An action (`-a`, the index record) or an output (`-d`, content-addressed data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<id>-a`.
    Action,
    /// `<id>-d` (a file, or a directory for cached executables).
    Output,
}

/// One cache entry as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to GOCACHE (`ab/ab12…-a`).
    pub rel: String,
    /// Action or output.
    pub kind: Kind,
    /// The 64-hex ID.
    pub id: String,
    /// Whether it is a directory (cached executable).
    pub is_dir: bool,
    /// Newest mtime (Unix seconds; for a directory, of anything in it).
    pub mtime: i64,
    /// Bytes.
    pub size: u64,
    /// For actions read during listing: the output ID the record points to.
    pub output_id: Option<String>,
}

/// What a trim removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrimPlan {
    /// Indexes into the listing, actions before outputs, so an interrupted trim leaves at worst
    /// outputs without an index record (invisible to Go), never a record without its output.
    pub remove: Vec<usize>,
    /// Entries kept.
    pub kept: usize,
    /// Bytes removed.
    pub bytes: u64,
}

/// Decides what goes (pure): actions not used since `cutoff`, and outputs neither used since
/// `cutoff` nor referenced by a kept action.
pub fn plan_trim(entries: &[Entry], cutoff: i64) -> TrimPlan {
    remove_unless_kept(entries, |i| entries[i].mtime < cutoff)
}

/// Go's own trim removes entries unused for this long (`trimLimit` plus the hour of
/// `mtimeInterval` in cmd/go/internal/cache/cache.go); the budget trim does the same, since `prepare` keeps
/// Go's trim from running on a busy machine.
pub const MAX_AGE_SECS: i64 = 5 * 24 * 3600 + 3600;

/// What a budget trim removes (pure), on a machine whose cache outlives the job: every entry
/// older than `now − MAX_AGE_SECS` (as Go's own trim would), then the least recently used
/// entries (by the mtimes Go refreshes on use) until the rest fits in `budget` bytes. Entries
/// at or after `protect_from` — what this job and every other live job may have used — never
/// go, even when the rest does not fit. An output stays while a kept action record names it;
/// records go before outputs.
pub fn plan_budget(entries: &[Entry], budget: u64, protect_from: i64, now: i64) -> TrimPlan {
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let mut order: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].mtime < protect_from)
        .collect();
    // Oldest first; within one second, records before outputs.
    order.sort_by_key(|&i| (entries[i].mtime, entries[i].kind == Kind::Output));
    let mut gone = vec![false; entries.len()];
    let mut left = total;
    for &i in &order {
        let old = entries[i].mtime < now - MAX_AGE_SECS;
        if !old && left <= budget {
            break;
        }
        gone[i] = true;
        left -= entries[i].size;
    }
    remove_unless_kept(entries, |i| gone[i])
}

/// The plan that removes each entry `goes` picks, except an output that a kept action record
/// names (pure); records go before outputs, so no record outlives the output it names.
fn remove_unless_kept(entries: &[Entry], goes: impl Fn(usize) -> bool) -> TrimPlan {
    let referenced: BTreeSet<&str> = entries
        .iter()
        .enumerate()
        .filter(|&(i, e)| e.kind == Kind::Action && !goes(i))
        .filter_map(|(_, e)| e.output_id.as_deref())
        .collect();
    let mut plan = TrimPlan::default();
    let mut outputs = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let keep = !goes(i) || (e.kind == Kind::Output && referenced.contains(e.id.as_str()));
        if keep {
            plan.kept += 1;
            continue;
        }
        plan.bytes += e.size;
        match e.kind {
            Kind::Action => plan.remove.push(i),
            Kind::Output => outputs.push(i),
        }
    }
    plan.remove.extend(outputs);
    plan
}

/// Parses an action record `v1 <action> <output> <size> <time>` (pure).
pub fn parse_action(record: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(record).ok()?;
    let mut f = s.split_ascii_whitespace();
    (f.next()? == "v1").then_some(())?;
    f.next()?;
    let out = f.next()?;
    (out.len() == 64 && out.bytes().all(|b| b.is_ascii_hexdigit())).then(|| out.to_string())
}

fn entry_name(name: &str) -> Option<(String, Kind)> {
    let (id, kind) = if let Some(id) = name.strip_suffix("-a") {
        (id, Kind::Action)
    } else if let Some(id) = name.strip_suffix("-d") {
        (id, Kind::Output)
    } else {
        return None;
    };
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| (id.to_string(), kind))
}

/// A listing of GOCACHE.
#[derive(Debug, Default)]
pub struct Listing {
    /// Entries.
    pub entries: Vec<Entry>,
    /// Symlinks met where entries belong; never followed, never removed.
    pub symlinks: u64,
    /// Leftover trash directories from an interrupted trim.
    pub trash: Vec<PathBuf>,
    /// What else is in the root (Go's README, trim.txt and fuzzing corpora, this tool's machine
    /// records and leases, temporary files): never removed here, but on the disk the budget
    /// bounds. Only their paths: a listing for `prepare` does not walk them.
    pub others: Vec<PathBuf>,
}

impl Listing {
    /// Bytes of the regular files in [`Listing::others`].
    pub fn other_bytes(&self) -> u64 {
        self.others
            .iter()
            .map(|p| crate::fsutil::tree_bytes(p))
            .sum()
    }
}

/// Lists every entry of the 256 subdirectories. Action records newer than `read_since` are read
/// for their output ID (only those can keep an output alive).
pub fn list(root: &Path, read_since: Option<i64>) -> std::io::Result<Listing> {
    let mut l = Listing::default();
    for top in std::fs::read_dir(root)? {
        let top = top?;
        let name = top.file_name().to_string_lossy().into_owned();
        let ft = top.file_type()?;
        if name.starts_with(remove::TRASH_PREFIX) && ft.is_dir() {
            l.trash.push(top.path());
            continue;
        }
        if name.len() != 2 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            l.others.push(top.path());
            continue;
        }
        if ft.is_symlink() {
            l.symlinks += 1;
            continue;
        }
        if !ft.is_dir() {
            continue;
        }
        for e in std::fs::read_dir(top.path())? {
            let e = e?;
            let fname = e.file_name().to_string_lossy().into_owned();
            let Some((id, kind)) = entry_name(&fname) else {
                l.others.push(e.path());
                continue;
            };
            let ft = e.file_type()?;
            if ft.is_symlink() {
                l.symlinks += 1;
                continue;
            }
            let meta = e.metadata()?;
            let (mut mtime, mut size) = (
                FileTime::from_last_modification_time(&meta).unix_seconds(),
                meta.len(),
            );
            if ft.is_dir() {
                size = 0;
                for inner in walkdir::WalkDir::new(e.path())
                    .min_depth(1)
                    .into_iter()
                    .flatten()
                {
                    if let Ok(m) = inner.metadata() {
                        mtime = mtime.max(FileTime::from_last_modification_time(&m).unix_seconds());
                        if m.is_file() {
                            size += m.len();
                        }
                    }
                }
            }
            let output_id = if kind == Kind::Action && read_since.is_some_and(|t| mtime >= t) {
                std::fs::read(e.path()).ok().and_then(|b| parse_action(&b))
            } else {
                None
            };
            l.entries.push(Entry {
                rel: format!("{name}/{fname}"),
                kind,
                id,
                is_dir: ft.is_dir(),
                mtime,
                size,
                output_id,
            });
        }
    }
    Ok(l)
}

/// Whether `prepare` backdates an entry with this mtime (pure): only entries newer than
/// `t0 − 2 h` (mtimes only ever move back), and, while other jobs use the cache, only entries
/// older than `floor` (see [`crate::cache::lease::backdate_floor`]): an entry another live job may
/// have used keeps its mtime.
pub fn should_backdate(mtime: i64, t0: i64, floor: Option<i64>) -> bool {
    mtime > t0 - BACKDATE_SECS && floor.is_none_or(|f| mtime < f)
}

/// The mtime `prepare` gives an entry it backdates (pure): two hours earlier, and never later
/// than `t0 − 2 h` (a future mtime from a machine whose clock ran ahead). Moving every such
/// entry by the same amount keeps their order, so a budget trim on a machine that keeps its
/// caches still removes the least recently used first; all of them end older than `t0 − 1 h`,
/// so Go refreshes each one the job uses.
pub fn backdated_mtime(mtime: i64, t0: i64) -> i64 {
    mtime.min(t0) - BACKDATE_SECS
}

/// A 64-bit tag of an entry (the ID's first 16 hex digits, the low bit its kind), so the set of
/// restored entries fits in 8 bytes an entry.
fn tag(e: &Entry) -> u64 {
    let v =
        e.id.get(..16)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    (v & !1) | u64::from(e.kind == Kind::Output)
}

/// The restored set (pure): sorted, deduplicated tags of the entries.
pub fn tags(entries: &[Entry]) -> Vec<u64> {
    let mut t: Vec<u64> = entries.iter().map(tag).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// The set as bytes (little-endian u64s) for the run-state directory, and back.
pub fn encode_tags(tags: &[u64]) -> Vec<u8> {
    tags.iter().flat_map(|t| t.to_le_bytes()).collect()
}

/// See [`encode_tags`]; `None` for bytes that are not a sorted set.
pub fn decode_tags(bytes: &[u8]) -> Option<Vec<u64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    let t: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    t.windows(2).all(|w| w[0] < w[1]).then_some(t)
}

/// Action records not in the restored set (pure): what the job compiled, vetted, linked or
/// tested anew, plus Go's index of changed directories (see [`is_index_output`]).
pub fn new_actions<'a>(entries: &'a [Entry], restored: &[u64]) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.kind == Kind::Action && restored.binary_search(&tag(e)).is_err())
        .collect()
}

/// Whether an output is an entry of Go's module index (`go index v2…`): keyed by the source
/// files' mtimes, so every fresh checkout makes new ones for the main module's directories,
/// and no later checkout can use them. They do not make an entry worth saving again.
pub fn is_index_output(head: &[u8]) -> bool {
    head.starts_with(b"go index v")
}

/// What [`prepare`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Entries backdated.
    pub backdated: u64,
    /// Their tags ([`tags`]): `trim` tells what the job added against them.
    pub tags: Vec<u64>,
    /// Problems met (each one entry; the rest still happen).
    pub problems: Vec<String>,
    /// The cache as restored, from the same listing (no second walk).
    pub size: crate::fsutil::DirSize,
}

/// Backdates entries ([`backdated_mtime`], those [`should_backdate`] picks) and pins `trim.txt` to
/// `t0`.
pub fn prepare(root: &Path, t0: i64, floor: Option<i64>) -> Result<Prepared> {
    std::fs::create_dir_all(root)?;
    let listing = list(root, None)?;
    let mut problems = Vec::new();
    let mut n = 0;
    for e in &listing.entries {
        if !should_backdate(e.mtime, t0, floor) {
            continue;
        }
        let old = FileTime::from_unix_time(backdated_mtime(e.mtime, t0), 0);
        let p = root.join(&e.rel);
        let mut result = filetime::set_symlink_file_times(&p, old, old);
        if e.is_dir {
            for inner in walkdir::WalkDir::new(&p).min_depth(1).into_iter().flatten() {
                result = result.and(filetime::set_symlink_file_times(inner.path(), old, old));
            }
        }
        match result {
            Ok(()) => n += 1,
            Err(err) if problems.len() < 5 => {
                problems.push(format!("cannot backdate `{}`: {err}", p.display()))
            }
            Err(_) => {}
        }
    }
    // Go's trim runs at most once a day, judged by this file (Unix seconds). Another live job
    // may have pinned it later: never move it back.
    let pinned = std::fs::read_to_string(root.join("trim.txt"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if floor.is_none() || pinned.is_none_or(|p| p < t0) {
        crate::output::sink::replace(&root.join("trim.txt"), &t0.to_string(), "GOCACHE/trim.txt")?;
    }
    Ok(Prepared {
        backdated: n,
        tags: tags(&listing.entries),
        problems,
        size: crate::fsutil::DirSize {
            bytes: listing.entries.iter().map(|e| e.size).sum(),
            files: listing.entries.len() as u64,
        },
    })
}

/// The current mtime of a listed entry (for a directory, its newest file), to check right
/// before removal that no job used it since the listing.
pub fn current_mtime(root: &Path, e: &Entry) -> Option<i64> {
    let p = root.join(&e.rel);
    let meta = std::fs::symlink_metadata(&p).ok()?;
    let mut m = FileTime::from_last_modification_time(&meta).unix_seconds();
    if e.is_dir {
        for inner in walkdir::WalkDir::new(&p).min_depth(1).into_iter().flatten() {
            if let Ok(x) = inner.metadata() {
                m = m.max(FileTime::from_last_modification_time(&x).unix_seconds());
            }
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: char, kind: Kind, mtime: i64, out: Option<char>) -> Entry {
        Entry {
            rel: format!("{id}{id}/{}", id.to_string().repeat(64)),
            kind,
            id: id.to_string().repeat(64),
            is_dir: false,
            mtime,
            size: 10,
            output_id: out.map(|o| o.to_string().repeat(64)),
        }
    }

    #[test]
    fn removes_unused_keeps_used_and_referenced_actions_first() {
        let cutoff = 1000;
        let entries = vec![
            e('a', Kind::Action, 2000, Some('b')), // used, points at b
            e('b', Kind::Output, 500, None),       // old, but referenced by a kept action
            e('c', Kind::Output, 500, None),       // old, unreferenced → goes
            e('d', Kind::Action, 500, Some('e')),  // unused → goes
            e('e', Kind::Output, 2000, None),      // used directly
            e('f', Kind::Output, 999, None),       // just before the cutoff → goes
        ];
        let plan = plan_trim(&entries, cutoff);
        let gone: Vec<char> = plan
            .remove
            .iter()
            .map(|&i| entries[i].id.chars().next().unwrap())
            .collect();
        assert_eq!(gone, ['d', 'c', 'f'], "actions first");
        assert_eq!(plan.kept, 3);
        assert_eq!(plan.bytes, 30);
        // Idempotent: trimming what is left removes nothing more.
        let left: Vec<Entry> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !plan.remove.contains(i))
            .map(|(_, e)| e.clone())
            .collect();
        assert!(plan_trim(&left, cutoff).remove.is_empty());
    }

    #[test]
    fn budget_removes_the_least_recently_used_never_what_live_jobs_hold() {
        let now = 10 * 86_400;
        let sized = |id, kind, mtime, out, size| Entry {
            size,
            ..e(id, kind, mtime, out)
        };
        // (entry, mtime): an old pair, a middle pair, a recent pair, and what live jobs use.
        let entries = vec![
            sized('a', Kind::Action, now - 3 * 3600, Some('b'), 10),
            sized('b', Kind::Output, now - 3 * 3600, None, 90),
            sized('c', Kind::Action, now - 2 * 3600, Some('d'), 10),
            sized('d', Kind::Output, now - 2 * 3600, None, 90),
            sized('e', Kind::Action, now - 600, Some('f'), 10),
            sized('f', Kind::Output, now - 600, None, 90),
        ];
        let ids = |p: &TrimPlan| -> String {
            p.remove
                .iter()
                .map(|&i| entries[i].id.chars().next().unwrap())
                .collect()
        };
        let protect = now - 3600;
        // Within the budget: nothing goes.
        assert_eq!(ids(&plan_budget(&entries, 300, protect, now)), "");
        // 200 bytes: the oldest pair goes, record first.
        let p = plan_budget(&entries, 200, protect, now);
        assert_eq!(ids(&p), "ab");
        assert_eq!((p.bytes, p.kept), (100, 4));
        // 0 bytes: all but what live jobs may hold.
        assert_eq!(ids(&plan_budget(&entries, 0, protect, now)), "acbd");
        // An output a kept record names stays (its record was refreshed, the output not yet).
        let mut shared = entries.clone();
        shared[2].output_id = Some("b".repeat(64));
        let p = plan_budget(&shared, 200, protect, now);
        assert_eq!(ids(&p), "a");
        // Older than Go's own limit: gone whatever the budget.
        let mut aged = entries.clone();
        aged[0].mtime = now - MAX_AGE_SECS - 1;
        assert_eq!(ids(&plan_budget(&aged, 1_000_000, protect, now)), "a");
        // Idempotent.
        let left: Vec<Entry> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !plan_budget(&entries, 200, protect, now).remove.contains(i))
            .map(|(_, e)| e.clone())
            .collect();
        assert!(plan_budget(&left, 200, protect, now).remove.is_empty());
    }

    #[test]
    fn many_stale_entries() {
        let entries: Vec<Entry> = (0..10_000)
            .map(|i| Entry {
                mtime: i64::from(i % 3 == 0) * 5000,
                ..e('a', Kind::Action, 0, None)
            })
            .collect();
        let plan = plan_trim(&entries, 1000);
        assert_eq!(plan.kept, 3334);
        assert_eq!(plan.remove.len(), 6666);
    }

    #[test]
    fn backdating_never_moves_forward_nor_touches_what_live_jobs_used() {
        let t0 = 100_000;
        assert!(
            should_backdate(t0 - 10, t0, None),
            "just restored: backdated"
        );
        assert!(
            should_backdate(t0 + 500, t0, None),
            "future mtime: backdated"
        );
        assert!(
            !should_backdate(t0 - BACKDATE_SECS, t0, None),
            "already old enough"
        );
        assert!(
            !should_backdate(t0 - 9 * 3600, t0, None),
            "never moved forward"
        );
        let floor = Some(t0 - 1800);
        assert!(should_backdate(t0 - 3600, t0, floor));
        assert!(
            !should_backdate(t0 - 1800, t0, floor),
            "another live job may use it"
        );
        assert!(!should_backdate(t0 - 10, t0, floor));
    }

    #[test]
    fn backdating_keeps_the_order_and_ends_below_the_margin() {
        let t0 = 100_000;
        let recent = [t0 - 10, t0 - 600, t0 - 7000];
        let moved: Vec<i64> = recent.iter().map(|&m| backdated_mtime(m, t0)).collect();
        assert!(moved.windows(2).all(|w| w[0] > w[1]), "{moved:?}");
        assert!(moved.iter().all(|&m| m < t0 - UNUSED_BEFORE_SECS));
        assert_eq!(
            backdated_mtime(t0 + 900, t0),
            t0 - BACKDATE_SECS,
            "a future mtime"
        );
    }

    #[test]
    fn new_actions_are_those_not_restored() {
        let restored = vec![
            e('1', Kind::Action, 10, Some('2')),
            e('2', Kind::Output, 10, None),
        ];
        let set = tags(&restored);
        assert_eq!(decode_tags(&encode_tags(&set)), Some(set.clone()));
        assert_eq!(decode_tags(&[1, 2, 3]), None);
        let now = vec![
            e('1', Kind::Action, 99, Some('2')),
            e('2', Kind::Output, 99, None),
            e('3', Kind::Action, 99, Some('4')),
            e('4', Kind::Output, 99, None),
            // An output with an ID equal to a restored action's is not that action.
            e('1', Kind::Output, 99, None),
        ];
        let new: Vec<_> = new_actions(&now, &set)
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert_eq!(new, ["3".repeat(64)]);
        assert!(is_index_output(b"go index v2\n\0\0"));
        assert!(!is_index_output(b"!<arch>\n"));
    }

    #[test]
    fn action_records() {
        let rec = format!(
            "v1 {} {} {:20} {:20}\n",
            "1".repeat(64),
            "2".repeat(64),
            42,
            1_700_000_000_000_000_000u64
        );
        assert_eq!(parse_action(rec.as_bytes()), Some("2".repeat(64)));
        assert_eq!(parse_action(b"v2 x y"), None);
        assert_eq!(
            entry_name(&format!("{}-a", "f".repeat(64))).map(|x| x.1),
            Some(Kind::Action)
        );
        assert_eq!(entry_name("README"), None);
        assert_eq!(entry_name("trim.txt"), None);
    }
}
