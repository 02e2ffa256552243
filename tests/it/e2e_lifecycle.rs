//! The cache lifecycle end to end with the real `go`: warm-up coverage, the
//! restore → prepare → build → trim → save cycle, dependency bumps, module-cache pruning,
//! symlinks, read-only trees and faults.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{self, TestEnv, copy_tree, write_module};

/// Dependency packages (anything outside the main module and generated test mains) that a go
/// command compiled.
fn dep_compiles(t: &TestEnv, dir: &Path, args: &[&str], main: &str) -> Vec<String> {
    let mut full = args.to_vec();
    full.insert(1, "-x");
    let out = t.go_ok(dir, &full);
    util::deps_compiled(&out.stderr, main)
}

/// A lifecycle command as a runner that lives for one job runs it (GitHub-hosted: its module
/// cache is the job's own to prune).
fn lifecycle(t: &TestEnv, cmd: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    t.bin(&[cmd, "--dir", dir.to_str().unwrap()])
        .args(extra)
        .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
        .env("RUNNER_ENVIRONMENT", "github-hosted")
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn state(t: &TestEnv) -> Value {
    serde_json::from_slice(&std::fs::read(t.root().join("state.json")).unwrap()).unwrap()
}

/// Saves both caches as actions/cache does (tar keeps mtimes) and wipes them.
fn save_and_wipe(t: &TestEnv, archive: &str) {
    let a = t.root().join(archive);
    let st = Command::new("tar")
        .arg("-C")
        .arg(t.root())
        .args(["-cf", a.to_str().unwrap(), "gocache", "gomodcache"])
        .status()
        .unwrap();
    assert!(st.success());
    for d in [t.gocache(), t.gomodcache()] {
        let _ = Command::new("chmod").arg("-R").arg("u+w").arg(&d).status();
        std::fs::remove_dir_all(&d).unwrap();
    }
}

fn restore(t: &TestEnv, archive: &str) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(t.root())
        .arg("-xf")
        .arg(t.root().join(archive))
        .status()
        .unwrap();
    assert!(st.success());
}

fn count_files(p: &Path) -> usize {
    walkdir::WalkDir::new(p)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn warm_compiles_every_dependency_then_build_and_test_compile_none() {
    // No seed: the warm-up must compile std as well.
    let t = TestEnv::new();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    let plan = t.bin_ok(&["plan", "--dir", m.to_str().unwrap()]);
    assert!(plan.contains("Coverage\n  1 of "), "{plan}"); // only `unsafe` needs no compile
    ok(lifecycle(&t, "warm", &m, &[]));
    let s = state(&t);
    let after = &s["warm"]["after"];
    assert_eq!(after["std_total"], after["std_cached"], "{s}");
    assert_eq!(
        after["third_party_total"], 3,
        "greet, strutil, testonly: {s}"
    );
    assert_eq!(after["third_party_cached"], 3);
    assert!(s["warm"]["steps"][0]["compiled"].as_u64().unwrap() > 30);
    assert_eq!(
        dep_compiles(&t, &m, &["build", "./..."], "example.com/app"),
        Vec::<String>::new()
    );
    assert_eq!(
        dep_compiles(&t, &m, &["test", "-run=^$", "./..."], "example.com/app"),
        Vec::<String>::new()
    );
    let plan = t.bin_ok(&["plan", "--dir", m.to_str().unwrap()]);
    let c = &after["std_total"].as_u64().unwrap() + 3;
    assert!(
        plan.contains(&format!("{c} of {c} dependency packages")),
        "{plan}"
    );
    // A second warm-up has nothing to compile.
    let err = ok(lifecycle(&t, "warm", &m, &[]));
    assert!(err.contains("skipping the compile step"), "{err}");
}

#[test]
fn flags_are_the_jobs_flags() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet"]);
    ok(lifecycle(
        &t,
        "warm",
        &m,
        &["--build-flags=-tags=extra -gcflags=-N"],
    ));
    assert_eq!(
        dep_compiles(
            &t,
            &m,
            &["build", "-tags=extra", "-gcflags=-N", "./..."],
            "example.com/app"
        ),
        Vec::<String>::new()
    );
    // Other flags are another build: they miss.
    assert!(
        !dep_compiles(
            &t,
            &m,
            &["build", "-gcflags=all=-l", "./..."],
            "example.com/app"
        )
        .is_empty()
    );
}

