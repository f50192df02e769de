#!/usr/bin/env bash
# Gateway benchmark: builds a release tree in build/bench and runs hack/bench/gateway_bench.cpp
# on a fresh control plane, nats-server (the pinned current one from hack/tools), operator,
# gateway, sidecar (--results) and test app, all on 127.0.0.1 and all killed with the benchmark
# (PR_SET_PDEATHSIG), even when it fails:
#   1. POST -> 202 through the gateway vs raw JetStream publishing with the PubAck awaited
#      (`nats bench js pub sync`) from the same number of connections, alternated, and the ratio;
#   2. POST -> final result event latency p50/p99 with a no-op worker, and the part the gateway
#      adds over publishing straight to the channel and reading the result from NATS;
#   3. N concurrent idle SSE streams: the gateway's RSS and CPU, /healthz and POST latency.
# Results go to hack/bench/results/gateway-<time>.txt.
#   hack/bench/gateway.sh [connections] [messages] [rounds] [latency samples] [streams]
#   (default 32 20000 2 300 10000; about a minute with the build done)
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/bench/lib.sh
bench_build osmosis_gateway_bench osmosis-gateway osmosis-operator osmosis-sidecar \
  osmosis-test-app
# 10,000 client sockets in the benchmark, as many in the gateway (which raises its own soft
# limit to the hard one): each process needs its own.
ulimit -n "$(ulimit -Hn)"
streams=${5:-10000}
if (( $(ulimit -n) < streams + 1000 )); then
  echo "gateway.sh: open files limit $(ulimit -n) is too low for $streams streams" >&2
  exit 1
fi
export OSMOSIS_NATS_SERVER=${OSMOSIS_NATS_SERVER:-$OSMOSIS_TOOLS_BIN/nats-server}
out="hack/bench/results/gateway-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$build/tests/osmosis_gateway_bench" "$build/gateway/osmosis-gateway" \
  "$build/operator/osmosis-operator" "$build/sidecar/osmosis-sidecar" \
  "$build/tests/osmosis-test-app" "$OSMOSIS_TOOLS_BIN/nats" "$out" \
  "${1:-32}" "${2:-20000}" "${3:-2}" "${4:-300}" "$streams"
