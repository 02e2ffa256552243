//! Table tests for the key model: which input changes which layer, the restore-prefix
//! invariant, order independence, limits and pinned golden keys.

use super::*;

fn base() -> KeyInputs {
    KeyInputs {
        prefix: "go-ci-cache".into(),
        host_os: "linux".into(),
        goos: "linux".into(),
        goarch: "amd64".into(),
        go_version: "go1.26.8".into(),
        fingerprint: vec![
            Input::new("GOVERSION", "go1.26.8"),
            Input::new("GOOS", "linux"),
            Input::new("GOARCH", "amd64"),
            Input::new("GOAMD64", "v1"),
            Input::new("CGO_ENABLED", "0"),
            Input::new("GOFLAGS", ""),
            Input::new("--build-flags", ""),
            Input::new("GOMODCACHE", "/home/runner/go/pkg/mod"),
        ],
        project: vec![
            Input::new("module", "example.com/app"),
            Input::new("module", "example.com/app/svc"),
        ],
        dependencies: vec![
            Input::new("go.mod", "aa".repeat(32)),
            Input::new("go.sum", "bb".repeat(32)),
            Input::new("svc/go.mod", "cc".repeat(32)),
        ],
        rolling: None,
    }
}

fn set(inputs: &mut [Input], name: &str, value: &str) {
    inputs.iter_mut().find(|i| i.name == name).unwrap().value = value.into();
}

fn layer_values(e: &EntryKeys) -> Vec<(&'static str, String)> {
    e.layers.iter().map(|l| (l.name, l.value.clone())).collect()
}

fn changed(a: &EntryKeys, b: &EntryKeys) -> Vec<&'static str> {
    let (la, lb) = (layer_values(a), layer_values(b));
    let mut names: Vec<&'static str> = la
        .iter()
        .zip(&lb)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.0)
        .collect();
    // Layers only one side has (the rolling suffix) count as changed.
    for extra in la.iter().skip(lb.len()).chain(lb.iter().skip(la.len())) {
        names.push(extra.0);
    }
    names
}

#[test]
fn each_input_changes_only_its_layers() {
    type Mutation = fn(&mut KeyInputs);
    let table: &[(&str, Mutation, &[&str], &[&str])] = &[
        (
            "go.sum content",
            |k| set(&mut k.dependencies, "go.sum", &"dd".repeat(32)),
            &["deps"],
            &["deps"],
        ),
        (
            "a new module",
            |k| k.dependencies.push(Input::new("tools/go.mod", "ee")),
            &["deps"],
            &["deps"],
        ),
        (
            "GOWORK=off",
            |k| k.dependencies.push(Input::new("GOWORK", "off")),
            &["deps"],
            &["deps"],
        ),
        (
            "Go patch version",
            |k| {
                k.go_version = "go1.26.9".into();
                set(&mut k.fingerprint, "GOVERSION", "go1.26.9");
            },
            &[],
            &["go", "fingerprint"],
        ),
        (
            "GOARCH",
            |k| {
                k.goarch = "arm64".into();
                set(&mut k.fingerprint, "GOARCH", "arm64");
            },
            &[],
            &["target", "fingerprint"],
        ),
        (
            "GOOS (cross build)",
            |k| {
                k.goos = "windows".into();
                set(&mut k.fingerprint, "GOOS", "windows");
            },
            &[],
            &["target", "fingerprint"],
        ),
        ("host OS", |k| k.host_os = "darwin".into(), &["os"], &[]),
        (
            "arch level",
            |k| set(&mut k.fingerprint, "GOAMD64", "v3"),
            &[],
            &["fingerprint"],
        ),
        (
            "CGO_ENABLED",
            |k| set(&mut k.fingerprint, "CGO_ENABLED", "1"),
            &[],
            &["fingerprint"],
        ),
        (
            "-race",
            |k| set(&mut k.fingerprint, "--build-flags", "-race"),
            &[],
            &["fingerprint"],
        ),
        (
            "GOFLAGS",
            |k| set(&mut k.fingerprint, "GOFLAGS", "-tags=integration"),
            &[],
            &["fingerprint"],
        ),
        (
            "GOMODCACHE path",
            |k| set(&mut k.fingerprint, "GOMODCACHE", "/builds/x/.go/mod"),
            &[],
            &["fingerprint"],
        ),
        (
            "GOEXPERIMENT",
            |k| {
                k.fingerprint
                    .push(Input::new("GOEXPERIMENT", "nogreenteagc"))
            },
            &[],
            &["fingerprint"],
        ),
        (
            "prefix",
            |k| k.prefix = "team-a".into(),
            &["prefix"],
            &["prefix"],
        ),
        (
            "another module of the repository (a sibling job of a monorepo matrix)",
            |k| k.project = vec![Input::new("module", "example.com/app/tools")],
            &["project"],
            &["project"],
        ),
        (
            "rolling suffix",
            |k| k.rolling = Some("2026-11-24".into()),
            &[],
            &["rolling"],
        ),
    ];
    let before = compute(&base()).unwrap();
    for (what, mutate, mod_layers, build_layers) in table {
        let mut inp = base();
        mutate(&mut inp);
        let after = compute(&inp).unwrap();
        assert_eq!(
            &changed(&before.modules, &after.modules),
            mod_layers,
            "{what}: modules layers"
        );
        assert_eq!(
            &changed(&before.build, &after.build),
            build_layers,
            "{what}: build layers"
        );
        assert_ne!(
            (
                before.modules.key == after.modules.key,
                before.build.key == after.build.key
            ),
            (true, true),
            "{what} changed no key"
        );
    }
}

