//! Who writes what: the one decision, from everything that says whose code a job runs, of
//! whether the job writes the shared caches (the remote build cache's namespaces and, on
//! GitHub, the Actions cache's archives) and which namespaces it reads. The action, the GitLab
//! template (through `cacheprog` and `trust`) and `cacheprog` all ask [`decide`]; nothing else
//! decides.
//!
//! [`decide`] is pure: [`Context`] is read from the CI's variables and event payload by
//! [`Context::from_env`], the only part that looks at the environment.
//!
//! The rule, as the table tests state it:
//! - `trusted` is written only by the default branch's own code, run by an event only people
//!   with write access can cause: on GitHub `push`, `schedule`, `workflow_dispatch` and
//!   `repository_dispatch` on `refs/heads/<default branch>` (and `workflow_run` after one of
//!   those); on GitLab a branch pipeline (`push`, `web`, `schedule`, `api`, `trigger`,
//!   `parent_pipeline`, `chat`, `webide`) of the default branch, with no merge request.
//! - A pull request's (or merge request's) code writes at most `pr-<number>` (`mr-<iid>`),
//!   whatever ref the event runs with (`pull_request_target`, `issue_comment` and `workflow_run`
//!   run with the default branch's), and only when `save` lets pull requests save. No other pull
//!   request shares that namespace, a fork's branch name plays no part.
//! - Any other branch or tag writes `ref-<ref>` with `save: always`.
//! - Any other event that runs with the default branch's ref writes nothing.
//! - A read-only token (`ACTIONS_CACHE_MODE=read` or `none`), `save: never`, `lookup-only` and
//!   `remote-read-only` write nothing.
//! - A job reads its own namespace (when it writes one), then `trusted`; a job that writes
//!   `trusted` reads only `trusted`.
//! - Archives (GitHub's Actions cache) are saved into the job's ref's scope, so a job that runs
//!   untrusted code with the default branch's ref never saves them.

use serde::Serialize;

/// The default branch's namespace.
pub const TRUSTED: &str = "trusted";

/// Which CI the job runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ci {
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    Github,
    /// GitLab CI (`GITLAB_CI=true`).
    Gitlab,
    /// Neither: a laptop or another CI.
    None,
}

/// A pull request or merge request whose code the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// GitHub pull request (or GitLab external pull request) number, or merge request IID.
    pub number: u64,
    /// A GitLab merge request (`mr-<iid>`) rather than a pull request (`pr-<number>`).
    pub merge_request: bool,
    /// From a fork, when the CI says.
    pub fork: Option<bool>,
}

/// The run a GitHub `workflow_run` event follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Its event (`push`, `pull_request`, …).
    pub event: String,
    /// Its head branch.
    pub head_branch: Option<String>,
    /// Whether its head repository is this repository (not a fork).
    pub same_repository: bool,
}

/// Everything that says whose code a job runs (plain data; see [`Context::from_env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The CI.
    pub ci: Ci,
    /// GitHub's event name (`GITHUB_EVENT_NAME`) or GitLab's pipeline source
    /// (`CI_PIPELINE_SOURCE`); empty when unknown.
    pub event: String,
    /// The job's ref as a full ref: `refs/heads/main`, `refs/tags/v1`, `refs/pull/7/merge`.
    pub git_ref: Option<String>,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// The pull request or merge request whose code runs, if any.
    pub change: Option<Change>,
    /// For GitHub's `workflow_run`: the run it follows.
    pub upstream: Option<Upstream>,
    /// `ACTIONS_CACHE_MODE` (`read`, `write`, `write-only`, `none`), lowercased.
    pub cache_mode: Option<String>,
}

/// When the job may save (the action's `save` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Save {
    /// Only runs of the default branch.
    DefaultBranch,
    /// The default branch and pull (or merge) requests, each into its own namespace.
    PullRequests,
    /// Any ref, each into its own namespace.
    Always,
    /// Never.
    Never,
}

