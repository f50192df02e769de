#!/usr/bin/env bash
# The chart against a real kube-apiserver (hack/control-plane.sh; no node needed):
#  - `helm template` with default and non-default values passes `kubectl apply
#    --dry-run=server` in a namespace whose Pod Security admission enforces `restricted`
#    (the API server is the judge: no "would violate PodSecurity" warning, the test Pod admitted);
#  - `helm install` (gateway enabled), then RBAC proven from outside with `kubectl auth can-i
#    --as` the chart's ServiceAccounts: yes to each thing the operator (and the gateway) does,
#    no to a list it must not do, in cluster-wide mode and, after `helm upgrade`, in namespaced
#    mode; the gateway's generated signing key survives that upgrade;
#  - namespaced mode over two namespaces, end to end: the operator binary running as the
#    chart's ServiceAccount (only the chart's Roles) makes a Channel in each Ready and leaves
#    one in a third namespace alone;
#  - a CRD change arrives through `helm upgrade`; `helm uninstall --wait` returns quickly
#    and leaves the CRD when crds.keep (the default), and removes it when not.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../controlplane/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../controlplane/lib.sh"
CHART="$REPO_ROOT/helm/osmosis"
[[ -x "$OSMOSIS_TOOLS_BIN/helm" ]] || fail "$OSMOSIS_TOOLS_BIN/helm missing: run hack/tools/build.sh first"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"

cp_start
# helm template does not ask the server; tell it which Kubernetes it renders for.
kube_version="$(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
release=osmo rns=osmosis-system sa="system:serviceaccount:osmosis-system:osmo-osmosis"
kubectl create namespace "$rns" >/dev/null
kubectl label namespace "$rns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null
for ns in shop billing other; do
  kubectl create namespace "$ns" >/dev/null
  kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
done

# dry_run NAME [helm flags...]: the rendered chart through the API server without storing it.
dry_run() {
  local name="$1" out
  shift
  helm template "$release" "$CHART" -n "$rns" --kube-version "$kube_version" --skip-tests "$@" >"$WORK/$name.yaml" 2>"$WORK/$name.err" ||
    fail "helm template ($name): $(cat "$WORK/$name.err")"
  out="$(kubectl apply --dry-run=server -f "$WORK/$name.yaml" 2>&1)" ||
    fail "kubectl apply --dry-run=server ($name values) refused: $out"
  if grep -q 'would violate PodSecurity' <<<"$out"; then fail "$name: the operator pod is not restricted: $out"; fi
}
dry_run default
dry_run custom --set replicaCount=2 --set 'watchNamespaces={shop}' --set nats.tls.secretName=nats-tls \
  --set nats.tls.clientCert=true --set nats.auth.type=creds --set nats.auth.secretName=nats-creds \
  --set 'extraArgs={--kube-api-qps=20}' --set 'extraEnv[0].name=X' --set 'extraEnv[0].value=y' \
  --set 'tolerations[0].operator=Exists' --set 'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1' \
  --set 'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey=kubernetes.io/hostname' \
  --set 'topologySpreadConstraints[0].maxSkew=1' --set 'topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname' \
  --set 'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway' --set crds.keep=false \
  --set 'rbac.scaleTargets[0].apiGroup=apps' --set 'rbac.scaleTargets[0].resources={deployments}'
# The gateway's objects too, cluster-wide and namespaced (Roles in shop), with NATS files mounted.
dry_run gateway --set gateway.enabled=true --set nats.tls.secretName=nats-tls --set nats.auth.type=token \
  --set nats.auth.secretName=nats-token --set gateway.service.type=NodePort
dry_run gateway-namespaced --set gateway.enabled=true --set gateway.replicaCount=1 --set 'watchNamespaces={shop}' \
  --set gateway.signingKey.existingSecret=gw-key --set nats.auth.type=creds --set nats.auth.secretName=nats-creds
