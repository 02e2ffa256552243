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

/// A matrix with one job per module of a monorepo: each job's entries are its own project's
/// (their prune scopes are disjoint, so no job's prune reaches a sibling's entries), a sibling's
/// entry stays the last restore key, and the project is named by module paths, not by where
/// the repository was checked out.
#[test]
fn each_module_of_a_monorepo_has_its_own_scope() {
    let t = TestEnv::new();
    let repo = t.root().join("repo");
    write_module(
        &repo.join("a"),
        "example.com/mono/a",
        &["example.com/greet"],
        &[],
    );
    write_module(
        &repo.join("b"),
        "example.com/mono/b",
        &["example.com/greet"],
        &[],
    );
    for d in ["a", "b"] {
        t.go_ok(&repo.join(d), &["mod", "tidy"]);
    }
    let (a, b) = (
        t.keys_json(&repo.join("a"), &[]),
        t.keys_json(&repo.join("b"), &[]),
    );
    for e in ["modules", "build"] {
        let (pa, pb) = (
            a[e]["prune_prefix"].as_str().unwrap(),
            b[e]["prune_prefix"].as_str().unwrap(),
        );
        assert!(
            key(&a, e).starts_with(pa) && key(&b, e).starts_with(pb),
            "{e}"
        );
        assert!(
            !key(&b, e).starts_with(pa) && !key(&a, e).starts_with(pb),
            "{e}: {pa} {pb}"
        );
        let last = |v: &Value| {
            v[e]["restore_keys"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone()
        };
        assert_eq!(
            last(&a),
            last(&b),
            "{e}: the configuration's fallback is shared"
        );
        assert!(key(&b, e).starts_with(last(&a).as_str().unwrap()));
    }
    let project = |v: &Value, e: &str| {
        v[e]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "project")
            .unwrap()
            .clone()
    };
    assert_eq!(
        project(&a, "build")["inputs"][0]["value"],
        "example.com/mono/a"
    );
    // Another checkout path, the same project.
    let moved = t.root().join("elsewhere");
    std::fs::rename(&repo, &moved).unwrap();
    let m = t.keys_json(&moved.join("a"), &[]);
    assert_eq!(project(&m, "build")["value"], project(&a, "build")["value"]);
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
    let restore: Vec<&str> = v["modules"]["restore_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(parsed["modules-restore-keys"], restore.join("\n"));
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

fn inputs_paths(v: &Value, field: &str) -> Vec<String> {
    v["inputs"][field]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn modfile_content_keys_the_caches() {
    let t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    std::fs::copy(m.join("go.mod"), m.join("alt.mod")).unwrap();
    std::fs::copy(m.join("go.sum"), m.join("alt.sum")).unwrap();
    let v = t.keys_json(&m, &["--build-flags=-modfile=alt.mod"]);
    assert_eq!(inputs_paths(&v, "modfile_files"), ["alt.mod", "alt.sum"]);
    let mut text = std::fs::read_to_string(m.join("alt.mod")).unwrap();
    text.push_str("// changed\n");
    std::fs::write(m.join("alt.mod"), text).unwrap();
    let w = t.keys_json(&m, &["--build-flags=-modfile=alt.mod"]);
    assert_ne!(key(&w, "modules"), key(&v, "modules"));
    assert_ne!(key(&w, "build"), key(&v, "build"));
    // From GOFLAGS as well.
    let out = t
        .bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()])
        .env("GOFLAGS", "-modcacherw -modfile=alt.mod")
        .output()
        .unwrap();
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(key(&g, "modules"), key(&w, "modules"));
}

#[test]
fn local_replace_targets_key_the_caches() {
    let t = TestEnv::new();
    let repo = t.root().join("repo");
    std::fs::create_dir_all(repo.join("app")).unwrap();
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    std::fs::write(
        repo.join("app/go.mod"),
        "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("lib/go.mod"),
        "module example.com/lib\n\ngo 1.22\n",
    )
    .unwrap();
    let v = t.keys_json(&repo.join("app"), &[]);
    assert_eq!(files(&v), ["../lib/go.mod", "go.mod"]);
    std::fs::write(
        repo.join("lib/go.mod"),
        "module example.com/lib\n\ngo 1.22\n\nrequire example.com/greet v1.0.0\n",
    )
    .unwrap();
    let w = t.keys_json(&repo.join("app"), &[]);
    assert_ne!(key(&w, "modules"), key(&v, "modules"));
}

#[test]
fn workspace_modules_outside_the_root_keep_keys_path_free() {
    let t = TestEnv::new();
    let top = t.root().join("one");
    write_module(&top.join("ws/a"), "example.com/a", &[], &[]);
    write_module(&top.join("outside"), "example.com/outside", &[], &[]);
    std::fs::write(
        top.join("ws/go.work"),
        "go 1.22\n\nuse (\n\t./a\n\t../outside\n)\n",
    )
    .unwrap();
    let v = t.keys_json(&top.join("ws"), &[]);
    assert_eq!(files(&v), ["../outside/go.mod", "a/go.mod", "go.work"]);
    let root = t.root().to_str().unwrap().to_string();
    for e in ["modules", "build"] {
        for l in v[e]["layers"].as_array().unwrap() {
            for i in l["inputs"].as_array().unwrap() {
                let name = i["name"].as_str().unwrap();
                assert!(!name.starts_with('/'), "absolute input {name}");
                if name != "GOMODCACHE" {
                    assert!(!i["value"].as_str().unwrap().contains(&root), "{i}");
                }
            }
        }
    }
    // The same checkout somewhere else: the same keys.
    let two = t.root().join("elsewhere/two");
    copy_dir(&top, &two);
    let w = t.keys_json(&two.join("ws"), &[]);
    assert_eq!(key(&w, "modules"), key(&v, "modules"));
    assert_eq!(key(&w, "build"), key(&v, "build"));
}

#[test]
fn pgo_file_is_read_where_go_runs_and_off_means_no_profile() {
    let t = TestEnv::new();
    let repo = t.root().join("repo");
    for d in ["a", "b"] {
        write_module(&repo.join(d), &format!("example.com/{d}"), &[], &[]);
        std::fs::write(repo.join(d).join("prof.pgo"), format!("profile {d}\n")).unwrap();
    }
    // A multi-module repository: go runs in each module, so -pgo=prof.pgo is each one's own.
    let v = t.keys_json(&repo, &["--build-flags=-pgo=prof.pgo"]);
    assert_eq!(inputs_paths(&v, "pgo_files"), ["a/prof.pgo", "b/prof.pgo"]);
    std::fs::write(repo.join("b/prof.pgo"), "another profile\n").unwrap();
    let w = t.keys_json(&repo, &["--build-flags=-pgo=prof.pgo"]);
    assert_ne!(key(&w, "build"), key(&v, "build"));
    assert_eq!(key(&w, "modules"), key(&v, "modules"));
    // auto (the default) uses default.pgo; -pgo=off uses none, and says so.
    std::fs::write(repo.join("a/default.pgo"), "auto profile\n").unwrap();
    // Only a main package's default.pgo counts (write_module's lib is not one).
    std::fs::write(repo.join("a/lib/default.pgo"), "not used\n").unwrap();
    let auto = t.keys_json(&repo, &[]);
    assert_eq!(inputs_paths(&auto, "pgo_files"), ["a/default.pgo"]);
    let off = t.keys_json(&repo, &["--build-flags=-pgo=off"]);
    assert_eq!(inputs_paths(&off, "pgo_files"), Vec::<String>::new());
    assert_ne!(key(&off, "build"), key(&auto, "build"));
    // A profile that is nowhere is a usage error naming it.
    let out = t
        .bin(&["keys", "--format", "json", "--dir", repo.to_str().unwrap()])
        .arg("--build-flags=-pgo=missing.pgo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pgo"));
}

