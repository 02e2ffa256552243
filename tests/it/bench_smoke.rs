//! The flow benchmark's smoke variant: a git repository generated here (a source change, a
//! dependency bump, another source change) replayed through bench/flow.py with every strategy
//! and a two-job matrix, so the harness cannot rot. It checks the CI flow, the branch scoping
//! and the counts, never timings.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::action::tool;
use crate::util::{TestEnv, git, git_commit, proxy_dir, write_module};

/// Commits everything in `dir` with a fixed author.
fn commit(dir: &Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git_commit(dir, msg);
}

/// A module with four commits: the initial one (outside the replayed range), a source change,
/// a bump of example.com/greet to v1.1.0 with a new test-only dependency, a source change.
fn generated_repo(t: &TestEnv) -> std::path::PathBuf {
    let repo = t.root().join("project");
    write_module(&repo, "example.com/app", &["example.com/greet@v1.0.0"], &[]);
    t.go_ok(&repo, &["mod", "tidy"]);
    git(&repo, &["init", "-q", "-b", "main"]);
    commit(&repo, "initial");
    // A revision string the test logs, so each edit changes the test binary (Go's test cache is
    // keyed by the binary, which a constant the compiler folds away would leave unchanged).
    let edit = |n: u32| {
        std::fs::write(
            repo.join("lib/rev.go"),
            format!("package lib\n\n// Revision names the commit.\nfunc Revision() string {{ return \"revision {n}\" }}\n"),
        )
        .unwrap();
        std::fs::write(
            repo.join("lib/rev_test.go"),
            "package lib\n\nimport \"testing\"\n\nfunc TestRevision(t *testing.T) {\n\tt.Log(Revision())\n}\n",
        )
        .unwrap();
    };
    edit(1);
    commit(&repo, "lib: revision 1");
    write_module(
        &repo,
        "example.com/app",
        &["example.com/greet@v1.1.0"],
        &["example.com/testonly@v1.0.0"],
    );
    edit(2);
    t.go_ok(&repo, &["mod", "tidy"]);
    commit(&repo, "deps: greet v1.1.0, testonly for tests");
    edit(3);
    commit(&repo, "lib: revision 3");
    repo
}

