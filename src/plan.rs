//! The `plan` preview: a readable account of every input, layer, key and path, so a user can
//! tell from it alone why a key changed. Rendering is pure.

use std::fmt::Write;

use serde::Serialize;

use crate::fsutil::{DirSize, human_bytes};
use crate::job::{EntryDoc, KeysDoc};
use crate::key::Layer;

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
    pub coverage: Option<crate::coverage::Coverage>,
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
    let arch_level = crate::goenv::arch_level_var(go("GOARCH"))
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
    if let Some(c) = &p.coverage {
        let _ = writeln!(s, "\nCoverage\n  {}", c.sentence());
        if c.cached() < c.total() {
            let _ = writeln!(
                s,
                "  `go-ci-cache warm` compiles the rest with the same flags.\n  \
                 Run right before the job in the same job, it saves no time: the job would\n  \
                 compile the same packages itself (and a `test` warm-up links each test binary\n  \
                 once more). It pays off when its work is shared: saved for later runs, or done\n  \
                 once in a warm job that the other jobs wait for (see the README's warm job)."
            );
        }
    }
    s
}

fn or_none(v: &str) -> &str {
    if v.is_empty() { "(none)" } else { v }
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
