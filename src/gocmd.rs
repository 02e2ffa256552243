//! Running the `go` command (and the C compiler for its version line): the only place that
//! spawns processes for the key model.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context, Result};

use crate::error::{UsageError, usage};
use crate::goenv::GoEnv;

/// The `go` binary to run: `GO_CI_CACHE_GO` if set, else `go` from PATH.
#[derive(Debug, Clone)]
pub struct Go {
    program: OsString,
}

impl Go {
    /// Picks the binary from the environment.
    pub fn from_env() -> Self {
        Self {
            program: std::env::var_os("GO_CI_CACHE_GO").unwrap_or_else(|| "go".into()),
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
        cmd.output().map_err(|e| {
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
        })
    }

    /// `go env -json` in `dir`, with the job's environment, so GOTOOLCHAIN switching and
    /// `go env -w` settings apply.
    pub fn env(&self, dir: &Path) -> Result<GoEnv> {
        self.env_vars(dir, &[])
    }

    /// `go env -json NAME…`: only the named variables (all when `names` is empty). Asking for
    /// no cgo variables skips the C compiler probe and the build-cache set-up, so it works even
    /// when GOCACHE is unusable.
    pub fn env_vars(&self, dir: &Path, names: &[&str]) -> Result<GoEnv> {
        let mut cmd = self.command(dir);
        cmd.args(["env", "-json"]).args(names);
        let out = self.output(cmd, "go env -json")?;
        if !out.status.success() {
            return Err(usage(
                format!(
                    "`go env -json` failed in `{}` ({}):\n{}",
                    dir.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ),
                "fix the Go error above (a go.mod or go.work that does not parse, or a GOTOOLCHAIN that cannot be downloaded)",
            ));
        }
        GoEnv::parse(&out.stdout)
    }
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

/// Runs a go subcommand that must succeed and returns its stdout.
pub fn stdout_of(go: &Go, dir: &Path, args: &[String], env: &[(&str, &str)]) -> Result<String> {
    let mut cmd = go.command(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let what = format!("go {}", args.join(" "));
    let out = go.output(cmd, &what)?;
    if !out.status.success() {
        anyhow::bail!(
            "`{what}` failed in `{}` ({}):\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{what}` printed invalid UTF-8"))
}