#[test]
fn flow_benchmark_smoke() {
    let Some(python) = tool("python3") else {
        return;
    };
    if tool("zstd").is_none() || tool("git").is_none() {
        return;
    }
    let t = TestEnv::new();
    let repo = generated_repo(&t);
    let out = t.root().join("results");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The remote strategy runs against SeaweedFS (installed by .ci/run); without it, outside
    // CI, the others still run.
    let weed = std::env::var_os("GO_CI_CACHE_WEED").filter(|w| !w.is_empty());
    assert!(
        weed.is_some() || std::env::var_os("CI").is_none(),
        "GO_CI_CACHE_WEED is not set; .ci/run installs SeaweedFS"
    );
    let mut cmd = Command::new(python);
    cmd.arg(root.join("bench/flow.py"));
    // No `cold` strategy here: it only runs the job, and its cold compiles would double the
    // test's time. Every strategy's first job starts cold anyway.
    if weed.is_none() {
        cmd.args([
            "--strategies",
            "setup-go,recipe,go-ci-cache,go-ci-cache-persistent,ideal",
        ]);
    }
    let strategies = if weed.is_some() { 6 } else { 5 };
    let r = cmd
        .arg(root.join("bench/scenarios/smoke.json"))
        .arg("--repo")
        .arg(&repo)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(t.root().join("work"))
        .arg("--binary")
        .arg(crate::util::binary())
        .env("GOPROXY", format!("file://{}", proxy_dir().display()))
        .env("GOSUMDB", "off")
        .env("GOGC", crate::util::go_gc())
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let cols: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in [
        "run",
        "kind",
        "ref",
        "strategy",
        "job",
        "restore_s",
        "warm_s",
        "job_s",
        "trim_s",
        "save_s",
        "net_s",
        "wall_s",
        "dep_compiles",
        "tests_run",
        "tests_cached",
        "restored_bytes",
        "saved_bytes",
        "store_bytes",
        "store_entries",
    ] {
        assert!(cols.contains(&col), "no column `{col}` in {cols:?}");
    }
    let rows: Vec<HashMap<&str, &str>> = lines
        .map(|l| cols.iter().copied().zip(l.split(',')).collect())
        .collect();
    // Three commits, the bump first as a pull request: 4 runs × the strategies × 2 jobs.
    assert_eq!(rows.len(), 4 * strategies * 2, "{csv}");
    let get = |s: &str, run: u32, job: &str| -> &HashMap<&str, &str> {
        rows.iter()
            .find(|r| r["strategy"] == s && r["run"] == run.to_string() && r["job"] == job)
            .unwrap_or_else(|| panic!("no row {s} {run} {job}:\n{csv}"))
    };
    let n =
        |s: &str, run: u32, job: &str, col: &str| -> f64 { get(s, run, job)[col].parse().unwrap() };
    assert!(
        rows.iter().all(|r| r["ok"] == "1"),
        "a job failed:\n{csv}\n{err}"
    );
    for s in ["setup-go", "ideal"] {
        assert_eq!(get(s, 2, "test")["kind"], "pr");
        assert_eq!(get(s, 2, "test")["ref"], "refs/pull/1/merge");
        assert_eq!(get(s, 3, "test")["ref"], "refs/heads/main");
        assert_eq!(get(s, 1, "test")["deps_changed"], "0");
        assert_eq!(get(s, 3, "test")["deps_changed"], "1");
    }
    // A fresh runner with nothing restored compiles every dependency package and runs the one
    // test package.
    assert!(n("setup-go", 1, "test", "dep_compiles") > 20.0, "{csv}");
    assert_eq!(n("setup-go", 1, "test", "tests_run"), 1.0, "{csv}");
    assert_eq!(n("setup-go", 1, "test", "restored_bytes"), 0.0);

    // setup-go: keyed on go.mod with no restore keys. The pull request misses and saves into its
    // own scope; the merge's default-branch run cannot see that entry, misses again and saves.
    assert!(n("setup-go", 1, "test", "saved_bytes") > 0.0);
    assert_eq!(n("setup-go", 2, "test", "restored_bytes"), 0.0, "{csv}");
    assert!(n("setup-go", 2, "test", "dep_compiles") > 20.0);
    assert!(n("setup-go", 2, "test", "saved_bytes") > 0.0);
    assert_eq!(n("setup-go", 3, "test", "restored_bytes"), 0.0, "{csv}");
    assert!(n("setup-go", 3, "test", "saved_bytes") > 0.0);
    assert!(n("setup-go", 4, "test", "restored_bytes") > 0.0);
    assert_eq!(n("setup-go", 4, "test", "saved_bytes"), 0.0);
    // The matrix's second job computes the same key: run 1 saved it once; the other job's save
    // is refused, so the store holds one default-branch entry per key, plus the PR's.
    assert_eq!(n("setup-go", 1, "lib", "saved_bytes"), 0.0, "{csv}");
    assert_eq!(n("setup-go", 4, "lib", "store_entries"), 3.0, "{csv}");

    // The recipe restores the default branch's entry by prefix in the pull request.
    assert!(n("recipe", 2, "test", "restored_bytes") > 0.0, "{csv}");
    assert!(n("recipe", 2, "test", "dep_compiles") < 10.0, "{csv}");

    // go-ci-cache: the pull request restores the default branch's entries through restore keys
    // and saves nothing (save: default-branch); the merge restores, compiles only what changed
    // (in the job: no warm-up by default) and saves; the next commit changes lib: its run
    // restores the newest build entry, compiles no dependency and saves a fresh build entry
    // (the job added lib's package and test result), but not the modules entry (an exact hit).
    assert!(n("go-ci-cache", 1, "test", "saved_bytes") > 0.0);
    assert!(n("go-ci-cache", 2, "test", "restored_bytes") > 0.0, "{csv}");
    assert!(n("go-ci-cache", 2, "test", "dep_compiles") <= 3.0, "{csv}");
    assert_eq!(n("go-ci-cache", 2, "test", "saved_bytes"), 0.0, "{csv}");
    assert!(n("go-ci-cache", 3, "test", "restored_bytes") > 0.0, "{csv}");
    assert!(n("go-ci-cache", 3, "test", "dep_compiles") <= 3.0, "{csv}");
    assert!(n("go-ci-cache", 3, "test", "saved_bytes") > 0.0, "{csv}");
    assert!(n("go-ci-cache", 4, "test", "restored_bytes") > 0.0);
    assert_eq!(n("go-ci-cache", 4, "test", "dep_compiles"), 0.0, "{csv}");
    assert!(
        n("go-ci-cache", 4, "test", "saved_bytes") > 0.0,
        "fresh: {csv}"
    );
    assert!(
        get("go-ci-cache", 4, "test")["matched"].contains("-r3.1"),
        "run 4 restores run 3's build entry: {csv}"
    );
    assert_eq!(
        n("go-ci-cache", 4, "test", "warm_s"),
        0.0,
        "no warm-up by default"
    );
    // Pruning keeps the newest two build entries of the default branch's configuration.
    let builds = |run: u32| {
        get("go-ci-cache", run, "test")["store_entries"]
            .parse::<u32>()
            .unwrap()
    };
    assert!(builds(4) <= builds(3) + 1, "{csv}");
    // Modelled transfer time follows the bytes.
    assert!(n("go-ci-cache", 3, "test", "net_s") > 0.0);
    assert!(n("go-ci-cache", 3, "test", "trim_s") > 0.0);

    // The remote build cache: the first run fills the bucket; the pull request reads the
    // trusted namespace (compiling only the bumped modules) and writes nothing; the merge
    // compiles them once more (the pull request's work was not trusted); the next run compiles
    // no dependency in either job, fetching what it needs. No GOCACHE archive, no warm-up.
    if weed.is_some() {
        let r = "go-ci-cache-remote";
        assert!(n(r, 1, "test", "dep_compiles") > 20.0, "{csv}");
        assert!(n(r, 1, "test", "saved_bytes") > 0.0, "{csv}");
        assert!(n(r, 1, "lib", "store_bytes") > 0.0, "{csv}");
        assert!(n(r, 2, "test", "restored_bytes") > 0.0, "{csv}");
        assert!(n(r, 2, "test", "dep_compiles") <= 3.0, "{csv}");
        assert_eq!(
            n(r, 2, "lib", "store_bytes"),
            n(r, 1, "lib", "store_bytes"),
            "a pull request writes nothing: {csv}"
        );
        assert!(n(r, 3, "test", "dep_compiles") <= 3.0, "{csv}");
        for job in ["test", "lib"] {
            assert_eq!(n(r, 4, job, "dep_compiles"), 0.0, "{job}: {csv}");
            assert_eq!(n(r, 4, job, "warm_s"), 0.0);
        }
        assert!(n(r, 4, "test", "net_s") > 0.0, "{csv}");
        assert!(
            !get(r, 4, "test")["matched"].contains("-build-"),
            "no GOCACHE archive: {csv}"
        );
    }

    // go-ci-cache on a persistent runner: the first job finds empty caches and restores as on
    // any runner; from the merge of the bump on, the machine holds each job's configuration and
    // dependency set (the pull request's job left them), so nothing is restored and no
    // dependency is compiled; the local caches are kept within the budget, not emptied.
    let p = "go-ci-cache-persistent";
    assert!(n(p, 1, "test", "dep_compiles") > 20.0, "{csv}");
    for run in [3, 4] {
        for job in ["test", "lib"] {
            assert_eq!(get(p, run, job)["held"], "11", "run {run} {job}: {csv}");
            assert_eq!(
                n(p, run, job, "restored_bytes"),
                0.0,
                "run {run} {job}: {csv}"
            );
            assert_eq!(
                n(p, run, job, "dep_compiles"),
                0.0,
                "run {run} {job}: {csv}"
            );
        }
    }
    assert!(n(p, 4, "test", "local_build_bytes") > 0.0, "{csv}");
    // Run 3 saves the bumped set for the fleet, from what its job used.
    assert!(n(p, 3, "test", "saved_bytes") > 0.0, "{csv}");

    // The persistent runner keeps everything: after its first job it compiles no dependency
    // package, restores and saves nothing, and serves unchanged test results from the cache.
    assert!(n("ideal", 1, "test", "dep_compiles") > 20.0);
    assert_eq!(n("ideal", 4, "test", "dep_compiles"), 0.0, "{csv}");
    assert_eq!(n("ideal", 4, "test", "restored_bytes"), 0.0);
    assert_eq!(n("ideal", 4, "test", "store_bytes"), 0.0);
    // Revision 3 changed lib, so its test runs again; nothing else has tests.
    assert_eq!(n("ideal", 4, "test", "tests_run"), 1.0, "{csv}");

    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for want in [
        "| go-ci-cache |",
        "vs setup-go",
        "vs recipe",
        "vs ideal",
        "pull-request runs",
    ] {
        assert!(md.contains(want), "no `{want}` in:\n{md}");
    }
    let has_matplotlib = Command::new("python3")
        .args(["-c", "import matplotlib"])
        .status()
        .is_ok_and(|s| s.success());
    if has_matplotlib {
        let png = std::fs::read(out.join("chart.png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "matplotlib is missing; .ci/run installs it"
        );
    }
}