impl Save {
    /// The name as the input spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::DefaultBranch => "default-branch",
            Self::PullRequests => "pull-requests",
            Self::Always => "always",
            Self::Never => "never",
        }
    }
}

/// What the job's configuration says about writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The save policy.
    pub save: Save,
    /// `remote-read-only` (`--read-only`): the remote is read, never written.
    pub remote_read_only: bool,
    /// `lookup-only`: nothing is downloaded or written.
    pub lookup_only: bool,
    /// `--namespace`: the namespace to write instead of the job's own.
    pub namespace: Option<String>,
    /// `--read-namespaces`: the namespaces to read instead of the default.
    pub read_namespaces: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            save: Save::Always,
            remote_read_only: false,
            lookup_only: false,
            namespace: None,
            read_namespaces: Vec::new(),
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The job runs the default branch's own code, started by someone with write access.
    pub trusted: bool,
    /// Whose code runs, in words (`the default branch \`main\``, `pull request #7 from a fork
    /// (pull_request_target)`).
    pub origin: String,
    /// The namespace the job would write if its configuration let it (`trusted`, `pr-7`,
    /// `mr-3`, `ref-refs/heads/x`); none for untrusted code with no namespace of its own.
    pub own: Option<String>,
    /// The namespace the remote build cache writes, or none.
    pub write: Option<String>,
    /// Why it writes that, or why nothing.
    pub write_why: String,
    /// The namespaces read, in order (first match wins).
    pub read: Vec<String>,
    /// Whether the job saves archive entries (GitHub's Actions cache, in the job's ref's scope).
    pub archives: bool,
    /// Why not, when it does not.
    pub archives_why: String,
}

/// GitHub events that run a ref's own workflow and code and that only people with write
/// access can cause.
const GITHUB_TRUSTED_EVENTS: &[&str] = &[
    "push",
    "schedule",
    "workflow_dispatch",
    "repository_dispatch",
];

/// GitHub events that run the workflow and code of the ref they run with (a branch or tag
/// someone with write access pushed, created or released): that ref's namespace and cache
/// scope are the job's own. Any other event may run with one ref and act on another's code.
const GITHUB_REF_EVENTS: &[&str] = &[
    "push",
    "schedule",
    "workflow_dispatch",
    "repository_dispatch",
    "create",
    "release",
    "merge_group",
];

/// GitLab pipeline sources that run a branch's own code, started by a push, a schedule or a
/// member of the project.
const GITLAB_TRUSTED_SOURCES: &[&str] = &[
    "push",
    "web",
    "schedule",
    "api",
    "trigger",
    "parent_pipeline",
    "chat",
    "webide",
];