grep -q 'name: osmo-osmosis-gateway$' "$WORK/gateway.yaml" || fail "the gateway was not rendered with gateway.enabled"
helm template "$release" "$CHART" -n "$rns" --kube-version "$kube_version" --skip-tests --set gateway.enabled=true \
  --set gateway.containerSecurityContext.readOnlyRootFilesystem=false --set gateway.podSecurityContext.runAsNonRoot=false \
  --show-only templates/gateway/deployment.yaml >"$WORK/bad-gateway.yaml"
out="$(kubectl apply --dry-run=server -f "$WORK/bad-gateway.yaml" 2>&1)" || true
grep -q 'would violate PodSecurity "restricted:latest": runAsNonRoot' <<<"$out" ||
  fail "a gateway Deployment that may run as root was not called out by Pod Security admission: $out"
# The check can fail: a pod that is not restricted is called out by the API server.
helm template "$release" "$CHART" -n "$rns" --kube-version "$kube_version" --skip-tests \
  --set containerSecurityContext.allowPrivilegeEscalation=true --show-only templates/deployment.yaml >"$WORK/bad.yaml"
out="$(kubectl apply --dry-run=server -f "$WORK/bad.yaml" 2>&1)" || true
grep -q 'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation' <<<"$out" ||
  fail "a Deployment allowing privilege escalation was not called out by Pod Security admission: $out"
info "helm template (default and non-default values, the gateway cluster-wide and namespaced) passes kubectl apply --dry-run=server, restricted"

start=$SECONDS
out="$(helm install "$release" "$CHART" -n "$rns" --set 'rbac.secretNamespaces={shop}' --set gateway.enabled=true 2>&1)" || fail "helm install: $out"
info "helm install in $((SECONDS - start)) s"
kubectl wait --for condition=established --timeout=60s crd/channels.osmosis.dev >/dev/null

# The helm test hook's Pod and Channel pass admission in the restricted namespace.
helm template "$release" "$CHART" -n "$rns" --kube-version "$kube_version" --show-only templates/tests/round-trip.yaml >"$WORK/test-hook.yaml"
out="$(kubectl apply --dry-run=server -f "$WORK/test-hook.yaml" 2>&1)" || fail "the helm test hook is refused: $out"

# can SUBJECT-ANSWER VERB RESOURCE [kubectl flags]: kubectl auth can-i as the ServiceAccount.
can() {
  local want="$1" got
  shift
  got="$(kubectl auth can-i --as "$sa" "$@" 2>/dev/null || true)"
  [[ "$got" == "$want" ]] || fail "can-i $* as the operator: '$got', want '$want'"
}
yes_to() { can yes "$@"; }
no_to() { can no "$@"; }

# What the operator does (cluster-wide mode): Channels everywhere, scale and inject in any
# namespace, Secrets only where listed (shop), its Lease by name.
yes_to list channels.osmosis.dev -A
yes_to watch channels.osmosis.dev -A
yes_to patch channels.osmosis.dev -n shop
yes_to patch channels.osmosis.dev -n other --subresource status
yes_to update channels.osmosis.dev -n shop --subresource finalizers
yes_to patch deployments.apps -n shop
yes_to patch statefulsets.apps -n other
yes_to get deployments.apps -n shop --subresource scale
yes_to patch deployments.apps -n shop --subresource scale
yes_to update replicasets.apps -n other --subresource scale
yes_to list pods -n shop
yes_to list horizontalpodautoscalers.autoscaling -n shop
yes_to create events -n shop
yes_to patch events -n other
yes_to get secrets -n shop
yes_to create leases.coordination.k8s.io -n "$rns"
yes_to update leases.coordination.k8s.io/osmo-osmosis -n "$rns"
# What it must not do.
no_to get secrets -n other
no_to get secrets -n "$rns"
no_to list secrets -n shop
no_to watch secrets -n shop
no_to list secrets -A
no_to delete deployments.apps -n shop
no_to create deployments.apps -n shop
no_to update deployments.apps -n shop
no_to patch daemonsets.apps -n shop --subresource scale
no_to create pods -n shop --subresource exec
no_to create pods -n shop
no_to delete pods -n shop
no_to get nodes
no_to list nodes
no_to delete channels.osmosis.dev -n shop
no_to create channels.osmosis.dev -n shop
no_to update leases.coordination.k8s.io/someone-else -n "$rns"
no_to update leases.coordination.k8s.io/osmo-osmosis -n shop
no_to get configmaps -n shop
no_to create clusterroles.rbac.authorization.k8s.io
no_to '*' '*'
info "cluster-wide mode: can-i says yes to the 17 things the operator does, no to the 21 it must not"

