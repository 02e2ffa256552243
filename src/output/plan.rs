//! The `plan` preview: a readable account of every input, layer, key and path, so a user can
//! tell from it alone why a key changed. Rendering is pure.

use std::fmt::Write;

use serde::Serialize;

use crate::cacheprog::RemoteCachePlan;
use crate::fsutil::{DirSize, human_bytes};
use crate::key::Layer;
use crate::output::doc::{EntryDoc, KeysDoc};

/// What `plan` shows beyond the keys document.
#[derive(Debug, Clone, Serialize)]
pub struct PlanDoc {
    /// Keys and inputs.
    #[serde(flatten)]
    pub keys: KeysDoc,
    /// Current size of GOMODCACHE (`None`: missing).
    pub modules_size: Option<DirSize>,
    /// Current size of GOCACHE (`None`: missing).
    pub build_size: Option<DirSize>,
    /// Dependency coverage for the job's flags (`None`: not computed).
    pub coverage: Option<crate::warm::coverage::Coverage>,
    /// The GOCACHEPROG program's configuration (`None`: not in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_cache: Option<RemoteCachePlan>,
}

/// Renders the preview (pure).
pub fn render(p: &PlanDoc) -> String {
    let d = &p.keys;
    let mut s = String::new();
    let go = |k: &str| d.inputs.go.get(k).map_or("", String::as_str);
    let mode = match d.project.mode {
        crate::project::Mode::Module => "module".to_string(),
        crate::project::Mode::MultiModule => format!("{} modules", d.project.modules.len()),
        crate::project::Mode::Workspace => format!(
            "workspace {} with {} modules",
            d.project.workspace.as_deref().unwrap_or("go.work"),
            d.project.modules.len()
        ),
    };
    let _ = writeln!(s, "go-ci-cache plan for {} ({mode})", d.project.root);
    if d.project.modules.len() > 1 {
        let _ = writeln!(s, "  modules: {}", d.project.modules.join(", "));
    }

    let _ = writeln!(s, "\nGo");
    let arch_level = crate::go::env::arch_level_var(go("GOARCH"))
        .map(|v| format!(" ({v}={})", go(v)))
        .unwrap_or_default();
    row(&mut s, "version", go("GOVERSION"));
    row(
        &mut s,
        "target",
        &format!("{}/{}{arch_level}", go("GOOS"), go("GOARCH")),
    );
    row(
        &mut s,
        "host",
        &format!("{}/{}", go("GOHOSTOS"), go("GOHOSTARCH")),
    );
    let cgo = match (go("CGO_ENABLED"), &d.inputs.cc_version) {
        ("1", Some(cc)) => format!("on ({cc})"),
        ("1", None) => "on".to_string(),
        _ => "off".to_string(),
    };
    row(&mut s, "cgo", &cgo);
    if go("CGO_ENABLED") == "1" {
        let image = d.inputs.runner_image.as_deref().unwrap_or(
            "unknown (cgo objects depend on it: set --runner-image, or ImageOS/ImageVersion, CI_JOB_IMAGE)",
        );
        row(&mut s, "image", image);
    }
    if let Some(id) = &d.inputs.compiler_id {
        row(&mut s, "compiler", &format!("build ID {id}"));
    }
    row(&mut s, "GOFLAGS", or_none(go("GOFLAGS")));
    row(
        &mut s,
        "build flags",
        or_none(&d.inputs.build_flags.join(" ")),
    );
    row(
        &mut s,
        "-trimpath",
        if d.inputs.trimpath {
            "on: build keys do not depend on where GOMODCACHE lives"
        } else {
            "off: the GOMODCACHE path is part of the build key (use -trimpath to share builds across paths)"
        },
    );
    if !go("GOTOOLCHAIN").is_empty() {
        row(&mut s, "GOTOOLCHAIN", go("GOTOOLCHAIN"));
    }
    if !go("GOCACHEPROG").is_empty() {
        row(
            &mut s,
            "GOCACHEPROG",
            &format!("{} (builds use it, not GOCACHE)", go("GOCACHEPROG")),
        );
    }

    let _ = writeln!(
        s,
        "\nDependency files ({})",
        d.inputs.dependency_files.len()
    );
    let w = d
        .inputs
        .dependency_files
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(0);
    for f in &d.inputs.dependency_files {
        let _ = writeln!(s, "  {:w$}  sha256:{}", f.path, &f.sha256[..16]);
    }
    for f in &d.inputs.pgo_files {
        let _ = writeln!(
            s,
            "  {:w$}  sha256:{}  (PGO profile, keys the build)",
            f.path,
            &f.sha256[..16]
        );
    }

    entry(
        &mut s,
        "Modules cache",
        "GOMODCACHE",
        &d.modules,
        p.modules_size,
    );
    entry(&mut s, "Build cache", "GOCACHE", &d.build, p.build_size);
    if let Some(r) = &p.remote_cache {
        remote_section(&mut s, r);
    }
    if let Some(c) = &p.coverage {
        let _ = writeln!(s, "\nCoverage\n  {}", c.sentence());
        if c.cached() < c.total() {
            let _ = writeln!(
                s,
                "  `go-ci-cache warm` compiles the rest with the same flags.\n  \
                 Run right before the job in the same job, it saves no time: the job would\n  \
                 compile the same packages itself (and a `test` warm-up links each test binary\n  \
                 once more). It pays off when its work is shared: saved for later runs, or done\n  \
                 once in a warm job that the other jobs wait for (examples/github/warm-job.yml)."
            );
        }
    }
    s
}

