//! `warm`: compile every dependency package the job needs — std and third-party, test-only ones
//! included — with the job's exact flags, without running anything: `go list -e -export -deps
//! -test` (go-caches.md §4.3). Optional steps: `go vet` (warms vet results for `go vet` jobs) and
//! `go test -run='^$'` (warms what `go test` needs, including its vet pass; it links and runs
//! every test binary). Step planning and output parsing are pure.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use serde::Deserialize;

use crate::gocmd::Go;
use crate::golist::Unit;
use crate::progress::{Counter, Log};
use crate::state::WarmStep;

/// A step's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `go list -export`: compile, no link, no run.
    Compile,
    /// `go vet`.
    Vet,
    /// `go test -run='^$'`: compile, vet, link and run test binaries.
    Test,
}

/// One go invocation of the warm-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index of the unit it runs in.
    pub unit: usize,
    /// Kind.
    pub kind: StepKind,
    /// Arguments after `go`.
    pub args: Vec<String>,
}

/// Which optional steps to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Also `go vet`.
    pub vet: bool,
    /// Also `go test -run='^$'`.
    pub test: bool,
}

/// Plans the steps (pure): per unit the compile step, then vet and test if asked.
pub fn plan(units: &[Unit], flags: &[String], opts: Options) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, u) in units.iter().enumerate() {
        let mut kinds = vec![StepKind::Compile];
        if opts.vet {
            kinds.push(StepKind::Vet);
        }
        if opts.test {
            kinds.push(StepKind::Test);
        }
        for kind in kinds {
            let mut args: Vec<String> = match kind {
                StepKind::Compile => ["list", "-e", "-export", "-deps", "-test", "-x"]
                    .map(String::from)
                    .to_vec(),
                StepKind::Vet => vec!["vet".into()],
                StepKind::Test => vec!["test".into(), "-run=^$".into()],
            };
            args.extend(flags.iter().cloned());
            if kind == StepKind::Compile {
                args.push("-json=ImportPath,Error,DepOnly".into());
            }
            args.extend(u.patterns.iter().cloned());
            steps.push(Step {
                unit: i,
                kind,
                args,
            });
        }
    }
    steps
}

/// The package a `-x` trace line compiles, if it is a compiler invocation (pure).
pub fn compiled_package(line: &str) -> Option<&str> {
    let mut toks = line.split_ascii_whitespace();
    let tool = toks.next()?;
    let name = tool.rsplit(['/', '\\']).next()?;
    if name != "compile" && name != "compile.exe" {
        return None;
    }
    let mut prev = "";
    for t in toks {
        if prev == "-p" {
            return Some(t);
        }
        prev = t;
    }
    None
}

#[derive(Debug, Deserialize)]
struct ListedPackage {
    #[serde(rename = "ImportPath")]
    import_path: String,
    #[serde(rename = "Error")]
    error: Option<ListedError>,
}

#[derive(Debug, Deserialize)]
struct ListedError {
    #[serde(rename = "Err")]
    err: String,
}

/// Packages that failed, with the first meaningful line of their error (pure; parses the
/// `go list -json` stream).
pub fn failures(json: &str) -> Vec<(String, String)> {
    serde_json::Deserializer::from_str(json)
        .into_iter::<ListedPackage>()
        .map_while(Result::ok)
        .filter_map(|p| {
            let e = p.error?;
            let first = e
                .err
                .lines()
                .find(|l| !l.starts_with("# ") && !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            Some((p.import_path, first))
        })
        .collect()
}

/// The outcome of running the steps.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Per-step records.
    pub steps: Vec<WarmStep>,
    /// Failed packages.
    pub failed: Vec<(String, String)>,
    /// Problems (go killed, a step failing) — warnings, not errors.
    pub warnings: Vec<String>,
}

