#!/usr/bin/env bash
# The chart on the real node: `helm install` into a namespace whose Pod Security admission
# enforces `restricted` (the API server judges the operator, the injected sidecar, the worker
# and the helm test pod); the operator pod Ready; a Channel reconciled and its worker scaled
# from zero by the operator running in its pod with only the chart's RBAC; `helm upgrade`
# with a changed value rolls the operator; `helm test` (a message through a Channel) passes
# and leaves nothing behind (Helm deletes its Channel after its pod);
# two replicas: the leader's pod killed, the other takes the Lease and scaling goes on;
# `helm uninstall --wait` returns quickly with a Channel still there and leaves the CRD.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_helm
cluster_env
new_namespace --restricted helm
release=osmo deploy=osmo-osmosis
nats_url="$(nats_host_url)"

adopt_crd "$release"
# The common values, and this test's: the helm test pod's image, a short leader election.
mapfile -t values < <(chart_values)
values+=(
  --set test.image.registry=localhost --set test.image.repository=osmosis/nats-server
  --set test.image.tag=dev --set test.natsCommand=/nats
  --set leaderElection.leaseDuration=4s --set leaderElection.renewDeadline=3s
  --set leaderElection.retryPeriod=1s
)

start=$SECONDS
helm_install_operator "$release" "${values[@]}"
kubectl -n "$NS" rollout status "deployment/$deploy" --timeout=60s >/dev/null || fail "the operator is not Ready"
info "helm install --wait: the operator Ready in $((SECONDS - start)) s (restricted namespace)"

# People get Channels through the built-in roles (the controller-manager aggregates them).
kubectl -n "$NS" create rolebinding jane-view --clusterrole=view --user=jane >/dev/null
kubectl -n "$NS" create rolebinding joe-edit --clusterrole=edit --user=joe >/dev/null
poll "view to include reading Channels (aggregation)" 60 bash -c \
  "[[ \$(kubectl auth can-i list channels.osmosis.dev -n $NS --as jane) == yes ]]"
poll "edit to include creating Channels (aggregation)" 60 bash -c \
  "[[ \$(kubectl auth can-i create channels.osmosis.dev -n $NS --as joe) == yes ]]"
[[ "$(kubectl auth can-i create channels.osmosis.dev -n "$NS" --as jane || true)" == no ]] ||
  fail "view lets jane create Channels"
[[ "$(kubectl auth can-i list channels.osmosis.dev -n default --as jane || true)" == no ]] ||
  fail "a view RoleBinding in $NS lets jane read Channels elsewhere"
info "aggregated roles: view reads Channels, edit changes them, only where bound"

{ worker_deployment --restricted 0 20; echo ---; cat <<YAML
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
    maxReplicas: 3
    targetBacklogPerReplica: 50
    scaleToZeroAfterSeconds: 3
    scaleDown: {stabilizationSeconds: 3, maxStepPercent: 100}
YAML
} | kubectl apply -n "$NS" -f - >/dev/null
poll "Channel orders Ready" 60 bash -c "[[ \$(kubectl -n $NS get channel orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
poll "the sidecar injected" 60 bash -c \
  "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.template.spec.initContainers[0].name}') == osmosis-sidecar ]]"
info "Channel reconciled and the sidecar injected by the operator in its pod"

# burst N: publish N messages, then the worker must scale up from zero, get Ready pods,
# drain the backlog and go back to zero.
stream="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.stream}')"
burst() {
  local n="$1" t=$SECONDS
  nats --server "$nats_url" pub "$NS.orders.new" "m{{Count}}" --count "$n" >/dev/null 2>&1 || fail "nats pub failed"
  poll "the worker scaled up from zero" 30 bash -c "(( \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.replicas}') >= 1 ))"
  info "  $n messages: the worker scaled to $(kubectl -n "$NS" get deployment worker -o jsonpath='{.spec.replicas}') in $((SECONDS - t)) s"
  poll "a worker pod Ready" 90 bash -c "(( \$(kubectl -n $NS get deployment worker -o jsonpath='{.status.readyReplicas}') >= 1 ))"
  poll "the backlog drained" 90 bash -c \
    "[[ \$(nats --server $nats_url consumer info $stream workers --json 2>/dev/null | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c[\"num_pending\"]+c[\"num_ack_pending\"])') == 0 ]]"
  poll "the worker back at zero" 60 bash -c "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.replicas}') == 0 ]]"
  info "  drained and back to zero $((SECONDS - t)) s after the burst"
}
burst 100
info "the operator in its pod, with only the chart's RBAC, scaled the worker 0 -> N -> 0"

# helm upgrade with a changed value rolls the operator.
old="$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=$release,app.kubernetes.io/component=operator -o jsonpath='{.items[*].metadata.name}')"
out="$(helm upgrade "$release" "$CHART" -n "$NS" "${values[@]}" --set logLevel=debug --wait --timeout 120s 2>&1)" ||
  fail "helm upgrade: $out"
