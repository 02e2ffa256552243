//! The key-input table (src/key/inputs.rs) checked against the real `go`: for a
//! representative set of flag and environment changes, the build fingerprint changes exactly
//! when Go's action ID of some dependency package changes. Go's side is measured without
//! compiling: after the base configuration is compiled (`go list -export`), a dependency is
//! stale under the changed configuration iff its action ID differs (cmd/go/internal/work/buildid.go:
//! a package is stale when its action ID has no output in the cache).

use std::path::Path;

use serde_json::Value;

use crate::util::TestEnv;

/// Dependency packages (std and third-party) that are stale under `flags` and `env`.
fn stale_deps(t: &TestEnv, dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = t.go(dir);
    cmd.args(["list", "-deps", "-test"]).args(flags).args([
        "-f",
        "{{if and (not .ForTest) (or .Standard (and .Module (not .Module.Main)))}}{{if .Stale}}{{.ImportPath}}{{end}}{{end}}",
        "./...",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "go list {flags:?} {env:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn compile(t: &TestEnv, dir: &Path, flags: &[&str], env: &[(&str, &str)]) {
    let mut cmd = t.go(dir);
    cmd.args(["list", "-export", "-deps", "-test"])
        .args(flags)
        .arg("./...");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fingerprint(t: &TestEnv, dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> String {
    let joined = shlex::try_join(flags.iter().copied()).unwrap();
    let mut cmd = t.bin(&["keys", "--format", "json", "--dir", dir.to_str().unwrap()]);
    cmd.arg(format!("--build-flags={joined}"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["build"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "fingerprint")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A module whose main package imports a fixture module and `net` (a cgo package when cgo
/// is on), so the cgo rows have something to change.
fn module(t: &TestEnv) -> std::path::PathBuf {
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    std::fs::write(m.join("net.go"), "package main\n\nimport _ \"net\"\n").unwrap();
    m
}

type Env<'a> = &'a [(&'a str, &'a str)];
/// (what, base flags, base env, changed flags, changed env)
type Case<'a> = (&'a str, &'a [&'a str], Env<'a>, &'a [&'a str], Env<'a>);

const CASES: &[Case<'_>] = &[
    ("-tags order", &["-tags=a,b"], &[], &["-tags=b,a"], &[]),
    (
        "-ldflags -X version stamp",
        &[],
        &[],
        &["-ldflags=-X main.version=abc123"],
        &[],
    ),
    ("-buildvcs=false", &[], &[], &["-buildvcs=false"], &[]),
    ("unqualified -gcflags", &[], &[], &["-gcflags=-N"], &[]),
    (
        "-gcflags for a dependency",
        &[],
        &[],
        &["-gcflags=example.com/greet=-N"],
        &[],
    ),
    ("-cover", &[], &[], &["-cover"], &[]),
    ("-trimpath", &[], &[], &["-trimpath"], &[]),
    ("GOAMD64", &[], &[], &[], &[("GOAMD64", "v3")]),
    (
        "test-only GOFLAGS",
        &[],
        &[],
        &[],
        &[(
            "GOFLAGS",
            "-modcacherw -count=1 -timeout=20m -vet=off -failfast",
        )],
    ),
    ("CGO_ENABLED", &[], &[], &[], &[("CGO_ENABLED", "1")]),
    (
        "CGO_CFLAGS with cgo off",
        &[],
        &[],
        &[],
        &[("CGO_CFLAGS", "-O2 -g -DGO_CI_CACHE")],
    ),
    (
        "CGO_CFLAGS with cgo on",
        &[],
        &[("CGO_ENABLED", "1")],
        &[],
        &[("CGO_ENABLED", "1"), ("CGO_CFLAGS", "-O2 -g -DGO_CI_CACHE")],
    ),
];

#[test]
fn fingerprint_changes_exactly_when_a_dependency_action_id_does() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = module(&t);
    let cgo = std::process::Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok();
    let mut failures = Vec::new();
    for (what, base_flags, base_env, flags, env) in CASES {
        if !cgo && (base_env.iter().chain(*env)).any(|(k, v)| *k == "CGO_ENABLED" && *v == "1") {
            eprintln!("skipping `{what}`: no C compiler");
            continue;
        }
        compile(&t, &m, base_flags, base_env);
        assert_eq!(
            stale_deps(&t, &m, base_flags, base_env),
            Vec::<String>::new(),
            "{what}: the base is compiled"
        );
        let stale = stale_deps(&t, &m, flags, env);
        let (a, b) = (
            fingerprint(&t, &m, base_flags, base_env),
            fingerprint(&t, &m, flags, env),
        );
        let go_changed = !stale.is_empty();
        let key_changed = a != b;
        eprintln!(
            "{what}: {} dependency action IDs changed; fingerprint changed: {key_changed}",
            stale.len()
        );
        if go_changed != key_changed {
            failures.push(format!(
                "{what}: Go changed {} dependency action IDs ({:?}…) but the fingerprint {}",
                stale.len(),
                stale.iter().take(3).collect::<Vec<_>>(),
                if key_changed { "changed" } else { "did not" }
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_key_input_table_matches_the_code() {
    crate::docs::check_doc(
        "docs/key-model.md",
        "key-inputs",
        &go_ci_cache::key::inputs::markdown_table(),
    );
}
