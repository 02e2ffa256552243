//! Warm-up planning and parsing, and its orchestration against a scripted `go`.

use super::*;
use crate::go::fake::FakeGo;
use crate::output::progress::Style;

fn units() -> Vec<Unit> {
    vec![Unit {
        dir: "/m".into(),
        patterns: vec!["./...".into()],
    }]
}

fn flags(s: &str) -> BuildFlags {
    BuildFlags::parse(s, "--build-flags").unwrap()
}

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

const TRACE: &str = "mkdir -p $WORK/b006/
cat >$WORK/b006/vet.cfg << 'EOF' # internal
{
\t\"ID\": \"errors\",
\t\"Compiler\": \"gc\",
\t\"ImportPath\": \"errors\",
\t\"GoFiles\": []
}
EOF
cd /usr/local/go/src/errors
TERM='dumb' /usr/local/go/pkg/tool/linux_amd64/vet -bools $WORK/b006/vet.cfg
cat >$WORK/b009/vet.cfg << 'EOF' # internal
{
\t\"ImportPath\": \"example.com/app\"
}
EOF
/usr/local/go/pkg/tool/linux_amd64/vet -atomic -bool $WORK/b009/vet.cfg
";

#[test]
fn vet_runs_are_traced_to_their_packages() {
    assert_eq!(VetTrace::runs(TRACE), ["errors", "example.com/app"]);
}

#[test]
fn vet_coverage_counts_dependencies_only() {
    let graph = r#"[{"ID":0,"Mode":"vet","Package":"errors"},{"ID":1,"Mode":"vet","Package":"fmt"},
        {"ID":2,"Mode":"vet","Package":"example.com/app"},{"ID":3,"Mode":"build","Package":"io"}]"#;
    let deps: BTreeSet<String> = ["errors", "fmt", "io"].map(String::from).into();
    assert_eq!(
        vet_coverage(graph, TRACE, &deps),
        Some(VetCoverage {
            total: 2,
            cached: 1
        })
    );
    assert_eq!(vet_coverage("not json", TRACE, &deps), None);
}

#[test]
fn each_job_plans_its_own_steps() {
    let f = flags("-race -count=1 -vet=off -coverprofile=c.out -ldflags=-s");
    let kinds = |o: Options| -> Vec<StepKind> {
        plan(&units(), &f, o, "/bin/noop")
            .iter()
            .map(|s| s.kind)
            .collect()
    };
    use StepKind::*;
    let job = |job| Options {
        job,
        ..Options::default()
    };
    assert_eq!(kinds(job(JobKind::Test)), [Compile, Test]);
    assert_eq!(kinds(job(JobKind::Build)), [Compile]);
    assert_eq!(kinds(job(JobKind::Vet)), [Compile, Vet]);
    assert_eq!(
        kinds(Options {
            job: JobKind::Build,
            vet: true,
            test: true
        }),
        [Compile, Test, Vet]
    );
    let s = plan(&units(), &f, job(JobKind::Test), "/bin/noop");
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
            "-cover",
            "-ldflags=-s",
            "-json=ImportPath,Error,DepOnly",
            "./..."
        ]
    );
    assert_eq!(
        s[1].args,
        [
            "test",
            "-x",
            "-run=^$",
            "-exec=/bin/noop exec-nothing",
            "-race",
            "-vet=off",
            "-cover",
            "-ldflags=-s",
            "./..."
        ]
    );
    // A build job compiles no test-only dependencies.
    let b = plan(&units(), &f, job(JobKind::Build), "x");
    assert!(!b[0].args.contains(&"-test".to_string()));
    let v = plan(
        &units(),
        &flags("-tags=t -vettool=/v"),
        job(JobKind::Vet),
        "x",
    );
    assert_eq!(v[1].args, ["vet", "-x", "-tags=t", "-vettool=/v", "./..."]);
}

#[test]
fn exec_paths_with_spaces_are_quoted() {
    assert_eq!(
        exec_arg("/a b/go-ci-cache"),
        "-exec='/a b/go-ci-cache' exec-nothing"
    );
}

#[test]
fn dry_runs_match_the_job() {
    let g = Path::new("/tmp/g.json");
    let f = flags("-race");
    let p = ["./...".to_string()];
    let o = |job| Options {
        job,
        ..Options::default()
    };
    assert_eq!(
        dry_run_args(o(JobKind::Test), &f, "n", g, &p).unwrap(),
        [
            "test",
            "-n",
            "-debug-actiongraph=/tmp/g.json",
            "-run=^$",
            "-exec=n exec-nothing",
            "-race",
            "./..."
        ]
    );
    assert_eq!(
        dry_run_args(o(JobKind::Vet), &f, "n", g, &p).unwrap()[..3],
        ["vet", "-n", "-debug-actiongraph=/tmp/g.json"]
    );
    assert_eq!(dry_run_args(o(JobKind::Build), &f, "n", g, &p), None);
}

#[test]
fn run_counts_compiles_and_vets_and_reports_failures() {
    let go = FakeGo::default()
        .on(
            &["list"],
            r##"{"ImportPath":"fmt"}
{"ImportPath":"example.com/broken","Error":{"Err":"# example.com/broken\nbroken.go:5:28: undefined: x\n"}}"##,
            "/t/compile -o x -p fmt\n/t/compile -o y -p example.com/broken\n",
            true,
        )
        .on(
            &["test"],
            "FAIL\texample.com/app [build failed]\n",
            TRACE,
            false,
        );
    let steps = plan(&units(), &BuildFlags::default(), Options::default(), "noop");
    let mut log = Log::new(Style::Plain);
    let out = run(&go, Path::new("/m"), &units(), &steps, 2, &mut log);
    assert_eq!(go.subcommands(), ["list", "test"]);
    assert_eq!(out.steps.len(), 2);
    assert_eq!(out.steps[0].compiled, 2);
    assert!(!out.steps[0].ok, "a package failed");
    assert_eq!(
        out.failed,
        [(
            "example.com/broken".to_string(),
            "broken.go:5:28: undefined: x".to_string()
        )]
    );
    assert!(!out.steps[1].ok);
    assert!(
        out.warnings[1].contains("[build failed]"),
        "{:?}",
        out.warnings
    );
}
