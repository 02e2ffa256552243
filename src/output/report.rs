//! `report`: what the cache did for this job — restore, coverage, warm-up, sizes before and after
//! trim, bytes removed, time spent — as text, JSON, GitHub step-summary markdown or a GitLab
//! collapsible section. Rendering is pure over the [`State`].

use std::fmt::Write;

use crate::cache::state::{RootTrim, State};
use crate::fsutil::{DirSize, human_bytes};

fn size(s: Option<DirSize>) -> String {
    s.map_or_else(
        || "–".into(),
        |z| format!("{} ({} files)", human_bytes(z.bytes), z.files),
    )
}

fn removed(r: &RootTrim) -> String {
    if let Some(why) = &r.skipped {
        return format!("not trimmed: {why}");
    }
    let mut s = format!("{} entries, {}", r.removed, human_bytes(r.removed_bytes));
    if r.failed > 0 {
        let _ = write!(s, " ({} could not be removed)", r.failed);
    }
    s
}

/// Rows of the summary table: (label, modules value, build value).
fn rows(st: &State) -> Vec<(&'static str, String, String)> {
    let mut rows = Vec::new();
    let held = |c: Option<&crate::cache::state::RootClaim>| c.and_then(|c| c.held.clone());
    let (held_m, held_b) = st.claim.as_ref().map_or((None, None), |c| {
        (held(c.modules.as_ref()), held(c.build.as_ref()))
    });
    if held_m.is_some() || held_b.is_some() || (st.restore.is_none() && st.claim.is_some()) {
        let show = |h: &Option<String>| match h {
            Some(k) => format!("already on this machine (`{k}`), nothing restored"),
            None => "not on this machine".into(),
        };
        rows.push(("local caches", show(&held_m), show(&held_b)));
    }
    if let Some(r) = &st.restore {
        let show = |k: &Option<String>, hit: bool| match k {
            Some(k) if hit => format!("exact hit `{k}`"),
            Some(k) => format!("restore key `{k}`"),
            None => "miss".into(),
        };
        // A root `prepare` left alone (`--caches`) is not archived in this job: not a miss.
        let p = st.prepare.as_ref();
        let off_or = |off: bool, v: String| if off { "not archived".into() } else { v };
        rows.push((
            "restored",
            off_or(
                r.modules_key.is_none() && p.is_some_and(|p| p.modules_owned.is_none()),
                show(&r.modules_key, r.modules_hit),
            ),
            off_or(
                r.build_key.is_none() && p.is_some_and(|p| p.gocache.is_none()),
                show(&r.build_key, r.build_hit),
            ),
        ));
    }
    if let Some(p) = &st.prepare {
        rows.push(("size as restored", size(p.gomodcache), size(p.gocache)));
    }
    if let Some(t) = &st.trim {
        rows.push((
            "size before trim",
            size(t.gomodcache.before),
            size(t.gocache.before),
        ));
        rows.push((
            "size after trim",
            size(t.gomodcache.after),
            size(t.gocache.after),
        ));
        let verb = if t.dry_run {
            "would remove"
        } else {
            "removed by trim"
        };
        rows.push((verb, removed(&t.gomodcache), removed(&t.gocache)));
        if let Some(n) = t.gocache.added {
            rows.push(("added by the job", "–".into(), format!("{n} entries")));
        }
    }
    if let Some(c) = &st.cacheprog {
        rows.push((
            "GOCACHEPROG",
            "–".into(),
            match (&c.remote, &c.write_namespace) {
                (Some(r), Some(ns)) => format!("local tier + `{r}`, writes `{ns}`"),
                (Some(r), None) => format!("local tier + `{r}`, read-only"),
                (None, _) => "local tier only".into(),
            },
        ));
        rows.push((
            "hits (local tier)",
            "–".into(),
            format!("{} ({})", c.local_hits, human_bytes(c.local_hit_bytes)),
        ));
        if c.remote.is_some() {
            rows.push((
                "hits (remote tier)",
                "–".into(),
                format!(
                    "{} ({}, {} downloaded; {} prefetched; {} round trips while building)",
                    c.remote_hits,
                    human_bytes(c.remote_hit_bytes),
                    human_bytes(c.download_bytes),
                    c.prefetched,
                    c.remote_round_trips
                ),
            ));
        }
        if c.remote_off > 0 {
            rows.push((
                "remote tier off",
                "–".into(),
                format!(
                    "for {} go command{}: another go command on this machine had given up on the store minutes before (see the warning)",
                    c.remote_off,
                    if c.remote_off == 1 { "" } else { "s" }
                ),
            ));
        }
        if c.manifest_requests > 0 || c.manifests_unchanged > 0 {
            rows.push((
                "manifest requests",
                "–".into(),
                format!(
                    "{} ({}); {} go command{} left it as it was",
                    c.manifest_requests,
                    human_bytes(c.manifest_bytes),
                    c.manifests_unchanged,
                    if c.manifests_unchanged == 1 { "" } else { "s" }
                ),
            ));
        }
        if c.sibling_manifests > 0 {
            rows.push((
                "manifest",
                "–".into(),
                "a sibling job's of the same configuration (this job had none yet)".into(),
            ));
        }
        rows.push((
            "misses (compiled)",
            "–".into(),
            format!("{} of {} lookups", c.misses, c.gets),
        ));
        if c.local_trimmed > 0 {
            rows.push((
                "trimmed (local)",
                "–".into(),
                format!(
                    "{} files ({}) unused for longer than the maximum age",
                    c.local_trimmed,
                    human_bytes(c.local_trimmed_bytes)
                ),
            ));
        }
        if c.remote.is_some() {
            let mut up = format!(
                "{} objects ({}), {} already there",
                c.uploads,
                human_bytes(c.upload_bytes),
                c.uploads_skipped
            );
            if c.upload_failures > 0 {
                let _ = write!(up, ", {} failed", c.upload_failures);
                let why: Vec<String> = c
                    .upload_failure_reasons
                    .iter()
                    .map(|(r, n)| format!("{r}: {n}"))
                    .collect();
                if !why.is_empty() {
                    let _ = write!(up, " ({})", why.join(", "));
                }
            }
            rows.push(("uploaded", "–".into(), up));
        }
    }
    rows
}

