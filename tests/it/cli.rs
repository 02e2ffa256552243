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
fn a_go_mod_that_does_not_parse_is_a_usage_error() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    std::fs::write(
        m.join("go.mod"),
        "module m\n\ngo 1.22\nthis is not go.mod syntax\n",
    )
    .unwrap();
    // `go env` tolerates the broken go.mod; keys must not.
    assert!(
        t.go(&m)
            .args(["env", "GOMOD"])
            .output()
            .unwrap()
            .status
            .success()
    );
    for cmd in ["keys", "plan"] {
        let out = t.bin(&[cmd, "--dir"]).arg(&m).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("go.mod` does not parse: line 4: unknown directive: this")
                && err.contains("\nhint: "),
            "{cmd}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn goflags_that_go_accepts_are_accepted() {
    let t = TestEnv::new();
    let m = t.module("m", &[]);
    let plain = t.keys_json(&m, &[]);
    for goflags in [
        "-modcacherw -count=1",
        "-modcacherw -timeout=20m",
        "-modcacherw -vet=off",
        "-modcacherw -json -run=TestX -v -failfast -shuffle=on",
    ] {
        for cmd in ["keys", "prepare", "plan"] {
            let out = t
                .bin(&[cmd, "--dir"])
                .arg(&m)
                .env("GOFLAGS", goflags)
                .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "GOFLAGS={goflags} {cmd}: {err}");
            assert!(!err.contains("warning"), "GOFLAGS={goflags} {cmd}: {err}");
        }
        let out = t
            .bin(&["keys", "--format", "json", "--dir"])
            .arg(&m)
            .env("GOFLAGS", goflags)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["build"]["key"], plain["build"]["key"],
            "GOFLAGS={goflags}"
        );
    }
    // Test flags in --build-flags are fine too, and key nothing.
    let v = t.keys_json(&m, &["--build-flags=-count=1 -timeout 20m -vet=off"]);
    assert_eq!(v["build"]["key"], plain["build"]["key"]);
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
