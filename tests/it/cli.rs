//! Usage errors: clear messages naming the input and the fix, exit status 2, nothing written.

use crate::util::TestEnv;

#[test]
fn unknown_format_is_a_usage_error() {
    let t = TestEnv::new();
    let out = t.bin(&["keys", "--format", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'yaml'"));
}

#[test]
fn not_a_go_module() {
    let t = TestEnv::new();
    let empty = t.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = t
        .bin(&["keys", "--format", "json"])
        .arg("--dir")
        .arg(&empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not a Go module") && err.contains("hint: run `go mod init"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_dir() {
    let t = TestEnv::new();
    let out = t
        .bin(&["plan", "--dir", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`/nonexistent/x`"));
}

#[test]
fn bad_build_flags_and_globs_and_prefix() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--build-flags=-race ./..."],
            "unexpected argument `./...` in --build-flags",
        ),
        (&["--build-flags=-nosuch"], "unknown build flag `-nosuch`"),
        (
            &["--dependency-files", "[z"],
            "invalid --dependency-files pattern `[z`",
        ),
        (&["--dependency-files", "nothing/*.sum"], "matches no file"),
        (&["--key-prefix", "a/b"], "invalid --key-prefix `a/b`"),
    ];
    for (args, want) in cases {
        let out = t
            .bin(&["keys", "--format", "json"])
            .arg("--dir")
            .arg(&m)
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.contains("\nhint: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn go_missing_from_path() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    let out = t
        .bin(&["plan"])
        .arg("--dir")
        .arg(&m)
        .env("GO_CI_CACHE_GO", "definitely-not-go")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`definitely-not-go` was not found on PATH") && err.contains("install Go"),
        "{err}"
    );
}

#[test]
fn failing_go_env_is_reported_with_its_stderr() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    std::fs::write(
        m.join("go.mod"),
        "module m\n\ngo 1.22\nthis is not go.mod syntax\n",
    )
    .unwrap();
    let out = t
        .bin(&["keys", "--format", "json"])
        .arg("--dir")
        .arg(&m)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // `go env` itself tolerates a broken go.mod in some versions; whichever step notices, the
    // result is a usage error that names the file.
    if out.status.success() {
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("go.mod"), "{err}");
}

#[test]
fn unwritable_output_leaves_nothing_behind() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    let gh = t.root().join("no-such-dir/output");
    let out = t
        .bin(&["keys", "--format", "github"])
        .arg("--dir")
        .arg(&m)
        .env("GITHUB_OUTPUT", &gh)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write the GitHub output file"), "{err}");
    assert!(!gh.exists());

    let out = t
        .bin(&["keys", "--format", "github"])
        .arg("--dir")
        .arg(&m)
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs `$GITHUB_OUTPUT`"));
}
