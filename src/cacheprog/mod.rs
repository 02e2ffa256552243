//! `go-ci-cache cacheprog`: a GOCACHEPROG program (Go ≥ 1.24) with a local disk tier and an
//! optional remote tier on S3-compatible storage; `cacheprog-gc` trims the store. The async
//! runtime (tokio, for the storage client) lives in this module and nowhere else.
//!
//! - [`protocol`]: the JSON wire protocol, as the go command speaks it;
//! - [`local`]: the disk tier, the one the go command reads files from;
//! - [`remote`]: the bucket, with timeouts and a breaker;
//! - [`namespace`]: which action records a job writes and reads;
//! - [`manifest`]: what a job used, for the next job's bulk prefetch;
//! - [`server`]: requests answered concurrently, uploads in the background, flushed on close;
//! - [`stats`]: counters per tier for `report`;
//! - [`gc`]: removal of old objects.

pub mod args;
pub mod gc;
pub mod local;
pub mod manifest;
pub mod namespace;
pub mod protocol;
pub mod remote;
pub mod server;
pub mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

pub use args::{CacheprogArgs, CacheprogGcArgs, StoreOpts};
use namespace::{Namespaces, RefInfo};
use remote::RemoteUrl;

use crate::error::usage;

/// Everything a cache-program process needs, resolved from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The local tier's directory.
    pub local_dir: PathBuf,
    /// The remote store, if any.
    pub remote: Option<RemoteUrl>,
    /// Namespaces written and read.
    pub namespaces: Namespaces,
    /// Write nothing to the remote.
    pub read_only: bool,
    /// The manifest's name.
    pub manifest: String,
    /// Name prefixes of manifests to start from when this job's is missing, escaped as
    /// object names are, in order.
    pub manifest_siblings: Vec<String>,
    /// One remote request's limit.
    pub timeout: Duration,
    /// How long close waits for uploads.
    pub flush_timeout: Duration,
    /// Transfers in flight at once.
    pub concurrency: usize,
    /// The local tier's trim: files unused longer than this go (none: never trimmed).
    pub local_max_age: Option<Duration>,
}

/// The shortest `--local-max-age`: a used file is touched at most hourly and must stay until
/// the go command that was given it ends, so a tighter trim could pull a file from under a
/// long test run.
const MIN_LOCAL_MAX_AGE: Duration = Duration::from_secs(6 * 3600);

/// Parses `--local-max-age`: an age of at least six hours, or `off`.
pub fn local_max_age(raw: &str) -> Result<Option<Duration>> {
    let t = raw.trim();
    if matches!(t, "off" | "never") {
        return Ok(None);
    }
    let hint = "give an age of at least `6h`, such as `5d` or `36h`, or `off`";
    let age = gc::parse_age(t)
        .map_err(|_| usage(format!("local max age `{raw}` is not an age"), hint))?;
    if age < MIN_LOCAL_MAX_AGE {
        return Err(usage(format!("local max age `{raw}` is too short"), hint));
    }
    Ok(Some(age))
}

/// The local tier's default directory.
pub fn default_local_dir(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let base = env("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("LOCALAPPDATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("go-ci-cache").join("cacheprog")
}

/// The local tier's directory for these options.
pub fn local_dir(o: &StoreOpts) -> PathBuf {
    o.local_dir
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| default_local_dir(|k| std::env::var(k).ok()))
}

/// What the cache program's go commands in this job did, summed from the statistics files of the local
/// tier named by `GO_CI_CACHE_LOCAL_DIR` (or the default) that finished at or after `since`.
pub fn job_stats(since: i64) -> Option<stats::Stats> {
    let dir = std::env::var_os("GO_CI_CACHE_LOCAL_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| default_local_dir(|k| std::env::var(k).ok()));
    stats::Stats::sum(&stats::load(&dir, since))
}

/// The remote URL of these options, checked.
pub fn remote_url(o: &StoreOpts) -> Result<Option<RemoteUrl>> {
    o.remote
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| RemoteUrl::parse(s.trim()))
        .transpose()
}

