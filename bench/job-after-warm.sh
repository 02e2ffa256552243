#!/usr/bin/env bash
# Job time after the warm-up against the floor, side by side in one run.
#
# The job is `go test -count=1 ./...` (-count=1 so that neither side replays cached test
# results: the comparison is about build work, compile, vet and link). For each module:
#   floor        the job on a build cache that already ran this exact job (a persistent runner);
#   warm --job test   an empty build cache, `go-ci-cache warm` (default --job test), then the job;
#   compile-only      an empty build cache, `go list -e -export -deps -test ./...` (what the
#                     warm-up did before it matched the job), then the job.
# Each variant runs ROUNDS times, interleaved, and the median job time is reported. Modules are
# downloaded before anything is timed.
#
# Usage: bench/job-after-warm.sh [ROUNDS]   (default 3)
# Modules: the bundled example (examples/wordfreq) and github.com/gin-gonic/gin v1.10.0 through
# the Go module proxy. Results go to bench/results/<date>-job-after-warm.md.
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/go-ci-cache"
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
job() { # dir → seconds of `go test -count=1 ./...`
  local t; t=$(now)
  (cd "$1" && go test -count=1 ./... >/dev/null 2>&1) || echo "warning: the job failed in $1" >&2
  python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$t"
}

measure() { # label dir → one markdown row
  local label=$1 dir=$2 r floor=() warmed=() compiled=()
  (cd "$dir" && go list -deps -test ./... >/dev/null)
  export GOCACHE="$work/gc-floor"; rm -rf "$GOCACHE"
  (cd "$dir" && go test -count=1 ./... >/dev/null 2>&1) || true   # the persistent runner's earlier run
  for r in $(seq "$rounds"); do
    export GOCACHE="$work/gc-floor"
    floor+=("$(job "$dir")")
    export GOCACHE="$work/gc-warm-$r"; rm -rf "$GOCACHE"
    "$bin" warm --dir "$dir" >/dev/null 2>&1
    warmed+=("$(job "$dir")")
    export GOCACHE="$work/gc-compile-$r"; rm -rf "$GOCACHE"
    (cd "$dir" && go list -e -export -deps -test ./... >/dev/null 2>&1) || true
    compiled+=("$(job "$dir")")
  done
  python3 - "$label" "${floor[*]}" "${warmed[*]}" "${compiled[*]}" <<'PY'
import statistics, sys
label = sys.argv[1]
f, w, c = (statistics.median(map(float, a.split())) for a in sys.argv[2:5])
print(f"| {label} | {f:.2f} s | {w:.2f} s (**{w/f:.2f}×**) | {c:.2f} s ({c/f:.2f}×) |")
PY
}

out="$here/bench/results/$(date -u +%F)-job-after-warm.md"
{
  echo "# Job time after the warm-up vs the floor"
  echo
  echo "\`bench/job-after-warm.sh $rounds\` — $(go version | cut -d' ' -f3), $(nproc) CPUs, $(date -u +%FT%RZ); median of $rounds interleaved rounds."
  echo "Job: \`go test -count=1 ./...\`. Floor: the same job on a build cache that already ran it."
  echo
  echo "| module | floor | after \`warm\` (--job test) | after compile-only warm-up |"
  echo "|---|---|---|---|"
  measure "examples/wordfreq" "$here/examples/wordfreq"
  gin=$(fetch github.com/gin-gonic/gin@v1.10.0)
  measure "github.com/gin-gonic/gin v1.10.0" "$gin"
} | tee "$out"
