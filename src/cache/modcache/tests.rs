use super::*;

fn m(rel: &str, kind: ModKind) -> ModEntry {
    ModEntry {
        rel: rel.into(),
        kind,
        size: 1,
    }
}

#[test]
fn prune_policy() {
    let entries = vec![
        m("cache/download/example.com/a/@v/v1.0.0.zip", ModKind::Zip),
        m("cache/download/example.com/a/@v/v1.0.0.lock", ModKind::Lock),
        m("cache/download/sumdb", ModKind::SumDb),
        m("cache/vcs", ModKind::Vcs),
        m(
            "example.com/a@v1.0.0",
            ModKind::Module("example.com/a@v1.0.0".into()),
        ),
        m(
            "example.com/a@v0.9.0",
            ModKind::Module("example.com/a@v0.9.0".into()),
        ),
        m(
            "golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64",
            ModKind::Module("golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64".into()),
        ),
        m(
            "golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64",
            ModKind::Module("golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64".into()),
        ),
        m("example.com/link@v1.0.0", ModKind::Symlink),
    ];
    let live: BTreeSet<String> = ["example.com/a@v1.0.0".to_string()].into();
    let keep: BTreeSet<String> =
        ["golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64".to_string()].into();
    let gone: Vec<&str> = plan_prune(&entries, Some(&live), &keep, &BTreeSet::new())
        .iter()
        .map(|&i| entries[i].rel.as_str())
        .collect();
    assert_eq!(
        gone,
        [
            "cache/download/example.com/a/@v/v1.0.0.zip",
            "cache/download/example.com/a/@v/v1.0.0.lock",
            "cache/download/sumdb",
            "cache/vcs",
            "example.com/a@v0.9.0",
            "golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64",
        ]
    );
    // Without a build list no module tree goes.
    let gone = plan_prune(&entries, None, &keep, &BTreeSet::new());
    assert!(
        gone.iter()
            .all(|&i| !matches!(entries[i].kind, ModKind::Module(_)))
    );
}

#[test]
fn an_archive_of_a_shared_module_cache_holds_only_the_jobs_modules() {
    let entries = vec![
        m("cache/download/example.com/a/@v/v1.0.0.zip", ModKind::Zip),
        m(
            "example.com/a@v1.0.0",
            ModKind::Module("example.com/a@v1.0.0".into()),
        ),
        m(
            "corp.example/private@v0.1.0",
            ModKind::Module("corp.example/private@v0.1.0".into()),
        ),
    ];
    let live: BTreeSet<String> = ["example.com/a@v1.0.0".to_string()].into();
    let plan = plan_prune(&entries, Some(&live), &BTreeSet::new(), &BTreeSet::new());
    let downloads = [
        "example.com/a".to_string(),
        "corp.example/private".to_string(),
        "golang.org/toolchain".to_string(),
    ];
    let ex = archive_excludes(&entries, &plan, &downloads, &live);
    assert_eq!(
        ex,
        [
            "cache/download/example.com/a/@v/v1.0.0.zip",
            "corp.example/private@v0.1.0",
            "cache/download/corp.example/private/@v",
            ".go-ci-cache-leases",
            ".go-ci-cache-machine",
            ".go-ci-cache-trash-*",
        ]
    );
}

#[test]
fn download_directories_are_found_without_sumdb() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    touch(&r.join("cache/download/example.com/a/@v/v1.0.0.mod"));
    touch(&r.join("cache/download/example.com/a/b/@v/v1.0.0.mod"));
    touch(&r.join("cache/download/sumdb/sum.golang.org/lookup/x"));
    assert_eq!(download_paths(r), ["example.com/a", "example.com/a/b"]);
}

#[test]
fn case_encoding() {
    assert_eq!(
        escape("github.com/BurntSushi/toml@v1.2.0"),
        "github.com/!burnt!sushi/toml@v1.2.0"
    );
}
#[test]
fn a_module_cache_is_the_jobs_own_only_when_proven() {
    let home = Path::new("/home/u");
    let default = Path::new("/home/u/go/pkg/mod");
    let shared = Path::new("/opt/gomod");
    let inside = Path::new("/builds/p/.go-cache/mod");
    let dirs = [std::path::PathBuf::from("/builds/p")];
    let o = |m: &'static Path, ephemeral, persistent, empty: Option<bool>| Owner {
        gomodcache: m,
        home: Some(home),
        project_dirs: &dirs,
        ephemeral,
        persistent,
        empty_before: empty,
    };
    // (cache, ephemeral, persistent, empty before) → owned
    let table: [(&'static Path, bool, bool, Option<bool>, bool); 10] = [
        (default, false, false, None, false),
        (default, true, false, None, true),
        (shared, false, false, None, false),
        (shared, false, false, Some(false), false),
        (shared, false, false, Some(true), true),
        (shared, true, false, None, true),
        (inside, false, false, None, true),
        (inside, false, true, None, false),
        (shared, false, true, Some(true), false),
        (default, true, true, None, false),
    ];
    for (m, e, p, b, owned) in table {
        let why = not_owned_reason(&o(m, e, p, b));
        assert_eq!(
            why.is_none(),
            owned,
            "{} {e} {p} {b:?}: {why:?}",
            m.display()
        );
    }
    assert!(
        not_owned_reason(&o(default, false, false, None))
            .unwrap()
            .contains("per-user default")
    );
    assert!(
        not_owned_reason(&o(shared, false, false, None))
            .unwrap()
            .contains("other projects")
    );
    assert!(
        not_owned_reason(&o(inside, false, true, None))
            .unwrap()
            .contains("keeps its caches")
    );
}

