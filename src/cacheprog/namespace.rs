//! Namespaces of action records: which one a job writes and which ones it reads, in order,
//! from the CI environment (pure: the environment comes in as a lookup function).
//!
//! A job writes one namespace: `trusted` when it runs on the default branch, else its own ref
//! (`ref-<ref>`). It reads its own, then `trusted`. Outputs are content-addressed and shared by
//! all namespaces; only action → output records are namespaced, so what a pull request writes
//! is never what the default branch reads.

/// The default branch's namespace.
pub const TRUSTED: &str = "trusted";

/// Where a job's namespaces come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    /// The one namespace this job writes.
    pub write: String,
    /// The namespaces this job reads, in order (first match wins).
    pub read: Vec<String>,
    /// How `write` was chosen, for `plan` and the log.
    pub why: String,
}

/// The job's ref and the default branch, as the CI tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefInfo {
    /// The job's ref: `refs/heads/main`, `refs/pull/7/merge` (GitHub) or a branch or tag name
    /// (GitLab).
    pub git_ref: Option<String>,
    /// The repository's default branch name.
    pub default_branch: Option<String>,
}

impl RefInfo {
    /// From the CI's variables: `GITHUB_REF` (or `CI_COMMIT_REF_NAME`), and
    /// `GO_CI_CACHE_DEFAULT_BRANCH`, `CI_DEFAULT_BRANCH`, else `default_branch` from the GitHub
    /// event payload (`event_default_branch`, read by the caller).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        event_default_branch: Option<String>,
    ) -> Self {
        let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let git_ref = nonempty("GITHUB_REF").or_else(|| {
            // A merge request pipeline runs on the source branch; its name is the ref.
            nonempty("CI_COMMIT_REF_NAME")
        });
        let default_branch = nonempty("GO_CI_CACHE_DEFAULT_BRANCH")
            .or_else(|| nonempty("CI_DEFAULT_BRANCH"))
            .or(event_default_branch);
        Self {
            git_ref,
            default_branch,
        }
    }

    /// Whether the job runs on the default branch itself (a branch push, not a pull request
    /// or merge request pipeline into it).
    pub fn on_default_branch(&self, env: impl Fn(&str) -> Option<String>) -> bool {
        let (Some(r), Some(d)) = (&self.git_ref, &self.default_branch) else {
            return false;
        };
        if env("CI_MERGE_REQUEST_IID").is_some_and(|v| !v.is_empty()) {
            return false;
        }
        let branch = r.strip_prefix("refs/heads/").unwrap_or(r);
        // A GitHub ref that is not a branch (refs/pull/…, refs/tags/…) never is the default
        // branch.
        (r.starts_with("refs/heads/") || !r.starts_with("refs/")) && branch == d
    }
}

/// Chooses the namespaces. `write` and `read` are the user's overrides (`--namespace`,
/// `--read-namespaces`); `None` means the default.
pub fn resolve(
    write: Option<&str>,
    read: &[String],
    info: &RefInfo,
    on_default_branch: bool,
) -> Namespaces {
    let (write, why) = match write {
        Some(w) => (w.to_string(), "set by --namespace".to_string()),
        None if on_default_branch => (
            TRUSTED.to_string(),
            format!(
                "the default branch `{}`",
                info.default_branch.as_deref().unwrap_or_default()
            ),
        ),
        None => match &info.git_ref {
            Some(r) => (
                format!("ref-{r}"),
                match &info.default_branch {
                    Some(d) => format!("the job's ref (the default branch is `{d}`)"),
                    None => "the job's ref (default branch unknown)".to_string(),
                },
            ),
            None => (
                "local".to_string(),
                "no CI ref (GITHUB_REF / CI_COMMIT_REF_NAME unset)".to_string(),
            ),
        },
    };
    let read = if read.is_empty() {
        let mut v = vec![write.clone()];
        if write != TRUSTED {
            v.push(TRUSTED.to_string());
        }
        v
    } else {
        let mut v: Vec<String> = Vec::new();
        for r in read {
            if !v.contains(r) {
                v.push(r.clone());
            }
        }
        v
    };
    Namespaces { write, read, why }
}

