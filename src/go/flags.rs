//! The job's go flags: parsing `--build-flags` (strictly: a flag Go rejects is a usage error)
//! and GOFLAGS (tolerantly: whatever Go accepts there is accepted), the table of every flag the
//! go command's build, test and vet subcommands know, and which flags go to which warm-up step.
//! Which flags key the caches, and how, is [`crate::key::inputs`]. Pure code.

use anyhow::Result;

use crate::error::usage;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `-race`, `-race=false`.
    Bool,
    /// `-tags foo`, `-tags=foo`.
    Value,
}

/// Which go subcommands know a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The build flags (`go help build`): build, test, vet, list, run, install.
    Build,
    /// Only `go test` (`go help testflag`, plus -c, -o, -exec, -json, -vet).
    Test,
    /// Only `go vet`.
    Vet,
}

/// What a flag does to the build, as far as the warm-up needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Changes what is compiled, vetted or linked: the warm-up passes it on.
    Build,
    /// Only changes what the go command prints, how many jobs it runs or where it keeps its
    /// work files (`-v`, `-x`, `-p`, `-n`, `-json`): the warm-up drops it.
    Output,
    /// Only changes how tests run (`-count`, `-run`, `-timeout`, `-cpuprofile` …): the warm-up
    /// drops it, nothing is keyed on it.
    TestRun,
}

/// One flag the go command knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    /// Name without dashes.
    pub name: &'static str,
    /// Bool or value.
    pub arity: Arity,
    /// Which subcommands know it.
    pub scope: Scope,
    /// What it does.
    pub role: Role,
}

const fn f(name: &'static str, arity: Arity, scope: Scope, role: Role) -> FlagSpec {
    FlagSpec {
        name,
        arity,
        scope,
        role,
    }
}

use Arity::{Bool, Value};
use Role::{Build as B, Output as O, TestRun as T};
use Scope::{Build as SB, Test as ST, Vet as SV};

/// Every flag of `go build`/`go test`/`go vet` (go1.21–go1.27), as the go command's own flag
/// sets define them (`cmd/go/internal/work/build.go` `AddBuildFlags`, `test/testflag.go`,
/// `vet/vetflag.go`).
pub const FLAGS: &[FlagSpec] = &[
    // go help build
    f("a", Bool, SB, O),
    f("n", Bool, SB, O),
    f("p", Value, SB, O),
    f("race", Bool, SB, B),
    f("msan", Bool, SB, B),
    f("asan", Bool, SB, B),
    f("cover", Bool, SB, B),
    f("covermode", Value, SB, B),
    f("coverpkg", Value, SB, B),
    f("v", Bool, SB, O),
    f("work", Bool, SB, O),
    f("x", Bool, SB, O),
    f("asmflags", Value, SB, B),
    f("buildmode", Value, SB, B),
    f("buildvcs", Value, SB, B),
    f("compiler", Value, SB, B),
    f("gccgoflags", Value, SB, B),
    f("gcflags", Value, SB, B),
    f("installsuffix", Value, SB, B),
    f("json", Bool, SB, O),
    f("ldflags", Value, SB, B),
    f("linkshared", Bool, SB, B),
    f("mod", Value, SB, B),
    f("modcacherw", Bool, SB, O),
    f("modfile", Value, SB, B),
    f("overlay", Value, SB, B),
    f("pgo", Value, SB, B),
    f("pkgdir", Value, SB, O),
    f("tags", Value, SB, B),
    f("trimpath", Bool, SB, B),
    f("toolexec", Value, SB, B),
    // go test
    f("c", Bool, ST, T),
    f("o", Value, ST, T),
    f("exec", Value, ST, T),
    f("vet", Value, ST, B),
    f("args", Bool, ST, T),
    f("artifacts", Bool, ST, T),
    f("bench", Value, ST, T),
    f("benchmem", Bool, ST, T),
    f("benchtime", Value, ST, T),
    f("blockprofile", Value, ST, T),
    f("blockprofilerate", Value, ST, T),
    f("count", Value, ST, T),
    // -coverprofile turns coverage on (like -cover); the warm-up passes -cover instead.
    f("coverprofile", Value, ST, B),
    f("cpu", Value, ST, T),
    f("cpuprofile", Value, ST, T),
    f("failfast", Bool, ST, T),
    f("fullpath", Bool, ST, T),
    f("fuzz", Value, ST, T),
    f("fuzzminimizetime", Value, ST, T),
    f("fuzztime", Value, ST, T),
    f("list", Value, ST, T),
    f("memprofile", Value, ST, T),
    f("memprofilerate", Value, ST, T),
    f("mutexprofile", Value, ST, T),
    f("mutexprofilefraction", Value, ST, T),
    f("outputdir", Value, ST, T),
    f("parallel", Value, ST, T),
    f("run", Value, ST, T),
    f("short", Bool, ST, T),
    f("shuffle", Value, ST, T),
    f("skip", Value, ST, T),
    f("timeout", Value, ST, T),
    f("trace", Value, ST, T),
    // go vet
    f("vettool", Value, SV, B),
];

