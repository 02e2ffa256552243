#!/usr/bin/env python3
"""Release binaries: size, cold start and install time, side by side in one run.

Measures the static assets `.ci/release build` made (default: target/release-assets):
- size of each asset (goal: <= 6 MB);
- cold start of the x86_64 binary: `--version`, and `keys --format json` on the bundled example
  module (which includes one `go env`, the floor being `go env -json` alone) — goal <= 10 ms for
  the binary's own start;
- install time from a release asset served over HTTP on 127.0.0.1, through the GitLab installer
  (dist/install.sh) and through the action's installer (js/src/install.mjs), first from an empty
  tool cache (download + sha256 + write) and then from a warm one — goal <= 2 s.

Usage: python3 bench/release.py [--assets DIR] [--runs N] [--out DIR]
Writes release.md and release.csv into --out (default bench/results/<date>-<machine>/).
"""

import argparse
import csv
import datetime
import functools
import http.server
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGETS = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]


def version():
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise SystemExit("no version in Cargo.toml")


def timed(cmd, runs, **kw):
    """Median and min wall time in ms of `runs` runs of cmd (after one unmeasured run)."""
    subprocess.run(cmd, check=True, capture_output=True, **kw)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, **kw)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), min(samples)


def serve(directory):
    handler = functools.partial(QuietHandler, directory=str(directory))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


JS_INSTALL = """
import { install } from %s;
const manifest = JSON.parse(process.env.MANIFEST);
const t0 = performance.now();
const bin = await install({ actionDir: process.env.ACTION_DIR, manifest,
  toolCache: process.env.TOOL_CACHE, baseUrl: process.env.BASE_URL });
console.log(JSON.stringify({ ms: performance.now() - t0, bin }));
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", default=str(ROOT / "target/release-assets"))
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out")
    a = ap.parse_args()
    ver = version()
    assets = pathlib.Path(a.assets)
    out = pathlib.Path(a.out or ROOT / "bench/results" / f"{datetime.date.today()}-{platform.machine()}-{os.cpu_count()}cpu")
    out.mkdir(parents=True, exist_ok=True)
    rows = []

    for t in TARGETS:
        p = assets / f"go-ci-cache-{ver}-{t}"
        rows.append(("size", t, p.stat().st_size / 1e6, "MB", 6.0))

    x86 = assets / f"go-ci-cache-{ver}-{TARGETS[0]}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOFLAGS="", GOTOOLCHAIN="local", GOCACHE=f"{tmp}/gocache", GOMODCACHE=f"{tmp}/mod")
        med, low = timed([str(x86), "--version"], a.runs, env=env)
        rows.append(("cold start: --version", TARGETS[0], med, "ms", 10.0))
        ex = ROOT / "examples/wordfreq"
        med_env, _ = timed(["go", "env", "-json"], a.runs, env=env, cwd=ex)
        rows.append(("go env -json (the floor of keys)", "-", med_env, "ms", None))
        med, _ = timed([str(x86), "keys", "--format", "json", "--dir", str(ex)], a.runs, env=env)
        rows.append(("keys on examples/wordfreq", TARGETS[0], med, "ms", None))
        rows.append(("keys minus go env", TARGETS[0], med - med_env, "ms", 10.0))

        # The manifest for the assets, written by the release script itself, and a server.
        mpath = pathlib.Path(tmp) / "manifest.json"
        subprocess.run(
            ["bash", str(ROOT / ".ci/release"), "manifest", ver, "owner/go-cache-action", *TARGETS],
            check=True, capture_output=True,
            env=dict(os.environ, GO_CI_CACHE_ASSETS=str(assets), GO_CI_CACHE_MANIFEST=str(mpath)),
        )
        manifest = json.loads(mpath.read_text())
        srv, url = serve(assets)
        try:
            samples = []
            for i in range(5):
                dest = pathlib.Path(tmp) / f"sh-{i}"
                t0 = time.perf_counter()
                subprocess.run(["sh", str(ROOT / "dist/install.sh"), str(dest), str(mpath)], check=True,
                               capture_output=True, env=dict(os.environ, GO_CI_CACHE_DOWNLOAD_URL=url))
                samples.append((time.perf_counter() - t0) * 1000)
            rows.append(("install: dist/install.sh from a release asset", TARGETS[0], statistics.median(samples), "ms", 2000.0))

            node = shutil.which("node")
            if node and (ROOT / "js/src/install.mjs").is_file():
                script = pathlib.Path(tmp) / "install.mjs"
                script.write_text(JS_INSTALL % json.dumps((ROOT / "js/src/install.mjs").as_uri()))
                for label in ["install: action, empty tool cache (download)", "install: action, tool cache hit"]:
                    samples = []
                    for i in range(5):
                        cache = pathlib.Path(tmp) / (f"tc-{i}" if "empty" in label else "tc-warm")
                        jenv = dict(os.environ, MANIFEST=json.dumps(manifest), ACTION_DIR=str(ROOT),
                                    TOOL_CACHE=str(cache), BASE_URL=url)
                        t0 = time.perf_counter()
                        r = subprocess.run([node, str(script)], check=True, capture_output=True, env=jenv, text=True)
                        samples.append((time.perf_counter() - t0) * 1000)
                        json.loads(r.stdout.strip().splitlines()[-1])
                    rows.append((label + " (node start included)", TARGETS[0], statistics.median(samples), "ms", 2000.0))
        finally:
            srv.shutdown()

    with open(out / "release.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measure", "target", "value", "unit", "goal"])
        for r in rows:
            w.writerow([r[0], r[1], f"{r[2]:.2f}", r[3], "" if r[4] is None else r[4]])
    lines = [
        f"# Release binaries: size, cold start, install ({datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs)",
        "",
        f"go-ci-cache {ver}; {a.runs} runs per start-up figure (median). Reproduce: `.ci/release build {ver} "
        + " ".join(TARGETS) + "` then `python3 bench/release.py`.",
        "",
        "| measure | target | value | goal | met |",
        "|---|---|---|---|---|",
    ]
    for m, t, v, unit, goal in rows:
        met = "" if goal is None else ("yes" if v <= goal else f"no ({v / goal:.2f}x the goal)")
        g = "" if goal is None else f"<= {goal:g} {unit}"
        lines.append(f"| {m} | {t} | {v:.2f} {unit} | {g} | {met} |")
    (out / "release.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
