#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The end-to-end test as a user: installs Tern from BUILD_DIR into a
# temporary root, then runs it under its own Xvfb display and session bus
# with a fresh home, driven by run-as-user.py through the accessibility
# tree. Screenshots of each step go to OUT_DIR.
#   tests/e2e/run-as-user.sh BUILD_DIR MODEL.gguf VOCAB.gguf OUT_DIR
set -eu
build="$(cd "$1" && pwd)"
model="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
vocab="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
out="$(mkdir -p "$4" && cd "$4" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

DESTDIR="$tmp/root" meson install -C "$build" --no-rebuild --quiet
prefix="$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')"
share="$tmp/root$prefix/share"
glib-compile-schemas "$share/glib-2.0/schemas"

mkdir "$tmp/home"
# A fresh home; the installed files found where they were installed.
# -noreset: Xvfb resets when its last client leaves (at-spi-bus-launcher
# does, early) and hangs up on a client connecting during the reset.
env -i PATH="$PATH" HOME="$tmp/home" XDG_DATA_DIRS="$share:/usr/share" \
  GSETTINGS_SCHEMA_DIR="$share/glib-2.0/schemas" TERN_DEMO_MODEL="$share/tern/tern-demo.gguf" \
  GDK_BACKEND=x11 GSK_RENDERER=cairo LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
  xvfb-run -a -e "$out/xvfb.log" -s "-screen 0 1280x800x24 -noreset" dbus-run-session -- \
  /usr/bin/python3 "$here/run-as-user.py" "$tmp/root$prefix/bin/tern" "$model" "$vocab" "$out"
