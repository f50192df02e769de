#!/usr/bin/env bash
# The demo. Waves of messages are published to a Channel; watch the replicas follow the
# backlog, the Events explain each change, and the Deployment go back to zero.
# On a real node (hack/cluster.sh, as root; the default where it can run): NATS is a
# StatefulSet, Osmosis is installed with Helm (helm/osmosis: the operator in its pod), the
# worker is the example-worker image, and the operator injects the sidecar image into its
# pods as a native sidecar. Where the node cannot run (not root, a tool missing) it says why
# and runs the process-based demo instead: a real kube-apiserver + etcd, a real nats-server,
# osmosis-operator, and a worker Deployment whose pods osmosis-pod-runner runs as local
# sidecar + app processes (there is no kubelet). Either way each second's sample goes to a
# table, and at the end a PNG chart of the run (backlog, arrivals per second, desired vs ready
# replicas, each change of the desired replicas marked) is written to $OSMOSIS_DEMO_OUT
# (default build/demo; gnuplot draws it when installed).
#
#   hack/demo.sh              about three minutes, then everything is stopped and removed
#   hack/demo.sh --cluster    on the real node, or fail saying why (images built on the way)
#   hack/demo.sh --local      the process-based demo
#   hack/demo.sh --keep       leave it running (Ctrl-C stops it)
#
# Set-up is done on the way (hack/setup.sh, a release build in build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
mode=auto
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --cluster) mode=cluster ;;
    --local) mode=local ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1m[demo]\033[0m %s\n' "$*"; }

hack/setup.sh
# Can the real node run here? (what hack/cluster.sh up needs before it starts anything)
node_problem() {
  local t
  ((EUID == 0)) || { echo "it needs root (kubelet, containerd, a bridge, iptables)"; return; }
  for t in containerd runc podman mmdebstrap iptables ip; do
    command -v "$t" >/dev/null || { echo "$t is not installed"; return; }
  done
  hack/tools/build.sh --check >/dev/null 2>&1 || echo "the pinned tools are not built"
}
cluster=0
case "$mode" in
  cluster)
    why="$(node_problem)"
    [[ -z "$why" ]] || { echo "demo.sh: the real node cannot run here: $why (hack/demo.sh --local runs without it)" >&2; exit 1; }
    cluster=1
    ;;
  local) ;;
  auto)
    why="$(node_problem)"
    if [[ -z "$why" ]]; then
      cluster=1
    else
      say "the real node cannot run here: $why; running the process-based demo instead"
    fi
    ;;