#[test]
fn only_valid_escaped_trees_are_module_trees() {
    for ok in [
        "example.com/a@v1.0.0",
        "github.com/!burnt!sushi/toml@v1.2.0",
        "golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64",
        "gopkg.in/yaml.v3@v3.0.1",
        "example.com/m@v0.0.0-20260101000000-abcdef123456",
        "example.com/x@v2.0.0+incompatible",
    ] {
        assert!(split_tree(ok).is_some(), "{ok}");
    }
    for bad in [
        "node_modules/@types",
        "docs/release@2024",
        "project/node_modules/@babel",
        "home/u/.npm/_cacache@x",
        "localhost/a@v1.0.0",
        "example.com/A@v1.0.0",
        "example.com/!@v1.0.0",
        "example.com/a@1.0.0",
        "example.com/a@v",
        "example.com/a@vX",
        "example.com/.a@v1.0.0",
        "example.com//a@v1.0.0",
        "@types",
    ] {
        assert!(split_tree(bad).is_none(), "{bad}");
    }
}

fn touch(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, "x").unwrap();
}

#[test]
fn a_root_that_is_not_a_module_cache_lists_nothing() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    touch(&home.join("project/node_modules/@types/node/index.d.ts"));
    touch(&home.join("project/docs/release@2024/notes.md"));
    touch(&home.join("project/x.zip"));
    touch(&home.join("go.lock"));
    assert!(!looks_like_modcache(home));
    assert!(list(home).unwrap().is_empty());
    // Once it has cache/download/, only Go's own items are listed: a module-shaped tree
    // without its .mod file is not one of them, nor are zips outside cache/download/.
    touch(&home.join("cache/download/example.com/a/@v/v1.0.0.mod"));
    touch(&home.join("cache/download/example.com/a/@v/v1.0.0.zip"));
    touch(&home.join("example.com/a@v1.0.0/a.go"));
    touch(&home.join("example.com/b@v1.0.0/b.go"));
    touch(&home.join("golang.org/fips140@v1.0.0-c2097c7c/LICENSE"));
    let rels: Vec<String> = list(home).unwrap().into_iter().map(|e| e.rel).collect();
    assert_eq!(
        rels,
        [
            "cache/download/example.com/a/@v/v1.0.0.zip",
            "example.com/a@v1.0.0"
        ]
    );
}

#[test]
fn toolchains_named_by_any_module_stay() {
    let named = named_toolchains(
        [
            "module example.com/a\n\ngo 1.26.0\n",
            "module example.com/b\n\ngo 1.25\n\ntoolchain go1.27.3 // pinned\n",
            "go 1.24.0\n\nuse ./a\n",
        ],
        "go1.23.4+auto",
    );
    assert_eq!(
        named.iter().map(String::as_str).collect::<Vec<_>>(),
        ["go1.23.4", "go1.24.0", "go1.25", "go1.26.0", "go1.27.3"]
    );
    let tc = |v: &str| format!("golang.org/toolchain@v0.0.1-{v}.linux-amd64");
    assert!(is_kept_tool(&tc("go1.27.3"), &named));
    assert!(
        is_kept_tool(&tc("go1.25.4"), &named),
        "`go 1.25` names go1.25.x"
    );
    assert!(!is_kept_tool(&tc("go1.27.2"), &named));
    assert!(!is_kept_tool(&tc("go1.2"), &named));
    assert!(is_kept_tool("golang.org/fips140@v1.0.0-c2097c7c", &named));
    assert!(!is_kept_tool("example.com/a@v1.0.0", &named));
    let entries = vec![m(&tc("go1.27.3"), ModKind::Module(tc("go1.27.3")))];
    assert!(plan_prune(&entries, Some(&BTreeSet::new()), &BTreeSet::new(), &named).is_empty());
}
