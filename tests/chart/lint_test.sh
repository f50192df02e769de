#!/usr/bin/env bash
# The chart without a cluster: helm lint; the CRD templates and the values schema are what
# their generators give (crds/ is the one source of truth); the rendered CRD equals crds/;
# bad values (operator and gateway) are refused by the schema with a message naming the key; what the templates
# promise (leader election always on, restricted pods, a PDB above one replica, no wildcard
# and no Secret list/watch in any rule, Roles only in namespaced mode) holds in their output.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHART="$REPO_ROOT/helm/osmosis"
TEST_NAME="$(basename "$0" .sh)"
fail() {
  echo "FAIL: $TEST_NAME: $*" >&2
  exit 1
}
info() { echo "[$TEST_NAME] $*"; }
OSMOSIS_TOOLS_BIN="${OSMOSIS_TOOLS_BIN:-$("$REPO_ROOT/hack/tools/build.sh" --print-bin-dir)}"
[[ -x "$OSMOSIS_TOOLS_BIN/helm" ]] || fail "$OSMOSIS_TOOLS_BIN/helm missing: run hack/tools/build.sh first"
export PATH="$OSMOSIS_TOOLS_BIN:$PATH"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/osmosis-charttest.XXXXXX")"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
_cleanup() {
  local rc=$?
  rm -rf "$WORK"
  if ((rc == 0)); then echo "PASS: $TEST_NAME"; else echo "FAIL: $TEST_NAME (exit $rc)" >&2; fi
}
trap _cleanup EXIT

# render [helm template flags...]: the manifests on stdout (fails the test if helm refuses).
render() {
  local out
  out="$(helm template osmo "$CHART" --namespace osmosis-system --kube-version 1.35.4 "$@" 2>&1)" ||
    fail "helm template $* refused: $out"
  printf '%s\n' "$out"
}

out="$(helm lint --strict "$CHART" 2>&1)" || fail "helm lint --strict: $out"
out="$(helm lint --strict "$CHART" --set replicaCount=2 --set 'watchNamespaces={shop,billing}' \
  --set nats.auth.type=creds --set nats.auth.secretName=nats-creds 2>&1)" ||
  fail "helm lint --strict with non-default values: $out"
out="$(helm lint --strict "$CHART" --set gateway.enabled=true 2>&1)" || fail "helm lint --strict with the gateway: $out"
out="$(helm lint --strict "$CHART" --set gateway.enabled=true --set gateway.replicaCount=1 --set 'watchNamespaces={shop,billing}' \
  --set nats.auth.type=token --set nats.auth.secretName=nats-token --set gateway.signingKey.existingSecret=gw-key 2>&1)" ||
  fail "helm lint --strict with the gateway and non-default values: $out"
info "helm lint --strict passes (default and non-default values, with and without the gateway)"

"$REPO_ROOT/hack/chart/crds.sh" --check >/dev/null || fail "the CRD templates are stale: run hack/chart/crds.sh"
"$REPO_ROOT/hack/chart/schema.py" --check >/dev/null || fail "values.schema.json is stale: run hack/chart/schema.py"