/// The request timeout of these options, checked.
pub fn timeout(o: &StoreOpts) -> Result<Duration> {
    limit("remote timeout", "--remote-timeout", &o.remote_timeout, 600)
}

/// Parses a time limit: a number and a unit (`10s`, `2m`, `1h`), or a bare number of seconds
/// (what these flags took before they took units), from one second to `max_secs`.
fn limit(what: &str, flag: &str, raw: &str, max_secs: u64) -> Result<Duration> {
    let t = raw.trim();
    let hint = || {
        format!(
            "give {flag} as seconds or with a unit, such as `10s` or `2m`, from `1s` to `{}`",
            if max_secs.is_multiple_of(3600) {
                format!("{}h", max_secs / 3600)
            } else {
                format!("{}m", max_secs / 60)
            }
        )
    };
    let parsed = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().ok().map(Duration::from_secs)
    } else {
        gc::parse_age(t).ok()
    };
    match parsed {
        None => Err(usage(format!("{what} `{raw}` is not a time"), hint())),
        Some(d) if d.is_zero() || d.as_secs() > max_secs => {
            Err(usage(format!("{what} `{raw}` is out of range"), hint()))
        }
        Some(d) => Ok(d),
    }
}

/// The GitHub event payload's `repository.default_branch`.
fn event_default_branch() -> Option<String> {
    let p = std::env::var_os("GITHUB_EVENT_PATH")?;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v.pointer("/repository/default_branch")?
        .as_str()
        .map(str::to_string)
}

/// Resolves the configuration; bad input is a usage error.
pub fn config(a: &CacheprogArgs) -> Result<Config> {
    let env = |k: &str| std::env::var(k).ok();
    let remote = remote_url(&a.store)?;
    let timeout = timeout(&a.store)?;
    if a.concurrency == 0 || a.concurrency > 256 {
        return Err(usage(
            format!("concurrency `{}` is out of range", a.concurrency),
            "give --concurrency between 1 and 256",
        ));
    }
    let read: Vec<String> = a
        .read_namespaces
        .iter()
        .flat_map(|v| v.lines())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    let write = a
        .namespace
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    for n in write.iter().copied().chain(read.iter().map(String::as_str)) {
        if !namespace::valid_name(n) {
            return Err(usage(
                format!("namespace `{n}` is not a usable name"),
                "use up to 200 printable characters",
            ));
        }
    }
    let mut info = RefInfo::from_env(env, None);
    if let Some(d) = a.default_branch.as_deref().filter(|d| !d.is_empty()) {
        info.default_branch = Some(d.to_string());
    } else if info.default_branch.is_none() {
        info.default_branch = event_default_branch();
    }
    let on_default = info.on_default_branch(env);
    let namespaces = namespace::resolve(write, &read, &info, on_default);
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let scope = given(&a.manifest_configuration).map(|c| {
        let p = given(&a.manifest_project).unwrap_or_else(|| "any".into());
        (c, p)
    });
    if let Some((c, p)) = &scope {
        for (what, v) in [("manifest configuration", c), ("manifest project", p)] {
            if !namespace::valid_name(v) || v.contains(',') {
                return Err(usage(
                    format!("{what} `{v}` is not a usable name"),
                    "give what `go-ci-cache keys` prints as `remote-configuration` and `remote-project`",
                ));
            }
        }
    }
    let named = given(&a.manifest);
    let manifest = named
        .clone()
        .unwrap_or_else(|| default_manifest(env, scope.as_ref()));
    if !namespace::valid_name(&manifest) {
        return Err(usage(
            format!("manifest name `{manifest}` is not a usable name"),
            "use up to 200 printable characters",
        ));
    }
    let mut given_siblings: Vec<String> = a
        .manifest_siblings
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if given_siblings.is_empty()
        && named.is_none()
        && let Some(s) = default_siblings(env, scope.as_ref())
    {
        given_siblings = s;
    }
    let mut manifest_siblings = Vec::new();
    for p in given_siblings.iter().map(String::as_str) {
        if !namespace::valid_name(p) || p.starts_with('.') {
            return Err(usage(
                format!("manifest sibling prefix `{p}` is not a usable name"),
                "use up to 200 printable characters, not starting with `.`",
            ));
        }
        manifest_siblings.push(namespace::segment(p));
    }
    Ok(Config {
        local_dir: local_dir(&a.store),
        remote,
        namespaces,
        read_only: a.read_only,
        manifest,
        manifest_siblings,
        timeout,
        flush_timeout: limit("flush timeout", "--flush-timeout", &a.flush_timeout, 3600)?,
        concurrency: a.concurrency,
        local_max_age: local_max_age(&a.local_max_age)?,
    })
}

