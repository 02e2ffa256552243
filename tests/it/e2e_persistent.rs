//! Machines that keep their disks, end to end with the real `go`: the machine record (a job
//! restores nothing the caches hold; a record restored from an archive does not count), two
//! projects alternating on one machine under the budget trim, the archive's exclusions with
//! GNU tar, another project's module cache on a self-hosted runner, and a restore racing
//! another job's trim.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{TestEnv, copy_tree, deps_compiled};

/// One job's commands on the shared machine: its own state file, the machine's environment.
struct Job<'a> {
    t: &'a TestEnv,
    dir: PathBuf,
    state: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl<'a> Job<'a> {
    fn new(t: &'a TestEnv, dir: &Path, name: &str) -> Self {
        Job {
            t,
            dir: dir.to_path_buf(),
            state: t.root().join(format!("state-{name}.json")),
            env: vec![("RUNNER_ENVIRONMENT", "self-hosted".into())],
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.t.bin(args);
        c.arg("--dir")
            .arg(&self.dir)
            .env("GO_CI_CACHE_STATE", &self.state);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs a lifecycle command, asserts success; returns (stdout, stderr).
    fn run(&self, args: &[&str]) -> (String, String) {
        let out = self.cmd(args).output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{args:?}: {e}\n{o}");
        (o, e)
    }

    fn claim(&self) -> Value {
        serde_json::from_str(&self.run(&["claim"]).0).unwrap()
    }

    /// `go build -x ./...`: the dependency packages it compiled.
    fn build(&self) -> Vec<String> {
        let out = self.t.go_ok(&self.dir, &["build", "-x", "./..."]);
        let main = format!(
            "example.com/{}",
            self.dir.file_name().unwrap().to_string_lossy()
        );
        let mut v = deps_compiled(&out.stderr, &main);
        v.sort();
        v.dedup();
        v
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.state).unwrap()).unwrap()
    }

    /// A whole job on the machine: claim, prepare, build, trim. Returns what it compiled.
    fn cycle(&self, trim: &[&str]) -> Vec<String> {
        self.claim();
        self.run(&["prepare"]);
        let compiled = self.build();
        self.run(&[&["trim"][..], trim].concat());
        compiled
    }
}

/// Moves the mtimes of GOCACHE's entries back (time passing between jobs; the machine
/// records are left alone: nothing rewrites them meanwhile).
fn age(gocache: &Path, secs: i64) {
    for e in walkdir::WalkDir::new(gocache)
        .min_depth(2)
        .into_iter()
        .flatten()
    {
        let top = e
            .path()
            .strip_prefix(gocache)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if top.len() != 2 || !e.file_type().is_file() {
            continue;
        }
        let m = filetime::FileTime::from_last_modification_time(&e.metadata().unwrap());
        let t = filetime::FileTime::from_unix_time(m.unix_seconds() - secs, 0);
        filetime::set_file_mtime(e.path(), t).unwrap();
    }
}

/// A cache root on disk: every regular file under it (entries, Go's own files, the machine
/// records and leases), as `du --apparent-size` counts them.
fn gocache_bytes(p: &Path) -> u64 {
    go_ci_cache::fsutil::tree_bytes(p)
}

