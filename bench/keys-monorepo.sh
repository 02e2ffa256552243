#!/usr/bin/env bash
# Times `go-ci-cache keys` on a generated monorepo of N modules (default 500), `go env` included.
# Usage: bench/keys-monorepo.sh [modules] [runs]
set -euo pipefail
modules=${1:-500}
runs=${2:-21}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/go-ci-cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
for i in $(seq 1 "$modules"); do
  d="$repo/services/svc$i"
  mkdir -p "$d/internal/x" "$d/vendor/example.com/v" "$d/testdata"
  printf 'module example.com/svc%s\n\ngo 1.22\n\nrequire example.com/lib v1.%s.0\n' "$i" "$i" > "$d/go.mod"
  for j in $(seq 1 40); do
    printf 'example.com/dep%s v1.%s.0 h1:%044d=\nexample.com/dep%s v1.%s.0/go.mod h1:%044d=\n' "$j" "$i" "$j" "$j" "$i" "$j"
  done > "$d/go.sum"
  printf 'package x\n' > "$d/internal/x/x.go"
  printf 'module decoy\n' > "$d/vendor/example.com/v/go.mod"
  printf 'module decoy\n' > "$d/testdata/go.mod"
done
mkdir -p "$repo/.git/objects"
for i in $(seq 1 2000); do : > "$repo/.git/objects/o$i"; done
export GOFLAGS= GOTOOLCHAIN=local
"$bin" keys --format json --dir "$repo" > "$work/keys.json"
python3 - "$bin" "$repo" "$runs" "$work/keys.json" <<'PY'
import json, statistics, subprocess, sys, time
binary, repo, runs, keys = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
doc = json.load(open(keys))
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run([binary, "keys", "--format", "json", "--dir", repo], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"modules found: {len(doc['project']['modules'])}, dependency files: {len(doc['inputs']['dependency_files'])}")
print(f"keys --format json, {runs} runs: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms")
PY
