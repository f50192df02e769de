#!/usr/bin/env bash
# Idle pods go first, on the real node (issue 13): the chart installs the operator with
# `operator.podDeletionCost=true` (so `--pod-deletion-cost`, and `patch` on pods in its RBAC:
# namespaced mode, Roles in this namespace only). A worker Deployment of 4 pods of the example
# worker, the sidecar injected by the operator; 3 messages whose handler takes 60 s each, one
# per pod (the sidecar at concurrency 1 and max-batch 1), so 3 pods are busy and 1 idle. Then
# the Channel's maxReplicas goes 4 -> 3 (and minReplicas with it): the operator itself decides
# 4 -> 3, sets controller.kubernetes.io/pod-deletion-cost on the 4 pods from their reports,
# and lowers the Deployment's replicas; the real ReplicaSet controller (kube-controller-manager)
# picks the pod to delete. Checked with kubectl, the reports and the nats CLI:
#   - the costs: the idle pod lowest (0), the busy ones 1000 + in flight (1001);
#   - the pod deleted is the idle one, the 3 busy pods stay (Ready, not terminating);
#   - each of the 3 messages processed once, by the pod that got it, with delivery count 1,
#     and the consumer's num_redelivered 0 (a busy pod deleted instead would have nakked its
#     message after the sidecar's 25 s drain grace: redelivered).
# Prints the costs seen and the times from the Channel change to the Deployment's replicas,
# the annotations, the idle pod's deletion and its end.
#
# The example worker serves HTTP on one thread, so a 60 s handler blocks its /healthz: the app
# gets a TCP readiness probe (as the sidecar checks the app), else the busy pods would turn
# NotReady and the ReplicaSet controller removes NotReady pods before any cost counts.
#
# Environment: OSMOSIS_DCOST_WORK_MS (60000: the handler's time per message).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_helm
work_ms="${OSMOSIS_DCOST_WORK_MS:-60000}"
cluster_env
new_namespace dcost
release=dcost deploy=dcost-osmosis
nats_url="$(nats_host_url)"

adopt_crd "$release"
# The common values, and this test's: namespaced mode, pod deletion costs, no PDB.
mapfile -t values < <(chart_values)
values+=(
  --set "watchNamespaces={$NS}"
  --set operator.podDeletionCost=true
  --set podDisruptionBudget.enabled=false
)
helm_install_operator "$release" "${values[@]}"
kubectl -n "$NS" rollout status "deployment/$deploy" --timeout=60s >/dev/null || fail "the operator is not Ready"
kubectl -n "$NS" get deployment "$deploy" -o jsonpath='{.spec.template.spec.containers[0].args}' |
  grep -q -- --pod-deletion-cost || fail "the chart did not pass --pod-deletion-cost"
sa="system:serviceaccount:$NS:$(kubectl -n "$NS" get deployment "$deploy" -o jsonpath='{.spec.template.spec.serviceAccountName}')"
[[ "$(kubectl auth can-i patch pods -n "$NS" --as "$sa" || true)" == yes ]] ||
  fail "the chart's RBAC does not let the operator patch pods in $NS"
[[ "$(kubectl auth can-i patch pods -n default --as "$sa" || true)" == no ]] ||
  fail "the chart's RBAC lets the operator patch pods outside $NS"
info "operator installed by the chart with --pod-deletion-cost; RBAC: patch pods in $NS only"

records="$WORK/records" # the pods' hostPath: one JSON-lines file per pod
mkdir -m 1777 "$records"
{ worker_deployment --tcp-probe 0 "$work_ms" "$records"; echo ---; cat <<YAML
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  deletionPolicy: Delete
  stream: {storage: Memory}
  worker:
    scaleTargetRef: {name: worker}
    injectSidecar: true
    app: {port: 8080, path: /}
  scaling:
    minReplicas: 0
    maxReplicas: 4
    scaleDown: {stabilizationSeconds: 3, maxStepPercent: 100}
YAML
} | kubectl apply -n "$NS" -f - >/dev/null
poll "Channel orders Ready" 60 bash -c "[[ \$(kubectl -n $NS get channel orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
poll "the sidecar injected" 60 bash -c \
  "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.template.spec.initContainers[0].name}') == osmosis-sidecar ]]"
