#!/usr/bin/env bash
# Autoscaling end to end on the real node: osmosis-operator (a host process with the
# cluster's kubeconfig) injects the sidecar into a worker Deployment as a native sidecar
# (image from --sidecar-image, NATS by the in-cluster Service name from --sidecar-nats-url).
# Each round publishes a burst at zero replicas: the Deployment scales, real pods are
# scheduled, started from the local image store and become Ready, process, drain, and the
# ReplicaSet controller removes them (the kubelet's SIGTERM) until zero. Checked with
# kubectl and the nats CLI; every message id must be processed (records on a hostPath),
# duplicates are counted and printed, and every pod must have stopped cleanly on SIGTERM.
#
# Prints, over the rounds: burst -> spec.replicas changed, burst -> first new pod Ready
# (p50/p95), and pod start time (scheduled -> Ready, worker + sidecar).
#
# Environment: OSMOSIS_OPERATOR_BIN (set by ctest), OSMOSIS_E2E_ROUNDS (5),
#   OSMOSIS_E2E_BURST (200 messages), OSMOSIS_E2E_WORK_MS (20 ms per message).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
operator="${OSMOSIS_OPERATOR_BIN:?OSMOSIS_OPERATOR_BIN: the osmosis-operator binary}"
rounds="${OSMOSIS_E2E_ROUNDS:-5}"
burst="${OSMOSIS_E2E_BURST:-200}"
work_ms="${OSMOSIS_E2E_WORK_MS:-20}"
cluster_env
new_namespace autoscale

apply_channel_crd

records="$WORK/records" # the pods' hostPath: one JSON-lines file per pod
mkdir -m 1777 "$records"
nats_url="$(nats_host_url)"
subject="$NS.orders.new"

"$operator" --kubeconfig "$KUBECONFIG" --leader-elect=false --watch-namespace "$NS" \
  --nats-url "$nats_url" --http-address 127.0.0.1:0 --resync-period 1s \
  --scale-down-step-interval 1s --sidecar-image localhost/osmosis/osmosis-sidecar:dev \
  --sidecar-nats-url "$NATS_IN_CLUSTER_URL" >"$WORK/operator.log" 2>&1 &
op=$!
CLEANUPS+=("kill -TERM $op 2>/dev/null; wait $op 2>/dev/null")
# On failure: what the operator said and where the pods were.
CLEANUPS+=("[[ \$rc == 0 ]] || { echo '--- operator log (tail) ---'; tail -40 $WORK/operator.log; kubectl -n $NS get pods,deployment,channel -o wide; kubectl -n $NS get events --sort-by=.lastTimestamp | tail -30; } >&2")

{ worker_deployment 0 "$work_ms" "$records"; echo ---; cat <<YAML
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  worker:
    scaleTargetRef: {name: worker}
    injectSidecar: true
    app: {port: 8080, path: /}
  scaling:
    minReplicas: 0
    maxReplicas: 4
    targetBacklogPerReplica: 50
    scaleToZeroAfterSeconds: 3
    scaleDown: {stabilizationSeconds: 3, maxStepPercent: 100}
YAML
} | kubectl apply -n "$NS" -f - >/dev/null

condition() { # condition TYPE -> status
  kubectl -n "$NS" get channel orders -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}"
}
poll "Channel orders Ready" 60 bash -c "[[ \$(kubectl -n $NS get channel orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
poll "the sidecar injected into Deployment worker" 60 bash -c \
  "kubectl -n $NS get deployment worker -o jsonpath='{.spec.template.spec.initContainers[*].name}' | grep -qw osmosis-sidecar"
restart="$(kubectl -n "$NS" get deployment worker -o jsonpath='{.spec.template.spec.initContainers[0].restartPolicy}')"
[[ "$restart" == Always ]] || fail "the sidecar is not a native sidecar (restartPolicy '$restart')"
image="$(kubectl -n "$NS" get deployment worker -o jsonpath='{.spec.template.spec.initContainers[0].image}')"
[[ "$image" == localhost/osmosis/osmosis-sidecar:dev ]] || fail "sidecar image '$image'"
poll "ScalingActive" 60 bash -c "[[ \$(kubectl -n $NS get channel orders -o jsonpath='{.status.conditions[?(@.type==\"ScalingActive\")].status}') == True ]]"
info "Channel Ready, sidecar injected as a native sidecar ($image), scaling active"

# Watch the Deployment's replicas and the pods, each line stamped with the time it arrived.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
watch_deployment() {
  kubectl -n "$NS" get deployment worker --watch -o jsonpath='{.spec.replicas}{"\n"}' | stamp
}
watch_pods() {
  kubectl -n "$NS" get pods -l app=worker --watch \
    -o jsonpath='{.metadata.name} {.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status}{"\n"}' | stamp
}
watch_deployment >"$WORK/replicas.log" 2>"$WORK/watch.err" &
w1=$!
watch_pods >"$WORK/pods.log" 2>>"$WORK/watch.err" &
w2=$!
CLEANUPS+=("pkill -P $w1 2>/dev/null; pkill -P $w2 2>/dev/null; kill $w1 $w2 2>/dev/null")
poll "the watches to start" 15 test -s "$WORK/replicas.log"

