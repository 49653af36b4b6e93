#!/usr/bin/env bash
# Fetches htmx from the npm registry at a pinned version, checks the package's
# checksum, and puts the minified file into the git-ignored static/vendor/.
set -euo pipefail
version=2.0.11
sha256=165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e
dest=static/vendor/htmx.min.js
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "htmx.org@${version}" --silent >/dev/null)
got=$(sha256sum "$tmp/htmx.org-${version}.tgz" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "htmx.org-${version}.tgz checksum mismatch: expected $sha256, got $got" >&2
  exit 1
fi
tar -xzf "$tmp/htmx.org-${version}.tgz" -C "$tmp" package/dist/htmx.min.js
mkdir -p static/vendor
cp "$tmp/package/dist/htmx.min.js" "$dest"
echo "htmx ${version} -> $dest"
