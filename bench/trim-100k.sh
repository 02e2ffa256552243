#!/usr/bin/env bash
# Times `go-ci-cache trim` on a generated GOCACHE of N entries (default 100 000: half action
# records, half outputs), of which a third were used by the job.
# Usage: bench/trim-100k.sh [entries] [runs]
set -euo pipefail
entries=${1:-100000}
runs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/go-ci-cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$bin" "$here/examples/wordfreq" "$work" "$entries" "$runs" <<'PY'
import hashlib, json, os, shutil, statistics, subprocess, sys, time
binary, module, work, n, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
template = os.path.join(work, "template")
t0 = int(time.time())

def generate():
    for i in range(256):
        os.makedirs(os.path.join(template, f"{i:02x}"), exist_ok=True)
    used = 0
    for i in range(n // 2):
        out = hashlib.sha256(b"o%d" % i).hexdigest()
        act = hashlib.sha256(b"a%d" % i).hexdigest()
        a = os.path.join(template, act[:2], act + "-a")
        d = os.path.join(template, out[:2], out + "-d")
        with open(a, "w") as f:
            f.write(f"v1 {act} {out} {1000:20d} {t0 * 10**9:20d}\n")
        with open(d, "wb") as f:
            f.write(b"x" * 1000)
        stamp = t0 + 60 if i % 3 == 0 else t0 - 7200
        used += i % 3 == 0
        os.utime(a, (stamp, stamp))
        os.utime(d, (stamp, stamp))
    return used

used = generate()
unused = [os.path.join(r, f) for r, _, fs in os.walk(template) for f in fs
          if os.stat(os.path.join(r, f)).st_mtime < t0 - 3600]
env = dict(os.environ, GOFLAGS="", GOTOOLCHAIN="local")
cache = os.path.join(work, "gocache")

def fresh_copy():
    shutil.rmtree(cache, ignore_errors=True)
    subprocess.run(["cp", "-a", template, cache], check=True)
    # Flush the copy so its write-back is not charged to what is timed (in CI the restore
    # happened minutes before the trim).
    subprocess.run(["sync"], check=True)

trim_t, list_t, rm_t = [], [], []
for r in range(runs):
    fresh_copy()
    state = os.path.join(work, "state.json")
    json.dump({"version": 1, "gocache": cache, "gomodcache": os.path.join(work, "mod"),
               "prepare": {"started_at": t0, "backdated": 0, "gocache": None, "gomodcache": None, "warnings": []},
               "warm": None, "trim": None, "restore": None}, open(state, "w"))
    e = dict(env, GOCACHE=cache, GOMODCACHE=os.path.join(work, "mod"), GO_CI_CACHE_STATE=state)
    cmd = [binary, "trim", "--caches", "build", "--dir", module]
    start = time.perf_counter()
    subprocess.run(cmd + ["--dry-run"], check=True, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    list_t.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=e, stderr=subprocess.DEVNULL)
    trim_t.append(time.perf_counter() - start)
    left = sum(len(fs) for _, _, fs in os.walk(cache))
    rep = json.load(open(state))["trim"]["gocache"]
    assert rep["removed"] == len(unused), rep
    # The filesystem's floor: plain rm of exactly the same files, same preparation.
    fresh_copy()
    names = [os.path.join(cache, os.path.relpath(f, template)) for f in unused]
    start = time.perf_counter()
    subprocess.run(["xargs", "-0", "rm", "-f"], input="\0".join(names).encode(), check=True)
    rm_t.append(time.perf_counter() - start)
med = statistics.median
print(f"entries: {n}, used by the job: {2 * used}, removed: {len(unused)}, left: {left}")
print(f"runs: {runs} (medians)")
print(f"  trim --dry-run (go env, list, plan): {med(list_t):.3f} s")
print(f"  trim (list, plan, remove):           {med(trim_t):.3f} s  (min {min(trim_t):.3f}, max {max(trim_t):.3f})")
print(f"  rm -f of the same files:             {med(rm_t):.3f} s")
print(f"  trim / rm ratio:                     {med(trim_t) / med(rm_t):.2f}")
PY