# One message at a time per pod, pulled one at a time, and the handler's 60 s within the
# message timeout: the sidecar's own flags, by environment (docs/sidecar.md), added to the
# injected container (server-side apply leaves entries of other managers alone).
kubectl -n "$NS" patch deployment worker --type strategic -p '{"spec":{"template":{"spec":{"initContainers":[{"name":"osmosis-sidecar","env":[
  {"name":"OSMOSIS_CONCURRENCY","value":"1"},{"name":"OSMOSIS_MAX_BATCH","value":"1"},
  {"name":"OSMOSIS_MESSAGE_TIMEOUT","value":"5m"}]}]}}}}' >/dev/null
stream="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.stream}')"
consumer="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.consumer}')"
subject="osmosis.report.$NS.orders"

# Every report and every change to the worker's pods, stamped on arrival.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
watch_reports() { nats --server "$nats_url" sub "$subject" --raw 2>/dev/null | stamp; }
watch_pods() {
  kubectl -n "$NS" get pods -l app=worker --watch -o jsonpath="{.metadata.name} cost={.metadata.annotations.controller\.kubernetes\.io/pod-deletion-cost} deleting={.metadata.deletionTimestamp} ready={.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}" | stamp
}
watch_replicas() { kubectl -n "$NS" get deployment worker --watch -o jsonpath='{.spec.replicas}{"\n"}' | stamp; }
watch_reports >"$WORK/reports.log" &
w1=$!
watch_pods >"$WORK/pods.log" 2>"$WORK/watch.err" &
w2=$!
watch_replicas >"$WORK/replicas.log" 2>>"$WORK/watch.err" &
w3=$!
# On failure (the watches ended, before the release's report): the pods watch and the records.
CLEANUPS+=("[[ \$rc == 0 ]] || { echo '--- pods watch'; cat $WORK/pods.log; echo '--- records'; cat $WORK/records/*.jsonl; } >&2 2>/dev/null")
CLEANUPS+=("pkill -P $w1 2>/dev/null; pkill -P $w2 2>/dev/null; pkill -P $w3 2>/dev/null; kill $w1 $w2 $w3 2>/dev/null")

# latest: the newest report of each worker pod that exists now, as "pod inFlight concurrency ready".
latest() {
  local pods
  pods="$(kubectl -n "$NS" get pods -l app=worker -o jsonpath='{.items[*].metadata.name}')"
  python3 - "$WORK/reports.log" "$pods" <<'PY'
import json, sys
pods = set(sys.argv[2].split())
last = {}
for line in open(sys.argv[1]):
    try:
        r = json.loads(line.split(" ", 1)[1])
    except (ValueError, IndexError):
        continue
    if r.get("pod") in pods and not r.get("final"):
        last[r["pod"]] = r
for p in sorted(last):
    r = last[p]
    print(p, r["inFlight"], r["concurrency"], str(r["ready"]).lower())
PY
}
# reports_show N_READY N_BUSY: N_READY pods report ready at concurrency 1, N_BUSY of them with
# a message in flight (each pod's newest report).
reports_show() {
  local out
  out="$(latest)"
  [[ "$(awk '$3 == 1 && $4 == "true"' <<<"$out" | wc -l)" == "$1" ]] &&
    [[ "$(awk '$2 >= 1' <<<"$out" | wc -l)" == "$2" ]]
}

# 4 pods: the operator scales to minReplicas 4 (no messages yet).
t=$SECONDS
kubectl -n "$NS" patch channel orders --type merge -p '{"spec":{"scaling":{"minReplicas":4}}}' >/dev/null
poll "the worker scaled to 4" 30 bash -c "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.replicas}') == 4 ]]"
poll "4 worker pods Ready" 120 bash -c "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.status.readyReplicas}') == 4 && \$(kubectl -n $NS get pods -l app=worker -o name | wc -l) == 4 ]]"
poll "4 sidecars reporting ready at concurrency 1" 30 reports_show 4 0
info "4 worker pods Ready, their sidecars at concurrency 1, in $((SECONDS - t)) s"

