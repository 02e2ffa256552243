//! Everything about `go`: running it (this file: [`GoRunner`], the real [`Go`] and the
//! scripted [`fake::FakeGo`]), reading `go env` ([`env`]) and `go list` ([`list`]), parsing
//! build flags the way Go does ([`flags`]), reading go.mod and go.work ([`gomod`], the one
//! reader every caller uses) and the toolchain rules ([`toolchain`]).
//!
//! Running the `go` command (and the C compiler for its version line) is the process boundary.
//! [`GoRunner`] is what the rest of the code calls; [`Go`] runs the real binary, and
//! [`fake::FakeGo`] answers from a script in unit tests, so orchestration (which steps a
//! warm-up runs, what coverage it reports) is tested without a multi-second `go` run.

pub mod env;
pub mod flags;
pub mod gomod;
pub mod list;
pub mod toolchain;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};

use anyhow::Result;

use crate::error::{UsageError, usage};
use crate::go::env::GoEnv;

/// How a go command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exit status 0.
    pub ok: bool,
    /// `exit status 1`, or the signal that killed it.
    pub desc: String,
}

impl Exit {
    /// A successful exit.
    pub fn success() -> Self {
        Self {
            ok: true,
            desc: "exit status: 0".into(),
        }
    }

    fn from_status(status: ExitStatus) -> Self {
        Self {
            ok: status.success(),
            desc: describe_exit(status),
        }
    }
}

/// A finished go command with captured output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// How it ended.
    pub exit: Exit,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Runs go subcommands. Arguments are never shell-interpreted; the job's environment is
/// inherited and `env` adds to it.
pub trait GoRunner {
    /// Runs `go args` in `dir` to completion, capturing both streams.
    fn run_go(&self, dir: &Path, args: &[String], env: &[(&str, &str)]) -> Result<Captured>;

    /// Runs `go args` in `dir`, handing each stderr line to `line` as it comes; returns the
    /// exit and the whole stdout.
    fn stream_go(
        &self,
        dir: &Path,
        args: &[String],
        line: &mut dyn FnMut(&str),
    ) -> Result<(Exit, String)>;

    /// Tells the runner the job's GOFLAGS (as `go env` reported them), so the go commands it
    /// runs for the tool itself leave out entries that would break them
    /// ([`crate::go::flags::goflags_for_tools`]). `go env` itself always sees the job's own.
    fn use_goflags(&self, _goflags: &str) {}

    /// `go env -json NAME…` in `dir` (all variables when `names` is empty).
    fn go_env(&self, dir: &Path, names: &[&str]) -> Result<GoEnv> {
        run_go_env(self, dir, names)
    }
}

fn run_go_env(go: &(impl GoRunner + ?Sized), dir: &Path, names: &[&str]) -> Result<GoEnv> {
    let mut args = vec!["env".to_string(), "-json".to_string()];
    args.extend(names.iter().map(|n| (*n).to_string()));
    let out = go.run_go(dir, &args, &[])?;
    if !out.exit.ok {
        return Err(env_failed(dir, &out.exit.desc, &out.stderr));
    }
    GoEnv::parse(out.stdout.as_bytes())
}

/// Whether a go command is one of the tool's own queries (`go env`, a `go list` without
/// `-export`; the warm-up's `go list -export` builds). They build nothing, so they run without
/// the job's GOCACHEPROG from the environment: under it each would start a cache program whose
/// prefetch, remote lookups and manifest write are wasted on a query (a full `go env` probes
/// the C compiler through the cache, `go list` fills the module index). A GOCACHEPROG set only
/// with `go env -w` still applies.
fn own_query(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("env") => true,
        Some("list") => !args
            .iter()
            .any(|a| a == "-export" || a.starts_with("-export=")),
        _ => false,
    }
}

fn env_failed(dir: &Path, status: &str, stderr: &str) -> anyhow::Error {
    usage(
        format!(
            "`go env -json` failed in `{}` ({status}):\n{}",
            dir.display(),
            stderr.trim_end()
        ),
        "fix the Go error above (a go.mod or go.work that does not parse, or a GOTOOLCHAIN that cannot be downloaded)",
    )
}

