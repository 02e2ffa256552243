//! The release-history benchmark's smoke variant: two versions of a fixture module through the
//! file:// proxy, every strategy, so the harness cannot rot. It checks shapes and counts, never
//! timings.

use std::path::Path;
use std::process::Command;

use crate::action::tool;
use crate::util::{TestEnv, proxy_dir};

#[test]
fn history_benchmark_smoke() {
    let Some(python) = tool("python3") else {
        return;
    };
    if tool("zstd").is_none() {
        return;
    }
    let t = TestEnv::new();
    let out = t.root().join("results");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = Command::new(python)
        .arg(root.join("bench/history.py"))
        .arg("--config")
        .arg(root.join("bench/smoke.json"))
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(t.root().join("work"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_go-ci-cache"))
        .env("GOPROXY", format!("file://{}", proxy_dir().display()))
        .env("GOSUMDB", "off")
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("strategy,run,version,wall_s,"),
        "{header}"
    );
    for col in [
        "dep_compiles",
        "restored_bytes",
        "saved_bytes",
        "store_bytes",
    ] {
        assert!(header.contains(col));
    }
    let cols: Vec<&str> = header.split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 10, "5 strategies × 2 runs:\n{csv}");
    let get = |s: &str, run: &str, col: &str| -> String {
        let i = cols.iter().position(|c| *c == col).unwrap();
        rows.iter().find(|r| r[0] == s && r[1] == run).unwrap()[i].to_string()
    };
    let n = |s: &str, run: &str, col: &str| get(s, run, col).parse::<f64>().unwrap();
    // Cold compiles every dependency both times; the floor none.
    assert!(n("cold", "2", "dep_compiles") > 30.0);
    assert_eq!(n("floor", "2", "dep_compiles"), 0.0);
    // go-ci-cache restores run 1's caches through restore keys: run 2 compiles only what changed
    // (greet v1.1.0 and the new test-only dependency), and its job compiles nothing at all.
    assert!(n("go-ci-cache", "2", "restored_bytes") > 0.0);
    assert!(n("go-ci-cache", "2", "dep_compiles") <= 3.0, "{csv}");
    assert!(n("go-ci-cache", "1", "saved_bytes") > 0.0);
    // setup-go has no restore keys: a dependency change is a cold run.
    assert_eq!(n("setup-go", "2", "restored_bytes"), 0.0);
    assert!(n("setup-go", "2", "dep_compiles") > 30.0);
    // The recipe restores by prefix but saves untrimmed archives that only grow.
    assert!(n("actions-cache-recipe", "2", "restored_bytes") > 0.0);
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("| go-ci-cache |") && md.contains("vs setup-go"),
        "{md}"
    );
    let has_matplotlib = Command::new("python3")
        .args(["-c", "import matplotlib"])
        .status()
        .is_ok_and(|s| s.success());
    if has_matplotlib {
        let png = std::fs::read(out.join("chart.png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "matplotlib is missing; .ci/run installs it"
        );
    }
}