/// Decides (pure).
pub fn decide(ctx: &Context, policy: &Policy) -> Decision {
    let default_ref = ctx
        .default_branch
        .as_deref()
        .map(|b| format!("refs/heads/{b}"));
    let on_default_ref = default_ref.is_some() && ctx.git_ref == default_ref;
    let Origin {
        trusted,
        words: origin,
        own,
        own_scope,
    } = origin(ctx, on_default_ref);

    // What stops any write, in the order a user would look for it.
    let mode = ctx.cache_mode.as_deref().unwrap_or("");
    let mode_stop = match mode {
        "read" => {
            Some("the runner gave this job a read-only cache token (ACTIONS_CACHE_MODE=read)")
        }
        "none" => Some("the runner gave this job no cache access (ACTIONS_CACHE_MODE=none)"),
        _ => None,
    };
    let policy_stop: Option<String> = if policy.lookup_only {
        Some("lookup-only is `true`".into())
    } else if policy.save == Save::Never {
        Some("save is `never`".into())
    } else if let Some(m) = mode_stop {
        Some(m.into())
    } else {
        match policy.save {
            Save::DefaultBranch if !trusted => Some(format!(
                "{origin} is not the default branch's own run (save: default-branch)"
            )),
            Save::PullRequests if !trusted && ctx.change.is_none() => Some(format!(
                "{origin} is neither the default branch's own run nor a pull request (save: pull-requests)"
            )),
            _ if own.is_none() => Some(format!(
                "{origin} runs code that may not be the default branch's, and has no namespace of its own"
            )),
            _ => None,
        }
    };

    // The remote's namespace.
    let (write, write_why) = if let Some(why) = &policy_stop {
        (None, why.clone())
    } else if policy.remote_read_only {
        (None, "remote-read-only is `true`".to_string())
    } else {
        match policy.namespace.as_deref() {
            Some(TRUSTED) if !trusted => (
                None,
                format!(
                    "`--namespace {TRUSTED}` is refused: {origin} is not the default branch's own run"
                ),
            ),
            Some(n) => (Some(n.to_string()), "set by --namespace".to_string()),
            None => (own.clone(), origin.clone()),
        }
    };

    // What it reads.
    let readable = !matches!(mode, "none" | "write-only");
    let read = if !readable {
        Vec::new()
    } else if write.as_deref() == Some(TRUSTED) {
        // A job whose manifest and records others trust reads nothing less trusted.
        vec![TRUSTED.to_string()]
    } else if !policy.read_namespaces.is_empty() {
        let mut v: Vec<String> = Vec::new();
        for r in &policy.read_namespaces {
            if !v.contains(r) {
                v.push(r.clone());
            }
        }
        v
    } else {
        let mut v: Vec<String> = write.iter().cloned().collect();
        if !v.iter().any(|n| n == TRUSTED) {
            v.push(TRUSTED.to_string());
        }
        v
    };

    // Archives go to the job's ref's scope: untrusted code with the default branch's ref would
    // save where the default branch restores from.
    let (archives, archives_why) = if let Some(why) = policy_stop {
        (false, why)
    } else if !trusted && !own_scope {
        let whose = if on_default_ref {
            "the default branch's ref, whose cache the default branch restores".to_string()
        } else {
            match ctx.git_ref.as_deref() {
                Some(r) => format!("the ref `{r}`, whose code it may not be"),
                None => "no ref of its own".to_string(),
            }
        };
        (false, format!("{origin} runs with {whose}"))
    } else {
        (true, String::new())
    };

    Decision {
        trusted,
        origin,
        own,
        write,
        write_why,
        read,
        archives,
        archives_why,
    }
}

/// Whose code a job runs.
struct Origin {
    /// The default branch's own, started by someone with write access.
    trusted: bool,
    /// In words.
    words: String,
    /// The namespace it may write, if any.
    own: Option<String>,
    /// Whether the cache scope of its ref (GitHub's) holds its own code's entries: true for
    /// the ref's own runs and pull requests on their merge ref, false when the event runs with
    /// a ref whose code it may not be running.
    own_scope: bool,
}