/// The `go` binary to run: `GO_CI_CACHE_GO` if set, else `go` from PATH.
#[derive(Debug, Clone)]
pub struct Go {
    program: OsString,
    goflags: std::cell::RefCell<Option<String>>,
}

impl Go {
    /// Picks the binary from the environment.
    pub fn from_env() -> Self {
        Self {
            program: std::env::var_os("GO_CI_CACHE_GO").unwrap_or_else(|| "go".into()),
            goflags: std::cell::RefCell::new(None),
        }
    }

    /// A `go` command with `dir` as working directory; the job's environment is inherited.
    pub fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(&self.program);
        c.current_dir(dir);
        c
    }

    /// Runs a command to completion, turning "not found" into a usage error that says what to
    /// install.
    pub fn output(&self, mut cmd: Command, what: &str) -> Result<Output> {
        cmd.output().map_err(|e| self.spawn_error(e, what))
    }

    fn spawn_error(&self, e: std::io::Error, what: &str) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            UsageError::new(format!(
                "`{}` was not found on PATH (needed to run `{what}`)",
                self.program.to_string_lossy()
            ))
            .hint("install Go from https://go.dev/dl (or actions/setup-go) and put its bin directory on PATH")
            .into()
        } else {
            anyhow::Error::new(e).context(format!("failed to start `{what}`"))
        }
    }

    /// `go env -json` in `dir`, with the job's environment, so GOTOOLCHAIN switching and
    /// `go env -w` settings apply.
    pub fn env(&self, dir: &Path) -> Result<GoEnv> {
        self.go_env(dir, &[])
    }

    /// `go env -json NAME…`: only the named variables (all when `names` is empty). Asking for
    /// no cgo variables skips the C compiler probe and the build-cache set-up, so it works even
    /// when GOCACHE is unusable.
    pub fn env_vars(&self, dir: &Path, names: &[&str]) -> Result<GoEnv> {
        self.go_env(dir, names)
    }
}

impl Go {
    fn tool_command(&self, dir: &Path, args: &[String]) -> Command {
        let mut cmd = self.command(dir);
        cmd.args(args);
        if own_query(args) {
            cmd.env_remove("GOCACHEPROG");
        }
        if args.first().is_some_and(|a| a != "env")
            && let Some(g) = self.goflags.borrow().as_deref()
        {
            cmd.env("GOFLAGS", g);
        }
        cmd
    }
}

impl GoRunner for Go {
    /// `go env -json`, without the cache program (see [`own_query`]); GOCACHEPROG in the
    /// answer is still the job's, as the environment gives it.
    fn go_env(&self, dir: &Path, names: &[&str]) -> Result<GoEnv> {
        let mut env = run_go_env(self, dir, names)?;
        if let Some(v) = std::env::var_os("GOCACHEPROG").filter(|v| !v.is_empty())
            && (names.is_empty() || names.contains(&"GOCACHEPROG"))
        {
            env.set("GOCACHEPROG", &v.to_string_lossy());
        }
        Ok(env)
    }

    fn use_goflags(&self, goflags: &str) {
        *self.goflags.borrow_mut() = crate::go::flags::goflags_for_tools(goflags);
    }

