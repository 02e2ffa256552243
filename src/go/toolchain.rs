//! Whether the Go that runs can build the project: the `go` and `toolchain` lines of go.work and
//! go.mod against GOVERSION under the job's GOTOOLCHAIN (pure, plus one reader of those files).
//!
//! With `GOTOOLCHAIN=local` (what actions/setup-go v6+ exports to every later step) a go.mod
//! that needs a newer Go does not switch toolchains: every `go` command that loads the module
//! fails. `go env` still works, so the keys are computed for the Go that is installed; this
//! check turns the coming failure into one warning that names the file, both versions and the
//! fix, while the user's own `go` step is what fails.

use std::path::{Path, PathBuf};

/// A Go version as `go` compares them: `1.27` (a language version) < `1.27rc1` < `1.27.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion {
    major: u32,
    minor: u32,
    /// 0: language version only, 1: beta, 2: rc, 3: release.
    stage: u8,
    /// The beta/rc number or the patch number.
    n: u32,
}

impl GoVersion {
    /// Parses `1.27`, `1.27.3`, `1.27rc1`, `1.27beta2`, with or without a `go` prefix and with
    /// a trailing `-suffix` or ` X:…` (GOVERSION of a development or experiment build) ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s.strip_prefix("go").unwrap_or(s);
        let s = s.split([' ', '-', '+']).next()?;
        let (major, rest) = s.split_once('.')?;
        let major = major.parse().ok()?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let minor = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        let (stage, n) = if tail.is_empty() {
            (0, 0)
        } else if let Some(p) = tail.strip_prefix('.') {
            (3, p.parse().ok()?)
        } else if let Some(p) = tail.strip_prefix("rc") {
            (2, p.parse().ok()?)
        } else if let Some(p) = tail.strip_prefix("beta") {
            (1, p.parse().ok()?)
        } else {
            return None;
        };
        Some(Self {
            major,
            minor,
            stage,
            n,
        })
    }
}

/// Whether a GOTOOLCHAIN value forbids switching to a newer toolchain: `local`, or a fixed
/// `go1.X.Y` without `+auto`/`+path`. `auto`, `path`, `<name>+auto` and `<name>+path` may switch.
pub fn forbids_switching(gotoolchain: &str) -> bool {
    let v = gotoolchain.trim();
    !(v.is_empty() || v == "auto" || v == "path" || v.ends_with("+auto") || v.ends_with("+path"))
}

/// The highest Go a go.mod or go.work asks for: its `go` line, or its `toolchain` line when that
/// is newer (`toolchain go1.27.3`; `toolchain default` asks for nothing).
pub fn required(text: &str) -> Option<GoVersion> {
    required_named(text).map(|(v, _)| v)
}

/// [`required`], with the version as written, `go`-prefixed (`go1.22`, `go1.27.3`).
fn required_named(text: &str) -> Option<(GoVersion, String)> {
    let mut best: Option<(GoVersion, String)> = None;
    for name in crate::go::gomod::named_go_versions(text) {
        if let Some(v) = GoVersion::parse(&name)
            && best.as_ref().is_none_or(|(b, _)| v > *b)
        {
            best = Some((v, name));
        }
    }
    best
}

/// The warning to give when `file` (whose text is `text`) needs a newer Go than `goversion`
/// and `gotoolchain` forbids switching; `None` when the running Go is new enough.
pub fn check(file: &Path, text: &str, goversion: &str, gotoolchain: &str) -> Option<String> {
    if !forbids_switching(gotoolchain) {
        return None;
    }
    let running = GoVersion::parse(goversion)?;
    let need = required(text)?;
    if need <= running {
        return None;
    }
    let wanted = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
        .filter(|l| l.starts_with("go ") || l.starts_with("toolchain go"))
        .collect::<Vec<_>>()
        .join("`, `");
    Some(format!(
        "`{}` asks for a newer Go (`{wanted}`) than the one installed ({goversion}), and \
         GOTOOLCHAIN=`{gotoolchain}` forbids switching: the job's own `go` commands will fail \
         with \"requires go >= …\". The caches are keyed for {goversion}. Install a Go that is \
         new enough (actions/setup-go: `go-version-file: go.mod`), or allow switching with \
         GOTOOLCHAIN=auto",
        file.display()
    ))
}