#[test]
fn unchanged_inputs_give_identical_keys() {
    assert_eq!(compute(&base()).unwrap(), compute(&base()).unwrap());
}

#[test]
fn input_order_does_not_matter() {
    let mut shuffled = base();
    shuffled.dependencies.reverse();
    shuffled.fingerprint.rotate_left(3);
    let (a, b) = (compute(&base()).unwrap(), compute(&shuffled).unwrap());
    assert_eq!(a.modules.key, b.modules.key);
    assert_eq!(a.build.key, b.build.key);
}

#[test]
fn paths_sort_by_component_not_by_string() {
    // `a.b/go.sum` sorts before `a/go.sum` as a string but after it by component; the digest
    // must be the same whichever order discovery produced.
    let x = vec![Input::new("a/go.sum", "1"), Input::new("a.b/go.sum", "2")];
    let mut y = x.clone();
    y.reverse();
    assert_eq!(layer_digest(&x), layer_digest(&y));
}

fn check_restore_invariants(e: &EntryKeys) {
    assert!(!e.restore_keys.is_empty());
    assert!(e.restore_keys.len() <= MAX_RESTORE_KEYS);
    assert!(e.fallback_keys.len() <= MAX_FALLBACK_KEYS);
    let mut prev = e.key.len() + 1;
    for (r, f) in e.restore_keys.iter().zip(&e.fallback_keys) {
        assert!(
            e.key.starts_with(r.as_str()),
            "`{r}` is not a prefix of `{}`",
            e.key
        );
        assert!(r.len() < e.key.len(), "`{r}` is not a strict prefix");
        assert!(r.len() < prev, "restore keys are not most-specific first");
        assert!(r.ends_with('-'));
        assert_eq!(format!("{f}-"), *r);
        prev = r.len();
    }
    for k in std::iter::once(&e.key).chain(&e.restore_keys) {
        assert!(k.len() <= MAX_KEY_LEN);
        assert!(
            !k.contains(',') && !k.contains('/') && !k.contains(char::is_whitespace),
            "`{k}`"
        );
    }
}

#[test]
fn restore_keys_are_strict_prefixes_most_specific_first() {
    let mut rolling = base();
    rolling.rolling = Some("run-42".into());
    for inp in [base(), rolling] {
        let k = compute(&inp).unwrap();
        check_restore_invariants(&k.modules);
        check_restore_invariants(&k.build);
    }
}

#[test]
fn build_never_restores_across_go_version_or_fingerprint() {
    let k = compute(&base()).unwrap();
    let fp = &k
        .build
        .layers
        .iter()
        .find(|l| l.name == "fingerprint")
        .unwrap()
        .value;
    for r in &k.build.restore_keys {
        assert!(r.contains("go1.26.8-") && r.contains(fp.as_str()), "`{r}`");
    }
    // …and a patch version is never a prefix of a longer one.
    let mut other = base();
    other.go_version = "go1.26.80".into();
    let o = compute(&other).unwrap();
    assert!(!o.build.key.starts_with(&k.build.restore_keys[0]));
}

#[test]
fn modules_fall_back_to_the_project_then_to_any_module_cache_of_the_same_os() {
    let k = compute(&base()).unwrap();
    let project = &k.modules.layers[4].value;
    assert_eq!(
        k.modules.restore_keys,
        [
            format!("go-ci-cache-mod-v1-linux-{project}-"),
            "go-ci-cache-mod-v1-linux-".to_string()
        ]
    );
}

/// One module's job prunes what its saves supersede (older runs, older dependency sets of the
/// same project and configuration) and nothing of a sibling module's, whose entries share
/// every restore key but the project's.
#[test]
fn the_prune_scope_is_the_entry_kind_configuration_and_project() {
    let mut older = base();
    set(&mut older.dependencies, "go.sum", &"dd".repeat(32));
    older.rolling = Some("r1".into());
    let mut sibling = base();
    sibling.project = vec![Input::new("module", "example.com/app/tools")];
    let mut now = base();
    now.rolling = Some("r2".into());
    let (k, o, s) = (
        compute(&now).unwrap(),
        compute(&older).unwrap(),
        compute(&sibling).unwrap(),
    );
    for (e, old, sib) in [
        (&k.modules, &o.modules, &s.modules),
        (&k.build, &o.build, &s.build),
    ] {
        assert!(e.key.starts_with(&e.prune_prefix), "{}", e.prune_prefix);
        assert!(e.restore_keys.contains(&e.prune_prefix));
        assert!(
            old.key.starts_with(&e.prune_prefix),
            "superseded: {}",
            old.key
        );
        assert!(
            !sib.key.starts_with(&e.prune_prefix),
            "a sibling's: {}",
            sib.key
        );
        // Still a last-resort restore for a module whose job has no entry yet.
        assert!(sib.key.starts_with(e.restore_keys.last().unwrap().as_str()));
    }
}