    fn run_go(&self, dir: &Path, args: &[String], env: &[(&str, &str)]) -> Result<Captured> {
        let mut cmd = self.tool_command(dir, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let what = format!("go {}", args.join(" "));
        let out = self.output(cmd, &what)?;
        Ok(Captured {
            exit: Exit::from_status(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn stream_go(
        &self,
        dir: &Path,
        args: &[String],
        line: &mut dyn FnMut(&str),
    ) -> Result<(Exit, String)> {
        let mut cmd = self.tool_command(dir, args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let what = format!("go {}", args.join(" "));
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(e, &what))?;
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
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            line(&l);
        }
        let status = child.wait()?;
        Ok((Exit::from_status(status), reader.join().unwrap_or_default()))
    }
}

/// "exit status 1", or the signal that killed go.
pub fn describe_exit(status: ExitStatus) -> String {
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

/// The first line of `$CC --version`, which cgo's action IDs depend on; `unavailable` if the
/// compiler cannot be run (cgo then fails or is off, so nothing is cached for it anyway).
pub fn cc_version(env: &GoEnv, dir: &Path) -> String {
    let cc = match env.get("CC") {
        "" => "gcc",
        cc => cc,
    };
    let Some(argv) = shlex::split(cc).filter(|a| !a.is_empty()) else {
        return "unavailable".into();
    };
    Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--version")
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unavailable".into())
}

/// The identity of the compiler binary: the Go build ID embedded in `$GOTOOLDIR/compile`
/// (what `go tool buildid` prints), read directly from the file's first bytes so it costs no
/// process. Two toolchains that print the same `go version` but were built from other sources
/// (a fork, a distro patch) have different build IDs. `None` when it cannot be read.
pub fn compiler_id(env: &GoEnv) -> Option<String> {
    let dir = env.get("GOTOOLDIR");
    if dir.is_empty() {
        return None;
    }
    let exe = if env.get("GOHOSTOS") == "windows" {
        "compile.exe"
    } else {
        "compile"
    };
    let mut head = vec![0u8; 64 * 1024];
    let mut f = std::fs::File::open(Path::new(dir).join(exe)).ok()?;
    let n = read_up_to(&mut f, &mut head).ok()?;
    build_id(&head[..n])
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Finds a Go build ID in the first bytes of a binary (pure): the ELF note `Go\0\0` +
/// 4-byte type, or the `\xff Go build ID: "…"\n \xff` text that `cmd/link` writes for the
/// other formats (`cmd/internal/buildid`).
pub fn build_id(head: &[u8]) -> Option<String> {
    const TEXT: &[u8] = b"\xff Go build ID: \"";
    if let Some(i) = find(head, TEXT) {
        let rest = &head[i + TEXT.len()..];
        let end = rest.iter().position(|&b| b == b'"')?;
        return String::from_utf8(rest[..end].to_vec()).ok();
    }
    // ELF: an SHT_NOTE with name "Go\0\0" and type 4 (ELF_NOTE_GOBUILDID_TAG); the 16-byte
    // header namesz=4, descsz, type=4, "Go\0\0" is followed by the ID.
    let mut from = 0;
    while let Some(j) = find(&head[from..], b"Go\0\0") {
        let at = from + j;
        if at >= 12 {
            let word = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().unwrap_or([0; 4]));
            let (namesz, descsz, kind) = (word(at - 12), word(at - 8), word(at - 4));
            if namesz == 4 && kind == 4 && descsz > 0 && descsz < 512 {
                let s = at + 4;
                let e = s + descsz as usize;
                if e <= head.len() {
                    return String::from_utf8(head[s..e].to_vec()).ok();
                }
            }
        }
        from = at + 4;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs a go subcommand that must succeed and returns its stdout.
pub fn stdout_of(
    go: &dyn GoRunner,
    dir: &Path,
    args: &[String],
    env: &[(&str, &str)],
) -> Result<String> {
    let out = go.run_go(dir, args, env)?;
    if !out.exit.ok {
        anyhow::bail!(
            "`go {}` failed in `{}` ({}):\n{}",
            args.join(" "),
            dir.display(),
            out.exit.desc,
            out.stderr.trim_end()
        );
    }
    Ok(out.stdout)
}

/// A scripted [`GoRunner`] for unit tests: answers each call from the first rule whose
/// arguments contain all of its words, and records every call.
pub mod fake {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    use anyhow::Result;

    use super::{Captured, Exit, GoRunner};

    /// One scripted answer.
    #[derive(Debug, Clone)]
    pub struct Rule {
        /// Words that must all be among the arguments.
        pub when: Vec<String>,
        /// stdout.
        pub stdout: String,
        /// stderr lines (streamed).
        pub stderr: String,
        /// Exit.
        pub ok: bool,
    }

    /// The fake runner.
    #[derive(Debug, Default)]
    pub struct FakeGo {
        /// Answers, first match wins; no match answers success with no output.
        pub rules: Vec<Rule>,
        /// Every call: directory and arguments.
        pub calls: RefCell<Vec<(PathBuf, Vec<String>)>>,
    }

    impl FakeGo {
        /// Adds an answer.
        #[must_use]
        pub fn on(mut self, when: &[&str], stdout: &str, stderr: &str, ok: bool) -> Self {
            self.rules.push(Rule {
                when: when.iter().map(|s| (*s).to_string()).collect(),
                stdout: stdout.into(),
                stderr: stderr.into(),
                ok,
            });
            self
        }

        /// The subcommands called, in order (`list`, `test`, `vet`, …).
        pub fn subcommands(&self) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .map(|(_, a)| a.first().cloned().unwrap_or_default())
                .collect()
        }

        fn answer(&self, dir: &Path, args: &[String]) -> Rule {
            self.calls
                .borrow_mut()
                .push((dir.to_path_buf(), args.to_vec()));
            self.rules
                .iter()
                .find(|r| r.when.iter().all(|w| args.iter().any(|a| a == w)))
                .cloned()
                .unwrap_or(Rule {
                    when: vec![],
                    stdout: String::new(),
                    stderr: String::new(),
                    ok: true,
                })
        }
    }

    fn exit(ok: bool) -> Exit {
        if ok {
            Exit::success()
        } else {
            Exit {
                ok: false,
                desc: "go exited with exit status: 1".into(),
            }
        }
    }

    impl GoRunner for FakeGo {
        fn run_go(&self, dir: &Path, args: &[String], _env: &[(&str, &str)]) -> Result<Captured> {
            let r = self.answer(dir, args);
            Ok(Captured {
                exit: exit(r.ok),
                stdout: r.stdout,
                stderr: r.stderr,
            })
        }

        fn stream_go(
            &self,
            dir: &Path,
            args: &[String],
            line: &mut dyn FnMut(&str),
        ) -> Result<(Exit, String)> {
            let r = self.answer(dir, args);
            for l in r.stderr.lines() {
                line(l);
            }
            Ok((exit(r.ok), r.stdout))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_run_without_the_cache_program() {
        let q = |a: &[&str]| own_query(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(q(&["env", "-json"]));
        assert!(q(&["list", "-e", "-deps", "./..."]));
        assert!(!q(&["list", "-e", "-export", "-deps", "./..."]));
        assert!(!q(&["list", "-export=true", "./..."]));
        assert!(!q(&["test", "-x", "./..."]));
        assert!(!q(&["vet", "./..."]));
        assert!(!q(&[]));
    }

    #[test]
    fn build_id_in_text_form() {
        let mut head = vec![0u8; 100];
        head.extend_from_slice(b"\xff Go build ID: \"abc/def\"\n \xff");
        assert_eq!(build_id(&head).as_deref(), Some("abc/def"));
    }

    #[test]
    fn build_id_in_an_elf_note() {
        let mut head = vec![0u8; 40];
        head.extend_from_slice(&4u32.to_le_bytes());
        head.extend_from_slice(&7u32.to_le_bytes());
        head.extend_from_slice(&4u32.to_le_bytes());
        head.extend_from_slice(b"Go\0\0abc/def");
        assert_eq!(build_id(&head).as_deref(), Some("abc/def"));
        assert_eq!(build_id(b"nothing here"), None);
    }

    #[test]
    fn the_real_compiler_has_a_build_id() {
        let Ok(out) = Command::new("go")
            .args(["env", "-json", "GOTOOLDIR", "GOHOSTOS"])
            .output()
        else {
            return; // no Go here: the end-to-end tests will say so
        };
        let env = GoEnv::parse(&out.stdout).unwrap();
        let ours = compiler_id(&env).expect("a build ID in the compile binary");
        let tool = Command::new("go")
            .args(["tool", "buildid"])
            .arg(Path::new(env.get("GOTOOLDIR")).join("compile"))
            .output()
            .unwrap();
        assert_eq!(ours, String::from_utf8_lossy(&tool.stdout).trim());
    }
}
