#!/usr/bin/env bash
# Autoscaling reaction benchmark: builds a release tree in build/bench and runs
# hack/bench/autoscale_bench.cpp (burst -> replicas change, first message at zero -> 1).
# Results go to hack/bench/results/autoscale-<time>.txt.
#   hack/bench/autoscale.sh [rounds]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/bench/lib.sh
bench_build osmosis_autoscale_bench osmosis-operator \
  osmosis-pod-runner osmosis-sidecar osmosis-test-app
out="hack/bench/results/autoscale-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_autoscale_bench" "$build/operator/osmosis-operator" \
  "$build/tests/osmosis-pod-runner" "$build/sidecar/osmosis-sidecar" \
  "$build/tests/osmosis-test-app" "$out" "${1:-10}"
