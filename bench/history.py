#!/usr/bin/env python3
"""Replays a Go module's release history as CI runs and measures caching strategies side by side.

Each version of the module (fetched through the Go module proxy) is one CI run of a job on a
fresh "runner": empty GOCACHE and GOMODCACHE at fixed paths, the checkout at a fixed path, and a
new commit (a generated file in the main module, so its packages recompile as they would). Every
strategy has its own cache store, a directory that matches keys as actions/cache documents it
(exact key, then key prefix, then each restore key in order, newest entry first); archives are
tar + zstd --long=30 as actions/cache writes them, so their size shows up as restore and save
time.

Strategies: cold (no cache); setup-go (one archive of both caches, key from Go version and the
go.sum hash, no restore keys, saved only on a miss, never trimmed); the actions/cache Go recipe
(key os-go-hash(go.sum), restore key os-go-, saved on a miss, never trimmed); go-ci-cache (keys,
restore both entries, prepare, warm, job, trim, save); floor (the same job with a perfect cache:
only the main module's packages compile).

Usage: bench/history.py [--config bench/history.json] [--out DIR] [--binary PATH]
Needs go, tar, zstd; matplotlib for the chart (skipped with a notice when missing).
"""

import argparse
import csv
import datetime
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

STRATEGIES = ["cold", "setup-go", "actions-cache-recipe", "go-ci-cache", "floor"]
COLUMNS = ["strategy", "run", "version", "wall_s", "restore_s", "warm_s", "job_s", "trim_s", "save_s",
           "dep_compiles", "restored_bytes", "saved_bytes", "store_bytes"]


def sh(cmd, cwd=None, env=None, capture=False, check=True):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=isinstance(cmd, str), text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {cmd}\n{(r.stderr or '')[-3000:]}")
    return r


def tree_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+w", path], stderr=subprocess.DEVNULL)
        shutil.rmtree(path)