replicas() { kubectl -n "$NS" get deployment worker -o jsonpath='{.spec.replicas}'; }
at_zero() {
  local r
  r="$(replicas)"
  [[ -z "$r" || "$r" == 0 ]] && [[ -z "$(kubectl -n "$NS" get pods -l app=worker -o name)" ]]
}
processed_of_round() { # unique ids of round $1 in the records
  cat "$records"/*.jsonl 2>/dev/null | grep -o "\"id\":\"r$1-[0-9]*\"" | sort -u | wc -l
}

: >"$WORK/bursts"
for ((k = 1; k <= rounds; k++)); do
  poll "round $k: the worker at zero replicas, no pods" 120 at_zero
  t0=$EPOCHREALTIME
  nats --server "$nats_url" pub "$subject" "id=r$k-{{Count}}" --count "$burst" >/dev/null 2>&1 ||
    fail "round $k: nats pub failed"
  echo "$t0" >>"$WORK/bursts"
  deadline=$((SECONDS + 180))
  until [[ "$(processed_of_round "$k")" == "$burst" ]]; do
    ((SECONDS < deadline)) || fail "round $k: processed $(processed_of_round "$k") of $burst messages"
    sleep 0.5
  done
  info "round $k: $burst messages processed in $(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$t0" "$EPOCHREALTIME") s (peak replicas $(awk -v t="$t0" '$1 > t && $2 > m {m = $2} END {print m+0}' "$WORK/replicas.log"))"
done
poll "back to zero after the last round" 120 at_zero

# Every pod that ran must have stopped by itself on the kubelet's SIGTERM (not SIGKILL).
pods_ran="$(find "$records" -name '*.jsonl' | wc -l)"
((pods_ran > 0)) || fail "no pod wrote a record"
for f in "$records"/*.jsonl; do
  grep -q '"ev":"stopped".*"signal":15' "$f" ||
    fail "pod $(basename "$f" .jsonl) did not stop cleanly on SIGTERM (killed or still running): $(tail -2 "$f")"
done
# Nothing lost, duplicates counted.
cat "$records"/*.jsonl | grep '"ev":"done"' | grep -o '"id":"r[0-9]*-[0-9]*"' | sort >"$WORK/ids"
unique="$(uniq "$WORK/ids" | wc -l)"
total="$(wc -l <"$WORK/ids")"
want=$((rounds * burst))
[[ "$unique" == "$want" ]] || fail "processed $unique distinct message ids, want $want"
duplicates=$((total - unique))
info "every one of $want message ids processed by $pods_ran pods; duplicates: $duplicates (deliveries $total); every pod stopped on SIGTERM"
stream="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.stream}')"
consumer="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.consumer}')"
pending="$(nats --server "$nats_url" consumer info "$stream" "$consumer" --json 2>/dev/null |
  python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["num_pending"]+c["num_ack_pending"])' || echo "?")"
[[ "$pending" == 0 ]] || fail "the consumer still has a backlog of $pending (nats consumer info)"

reasons="$(kubectl -n "$NS" get events --field-selector involvedObject.name=orders -o jsonpath='{.items[*].reason}')"
for r in SidecarInjected Activated ScaledToZero; do
  grep -qw "$r" <<<"$reasons" || fail "no $r Event on the Channel (saw: $reasons)"
done
last_to="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.lastScale.to}')"
[[ "$last_to" == 0 ]] || fail "status.lastScale.to=$last_to, want 0"

# The numbers.
python3 - "$WORK/bursts" "$WORK/replicas.log" "$WORK/pods.log" <<'PY'
import sys

bursts = [float(l) for l in open(sys.argv[1]) if l.strip()]
reps = []
for l in open(sys.argv[2]):
    p = l.split()
    reps.append((float(p[0]), int(p[1]) if len(p) > 1 and p[1].isdigit() else 0))
pods = []
for l in open(sys.argv[3]):
    p = l.split()
    if len(p) >= 2:
        pods.append((float(p[0]), p[1], p[2] if len(p) > 2 else "", p[3] if len(p) > 3 else ""))

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs) + 0.5) - 1))]

to_replicas, to_ready = [], []
for i, t0 in enumerate(bursts):
    end = bursts[i + 1] if i + 1 < len(bursts) else float("inf")
    up = [t for t, r in reps if t0 < t < end and r > 0]
    ready = [t for t, name, node, st in pods if t0 < t < end and st == "True"]
    if up:
        to_replicas.append((up[0] - t0) * 1000)
    if ready:
        to_ready.append((ready[0] - t0) * 1000)
scheduled, became_ready = {}, {}
for t, name, node, st in pods:
    if node and name not in scheduled:
        scheduled[name] = t
    if st == "True" and name not in became_ready:
        became_ready[name] = t
start = [(became_ready[n] - scheduled[n]) * 1000 for n in became_ready if n in scheduled]

def line(label, xs):
    if not xs:
        print(f"{label}: no samples")
        return
    print(f"{label}: p50 {pct(xs, 50):.0f} ms, p95 {pct(xs, 95):.0f} ms, max {max(xs):.0f} ms (n={len(xs)})")

line("burst at zero -> Deployment replicas changed", to_replicas)
line("burst at zero -> first new pod Ready", to_ready)
line("pod start, scheduled -> Ready (worker + native sidecar)", start)
if len(to_replicas) != len(bursts) or len(to_ready) != len(bursts):
    sys.exit("a round has no scale-up or no Ready pod in the watch logs")
PY