/// Parses `report --timing NAME=SECONDS`.
pub fn parse_timing(raw: &str) -> anyhow::Result<(String, f64)> {
    let bad = || {
        crate::error::usage(
            format!("`--timing` must be `NAME=SECONDS`, got `{raw}`"),
            "name a phase in lowercase with dots (e.g. `restore.build.download=1.25`); seconds are a number ≥ 0",
        )
    };
    let (name, secs) = raw.split_once('=').ok_or_else(bad)?;
    let name = name.trim();
    let ok_name = !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    match secs.trim().parse::<f64>() {
        Ok(v) if ok_name && v.is_finite() && v >= 0.0 => Ok((name.to_string(), v)),
        _ => Err(bad()),
    }
}

/// The order phases happen in a job; others follow by name.
const PHASE_ORDER: [&str; 8] = [
    "keys", "claim", "restore", "prepare", "warm", "trim", "save", "prune",
];

/// One line: every phase's wall time, grouped by its first two name parts (`restore.build`:
/// lookup, download, extract), and the total (pure).
pub fn timing_line(timings: &std::collections::BTreeMap<String, f64>) -> Option<String> {
    if timings.is_empty() {
        return None;
    }
    const ENTRIES: [&str; 2] = ["modules", "build"];
    const LEAVES: [&str; 5] = ["lookup", "download", "extract", "compress", "upload"];
    let pos = |list: &[&str], part: Option<&str>| {
        part.and_then(|p| list.iter().position(|l| *l == p))
            .unwrap_or(list.len())
    };
    let rank = |name: &str| {
        let mut parts = name.split('.');
        let (a, b, c) = (parts.next(), parts.next(), parts.next());
        (pos(&PHASE_ORDER, a), pos(&ENTRIES, b), pos(&LEAVES, c))
    };
    let mut groups: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    let mut names: Vec<&String> = timings.keys().collect();
    names.sort_by_key(|n| (rank(n), n.as_str()));
    for name in names {
        let mut parts = name.splitn(3, '.');
        let group = match (parts.next(), parts.next()) {
            (Some(a), Some(b)) => format!("{a} {b}"),
            (Some(a), None) => a.to_string(),
            _ => name.clone(),
        };
        let leaf = parts.next().unwrap_or("").to_string();
        match groups.last_mut() {
            Some((g, v)) if *g == group => v.push((leaf, timings[name])),
            _ => groups.push((group, vec![(leaf, timings[name])])),
        }
    }
    let total: f64 = timings.values().sum();
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(g, v)| {
            let sum: f64 = v.iter().map(|(_, s)| s).sum();
            let detail: Vec<String> = v
                .iter()
                .filter(|(leaf, _)| !leaf.is_empty())
                .map(|(leaf, s)| format!("{leaf} {s:.2}"))
                .collect();
            if detail.is_empty() {
                format!("{g} {sum:.2} s")
            } else {
                format!("{g} {sum:.2} s ({})", detail.join(", "))
            }
        })
        .collect();
    Some(format!("time: {}; total {total:.2} s", parts.join(", ")))
}

