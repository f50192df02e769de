#!/usr/bin/env bash
# The gateway on the real node, installed by the chart (gateway.enabled) into a namespace whose
# Pod Security admission enforces `restricted`: both replicas Ready; a Channel with
# spec.gateway.enabled and a publishers Secret, its worker at zero replicas; a client POSTs
# through the gateway's Service (its ClusterIP, reached from the host through kube-proxy as
# the other cluster tests reach NATS): 401 without the bearer token, 202 with it (stored), the
# operator scales the worker up from zero, and the request's events read over SSE end with the
# worker's result; GET /v1/requests/{id} then answers 303 to the result, from each replica
# (they share the chart's signing key); /metrics answers on the gateway's metrics Service.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_helm
cluster_env
new_namespace --restricted gw
release=osmo gw=osmo-osmosis-gateway

adopt_crd "$release"
# The common values, and this test's: the gateway, enabled, from the image on the node.
mapfile -t values < <(chart_values)
values+=(
  --set gateway.enabled=true --set gateway.image.registry=localhost
  --set gateway.image.repository=osmosis/osmosis-gateway --set gateway.image.tag=dev
  --set gateway.image.pullPolicy=Never
)

start=$SECONDS
# On failure, the gateway's logs as well as the operator's.
helm_install_operator --timeout 180s --logs 'app.kubernetes.io/component in (operator,gateway)' \
  "$release" "${values[@]}"
kubectl -n "$NS" rollout status "deployment/$gw" --timeout=60s >/dev/null || fail "the gateway is not Ready"
ready="$(kubectl -n "$NS" get deployment "$gw" -o jsonpath='{.status.readyReplicas}')"
[[ "$ready" == 2 ]] || fail "the gateway has $ready Ready replicas, want 2"
info "helm install --wait with gateway.enabled: 2 gateway replicas Ready in $((SECONDS - start)) s (restricted namespace)"

# The publishers' bearer token: random, in a Secret the gateway may get; never printed.
pub_token="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
kubectl -n "$NS" create secret generic publishers --from-literal=ci="$pub_token" >/dev/null
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
    maxReplicas: 2
    scaleToZeroAfterSeconds: 3
    scaleDown: {stabilizationSeconds: 3, maxStepPercent: 100}
  gateway:
    enabled: true
    publishers: {secretRef: {name: publishers}}
YAML
} | kubectl apply -n "$NS" -f - >/dev/null
poll "Channel orders Ready" 60 bash -c "[[ \$(kubectl -n $NS get channel orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
path="$(kubectl -n "$NS" get channel orders -o jsonpath='{.status.gateway.path}')"
[[ "$path" == "/v1/namespaces/$NS/channels/orders/messages" ]] || fail "status.gateway.path is '$path'"
poll "the sidecar injected" 60 bash -c \
  "[[ \$(kubectl -n $NS get deployment worker -o jsonpath='{.spec.template.spec.initContainers[0].name}') == osmosis-sidecar ]]"
info "Channel with spec.gateway Ready (status.gateway.path $path), the worker at zero"

base="http://$(kubectl -n "$NS" get service "$gw" -o jsonpath='{.spec.clusterIP}'):80"
# post CODE_FILE [curl args]: POST a message into orders through the Service; prints the code.
post() {
  local body="$1"
  shift
  curl -s -o "$body" -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: text/plain' \
    --data-binary 'id=gw-1 hello' "$@" "$base$path"
}
# The gateway learns the Channel from its watch: poll until it answers for it.
poll "the gateway to serve orders (an answer other than 404/503)" 60 bash -c \
  "code=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST --data-binary x $base$path); [[ \$code != 404 && \$code != 503 && \$code != 000 ]]"
code="$(post "$WORK/unauth.json")"
[[ "$code" == 401 ]] || fail "POST without the publishers' token: $code, want 401 ($(head -c 300 "$WORK/unauth.json"))"
code="$(post "$WORK/bad.json" -H "Authorization: Bearer not-$pub_token")"
[[ "$code" == 403 ]] || fail "POST with a wrong token: $code, want 403"