esac
tools=$(hack/tools/build.sh --print-bin-dir)
export PATH="$tools:$PATH"
source hack/bench/lib.sh  # the release tree shared with the benchmarks
if ! ((cluster)); then # on the node, hack/images.sh builds what goes into the images
  say "building (release) in $build"
  bench_build osmosis-operator osmosis-sidecar osmosis-pod-runner osmosis-test-app
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/osmosis-demo-XXXXXX")
out_dir="${OSMOSIS_DEMO_OUT:-$PWD/build/demo}"
mkdir -p "$out_dir"
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
samples="$out_dir/demo-run.tsv"
printf '# t_s\tdesired\tready\tpods\tbacklog\tstream_last_seq\n' >"$samples"
t0=$EPOCHREALTIME
export OSMOSIS_CP_DIR="$work/control-plane"
pids=()
cleanup() {
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((cluster)); then
    hack/cluster.sh down >/dev/null 2>&1 || true
  else
    hack/control-plane.sh down >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((cluster)); then
  say "building the images (hack/images.sh) and starting the node (hack/cluster.sh up)"
  hack/images.sh >"$work/images.log" 2>&1 || { tail -20 "$work/images.log"; exit 1; }
  eval "$(hack/cluster.sh up --watch-pid $$ 2>"$work/cluster.log")" || { tail -20 "$work/cluster.log"; exit 1; }
  images="$(hack/images.sh --print-dir)"
  hack/cluster.sh load "$images"/{nats-server,osmosis-operator,osmosis-sidecar,osmosis-example-worker}.tar 2>/dev/null
  say "starting NATS with JetStream in the cluster (StatefulSet, hack/manifests/nats.sh)"
  hack/manifests/nats.sh | kubectl apply -f - >/dev/null
  kubectl -n osmosis-system rollout status statefulset/nats --timeout=120s >/dev/null
  # the nats CLI on the host reaches NATS at the Service's cluster IP
  nats_url="nats://$(kubectl -n osmosis-system get service nats -o jsonpath='{.spec.clusterIP}'):4222"
  say "installing Osmosis with Helm (helm/osmosis: CRD, RBAC, the operator in its pod)"
  if kubectl get crd channels.osmosis.dev >/dev/null 2>&1; then # left by an earlier run: adopt it
    kubectl annotate --overwrite crd channels.osmosis.dev meta.helm.sh/release-name=osmosis \
      meta.helm.sh/release-namespace=osmosis-system >/dev/null
    kubectl label --overwrite crd channels.osmosis.dev app.kubernetes.io/managed-by=Helm >/dev/null
  fi
  helm install osmosis helm/osmosis -n osmosis-system --wait --timeout 120s \
    --set image.registry=localhost --set image.repository=osmosis/osmosis-operator \
    --set image.tag=dev --set image.pullPolicy=Never --set sidecar.image.registry=localhost \
    --set sidecar.image.repository=osmosis/osmosis-sidecar --set sidecar.image.tag=dev \
    --set 'nats.urls={nats://nats.osmosis-system.svc.cluster.local:4222}' \
    --set operator.resyncPeriod=5s --set operator.scaleDownStepInterval=5s >"$work/helm.log" 2>&1 ||
    { cat "$work/helm.log"; exit 1; }
else
  say "starting the control plane (kube-apiserver + etcd on 127.0.0.1)"
  hack/control-plane.sh up >"$work/cp.log"
  export KUBECONFIG="$OSMOSIS_CP_DIR/kubeconfig"

  nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  nats_url="nats://127.0.0.1:$nats_port"
  say "starting nats-server with JetStream on $nats_url"
  nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do nats --server "$nats_url" account info >/dev/null 2>&1 && break; sleep 0.2; done
fi

say "installing the demo objects"
if ! ((cluster)); then
  kubectl apply -f crds/osmosis.dev_channels.yaml >/dev/null
fi
# (kubectl wait fails at once on a CRD whose status has no conditions yet: poll instead)
for _ in $(seq 300); do
  [[ $(kubectl get crd channels.osmosis.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null) == True ]] && break
  sleep 0.2
done
kubectl wait --for condition=established crd/channels.osmosis.dev --timeout=60s >/dev/null
kubectl create namespace demo >/dev/null
if ((cluster)); then
  worker_pod='{containers: [{name: app, image: "localhost/osmosis/osmosis-example-worker:dev",
      args: [--work-ms, "50"], readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1},
      securityContext: {readOnlyRootFilesystem: true, runAsNonRoot: true}}]}'
  inject='injectSidecar: true, app: {port: 8080}, '
else
  worker_pod='{containers: [{name: app, image: example.invalid/orders-worker:1}]}'
  inject=''
fi
kubectl apply -n demo -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders-worker}
spec:
  replicas: 0
  selector: {matchLabels: {app: orders-worker}}
  template:
    metadata: {labels: {app: orders-worker}}
    spec: $worker_pod
---
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  worker: {${inject}scaleTargetRef: {name: orders-worker}}
  scaling:
    minReplicas: 0
    maxReplicas: 8
    targetBacklogPerReplica: 100
    scaleToZeroAfterSeconds: 15
    scaleDown: {stabilizationSeconds: 10, maxStepPercent: 50}
EOF

if ((cluster)); then
  say "the operator (installed by Helm) injects the sidecar; each pod: example worker taking 50 ms per message + sidecar"
else
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
fi
kubectl wait -n demo --for=jsonpath='{.status.conditions[?(@.type=="Ready")].status}'=True \
  channel/orders --timeout=60s >/dev/null
say "Channel ready: $(kubectl get chan -n demo orders --no-headers)"

