//! The remote build cache against an adversary, with the real go and a real S3 server: who
//! writes what follows whose code runs (not the ref's name); the storage policy
//! docs/security.md gives pull requests works; the cache program never fails the build, however it is misconfigured;
//! native outputs are scoped by the runner image; and a store that drops out for a moment costs
//! a retry, not the job's cache.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cacheprog::{BUCKET, Runner, Weed, app, objects};
use crate::util::{TestEnv, binary, compiled};

/// Changes the app's library, so a build has new outputs to store.
fn change_lib(dir: &Path, n: u32) {
    let file = dir.join("lib/lib.go");
    std::fs::write(
        &file,
        format!("package lib\n\n// Twice doubles n.\nfunc Twice(n int) int {{ return n * 2 + {n} - {n} }}\n"),
    )
    .unwrap();
    // Five seconds old, as a checkout is by the time its job builds: Go does not cache the
    // module index of a package with a file changed in the last two seconds
    // (cmd/go/internal/modindex), so a job started at once would leave that entry for the
    // next job to compute, and "a fresh machine misses nothing" would depend on timing.
    let now = filetime::FileTime::now();
    let old = filetime::FileTime::from_unix_time(now.unix_seconds() - 5, now.nanoseconds());
    filetime::set_file_mtime(&file, old).unwrap();
}

/// A GitHub event payload of pull request `n` from a fork, in the runner's directory.
fn pull_request_event(t: &TestEnv, n: u32) -> PathBuf {
    let p = t.root().join(format!("event-{n}.json"));
    let ev = serde_json::json!({
        "repository": {"full_name": "o/r", "default_branch": "main"},
        "number": n,
        "pull_request": {"number": n, "head": {"repo": {"full_name": "fork/r"}}},
    });
    std::fs::write(&p, serde_json::to_vec(&ev).unwrap()).unwrap();
    p
}

impl Runner<'_> {
    /// A GitLab job (no GitHub variables) with these CI variables.
    fn gitlab(mut self, vars: &[(&str, &str)]) -> Self {
        self.env.retain(|(k, _)| !k.starts_with("GITHUB_"));
        let mut r = self
            .with("GITLAB_CI", "true")
            .with("CI_DEFAULT_BRANCH", "main")
            .with("CI_PROJECT_ID", "100");
        for (k, v) in vars {
            r = r.with(k, v);
        }
        r
    }
}

