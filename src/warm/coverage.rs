//! Dependency coverage: how many of the job's dependency packages (std and third-party, test
//! dependencies included) are already compiled in GOCACHE for exactly the job's flags.
//!
//! `go list -deps -test -f '{{.Stale}}'` computes the same action IDs as `go build` without
//! compiling anything; a non-main package is not stale iff its archive for these flags is in
//! the cache (`Stale` comes from the action ID `go build` would use: cmd/go/internal/work/buildid.go). A package whose module is not downloaded has no
//! module and an error: it counts as *missing*, and what it imports in turn is unknown, so the
//! third-party count is reported as unknown rather than as a small total. Vet actions are
//! counted from a dry run (`-n`) of the job's go command (see [`crate::warm`]). Parsing and
//! merging are pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `go list -f` template: one line per dependency package (std, or in a non-main module;
/// test variants skipped): import path, std flag, stale flag, error flag.
pub const TEMPLATE: &str = "{{if not .ForTest}}{{if .Standard}}\
{{.ImportPath}}\ttrue\t{{.Stale}}\t{{if .Error}}error{{end}}{{else if .Module}}{{if not .Module.Main}}\
{{.ImportPath}}\tfalse\t{{.Stale}}\t{{if .Error}}error{{end}}{{end}}{{else if .Error}}\
{{.ImportPath}}\tfalse\ttrue\tmissing{{end}}{{end}}";

/// Coverage counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Standard-library dependency packages.
    pub std_total: u64,
    /// …of which compiled in the cache.
    pub std_cached: u64,
    /// Third-party dependency packages.
    pub third_party_total: u64,
    /// …of which compiled in the cache.
    pub third_party_cached: u64,
    /// Packages `go` could not load (e.g. module not downloaded); counted as not cached.
    pub unavailable: u64,
    /// Imported packages whose module is not downloaded (their own imports are unknown).
    #[serde(default)]
    pub missing: u64,
    /// Dependency vet actions (test and vet jobs), when counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vet: Option<VetCoverage>,
}

/// Dependency vet actions of the job's go command: how many there are, how many are cached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetCoverage {
    /// Vet actions on dependency packages.
    pub total: u64,
    /// …of which the cache already has the result.
    pub cached: u64,
}

impl Coverage {
    /// All dependency packages.
    pub fn total(&self) -> u64 {
        self.std_total + self.third_party_total
    }

    /// Those already compiled.
    pub fn cached(&self) -> u64 {
        self.std_cached + self.third_party_cached
    }

    /// "N of M dependency packages already compiled in the cache (std a/b, third-party c/d)",
    /// plus vet actions when counted.
    pub fn sentence(&self) -> String {
        let mut s = if self.missing > 0 {
            format!(
                "{} of {}+ dependency packages already compiled in the cache (std {}/{}, third-party unknown: {} imported package(s) are in modules not downloaded yet, run `go mod download` or `go-ci-cache warm` to resolve them)",
                self.cached(),
                self.total(),
                self.std_cached,
                self.std_total,
                self.missing
            )
        } else {
            format!(
                "{} of {} dependency packages already compiled in the cache (std {}/{}, third-party {}/{})",
                self.cached(),
                self.total(),
                self.std_cached,
                self.std_total,
                self.third_party_cached,
                self.third_party_total
            )
        };
        let loaded_badly = self.unavailable - self.missing.min(self.unavailable);
        if loaded_badly > 0 {
            s.push_str(&format!("; {loaded_badly} could not be loaded"));
        }
        if let Some(v) = self.vet.filter(|v| v.total > 0) {
            s.push_str(&format!(
                "; {} of {} dependency vet actions cached",
                v.cached, v.total
            ));
        }
        s
    }

    /// Whether everything counted is cached (compiles, and vet actions when counted).
    pub fn complete(&self) -> bool {
        self.cached() == self.total()
            && self.unavailable == 0
            && self.vet.is_none_or(|v| v.cached == v.total)
    }
}

/// The coverage after a warm-up whose every step succeeded, from the coverage before it: every
/// package and vet action it listed is now cached. `None` when the count before could not see
/// the whole graph (packages not loaded, modules not downloaded): then it must be measured.
pub fn after_success(before: Coverage) -> Option<Coverage> {
    if before.unavailable > 0 || before.missing > 0 {
        return None;
    }
    Some(Coverage {
        std_cached: before.std_total,
        third_party_cached: before.third_party_total,
        vet: before.vet.map(|v| VetCoverage {
            total: v.total,
            cached: v.total,
        }),
        ..before
    })
}

