//! The GitLab template: GitLab's CI JSON schema (check-jsonschema) on the template and the
//! example pipelines; a real pipeline in gitlab-ci-local (host shell executor, including the
//! template from the working tree); checks on the template text for what gitlab-ci-local does
//! not emulate; and the POSIX installer against a loopback server.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::action::tool;
use crate::util::{self, TestEnv, compiled, deps_compiled, emulator_go_env, write_module};

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> String {
    std::fs::read_to_string(repo_root().join("gitlab-template.yml")).unwrap()
}

/// The template's two YAML documents: `spec:` and the jobs.
fn documents() -> (String, String) {
    let t = template();
    let (spec, jobs) = t
        .split_once("\n---\n")
        .expect("a spec header and a --- separator");
    (spec.to_string(), jobs.to_string())
}

#[test]
fn template_and_examples_match_gitlabs_schema() {
    let Some(cj) = tool("check-jsonschema") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // check-jsonschema reads one document per file, so the two halves go separately.
    let (spec, jobs) = documents();
    std::fs::write(dir.path().join("template-spec.yml"), spec).unwrap();
    std::fs::write(dir.path().join("template-jobs.yml"), jobs).unwrap();
    let mut files: Vec<PathBuf> = vec![
        dir.path().join("template-spec.yml"),
        dir.path().join("template-jobs.yml"),
    ];
    for e in std::fs::read_dir(repo_root().join("examples/gitlab"))
        .unwrap()
        .flatten()
    {
        files.push(e.path());
    }
    assert!(files.len() >= 5);
    let out = Command::new(cj)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_input_is_typed_described_and_defaulted() {
    let (spec, _) = documents();
    let v: serde_json::Value = serde_saphyr::from_str(&spec).unwrap();
    let inputs = v["spec"]["inputs"].as_object().unwrap();
    assert!(inputs.len() >= 15);
    for (name, i) in inputs {
        assert!(
            i["description"].as_str().is_some_and(|d| d.len() > 20),
            "input `{name}` needs a description"
        );
        assert!(!i["default"].is_null(), "input `{name}` needs a default");
    }
    for closed in ["warm", "key-prefix", "as", "warm-flags"] {
        assert!(
            inputs[closed]["options"].is_array() || inputs[closed]["regex"].is_string(),
            "`{closed}` needs options or a regex"
        );
    }
    for b in ["trimpath", "unprotect"] {
        assert_eq!(inputs[b]["type"], "boolean");
    }
    assert_eq!(
        inputs["unprotect"]["default"], false,
        "unprotect is off by default"
    );
}

/// gitlab-ci-local drops `fallback_keys`, so this checks them on the template itself: every
/// fallback key a pulling job names is a key the warm job pushes.
#[test]
fn every_fallback_key_is_written_by_the_warm_job() {
    let (_, jobs) = documents();
    let y = jobs_yaml();
    let all = y.as_object().unwrap();
    let caches = |name: &str| -> Vec<serde_json::Value> {
        all.get(name).unwrap_or_else(|| panic!("no job `{name}`"))["cache"]
            .as_array()
            .unwrap()
            .clone()
    };
    let mut checked = 0;
    for unprotect in ["false", "true"] {
        for build in ["true", "false"] {
            let suffix = format!("unprotect:{unprotect}:build:{build}");
            let pull = caches(&format!("$[[ inputs.as ]]:cache:{suffix}"));
            let warm = caches(&format!("$[[ inputs.as ]]:warm-cache:{suffix}"));
            let pushed: Vec<&str> = warm.iter().map(|c| c["key"].as_str().unwrap()).collect();
            for c in pull.iter().chain(&warm) {
                for f in c["fallback_keys"].as_array().into_iter().flatten() {
                    let f = f.as_str().unwrap();
                    assert!(
                        pushed.contains(&f),
                        "`{f}` is never pushed by {suffix}: {warm:?}"
                    );
                    checked += 1;
                }
                // `unprotect` reaches every entry; `build-cache: false` leaves GOCACHE out.
                assert_eq!(
                    c["unprotect"].as_bool().unwrap_or(false),
                    unprotect == "true",
                    "{suffix}: {c}"
                );
                let paths = c["paths"].to_string();
                assert_eq!(
                    paths.contains(".go-cache/build/"),
                    build == "true" && !paths.contains(".go-cache/mod/"),
                    "{suffix}: {c}"
                );
            }
            let n = |v: &[serde_json::Value]| v.len();
            assert_eq!(
                (n(&pull), n(&warm)),
                if build == "true" { (2, 4) } else { (1, 2) },
                "{suffix}"
            );
        }
    }
    assert!(checked >= 12, "{checked}");
    // No global keywords leak into the user's pipeline.
    for global in [
        "\ndefault:",
        "\nstages:",
        "\nvariables:",
        "\nimage:",
        "\nworkflow:",
        "\ncache:",
    ] {
        assert!(
            !jobs.contains(global),
            "global keyword {global:?} in the template"
        );
    }
}

/// The dotenv report defines every variable the template's cache keys use.
#[test]
fn template_variables_come_from_the_dotenv_report() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let env = t.root().join("keys.env");
    t.bin_ok(&[
        "keys",
        "--format",
        "gitlab",
        "--dir",
        m.to_str().unwrap(),
        "--output",
        env.to_str().unwrap(),
    ]);
    let dotenv = std::fs::read_to_string(env).unwrap();
    let defined: Vec<&str> = dotenv
        .lines()
        .filter_map(|l| l.split_once('=').map(|x| x.0))
        .collect();
    let (_, jobs) = documents();
    for word in jobs.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')) {
        if let Some(v) = word.strip_prefix("$GO_CI_CACHE_") {
            let name = format!("GO_CI_CACHE_{v}");
            let set_by_template = [
                "GO_CI_CACHE_POLICY",
                "GO_CI_CACHE_BINARY",
                "GO_CI_CACHE_DIST_URL",
                "GO_CI_CACHE_TRIMPATH",
                "GO_CI_CACHE_GOFLAGS",
                "GO_CI_CACHE_GOFLAGS_SET",
                "GO_CI_CACHE_STABLE_DIR",
                "GO_CI_CACHE_KEYS_ONLY",
                "GO_CI_CACHE_INSTALL_SHA256",
                "GO_CI_CACHE_MANIFEST_SHA256",
                "GO_CI_CACHE_PERSISTENT",
                "GO_CI_CACHE_PERSISTENT_DIR",
            ];
            assert!(
                defined.contains(&name.as_str()) || set_by_template.contains(&name.as_str()),
                "{name} is not in the dotenv report:\n{dotenv}"
            );
        }
    }
}