# The worker really is at zero when the request arrives.
[[ "$(kubectl -n "$NS" get deployment worker -o jsonpath='{.spec.replicas}')" == 0 ]] || fail "the worker is not at zero before the POST"
[[ -z "$(kubectl -n "$NS" get pods -l app=worker -o name)" ]] || fail "worker pods exist before the POST"
ms() { date +%s%3N; }
t0="$(ms)"
code="$(post "$WORK/post.json" -H "Authorization: Bearer $pub_token" -H 'Idempotency-Key: "gw-test-1"' -D "$WORK/post.headers")"
[[ "$code" == 202 ]] || fail "POST with the token: $code, want 202 ($(head -c 300 "$WORK/post.json"))"
read -r id req_token events_url < <(python3 -c 'import json, sys
b = json.load(open(sys.argv[1]))
print(b["id"], b["token"], b["eventsUrl"])' "$WORK/post.json") || fail "the 202 body is not {id, token, eventsUrl, ...}: $(cat "$WORK/post.json")"
grep -qi "^location: /v1/requests/$id" "$WORK/post.headers" || fail "no Location: /v1/requests/$id in $(cat "$WORK/post.headers")"
info "POST through the Service: 401 without the token, 403 with a wrong one, 202 with it (request $id) in $(($(ms) - t0)) ms"

# A retry with the same Idempotency-Key is the same request.
code="$(post "$WORK/retry.json" -H "Authorization: Bearer $pub_token" -H 'Idempotency-Key: "gw-test-1"')"
[[ "$code" == 202 || "$code" == 200 ]] || fail "the retried POST: $code"
retry_id="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/retry.json")"
[[ "$retry_id" == "$id" ]] || fail "the retried POST (same Idempotency-Key) got another id: $retry_id"

# Events over SSE, until the final one (the gateway closes the stream after it). The worker
# starts from zero, so this also waits for the operator to scale it up.
[[ "$events_url" == *token=* ]] || events_url="$events_url?token=$req_token"
curl -sN --max-time 180 "$base$events_url" >"$WORK/events.txt" || true
grep -q '^event: result' "$WORK/events.txt" || fail "no result event over SSE: $(head -c 2000 "$WORK/events.txt")"
grep -q '^event: delivered' "$WORK/events.txt" || fail "no delivered event before the result: $(head -c 2000 "$WORK/events.txt")"
python3 - "$WORK/events.txt" <<'PY' || fail "the result event is not the worker's 200 'ok' (above)"
import json, sys
events, cur = [], {}
for line in open(sys.argv[1]).read().splitlines() + [""]:
    if not line:
        if "data" in cur: events.append(cur)
        cur = {}
    elif line.startswith(":"):
        continue
    else:
        k, _, v = line.partition(":")
        v = v[1:] if v.startswith(" ") else v
        cur[k] = cur.get(k, "") + ("\n" if k in cur else "") + v
assert all("id" in e for e in events), f"an event without an id: {events}"
final = [e for e in events if e.get("event") in ("result", "failed")]
assert len(final) == 1 and events[-1] is final[0], f"not exactly one final event, last: {events}"
r = json.loads(final[0]["data"])
assert r["type"] == "result" and r["status"] == 200, r
assert r["body"].strip() == "ok", r
print(f"  events: {[e.get('event') for e in events]}")
PY
t_result="$(($(ms) - t0))"
scaled="$(kubectl -n "$NS" get events --field-selector involvedObject.kind=Channel,involvedObject.name=orders,reason=Activated -o jsonpath='{.items[*].message}')"
[[ -n "$scaled" ]] || fail "no Activated Event (0 -> 1) on the Channel: who started the worker?"
info "SSE: delivered, result (200 'ok') ${t_result} ms after the POST; the operator scaled the worker from zero ($scaled)"

code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/v1/requests/$id?token=$req_token")"
[[ "$code" == 303 ]] || fail "GET /v1/requests/$id after the result: $code, want 303"
code_wrong="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/v1/requests/$id/events?token=x$req_token")"
[[ "$code_wrong" == 401 || "$code_wrong" == 403 ]] || fail "events with a wrong request token: $code_wrong, want 401/403"
# Each replica, asked directly at its pod IP, takes the token: they share the chart's key.
pod_ips="$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[*].status.podIP}')"
read -r -a ips <<<"$pod_ips"
((${#ips[@]} == 2)) || fail "gateway pod IPs: '$pod_ips'"
for ip in "${ips[@]}"; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$ip:8080/v1/requests/$id?token=$req_token")"
  [[ "$code" == 303 ]] || fail "the gateway replica at $ip answers $code for the request's token, want 303 (signing key not shared?)"
done
info "GET /v1/requests/{id}: 303 to the result from each of the 2 replicas (one signing key); a wrong request token refused ($code_wrong)"

metrics="$(curl -sf --max-time 10 "http://$(kubectl -n "$NS" get service "$gw-metrics" -o jsonpath='{.spec.clusterIP}'):9090/metrics")" ||
  fail "no /metrics on the gateway's metrics Service"
grep -q '^osmosis_gateway_' <<<"$metrics" || fail "/metrics has no osmosis_gateway_ series: $(head -20 <<<"$metrics")"
info "the gateway's /metrics answers on $gw-metrics:9090"
