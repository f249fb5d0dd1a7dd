#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Puts each bug of tests/mutations/ into a scratch copy of the tree, one at
# a time, and runs the tests the patch names: a mutation is caught when
# they fail every time, survived when they pass (or fail only sometimes).
# tests/mutations/README.md describes the patches.
#
#   tests/mutate.sh                  every patch in tests/mutations/
#   tests/mutate.sh A.patch B.patch  just these
#
# The copy is of the working tree as it is (tracked files and untracked
# ones git does not ignore), so a patch can be tried before it is
# committed. TERN_MUTATE_DIR names the scratch folder (default: a new
# temporary one, removed at the end); one that already holds a build is
# reused, which saves the first build. Exits 1 when a mutation survived or
# a patch no longer applies; prints one line per mutation and a summary.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
  set -- "$src"/tests/mutations/*.patch
fi

if [ -n "${TERN_MUTATE_DIR:-}" ]; then
  work=$TERN_MUTATE_DIR
  mkdir -p "$work"
  keep=1
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/tern-mutate.XXXXXX")
  keep=0
fi
tree=$work/tree
build=$work/build
log=$work/log
cleanup() {
  # Never leave a mutation behind in a reused tree.
  if [ -n "${applied:-}" ]; then
    (cd "$tree" && git apply -R --whitespace=nowarn "$applied") || true
  fi
  if [ "$keep" = 0 ]; then
    rm -rf "$work"
  fi
}
applied=
trap cleanup EXIT
trap 'exit 130' INT TERM

# The app tests need a display and a session bus, as in the README's test
# command.
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
  run_tests() { xvfb-run -a -s "-screen 0 1280x800x24 -noreset" dbus-run-session -- "$@"; }
else
  run_tests() { "$@"; }
fi

# Whether the tests can run kernels of level $1 here: the CPU has it and
# TERN_KERNEL (the engine's switch, which the tests follow) allows it.
has_cpu_feature() {
  case ${TERN_KERNEL:-}:$1 in
    scalar:avx2 | scalar:avx512 | avx2:avx512) return 1 ;;
  esac
  case $1 in
    avx2) flags="avx2 fma f16c" ;;
    avx512) flags="avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512_vnni" ;;
    *) echo "unknown Needs: $1" >&2; return 1 ;;
  esac
  for f in $flags; do
    grep -qw "$f" /proc/cpuinfo || return 1
  done
}

header() { sed -n "s/^$1: *//p;/^diff --git /q" "$2" | head -n 1; }

# The files the tests named in $@ run (their executables and the programs
# they call), relative to the build folder: a mutation rebuilds only those,
# not every program that links the mutated library.
test_targets() {
  meson introspect "$build" --tests --targets | python3 -c '
import json, os, sys
info = json.load(sys.stdin)
names, build = set(sys.argv[2:]), sys.argv[1]
files = {t["id"]: t["filename"] for t in info["targets"]}
for test in info["tests"]:
    if test["name"] in names:
        for dep in test["depends"]:
            for f in files.get(dep, []):
                print(os.path.relpath(f, build))
' "$build" "$@" | sort -u
}

started=$(date +%s)
echo "Copying the tree to $tree"
mkdir -p "$tree"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tree"
# A repository of its own, so that git apply takes the patches' paths from
# the copy's root even when the copy lies inside another checkout.
[ -d "$tree/.git" ] || git init -q "$tree"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$tree" >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
echo "Building the unmutated tree"
ninja -C "$build" >"$log" 2>&1 || { cat "$log"; exit 1; }

caught=0
survived=0
skipped=0
broken=0
for patch in "$@"; do
  patch=$(cd "$(dirname "$patch")" && pwd)/$(basename "$patch")
  name=$(basename "$patch" .patch)
  what=$(header Mutation "$patch")
  tests=$(header Tests "$patch")
  needs=$(header Needs "$patch")
  paths=$(header Paths "$patch")
  repeat=$(header Repeat "$patch")
  repeat=${repeat:-1}
  failed=
  start=$(date +%s)

  if [ -z "$what" ] || [ -z "$tests" ]; then
    echo "BROKEN    $name: no Mutation: or Tests: line"
    broken=$((broken + 1))
    continue
  fi
  if [ -n "$needs" ] && ! has_cpu_feature "$needs"; then
    echo "SKIPPED   $name: this CPU lacks $needs, or TERN_KERNEL turns it off ($what)"
    skipped=$((skipped + 1))
    continue
  fi
  if ! (cd "$tree" && git apply --whitespace=nowarn "$patch") 2>"$log"; then
    echo "BROKEN    $name: the patch no longer applies: $(head -n 1 "$log")"
    broken=$((broken + 1))
    continue
  fi
  applied=$patch
  # shellcheck disable=SC2046,SC2086 # one target per line, names without spaces
  if ! ninja -C "$build" $(test_targets $tests) >"$log" 2>&1; then
    echo "BROKEN    $name: the mutated tree does not build (a mutation must compile)"
    broken=$((broken + 1))
  else
    failures=0
    i=0
    while [ "$i" -lt "$repeat" ]; do
      # shellcheck disable=SC2086 # Tests: and Paths: are lists
      if ! run_tests meson test -C "$build" --no-rebuild --print-errorlogs \
        ${paths:+--test-args "$(printf -- '-p %s ' $paths)"} $tests >"$log" 2>&1; then
        failures=$((failures + 1))
        failed=$(sed -n 's/^ *[0-9]*\/[0-9]* *[^ ]* \/ \([^ ]*\) *\(FAIL\|ERROR\|TIMEOUT\).*/\1/p' "$log" | sort -u | tr '\n' ' ')
      fi
      i=$((i + 1))
    done
    seconds=$(($(date +%s) - start))
    if [ "$failures" -eq "$repeat" ]; then
      echo "CAUGHT    $name (${seconds} s, by ${failed:-$tests}): $what"
      caught=$((caught + 1))
    elif [ "$failures" -gt 0 ]; then
      echo "SURVIVED  $name (${seconds} s, caught in only $failures of $repeat runs): $what"
      survived=$((survived + 1))
    else
      echo "SURVIVED  $name (${seconds} s, $tests passed): $what"
      survived=$((survived + 1))
    fi
  fi
  (cd "$tree" && git apply -R --whitespace=nowarn "$patch")
  applied=
done

echo "mutations: $caught caught, $survived survived, $skipped skipped (CPU), $broken broken ($(($(date +%s) - started)) s)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