fn or_none(v: &str) -> &str {
    if v.is_empty() { "(none)" } else { v }
}

/// The GOCACHEPROG section of the preview.
fn remote_section(s: &mut String, r: &RemoteCachePlan) {
    let _ = writeln!(s, "\nRemote build cache (GOCACHEPROG)");
    let trim = match r.local_max_age_seconds {
        Some(secs) if secs % 86_400 == 0 => format!("{}d", secs / 86_400),
        Some(secs) if secs % 3_600 == 0 => format!("{}h", secs / 3_600),
        Some(secs) => format!("{secs}s"),
        None => String::new(),
    };
    let trim = if trim.is_empty() {
        " (never trimmed: --local-max-age off)".to_string()
    } else {
        format!(" (trimmed daily of files unused for {trim})")
    };
    row(s, "local tier", &format!("{}{trim}", r.local_dir));
    match &r.remote {
        Some(u) => {
            let at = r
                .endpoint
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default();
            row(s, "remote", &format!("{u}{at}"));
            let status = match &r.store {
                Some(Ok(())) => "answers".to_string(),
                Some(Err(e)) => format!("does not answer: {e}"),
                None => "not checked".to_string(),
            };
            row(s, "store", &status);
            if let Some((secs, why)) = &r.skipped {
                row(
                    s,
                    "skipped",
                    &format!(
                        "by go commands starting here in the next {secs}s: one gave up on the store ({why})"
                    ),
                );
            }
        }
        None => row(
            s,
            "remote",
            "none (local tier only; set GO_CI_CACHE_REMOTE)",
        ),
    }
    match &r.write_namespace {
        Some(w) => row(s, "writes", &format!("`{w}` ({})", r.why)),
        None => row(s, "writes", &format!("nothing to the store ({})", r.why)),
    }
    let reads: Vec<String> = r.read_namespaces.iter().map(|n| format!("`{n}`")).collect();
    row(s, "reads", &reads.join(", then "));
    row(s, "manifest", &r.manifest);
}

/// `trust`'s text: whose code runs, what it writes and reads, and whether it saves archives.
pub fn render_trust(d: &crate::trust::Decision) -> String {
    let mut s = String::new();
    let whose = if d.trusted {
        format!("{} (trusted)", d.origin)
    } else {
        d.origin.clone()
    };
    let _ = writeln!(s, "Who writes what");
    row(&mut s, "code", &whose);
    match &d.write {
        Some(w) => row(&mut s, "writes", &format!("`{w}` (remote build cache)")),
        None => row(
            &mut s,
            "writes",
            &format!("nothing to the remote build cache: {}", d.write_why),
        ),
    }
    let reads: Vec<String> = d.read.iter().map(|n| format!("`{n}`")).collect();
    row(
        &mut s,
        "reads",
        &if reads.is_empty() {
            "nothing".to_string()
        } else {
            reads.join(", then ")
        },
    );
    if d.archives {
        row(
            &mut s,
            "archives",
            "saved when the entry is new (GitHub's cache, this ref's scope)",
        );
    } else {
        row(
            &mut s,
            "archives",
            &format!("never saved: {}", d.archives_why),
        );
    }
    s
}