#[test]
fn restore_prepare_build_trim_save_restore_again() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    // Run 1: cold.
    ok(lifecycle(&t, "prepare", &m, &[]));
    ok(lifecycle(&t, "warm", &m, &[]));
    t.go_ok(&m, &["build", "./..."]);
    // Something the job does not use: another module's std packages in the cache.
    let other = t.module("other", &[]);
    std::fs::write(
        other.join("lib/extra.go"),
        "package lib\n\nimport _ \"encoding/xml\"\n",
    )
    .unwrap();
    t.go_ok(&other, &["build", "./..."]);
    ok(lifecycle(&t, "prepare", &m, &[])); // a new job: everything restored is unused until used
    t.go_ok(&m, &["build", "./..."]);
    t.go_ok(&m, &["test", "-run=^$", "./..."]);
    let before = count_files(&t.gocache());
    ok(lifecycle(&t, "trim", &m, &[]));
    let after = count_files(&t.gocache());
    assert!(after < before, "trim removed nothing: {before} → {after}");
    let s = state(&t);
    assert!(s["trim"]["gocache"]["removed"].as_u64().unwrap() > 0, "{s}");
    // Safe to run twice: nothing more goes.
    ok(lifecycle(&t, "trim", &m, &[]));
    assert_eq!(state(&t)["trim"]["gocache"]["removed"], 0);
    assert_eq!(count_files(&t.gocache()), after);
    save_and_wipe(&t, "run1.tar");

    // Run 2 on a "new runner": restore, prepare, build.
    restore(&t, "run1.tar");
    ok(lifecycle(
        &t,
        "prepare",
        &m,
        &["--build-restored-key", "k", "--build-hit"],
    ));
    assert_eq!(
        dep_compiles(&t, &m, &["build", "./..."], "example.com/app"),
        Vec::<String>::new()
    );
    assert_eq!(
        dep_compiles(&t, &m, &["test", "-run=^$", "./..."], "example.com/app"),
        Vec::<String>::new()
    );
    // The unused packages were trimmed away: building them compiles again.
    assert!(
        dep_compiles(&t, &other, &["build", "./..."], "example.com/other")
            .contains(&"encoding/xml".to_string())
    );
    let report = t.bin_ok(&[
        "report",
        "--format",
        "text",
        "--state",
        t.root().join("state.json").to_str().unwrap(),
    ]);
    assert!(report.contains("exact hit `k`"), "{report}");
}

