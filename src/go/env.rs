//! The Go environment: parsing `go env -json` (pure) and the questions the key model asks of it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

/// The variables `go env -json` printed, as plain strings. Missing variables (older Go
/// versions print fewer) read as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoEnv {
    vars: BTreeMap<String, String>,
}

impl GoEnv {
    /// Parses the bytes `go env -json` wrote to stdout.
    pub fn parse(json: &[u8]) -> Result<Self> {
        let vars: BTreeMap<String, String> = serde_json::from_slice(json)
            .context("`go env -json` printed something that is not a JSON object of strings")?;
        Ok(Self { vars })
    }

    /// Builds an environment from pairs (tests, and callers that already know the values).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The value of a variable, empty when Go did not print it.
    pub fn get(&self, name: &str) -> &str {
        self.vars.get(name).map_or("", String::as_str)
    }

    /// Sets a variable (used to record values learned outside `go env`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// The name of the variable that holds the instruction-set level for `GOARCH`
    /// (`GOAMD64` for amd64, `GOARM64` for arm64, …), if that architecture has one.
    pub fn arch_level_var(&self) -> Option<&'static str> {
        arch_level_var(self.get("GOARCH"))
    }

    /// GOCACHE as a path (checked to be absolute when the job is loaded).
    pub fn gocache(&self) -> std::path::PathBuf {
        self.get("GOCACHE").into()
    }

    /// GOMODCACHE as a path (checked to be absolute when the job is loaded).
    pub fn gomodcache(&self) -> std::path::PathBuf {
        self.get("GOMODCACHE").into()
    }

    /// Whether cgo is on for this build.
    pub fn cgo_enabled(&self) -> bool {
        self.get("CGO_ENABLED") == "1"
    }

    /// The go.work file in use, if workspace mode is on.
    pub fn gowork(&self) -> Option<&str> {
        let w = self.get("GOWORK");
        (!w.is_empty() && w != "off").then_some(w)
    }

    /// The go.mod of the main module, if the directory is inside one.
    pub fn gomod(&self) -> Option<&str> {
        let m = self.get("GOMOD");
        (!m.is_empty() && m != "/dev/null" && m != "NUL").then_some(m)
    }

    /// All variables, in name order.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// The arch-level variable for a `GOARCH` value (cmd/go `cfg.GetArchEnv`).
pub fn arch_level_var(goarch: &str) -> Option<&'static str> {
    Some(match goarch {
        "amd64" => "GOAMD64",
        "arm64" => "GOARM64",
        "arm" => "GOARM",
        "386" => "GO386",
        "mips" | "mipsle" => "GOMIPS",
        "mips64" | "mips64le" => "GOMIPS64",
        "ppc64" | "ppc64le" => "GOPPC64",
        "riscv64" => "GORISCV64",
        "wasm" => "GOWASM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults_missing_to_empty() {
        let env = GoEnv::parse(
            br#"{"GOVERSION":"go1.26.8","GOARCH":"arm64","GOWORK":"off","GOMOD":"/dev/null"}"#,
        )
        .unwrap();
        assert_eq!(env.get("GOVERSION"), "go1.26.8");
        assert_eq!(env.get("GOFIPS140"), "");
        assert_eq!(env.arch_level_var(), Some("GOARM64"));
        assert_eq!(env.gowork(), None);
        assert_eq!(env.gomod(), None);
    }

    #[test]
    fn rejects_non_json() {
        assert!(GoEnv::parse(b"go: warning\n{}").is_err());
    }
}
