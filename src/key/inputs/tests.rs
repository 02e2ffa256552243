//! Table tests of the job environment → key-input mapping: which change moves which layer,
//! canonical spellings, and that every go flag has a row.

use super::*;
use crate::key::compute;
use crate::project::Mode;

struct Case {
    env: Vec<(&'static str, &'static str)>,
    flags: &'static str,
    goflags: &'static str,
    probes: Probes,
    pgo: Vec<FileDigest>,
    modfile: Vec<FileDigest>,
    dep_files: Vec<FileDigest>,
}

fn base() -> Case {
    Case {
        env: vec![
            ("GOVERSION", "go1.26.8"),
            ("GOOS", "linux"),
            ("GOARCH", "amd64"),
            ("GOAMD64", "v1"),
            ("GOHOSTOS", "linux"),
            ("CGO_ENABLED", "0"),
            ("CC", "gcc"),
            ("CGO_CFLAGS", "-O2 -g"),
            ("GOMODCACHE", "/home/runner/go/pkg/mod"),
            ("GOCACHE", "/home/runner/.cache/go-build"),
            ("GOFLAGS", ""),
        ],
        flags: "",
        goflags: "",
        probes: Probes {
            compiler_id: Some("abc/def".into()),
            cc_version: Some("gcc 12.2.0".into()),
            runner_image: Some("ubuntu24/20261124.1".into()),
            process_env: vec![],
        },
        pgo: vec![],
        modfile: vec![],
        dep_files: vec![FileDigest {
            path: "go.mod".into(),
            sha256: "a".repeat(64),
        }],
    }
}

fn keys(c: &Case) -> (String, String) {
    let env = GoEnv::from_pairs(c.env.iter().copied());
    let project = Project {
        root: "/w".into(),
        mode: Mode::Module,
        modules: vec!["/w".into()],
        module_paths: vec!["example.com/w".into()],
        workspace: None,
        dependency_files: c.dep_files.clone(),
        pgo_files: vec![],
    };
    let flags = BuildFlags::parse(c.flags, "--build-flags").unwrap();
    let goflags = BuildFlags::parse_goflags(c.goflags).unwrap();
    let inp = key_inputs(&KeyInputsArgs {
        env: &env,
        project: &project,
        flags: &flags,
        goflags: &goflags,
        probes: &c.probes,
        pgo: &c.pgo,
        modfile: &c.modfile,
        prefix: "p",
        rolling: None,
    });
    let k = compute(&inp).unwrap();
    let layer = |n| {
        k.build
            .layers
            .iter()
            .find(|l| l.name == n)
            .unwrap()
            .value
            .clone()
    };
    (layer("fingerprint"), layer("deps"))
}

fn set_env(c: &mut Case, k: &'static str, v: &'static str) {
    match c.env.iter_mut().find(|(n, _)| *n == k) {
        Some(e) => e.1 = v,
        None => c.env.push((k, v)),
    }
}

fn digest(p: &str, d: char) -> Vec<FileDigest> {
    vec![FileDigest {
        path: p.into(),
        sha256: d.to_string().repeat(64),
    }]
}

