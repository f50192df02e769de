#!/usr/bin/env bash
# The local demo: a real kube-apiserver + etcd, a real nats-server, osmosis-operator, and a
# worker Deployment whose pods osmosis-pod-runner runs as local sidecar + app processes
# (there is no kubelet). Waves of messages are published; watch the replicas follow the
# backlog, the Events explain each change, and the Deployment go back to zero.
#
#   hack/demo.sh              about two minutes, then everything is stopped and removed
#   hack/demo.sh --keep       leave it running (Ctrl-C stops it)
#
# Set-up is done on the way (hack/setup.sh, a release build in build/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1m[demo]\033[0m %s\n' "$*"; }

hack/setup.sh
tools=$(hack/tools/build.sh --print-bin-dir)
export PATH="$tools:$PATH"
source hack/bench/lib.sh  # the release tree shared with the benchmarks
say "building (release) in $build"
bench_build osmosis-operator osmosis-sidecar osmosis-pod-runner osmosis-test-app

work=$(mktemp -d "${TMPDIR:-/tmp}/osmosis-demo-XXXXXX")
export OSMOSIS_CP_DIR="$work/control-plane"
pids=()
cleanup() {
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hack/control-plane.sh down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the control plane (kube-apiserver + etcd on 127.0.0.1)"
hack/control-plane.sh up >"$work/cp.log"
export KUBECONFIG="$OSMOSIS_CP_DIR/kubeconfig"

nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats_url="nats://127.0.0.1:$nats_port"
say "starting nats-server with JetStream on $nats_url"
nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nats --server "$nats_url" account info >/dev/null 2>&1 && break; sleep 0.2; done

say "installing the Channel CRD and the demo objects"
kubectl apply -f crds/osmosis.dev_channels.yaml >/dev/null
kubectl wait --for condition=established crd/channels.osmosis.dev --timeout=60s >/dev/null
kubectl create namespace demo >/dev/null
kubectl apply -n demo -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders-worker}
spec:
  replicas: 0
  selector: {matchLabels: {app: orders-worker}}
  template:
    metadata: {labels: {app: orders-worker}}
    spec: {containers: [{name: app, image: example.invalid/orders-worker:1}]}
---
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  worker: {scaleTargetRef: {name: orders-worker}}
  scaling:
    minReplicas: 0
    maxReplicas: 8
    targetBacklogPerReplica: 100
    scaleToZeroAfterSeconds: 15
    scaleDown: {stabilizationSeconds: 10, maxStepPercent: 50}
EOF

say "starting osmosis-operator and the pod runner (each pod: sidecar + an app taking 50 ms per message)"
"$build/operator/osmosis-operator" --kubeconfig "$KUBECONFIG" --leader-elect=false \
  --nats-url "$nats_url" --http-address 127.0.0.1:0 --resync-period 5s \
  --scale-down-step-interval 5s >"$work/operator.log" 2>&1 &
pids+=($!)
"$build/tests/osmosis-pod-runner" --kubeconfig "$KUBECONFIG" --namespace demo \
  --deployment orders-worker --channel orders --stream DEMO_ORDERS --nats-url "$nats_url" \
  --sidecar-bin "$build/sidecar/osmosis-sidecar" --app-bin "$build/tests/osmosis-test-app" \
  --dir "$work/pods" --app-delay-ms 50 --concurrency 4 --grace-seconds 10 \
  --sidecar-arg=--log-level=warn >"$work/pod-runner.log" 2>&1 &
pids+=($!)
kubectl wait -n demo --for=jsonpath='{.status.conditions[?(@.type=="Ready")].status}'=True \
  channel/orders --timeout=60s >/dev/null
say "Channel ready: $(kubectl get chan -n demo orders --no-headers)"

show() {
  local replicas backlog
  replicas=$(kubectl get deploy -n demo orders-worker -o jsonpath='{.spec.replicas}/{.status.readyReplicas}')
  backlog=$(nats --server "$nats_url" consumer info DEMO_ORDERS workers --json 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["num_pending"]+c["num_ack_pending"])' 2>/dev/null || echo "?")
  printf '  %s  replicas (desired/ready) %-6s backlog %s\n' "$(date +%T)" "$replicas" "$backlog"
}
publish() {  # publish COUNT: a wave of messages
  say "publishing $1 messages"
  nats --server "$nats_url" pub demo.orders.new "work" --count "$1" >/dev/null 2>&1
}

publish 1
for _ in $(seq 4); do show; sleep 1; done
publish 1500
for _ in $(seq 25); do show; sleep 1; done
publish 3000
for _ in $(seq 30); do show; sleep 1; done
say "no more messages: the Deployment goes back to zero after the window and the idle period"
for _ in $(seq 45); do
  show
  [[ "$(kubectl get deploy -n demo orders-worker -o jsonpath='{.spec.replicas}')" == "0" ]] && break
  sleep 1
done
say "what the operator said (kubectl get events -n demo):"
kubectl get events -n demo --field-selector involvedObject.kind=Channel \
  -o custom-columns=TIME:.lastTimestamp,REASON:.reason,MESSAGE:.message --sort-by=.lastTimestamp
kubectl get chan -n demo -o wide
if ((keep)); then
  say "still running (KUBECONFIG=$KUBECONFIG, NATS $nats_url); Ctrl-C stops everything"
  wait
fi
