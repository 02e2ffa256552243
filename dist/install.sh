#!/bin/sh
# Installs the go-ci-cache binary for this machine from the release assets listed in
# dist/manifest.json (the same manifest the GitHub Action reads), verifying its sha256.
#
# Usage: install.sh DEST_DIR [MANIFEST]
# Environment:
#   GO_CI_CACHE_BINARY        use this preinstalled binary instead (copied to DEST_DIR)
#   GO_CI_CACHE_DOWNLOAD_URL  where assets are served (default: the manifest's repository's
#                             GitHub release for its version)
# POSIX sh; needs curl or wget, and sha256sum or shasum.
set -eu

die() { printf 'go-ci-cache install: error: %s\n' "$*" >&2; exit 1; }

dest=${1:-}
[ -n "$dest" ] || die "usage: install.sh DEST_DIR [MANIFEST]"
manifest=${2:-"$(dirname "$0")/manifest.json"}
mkdir -p "$dest"

if [ -n "${GO_CI_CACHE_BINARY:-}" ]; then
  [ -x "$GO_CI_CACHE_BINARY" ] || die "GO_CI_CACHE_BINARY \`$GO_CI_CACHE_BINARY\` is not an executable file"
  if [ "$GO_CI_CACHE_BINARY" != "$dest/go-ci-cache" ]; then cp "$GO_CI_CACHE_BINARY" "$dest/go-ci-cache"; fi
  chmod +x "$dest/go-ci-cache"
  echo "go-ci-cache: using the preinstalled binary $GO_CI_CACHE_BINARY"
  exit 0
fi

[ -r "$manifest" ] || die "cannot read the manifest \`$manifest\`"

os=$(uname -s); arch=$(uname -m)
case "$os/$arch" in
  Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  Darwin/arm64) target=aarch64-apple-darwin ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  *) die "no go-ci-cache build for $os/$arch; set GO_CI_CACHE_BINARY to a binary you built" ;;
esac

# The manifest is written by the release workflow: one "<target>": { "name": …, "sha256": … }
# object per asset. Read the fields of ours without needing jq.
field() {
  awk -v t="\"$target\"" -v f="\"$1\"" '
    index($0, t) { inside = 1 }
    inside && index($0, f) { sub(/^[^:]*:[ \t]*"/, ""); sub(/".*$/, ""); print; exit }
    inside && /}/ { exit }
  ' "$manifest"
}
top() { sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$manifest" | head -n 1; }
version=$(top version)
repo=$(top repository)
name=$(field name)
sum=$(field sha256)
[ -n "$name" ] && [ -n "$sum" ] || die "the manifest lists no go-ci-cache $version asset for $target (an unreleased version); set GO_CI_CACHE_BINARY to a binary built with \`cargo build --release\`"

base=${GO_CI_CACHE_DOWNLOAD_URL:-"https://github.com/$repo/releases/download/v$version"}
url="$base/$name"
tmp="$dest/.go-ci-cache.$$"
trap 'rm -f "$tmp"' EXIT
echo "go-ci-cache: downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o "$tmp" "$url" || die "cannot download $url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp" "$url" || die "cannot download $url"
else
  die "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
else
  got=$(shasum -a 256 "$tmp" | cut -d' ' -f1)
fi
[ "$got" = "$sum" ] || die "checksum mismatch for $name: expected sha256 $sum, got $got; refusing to install it"
chmod +x "$tmp"
mv "$tmp" "$dest/go-ci-cache"
trap - EXIT
echo "go-ci-cache: installed $version ($target) to $dest/go-ci-cache"