#[test]
fn who_writes_what_follows_whose_code_runs() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let main = Runner::new(&t, &w, "main", "who");
    main.test(&dir);
    let all = || w.list("who").unwrap();
    let trusted = || objects(&w, "who", "a/trusted");
    let before = trusted();
    assert!(!before.is_empty());

    // `pull_request_target` runs a pull request's code with the default branch's ref. With the
    // action's default policy it reads `trusted` and writes nothing, whatever it builds.
    change_lib(&dir, 1);
    let ev = pull_request_event(&t, 7);
    let target = |name: &str| {
        Runner::new(&t, &w, name, "who")
            .with("GITHUB_EVENT_NAME", "pull_request_target")
            .with("GITHUB_EVENT_PATH", ev.to_str().unwrap())
    };
    let store = all();
    let prt = target("prt").with("GO_CI_CACHE_SAVE", "default-branch");
    let (deps, _) = prt.test(&dir);
    assert_eq!(
        deps,
        Vec::<String>::new(),
        "it reads what the default branch built"
    );
    let s = prt.stats();
    assert_eq!(
        (s.write_namespace.as_deref(), s.uploads),
        (None, 0),
        "{s:?}"
    );
    assert_eq!(s.read_namespaces, ["trusted"]);
    assert_eq!(all(), store, "the store is unchanged");

    // With `save: pull-requests` it writes the pull request's own namespace, never `trusted`.
    let prt = target("prt2").with("GO_CI_CACHE_SAVE", "pull-requests");
    prt.test(&dir);
    assert_eq!(prt.stats().write_namespace.as_deref(), Some("pr-7"));
    assert!(!objects(&w, "who", "a/pr-7").is_empty());
    assert_eq!(trusted(), before, "`trusted` is unchanged");

    // A token the runner made read-only writes nothing, even on the default branch.
    change_lib(&dir, 2);
    let store = all();
    let ro = Runner::new(&t, &w, "ro", "who").with("ACTIONS_CACHE_MODE", "read");
    ro.test(&dir);
    assert_eq!(ro.stats().write_namespace, None);
    assert_eq!(all(), store);

    // GitLab: merge requests from two forks' branches both named `patch-1` each write their
    // own namespace and never read each other's.
    change_lib(&dir, 3);
    let mr = |name: &str, iid: &str, project: &str| {
        Runner::new(&t, &w, name, "who").gitlab(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", iid),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", project),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "patch-1"),
            ("CI_COMMIT_REF_NAME", "patch-1"),
        ])
    };
    let lib_compiled = |r: &Runner| {
        let out = r.go(&dir, &["build", "-x", "./..."]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        compiled(&out.stderr).contains(&"example.com/app/lib".to_string())
    };
    let mr3 = mr("mr3", "3", "200");
    assert!(lib_compiled(&mr3));
    assert_eq!(mr3.stats().write_namespace.as_deref(), Some("mr-3"));
    let mr4 = mr("mr4", "4", "300");
    assert!(
        lib_compiled(&mr4),
        "merge request 4 compiled what merge request 3 stored instead of using it"
    );
    assert_eq!(mr4.stats().read_namespaces, ["mr-4", "trusted"]);
    assert!(!objects(&w, "who", "a/mr-3").is_empty() && !objects(&w, "who", "a/mr-4").is_empty());

    // A tag named like the default branch is not the default branch.
    let tag = Runner::new(&t, &w, "tag", "who").gitlab(&[
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_TAG", "main"),
        ("CI_COMMIT_REF_NAME", "main"),
    ]);
    tag.test(&dir);
    assert_eq!(
        tag.stats().write_namespace.as_deref(),
        Some("ref-refs/tags/main")
    );
    assert_eq!(
        trusted(),
        before,
        "only the default branch's own runs wrote `trusted`"
    );

    // `trust` says the same as the cache program, in words.
    let out = prt
        .bin(&dir, &["trust", "--save", "default-branch"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pull request #7 from a fork (pull_request_target)")
            && text.contains("nothing to the remote build cache")
            && text.contains("never saved"),
        "{text}"
    );
}

/// The pull-request storage policy the docs give (the JSON between the
/// `pull-request-policy` markers), for pull request `n`, bucket `gocache` and prefix `pol`, as
/// SeaweedFS identity actions: `s3:GetObject` → `Read:…`, `s3:PutObject` → `Write:…`,
/// `s3:ListBucket` → `List:<bucket>`.
fn documented_pull_request_policy(n: u32) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    if let Ok(rd) = std::fs::read_dir(root.join("docs")) {
        files.extend(rd.flatten().map(|e| e.path()));
    }
    let text = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find(|t| t.contains("<!-- pull-request-policy:start -->"))
        .expect("the docs give the pull-request storage policy");
    let block = text
        .split("<!-- pull-request-policy:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- pull-request-policy:end -->").next())
        .unwrap();
    let json = block
        .split("```json")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("a JSON block");
    let json = json
        .replace("${{ github.event.pull_request.number }}", &n.to_string())
        .replace("my-bucket", BUCKET)
        .replace("go-build/", "pol/");
    let policy: serde_json::Value = serde_json::from_str(&json).expect("the policy is JSON");
    let mut actions = Vec::new();
    for st in policy["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow", "{st}");
        let list = |v: &serde_json::Value| -> Vec<String> {
            match v {
                serde_json::Value::String(s) => vec![s.clone()],
                v => v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect(),
            }
        };
        for a in list(&st["Action"]) {
            for r in list(&st["Resource"]) {
                let res = r.strip_prefix("arn:aws:s3:::").expect("an S3 ARN");
                actions.push(match a.as_str() {
                    "s3:GetObject" => format!("Read:{res}"),
                    "s3:PutObject" => format!("Write:{res}"),
                    "s3:ListBucket" => format!("List:{res}"),
                    other => panic!("an action this test does not map: {other}"),
                });
            }
        }
    }
    actions
}