#[test]
fn each_input_moves_exactly_its_layer() {
    type M = fn(&mut Case);
    // (what, mutation, fingerprint changes, deps change)
    let table: &[(&str, M, bool, bool)] = &[
        (
            "Go patch version",
            |c| set_env(c, "GOVERSION", "go1.26.9"),
            true,
            false,
        ),
        (
            "compiler binary",
            |c| c.probes.compiler_id = Some("other".into()),
            true,
            false,
        ),
        ("GOARCH", |c| set_env(c, "GOARCH", "arm64"), true, false),
        ("arch level", |c| set_env(c, "GOAMD64", "v3"), true, false),
        (
            "another arch's level",
            |c| set_env(c, "GOARM64", "v8.1"),
            false,
            false,
        ),
        (
            "GOEXPERIMENT",
            |c| set_env(c, "GOEXPERIMENT", "nogreenteagc"),
            true,
            false,
        ),
        (
            "GOFIPS140",
            |c| set_env(c, "GOFIPS140", "latest"),
            true,
            false,
        ),
        (
            "CGO_ENABLED",
            |c| set_env(c, "CGO_ENABLED", "1"),
            true,
            false,
        ),
        (
            "CGO_CFLAGS with cgo off",
            |c| set_env(c, "CGO_CFLAGS", "-O3"),
            false,
            false,
        ),
        (
            "C compiler with cgo off",
            |c| c.probes.cc_version = Some("clang".into()),
            false,
            false,
        ),
        (
            "runner image with cgo off",
            |c| c.probes.runner_image = Some("ubuntu26".into()),
            false,
            false,
        ),
        (
            "GOMODCACHE path",
            |c| set_env(c, "GOMODCACHE", "/builds/x/.go/mod"),
            true,
            false,
        ),
        (
            "GOMODCACHE path with -trimpath",
            |c| {
                c.flags = "-trimpath";
                // compared against -trimpath at the old path below
            },
            true,
            false,
        ),
        (
            "GOCACHE path",
            |c| set_env(c, "GOCACHE", "/tmp/gc"),
            false,
            false,
        ),
        ("GOPROXY", |c| set_env(c, "GOPROXY", "off"), false, false),
        ("GODEBUG", |c| set_env(c, "GODEBUG", "x=1"), false, false),
        (
            "GOSSAFUNC",
            |c| c.probes.process_env = vec![("GOSSAFUNC".into(), "main".into())],
            true,
            false,
        ),
        ("-race", |c| c.flags = "-race", true, false),
        ("-race=false", |c| c.flags = "-race=false", false, false),
        ("-tags", |c| c.flags = "-tags=integration", true, false),
        ("-tags empty", |c| c.flags = "-tags=", false, false),
        ("-cover", |c| c.flags = "-cover", true, false),
        (
            "-coverprofile",
            |c| c.flags = "-coverprofile=c.out",
            true,
            false,
        ),
        (
            "-gcflags=all=-N",
            |c| c.flags = "-gcflags=all=-N",
            true,
            false,
        ),
        (
            "-gcflags=-N (job's packages only)",
            |c| c.flags = "-gcflags=-N",
            false,
            false,
        ),
        (
            "-asmflags=-D=X (job's packages only)",
            |c| c.flags = "-asmflags=-D=X",
            false,
            false,
        ),
        (
            "-ldflags -X stamp",
            |c| c.flags = "-ldflags='-s -X main.version=abc123'",
            false,
            false,
        ),
        (
            "-buildvcs=false",
            |c| c.flags = "-buildvcs=false",
            false,
            false,
        ),
        (
            "-buildmode=pie",
            |c| c.flags = "-buildmode=pie",
            true,
            false,
        ),
        ("-v -x -p 1 -a", |c| c.flags = "-v -x -p 1 -a", false, false),
        (
            "GOFLAGS=-count=1 -timeout=20m -vet=off -json -run=X",
            |c| {
                c.goflags = "-count=1 -timeout=20m -vet=off -json -run=X";
            },
            false,
            false,
        ),
        ("GOFLAGS=-race", |c| c.goflags = "-race", true, false),
        ("GOFLAGS=-mod=mod", |c| c.goflags = "-mod=mod", false, true),
        ("-mod=vendor", |c| c.flags = "-mod=vendor", false, true),
        (
            "-modfile content",
            |c| {
                c.flags = "-modfile=alt.mod";
                c.modfile = digest("alt.mod", 'b');
            },
            false,
            true,
        ),
        ("GOWORK=off", |c| set_env(c, "GOWORK", "off"), false, true),
        (
            "GOWORK=/w/go.work",
            |c| set_env(c, "GOWORK", "/w/go.work"),
            false,
            false,
        ),
        (
            "a PGO profile",
            |c| c.pgo = digest("default.pgo", 'c'),
            true,
            false,
        ),
        (
            "go.mod content",
            |c| c.dep_files = digest("go.mod", 'd'),
            false,
            true,
        ),
    ];
    let b = keys(&base());
    for (what, m, fp, deps) in table {
        let mut c = base();
        m(&mut c);
        let mut reference = b.clone();
        if *what == "GOMODCACHE path with -trimpath" {
            // With -trimpath the GOMODCACHE path no longer matters.
            let mut same = base();
            same.flags = "-trimpath";
            set_env(&mut same, "GOMODCACHE", "/elsewhere");
            assert_eq!(keys(&same), keys(&c), "{what}");
            reference = keys(&base());
        }
        let k = keys(&c);
        assert_eq!(k.0 != reference.0, *fp, "{what}: fingerprint");
        assert_eq!(k.1 != reference.1, *deps, "{what}: deps");
    }
}