fn row(s: &mut String, name: &str, value: &str) {
    let _ = writeln!(s, "  {name:12} {value}");
}

fn entry(s: &mut String, title: &str, var: &str, e: &EntryDoc, size: Option<DirSize>) {
    let size = match size {
        Some(z) => format!("{}, {} files", human_bytes(z.bytes), z.files),
        None => "not there yet".to_string(),
    };
    let _ = writeln!(s, "\n{title}: {var}={} ({size})", e.path);
    let _ = writeln!(s, "  key           {}", e.key);
    for (i, k) in e.restore_keys.iter().enumerate() {
        let label = if i == 0 { "restore keys" } else { "" };
        let _ = writeln!(s, "  {label:13} {k}");
    }
    let _ = writeln!(s, "  layers");
    let w = e.layers.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in &e.layers {
        layer(s, l, w);
    }
}

fn layer(s: &mut String, l: &Layer, w: usize) {
    let _ = write!(s, "    {:w$}  {}", l.name, l.value);
    let literal = l.inputs.len() == 1 && l.inputs[0].value == l.value;
    if (l.inputs.is_empty() && l.name != "deps") || literal {
        s.push('\n');
        return;
    }
    if !matches!(l.name, "fingerprint" | "deps") {
        let parts: Vec<String> = l
            .inputs
            .iter()
            .map(|i| format!("{}={}", i.name, i.value))
            .collect();
        let _ = writeln!(s, "  <- {}", parts.join(" "));
        return;
    }
    if l.inputs.is_empty() {
        s.push('\n');
        return;
    }
    let _ = writeln!(s, "  <- hash of:");
    for i in &l.inputs {
        let shown = if i.value.is_empty() {
            "(empty)"
        } else {
            &i.value
        };
        let _ = writeln!(s, "    {:w$}       {} = {shown}", "", i.name);
    }
}

#[cfg(test)]
mod remote_cache_tests {
    use super::*;

    #[test]
    fn renders_the_remote_cache() {
        let mut r = RemoteCachePlan {
            local_dir: "/home/u/.cache/go-ci-cache/cacheprog".into(),
            local_max_age_seconds: Some(5 * 86_400),
            remote: Some("s3://b/ci".into()),
            endpoint: Some("http://127.0.0.1:8333".into()),
            write_namespace: Some("pr-7".into()),
            why: "pull request #7 (pull_request)".into(),
            read_namespaces: vec!["pr-7".into(), "trusted".into()],
            manifest: "test".into(),
            store: Some(Err("connection refused".into())),
            skipped: None,
        };
        let mut s = String::new();
        remote_section(&mut s, &r);
        assert_eq!(
            s,
            "\nRemote build cache (GOCACHEPROG)\n\
             \x20 local tier   /home/u/.cache/go-ci-cache/cacheprog (trimmed daily of files unused for 5d)\n\
             \x20 remote       s3://b/ci at http://127.0.0.1:8333\n\
             \x20 store        does not answer: connection refused\n\
             \x20 writes       `pr-7` (pull request #7 (pull_request))\n\
             \x20 reads        `pr-7`, then `trusted`\n\
             \x20 manifest     test\n"
        );
        r.skipped = Some((240, "no answer within 10s".into()));
        let mut s = String::new();
        remote_section(&mut s, &r);
        assert!(
            s.contains("  skipped      by go commands starting here in the next 240s: one gave up on the store (no answer within 10s)\n"),
            "{s}"
        );
        r.skipped = None;
        r.store = Some(Ok(()));
        r.write_namespace = None;
        r.why = "remote-read-only is `true`".into();
        let mut s = String::new();
        remote_section(&mut s, &r);
        assert!(s.contains("store        answers\n"), "{s}");
        assert!(
            s.contains("nothing to the store (remote-read-only is `true`)"),
            "{s}"
        );
        for (age, want) in [
            (Some(36 * 3600), "unused for 36h)"),
            (Some(90 * 60), "unused for 5400s)"),
            (None, "(never trimmed: --local-max-age off)"),
        ] {
            r.local_max_age_seconds = age;
            let mut s = String::new();
            remote_section(&mut s, &r);
            assert!(s.contains(want), "{s}");
        }
    }
}