kubectl -n "$NS" rollout status "deployment/$deploy" --timeout=60s >/dev/null
# The rollout is done when the new pod is Ready; the old one may still be terminating (it
# releases its Lease and flushes its Events), and a terminating pod's phase is still Running.
operator_pods() {
  kubectl -n "$NS" get pods -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=operator" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}'
}
rolled() { local now; now="$(operator_pods)" && [[ -n "$now" && " $now " != *" $old "* ]]; }
t=$SECONDS
poll "the old operator pod $old gone after the upgrade" 60 rolled
new="$(operator_pods)"
new="${new% }"
[[ -n "$new" && " $new " != *" $old "* ]] || fail "helm upgrade did not roll the operator (before: $old, after: $new)"
args="$(kubectl -n "$NS" get deployment "$deploy" -o jsonpath='{.spec.template.spec.containers[0].args}')"
[[ "$args" == *--log-level=debug* ]] || fail "the upgrade's value is not in the Deployment: $args"
info "helm upgrade (logLevel=debug) rolled the operator: $old -> $new (the old pod gone $((SECONDS - t)) s after the rollout)"

# helm test: a Channel of its own, a message published through JetStream and consumed.
start=$SECONDS
out="$(helm test "$release" -n "$NS" --timeout 180s 2>&1)" || {
  kubectl -n "$NS" describe pod osmo-osmosis-test-round-trip | tail -30 >&2
  fail "helm test: $out"
}
phases="$(grep -c 'Phase: *Succeeded' <<<"$out" || true)"
[[ "$phases" == 2 ]] || fail "helm test: want the Channel and the round-trip pod Succeeded: $out"
info "helm test passed in $((SECONDS - start)) s"
# Helm deleted the Channel after the pod (hook-succeeded; the operator removed the finalizer
# and the stream, deletionPolicy Delete) and the pod. Nothing is left behind.
test_stream="$(tr '[:lower:]' '[:upper:]' <<<"${NS}_osmo-osmosis-test")"
kubectl -n "$NS" wait --for=delete channel/osmo-osmosis-test --timeout 60s >/dev/null 2>&1 ||
  fail "the helm test left its Channel behind: $(kubectl -n "$NS" get channel osmo-osmosis-test -o yaml 2>&1 | tail -20)"
if nats --server "$nats_url" stream info "$test_stream" >/dev/null 2>&1; then
  fail "the helm test Channel's stream $test_stream outlived it (deletionPolicy Delete)"
fi
poll "the helm test pod to go (hook-succeeded)" 60 bash -c \
  "[[ -z \$(kubectl -n $NS get pods -l app.kubernetes.io/component=test -o name) ]]"
info "helm test cleaned up after itself: its Channel and stream are gone"

# Two replicas; kill the leader's pod; the other takes over and scaling goes on.
out="$(helm upgrade "$release" "$CHART" -n "$NS" "${values[@]}" --set logLevel=debug --set replicaCount=2 \
  --wait --timeout 120s 2>&1)" || fail "helm upgrade to two replicas: $out"
kubectl -n "$NS" rollout status "deployment/$deploy" --timeout=60s >/dev/null || fail "two replicas not Ready"
poll "exactly two operator pods" 60 bash -c \
  "[[ \$(kubectl -n $NS get pods -l app.kubernetes.io/component=operator -o name | wc -l) == 2 ]]"
kubectl -n "$NS" get pdb "$deploy" >/dev/null 2>&1 || fail "no PodDisruptionBudget with two replicas"
holder() { kubectl -n "$NS" get lease "$deploy" -o jsonpath='{.spec.holderIdentity}'; }
poll "a leader" 30 bash -c "[[ -n \$(kubectl -n $NS get lease $deploy -o jsonpath='{.spec.holderIdentity}') ]]"
leader="$(holder)"
pods="$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=operator --field-selector=status.phase=Running -o jsonpath='{.items[*].metadata.name}')"
[[ " $pods " == *" $leader "* ]] || fail "the Lease holder '$leader' is not one of the operator pods ($pods)"
start=$SECONDS
kubectl -n "$NS" delete pod "$leader" --grace-period=0 --force >/dev/null 2>&1 || fail "could not kill $leader"
poll "another replica to take the Lease" 60 bash -c "h=\$(kubectl -n $NS get lease $deploy -o jsonpath='{.spec.holderIdentity}'); [[ -n \$h && \$h != $leader ]]"
info "leader $leader killed; $(holder) took the Lease in $((SECONDS - start)) s"
burst 100
info "scaling goes on under the new leader"

# Uninstall with a Channel still there: returns at once, the CRD and the Channel stay.
start=$SECONDS
out="$(helm uninstall "$release" -n "$NS" --wait --timeout 60s 2>&1)" || fail "helm uninstall: $out"
took=$((SECONDS - start))
((took < 45)) || fail "helm uninstall took $took s"
kubectl get crd channels.osmosis.dev >/dev/null || fail "the CRD went with the release although crds.keep"
kubectl -n "$NS" get channel orders >/dev/null || fail "the Channel went with the release"
info "helm uninstall --wait in $took s; the CRD and the Channel kept"
