#!/usr/bin/env bash
# Operator load benchmark: builds a release tree in build/bench and runs
# hack/bench/load_bench.cpp (C Channels x P reporting pods, one report per pod per second, on a
# fresh control plane and nats-server): the steady-state cost of the periodic checks, decision
# latency under load, the operator's CPU and RSS.
# Results go to hack/bench/results/load-<time>.txt.
#   hack/bench/load.sh [channels] [pods] [probes]   (default 500 10 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/bench/lib.sh
bench_build osmosis_load_bench osmosis-operator
out="hack/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_load_bench" "$build/operator/osmosis-operator" "$out" "${1:-500}" "${2:-10}" "${3:-20}"