#[test]
fn dependency_bump_evicts_the_old_version() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet@v1.0.0"]);
    let old_mod = std::fs::read(m.join("go.mod")).unwrap();
    let old_sum = std::fs::read(m.join("go.sum")).unwrap();
    ok(lifecycle(&t, "prepare", &m, &[]));
    ok(lifecycle(&t, "warm", &m, &[]));
    ok(lifecycle(&t, "trim", &m, &[]));
    save_and_wipe(&t, "run1.tar");

    restore(&t, "run1.tar");
    ok(lifecycle(&t, "prepare", &m, &[]));
    t.go_ok(&m, &["get", "example.com/greet@v1.1.0"]);
    ok(lifecycle(&t, "warm", &m, &[]));
    t.go_ok(&m, &["build", "./..."]);
    let untrimmed = t.root().join("untrimmed");
    copy_tree(&t.gocache(), &untrimmed.join("gocache"));
    copy_tree(&t.gomodcache(), &untrimmed.join("gomodcache"));
    ok(lifecycle(&t, "trim", &m, &[]));

    let du = |p: &Path| go_ci_cache::fsutil::dir_size(p).unwrap().bytes;
    assert!(du(&t.gocache()) < du(&untrimmed.join("gocache")));
    assert!(du(&t.gomodcache()) < du(&untrimmed.join("gomodcache")));
    let mc = t.gomodcache();
    assert!(
        !mc.join("example.com/greet@v1.0.0").exists(),
        "old module tree kept"
    );
    assert!(mc.join("example.com/greet@v1.1.0").exists());
    assert!(mc.join("example.com/strutil@v1.0.0").exists());
    let dl = mc.join("cache/download/example.com/greet/@v");
    for f in [
        "v1.0.0.mod",
        "v1.0.0.info",
        "v1.0.0.ziphash",
        "v1.1.0.mod",
        "v1.1.0.ziphash",
    ] {
        assert!(dl.join(f).exists(), "{f} must stay");
    }
    assert!(!dl.join("v1.1.0.zip").exists() && !dl.join("v1.1.0.lock").exists());

    // The pruned module cache still serves the job offline.
    let offline = |args: &[&str]| {
        let out = t.go(&m).args(args).env("GOPROXY", "off").output().unwrap();
        assert!(
            out.status.success(),
            "GOPROXY=off go {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    offline(&["build", "./..."]);
    offline(&["test", "./..."]);
    offline(&["mod", "verify"]);

    // The old version's build entries are gone: going back recompiles greet (from the proxy).
    std::fs::write(m.join("go.mod"), old_mod).unwrap();
    std::fs::write(m.join("go.sum"), old_sum).unwrap();
    let again = dep_compiles(&t, &m, &["build", "./..."], "example.com/app");
    assert_eq!(again, ["example.com/greet"]);
}

#[test]
fn symlinks_survive_and_read_only_trees_are_pruned() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet@v1.1.0"]);
    // Read-only trees: fetch an unused version without -modcacherw.
    let out = t
        .go(&m)
        .args(["mod", "download", "example.com/greet@v1.0.0"])
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(out.status.success());
    let old = t.gomodcache().join("example.com/greet@v1.0.0");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&old).unwrap().permissions().mode();
        assert_eq!(mode & 0o222, 0, "module tree is read-only");
    }
    // Symlinks pointing outside both roots.
    let outside = t.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious.txt"), "keep me").unwrap();
    let mod_link = t.gomodcache().join("example.com/evil@v1.0.0");
    let cache_link = t
        .gocache()
        .join("ab")
        .join(format!("{}-d", "ab".repeat(32)));
    std::os::unix::fs::symlink(&outside, &mod_link).unwrap();
    std::os::unix::fs::symlink(outside.join("precious.txt"), &cache_link).unwrap();

    ok(lifecycle(&t, "prepare", &m, &[]));
    ok(lifecycle(&t, "warm", &m, &[]));
    let dry = lifecycle(&t, "trim", &m, &["--dry-run"]);
    let listed = String::from_utf8_lossy(&dry.stdout).into_owned();
    ok(dry);
    assert!(listed.contains("example.com/greet@v1.0.0"), "{listed}");
    assert!(old.exists(), "dry run removed something");
    ok(lifecycle(&t, "trim", &m, &[]));
    assert!(!old.exists());
    assert!(
        std::fs::symlink_metadata(&mod_link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(&cache_link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("precious.txt")).unwrap(),
        "keep me"
    );
    assert!(
        std::fs::read_dir(t.gomodcache())
            .unwrap()
            .flatten()
            .all(|e| !e
                .file_name()
                .to_string_lossy()
                .starts_with(".go-ci-cache-trash"))
    );
}

#[test]
fn trim_without_prepare_keeps_the_build_cache() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet"]);
    t.go_ok(&m, &["build", "./..."]);
    let before = count_files(&t.gocache());
    let err = ok(lifecycle(&t, "trim", &m, &[]));
    assert!(
        err.contains("GOCACHE not trimmed: `prepare` did not run"),
        "{err}"
    );
    // Nothing removed (go's own index entries from the trim's `go list` may be added).
    assert!(count_files(&t.gocache()) >= before);
    assert_eq!(state(&t)["trim"]["gocache"]["removed"], 0);
    // The module cache may be other projects' too: without this job's prepare, nothing goes.
    assert!(
        err.contains("GOMODCACHE not trimmed: `prepare` did not run"),
        "{err}"
    );
    assert_eq!(state(&t)["trim"]["gomodcache"]["removed"], 0);
    let zip = t
        .gomodcache()
        .join("cache/download/example.com/greet/@v/v1.1.0.zip");
    assert!(zip.exists());
    // Unless the job says it owns it.
    ok(lifecycle(&t, "trim", &m, &["--prune-modules"]));
    assert!(
        state(&t)["trim"]["gomodcache"]["removed"].as_u64().unwrap() > 0,
        "zips pruned"
    );
    assert!(!zip.exists());
}