#[test]
fn cgo_builds_key_on_the_runner_image() {
    let t = TestEnv::new();
    let m = t.module("app", &[]);
    let keys = |cgo: &str, env: &[(&str, &str)], extra: &[&str]| -> Value {
        let mut cmd = t.bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()]);
        cmd.args(extra).env("CGO_ENABLED", cgo);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let gh = |v: &'static str| [("ImageOS", "ubuntu24"), ("ImageVersion", v)];
    let a = keys("1", &gh("20261124.1"), &[]);
    let b = keys("1", &gh("20261201.2"), &[]);
    assert_eq!(a["inputs"]["runner_image"], "ubuntu24/20261124.1");
    assert_ne!(key(&a, "build"), key(&b, "build"));
    assert_eq!(key(&a, "modules"), key(&b, "modules"));
    let gl = |i: &'static str| [("CI_JOB_IMAGE", i)];
    assert_ne!(
        key(&keys("1", &gl("golang:1.26"), &[]), "build"),
        key(&keys("1", &gl("golang:1.26-alpine"), &[]), "build")
    );
    let explicit = keys("1", &[], &["--runner-image", "my-image@sha256:abc"]);
    assert_eq!(explicit["inputs"]["runner_image"], "my-image@sha256:abc");
    // cgo off: the image compiles nothing into the cache, so it keys nothing.
    assert_eq!(
        key(&keys("0", &gh("20261124.1"), &[]), "build"),
        key(&keys("0", &gh("20261201.2"), &[]), "build")
    );
}

