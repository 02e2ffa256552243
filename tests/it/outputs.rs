//! Snapshot tests of every output format, rendered from one fixed synthetic job.

use std::path::PathBuf;

use go_ci_cache::go::env::GoEnv;
use go_ci_cache::go::flags::BuildFlags;
use go_ci_cache::job::{Job, KeyInputsArgs, Probes, key_inputs};
use go_ci_cache::output::doc::KeysDoc;
use go_ci_cache::output::plan;
use go_ci_cache::output::{self, github, gitlab, shell, text};
use go_ci_cache::project::{FileDigest, Mode, Project};
use go_ci_cache::{fsutil::DirSize, key};

fn sample_doc() -> KeysDoc {
    let env = GoEnv::from_pairs([
        ("GOVERSION", "go1.26.8"),
        ("GOOS", "linux"),
        ("GOARCH", "amd64"),
        ("GOAMD64", "v1"),
        ("GOHOSTOS", "linux"),
        ("GOHOSTARCH", "amd64"),
        ("CGO_ENABLED", "0"),
        ("GOFLAGS", "-mod=readonly"),
        ("GOCACHE", "/home/runner/.cache/go-build"),
        ("GOMODCACHE", "/home/runner/go/pkg/mod"),
        ("GOMOD", "/work/app/go.mod"),
        ("GOWORK", ""),
        ("GOTOOLCHAIN", "local"),
    ]);
    let project = Project {
        root: PathBuf::from("/work/app"),
        mode: Mode::Module,
        modules: vec![PathBuf::from("/work/app")],
        module_paths: vec!["example.com/app".into()],
        workspace: None,
        dependency_files: vec![
            FileDigest {
                path: "go.mod".into(),
                sha256: "1".repeat(64),
            },
            FileDigest {
                path: "go.sum".into(),
                sha256: "2".repeat(64),
            },
        ],
        pgo_files: vec![],
    };
    let flags = BuildFlags::parse("-race -tags 'integration slow'", "--build-flags").unwrap();
    let goflags = BuildFlags::parse_goflags(env.get("GOFLAGS")).unwrap();
    let probes = Probes {
        compiler_id: Some("B6uV7x0KcGH3Ap_nHzkk/d1N3ZgtZm3hzW5FF0x1Y".into()),
        ..Probes::default()
    };
    let inputs = key_inputs(&KeyInputsArgs {
        env: &env,
        project: &project,
        flags: &flags,
        goflags: &goflags,
        probes: &probes,
        pgo: &[],
        modfile: &[],
        prefix: "go-ci-cache",
        rolling: Some("w48"),
    });
    let keys = key::compute(&inputs).unwrap();
    KeysDoc::new(&Job {
        env,
        project,
        flags,
        goflags,
        probes,
        pgo: vec![],
        modfile: vec![],
        inputs,
        keys,
    })
}

#[test]
fn github_output() {
    let doc = sample_doc();
    let s = github::render(&output::outputs(&doc), "ghadelimiter_0123").unwrap();
    insta::assert_snapshot!("github_output", s);
    let env = github::render(&output::exported_env(&doc), "ghadelimiter_0123").unwrap();
    insta::assert_snapshot!("github_env", env);
}

#[test]
fn github_rejects_a_value_containing_the_delimiter() {
    let outs = vec![output::Output {
        name: "build-key".into(),
        value: "x\nghadelimiter_0123\ny".into(),
    }];
    let err = github::render(&outs, "ghadelimiter_0123").unwrap_err();
    assert!(err.to_string().contains("contains the delimiter"), "{err}");
    // A random delimiter is never the one planted in the value.
    let s = github::render_random(&outs).unwrap();
    let delim = s
        .lines()
        .next()
        .unwrap()
        .strip_prefix("build-key<<")
        .unwrap();
    assert!(delim.starts_with(github::DELIMITER_PREFIX) && delim.len() > 40);
    assert_eq!(
        s,
        format!("build-key<<{delim}\nx\nghadelimiter_0123\ny\n{delim}\n")
    );
}

#[test]
fn gitlab_dotenv() {
    let doc = sample_doc();
    let s = gitlab::render(&gitlab::variables(&doc, true)).unwrap();
    insta::assert_snapshot!("gitlab_dotenv", s);
    assert!(s.len() <= gitlab::MAX_DOTENV_BYTES);
}

#[test]
fn gitlab_dotenv_rules() {
    let bad = |name: &str, value: &str| {
        gitlab::render(&[output::Output {
            name: name.into(),
            value: value.into(),
        }])
        .unwrap_err()
        .to_string()
    };
    assert!(bad("A", "").contains("empty"));
    assert!(bad("A", "x\ny").contains("spans lines"));
    assert!(bad("A-B", "x").contains("not valid"));
    let big = "x".repeat(gitlab::MAX_DOTENV_BYTES);
    assert!(bad("A", &big).contains("over GitLab's limit"));
}

#[test]
fn gitlab_sections() {
    let s = gitlab::section_start(
        "go_ci_cache_report",
        "go-ci-cache report",
        1_700_000_000,
        true,
    ) + "body\n"
        + &gitlab::section_end("go_ci_cache_report", 1_700_000_001);
    insta::assert_snapshot!("gitlab_section", s.escape_debug().to_string());
}

