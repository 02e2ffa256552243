//! The key-input table itself: for each Go variable, build flag and probed fact, the layer it
//! lands in, when it applies, how it is canonicalised and why. Plain data; [`super::inputs`]
//! applies it and `tests/it/key_table.rs` checks it against what changes Go's action IDs.

/// Where an input lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The build entry's fingerprint layer (GOVERSION, GOOS and GOARCH also form the readable
    /// `go` and `target` layers).
    Fingerprint,
    /// The dependency layer of both entries.
    Deps,
    /// The modules entry's `os` layer.
    HostOs,
    /// No key: it changes no dependency action ID (the reason says why).
    Nowhere,
}

/// When a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always (the value may be empty).
    Always,
    /// Only when set / non-empty / on.
    Set,
    /// Only when `CGO_ENABLED=1`.
    Cgo,
    /// Only when `-trimpath` is off.
    NoTrimpath,
    /// Only for the arch-level variable of the target `GOARCH`.
    ArchLevel,
    /// Only when the value is `off`.
    Off,
}

/// How the value is canonicalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    /// As given.
    Verbatim,
    /// A boolean flag: `on` when true, left out when false.
    Bool,
    /// `-tags`: split on `,` and spaces, sorted, deduplicated.
    SortedSet,
    /// A per-package flag (`-gcflags`): only `pattern=…` values, in order; an unqualified
    /// value applies to the packages named on the command line (the job's own), not to
    /// dependencies.
    Qualified,
    /// Turns coverage on (like `-cover`).
    ImpliesCover,
    /// The SHA-256 of the file(s) it names.
    FileDigest,
    /// Not keyed.
    Dropped,
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `go env` variable.
    GoEnv(&'static str),
    /// A variable of the process environment that `go env` does not print.
    ProcessEnv(&'static str),
    /// A go flag, from GOFLAGS and `--build-flags` (the command line overrides GOFLAGS).
    Flag(&'static str),
    /// A fact the loader measures (compiler identity, C compiler version, runner image).
    Probe(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What is read.
    pub source: Source,
    /// Where it lands.
    pub layer: Layer,
    /// When it applies.
    pub when: When,
    /// How it is spelled in the key.
    pub canon: Canon,
    /// Why (shown in docs and tests).
    pub why: &'static str,
}

const fn r(source: Source, layer: Layer, when: When, canon: Canon, why: &'static str) -> Rule {
    Rule {
        source,
        layer,
        when,
        canon,
        why,
    }
}

/// The probe names.
pub const PROBE_COMPILER: &str = "compiler build ID";
/// The C compiler's version line.
pub const PROBE_CC: &str = "cc --version";
/// The runner image.
pub const PROBE_IMAGE: &str = "runner image";

use Canon::*;
use Layer::*;
use Source::*;
use When::*;

/// The table. Every flag of [`crate::go::flags::FLAGS`] has a row (a test checks it).
pub const RULES: &[Rule] = &[
    // The toolchain and the target.
    r(
        GoEnv("GOVERSION"),
        Fingerprint,
        Always,
        Verbatim,
        "salts every action ID (patch included)",
    ),
    r(
        Probe(PROBE_COMPILER),
        Fingerprint,
        Always,
        Verbatim,
        "Go keys a release compiler by its version string only; a fork or distro build with the same string would be a false hit",
    ),
    r(
        GoEnv("GOOS"),
        Fingerprint,
        Always,
        Verbatim,
        "in every action ID",
    ),
    r(
        GoEnv("GOARCH"),
        Fingerprint,
        Always,
        Verbatim,
        "in every action ID",
    ),
    r(
        GoEnv("GOAMD64"),
        Fingerprint,
        ArchLevel,
        Verbatim,
        "arch level: in every action ID (GOARM64, GOARM, GO386, GOMIPS, GOMIPS64, GOPPC64, GORISCV64, GOWASM alike)",
    ),
    r(
        GoEnv("GOEXPERIMENT"),
        Fingerprint,
        Always,
        Verbatim,
        "in every action ID",
    ),
    r(
        GoEnv("GOFIPS140"),
        Fingerprint,
        Always,
        Verbatim,
        "selects the crypto module snapshot",
    ),
    r(
        GoEnv("GOHOSTOS"),
        HostOs,
        Always,
        Verbatim,
        "module archives are per OS",
    ),
    // cgo.
    r(
        GoEnv("CGO_ENABLED"),
        Fingerprint,
        Always,
        Verbatim,
        "changes net, os/user, runtime/cgo and their importers",
    ),
    r(
        GoEnv("CC"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CXX"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CGO_CFLAGS"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CGO_CPPFLAGS"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CGO_CXXFLAGS"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CGO_FFLAGS"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("CGO_LDFLAGS"),
        Fingerprint,
        Cgo,
        Verbatim,
        "in cgo packages' action IDs",
    ),
    r(
        GoEnv("PKG_CONFIG"),
        Fingerprint,
        Cgo,
        Verbatim,
        "decides cgo packages' flags",
    ),
    r(
        Probe(PROBE_CC),
        Fingerprint,
        Cgo,
        Verbatim,
        "Go hashes the C compiler's version line",
    ),
    r(
        Probe(PROBE_IMAGE),
        Fingerprint,
        Cgo,
        Verbatim,
        "cgo objects are compiled against the image's C headers and libraries, which Go's cache does not see (ImageOS/ImageVersion, CI_JOB_IMAGE or --runner-image)",
    ),
    // Paths.
    r(
        GoEnv("GOMODCACHE"),
        Fingerprint,
        NoTrimpath,
        Verbatim,
        "without -trimpath every dependency's action ID holds its absolute directory",
    ),
    r(
        GoEnv("GOROOT"),
        Nowhere,
        Always,
        Dropped,
        "the GOROOT location is hidden from action IDs",
    ),
    r(
        GoEnv("GOPATH"),
        Nowhere,
        Always,
        Dropped,
        "only through the GOMODCACHE path",
    ),
    r(
        GoEnv("GOCACHE"),
        Nowhere,
        Always,
        Dropped,
        "where the cache is, not what is in it",
    ),
    r(
        GoEnv("GOPROXY"),
        Nowhere,
        Always,
        Dropped,
        "where modules come from; go.sum pins what they are",
    ),
    r(
        GoEnv("GODEBUG"),
        Nowhere,
        Always,
        Dropped,
        "not in compile action IDs",
    ),
    r(
        GoEnv("GOTOOLCHAIN"),
        Nowhere,
        Always,
        Dropped,
        "keyed through the GOVERSION it resolves to",
    ),
    r(
        GoEnv("GOFLAGS"),
        Nowhere,
        Always,
        Dropped,
        "parsed: each of its flags is keyed by its own row, as if given before --build-flags",
    ),
    // Module mode.
    r(
        GoEnv("GOWORK"),
        Deps,
        Off,
        Verbatim,
        "GOWORK=off builds the module alone",
    ),
    // Compiler debug variables Go hashes when set (`work/exec.go` `buildActionID`).
    r(
        ProcessEnv("GOSSAFUNC"),
        Fingerprint,
        Set,
        Verbatim,
        "in compile action IDs when set",
    ),
    r(
        ProcessEnv("GOSSADIR"),
        Fingerprint,
        Set,
        Verbatim,
        "in compile action IDs when set",
    ),
    r(
        ProcessEnv("GOCOMPILEDEBUG"),
        Fingerprint,
        Set,
        Verbatim,
        "in compile action IDs when set",
    ),
    r(
        ProcessEnv("GOCLOBBERDEADHASH"),
        Fingerprint,
        Set,
        Verbatim,
        "in compile action IDs when set",
    ),
    // Build flags that change dependencies.
    r(
        Flag("race"),
        Fingerprint,
        Set,
        Bool,
        "instruments every package",
    ),
    r(
        Flag("msan"),
        Fingerprint,
        Set,
        Bool,
        "instruments every package",
    ),
    r(
        Flag("asan"),
        Fingerprint,
        Set,
        Bool,
        "instruments every package",
    ),
    r(
        Flag("cover"),
        Fingerprint,
        Set,
        Bool,
        "adds the coverage runtime packages",
    ),
    r(
        Flag("coverprofile"),
        Fingerprint,
        Set,
        ImpliesCover,
        "turns coverage on, like -cover (the file name keys nothing)",
    ),
    r(
        Flag("covermode"),
        Fingerprint,
        Set,
        Verbatim,
        "changes the coverage runtime packages",
    ),
    r(
        Flag("coverpkg"),
        Fingerprint,
        Set,
        Verbatim,
        "instruments the packages it names",
    ),
    r(
        Flag("buildmode"),
        Fingerprint,
        Set,
        Verbatim,
        "changes how every package is compiled (e.g. pie)",
    ),
    r(
        Flag("compiler"),
        Fingerprint,
        Set,
        Verbatim,
        "another compiler",
    ),
    r(
        Flag("linkshared"),
        Fingerprint,
        Set,
        Bool,
        "changes how every package is compiled",
    ),
    r(
        Flag("trimpath"),
        Fingerprint,
        Set,
        Bool,
        "in every action ID; also takes GOMODCACHE out of the key",
    ),
    r(
        Flag("tags"),
        Fingerprint,
        Set,
        SortedSet,
        "selects files in any package; order and repeats do not matter",
    ),
    r(
        Flag("gcflags"),
        Fingerprint,
        Set,
        Qualified,
        "per package: `all=…` or `pattern=…` reach dependencies, an unqualified value only the job's own packages",
    ),
    r(
        Flag("asmflags"),
        Fingerprint,
        Set,
        Qualified,
        "per package, like -gcflags",
    ),
    r(
        Flag("gccgoflags"),
        Fingerprint,
        Set,
        Qualified,
        "per package, like -gcflags",
    ),
    r(
        Flag("toolexec"),
        Fingerprint,
        Set,
        Verbatim,
        "Go's cache does not see it (golang/go#27628), but it can change every output",
    ),
    r(
        Flag("overlay"),
        Fingerprint,
        Set,
        Verbatim,
        "replaces source files",
    ),
    r(
        Flag("pgo"),
        Fingerprint,
        Set,
        FileDigest,
        "every package of a PGO build is keyed on the profile: the digests of the profiles in effect (none with -pgo=off)",
    ),
    // Module flags.
    r(Flag("mod"), Deps, Set, Verbatim, "readonly, vendor or mod"),
    r(
        Flag("modfile"),
        Deps,
        Set,
        FileDigest,
        "another go.mod (and its go.sum) decides the build list",
    ),
    // Link-only and main-package-only flags.
    r(
        Flag("ldflags"),
        Nowhere,
        Always,
        Dropped,
        "link and the main package's build info only (version stamps with -X change every commit)",
    ),
    r(
        Flag("buildvcs"),
        Nowhere,
        Always,
        Dropped,
        "the main package's build info only",
    ),
    // Output, concurrency and work-directory flags.
    r(
        Flag("a"),
        Nowhere,
        Always,
        Dropped,
        "rebuilds, with the same action IDs",
    ),
    r(Flag("n"), Nowhere, Always, Dropped, "prints only"),
    r(Flag("p"), Nowhere, Always, Dropped, "parallelism"),
    r(Flag("v"), Nowhere, Always, Dropped, "prints only"),
    r(Flag("x"), Nowhere, Always, Dropped, "prints only"),
    r(
        Flag("work"),
        Nowhere,
        Always,
        Dropped,
        "keeps the work directory",
    ),
    r(Flag("json"), Nowhere, Always, Dropped, "output format"),
    r(
        Flag("modcacherw"),
        Nowhere,
        Always,
        Dropped,
        "module cache permissions",
    ),
    r(Flag("pkgdir"), Nowhere, Always, Dropped, "install location"),
    r(
        Flag("installsuffix"),
        Nowhere,
        Always,
        Dropped,
        "install location; measured: no action ID changes",
    ),
    // go test and go vet flags: how tests run, or vet actions only.
    r(
        Flag("vet"),
        Nowhere,
        Always,
        Dropped,
        "vet actions only (the warm-up runs them as given)",
    ),
    r(
        Flag("vettool"),
        Nowhere,
        Always,
        Dropped,
        "vet actions only",
    ),
    r(Flag("c"), Nowhere, Always, Dropped, "test run"),
    r(Flag("o"), Nowhere, Always, Dropped, "test run"),
    r(Flag("exec"), Nowhere, Always, Dropped, "test run"),
    r(Flag("args"), Nowhere, Always, Dropped, "test run"),
    r(Flag("artifacts"), Nowhere, Always, Dropped, "test run"),
    r(Flag("bench"), Nowhere, Always, Dropped, "test run"),
    r(Flag("benchmem"), Nowhere, Always, Dropped, "test run"),
    r(Flag("benchtime"), Nowhere, Always, Dropped, "test run"),
    r(Flag("blockprofile"), Nowhere, Always, Dropped, "test run"),
    r(
        Flag("blockprofilerate"),
        Nowhere,
        Always,
        Dropped,
        "test run",
    ),
    r(Flag("count"), Nowhere, Always, Dropped, "test run"),
    r(Flag("cpu"), Nowhere, Always, Dropped, "test run"),
    r(Flag("cpuprofile"), Nowhere, Always, Dropped, "test run"),
    r(Flag("failfast"), Nowhere, Always, Dropped, "test run"),
    r(Flag("fullpath"), Nowhere, Always, Dropped, "test run"),
    r(Flag("fuzz"), Nowhere, Always, Dropped, "test run"),
    r(
        Flag("fuzzminimizetime"),
        Nowhere,
        Always,
        Dropped,
        "test run",
    ),
    r(Flag("fuzztime"), Nowhere, Always, Dropped, "test run"),
    r(Flag("list"), Nowhere, Always, Dropped, "test run"),
    r(Flag("memprofile"), Nowhere, Always, Dropped, "test run"),
    r(Flag("memprofilerate"), Nowhere, Always, Dropped, "test run"),
    r(Flag("mutexprofile"), Nowhere, Always, Dropped, "test run"),
    r(
        Flag("mutexprofilefraction"),
        Nowhere,
        Always,
        Dropped,
        "test run",
    ),
    r(Flag("outputdir"), Nowhere, Always, Dropped, "test run"),
    r(Flag("parallel"), Nowhere, Always, Dropped, "test run"),
    r(Flag("run"), Nowhere, Always, Dropped, "test run"),
    r(Flag("short"), Nowhere, Always, Dropped, "test run"),
    r(Flag("shuffle"), Nowhere, Always, Dropped, "test run"),
    r(Flag("skip"), Nowhere, Always, Dropped, "test run"),
    r(Flag("timeout"), Nowhere, Always, Dropped, "test run"),
    r(Flag("trace"), Nowhere, Always, Dropped, "test run"),
];