class Store:
    """A cache store with actions/cache's documented key matching."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.index_path = os.path.join(root, "index.json")
        self.index = json.load(open(self.index_path)) if os.path.exists(self.index_path) else {}
        self.clock = max([e["created"] for e in self.index.values()], default=0)

    def match(self, key, restore_keys):
        def newest(pred):
            hits = [k for k in self.index if pred(k)]
            return max(hits, key=lambda k: self.index[k]["created"]) if hits else None
        for candidate in [key] + list(restore_keys):
            if candidate in self.index:
                return candidate
            m = newest(lambda k, c=candidate: k.startswith(c))
            if m:
                return m
        return None

    def restore(self, key, restore_keys):
        """Extracts the matched archive; returns (matched key, bytes read)."""
        m = self.match(key, restore_keys)
        if not m:
            return None, 0
        archive = os.path.join(self.root, self.index[m]["file"])
        sh(f"zstd -d -q --long=30 -c '{archive}' | tar -xf - -P")
        return m, os.path.getsize(archive)

    def save(self, key, paths):
        """Archives paths under key unless it exists (entries are immutable); returns bytes written."""
        if key in self.index:
            return 0
        paths = [p for p in paths if os.path.exists(p)]
        if not paths:
            return 0
        self.clock += 1
        name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".tar.zst"
        archive = os.path.join(self.root, name)
        quoted = " ".join(f"'{p}'" for p in paths)
        sh(f"tar --posix -P -cf - {quoted} | zstd -q -T0 --long=30 -3 -o '{archive}'")
        self.index[key] = {"file": name, "created": self.clock}
        json.dump(self.index, open(self.index_path, "w"), indent=1)
        return os.path.getsize(archive)

    def bytes(self):
        return sum(os.path.getsize(os.path.join(self.root, e["file"])) for e in self.index.values())


class Bench:
    def __init__(self, args, cfg):
        self.cfg = cfg
        self.module = cfg["module"]
        self.work = os.path.abspath(args.work)
        os.makedirs(self.work, exist_ok=True)
        self.binary = os.path.abspath(args.binary)
        self.home = os.path.join(self.work, "runner", "home")
        self.src = os.path.join(self.work, "runner", "work", "src")
        self.gocache = os.path.join(self.home, ".cache", "go-build")
        self.gomodcache = os.path.join(self.home, "go", "pkg", "mod")
        self.mirror = os.path.join(self.work, "mirror")
        self.upstream_proxy = os.environ.get("GOPROXY", "https://proxy.golang.org,direct")
        self.job = cfg.get("job", "go build ./... && go test -run='^$' ./...")
        self.build_flags = cfg.get("build_flags", "")

    def env(self, proxy=None, **extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("GO") or k in ("GOROOT",)}
        e.update(HOME=self.home, GOCACHE=self.gocache, GOMODCACHE=self.gomodcache,
                 GOPATH=os.path.join(self.home, "go"), GOFLAGS="-modcacherw", GOTOOLCHAIN="local",
                 GOENV="off", GOTELEMETRY="off", GOSUMDB="off",
                 GOPROXY=proxy or f"file://{self.mirror}/cache/download",
                 GO_CI_CACHE_STATE=os.path.join(self.work, "runner", "state.json"))
        e.pop("GITHUB_ACTIONS", None)
        e.pop("GITLAB_CI", None)
        e.update(extra)
        return e

    # ---- preparation (untimed) -------------------------------------------------------------
    def source(self, version):
        """The module's source at a version, as a writable tree (cached per version)."""
        dest = os.path.join(self.work, "sources", version)
        if os.path.isdir(dest):
            return dest
        e = self.env(proxy=self.upstream_proxy, GOMODCACHE=self.mirror, GOSUMDB=os.environ.get("GOSUMDB", "sum.golang.org"))
        out = sh(["go", "mod", "download", "-json", f"{self.module}@{version}"], cwd=self.work, env=e, capture=True).stdout
        shutil.copytree(json.loads(out)["Dir"], dest)
        sh(["chmod", "-R", "u+w", dest])
        if not os.path.exists(os.path.join(dest, "go.sum")):
            sh(["go", "mod", "tidy"], cwd=dest, env=e)
        # Fill the local mirror with everything this version's job needs.
        sh(["go", "list", "-deps", "-test", "./..."], cwd=dest, env=e)
        sh(["go", "mod", "download"], cwd=dest, env=e)
        return dest

    def fresh_runner(self, version, run):
        rmtree(os.path.join(self.work, "runner"))
        os.makedirs(self.home)
        shutil.copytree(self.source(version), self.src)
        # A new commit: a change in the main module, as every CI run has.
        name = sh(["go", "list", "-f", "{{.Name}}", "."], cwd=self.src, env=self.env(), capture=True, check=False).stdout.strip()
        target = self.src
        if not name:
            first = sh(["go", "list", "-f", "{{.Dir}} {{.Name}}", "./..."], cwd=self.src, env=self.env(), capture=True).stdout.split("\n")[0]
            target, name = first.rsplit(" ", 1)
        with open(os.path.join(target, "zz_ci_run.go"), "w") as f:
            f.write(f"package {name}\n\nconst ciRun = {run}\n")

    def main_packages(self):
        out = sh(["go", "list", "-f", "{{.ImportPath}}", "./..."], cwd=self.src, env=self.env(), capture=True).stdout
        return set(out.split())

    # ---- steps ---------------------------------------------------------------------------
    def run_job(self):
        """Runs the job with -x; returns (seconds, dependency packages compiled)."""
        mains = self.main_packages()
        t = time.perf_counter()
        r = sh(["sh", "-c", self.job], cwd=self.src, env=self.env(GOFLAGS="-modcacherw -x"), capture=True)
        secs = time.perf_counter() - t
        deps = 0
        for line in r.stderr.splitlines():
            m = re.match(r"\S*[/\\]compile(\.exe)? .* -p (\S+)", line)
            if m and m.group(2) != "main" and m.group(2) not in mains:
                deps += 1
        return secs, deps

    def gcc(self, *args, capture=False):
        return sh([self.binary, *args, "--dir", self.src], cwd=self.src,
                  env=self.env(GO_CI_CACHE_BUILD_FLAGS=self.build_flags), capture=capture)

    def gosum_hash(self):
        files = sorted(glob.glob(os.path.join(self.src, "**", "go.sum"), recursive=True))
        h = hashlib.sha256()
        for f in files:
            h.update(hashlib.sha256(open(f, "rb").read()).digest())
        return h.hexdigest()

    def strategy(self, name, store, version, run):
        row = dict(strategy=name, run=run, version=version, restore_s=0.0, warm_s=0.0, job_s=0.0,
                   trim_s=0.0, save_s=0.0, dep_compiles=0, restored_bytes=0, saved_bytes=0)
        self.fresh_runner(version, run)
        paths = [self.gomodcache, self.gocache]
        if name == "floor":
            # A perfect cache: this exact version already built and tested at the previous commit.
            prev = os.path.join(self.src, "zz_ci_run.go")
            text = open(prev).read()
            open(prev, "w").write(text.replace(f"= {run}", f"= {run - 1}"))
            self.run_job()
            open(prev, "w").write(text)
            row["job_s"], row["dep_compiles"] = self.run_job()
        elif name == "cold":
            row["job_s"], row["dep_compiles"] = self.run_job()
        elif name in ("setup-go", "actions-cache-recipe"):
            go_version = sh(["go", "env", "GOVERSION"], env=self.env(), capture=True).stdout.strip()
            if name == "setup-go":
                key, restore_keys = f"setup-go-Linux-x64-go-{go_version}-{self.gosum_hash()}", []
            else:
                key, restore_keys = f"Linux-go-{self.gosum_hash()}", ["Linux-go-"]
            t = time.perf_counter()
            matched, row["restored_bytes"] = store.restore(key, restore_keys)
            row["restore_s"] = time.perf_counter() - t
            row["job_s"], row["dep_compiles"] = self.run_job()
            if matched != key:
                t = time.perf_counter()
                row["saved_bytes"] = store.save(key, paths)
                row["save_s"] = time.perf_counter() - t
        elif name == "go-ci-cache":
            t = time.perf_counter()
            keys = json.loads(self.gcc("keys", "--format", "json", capture=True).stdout)
            hits = {}
            for entry in ("modules", "build"):
                e = keys[entry]
                matched, n = store.restore(e["key"], e["restore_keys"])
                hits[entry] = matched == e["key"]
                row["restored_bytes"] += n
            self.gcc("prepare")
            row["restore_s"] = time.perf_counter() - t
            t = time.perf_counter()
            if not (hits["modules"] and hits["build"]):
                self.gcc("warm")
                state = json.load(open(os.path.join(self.work, "runner", "state.json")))
                w = state.get("warm") or {}
                b, a = w.get("before") or {}, w.get("after") or {}
                before = b.get("std_cached", 0) + b.get("third_party_cached", 0)
                after = a.get("std_cached", 0) + a.get("third_party_cached", 0)
                row["dep_compiles"] += max(after - before, 0)
            row["warm_s"] = time.perf_counter() - t
            row["job_s"], jobdeps = self.run_job()
            row["dep_compiles"] += jobdeps
            t = time.perf_counter()
            self.gcc("trim")
            row["trim_s"] = time.perf_counter() - t
            t = time.perf_counter()
            for entry, path in (("modules", self.gomodcache), ("build", self.gocache)):
                if not hits[entry]:
                    row["saved_bytes"] += store.save(keys[entry]["key"], [path])
            row["save_s"] = time.perf_counter() - t
        row["wall_s"] = row["restore_s"] + row["warm_s"] + row["job_s"] + row["trim_s"] + row["save_s"]
        row["store_bytes"] = store.bytes()
        return row

    def run(self):
        rows = []
        for v in self.cfg["versions"]:
            print(f"preparing {self.module}@{v}", file=sys.stderr)
            self.source(v)
        stores = {s: Store(os.path.join(self.work, "stores", s)) for s in STRATEGIES}
        for run, version in enumerate(self.cfg["versions"], start=1):
            for s in STRATEGIES:
                row = self.strategy(s, stores[s], version, run)
                print(f"run {run} {version} {s:22} wall {row['wall_s']:7.1f}s  deps compiled {row['dep_compiles']:4}  store {row['store_bytes'] / 2**20:8.1f} MiB", file=sys.stderr)
                rows.append(row)
        return rows


