//! The trim engine: what `trim` removes from GOCACHE and GOMODCACHE, turned from the pure plans
//! of [`gocache`] and [`modcache`] into removals (through [`remove`], the only code that
//! deletes) under the roots' leases. On a machine that keeps its caches it trims GOCACHE to the
//! budget and writes the archive's exclusions instead of removing. The `trim` command
//! (`crate::cmd::trim`) decides what to trim and reports; this module does it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cache::state::{self, RootTrim, State};
use crate::cache::{budget, gocache, lease, modcache, remove};
use crate::fsutil::{DirSize, dir_size, human_bytes};
use crate::go::{Go, list};
use crate::job::Target;

/// What a trim works on: the job (its environment, project and flags), the run state its
/// `prepare` recorded, and where that state lives (the exclusions are written beside it).
pub struct Scope<'a> {
    /// The job.
    pub target: &'a Target,
    /// Its run state.
    pub state: &'a State,
    /// The run state's path.
    pub state_path: &'a Path,
}

/// What the module cache's trim was told.
pub struct Options {
    /// List what would go, remove nothing.
    pub dry_run: bool,
    /// The module cache is this job's alone (`--prune-modules`).
    pub prune_modules: bool,
}

/// Action records the job added to the restored cache, not counting Go's module index (see
/// [`gocache::is_index_output`]); `None` when `prepare` recorded no restored set.
pub fn added_actions(root: &Path, state: &Path, entries: &[gocache::Entry]) -> Option<u64> {
    let restored = gocache::decode_tags(&std::fs::read(state::restored_set_path(state)).ok()?)?;
    let by_id: std::collections::HashMap<&str, &gocache::Entry> = entries
        .iter()
        .filter(|e| e.kind == gocache::Kind::Output)
        .map(|e| (e.id.as_str(), e))
        .collect();
    let is_index = |out: &str| {
        by_id.get(out).is_some_and(|o| {
            let mut head = [0u8; 16];
            std::fs::File::open(root.join(&o.rel))
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .is_ok_and(|n| gocache::is_index_output(&head[..n]))
        })
    };
    let n = gocache::new_actions(entries, &restored)
        .into_iter()
        .filter(|a| !a.output_id.as_deref().is_some_and(is_index))
        .count();
    Some(n as u64)
}

/// Where `trim` writes a root's archive exclusions, beside the run state.
fn exclude_path(state: &Path, root: &str) -> PathBuf {
    state.with_extension(format!("exclude-{root}"))
}

/// Writes the archive exclusions of a root; `None` (after a warning) when it cannot.
fn write_excludes(
    state: &Path,
    root: &str,
    lines: &[String],
    warnings: &mut Vec<String>,
) -> Option<String> {
    let p = exclude_path(state, root);
    let mut text = lines.join("\n");
    text.push('\n');
    match crate::output::sink::replace(&p, &text, "the archive's exclusions") {
        Ok(()) => Some(p.display().to_string()),
        Err(e) => {
            warnings.push(format!("{e:#}"));
            None
        }
    }
}

pub fn canonical_root(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok().filter(|c| c.is_dir())
}

