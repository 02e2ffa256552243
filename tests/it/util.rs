//! Test support: a file:// module proxy built from tests/testdata/proxy, temp Go modules, and
//! an isolated environment (HOME, GOCACHE, GOMODCACHE, GOPATH, no network, no `go env -w`).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The binary under test: `GO_CI_CACHE_IT_BINARY` when set (e.g. a static release build, so the
/// end-to-end tests cover what a release ships), else the debug build cargo made for this run.
pub fn binary() -> PathBuf {
    match std::env::var_os("GO_CI_CACHE_IT_BINARY") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_go-ci-cache")),
    }
}

/// The file:// GOPROXY, built once per test run from the fixture sources.
pub fn proxy_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("goproxy-{}", std::process::id()));
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/proxy");
        build_proxy(&src, &out);
        out
    })
}

/// Lays out `<module>/@v/{list,<v>.info,<v>.mod,<v>.zip}` for every `<module>@<v>` dir in `src`.
fn build_proxy(src: &Path, out: &Path) {
    let mut versions: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for entry in walkdir::WalkDir::new(src).min_depth(1).sort_by_file_name() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if !entry.file_type().is_dir() || !name.contains('@') {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let (module, version) = rel.split_once('@').unwrap();
        let vdir = out.join(module).join("@v");
        std::fs::create_dir_all(&vdir).unwrap();
        std::fs::write(
            vdir.join(format!("{version}.info")),
            format!(r#"{{"Version":"{version}","Time":"2026-01-01T00:00:00Z"}}"#),
        )
        .unwrap();
        std::fs::copy(
            entry.path().join("go.mod"),
            vdir.join(format!("{version}.mod")),
        )
        .unwrap();
        let file = std::fs::File::create(vdir.join(format!("{version}.zip"))).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for f in walkdir::WalkDir::new(entry.path()).sort_by_file_name() {
            let f = f.unwrap();
            if f.file_type().is_file() {
                let inner = f
                    .path()
                    .strip_prefix(entry.path())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                zip.start_file(format!("{module}@{version}/{inner}"), opts)
                    .unwrap();
                zip.write_all(&std::fs::read(f.path()).unwrap()).unwrap();
            }
        }
        zip.finish().unwrap();
        versions
            .entry(module.to_string())
            .or_default()
            .push(version.to_string());
    }
    for (module, vs) in versions {
        std::fs::write(out.join(module).join("@v/list"), vs.join("\n") + "\n").unwrap();
    }
}

/// While alive, the test that made it counts as running: on drop it appends the test's name
/// and its start and end (milliseconds since the epoch) to `$GO_CI_CACHE_TEST_TIMES`, which
/// `.ci/run` sums per test module. Libtest names each test's thread after the test.
pub struct Timed {
    name: String,
    start: u128,
    file: PathBuf,
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A [`Timed`] guard for the current test, when `GO_CI_CACHE_TEST_TIMES` is set.
pub fn timed() -> Option<Timed> {
    let file = PathBuf::from(std::env::var_os("GO_CI_CACHE_TEST_TIMES").filter(|f| !f.is_empty())?);
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    Some(Timed {
        name,
        start: epoch_ms(),
        file,
    })
}

impl Drop for Timed {
    fn drop(&mut self) {
        let line = format!("{}\t{}\t{}\n", self.name, self.start, epoch_ms());
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// GOGC for the tests' go commands: `$GOGC`, or 400. The compiler then spends less time
/// collecting garbage: a cold `go build -a net/http` took 21.5 CPU-seconds instead of 26 (2 vCPU,
/// go1.26), at about 430 MB instead of 300 MB a compile. Go's cache keys do not include it.
pub fn go_gc() -> String {
    std::env::var("GOGC")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "400".into())
}

/// An isolated place to run `go` and the binary.
pub struct TestEnv {
    dir: tempfile::TempDir,
    gomodcache: PathBuf,
    _timed: Option<Timed>,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gcc-it-")
            .tempdir()
            .unwrap();
        let gomodcache = dir.path().join("gomodcache");
        for d in ["home", "gocache", "gopath", "tmp"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Self {
            dir,
            gomodcache,
            _timed: timed(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn gocache(&self) -> PathBuf {
        self.root().join("gocache")
    }
    pub fn gomodcache(&self) -> PathBuf {
        self.gomodcache.clone()
    }
    /// Uses another module cache path from now on (e.g. a second runner's layout).
    pub fn set_gomodcache(&mut self, p: PathBuf) {
        self.gomodcache = p;
    }

    /// Fills GOCACHE with the standard library compiled for the test flags (copied, mtimes
    /// kept, from one warm-up per test run), so tests that are not about std stay fast.
    pub fn seed_gocache(&self) {
        static SEED: OnceLock<PathBuf> = OnceLock::new();
        let seed = SEED.get_or_init(|| {
            let t = TestEnv::new();
            let m = t.module("seed", &[]);
            t.go_ok(&m, &["list", "-export", "-deps", "-test", "./..."]);
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("seed-gocache-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            copy_tree(&t.gocache(), &dir);
            dir
        });
        let _ = std::fs::remove_dir_all(self.gocache());
        copy_tree(seed, &self.gocache());
    }

    /// Sets the isolated environment on a command.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_clear();
        for keep in ["PATH", "LANG", "SYSTEMROOT"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.env("HOME", self.root().join("home"))
            .env("TMPDIR", self.root().join("tmp"))
            .env("GOCACHE", self.gocache())
            .env("GOMODCACHE", self.gomodcache())
            .env("GOPATH", self.root().join("gopath"))
            .env("GOPROXY", format!("file://{}", proxy_dir().display()))
            .env("GOSUMDB", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOENV", "off")
            .env("GOFLAGS", "-modcacherw")
            .env("GOTELEMETRY", "off")
            .env("GOGC", go_gc())
            .env("CGO_ENABLED", "0");
    }

    /// `go` in `dir` with the isolated environment.
    pub fn go(&self, dir: &Path) -> Command {
        let mut c = Command::new("go");
        self.apply(&mut c);
        c.current_dir(dir);
        c
    }

    /// Runs `go` and asserts success.
    pub fn go_ok(&self, dir: &Path, args: &[&str]) -> Output {
        let out = self.go(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "go {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The binary under test with the isolated environment.
    pub fn bin(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        self.apply(&mut c);
        c.current_dir(self.root()).args(args);
        c
    }

    /// Runs the binary and asserts success; returns stdout.
    pub fn bin_ok(&self, args: &[&str]) -> String {
        let out = self.bin(args).output().unwrap();
        assert!(
            out.status.success(),
            "go-ci-cache {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `keys --format json` for a directory, parsed.
    pub fn keys_json(&self, dir: &Path, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["keys", "--format", "json", "--dir", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.bin_ok(&args)).unwrap()
    }

    /// A module `example.com/<name>` in `<root>/<name>` whose main package imports `imports`
    /// (each fixture package has `Use()`), whose test imports `test_imports`, tidied through the
    /// fixture proxy.
    pub fn module_with(&self, name: &str, imports: &[&str], test_imports: &[&str]) -> PathBuf {
        let dir = self.root().join(name);
        write_module(&dir, &format!("example.com/{name}"), imports, test_imports);
        self.go_ok(&dir, &["mod", "tidy"]);
        dir
    }

    pub fn module(&self, name: &str, imports: &[&str]) -> PathBuf {
        self.module_with(name, imports, &[])
    }
}

/// The Go settings a CI emulator (act, gitlab-ci-local) passes to its jobs: the fixture proxy,
/// no network, no `go env -w`, and where the job writes what the test reads.
pub fn emulator_go_env(results: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GOGC", go_gc()),
        ("GOPROXY", format!("file://{}", proxy_dir().display())),
        ("GOSUMDB", "off".into()),
        ("GOTOOLCHAIN", "local".into()),
        ("GOENV", "off".into()),
        ("CGO_ENABLED", "0".into()),
        ("RESULT_DIR", results.display().to_string()),
    ]
}

/// Runs git in `dir` and asserts success.
pub fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Commits what is staged in `dir` (an empty commit when nothing is) as the tests' identity.
pub fn git_commit(dir: &Path, message: &str) {
    git(
        dir,
        &[
            "-c",
            "user.email=ci@example.com",
            "-c",
            "user.name=ci",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
        ],
    );
}

/// Copies a tree with `cp -a` (keeps modes and mtimes).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

/// Import paths compiled according to a `-x` trace.
pub fn compiled(trace: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(trace)
        .lines()
        .filter_map(|l| go_ci_cache::warm::compiled_package(l).map(str::to_string))
        .collect()
}

/// Packages a `-x` trace compiled outside the main module (`main_module`, an import-path prefix)
/// and other than a `main` package, in the trace's order.
pub fn deps_compiled(trace: &[u8], main_module: &str) -> Vec<String> {
    compiled(trace)
        .into_iter()
        .filter(|p| p != "main" && !p.starts_with(main_module))
        .collect()
}

/// Writes go.mod, main.go, a library package and a test (no go.sum; run `go mod tidy`).
pub fn write_module(dir: &Path, path: &str, imports: &[&str], test_imports: &[&str]) {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    // `example.com/greet@v1.0.0` pins a version (fixture packages are module roots).
    let requires: String = imports
        .iter()
        .chain(test_imports)
        .filter_map(|i| i.split_once('@'))
        .map(|(p, v)| format!("require {p} {v}\n"))
        .collect();
    let strip = |v: &[&str]| -> Vec<String> {
        v.iter()
            .map(|i| i.split('@').next().unwrap().to_string())
            .collect()
    };
    let (imports, test_imports) = (strip(imports), strip(test_imports));
    std::fs::write(
        dir.join("go.mod"),
        format!("module {path}\n\ngo 1.22\n\n{requires}"),
    )
    .unwrap();
    let alias = |i: usize| format!("dep{i}");
    let imp: String = imports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("\t{} \"{p}\"\n", alias(i)))
        .collect();
    let uses: String = (0..imports.len())
        .map(|i| format!("\tfmt.Println({}.Use())\n", alias(i)))
        .collect();
    std::fs::write(
        dir.join("main.go"),
        format!("package main\n\nimport (\n\t\"fmt\"\n\n\t\"{path}/lib\"\n{imp})\n\nfunc main() {{\n\tfmt.Println(lib.Twice(2))\n{uses}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("lib/lib.go"),
        "package lib\n\n// Twice doubles n.\nfunc Twice(n int) int { return 2 * n }\n",
    )
    .unwrap();
    let timp: String = test_imports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("\tt{i} \"{p}\"\n"))
        .collect();
    let tuses: String = (0..test_imports.len())
        .map(|i| format!("\t_ = t{i}.Use()\n"))
        .collect();
    std::fs::write(
        dir.join("lib/lib_test.go"),
        format!("package lib\n\nimport (\n\t\"testing\"\n{timp})\n\nfunc TestTwice(t *testing.T) {{\n{tuses}\tif Twice(2) != 4 {{\n\t\tt.Fatal(\"bad\")\n\t}}\n}}\n"),
    )
    .unwrap();
}
