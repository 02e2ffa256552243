#!/usr/bin/env bash
# Warm-up against a cold job, and saved-cache size with and without trim after a dependency
# bump, side by side in one run.
#
# Usage: bench/warm.sh
# Modules: the bundled example (examples/wordfreq) and a larger real module fetched through the
# Go module proxy (github.com/gin-gonic/gin v1.10.0, bumped to v1.10.1 for the size test).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/go-ci-cache"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOFLAGS=-modcacherw GOTOOLCHAIN=local GOENV=off GO_CI_CACHE_STATE="$work/state.json"
export GOMODCACHE="$work/gomodcache"  # shared: downloads are not what is measured here

fetch() { # module@version → a writable copy of its source
  local dir
  dir=$(GOFLAGS=-mod=mod go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$work/src"; mkdir -p "$work/src"; cp -r "$dir/." "$work/src/"; chmod -R u+w "$work/src"
  (cd "$work/src" && go mod download all >/dev/null 2>&1 || true; go mod tidy >/dev/null 2>&1 || true)
  echo "$work/src"
}

secs() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }

job() { (cd "$1" && go build ./... && go test -run='^$' ./... >/dev/null); }

measure() { # label dir
  local label=$1 dir=$2 t cold warm warmtest after
  (cd "$dir" && go list -deps -test ./... >/dev/null)  # modules in place for every variant
  export GOCACHE="$work/gc-cold"; rm -rf "$GOCACHE"
  t=$(now); job "$dir"; cold=$(secs "$t")
  export GOCACHE="$work/gc-warm"; rm -rf "$GOCACHE"
  t=$(now); "$bin" warm --dir "$dir" 2>/dev/null; warm=$(secs "$t")
  t=$(now); job "$dir"; after=$(secs "$t")
  export GOCACHE="$work/gc-warmtest"; rm -rf "$GOCACHE"
  t=$(now); "$bin" warm --test --dir "$dir" >/dev/null 2>&1; warmtest=$(secs "$t")
  python3 - "$label" "$cold" "$warm" "$after" "$warmtest" <<'PY'
import sys
label, cold, warm, after, wt = sys.argv[1], *map(float, sys.argv[2:])
print(f"| {label} | {cold:.1f} s | {warm:.1f} s ({warm/cold:.2f}×) | {after:.1f} s ({after/cold:.2f}×) | {wt:.1f} s ({wt/cold:.2f}×) |")
PY
}

echo "## Warm-up against a cold job ($(go version | cut -d' ' -f3), $(nproc) CPUs, $(date -u +%F))"
echo
echo "| module | cold job: go build ./... && go test -run='^\$' ./... | warm (compile only) | job after warm | warm --test |"
echo "|---|---|---|---|---|"
measure "examples/wordfreq" "$here/examples/wordfreq"
gin=$(fetch github.com/gin-gonic/gin@v1.10.0)
measure "github.com/gin-gonic/gin v1.10.0" "$gin"

# Size: run 1 on v1.10.0, trim, save; run 2 after the bump to v1.10.1: untrimmed vs trimmed.
echo
echo "## Saved-cache size after a dependency bump (gin v1.10.0 → v1.10.1)"
echo
export GOCACHE="$work/gc-cycle" GOMODCACHE="$work/mc-cycle"; rm -rf "$GOCACHE" "$GOMODCACHE"
"$bin" prepare --dir "$gin" 2>/dev/null
"$bin" warm --dir "$gin" 2>/dev/null; job "$gin"
"$bin" trim --dir "$gin" 2>/dev/null
gin2=$(fetch github.com/gin-gonic/gin@v1.10.1)
"$bin" prepare --dir "$gin2" 2>/dev/null
"$bin" warm --dir "$gin2" 2>/dev/null; job "$gin2"
size() { tar -C "$work" -cf - "$(basename "$GOCACHE")" "$(basename "$GOMODCACHE")" | zstd -q -T0 --long=30 | wc -c; }
untrimmed=$(size)
"$bin" trim --dir "$gin2" 2>/dev/null
trimmed=$(size)
python3 - "$untrimmed" "$trimmed" <<'PY'
import sys
u, t = map(int, sys.argv[1:])
print("| archive (tar + zstd --long=30, both caches) | bytes |")
print("|---|---|")
print(f"| without trim | {u/2**20:.1f} MiB |")
print(f"| with trim | {t/2**20:.1f} MiB ({t/u:.2f}×) |")
PY