# The gateway's ServiceAccount: read Channels everywhere, get Secrets where listed; nothing else.
gw_sa="system:serviceaccount:$rns:osmo-osmosis-gateway"
gw_can() {
  local want="$1" got
  shift
  got="$(kubectl auth can-i --as "$gw_sa" "$@" 2>/dev/null || true)"
  [[ "$got" == "$want" ]] || fail "can-i $* as the gateway: '$got', want '$want'"
}
gw_can yes list channels.osmosis.dev -A
gw_can yes watch channels.osmosis.dev -A
gw_can yes get channels.osmosis.dev -n other
gw_can yes get secrets -n shop
gw_can no create channels.osmosis.dev -n shop
gw_can no update channels.osmosis.dev -n shop
gw_can no patch channels.osmosis.dev -n shop --subresource status
gw_can no delete channels.osmosis.dev -n shop
gw_can no delete channels.osmosis.dev -A
gw_can no list secrets -n shop
gw_can no watch secrets -n shop
gw_can no list secrets -A
gw_can no get secrets -n other
gw_can no get secrets -n "$rns"
gw_can no delete secrets -n shop
gw_can no create secrets -n shop
gw_can no delete pods -n shop
gw_can no create pods -n shop
gw_can no delete deployments.apps -n shop
gw_can no patch deployments.apps -n shop --subresource scale
gw_can no create events -n shop
gw_can no update leases.coordination.k8s.io/osmo-osmosis -n "$rns"
gw_can no get configmaps -n shop
gw_can no get nodes
gw_can no '*' '*'
info "cluster-wide mode: the gateway can list/watch Channels and get Secrets in shop; 21 other things refused"

# The generated signing key is kept by helm upgrade (tokens survive), and is at least 32 bytes.
key_digest() { kubectl get secret osmo-osmosis-gateway-signing-key -n "$rns" -o jsonpath='{.data.signing-key}' | sha256sum; }
key_len="$(kubectl get secret osmo-osmosis-gateway-signing-key -n "$rns" -o jsonpath='{.data.signing-key}' | base64 -d | wc -c)"
((key_len >= 32)) || fail "the generated signing key is $key_len bytes"
key_before="$(key_digest)"

# Namespaced mode: everything in shop and billing only.
out="$(helm upgrade "$release" "$CHART" -n "$rns" --set 'watchNamespaces={shop,billing}' --set gateway.enabled=true 2>&1)" || fail "helm upgrade to namespaced mode: $out"
[[ "$(key_digest)" == "$key_before" ]] || fail "helm upgrade replaced the gateway's signing key (tokens handed out would fail)"
info "helm upgrade kept the gateway's generated signing key ($key_len bytes)"
yes_to list channels.osmosis.dev -n shop
yes_to watch channels.osmosis.dev -n billing
yes_to patch channels.osmosis.dev -n billing --subresource status
yes_to get secrets -n billing
yes_to create events -n billing
yes_to patch deployments.apps -n billing --subresource scale
yes_to watch channels.osmosis.dev -n shop
yes_to patch channels.osmosis.dev -n shop --subresource status
yes_to update channels.osmosis.dev -n shop --subresource finalizers
yes_to patch deployments.apps -n shop
yes_to patch deployments.apps -n shop --subresource scale
yes_to list pods -n shop
yes_to create events -n shop
yes_to get secrets -n shop
yes_to create leases.coordination.k8s.io -n "$rns"
yes_to update leases.coordination.k8s.io/osmo-osmosis -n "$rns"
no_to list channels.osmosis.dev -A
no_to list channels.osmosis.dev -n other
no_to patch deployments.apps -n other --subresource scale
no_to patch deployments.apps -n other
no_to list pods -n other
no_to create events -n other
no_to get secrets -n other
no_to list secrets -n shop
no_to list secrets -n billing
no_to watch channels.osmosis.dev -n other
no_to delete deployments.apps -n shop
no_to create pods -n shop --subresource exec
no_to get nodes
[[ -z "$(kubectl get clusterrolebindings -l app.kubernetes.io/instance=$release -o name)" ]] ||
  fail "namespaced mode left ClusterRoleBindings: $(kubectl get clusterrolebindings -l app.kubernetes.io/instance=$release -o name)"
