#!/usr/bin/env python3
"""A CI job of several go commands with the remote build cache, two go-ci-cache binaries side
by side: what each go command costs the job besides the build, and what a store that stops
answering costs it.

Real parts: SeaweedFS (`weed server -s3`, bench/flow.py's S3Server) on 127.0.0.1, the real go
command, a real project (github.com/prometheus/client_golang, its root module). Between the cache
program and the server sits a proxy that holds every request for `--latency-ms` before passing
it on (the round trip to a store in another building) and counts requests by kind, so both
binaries are measured the same way, whatever counters they keep.

The job, on a fresh runner each time (empty local tier and GOCACHE, the project's files touched
as a fresh checkout leaves them):
  `go-ci-cache cacheprog --prefetch-only` (as the action runs it beside the modules restore),
  then `go env`, `go vet ./...`, `go build ./...`, `go test -short ./...`.

Scenarios, each binary in its own bucket prefix filled beforehand by two cold jobs (untimed):
  warm       a default-branch job (writes `trusted`) whose packages the store has;
  pr         a pull-request job (reads its namespace and `trusted`, writes nothing);
  dead       the default-branch job on a runner whose local tier is warm, against a store
             that accepts connections and never answers (a persistent runner whose store is
             gone): the cost is the waiting, since every output is local.

Rounds alternate the binaries' order. Results: a markdown table of medians (wall time of the
go commands, requests by kind, warnings printed) and the raw rows as JSON.

Usage:
  bench/remote_job.py --repo CLONE --old BIN --new BIN [--commit REV] [--rounds 3]
                      [--latency-ms 50] [--weed PATH] [--out DIR]
"""

import argparse
import datetime
import http.client
import http.server
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flow import S3Server, rmtree  # noqa: E402

COMMANDS = [["go", "env"], ["go", "vet", "./..."], ["go", "build", "./..."], ["go", "test", "-short", "./..."]]


class Proxy:
    """Holds each request `latency` seconds, then forwards it to the S3 server unchanged (the
    Host header too: requests are signed for it); counts requests by kind."""

    def __init__(self, upstream_port, latency):
        self.counts, self.lock = {}, threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.count(self.command, self.path)
                time.sleep(latency)
                c = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                c.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status, r.reason)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the cache program ended and dropped the request (a prefetch at close)
                c.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, method, path):
        # /<bucket>/<prefix>/v1/<o|a|m>/...  ;  listings: GET /<bucket>?list-type=2&prefix=...
        kind = "other"
        if "list-type=" in path:
            kind = "list"
        else:
            parts = path.split("?")[0].split("/")
            if "v1" in parts and parts.index("v1") + 1 < len(parts):
                kind = {"o": "output", "a": "record", "m": "manifest"}.get(parts[parts.index("v1") + 1], "other")
        with self.lock:
            key = f"{method} {kind}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def take(self):
        with self.lock:
            c, self.counts = self.counts, {}
        return c


