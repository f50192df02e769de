#!/usr/bin/env bash
# Shared helpers for tests/cluster/*.sh (sourced, not a test itself): the tests that need a
# real node. ctest starts one cluster for all of them (setup.sh, FIXTURES_SETUP) and tears
# it down after the last one (teardown.sh, FIXTURES_CLEANUP, which checks that nothing is
# left); each test works in a namespace of its own and deletes it, even when it fails.
#
# Gives: fail, info, poll, KUBECONFIG exported, the pinned kubectl and nats first on PATH,
# WORK (a temp dir removed on exit), CLEANUPS (strings eval'd on exit, last first); for the
# tests' objects new_namespace and worker_deployment; for the chart use_helm, chart_values,
# adopt_crd and helm_install_operator.
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

# apply_channel_crd: applies the Channel CRD and waits until it is Established, polled with
# channel_crd_established (kubectl wait fails at once on a CRD whose status has no conditions
# yet).
channel_crd_established() {
  [[ $(kubectl get crd channels.osmosis.dev \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}') == True ]]
}
apply_channel_crd() {
  kubectl apply -f "$REPO_ROOT/crds/osmosis.dev_channels.yaml" >/dev/null
  poll "the Channel CRD established" 60 channel_crd_established
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

# new_namespace [--restricted] PREFIX: creates a namespace, deleted on exit; prints nothing,
# sets NS. --restricted: Pod Security admission enforces (and warns of) the `restricted`
# standard in it, so the API server judges every pod the test makes there.
new_namespace() {
  local restricted=""
  [[ "$1" != --restricted ]] || { restricted=1 && shift; }
  NS="$1-$RANDOM$RANDOM"
  kubectl create namespace "$NS" >/dev/null
  CLEANUPS+=("kubectl delete namespace $NS --wait=false >/dev/null 2>&1")
  [[ -z "$restricted" ]] || kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted >/dev/null
}

# The in-cluster NATS (hack/manifests/nats.sh, applied by the fixture).
export NATS_IN_CLUSTER_URL=nats://nats.osmosis-system.svc.cluster.local:4222
nats_host_url() { # the client Service's ClusterIP: the host reaches it through kube-proxy
  echo "nats://$(kubectl -n osmosis-system get service nats -o jsonpath='{.spec.clusterIP}'):4222"
}

# worker_deployment [--restricted] [--tcp-probe] REPLICAS WORK_MS [RECORDS_DIR]: the example
# worker's Deployment "worker" (the sidecar is injected by the operator), each message taking
# WORK_MS. With RECORDS_DIR each pod records what it processed there, in a hostPath volume.
# --restricted: fits the `restricted` Pod Security Standard (the seccomp profile it requires;
# no hostPath, so no RECORDS_DIR). --tcp-probe: the app's readiness is a TCP check, not
# GET /healthz (the example worker serves HTTP on one thread: a long handler blocks /healthz).
worker_deployment() {
  local pod_security="runAsNonRoot: true" probe="httpGet: {path: /healthz, port: 8080}"
  while [[ "${1:-}" == --* ]]; do
    case "$1" in
      --restricted) pod_security+=", seccompProfile: {type: RuntimeDefault}" ;;
      --tcp-probe) probe="tcpSocket: {port: 8080}" ;;
      *) fail "worker_deployment: unknown option $1" ;;
    esac
    shift
  done
  local replicas="$1" work_ms="$2" records="${3:-}" record=""
  if [[ -n "$records" ]]; then
    [[ "$pod_security" != *seccompProfile* ]] || fail "worker_deployment: --restricted allows no hostPath RECORDS_DIR"
    # shellcheck disable=SC2016 # $(POD_NAME): expanded by the kubelet, from the env below
    record=' --record, /records/$(POD_NAME).jsonl,'
  fi
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: $replicas
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      terminationGracePeriodSeconds: 30
      securityContext: {$pod_security}
      containers:
      - name: app
        image: localhost/osmosis/osmosis-example-worker:dev
        args: [--work-ms, "$work_ms",$record --drain-idle, 2s]
        readinessProbe: {$probe, periodSeconds: 1}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
YAML
  [[ -n "$records" ]] || return 0
  cat <<YAML
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts: [{name: records, mountPath: /records}]
      volumes:
      - name: records
        hostPath: {path: $records, type: Directory}
YAML
}

