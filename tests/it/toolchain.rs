//! `keys` under `GOTOOLCHAIN=local` (what actions/setup-go v6+ exports) on a module whose
//! go.mod needs a newer Go than the installed one: keys succeed for the installed Go with one
//! clear warning, nothing is downloaded, and the user's own `go` command is what fails.

use serde_json::Value;

use crate::util::TestEnv;

/// The installed Go's version (`go1.26.8`) and the next minor version as a go line (`1.27`).
fn installed_and_next() -> (String, String) {
    let t = TestEnv::new();
    let out = t.go_ok(t.root(), &["env", "GOVERSION"]);
    let installed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let minor: u32 = installed
        .trim_start_matches("go1.")
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (installed, format!("1.{}", minor + 1))
}

#[test]
fn keys_warn_when_gotoolchain_local_cannot_run_the_go_line() {
    let (installed, next) = installed_and_next();
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let before = t.keys_json(&m, &[]);
    let gomod = m.join("go.mod");
    let text = std::fs::read_to_string(&gomod).unwrap();
    std::fs::write(&gomod, text.replace("go 1.22", &format!("go {next}"))).unwrap();

    for (ci, marker) in [
        (None, "go-ci-cache: warning: "),
        (Some("true"), "::warning title=go-ci-cache::"),
    ] {
        let mut cmd = t.bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()]);
        cmd.env("GOTOOLCHAIN", "local");
        if let Some(v) = ci {
            cmd.env("GITHUB_ACTIONS", v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "keys must not fail the job: {err}");
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with(marker)).collect();
        assert_eq!(warnings.len(), 1, "one warning: {err}");
        let w = warnings[0];
        assert!(w.contains(&format!("(`go {next}`)")), "{w}");
        assert!(w.contains(&format!("installed ({installed})")), "{w}");
        assert!(w.contains("GOTOOLCHAIN=`local` forbids switching"), "{w}");
        assert!(w.contains("go-version-file: go.mod"), "{w}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        // Keyed for the Go that is installed and will run.
        let key = v["build"]["key"].as_str().unwrap();
        assert!(key.contains(&format!("-{installed}-")), "{key}");
        assert_eq!(v["inputs"]["go"]["GOVERSION"], installed.as_str());
        assert_ne!(
            v["modules"]["key"], before["modules"]["key"],
            "go.mod changed"
        );
    }
    assert!(
        !t.gomodcache().join("golang.org/toolchain").exists(),
        "no toolchain may be downloaded under GOTOOLCHAIN=local"
    );

    // The user's own step is what fails, with Go's message.
    let out = t
        .go(&m)
        .env("GOTOOLCHAIN", "local")
        .args(["build", "./..."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("requires go >= {next}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A `toolchain` line newer than the installed Go counts too; GOTOOLCHAIN=auto is silent
    // about it (it would switch; GOPROXY=off here so nothing is fetched by `go env`).
    std::fs::write(
        &gomod,
        format!("{text}\ntoolchain go{next}.1\n").replace("go 1.22", "go 1.21"),
    )
    .unwrap();
    let out = t
        .bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("(`go 1.21`, `toolchain go{next}.1`)")),
        "{err}"
    );
}

#[test]
fn keys_are_silent_when_the_installed_go_is_new_enough() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let out = t
        .bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
