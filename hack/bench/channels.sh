#!/usr/bin/env bash
# Channel provisioning benchmark: builds a release tree in build/bench and runs
# hack/bench/channels_bench.cpp (N Channels provisioned by osmosis-operator vs the same API
# and NATS work done directly, on a fresh control plane and nats-server).
# Results go to hack/bench/results/channels-<time>.txt.
#   hack/bench/channels.sh [channels] [workers]   (default 1000 4)
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/bench/lib.sh
bench_build osmosis_channels_bench osmosis-operator
out="hack/bench/results/channels-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_channels_bench" "$build/operator/osmosis-operator" "$out" "${1:-1000}" "${2:-4}"