# --- the chart (helm/osmosis), installed by the tests that need it ---

# use_helm: sets CHART; the pinned helm, its cache, config and data in WORK.
use_helm() {
  CHART="$REPO_ROOT/helm/osmosis"
  [[ -x "$OSMOSIS_TOOLS_BIN/helm" ]] || fail "$OSMOSIS_TOOLS_BIN/helm missing: run hack/tools/build.sh first"
  export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
}

# chart_values: the values every test installs the chart with, one argument a line
# (`mapfile -t values < <(chart_values)`): the images loaded on the node (never pulled), the
# in-cluster NATS, the operator's short resync period and scale-down step.
chart_values() {
  printf '%s\n' \
    --set image.registry=localhost --set image.repository=osmosis/osmosis-operator --set image.tag=dev \
    --set image.pullPolicy=Never \
    --set sidecar.image.registry=localhost --set sidecar.image.repository=osmosis/osmosis-sidecar \
    --set sidecar.image.tag=dev \
    --set "nats.urls={$NATS_IN_CLUSTER_URL}" \
    --set operator.resyncPeriod=2s --set operator.scaleDownStepInterval=1s
}

# adopt_crd RELEASE: a Channel CRD applied by hand or installed by another test is adopted by
# RELEASE in NS, as Helm documents (else helm install refuses to take it over).
adopt_crd() {
  kubectl get crd channels.osmosis.dev >/dev/null 2>&1 || return 0
  kubectl annotate --overwrite crd channels.osmosis.dev meta.helm.sh/release-name="$1" \
    meta.helm.sh/release-namespace="$NS" >/dev/null
  kubectl label --overwrite crd channels.osmosis.dev app.kubernetes.io/managed-by=Helm >/dev/null
}

# helm_install_operator [--timeout DURATION] [--logs SELECTOR] RELEASE [HELM ARGS...]:
# `helm install RELEASE CHART -n NS ARGS --wait` (--timeout 120s unless given); fails the test
# with helm's output. Registers its cleanups first: on exit the release uninstalled, then the
# Channels' finalizers taken off (without the operator nothing releases them and the namespace
# could not go: what the chart README tells users to do); on failure, before that, where
# everything was, the last events and the logs of the pods SELECTOR picks (the operator's).
helm_install_operator() {
  local timeout=120s logs=app.kubernetes.io/component=operator
  while [[ "${1:-}" == --* ]]; do
    case "$1" in
      --timeout) timeout="$2" ;;
      --logs) logs="$2" ;;
      *) fail "helm_install_operator: unknown option $1" ;;
    esac
    shift 2
  done
  local release="$1" out
  shift
  CLEANUPS+=("helm uninstall $release -n $NS --wait --timeout 60s >/dev/null 2>&1; for c in \$(kubectl -n $NS get channels -o name 2>/dev/null); do kubectl -n $NS patch \$c --type merge -p '{\"metadata\":{\"finalizers\":null}}' >/dev/null 2>&1; done")
  CLEANUPS+=("[[ \$rc == 0 ]] || { kubectl -n $NS get all,channels,leases -o wide; kubectl -n $NS get events --sort-by=.lastTimestamp | tail -30; for p in \$(kubectl -n $NS get pods -l '$logs' -o name); do echo \"--- \$p\"; kubectl -n $NS logs \$p --tail=30; kubectl -n $NS logs \$p --previous --tail=30; done; } >&2 2>/dev/null")
  out="$(helm install "$release" "$CHART" -n "$NS" "$@" --wait --timeout "$timeout" 2>&1)" ||
    fail "helm install: $out"
}