#[test]
fn multi_module_and_workspace_warm_ups() {
    let t = TestEnv::new();
    t.seed_gocache();
    let repo = t.root().join("repo");
    write_module(
        &repo.join("a"),
        "example.com/a",
        &["example.com/greet"],
        &[],
    );
    write_module(
        &repo.join("b"),
        "example.com/b",
        &[],
        &["example.com/testonly"],
    );
    for d in ["a", "b"] {
        t.go_ok(&repo.join(d), &["mod", "tidy"]);
    }
    ok(lifecycle(&t, "warm", &repo, &[]));
    // Per module: compile, then vet and link as `go test` does.
    assert_eq!(state(&t)["warm"]["steps"].as_array().unwrap().len(), 4);
    assert_eq!(
        dep_compiles(&t, &repo.join("a"), &["build", "./..."], "example.com/a"),
        Vec::<String>::new()
    );
    assert_eq!(
        dep_compiles(
            &t,
            &repo.join("b"),
            &["test", "-run=^$", "./..."],
            "example.com/b"
        ),
        Vec::<String>::new()
    );

    let t = TestEnv::new();
    t.seed_gocache();
    let ws = t.root().join("ws");
    write_module(&ws.join("a"), "example.com/a", &["example.com/greet"], &[]);
    write_module(
        &ws.join("b"),
        "example.com/b",
        &[],
        &["example.com/testonly"],
    );
    for d in ["a", "b"] {
        t.go_ok(&ws.join(d), &["mod", "tidy"]);
    }
    t.go_ok(&ws, &["work", "init", "./a", "./b"]);
    ok(lifecycle(&t, "warm", &ws, &[]));
    let s = state(&t);
    assert_eq!(s["warm"]["steps"].as_array().unwrap().len(), 2);
    assert_eq!(s["warm"]["after"]["third_party_cached"], 3, "{s}");
    assert_eq!(
        dep_compiles(
            &t,
            &ws,
            &["test", "-run=^$", "./a/...", "./b/..."],
            "example.com/"
        ),
        Vec::<String>::new()
    );
}

#[test]
fn broken_dependency_is_reported_and_the_rest_warmed() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet", "example.com/broken"]);
    let err = ok(lifecycle(&t, "warm", &m, &[]));
    assert!(
        err.contains("failed to compile example.com/broken"),
        "{err}"
    );
    let s = state(&t);
    assert_eq!(s["warm"]["failed"][0][0], "example.com/broken");
    assert_eq!(s["warm"]["after"]["third_party_total"], 3);
    assert_eq!(
        s["warm"]["after"]["third_party_cached"], 2,
        "greet and strutil warmed: {s}"
    );
    let strict = lifecycle(&t, "warm", &m, &["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn go_killed_during_warm_is_a_warning() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let wrapper = t.root().join("go-killed");
    let go = which_go();
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *-export*|*exec-nothing*) kill -9 $$ ;; esac\nexec '{}' \"$@\"\n",
            go.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = |extra: &[&str]| {
        t.bin(&["warm", "--dir", m.to_str().unwrap()])
            .args(extra)
            .env("GO_CI_CACHE_GO", &wrapper)
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning:") && err.contains("killed by signal 9"),
        "{err}"
    );
    assert_eq!(run(&["--strict"]).status.code(), Some(1));
}

