#!/usr/bin/env bash
# NATS losing the stream leader on the real node: nats-server as the in-cluster StatefulSet
# with three replicas (hack/manifests/nats.sh --replicas 3) in a namespace of its own, the
# operator (a host process, as in autoscale_test.sh) on its client Service, a Channel with
# stream.replicas 3 and a worker Deployment of 2 pods with the injected sidecar (its NATS
# URL the Service's DNS name). N messages with ids are published (JetStream publish, each
# acknowledged by the stream); while the workers are processing, the pod of the stream's
# leader is deleted with --grace-period=0 --force, and the StatefulSet brings it back (with
# an empty emptyDir: it catches up from the other two). The kubelet still runs the preStop
# hook (lame duck mode) of a force-deleted pod, so later, at half the messages, the consumer
# leader's nats-server process is killed with SIGKILL from the host (a crash: no lame duck;
# the kubelet restarts the container in place).
#
# Asserts: every id processed (records on a hostPath; duplicates counted and printed); the
# stream answers with a leader again and has two current followers again; the Channel is
# Ready at the end, its status backlog 0 as `nats consumer info` says; the status backlog
# matched the CLI's figure after the new leader answered and never rose by more than the
# in-flight window (no stale follower's figure); StreamCreated and ConsumerCreated once,
# no StreamRecreated/ConsumerRecreated.
#
# Prints, for each fault: seconds until a new leader answers (`stream info` after the delete,
# `consumer info` after the crash), until the Channel's status shows a backlog that agrees
# with the CLI, until the pod is Ready again.
#
# Environment: OSMOSIS_OPERATOR_BIN (set by ctest), OSMOSIS_FAILOVER_MESSAGES (2000),
#   OSMOSIS_FAILOVER_WORK_MS (50 ms per message).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
operator="${OSMOSIS_OPERATOR_BIN:?OSMOSIS_OPERATOR_BIN: the osmosis-operator binary}"
count="${OSMOSIS_FAILOVER_MESSAGES:-2000}"
work_ms="${OSMOSIS_FAILOVER_WORK_MS:-50}"
in_flight=100 # the Channel's consumer.maxAckPending below
cluster_env
new_namespace natsfail
natsns="$NS-nats"
CLEANUPS+=("kubectl delete namespace $natsns --wait=false >/dev/null 2>&1")

apply_channel_crd

# --- NATS: three replicas, a JetStream cluster --------------------------------------------
t=$SECONDS
"$REPO_ROOT/hack/manifests/nats.sh" --replicas 3 --namespace "$natsns" | kubectl apply -f - >/dev/null
kubectl -n "$natsns" rollout status statefulset/nats --timeout=180s >/dev/null ||
  fail "3 NATS replicas not Ready: $(kubectl -n "$natsns" get pods -o wide)"
url="nats://$(kubectl -n "$natsns" get service nats -o jsonpath='{.spec.clusterIP}'):4222"
nats_() { nats --server "$url" --timeout 2s "$@"; }
# The JetStream API answers once the meta group has a leader.
poll "JetStream of the 3 NATS replicas answering (a meta leader)" 90 nats_ account info
info "NATS StatefulSet of 3 Ready, JetStream answering, in $((SECONDS - t)) s ($natsns)"

# --- the operator and the Channel ---------------------------------------------------------
records="$WORK/records" # the pods' hostPath: one JSON-lines file per pod
mkdir -m 1777 "$records"
"$operator" --kubeconfig "$KUBECONFIG" --leader-elect=false --watch-namespace "$NS" \
  --nats-url "$url" --http-address 127.0.0.1:0 --resync-period 1s \
  --sidecar-image localhost/osmosis/osmosis-sidecar:dev \
  --sidecar-nats-url "nats://nats.$natsns.svc.cluster.local:4222" >"$WORK/operator.log" 2>&1 &
op=$!
CLEANUPS+=("kill -TERM $op 2>/dev/null; wait $op 2>/dev/null")
# Run before the operator stops: the Channel's finalizer needs it.
CLEANUPS+=("kubectl -n $NS delete channel orders --wait --timeout 30s >/dev/null 2>&1")
CLEANUPS+=("[[ \$rc == 0 ]] || { echo '--- operator log (tail) ---'; tail -40 $WORK/operator.log; kubectl -n $NS get pods,deployment,channel -o wide; kubectl -n $natsns get pods -o wide; kubectl -n $NS get events --sort-by=.lastTimestamp | tail -30; } >&2")