#[test]
fn the_documented_pull_request_policy_works() {
    let ids = [
        ("pr7-key", "pr7-secret", documented_pull_request_policy(7)),
        ("pr8-key", "pr8-secret", documented_pull_request_policy(8)),
    ];
    let Some(w) = Weed::start_with(&ids) else {
        return;
    };
    let t = TestEnv::new();
    let dir = app(&t);
    let main = Runner::new(&t, &w, "main", "pol");
    main.test(&dir);
    let as_pr = |name: &str, n: u32, key: &str, secret: &str| {
        Runner::new(&t, &w, name, "pol")
            .pull_request(n)
            .with("GO_CI_CACHE_SAVE", "pull-requests")
            .with("AWS_ACCESS_KEY_ID", key)
            .with("AWS_SECRET_ACCESS_KEY", secret)
    };

    // Pull request 7 with its credentials: reads `trusted`, writes its outputs, its records and
    // its manifest, and nothing fails.
    change_lib(&dir, 7);
    let pr7 = as_pr("pr7", 7, "pr7-key", "pr7-secret");
    let (deps, _) = pr7.test(&dir);
    assert_eq!(deps, Vec::<String>::new());
    let s = pr7.stats();
    assert_eq!((s.upload_failures, s.remote_errors), (0, 0), "{s:?}");
    assert!(s.uploads > 0, "{s:?}");
    assert!(!objects(&w, "pol", "a/pr-7").is_empty());
    assert_eq!(objects(&w, "pol", "m/pr-7").len(), 1, "its manifest");

    // Told to write pull request 8's namespace (or `trusted`), its credentials refuse it: the
    // build still succeeds, and the report says why nothing landed there.
    change_lib(&dir, 8);
    let pretend =
        as_pr("pr7-as-8", 7, "pr7-key", "pr7-secret").with("GO_CI_CACHE_NAMESPACE", "pr-8");
    let (_, out) = pretend.test(&dir);
    assert!(objects(&w, "pol", "a/pr-8").is_empty());
    let s = pretend.stats();
    assert!(s.upload_failures > 0, "{s:?}");
    assert!(
        s.upload_failure_reasons.contains_key("access denied"),
        "{s:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("access denied"), "{err}");
    let trusted = objects(&w, "pol", "a/trusted");
    let forced =
        as_pr("pr7-as-main", 7, "pr7-key", "pr7-secret").with("GO_CI_CACHE_NAMESPACE", "trusted");
    forced.test(&dir);
    assert_eq!(
        forced.stats().write_namespace,
        None,
        "refused before any request"
    );
    assert_eq!(objects(&w, "pol", "a/trusted"), trusted);
    assert!(pretend.report().contains("access denied"));
}

#[test]
fn the_cache_program_never_fails_the_build() {
    let t = TestEnv::new();
    let dir = app(&t);
    let outside = t.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), "not the tier's").unwrap();
    let planted = t.root().join("planted-tier");
    std::fs::create_dir_all(&planted).unwrap();
    std::os::unix::fs::symlink(&outside, planted.join("o")).unwrap();
    let deep = t.root().join("deep-tier");
    std::fs::create_dir_all(deep.join("o")).unwrap();
    for i in 0..=255u8 {
        std::os::unix::fs::symlink(&outside, deep.join("o").join(format!("{i:02x}"))).unwrap();
    }
    let blocked = t.root().join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let prog = format!("{} cacheprog", binary().display());
    // (what, the job's variables, what its warning names)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "an endpoint without a scheme",
            vec![
                ("GO_CI_CACHE_REMOTE", "s3://gocache/x".into()),
                ("AWS_ENDPOINT_URL", "127.0.0.1:9000".into()),
            ],
            "AWS_ENDPOINT_URL `127.0.0.1:9000`",
        ),
        (
            "a remote the cache program rejects",
            vec![("GO_CI_CACHE_REMOTE", "s3://Bad_Bucket/x".into())],
            "s3://Bad_Bucket/x",
        ),
        (
            "a mistyped flag",
            vec![("GOCACHEPROG", format!("{prog} --remote-timout 5"))],
            "--remote-timout",
        ),
        (
            "values that do not parse",
            vec![
                ("GO_CI_CACHE_REMOTE_CONCURRENCY", "lots".into()),
                ("GO_CI_CACHE_READ_ONLY", "maybe".into()),
                ("GO_CI_CACHE_SAVE", "sometimes".into()),
            ],
            "`lots`",
        ),
        (
            "a local tier that cannot be created",
            vec![(
                "GO_CI_CACHE_LOCAL_DIR",
                blocked.join("tier").display().to_string(),
            )],
            "cannot be used",
        ),
        (
            "a symlink planted where the outputs' directory belongs",
            vec![("GO_CI_CACHE_LOCAL_DIR", planted.display().to_string())],
            "not a directory",
        ),
        (
            "symlinks planted deeper in the tier",
            vec![("GO_CI_CACHE_LOCAL_DIR", deep.display().to_string())],
            "not a directory",
        ),
    ];
    // The first four cases share a working local tier, so only the first compiles the
    // standard library; the last three are about the tier itself and each gets a fallback.
    let local = t.root().join("local");
    for (i, (what, vars, says)) in cases.into_iter().enumerate() {
        let gocache = t.root().join(format!("gocache-{i}"));
        let run = |args: &[&str]| {
            let mut c = t.go(&dir);
            c.args(args)
                .env("GOCACHE", &gocache)
                .env("GOCACHEPROG", &prog)
                .env("GO_CI_CACHE_LOCAL_DIR", &local)
                .env("GO_CI_CACHE_REMOTE_TIMEOUT", "2");
            for (k, v) in &vars {
                c.env(k, v);
            }
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{what}: go {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        let first = run(&["build", "./..."]);
        assert!(
            first.contains("go-ci-cache: warning") && first.contains(says),
            "{what}: {first}"
        );
        // One warning per job about its configuration: a later go command of the same job
        // does not repeat it (a tier it cannot use at all keeps none of its notes, and builds
        // in a fallback; one go command shows that it does not fail).
        if i < 4 {
            let second = run(&["test", "./..."]);
            assert!(!second.contains(says), "{what}: said again: {second}");
            run(&["vet", "./..."]);
        }
    }
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing was written outside"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "not the tier's"
    );

    // `plan`, a person's command, says the same things as errors.
    let out = t
        .bin(&["plan", "--no-coverage", "--dir", dir.to_str().unwrap()])
        .env("GO_CI_CACHE_REMOTE", "s3://gocache/x")
        .env("AWS_ENDPOINT_URL", "127.0.0.1:9000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`127.0.0.1:9000`") && err.contains("hint:"),
        "{err}"
    );
}