gw_can yes list channels.osmosis.dev -n shop
gw_can yes watch channels.osmosis.dev -n billing
gw_can yes get secrets -n billing
gw_can yes get secrets -n shop
gw_can no list channels.osmosis.dev -A
gw_can no watch channels.osmosis.dev -n other
gw_can no get secrets -n other
gw_can no list secrets -n shop
gw_can no create channels.osmosis.dev -n shop
gw_can no delete channels.osmosis.dev -n billing
info "namespaced mode (helm upgrade): yes in shop and billing and to the Lease, no anywhere else; no ClusterRoleBinding left; the gateway reads Channels and gets Secrets in shop and billing only"

# Namespaced mode over two namespaces, end to end: the operator binary as the chart's
# ServiceAccount (a TokenRequest token: only the chart's Roles apply), leader election on the
# chart's Lease, watching shop and billing; a real nats-server.
operator="${OSMOSIS_OPERATOR_BIN:?OSMOSIS_OPERATOR_BIN: the osmosis-operator binary (set by ctest)}"
mkdir -p "$WORK/nats/ports" "$WORK/nats/js"
"$OSMOSIS_TOOLS_BIN/nats-server" -a 127.0.0.1 -p -1 -js -sd "$WORK/nats/js" --ports_file_dir "$WORK/nats/ports" \
  >"$WORK/nats/log" 2>&1 &
nats_pid=$!
CLEANUPS+=("kill $nats_pid 2>/dev/null; wait $nats_pid 2>/dev/null")
poll "nats-server's ports file" 20 bash -c "ls $WORK/nats/ports/*.ports"
nats_url="$(python3 -c 'import glob, json, sys; print(json.load(open(glob.glob(sys.argv[1] + "/*.ports")[0]))["nats"][0])' "$WORK/nats/ports")"
token="$(kubectl create token osmo-osmosis -n "$rns" --duration 1h)" || fail "no token for the chart's ServiceAccount"
sa_kubeconfig="$WORK/operator.kubeconfig"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
kubectl --kubeconfig "$sa_kubeconfig" config set-cluster cp --server "$server" \
  --certificate-authority "$OSMOSIS_CP_DIR/pki/ca.crt" --embed-certs >/dev/null
kubectl --kubeconfig "$sa_kubeconfig" config set-credentials operator --token "$token" >/dev/null
kubectl --kubeconfig "$sa_kubeconfig" config set-context operator --cluster cp --user operator >/dev/null
kubectl --kubeconfig "$sa_kubeconfig" config use-context operator >/dev/null
# The Channel in the unwatched namespace exists first: the operator has every chance to touch it.
for ch in other/stray shop/orders billing/invoices; do
  printf 'apiVersion: osmosis.dev/v1alpha1\nkind: Channel\nmetadata: {namespace: %s, name: %s}\nspec: {deletionPolicy: Delete, stream: {storage: Memory}}\n' \
    "${ch%/*}" "${ch#*/}" | kubectl apply -f - >/dev/null || fail "cannot create Channel $ch"
done
"$operator" --kubeconfig "$sa_kubeconfig" --watch-namespace shop --watch-namespace billing \
  --leader-election-namespace "$rns" --leader-election-id osmo-osmosis --leader-election-identity chart-test \
  --nats-url "$nats_url" --http-address 127.0.0.1:0 --resync-period 1s >"$WORK/operator.log" 2>&1 &
