//! The job's build flags: parsing `--build-flags` and GOFLAGS, and which of them change Go's
//! action IDs (and so belong in the build fingerprint). Pure code.

use anyhow::Result;

use crate::error::usage;

/// Go build flags that take no value (`-race`) or an optional `=bool`.
const BOOL_FLAGS: &[&str] = &[
    "a",
    "n",
    "race",
    "msan",
    "asan",
    "cover",
    "v",
    "work",
    "x",
    "linkshared",
    "modcacherw",
    "trimpath",
    "json",
    "buildvcs",
];
/// Go build flags that take a value (`-tags foo` or `-tags=foo`).
const VALUE_FLAGS: &[&str] = &[
    "p",
    "covermode",
    "coverpkg",
    "asmflags",
    "buildmode",
    "compiler",
    "gccgoflags",
    "gcflags",
    "installsuffix",
    "ldflags",
    "mod",
    "modfile",
    "overlay",
    "pgo",
    "pkgdir",
    "tags",
    "toolexec",
];
/// Flags that only change what the go command prints or how many jobs it runs, never an output.
const NEUTRAL_FLAGS: &[&str] = &["a", "n", "v", "work", "x", "json", "p"];

/// One build flag with its value, as the user wrote it.
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

    fn is_true(&self) -> bool {
        self.value
            .as_deref()
            .is_none_or(|v| v == "true" || v == "1")
    }
}

/// The job's build flags, parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFlags {
    /// Flags in the order given.
    pub flags: Vec<Flag>,
}

impl BuildFlags {
    /// Parses a shell-quoted flag string such as `-race -tags "a b"`. `source` names the input
    /// in errors (`--build-flags`, `GOFLAGS`).
    pub fn parse(s: &str, source: &str) -> Result<Self> {
        let Some(tokens) = shlex::split(s) else {
            return Err(usage(
                format!("cannot parse {source} `{s}`: unbalanced quotes"),
                "quote values with spaces as a shell would, e.g. `-ldflags='-s -w'`",
            ));
        };
        Self::from_tokens(&tokens, source)
    }

    /// Parses GOFLAGS, which Go splits on spaces (no quoting; values may not contain spaces
    /// except in the `-flag=value` form quoted as a whole).
    pub fn parse_goflags(s: &str) -> Result<Self> {
        Self::parse(s, "GOFLAGS")
    }

    fn from_tokens(tokens: &[String], source: &str) -> Result<Self> {
        let mut flags = Vec::new();
        let mut it = tokens.iter();
        while let Some(tok) = it.next() {
            let Some(body) = tok.strip_prefix("--").or_else(|| tok.strip_prefix('-')) else {
                return Err(usage(
                    format!("unexpected argument `{tok}` in {source}"),
                    "give build flags only, e.g. `-race -tags integration`; packages are found from --dir",
                ));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let value = if BOOL_FLAGS.contains(&name) {
                inline
            } else if VALUE_FLAGS.contains(&name) {
                match inline {
                    Some(v) => Some(v),
                    None => Some(it.next().cloned().ok_or_else(|| {
                        usage(
                            format!("flag `-{name}` in {source} needs a value"),
                            format!("write it as `-{name}=VALUE`"),
                        )
                    })?),
                }
            } else {
                return Err(usage(
                    format!("unknown build flag `{tok}` in {source}"),
                    "known flags are those of `go help build`, e.g. -race, -cover, -tags, -trimpath, -gcflags, -ldflags, -pgo",
                ));
            };
            flags.push(Flag {
                name: name.to_string(),
                value,
            });
        }
        Ok(Self { flags })
    }

    /// The last value of a flag (Go lets later flags override earlier ones).
    pub fn value(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    /// Whether a boolean flag is in effect.
    pub fn is_set(&self, name: &str) -> bool {
        self.value(name).is_some_and(Flag::is_true)
    }

    /// The flags that can change an action ID, canonically spelled, in order.
    pub fn fingerprint_tokens(&self) -> Vec<String> {
        self.flags
            .iter()
            .filter(|f| !NEUTRAL_FLAGS.contains(&f.name.as_str()))
            .map(Flag::canonical)
            .collect()
    }

    /// Arguments to pass to a go command (canonical single tokens; never shell-interpreted).
    pub fn args(&self) -> Vec<String> {
        self.flags.iter().map(Flag::canonical).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bool_and_value_flags() {
        let f = BuildFlags::parse(
            r#"-race -tags "a b" -ldflags=-s --trimpath -x"#,
            "--build-flags",
        )
        .unwrap();
        assert_eq!(
            f.args(),
            ["-race", "-tags=a b", "-ldflags=-s", "-trimpath", "-x"]
        );
        assert!(f.is_set("trimpath"));
        assert!(f.is_set("race"));
        assert!(!f.is_set("cover"));
        assert_eq!(
            f.fingerprint_tokens(),
            ["-race", "-tags=a b", "-ldflags=-s", "-trimpath"]
        );
    }

    #[test]
    fn trimpath_false_is_off() {
        let f = BuildFlags::parse("-trimpath=false", "GOFLAGS").unwrap();
        assert!(!f.is_set("trimpath"));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["./...", "-bogus", "-tags", "-race 'x"] {
            let err = BuildFlags::parse(bad, "--build-flags").unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
    }
}
