#!/usr/bin/env bash
# Fuzzes every parser of outside input with clang's libFuzzer (targets: tests/fuzz/*_fuzz.cpp).
#
#   hack/fuzz.sh [SECONDS]       each target for SECONDS (default 10), from its seed corpus
#   hack/fuzz.sh SECONDS TARGET  one target
#
# Builds with clang in build/fuzz (ASan + UBSan + coverage), runs each target on a copy of
# tests/fuzz/corpus/<target>, and prints executions, coverage and findings per target. A
# finding's input is kept in build/fuzz/findings/<target>/: add it to the seed corpus with
# the fix, so the replay tests in ctest (fuzz_replay_<target>) keep it found.
# Exit 1 when any target found a crash or a broken property.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
only=${2:-}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number (got '$seconds')" >&2; exit 2; }
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (hack/setup.sh installs it)" >&2; exit 2; }
say() { printf '[fuzz] %s\n' "$*"; }

targets=()
for f in tests/fuzz/*_fuzz.cpp; do
  t=$(basename "$f" _fuzz.cpp)
  [[ -z "$only" || "$only" == "$t" ]] && targets+=("$t")
done
((${#targets[@]})) || { echo "fuzz.sh: no target '$only' (see tests/fuzz/)" >&2; exit 2; }

build=build/fuzz
mkdir -p "$build"
say "building ${#targets[@]} targets with clang in $build"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOSMOSIS_FUZZ=ON >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
nice cmake --build "$build" --target "${targets[@]/%/_fuzz}" >"$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log"; exit 1; }

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1  # (leaks: the ASan test build checks them)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
printf '%-16s %10s %8s %8s %s\n' target execs cov ft result
for t in "${targets[@]}"; do
  work="$build/work/$t" findings="$build/findings/$t"
  rm -rf "$work"; mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  log="$build/$t.log"
  result=ok
  if ! "$build/tests/fuzz/${t}_fuzz" "$work" -max_total_time="$seconds" -max_len=8192 \
       -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1 \
       >"$log" 2>&1; then
    result="FOUND: see $log and $findings"
    status=1
  fi
  stats=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -1)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  cov=$(grep -oE 'cov: [0-9]+' <<<"$stats" | grep -oE '[0-9]+' || echo '?')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$stats" | grep -oE '[0-9]+' || echo '?')
  printf '%-16s %10s %8s %8s %s\n' "$t" "$execs" "$cov" "$ft" "$result"
done
exit $status
