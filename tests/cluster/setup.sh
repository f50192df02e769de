#!/usr/bin/env bash
# Fixture (ctest FIXTURES_SETUP cluster): builds the images (hack/images.sh: a release build
# of our binaries, podman), starts the cluster with a watchdog on ctest itself (so it is torn
# down even if ctest is killed before teardown.sh runs), loads the images and starts NATS.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start=$SECONDS
"$REPO_ROOT/hack/images.sh" || fail "hack/images.sh failed"
info "images ready in $((SECONDS - start)) s"

t=$SECONDS
out="$("$CLUSTER" up --watch-pid "${OSMOSIS_CLUSTER_WATCH_PID:-$PPID}")" || fail "hack/cluster.sh up failed"
eval "$out"
info "cluster up in $((SECONDS - t)) s"

t=$SECONDS
"$CLUSTER" load "$("$REPO_ROOT/hack/images.sh" --print-dir)"/{nats-server,osmosis-operator,osmosis-sidecar,osmosis-example-worker,osmosis-gateway}.tar ||
  fail "loading the images failed"
"$REPO_ROOT/hack/manifests/nats.sh" | kubectl apply -f - >/dev/null || fail "applying the NATS manifest failed"
kubectl -n osmosis-system rollout status statefulset/nats --timeout=120s >/dev/null ||
  fail "nats did not become ready: $(kubectl -n osmosis-system describe pod nats-0 | tail -20)"
info "NATS (JetStream StatefulSet) ready in $((SECONDS - t)) s; whole fixture $((SECONDS - start)) s"