#[test]
fn cgo_branch_keys_the_c_toolchain_and_the_image() {
    let cgo = || {
        let mut c = base();
        set_env(&mut c, "CGO_ENABLED", "1");
        c
    };
    let b = keys(&cgo());
    type M = fn(&mut Case);
    let table: &[(&str, M)] = &[
        ("CC", |c| set_env(c, "CC", "clang")),
        ("CGO_CFLAGS", |c| set_env(c, "CGO_CFLAGS", "-O2 -g -DFOO")),
        ("CGO_LDFLAGS", |c| set_env(c, "CGO_LDFLAGS", "-lfoo")),
        ("PKG_CONFIG", |c| set_env(c, "PKG_CONFIG", "pkgconf")),
        ("C compiler version", |c| {
            c.probes.cc_version = Some("gcc 13".into())
        }),
        ("runner image", |c| {
            c.probes.runner_image = Some("ubuntu24/20261201.2".into())
        }),
    ];
    for (what, m) in table {
        let mut c = cgo();
        m(&mut c);
        assert_ne!(keys(&c).0, b.0, "{what}");
    }
}

#[test]
fn order_and_spelling_do_not_matter() {
    let same: &[(&str, &str)] = &[
        ("-tags=a,b", "-tags=b,a"),
        ("-tags=a,b", "-tags 'b a'"),
        ("-tags=a,a,b", "-tags=b,a"),
        ("-race -tags x", "-tags x -race"),
        ("-race", "-race=true"),
        ("-race -trimpath", "--trimpath --race"),
        ("-tags=x", "-tags=y -tags=x"),
        ("-ldflags=-X=main.v=1", "-ldflags=-X=main.v=2"),
        ("", "-ldflags='-s -w' -buildvcs=false -gcflags=-N"),
        ("", "-count=1 -timeout=20m -vet=off -run=X -json -v"),
        ("-gcflags=all=-N", "-gcflags=all=-N -gcflags=-l"),
    ];
    for (x, y) in same {
        let mut a = base();
        a.flags = x;
        let mut b = base();
        b.flags = y;
        assert_eq!(keys(&a), keys(&b), "`{x}` vs `{y}`");
    }
    // GOFLAGS and --build-flags are one list: GOFLAGS first, the command line overriding it.
    let mut a = base();
    a.goflags = "-tags=b,a";
    let mut b = base();
    b.flags = "-tags=a,b";
    assert_eq!(keys(&a), keys(&b));
    let mut over = base();
    over.goflags = "-race";
    over.flags = "-race=false";
    assert_eq!(keys(&over), keys(&base()));
}

#[test]
fn every_go_flag_has_a_row() {
    assert_eq!(unruled_flags(), Vec::<&str>::new());
    for r in RULES {
        if let Source::Flag(n) = r.source {
            assert!(
                crate::go::flags::spec(n).is_some(),
                "row for unknown flag -{n}"
            );
        }
        assert!(!r.why.is_empty());
    }
}

#[test]
fn canonical_spellings() {
    assert_eq!(canonical_tags("b,a a  c"), "a,b,c");
    assert_eq!(canonical_tags(""), "");
    assert!(is_qualified("all=-N -l"));
    assert!(is_qualified("github.com/x/...=-N"));
    assert!(!is_qualified("-N"));
    assert!(!is_qualified("-d=checkptr"));
    assert!(!is_qualified(""));
    assert!(is_arch_level("GOARM64") && !is_arch_level("GOOS"));
}