#[test]
fn the_compiler_binary_keys_the_build_beyond_its_version_string() {
    let t = TestEnv::new();
    let m = t.module("app", &[]);
    let real = t.keys_json(&m, &[]);
    let fp = |v: &Value, name: &str| -> String {
        v["inputs"]["fingerprint"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["value"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(fp(&real, "compiler build ID").contains('/'), "{real}");
    // A toolchain with the same `go version` but another compiler build (a fork, a distro
    // patch): go env reports a GOTOOLDIR whose compile binary has another build ID.
    let fork = t.root().join("fork-tools");
    std::fs::create_dir_all(&fork).unwrap();
    std::fs::write(
        fork.join("compile"),
        b"\x7fELF....\xff Go build ID: \"fork/build\"\n \xff",
    )
    .unwrap();
    let go = String::from_utf8(t.go_ok(&m, &["env", "GOROOT"]).stdout).unwrap();
    let go = Path::new(go.trim()).join("bin/go");
    let wrapper = t.root().join("go-fork");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = env ]; then '{}' \"$@\" | sed 's#\"GOTOOLDIR\": \"[^\"]*\"#\"GOTOOLDIR\": \"{}\"#'; exit 0; fi\nexec '{}' \"$@\"\n",
            go.display(),
            fork.display(),
            go.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = t
        .bin(&["keys", "--format", "json", "--dir", m.to_str().unwrap()])
        .env("GO_CI_CACHE_GO", &wrapper)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let forked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fp(&forked, "compiler build ID"), "fork/build");
    assert_eq!(fp(&forked, "GOVERSION"), fp(&real, "GOVERSION"));
    assert_ne!(key(&forked, "build"), key(&real, "build"));
    assert_eq!(key(&forked, "modules"), key(&real, "modules"));
}

#[test]
fn plan_on_a_fresh_checkout_says_what_it_cannot_know() {
    let mut t = TestEnv::new();
    let m = t.module("app", &["example.com/greet"]);
    // A fresh runner: nothing downloaded yet.
    t.set_gomodcache(t.root().join("fresh-modcache"));
    let out = t.bin_ok(&["plan", "--dir", m.to_str().unwrap()]);
    assert!(
        out.contains(
            "third-party unknown: 1 imported package(s) are in modules not downloaded yet"
        ),
        "{out}"
    );
    assert!(!out.contains("third-party 0/0"), "{out}");
}