/// Whose code the job runs.
fn origin(ctx: &Context, on_default_ref: bool) -> Origin {
    let event = if ctx.event.is_empty() {
        "an unknown event".to_string()
    } else {
        ctx.event.clone()
    };
    let untrusted = |words: String, own: Option<String>, own_scope: bool| Origin {
        trusted: false,
        words,
        own,
        own_scope,
    };
    let default = ctx.default_branch.as_deref().unwrap_or("");
    let trusted = |words: String| Origin {
        trusted: true,
        words,
        own: Some(TRUSTED.to_string()),
        own_scope: true,
    };
    if let Some(c) = &ctx.change {
        let fork = if c.fork == Some(true) {
            " from a fork"
        } else {
            ""
        };
        let (what, ns) = if c.merge_request {
            (
                format!("merge request !{}", c.number),
                format!("mr-{}", c.number),
            )
        } else {
            (
                format!("pull request #{}", c.number),
                format!("pr-{}", c.number),
            )
        };
        let merge_ref = ctx
            .git_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("refs/pull/"));
        let own_scope = match ctx.ci {
            Ci::Github => merge_ref,
            _ => true,
        };
        return untrusted(format!("{what}{fork} ({event})"), Some(ns), own_scope);
    }
    let own_ref = || ctx.git_ref.as_ref().map(|r| format!("ref-{r}"));
    let ref_words = || {
        ctx.git_ref
            .as_deref()
            .map_or_else(|| "no ref".to_string(), |r| format!("`{r}`"))
    };
    match ctx.ci {
        Ci::None => untrusted(
            "a run outside GitHub Actions and GitLab CI".to_string(),
            Some("local".to_string()),
            true,
        ),
        Ci::Github => {
            if on_default_ref {
                let trusted_event = GITHUB_TRUSTED_EVENTS.contains(&ctx.event.as_str())
                    || (ctx.event == "workflow_run"
                        && ctx.upstream.as_ref().is_some_and(|u| {
                            GITHUB_TRUSTED_EVENTS.contains(&u.event.as_str())
                                && u.same_repository
                                && u.head_branch.as_deref() == Some(default)
                        }));
                if trusted_event {
                    return trusted(format!("the default branch `{default}` ({event})"));
                }
                let after = match &ctx.upstream {
                    Some(u) => format!(" after a `{}` run", u.event),
                    None => String::new(),
                };
                return untrusted(
                    format!("a `{event}` run{after} with the default branch's ref"),
                    None,
                    false,
                );
            }
            match ctx.git_ref.as_deref() {
                Some(r) if r.starts_with("refs/pull/") => untrusted(
                    format!("pull request ref `{r}` ({event})"),
                    pull_number(r).map(|n| format!("pr-{n}")),
                    true,
                ),
                Some(_) if GITHUB_REF_EVENTS.contains(&ctx.event.as_str()) => {
                    untrusted(format!("{} ({event})", ref_words()), own_ref(), true)
                }
                Some(_) => untrusted(
                    format!("a `{event}` run with the ref {}", ref_words()),
                    None,
                    false,
                ),
                None => untrusted(format!("a `{event}` run with no ref"), None, false),
            }
        }
        Ci::Gitlab => {
            if on_default_ref {
                if GITLAB_TRUSTED_SOURCES.contains(&ctx.event.as_str()) {
                    return trusted(format!("the default branch `{default}` ({event} pipeline)"));
                }
                return untrusted(
                    format!("a `{event}` pipeline of the default branch"),
                    None,
                    false,
                );
            }
            match ctx.git_ref.as_deref() {
                Some(_) => untrusted(
                    format!("{} ({event} pipeline)", ref_words()),
                    own_ref(),
                    true,
                ),
                None => untrusted(
                    format!("a `{event}` pipeline with no branch or tag"),
                    None,
                    false,
                ),
            }
        }
    }
}

