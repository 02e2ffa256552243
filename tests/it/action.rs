//! The GitHub Action end to end in nektos/act (host executor, built-in cache server on
//! 127.0.0.1), with the real binary and the real `go` on a fixture module served by the file://
//! proxy; plus the JS unit tests, the dist/ staleness check and actionlint on the example
//! workflows. Without the tools (act, node, actionlint) these tests skip locally and fail in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, TestEnv, copy_tree, deps_compiled, emulator_go_env, write_module};

/// Finds a tool on PATH; in CI a missing tool is a failure, locally a skip.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is missing; .ci/run installs it"
        );
        eprintln!("skipping: `{name}` is not on PATH (.ci/run installs it)");
    }
    found
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn js_unit_tests() {
    let _timed = crate::util::timed();
    let Some(node) = tool("node") else { return };
    if !repo_root().join("js/node_modules").is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "js/node_modules is missing; .ci/run runs npm ci"
        );
        eprintln!("skipping: run `npm ci` in js/");
        return;
    }
    let out = Command::new(node)
        .args(["--test", "test/"])
        .current_dir(repo_root().join("js"))
        .env("GO_CI_CACHE_TEST_BINARY", crate::util::binary())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("# fail 0"), "{text}");
}

#[test]
fn dist_is_up_to_date() {
    let Some(node) = tool("node") else { return };
    if !repo_root().join("js/node_modules").is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "js/node_modules is missing; .ci/run runs npm ci"
        );
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let st = Command::new(node)
        .arg("js/build.mjs")
        .arg(out_dir.path())
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(st.success());
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".mjs"))
            .collect();
        v.sort();
        v
    };
    let dist = repo_root().join("dist");
    assert_eq!(
        names(out_dir.path()),
        names(&dist),
        "dist/ is stale: run `npm run build` in js/"
    );
    for n in names(&dist) {
        assert!(
            std::fs::read(dist.join(&n)).unwrap()
                == std::fs::read(out_dir.path().join(&n)).unwrap(),
            "dist/{n} is stale: run `npm run build` in js/"
        );
    }
}