fn ci_job(env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    get("GITHUB_JOB").or_else(|| get("CI_JOB_NAME"))
}

/// The manifest's default name: with a configuration and project (`keys`'s
/// `remote-configuration` and `remote-project`), `<configuration>-<job>-<project>`; without,
/// the CI job plus the runner's OS and architecture.
pub fn default_manifest(
    env: impl Fn(&str) -> Option<String>,
    scope: Option<&(String, String)>,
) -> String {
    if let Some((c, p)) = scope {
        let job = ci_job(&env).unwrap_or_else(|| "job".into());
        return format!("{c}-{job}-{p}");
    }
    let job = ci_job(&env).unwrap_or_else(|| "default".into());
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    match (get("RUNNER_OS"), get("RUNNER_ARCH")) {
        (Some(os), Some(arch)) => format!("{job}-{os}-{arch}"),
        _ => job,
    }
}

/// The default sibling prefixes with a configuration: the same job of another project, then
/// any job of the configuration.
fn default_siblings(
    env: impl Fn(&str) -> Option<String>,
    scope: Option<&(String, String)>,
) -> Option<Vec<String>> {
    let (c, _) = scope?;
    let job = ci_job(&env).unwrap_or_else(|| "job".into());
    Some(vec![format!("{c}-{job}-"), format!("{c}-")])
}

