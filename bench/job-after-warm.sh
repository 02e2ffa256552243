#!/usr/bin/env bash
# Job time after the warm-up against the floor, side by side in one run.
#
# The job is `go test -count=1 ./...` (-count=1 so that no side replays cached test results:
# the comparison is about build work — compile, vet, link — which is what a cache carries).
# For each module, three build caches are made once:
#   compile-only  `go list -e -export -deps -test ./...` on an empty cache (what the warm-up did
#                 before it matched the job: every dependency compiled, nothing vetted);
#   warm          a copy of compile-only, then `go-ci-cache warm` (default --job test), which finds
#                 every package compiled, skips its compile step and vets and links as go test
#                 does — the same cache a warm-up from empty ends with, for one cold compile;
#   floor         a copy of warm after one run of the job (a persistent runner that ran it before).
# Then each round times the job on a fresh copy of each (interleaved), and the median of ROUNDS
# rounds is reported. Modules are downloaded before anything is timed.
#
# Usage: bench/job-after-warm.sh [ROUNDS] [example|gin|all]   (defaults: 3, all)
# GO_CI_CACHE_BIN=path uses that binary instead of building the release one.
# Modules: the bundled example (examples/wordfreq) and github.com/gin-gonic/gin v1.10.0 through
# the Go module proxy. Results go to bench/results/<date>-job-after-warm-<which>.md.
set -euo pipefail
rounds=${1:-3}
which=${2:-all}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${GO_CI_CACHE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  bin="$here/target/release/go-ci-cache"
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOFLAGS=-modcacherw GOTOOLCHAIN=local GOENV=off GO_CI_CACHE_STATE="$work/state.json"
export GOMODCACHE="$work/gomodcache"

fetch() { # module@version → a writable copy of its source, dependencies downloaded
  local dir
  dir=$(GOFLAGS=-mod=mod go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$work/src"; mkdir -p "$work/src"; cp -r "$dir/." "$work/src/"; chmod -R u+w "$work/src"
  (cd "$work/src" && { go mod download all >/dev/null 2>&1 || true; go mod tidy >/dev/null 2>&1 || true; })
  echo "$work/src"
}

now() { python3 -c 'import time; print(time.time())'; }
job() { # dir gocache → seconds of `go test -count=1 ./...` on a fresh copy of that cache
  local t; rm -rf "$work/gc-run"; cp -a "$2" "$work/gc-run"
  t=$(now)
  (cd "$1" && GOCACHE="$work/gc-run" go test -count=1 ./... >/dev/null 2>&1) || echo "warning: the job failed in $1" >&2
  python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$t"
}

measure() { # label dir → one markdown row
  local label=$1 dir=$2 r floor=() warmed=() compiled=()
  (cd "$dir" && go list -deps -test ./... >/dev/null)
  rm -rf "$work/gc-compile" "$work/gc-warm" "$work/gc-floor"
  (cd "$dir" && GOCACHE="$work/gc-compile" go list -e -export -deps -test ./... >/dev/null 2>&1) || true
  cp -a "$work/gc-compile" "$work/gc-warm"
  GOCACHE="$work/gc-warm" "$bin" warm --dir "$dir" >/dev/null 2>&1
  cp -a "$work/gc-warm" "$work/gc-floor"
  (cd "$dir" && GOCACHE="$work/gc-floor" go test -count=1 ./... >/dev/null 2>&1) || true
  for r in $(seq "$rounds"); do
    floor+=("$(job "$dir" "$work/gc-floor")")
    warmed+=("$(job "$dir" "$work/gc-warm")")
    compiled+=("$(job "$dir" "$work/gc-compile")")
  done
  python3 - "$label" "${floor[*]}" "${warmed[*]}" "${compiled[*]}" <<'PY'
import statistics, sys
label = sys.argv[1]
f, w, c = (statistics.median(map(float, a.split())) for a in sys.argv[2:5])
print(f"| {label} | {f:.2f} s | {w:.2f} s (**{w/f:.2f}×**) | {c:.2f} s ({c/f:.2f}×) |")
PY
}

out="$here/bench/results/$(date -u +%F)-job-after-warm-$which.md"
{
  echo "# Job time after the warm-up vs the floor"
  echo
  echo "\`bench/job-after-warm.sh $rounds $which\` — $(go version | cut -d' ' -f3), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%RZ); median of $rounds interleaved rounds."
  echo "Job: \`go test -count=1 ./...\`. Floor: the same job on a build cache that already ran it."
  echo
  echo "| module | floor | after \`warm\` (--job test) | after compile-only warm-up |"
  echo "|---|---|---|---|"
  if [ "$which" != gin ]; then measure "examples/wordfreq" "$here/examples/wordfreq"; fi
  if [ "$which" != example ]; then
    gin=$(fetch github.com/gin-gonic/gin@v1.10.0)
    measure "github.com/gin-gonic/gin v1.10.0" "$gin"
  fi
} | tee "$out"
