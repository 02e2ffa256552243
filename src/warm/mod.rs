//! `warm`: a warm-up that matches the job (`--job test|build|vet`), with the job's exact
//! flags, running no test code.
//!
//! - every job first compiles its dependency packages: `go list -e -export -deps [-test]`
//!   (`-export` makes `go list` build each package: `go help list`), which also reports per-package failures;
//! - `test` then runs `go test -run='^$' -exec=<no-op>`: the vet and link actions exactly as
//!   `go test` will run them (`go test` vets every dependency for facts; `go vet`'s actions are
//!   different ones). The no-op `-exec` is this binary (`go-ci-cache exec-nothing`), so no test
//!   binary runs, and with `-exec` set Go records no test result;
//! - `build` compiles only what `go build` needs (no test-only dependencies);
//! - `vet` then runs `go vet`, whose vet actions `go vet` jobs reuse.
//!
//! Coverage counts vet actions too: a dry run (`-n`) of the job's command prints the vet
//! actions still to run, and `-debug-actiongraph` lists them all. Step planning and output
//! parsing are pure; running goes through [`GoRunner`].

pub mod coverage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cache::state::WarmStep;
use crate::go::GoRunner;
use crate::go::flags::{BuildFlags, Scope};
use crate::go::list::Unit;
use crate::output::progress::{Counter, Log};
use crate::warm::coverage::VetCoverage;

/// What the job runs, and so what the warm-up prepares.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// `go test`: compile (test dependencies included), vet and link as `go test` does.
    #[default]
    Test,
    /// `go build`: compile only what `go build` needs.
    Build,
    /// `go vet`: compile (test dependencies included) and `go vet`'s own vet actions.
    Vet,
}

/// A step's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `go list -export`: compile, no link, no run.
    Compile,
    /// `go test -run='^$' -exec=<no-op>`: vet and link as `go test` does, running nothing.
    Test,
    /// `go vet`.
    Vet,
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

/// What to warm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The job.
    pub job: JobKind,
    /// Also `go vet`'s own actions (`--vet`).
    pub vet: bool,
    /// Also what `go test` needs (`--test`; the default job already does).
    pub test: bool,
}

impl Options {
    /// The kinds of steps to run after the compile step, in order.
    pub fn extra_kinds(self) -> Vec<StepKind> {
        let mut k = Vec::new();
        if self.job == JobKind::Test || self.test {
            k.push(StepKind::Test);
        }
        if self.job == JobKind::Vet || self.vet {
            k.push(StepKind::Vet);
        }
        k
    }

    /// Whether the job needs test-only dependencies compiled.
    pub fn needs_tests(self) -> bool {
        self.job != JobKind::Build || self.test || self.vet
    }
}

/// The flags for a step kind: build flags for `go list`, plus test flags for `go test`, plus
/// vet flags for `go vet` (pure).
pub fn step_flags(kind: StepKind, flags: &BuildFlags) -> Vec<String> {
    match kind {
        StepKind::Compile => flags.args_for(&[Scope::Build]),
        StepKind::Test => flags.args_for(&[Scope::Build, Scope::Test]),
        StepKind::Vet => flags.args_for(&[Scope::Build, Scope::Vet]),
    }
}

/// Quotes a path for the go command's `-exec` (split like `cmd/internal/quoted`).
pub fn exec_arg(program: &str) -> String {
    if program.contains(char::is_whitespace) {
        format!("-exec='{program}' exec-nothing")
    } else {
        format!("-exec={program} exec-nothing")
    }
}

/// The arguments of one step (pure). `noop` is the program `go test -exec` runs.
pub fn step_args(
    kind: StepKind,
    flags: &BuildFlags,
    tests: bool,
    noop: &str,
    patterns: &[String],
) -> Vec<String> {
    let mut args: Vec<String> = match kind {
        StepKind::Compile => {
            let mut a: Vec<String> = ["list", "-e", "-export", "-deps"]
                .map(String::from)
                .to_vec();
            if tests {
                a.push("-test".into());
            }
            a.push("-x".into());
            a
        }
        StepKind::Test => vec!["test".into(), "-x".into(), "-run=^$".into(), exec_arg(noop)],
        StepKind::Vet => vec!["vet".into(), "-x".into()],
    };
    args.extend(step_flags(kind, flags));
    if kind == StepKind::Compile {
        args.push("-json=ImportPath,Error,DepOnly".into());
    }
    args.extend(patterns.iter().cloned());
    args
}