class Silent:
    """Accepts connections and never answers: a store that is gone but still routable."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)


def touch_tree(root, when):
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".git"]
        for f in files:
            os.utime(os.path.join(d, f), (when, when), follow_symlinks=False)


def run_job(binary, src, runner, env, count=None):
    """One job on a fresh runner (`runner`: its directory). Returns a row of measurements."""
    rmtree(runner)
    os.makedirs(runner)
    # A fresh checkout's files carry the checkout time (Go indexes the main module's packages by
    # their mtimes, so a new checkout is new work for the index).
    touch_tree(src, time.time() - 20)
    e = dict(env, GOCACHE=os.path.join(runner, "gocache"), GO_CI_CACHE_LOCAL_DIR=os.path.join(runner, "local"),
             GOCACHEPROG=f"{binary} cacheprog")
    return run_commands(binary, src, e, count)


def run_commands(binary, src, e, count):
    row = dict(wall_s=0.0, warnings=0, failed=0, steps={})
    t0 = time.perf_counter()
    p = subprocess.run([binary, "cacheprog", "--prefetch-only"], cwd=src, env=e, capture_output=True, text=True)
    row["steps"]["prefetch"] = round(time.perf_counter() - t0, 3)
    row["warnings"] += p.stderr.count("go-ci-cache: warning")
    for cmd in COMMANDS:
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=src, env=e, capture_output=True, text=True)
        row["steps"][" ".join(cmd[:2])] = round(time.perf_counter() - t, 3)
        row["warnings"] += r.stderr.count("go-ci-cache: warning")
        if r.returncode != 0 and cmd[1] != "test":  # a flaky upstream test is not the cache's
            row["failed"] += 1
            print(f"  {' '.join(cmd)} failed: {r.stderr[-800:]}", file=sys.stderr)
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    if count:
        row["requests"] = count()
    return row


def median(rows, f):
    return statistics.median(f(r) for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="a clone of github.com/prometheus/client_golang")
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--old", required=True, help="the go-ci-cache binary before the change")
    ap.add_argument("--new", required=True, help="the go-ci-cache binary after it")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--weed", default=os.environ.get("GO_CI_CACHE_WEED") or shutil.which("weed"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="remote-job-")
    src = os.path.join(work, "src")
    subprocess.run(["git", "clone", "-q", "--no-checkout", a.repo, src], check=True)
    subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "-q", a.commit], cwd=src, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True).stdout.strip()
    go_version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    base = dict(os.environ, HOME=os.path.join(work, "home"), GOMODCACHE=os.path.join(work, "gomodcache"),
                GOFLAGS="-modcacherw", GOTOOLCHAIN="local", GOENV="off", GOTELEMETRY="off")
    for k in list(base):
        if k.startswith(("GO_CI_CACHE_", "GITHUB_", "CI_")) or k in ("GOCACHEPROG", "GITLAB_CI", "ACTIONS_CACHE_MODE"):
            del base[k]
    subprocess.run(["go", "mod", "download"], cwd=src, env=base, check=True)  # untimed, as a restore
    s3 = S3Server(a.weed, work)
    proxy = Proxy(int(s3.env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]), a.latency_ms / 1000)
    silent = Silent()
    bins = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    rows = []
    try:
        def env(which, kind, endpoint=None):
            e = dict(base, **s3.env)
            e.update(GO_CI_CACHE_REMOTE=f"s3://{s3.bucket}/{which}", GO_CI_CACHE_DEFAULT_BRANCH="main",
                     GO_CI_CACHE_REMOTE_MANIFEST="test", AWS_ENDPOINT_URL=endpoint or f"http://127.0.0.1:{proxy.port}")
            e.update(GITHUB_ACTIONS="true")
            if kind == "pr":
                e.update(GITHUB_EVENT_NAME="pull_request", GITHUB_REF="refs/pull/7/merge", GO_CI_CACHE_READ_ONLY="true")
            else:
                e.update(GITHUB_EVENT_NAME="push", GITHUB_REF="refs/heads/main")
            return e

        for which, b in bins.items():
            for i in range(2):  # cold, then a second job that stores what the first could not
                t = time.perf_counter()
                run_job(b, src, os.path.join(work, "fill"), env(which, "warm"))
                print(f"filled {which} ({i + 1}/2) in {time.perf_counter() - t:.1f}s", file=sys.stderr)
            proxy.take()
        for rnd in range(a.rounds):
            order = list(bins) if rnd % 2 == 0 else list(reversed(bins))
            for kind in ("warm", "pr", "dead"):
                for which in order:
                    b = bins[which]
                    runner = os.path.join(work, f"runner-{which}")
                    if kind == "dead":
                        # The runner of this round's warm job, its local tier as that job left it.
                        e = env(which, kind, endpoint=f"http://127.0.0.1:{silent.port}")
                        e.update(GOCACHE=os.path.join(runner, "gocache"), GO_CI_CACHE_LOCAL_DIR=os.path.join(runner, "local"),
                                 GOCACHEPROG=f"{b} cacheprog")
                        for f in ("remote-down.json", "prefetched.json"):
                            p = os.path.join(runner, "local", "meta", f)
                            if os.path.exists(p):
                                os.remove(p)
                        row = run_commands(b, src, e, None)
                        row["requests"] = {}
                    else:
                        proxy.take()
                        row = run_job(b, src, runner if kind == "warm" else runner + "-pr", env(which, kind), proxy.take)
                    row.update(round=rnd + 1, scenario=kind, binary=which)
                    rows.append(row)
                    print(f"round {rnd + 1} {kind:5} {which}: {row['wall_s']:.2f}s {row['requests']} warnings {row['warnings']}",
                          file=sys.stderr)
    finally:
        s3.close()
        rmtree(work)

    date = datetime.date.today().isoformat()
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{date}-remote-job")
    os.makedirs(out, exist_ok=True)
    json.dump(rows, open(os.path.join(out, "rows.json"), "w"), indent=1)
    kinds = sorted({k for r in rows for k in r["requests"]})
    lines = [f"# A job of several go commands with the remote build cache: old against new binary",
             "",
             f"{date}, {platform.machine()} {os.cpu_count()}cpu {platform.system()}, {go_version}, "
             f"github.com/prometheus/client_golang at {commit[:12]} (root module), {a.rounds} rounds, "
             f"{a.latency_ms:g} ms per request at the proxy. Medians. The job: `cacheprog --prefetch-only`, "
             + ", ".join(f"`{' '.join(c)}`" for c in COMMANDS) + ".",
             "",
             "| scenario | binary | wall (s) | vs old | warnings | " + " | ".join(kinds) + " |",
             "|---|---|---|---|---|" + "---|" * len(kinds)]
    for kind in ("warm", "pr", "dead"):
        old = [r for r in rows if r["scenario"] == kind and r["binary"] == "old"]
        for which in bins:
            rs = [r for r in rows if r["scenario"] == kind and r["binary"] == which]
            w = median(rs, lambda r: r["wall_s"])
            ratio = w / median(old, lambda r: r["wall_s"])
            cells = [f"{median(rs, lambda r, k=k: r['requests'].get(k, 0)):g}" for k in kinds]
            lines.append(f"| {kind} | {which} | {w:.2f} | {ratio:.2f}× | {median(rs, lambda r: r['warnings']):g} | "
                         + " | ".join(cells) + " |")
    lines += ["", "Per step (median seconds):", "", "| scenario | binary | " + " | ".join(rows[0]["steps"]) + " |",
              "|---|---|" + "---|" * len(rows[0]["steps"])]
    for kind in ("warm", "pr", "dead"):
        for which in bins:
            rs = [r for r in rows if r["scenario"] == kind and r["binary"] == which]
            lines.append(f"| {kind} | {which} | " + " | ".join(f"{median(rs, lambda r, s=s: r['steps'][s]):.2f}" for s in rows[0]["steps"]) + " |")
    open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