#[test]
fn actionlint_accepts_the_example_workflows() {
    let Some(actionlint) = tool("actionlint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(repo_root().join("examples/github"))
        .unwrap()
        .flatten()
    {
        // Point the examples at the action in this tree so actionlint checks their inputs.
        let text = std::fs::read_to_string(e.path()).unwrap();
        assert!(
            text.contains("go-ci-cache/go-cache-action@v1"),
            "{}",
            e.path().display()
        );
        std::fs::write(
            wf.join(e.file_name()),
            text.replace("go-ci-cache/go-cache-action@v1", "./"),
        )
        .unwrap();
        n += 1;
    }
    assert!(n >= 5, "example workflows missing");
    for e in std::fs::read_dir(repo_root().join(".github/workflows"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(
            e.path(),
            wf.join(format!("project-{}", e.file_name().to_string_lossy())),
        )
        .unwrap();
    }
    // The action itself, so `uses: ./` resolves and its inputs are checked.
    std::fs::copy(
        repo_root().join("action.yml"),
        dir.path().join("action.yml"),
    )
    .unwrap();
    copy_tree(&repo_root().join("dist"), &dir.path().join("dist"));
    util::git(dir.path(), &["init", "-q"]);
    let out = Command::new(actionlint)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway repository, runner home and cache server for act.
struct Act {
    act: PathBuf,
    t: TestEnv,
    repo: PathBuf,
    results: PathBuf,
    /// Run act as an unprivileged user (a runner is not root: root ignores read-only
    /// directories, so tar's "Cannot open: File exists" never shows as root).
    non_root: bool,
    /// `GOFLAGS=-modcacherw` in the job (module trees writable).
    modcacherw: bool,
    /// Extra or overriding job environment.
    env: Vec<(String, String)>,
    /// The event the workflow runs on (`push` unless a test says otherwise).
    event_name: String,
    /// Keep the runner's home (and so its caches) from run to run: a persistent runner.
    keep_home: bool,
}

struct Run {
    ok: bool,
    log: String,
    outputs: std::collections::HashMap<String, String>,
}

impl Run {
    /// The post step saved the build entry under this run's own key.
    fn saved_its_build_entry(&self) -> bool {
        self.log.contains(&format!(
            "saved the build cache as {}",
            self.outputs["build-key"]
        ))
    }
}

impl Act {
    fn new(act: PathBuf) -> Self {
        let t = TestEnv::new();
        let repo = t.root().join("repo");
        write_module(
            &repo,
            "example.com/app",
            &["example.com/greet@v1.0.0"],
            &["example.com/testonly"],
        );
        t.go_ok(&repo, &["mod", "tidy"]);
        let action = t.root().join("action");
        std::fs::create_dir_all(&action).unwrap();
        std::fs::copy(repo_root().join("action.yml"), action.join("action.yml")).unwrap();
        copy_tree(&repo_root().join("dist"), &action.join("dist"));
        let results = t.root().join("results");
        std::fs::create_dir_all(&results).unwrap();
        util::git(&repo, &["init", "-q", "-b", "main"]);
        util::git_commit(&repo, "init");
        Self {
            act,
            t,
            repo,
            results,
            non_root: false,
            modcacherw: true,
            env: Vec::new(),
            event_name: "push".into(),
            keep_home: false,
        }
    }

    /// Runs one workflow (the action with `with`, then `extra` steps) as a fresh runner would:
    /// empty local caches, the shared cache server.
    fn run(&self, with: &str, extra: &str, event: Option<&str>) -> Run {
        self.run_after("", with, extra, event)
    }

    /// [`Act::run`] with `before` steps between the checkout and the action.
    fn run_after(&self, before: &str, with: &str, extra: &str, event: Option<&str>) -> Run {
        let wf = format!(
            r#"name: ci
on: {event}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
{before}
      - id: cache
        uses: go-ci-cache/go-cache-action@v1
        with:
          binary: ${{{{ env.GO_CI_CACHE_TEST_BINARY }}}}
{with}
      - run: |
          printf '%s\n' "modules-status=${{{{ steps.cache.outputs.modules-status }}}}" "build-status=${{{{ steps.cache.outputs.build-status }}}}" "cache-budget-gb=${{{{ steps.cache.outputs.cache-budget-gb }}}}" "cache-hit=${{{{ steps.cache.outputs.cache-hit }}}}" "persistent=${{{{ steps.cache.outputs.persistent }}}}" "modules-hit=${{{{ steps.cache.outputs.modules-hit }}}}" "build-hit=${{{{ steps.cache.outputs.build-hit }}}}" "build-key=${{{{ steps.cache.outputs.build-key }}}}" "build-matched-key=${{{{ steps.cache.outputs.build-matched-key }}}}" "modules-matched-key=${{{{ steps.cache.outputs.modules-matched-key }}}}" "coverage=${{{{ steps.cache.outputs.coverage }}}}" > "$RESULT_DIR/outputs.txt"
{extra}
"#,
            event = self.event_name
        );
        let wf_dir = self.repo.join(".github/workflows");
        std::fs::create_dir_all(&wf_dir).unwrap();
        std::fs::write(wf_dir.join("ci.yml"), wf).unwrap();
        // A fresh runner: no local caches.
        let home = self.t.root().join("home");
        if home.exists() && !self.keep_home {
            let _ = Command::new("chmod")
                .args(["-R", "u+w"])
                .arg(&home)
                .status();
            std::fs::remove_dir_all(&home).unwrap();
        }
        std::fs::create_dir_all(&home).unwrap();
        let _ = std::fs::remove_file(self.results.join("outputs.txt"));
        let mut cmd = if self.non_root && is_root() {
            // An unprivileged user needs its own copy of act and a tree it owns.
            let act = self.t.root().join("act");
            if !act.exists() {
                std::fs::copy(&self.act, &act).unwrap();
            }
            let st = Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(self.t.root())
                .status()
                .unwrap();
            assert!(st.success());
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(act);
            c
        } else {
            Command::new(&self.act)
        };
        cmd.current_dir(&self.repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", &home)
            .env("ACT_DISABLE_VERSION_CHECK", "1")
            .arg(&self.event_name)
            .args([
                "-P",
                "ubuntu-latest=-self-hosted",
                "-W",
                ".github/workflows/ci.yml",
            ])
            .arg("--action-cache-path")
            .arg(self.t.root().join("actcache"))
            .arg("--cache-server-path")
            .arg(self.t.root().join("cacheserver"))
            .args(["--cache-server-addr", "127.0.0.1", "--use-gitignore=false"])
            .arg("--local-repository")
            .arg(format!(
                "go-ci-cache/go-cache-action@v1={}",
                self.t.root().join("action").display()
            ));
        if let Some(ev) = event {
            let p = self.t.root().join("event.json");
            std::fs::write(&p, ev).unwrap();
            cmd.arg("-e").arg(p);
        }
        let mut vars = emulator_go_env(&self.results);
        vars.push((
            "GO_CI_CACHE_TEST_BINARY",
            crate::util::binary().display().to_string(),
        ));
        // Every workflow run has its own id, as on GitHub (act says 1 for all of them).
        static RUN_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1000);
        vars.push((
            "GITHUB_RUN_ID",
            RUN_ID
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                .to_string(),
        ));
        if self.modcacherw {
            vars.push(("GOFLAGS", "-modcacherw".into()));
        }
        let mut vars: Vec<(String, String)> =
            vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        for (k, v) in &self.env {
            vars.retain(|(n, _)| n != k);
            vars.push((k.clone(), v.clone()));
        }
        if self.non_root && is_root() {
            // The binary and the fixture proxy may sit where the unprivileged user cannot
            // read (a checkout under /root): give it copies inside the tree it owns.
            let own = self.t.root().join("own");
            let bin = own.join("go-ci-cache");
            let proxy = own.join("proxy");
            if !bin.exists() {
                std::fs::create_dir_all(&own).unwrap();
                std::fs::copy(crate::util::binary(), &bin).unwrap();
                copy_tree(crate::util::proxy_dir(), &proxy);
                let st = Command::new("chown")
                    .args(["-R", "65534:65534"])
                    .arg(&own)
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            let from = crate::util::proxy_dir().display().to_string();
            for (k, v) in &mut vars {
                if k == "GO_CI_CACHE_TEST_BINARY"
                    && *v == crate::util::binary().display().to_string()
                {
                    *v = bin.display().to_string();
                }
                *v = v.replace(&from, &proxy.display().to_string());
            }
        }
        for (k, v) in vars {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // GO_CI_CACHE_ACT_LOG=<dir> keeps every run's log for reading.
        if let Some(dir) = std::env::var_os("GO_CI_CACHE_ACT_LOG") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let name = self
                .t
                .root()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            std::fs::write(dir.join(format!("{name}-{n:02}.log")), &log).unwrap();
        }
        let outputs = std::fs::read_to_string(self.results.join("outputs.txt"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Run {
            ok: out.status.success(),
            log,
            outputs,
        }
    }

    fn dep_compiles(&self, file: &str) -> Vec<String> {
        deps_compiled(
            &std::fs::read(self.results.join(file)).unwrap(),
            "example.com/app",
        )
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Lines of a log that are tar errors.
fn tar_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Cannot open") || l.contains("tar: ") && l.contains("failure"))
        .collect()
}

/// Warnings the action gave (act prints the `::warning::` command it parsed).
fn warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("::warning") || l.contains("⚠"))
        .collect()
}

/// Inputs for the runs that check the warm-up itself (it is off by default).
const WARM_AUTO: &str = "          save: always\n          warm: auto";

const JOB: &str = r#"      - run: |
          go build -x ./... 2> "$RESULT_DIR/build.txt"
          go test -x -run='^$' ./... 2> "$RESULT_DIR/test.txt" > /dev/null"#;

#[test]
fn action_end_to_end_in_act() {
    let Some(act) = tool("act") else { return };
    let a = Act::new(act);
    let check = |r: &Run, what: &str| assert!(r.ok, "{what} failed:\n{}", r.log);

    // 1. A first run misses, warms, trims and saves both entries.
    let r = a.run(WARM_AUTO, JOB, None);
    check(&r, "run 1");
    assert_eq!(r.outputs["cache-hit"], "false", "{}", r.log);
    assert!(
        r.log.contains("compiled") && r.log.contains("go-ci-cache: GOCACHE: removed"),
        "{}",
        r.log
    );
    assert!(
        r.log
            .contains("saved the modules cache as go-ci-cache-mod-v1-"),
        "{}",
        r.log
    );
    assert!(
        r.log
            .contains("saved the build cache as go-ci-cache-build-v1-"),
        "{}",
        r.log
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());
    let coverage = r.outputs["coverage"].clone();
    let (cached, total) = coverage.split_once('/').unwrap();
    assert_eq!(cached, total, "coverage {coverage}");

    // 2. A second run hits both entries exactly and compiles no dependency package.
    let r = a.run(WARM_AUTO, JOB, None);
    check(&r, "run 2");
    assert_eq!(r.outputs["cache-hit"], "true", "{}", r.log);
    assert!(r.log.contains("warm-up skipped"), "{}", r.log);
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());
    assert_eq!(a.dep_compiles("test.txt"), Vec::<String>::new());
    // The modules entry was an exact hit and is not saved again. The build entry is run 1's
    // (another run's last layer); act checks out into a new directory each run, so the job
    // recompiled the main module's packages there: that is new, and saved under this run's key
    // (action_keeps_the_build_cache_fresh_in_act covers a run that adds nothing).
    assert!(
        r.log
            .contains("not saving the modules cache: it was restored by an exact key hit"),
        "{}",
        r.log
    );
    assert!(
        r.log.contains("build-cache entries to the restored") && r.saved_its_build_entry(),
        "{}",
        r.log
    );

    // 3. A go.sum change restores through a restore key and compiles only what changed.
    a.t.go_ok(&a.repo, &["get", "example.com/greet@v1.1.0"]);
    let r = a.run(WARM_AUTO, JOB, None);
    check(&r, "run 3");
    assert_eq!(r.outputs["build-hit"], "false");
    let matched = &r.outputs["build-matched-key"];
    assert!(
        !matched.is_empty() && matched != &r.outputs["build-key"],
        "{:?}",
        r.outputs
    );
    // The matched entry is run 1's: same key up to the fingerprint, another dependency layer
    // (and another run's last layer).
    let key = &r.outputs["build-key"];
    let prefix = key[..key.rmatch_indices('-').nth(1).unwrap().0].to_lowercase();
    assert!(
        matched.to_lowercase().starts_with(&format!("{prefix}-")),
        "{matched} vs {prefix}"
    );
    let before = r
        .log
        .lines()
        .find(|l| l.contains("before: "))
        .unwrap_or_default();
    assert!(
        before.contains("third-party 2/3"),
        "only greet should need compiling: {before}"
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());

    // 4. save: never saves nothing.
    let never = "          key-prefix: never\n          save: never\n          warm: never";
    let r = a.run(never, "", None);
    check(&r, "save never");
    assert!(
        r.log
            .contains("not saving the modules cache: save is `never`"),
        "{}",
        r.log
    );
    let r = a.run(never, "", None);
    assert_eq!(
        r.outputs["modules-matched-key"], "",
        "nothing was saved under `never`: {}",
        r.log
    );

    // 5. A failing job saves only with save-on-failure.
    let fail = |on_failure: bool| {
        a.run(
            &format!("          key-prefix: fail\n          save: always\n          warm: never\n          build-cache: false\n          save-on-failure: {on_failure}"),
            "      - run: go mod download\n      - run: exit 1",
            None,
        )
    };
    let r = fail(false);
    assert!(!r.ok);
    assert!(!r.log.contains("saved the modules cache"), "{}", r.log);
    let r = fail(true);
    assert!(!r.ok);
    assert!(
        r.log.contains("saved the modules cache as fail-mod-v1-"),
        "{}",
        r.log
    );

    // 6. The default policy saves on the default branch only.
    let branch =
        "          key-prefix: branch\n          warm: never\n          build-cache: false";
    let download = "      - run: go mod download";
    let r = a.run(
        branch,
        download,
        Some(r#"{"repository":{"default_branch":"trunk"}}"#),
    );
    check(&r, "other branch");
    assert!(
        r.log.contains(
            "`refs/heads/main` (push) is not the default branch's own run (save: default-branch)"
        ),
        "{}",
        r.log
    );
    let r = a.run(
        branch,
        download,
        Some(r#"{"repository":{"default_branch":"main"}}"#),
    );
    assert!(
        r.log.contains("saved the modules cache as branch-mod-v1-"),
        "{}",
        r.log
    );

    // 7. An input outside its set fails the step with a clear error.
    let r = a.run("          save: sometimes", "", None);
    assert!(!r.ok);
    assert!(
        r.log.contains(
            "input `save` is `sometimes`; allowed values: `default-branch`, `pull-requests`, `always`, `never`"
        ),
        "{}",
        r.log
    );
}

/// Freshness: three default-branch runs with new work each. Each saves a new build entry under
/// its own run's key, the second and third restore the newest one (a hit: same dependency set,
/// no warm-up), and a fourth run that adds nothing saves nothing.
#[test]
fn action_keeps_the_build_cache_fresh_in_act() {
    let Some(act) = tool("act") else { return };
    let mut a = Act::new(act);
    let repo = a.repo.clone();
    let main = Some(r#"{"repository":{"default_branch":"main"}}"#);
    // act checks out into a new directory every run; GitHub's workspace path is the same
    // every run (and main-module packages are keyed by their directory without -trimpath), so
    // the job runs in a fixed copy, with fresh mtimes as a checkout leaves them.
    let job = r#"      - run: |
          rm -rf "$RESULT_DIR/../ws" && cp -r . "$RESULT_DIR/../ws" && cd "$RESULT_DIR/../ws"
          go test ./... > "$RESULT_DIR/test.txt""#;
    let commit = |i: usize| {
        std::fs::write(
            repo.join(format!("lib/work{i}.go")),
            format!("package lib\n\n// Work{i} is new in commit {i}.\nfunc Work{i}() int {{ return {i} }}\n"),
        )
        .unwrap();
        std::fs::write(
            repo.join(format!("lib/work{i}_test.go")),
            format!("package lib\n\nimport \"testing\"\n\nfunc TestWork{i}(t *testing.T) {{\n\tif Work{i}() != {i} {{\n\t\tt.Fatal(\"bad\")\n\t}}\n}}\n"),
        )
        .unwrap();
        util::git(&repo, &["add", "-A"]);
        util::git_commit(&repo, &format!("work {i}"));
    };
    let mut saved: Vec<String> = Vec::new();
    for i in 1..=3 {
        commit(i);
        let r = a.run("", job, main);
        assert!(r.ok, "run {i}:\n{}", r.log);
        let key = r.outputs["build-key"].clone();
        assert!(
            r.saved_its_build_entry(),
            "run {i} saves its own entry:\n{}",
            r.log
        );
        if let Some(newest) = saved.last() {
            assert_eq!(
                &r.outputs["build-matched-key"], newest,
                "run {i} restores the newest:\n{}",
                r.log
            );
            assert_eq!(r.outputs["build-hit"], "true", "{}", r.log);
            assert_eq!(r.outputs["build-status"], "hit", "{}", r.log);
            assert!(r.log.contains("warm-up skipped"), "{}", r.log);
            assert!(
                r.log
                    .contains("not saving the modules cache: it was restored by an exact key hit"),
                "{}",
                r.log
            );
        }
        assert!(
            !saved.contains(&key),
            "a new key per run: {key} in {saved:?}"
        );
        // act has no token: pruning says so, once, and nothing else complains.
        assert_eq!(
            r.log
                .matches("superseded entries are not pruned: no `token`")
                .count(),
            1,
            "{}",
            r.log
        );
        assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);
        saved.push(key);
    }
    // Nothing new: the newest entry is restored and nothing is saved.
    let r = a.run("", job, main);
    assert!(r.ok, "run 4:\n{}", r.log);
    assert_eq!(
        &r.outputs["build-matched-key"],
        saved.last().unwrap(),
        "{}",
        r.log
    );
    assert!(
        r.log
            .contains("not saving the build cache: the job added nothing to the restored entry"),
        "{}",
        r.log
    );
    assert!(
        r.log.contains("0 new cache entries uploaded by this job"),
        "{}",
        r.log
    );
    let tests = std::fs::read_to_string(a.results.join("test.txt")).unwrap();
    assert!(
        tests.contains("(cached)"),
        "the test results came with the entry: {tests}"
    );

    // With a token, a save prunes the superseded entries of its kind, configuration and ref
    // (act's cache server has no REST API: a loopback fake answers, listing three entries).
    let api = crate::github_api::fake(Box::new(|method, target| {
        if target.ends_with("/actions/cache/storage-limit") {
            return (200, vec![], r#"{"max_cache_size_gb": 10}"#.into());
        }
        if method == "DELETE" {
            return (204, vec![], String::new());
        }
        let prefix = crate::github_api::query(target, "key")
            .unwrap_or_default()
            .replace("%2D", "-");
        let items: Vec<_> = (1..=3u64)
            .rev()
            .map(|i| crate::github_api::entry(i, &format!("{prefix}old{i}")))
            .collect();
        (
            200,
            vec![],
            serde_json::json!({"total_count": 3, "actions_caches": items}).to_string(),
        )
    }));
    a.env.push(("GITHUB_API_URL".into(), api.url.clone()));
    a.env
        .push(("GITHUB_REPOSITORY".into(), "octo/hello".into()));
    commit(4);
    let r = a.run("          token: test-token", job, main);
    assert!(r.ok, "run 5:\n{}", r.log);
    assert!(
        r.log
            .contains("cache budget: 10 GB (the repository's max_cache_size_gb)"),
        "{}",
        r.log
    );
    assert!(r.log.contains("pruned 1 superseded entry"), "{}", r.log);
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);
    let seen = api.seen.lock().unwrap().clone();
    // prefix-build-schema-os-arch-go-fingerprint-project: the configuration and project,
    // without deps and run.
    let build_prefix = r.outputs["build-key"]
        .split('-')
        .take(10)
        .collect::<Vec<_>>()
        .join("-");
    let lists: Vec<_> = seen
        .iter()
        .filter(|s| s.starts_with("GET /repos/octo/hello/actions/caches?"))
        .collect();
    assert_eq!(lists.len(), 1, "only the build entry was saved: {seen:?}");
    assert!(
        lists[0].contains("ref=refs%2Fheads%2Fmain")
            && crate::github_api::query(lists[0].trim_start_matches("GET "), "key")
                .is_some_and(|k| k.replace("%2D", "-") == format!("{build_prefix}-")),
        "{build_prefix}: {seen:?}"
    );
    let deletes: Vec<_> = seen
        .iter()
        .filter(|s| s.starts_with("DELETE"))
        .cloned()
        .collect();
    assert_eq!(
        deletes,
        ["DELETE /repos/octo/hello/actions/caches/1"],
        "the oldest of three goes, keep 2"
    );
}

/// A self-hosted runner that keeps its home between runs, with the real @actions/cache and GNU
/// tar: the first run restores and saves as on any runner; the second finds both entries on the
/// machine (status `local`: nothing looked up or downloaded) and compiles no dependency; its
/// post step keeps GOCACHE within the budget and saves the build entry through TAR_OPTIONS'
/// exclusions, so another project's entry that sits in the machine's cache stays there but not
/// in the archive; after a dependency bump the third looks up only the new set's entries,
/// downloads nothing over what the machine holds, and saves them; a fresh runner that restores
/// that archive builds from it.
#[test]
fn action_on_a_persistent_runner_in_act() {
    let Some(act) = tool("act") else { return };
    let mut a = Act::new(act);
    a.env
        .push(("RUNNER_ENVIRONMENT".into(), "self-hosted".into()));
    let main = Some(r#"{"repository":{"default_branch":"main"}}"#);
    let check = |r: &Run, what: &str| assert!(r.ok, "{what} failed:\n{}", r.log);

    // Run 1: a new machine.
    let r = a.run("", JOB, main);
    check(&r, "run 1");
    assert_eq!(r.outputs["persistent"], "false", "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "miss", "{}", r.log);
    assert!(r.log.contains("saved the build cache as"), "{}", r.log);

    // Another project's entry in the machine's build cache, last used two days ago.
    let gocache = a.t.root().join("home/.cache/go-build");
    let theirs = gocache.join("ee").join(format!("{}-d", "e".repeat(64)));
    std::fs::write(&theirs, "another project's package").unwrap();
    let old = filetime::FileTime::from_unix_time(
        filetime::FileTime::now().unix_seconds() - 2 * 86_400,
        0,
    );
    filetime::set_file_mtime(&theirs, old).unwrap();

    // Run 2, same machine.
    a.keep_home = true;
    let r = a.run("", JOB, main);
    check(&r, "run 2");
    assert_eq!(r.outputs["persistent"], "true", "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "local", "{}", r.log);
    assert_eq!(r.outputs["build-status"], "local", "{}", r.log);
    assert!(
        r.log.contains("nothing looked up or downloaded"),
        "{}",
        r.log
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());
    assert!(r.log.contains("trimmed to its budget"), "{}", r.log);
    assert!(
        theirs.exists(),
        "the budget trim took another project's entry"
    );
    assert!(tar_errors(&r.log).is_empty(), "{}", r.log);
    // act checks out into a new directory each run: the main module compiled anew, so the
    // build entry is saved again (with this run's key), through the exclusions.
    assert!(r.log.contains("leaves out the"), "{}", r.log);
    assert!(r.saved_its_build_entry(), "{}", r.log);

    // Run 3, same machine, after a dependency bump: the machine holds the earlier set, which
    // is all a restore key could bring, so only an entry of the new set is looked up (there is
    // none yet): nothing is downloaded or extracted over the caches, and the job fetches and
    // compiles the bumped module as the bare machine would. The default branch saves the new
    // set's entries for the fleet.
    a.t.go_ok(&a.repo, &["get", "example.com/greet@v1.1.0"]);
    let r = a.run("", JOB, main);
    check(&r, "run 3");
    assert_eq!(r.outputs["persistent"], "true", "{}", r.log);
    assert_eq!(
        (
            r.outputs["modules-status"].as_str(),
            r.outputs["build-status"].as_str()
        ),
        ("partial", "partial"),
        "{}",
        r.log
    );
    assert_eq!(
        r.log
            .matches("looking up only an entry of this one")
            .count(),
        2,
        "{}",
        r.log
    );
    assert!(!r.log.contains("restored restore key"), "{}", r.log);
    assert_eq!(r.outputs["build-matched-key"], "", "{}", r.log);
    assert!(tar_errors(&r.log).is_empty(), "{}", r.log);
    assert!(theirs.exists(), "{}", r.log);
    assert!(r.saved_its_build_entry(), "{}", r.log);

    // Run 4, a fresh runner of the fleet: restores run 3's entry and builds from it; the other
    // project's entry stayed out of the archive.
    a.keep_home = false;
    a.env
        .push(("RUNNER_ENVIRONMENT".into(), "github-hosted".into()));
    let r = a.run("          save: never", JOB, main);
    check(&r, "run 4");
    assert_eq!(r.outputs["persistent"], "false", "{}", r.log);
    assert_eq!(r.outputs["build-status"], "hit", "{}", r.log);
    assert_eq!(
        a.dep_compiles("build.txt"),
        Vec::<String>::new(),
        "{}",
        r.log
    );
    assert!(
        !theirs.exists(),
        "another project's entry travelled in the archive"
    );
}

/// What actions/setup-go's cache does around our action: its restore (before us) extracts the
/// archive it saved at the end of an earlier run, with Go's read-only module trees; its save
/// (emulated here by a step after the job) archives both directories.
const SETUP_GO_RESTORE: &str = r#"      - name: restore as actions/setup-go with cache true does
        run: |
          if [ -f "$RESULT_DIR/setup-go.tar" ]; then
            mkdir -p "$(go env GOMODCACHE)" "$(go env GOCACHE)"
            tar -xf "$RESULT_DIR/setup-go.tar" -P
            echo "prefilled: $(ls "$(go env GOMODCACHE)" | wc -l) module entries, $(ls "$(go env GOCACHE)" | wc -l) build entries"
          fi"#;

const SETUP_GO_SAVE: &str = r#"      - name: save as actions/setup-go does
        run: |
          [ -f "$RESULT_DIR/setup-go.tar" ] || tar -cf "$RESULT_DIR/setup-go.tar" -P "$(go env GOMODCACHE)" "$(go env GOCACHE)""#;

#[test]
fn action_with_a_remote_build_cache_in_act() {
    let Some(act) = tool("act") else { return };
    let Some(weed) = crate::cacheprog::Weed::start() else {
        return;
    };
    let mut a = Act::new(act);
    let bucket = crate::cacheprog::BUCKET;
    a.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), crate::cacheprog::KEY.into()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            crate::cacheprog::SECRET.into(),
        ),
        ("AWS_ENDPOINT_URL".into(), weed.endpoint()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ];
    let main = Some(r#"{"repository":{"default_branch":"main"}}"#);
    let with = format!("          remote: s3://{bucket}/act\n          warm: never");
    // The job runs in a fixed copy (see action_keeps_the_build_cache_fresh_in_act).
    let job = r#"      - run: |
          rm -rf "$RESULT_DIR/../ws" && cp -r . "$RESULT_DIR/../ws" && cd "$RESULT_DIR/../ws"
          go test -x ./... > "$RESULT_DIR/test.txt" 2> "$RESULT_DIR/trace.txt"
          printf '%s\n' "$GOCACHEPROG" > "$RESULT_DIR/gocacheprog.txt"
          printf '%s-%s-%s\n' "$GO_CI_CACHE_REMOTE_CONFIGURATION" "$GITHUB_JOB" "$GO_CI_CACHE_REMOTE_PROJECT" > "$RESULT_DIR/scope.txt""#;
    let count = |kind: &str| weed.list(&format!("act/v1/{kind}")).unwrap().len();

    // A default-branch run on a fresh runner compiles, and fills the trusted namespace.
    let r = a.run(&with, job, main);
    assert!(r.ok, "{}", r.log);
    assert!(
        r.log.contains(&format!("remote build cache s3://{bucket}/act: GOCACHEPROG is set for the job's steps, which reads it and writes `trusted`; the GOCACHE archive is off")),
        "{}",
        r.log
    );
    let prog = std::fs::read_to_string(a.results.join("gocacheprog.txt")).unwrap();
    // The binary the action was given (GO_CI_CACHE_TEST_BINARY), by its absolute path.
    assert_eq!(
        prog.trim(),
        format!("{} cacheprog", crate::util::binary().display()),
        "{prog}"
    );
    assert_eq!(r.outputs["build-status"], "off", "{}", r.log);
    assert!(!a.dep_compiles("trace.txt").is_empty());
    assert!(count("o/") > 0 && count("a/trusted/") > 0, "{}", r.log);
    // The job's manifest is named `<configuration>-<job>-<project>` by the cache program, from
    // the configuration and project the action exports out of `keys` (a job without a manifest
    // would start from a sibling of its configuration).
    let manifests = weed.list("act/v1/m/trusted/").unwrap();
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let name = manifests[0].0.rsplit('/').next().unwrap().to_string();
    let conf = &name[..12];
    assert!(
        conf.bytes().all(|b| b.is_ascii_hexdigit()) && name.ends_with(".json"),
        "{name}"
    );
    let scope = std::fs::read_to_string(a.results.join("scope.txt")).unwrap();
    assert_eq!(format!("{}.json", scope.trim()), name, "{scope}");
    assert!(r.log.contains("saved the modules cache"), "{}", r.log);
    assert!(!r.log.contains("saved the build cache"), "{}", r.log);
    assert!(r.log.contains("nothing to prefetch from"), "{}", r.log);
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);

    // The next fresh runner restores the modules archive and compiles no dependency: every
    // package comes from the store, prefetched in the main step beside the restore.
    let r = a.run(&with, job, main);
    assert!(r.ok, "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "hit", "{}", r.log);
    assert!(
        r.log.contains("go-ci-cache: prefetched ") && r.log.contains("in this job's manifest"),
        "{}",
        r.log
    );
    // The post step's report counts what the main step prefetched as the remote tier's.
    let remote_line = r
        .log
        .lines()
        .find(|l| l.contains("hits (remote tier)"))
        .unwrap_or_default();
    assert!(
        remote_line.contains(" prefetched;") && !remote_line.contains("; 0 prefetched;"),
        "{}",
        r.log
    );
    assert_eq!(
        a.dep_compiles("trace.txt"),
        Vec::<String>::new(),
        "{}",
        r.log
    );
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);

    // A run whose save policy writes nothing reads the store and writes nothing to it, even
    // with new work to cache.
    std::fs::write(
        a.repo.join("lib/extra.go"),
        "package lib\n\n// Extra is new.\nfunc Extra() int { return 7 }\n",
    )
    .unwrap();
    let before = (count("o/"), count("a/"));
    let r = a.run(&format!("{with}\n          save: never"), job, main);
    assert!(r.ok, "{}", r.log);
    assert!(
        r.log.contains("which reads it, writes nothing"),
        "{}",
        r.log
    );
    assert_eq!(
        a.dep_compiles("trace.txt"),
        Vec::<String>::new(),
        "{}",
        r.log
    );
    assert_eq!((count("o/"), count("a/")), before, "{}", r.log);

    // The cache program never fails the job. A `binary` given as a relative path: GOCACHEPROG
    // holds it as an absolute one, so go commands started from another directory still run it.
    let tools = a.repo.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::copy(crate::util::binary(), tools.join("go-ci-cache")).unwrap();
    let elsewhere = r#"      - run: |
          go -C lib vet . 2> "$RESULT_DIR/vet.txt"
          printf '%s\n' "$GOCACHEPROG" > "$RESULT_DIR/gocacheprog.txt""#;
    a.env.push((
        "GO_CI_CACHE_TEST_BINARY".into(),
        "./tools/go-ci-cache".into(),
    ));
    let r = a.run(&with, elsewhere, main);
    assert!(r.ok, "{}", r.log);
    let prog = std::fs::read_to_string(a.results.join("gocacheprog.txt")).unwrap();
    assert!(
        prog.starts_with('/') && prog.trim().ends_with("/tools/go-ci-cache cacheprog"),
        "{prog}"
    );
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);
    a.env.retain(|(k, _)| k != "GO_CI_CACHE_TEST_BINARY");

    // A `remote` the cache program rejects, and an endpoint without a scheme: one warning each,
    // no GOCACHEPROG, the GOCACHE archive instead, and the job's go commands succeed.
    let build_and_prog = r#"      - run: |
          go build ./... && go test ./...
          printf '%s\n' "${GOCACHEPROG:-none}" > "$RESULT_DIR/gocacheprog.txt""#;
    for (remote, env, says) in [
        ("s3://b/act", None, "s3://b/act"),
        (
            &*format!("s3://{bucket}/act"),
            Some(("AWS_ENDPOINT_URL", "127.0.0.1:9000")),
            "AWS_ENDPOINT_URL `127.0.0.1:9000`",
        ),
    ] {
        let saved = a.env.clone();
        if let Some((k, v)) = env {
            a.env.retain(|(n, _)| n != k);
            a.env.push((k.into(), v.into()));
        }
        let r = a.run(
            &format!("          remote: {remote}\n          warm: never"),
            build_and_prog,
            main,
        );
        a.env = saved;
        assert!(r.ok, "{}", r.log);
        let w = warnings(&r.log);
        assert_eq!(w.len(), 1, "{w:#?}\n{}", r.log);
        assert!(
            w[0].contains("the remote build cache is off for this job") && w[0].contains(says),
            "{}",
            w[0]
        );
        assert_eq!(
            std::fs::read_to_string(a.results.join("gocacheprog.txt"))
                .unwrap()
                .trim(),
            "none"
        );
        assert_ne!(
            r.outputs["build-status"], "off",
            "the archive is back: {}",
            r.log
        );
    }

    // A prefetch that does not end well: GOCACHEPROG is not handed to the job's steps.
    let wrap = a.t.root().join("wrap.sh");
    std::fs::write(
        &wrap,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" --prefetch-only \"*) echo prefetch broke >&2; exit 3;; esac\nexec {} \"$@\"\n",
            crate::util::binary().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    a.env
        .push(("GO_CI_CACHE_TEST_BINARY".into(), wrap.display().to_string()));
    let r = a.run(&with, build_and_prog, main);
    a.env.retain(|(k, _)| k != "GO_CI_CACHE_TEST_BINARY");
    assert!(r.ok, "{}", r.log);
    let w = warnings(&r.log);
    assert_eq!(w.len(), 1, "{w:#?}\n{}", r.log);
    assert!(
        w[0].contains("its prefetch ended with status 3"),
        "{}",
        w[0]
    );
    assert_eq!(
        std::fs::read_to_string(a.results.join("gocacheprog.txt"))
            .unwrap()
            .trim(),
        "none"
    );
}

/// A pull request's code run with the default branch's ref (`pull_request_target`): whatever
/// `save` says, the action saves no archive into the default branch's scope, and the binary's
/// decision says why.
#[test]
fn action_trust_decides_what_a_pull_request_target_run_saves_in_act() {
    let Some(act) = tool("act") else { return };
    let mut a = Act::new(act);
    a.event_name = "pull_request_target".into();
    let ev = r#"{"repository":{"full_name":"o/r","default_branch":"main"},"number":7,
        "pull_request":{"number":7,"base":{"ref":"main"},"head":{"ref":"patch-1","repo":{"full_name":"fork/r"}}}}"#;
    for save in ["default-branch", "pull-requests", "always"] {
        let r = a.run(
            &format!("          save: {save}\n          warm: never"),
            "      - run: go build ./...",
            Some(ev),
        );
        assert!(r.ok, "{}", r.log);
        assert!(
            r.log
                .contains("this job runs pull request #7 from a fork (pull_request_target)"),
            "{}",
            r.log
        );
        assert!(!r.log.contains("saved the"), "{save}: {}", r.log);
        assert!(
            r.log.contains("not saving the modules cache"),
            "{save}: {}",
            r.log
        );
    }
    // The same workflow on a push to the default branch saves.
    a.event_name = "push".into();
    let r = a.run(
        "          warm: never",
        "      - run: go build ./...",
        Some(r#"{"repository":{"full_name":"o/r","default_branch":"main"}}"#),
    );
    assert!(r.log.contains("saved the modules cache"), "{}", r.log);
}

#[test]
fn action_after_a_setup_go_cache_restore_in_act() {
    let Some(act) = tool("act") else { return };
    let mut a = Act::new(act);
    a.non_root = true;
    a.modcacherw = false;
    a.env
        .push(("RUNNER_ENVIRONMENT".into(), "github-hosted".into()));
    let job = format!("{JOB}\n{SETUP_GO_SAVE}");

    let r = a.run_after(SETUP_GO_RESTORE, "          save: always", &job, None);
    assert!(r.ok, "run 1:\n{}", r.log);
    assert!(a.results.join("setup-go.tar").is_file(), "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "miss", "{}", r.log);
    assert_eq!(
        warnings(&r.log),
        Vec::<&str>::new(),
        "nothing was there before: {}",
        r.log
    );

    // A fresh runner: setup-go's restore fills both directories before ours.
    let r = a.run_after(SETUP_GO_RESTORE, "          save: always", &job, None);
    assert!(r.ok, "run 2:\n{}", r.log);
    assert!(r.log.contains("prefilled: "), "{}", r.log);
    assert_eq!(tar_errors(&r.log), Vec::<&str>::new(), "{}", r.log);
    let w = warnings(&r.log);
    assert_eq!(w.len(), 1, "one warning: {w:#?}\n{}", r.log);
    assert!(
        w[0].contains("already held files before go-ci-cache restored them")
            && w[0].contains("actions/setup-go")
            && w[0].contains("`cache: false`"),
        "{}",
        w[0]
    );
    // Honest status: both entries were restored (over the existing files), none "no cache".
    assert_eq!(r.outputs["modules-status"], "hit", "{}", r.log);
    assert_eq!(r.outputs["build-status"], "hit", "{}", r.log);
    assert!(!r.log.contains("no cache for"), "{}", r.log);
    assert!(r.log.contains("restore status: modules hit, build hit"));
    // Exact hits are not saved again.
    assert!(
        r.log
            .contains("not saving the modules cache: it was restored by an exact key hit"),
        "{}",
        r.log
    );
    // Nothing of setup-go's is saved again by our side: the modules entry is not re-saved, and
    // the build entry only for what the job itself added (act's new checkout directory).
    assert!(!r.log.contains("saved the modules cache"), "{}", r.log);
    assert!(
        !r.log.contains("saved the build cache")
            || r.log.contains("build-cache entries to the restored"),
        "{}",
        r.log
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());
    assert_eq!(a.dep_compiles("test.txt"), Vec::<String>::new());
    // Without a token the budget is GitHub's default, and the log says so.
    assert!(
        r.log
            .contains("cache budget: 10 GB (GitHub's default; no token"),
        "{}",
        r.log
    );
    assert_eq!(r.outputs["cache-budget-gb"], "10");
}

/// Issue: a go.mod `toolchain` line newer than the runner's Go made `keys` download that
/// toolchain into GOMODCACHE (read-only) before the restore, and the next restore failed as a
/// non-root user with tar's "Cannot open: File exists". The modules entry is now restored
/// before any `go` command may switch toolchains.
#[test]
fn action_with_a_newer_toolchain_line_restores_cleanly_in_act() {
    let Some(act) = tool("act") else { return };
    let newer = "go1.27.3";
    let installed = {
        let o = Command::new("go")
            .args(["env", "GOVERSION"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    if go_ci_cache::go::toolchain::GoVersion::parse(&installed)
        >= go_ci_cache::go::toolchain::GoVersion::parse(newer)
    {
        eprintln!("skipping: the installed {installed} is not older than {newer}");
        return;
    }
    let mut a = Act::new(act);
    a.non_root = true;
    a.modcacherw = false;
    let gomod = a.repo.join("go.mod");
    let text = std::fs::read_to_string(&gomod).unwrap();
    std::fs::write(&gomod, format!("{text}\ntoolchain {newer}\n")).unwrap();
    // The fixture proxy first, then the machine's own GOPROXY for the toolchain module
    // (checked against the checksum database; the fixtures are not in it).
    let machine = Command::new("go")
        .args(["env", "GOPROXY"])
        .output()
        .unwrap();
    let proxy = format!(
        "file://{},{}",
        crate::util::proxy_dir().display(),
        String::from_utf8_lossy(&machine.stdout).trim()
    );
    let sumdb = Command::new("go")
        .args(["env", "GOSUMDB"])
        .output()
        .unwrap();
    let sumdb = String::from_utf8_lossy(&sumdb.stdout).trim().to_string();
    for (k, v) in [
        ("GOTOOLCHAIN", "auto"),
        ("GOPROXY", proxy.as_str()),
        ("GOSUMDB", sumdb.as_str()),
        ("GONOSUMDB", "example.com"),
    ] {
        a.env.push((k.into(), v.into()));
    }
    let job = "      - run: go build -x ./... 2> \"$RESULT_DIR/build.txt\"";
    let r = a.run("          save: always", job, None);
    assert!(r.ok, "run 1:\n{}", r.log);
    assert!(
        r.outputs["build-key"].contains(&format!("-{newer}-")),
        "{:?}",
        r.outputs
    );

    let r = a.run("          save: always", job, None);
    assert!(r.ok, "run 2:\n{}", r.log);
    assert_eq!(tar_errors(&r.log), Vec::<&str>::new(), "{}", r.log);
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "hit", "{}", r.log);
    assert_eq!(r.outputs["build-status"], "hit", "{}", r.log);
    assert!(
        !r.log.contains(&format!("downloading {newer}")),
        "the toolchain comes from the restored entry: {}",
        r.log
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());
}

/// Cache trouble never fails the job: a binary that cannot run, or a `keys` that fails, is one
/// warning and the job goes on without caching.
#[test]
fn action_trouble_is_a_warning_in_act() {
    let Some(act) = tool("act") else { return };
    let a = Act::new(act);
    let after = "      - run: echo job-went-on";
    let mut a = a;
    a.env.push((
        "GO_CI_CACHE_TEST_BINARY".into(),
        "/nonexistent/go-ci-cache".into(),
    ));
    let r = a.run("", after, None);
    assert!(r.ok, "{}", r.log);
    assert!(r.log.contains("job-went-on"), "{}", r.log);
    let w = warnings(&r.log);
    assert_eq!(w.len(), 1, "{w:#?}\n{}", r.log);
    assert!(w[0].contains("go-ci-cache is off for this job"), "{}", w[0]);
    assert_eq!(r.outputs["modules-status"], "off");

    // A go.mod that does not parse: `keys` exits 2 (the job's own `go` reports it too).
    a.env.clear();
    let gomod = a.repo.join("go.mod");
    let good = std::fs::read(&gomod).unwrap();
    std::fs::write(&gomod, "module example.com/app\n\ngo 1.22\n\nrequire (\n").unwrap();
    let r = a.run("", after, None);
    std::fs::write(&gomod, good).unwrap();
    assert!(r.ok, "{}", r.log);
    assert!(r.log.contains("job-went-on"), "{}", r.log);
    let w = warnings(&r.log);
    assert_eq!(w.len(), 1, "{w:#?}\n{}", r.log);
    assert!(
        w[0].contains("go-ci-cache is off for this job: `go-ci-cache keys` failed"),
        "{}",
        w[0]
    );
    assert!(r.log.contains("nothing to save"), "{}", r.log);

    // A read-only cache (ACTIONS_CACHE_MODE=read, as the runner exports for lower-trust events)
    // is one notice; the restore still happens and nothing is saved.
    a.env.clear();
    let quick = "          save: always\n          warm: never\n          build-cache: false";
    let download = "      - run: go mod download";
    let r = a.run(quick, download, None);
    assert!(r.log.contains("saved the modules cache"), "{}", r.log);
    a.t.go_ok(&a.repo, &["get", "example.com/greet@v1.1.0"]);
    a.env.push(("ACTIONS_CACHE_MODE".into(), "read".into()));
    let r = a.run(quick, download, None);
    assert!(r.ok, "{}", r.log);
    assert_eq!(r.outputs["modules-status"], "partial", "{}", r.log);
    assert_eq!(warnings(&r.log), Vec::<&str>::new(), "{}", r.log);
    let notices: Vec<&str> = r.log.lines().filter(|l| l.contains("::notice")).collect();
    assert_eq!(notices.len(), 1, "{notices:#?}\n{}", r.log);
    assert!(
        notices[0].contains(
            "the cache is read-only for this job (ACTIONS_CACHE_MODE=read): restoring, not saving"
        ),
        "{}",
        notices[0]
    );
    assert!(
        r.log
            .contains("not saving the modules cache: the runner gave this job a read-only cache token (ACTIONS_CACHE_MODE=read)"),
        "{}",
        r.log
    );
}

/// The real install path, as a user on a release tag gets it: no `binary` input, the static
/// release asset served over HTTP on 127.0.0.1, named with its sha256 in the manifest, kept in
/// the runner's tool cache. A second runner sharing the tool cache downloads nothing; an asset
/// whose bytes do not match the manifest is refused, and the job still succeeds without caching.
#[test]
fn action_installs_the_release_asset_through_the_manifest() {
    let Some(act) = tool("act") else { return };
    let Some(assets) = crate::release::assets() else {
        return;
    };
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("go-ci-cache-{version}-x86_64-unknown-linux-musl");
    let asset = assets.join(&name);
    let served = tempfile::tempdir().unwrap();
    std::fs::copy(&asset, served.path().join(&name)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Server(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(served.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let sum = go_ci_cache::key::sha256_hex(&std::fs::read(&asset).unwrap());
    let manifest = |sha: &str| {
        serde_json::json!({
            "version": version,
            "repository": "go-ci-cache/go-cache-action",
            "assets": { "x86_64-unknown-linux-musl": { "name": name, "sha256": sha } }
        })
        .to_string()
    };
    let mut a = Act::new(act);
    let good = a.t.root().join("manifest.json");
    std::fs::write(&good, manifest(&sum)).unwrap();
    a.env = vec![
        ("GO_CI_CACHE_TEST_BINARY".into(), String::new()),
        ("GO_CI_CACHE_MANIFEST".into(), good.display().to_string()),
        (
            "GO_CI_CACHE_DOWNLOAD_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
    ];
    let r = a.run(WARM_AUTO, JOB, None);
    assert!(r.ok, "{}", r.log);
    assert!(
        r.log
            .contains(&format!("downloading http://127.0.0.1:{port}/{name}")),
        "{}",
        r.log
    );
    assert!(!r.log.contains("cargo build"), "no source build: {}", r.log);
    assert!(
        r.log
            .contains("saved the build cache as go-ci-cache-build-v1-"),
        "the installed binary ran the whole cycle: {}",
        r.log
    );
    assert_eq!(a.dep_compiles("build.txt"), Vec::<String>::new());

    // A second runner with the same tool cache: no download.
    let r = a.run(WARM_AUTO, JOB, None);
    assert!(r.ok, "{}", r.log);
    assert!(r.log.contains("from the tool cache"), "{}", r.log);
    assert!(!r.log.contains("downloading http"), "{}", r.log);

    // A manifest whose sum does not match what is served: refused, one warning, job goes on.
    let bad = a.t.root().join("bad.json");
    std::fs::write(&bad, manifest(&"0".repeat(64))).unwrap();
    a.env[1].1 = bad.display().to_string();
    let r = a.run(WARM_AUTO, JOB, None);
    assert!(r.ok, "the job must not fail: {}", r.log);
    assert!(r.log.contains("checksum mismatch"), "{}", r.log);
    assert!(!r.log.contains("saved the build cache"), "{}", r.log);
}