def summarize(rows, meta):
    by = {s: [r for r in rows if r["strategy"] == s] for s in STRATEGIES}
    total = {s: sum(r["wall_s"] for r in by[s]) for s in STRATEGIES}
    store = {s: by[s][-1]["store_bytes"] for s in STRATEGIES}
    out = [f"# {meta['module']}: {len(by['cold'])} runs ({meta['versions'][0]} … {meta['versions'][-1]})", "",
           f"{meta['date']}, {meta['machine']}, {meta['go']}; job: `{meta['job']}`", "",
           "| strategy | total wall | vs setup-go | vs floor | deps compiled | final store | store vs setup-go |",
           "|---|---|---|---|---|---|---|"]
    for s in STRATEGIES:
        deps = sum(r["dep_compiles"] for r in by[s])
        vs_sg = total[s] / total["setup-go"] if total["setup-go"] else float("nan")
        vs_fl = total[s] / total["floor"] if total["floor"] else float("nan")
        st = f"{store[s] / 2**20:.1f} MiB" if s not in ("cold", "floor") else "–"
        st_r = f"{store[s] / store['setup-go']:.2f}×" if s not in ("cold", "floor") and store["setup-go"] else "–"
        out.append(f"| {s} | {total[s]:.1f} s | {vs_sg:.2f}× | {vs_fl:.2f}× | {deps} | {st} | {st_r} |")
    out += ["", "| strategy | run | version | wall | restore | warm | job | trim | save | deps compiled | restored | saved | store |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mib = lambda b: f"{b / 2**20:.1f} MiB"
        out.append(f"| {r['strategy']} | {r['run']} | {r['version']} | {r['wall_s']:.1f} s | {r['restore_s']:.1f} | {r['warm_s']:.1f} | {r['job_s']:.1f} | {r['trim_s']:.1f} | {r['save_s']:.1f} | {r['dep_compiles']} | {mib(r['restored_bytes'])} | {mib(r['saved_bytes'])} | {mib(r['store_bytes'])} |")
    return "\n".join(out) + "\n"


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return False
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in STRATEGIES:
        rs = [r for r in rows if r["strategy"] == s]
        a.plot([r["run"] for r in rs], [r["wall_s"] for r in rs], marker="o", label=s)
        if s not in ("cold", "floor"):
            b.plot([r["run"] for r in rs], [r["store_bytes"] / 2**20 for r in rs], marker="o", label=s)
    a.set(title="job wall time per run", xlabel="run (release)", ylabel="seconds")
    b.set(title="cache store size", xlabel="run (release)", ylabel="MiB")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=os.path.join(here, "history.json"))
    p.add_argument("--out", help="results directory (default bench/results/<date>-<machine>)")
    p.add_argument("--work", help="scratch directory (default: a temporary one)")
    p.add_argument("--binary", default=os.path.join(here, "..", "target", "release", "go-ci-cache"))
    args = p.parse_args()
    cfg = json.load(open(args.config))
    machine = f"{platform.machine()}-{os.cpu_count()}cpu"
    date = datetime.date.today().isoformat()
    out = args.out or os.path.join(here, "results", f"{date}-{machine}")
    os.makedirs(out, exist_ok=True)
    tmp = None
    if not args.work:
        import tempfile
        tmp = tempfile.mkdtemp(prefix="go-ci-cache-bench-")
        args.work = tmp
    try:
        bench = Bench(args, cfg)
        rows = bench.run()
    finally:
        if tmp:
            rmtree(tmp)
    go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    meta = dict(module=cfg["module"], versions=cfg["versions"], date=date, machine=f"{machine} {platform.system()}", go=go, job=bench.job)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.3f}" if isinstance(r[k], float) else r[k]) for k in COLUMNS})
    md = summarize(rows, meta)
    open(os.path.join(out, "results.md"), "w").write(md)
    chart(rows, os.path.join(out, "chart.png"))
    print(md)


if __name__ == "__main__":
    main()
