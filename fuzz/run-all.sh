#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# fuzz/run-all.sh [SECONDS [TARGET...]]: builds build-fuzz (set up with
# clang, ASan and UBSan when missing) and runs each libFuzzer target for
# SECONDS (default 60), one after the other on one core, from its seeds.
# Stops with an error at the first crash, leak, hang or failed check; the
# input that did it is left in build-fuzz/fuzz/findings/TARGET/: check it in
# as fuzz/regressions/TARGET/NAME with the fix, and the default suite
# replays it (meson test fuzz-replay-TARGET). What each run found is kept
# in build-fuzz/fuzz/corpus/TARGET/ for the next run.
set -eu
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-gguf template import transcript snapshot}
build=build-fuzz

[ -d $build ] || CC=${CC:-clang-14} meson setup $build -Dfuzzing=true -Db_sanitize=address,undefined
# Only what fuzzing needs: the app and the tests are not built here.
ninja -C $build $(for t in $targets; do echo fuzz/fuzz-$t; done) fuzz/snapshot-seeds tests/engine/make-malformed-gguf

# Seeds that are made rather than checked in: the malformed GGUF files the
# reader's tests use, and the fixture templates one per file.
seeds=$build/fuzz/seeds
rm -rf $seeds
$build/tests/engine/make-malformed-gguf $seeds/gguf >/dev/null
/usr/bin/python3 - $seeds/template <<'EOF'
import json, os, sys
os.makedirs(sys.argv[1])
for i, t in enumerate(json.load(open('tests/data/chat-templates.json'))):
    with open(os.path.join(sys.argv[1], '%02d' % i), 'w') as f:
        f.write(t['template'])
EOF

# Undefined behaviour is a finding too: each report ends the run.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

for target in $targets; do
  case $target in
    gguf|template) from=$seeds/$target ;;
    import|transcript) from=fuzz/corpus/$target ;;
    snapshot) from=$build/fuzz/snapshot-seeds ;;
    *) echo "no such fuzz target: $target" >&2; exit 1 ;;
  esac
  [ -d fuzz/regressions/$target ] && from="$from fuzz/regressions/$target"
  corpus=$build/fuzz/corpus/$target
  findings=$build/fuzz/findings/$target
  mkdir -p $corpus $findings
  echo "== fuzz-$target: $seconds s"
  # -timeout: an input that takes this long is a hang. ASan's leak check
  # runs after every input that allocated more than it freed.
  $build/fuzz/fuzz-$target -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix=$findings/ $corpus $from
done