/// The files whose `go`/`toolchain` lines decide which Go runs: go.work in workspace mode,
/// else each module's go.mod.
pub fn governing_files(workspace: Option<&Path>, modules: &[PathBuf]) -> Vec<PathBuf> {
    match workspace {
        Some(w) => vec![w.to_path_buf()],
        None => modules.iter().map(|m| m.join("go.mod")).collect(),
    }
}

/// The highest Go the project's governing files ask for (see [`required`]), as `go1.X[.Y]`;
/// `None` when none asks or none can be read. With it a CI glue can tell, before any `go`
/// command runs, whether the job's GOTOOLCHAIN will switch away from the installed Go.
pub fn required_project(workspace: Option<&Path>, modules: &[PathBuf]) -> Option<String> {
    governing_files(workspace, modules)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|text| required_named(&text))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

/// [`check`] over [`governing_files`], reading them; the first warning, if any. Files that
/// cannot be read are left to the commands that need them.
pub fn check_project(
    workspace: Option<&Path>,
    modules: &[PathBuf],
    goversion: &str,
    gotoolchain: &str,
) -> Option<String> {
    governing_files(workspace, modules).iter().find_map(|f| {
        let text = std::fs::read_to_string(f).ok()?;
        check(f, &text, goversion, gotoolchain)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GoVersion {
        GoVersion::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn versions_order_as_go_orders_them() {
        for (a, b) in [
            ("1.26", "1.26rc1"),
            ("1.26beta1", "1.26rc1"),
            ("1.26rc2", "1.26.0"),
            ("1.26.0", "1.26.8"),
            ("go1.26.8", "1.27"),
            ("1.9.9", "1.10"),
        ] {
            assert!(v(a) < v(b), "{a} < {b}");
        }
        assert_eq!(v("go1.26.8 X:jsonv2"), v("1.26.8"));
        assert_eq!(v("go1.27-devel_abc"), v("1.27"));
        assert!(GoVersion::parse("devel +abc").is_none());
        assert!(GoVersion::parse("1.x").is_none());
    }

    #[test]
    fn which_gotoolchain_values_forbid_switching() {
        for s in ["local", "go1.26.8"] {
            assert!(forbids_switching(s), "{s}");
        }
        for s in ["", "auto", "path", "go1.26.8+auto", "local+path"] {
            assert!(!forbids_switching(s), "{s}");
        }
    }

    #[test]
    fn required_reads_go_and_toolchain_lines() {
        let m = "module m\n\ngo 1.22 // old\n\ntoolchain go1.27.3\n\nrequire x v1.0.0\n";
        assert_eq!(required(m), Some(v("1.27.3")));
        assert_eq!(required("module m\ngo 1.27.3\n"), Some(v("1.27.3")));
        assert_eq!(
            required("module m\ngo 1.24\ntoolchain default\n"),
            Some(v("1.24"))
        );
        assert_eq!(required("module m\n"), None);
    }

    #[test]
    fn warns_only_when_switching_is_forbidden_and_go_is_too_old() {
        let f = Path::new("go.mod");
        let m = "module m\n\ngo 1.27.3\n";
        let w = check(f, m, "go1.26.8", "local").unwrap();
        assert!(
            w.contains("`go.mod` asks for a newer Go (`go 1.27.3`)"),
            "{w}"
        );
        assert!(w.contains("installed (go1.26.8)"), "{w}");
        assert!(w.contains("GOTOOLCHAIN=`local`"), "{w}");
        assert!(w.contains("go-version-file: go.mod"), "{w}");
        assert_eq!(check(f, m, "go1.26.8", "auto"), None);
        assert_eq!(check(f, m, "go1.27.3", "local"), None);
        assert_eq!(check(f, "module m\ngo 1.26\n", "go1.26.8", "local"), None);
        assert_eq!(check(f, m, "devel", "local"), None);
    }
}
