#!/usr/bin/env bash
# Sidecar benchmark: builds a release (RelWithDebInfo, no sanitizers; warnings not fatal, since
# GCC 12 -O2 reports a false -Wnull-dereference inside CLI11) tree in build/bench and
# runs hack/bench/sidecar_bench.cpp. Results go to hack/bench/results/sidecar-<time>.txt.
#   hack/bench/sidecar.sh [messages per round] [concurrency] [rounds]
# OSMOSIS_NATS_SERVER picks the nats-server binary (default: nats-server on PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${OSMOSIS_BENCH_BUILD_DIR:-build/bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOSMOSIS_WERROR=OFF >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
nice cmake --build "$build" -j2 --target osmosis-sidecar osmosis_sidecar_bench
mkdir -p hack/bench/results
out="hack/bench/results/sidecar-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_sidecar_bench" "$build/sidecar/osmosis-sidecar" "$out" "${1:-20000}" "${2:-32}" "${3:-5}"
echo "results written to $out"
