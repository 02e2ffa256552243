//! `plan` and `keys` end to end: the real binary and the real `go` on modules in temp dirs.

use std::path::Path;

use serde_json::Value;

use crate::util::{TestEnv, write_module};

fn files(v: &Value) -> Vec<String> {
    v["inputs"]["dependency_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn key(v: &Value, entry: &str) -> String {
    v[entry]["key"].as_str().unwrap().to_string()
}

#[test]
fn single_module_json_contract() {
    let t = TestEnv::new();
    let m = t.module_with("app", &["example.com/greet"], &["example.com/testonly"]);
    let v = t.keys_json(&m, &[]);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["project"]["mode"], "module");
    assert_eq!(files(&v), ["go.mod", "go.sum"]);
    assert_eq!(v["modules"]["path"], t.gomodcache().to_str().unwrap());
    assert_eq!(v["build"]["path"], t.gocache().to_str().unwrap());
    let go_version = String::from_utf8(t.go_ok(&m, &["env", "GOVERSION"]).stdout).unwrap();
    assert!(key(&v, "build").contains(&format!("-{}-", go_version.trim())));
    for e in ["modules", "build"] {
        let k = key(&v, e);
        for r in v[e]["restore_keys"].as_array().unwrap() {
            assert!(k.starts_with(r.as_str().unwrap()));
        }
    }
    // Stable across runs, and across checkouts at another path.
    assert_eq!(t.keys_json(&m, &[]), v);
    let copy = t.root().join("elsewhere/app");
    copy_dir(&m, &copy);
    let w = t.keys_json(&copy, &[]);
    assert_eq!(key(&w, "modules"), key(&v, "modules"));
    assert_eq!(key(&w, "build"), key(&v, "build"));
    // From a package subdirectory the module root is found.
    let sub = t.keys_json(&m.join("lib"), &[]);
    assert_eq!(key(&sub, "build"), key(&v, "build"));
}

#[test]
fn module_without_dependencies_gets_a_valid_key() {
    let t = TestEnv::new();
    let m = t.module("nodeps", &[]);
    assert!(!m.join("go.sum").exists());
    let v = t.keys_json(&m, &[]);
    assert_eq!(files(&v), ["go.mod"]);
    assert!(key(&v, "modules").len() > 20);
}

#[test]
fn dependency_bump_changes_the_deps_layer_only() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet@v1.0.0"]);
    let before = t.keys_json(&m, &[]);
    t.go_ok(&m, &["get", "example.com/greet@v1.1.0"]);
    let after = t.keys_json(&m, &[]);
    assert_ne!(key(&before, "modules"), key(&after, "modules"));
    assert_ne!(key(&before, "build"), key(&after, "build"));
    // …and the old key's restore prefix still matches the new key.
    let r = before["build"]["restore_keys"][0].as_str().unwrap();
    assert!(key(&after, "build").starts_with(r));
    let r = before["modules"]["restore_keys"][0].as_str().unwrap();
    assert!(key(&after, "modules").starts_with(r));
}

#[test]
fn build_flags_and_trimpath() {
    let mut t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let plain = t.keys_json(&m, &[]);
    let race = t.keys_json(&m, &["--build-flags=-race"]);
    assert_eq!(key(&plain, "modules"), key(&race, "modules"));
    assert_ne!(key(&plain, "build"), key(&race, "build"));
    let trim = t.keys_json(&m, &["--build-flags=-trimpath"]);
    // Another GOMODCACHE path: without -trimpath the build key changes, with it it does not.
    let other = t.root().join("other-modcache");
    t.set_gomodcache(other);
    assert_ne!(key(&t.keys_json(&m, &[]), "build"), key(&plain, "build"));
    assert_eq!(
        key(&t.keys_json(&m, &["--build-flags=-trimpath"]), "build"),
        key(&trim, "build")
    );
    // Modules key never depends on where the cache lives.
    assert_eq!(
        key(&t.keys_json(&m, &[]), "modules"),
        key(&plain, "modules")
    );
    // GOFLAGS counts like flags.
    let mut cmd = t.bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()]);
    cmd.env("GOFLAGS", "-tags=integration");
    let out: Value = serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap();
    assert_ne!(key(&out, "build"), key(&t.keys_json(&m, &[]), "build"));
}