#[test]
fn unusable_cache_directories_are_warnings_unless_strict() {
    let t = TestEnv::new();
    let m = t.module("app", &[]);
    let file = t.root().join("a-file");
    std::fs::write(&file, "").unwrap();
    let bad = file.join("gocache");
    let run = |extra: &[&str]| {
        t.bin(&["prepare", "--dir", m.to_str().unwrap()])
            .args(extra)
            .env("GOCACHE", &bad)
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: cannot prepare GOCACHE"), "{err}");
    assert_eq!(run(&["--strict"]).status.code(), Some(1));
}

#[test]
fn report_writes_the_github_step_summary() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet"]);
    ok(lifecycle(&t, "prepare", &m, &[]));
    ok(lifecycle(&t, "warm", &m, &[]));
    ok(lifecycle(&t, "trim", &m, &[]));
    let summary = t.root().join("summary.md");
    let out = t
        .bin(&["report", "--dir", m.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
        .output()
        .unwrap();
    ok(out);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### go-ci-cache")
            && md.contains("| removed by trim |")
            && md.contains("coverage after warm-up"),
        "{md}"
    );
    let gl = t
        .bin(&[
            "report",
            "--format",
            "gitlab",
            "--state",
            t.root().join("state.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let gl = String::from_utf8_lossy(&gl.stdout);
    assert!(
        gl.contains("section_start:") && gl.contains("section_end:"),
        "{gl}"
    );
    let missing = t
        .bin(&[
            "report",
            "--state",
            t.root().join("nope.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

fn which_go() -> std::path::PathBuf {
    let out = Command::new("go").args(["env", "GOROOT"]).output().unwrap();
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("bin/go")
}

/// Another Go version through GOTOOLCHAIN (fetched from the module proxy into GOMODCACHE): the
/// keys follow the Go that will actually run, and trim keeps that toolchain while pruning.
#[test]
fn gotoolchain_switching() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let local = t.keys_json(&m, &[]);
    // The fixture proxy first, the public one for the toolchain module.
    let proxy = format!(
        "file://{},https://proxy.golang.org",
        crate::util::proxy_dir().display()
    );
    let switched = |args: &[&str]| {
        t.bin(args)
            .env("GOTOOLCHAIN", "go1.27.3")
            .env("GOPROXY", &proxy)
            // Toolchains are verified against the checksum database; the fixtures are not in it.
            .env("GOSUMDB", "sum.golang.org")
            .env("GONOSUMDB", "example.com")
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .env("RUNNER_ENVIRONMENT", "github-hosted")
            .output()
            .unwrap()
    };
    let out = switched(&["keys", "--format", "json", "--dir", m.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["build"]["key"].as_str().unwrap();
    assert!(key.contains("-go1.27.3-"), "{key}");
    assert_ne!(key, local["build"]["key"].as_str().unwrap());
    assert_eq!(
        v["modules"]["key"], local["modules"]["key"],
        "module content does not depend on the Go version"
    );
    let toolchain = t
        .gomodcache()
        .join("golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64");
    if !toolchain.is_dir() {
        // Another platform: the directory name differs; the key check above is what matters.
        return;
    }
    ok(switched(&["prepare", "--dir", m.to_str().unwrap()]));
    ok(switched(&["trim", "--dir", m.to_str().unwrap()]));
    assert!(
        toolchain.join("bin").is_dir(),
        "the toolchain in use was pruned"
    );
    assert!(
        !t.gomodcache()
            .join("cache/download/golang.org/toolchain/@v/v0.0.1-go1.27.3.linux-amd64.zip")
            .exists()
    );
}

fn job_cmd(t: &TestEnv, state: &str, args: &[&str]) -> Command {
    let mut c = t.bin(args);
    c.env("GO_CI_CACHE_STATE", t.root().join(state))
        .env("RUNNER_ENVIRONMENT", "github-hosted");
    c
}

fn job(t: &TestEnv, state: &str, args: &[&str]) -> String {
    ok(job_cmd(t, state, args).output().unwrap())
}

/// GOMODCACHE pointed by mistake at a home directory: even told to prune, trim lists nothing
/// of the user's files and removes nothing.
#[test]
fn a_misset_module_cache_loses_nothing() {
    let mut t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let home = t.root().join("home");
    for f in [
        "project/node_modules/@types/node/index.d.ts",
        "project/docs/release@2024/notes.md",
        "project/dist/app.zip",
        "project/yarn.lock",
        "go/pkg/mod/example.com/x@v1.0.0/x.go",
    ] {
        let p = home.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "mine").unwrap();
    }
    t.set_gomodcache(home.clone());
    let dir = m.to_str().unwrap();
    ok(lifecycle(&t, "prepare", &m, &[]));
    for extra in [&[][..], &["--prune-modules"][..]] {
        let out = lifecycle(&t, "trim", &m, &[&["--dry-run"][..], extra].concat());
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = ok(out);
        assert!(!listed.contains(home.to_str().unwrap()), "{listed}");
        assert!(err.contains("GOMODCACHE not trimmed"), "{err}");
    }
    let err = ok(t
        .bin(&["trim", "--dir", dir, "--prune-modules"])
        .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
        .output()
        .unwrap());
    assert!(err.contains("does not look like a module cache"), "{err}");
    for f in [
        "project/node_modules/@types/node/index.d.ts",
        "project/docs/release@2024/notes.md",
        "project/dist/app.zip",
        "project/yarn.lock",
        "go/pkg/mod/example.com/x@v1.0.0/x.go",
    ] {
        assert!(home.join(f).exists(), "{f} removed");
    }
}

/// Go's per-user default module cache holds every project's modules: prepare does not claim it
/// (outside an ephemeral hosted runner), so trim leaves it alone.
#[test]
fn the_per_user_default_module_cache_is_not_pruned() {
    let mut t = TestEnv::new();
    t.set_gomodcache(t.root().join("home/go/pkg/mod"));
    let m = t.module("app", &["example.com/greet"]);
    let zip = t
        .gomodcache()
        .join("cache/download/example.com/greet/@v/v1.1.0.zip");
    assert!(zip.exists());
    let self_hosted = |cmd: &str| {
        ok(t.bin(&[cmd, "--dir", m.to_str().unwrap()])
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .env("RUNNER_ENVIRONMENT", "self-hosted")
            .output()
            .unwrap())
    };
    self_hosted("prepare");
    let err = self_hosted("trim");
    assert!(err.contains("per-user default module cache"), "{err}");
    assert!(zip.exists());
    // On a GitHub-hosted runner the machine lives for one job: the default is the job's own.
    let hosted = |cmd: &str| {
        ok(t.bin(&[cmd, "--dir", m.to_str().unwrap()])
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .env("RUNNER_ENVIRONMENT", "github-hosted")
            .output()
            .unwrap())
    };
    hosted("prepare");
    hosted("trim");
    assert!(!zip.exists());
}

/// The FIPS 140 snapshot (unpacked from GOROOT, not downloaded) and the toolchains that other
/// modules of the repository name survive every trim.
#[test]
fn fips_snapshot_and_other_modules_toolchains_stay() {
    let t = TestEnv::new();
    t.seed_gocache();
    let repo = t.root().join("repo");
    write_module(
        &repo.join("a"),
        "example.com/a",
        &["example.com/greet"],
        &[],
    );
    write_module(&repo.join("b"), "example.com/b", &[], &[]);
    let b_mod = repo.join("b/go.mod");
    let text = std::fs::read_to_string(&b_mod).unwrap();
    std::fs::write(&b_mod, format!("{text}\ntoolchain go1.27.3\n")).unwrap();
    for d in ["a", "b"] {
        t.go_ok(&repo.join(d), &["mod", "tidy"]);
    }
    // Toolchains as GOTOOLCHAIN switching leaves them (tree plus download record).
    let mc = t.gomodcache();
    for v in ["go1.27.3", "go1.25.1"] {
        let name = format!("v0.0.1-{v}.linux-amd64");
        std::fs::create_dir_all(mc.join(format!("golang.org/toolchain@{name}/bin"))).unwrap();
        std::fs::write(mc.join(format!("golang.org/toolchain@{name}/bin/go")), "").unwrap();
        let dl = mc.join("cache/download/golang.org/toolchain/@v");
        std::fs::create_dir_all(&dl).unwrap();
        std::fs::write(
            dl.join(format!("{name}.mod")),
            "module golang.org/toolchain\n",
        )
        .unwrap();
    }
    let fips = |args: &[&str]| {
        let mut c = job_cmd(&t, "state.json", args);
        c.env("GOFIPS140", "v1.0.0");
        ok(c.output().unwrap())
    };
    let dir = repo.to_str().unwrap();
    fips(&["prepare", "--dir", dir]);
    let out = t
        .go(&repo.join("a"))
        .args(["build", "./..."])
        .env("GOFIPS140", "v1.0.0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot: Vec<String> = std::fs::read_dir(mc.join("golang.org"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("fips140@"))
        .collect();
    assert_eq!(snapshot.len(), 1, "GOFIPS140 unpacked its snapshot");
    fips(&["trim", "--dir", dir]);
    assert!(
        mc.join("golang.org").join(&snapshot[0]).is_dir(),
        "FIPS snapshot pruned"
    );
    assert!(
        mc.join("golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64/bin/go")
            .exists(),
        "the toolchain module b names was pruned"
    );
    assert!(
        !mc.join("golang.org/toolchain@v0.0.1-go1.25.1.linux-amd64")
            .exists(),
        "a toolchain no module names stays pruned"
    );
    assert!(mc.join("example.com/greet@v1.1.0").is_dir());
}

/// `trim --dry-run | head -1`: the reader going away ends the listing quietly.
#[test]
fn dry_run_into_a_closed_pipe() {
    use std::io::BufRead;
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet"]);
    ok(lifecycle(&t, "prepare", &m, &[]));
    let mut child = job_cmd(
        &t,
        "state.json",
        &["trim", "--dry-run", "--dir", m.to_str().unwrap()],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = String::new();
    {
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut first).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("would remove "), "{first}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// The `::error` workflow command goes to stderr, never into the data a caller captures.
#[test]
fn error_annotation_is_not_in_captured_stdout() {
    let t = TestEnv::new();
    let out = t
        .bin(&["keys", "--format", "json", "--dir", "/nonexistent/project"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("::error title=go-ci-cache::"), "{err}");
}

/// Two jobs on one machine share GOCACHE and GOMODCACHE (a self-hosted runner with two
/// executors). Job B runs first and uses its own dependencies; job A prepares and trims while
/// B is still running. B must lose nothing it used: no backdating of its entries, no removal of
/// its build entries or module trees.
#[test]
fn a_concurrent_jobs_prepare_and_trim_keep_what_the_other_used() {
    let t = TestEnv::new();
    t.seed_gocache();
    let a = t.module("a", &["example.com/greet"]);
    let b = t.module("b", &["example.com/testonly"]);
    let (da, db) = (a.to_str().unwrap(), b.to_str().unwrap());
    job(&t, "b.json", &["prepare", "--dir", db]);
    job(&t, "b.json", &["warm", "--dir", db]);
    job(&t, "a.json", &["prepare", "--dir", da]);
    job(&t, "a.json", &["warm", "--dir", da]);
    let err = job(&t, "a.json", &["trim", "--dir", da]);
    assert!(
        err.contains("other job(s) on this machine are using it"),
        "{err}"
    );
    assert!(t.gomodcache().join("example.com/testonly@v1.0.0").is_dir());
    assert!(
        dep_compiles(&t, &b, &["build", "./..."], "example.com/b").is_empty(),
        "A's prepare or trim dropped B's build entries"
    );
    // B's own trim, A gone: what B used stays, and B builds from cache.
    job(&t, "b.json", &["trim", "--dir", db]);
    assert!(dep_compiles(&t, &b, &["build", "./..."], "example.com/b").is_empty());
    assert!(
        !t.gomodcache().join("example.com/greet@v1.1.0").exists(),
        "with no other job live, B prunes what it does not use"
    );
    // Every lease is released.
    for root in [t.gocache(), t.gomodcache()] {
        let leases = root.join(go_ci_cache::cache::lease::DIR);
        let n = std::fs::read_dir(&leases)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(n, 0, "{}", leases.display());
    }
}

/// The same two jobs really at once, several cycles each, bounded in time: in every cycle, the
/// job builds every dependency from the cache between its warm-up and its trim, whatever the
/// other job's prepare and trim did meanwhile. (After a job's last trim its entries are fair
/// game for the other job's trims: only live jobs are protected.)
#[test]
fn two_jobs_at_once_on_shared_caches() {
    let t = std::sync::Arc::new(TestEnv::new());
    t.seed_gocache();
    let a = t.module("a", &["example.com/greet"]);
    let b = t.module("b", &["example.com/testonly"]);
    let run = |state: &'static str, dir: std::path::PathBuf, module: &'static str| {
        let t = t.clone();
        std::thread::spawn(move || {
            let d = dir.to_str().unwrap();
            let mut lost = Vec::new();
            for cycle in 0..3 {
                job(&t, state, &["prepare", "--dir", d]);
                job(&t, state, &["warm", "--dir", d]);
                let compiled = dep_compiles(&t, &dir, &["build", "./..."], module);
                if !compiled.is_empty() {
                    lost.push(format!("{module} cycle {cycle}: {compiled:?}"));
                }
                job(&t, state, &["trim", "--dir", d]);
            }
            lost
        })
    };
    let ha = run("a.json", a.clone(), "example.com/a");
    let hb = run("b.json", b.clone(), "example.com/b");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !(ha.is_finished() && hb.is_finished()) {
        assert!(
            std::time::Instant::now() < deadline,
            "two concurrent jobs did not finish in 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let lost: Vec<String> = [ha.join().unwrap(), hb.join().unwrap()].concat();
    assert!(lost.is_empty(), "a live job lost entries it used: {lost:?}");
}

/// `trim` counts what the job added to the restored build cache: a job that compiled or tested
/// something new adds entries (its build entry is worth saving again), one that found
/// everything cached adds none.
#[test]
fn trim_counts_what_the_job_added_since_the_restore() {
    let t = TestEnv::new();
    t.seed_gocache();
    let m = t.module("app", &["example.com/greet"]);
    let added = |t: &TestEnv| state(t)["trim"]["gocache"]["added"].as_u64();
    ok(lifecycle(&t, "prepare", &m, &[]));
    t.go_ok(&m, &["test", "./..."]);
    ok(lifecycle(&t, "trim", &m, &[]));
    let first = added(&t).unwrap();
    assert!(first > 0, "a cold job added entries: {}", state(&t));
    save_and_wipe(&t, "a.tar");

    // Same tree on a fresh runner: everything is served from the cache, nothing new.
    restore(&t, "a.tar");
    ok(lifecycle(&t, "prepare", &m, &["--build-restored-key", "k"]));
    t.go_ok(&m, &["test", "./..."]);
    let err = ok(lifecycle(&t, "trim", &m, &[]));
    assert_eq!(added(&t), Some(0), "{err}");
    assert!(err.contains("0 new since the restore"), "{err}");
    save_and_wipe(&t, "b.tar");

    // A commit that changes the main module: its package and test result are new.
    restore(&t, "b.tar");
    ok(lifecycle(&t, "prepare", &m, &["--build-restored-key", "k"]));
    std::fs::write(
        m.join("lib/lib.go"),
        "package lib\n\n// Twice doubles n.\nfunc Twice(n int) int { return n + n }\n",
    )
    .unwrap();
    t.go_ok(&m, &["test", "./..."]);
    ok(lifecycle(&t, "trim", &m, &[]));
    assert!(added(&t).unwrap() > 0, "{}", state(&t));
}

/// Every phase's wall time lands in the run state: `prepare` and `trim` record their own, the
/// CI glue adds the rest with `report --timing`, and the report shows them in job order.
#[test]
fn report_shows_each_phase_time() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    ok(lifecycle(&t, "prepare", &m, &[]));
    ok(lifecycle(&t, "trim", &m, &[]));
    let out = lifecycle(
        &t,
        "report",
        &m,
        &[
            "--format",
            "text",
            "--timing",
            "keys=0.05",
            "--timing",
            "restore.build.download=1.5",
        ],
    );
    ok(out.clone());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("time: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with("time: keys 0.05 s, restore build 1.50 s (download 1.50), prepare "),
        "{line}"
    );
    assert!(line.contains(", trim "), "{line}");
    let s = state(&t);
    for phase in ["keys", "restore.build.download", "prepare", "trim"] {
        assert!(s["timings"][phase].as_f64().is_some(), "{phase}: {s}");
    }
    // Bad input: exit 2, nothing recorded.
    let out = lifecycle(&t, "report", &m, &["--timing", "keys=soon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`keys=soon`") && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(state(&t)["timings"]["keys"], 0.05);
}