{ worker_deployment 2 "$work_ms" "$records"; echo ---; cat <<YAML
apiVersion: osmosis.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec:
  stream: {replicas: 3}
  consumer: {ackWait: 5s, maxAckPending: $in_flight}
  worker:
    scaleTargetRef: {name: worker}
    injectSidecar: true
    app: {port: 8080, path: /}
  scaling: {minReplicas: 2, maxReplicas: 2}
YAML
} | kubectl apply -n "$NS" -f - >/dev/null

ready() { [[ "$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
poll "Channel orders Ready on the 3-replica NATS" 90 ready
stream="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.stream}')"
consumer="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.consumer}')"
# cluster_of stream|consumer: "leader current-replicas..." from the JetStream API.
cluster_of() {
  local json
  if [[ "$1" == stream ]]; then json="$(nats_ stream info "$stream" --json)"; else json="$(nats_ consumer info "$stream" "$consumer" --json)"; fi
  python3 -c '
import json, sys
c = json.loads(sys.argv[1]).get("cluster", {})
print(c.get("leader", "") or "-", *sorted(r["name"] for r in c.get("replicas", []) if r.get("current")))
' "$json"
}
r3() { # the stream has a leader and two current followers
  local -a c
  read -r -a c < <(cluster_of stream) || return 1
  [[ "${c[0]}" != - && ${#c[@]} == 3 ]]
}
poll "stream $stream with a leader and two current followers" 60 r3
read -r -a peers < <(cluster_of stream)
info "Channel Ready; stream $stream R3: leader ${peers[0]}, followers ${peers[*]:1}"
poll "the sidecar injected into Deployment worker" 60 bash -c \
  "kubectl -n $NS get deployment worker -o jsonpath='{.spec.template.spec.initContainers[*].name}' | grep -qw osmosis-sidecar"
kubectl -n "$NS" rollout status deployment/worker --timeout=180s >/dev/null ||
  fail "the worker Deployment (2 pods with the sidecar) did not roll out"
worker_pods() { # "pod restarts-of-each-container ..." of the running worker pods, sorted
  kubectl -n "$NS" get pods -l app=worker --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.name}{range .status.initContainerStatuses[*]}{" "}{.restartCount}{end}{range .status.containerStatuses[*]}{" "}{.restartCount}{end}{"\n"}{end}' | sort
}
poll "2 running worker pods" 60 bash -c "[[ \$(kubectl -n $NS get pods -l app=worker --field-selector=status.phase=Running -o name | wc -l) == 2 ]]"
pods_before="$(worker_pods)"

# --- samplers: the Channel's status and the CLI's figures, each line stamped ----------------
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
watch_status() {
  kubectl -n "$NS" get channel orders --watch \
    -o jsonpath='{.status.backlog} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}{"\n"}' | stamp
}
watch_status >"$WORK/status.log" 2>"$WORK/watch.err" &
w1=$!
cli_sampler() { # "time consumer-leader backlog", or "time - -" when nobody answers
  while :; do
    local t=$EPOCHREALTIME json
    if json="$(nats_ consumer info "$stream" "$consumer" --json 2>/dev/null)"; then
      python3 -c '
import json, sys
c = json.loads(sys.argv[2])
print(sys.argv[1], c.get("cluster", {}).get("leader", "-"), c["num_pending"] + c["num_ack_pending"])
' "$t" "$json" || echo "$t - -"
    else
      echo "$t - -"
    fi
    sleep 0.3
  done
}
cli_sampler >"$WORK/cli.log" 2>/dev/null &
w2=$!
CLEANUPS+=("pkill -P $w1 2>/dev/null; kill $w1 $w2 2>/dev/null")
poll "the status watch to start" 15 test -s "$WORK/status.log"

# --- publish, then delete the stream leader's pod mid-run ---------------------------------
t0=$EPOCHREALTIME
nats_ pub --jetstream "$NS.orders.new" "id=m{{Count}}" --count "$count" >"$WORK/pub.log" 2>&1 ||
  fail "nats pub --jetstream failed: $(tail -3 "$WORK/pub.log")"
t_pub=$EPOCHREALTIME
processed() { cat "$records"/*.jsonl 2>/dev/null | grep '"ev":"done"' | grep -o '"id":"m[0-9]*"' | sort -u | wc -l; }
info "published $count messages (each acknowledged by the stream) in $(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$t0" "$t_pub") s; $(processed) processed so far"
poll "a tenth of the messages processed" 120 bash -c "(( \$(cat $records/*.jsonl 2>/dev/null | grep -c '\"ev\":\"done\"') >= $count / 10 ))"
read -r -a before < <(cluster_of stream)
leader="${before[0]}"
read -r -a cbefore < <(cluster_of consumer)
done_at_kill="$(processed)"
((done_at_kill < count)) || fail "all $count processed before the leader was deleted: not mid-run (raise OSMOSIS_FAILOVER_WORK_MS)"
[[ "$leader" =~ ^nats-[0-9]+$ ]] || fail "stream leader '$leader' is not a pod of the StatefulSet"
old_uid="$(kubectl -n "$natsns" get pod "$leader" -o jsonpath='{.metadata.uid}')"
kubectl -n "$natsns" logs -f "$leader" >"$WORK/leader.log" 2>&1 &
CLEANUPS+=("kill $! 2>/dev/null")
poll "the log of $leader to stream" 15 grep -q 'Server is ready' "$WORK/leader.log"
t_kill=$EPOCHREALTIME
kubectl -n "$natsns" delete pod "$leader" --grace-period=0 --force >/dev/null 2>&1 ||
  fail "deleting pod $leader failed"
info "deleted the stream leader's pod $leader (consumer leader ${cbefore[0]}) with $done_at_kill of $count processed"

# A leader answers stream info again (the survivors elect one; nobody answers meanwhile).
deadline=$((SECONDS + 60))
until read -r -a after < <(cluster_of stream 2>/dev/null) && [[ "${after[0]:--}" != - ]]; do
  ((SECONDS < deadline)) || fail "no stream leader answered within 60 s of deleting $leader"
  sleep 0.1
done
t_leader=$EPOCHREALTIME
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$2"; }
info "a stream leader (${after[0]}) answered $(elapsed "$t_kill" "$t_leader") s after the delete"

# The StatefulSet brings the pod back (a new pod of the same name) and it catches up.
back() {
  local uid
  uid="$(kubectl -n "$natsns" get pod "$leader" -o jsonpath='{.metadata.uid}')" && [[ -n "$uid" && "$uid" != "$old_uid" ]] &&
    [[ "$(kubectl -n "$natsns" get pod "$leader" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
poll "pod $leader recreated by the StatefulSet and Ready" 180 back
t_back=$EPOCHREALTIME
poll "stream $stream with a leader and two current followers again" 120 r3
read -r -a healed < <(cluster_of stream)
info "pod $leader back and Ready $(elapsed "$t_kill" "$t_back") s after the delete; stream leader ${healed[0]}, followers ${healed[*]:1}"
# The kubelet still runs the preStop hook of a force-deleted pod: say whether the server
# had time for lame duck mode (handing its leaderships over) or was cut off.
if grep -qi 'lame duck' "$WORK/leader.log"; then
  info "the force-deleted server entered lame duck mode (the preStop hook ran) before it stopped"
else
  info "the force-deleted server stopped without lame duck mode"
fi

# --- then a crash: kill -9 of the consumer leader's nats-server process ---------------------
# (no preStop, no lame duck: the kubelet restarts the container in place, the emptyDir kept)
server_pid() { # POD -> the host pid of its nats-server (found by the pod's cgroup)
  local uid pid
  uid="$(kubectl -n "$natsns" get pod "$1" -o jsonpath='{.metadata.uid}')" && [[ -n "$uid" ]] || return 1
  for pid in $(pgrep -x nats-server); do
    if grep -q "pod$uid" "/proc/$pid/cgroup" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}
poll "half of the messages processed" 300 bash -c "(( \$(cat $records/*.jsonl 2>/dev/null | grep -c '\"ev\":\"done\"') >= $count / 2 ))"
read -r -a cl < <(cluster_of consumer)
victim="${cl[0]}"
[[ "$victim" =~ ^nats-[0-9]+$ ]] || fail "consumer leader '$victim' is not a pod of the StatefulSet"
pid="$(server_pid "$victim")" || fail "no nats-server process of pod $victim on the host"
restarts_before="$(kubectl -n "$natsns" get pod "$victim" -o jsonpath='{.status.containerStatuses[0].restartCount}')"
done_at_kill2="$(processed)"
((done_at_kill2 < count)) || fail "all $count processed before the crash: not mid-run (raise OSMOSIS_FAILOVER_WORK_MS)"
t_kill2=$EPOCHREALTIME
kill -KILL "$pid"
info "kill -9 of nats-server (pid $pid) in pod $victim, the consumer leader, with $done_at_kill2 of $count processed"
# Any leader that answers is a live one (the killed process cannot answer). It may be the
# victim itself: the kubelet restarts the container in place within a second or two, with
# its JetStream state kept, and it can win the election (seen in a full parallel run).
deadline=$((SECONDS + 60))
cl2=()
until read -r -a cl2 < <(cluster_of consumer 2>/dev/null) && [[ "${cl2[0]:--}" != - ]]; do
  ((SECONDS < deadline)) || fail "no consumer leader answered within 60 s of the crash (last answer: '${cl2[*]:-none}')"
  sleep 0.1
done
t_leader2=$EPOCHREALTIME
if [[ "${cl2[0]}" == "$victim" ]]; then
  info "the restarted $victim led the consumer again, answering $(elapsed "$t_kill2" "$t_leader2") s after the crash"
else
  info "a new consumer leader (${cl2[0]}) answered $(elapsed "$t_kill2" "$t_leader2") s after the crash"
fi
restarted() {
  [[ "$(kubectl -n "$natsns" get pod "$victim" -o jsonpath='{.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type=="Ready")].status}')" == "$((restarts_before + 1)) True" ]]
}
poll "the container of $victim restarted by the kubelet and Ready" 180 restarted
t_back2=$EPOCHREALTIME
r3c() { # the consumer has a leader and two current followers
  local -a c
  read -r -a c < <(cluster_of consumer) || return 1
  [[ "${c[0]}" != - && ${#c[@]} == 3 ]]
}
poll "consumer with a leader and two current followers again" 120 r3c
poll "stream with a leader and two current followers again" 120 r3
info "$victim restarted and Ready $(elapsed "$t_kill2" "$t_back2") s after the crash; stream and consumer each with a leader and two current followers"

# --- nothing lost --------------------------------------------------------------------------
deadline=$((SECONDS + 300))
until [[ "$(processed)" == "$count" ]]; do
  ((SECONDS < deadline)) || fail "processed $(processed) of $count message ids within 300 s"
  sleep 0.5
done
t_done=$EPOCHREALTIME
cat "$records"/*.jsonl | grep '"ev":"done"' | grep -o '"id":"m[0-9]*"' | sed 's/.*"\(m[0-9]*\)"/\1/' | sort >"$WORK/ids"
total="$(wc -l <"$WORK/ids")"
duplicates=$((total - count))
dups="$(uniq -d "$WORK/ids" | head -20 | tr '\n' ' ')"
info "every one of $count message ids processed ($(elapsed "$t0" "$t_done") s after the first publish); duplicates: $duplicates (deliveries $total)${dups:+; duplicated ids (first 20): $dups}"

# --- the Channel: Ready, backlog 0 in status and in NATS, nothing recreated -----------------
cli_backlog() { nats_ consumer info "$stream" "$consumer" --json | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["num_pending"]+c["num_ack_pending"])'; }
settled() {
  ready && [[ "$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.backlog}')" == 0 ]] &&
    [[ "$(cli_backlog)" == 0 ]]
}
poll "Channel Ready with status.backlog 0, and the consumer's backlog 0 (nats consumer info)" 60 settled
t_settled=$EPOCHREALTIME
kill "$w2" 2>/dev/null || true
pkill -P "$w1" 2>/dev/null || true

events_count() { # REASON -> how many times the Event happened (Events aggregate by count)
  kubectl -n "$NS" get events --field-selector "involvedObject.name=orders,reason=$1" \
    -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s += ($1 == "" ? 1 : $1)} END {print s + 0}'
}
for r in StreamCreated ConsumerCreated; do
  n="$(events_count "$r")"
  [[ "$n" == 1 ]] || fail "$r happened $n times, want once (nothing recreated)"
done
for r in StreamRecreated ConsumerRecreated; do
  n="$(events_count "$r")"
  [[ "$n" == 0 ]] || fail "$r happened $n times: the failover made the operator recreate it"
done
info "Channel Ready, backlog 0 in status and in NATS $(elapsed "$t_done" "$t_settled") s after the last message; StreamCreated and ConsumerCreated once, nothing recreated"
# The sidecars rode through both faults on their connections (reconnecting to the other
# members): the same two pods, no container restarted.
pods_after="$(worker_pods)"
[[ "$pods_after" == "$pods_before" ]] ||
  fail "worker pods or their restarts changed through the faults: before [$pods_before], after [$pods_after]"
info "the same 2 worker pods, no container restarted: $(tr '\n' ';' <<<"$pods_after")"

# --- the figures through the failover (from the samplers) ----------------------------------
python3 - "$WORK/status.log" "$WORK/cli.log" "$t_pub" "$in_flight" "$t_kill" "$t_leader" "$t_kill2" "$t_leader2" <<'PY'
import sys

t_pub, window = float(sys.argv[3]), int(sys.argv[4])
faults = [("the delete", float(sys.argv[5]), float(sys.argv[6])), ("the crash", float(sys.argv[7]), float(sys.argv[8]))]
t_kill = faults[0][1]
status = []  # (time, backlog)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 2 and p[1].isdigit():
        status.append((float(p[0]), int(p[1])))
cli, unanswered = [], 0
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 3 and p[2].isdigit():
        cli.append((float(p[0]), p[1], int(p[2])))
    elif len(p) >= 1 and float(p[0]) > t_kill:
        unanswered += 1
after = [c for c in cli if c[0] > t_kill]
if not after:
    sys.exit("the CLI sampler got no answer after the delete")
leaders = []
for t, lead, _ in cli:
    if not leaders or leaders[-1][1] != lead:
        leaders.append((t, lead))
print("consumer leader over the run: " + " -> ".join(f"{l} ({t - t_kill:+.1f} s)" for t, l in leaders))
print(f"CLI samples after the delete: {len(after)} answered, {unanswered} unanswered")

# A status figure is right when it lies within what the CLI saw from 2 s before it arrived
# (one resync period plus the apply) to 0.5 s after; the first such figure written after a
# new leader answered (and before the next fault) is when the status is right again.
for i, (what, t_fault, t_answer) in enumerate(faults):
    t_next = faults[i + 1][1] if i + 1 < len(faults) else float("inf")
    right_at = None
    for t, b in status:
        if t <= t_answer or t >= t_next:
            continue
        seen = [c[2] for c in cli if t - 2.0 <= c[0] <= t + 0.5]
        if seen and min(seen) <= b <= max(seen):
            right_at = t
            break
    if right_at is None:
        sys.exit(f"after {what}: no status backlog after the new leader answered agrees with the CLI's figures")
    gone = sum(1 for c in open(sys.argv[2]) if c.split()[1:2] == ["-"] and t_fault < float(c.split()[0]) < t_answer)
    print(f"after {what}: leader answering {t_answer - t_fault:.1f} s, status backlog right again "
          f"(agrees with nats consumer info) {right_at - t_fault:.1f} s after it; CLI samples unanswered meanwhile: {gone}")

# Ready through the faults: each stretch the Channel was not Ready (and why).
ready_log = []
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 3 and p[1].isdigit() and float(p[0]) > t_pub:
        ready_log.append((float(p[0]), p[2], p[3] if len(p) > 3 else ""))
stretches, start, why = [], None, ""
for t, st, reason in ready_log:
    if st != "True" and start is None:
        start, why = t, reason
    elif st == "True" and start is not None:
        stretches.append((start, t, why))
        start = None
if start is not None:
    sys.exit(f"the Channel is not Ready at the end ({why})")
for a, b, why in stretches:
    print(f"Channel not Ready ({why}) from {a - t_kill:+.1f} s to {b - t_kill:+.1f} s after the delete ({b - a:.1f} s)")
if not stretches:
    print("Channel Ready throughout")
# The delete goes through lame duck mode: the Channel must stay Ready through it.
for a, b, why in stretches:
    if a < faults[1][1]:
        sys.exit(f"the Channel was not Ready ({why}) after the delete, before the crash: lame duck should have handed over")

# No stale figure: after the publish, the backlog only falls (pending + ack pending), save
# for acks the new consumer leader had not got (at most the in-flight window). A larger rise
# in status is a failure unless the leader itself reported it to the nats CLI at about the
# same time (from 2 s before to 0.5 s after): then the figure is the leader's, not a stale
# follower's. The CLI's own rises are printed (they are NATS's figures, not ours).
def rises(series):
    low, out = None, []
    for t, b in series:
        if low is not None and b - low > window:
            out.append((t, b, b - low))
        low = b if low is None else min(low, b)
    return out

for name, series in (("status", [(t, b) for t, b in status if t > t_pub]), ("CLI", [(c[0], c[2]) for c in cli if c[0] > t_pub])):
    low, worst = None, 0
    for t, b in series:
        if low is not None:
            worst = max(worst, b - low)
        low = b if low is None else min(low, b)
    print(f"{name}: backlog rose at most {worst} above its lowest value so far (window {window})")
for t, b, rise in rises([(t, b) for t, b in status if t > t_pub]):
    seen = [c[2] for c in cli if t - 2.0 <= c[0] <= t + 0.5]
    if not seen or max(seen) < b:
        sys.exit(f"status backlog {b} at {t - t_kill:+.1f} s rose by {rise} after the publish and the leader "
                 f"never said so to the CLI (it saw {seen}): a stale figure")
    print(f"status backlog {b} at {t - t_kill:+.1f} s (a rise of {rise}) is what the leader told the CLI then ({seen})")
PY
