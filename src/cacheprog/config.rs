//! The cache program's configuration, from its flags and the environment: where the tiers are,
//! who writes what ([`crate::trust`]), the manifest's name, the time limits. It never fails:
//! what does not parse falls back to the safe choice and is listed, for a warning (the cache
//! program) or a usage error (`plan`, `trust`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::args::{CacheprogArgs, StoreOpts, TrustOpts};
use super::remote::{self, RemoteUrl};
use super::{gc, namespace, stats};
use crate::error::usage;
use crate::trust::{self, Decision, Policy, Save};

/// Everything a cache-program process needs, resolved from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The local tier's directory.
    pub local_dir: PathBuf,
    /// The remote store, if any.
    pub remote: Option<RemoteUrl>,
    /// Who writes what: the namespace written to the store (none: read-only) and those read.
    pub decision: Decision,
    /// The namespace of the records this job stores in the local tier: the one it writes, else
    /// its own, so its later go commands find them and no other job's do.
    pub local_namespace: String,
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
    /// The scope of native outputs (cgo objects, executables): Go's action IDs do not see the C
    /// headers and libraries of the runner image they were built against, so their records are
    /// served only to jobs of the same image ([`super::local::Record::scope`]).
    pub native_scope: String,
}

impl Config {
    /// The namespace written to the store, if any.
    pub fn write(&self) -> Option<&str> {
        self.decision.write.as_deref()
    }

    /// The namespaces read from the store, in order.
    pub fn read(&self) -> &[String] {
        &self.decision.read
    }
}

/// The configuration, and what in the flags and environment did not parse: each of those fell
/// back to the safe choice (no remote, the default, writing nothing) and is a usage error for
/// commands a person runs (`plan`, `trust`) and a warning for the cache program, which serves
/// the go command whatever its configuration.
#[derive(Debug)]
pub struct Resolved {
    /// The configuration.
    pub cfg: Config,
    /// The remote tier's client, when the remote is set and usable.
    pub remote: Option<remote::Remote>,
    /// What did not parse, each with its hint.
    pub problems: Vec<anyhow::Error>,
}

impl Resolved {
    /// The configuration, or the first problem as an error.
    pub fn strict(self) -> Result<(Config, Option<remote::Remote>)> {
        match self.problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok((self.cfg, self.remote)),
        }
    }
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

/// Parses a yes/no value as a flag or variable may give it; `None` for anything else.
fn boolean(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "off" => Some(false),
        "true" | "1" | "yes" | "on" => Some(true),
        _ => None,
    }
}

impl TrustOpts {
    /// The policy these options give, and what did not parse (each fell back to writing
    /// nothing).
    pub fn policy(&self, lookup_only: bool) -> (Policy, Vec<anyhow::Error>) {
        let mut problems = Vec::new();
        let save = match <Save as clap::ValueEnum>::from_str(self.save.trim(), true) {
            Ok(s) => s,
            Err(_) => {
                problems.push(usage(
                    format!("save policy `{}` is unknown (the cache program writes nothing under it)", self.save),
                    "give --save (GO_CI_CACHE_SAVE) as `default-branch`, `pull-requests`, `always` or `never`",
                ));
                Save::Never
            }
        };
        let remote_read_only = boolean(&self.read_only).unwrap_or_else(|| {
            problems.push(usage(
                format!("read-only `{}` is neither true nor false (the cache program writes nothing under it)", self.read_only),
                "give --read-only (GO_CI_CACHE_READ_ONLY) as `true` or `false`",
            ));
            true
        });
        let read_namespaces: Vec<String> = self
            .read_namespaces
            .iter()
            .flat_map(|v| v.lines())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        let mut namespace = self
            .namespace
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let mut bad = |n: &str| {
            problems.push(usage(
                format!("namespace `{n}` is not a usable name; reading and writing the defaults"),
                "use up to 200 printable characters",
            ))
        };
        if let Some(n) = namespace.as_deref().filter(|n| !namespace::valid_name(n)) {
            bad(n);
            namespace = None;
        }
        let read_ok = read_namespaces.iter().all(|n| namespace::valid_name(n));
        if !read_ok {
            bad(read_namespaces
                .iter()
                .find(|n| !namespace::valid_name(n))
                .expect("one is bad"));
        }
        let policy = Policy {
            save,
            remote_read_only,
            lookup_only,
            namespace,
            read_namespaces: if read_ok { read_namespaces } else { Vec::new() },
        };
        (policy, problems)
    }

    /// The decision for this process's environment, and what did not parse.
    pub fn decide(&self, lookup_only: bool) -> (Decision, Vec<anyhow::Error>) {
        let (policy, problems) = self.policy(lookup_only);
        let ctx = trust::context(self.default_branch.as_deref());
        (trust::decide(&ctx, &policy), problems)
    }
}