pub fn build(
    s: &Scope<'_>,
    budget: Option<&budget::Budget>,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> RootTrim {
    let mut r = RootTrim::default();
    let Some(prep) = &s.state.prepare else {
        r.skipped = Some(
            "`prepare` did not run after the restore, so used and unused entries cannot be told apart (nothing removed)".into(),
        );
        return r;
    };
    let Some(root) = canonical_root(&s.target.env.gocache()) else {
        r.skipped = Some("GOCACHE does not exist".into());
        return r;
    };
    // Held until the removals are done: no other job's claim, prepare or trim runs meanwhile.
    let reg = match lease::Registry::lock(&root) {
        Ok(reg) => reg,
        Err(e) => {
            warnings.push(format!("cannot lock GOCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot lock it: {e}"));
            return r;
        }
    };
    let machine = lease::machine();
    let now = crate::cache::now_unix();
    let leases = reg.leases();
    let own_lease = prep.lease.as_deref();
    let others = lease::live_others(&leases, own_lease, &machine, now);
    let restoring = lease::restoring(&others, now);
    let cutoff = lease::trim_cutoff(prep.started_at, &others, gocache::UNUSED_BEFORE_SECS);
    let mut listing = match gocache::list(&root, Some(cutoff)) {
        Ok(l) => l,
        Err(e) => {
            warnings.push(format!("cannot list GOCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot list it: {e}"));
            return r;
        }
    };
    // Sizes come from the listing: a second walk of 100 000 entries would cost more than the
    // trim itself. The bytes are the root's on disk (entries and the files beside them).
    let other_bytes = listing.other_bytes();
    let before = DirSize {
        bytes: listing.entries.iter().map(|e| e.size).sum::<u64>() + other_bytes,
        files: listing.entries.len() as u64,
    };
    r.before = Some(before);
    // What the job added to the restored cache (what makes a new build entry worth saving).
    r.added = added_actions(&root, s.state_path, &listing.entries);
    r.mode = Some(if budget.is_some() { "budget" } else { "used" }.into());
    let plan = match budget {
        _ if !restoring.is_empty() => {
            r.skipped = Some(format!(
                "{} other job(s) on this machine are restoring into it, and what they extract keeps the archive's old mtimes (nothing removed)",
                restoring.len()
            ));
            gocache::TrimPlan::default()
        }
        Some(b) => {
            // The budget bounds the root on disk: the files that are not entries count too.
            let bytes = b.bytes.saturating_sub(other_bytes);
            // The records that stay name the outputs that must stay with them: read those the
            // listing did not (older than the cutoff), then plan again.
            let first = gocache::plan_budget(&listing.entries, bytes, cutoff, now);
            let gone: BTreeSet<usize> = first.remove.iter().copied().collect();
            for (i, e) in listing.entries.iter_mut().enumerate() {
                if e.kind == gocache::Kind::Action && e.output_id.is_none() && !gone.contains(&i) {
                    e.output_id = std::fs::read(root.join(&e.rel))
                        .ok()
                        .and_then(|b| gocache::parse_action(&b));
                }
            }
            gocache::plan_budget(&listing.entries, bytes, cutoff, now)
        }
        None => gocache::plan_trim(&listing.entries, cutoff),
    };
    let remove = still_unused(&root, &listing.entries, &plan.remove, cutoff);
    let trash = if restoring.is_empty() {
        listing.trash.clone()
    } else {
        Vec::new()
    };
    let paths: Vec<(PathBuf, u64)> = trash
        .iter()
        .map(|p| (p.clone(), 0))
        .chain(
            remove
                .iter()
                .map(|&i| (root.join(&listing.entries[i].rel), listing.entries[i].size)),
        )
        .collect();
    apply(&root, &paths, dry_run, &mut r, warnings);
    r.after = Some(if dry_run {
        before
    } else {
        DirSize {
            bytes: before.bytes.saturating_sub(r.removed_bytes),
            files: before.files.saturating_sub(r.removed),
        }
    });
    if budget.is_some() {
        // The archive for the rest of the fleet holds what this job used, as on a machine of
        // its own: every entry that stays but that the job did not use is left out of it.
        let gone: BTreeSet<usize> = remove.iter().copied().collect();
        let own_cutoff = prep.started_at - gocache::UNUSED_BEFORE_SECS;
        let mut lines: Vec<String> = gocache::plan_trim(&listing.entries, own_cutoff)
            .remove
            .into_iter()
            .filter(|i| !gone.contains(i))
            .map(|i| listing.entries[i].rel.clone())
            .collect();
        r.excluded = lines.len() as u64;
        lines.extend(modcache::own_dirs());
        r.exclude_file = write_excludes(s.state_path, "build", &lines, warnings);
    }
    r
}

/// The planned removals minus entries some job used since the listing (checked again right
/// before deleting), and the outputs those entries' records point at. Actions come first in the
/// plan, so their outputs are known before any output is judged.
pub fn still_unused(
    root: &Path,
    entries: &[gocache::Entry],
    plan: &[usize],
    cutoff: i64,
) -> Vec<usize> {
    let mut revived: BTreeSet<String> = BTreeSet::new();
    plan.iter()
        .copied()
        .filter(|&i| {
            let e = &entries[i];
            let fresh = gocache::current_mtime(root, e).is_none_or(|m| m >= cutoff);
            if fresh
                && e.kind == gocache::Kind::Action
                && let Some(out) = std::fs::read(root.join(&e.rel))
                    .ok()
                    .and_then(|b| gocache::parse_action(&b))
            {
                revived.insert(out);
            }
            let revived_output = e.kind == gocache::Kind::Output && revived.contains(&e.id);
            !fresh && !revived_output
        })
        .collect()
}

pub fn modules(
    s: &Scope<'_>,
    go: &Go,
    a: &Options,
    persistent: bool,
    warnings: &mut Vec<String>,
) -> RootTrim {
    let dry_run = a.dry_run;
    let mut r = RootTrim::default();
    let prep = s.state.prepare.as_ref();
    // Whether anything may be removed; on a machine that keeps its caches, the module cache is
    // still listed for the archive's exclusions.
    let mut why_not: Option<String> = None;
    if !a.prune_modules {
        why_not = match prep.map(|p| (p.modules_owned, p.modules_not_owned.as_deref())) {
            None | Some((None, _)) => Some(
                "`prepare` did not run for it in this job, so it may belong to other projects or jobs (nothing removed; pass --prune-modules if it is this job's alone)".to_string(),
            ),
            Some((Some(false), why)) => Some(format!(
                "{} (nothing removed; pass --prune-modules if it is this job's alone)",
                why.unwrap_or("it is not this job's own")
            )),
            Some((Some(true), _)) => None,
        };
        if why_not.is_some() && !persistent {
            r.skipped = why_not;
            return r;
        }
    }
    let Some(root) = canonical_root(&s.target.env.gomodcache()) else {
        r.skipped = Some("GOMODCACHE does not exist".into());
        return r;
    };
    if !modcache::looks_like_modcache(&root) {
        r.skipped = Some(format!(
            "`{}` does not look like a module cache (no cache/download/ in it), so nothing is removed; check GOMODCACHE",
            root.display()
        ));
        return r;
    }
    let reg = match lease::Registry::lock(&root) {
        Ok(reg) => reg,
        Err(e) => {
            warnings.push(format!("cannot lock GOMODCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot lock it: {e}"));
            return r;
        }
    };
    let machine = lease::machine();
    let now = crate::cache::now_unix();
    let own = prep.and_then(|p| p.lease.as_deref()).or(s
        .state
        .claim
        .as_ref()
        .map(|cl| cl.lease.as_str()));
    let leases = reg.leases();
    let others = lease::live_others(&leases, own, &machine, now);
    if why_not.is_none()
        && let Some(oldest) = others.iter().map(|l| l.started_at).min()
    {
        why_not = Some(format!(
            "{} other job(s) on this machine are using it (the first for {} min), and a module one job no longer needs may be one another job builds with (nothing removed)",
            others.len(),
            (now - oldest).max(0) / 60
        ));
    }
    if why_not.is_some() && !persistent {
        r.skipped = why_not;
        return r;
    }
    let units = list::units(&s.target.project);
    let live = match list::build_list(go, &units, &s.target.flags.fingerprint_tokens()) {
        Ok(l) => Some(
            l.iter()
                .map(|m| modcache::escape(m))
                .collect::<BTreeSet<_>>(),
        ),
        Err(e) => {
            warnings.push(format!(
                "cannot compute the build list, so no module tree is removed: {e:#}"
            ));
            None
        }
    };
    // The toolchain in use, if GOTOOLCHAIN put it in the module cache.
    let keep: BTreeSet<String> = canonical_root(Path::new(s.target.env.get("GOROOT")))
        .and_then(|g| {
            g.strip_prefix(&root)
                .ok()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
        })
        .into_iter()
        .collect();
    // Toolchains any module or workspace of the project may switch to.
    let texts: Vec<String> = s
        .target
        .project
        .modules
        .iter()
        .map(|m| m.join("go.mod"))
        .chain(s.target.project.workspace.clone())
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let toolchains = modcache::named_toolchains(
        texts.iter().map(String::as_str),
        s.target.env.get("GOTOOLCHAIN"),
    );
    let entries = match modcache::list(&root) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("cannot list GOMODCACHE `{}`: {e}", root.display()));
            r.skipped = Some(format!("cannot list it: {e}"));
            return r;
        }
    };
    let plan = modcache::plan_prune(&entries, live.as_ref(), &keep, &toolchains);
    if persistent {
        // The archive for the rest of the fleet: this job's modules, nothing of other
        // projects' (a shared module cache may hold private modules of other repositories).
        match &live {
            Some(l) => {
                let lines = modcache::archive_excludes(
                    &entries,
                    &plan,
                    &modcache::download_paths(&root),
                    l,
                );
                r.excluded = (lines.len() - modcache::own_dirs().len()) as u64;
                r.exclude_file = write_excludes(s.state_path, "modules", &lines, warnings);
            }
            None => warnings.push(
                "without the build list, an archive of this module cache would hold other projects' modules; the job's post step does not save it".into(),
            ),
        }
    }
    if let Some(why) = why_not {
        r.skipped = Some(why);
        return r;
    }
    r.before = dir_size(&root);
    let paths: Vec<(PathBuf, u64)> = plan
        .into_iter()
        .map(|i| (root.join(&entries[i].rel), entries[i].size))
        .collect();
    apply(&root, &paths, dry_run, &mut r, warnings);
    r.after = if dry_run { r.before } else { dir_size(&root) };
    r
}

