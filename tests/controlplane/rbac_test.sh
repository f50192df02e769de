#!/usr/bin/env bash
# RBAC on a real kube-apiserver: a ServiceAccount token and a client certificate outside
# system:masters are refused until a Role + RoleBinding grants them, then allowed, and
# only in that namespace.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cp_start
ns=rbac-test
kubectl create namespace "$ns" >/dev/null
kubectl create configmap settings -n "$ns" --from-literal=mode=test >/dev/null
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$OSMOSIS_CP_DIR/pki/ca.crt"

# new_kubeconfig FILE [kubectl config set-credentials flags...]
new_kubeconfig() {
  local file="$1"
  shift
  kubectl config --kubeconfig "$file" set-cluster test --server "$server" \
    --certificate-authority "$ca" --embed-certs >/dev/null
  kubectl config --kubeconfig "$file" set-credentials me "$@" >/dev/null
  kubectl config --kubeconfig "$file" set-context test --cluster test --user me >/dev/null
  kubectl config --kubeconfig "$file" use-context test >/dev/null
}

# can_i KUBECONFIG NAMESPACE: prints kubectl auth can-i's answer (yes/no) for list configmaps.
can_i() { kubectl --kubeconfig "$1" auth can-i list configmaps -n "$2" 2>/dev/null || true; }
can_i_is() { [[ "$(can_i "$1" "$2")" == "$3" ]]; }

expect_refused() { # expect_refused KUBECONFIG NAMESPACE WHO
  local out
  if out="$(kubectl --kubeconfig "$1" get configmaps -n "$2" 2>&1)"; then
    fail "$3 could list configmaps in $2 without a grant: $out"
  fi
  grep -q 'Forbidden' <<<"$out" || fail "$3: expected Forbidden listing configmaps in $2, got: $out"
}

# Identity 1: a ServiceAccount with a TokenRequest token (no controller-manager runs, so
# the token comes from the API, not from a Secret).
kubectl create serviceaccount reader -n "$ns" >/dev/null
token="$(kubectl create token reader -n "$ns" --duration 10m)"
[[ -n "$token" ]] || fail "kubectl create token returned nothing"
sa_kc="$WORK/sa.kubeconfig"
new_kubeconfig "$sa_kc" --token "$token"
whoami="$(kubectl --kubeconfig "$sa_kc" auth whoami -o jsonpath='{.status.userInfo.username}')"
[[ "$whoami" == "system:serviceaccount:$ns:reader" ]] || fail "token authenticates as '$whoami'"

# Identity 2: a client certificate signed by the cluster CA, user jane in group osmosis-devs.
openssl req -newkey rsa:2048 -nodes -subj "/O=osmosis-devs/CN=jane" \
  -keyout "$WORK/jane.key" -out "$WORK/jane.csr" 2>/dev/null
openssl x509 -req -in "$WORK/jane.csr" -CA "$ca" -CAkey "$OSMOSIS_CP_DIR/pki/ca.key" \
  -CAcreateserial -CAserial "$WORK/ca.srl" -days 1 -out "$WORK/jane.crt" 2>/dev/null
cert_kc="$WORK/jane.kubeconfig"
new_kubeconfig "$cert_kc" --client-certificate "$WORK/jane.crt" --client-key "$WORK/jane.key" --embed-certs

for who in "serviceaccount:$sa_kc" "user jane:$cert_kc"; do
  name="${who%%:*}" kc="${who#*:}"
  answer="$(can_i "$kc" "$ns")"
  [[ "$answer" == no ]] || fail "$name: can-i list configmaps before any grant said '$answer', want 'no'"
  expect_refused "$kc" "$ns" "$name"
done
info "before the grant: can-i says no and listing is Forbidden for both identities"

kubectl create role configmap-reader -n "$ns" --verb get,list,watch --resource configmaps >/dev/null
kubectl create rolebinding reader-can-read -n "$ns" --role configmap-reader \
  --serviceaccount "$ns:reader" --group osmosis-devs >/dev/null

for who in "serviceaccount:$sa_kc" "user jane:$cert_kc"; do
  name="${who%%:*}" kc="${who#*:}"
  poll "$name: can-i list configmaps -n $ns to say yes" 30 can_i_is "$kc" "$ns" yes
  out="$(kubectl --kubeconfig "$kc" get configmaps -n "$ns" -o name 2>&1)" ||
    fail "$name: listing configmaps after the grant failed: $out"
  grep -qx 'configmap/settings' <<<"$out" || fail "$name: list did not return configmap/settings: $out"
  # The grant is namespaced: other namespaces stay closed, and so does writing.
  answer="$(can_i "$kc" default)"
  [[ "$answer" == no ]] || fail "$name: can-i list configmaps -n default said '$answer', want 'no'"
  expect_refused "$kc" default "$name"
  if out="$(kubectl --kubeconfig "$kc" delete configmap settings -n "$ns" 2>&1)"; then
    fail "$name: could delete a configmap with a read-only role"
  fi
  grep -q Forbidden <<<"$out" || fail "$name: expected Forbidden on delete, got: $out"
done
info "after the grant: both identities can list configmaps in $ns, and nothing more"