# 3 messages of 60 s each, published one at a time, each taken by a pod of its own before the
# next: 3 pods busy, 1 idle. (Published together, a message can land in a pull request that a
# pod which just took another still has open at the server: it then waits in that sidecar,
# not handed to the app and not kept alive with in-progress, and is redelivered after the
# consumer's ack wait; the first run of this test saw exactly that. One at a time, a pod's
# only pull request was the one that brought its message.)
consumer_is() { # consumer_is "PENDING ACK_PENDING REDELIVERED"
  [[ "$(nats --server "$nats_url" consumer info "$stream" "$consumer" --json 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["num_pending"], c["num_ack_pending"], c["num_redelivered"])')" == "$1" ]]
}
for k in 1 2 3; do
  nats --server "$nats_url" pub "$NS.orders.new" "id=busy-$k" >/dev/null 2>&1 || fail "nats pub failed"
  poll "message $k taken (pending 0, ack pending $k)" 30 consumer_is "0 $k 0"
  poll "$k pods reporting a message in flight" 15 reports_show 4 "$k"
  # (No pause: a fetch that libnats ends early waits on its own pull request instead of asking
  # again, so a busy pod has none open at the server; JetStreamTest.AnEarlyTimeoutLeavesNoSecondPullRequestOpen)
done
latest >"$WORK/before"
idle="$(awk '$2 == 0 {print $1}' "$WORK/before")"
mapfile -t busy < <(awk '$2 >= 1 {print $1}' "$WORK/before")
[[ -n "$idle" && ${#busy[@]} == 3 ]] || fail "want 1 idle and 3 busy pods, reports say: $(cat "$WORK/before")"
if [[ -n "$(kubectl -n "$NS" get pods -l app=worker -o jsonpath="{.items[*].metadata.annotations.controller\.kubernetes\.io/pod-deletion-cost}")" ]]; then
  fail "pods have a deletion cost before any scale-down"
fi
info "busy (a 60 s message each): ${busy[*]}; idle: $idle"

# The scale-down: the operator's own decision, maxReplicas 4 -> 3.
t0=$EPOCHREALTIME
kubectl -n "$NS" patch channel orders --type merge -p '{"spec":{"scaling":{"minReplicas":3,"maxReplicas":3}}}' >/dev/null
poll "the operator to scale the worker to 3" 30 bash -c "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.replicas}') == 3 ]]"
# shellcheck disable=SC2016 # awk program
poll "the replicas watch to see 3" 10 awk -v t="$t0" '$1 > t && $2 == 3 {f = 1} END {exit !f}' "$WORK/replicas.log"
t_replicas="$(awk -v t="$t0" '$1 > t && $2 == 3 {print $1; exit}' "$WORK/replicas.log")"
poll "a worker pod deleting" 30 grep -q 'deleting=[0-9]' "$WORK/pods.log"
t_deleted="$(awk '/deleting=[0-9]/ {print $1; exit}' "$WORK/pods.log")"
poll "the deleted pod gone" 60 bash -c "(( \$(kubectl -n $NS get pods -l app=worker -o name | wc -l) == 3 ))"
t_gone=$EPOCHREALTIME

deleted="$(awk '/deleting=[0-9]/ {print $2}' "$WORK/pods.log" | sort -u | tr '\n' ' ' | sed 's/ $//')"
[[ "$deleted" == "$idle" ]] || fail "deleted: '$deleted', want the idle pod $idle (busy: ${busy[*]})"
remaining="$(kubectl -n "$NS" get pods -l app=worker -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | sort)"
for p in "${busy[@]}"; do
  grep -qx "$p  True" <<<"$remaining" || fail "busy pod $p is not there, Ready and not terminating: $remaining"
done

# The costs the operator set (newest per pod in the watch), and when the first one appeared.
python3 - "$WORK/pods.log" "$t0" "$idle" "${busy[@]}" >"$WORK/costs" <<'PY' || fail "costs: $(cat "$WORK/costs")"
import sys
log, t0, idle, busy = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
cost, first = {}, None
for line in open(log):
    p = line.split()
    if len(p) < 3 or not p[2].startswith("cost=") or p[2] == "cost=":
        continue
    cost[p[1]] = int(p[2][5:])
    if first is None and float(p[0]) > t0:
        first = float(p[0])
print("costs:", " ".join(f"{k}={v}" for k, v in sorted(cost.items())))
print("first annotation after the change: %.0f ms" % ((first - t0) * 1000 if first else -1))
missing = [p for p in [idle] + busy if p not in cost]
if missing:
    sys.exit(f"no cost on {missing}")
if not all(cost[idle] < cost[b] for b in busy):
    sys.exit(f"the idle pod's cost {cost[idle]} is not the lowest")
PY
info "$(head -1 "$WORK/costs")"

# The 3 messages finish on the pods that had them, delivered once each.
poll "the 3 messages processed" $((work_ms / 1000 + 60)) bash -c "(( \$(cat $records/*.jsonl 2>/dev/null | grep -c '\"ev\":\"done\"') >= 3 ))"
t_done=$EPOCHREALTIME
python3 - "$records" "$idle" "${busy[@]}" <<'PY' || fail "records"
import glob, json, os, sys
recs, idle, busy = sys.argv[1], sys.argv[2], set(sys.argv[3:])
done = []
for f in glob.glob(os.path.join(recs, "*.jsonl")):
    for line in open(f):
        r = json.loads(line)
        if r["ev"] == "done":
            done.append(r)
ids = sorted(r["id"] for r in done)
if ids != ["busy-1", "busy-2", "busy-3"]:
    sys.exit(f"processed {ids}, want busy-1..3 once each")
if {r["pod"] for r in done} != busy:
    sys.exit(f"processed by {sorted({r['pod'] for r in done})}, want the busy pods {sorted(busy)}")
bad = [r for r in done if r["delivery"] != "1"]
if bad:
    sys.exit(f"redelivered: {bad}")
stopped = [json.loads(l) for l in open(os.path.join(recs, idle + ".jsonl")) if '"stopped"' in l]
if not stopped or stopped[0]["processed"] != 0 or stopped[0]["signal"] != 15:
    sys.exit(f"the idle pod {idle} did not stop cleanly on SIGTERM with nothing processed: {stopped}")
PY
poll "the consumer settled (pending 0, ack pending 0, redelivered 0)" 30 consumer_is "0 0 0"
info "busy-1..3 processed once each by the busy pods (delivery 1), num_redelivered 0; the idle pod stopped on SIGTERM"

reasons="$(kubectl -n "$NS" get events --field-selector involvedObject.name=orders -o jsonpath='{.items[*].reason}')"
grep -qw ScaledDown <<<"$reasons" || fail "no ScaledDown Event on the Channel (saw: $reasons)"
oppod="$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].metadata.name}')"
patches="$(kubectl get --raw "/api/v1/namespaces/$NS/pods/$oppod:8080/proxy/metrics" 2>/dev/null | grep '^osmosis_pod_deletion_cost_patches_total' || true)"
grep -q 'result="error"' <<<"$patches" && fail "the operator counted failed cost patches: $patches"
info "operator metrics: ${patches//$'\n'/; }"

ms() { python3 -c 'import sys; print(f"{(float(sys.argv[2]) - float(sys.argv[1])) * 1000:.0f} ms")' "$@"; }
info "$(tail -1 "$WORK/costs")"
info "maxReplicas 4 -> 3 -> Deployment replicas 3: $(ms "$t0" "$t_replicas"); -> idle pod deleting: $(ms "$t0" "$t_deleted"); -> idle pod gone: $(ms "$t0" "$t_gone"); busy messages done $(ms "$t0" "$t_done") after the change"