fn tar(args: &[&str]) {
    let out = Command::new("tar").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The machine record: after a job, the next job of the same configuration and dependency set
/// restores nothing; another dependency set restores; a record that comes back in an archive
/// on a fresh runner from the same image does not count, so that runner restores.
#[test]
fn the_machine_record_says_what_the_caches_hold() {
    let t = TestEnv::new();
    let app = t.module("app", &["example.com/greet@v1.0.0"]);
    let job = Job::new(&t, &app, "app");
    // `go mod tidy` filled both caches: empty them, as on a fresh machine.
    for d in [t.gomodcache(), t.gocache()] {
        let _ = Command::new("chmod").arg("-R").arg("u+w").arg(&d).status();
        std::fs::remove_dir_all(&d).unwrap();
    }
    std::fs::create_dir_all(t.gocache()).unwrap();

    // A fresh machine: empty caches, no record: the entries' own restore keys.
    let c = job.claim();
    assert_eq!(c["persistent"], false, "{c}");
    assert_eq!(c["build"]["restore_keys"], Value::Null, "{c}");
    assert_eq!(
        (&c["modules"]["held"], &c["build"]["held"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    job.run(&["prepare"]);
    assert!(!job.build().is_empty());
    job.run(&["trim"]);

    // The next job on this machine: both entries are here.
    let c = job.claim();
    assert_eq!(c["persistent"], true, "{c}");
    assert!(c["why"].as_str().unwrap().contains("record"), "{c}");
    assert_eq!(c["modules"]["held"], true, "{c}");
    assert_eq!(c["build"]["held"], true, "{c}");
    let st = job.state();
    assert_eq!(st["machine"]["persistent"], true);
    let leases = t.gocache().join(go_ci_cache::cache::lease::DIR);
    let lease: Value = serde_json::from_slice(
        &std::fs::read(
            std::fs::read_dir(&leases)
                .unwrap()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        lease["restoring"], true,
        "the lease is taken before the restore"
    );
    let (_, err) = job.run(&["prepare"]);
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(job.build(), Vec::<String>::new());
    let (_, err) = job.run(&["trim"]);
    assert!(err.contains("budget"), "{err}");
    let report = job.run(&["report", "--format", "text"]).0;
    assert!(report.contains("already on this machine"), "{report}");
    assert!(report.contains("machine: keeps its caches"), "{report}");

    // A dependency bump: the machine holds another set, so neither entry is held. It holds
    // the earlier set's work, though, which a restore key would bring back: only an entry of
    // the new set is looked up (the exact key; for a build key with a per-run layer, also
    // another run's entry of this set and configuration).
    t.go_ok(&app, &["get", "example.com/greet@v1.1.0"]);
    let rolling = |cmd: &[&str]| -> Value {
        let out = job
            .cmd(cmd)
            .env("GO_CI_CACHE_ROLLING_SUFFIX", "r9.1")
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let keys = rolling(&["keys", "--format", "json"]);
    let c = rolling(&["claim"]);
    assert_eq!(c["build"]["held"], false, "{c}");
    assert_eq!(
        c["build"]["restore_keys"],
        serde_json::json!([keys["build"]["restore_keys"][0]]),
        "{c}"
    );
    let (_, err) = job.run(&["claim"]);
    assert!(
        err.contains("restoring only an entry of this dependency set"),
        "{err}"
    );
    let c = job.claim();
    assert_eq!(c["persistent"], true);
    assert_eq!(c["modules"]["held"], false, "{c}");
    assert_eq!(c["build"]["held"], false, "{c}");
    assert!(
        c["build"]["why"]
            .as_str()
            .unwrap()
            .contains("another dependency set"),
        "{c}"
    );
    assert_eq!(c["modules"]["restore_keys"], serde_json::json!([]), "{c}");
    assert_eq!(c["build"]["restore_keys"], serde_json::json!([]), "{c}");
    job.run(&["prepare"]);
    job.build();
    job.run(&["trim"]);
    assert_eq!(job.claim()["build"]["held"], true);
    job.run(&["trim", "--record-only"]);

    // The caches saved as actions/cache saves them (a minute after the job), then a fresh
    // runner from the same image: empty caches at the same paths; it claims, then restores.
    let rec = t.gocache().join(go_ci_cache::cache::machine::DIR);
    for root in [t.gocache(), t.gomodcache()] {
        let dir = root.join(go_ci_cache::cache::machine::DIR);
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let now = filetime::FileTime::now().unix_seconds();
            let old = filetime::FileTime::from_unix_time(now - 60, 0);
            filetime::set_file_mtime(e.path(), old).unwrap();
        }
    }
    let archive = t.root().join("caches.tar");
    tar(&[
        "-C",
        t.root().to_str().unwrap(),
        "-cf",
        archive.to_str().unwrap(),
        "gocache",
        "gomodcache",
    ]);
    for d in [t.gocache(), t.gomodcache()] {
        let _ = Command::new("chmod").arg("-R").arg("u+w").arg(&d).status();
        std::fs::remove_dir_all(&d).unwrap();
    }
    let c = job.claim();
    assert_eq!(c["persistent"], false, "a fresh runner: {c}");
    tar(&[
        "-C",
        t.root().to_str().unwrap(),
        "-xf",
        archive.to_str().unwrap(),
    ]);
    assert!(rec.is_dir(), "the archive brought the records");
    // Claimed after the restore (another step restored first), the records still do not
    // count: nothing is held, everything restores.
    let c = job.claim();
    assert_eq!(c["modules"]["held"], false, "{c}");
    assert_eq!(c["build"]["held"], false, "{c}");
    assert!(
        !c["why"].as_str().unwrap().contains("record"),
        "a restored record made the runner look persistent: {c}"
    );
    let mut hosted = Job::new(&t, &app, "hosted");
    hosted.env = vec![("RUNNER_ENVIRONMENT", "github-hosted".into())];
    let c = hosted.claim();
    assert_eq!(c["persistent"], false, "{c}");
    // `persistent: false` forces a restore even where the record would hold.
    job.run(&["prepare"]);
    job.build();
    job.run(&["trim"]);
    let out = job
        .cmd(&["claim"])
        .env("GO_CI_CACHE_PERSISTENT", "false")
        .output()
        .unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (c["persistent"].as_bool(), c["build"]["held"].as_bool()),
        (Some(false), Some(false)),
        "{c}"
    );
    // Bad input is exit 2 with a hint.
    let out = job.cmd(&["trim", "--budget", "lots"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lots`") && err.contains("hint:"), "{err}");
}

/// Two projects alternate on one self-hosted machine with Go's default-style shared caches,
/// aged past the hour between jobs. Today's use-based trim made each job delete the other's
/// dependency packages; under the budget trim neither compiles again what it compiled there
/// before. The budget then removes the least recently used first, never what the job used,
/// and the archive a job saves (GNU tar with the exclusions) holds exactly its own set while
/// the local cache keeps everything.
#[test]
fn two_projects_alternating_keep_each_others_work() {
    let t = TestEnv::new();
    t.seed_gocache();
    let a_dir = t.module("a", &["example.com/greet@v1.1.0"]);
    let b_dir = t.module("b", &["example.com/greet@v1.1.0", "example.com/testonly"]);
    let (a, b) = (Job::new(&t, &a_dir, "a"), Job::new(&t, &b_dir, "b"));
    // The seeded standard library makes the machine's caches non-empty: persistent.
    let first_a = a.cycle(&[]);
    assert!(
        first_a.contains(&"example.com/greet".to_string()),
        "{first_a:?}"
    );
    age(&t.gocache(), 2 * 3600);
    let first_b = b.cycle(&[]);
    assert_eq!(
        first_b,
        ["example.com/testonly"],
        "greet and strutil came from A's job"
    );
    for round in 0..2 {
        age(&t.gocache(), 2 * 3600);
        assert_eq!(a.cycle(&[]), Vec::<String>::new(), "A, round {round}");
        age(&t.gocache(), 2 * 3600);
        assert_eq!(b.cycle(&[]), Vec::<String>::new(), "B, round {round}");
    }
    // The shared module cache lost nothing either.
    for m in [
        "example.com/greet@v1.1.0",
        "example.com/testonly@v1.0.0",
        "example.com/strutil@v1.0.0",
    ] {
        assert!(t.gomodcache().join(m).is_dir(), "{m}");
    }
    assert!(
        t.gomodcache()
            .join("cache/download/example.com/greet/@v/v1.1.0.zip")
            .exists(),
        "nothing pruned from a module cache that serves every job"
    );

    // A's job, then an archive of its caches as the post step saves it: TAR_OPTIONS carries
    // the exclusions, as @actions/cache's tar receives them.
    age(&t.gocache(), 3 * 3600);
    a.cycle(&[]);
    let st = a.state();
    let ex_build = st["trim"]["gocache"]["exclude_file"]
        .as_str()
        .unwrap()
        .to_string();
    let ex_mod = st["trim"]["gomodcache"]["exclude_file"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        st["trim"]["gocache"]["excluded"].as_u64().unwrap() > 0,
        "{st}"
    );
    let before_local = gocache_bytes(&t.gocache());
    // Another runner of the fleet restores that archive at the same paths (as on GitHub):
    // the machine's caches step aside meanwhile.
    let aside = |from: &Path, to: &Path| std::fs::rename(from, to).unwrap();
    let mut archives = Vec::new();
    for (root, ex, name) in [
        (t.gocache(), &ex_build, "gocache"),
        (t.gomodcache(), &ex_mod, "gomodcache"),
    ] {
        let archive = t.root().join(format!("{name}.tar"));
        let out = Command::new("tar")
            .env("TAR_OPTIONS", format!("--exclude-from={ex}"))
            .args(["--posix", "-cf"])
            .arg(&archive)
            .arg("-C")
            .arg(root.parent().unwrap())
            .arg(root.file_name().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        archives.push((root, archive));
    }
    assert_eq!(
        gocache_bytes(&t.gocache()),
        before_local,
        "saving took nothing from the machine"
    );
    for (root, archive) in &archives {
        aside(root, &root.with_extension("machine"));
        tar(&[
            "-C",
            root.parent().unwrap().to_str().unwrap(),
            "-xf",
            archive.to_str().unwrap(),
        ]);
    }
    let (fmod, fbuild) = (t.gomodcache(), t.gocache());
    assert!(fmod.join("example.com/greet@v1.1.0").is_dir());
    assert!(
        !fmod.join("example.com/testonly@v1.0.0").exists(),
        "B's module is not A's to save"
    );
    assert!(!fmod.join("cache/download/example.com/testonly/@v").exists());
    assert!(!fbuild.join(go_ci_cache::cache::machine::DIR).exists());
    assert!(!fbuild.join(go_ci_cache::cache::lease::DIR).exists());
    // The fleet's runner builds A from that archive alone, offline.
    let out = t
        .go(&a_dir)
        .args(["build", "-x", "./..."])
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deps = deps_compiled(&out.stderr, "example.com/a");
    assert_eq!(deps, Vec::<String>::new(), "the archive holds what A used");
    assert!(
        gocache_bytes(&fbuild) < before_local,
        "and less than the machine's cache (B's packages stayed out)"
    );
    for (root, _) in &archives {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(root)
            .status();
        std::fs::remove_dir_all(root).unwrap();
        aside(&root.with_extension("machine"), root);
    }

    // A budget that holds what the job used and half the rest: the least recently used
    // entries go, nothing the job used does, and the cache ends within the budget.
    age(&t.gocache(), 3 * 3600);
    a.claim();
    a.run(&["prepare"]);
    assert_eq!(a.build(), Vec::<String>::new());
    let listing = entries(&t.gocache());
    let recent = filetime::FileTime::now().unix_seconds() - 1800;
    let used: u64 = listing.iter().filter(|e| e.1 > recent).map(|e| e.2).sum();
    let total: u64 = listing.iter().map(|e| e.2).sum();
    let budget = used + (total - used) / 2;
    // Go keeps fuzzing corpora in GOCACHE too (`fuzz/`): not entries, never removed by a
    // trim, but on the disk the budget bounds.
    let corpus = t.gocache().join("fuzz/example.com/a/FuzzX/corpus.bin");
    std::fs::create_dir_all(corpus.parent().unwrap()).unwrap();
    std::fs::write(&corpus, vec![7u8; ((total - used) / 4) as usize]).unwrap();
    let (_, err) = a.run(&["trim", "--budget", &budget.to_string()]);
    assert!(
        gocache_bytes(&t.gocache()) <= budget,
        "{} > {budget}\n{err}",
        gocache_bytes(&t.gocache())
    );
    assert!(corpus.exists(), "the trim removed a fuzzing corpus");
    let (gone, kept): (Vec<_>, Vec<_>) = listing.iter().partition(|e| !e.0.exists());
    assert!(!gone.is_empty(), "{err}");
    assert!(
        gone.iter().all(|e| e.1 <= recent),
        "an entry the job used went"
    );
    // Least recently used first (action records: an output stays while a kept record names it).
    let newest_gone = gone.iter().filter(|e| e.3).map(|e| e.1).max().unwrap();
    let oldest_kept = kept
        .iter()
        .filter(|e| e.3 && e.1 <= recent)
        .map(|e| e.1)
        .min();
    assert!(
        oldest_kept.is_none_or(|k| newest_gone <= k),
        "{newest_gone} > {oldest_kept:?}"
    );
    // The smallest budget: everything but what the job used goes; A still compiles nothing,
    // and B compiles again only its own package.
    age(&t.gocache(), 2 * 3600);
    assert_eq!(
        a.cycle(&["--budget", "1"]),
        Vec::<String>::new(),
        "A's set stayed"
    );
    age(&t.gocache(), 2 * 3600);
    assert_eq!(b.cycle(&[]), ["example.com/testonly"]);
}

/// GOCACHE's entries: (path, mtime, size, is an action record).
fn entries(gocache: &Path) -> Vec<(PathBuf, i64, u64, bool)> {
    walkdir::WalkDir::new(gocache)
        .min_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n.ends_with("-a") || n.ends_with("-d")
        })
        .map(|e| {
            let m = e.metadata().unwrap();
            let t = filetime::FileTime::from_last_modification_time(&m).unix_seconds();
            let a = e.file_name().to_string_lossy().ends_with("-a");
            (e.into_path(), t, m.len(), a)
        })
        .collect()
}

/// The reproduction: on a self-hosted runner, GOMODCACHE at a path other than Go's
/// default that another project uses (its module tree, its zip, a VCS clone that may be the
/// only copy of a private module). This job's prepare and trim remove none of it; only a
/// module cache proven the job's own (empty before its restore) is pruned.
#[test]
fn another_projects_module_cache_on_a_self_hosted_runner_loses_nothing() {
    let mut t = TestEnv::new();
    t.set_gomodcache(t.root().join("shared-gomod"));
    let other = t.module("other", &["example.com/testonly"]);
    let vcs = t.gomodcache().join("cache/vcs/0123abcd");
    std::fs::create_dir_all(&vcs).unwrap();
    std::fs::write(vcs.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    let app = t.module("app", &["example.com/greet@v1.0.0"]);
    let _ = other;
    let theirs = [
        t.gomodcache().join("example.com/testonly@v1.0.0"),
        t.gomodcache()
            .join("cache/download/example.com/testonly/@v/v1.0.0.zip"),
        vcs.join("HEAD"),
    ];
    let job = Job::new(&t, &app, "app");
    // As the issue ran it: prepare and trim, no claim (the restore already happened).
    job.run(&["prepare"]);
    let (_, err) = job.run(&["trim"]);
    assert!(
        err.contains("GOMODCACHE not trimmed") && err.contains("other projects"),
        "{err}"
    );
    for p in &theirs {
        assert!(p.exists(), "{} removed", p.display());
    }
    // With the claim before the restore: the module cache held modules, so the machine keeps
    // its caches, and nothing is pruned either.
    job.run(&["claim"]);
    job.run(&["prepare"]);
    let (_, err) = job.run(&["trim"]);
    assert!(err.contains("GOMODCACHE not trimmed"), "{err}");
    for p in &theirs {
        assert!(p.exists(), "{} removed", p.display());
    }
    // A module cache that was empty before the job's own restore is the job's: pruned.
    let mut own = TestEnv::new();
    own.set_gomodcache(own.root().join("job-gomod"));
    let app2 = own.module("app", &["example.com/greet@v1.0.0"]);
    let saved = own.root().join("mod.tar");
    tar(&[
        "-C",
        own.root().to_str().unwrap(),
        "-cf",
        saved.to_str().unwrap(),
        "job-gomod",
    ]);
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(own.gomodcache())
        .status();
    std::fs::remove_dir_all(own.gomodcache()).unwrap();
    let mut j2 = Job::new(&own, &app2, "own");
    j2.env.push(("GO_CI_CACHE_PERSISTENT", "false".into()));
    j2.run(&["claim"]);
    tar(&[
        "-C",
        own.root().to_str().unwrap(),
        "-xf",
        saved.to_str().unwrap(),
    ]);
    j2.run(&["prepare"]);
    j2.run(&["trim"]);
    assert!(
        !own.gomodcache()
            .join("cache/download/example.com/greet/@v/v1.0.0.zip")
            .exists()
    );
    assert!(own.gomodcache().join("example.com/greet@v1.0.0").is_dir());
}

/// Job B claims the caches before its restore; job A, started earlier, trims (used-based, the
/// harshest) while B's restore extracts entries whose mtimes are days old. A's trim must take
/// none of them, and B then builds everything from its restore.
#[test]
fn a_restore_racing_another_jobs_trim_loses_nothing() {
    let t = TestEnv::new();
    t.seed_gocache();
    let a_dir = t.module("a", &["example.com/greet@v1.0.0"]);
    // B's archive, saved by another machine (the same paths) two days ago.
    let b_dir = t.module("b", &["example.com/testonly"]);
    let b_cache = t.root().join("b-cache");
    copy_tree(&t.gocache(), &b_cache);
    let out = t
        .go(&b_dir)
        .args(["build", "./..."])
        .env("GOCACHE", &b_cache)
        .output()
        .unwrap();
    assert!(out.status.success());
    age(&b_cache, 2 * 86_400);
    let archive = t.root().join("b.tar");
    tar(&[
        "-C",
        b_cache.to_str().unwrap(),
        "-cf",
        archive.to_str().unwrap(),
        ".",
    ]);

    let mut a = Job::new(&t, &a_dir, "a");
    a.env.push(("GO_CI_CACHE_PERSISTENT", "false".into()));
    let mut b = Job::new(&t, &b_dir, "b");
    b.env.push(("GO_CI_CACHE_PERSISTENT", "false".into()));
    a.claim();
    a.run(&["prepare"]);
    a.build();
    // B takes its lease, starts extracting; A's trim runs in the middle of it.
    b.claim();
    tar(&[
        "-C",
        t.gocache().to_str().unwrap(),
        "--skip-old-files",
        "-xf",
        archive.to_str().unwrap(),
    ]);
    let (_, err) = a.run(&["trim"]);
    assert!(err.contains("restoring into it"), "{err}");
    b.run(&["prepare"]);
    assert_eq!(
        b.build(),
        Vec::<String>::new(),
        "A's trim took what B's restore extracted"
    );
    // B done restoring: A's next trim is an ordinary one again (B's used entries stay).
    a.claim();
    a.run(&["prepare"]);
    a.build();
    let (_, err) = a.run(&["trim"]);
    assert!(err.contains("GOCACHE: removed"), "{err}");
    assert_eq!(
        b.build(),
        Vec::<String>::new(),
        "B is live: what it used stays"
    );
    b.run(&["trim"]);
}

/// One local tier of the cache program shared by two runners (the shared NFS directory between
/// the local disk and the object store; here one directory, two machines' GOCACHEs): both
/// build at once through it, neither fails nor reads a torn file, no temporary file is left,
/// and a third runner then builds everything from the shared tier.
#[test]
fn two_runners_share_one_local_tier() {
    let t = TestEnv::new();
    t.seed_gocache();
    let app = t.module_with(
        "app",
        &["example.com/greet@v1.1.0"],
        &["example.com/testonly"],
    );
    let tier = t.root().join("shared-tier");
    let go = |name: &str, args: &[&str]| {
        let mut c = t.go(&app);
        c.args(args)
            .env("GOCACHE", t.root().join(format!("gocache-{name}")))
            .env(
                "GOCACHEPROG",
                format!("{} cacheprog", crate::util::binary().display()),
            )
            .env("GO_CI_CACHE_LOCAL_DIR", &tier)
            .env_remove("GO_CI_CACHE_REMOTE");
        c
    };
    for round in 0..2 {
        let (a, b) = std::thread::scope(|s| {
            let ha = s.spawn(|| {
                go("a", &["test", "-x", "-count=1", "./..."])
                    .output()
                    .unwrap()
            });
            let hb = s.spawn(|| {
                go("b", &["test", "-x", "-count=1", "./..."])
                    .output()
                    .unwrap()
            });
            (ha.join().unwrap(), hb.join().unwrap())
        });
        for (n, o) in [("a", &a), ("b", &b)] {
            assert!(
                o.status.success(),
                "round {round}, runner {n}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                !String::from_utf8_lossy(&o.stderr).contains("warning"),
                "round {round}, runner {n}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let leftovers: Vec<String> = walkdir::WalkDir::new(&tier)
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let out = go("c", &["build", "-x", "./..."]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deps = deps_compiled(&out.stderr, "example.com/app");
    assert_eq!(
        deps,
        Vec::<String>::new(),
        "a third runner builds from the shared tier"
    );
}
