#!/usr/bin/env bash
# The node itself, checked with kubectl and the nats CLI: it is Ready; the images are
# non-root, labelled and small; a Deployment of three
# example-worker replicas becomes Available; a pod reaches the in-cluster NATS by its Service
# DNS name; deleting a pod delivers SIGTERM to its containers and the grace period is kept
# (a container that exits on SIGTERM goes at once, one that ignores it is killed only when
# the grace period is over); and the NATS manifest with three replicas forms a JetStream
# cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_env
new_namespace node-test

# --- node Ready ---
ready="$(kubectl get node osmosis-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
[[ "$ready" == True ]] || fail "node osmosis-node Ready=$ready"
runtime="$(kubectl get node osmosis-node -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')"
info "node osmosis-node Ready (kubelet $(kubectl get node osmosis-node -o jsonpath='{.status.nodeInfo.kubeletVersion}'), $runtime)"

# --- the images: non-root, labelled, and small (as podman built them) ---
for image in osmosis-operator osmosis-sidecar osmosis-example-worker osmosis-gateway nats-server coredns pause; do
  meta="$(podman image inspect --format '{{.Config.User}}|{{index .Labels "org.opencontainers.image.version"}}|{{index .Labels "org.opencontainers.image.source"}}|{{.Size}}' \
    "localhost/osmosis/$image:dev")" || fail "podman has no image localhost/osmosis/$image:dev"
  IFS='|' read -r user version source size <<<"$meta"
  [[ "$user" =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || fail "$image runs as '$user', want a fixed non-root UID:GID"
  [[ -n "$version" && "$source" == http* ]] || fail "$image lacks OCI version/source labels ('$version', '$source')"
  ((size < 64 * 1024 * 1024)) || fail "$image is $((size / 1024 / 1024)) MB"
  sizes+="$image $((size / 1024))K, "
done
info "images non-root with OCI labels: ${sizes%, }"

# --- a Deployment of three example workers becomes Available ---
kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: workers}
spec:
  replicas: 3
  selector: {matchLabels: {app: workers}}
  template:
    metadata: {labels: {app: workers}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
      - name: app
        image: localhost/osmosis/osmosis-example-worker:dev
        imagePullPolicy: Never
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
YAML
start=$SECONDS
kubectl -n "$NS" wait deployment/workers --for condition=Available --timeout=120s >/dev/null ||
  fail "Deployment workers not Available: $(kubectl -n "$NS" get pods -o wide)"
n="$(kubectl -n "$NS" get deployment workers -o jsonpath='{.status.availableReplicas}')"
[[ "$n" == 3 ]] || fail "availableReplicas=$n, want 3"
ips="$(kubectl -n "$NS" get pods -l app=workers -o jsonpath='{.items[*].status.podIP}')"
for ip in $ips; do
  [[ "$ip" == 10.244.0.* ]] || fail "pod IP $ip is not on the cluster's bridge (10.244.0.0/24)"
done
info "Deployment of 3 example workers Available in $((SECONDS - start)) s (pod IPs: $ips)"
# A worker answers over the pod network, from the host (the bridge route), with curl.
ip="${ips%% *}"
out="$(curl -sf --max-time 5 -X POST --data 'id=from-host' "http://$ip:8080/")" || fail "POST to the worker at $ip failed"
[[ "$out" == ok ]] || fail "the worker answered '$out'"

# --- a pod reaches NATS by the Service's DNS name ---
subject="node-test.$RANDOM"
nats --server "$(nats_host_url)" sub "$subject" --count 1 >"$WORK/sub.out" 2>&1 &
sub=$!
CLEANUPS+=("kill $sub 2>/dev/null")
poll "the host subscriber to be subscribed" 15 grep -q Subscribing "$WORK/sub.out"
kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: nats-dns}
spec:
  restartPolicy: Never
  containers:
  - name: nats
    image: localhost/osmosis/nats-server:dev
    imagePullPolicy: Never
    command: [/nats, --server, "$NATS_IN_CLUSTER_URL", pub, "$subject", "hello from a pod"]
YAML
poll "pod nats-dns to finish" 60 bash -c "kubectl -n $NS get pod nats-dns -o jsonpath='{.status.phase}' | grep -qE 'Succeeded|Failed'"
phase="$(kubectl -n "$NS" get pod nats-dns -o jsonpath='{.status.phase}')"
[[ "$phase" == Succeeded ]] || fail "pod nats-dns is $phase: $(kubectl -n "$NS" logs nats-dns 2>&1 | tail -5)"
poll "the message published in the pod to reach the host subscriber" 15 grep -q 'hello from a pod' "$WORK/sub.out"
resolv="$(kubectl -n "$NS" logs nats-dns 2>&1 | tail -1)"
info "a pod published to $NATS_IN_CLUSTER_URL (pod said: $resolv); the host's nats sub received it"

# --- three replicas of the NATS manifest form a JetStream cluster ---
nats3="nats3-$RANDOM$RANDOM"
CLEANUPS+=("kubectl delete namespace $nats3 --wait=false >/dev/null 2>&1")
"$REPO_ROOT/hack/manifests/nats.sh" --replicas 3 --namespace "$nats3" | kubectl apply -f - >/dev/null
kubectl -n "$nats3" rollout status statefulset/nats --timeout=120s >/dev/null ||
  fail "3 NATS replicas not ready: $(kubectl -n "$nats3" get pods -o wide)"
url3="nats://$(kubectl -n "$nats3" get service nats -o jsonpath='{.spec.clusterIP}'):4222"
# r3_formed: creates the R3 stream (once) and is true when it has a leader and two current
# replicas; leaves "leader replica replica" in $WORK/r3.
r3_formed() {
  nats --server "$url3" stream info R3 >/dev/null 2>&1 ||
    nats --server "$url3" stream add R3 --subjects 'r3.>' --replicas 3 --defaults >/dev/null 2>&1 || return 1
  nats --server "$url3" stream info R3 --json 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin).get("cluster", {})
current = sorted(r["name"] for r in c.get("replicas", []) if r.get("current"))
print(c.get("leader", ""), *current)
sys.exit(0 if c.get("leader") and len(current) == 2 else 1)' >"$WORK/r3"
}
poll "an R3 stream with a leader and two current replicas on the 3-replica NATS" 90 r3_formed
read -r -a r3_peers <"$WORK/r3"
info "nats.sh --replicas 3: JetStream cluster formed; R3 stream leader ${r3_peers[0]}, replicas ${r3_peers[*]:1}"

