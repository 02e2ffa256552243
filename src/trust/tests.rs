//! The decision as a table: every GitHub event that can run with the default branch's ref, every
//! GitLab pipeline source, and what each save policy and token lets them write and read.

use super::*;

const PR: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},"number":7,
    "pull_request":{"number":7,"head":{"repo":{"full_name":"fork/r"}}}}"#;
const PR_SAME_REPO: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},"number":8,
    "pull_request":{"number":8,"head":{"repo":{"full_name":"o/r"}}}}"#;
const REPO: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"}}"#;
const PR_COMMENT: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "issue":{"number":9,"pull_request":{"url":"x"}}}"#;
const ISSUE_COMMENT: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "issue":{"number":10}}"#;
const RUN_AFTER_PUSH: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "workflow_run":{"event":"push","head_branch":"main","head_repository":{"full_name":"o/r"}}}"#;
const RUN_AFTER_FORK_PUSH: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "workflow_run":{"event":"push","head_branch":"main","head_repository":{"full_name":"fork/r"}}}"#;
const RUN_AFTER_PR: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "workflow_run":{"event":"pull_request","head_branch":"main","head_repository":{"full_name":"fork/r"},
    "pull_requests":[{"number":11}]}}"#;
const RUN_AFTER_FORK_PR: &str = r#"{"repository":{"full_name":"o/r","default_branch":"main"},
    "workflow_run":{"event":"pull_request","head_branch":"patch-1","head_repository":{"full_name":"fork/r"},
    "pull_requests":[]}}"#;

fn github(event: &str, git_ref: &str, payload: &str, mode: Option<&str>) -> Context {
    let p: serde_json::Value = serde_json::from_str(payload).unwrap();
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_REF", git_ref),
        ("ACTIONS_CACHE_MODE", mode.unwrap_or("")),
    ];
    Context::from_env(
        |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        },
        Some(&p),
        None,
    )
}

fn gitlab(vars: &[(&str, &str)]) -> Context {
    let mut all = vec![
        ("GITLAB_CI", "true"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PROJECT_ID", "100"),
    ];
    all.extend_from_slice(vars);
    Context::from_env(
        |k| {
            all.iter()
                .rev()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        },
        None,
        None,
    )
}

fn r(v: &'static [&'static str]) -> &'static [&'static str] {
    v
}

fn policy(save: Save) -> Policy {
    Policy {
        save,
        ..Policy::default()
    }
}

/// (context, save, writes, reads, saves archives)
type Row = (
    Context,
    Save,
    Option<&'static str>,
    &'static [&'static str],
    bool,
);

fn check(rows: Vec<Row>) {
    for (i, (ctx, save, write, read, archives)) in rows.into_iter().enumerate() {
        let d = decide(&ctx, &policy(save));
        let why = format!("row {i}: {ctx:?} save {save:?} → {d:?}");
        assert_eq!(d.write.as_deref(), write, "{why}");
        assert_eq!(d.read, read.to_vec(), "{why}");
        assert_eq!(d.archives, archives, "{why}");
        assert_eq!(d.trusted, d.own.as_deref() == Some(TRUSTED), "{why}");
        if d.write.is_none() {
            assert!(!d.write_why.is_empty(), "{why}");
        }
        if !d.archives {
            assert!(!d.archives_why.is_empty(), "{why}");
        }
        // Only the default branch's own runs ever write `trusted` or save archives into the
        // default branch's scope.
        let default_ref = ctx
            .default_branch
            .as_ref()
            .map(|b| format!("refs/heads/{b}"));
        if d.write.as_deref() == Some(TRUSTED)
            || (d.archives && default_ref.is_some() && ctx.git_ref == default_ref)
        {
            assert!(d.trusted, "{why}");
        }
    }
}