fn lines(st: &State) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(w) = &st.warm {
        if let Some(b) = &w.before {
            out.push(format!("coverage before warm-up: {}", b.sentence()));
        }
        if let Some(a) = &w.after {
            out.push(format!("coverage after warm-up: {}", a.sentence()));
        }
        let compiled: u64 = w.steps.iter().map(|s| s.compiled).sum();
        out.push(format!(
            "warm-up: {:.1}s, {} steps, {compiled} packages compiled",
            w.seconds,
            w.steps.len()
        ));
        for (p, e) in &w.failed {
            out.push(format!("failed to compile: {p}: {e}"));
        }
    }
    if let Some(v) = &st.machine {
        out.push(format!(
            "machine: {} ({})",
            if v.persistent {
                "keeps its caches between jobs"
            } else {
                "the caches live for this job only"
            },
            v.why
        ));
    }
    if let Some(t) = &st.trim {
        out.push(format!("trim: {:.2}s", t.seconds));
        if let Some(b) = &t.budget {
            out.push(format!(
                "budget: GOCACHE is kept within {} ({}), least recently used entries first; never what a live job may use",
                human_bytes(b.bytes),
                b.source
            ));
        }
        for (name, r) in [("modules", &t.gomodcache), ("build", &t.gocache)] {
            if r.exclude_file.is_some() {
                out.push(format!(
                    "{name} archive: leaves out {} entries this job did not use; the local cache keeps them",
                    r.excluded
                ));
            }
        }
    }
    out.extend(timing_line(&st.timings));
    for w in st
        .claim
        .iter()
        .flat_map(|c| &c.warnings)
        .chain(st.prepare.iter().flat_map(|p| &p.warnings))
        .chain(st.warm.iter().flat_map(|w| &w.warnings))
        .chain(st.trim.iter().flat_map(|t| &t.warnings))
        .chain(st.cacheprog.iter().flat_map(|c| &c.warnings))
    {
        out.push(format!("warning: {w}"));
    }
    if out.is_empty() && rows(st).is_empty() {
        out.push("nothing recorded yet: run prepare, warm or trim first".into());
    }
    out
}

/// Plain text (pure).
pub fn text(st: &State) -> String {
    let mut s = String::new();
    let rows = rows(st);
    if !rows.is_empty() {
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let _ = writeln!(s, "{:w$}  modules (GOMODCACHE) | build (GOCACHE)", "");
        for (label, m, b) in rows {
            let _ = writeln!(s, "{label:w$}  {m} | {b}");
        }
    }
    for l in lines(st) {
        let _ = writeln!(s, "{l}");
    }
    s
}

/// GitHub step-summary markdown (pure).
pub fn markdown(st: &State) -> String {
    let mut s = String::from("### go-ci-cache\n\n");
    let rows = rows(st);
    if !rows.is_empty() {
        s.push_str("| | modules (GOMODCACHE) | build (GOCACHE) |\n|---|---|---|\n");
        for (label, m, b) in rows {
            let _ = writeln!(
                s,
                "| {label} | {} | {} |",
                m.replace('|', "\\|"),
                b.replace('|', "\\|")
            );
        }
        s.push('\n');
    }
    for l in lines(st) {
        let _ = writeln!(s, "- {l}");
    }
    s
}