/// A namespace as one object-name segment: letters, digits, `.` and `-` stay; every other byte
/// (the `/` of a ref, `_` itself) becomes `_` and two hex digits, so distinct names stay
/// distinct.
pub fn segment(ns: &str) -> String {
    let mut s = String::with_capacity(ns.len());
    for b in ns.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("_{b:02x}"));
        }
    }
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// Checks a namespace or manifest name given by the user.
pub fn valid_name(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn ns(vars: &[(&str, &str)], event: Option<&str>) -> Namespaces {
        let info = RefInfo::from_env(env(vars), event.map(str::to_string));
        let on = info.on_default_branch(env(vars));
        resolve(None, &[], &info, on)
    }

    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        &'a str,
        &'a [&'a str],
    );

    #[test]
    fn table() {
        let cases: &[Case] = &[
            // GitHub push to the default branch (from the event payload).
            (
                &[("GITHUB_REF", "refs/heads/main")],
                Some("main"),
                "trusted",
                &["trusted"],
            ),
            // GitHub pull request.
            (
                &[("GITHUB_REF", "refs/pull/7/merge")],
                Some("main"),
                "ref-refs/pull/7/merge",
                &["ref-refs/pull/7/merge", "trusted"],
            ),
            // GitHub feature branch.
            (
                &[("GITHUB_REF", "refs/heads/feature/x")],
                Some("main"),
                "ref-refs/heads/feature/x",
                &["ref-refs/heads/feature/x", "trusted"],
            ),
            // A tag named like the default branch is not the branch.
            (
                &[("GITHUB_REF", "refs/tags/main")],
                Some("main"),
                "ref-refs/tags/main",
                &["ref-refs/tags/main", "trusted"],
            ),
            // Default branch unknown: never trusted.
            (
                &[("GITHUB_REF", "refs/heads/main")],
                None,
                "ref-refs/heads/main",
                &["ref-refs/heads/main", "trusted"],
            ),
            // GitLab branch pipeline on the default branch.
            (
                &[
                    ("CI_COMMIT_REF_NAME", "main"),
                    ("CI_DEFAULT_BRANCH", "main"),
                ],
                None,
                "trusted",
                &["trusted"],
            ),
            // GitLab merge request pipeline from the default branch's name is still not it.
            (
                &[
                    ("CI_COMMIT_REF_NAME", "main"),
                    ("CI_DEFAULT_BRANCH", "main"),
                    ("CI_MERGE_REQUEST_IID", "3"),
                ],
                None,
                "ref-main",
                &["ref-main", "trusted"],
            ),
            // The override names the default branch.
            (
                &[
                    ("CI_COMMIT_REF_NAME", "develop"),
                    ("CI_DEFAULT_BRANCH", "main"),
                    ("GO_CI_CACHE_DEFAULT_BRANCH", "develop"),
                ],
                None,
                "trusted",
                &["trusted"],
            ),
            // Outside CI.
            (&[], None, "local", &["local", "trusted"]),
        ];
        for (vars, event, write, read) in cases {
            let got = ns(vars, *event);
            assert_eq!(got.write, *write, "{vars:?}");
            assert_eq!(got.read, *read, "{vars:?}");
        }
    }

    #[test]
    fn overrides_keep_order_and_drop_repeats() {
        let got = resolve(
            Some("pr"),
            &["pr".into(), "trusted".into(), "pr".into()],
            &RefInfo::default(),
            false,
        );
        assert_eq!(got.write, "pr");
        assert_eq!(got.read, ["pr", "trusted"]);
    }

    #[test]
    fn segments_are_injective_and_safe() {
        assert_eq!(segment("trusted"), "trusted");
        assert_eq!(
            segment("ref-refs/pull/7/merge"),
            "ref-refs_2fpull_2f7_2fmerge"
        );
        assert_ne!(segment("a/b"), segment("a_2fb"));
        assert_eq!(segment(".."), "_..");
        assert_eq!(segment(""), "_");
    }
}
