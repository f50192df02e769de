#!/usr/bin/env bash
# Prints the manifest of nats-server with JetStream for a cluster: a ConfigMap, a headless
# Service (stable pod names for routes), a client Service `nats` and a StatefulSet.
#
#   hack/manifests/nats.sh [--replicas N] [--namespace NS] [--image IMAGE] | kubectl apply -f -
#
# One replica is a standalone JetStream server. With N > 1 (use 3, or 5) the config names a
# route to every pod (nats-0.nats-headless..., as the NATS Helm chart does): JetStream needs
# its peers known from the start, and a cluster block with routes to peers that never come
# would leave JetStream without a quorum. Scaling between 1 and N therefore means applying
# the manifest again with the new --replicas.
set -euo pipefail

replicas=1 ns=osmosis-system image=localhost/osmosis/nats-server:dev
while (($#)); do
  case "$1" in
    --replicas) replicas="${2:?--replicas needs a number}"; shift 2 ;;
    --namespace) ns="${2:?--namespace needs a name}"; shift 2 ;;
    --image) image="${2:?--image needs an image}"; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nats.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$replicas" =~ ^[1-9][0-9]*$ ]] || { echo "nats.sh: --replicas must be a positive number, got '$replicas'" >&2; exit 2; }

cluster_block=""
if ((replicas > 1)); then
  routes=""
  for ((i = 0; i < replicas; i++)); do
    routes+="${routes:+, }nats://nats-$i.nats-headless.$ns.svc.cluster.local:6222"
  done
  cluster_block="    cluster {
      name: osmosis
      listen: 0.0.0.0:6222
      routes: [$routes]
    }"
fi

cat <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: nats-config, namespace: $ns}
data:
  nats.conf: |
    server_name: \$POD_NAME
    port: 4222
    pid_file: /tmp/nats.pid
    http_port: 8222
    lame_duck_duration: 30s
    lame_duck_grace_period: 2s
    jetstream {
      store_dir: /data
      max_memory_store: 128MB
      max_file_store: 1GB
    }
$cluster_block
---
apiVersion: v1
kind: Service
metadata: {name: nats-headless, namespace: $ns, labels: {app: nats}}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: nats}
  ports:
  - {name: client, port: 4222}
  - {name: cluster, port: 6222}
  - {name: monitor, port: 8222}
---
apiVersion: v1
kind: Service
metadata: {name: nats, namespace: $ns, labels: {app: nats}}
spec:
  selector: {app: nats}
  ports:
  - {name: client, port: 4222}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: nats, namespace: $ns, labels: {app: nats}}
spec:
  serviceName: nats-headless
  replicas: $replicas
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: nats}}
  template:
    metadata: {labels: {app: nats}}
    spec:
      terminationGracePeriodSeconds: 60
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}
      containers:
      - name: nats
        image: $image
        imagePullPolicy: IfNotPresent
        args: [--config, /etc/nats/nats.conf]
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports:
        - {name: client, containerPort: 4222}
        - {name: cluster, containerPort: 6222}
        - {name: monitor, containerPort: 8222}
        # healthz?js-enabled-only: up, and JetStream enabled (not waiting for a meta leader).
        startupProbe: {httpGet: {path: /healthz, port: 8222}, periodSeconds: 1, failureThreshold: 90}
        readinessProbe: {httpGet: {path: "/healthz?js-enabled-only=true", port: 8222}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: "/healthz?js-enabled-only=true", port: 8222}, periodSeconds: 10}
        # Lame duck mode on stop: clients move to another server before this one goes.
        lifecycle: {preStop: {exec: {command: [/nats-server, --signal, "ldm=/tmp/nats.pid"]}}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
        volumeMounts:
        - {name: config, mountPath: /etc/nats}
        - {name: data, mountPath: /data}
        - {name: tmp, mountPath: /tmp}
      volumes:
      - name: config
        configMap: {name: nats-config}
      - name: tmp
        emptyDir: {}
      # emptyDir: the test cluster has no storage provisioner; a real one uses a
      # volumeClaimTemplate here.
      - name: data
        emptyDir: {}
YAML