/// A tiny loopback HTTP server for the installer test (serves `files`, 404 otherwise).
fn serve(files: HashMap<String, Vec<u8>>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        // Bounded: serves at most a few requests, then stops.
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let name = path.rsplit('/').next().unwrap_or("");
            match files.get(name) {
                Some(body) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(body);
                }
                None => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    (format!("http://{addr}/v9.9.9"), handle)
}

#[test]
fn posix_installer_verifies_the_checksum() {
    if tool("curl").is_none() {
        return;
    }
    let bin = std::fs::read(crate::util::binary()).unwrap();
    let sum = go_ci_cache::key::sha256_hex(&bin);
    let target = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        _ => return,
    };
    let name = format!("go-ci-cache-9.9.9-{target}");
    let dir = tempfile::tempdir().unwrap();
    let manifest = |sha: &str| {
        let p = dir.path().join(format!("manifest-{}.json", &sha[..4]));
        std::fs::write(
            &p,
            format!(
                "{{\n  \"version\": \"9.9.9\",\n  \"repository\": \"o/r\",\n  \"assets\": {{\n    \"{target}\": {{\n      \"name\": \"{name}\",\n      \"sha256\": \"{sha}\"\n    }}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        p
    };
    let run = |manifest: &Path, url: &str, dest: &Path| {
        Command::new("sh")
            .arg(repo_root().join("dist/install.sh"))
            .arg(dest)
            .arg(manifest)
            .env("GO_CI_CACHE_DOWNLOAD_URL", url)
            .env_remove("GO_CI_CACHE_BINARY")
            .output()
            .unwrap()
    };
    let (url, h) = serve(HashMap::from([(name.clone(), bin.clone())]));
    let good = dir.path().join("good");
    let out = run(&manifest(&sum), &url, &good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        go_ci_cache::key::sha256_hex(&std::fs::read(good.join("go-ci-cache")).unwrap()),
        sum
    );
    let bad = dir.path().join("bad");
    let out = run(&manifest(&"0".repeat(64)), &url, &bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("checksum mismatch") && err.contains("refusing"),
        "{err}"
    );
    assert!(!bad.join("go-ci-cache").exists());
    let out = run(
        &manifest(&"1".repeat(64)),
        "http://127.0.0.1:9/nothing-listens-here",
        &bad,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot download"));
    drop(h);
    // An unreleased manifest names no asset: a clear error pointing at GO_CI_CACHE_BINARY.
    let out = Command::new("sh")
        .arg(repo_root().join("dist/install.sh"))
        .arg(dir.path().join("none"))
        .arg(repo_root().join("dist/manifest.json"))
        .env_remove("GO_CI_CACHE_BINARY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if repo_root().join("dist/manifest.json").exists()
        && std::fs::read_to_string(repo_root().join("dist/manifest.json"))
            .unwrap()
            .contains("\"assets\": {}")
    {
        assert!(
            !out.status.success() && err.contains("GO_CI_CACHE_BINARY"),
            "{err}"
        );
    }
}

/// Node ≥ 22 and gitlab-ci-local's script (`GO_CI_CACHE_NODE22`, `GO_CI_CACHE_GCL`, set by
/// .ci/run), when they and the rsync it copies projects with are installed.
fn gitlab_ci_local() -> Option<(PathBuf, PathBuf)> {
    tool("rsync")?;
    let script = std::env::var_os("GO_CI_CACHE_GCL").map(PathBuf::from);
    let node = std::env::var_os("GO_CI_CACHE_NODE22").map(PathBuf::from);
    match (node, script) {
        (Some(n), Some(s)) if n.is_file() && s.is_file() => Some((n, s)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "gitlab-ci-local is missing; .ci/run installs it and sets GO_CI_CACHE_GCL and GO_CI_CACHE_NODE22"
            );
            eprintln!("skipping: set GO_CI_CACHE_GCL and GO_CI_CACHE_NODE22 (see .ci/run)");
            None
        }
    }
}

/// A module with the template beside it, as the gitlab-ci-local pipelines include it.
fn gcl_project(t: &TestEnv) -> PathBuf {
    let repo = t.root().join("project");
    write_module(
        &repo,
        "example.com/app",
        &["example.com/greet@v1.0.0"],
        &["example.com/testonly"],
    );
    t.go_ok(&repo, &["mod", "tidy"]);
    std::fs::copy(
        repo_root().join("gitlab-template.yml"),
        repo.join("gitlab-template.yml"),
    )
    .unwrap();
    repo
}

/// A git repository in `repo` whose origin is a GitLab project, as a runner's checkout has.
fn gcl_git_init(repo: &Path) {
    util::git(repo, &["init", "-q", "-b", "main"]);
    util::git(
        repo,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab.example.com/group/project.git",
        ],
    );
}

/// Commits everything in `repo` (even nothing) on main and makes it origin's default branch,
/// so the next gitlab-ci-local run is a default-branch pipeline of that commit.
fn gcl_commit(repo: &Path) {
    util::git(repo, &["add", "-A"]);
    util::git_commit(repo, "pipeline");
    util::git(repo, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    util::git(
        repo,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
}

/// gitlab-ci-local on the host shell executor in `repo`, with `home` as HOME.
fn gcl_command(node: &Path, gcl: &Path, repo: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(node);
    cmd.arg(gcl)
        .args([
            "--no-color",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--force-shell-executor",
        ])
        .current_dir(repo)
        .env("HOME", home);
    cmd
}

#[test]
fn pipeline_in_gitlab_ci_local_default_mode() {
    pipelines_in_gitlab_ci_local(false);
}

#[test]
fn pipeline_in_gitlab_ci_local_trimpath_mode() {
    pipelines_in_gitlab_ci_local(true);
}

/// Three pipelines: a warm one, one without the warm job, and one that bumps go.sum (with
/// trimpath: the warm one, the bump, then a source change with and without the warm job). Jobs
/// that extend `.go-cache` wait for the warm job of their own pipeline, keep the user's GOFLAGS,
/// and two of them running at once never share a module-cache symlink.
fn pipelines_in_gitlab_ci_local(trimpath: bool) {
    let Some((node, gcl)) = gitlab_ci_local() else {
        return;
    };
    let t = TestEnv::new();
    let repo = gcl_project(&t);
    let results = t.root().join("results");
    let stable = t.root().join("stable");
    std::fs::create_dir_all(&results).unwrap();
    std::fs::create_dir_all(&stable).unwrap();
    // Each job records what it saw, then checks after a pause (so the two jobs overlap) that its
    // module cache is still its own.
    let pipeline = |warm: &str| {
        format!(
            r#"include:
  - local: gitlab-template.yml
    inputs:
      binary: {bin}
      warm: {warm}
      trimpath: {trimpath}

variables:
  GOFLAGS: -tags=usertag

.record: &record
  - printf '%s\n' "$GO_CI_CACHE_BUILD_KEY" > "$RESULT_DIR/$CI_JOB_NAME-key.txt"
  - printf '%s\n' "$GOFLAGS" > "$RESULT_DIR/$CI_JOB_NAME-goflags.txt"
  - printf '%s\n' "$GOMODCACHE" > "$RESULT_DIR/$CI_JOB_NAME-gomodcache.txt"
  - go build -x ./... 2> "$RESULT_DIR/$CI_JOB_NAME-build.txt"
  - go test -x -run='^$' ./... 2> "$RESULT_DIR/$CI_JOB_NAME-test.txt" > /dev/null
  - sleep 2
  - if [ "$(readlink -f "$GOMODCACHE")" = "$(readlink -f "$PWD/.go-cache/mod")" ]; then echo own; else echo swapped; fi > "$RESULT_DIR/$CI_JOB_NAME-owner.txt"

test:
  stage: test
  extends: .go-cache
  script: *record

vet:
  stage: test
  extends: .go-cache
  script: *record
"#,
            bin = crate::util::binary().display()
        )
    };
    gcl_git_init(&repo);
    let commit = |warm: &str| {
        std::fs::write(repo.join(".gitlab-ci.yml"), pipeline(warm)).unwrap();
        gcl_commit(&repo);
    };
    let run = || {
        for e in std::fs::read_dir(&results).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        // Each pipeline starts from fresh build folders; only the cache directory persists.
        if repo.join(".gitlab-ci-local").exists() {
            let _ = Command::new("chmod")
                .args(["-R", "u+w"])
                .arg(repo.join(".gitlab-ci-local"))
                .status();
        }
        let _ = std::fs::remove_dir_all(repo.join(".gitlab-ci-local/builds"));
        let mut cmd = gcl_command(&node, &gcl, &repo, &t.root().join("home"));
        for (k, v) in emulator_go_env(&results) {
            cmd.arg("--variable").arg(format!("{k}={v}"));
        }
        cmd.arg("--variable")
            .arg(format!("GO_CI_CACHE_STABLE_DIR={}", stable.display()));
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gitlab-ci-local failed:\n{log}");
        log
    };
    let read = |f: &str| {
        std::fs::read_to_string(results.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .trim()
            .to_string()
    };
    let deps = |f: &str| -> Vec<String> {
        deps_compiled(&std::fs::read(results.join(f)).unwrap(), "example.com/app")
    };
    // The jobs that reached the module cache through the shared stable path (or their own,
    // with trimpath): they must build every dependency from the warm job's cache.
    let check_jobs = |log: &str| {
        let mut on_shared = 0;
        for j in ["test", "vet"] {
            assert_eq!(
                read(&format!("{j}-owner.txt")),
                "own",
                "{j}'s module cache was re-pointed\n{log}"
            );
            let flags = read(&format!("{j}-goflags.txt"));
            assert!(
                flags.starts_with("-tags=usertag -modcacherw"),
                "user GOFLAGS replaced: {flags:?}"
            );
            assert_eq!(flags.contains("-trimpath"), trimpath, "{flags:?}");
            let gomodcache = read(&format!("{j}-gomodcache.txt"));
            let shared = if trimpath {
                assert!(gomodcache.ends_with(".go-cache/mod"), "{gomodcache}");
                true
            } else {
                assert!(
                    gomodcache.starts_with(stable.to_str().unwrap()),
                    "{gomodcache}"
                );
                !gomodcache.contains("-slot-")
            };
            if shared {
                on_shared += 1;
                assert_eq!(
                    deps(&format!("{j}-build.txt")),
                    Vec::<String>::new(),
                    "{j}\n{log}"
                );
                assert_eq!(
                    deps(&format!("{j}-test.txt")),
                    Vec::<String>::new(),
                    "{j}\n{log}"
                );
            }
        }
        assert!(on_shared >= 1, "{log}");
    };

    // Pipeline 1: keys → warm (pushes) → test and vet, which wait for the warm job.
    commit("always");
    let log = run();
    assert!(
        log.contains("go-cache-keys") && log.contains("go-cache-warm"),
        "{log}"
    );
    let key = read("test-key.txt");
    assert!(
        key.starts_with("go-ci-cache-build-v1-"),
        "the keys job's dotenv reached the test job: {key:?}\n{log}"
    );
    let cache_dir = repo.join(".gitlab-ci-local/cache");
    let saved: Vec<String> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        saved.iter().any(|k| k.starts_with(key.trim())),
        "warm pushed the exact build key: {saved:?}"
    );
    assert!(saved.iter().any(|k| k.contains("-mod-v1-")), "{saved:?}");
    // The rolling keys the fallback_keys name are pushed too.
    assert!(
        saved.iter().filter(|k| k.contains("-build-v1-")).count() >= 2,
        "{saved:?}"
    );
    check_jobs(&log);

    // Pipeline 2: no warm job; the jobs restore the warm job's caches. (With trimpath the
    // freshness pipelines below include one without a warm job, checked the same way.)
    if !trimpath {
        commit("never");
        let log = run();
        assert!(!log.contains("go-cache-warm "), "{log}");
        check_jobs(&log);
    }

    // Pipeline 3 bumps go.sum on the default branch: `warm: auto` runs the warm job, and the
    // other jobs get the new dependency from it, not a cold cache.
    t.go_ok(&repo, &["get", "example.com/greet@v1.1.0"]);
    commit("auto");
    let log = run();
    assert!(log.contains("go-cache-warm"), "{log}");
    assert_ne!(read("test-key.txt"), key, "the bump changed the build key");
    check_jobs(&log);

    // Freshness: GitLab keys are mutable, and the warm job (every default-branch pipeline
    // under `warm: auto`) pulls, warms what changed and pushes the same key again. With
    // -trimpath the main module's packages do not depend on each job's own build directory, so
    // it shows: after a source change the jobs compile none of the main module's packages, in
    // that pipeline and in the next one without a warm job, which pulls what it pushed.
    if trimpath {
        let main_compiles = |f: &str| -> Vec<String> {
            compiled(&std::fs::read(results.join(f)).unwrap())
                .into_iter()
                .filter(|p| p.starts_with("example.com/app/"))
                .collect()
        };
        std::fs::write(
            repo.join("lib/lib.go"),
            "package lib\n\n// Twice doubles n.\nfunc Twice(n int) int { return 2 * n }\n\n// Thrice triples n.\nfunc Thrice(n int) int { return 3 * n }\n",
        )
        .unwrap();
        let key = read("test-key.txt");
        for (warm, what) in [
            ("auto", "the pipeline of the change"),
            ("never", "the next pipeline"),
        ] {
            commit(warm);
            let log = run();
            assert_eq!(log.contains("go-cache-warm"), warm == "auto", "{log}");
            assert_eq!(read("test-key.txt"), key, "a source change keeps the key");
            check_jobs(&log);
            for j in ["test", "vet"] {
                for f in [format!("{j}-build.txt"), format!("{j}-test.txt")] {
                    assert_eq!(
                        main_compiles(&f),
                        Vec::<String>::new(),
                        "{what}: {f}\n{log}"
                    );
                }
            }
        }
    }
}

/// `persistent: true` on a runner that keeps a directory between pipelines: the warm job fills
/// the directory, the jobs extract and push no `cache:`, restore nothing the directory holds
/// and compile no dependency, in the same pipeline and in the next one; every job trims to the
/// budget and reports the machine's decision.
#[test]
fn pipelines_on_a_persistent_runner_in_gitlab_ci_local() {
    let Some((node, gcl)) = gitlab_ci_local() else {
        return;
    };
    let t = TestEnv::new();
    let repo = gcl_project(&t);
    let results = t.root().join("results");
    let persist = t.root().join("runner-disk");
    std::fs::create_dir_all(&results).unwrap();
    let pipeline = |warm: &str| {
        format!(
            r#"include:
  - local: gitlab-template.yml
    inputs:
      binary: {bin}
      warm: {warm}
      persistent: true
      persistent-dir: {dir}
      cache-budget: 2GB

test:
  stage: test
  extends: .go-cache
  script:
    - printf '%s\n' "$GOCACHE" > "$RESULT_DIR/gocache.txt"
    - go build -x ./... 2> "$RESULT_DIR/build.txt"
    - go test -x -run='^$' ./... 2> "$RESULT_DIR/test.txt" > /dev/null
"#,
            bin = crate::util::binary().display(),
            dir = persist.display()
        )
    };
    gcl_git_init(&repo);
    let run = |warm: &str| {
        std::fs::write(repo.join(".gitlab-ci.yml"), pipeline(warm)).unwrap();
        gcl_commit(&repo);
        for e in std::fs::read_dir(&results).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        if repo.join(".gitlab-ci-local").exists() {
            let _ = Command::new("chmod")
                .args(["-R", "u+w"])
                .arg(repo.join(".gitlab-ci-local"))
                .status();
            let _ = std::fs::remove_dir_all(repo.join(".gitlab-ci-local/builds"));
        }
        let mut cmd = gcl_command(&node, &gcl, &repo, &t.root().join("home"));
        for (k, v) in emulator_go_env(&results) {
            cmd.arg("--variable").arg(format!("{k}={v}"));
        }
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gitlab-ci-local failed:\n{log}");
        log
    };
    let deps = |f: &str| -> Vec<String> {
        deps_compiled(&std::fs::read(results.join(f)).unwrap(), "example.com/app")
    };
    let cached_keys = || -> Vec<String> {
        std::fs::read_dir(repo.join(".gitlab-ci-local/cache"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    // Pipeline 1 on a new machine: the warm job fills the persistent directory.
    let log = run("always");
    assert!(log.contains("go-cache-warm"), "{log}");
    let gocache = std::fs::read_to_string(results.join("gocache.txt")).unwrap();
    assert_eq!(
        gocache.trim(),
        persist.join("build").to_str().unwrap(),
        "{log}"
    );
    assert_eq!(deps("build.txt"), Vec::<String>::new(), "{log}");
    assert_eq!(deps("test.txt"), Vec::<String>::new(), "{log}");
    assert!(
        persist
            .join("build")
            .join(go_ci_cache::cache::machine::DIR)
            .is_dir(),
        "{log}"
    );

    // Pipeline 2, no warm job: the directory holds both entries for this configuration.
    let log = run("never");
    assert_eq!(deps("build.txt"), Vec::<String>::new(), "{log}");
    assert_eq!(deps("test.txt"), Vec::<String>::new(), "{log}");
    assert!(log.contains("already on this machine"), "{log}");
    assert!(log.contains("machine: keeps its caches"), "{log}");
    assert!(log.contains("budget"), "{log}");
    assert!(
        cached_keys().iter().all(|k| !k.contains("go-ci-cache")),
        "nothing extracted or pushed through cache: {:?}",
        cached_keys()
    );
}

/// The jobs document parsed (anchors resolved).
fn jobs_yaml() -> serde_json::Value {
    let (_, jobs) = documents();
    serde_saphyr::from_str(&jobs).unwrap()
}

/// The template downloads install.sh and the manifest at job time from `dist-url`; what it
/// runs is pinned by the sha256 it records, and the default URL names an exact release tag.
#[test]
fn template_pins_the_installer_and_manifest_of_its_release() {
    let jobs = jobs_yaml();
    let vars = &jobs["$[[ inputs.keys-job ]]"]["variables"];
    let sum = |f: &str| {
        go_ci_cache::key::sha256_hex(&std::fs::read(repo_root().join("dist").join(f)).unwrap())
    };
    assert_eq!(
        vars["GO_CI_CACHE_INSTALL_SHA256"].as_str(),
        Some(sum("install.sh").as_str()),
        "dist/install.sh changed: record its sha256 in gitlab-template.yml"
    );
    assert_eq!(
        vars["GO_CI_CACHE_MANIFEST_SHA256"].as_str(),
        Some(sum("manifest.json").as_str()),
        "dist/manifest.json changed: record its sha256 in gitlab-template.yml"
    );
    let (spec, _) = documents();
    let v: serde_json::Value = serde_saphyr::from_str(&spec).unwrap();
    let url = v["spec"]["inputs"]["dist-url"]["default"].as_str().unwrap();
    let version = env!("CARGO_PKG_VERSION").split('-').next().unwrap();
    assert_eq!(
        url,
        format!("https://raw.githubusercontent.com/go-ci-cache/go-cache-action/v{version}/dist"),
        "dist-url must name this release's own tag, not a ref that moves"
    );
}

/// The keys job's download step, run as GitLab would: genuine files pass the check and reach
/// the installer; a swapped manifest is refused before anything runs.
#[test]
fn keys_job_refuses_a_swapped_installer_or_manifest() {
    if tool("curl").is_none() || tool("bash").is_none() {
        return;
    }
    let jobs = jobs_yaml();
    let keys = &jobs["$[[ inputs.keys-job ]]"];
    let script = keys["script"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .find(|s| s.contains("install.sh"))
        .expect("the install step")
        .to_string();
    let var = |k: &str| keys["variables"][k].as_str().unwrap().to_string();
    let dist = repo_root().join("dist");
    let file = |f: &str| std::fs::read(dist.join(f)).unwrap();
    let run = |manifest: Vec<u8>| {
        let (url, h) = serve(HashMap::from([
            ("install.sh".to_string(), file("install.sh")),
            ("manifest.json".to_string(), manifest),
        ]));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".go-cache/bin")).unwrap();
        let out = Command::new("bash")
            .args(["-ec", &script])
            .current_dir(dir.path())
            .env("GO_CI_CACHE_BINARY", "")
            .env("GO_CI_CACHE_DIST_URL", url)
            .env(
                "GO_CI_CACHE_INSTALL_SHA256",
                var("GO_CI_CACHE_INSTALL_SHA256"),
            )
            .env(
                "GO_CI_CACHE_MANIFEST_SHA256",
                var("GO_CI_CACHE_MANIFEST_SHA256"),
            )
            .output()
            .unwrap();
        drop(h);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let genuine = run(file("manifest.json"));
    assert!(!genuine.contains("refusing to run it"), "{genuine}");
    // Checked, then run: this tree's manifest is unreleased, so the installer says so.
    assert!(genuine.contains("go-ci-cache install: error"), "{genuine}");
    let swapped = file("manifest.json")
        .into_iter()
        .chain(b" ".iter().copied())
        .collect();
    let err = run(swapped);
    assert!(
        err.contains("manifest.json is not the file this template was released with"),
        "{err}"
    );
}

/// README, docs/, the examples and the template name the tag the release workflow moves.
#[test]
fn docs_name_the_tag_the_release_moves() {
    let major: u64 = env!("CARGO_PKG_VERSION")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let moving = format!("v{}", major.max(1));
    let release =
        std::fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    assert!(
        release.contains(r#"major="v${VERSION%%.*}"; [ "$major" = v0 ] && major=v1"#),
        "the release workflow's moving-tag rule changed; update this test and the docs"
    );
    let mut files = vec![
        repo_root().join("README.md"),
        repo_root().join("gitlab-template.yml"),
    ];
    for d in ["examples/github", "examples/gitlab", "docs"] {
        files.extend(
            std::fs::read_dir(repo_root().join(d))
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        );
    }
    let mut seen = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for sep in ["go-cache-action@", "go-cache-action/"] {
            for (i, _) in text.match_indices(sep) {
                let rest = &text[i + sep.len()..];
                let tag: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .collect();
                // Exact release tags (vX.Y.Z) pin on purpose; moving refs must be the major tag.
                // GitHub's own pages of the repository (`/releases`, `/blob/…`) are not refs.
                let page = ["releases", "blob", "tree", "issues", "pulls"].contains(&tag.as_str());
                if tag.matches('.').count() == 2 || page {
                    continue;
                }
                seen += 1;
                assert_eq!(tag, moving, "{}: `{sep}{tag}`", f.display());
            }
        }
    }
    assert!(seen >= 8, "{seen}");
}

/// `remote` + `build-cache: false`: the warm job fills the store through GOCACHEPROG, a later
/// pipeline on fresh runners (a new home, so an empty local tier) compiles no dependency, and
/// no GOCACHE archive is pushed.
#[test]
fn pipeline_with_a_remote_build_cache_in_gitlab_ci_local() {
    let Some((node, gcl)) = gitlab_ci_local() else {
        return;
    };
    let Some(weed) = crate::cacheprog::Weed::start() else {
        return;
    };
    let t = TestEnv::new();
    let repo = gcl_project(&t);
    let results = t.root().join("results");
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(
        repo.join(".gitlab-ci.yml"),
        format!(
            r#"include:
  - local: gitlab-template.yml
    inputs:
      binary: {bin}
      warm: always
      trimpath: true
      remote: s3://{bucket}/gl
      build-cache: false

test:
  stage: test
  extends: .go-cache
  script:
    - printf '%s\n' "$GOCACHEPROG" > "$RESULT_DIR/gocacheprog.txt"
    - go test -x ./... 2> "$RESULT_DIR/test.txt" > /dev/null
"#,
            bin = crate::util::binary().display(),
            bucket = crate::cacheprog::BUCKET,
        ),
    )
    .unwrap();
    gcl_git_init(&repo);
    gcl_commit(&repo);
    let run_with = |home: &str, extra: &[(&'static str, &str)]| {
        if repo.join(".gitlab-ci-local").exists() {
            let _ = Command::new("chmod")
                .args(["-R", "u+w"])
                .arg(repo.join(".gitlab-ci-local"))
                .status();
        }
        let _ = std::fs::remove_dir_all(repo.join(".gitlab-ci-local/builds"));
        let mut cmd = gcl_command(&node, &gcl, &repo, &t.root().join(home));
        let mut vars = emulator_go_env(&results);
        vars.extend([
            ("AWS_ACCESS_KEY_ID", crate::cacheprog::KEY.to_string()),
            (
                "AWS_SECRET_ACCESS_KEY",
                crate::cacheprog::SECRET.to_string(),
            ),
            ("AWS_ENDPOINT_URL", weed.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]);
        for (k, v) in extra {
            vars.retain(|(n, _)| n != k);
            vars.push((k, v.to_string()));
        }
        for (k, v) in vars {
            cmd.arg("--variable").arg(format!("{k}={v}"));
        }
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gitlab-ci-local failed:\n{log}");
        log
    };
    let run = |home: &str| run_with(home, &[]);
    let deps = || -> Vec<String> {
        deps_compiled(
            &std::fs::read(results.join("test.txt")).unwrap(),
            "example.com/app",
        )
    };
    let log = run("home1");
    let prog = std::fs::read_to_string(results.join("gocacheprog.txt")).unwrap();
    assert!(
        prog.trim()
            .ends_with("/.go-cache/bin/go-ci-cache' cacheprog"),
        "{prog}\n{log}"
    );
    assert!(
        !weed.list("gl/v1/a/trusted/").unwrap().is_empty(),
        "the default branch writes `trusted`:\n{log}"
    );
    // The test job had no manifest yet: it started from the warm job's.
    let stats = go_ci_cache::cacheprog::stats::load(
        &t.root().join("home1/.cache/go-ci-cache/cacheprog"),
        0,
    );
    assert!(
        stats.iter().any(|s| s.sibling_manifests == 1),
        "{stats:?}\n{log}"
    );
    // A second pipeline on new machines: the modules archive and the store serve everything.
    let log = run("home2");
    assert_eq!(deps(), Vec::<String>::new(), "{log}");
    let saved: Vec<String> = std::fs::read_dir(repo.join(".gitlab-ci-local/cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(saved.iter().any(|k| k.contains("-mod-v1-")), "{saved:?}");
    assert!(
        !saved.iter().any(|k| k.contains("-build-v1-")),
        "no GOCACHE archive: {saved:?}"
    );

    // A store the cache program cannot use (an endpoint without a scheme): each job that
    // extends `.go-cache` checks it before setting GOCACHEPROG, warns, and goes on without it.
    let log = run_with("home3", &[("AWS_ENDPOINT_URL", "127.0.0.1:9")]);
    let prog = std::fs::read_to_string(results.join("gocacheprog.txt")).unwrap();
    assert_eq!(prog.trim(), "", "{log}");
    assert!(
        log.contains("AWS_ENDPOINT_URL `127.0.0.1:9`")
            && log.contains("the remote build cache is off for this job"),
        "{log}"
    );
}
