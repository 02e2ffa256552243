//! What a release ships: the Linux assets `.ci/release build` made (static, for the right
//! machine), the manifest `.ci/release` writes for them (and refuses when it names an asset that
//! was not built), the end-to-end tests run again on the static x86_64 binary, and the aarch64
//! binary under qemu-user. .ci/run builds the assets once per run and points
//! `GO_CI_CACHE_RELEASE_ASSETS` at them; without it these tests skip locally and fail in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use goblin::elf::{Elf, header, program_header};

use crate::action::tool;
use crate::util::{TestEnv, compiled, copy_tree};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const X86_64: &str = "x86_64-unknown-linux-musl";
const AARCH64: &str = "aarch64-unknown-linux-musl";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The asset directory .ci/run filled, or None (a skip) outside CI.
pub(crate) fn assets() -> Option<PathBuf> {
    match std::env::var_os("GO_CI_CACHE_RELEASE_ASSETS") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "GO_CI_CACHE_RELEASE_ASSETS is not set; .ci/run builds the release assets"
            );
            eprintln!("skipping: no release assets (run `.ci/release build {VERSION} {X86_64}`)");
            None
        }
    }
}

fn asset(dir: &Path, target: &str) -> PathBuf {
    dir.join(format!("go-ci-cache-{VERSION}-{target}"))
}

fn release(args: &[&str], assets: &Path, manifest: &Path) -> Output {
    Command::new("bash")
        .arg(repo_root().join(".ci/release"))
        .args(args)
        .env("GO_CI_CACHE_ASSETS", assets)
        .env("GO_CI_CACHE_MANIFEST", manifest)
        .output()
        .unwrap()
}

fn sha256_file(p: &Path) -> String {
    go_ci_cache::key::sha256_hex(&std::fs::read(p).unwrap())
}

#[test]
fn linux_assets_are_static_binaries_for_their_machine() {
    let Some(dir) = assets() else { return };
    for (target, machine) in [(X86_64, header::EM_X86_64), (AARCH64, header::EM_AARCH64)] {
        let bytes = std::fs::read(asset(&dir, target)).unwrap();
        let elf = Elf::parse(&bytes).unwrap();
        assert_eq!(elf.header.e_machine, machine, "{target}");
        assert!(
            !elf.program_headers
                .iter()
                .any(|p| p.p_type == program_header::PT_INTERP),
            "{target}: has a program interpreter, so it is dynamically linked"
        );
        assert!(
            elf.libraries.is_empty(),
            "{target}: needs shared libraries {:?}",
            elf.libraries
        );
    }
}

#[test]
fn release_script_writes_a_manifest_matching_the_binaries() {
    let Some(dir) = assets() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, manifest) = (t.path().join("assets"), t.path().join("manifest.json"));
    copy_tree(&dir, &out);

    let r = release(
        &[
            "manifest",
            VERSION,
            "owner/go-cache-action",
            X86_64,
            AARCH64,
        ],
        &out,
        &manifest,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["version"], VERSION);
    assert_eq!(m["repository"], "owner/go-cache-action");
    let listed = m["assets"].as_object().unwrap();
    assert_eq!(listed.len(), 2, "{m}");
    for target in [X86_64, AARCH64] {
        let a = &listed[target];
        assert_eq!(
            a["name"].as_str().unwrap(),
            format!("go-ci-cache-{VERSION}-{target}")
        );
        // The manifest describes the very binary cargo built for the target.
        // (.ci/run builds the foreign target in target/cross; the newest build is the asset's.)
        let built = ["target", "target/cross"]
            .iter()
            .map(|d| repo_root().join(format!("{d}/{target}/release/go-ci-cache")))
            .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
            .max()
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no cargo build of {target} in target/ or target/cross/"));
        assert_eq!(
            a["sha256"].as_str().unwrap(),
            sha256_file(&built),
            "{target}"
        );
        assert_eq!(sha256_file(&asset(&out, target)), sha256_file(&built));
    }

    // A target that was not built is refused, and the manifest is left as it was.
    let before = std::fs::read(&manifest).unwrap();
    let r = release(
        &["manifest", VERSION, "o/r", X86_64, "x86_64-apple-darwin"],
        &out,
        &manifest,
    );
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("was not built"), "{err}");
    assert_eq!(std::fs::read(&manifest).unwrap(), before);

    // A manifest that names an asset nobody built, or a changed asset, does not verify.
    let mut forged = m.clone();
    forged["assets"]["x86_64-pc-windows-msvc"] = serde_json::json!({
        "name": format!("go-ci-cache-{VERSION}-x86_64-pc-windows-msvc.exe"),
        "sha256": "00".repeat(32),
    });
    std::fs::write(&manifest, forged.to_string()).unwrap();
    let r = release(&["verify"], &out, &manifest);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("x86_64-pc-windows-msvc") && err.contains("was not built"),
        "{err}"
    );
    std::fs::write(&manifest, &before).unwrap();
    let mut bytes = std::fs::read(asset(&out, AARCH64)).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(asset(&out, AARCH64), bytes).unwrap();
    let r = release(&["verify"], &out, &manifest);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("does not match its recorded sha256"));

    // A version other than Cargo.toml's is refused before anything is built.
    let r = release(&["build", "9.9.9", X86_64], &out, &manifest);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not Cargo.toml's"));
}

