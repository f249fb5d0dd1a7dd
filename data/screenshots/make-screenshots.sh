#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Screenshots of the app (the welcome on first start, main window
# light/dark, wide/narrow, the model library, Preferences, a reply with a
# table) chatting with the demo model (or MODEL), made under Xvfb into
# this folder:
#   ./data/screenshots/make-screenshots.sh [BUILD_DIR] [MODEL]
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build}"
ninja -C "$build" tests/app/gui/make-screenshots data/gschemas.compiled
GSETTINGS_SCHEMA_DIR="$build/data" GSETTINGS_BACKEND=memory GDK_BACKEND=x11 NO_AT_BRIDGE=1 \
  xvfb-run -a -s "-screen 0 1280x800x24 -noreset" dbus-run-session -- \
  "$build/tests/app/gui/make-screenshots" "$here" ${2:+"$2"}