#[test]
fn github_events_with_the_default_branchs_ref() {
    use Save::*;
    let main = "refs/heads/main";
    let t: &[&str] = r(&["trusted"]);
    check(vec![
        // The default branch's own runs.
        (
            github("push", main, REPO, None),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        (
            github("schedule", main, REPO, None),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        (
            github("workflow_dispatch", main, REPO, None),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        (
            github("repository_dispatch", main, REPO, None),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        (
            github("workflow_run", main, RUN_AFTER_PUSH, None),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        (
            github("push", main, REPO, None),
            Always,
            Some("trusted"),
            t,
            true,
        ),
        (github("push", main, REPO, None), Never, None, t, false),
        // A read-only token, or none at all.
        (
            github("push", main, REPO, Some("read")),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("push", main, REPO, Some("none")),
            DefaultBranch,
            None,
            r(&[]),
            false,
        ),
        (
            github("push", main, REPO, Some("write")),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ),
        // A pull request's code with the default branch's ref: never `trusted`, never the
        // default branch's archives; its own namespace only when pull requests may save.
        (
            github("pull_request_target", main, PR, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("pull_request_target", main, PR, None),
            PullRequests,
            Some("pr-7"),
            r(&["pr-7", "trusted"]),
            false,
        ),
        (
            github("pull_request_target", main, PR, None),
            Always,
            Some("pr-7"),
            r(&["pr-7", "trusted"]),
            false,
        ),
        (
            github("pull_request_target", main, PR, Some("read")),
            Always,
            None,
            t,
            false,
        ),
        (
            github("issue_comment", main, PR_COMMENT, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("issue_comment", main, PR_COMMENT, None),
            PullRequests,
            Some("pr-9"),
            r(&["pr-9", "trusted"]),
            false,
        ),
        (
            github("workflow_run", main, RUN_AFTER_PR, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("workflow_run", main, RUN_AFTER_PR, None),
            Always,
            Some("pr-11"),
            r(&["pr-11", "trusted"]),
            false,
        ),
        // A fork's run whose pull request GitHub does not name: nothing to write.
        (
            github("workflow_run", main, RUN_AFTER_FORK_PR, None),
            Always,
            None,
            t,
            false,
        ),
        // A fork's push to its own `main` is not this repository's default branch.
        (
            github("workflow_run", main, RUN_AFTER_FORK_PUSH, None),
            Always,
            None,
            t,
            false,
        ),
        // Events anyone can cause run the default branch's workflow: nothing written.
        (
            github("issue_comment", main, ISSUE_COMMENT, None),
            Always,
            None,
            t,
            false,
        ),
        (github("issues", main, REPO, None), Always, None, t, false),
        (
            github("discussion", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("discussion_comment", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (github("fork", main, REPO, None), Always, None, t, false),
        (github("watch", main, REPO, None), Always, None, t, false),
        (github("label", main, REPO, None), Always, None, t, false),
        (
            github("milestone", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("check_run", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("check_suite", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (github("status", main, REPO, None), Always, None, t, false),
        (
            github("deployment", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("deployment_status", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("page_build", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("registry_package", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (github("gollum", main, REPO, None), Always, None, t, false),
        (
            github("branch_protection_rule", main, REPO, None),
            Always,
            None,
            t,
            false,
        ),
        (github("create", main, REPO, None), Always, None, t, false),
        (github("delete", main, REPO, None), Always, None, t, false),
        (github("public", main, REPO, None), Always, None, t, false),
        (github("", main, REPO, None), Always, None, t, false),
    ]);
}

#[test]
fn github_events_with_other_refs() {
    use Save::*;
    let t: &[&str] = r(&["trusted"]);
    check(vec![
        (
            github("pull_request", "refs/pull/7/merge", PR, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("pull_request", "refs/pull/7/merge", PR, None),
            PullRequests,
            Some("pr-7"),
            r(&["pr-7", "trusted"]),
            true,
        ),
        (
            github("pull_request", "refs/pull/8/merge", PR_SAME_REPO, None),
            Always,
            Some("pr-8"),
            r(&["pr-8", "trusted"]),
            true,
        ),
        (
            github("pull_request_review", "refs/pull/7/merge", PR, None),
            PullRequests,
            Some("pr-7"),
            r(&["pr-7", "trusted"]),
            true,
        ),
        (
            github("pull_request_review_comment", "refs/pull/7/merge", PR, None),
            PullRequests,
            Some("pr-7"),
            r(&["pr-7", "trusted"]),
            true,
        ),
        // No payload (a runner that kept none): the ref still names the pull request.
        (
            github("pull_request", "refs/pull/12/merge", "{}", None),
            PullRequests,
            Some("pr-12"),
            r(&["pr-12", "trusted"]),
            true,
        ),
        (
            github("pull_request_target", "refs/heads/main", "{}", None),
            PullRequests,
            None,
            t,
            false,
        ),
        (
            github("pull_request", "refs/pull/12/merge", "{}", None),
            Always,
            Some("pr-12"),
            r(&["pr-12", "trusted"]),
            true,
        ),
        (
            github("push", "refs/heads/feature", REPO, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("push", "refs/heads/feature", REPO, None),
            PullRequests,
            None,
            t,
            false,
        ),
        (
            github("push", "refs/heads/feature", REPO, None),
            Always,
            Some("ref-refs/heads/feature"),
            r(&["ref-refs/heads/feature", "trusted"]),
            true,
        ),
        // A tag named like the default branch is not the branch.
        (
            github("push", "refs/tags/main", REPO, None),
            Always,
            Some("ref-refs/tags/main"),
            r(&["ref-refs/tags/main", "trusted"]),
            true,
        ),
        (
            github("release", "refs/tags/v1.2.0", REPO, None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github(
                "merge_group",
                "refs/heads/gh-readonly-queue/main/pr-5-abc",
                REPO,
                None,
            ),
            DefaultBranch,
            None,
            t,
            false,
        ),
        // Default branch unknown (no payload): never trusted.
        (
            github("push", "refs/heads/main", "{}", None),
            DefaultBranch,
            None,
            t,
            false,
        ),
        (
            github("push", "refs/heads/main", "{}", None),
            Always,
            Some("ref-refs/heads/main"),
            r(&["ref-refs/heads/main", "trusted"]),
            true,
        ),
        // ... and an event that may act on a pull request's code writes nothing without it.
        (
            github("pull_request_target", "refs/heads/main", "{}", None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("issue_comment", "refs/heads/main", "{}", None),
            Always,
            None,
            t,
            false,
        ),
        (
            github("workflow_run", "refs/heads/feature", REPO, None),
            Always,
            None,
            t,
            false,
        ),
    ]);
}

#[test]
fn every_gitlab_pipeline_source() {
    use Save::*;
    let t: &[&str] = r(&["trusted"]);
    let branch = |source: &'static str, b: &'static str| {
        gitlab(&[
            ("CI_PIPELINE_SOURCE", source),
            ("CI_COMMIT_BRANCH", b),
            ("CI_COMMIT_REF_NAME", b),
        ])
    };
    let mut rows: Vec<Row> = Vec::new();
    for source in [
        "push",
        "web",
        "schedule",
        "api",
        "trigger",
        "parent_pipeline",
        "chat",
        "webide",
    ] {
        rows.push((branch(source, "main"), Always, Some("trusted"), t, true));
        rows.push((
            branch(source, "main"),
            DefaultBranch,
            Some("trusted"),
            t,
            true,
        ));
        rows.push((
            branch(source, "feature"),
            Always,
            Some("ref-refs/heads/feature"),
            r(&["ref-refs/heads/feature", "trusted"]),
            true,
        ));
        rows.push((branch(source, "feature"), DefaultBranch, None, t, false));
    }
    // Sources that do not run the default branch's own pipeline as its members started it.
    for source in [
        "pipeline",
        "external",
        "security_orchestration_policy",
        "ondemand_dast_scan",
        "ondemand_dast_validation",
        "container_registry_push",
        "",
    ] {
        rows.push((branch(source, "main"), Always, None, t, false));
    }
    let mr = |iid: &'static str, source_project: &'static str, branch: &'static str| {
        gitlab(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", iid),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", source_project),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", branch),
            ("CI_COMMIT_REF_NAME", branch),
        ])
    };
    rows.extend([
        // Merge requests write their own namespace, never a branch name's: two forks'
        // `patch-1` stay apart, and one named like the default branch is not it.
        (
            mr("3", "200", "patch-1"),
            Always,
            Some("mr-3"),
            r(&["mr-3", "trusted"]),
            true,
        ),
        (
            mr("4", "300", "patch-1"),
            Always,
            Some("mr-4"),
            r(&["mr-4", "trusted"]),
            true,
        ),
        (
            mr("5", "100", "main"),
            Always,
            Some("mr-5"),
            r(&["mr-5", "trusted"]),
            true,
        ),
        (mr("5", "100", "main"), DefaultBranch, None, t, false),
        (
            mr("3", "200", "patch-1"),
            PullRequests,
            Some("mr-3"),
            r(&["mr-3", "trusted"]),
            true,
        ),
        (
            gitlab(&[
                ("CI_PIPELINE_SOURCE", "external_pull_request_event"),
                ("CI_EXTERNAL_PULL_REQUEST_IID", "6"),
                ("CI_COMMIT_BRANCH", "main"),
            ]),
            Always,
            Some("pr-6"),
            r(&["pr-6", "trusted"]),
            true,
        ),
        // Tags are never the default branch, even when named like it.
        (
            gitlab(&[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_TAG", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
            ]),
            Always,
            Some("ref-refs/tags/main"),
            r(&["ref-refs/tags/main", "trusted"]),
            true,
        ),
        (
            gitlab(&[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_TAG", "v1"),
                ("CI_COMMIT_REF_NAME", "v1"),
            ]),
            DefaultBranch,
            None,
            t,
            false,
        ),
        // A child pipeline of a merge request pipeline carries the merge request.
        (
            gitlab(&[
                ("CI_PIPELINE_SOURCE", "parent_pipeline"),
                ("CI_MERGE_REQUEST_IID", "3"),
                ("CI_COMMIT_BRANCH", "main"),
            ]),
            Always,
            Some("mr-3"),
            r(&["mr-3", "trusted"]),
            true,
        ),
        // The name alone (CI_COMMIT_REF_NAME without CI_COMMIT_BRANCH) does not make a branch.
        (
            gitlab(&[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_REF_NAME", "main"),
            ]),
            Always,
            None,
            t,
            false,
        ),
    ]);
    check(rows);
}

#[test]
fn outside_ci() {
    let ctx = Context::from_env(|_| None, None, None);
    let d = decide(&ctx, &Policy::default());
    assert_eq!(d.write.as_deref(), Some("local"));
    assert_eq!(d.read, ["local", "trusted"]);
    assert!(!d.trusted);
    assert_eq!(decide(&ctx, &policy(Save::DefaultBranch)).write, None);
}

#[test]
fn overrides_cannot_make_untrusted_code_write_trusted() {
    let pr = github("pull_request_target", "refs/heads/main", PR, None);
    let push = github("push", "refs/heads/main", REPO, None);
    let feature = github("push", "refs/heads/feature", REPO, None);
    let with = |ns: Option<&str>, read: &[&str], save: Save| Policy {
        save,
        namespace: ns.map(str::to_string),
        read_namespaces: read.iter().map(|s| s.to_string()).collect(),
        ..Policy::default()
    };
    let d = decide(&pr, &with(Some("trusted"), r(&[]), Save::Always));
    assert_eq!(d.write, None);
    assert!(d.write_why.contains("refused"), "{}", d.write_why);
    // Another name is the user's to give; the read order keeps theirs, without repeats.
    let d = decide(
        &feature,
        &with(
            Some("shared"),
            r(&["shared", "trusted", "shared"]),
            Save::Always,
        ),
    );
    assert_eq!(d.write.as_deref(), Some("shared"));
    assert_eq!(d.read, ["shared", "trusted"]);
    // A job that writes `trusted` reads nothing less trusted, whatever it is told.
    let d = decide(
        &push,
        &with(None, r(&["pr-7", "trusted"]), Save::DefaultBranch),
    );
    assert_eq!(d.read, ["trusted"]);
    // remote-read-only stops the remote, not the archives.
    let d = decide(
        &push,
        &Policy {
            remote_read_only: true,
            ..policy(Save::DefaultBranch)
        },
    );
    assert_eq!((d.write, d.archives), (None, true));
    assert_eq!(d.read, ["trusted"]);
    let d = decide(
        &push,
        &Policy {
            lookup_only: true,
            ..policy(Save::Always)
        },
    );
    assert_eq!((d.write, d.archives), (None, false));
}

#[test]
fn the_default_branch_can_be_named() {
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/develop"),
    ];
    let env = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let p: serde_json::Value = serde_json::from_str(REPO).unwrap();
    assert!(!decide(&Context::from_env(env, Some(&p), None), &Policy::default()).trusted);
    assert!(
        decide(
            &Context::from_env(env, Some(&p), Some("develop")),
            &Policy::default()
        )
        .trusted
    );
}