/// The end-to-end tests on the static release binary. CI runs the whole suite with it as the
/// binary under test (`.ci/run` sets `GO_CI_CACHE_IT_BINARY`), so this only checks that it did;
/// elsewhere, with the assets built, it runs the end-to-end tests once more on that binary.
#[test]
fn end_to_end_tests_pass_on_the_static_binary() {
    let Some(dir) = assets() else { return };
    if let Some(under_test) = std::env::var_os("GO_CI_CACHE_IT_BINARY") {
        // Either this whole run tests a binary (CI: it must be the static one), or this is the
        // nested run below.
        if std::env::var_os("CI").is_some() {
            assert_eq!(
                std::fs::canonicalize(&under_test).unwrap(),
                std::fs::canonicalize(asset(&dir, X86_64)).unwrap(),
                "CI tests the static release binary"
            );
        }
        return;
    }
    let _timed = crate::util::timed();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["e2e_", "--test-threads", "2"])
        .env("GO_CI_CACHE_IT_BINARY", asset(&dir, X86_64))
        // This test's own guard counts the nested run.
        .env_remove("GO_CI_CACHE_TEST_TIMES")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text
        .lines()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or_default();
    assert!(
        summary.starts_with("test result: ok") && !summary.contains(" 0 passed"),
        "{text}"
    );
}

/// The aarch64 binary under user-mode emulation: keys, warm and trim on the example module.
#[test]
fn aarch64_binary_keys_warms_and_trims_under_qemu() {
    let Some(dir) = assets() else { return };
    let Some(qemu) = tool("qemu-aarch64") else {
        return;
    };
    let t = TestEnv::new();
    let ex = t.root().join("wordfreq");
    copy_tree(&repo_root().join("examples/wordfreq"), &ex);
    let run = |args: &[&str]| {
        let mut c = Command::new(&qemu);
        t.apply(&mut c);
        // The example's dependencies come from the public module proxy.
        c.env_remove("GOPROXY")
            .env_remove("GOSUMDB")
            .env("GO_CI_CACHE_STATE", t.root().join("state.json"))
            .arg(asset(&dir, AARCH64))
            .args(args)
            .args(["--dir", ex.to_str().unwrap()])
            .current_dir(&ex);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "qemu-aarch64 go-ci-cache {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let keys: serde_json::Value =
        serde_json::from_str(&run(&["keys", "--format", "json"])).unwrap();
    assert!(
        keys["build"]["key"]
            .as_str()
            .unwrap()
            .contains("-linux-amd64-"),
        "the key describes the Go target, not the machine the tool runs on: {keys}"
    );
    run(&["prepare"]);
    run(&["warm"]);
    run(&["trim"]);
    // What warm compiled and trim kept serves the job: it compiles only the module's own code.
    let mut go = t.go(&ex);
    go.env_remove("GOPROXY").env_remove("GOSUMDB");
    let out = go.args(["build", "-x", "./..."]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deps: Vec<_> = compiled(&out.stderr)
        .into_iter()
        .filter(|p| !p.starts_with("github.com/go-ci-cache/examples/wordfreq"))
        .collect();
    assert!(
        deps.is_empty(),
        "dependencies compiled after warm and trim: {deps:?}"
    );
}