op_pid=$!
CLEANUPS+=("kill $op_pid 2>/dev/null; wait $op_pid 2>/dev/null; tail -40 $WORK/operator.log >&2")
for ch in shop/orders billing/invoices; do
  kubectl wait -n "${ch%/*}" "channel/${ch#*/}" --for condition=Ready --timeout 60s >/dev/null ||
    fail "Channel $ch not Ready under the chart's namespaced RBAC: $(tail -20 "$WORK/operator.log")"
done
for stream in SHOP_ORDERS BILLING_INVOICES; do
  "$OSMOSIS_TOOLS_BIN/nats" --server "$nats_url" stream info "$stream" >/dev/null 2>&1 || fail "no stream $stream"
done
stray="$(kubectl get channel stray -n other -o json)"
python3 -c 'import json, sys
c = json.loads(sys.argv[1])
assert not c["metadata"].get("finalizers") and not c.get("status"), c' "$stray" ||
  fail "the Channel in the unwatched namespace was touched: $stray"
if "$OSMOSIS_TOOLS_BIN/nats" --server "$nats_url" stream info OTHER_STRAY >/dev/null 2>&1; then
  fail "a stream was made for the Channel in the unwatched namespace"
fi
if grep -qi 'forbidden' "$WORK/operator.log"; then
  fail "the operator was refused something by the chart's RBAC: $(grep -i forbidden "$WORK/operator.log" | head -5)"
fi
[[ "$(kubectl get lease osmo-osmosis -n "$rns" -o jsonpath='{.spec.holderIdentity}')" == chart-test ]] ||
  fail "the operator does not hold the chart's Lease"
metrics_address="$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    try: j = json.loads(line)
    except ValueError: continue
    if "/metrics" in j.get("msg", ""): print(j["address"]); break' "$WORK/operator.log")"
metrics="$(curl -sf "http://$metrics_address/metrics")" || fail "no /metrics at $metrics_address"
grep -qx 'osmosis_channels 2' <<<"$metrics" ||
  fail "/metrics does not count the two watched namespaces' Channels: $(grep '^osmosis_channels' <<<"$metrics")"
# helm test leaves nothing behind, by Helm's own hook order: its Channel is hook-succeeded,
# deleted only after the pod has run (and waited for: the operator removes the finalizer and
# the stream). No kubelet here, so the pod's phase is set as the kubelet would set it.
helm_test_with_pod_phase() {  # PHASE: run helm test, end its pod in PHASE; helm's exit code
  local phase="$1" pid rc=0
  helm test "$release" -n "$rns" --timeout 120s >"$WORK/helm-test.out" 2>&1 &
  pid=$!
  poll "helm test's pod" 60 kubectl get pod osmo-osmosis-test-round-trip -n "$rns"
  kubectl wait -n shop channel/osmo-osmosis-test --for condition=Ready --timeout 60s >/dev/null ||
    fail "the helm test Channel is not Ready while its pod runs"
  "$OSMOSIS_TOOLS_BIN/nats" --server "$nats_url" stream info SHOP_OSMO-OSMOSIS-TEST >/dev/null 2>&1 ||
    fail "no stream for the helm test Channel while its pod runs"
  kubectl patch pod osmo-osmosis-test-round-trip -n "$rns" --subresource status --type merge \
    -p "{\"status\":{\"phase\":\"$phase\"}}" >/dev/null || fail "cannot set the test pod's phase"
  wait "$pid" || rc=$?
  return "$rc"
}
helm_test_with_pod_phase Succeeded || fail "helm test: $(cat "$WORK/helm-test.out")"
if kubectl get channel osmo-osmosis-test -n shop >/dev/null 2>&1; then
  fail "helm test passed and left its Channel behind"
fi
if "$OSMOSIS_TOOLS_BIN/nats" --server "$nats_url" stream info SHOP_OSMO-OSMOSIS-TEST >/dev/null 2>&1; then
  fail "helm test passed and left its Channel's stream behind"
fi
if kubectl get pod osmo-osmosis-test-round-trip -n "$rns" >/dev/null 2>&1; then
  fail "helm test passed and left its pod behind"
