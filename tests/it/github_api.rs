//! `prune` against GitHub's REST API: a contract test against GitHub's own OpenAPI description
//! served by a validating mock (prism, `--errors`: a request that breaks the spec is answered with
//! an error, which the command would report), and a loopback fake for what the mock cannot play:
//! pagination, a token without `actions: write`, rate limits. .ci/run installs prism and the spec;
//! without them the contract test skips locally and fails in CI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::TestEnv;

/// A running `prism mock`, killed on drop.
struct Prism {
    child: Child,
    url: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn prism() -> Option<Prism> {
    let (bin, spec) = match (
        std::env::var_os("GO_CI_CACHE_PRISM"),
        std::env::var_os("GO_CI_CACHE_GITHUB_SPEC"),
    ) {
        (Some(b), Some(s)) => (PathBuf::from(b), PathBuf::from(s)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "GO_CI_CACHE_PRISM and GO_CI_CACHE_GITHUB_SPEC are not set; .ci/run installs prism and @octokit/openapi"
            );
            eprintln!("skipping: no prism (.ci/run installs it)");
            return None;
        }
    };
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "mock",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Prism {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "prism did not start in time");
        std::thread::sleep(Duration::from_millis(250));
    }
    Some(p)
}

fn prune(t: &TestEnv, api: &str, args: &[&str]) -> Output {
    let mut c = t.bin(&["prune", "--repo", "octo/hello", "--api-url", api]);
    c.args(args).env("GITHUB_TOKEN", "ghs_test");
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn contract_with_githubs_openapi_description() {
    let Some(p) = prism() else { return };
    let t = TestEnv::new();
    // The spec's example listing holds one `Linux-node-…` entry on refs/heads/main.
    let o = prune(
        &t,
        &p.url,
        &[
            "--prefix",
            "Linux-node-",
            "--ref",
            "refs/heads/main",
            "--keep",
            "0",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    // The spec's example storage limit is 150 GB.
    assert!(
        out.contains("cache budget: 150 GB (the repository's max_cache_size_gb); each prefix keeps at most 30.0 GB"),
        "{out}"
    );
    assert!(
        out.contains("deleted Linux-node-958aff96db2d75d67787d1e634ae70b659de937b"),
        "{out}"
    );
    assert!(out.contains("deleted 1 of 1 entries"), "{out}");
    assert!(
        !err.contains("warning") && !err.contains("notice"),
        "a request broke the spec: {err}"
    );

    // Keep 1: nothing goes; a dry run lists and deletes nothing.
    let o = prune(
        &t,
        &p.url,
        &[
            "--prefix",
            "Linux-node-",
            "--ref",
            "main",
            "--keep",
            "1",
            "--dry-run",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
    assert!(
        out.contains("keep    Linux-node-958aff96db2d75d67787d1e634ae70b659de937b"),
        "{out}"
    );
    assert!(out.contains("would delete 0 entries"), "{out}");

    // The job's own prefixes: the listed `Linux-node-` entry belongs to another prefix and is
    // never touched, even though this mock returns it for any query.
    let m = t.module("app", &["example.com/greet"]);
    let o = prune(
        &t,
        &p.url,
        &[
            "--dir",
            m.to_str().unwrap(),
            "--ref",
            "refs/heads/main",
            "--keep",
            "0",
            "--json",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let scopes = v.as_array().unwrap();
    assert_eq!(scopes.len(), 2, "modules and build: {v}");
    for s in scopes {
        assert!(
            s["prefix"].as_str().unwrap().starts_with("go-ci-cache-"),
            "{s}"
        );
        assert_eq!(s["plan"]["delete"].as_array().unwrap().len(), 0, "{s}");
        assert_eq!(s["plan"]["untouched"], 1, "{s}");
        assert!(s["error"].is_null(), "{s}");
    }
}

/// A loopback stand-in for the API: answers each request with `respond(method, path_and_query)`
/// and records what it was asked.
pub(crate) struct Fake {
    pub url: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub(crate) type Responder =
    dyn Fn(&str, &str) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

pub(crate) fn fake(respond: Box<Responder>) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            log.lock().unwrap().push(format!("{method} {target}"));
            let (status, headers, body) = respond(method, target);
            let mut resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            let _ = s.write_all(resp.as_bytes());
        }
    });
    Fake { url, seen }
}

pub(crate) fn entry(id: u64, key: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "ref": "refs/heads/main", "key": key, "version": "v",
        "last_accessed_at": "2026-11-01T00:00:00Z",
        "created_at": format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + id / 1440, id / 60 % 24, id % 60),
        "size_in_bytes": 1024 * 1024
    })
}

pub(crate) fn query(target: &str, name: &str) -> Option<String> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
}