/// A module with a cgo package, a pure Go package and a program that uses both.
fn cgo_module(t: &TestEnv) -> PathBuf {
    let dir = t.root().join("cg");
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::create_dir_all(dir.join("p")).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/cg\n\ngo 1.24\n").unwrap();
    std::fs::write(
        dir.join("c/c.go"),
        "package c\n\n// static int twice(int n) { return 2 * n; }\nimport \"C\"\n\n// Twice doubles n in C.\nfunc Twice(n int) int { return int(C.twice(C.int(n))) }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("p/p.go"),
        "package p\n\n// Twice doubles n.\nfunc Twice(n int) int { return n * 2 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/cg/c\"\n\t\"example.com/cg/p\"\n)\n\nfunc main() { fmt.Println(c.Twice(2), p.Twice(2)) }\n",
    )
    .unwrap();
    dir
}

#[test]
fn native_outputs_are_scoped_by_the_runner_image() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = cgo_module(&t);
    let runner = |name: &str, image: &str| {
        Runner::new(&t, &w, name, "cgo")
            .with("CGO_ENABLED", "1")
            .with("ImageOS", "ubuntu24")
            .with("ImageVersion", image)
    };
    let build = |r: &Runner| {
        let out = r.go(&dir, &["build", "-x", "./..."]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        compiled(&out.stderr)
    };
    let first = build(&runner("a", "20261201.1"));
    for p in ["example.com/cg/c", "example.com/cg/p", "runtime/cgo", "fmt"] {
        assert!(first.contains(&p.to_string()), "{p}: {first:?}");
    }
    // The same image on a fresh machine: everything comes from the store.
    assert_eq!(build(&runner("b", "20261201.1")), Vec::<String>::new());
    // A new image with the same compiler: Go's action IDs are the same, but the cgo objects
    // were built against the old image's headers and libraries. They compile again; pure Go
    // packages, std's and the module's, still come from the store.
    let again = build(&runner("c", "20261208.1"));
    assert!(again.contains(&"example.com/cg/c".to_string()), "{again:?}");
    assert!(again.contains(&"runtime/cgo".to_string()), "{again:?}");
    for p in ["example.com/cg/p", "fmt", "strconv"] {
        assert!(
            !again.contains(&p.to_string()),
            "{p} compiled again: {again:?}"
        );
    }
}