/// One dependency package as `go list` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageState {
    /// In the standard library.
    pub standard: bool,
    /// Its compiled archive is in the cache.
    pub cached: bool,
    /// `go` could not load it.
    pub error: bool,
    /// Its module is not downloaded.
    pub missing: bool,
}

/// Parses template output into import path → state (pure). Lines that are not ours are ignored.
pub fn parse(out: &str) -> BTreeMap<String, PackageState> {
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 4 || f[0].is_empty() {
            continue;
        }
        // `unsafe` has no compile step and is never stale.
        let missing = f[3] == "missing";
        let error = f[3] == "error" || missing;
        m.insert(
            f[0].to_string(),
            PackageState {
                standard: f[1] == "true",
                cached: f[2] == "false" && !error,
                error,
                missing,
            },
        );
    }
    m
}

/// Merges the packages of several units (a package counts as cached only if it is cached for
/// every unit that needs it) and counts them (pure).
pub fn summarize<'a>(
    units: impl IntoIterator<Item = &'a BTreeMap<String, PackageState>>,
) -> Coverage {
    let mut all: BTreeMap<&str, PackageState> = BTreeMap::new();
    for u in units {
        for (p, s) in u {
            all.entry(p)
                .and_modify(|e| {
                    e.cached &= s.cached;
                    e.error |= s.error;
                    e.missing |= s.missing;
                })
                .or_insert(*s);
        }
    }
    let mut c = Coverage::default();
    for s in all.values() {
        if s.missing {
            c.missing += 1;
            c.unavailable += 1;
            continue;
        }
        let (total, cached) = if s.standard {
            (&mut c.std_total, &mut c.std_cached)
        } else {
            (&mut c.third_party_total, &mut c.third_party_cached)
        };
        *total += 1;
        if s.cached {
            *cached += 1;
        }
        if s.error {
            c.unavailable += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_successful_warm_up_everything_listed_is_cached() {
        let before = Coverage {
            std_total: 200,
            std_cached: 150,
            third_party_total: 20,
            third_party_cached: 0,
            vet: Some(VetCoverage {
                total: 210,
                cached: 3,
            }),
            ..Coverage::default()
        };
        let after = after_success(before).unwrap();
        assert!(after.complete(), "{after:?}");
        assert_eq!((after.total(), after.cached()), (220, 220));
        assert_eq!(
            after.vet,
            Some(VetCoverage {
                total: 210,
                cached: 210
            })
        );
        // The count before did not see everything: measure instead.
        for blind in [
            Coverage {
                unavailable: 1,
                ..before
            },
            Coverage {
                missing: 2,
                unavailable: 2,
                ..before
            },
        ] {
            assert_eq!(after_success(blind), None);
        }
    }

    #[test]
    fn parse_and_summarize() {
        let a = parse(
            "fmt\ttrue\tfalse\t\nexample.com/x\tfalse\ttrue\t\n\nnoise\nexample.com/y\tfalse\ttrue\terror\n",
        );
        let b = parse("fmt\ttrue\ttrue\t\nos\ttrue\tfalse\t\n");
        let c = summarize([&a]);
        assert_eq!(c.total(), 3);
        assert_eq!(c.cached(), 1);
        assert_eq!(c.unavailable, 1);
        // fmt is stale for the second unit, so it is not covered overall.
        let both = summarize([&a, &b]);
        assert_eq!((both.std_total, both.std_cached), (2, 1));
        assert_eq!(
            both.sentence(),
            "1 of 4 dependency packages already compiled in the cache (std 1/2, third-party 0/2); 1 could not be loaded"
        );
    }

    #[test]
    fn modules_not_downloaded_make_third_party_unknown() {
        let a = parse(
            "fmt\ttrue\tfalse\t\ngithub.com/google/uuid\tfalse\ttrue\tmissing\ngolang.org/x/text/cases\tfalse\ttrue\tmissing\n",
        );
        let c = summarize([&a]);
        assert_eq!((c.missing, c.third_party_total, c.total()), (2, 0, 1));
        assert!(!c.complete());
        let s = c.sentence();
        assert!(
            s.contains(
                "third-party unknown: 2 imported package(s) are in modules not downloaded yet"
            ),
            "{s}"
        );
        assert!(
            !s.contains("0/0") && !s.contains("could not be loaded"),
            "{s}"
        );
    }

    #[test]
    fn vet_actions_count() {
        let c = Coverage {
            std_total: 2,
            std_cached: 2,
            vet: Some(VetCoverage {
                total: 5,
                cached: 3,
            }),
            ..Coverage::default()
        };
        assert!(!c.complete());
        assert!(
            c.sentence()
                .ends_with("; 3 of 5 dependency vet actions cached")
        );
    }
}