/// Runs the steps. `estimate` sizes the progress bar (packages expected to compile).
pub fn run(
    go: &Go,
    root: &Path,
    units: &[Unit],
    steps: &[Step],
    estimate: u64,
    log: &mut Log,
) -> Outcome {
    let mut out = Outcome::default();
    for step in steps {
        let unit = &units[step.unit];
        let label = unit.label(root);
        let shown = format!("go {}", step.args.join(" "));
        let t = Instant::now();
        let result = match step.kind {
            StepKind::Compile => {
                log.group(&format!("go-ci-cache: compiling dependencies in {label}"));
                run_compile(go, &unit.dir, &step.args, estimate, log)
            }
            StepKind::Vet | StepKind::Test => {
                let what = if step.kind == StepKind::Vet {
                    "go vet"
                } else {
                    "go test -run='^$' (runs test binaries)"
                };
                log.group(&format!("go-ci-cache: {what} in {label}"));
                run_passthrough(go, &unit.dir, &step.args)
            }
        };
        let (ok, compiled) = match result {
            Ok(r) => {
                out.failed.extend(r.failed);
                if let Some(w) = r.problem {
                    out.warnings.push(format!("`{shown}` in {label}: {w}"));
                }
                (r.ok, r.compiled)
            }
            Err(e) => {
                out.warnings
                    .push(format!("`{shown}` in {label} could not run: {e:#}"));
                (false, 0)
            }
        };
        out.steps.push(WarmStep {
            dir: label,
            command: shown,
            compiled,
            seconds: t.elapsed().as_secs_f64(),
            ok,
        });
    }
    log.end_group();
    out
}

struct StepResult {
    ok: bool,
    compiled: u64,
    failed: Vec<(String, String)>,
    problem: Option<String>,
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!(
                "go was killed by signal {sig}; what it compiled so far stays in the cache"
            );
        }
    }
    format!("go exited with {status}")
}

fn run_compile(
    go: &Go,
    dir: &Path,
    args: &[String],
    estimate: u64,
    log: &Log,
) -> anyhow::Result<StepResult> {
    let mut cmd = go.command(dir);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut counter = Counter::new(log.style(), "compiled", estimate);
    let mut go_lines = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(pkg) = compiled_package(&line) {
            counter.tick(pkg);
        } else if let Some(rest) = line.strip_prefix("go: ") {
            if rest.starts_with("downloading ") {
                counter.note(&line);
            } else if go_lines.len() < 20 {
                go_lines.push(line);
            }
        }
    }
    let status = child.wait()?;
    let json = reader.join().unwrap_or_default();
    let compiled = counter.done();
    counter.finish();
    let failed = failures(&json);
    let problem = if status.success() {
        (!failed.is_empty()).then(|| format!("{} package(s) failed to compile", failed.len()))
    } else {
        let mut p = describe_exit(status);
        if !go_lines.is_empty() {
            p.push_str(":\n");
            p.push_str(&go_lines.join("\n"));
        }
        Some(p)
    };
    Ok(StepResult {
        ok: status.success() && failed.is_empty(),
        compiled,
        failed,
        problem,
    })
}

fn run_passthrough(go: &Go, dir: &Path, args: &[String]) -> anyhow::Result<StepResult> {
    let mut cmd = go.command(dir);
    // The go command's own output belongs in the log, but never on our stdout.
    cmd.args(args)
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    let status = cmd.status()?;
    Ok(StepResult {
        ok: status.success(),
        compiled: 0,
        failed: Vec::new(),
        problem: (!status.success()).then(|| describe_exit(status)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_lines() {
        let l = "/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b001/_pkg_.a -trimpath \"$WORK/b001=>\" -p example.com/broken -lang=go1.21";
        assert_eq!(compiled_package(l), Some("example.com/broken"));
        assert_eq!(
            compiled_package("C:\\go\\pkg\\tool\\windows_amd64\\compile.exe -o x -p fmt"),
            Some("fmt")
        );
        assert_eq!(
            compiled_package("/usr/local/go/pkg/tool/linux_amd64/asm -p runtime"),
            None
        );
        assert_eq!(
            compiled_package("cat >$WORK/b001/importcfg << 'EOF' # internal"),
            None
        );
    }

    #[test]
    fn failure_stream() {
        let json = r##"{"ImportPath":"fmt"}
{"ImportPath":"example.com/broken","Error":{"ImportStack":[],"Pos":"","Err":"# example.com/broken\n../mc/broken.go:5:28: undefined: undefinedName\n"}}"##;
        assert_eq!(
            failures(json),
            [(
                "example.com/broken".to_string(),
                "../mc/broken.go:5:28: undefined: undefinedName".to_string()
            )]
        );
    }

    #[test]
    fn steps() {
        let units = vec![Unit {
            dir: "/m".into(),
            patterns: vec!["./...".into()],
        }];
        let s = plan(
            &units,
            &["-race".into()],
            Options {
                vet: true,
                test: true,
            },
        );
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].args,
            [
                "list",
                "-e",
                "-export",
                "-deps",
                "-test",
                "-x",
                "-race",
                "-json=ImportPath,Error,DepOnly",
                "./..."
            ]
        );
        assert_eq!(s[1].args, ["vet", "-race", "./..."]);
        assert_eq!(s[2].args, ["test", "-run=^$", "-race", "./..."]);
    }
}