/// 250 entries over three pages: all listed, the oldest deleted, no delete of a kept one.
#[test]
fn pagination_and_deletes() {
    let f = fake(Box::new(|method, target| {
        if method == "GET" {
            let page: usize = query(target, "page").unwrap().parse().unwrap();
            let per: usize = query(target, "per_page").unwrap().parse().unwrap();
            // Newest first, as asked: ids 250 down to 1.
            let items: Vec<_> = (0..250u64)
                .rev()
                .map(|i| entry(i + 1, &format!("p-{}", i + 1)))
                .skip((page - 1) * per)
                .take(per)
                .collect();
            (
                200,
                vec![],
                serde_json::json!({"total_count": 250, "actions_caches": items}).to_string(),
            )
        } else {
            (204, vec![], String::new())
        }
    }));
    let t = TestEnv::new();
    let o = prune(
        &t,
        &f.url,
        &[
            "--prefix",
            "p-",
            "--ref",
            "refs/heads/main",
            "--keep",
            "245",
            "--budget-gb",
            "10",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("deleted 5 of 5 entries (5.0 MiB)"), "{out}");
    let seen = f.seen.lock().unwrap().clone();
    let gets: Vec<_> = seen.iter().filter(|s| s.starts_with("GET")).collect();
    assert_eq!(gets.len(), 3, "{seen:?}");
    assert!(
        gets.iter()
            .all(|g| g.contains("per_page=100") && g.contains("ref=refs%2Fheads%2Fmain")),
        "{gets:?}"
    );
    let deletes: Vec<_> = seen
        .iter()
        .filter(|s| s.starts_with("DELETE"))
        .cloned()
        .collect();
    assert_eq!(
        deletes,
        (1..=5)
            .rev()
            .map(|i| format!("DELETE /repos/octo/hello/actions/caches/{i}"))
            .collect::<Vec<_>>()
    );
}

/// No `actions: write`: one notice line, exit 0 (1 with --strict), nothing else tried.
#[test]
fn a_token_without_actions_write_is_one_notice() {
    let f = fake(Box::new(|method, _| {
        if method == "GET" {
            let items = vec![entry(1, "p-1"), entry(2, "p-2"), entry(3, "p-3")];
            (
                200,
                vec![],
                serde_json::json!({"total_count": 3, "actions_caches": items}).to_string(),
            )
        } else {
            (
                403,
                vec![],
                r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/actions/cache","status":"403"}"#.into(),
            )
        }
    }));
    let t = TestEnv::new();
    let o = prune(
        &t,
        &f.url,
        &[
            "--prefix",
            "p-",
            "--ref",
            "main",
            "--keep",
            "0",
            "--budget-gb",
            "10",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("notice")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("actions: write"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(out.contains("deleted 0 of 3 entries"), "{out}");
    let deletes = f
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.starts_with("DELETE"))
        .count();
    assert_eq!(deletes, 1, "stops at the first denied delete");
    let o = prune(
        &t,
        &f.url,
        &[
            "--prefix",
            "p-",
            "--ref",
            "main",
            "--keep",
            "0",
            "--strict",
            "--budget-gb",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}

/// A rate limit: one warning that says how long GitHub asks to wait; no retry.
#[test]
fn a_rate_limit_is_a_warning_without_retry() {
    let f = fake(Box::new(|method, _| {
        if method == "GET" {
            (
                429,
                vec![("retry-after", "60".into())],
                r#"{"message":"You have exceeded a secondary rate limit."}"#.into(),
            )
        } else {
            (204, vec![], String::new())
        }
    }));
    let t = TestEnv::new();
    let o = prune(
        &t,
        &f.url,
        &["--prefix", "p-", "--ref", "main", "--budget-gb", "10"],
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let warnings: Vec<_> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("rate limit") && warnings[0].contains("wait 60 s"),
        "{err}"
    );
    assert_eq!(f.seen.lock().unwrap().len(), 1, "no retry");
}

/// The repository's own limit sizes what each prefix keeps; without permission to read it, the
/// default is used and said.
#[test]
fn the_budget_comes_from_the_repositorys_limit() {
    let big = |id: u64| {
        let mut e = entry(id, &format!("p-{id}"));
        e["size_in_bytes"] = serde_json::json!(300_000_000u64);
        e
    };
    for (limit, want, kept) in [
        (
            (200, r#"{"max_cache_size_gb": 1}"#),
            "cache budget: 1 GB (the repository's max_cache_size_gb); each prefix keeps at most 0.2 GB",
            1,
        ),
        (
            (
                403,
                r#"{"message":"Resource not accessible by integration"}"#,
            ),
            "cache budget: 10 GB (GitHub's default; the repository's limit could not be read",
            3,
        ),
    ] {
        let f = fake(Box::new(move |method, target| {
            if target.ends_with("/actions/cache/storage-limit") {
                (limit.0, vec![], limit.1.to_string())
            } else if method == "GET" {
                let items = vec![big(3), big(2), big(1)];
                (
                    200,
                    vec![],
                    serde_json::json!({"total_count": 3, "actions_caches": items}).to_string(),
                )
            } else {
                (204, vec![], String::new())
            }
        }));
        let t = TestEnv::new();
        let o = prune(
            &t,
            &f.url,
            &[
                "--prefix",
                "p-",
                "--ref",
                "main",
                "--keep",
                "3",
                "--dry-run",
            ],
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(out.contains(want), "{out}");
        assert_eq!(out.matches("  keep ").count(), kept, "{out}");
        assert!(
            !err.contains("warning"),
            "reading the limit is not cache trouble: {err}"
        );
    }
    let t = TestEnv::new();
    let o = t
        .bin(&[
            "prune",
            "--repo",
            "o/r",
            "--ref",
            "main",
            "--prefix",
            "p-",
            "--budget-gb",
            "lots",
        ])
        .env("GITHUB_TOKEN", "x")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`--budget-gb`") && err.contains("`lots`") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn bad_input_is_exit_2_with_a_hint() {
    let t = TestEnv::new();
    for (args, want) in [
        (
            vec!["prune", "--repo", "nope", "--ref", "main", "--prefix", "p-"],
            "`OWNER/NAME`, got `nope`",
        ),
        (
            vec!["prune", "--repo", "o/r", "--prefix", "p-"],
            "needs the ref",
        ),
    ] {
        let o = t.bin(&args).env("GITHUB_TOKEN", "x").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want) && err.contains("hint:"), "{err}");
    }
    let o = t
        .bin(&["prune", "--repo", "o/r", "--ref", "main", "--prefix", "p-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a token"));
}