/// The spec of a flag by name.
pub fn spec(name: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|s| s.name == name)
}

/// One flag with its value, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flag name without dashes (`tags`).
    pub name: String,
    /// The value (`foo,bar`), `None` for a bare boolean flag.
    pub value: Option<String>,
}

impl Flag {
    /// The canonical single-token spelling: `-name` or `-name=value`.
    pub fn canonical(&self) -> String {
        match &self.value {
            Some(v) => format!("-{}={v}", self.name),
            None => format!("-{}", self.name),
        }
    }

    /// For a boolean flag: whether it is on (`-race`, `-race=true`, `-race=1`, `-race=t`).
    pub fn is_true(&self) -> bool {
        self.value
            .as_deref()
            .is_none_or(|v| parse_bool(v) == Some(true))
    }

    /// The flag's spec, if the go command knows it.
    pub fn spec(&self) -> Option<&'static FlagSpec> {
        spec(&self.name)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A list of go flags, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFlags {
    /// Flags in the order given.
    pub flags: Vec<Flag>,
}

impl BuildFlags {
    /// Parses a shell-quoted flag string such as `-race -tags "a b"` strictly: every flag must
    /// be one the go command's build, test or vet subcommands know, with a value where it needs
    /// one. `source` names the input in errors (`--build-flags`).
    pub fn parse(s: &str, source: &str) -> Result<Self> {
        let Some(tokens) = shlex::split(s) else {
            return Err(usage(
                format!("cannot parse {source} `{s}`: unbalanced quotes"),
                "quote values with spaces as a shell would, e.g. `-ldflags='-s -w'`",
            ));
        };
        Self::from_tokens(&tokens, source)
    }

    /// Parses GOFLAGS the way the go command does (`base.InitGOFLAGS`): space-separated
    /// standalone `-flag` or `-flag=value` entries, each applied to the commands that know it.
    /// Never fails: an entry Go would reject is Go's to report, and it keys nothing here.
    pub fn parse_goflags(s: &str) -> Result<Self> {
        let flags = s
            .split_whitespace()
            .filter_map(|tok| {
                let body = tok.strip_prefix("--").or_else(|| tok.strip_prefix('-'))?;
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (body, None),
                };
                (!name.is_empty() && !name.starts_with('-')).then(|| Flag {
                    name: name.to_string(),
                    value,
                })
            })
            .collect();
        Ok(Self { flags })
    }

