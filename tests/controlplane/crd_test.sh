#!/usr/bin/env bash
# A CRD on a real kube-apiserver: create, wait for Established, create a custom resource,
# read it back, and see a change (and a delete) arrive on a `kubectl get --watch`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cp_start
ns=crd-test
kubectl create namespace "$ns" >/dev/null

info "creating CRD widgets.test.osmosis.dev"
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.osmosis.dev
spec:
  group: test.osmosis.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              color: {type: string, enum: [blue, red, green]}
              size: {type: integer, minimum: 1}
          status:
            type: object
            properties:
              observed: {type: string}
YAML
kubectl wait --for condition=established --timeout=60s crd/widgets.test.osmosis.dev >/dev/null ||
  fail "CRD widgets.test.osmosis.dev did not become Established"

widget() { # widget NAME COLOR SIZE > file
  cat <<YAML
apiVersion: test.osmosis.dev/v1
kind: Widget
metadata: {name: $1, namespace: $ns}
spec: {color: $2, size: $3}
YAML
}
widget w1 blue 3 >"$WORK/w1.yaml"
widget bad purple 1 >"$WORK/bad.yaml"
# Discovery can lag Established by a moment: poll the first (idempotent) apply.
poll "creating Widget w1" 30 kubectl apply -f "$WORK/w1.yaml"

color="$(kubectl get widget w1 -n "$ns" -o jsonpath='{.spec.color}')"
[[ "$color" == blue ]] || fail "read back spec.color='$color', want 'blue'"
size="$(kubectl get widgets.test.osmosis.dev/w1 -n "$ns" -o jsonpath='{.spec.size}')"
[[ "$size" == 3 ]] || fail "read back spec.size='$size', want 3"
info "created and read back widget w1 (color=$color size=$size)"

# The schema is enforced by the real server.
if err="$(kubectl create -f "$WORK/bad.yaml" 2>&1)"; then
  fail "a Widget with color=purple was accepted; the CRD schema was not enforced"
fi
grep -q 'Unsupported value' <<<"$err" || fail "unexpected error for an invalid Widget: $err"

# Watch: wait for the initial ADDED event (the watch is then established), change the
# resource, and look for the MODIFIED and DELETED events.
watch_out="$WORK/watch.out"
kubectl get widgets -n "$ns" --watch --output-watch-events \
  -o jsonpath='{.type} {.object.metadata.name} {.object.spec.color}{"\n"}' >"$watch_out" 2>"$WORK/watch.err" &
watch_pid=$!
CLEANUPS+=("kill $watch_pid 2>/dev/null")
poll "the watch to report 'ADDED w1 blue'" 30 grep -qx 'ADDED w1 blue' "$watch_out"

kubectl patch widget w1 -n "$ns" --type merge -p '{"spec":{"color":"red"}}' >/dev/null
poll "the watch to report 'MODIFIED w1 red'" 30 grep -qx 'MODIFIED w1 red' "$watch_out"

# Status subresource: a status write does not change spec and is seen by the watch too.
kubectl patch widget w1 -n "$ns" --subresource status --type merge \
  -p '{"status":{"observed":"red"}}' >/dev/null
observed="$(kubectl get widget w1 -n "$ns" -o jsonpath='{.status.observed}')"
[[ "$observed" == red ]] || fail "status.observed='$observed', want 'red'"

kubectl delete widget w1 -n "$ns" --wait=true >/dev/null
poll "the watch to report 'DELETED w1 red'" 30 grep -qx 'DELETED w1 red' "$watch_out"
kill -0 "$watch_pid" 2>/dev/null || fail "kubectl watch exited early: $(cat "$WORK/watch.err")"
info "watch saw: $(tr '\n' ';' <"$watch_out")"