# --- deleting a pod: SIGTERM to its containers, grace period honoured ---
# term-fast exits 1 s after SIGTERM (its drain: 1 s without a message); term-slow would
# drain for 100 s: with terminationGracePeriodSeconds 8 it must be killed after about 8 s.
pod_yaml() { # NAME DRAIN_IDLE
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 8
  containers:
  - name: app
    image: localhost/osmosis/osmosis-example-worker:dev
    imagePullPolicy: Never
    args: [--drain-idle, $2, --drain-max, 100s]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
YAML
}
pod_yaml term-fast 1s | kubectl apply -n "$NS" -f - >/dev/null
pod_yaml term-slow 100s | kubectl apply -n "$NS" -f - >/dev/null
kubectl -n "$NS" wait pod/term-fast pod/term-slow --for condition=Ready --timeout=60s >/dev/null ||
  fail "term-fast/term-slow not Ready"
# Follow each container's log from before the delete to its end (the kubelet's record of what
# the process printed after SIGTERM).
for p in term-fast term-slow; do
  kubectl -n "$NS" logs -f "$p" >"$WORK/$p.log" 2>&1 &
  CLEANUPS+=("kill $! 2>/dev/null")
done
poll "both log streams to start" 15 bash -c "grep -q listening $WORK/term-fast.log && grep -q listening $WORK/term-slow.log"
measure_delete() { # prints the seconds `kubectl delete --wait` took
  local t0=$EPOCHREALTIME
  kubectl -n "$NS" delete pod "$1" --wait=true --timeout=60s >/dev/null || fail "deleting $1 failed"
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$EPOCHREALTIME"
}
fast="$(measure_delete term-fast)"
slow="$(measure_delete term-slow)"
grep -q '"msg":"draining"' "$WORK/term-fast.log" || fail "term-fast never logged SIGTERM handling: $(cat "$WORK/term-fast.log")"
grep -q '"msg":"stopped".*"signal":15' "$WORK/term-fast.log" || fail "term-fast did not stop cleanly on SIGTERM: $(tail -3 "$WORK/term-fast.log")"
grep -q '"msg":"draining"' "$WORK/term-slow.log" || fail "term-slow never got SIGTERM: $(cat "$WORK/term-slow.log")"
grep -q '"msg":"stopped"' "$WORK/term-slow.log" && fail "term-slow stopped by itself; it should have been killed"
python3 - "$fast" "$slow" <<'PY' || fail "delete times: fast ${fast}s, slow ${slow}s; want 1 s <= fast < 6 s and 7.5 s <= slow < 16 s"
import sys
fast, slow = map(float, sys.argv[1:])
sys.exit(0 if 1 <= fast < 6 and 7.5 <= slow < 16 else 1)
PY
info "SIGTERM delivered to both; the one that exits went in ${fast}s, the one that ignores it was killed after ${slow}s (grace period 8 s)"