    fn from_tokens(tokens: &[String], source: &str) -> Result<Self> {
        let mut flags = Vec::new();
        let mut it = tokens.iter();
        while let Some(tok) = it.next() {
            let Some(body) = tok.strip_prefix("--").or_else(|| tok.strip_prefix('-')) else {
                return Err(usage(
                    format!("unexpected argument `{tok}` in {source}"),
                    "give flags only, e.g. `-race -tags integration`; packages are found from --dir",
                ));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if name == "C" {
                return Err(usage(
                    format!("`{tok}` in {source} changes the directory go runs in"),
                    "point --dir at that directory instead",
                ));
            }
            let Some(spec) = spec(name) else {
                return Err(usage(
                    format!("unknown build flag `{tok}` in {source}"),
                    "give flags of `go help build` or `go help testflag`, e.g. -race, -cover, -tags, -trimpath, -gcflags, -ldflags, -pgo, -count",
                ));
            };
            let value = match spec.arity {
                Arity::Bool => {
                    if let Some(v) = &inline
                        && parse_bool(v).is_none()
                    {
                        return Err(usage(
                            format!("invalid boolean value `{v}` for `-{name}` in {source}"),
                            format!("write `-{name}` or `-{name}=false`"),
                        ));
                    }
                    inline
                }
                Arity::Value => match inline {
                    Some(v) => Some(v),
                    None => Some(it.next().cloned().ok_or_else(|| {
                        usage(
                            format!("flag `-{name}` in {source} needs a value"),
                            format!("write it as `-{name}=VALUE`"),
                        )
                    })?),
                },
            };
            flags.push(Flag {
                name: name.to_string(),
                value,
            });
        }
        Ok(Self { flags })
    }

    /// This list followed by `later` (later flags override earlier ones, as the command line
    /// overrides GOFLAGS).
    #[must_use]
    pub fn then(&self, later: &BuildFlags) -> BuildFlags {
        BuildFlags {
            flags: self.flags.iter().chain(&later.flags).cloned().collect(),
        }
    }

    /// The last value of a flag (Go lets later flags override earlier ones).
    pub fn value(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    /// Whether a boolean flag is in effect.
    pub fn is_set(&self, name: &str) -> bool {
        self.value(name).is_some_and(Flag::is_true)
    }

    /// Arguments for a step running `go <cmd>` where `cmd` knows the flags of `scopes`: the
    /// flags that change what is built, canonical single tokens, in order (never
    /// shell-interpreted). Output-only and test-run flags are dropped.
    pub fn args_for(&self, scopes: &[Scope]) -> Vec<String> {
        self.flags
            .iter()
            .filter_map(|f| {
                let s = f.spec()?;
                if f.name == "coverprofile" {
                    // It turns coverage on: every step compiles as with -cover.
                    return scopes.contains(&Scope::Build).then(|| "-cover".to_string());
                }
                (s.role == Role::Build && scopes.contains(&s.scope)).then(|| f.canonical())
            })
            .collect()
    }

    /// The flags for `go list` and `go build` steps (build flags that change what is built).
    pub fn fingerprint_tokens(&self) -> Vec<String> {
        self.args_for(&[Scope::Build])
    }

    /// Every flag as given, canonically spelled.
    pub fn args(&self) -> Vec<String> {
        self.flags.iter().map(Flag::canonical).collect()
    }
}

/// The GOFLAGS for the go commands this tool runs itself (`go list -f`, the warm-up, dry
/// runs): the user's GOFLAGS without the entries that only change output or how tests run
/// (`-json` breaks `go list -f`; `-c` or `-o` would write test binaries; `-n` would run
/// nothing). `None` when nothing needs dropping (pure).
pub fn goflags_for_tools(raw: &str) -> Option<String> {
    let keep = |tok: &&str| {
        let body = tok.trim_start_matches('-');
        let name = body.split_once('=').map_or(body, |(n, _)| n);
        match spec(name) {
            Some(s) => s.role == Role::Build || matches!(name, "modcacherw" | "p" | "pkgdir"),
            None => true,
        }
    };
    let all: Vec<&str> = raw.split_whitespace().collect();
    let kept: Vec<&str> = all.iter().copied().filter(keep).collect();
    (kept.len() != all.len()).then(|| kept.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bool_and_value_flags() {
        let f = BuildFlags::parse(
            r#"-race -tags "a b" -ldflags=-s --trimpath -x -count 1 -timeout=20m"#,
            "--build-flags",
        )
        .unwrap();
        assert_eq!(
            f.args(),
            [
                "-race",
                "-tags=a b",
                "-ldflags=-s",
                "-trimpath",
                "-x",
                "-count=1",
                "-timeout=20m"
            ]
        );
        assert!(f.is_set("trimpath"));
        assert!(f.is_set("race"));
        assert!(!f.is_set("cover"));
        assert_eq!(
            f.fingerprint_tokens(),
            ["-race", "-tags=a b", "-ldflags=-s", "-trimpath"]
        );
        assert_eq!(
            f.args_for(&[Scope::Build, Scope::Test]),
            ["-race", "-tags=a b", "-ldflags=-s", "-trimpath"]
        );
    }

    #[test]
    fn test_flags_reach_only_test_steps() {
        let f = BuildFlags::parse("-vet=off -coverprofile=c.out -run=X -json", "--build-flags")
            .unwrap();
        assert_eq!(f.fingerprint_tokens(), ["-cover"]);
        assert_eq!(
            f.args_for(&[Scope::Build, Scope::Test]),
            ["-vet=off", "-cover"]
        );
        let v = BuildFlags::parse("-vettool=/x -tags=t", "--build-flags").unwrap();
        assert_eq!(
            v.args_for(&[Scope::Build, Scope::Vet]),
            ["-vettool=/x", "-tags=t"]
        );
        assert_eq!(v.args_for(&[Scope::Build, Scope::Test]), ["-tags=t"]);
    }

    #[test]
    fn trimpath_false_is_off() {
        let f = BuildFlags::parse_goflags("-trimpath=false").unwrap();
        assert!(!f.is_set("trimpath"));
        let f = BuildFlags::parse_goflags("-trimpath=false")
            .unwrap()
            .then(&BuildFlags::parse("-trimpath", "--build-flags").unwrap());
        assert!(f.is_set("trimpath"), "the command line overrides GOFLAGS");
    }

    #[test]
    fn goflags_accept_whatever_go_accepts() {
        let g = BuildFlags::parse_goflags(
            " -count=1 -timeout=20m  -vet=off -json -run=TestX --mod=mod -modcacherw -printf.funcs=x",
        )
        .unwrap();
        assert_eq!(g.flags.len(), 8);
        assert_eq!(g.value("mod").unwrap().value.as_deref(), Some("mod"));
        assert!(g.fingerprint_tokens() == ["-mod=mod"]);
    }

    #[test]
    fn tools_get_goflags_without_output_and_test_run_entries() {
        assert_eq!(goflags_for_tools("-modcacherw -mod=mod"), None);
        assert_eq!(
            goflags_for_tools("-modcacherw -json -count=1 -c -o=x -n -race -vet=off -foo")
                .as_deref(),
            Some("-modcacherw -race -vet=off -foo")
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "./...",
            "-bogus",
            "-tags",
            "-race 'x",
            "-race=maybe",
            "-C dir",
            "-count",
        ] {
            let err = BuildFlags::parse(bad, "--build-flags").unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
            assert!(err.to_string().contains("\nhint: "), "{bad}: {err}");
        }
    }
}