# The rendered CRD is crds/ itself, plus only the chart's labels and annotations.
for crd in "$REPO_ROOT"/crds/*.yaml; do
  tpl="templates/crds/$(basename "$crd")"
  render --show-only "$tpl" >"$WORK/kept.yaml"
  render --show-only "$tpl" --set crds.keep=false >"$WORK/unkept.yaml"
  python3 - "$crd" "$WORK/kept.yaml" "$WORK/unkept.yaml" <<'PY' || fail "rendered $tpl differs from $crd"
import sys, yaml
src, kept, unkept = (yaml.safe_load(open(p)) for p in sys.argv[1:])
for name, doc in (("kept", kept), ("unkept", unkept)):
    for key in ("apiVersion", "kind", "spec"):
        assert doc[key] == src[key], f"{name}: {key} differs"
    assert doc["metadata"]["name"] == src["metadata"]["name"]
    for k, v in src["metadata"].get("labels", {}).items():
        assert doc["metadata"]["labels"].get(k) == v, f"{name}: label {k}"
assert kept["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep", "crds.keep=true: no keep annotation"
assert "helm.sh/resource-policy" not in unkept["metadata"]["annotations"], "crds.keep=false: still kept"
PY
  [[ -z "$(render --set crds.install=false | grep -n 'kind: CustomResourceDefinition' || true)" ]] ||
    fail "crds.install=false still renders a CRD"
done
info "the rendered CRD equals crds/ (keep annotation only with crds.keep; none with crds.install=false)"

# refused 'WHAT' 'EXPECTED MESSAGE (regex)' helm flags...
refused() {
  local what="$1" want="$2" out
  shift 2
  if out="$(helm template osmo "$CHART" --kube-version 1.35.4 "$@" 2>&1)"; then
    fail "$what was accepted (helm template $*)"
  fi
  grep -Eq -- "$want" <<<"$out" || fail "$what: refused, but the message does not say /$want/: $out"
}
refused "an unknown top-level key" "additional properties 'replicas' not allowed" --set replicas=2
refused "an unknown nested key (typo)" "image.*additional properties 'tga' not allowed" --set image.tga=1.0
refused "an unknown key under sidecar.resources" "additional properties 'cpus' not allowed" --set sidecar.resources.requests.cpus=1
refused "a string for an integer" "replicaCount.*got string, want integer" --set-string replicaCount=two
refused "a number for a boolean" "crds/install.*got number, want boolean" --set crds.install=1
refused "a bad log level" "logLevel.*value must be one of 'debug', 'info', 'warn', 'error'" --set logLevel=loud
refused "a bad NATS auth type" "nats/auth/type.*value must be one of" --set nats.auth.type=password
refused "a bad pull policy" "pullPolicy.*value must be one of" --set image.pullPolicy=Sometimes
refused "a namespace watched twice" "watchNamespaces.*items at 0 and 1 are equal" --set 'watchNamespaces={a,a}'
refused "a namespace that is no name" "watchNamespaces/0.*does not match pattern" --set 'watchNamespaces={Shop_1}'
refused "a second namespace that is no name" "watchNamespaces/1.*does not match pattern" --set 'watchNamespaces={shop,a b}'
refused "a duration without a unit" "leaseDuration.*got number, want string" --set leaderElection.leaseDuration=15
refused "a bad duration" "leaseDuration.*does not match pattern" --set leaderElection.leaseDuration=15sec
refused "a tolerance band of 100%" "scalingTolerance.*0.9" --set operator.scalingTolerance=1
refused "a tolerance band of 95% (as --set passes it, text)" "scalingTolerance.*does not match pattern" \
  --set operator.scalingTolerance=0.95
refused "a headroom below 1 (text)" "scalingHeadroom.*does not match pattern" --set operator.scalingHeadroom=0.8
refused "a headroom above 10" "scalingHeadroom.*10" --set-json operator.scalingHeadroom=10.5
refused "an idle release without a unit" "idleWindowRelease.*got number, want string" --set operator.idleWindowRelease=30
refused "a bad quantity" "sidecar/resources/limits/memory" --set sidecar.resources.limits.memory=lots
refused "credentials in a sidecar URL" "sidecar/natsUrls/0.*does not match pattern" --set 'sidecar.natsUrls={nats://u:p@nats:4222}'
refused "auth without its Secret" "set nats.auth.secretName" --set nats.auth.type=token
refused "a ServiceMonitor without the Service" "needs metrics.service.enabled" \
  --set metrics.serviceMonitor.enabled=true --set metrics.service.enabled=false
refused "an unknown gateway key" "at '/gateway'.*additional properties 'replicas' not allowed" --set gateway.replicas=3
refused "an unknown gateway service key" "at '/gateway/service'.*additional properties 'targetPort' not allowed" --set gateway.service.targetPort=80
refused "a bad gateway Service type" "gateway/service/type.*value must be one of" --set gateway.service.type=Ingress
refused "a gateway wait without a unit" "gateway/maxWait.*got number, want string" --set gateway.maxWait=60
refused "a bad gateway keepalive" "gateway/keepalive.*does not match pattern" --set gateway.keepalive=often
refused "zero gateway replicas" "gateway/replicaCount.*minimum" --set gateway.replicaCount=0
refused "a gateway node port out of range" "gateway/service/nodePort" --set gateway.service.nodePort=80
refused "an empty signing key name" "gateway/signingKey/existingSecretKey" --set gateway.signingKey.existingSecretKey=
refused "a string for gateway.enabled" "gateway/enabled.*got string, want boolean" --set-string gateway.enabled=yes
refused "a gateway ServiceMonitor without its Service" "needs gateway.metrics.service.enabled" --set gateway.enabled=true \
  --set gateway.metrics.serviceMonitor.enabled=true --set gateway.metrics.service.enabled=false
refused "gateway NATS auth without its Secret" "set nats.auth.secretName" --set gateway.enabled=true --set nats.auth.type=creds
render --set global.anything.at.all=1 --set global.imagePullSecrets[0].name=reg >/dev/null
info "the schema refuses unknown keys, wrong types and bad enums by name; anything goes under global"

# What the templates promise, in their output.
render --skip-tests >"$WORK/default.yaml"
render --skip-tests --set replicaCount=2 --set 'watchNamespaces={shop,billing}' --set "image.digest=sha256:$(printf 'a%.0s' {1..64})" \
  --set 'extraArgs={--kube-api-qps=20}' --set 'extraEnv[0].name=X' --set 'extraEnv[0].value=y' \
  --set nats.tls.secretName=nats-tls --set nats.tls.clientCert=true --set nats.auth.type=userPassword \
  --set nats.auth.secretName=nats-auth --set priorityClassName=system-cluster-critical \
  --set 'tolerations[0].operator=Exists' --set 'nodeSelector.disk=ssd' \
  --set 'topologySpreadConstraints[0].maxSkew=1' --set 'topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname' \
  --set 'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway' \
  --set 'topologySpreadConstraints[0].labelSelector.matchLabels.app=x' \
  --set metrics.serviceMonitor.enabled=true --set sidecar.resources.limits.cpu=500m \
  --set sidecar.resources.requests.memory= --set operator.scalingTolerance=0.2 \
  --set operator.idleWindowRelease=25s --set operator.scalingHeadroom=1.15 >"$WORK/custom.yaml"
python3 - "$WORK/default.yaml" "$WORK/custom.yaml" <<'PY' || fail "a promise of the templates does not hold (above)"
import sys, yaml
def load(p): return [d for d in yaml.safe_load_all(open(p)) if d]
default, custom = load(sys.argv[1]), load(sys.argv[2])
def kinds(docs, kind): return [d for d in docs if d["kind"] == kind]
def check(cond, msg):
    if not cond:
        print("template check failed:", msg, file=sys.stderr); sys.exit(1)
for name, docs in (("default", default), ("custom", custom)):
    dep = kinds(docs, "Deployment")[0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check("--leader-elect=true" in c["args"], f"{name}: leader election not on")
    check(pod["securityContext"]["runAsNonRoot"] is True, f"{name}: runAsNonRoot")
    check(pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", f"{name}: seccomp")
    sc = c["securityContext"]
    check(sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
          and sc["capabilities"]["drop"] == ["ALL"], f"{name}: container securityContext {sc}")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and
          c["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{name}: probes")
    check(c["resources"]["requests"] and c["resources"]["limits"], f"{name}: resources")
    for d in docs:
        for rule in d.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                check("*" not in rule.get(field, []), f"{name}: wildcard in {d['kind']} {d['metadata']['name']}: {rule}")
            if "secrets" in rule["resources"]:
                check(rule["verbs"] == ["get"], f"{name}: secrets verbs {rule['verbs']}")
            if any(r.endswith("/scale") for r in rule["resources"]):
                check(all(r.endswith("/scale") for r in rule["resources"]), f"{name}: scale rule mixes kinds: {rule}")
            if "deployments" in rule["resources"]:
                check("delete" not in rule["verbs"] and "create" not in rule["verbs"], f"{name}: deployments {rule}")
check(not kinds(default, "PodDisruptionBudget"), "default (1 replica): a PDB")
check(kinds(custom, "PodDisruptionBudget"), "replicaCount=2: no PDB")
# Cluster-wide by default; namespaced mode: Roles in the watched namespace, only the
# aggregated ClusterRoles for people stay cluster-wide.
check(kinds(default, "ClusterRoleBinding"), "default: no ClusterRoleBindings")
check(not kinds(custom, "ClusterRoleBinding"), "namespaced: a ClusterRoleBinding")
check({r["metadata"]["name"] for r in kinds(custom, "ClusterRole")} == {"osmo-osmosis-view", "osmo-osmosis-edit"},
      "namespaced: ClusterRoles other than the aggregated view/edit")
check({r["metadata"]["namespace"] for r in kinds(custom, "RoleBinding")} == {"shop", "billing", "osmosis-system"},
      "namespaced: RoleBindings outside shop, billing and the release namespace")
for ns in ("shop", "billing"):
    names = {r["metadata"]["name"] for r in kinds(custom, "Role") if r["metadata"]["namespace"] == ns}
    check(names >= {f"osmo-osmosis-{c}" for c in ("channels", "inject", "scale", "events", "secrets")},
          f"namespaced: the Roles in {ns} are {sorted(names)}")
lease = [r for r in kinds(default, "Role") if r["metadata"]["name"].endswith("leader-election")][0]
check(lease["metadata"]["namespace"] == "osmosis-system", "lease Role not in the release namespace")
check(any(r.get("resourceNames") == ["osmo-osmosis"] for r in lease["rules"]), "lease Role not by name")
c = kinds(custom, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
check([a for a in c["args"] if a.startswith("--watch-namespace")] == ["--watch-namespace=shop", "--watch-namespace=billing"],
      f"custom: one --watch-namespace per watched namespace: {c['args']}")
for arg in ("--kube-api-qps=20", "--nats-tls-ca=/etc/osmosis/nats-tls/ca.crt",
            "--nats-tls-cert=/etc/osmosis/nats-tls/tls.crt", "--sidecar-cpu-limit=500m", "--sidecar-memory-request=none",
            "--scaling-tolerance=0.2", "--idle-window-release=25s", "--scaling-headroom=1.15"):
    check(arg in c["args"], f"custom: {arg} missing from {c['args']}")
check(c["image"].endswith("@sha256:" + "a" * 64), f"custom: digest not used: {c['image']}")
check({e["name"] for e in c["env"]} >= {"X", "OSMOSIS_NATS_USER", "OSMOSIS_NATS_PASSWORD", "POD_NAME"}, "custom: env")
check(kinds(custom, "ServiceMonitor"), "custom: no ServiceMonitor")
d = kinds(default, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
check(d["image"] == "ghcr.io/osmosis-dev/osmosis-operator:0.1.0", f"default image {d['image']}")
check("--sidecar-image=ghcr.io/osmosis-dev/osmosis-sidecar:0.1.0" in d["args"], "default sidecar image")
for arg in ("--scaling-headroom=1.2", "--scaling-tolerance=0.1", "--idle-window-release=0s"):
    check(arg in d["args"], f"default: {arg} missing from {d['args']}")
PY
# The gateway: off by default; on, restricted, read-only, probes on its metrics port, its own
# least-privilege RBAC (Channels read, Secrets get) cluster-wide or per watched namespace, the
# signing key as a read-only file from a generated (or the user's) Secret.
render --skip-tests --set gateway.enabled=true >"$WORK/gw-default.yaml"
render --skip-tests --set gateway.enabled=true --set gateway.replicaCount=1 --set 'watchNamespaces={shop,billing}' \
  --set gateway.signingKey.existingSecret=gw-key --set gateway.signingKey.existingSecretKey=hmac \
  --set nats.tls.secretName=nats-tls --set nats.tls.clientCert=true --set nats.auth.type=creds --set nats.auth.secretName=nats-creds \
  --set gateway.service.type=NodePort --set gateway.service.nodePort=30080 --set gateway.metrics.serviceMonitor.enabled=true \
  --set 'gateway.extraArgs={--context=ctx}' --set "gateway.image.digest=sha256:$(printf 'b%.0s' {1..64})" >"$WORK/gw-custom.yaml"
render --skip-tests --set gateway.enabled=true --set 'rbac.secretNamespaces={shop}' --set gateway.maxBodyBytes=67108864 >"$WORK/gw-secretns.yaml"
python3 - "$WORK/default.yaml" "$WORK/gw-default.yaml" "$WORK/gw-custom.yaml" "$WORK/gw-secretns.yaml" <<'PY' || fail "a promise of the gateway templates does not hold (above)"
import base64, sys, yaml
def load(p): return [d for d in yaml.safe_load_all(open(p)) if d]
off, on, custom, secretns = (load(p) for p in sys.argv[1:])
def check(cond, msg):
    if not cond:
        print("gateway template check failed:", msg, file=sys.stderr); sys.exit(1)
def gw(docs): return [d for d in docs if d["metadata"]["name"].startswith("osmo-osmosis-gateway")]
def one(docs, kind, name="osmo-osmosis-gateway"):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    check(len(found) == 1, f"{kind} {name}: {len(found)} rendered")
    return found[0]
check(not gw(off), f"gateway disabled, yet rendered: {[d['kind'] for d in gw(off)]}")
for name, docs in (("default", on), ("custom", custom)):
    dep = one(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    check(dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway", f"{name}: selector")
    check(pod["serviceAccountName"] == "osmo-osmosis-gateway", f"{name}: ServiceAccount {pod['serviceAccountName']}")
    check(pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
          f"{name}: pod securityContext")
    (c,) = pod["containers"]
    sc = c["securityContext"]
    check(sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
          and sc["capabilities"]["drop"] == ["ALL"], f"{name}: container securityContext {sc}")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports == {"http": 8080, "http-metrics": 9090}, f"{name}: ports {ports}")
    check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"} and
          c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}, f"{name}: probes")
    check(c["resources"]["requests"] and c["resources"]["limits"]["memory"], f"{name}: resources")
    for a in ("--listen=0.0.0.0:8080", "--health-listen=0.0.0.0:9090", "--signing-key-file=/etc/osmosis/gateway/signing-key",
              "--max-body-bytes=1048576", "--max-wait=60s", "--max-streams-per-client=16", "--max-connections=10000",
              "--keepalive=15s", "--stream-idle-timeout=10m", "--threads=1", "--workers=16",
              "--nats-url=nats://nats.nats-system:4222"):
        check(a in c["args"], f"{name}: {a} missing from {c['args']}")
    # Nothing writable: every volume is a Secret, every mount read-only.
    check(all("secret" in v for v in pod["volumes"]), f"{name}: a volume that is no Secret: {pod['volumes']}")
    check(all(m.get("readOnly") is True for m in c["volumeMounts"]), f"{name}: a writable mount: {c['volumeMounts']}")
    key = [v for v in pod["volumes"] if v["name"] == "signing-key"][0]["secret"]
    check(key["defaultMode"] == 0o440 and key["items"][0]["path"] == "signing-key", f"{name}: signing key volume {key}")
    svc = one(docs, "Service")
    check(svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                    **({"nodePort": 30080} if name == "custom" else {})}], f"{name}: Service {svc['spec']}")
    check(svc["spec"]["selector"]["app.kubernetes.io/component"] == "gateway", f"{name}: Service selector")
    m = one(docs, "Service", "osmo-osmosis-gateway-metrics")["spec"]["ports"]
    check(m == [{"name": "http-metrics", "port": 9090, "targetPort": "http-metrics", "protocol": "TCP"}], f"{name}: metrics Service {m}")
    one(docs, "ServiceAccount")
    for d in gw(docs):
        for rule in d.get("rules", []):
            allowed = {"channels": ["get", "list", "watch"], "secrets": ["get"]}
            check(rule["apiGroups"] in (["osmosis.dev"], [""]) and len(rule["resources"]) == 1
                  and rule["verbs"] == allowed.get(rule["resources"][0]), f"{name}: gateway rule {rule}")
# default: cluster-wide, 2 replicas with a PDB, the key generated (>= 32 bytes) and mounted
d = one(on, "Deployment")
check(d["spec"]["replicas"] == 2, "default: 2 gateway replicas")
check(one(on, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway", "default: PDB selector")
check({r["metadata"]["name"] for r in on if r["kind"] == "ClusterRoleBinding" and "gateway" in r["metadata"]["name"]}
      == {"osmo-osmosis-gateway-channels", "osmo-osmosis-gateway-secrets"}, "default: gateway ClusterRoleBindings")
sec = one(on, "Secret", "osmo-osmosis-gateway-signing-key")
check(len(base64.b64decode(sec["data"]["signing-key"])) >= 32, "default: signing key under 32 bytes")
vol = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "signing-key"][0]["secret"]
check(vol["secretName"] == "osmo-osmosis-gateway-signing-key" and vol["items"][0]["key"] == "signing-key", f"default: {vol}")
# custom: namespaced (Roles in shop and billing only), the user's Secret, NATS files, no PDB at 1
d = one(custom, "Deployment")
c = d["spec"]["template"]["spec"]["containers"][0]
check([a for a in c["args"] if a.startswith("--watch-namespace")] == ["--watch-namespace=shop", "--watch-namespace=billing"],
      f"custom: gateway --watch-namespace: {c['args']}")
for a in ("--nats-tls-ca=/etc/osmosis/nats-tls/ca.crt", "--nats-tls-cert=/etc/osmosis/nats-tls/tls.crt",
          "--nats-creds=/etc/osmosis/nats-auth/creds", "--context=ctx"):
    check(a in c["args"], f"custom: {a} missing from {c['args']}")
check(c["image"].endswith("/osmosis-dev/osmosis-gateway@sha256:" + "b" * 64), f"custom: image {c['image']}")
check(not [x for x in custom if x["kind"] == "Secret"], "custom: a Secret rendered although existingSecret is set")
vol = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "signing-key"][0]["secret"]
check(vol["secretName"] == "gw-key" and vol["items"][0]["key"] == "hmac", f"custom: signing key volume {vol}")
check(not [x for x in gw(custom) if x["kind"] in ("ClusterRole", "ClusterRoleBinding", "PodDisruptionBudget")],
      "custom: a gateway ClusterRole(Binding) or PDB in namespaced mode with 1 replica")
roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in gw(custom) if r["kind"] in ("Role", "RoleBinding")}
check(roles == {(ns, f"osmo-osmosis-gateway-{c}") for ns in ("shop", "billing") for c in ("channels", "secrets")},
      f"custom: gateway Roles {sorted(roles)}")
check(one(custom, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "http-metrics", "custom: gateway ServiceMonitor")
# rbac.secretNamespaces: Channels cluster-wide, Secrets only there
kinds = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]) for r in gw(secretns) if "Role" in r["kind"]}
check(kinds == {("ClusterRole", None, "osmo-osmosis-gateway-channels"), ("ClusterRoleBinding", None, "osmo-osmosis-gateway-channels"),
                ("Role", "shop", "osmo-osmosis-gateway-secrets"), ("RoleBinding", "shop", "osmo-osmosis-gateway-secrets")},
      f"secretNamespaces: {sorted(kinds, key=str)}")
c = one(secretns, "Deployment")["spec"]["template"]["spec"]["containers"][0]
check("--max-body-bytes=67108864" in c["args"], f"a large maxBodyBytes not rendered as an integer: {c['args']}")
PY
info "gateway: off by default; on: restricted, read-only mounts only, probes, PDB above 1, Service http 80, RBAC read-only (cluster-wide, namespaced, secretNamespaces), signing key generated or the user's"

# helm test cleans up after itself through Helm's hook order: the Channel is created before
# the pod (a lower weight) and, like the pod, deleted by Helm once the test has passed.
render --set 'watchNamespaces={shop,billing}' >"$WORK/tests.yaml"
python3 - "$WORK/tests.yaml" <<'PY' || fail "the helm test hooks do not clean up as promised (above)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def check(cond, msg):
    if not cond:
        print("test hook check failed:", msg, file=sys.stderr); sys.exit(1)
hooks = {d["kind"]: d for d in docs if (d["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"}
check(set(hooks) == {"Channel", "Pod"}, f"test hooks: {sorted(hooks)}")
ch, pod = hooks["Channel"]["metadata"], hooks["Pod"]["metadata"]
check(ch["namespace"] == "shop", f"test Channel in {ch['namespace']}, not the first watched namespace")
for m in (ch, pod):
    policy = m["annotations"]["helm.sh/hook-delete-policy"].split(",")
    check(sorted(policy) == ["before-hook-creation", "hook-succeeded"], f"{m['name']}: hook-delete-policy {policy}")
check(int(ch["annotations"]["helm.sh/hook-weight"]) < int(pod["annotations"].get("helm.sh/hook-weight", "0")),
      "the Channel is not created before the pod")
PY
info "helm test: the Channel before the pod, both deleted by Helm when the test passed"

# The operator itself accepts every flag the chart renders: it gets as far as reading its
# (missing) kubeconfig, which it only does once every flag has passed.
operator="${OSMOSIS_OPERATOR_BIN:?OSMOSIS_OPERATOR_BIN: the osmosis-operator binary (set by ctest)}"
# The files the chart mounts, where the operator can find them here.
mkdir -p "$WORK/etc/osmosis/nats-tls" "$WORK/etc/osmosis/nats-auth"
for f in nats-tls/ca.crt nats-tls/tls.crt nats-tls/tls.key nats-auth/creds; do
  printf 'placeholder\n' >"$WORK/etc/osmosis/$f"
done
for values in default custom; do
  mapfile -t args < <(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment":
        print("\n".join(d["spec"]["template"]["spec"]["containers"][0]["args"]))' "$WORK/$values.yaml")
  ((${#args[@]} > 10)) || fail "$values: could not read the operator's args"
  args=("${args[@]//\/etc\/osmosis\//$WORK/etc/osmosis/}")
  out="$(timeout 20 "$operator" "${args[@]}" --kubeconfig "$WORK/no-kubeconfig" 2>&1)" && fail "$values: the operator started without a kubeconfig"
  grep -q "kubeconfig: cannot read $WORK/no-kubeconfig" <<<"$out" ||
    fail "$values: the operator refuses the chart's flags: $out (args: ${args[*]})"
done
info "the operator accepts the flags the chart renders (default and non-default values)"

# The gateway likewise: it checks every flag and reads its signing key before the kubeconfig.
gateway="${OSMOSIS_GATEWAY_BIN:?OSMOSIS_GATEWAY_BIN: the osmosis-gateway binary (set by ctest)}"
mkdir -p "$WORK/etc/osmosis/gateway"
head -c 64 /dev/urandom >"$WORK/etc/osmosis/gateway/signing-key"
for values in gw-default gw-custom gw-secretns; do
  mapfile -t args < <(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-gateway"):
        print("\n".join(d["spec"]["template"]["spec"]["containers"][0]["args"]))' "$WORK/$values.yaml")
  ((${#args[@]} > 10)) || fail "$values: could not read the gateway's args"
  args=("${args[@]//\/etc\/osmosis\//$WORK/etc/osmosis/}")
  out="$(timeout 20 "$gateway" "${args[@]}" --kubeconfig "$WORK/no-kubeconfig" 2>&1)" && fail "$values: the gateway started without a kubeconfig"
  grep -q "kubeconfig: cannot read $WORK/no-kubeconfig" <<<"$out" ||
    fail "$values: the gateway refuses the chart's flags: $out (args: ${args[*]})"
done
# (and it would refuse what the schema lets through but it does not take: the check can fail)
out="$(timeout 20 "$gateway" --signing-key-file "$WORK/etc/osmosis/gateway/signing-key" --max-wait=61s --kubeconfig "$WORK/no-kubeconfig" 2>&1)" || true
grep -q -- '--max-wait' <<<"$out" || fail "the gateway took --max-wait=61s: $out"
info "the gateway accepts the flags the chart renders (default, namespaced with NATS files, secretNamespaces)"
info "templates: leader election on, restricted pod, probes, PDB only above 1, RBAC without wildcards, secrets get-only, Roles in namespaced mode"