/// Builds the runtime this module's async code runs on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `cacheprog`: serves the go command on stdin/stdout until it closes (or, with
/// `--prefetch-only`, fills the local tier from the manifest and exits).
pub fn run(a: &CacheprogArgs) -> Result<ExitCode> {
    let cfg = config(a)?;
    let local = local::Local::open(&cfg.local_dir)?;
    let remote = match &cfg.remote {
        Some(u) => Some(remote::Remote::new(u.clone(), cfg.timeout)?),
        None => None,
    };
    let rt = runtime()?;
    let result = if a.prefetch_only {
        rt.block_on(server::prefetch_only(cfg, local, remote))
    } else {
        rt.block_on(server::serve(cfg, local, remote))
    };
    rt.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// `cacheprog-gc`: removes old objects.
pub fn run_gc(a: &CacheprogGcArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let r = gc::run(a, &rt);
    rt.shutdown_timeout(Duration::from_secs(1));
    r
}

/// `plan`'s section: the configuration this environment gives the cache program and whether the
/// store answers; `None` when neither GOCACHEPROG nor a remote is set.
pub fn plan(a: &CacheprogArgs) -> Result<Option<crate::plan::RemoteCachePlan>> {
    let in_use = std::env::var("GOCACHEPROG").is_ok_and(|v| !v.trim().is_empty());
    if !in_use && remote_url(&a.store)?.is_none() {
        return Ok(None);
    }
    let cfg = config(a)?;
    let mut skipped = None;
    let store = match &cfg.remote {
        Some(u) => {
            let remote = remote::Remote::new(u.clone(), cfg.timeout)?;
            let now = local::unix(std::time::SystemTime::now());
            let note = local::down_note_in(&cfg.local_dir);
            if let Some(n) = note.filter(|n| n.applies(&remote.store_id(), now)) {
                skipped = Some((n.at + local::DOWN_FOR_SECS - now, n.reason));
            }
            let rt = runtime()?;
            let r = rt.block_on(remote.probe());
            rt.shutdown_timeout(Duration::from_secs(1));
            Some(r)
        }
        None => None,
    };
    Ok(Some(crate::plan::RemoteCachePlan {
        local_dir: cfg.local_dir.display().to_string(),
        local_max_age_seconds: cfg.local_max_age.map(|d| d.as_secs()),
        remote: cfg.remote.as_ref().map(ToString::to_string),
        endpoint: std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| !e.is_empty()),
        write_namespace: (!cfg.read_only).then(|| cfg.namespaces.write.clone()),
        why: cfg.namespaces.why.clone(),
        read_namespaces: cfg.namespaces.read.clone(),
        manifest: cfg.manifest.clone(),
        store,
        skipped,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_local_dir(env(&[("HOME", "/h")])),
            PathBuf::from("/h/.cache/go-ci-cache/cacheprog")
        );
        assert_eq!(
            default_local_dir(env(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")])),
            PathBuf::from("/x/go-ci-cache/cacheprog")
        );
        assert_eq!(default_manifest(env(&[]), None), "default");
        const HOSTED: &[(&str, &str)] = &[
            ("GITHUB_JOB", "test"),
            ("RUNNER_OS", "Linux"),
            ("RUNNER_ARCH", "X64"),
        ];
        let hosted = HOSTED;
        assert_eq!(default_manifest(env(hosted), None), "test-Linux-X64");
        assert_eq!(
            default_manifest(env(&[("CI_JOB_NAME", "unit")]), None),
            "unit"
        );
        // With `keys`'s configuration and project (the configuration covers OS and arch).
        let scope = ("0469275679ae".to_string(), "proj45".to_string());
        assert_eq!(
            default_manifest(env(hosted), Some(&scope)),
            "0469275679ae-test-proj45"
        );
        assert_eq!(
            default_manifest(env(&[("CI_JOB_NAME", "unit")]), Some(&scope)),
            "0469275679ae-unit-proj45"
        );
        assert_eq!(
            default_manifest(env(&[]), Some(&scope)),
            "0469275679ae-job-proj45"
        );
        assert_eq!(
            default_siblings(env(&[("CI_JOB_NAME", "unit")]), Some(&scope)),
            Some(vec!["0469275679ae-unit-".into(), "0469275679ae-".into()])
        );
        assert_eq!(default_siblings(env(hosted), None), None);
    }

    #[test]
    fn time_limits_take_seconds_or_units() {
        for (raw, secs) in [
            ("10", 10),
            ("10s", 10),
            (" 2m ", 120),
            ("1h", 3600),
            ("600", 600),
        ] {
            let d = limit("remote timeout", "--remote-timeout", raw, 3600).unwrap();
            assert_eq!(d, Duration::from_secs(secs), "{raw}");
        }
        for bad in ["0", "0s", "3s5", "soon", "", "-1", "2h"] {
            let e = limit("remote timeout", "--remote-timeout", bad, 3600).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
            let msg = crate::error::render(&e);
            assert!(msg.contains(&format!("`{bad}`")), "{msg}");
            assert!(msg.contains("`10s`"), "{msg}");
        }
    }

    #[test]
    fn local_max_ages() {
        assert_eq!(
            local_max_age("5d").unwrap(),
            Some(Duration::from_secs(5 * 86_400))
        );
        assert_eq!(
            local_max_age(" 6h ").unwrap(),
            Some(Duration::from_secs(6 * 3600))
        );
        assert_eq!(local_max_age("off").unwrap(), None);
        for bad in ["5h", "90m", "soon", ""] {
            let e = local_max_age(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