/// Plans the steps (pure): per unit the compile step, then the job's own steps.
pub fn plan(units: &[Unit], flags: &BuildFlags, opts: Options, noop: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, u) in units.iter().enumerate() {
        for kind in std::iter::once(StepKind::Compile).chain(opts.extra_kinds()) {
            steps.push(Step {
                unit: i,
                kind,
                args: step_args(kind, flags, opts.needs_tests(), noop, &u.patterns),
            });
        }
    }
    steps
}

/// The dry run (`-n`) of the job's vet-running command that counts vet actions, if the job
/// has one: `go test -n …` for test jobs, `go vet -n …` for vet jobs (pure).
pub fn dry_run_args(
    opts: Options,
    flags: &BuildFlags,
    noop: &str,
    graph: &Path,
    patterns: &[String],
) -> Option<Vec<String>> {
    let kind = *opts.extra_kinds().last()?;
    let mut args = step_args(kind, flags, true, noop, patterns);
    // `-x` → `-n`: print, run nothing; `-debug-actiongraph` lists every action.
    args[1] = "-n".into();
    args.insert(2, format!("-debug-actiongraph={}", graph.display()));
    Some(args)
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

/// Follows a `-x` or `-n` trace and tells which package each vet run is for: the go command
/// writes `$WORK/bNNN/vet.cfg` (a here-document holding the package's `ImportPath`) and then
/// runs `…/vet [flags] $WORK/bNNN/vet.cfg`.
#[derive(Debug, Default)]
pub struct VetTrace {
    cfg: BTreeMap<String, String>,
    open: Option<String>,
}

impl VetTrace {
    /// Feeds one line; returns the package when the line runs vet (pure).
    pub fn feed(&mut self, line: &str) -> Option<String> {
        if let Some(dir) = &self.open {
            if line == "EOF" {
                self.open = None;
            } else if let Some(rest) = line.trim().strip_prefix("\"ImportPath\": \"") {
                let path = rest.trim_end_matches(',').trim_end_matches('"').to_string();
                self.cfg.insert(dir.clone(), path);
            }
            return None;
        }
        if let Some(rest) = line.strip_prefix("cat >")
            && let Some((file, _)) = rest.split_once(" << 'EOF'")
            && file.ends_with("vet.cfg")
        {
            self.open = Some(file.to_string());
            return None;
        }
        let mut toks = line
            .split_ascii_whitespace()
            .skip_while(|t| t.contains('='));
        let tool = toks.next()?;
        let name = tool.rsplit(['/', '\\']).next()?;
        if name != "vet" && name != "vet.exe" {
            return None;
        }
        let cfg = toks.last()?;
        self.cfg.get(cfg).cloned()
    }

    /// The packages of every vet run in a whole trace (pure).
    pub fn runs(trace: &str) -> Vec<String> {
        let mut t = Self::default();
        trace.lines().filter_map(|l| t.feed(l)).collect()
    }
}

#[derive(Debug, Deserialize)]
struct GraphAction {
    #[serde(rename = "Mode")]
    mode: String,
    #[serde(rename = "Package", default)]
    package: String,
}

/// Dependency vet actions from a dry run (pure): all of them from the action graph, those
/// still to run from the `-n` trace. `deps` are the job's dependency import paths.
pub fn vet_coverage(graph_json: &str, trace: &str, deps: &BTreeSet<String>) -> Option<VetCoverage> {
    let graph: Vec<GraphAction> = serde_json::from_str(graph_json).ok()?;
    let total: BTreeSet<&str> = graph
        .iter()
        .filter(|a| a.mode == "vet" && deps.contains(&a.package))
        .map(|a| a.package.as_str())
        .collect();
    let pending: BTreeSet<String> = VetTrace::runs(trace)
        .into_iter()
        .filter(|p| total.contains(p.as_str()))
        .collect();
    Some(VetCoverage {
        total: total.len() as u64,
        cached: (total.len() - pending.len()) as u64,
    })
}

/// Counts the job's dependency vet actions with a dry run in every unit; `None` when the job
/// runs no vet or the dry run fails (e.g. modules not downloaded).
pub fn count_vet(
    go: &dyn GoRunner,
    units: &[Unit],
    flags: &BuildFlags,
    opts: Options,
    noop: &str,
    deps: &BTreeSet<String>,
    offline: bool,
) -> Option<VetCoverage> {
    let tmp = tempfile_path()?;
    let mut sum = VetCoverage::default();
    for u in units {
        let args = dry_run_args(opts, flags, noop, &tmp, &u.patterns)?;
        let env: &[(&str, &str)] = if offline { &[("GOPROXY", "off")] } else { &[] };
        let out = go.run_go(&u.dir, &args, env).ok()?;
        let graph = std::fs::read_to_string(&tmp).ok();
        let _ = std::fs::remove_file(&tmp);
        if !out.exit.ok {
            return None;
        }
        // -n prints the commands on stderr.
        let v = vet_coverage(&graph?, &out.stderr, deps)?;
        sum.total += v.total;
        sum.cached += v.cached;
    }
    Some(sum)
}

fn tempfile_path() -> Option<std::path::PathBuf> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).ok()?;
    Some(std::env::temp_dir().join(format!("go-ci-cache-actiongraph-{}.json", hex::encode(b))))
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
    go: &dyn GoRunner,
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
        let what = match step.kind {
            StepKind::Compile => "compiling dependencies",
            StepKind::Test => "go test -run='^$' (vet and link as go test does; runs no test)",
            StepKind::Vet => "go vet",
        };
        log.group(&format!("go-ci-cache: {what} in {label}"));
        let est = if step.kind == StepKind::Compile {
            estimate
        } else {
            0
        };
        let result = run_step(go, &unit.dir, step, est, log);
        let (ok, compiled, vetted) = match result {
            Ok(r) => {
                out.failed.extend(r.failed);
                if let Some(w) = r.problem {
                    out.warnings.push(format!("`{shown}` in {label}: {w}"));
                }
                (r.ok, r.compiled, r.vetted)
            }
            Err(e) => {
                out.warnings
                    .push(format!("`{shown}` in {label} could not run: {e:#}"));
                (false, 0, 0)
            }
        };
        if step.kind != StepKind::Compile {
            log.info(&format!(
                "{compiled} packages compiled, {vetted} vet actions run"
            ));
        }
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
    vetted: u64,
    failed: Vec<(String, String)>,
    problem: Option<String>,
}

