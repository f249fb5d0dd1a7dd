#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the .deb (or takes DEB), installs it into a temporary root and
# checks that every file a desktop needs is where it belongs:
# ./packaging/test-deb.sh [DEB]
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
out=""
dest="$(mktemp -d)"
trap 'rm -rf "$dest" ${out:+"$out"}' EXIT
if [ $# -ge 1 ]; then
  deb="$1"
else
  out="$(mktemp -d)"
  "$root/packaging/build-deb.sh" "$out" > "$out/build.log" 2>&1 || { tail -50 "$out/build.log"; exit 1; }
  deb="$(ls "$out"/tern_*.deb)"
fi

echo "$deb:"
dpkg-deb -c "$deb"
dpkg-deb -x "$deb" "$dest"
status=0
for f in \
  usr/bin/tern \
  usr/bin/tern-cli \
  usr/share/applications/io.github.ternapp.Tern.desktop \
  usr/share/metainfo/io.github.ternapp.Tern.metainfo.xml \
  usr/share/icons/hicolor/scalable/apps/io.github.ternapp.Tern.svg \
  usr/share/icons/hicolor/symbolic/apps/io.github.ternapp.Tern-symbolic.svg \
  usr/share/glib-2.0/schemas/io.github.ternapp.Tern.gschema.xml \
  usr/share/mime/packages/io.github.ternapp.Tern.xml \
  usr/share/tern/tern-demo.gguf \
  usr/share/tern/README.md \
  usr/share/tern/heldout.txt \
  usr/share/tern/calibration.txt
do
  if [ -f "$dest/$f" ]; then echo "ok   /$f"; else echo "MISSING /$f"; status=1; fi
done
# The package declares what it links against.
dpkg-deb -f "$deb" Depends | grep -q libadwaita || { echo "Depends lacks libadwaita"; status=1; }
# The installed programs run: tern-cli reads the installed demo model.
"$dest/usr/bin/tern-cli" info "$dest/usr/share/tern/tern-demo.gguf" > /dev/null || status=1
exit $status
