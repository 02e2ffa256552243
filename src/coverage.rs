//! Dependency coverage: how many of the job's dependency packages (std and third-party, test
//! dependencies included) are already compiled in GOCACHE for exactly the job's flags.
//!
//! `go list -deps -test -f '{{.Stale}}'` computes the same action IDs as `go build` without
//! compiling anything; a non-main package is not stale iff its archive for these flags is in
//! the cache (reference: go-caches.md §4.2). Parsing and merging are pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `go list -f` template: one line per dependency package (std, or in a non-main module;
/// test variants skipped): import path, std flag, stale flag, error flag.
pub const TEMPLATE: &str = "{{if and (not .ForTest) (or .Standard (and .Module (not .Module.Main)))}}\
{{.ImportPath}}\t{{.Standard}}\t{{.Stale}}\t{{if .Error}}error{{end}}{{end}}";

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

    /// "N of M dependency packages already compiled in the cache (std a/b, third-party c/d)".
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "{} of {} dependency packages already compiled in the cache (std {}/{}, third-party {}/{})",
            self.cached(),
            self.total(),
            self.std_cached,
            self.std_total,
            self.third_party_cached,
            self.third_party_total
        );
        if self.unavailable > 0 {
            s.push_str(&format!("; {} could not be loaded", self.unavailable));
        }
        s
    }
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
        let error = f[3] == "error";
        m.insert(
            f[0].to_string(),
            PackageState {
                standard: f[1] == "true",
                cached: f[2] == "false" && !error,
                error,
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
                })
                .or_insert(*s);
        }
    }
    let mut c = Coverage::default();
    for s in all.values() {
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
}