/// A TCP proxy in front of the store that can refuse connections for a while (an outage:
/// the listener closes and every open connection is cut), and counts the HTTP requests it
/// forwarded.
struct Flaky {
    port: u16,
    down: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Flaky {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Flaky {
    fn start(upstream: u16) -> Flaky {
        let port = crate::cacheprog::free_ports(1)[0];
        let f = Flaky {
            port,
            down: Arc::default(),
            requests: Arc::default(),
            conns: Arc::default(),
            stop: Arc::default(),
        };
        let (down, requests, conns, stop) = (
            f.down.clone(),
            f.requests.clone(),
            f.conns.clone(),
            f.stop.clone(),
        );
        std::thread::spawn(move || {
            let mut listener: Option<TcpListener> = None;
            while !stop.load(Ordering::SeqCst) {
                if down.load(Ordering::SeqCst) {
                    if listener.take().is_some() {
                        for c in conns.lock().unwrap().drain(..) {
                            let _ = c.shutdown(Shutdown::Both);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let l = match &listener {
                    Some(l) => l,
                    None => match TcpListener::bind(("127.0.0.1", port)) {
                        Ok(l) => {
                            l.set_nonblocking(true).unwrap();
                            listener.insert(l)
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    },
                };
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                            continue;
                        };
                        let mut held = conns.lock().unwrap();
                        held.push(client.try_clone().unwrap());
                        held.push(server.try_clone().unwrap());
                        drop(held);
                        pipe(
                            client.try_clone().unwrap(),
                            server.try_clone().unwrap(),
                            Some(requests.clone()),
                        );
                        pipe(server, client, None);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        f
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Refuses connections for `d`, from now (in the background).
    fn outage(&self, d: Duration) {
        let down = self.down.clone();
        down.store(true, Ordering::SeqCst);
        std::thread::spawn(move || {
            std::thread::sleep(d);
            down.store(false, Ordering::SeqCst);
        });
    }

    /// Refuses connections for `d` once `n` more requests have gone through.
    fn outage_after(&self, n: usize, d: Duration) {
        let (requests, down) = (self.requests.clone(), self.down.clone());
        let at = requests.load(Ordering::SeqCst) + n;
        std::thread::spawn(move || {
            while requests.load(Ordering::SeqCst) < at {
                std::thread::sleep(Duration::from_millis(1));
            }
            down.store(true, Ordering::SeqCst);
            std::thread::sleep(d);
            down.store(false, Ordering::SeqCst);
        });
    }
}

/// Copies one direction of a connection; counts request lines when asked.
fn pipe(mut from: TcpStream, mut to: TcpStream, requests: Option<Arc<AtomicUsize>>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(r) = &requests {
                let lines = buf[..n]
                    .windows(11)
                    .filter(|w| w == b" HTTP/1.1\r\n")
                    .count();
                r.fetch_add(lines, Ordering::SeqCst);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn a_store_that_drops_out_for_a_moment_costs_a_retry() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let port: u16 = w.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Flaky::start(port);
    let runner = |name: &str| {
        Runner::new(&t, &w, name, "flaky")
            .with("AWS_ENDPOINT_URL", &proxy.endpoint())
            .with("GO_CI_CACHE_REMOTE_TIMEOUT", "10")
    };
    let clean = |r: &Runner| {
        let s = r.stats();
        assert_eq!(
            (s.upload_failures, s.remote_errors, s.remote_off),
            (0, 0, 0),
            "runner {}: {s:?}",
            r.name
        );
        assert!(
            !r.local().join("meta/remote-down.json").exists(),
            "runner {} gave up on the store",
            r.name
        );
        s
    };

    // The store refuses connections for 1.5 s as the cold job starts: its first requests
    // wait, and everything it builds lands.
    let cold = runner("cold");
    proxy.outage(Duration::from_millis(1500));
    cold.test(&dir);
    let s = clean(&cold);
    assert!(s.uploads > 0, "{s:?}");
    let cold_requests = proxy.requests.load(Ordering::SeqCst);

    // Again in the middle of a job that uploads: half-way through its requests.
    change_lib(&dir, 5);
    let mid = runner("mid");
    proxy.outage_after(cold_requests / 4, Duration::from_millis(1500));
    mid.test(&dir);
    clean(&mid);

    // Every record either job wrote landed in the store, and a fresh machine compiles nothing.
    // (Counting the fresh machine's misses would not show it: Go asks for entries no job
    // stores, such as the test binary's link, whenever its test result is looked up.)
    let stored: std::collections::BTreeSet<String> = w
        .list(&format!(
            "flaky/{}/a/trusted",
            go_ci_cache::cacheprog::remote::LAYOUT
        ))
        .unwrap()
        .into_iter()
        .filter_map(|(k, _)| k.rsplit('/').next().map(str::to_string))
        .collect();
    for r in [&cold, &mid] {
        let mut records = 0;
        for e in walkdir::WalkDir::new(r.local().join("a/trusted"))
            .into_iter()
            .flatten()
        {
            if e.file_type().is_file() {
                records += 1;
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    stored.contains(&name),
                    "runner {}: record {name} is not in the store",
                    r.name
                );
            }
        }
        assert!(records > 0, "runner {} wrote no records", r.name);
    }
    let check = runner("check");
    let (deps, out) = check.test(&dir);
    assert_eq!(deps, Vec::<String>::new());
    assert!(String::from_utf8_lossy(&out.stdout).contains("(cached)"));
    let s = clean(&check);
    assert!(s.remote_hits > 0, "{s:?}");
}