#[test]
fn layer_digests_have_fixed_length() {
    let k = compute(&base()).unwrap();
    for l in k
        .build
        .layers
        .iter()
        .filter(|l| matches!(l.name, "fingerprint" | "deps"))
    {
        assert_eq!(l.value.len(), LAYER_HEX);
    }
    let empty = KeyInputs {
        dependencies: vec![Input::new("go.mod", "ff")],
        ..base()
    };
    let e = compute(&empty).unwrap();
    assert_eq!(e.modules.layers.last().unwrap().value.len(), LAYER_HEX);
}

#[test]
fn odd_go_versions_become_safe_segments() {
    let inp = KeyInputs {
        go_version: "devel go1.27-4f2a1b3 Tue Nov 24 10:00:00 2026 +0000/x,y".into(),
        ..base()
    };
    let k = compute(&inp).unwrap();
    check_restore_invariants(&k.build);
}

#[test]
fn bad_labels_are_usage_errors() {
    for prefix in ["", "a/b", "a,b", "has space", &"x".repeat(65)] {
        let inp = KeyInputs {
            prefix: prefix.into(),
            ..base()
        };
        let err = compute(&inp).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2, "{prefix:?}");
        assert!(err.to_string().contains("--key-prefix"), "{err}");
    }
    let inp = KeyInputs {
        rolling: Some("2026/11".into()),
        ..base()
    };
    assert!(
        compute(&inp)
            .unwrap_err()
            .to_string()
            .contains("--rolling-suffix")
    );
}

/// Pinned keys: if this fails, the key format changed. That invalidates every user's cache, so
/// bump SCHEMA and add a "Cache key change" entry to the CHANGELOG instead of editing the strings.
#[test]
fn golden_keys() {
    let k = compute(&base()).unwrap();
    assert_eq!(
        k.modules.key,
        "go-ci-cache-mod-v1-linux-b0ddd1ba52c8385d-46e0990841be9b67"
    );
    assert_eq!(
        k.build.key,
        "go-ci-cache-build-v1-linux-amd64-go1.26.8-944b16986f4bd7cc-b0ddd1ba52c8385d-46e0990841be9b67"
    );
    assert_eq!(
        k.build.restore_keys,
        [
            "go-ci-cache-build-v1-linux-amd64-go1.26.8-944b16986f4bd7cc-b0ddd1ba52c8385d-",
            "go-ci-cache-build-v1-linux-amd64-go1.26.8-944b16986f4bd7cc-"
        ]
    );
    assert_eq!(k.build.prune_prefix, k.build.restore_keys[0]);
}

#[test]
fn manifest_scope_follows_the_configuration_and_the_project_not_the_dependencies() {
    // Golden: the name the action has given manifests since they were scoped (its digest of
    // the layers before `project`), so existing stores' manifests keep matching.
    let lit = |name, value: &str| Layer {
        name,
        value: value.to_string(),
        inputs: Vec::new(),
    };
    let golden = entry(
        vec![
            lit("prefix", "go-ci-cache"),
            lit("entry", "build"),
            lit("schema", "v1"),
            lit("target", "linux-amd64"),
            lit("go", "go1.26.8"),
            lit("fingerprint", "fp0123"),
            lit("project", "proj45"),
            lit("deps", "deps6789"),
        ],
        6,
    );
    assert_eq!(
        manifest_scope(&golden),
        ManifestScope {
            configuration: "0469275679ae".into(),
            project: "proj45".into()
        }
    );

    let scope = |i: &KeyInputs| manifest_scope(&compute(i).unwrap().build);
    let b = scope(&base());
    let mut bump = base();
    bump.dependencies[1] = Input::new("go.sum", "dd".repeat(32));
    assert_eq!(scope(&bump), b, "a dependency bump keeps the manifest");
    let mut rolling = base();
    rolling.rolling = Some("r7".into());
    assert_eq!(scope(&rolling), b, "so does the run");
    let mut module = base();
    module.project = vec![Input::new("module", "example.com/other")];
    let m = scope(&module);
    assert_eq!(
        m.configuration, b.configuration,
        "another module: a sibling"
    );
    assert_ne!(m.project, b.project);
    for change in [
        |i: &mut KeyInputs| i.go_version = "go1.27.3".into(),
        |i: &mut KeyInputs| i.goarch = "arm64".into(),
        |i: &mut KeyInputs| i.fingerprint.push(Input::new("--build-flags", "-race")),
        |i: &mut KeyInputs| i.prefix = "other".into(),
    ] {
        let mut i = base();
        change(&mut i);
        let c = scope(&i);
        assert_ne!(c.configuration, b.configuration, "{c:?}");
        assert_eq!(c.project, b.project);
    }
}