#[test]
fn multi_module_repository() {
    let t = TestEnv::new();
    let repo = t.root().join("repo");
    write_module(
        &repo.join("svc/a"),
        "example.com/a",
        &["example.com/greet"],
        &[],
    );
    write_module(
        &repo.join("svc/b"),
        "example.com/b",
        &[],
        &["example.com/testonly"],
    );
    for d in ["svc/a", "svc/b"] {
        t.go_ok(&repo.join(d), &["mod", "tidy"]);
    }
    // Decoys that must not take part.
    for decoy in [
        "svc/a/vendor/x",
        "svc/a/testdata/y",
        "node_modules/z",
        ".hidden/w",
        "_old/v",
    ] {
        write_module(&repo.join(decoy), "example.com/decoy", &[], &[]);
    }
    let v = t.keys_json(&repo, &[]);
    assert_eq!(v["project"]["mode"], "multi-module");
    assert_eq!(
        v["project"]["modules"],
        serde_json::json!(["svc/a", "svc/b"])
    );
    assert_eq!(
        files(&v),
        [
            "svc/a/go.mod",
            "svc/a/go.sum",
            "svc/b/go.mod",
            "svc/b/go.sum"
        ]
    );
    // A change in one module's go.sum changes the shared deps layer.
    std::fs::write(repo.join("svc/b/go.sum"), "").unwrap();
    assert_ne!(key(&t.keys_json(&repo, &[]), "modules"), key(&v, "modules"));
    // Explicit globs replace discovery.
    let g = t.keys_json(&repo, &["--dependency-files", "svc/a/go.sum\nsvc/*/go.mod"]);
    assert_eq!(files(&g), ["svc/a/go.mod", "svc/a/go.sum", "svc/b/go.mod"]);
}

#[test]
fn go_work_workspace() {
    let t = TestEnv::new();
    let ws = t.root().join("ws");
    write_module(&ws.join("a"), "example.com/a", &["example.com/greet"], &[]);
    write_module(&ws.join("b"), "example.com/b", &[], &[]);
    write_module(&ws.join("unused"), "example.com/unused", &[], &[]);
    t.go_ok(&ws.join("a"), &["mod", "tidy"]);
    t.go_ok(&ws, &["work", "init", "./a", "./b"]);
    t.go_ok(&ws, &["work", "sync"]);
    let v = t.keys_json(&ws, &[]);
    assert_eq!(v["project"]["mode"], "workspace");
    assert_eq!(v["project"]["workspace"], "go.work");
    assert_eq!(v["project"]["modules"], serde_json::json!(["a", "b"]));
    let f = files(&v);
    assert!(
        f.contains(&"go.work".to_string()) && f.contains(&"a/go.sum".to_string()),
        "{f:?}"
    );
    assert!(!f.iter().any(|p| p.starts_with("unused")), "{f:?}");
    // go.work.sum takes part when present.
    std::fs::write(ws.join("go.work.sum"), "example.com/x v1.0.0 h1:abc=\n").unwrap();
    let w = t.keys_json(&ws, &[]);
    assert!(files(&w).contains(&"go.work.sum".to_string()));
    assert_ne!(key(&w, "modules"), key(&v, "modules"));
    // GOWORK=off: the module alone, and a different key.
    let mut cmd = t.bin(&[
        "keys",
        "--format",
        "json",
        "--dir",
        ws.join("a").to_str().unwrap(),
    ]);
    cmd.env("GOWORK", "off");
    let off: Value = serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap();
    assert_eq!(off["project"]["mode"], "module");
    assert_ne!(key(&off, "modules"), key(&v, "modules"));
}

