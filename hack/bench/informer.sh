#!/usr/bin/env bash
# Informer benchmark: builds a release tree in build/bench and runs
# hack/bench/informer_bench.cpp against a fresh control plane (hack/control-plane.sh).
# Results go to hack/bench/results/informer-<time>.txt.
#   hack/bench/informer.sh [objects]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/bench/lib.sh
bench_build osmosis_informer_bench
out="hack/bench/results/informer-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_informer_bench" "$out" "${1:-10000}"