/// The number in `refs/pull/<n>/merge` (or `/head`).
fn pull_number(r: &str) -> Option<u64> {
    r.strip_prefix("refs/pull/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

impl Context {
    /// Reads the context from the CI's variables (`env`) and, on GitHub, the event payload
    /// (`payload`: the JSON at `GITHUB_EVENT_PATH`, read by the caller). `default_branch`
    /// overrides the CI's (`--default-branch`).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        payload: Option<&serde_json::Value>,
        default_branch: Option<&str>,
    ) -> Self {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let cache_mode = get("ACTIONS_CACHE_MODE").map(|m| m.to_ascii_lowercase());
        let given = default_branch
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .or_else(|| get("GO_CI_CACHE_DEFAULT_BRANCH"));
        if get("GITHUB_ACTIONS").as_deref() == Some("true") {
            let s = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
            let p = |ptr: &str| payload.and_then(|p| p.pointer(ptr));
            let event = get("GITHUB_EVENT_NAME").unwrap_or_default();
            let repo = s(p("/repository/full_name"));
            let number = |ptr: &str| p(ptr).and_then(serde_json::Value::as_u64);
            let change = match event.as_str() {
                "pull_request"
                | "pull_request_target"
                | "pull_request_review"
                | "pull_request_review_comment" => number("/pull_request/number")
                    .or_else(|| number("/number"))
                    // Without a payload the merge ref still names it (`pull_request_target`
                    // runs with the base branch's ref, which names none).
                    .or_else(|| get("GITHUB_REF").as_deref().and_then(pull_number))
                    .map(|n| {
                        let head = s(p("/pull_request/head/repo/full_name"));
                        Change {
                            number: n,
                            merge_request: false,
                            fork: head.zip(repo.clone()).map(|(h, r)| h != r),
                        }
                    }),
                // A comment on a pull request: the workflow may check out its code.
                "issue_comment" if p("/issue/pull_request").is_some() => number("/issue/number")
                    .map(|n| Change {
                        number: n,
                        merge_request: false,
                        fork: None,
                    }),
                "workflow_run"
                    if s(p("/workflow_run/event"))
                        .is_some_and(|e| e.starts_with("pull_request")) =>
                {
                    number("/workflow_run/pull_requests/0/number").map(|n| Change {
                        number: n,
                        merge_request: false,
                        fork: s(p("/workflow_run/head_repository/full_name"))
                            .zip(repo.clone())
                            .map(|(h, r)| h != r),
                    })
                }
                _ => None,
            };
            let upstream = (event == "workflow_run").then(|| Upstream {
                event: s(p("/workflow_run/event")).unwrap_or_default(),
                head_branch: s(p("/workflow_run/head_branch")),
                same_repository: s(p("/workflow_run/head_repository/full_name"))
                    .zip(repo)
                    .is_some_and(|(h, r)| h == r),
            });
            return Self {
                ci: Ci::Github,
                event,
                git_ref: get("GITHUB_REF"),
                default_branch: given.or_else(|| s(p("/repository/default_branch"))),
                change,
                upstream,
                cache_mode,
            };
        }
        // GitLab sets GITLAB_CI; CI_PIPELINE_SOURCE is GitLab's alone (emulators set only it).
        if get("GITLAB_CI").as_deref() == Some("true") || get("CI_PIPELINE_SOURCE").is_some() {
            let event = get("CI_PIPELINE_SOURCE").unwrap_or_default();
            let mr = get("CI_MERGE_REQUEST_IID").and_then(|n| n.parse().ok());
            let external = get("CI_EXTERNAL_PULL_REQUEST_IID").and_then(|n| n.parse().ok());
            let change = match (mr, external) {
                (Some(n), _) => Some(Change {
                    number: n,
                    merge_request: true,
                    fork: get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
                        .zip(get("CI_PROJECT_ID"))
                        .map(|(s, p)| s != p),
                }),
                (None, Some(n)) => Some(Change {
                    number: n,
                    merge_request: false,
                    fork: None,
                }),
                _ => None,
            };
            // CI_COMMIT_BRANCH is set for branch pipelines only (not for merge request or tag
            // pipelines); CI_COMMIT_REF_NAME alone cannot tell a tag from a branch.
            let git_ref = get("CI_COMMIT_TAG")
                .map(|t| format!("refs/tags/{t}"))
                .or_else(|| get("CI_COMMIT_BRANCH").map(|b| format!("refs/heads/{b}")))
                .or_else(|| {
                    get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME").map(|b| format!("refs/heads/{b}"))
                });
            return Self {
                ci: Ci::Gitlab,
                event,
                // A merge request's source branch may be a fork's: never this project's ref.
                git_ref: if change.is_some() { None } else { git_ref },
                default_branch: given.or_else(|| get("CI_DEFAULT_BRANCH")),
                change,
                upstream: None,
                cache_mode,
            };
        }
        Self {
            ci: Ci::None,
            event: String::new(),
            git_ref: None,
            default_branch: given,
            change: None,
            upstream: None,
            cache_mode,
        }
    }
}

/// The GitHub event payload at `GITHUB_EVENT_PATH`, if readable.
pub fn event_payload() -> Option<serde_json::Value> {
    let p = std::env::var_os("GITHUB_EVENT_PATH")?;
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// The context of this process's environment.
pub fn context(default_branch: Option<&str>) -> Context {
    let payload = event_payload();
    Context::from_env(|k| std::env::var(k).ok(), payload.as_ref(), default_branch)
}

#[cfg(test)]
mod tests;