#[test]
fn vendored_module() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    t.go_ok(&m, &["mod", "vendor"]);
    let v = t.keys_json(&m, &[]);
    assert_eq!(files(&v), ["go.mod", "go.sum", "vendor/modules.txt"]);
    let mut txt = std::fs::read_to_string(m.join("vendor/modules.txt")).unwrap();
    txt.push_str("# changed\n");
    std::fs::write(m.join("vendor/modules.txt"), txt).unwrap();
    assert_ne!(key(&t.keys_json(&m, &[]), "modules"), key(&v, "modules"));
}

#[test]
fn github_gitlab_and_auto_formats_write_ci_files() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let v = t.keys_json(&m, &[]);
    let gh_out = t.root().join("gh_output");
    let gh_env = t.root().join("gh_env");
    std::fs::write(&gh_out, "earlier=1\n").unwrap();
    let out = t
        .bin(&["keys", "--export-env", "--dir", m.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &gh_out)
        .env("GITHUB_ENV", &gh_env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&gh_out).unwrap();
    assert!(text.starts_with("earlier=1\n"), "appends");
    let parsed = parse_github_file(&text);
    assert_eq!(parsed["build-key"], key(&v, "build"));
    assert_eq!(
        parsed["modules-restore-keys"],
        v["modules"]["restore_keys"][0].as_str().unwrap()
    );
    let env = parse_github_file(&std::fs::read_to_string(&gh_env).unwrap());
    assert_eq!(env["GOCACHE"], t.gocache().to_str().unwrap());

    let dotenv = t.root().join("keys.env");
    let out = t
        .bin(&[
            "keys",
            "--dir",
            m.to_str().unwrap(),
            "--output",
            dotenv.to_str().unwrap(),
        ])
        .env("GITLAB_CI", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = std::fs::read_to_string(&dotenv).unwrap();
    assert!(
        d.contains(&format!("GO_CI_CACHE_BUILD_KEY={}\n", key(&v, "build"))),
        "{d}"
    );
    assert!(d.contains("GO_CI_CACHE_MODULES_FALLBACK_KEY_1="), "{d}");

    // Outside CI, auto means text.
    let text = t.bin_ok(&["keys", "--dir", m.to_str().unwrap()]);
    assert!(
        text.contains("build-key") && text.contains(&key(&v, "build")),
        "{text}"
    );
    // Shell output evaluates in a real shell.
    let sh = t.bin_ok(&["keys", "--format", "shell", "--dir", m.to_str().unwrap()]);
    let echoed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{sh}\nprintf %s \"$GO_CI_CACHE_BUILD_KEY\""))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), key(&v, "build"));
}

#[test]
fn plan_shows_inputs_layers_and_sizes() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    let out = t.bin_ok(&["plan", "--dir", m.to_str().unwrap(), "--build-flags=-race"]);
    for want in [
        "Dependency files (2)",
        "go.sum  sha256:",
        "Modules cache: GOMODCACHE=",
        "Build cache: GOCACHE=",
        "restore keys",
        "-race = on",
        "GOMODCACHE = ",
        "fingerprint",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let json: Value =
        serde_json::from_str(&t.bin_ok(&["plan", "--json", "--dir", m.to_str().unwrap()])).unwrap();
    assert!(json["modules_size"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn bundled_example_module() {
    // The README's run command targets this module; its keys must compute offline.
    let t = TestEnv::new();
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wordfreq");
    let v = t.keys_json(&ex, &[]);
    assert_eq!(files(&v), ["go.mod", "go.sum"]);
}

/// Parses `name<<DELIM\nvalue\nDELIM` records (and plain `name=value` lines).
fn parse_github_file(text: &str) -> std::collections::HashMap<String, String> {
    let mut map = std::collections::HashMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((name, delim)) = l.split_once("<<") {
            let mut value = Vec::new();
            for v in lines.by_ref() {
                if v == delim {
                    break;
                }
                value.push(v);
            }
            map.insert(name.to_string(), value.join("\n"));
        } else if let Some((n, v)) = l.split_once('=') {
            map.insert(n.to_string(), v.to_string());
        }
    }
    map
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}