fi
# A failed test: the Channel goes too (a hook that had succeeded); the pod stays for its logs.
helm_test_with_pod_phase Failed && fail "helm test passed with a failed pod: $(cat "$WORK/helm-test.out")"
if kubectl get channel osmo-osmosis-test -n shop >/dev/null 2>&1; then
  fail "a failed helm test left its Channel behind"
fi
kubectl get pod osmo-osmosis-test-round-trip -n "$rns" >/dev/null 2>&1 || fail "a failed helm test's pod is gone (its logs with it)"
kubectl delete pod osmo-osmosis-test-round-trip -n "$rns" --wait --timeout 30s >/dev/null
info "helm test: passed, nothing left (Channel, stream, pod); failed, the Channel still goes and the pod stays"

# Deleted while the operator runs (its finalizer goes, and the streams: deletionPolicy Delete).
kubectl delete channel orders -n shop --wait --timeout 60s >/dev/null || fail "Channel shop/orders not deleted"
kubectl delete channel invoices -n billing --wait --timeout 60s >/dev/null || fail "Channel billing/invoices not deleted"
kubectl delete channel stray -n other --wait --timeout 30s >/dev/null || fail "Channel other/stray not deleted"
kill -TERM "$op_pid"
wait "$op_pid" || fail "the operator did not stop cleanly: $(tail -20 "$WORK/operator.log")"
info "namespaced mode over shop and billing, as the chart's ServiceAccount: both Channels Ready, their streams made, other/stray untouched, /metrics counts 2, no request refused"

# A CRD change arrives through helm upgrade (templates, not crds/).
cp -r "$CHART" "$WORK/chart-next"
sed -i 's/shortNames: \[chan, chans\]/shortNames: [chan, chans, osmochan]/' "$WORK/chart-next/templates/crds/osmosis.dev_channels.yaml"
grep -q osmochan "$WORK/chart-next/templates/crds/osmosis.dev_channels.yaml" || fail "could not change the CRD copy"
out="$(helm upgrade "$release" "$WORK/chart-next" -n "$rns" 2>&1)" || fail "helm upgrade with a changed CRD: $out"
short="$(kubectl get crd channels.osmosis.dev -o jsonpath='{.spec.names.shortNames}')"
[[ "$short" == *osmochan* ]] || fail "the CRD change did not arrive through helm upgrade: shortNames $short"
info "a CRD change arrives through helm upgrade ($short)"

# Uninstall: quick, and the CRD stays (crds.keep) with a Channel in it.
kubectl apply -f "$REPO_ROOT/crds/examples/minimal.yaml" --dry-run=server >/dev/null ||
  fail "the minimal Channel is refused by the installed CRD"
start=$SECONDS
out="$(helm uninstall "$release" -n "$rns" --wait --timeout 60s 2>&1)" || fail "helm uninstall: $out"
(((SECONDS - start) < 30)) || fail "helm uninstall took $((SECONDS - start)) s"
kubectl get crd channels.osmosis.dev >/dev/null 2>&1 || fail "helm uninstall removed the CRD although crds.keep"
leftover="$(kubectl get clusterroles,clusterrolebindings,roles,rolebindings,serviceaccounts,deployments,services,secrets,poddisruptionbudgets -A \
  -l app.kubernetes.io/instance=$release -o name)"
[[ -z "$leftover" ]] || fail "helm uninstall left: $leftover"
info "helm uninstall --wait in $((SECONDS - start)) s; the CRD kept, nothing else left"

# The kept CRD is adopted by the next install; with crds.keep=false uninstall removes it.
out="$(helm install "$release" "$CHART" -n "$rns" --set crds.keep=false 2>&1)" || fail "helm install over the kept CRD: $out"
out="$(helm uninstall "$release" -n "$rns" --wait --timeout 60s 2>&1)" || fail "helm uninstall (crds.keep=false): $out"
poll "the CRD to go with crds.keep=false" 30 bash -c '! kubectl get crd channels.osmosis.dev'
info "crds.keep=false: a reinstall adopts the kept CRD and uninstall removes it"
