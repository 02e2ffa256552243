//! `warm --job test|build|vet` end to end: after the warm-up, the job's own go command runs
//! zero dependency compile actions and zero dependency vet actions, counted from Go's action
//! graph (`-debug-actiongraph`: an action with commands is one that ran).

use std::path::Path;

use serde_json::Value;

use crate::util::TestEnv;

/// Dependency packages whose compile (`build`) and vet actions ran in a go command.
fn ran(t: &TestEnv, dir: &Path, args: &[&str], main: &str) -> (Vec<String>, Vec<String>, String) {
    let graph = t.root().join("actiongraph.json");
    let mut full = vec![
        args[0].to_string(),
        format!("-debug-actiongraph={}", graph.display()),
    ];
    full.extend(args[1..].iter().map(|s| (*s).to_string()));
    let out = t.go(dir).args(&full).output().unwrap();
    assert!(
        out.status.success(),
        "go {full:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actions: Vec<Value> = serde_json::from_slice(&std::fs::read(&graph).unwrap()).unwrap();
    let mut compiles = Vec::new();
    let mut vets = Vec::new();
    for a in &actions {
        let pkg = a["Package"].as_str().unwrap_or("");
        let ran = a["Cmd"].as_array().is_some_and(|c| !c.is_empty());
        if !ran || pkg.is_empty() || pkg.starts_with(main) || pkg == "main" {
            continue;
        }
        match a["Mode"].as_str() {
            Some("build") => compiles.push(pkg.to_string()),
            Some("vet") => vets.push(pkg.to_string()),
            _ => {}
        }
    }
    (
        compiles,
        vets,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn warm(t: &TestEnv, dir: &Path, extra: &[&str]) -> Value {
    let state = t.root().join("state.json");
    let out = t
        .bin(&["warm", "--dir", dir.to_str().unwrap()])
        .args(extra)
        .env("GO_CI_CACHE_STATE", &state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("warning"), "{err}");
    serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap()
}

const NONE: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());

#[test]
fn test_job_then_go_test_compiles_and_vets_no_dependency() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    let s = warm(&t, &m, &["--build-flags=-count=1"]);
    let kinds: Vec<&str> = s["warm"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["command"].as_str().unwrap().split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(kinds, ["list", "test"], "{s}");
    let after = &s["warm"]["after"];
    assert!(after["vet"]["total"].as_u64().unwrap() > 50, "{s}");
    assert_eq!(after["vet"]["total"], after["vet"]["cached"], "{s}");
    assert!(
        s["warm"]["before"]["vet"]["cached"].as_u64().unwrap()
            < after["vet"]["cached"].as_u64().unwrap()
    );
    let (c, v, stdout) = ran(&t, &m, &["test", "./..."], "example.com/app");
    assert_eq!((c, v), NONE);
    // The warm-up ran no test and recorded no test result: the job's tests really run.
    assert!(stdout.contains("ok  \texample.com/app/lib"), "{stdout}");
    assert!(!stdout.contains("(cached)"), "{stdout}");
    // With the job's flags from GOFLAGS too.
    let (c, v, _) = ran(&t, &m, &["test", "-count=1", "./..."], "example.com/app");
    assert_eq!((c, v), NONE);
}

#[test]
fn build_job_compiles_what_go_build_needs_and_nothing_else() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    let s = warm(&t, &m, &["--job", "build"]);
    assert_eq!(s["warm"]["steps"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(
        s["warm"]["after"]["third_party_total"], 2,
        "greet, strutil: {s}"
    );
    assert!(s["warm"]["after"]["vet"].is_null(), "{s}");
    let (c, v, _) = ran(&t, &m, &["build", "./..."], "example.com/app");
    assert_eq!((c, v), NONE);
    // The test-only dependency was not compiled for nothing.
    let (c, _, _) = ran(&t, &m, &["test", "-run=^$", "./..."], "example.com/app");
    assert_eq!(c, ["example.com/testonly"]);
}

#[test]
fn vet_job_then_go_vet_runs_no_dependency_vet() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    let s = warm(&t, &m, &["--job=vet", "--build-flags=-tags=extra"]);
    let after = &s["warm"]["after"];
    assert_eq!(after["vet"]["total"], after["vet"]["cached"], "{s}");
    let (c, v, _) = ran(&t, &m, &["vet", "-tags=extra", "./..."], "example.com/app");
    assert_eq!((c, v), NONE);
    // A second warm-up finds everything cached and runs no step.
    let s = warm(&t, &m, &["--job=vet", "--build-flags=-tags=extra"]);
    assert_eq!(s["warm"]["steps"].as_array().unwrap().len(), 0, "{s}");
}
