#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the Debian package of Tern from the committed tree, in a clean
# folder: ./packaging/build-deb.sh [OUTDIR]   (default: build-deb/)
# Needs dpkg-dev and debhelper besides the build dependencies.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/build-deb}" && cd "${1:-$root/build-deb}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Only what git tracks: no build folders or local files slip in.
mkdir "$work/tern"
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work/tern")
cp -r "$root/packaging/debian" "$work/tern/debian"
(cd "$work/tern" && dpkg-buildpackage -b -us -uc -j"$(nproc)")
cp "$work"/*.deb "$out"/
ls "$out"/*.deb
