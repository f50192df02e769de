#!/usr/bin/env bash
# Shared helpers for tests/cluster/*.sh (sourced, not a test itself): the tests that need a
# real node. ctest starts one cluster for all of them (setup.sh, FIXTURES_SETUP) and tears
# it down after the last one (teardown.sh, FIXTURES_CLEANUP, which checks that nothing is
# left); each test works in a namespace of its own and deletes it, even when it fails.
#
# Gives: fail, info, poll, KUBECONFIG exported, the pinned kubectl and nats first on PATH,
# WORK (a temp dir removed on exit), CLEANUPS (strings eval'd on exit, last first).
set -euo pipefail

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "lib.sh is a helper sourced by the cluster tests, not a test" >&2
  exit 0
fi

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="$REPO_ROOT/hack/cluster.sh"
TEST_NAME="$(basename "$0" .sh)"

fail() {
  echo "FAIL: $TEST_NAME: $*" >&2
  exit 1
}
info() { echo "[$TEST_NAME] $*"; }

# poll DESCRIPTION SECONDS CMD...: run CMD until it succeeds; fail after SECONDS.
poll() {
  local desc="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for: $desc"
    sleep 0.2
  done
}

OSMOSIS_TOOLS_BIN="${OSMOSIS_TOOLS_BIN:-$("$REPO_ROOT/hack/tools/build.sh" --print-bin-dir)}"
export OSMOSIS_TOOLS_BIN
export PATH="$OSMOSIS_TOOLS_BIN:$PATH"
export NATS_CONTEXT="" # never a developer's saved nats context

WORK="$(mktemp -d "${TMPDIR:-/tmp}/osmosis-clustertest.XXXXXX")"
CLEANUPS=()
_cleanup() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUPS[$i]}" || true
  done
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
  if ((rc == 0)); then echo "PASS: $TEST_NAME"; else echo "FAIL: $TEST_NAME (exit $rc)" >&2; fi
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# cluster_env: export KUBECONFIG of the running cluster (the fixture started it).
cluster_env() {
  local out
  out="$("$CLUSTER" env)" || fail "no cluster is running (ctest's cluster_up fixture starts it; or hack/cluster.sh up)"
  eval "$out"
}

# new_namespace PREFIX: creates a namespace, deleted on exit; prints nothing, sets NS.
new_namespace() {
  NS="$1-$RANDOM$RANDOM"
  kubectl create namespace "$NS" >/dev/null
  CLEANUPS+=("kubectl delete namespace $NS --wait=false >/dev/null 2>&1")
}

# The in-cluster NATS (hack/manifests/nats.sh, applied by the fixture).
export NATS_IN_CLUSTER_URL=nats://nats.osmosis-system.svc.cluster.local:4222
nats_host_url() { # the client Service's ClusterIP: the host reaches it through kube-proxy
  echo "nats://$(kubectl -n osmosis-system get service nats -o jsonpath='{.spec.clusterIP}'):4222"
}

# worker_deployment REPLICAS WORK_MS RECORDS_DIR: the example worker's Deployment "worker" (the
# sidecar is injected by the operator), each pod recording what it processed in RECORDS_DIR.
worker_deployment() {
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: $1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      terminationGracePeriodSeconds: 30
      securityContext: {runAsNonRoot: true}
      containers:
      - name: app
        image: localhost/osmosis/osmosis-example-worker:dev
        args: [--work-ms, "$2", --record, /records/\$(POD_NAME).jsonl, --drain-idle, 2s]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: records, mountPath: /records}]
      volumes:
      - name: records
        hostPath: {path: $3, type: Directory}
YAML
}