last_seq=0 last_t=0
show() { # one sample: printed, and a row of $samples
  local desired ready pods backlog seq now rate
  # '|' keeps a field that is absent (no ready pod yet) empty instead of shifting the next one in
  IFS='|' read -r desired ready pods < <(kubectl get deploy -n demo orders-worker \
    -o jsonpath='{.spec.replicas}|{.status.readyReplicas}|{.status.replicas}{"\n"}')
  backlog=$(nats --server "$nats_url" consumer info DEMO_ORDERS workers --json 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["num_pending"]+c["num_ack_pending"])' 2>/dev/null || echo "?")
  seq=$(nats --server "$nats_url" stream info DEMO_ORDERS --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["last_seq"])' 2>/dev/null || echo "$last_seq")
  now=$(python3 -c "print(round($EPOCHREALTIME - $t0, 2))")
  rate=$(python3 -c "d=$now-$last_t; print(round(($seq-$last_seq)/d) if d>0 else 0)")
  last_seq=$seq last_t=$now
  printf '  %s  replicas desired %-3s ready %-3s pods %-3s starting %-3s backlog %-6s arrivals %s/s\n' \
    "$(date +%T)" "${desired:-0}" "${ready:-0}" "${pods:-0}" "$((${pods:-0} - ${ready:-0}))" "$backlog" "$rate"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "${desired:-0}" "${ready:-0}" "${pods:-0}" \
    "${backlog/\?/NaN}" "$seq" >>"$samples"
}
publisher=""
publish() { # publish COUNT [MS]: a wave of COUNT messages, one every MS milliseconds, in the background
  say "publishing $1 messages${2:+ (one every $2 ms)}"
  nats --server "$nats_url" pub demo.orders.new "work" --count "$1" ${2:+--sleep "${2}ms"} >/dev/null 2>&1 &
  publisher=$!
  pids+=("$publisher")
}

publish 1
for _ in $(seq 4); do show; sleep 1; done
publish 1500 8
for _ in $(seq 25); do show; sleep 1; done
publish 3000 4
for _ in $(seq 30); do show; sleep 1; done
wait "$publisher" 2>/dev/null || true
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
if command -v gnuplot >/dev/null; then
  python3 - "$samples" >"$out_dir/demo-run.dat" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
prev_t = prev_seq = prev_desired = None
for t, desired, ready, pods, backlog, seq in (map(str.strip, r) for r in rows):
    t, seq = float(t), int(seq)
    rate = (seq - prev_seq) / (t - prev_t) if prev_t is not None and t > prev_t else 0
    change = desired if prev_desired is not None and desired != prev_desired else "NaN"
    print(f"{t:.2f} {desired} {ready} {pods} {backlog} {rate:.0f} {change}")
    prev_t, prev_seq, prev_desired = t, seq, desired
PY
  gnuplot <<GP
set terminal pngcairo size 1200,640 noenhanced font "sans,10"
set output "$out_dir/demo-run.png"
set title "Osmosis demo: backlog, arrivals and replicas ($(if ((cluster)); then echo "real node, installed with Helm"; else echo "local processes"; fi))"
set xlabel "seconds since the demo started"
set ylabel "messages (backlog) / messages per second (arrivals)"
set y2label "replicas"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
set key top right
plot "$out_dir/demo-run.dat" using 1:5 with lines lw 2 title "backlog", \
     "" using 1:6 with lines lw 1 dt 2 title "arrivals/s", \
     "" using 1:2 axes x1y2 with steps lw 2 title "desired replicas", \
     "" using 1:3 axes x1y2 with steps lw 2 title "ready replicas", \
     "" using 1:7 axes x1y2 with points pt 7 ps 1.2 title "scaling decision"
GP
  say "chart of the run: $out_dir/demo-run.png (samples: $samples)"
fi
if ((keep)); then
  say "still running (KUBECONFIG=$KUBECONFIG, NATS $nats_url); Ctrl-C stops everything"
  # On the node nothing here is a child to wait for (the cluster watches this shell's pid):
  # wait on a sleep of our own, which the INT/TERM trap interrupts.
  sleep infinity &
  pids+=("$!")
  wait
fi