pub fn apply(
    root: &Path,
    paths: &[(PathBuf, u64)],
    dry_run: bool,
    r: &mut RootTrim,
    warnings: &mut Vec<String>,
) {
    if dry_run {
        // A reader that stops early (`trim --dry-run | head`) ends the listing, not the run.
        let mut out = std::io::stdout().lock();
        let mut listing = true;
        for (p, size) in paths {
            if listing {
                listing =
                    writeln!(out, "would remove {} ({})", p.display(), human_bytes(*size)).is_ok();
            }
            r.removed += 1;
            r.removed_bytes += size;
        }
        let _ = out.flush();
        return;
    }
    let failures = remove::remove_all(root, paths);
    r.removed = paths.len() as u64 - failures.len() as u64;
    r.removed_bytes =
        paths.iter().map(|p| p.1).sum::<u64>() - failures.iter().map(|f| f.1).sum::<u64>();
    r.failed = failures.len() as u64;
    for (p, _, e) in failures.iter().take(5) {
        warnings.push(format!("cannot remove `{}`: {e}", p.display()));
    }
    if r.failed > 5 {
        warnings.push(format!(
            "{} more removals failed in `{}`",
            r.failed - 5,
            root.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_removal_is_counted_and_the_rest_still_goes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("cache");
        std::fs::create_dir_all(root.join("ab")).unwrap();
        let mut paths = Vec::new();
        for i in 0..10 {
            let p = root.join("ab").join(format!("{i:064}-a"));
            std::fs::write(&p, "v1").unwrap();
            paths.push((p, 2));
        }
        // One entry that cannot be removed: it lies outside the root (refused, never touched).
        let outside = t.path().join("outside-d");
        std::fs::write(&outside, "keep").unwrap();
        paths.insert(5, (outside.clone(), 4));
        let mut r = RootTrim::default();
        let mut warnings = Vec::new();
        apply(&root, &paths, false, &mut r, &mut warnings);
        assert_eq!((r.removed, r.removed_bytes, r.failed), (10, 20, 1));
        assert!(warnings[0].contains("not inside"), "{warnings:?}");
        assert!(outside.exists());
        assert_eq!(std::fs::read_dir(root.join("ab")).unwrap().count(), 0);
    }

    #[test]
    fn an_entry_used_since_the_listing_stays_with_its_output() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("aa")).unwrap();
        let (a, d) = ("a".repeat(64), "d".repeat(64));
        let rec = format!("v1 {a} {d} 1 1\n");
        std::fs::write(root.join(format!("aa/{a}-a")), rec).unwrap();
        std::fs::write(root.join(format!("aa/{d}-d")), "out").unwrap();
        let entry = |id: &str, kind| gocache::Entry {
            rel: format!(
                "aa/{id}-{}",
                if kind == gocache::Kind::Action {
                    "a"
                } else {
                    "d"
                }
            ),
            kind,
            id: id.to_string(),
            is_dir: false,
            mtime: 0,
            size: 1,
            output_id: None,
        };
        let entries = [
            entry(&a, gocache::Kind::Action),
            entry(&d, gocache::Kind::Output),
        ];
        // Listed as old; the files' real mtimes are now, so another job used them since.
        let cutoff = crate::cache::now_unix() - 3600;
        assert!(still_unused(root, &entries, &[0, 1], cutoff).is_empty());
        // Really old: both go.
        let old = filetime::FileTime::from_unix_time(cutoff - 10, 0);
        for e in &entries {
            filetime::set_file_mtime(root.join(&e.rel), old).unwrap();
        }
        assert_eq!(still_unused(root, &entries, &[0, 1], cutoff), [0, 1]);
    }

    #[test]
    fn records_are_removed_before_outputs() {
        let p = |s: &str| (PathBuf::from(s), 1);
        let paths = [
            p("/c/aa/1-a"),
            p("/c/bb/2-a"),
            p("/c/aa/3-d"),
            p("/c/cc/4-d"),
        ];
        let phases = remove::split_phases(&paths);
        assert_eq!(phases.len(), 2);
        assert!(
            phases[0]
                .iter()
                .all(|(x, _)| x.to_string_lossy().ends_with("-a"))
        );
        assert!(
            phases[1]
                .iter()
                .all(|(x, _)| x.to_string_lossy().ends_with("-d"))
        );
    }
}