/// A GitLab collapsible section holding the text report (pure, given the clock).
pub fn gitlab_section(st: &State, start: u64, end: u64) -> String {
    let name = "go_ci_cache_report";
    crate::output::gitlab::section_start(name, "go-ci-cache report", start, true)
        + &text(st)
        + &crate::output::gitlab::section_end(name, end)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn timings_parse_and_render_in_job_order() {
        assert_eq!(
            parse_timing("restore.build.download=1.25").unwrap(),
            ("restore.build.download".into(), 1.25)
        );
        for bad in [
            "keys", "keys=", "keys=-1", "keys=NaN", "Keys=1", "a..b=1", "=1", "k=1s",
        ] {
            let e = parse_timing(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
        let t: BTreeMap<String, f64> = [
            ("trim", 0.2),
            ("keys", 0.05),
            ("restore.build.extract", 0.3),
            ("restore.build.lookup", 0.1),
            ("restore.modules.lookup", 0.12),
            ("save.build.upload", 0.5),
            ("prepare", 0.03),
            ("zzz", 0.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            timing_line(&t).unwrap(),
            "time: keys 0.05 s, restore modules 0.12 s (lookup 0.12), restore build 0.40 s (lookup 0.10, extract 0.30), prepare 0.03 s, trim 0.20 s, save build 0.50 s (upload 0.50), zzz 0.00 s; total 1.30 s"
        );
        assert_eq!(timing_line(&BTreeMap::new()), None);
    }
}

#[cfg(test)]
mod cacheprog_tests {
    use super::*;
    use crate::cacheprog::stats::Stats;

    #[test]
    fn per_tier_rows() {
        let st = State {
            cacheprog: Some(Stats {
                remote: Some("s3://b/p".into()),
                write_namespace: Some("trusted".into()),
                gets: 10,
                local_hits: 3,
                local_hit_bytes: 2048,
                remote_hits: 6,
                remote_hit_bytes: 1 << 20,
                prefetched: 5,
                remote_round_trips: 3,
                download_bytes: 300 << 10,
                misses: 1,
                uploads: 4,
                upload_bytes: 512,
                upload_failures: 1,
                local_trimmed: 7,
                local_trimmed_bytes: 4096,
                sibling_manifests: 1,
                warnings: vec!["remote cache `s3://b/p` is off".into()],
                ..Stats::default()
            }),
            ..State::default()
        };
        let t = text(&st);
        for want in [
            "local tier + `s3://b/p`, writes `trusted`",
            "hits (local tier)   – | 3 (2.0 KiB)",
            "hits (remote tier)  – | 6 (1.0 MiB, 300.0 KiB downloaded; 5 prefetched; 3 round trips while building)",
            "misses (compiled)   – | 1 of 10 lookups",
            "uploaded            – | 4 objects (512 B), 0 already there, 1 failed",
            "trimmed (local)     – | 7 files (4.0 KiB) unused for longer than the maximum age",
            "manifest            – | a sibling job's of the same configuration (this job had none yet)",
            "warning: remote cache `s3://b/p` is off",
        ] {
            assert!(t.contains(want), "{want:?} in\n{t}");
        }
        assert!(markdown(&st).contains(
            "| hits (remote tier) | – | 6 (1.0 MiB, 300.0 KiB downloaded; 5 prefetched; 3 round trips while building) |"
        ));
    }

    #[test]
    fn a_root_left_to_the_cache_program_is_not_a_miss() {
        let restore = crate::cache::state::RestoreInfo {
            modules_key: Some("go-ci-cache-mod-v1-linux-0123".into()),
            modules_hit: true,
            ..Default::default()
        };
        // `prepare --caches modules`: GOCACHE was not archived, so its column says so.
        let st = State {
            restore: Some(restore.clone()),
            prepare: Some(crate::cache::state::PrepareReport {
                modules_owned: Some(true),
                ..Default::default()
            }),
            ..State::default()
        };
        assert!(
            markdown(&st).contains(
                "| restored | exact hit `go-ci-cache-mod-v1-linux-0123` | not archived |"
            ),
            "{}",
            markdown(&st)
        );
        // Both prepared: an entry nothing matched is a miss.
        let st = State {
            restore: Some(restore),
            prepare: Some(crate::cache::state::PrepareReport {
                modules_owned: Some(true),
                gocache: Some(crate::fsutil::DirSize::default()),
                ..Default::default()
            }),
            ..State::default()
        };
        assert!(markdown(&st).contains("| exact hit `go-ci-cache-mod-v1-linux-0123` | miss |"));
    }
}
