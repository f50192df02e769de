#!/usr/bin/env bash
# The one test command: set-up, configure, build (AddressSanitizer + UBSan, warnings as
# errors), then every test (labels unit, integration, e2e) through ctest.
#
#   hack/test.sh                 everything
#   hack/test.sh -L unit         only what matches a ctest label (any ctest arguments pass through)
#
# The full run (no arguments) ends by fuzzing every parser of outside input briefly
# (hack/fuzz.sh, OSMOSIS_FUZZ_SECONDS per target, default 5; 0 skips).
#
# Environment: OSMOSIS_BUILD_DIR (default build/asan), OSMOSIS_TEST_JOBS (default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test] %s\n' "$*"; }
t0=$(date +%s)

hack/setup.sh

build_dir=${OSMOSIS_BUILD_DIR:-build/asan}
jobs=${OSMOSIS_TEST_JOBS:-$(nproc)}
tools_bin=$(hack/tools/build.sh --print-bin-dir)

say "checking formatting (clang-format)"
hack/format.sh --check

say "configuring $build_dir"
mkdir -p "$build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOSMOSIS_SANITIZE=ON \
  -DOSMOSIS_TOOLS_BIN="$tools_bin" >"$build_dir.configure.log" 2>&1 || {
  cat "$build_dir.configure.log"; exit 1; }

say "building"
cmake --build "$build_dir"

say "running tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PATH="$tools_bin:$PATH"
status=0
(cd "$build_dir" && ctest --output-on-failure -j "$jobs" --timeout 600 "$@") || status=$?

fuzz_seconds=${OSMOSIS_FUZZ_SECONDS:-5}
if (($# == 0 && fuzz_seconds > 0)); then
  say "fuzzing each parser for ${fuzz_seconds} s (hack/fuzz.sh)"
  hack/fuzz.sh "$fuzz_seconds" || status=1
fi

say "finished in $(( $(date +%s) - t0 )) s, exit $status"
exit $status