fn run_step(
    go: &dyn GoRunner,
    dir: &Path,
    step: &Step,
    estimate: u64,
    log: &Log,
) -> anyhow::Result<StepResult> {
    let mut counter = Counter::new(log.style(), "compiled", estimate);
    let mut go_lines = Vec::new();
    let mut vet = VetTrace::default();
    let mut vetted = 0u64;
    let (exit, stdout) = go.stream_go(dir, &step.args, &mut |line| {
        if let Some(pkg) = compiled_package(line) {
            counter.tick(pkg);
        } else if vet.feed(line).is_some() {
            vetted += 1;
        } else if let Some(rest) = line.strip_prefix("go: ") {
            if rest.starts_with("downloading ") {
                counter.note(line);
            } else if go_lines.len() < 20 {
                go_lines.push(line.to_string());
            }
        } else if step.kind != StepKind::Compile && go_lines.len() < 20 && !is_trace_line(line) {
            go_lines.push(line.to_string());
        }
    })?;
    let compiled = counter.done();
    counter.finish();
    let failed = if step.kind == StepKind::Compile {
        failures(&stdout)
    } else {
        Vec::new()
    };
    let problem = if exit.ok {
        (!failed.is_empty()).then(|| format!("{} package(s) failed to compile", failed.len()))
    } else {
        let mut p = exit.desc.clone();
        let shown: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("FAIL") || l.contains("[build failed]"))
            .take(10)
            .collect();
        if !go_lines.is_empty() || !shown.is_empty() {
            p.push_str(":\n");
            p.push_str(
                &go_lines
                    .iter()
                    .map(String::as_str)
                    .chain(shown)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        Some(p)
    };
    Ok(StepResult {
        ok: exit.ok && failed.is_empty(),
        compiled,
        vetted,
        failed,
        problem,
    })
}

/// Whether a stderr line is part of the `-x` trace rather than a message from go or a tool.
fn is_trace_line(line: &str) -> bool {
    let first = line.split_ascii_whitespace().next().unwrap_or("");
    line.is_empty()
        || line.starts_with(char::is_whitespace)
        || first.starts_with('/')
        || first.starts_with('$')
        || first.contains('=')
        || matches!(
            first,
            "cd" | "mkdir"
                | "cat"
                | "cp"
                | "mv"
                | "rm"
                | "echo"
                | "EOF"
                | "{"
                | "}"
                | "]"
                | "WORK"
                | "#"
        )
        || first.starts_with('"')
}

/// The program `go test -exec` runs during the warm-up: this binary's hidden `exec-nothing`.
pub fn noop_exec() -> String {
    std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "go-ci-cache".into())
}

#[cfg(test)]
mod tests;