#[test]
fn json() {
    let s = output::render_json(&sample_doc()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    for entry in ["modules", "build"] {
        assert!(v[entry]["key"].is_string());
        assert!(v[entry]["restore_keys"].is_array());
        assert!(v[entry]["path"].as_str().unwrap().starts_with('/'));
    }
    assert!(v["inputs"].is_object());
    insta::assert_snapshot!("json", s);
}

#[test]
fn shell_exports() {
    let doc = sample_doc();
    let s = shell::render(&output::outputs(&doc), &output::exported_env(&doc));
    insta::assert_snapshot!("shell", s);
    assert_eq!(shell::quote("it's"), r"'it'\''s'");
}

#[test]
fn text() {
    insta::assert_snapshot!("text", text::render(&output::outputs(&sample_doc())));
}

#[test]
fn report_formats() {
    use go_ci_cache::cache::state::*;
    let st = State {
        version: 1,
        gocache: "/c/build".into(),
        gomodcache: "/c/mod".into(),
        timings: [
            ("keys", 0.04),
            ("restore.modules.lookup", 0.11),
            ("restore.modules.download", 0.9),
            ("restore.modules.extract", 0.35),
            ("restore.build.lookup", 0.1),
            ("prepare", 0.02),
            ("warm", 3.5),
            ("trim", 0.21),
            ("save.build.compress", 1.2),
            ("save.build.upload", 0.8),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        claim: Some(ClaimReport {
            started_at: 1_700_000_000,
            lease: "00ff".into(),
            modules: Some(RootClaim {
                filled_before: true,
                held: Some("go-ci-cache-mod-v1-linux-0123".into()),
                why: "a job on this machine left it".into(),
                restore_keys: None,
            }),
            build: Some(RootClaim {
                filled_before: true,
                held: None,
                why: "the last job here of this configuration used another dependency set".into(),
                restore_keys: Some(vec!["go-ci-cache-build-v1-linux-amd64-0123-".into()]),
            }),
            warnings: vec![],
        }),
        machine: Some(go_ci_cache::cache::machine::Verdict {
            persistent: true,
            why: "an earlier job on this machine left its record in the cache directories".into(),
        }),
        restore: Some(RestoreInfo {
            modules_key: Some("go-ci-cache-mod-v1-linux-0123".into()),
            modules_hit: true,
            build_key: Some("go-ci-cache-build-v1-linux-amd64-go1.26.8-ab-".into()),
            build_hit: false,
        }),
        prepare: Some(PrepareReport {
            started_at: 1_700_000_000,
            backdated: 900,
            gocache: Some(DirSize {
                bytes: 90 << 20,
                files: 900,
            }),
            gomodcache: Some(DirSize {
                bytes: 30 << 20,
                files: 600,
            }),
            warnings: vec![],
            ..PrepareReport::default()
        }),
        warm: Some(WarmReport {
            before: Some(go_ci_cache::warm::coverage::Coverage {
                std_total: 209,
                std_cached: 209,
                third_party_total: 16,
                third_party_cached: 10,
                unavailable: 0,
                missing: 0,
                vet: None,
            }),
            after: Some(go_ci_cache::warm::coverage::Coverage {
                std_total: 209,
                std_cached: 209,
                third_party_total: 16,
                third_party_cached: 16,
                unavailable: 0,
                missing: 0,
                vet: Some(go_ci_cache::warm::coverage::VetCoverage {
                    total: 214,
                    cached: 214,
                }),
            }),
            steps: vec![WarmStep {
                dir: ".".into(),
                command: "go list -e -export -deps -test -x ./...".into(),
                compiled: 7,
                seconds: 2.5,
                ok: true,
            }],
            failed: vec![],
            seconds: 3.25,
            warnings: vec![],
        }),
        trim: Some(TrimReport {
            gocache: RootTrim {
                before: Some(DirSize {
                    bytes: 100 << 20,
                    files: 1000,
                }),
                after: Some(DirSize {
                    bytes: 80 << 20,
                    files: 800,
                }),
                removed: 200,
                removed_bytes: 20 << 20,
                failed: 0,
                skipped: None,
                added: Some(12),
                mode: Some("budget".into()),
                exclude_file: Some("/tmp/state.exclude-build".into()),
                excluded: 150,
            },
            gomodcache: RootTrim {
                skipped: Some("module cache off (--caches)".into()),
                ..RootTrim::default()
            },
            seconds: 0.12,
            dry_run: false,
            budget: Some(go_ci_cache::cache::budget::Budget {
                bytes: 10_000_000_000,
                source: "--budget".into(),
            }),
            warnings: vec!["cannot remove `/c/build/ab/x-d`: permission denied".into()],
        }),
        cacheprog: None,
    };
    insta::assert_snapshot!("report_text", go_ci_cache::output::report::text(&st));
    insta::assert_snapshot!(
        "report_markdown",
        go_ci_cache::output::report::markdown(&st)
    );
    insta::assert_snapshot!(
        "report_gitlab",
        go_ci_cache::output::report::gitlab_section(&st, 1, 2)
            .escape_debug()
            .to_string()
    );
}

#[test]
fn plan_preview() {
    let doc = plan::PlanDoc {
        keys: sample_doc(),
        modules_size: Some(DirSize {
            bytes: 3 * 1024 * 1024,
            files: 120,
        }),
        build_size: None,
        coverage: Some(go_ci_cache::warm::coverage::Coverage {
            std_total: 209,
            std_cached: 200,
            third_party_total: 16,
            third_party_cached: 3,
            unavailable: 0,
            missing: 0,
            vet: Some(go_ci_cache::warm::coverage::VetCoverage {
                total: 214,
                cached: 12,
            }),
        }),
        remote_cache: None,
    };
    insta::assert_snapshot!("plan", plan::render(&doc));
}
