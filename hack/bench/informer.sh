#!/usr/bin/env bash
# Informer benchmark: builds a release tree in build/bench and runs
# hack/bench/informer_bench.cpp against a fresh control plane (hack/control-plane.sh).
# Results go to hack/bench/results/informer-<time>.txt.
#   hack/bench/informer.sh [objects]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${OSMOSIS_BENCH_BUILD_DIR:-build/bench}
export OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN:-$(hack/tools/build.sh --print-bin-dir)}
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
nice cmake --build "$build" -j2 --target osmosis_informer_bench
mkdir -p hack/bench/results
out="hack/bench/results/informer-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_informer_bench" "$out" "${1:-10000}"