/// The scope native outputs are recorded under: a digest of what the archive's build key holds
/// for cgo beyond what Go's action IDs see (Go hashes CC, its version and the CGO_* flags
/// itself): the runner image (`GO_CI_CACHE_RUNNER_IMAGE`, else GitHub's
/// `ImageOS`/`ImageVersion`, else GitLab's `CI_JOB_IMAGE`), whose headers and libraries the
/// objects were built against, and `PKG_CONFIG`, which chooses which of them.
pub fn native_scope(env: impl Fn(&str) -> Option<String>) -> String {
    use sha2::Digest;
    let explicit = env("GO_CI_CACHE_RUNNER_IMAGE");
    let image = crate::job::runner_image(explicit.as_deref(), &env);
    let pkg_config = env("PKG_CONFIG").filter(|v| !v.is_empty());
    match (image, pkg_config) {
        (None, None) => "image-unknown".to_string(),
        (image, pkg_config) => {
            let key = format!(
                "image={}\npkg-config={}\n",
                image.unwrap_or_default(),
                pkg_config.unwrap_or_default()
            );
            format!(
                "image-{}",
                &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..16]
            )
        }
    }
}

/// Arguments the binary could not parse and ignored ([`ignore_arguments`]).
static IGNORED_ARGUMENTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Says that this process's command-line arguments did not parse and were ignored: the cache
/// program runs on its environment alone and warns once per job.
pub fn ignore_arguments(why: String) {
    let _ = IGNORED_ARGUMENTS.set(why);
}

/// Resolves the configuration. It never fails: what does not parse falls back to the safe
/// choice and is listed in [`Resolved::problems`].
pub fn resolve(a: &CacheprogArgs) -> Resolved {
    let env = |k: &str| std::env::var(k).ok();
    let mut problems = Vec::new();
    if let Some(why) = IGNORED_ARGUMENTS.get() {
        problems.push(usage(why.clone(), "fix GOCACHEPROG's arguments"));
    }
    let mut keep = |r: Result<Duration>, default: Duration| {
        r.unwrap_or_else(|e| {
            problems.push(e);
            default
        })
    };
    let timeout = keep(timeout(&a.store), Duration::from_secs(10));
    let flush_timeout = keep(
        limit("flush timeout", "--flush-timeout", &a.flush_timeout, 3600),
        Duration::from_secs(120),
    );
    let concurrency = match a.concurrency.trim().parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => n,
        _ => {
            problems.push(usage(
                format!("concurrency `{}` is out of range", a.concurrency),
                "give --concurrency (GO_CI_CACHE_REMOTE_CONCURRENCY) between 1 and 256",
            ));
            32
        }
    };
    let local_max_age = local_max_age(&a.local_max_age).unwrap_or_else(|e| {
        problems.push(e);
        Some(Duration::from_secs(5 * 86_400))
    });
    let (decision, trust_problems) = a.trust.decide(false);
    problems.extend(trust_problems);
    let local_namespace = decision
        .write
        .clone()
        .or_else(|| decision.own.clone())
        .unwrap_or_else(|| "unscoped".to_string());

    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let hint = "give what `go-ci-cache keys` prints as `remote-configuration` and `remote-project`";
    let mut scope = given(&a.manifest_configuration).map(|c| {
        let p = given(&a.manifest_project).unwrap_or_else(|| "any".into());
        (c, p)
    });
    if let Some((c, p)) = scope.clone() {
        for (what, v) in [("manifest configuration", c), ("manifest project", p)] {
            if !namespace::valid_name(&v) || v.contains(',') {
                problems.push(usage(format!("{what} `{v}` is not a usable name"), hint));
                scope = None;
            }
        }
    }
    let mut named = given(&a.manifest);
    if let Some(m) = named.clone().filter(|m| !namespace::valid_name(m)) {
        problems.push(usage(
            format!("manifest name `{m}` is not a usable name"),
            "use up to 200 printable characters",
        ));
        named = None;
    }
    let manifest = named
        .clone()
        .unwrap_or_else(|| default_manifest(env, scope.as_ref()));
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
            problems.push(usage(
                format!("manifest sibling prefix `{p}` is not a usable name"),
                "use up to 200 printable characters, not starting with `.`",
            ));
            continue;
        }
        manifest_siblings.push(namespace::segment(p));
    }

    let mut remote_url = remote_url(&a.store).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let remote = remote_url.clone().and_then(|u| {
        remote::Remote::new(u, timeout)
            .map_err(|e| problems.push(e))
            .ok()
    });
    if remote.is_none() {
        remote_url = None;
    }
    Resolved {
        cfg: Config {
            local_dir: local_dir(&a.store),
            remote: remote_url,
            decision,
            local_namespace,
            manifest,
            manifest_siblings,
            timeout,
            flush_timeout,
            concurrency,
            local_max_age,
            native_scope: native_scope(env),
        },
        remote,
        problems,
    }
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
    fn native_outputs_are_scoped_by_image_and_pkg_config() {
        let scope = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            native_scope(move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        };
        let a = scope(&[("ImageOS", "ubuntu24"), ("ImageVersion", "20261201.1")]);
        let b = scope(&[("ImageOS", "ubuntu24"), ("ImageVersion", "20261208.1")]);
        assert_ne!(a, b);
        assert_eq!(
            a,
            scope(&[("GO_CI_CACHE_RUNNER_IMAGE", "ubuntu24/20261201.1")])
        );
        assert_ne!(
            a,
            scope(&[
                ("ImageOS", "ubuntu24"),
                ("ImageVersion", "20261201.1"),
                ("PKG_CONFIG", "/opt/pc")
            ])
        );
        assert_eq!(scope(&[]), "image-unknown");
        assert_ne!(
            scope(&[("CI_JOB_IMAGE", "golang:1.26")]),
            scope(&[("CI_JOB_IMAGE", "golang:1.27")])
        );
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
