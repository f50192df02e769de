#!/usr/bin/env python3
"""Writes helm/osmosis/values.schema.json (or, with --check, exits 1 if it differs).

The schema refuses unknown keys (additionalProperties: false) everywhere except under
`global` (umbrella charts put their own keys there), checks types and enums, and gives every
value a description. Kubernetes objects passed through (affinity, tolerations, ...) are
checked for their top-level shape only; the API server checks the rest.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "helm/osmosis/values.schema.json"


def obj(desc, props, required=()):
    s = {"type": "object", "description": desc, "additionalProperties": False, "properties": props}
    if required:
        s["required"] = list(required)
    return s


def string(desc, **kw):
    return {"type": "string", "description": desc, **kw}


def boolean(desc):
    return {"type": "boolean", "description": desc}


def integer(desc, **kw):
    return {"type": "integer", "description": desc, **kw}


def string_map(desc):
    return {"type": "object", "description": desc, "additionalProperties": {"type": "string"}}


def free_object(desc):
    return {"type": "object", "description": desc}


def free_array(desc):
    return {"type": "array", "description": desc, "items": {"type": "object"}}


DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"}
QUANTITY_OR_EMPTY = {
    "type": "string",
    "pattern": r"^(([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)?$",
}
DNS_LABEL = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", "maxLength": 63}


def duration(desc):
    return {**DURATION, "description": desc + " (a duration: 500ms, 15s, 1m30s)"}


def decimal(desc, minimum, maximum, as_text):
    # A number, or the same as text: `helm --set x=1.1` passes a fraction as a string (only
    # whole numbers become numbers), and a user should not need --set-json for it.
    return {"description": f"{desc} ({minimum}..{maximum})",
            "anyOf": [{"type": "number", "minimum": minimum, "maximum": maximum},
                      {"type": "string", "pattern": as_text}]}


def quantity(desc):
    return {"description": desc + " (a quantity: 50m, 0.5, 64Mi)",
            "anyOf": [QUANTITY_OR_EMPTY, {"type": "number", "minimum": 0}]}


def image(desc, pull_policy=False):
    props = {
        "registry": string("Registry host (empty: none)"),
        "repository": string("Repository", minLength=1),
        "tag": {"description": "Tag (empty: the chart's appVersion)", "type": ["string", "number"]},
        "digest": string("Digest; wins over the tag", pattern=r"^(sha256:[a-f0-9]{64})?$"),
    }
    if pull_policy:
        props["pullPolicy"] = string("Image pull policy", enum=["Always", "IfNotPresent", "Never"])
    return obj(desc, props, required=["repository"])


def resources(desc):
    amounts = lambda d: obj(d, {"cpu": quantity("CPU"), "memory": quantity("Memory"),
                                "ephemeral-storage": quantity("Ephemeral storage")})
    return obj(desc, {"requests": amounts("Requests"), "limits": amounts("Limits")})


SECCOMP = obj("seccomp profile", {
    "type": string("Profile type", enum=["RuntimeDefault", "Localhost", "Unconfined"]),
    "localhostProfile": string("Profile file on the node (type Localhost)"),
})
COMMON_SC = {
    "runAsNonRoot": boolean("Refuse to start as UID 0"),
    "runAsUser": integer("UID", minimum=0),
    "runAsGroup": integer("GID", minimum=0),
    "seccompProfile": SECCOMP,
    "seLinuxOptions": free_object("SELinux options"),
    "appArmorProfile": free_object("AppArmor profile"),
    "windowsOptions": free_object("Windows options"),
}
POD_SC = obj("Pod security context (restricted Pod Security Standard by default)", {
    **COMMON_SC,
    "fsGroup": integer("Group owning mounted volumes", minimum=0),
    "fsGroupChangePolicy": string("When to change volume ownership", enum=["OnRootMismatch", "Always"]),
    "supplementalGroups": {"type": "array", "items": {"type": "integer"}, "description": "Extra GIDs"},
    "supplementalGroupsPolicy": string("Supplemental groups policy", enum=["Merge", "Strict"]),
    "seLinuxChangePolicy": string("SELinux relabelling policy"),
    "sysctls": free_array("Namespaced sysctls"),
})
CONTAINER_SC = obj("Container security context (restricted by default)", {
    **COMMON_SC,
    "allowPrivilegeEscalation": boolean("Allow setuid binaries to gain privileges"),
    "readOnlyRootFilesystem": boolean("Mount the root filesystem read-only"),
    "privileged": boolean("Privileged container (breaks the restricted standard)"),
    "procMount": string("/proc mount type", enum=["Default", "Unmasked"]),
    "capabilities": obj("Linux capabilities", {
        "add": {"type": "array", "items": {"type": "string"}, "description": "Capabilities added"},
        "drop": {"type": "array", "items": {"type": "string"}, "description": "Capabilities dropped"},
    }),
})
PROBE = lambda d: obj(d, {
    "initialDelaySeconds": integer("Seconds before the first probe", minimum=0),
    "periodSeconds": integer("Seconds between probes", minimum=1),
    "timeoutSeconds": integer("Seconds a probe may take", minimum=1),
    "failureThreshold": integer("Failures in a row that count", minimum=1),
    "successThreshold": integer("Successes in a row that count", minimum=1),
})
KINDS = {
    "type": "array",
    "items": obj("API group and resources", {
        "apiGroup": string("API group ('' for the core group)"),
        "resources": {"type": "array", "minItems": 1, "description": "Plural resource names",
                      "items": {"type": "string", "pattern": r"^[a-z0-9.-]+$"}},
    }, required=["apiGroup", "resources"]),
}


def METRICS(desc):
    return obj(desc, {
        "port": integer("Port of /metrics, /healthz, /readyz in the pod", minimum=1024, maximum=65535),
        "service": obj("The metrics Service", {
            "enabled": boolean("Create it"),
            "type": string("Service type", enum=["ClusterIP", "NodePort", "LoadBalancer"]),
            "port": integer("Service port", minimum=1, maximum=65535),
            "annotations": string_map("Service annotations"),
        }),
        "serviceMonitor": obj("prometheus-operator ServiceMonitor", {
            "enabled": boolean("Create it"),
            "namespace": string("Its namespace (empty: the release's)"),
            "interval": duration("Scrape interval"),
            "scrapeTimeout": duration("Scrape timeout"),
            "labels": string_map("Its labels (for the Prometheus selector)"),
        }),
    })


def PDB(desc):
    return obj(desc, {
        "enabled": boolean("Create it"),
        "minAvailable": {"description": "Pods that must stay", "anyOf": [
            {"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+%$"}]},
    })


def SERVICE_ACCOUNT(desc):
    return obj(desc, {
        "create": boolean("Create it"),
        "name": string("Its name (empty: the default name)"),
        "annotations": string_map("Its annotations"),
    })


AFFINITY = obj("Affinity", {"nodeAffinity": free_object("Node affinity"),
                            "podAffinity": free_object("Pod affinity"),
                            "podAntiAffinity": free_object("Pod anti-affinity")})
EXTRA_ENV = {"type": "array", "description": "Extra environment variables",
             "items": {"type": "object", "required": ["name"],
                       "properties": {"name": string("Variable name", minLength=1)}}}

GATEWAY = obj("The gateway (osmosis-gateway): HTTP into Channels, results pushed back", {
    "enabled": boolean("Install it"),
    "replicaCount": integer("Gateway replicas (stateless)", minimum=1, maximum=100),
    "image": image("The gateway image", pull_policy=True),
    "serviceAccount": SERVICE_ACCOUNT("The gateway's ServiceAccount"),
    "port": integer("Port of the public API in the pod (--listen)", minimum=1024, maximum=65535),
    "service": obj("The gateway's Service (port named http)", {
        "type": string("Service type", enum=["ClusterIP", "NodePort", "LoadBalancer"]),
        "port": integer("Service port", minimum=1, maximum=65535),
        "nodePort": {"description": "NodePort type: a fixed node port (empty: allocated)",
                     "anyOf": [{"type": "integer", "minimum": 30000, "maximum": 32767},
                               {"type": "string", "maxLength": 0}]},
        "annotations": string_map("Service annotations"),
    }),
    "signingKey": obj("The HMAC key of per-request tokens (a Secret, mounted as a file)", {
        "existingSecret": string("A Secret in the release namespace (empty: generated once, kept on upgrades)"),
        "existingSecretKey": string("The key in that Secret", minLength=1, pattern=r"^[-._a-zA-Z0-9]+$"),
    }),
    "logLevel": string("Gateway log level", enum=["debug", "info", "warn", "error"]),
    "maxBodyBytes": integer("Largest request body (413 above)", minimum=1, maximum=67108864),
    "maxWait": duration("Longest Prefer: wait honoured, 0s..60s"),
    "maxStreamsPerClient": integer("Concurrent event streams per client address", minimum=1, maximum=100000),
    "maxConnections": integer("Open connections per replica", minimum=16, maximum=1000000),
    "keepalive": duration("Keep-alive comment interval on event streams, 1s..5m"),
    "streamIdleTimeout": duration("An event stream without an event is closed after this, 10s..24h"),
    "threads": integer("HTTP threads per replica", minimum=1, maximum=64),
    "workers": integer("Threads per replica that publish and read NATS for requests", minimum=1, maximum=256),
    "podDisruptionBudget": PDB("PodDisruptionBudget (only when gateway.replicaCount > 1)"),
    "resources": resources("The gateway's resources"),
    "podSecurityContext": POD_SC,
    "containerSecurityContext": CONTAINER_SC,
    "probes": obj("Probe timing", {"liveness": PROBE("/healthz"), "readiness": PROBE("/readyz")}),
    "metrics": METRICS("The gateway's /metrics, /healthz, /readyz (--health-listen)"),
    "podAnnotations": string_map("Pod annotations"),
    "podLabels": string_map("Pod labels"),
    "nodeSelector": string_map("Node selector"),
    "tolerations": free_array("Tolerations"),
    "affinity": AFFINITY,
    "topologySpreadConstraints": free_array("Topology spread constraints"),
    "priorityClassName": string("Priority class"),
    "extraArgs": {"type": "array", "items": {"type": "string", "pattern": "^--"},
                  "description": "Extra gateway flags (--flag=value)"},
    "extraEnv": EXTRA_ENV,
})

SCHEMA = obj("Values of the Osmosis chart (README.md documents each)", {
    "global": {"type": "object", "description": "Free for umbrella charts; not checked here"},
    "nameOverride": string("Chart name in resource names"),
    "fullnameOverride": string("Full name of every resource"),
    "replicaCount": integer("Operator replicas (leader election is always on)", minimum=1, maximum=10),
    "image": image("The operator image", pull_policy=True),
    "imagePullSecrets": {"type": "array", "description": "Pull secrets: [{name: ...}]",
                         "items": obj("A pull secret", {"name": string("Secret name", minLength=1)},
                                      required=["name"])},
    "serviceAccount": obj("The operator's ServiceAccount", {
        "create": boolean("Create it"),
        "name": string("Its name (empty: the full name)"),
        "annotations": string_map("Its annotations"),
    }),
    "rbac": obj("The operator's RBAC", {
        "create": boolean("Create Roles and bindings"),
        "scaleTargets": {**KINDS, "description": "Kinds whose scale subresource the operator may use"},
        "injectTargets": {**KINDS, "description": "Kinds the operator may patch to inject its sidecar"},
        "secretNamespaces": {"type": "array", "uniqueItems": True, "items": DNS_LABEL,
                             "description": "Cluster-wide mode: namespaces where Secrets may be read (empty: all, get only)"},
        "aggregateToDefaultRoles": boolean("Aggregate Channel rights into view/edit/admin"),
    }),
    "watchNamespaces": {"type": "array", "maxItems": 100, "uniqueItems": True, "items": DNS_LABEL,
                        "description": "Namespaced mode: the namespaces whose Channels are served, "
                                       "one informer and one set of Roles each (empty: all)"},
    "leaderElection": obj("Leader election (always on)", {
        "leaseName": string("Lease name (empty: the full name)"),
        "leaseDuration": duration("How long a Lease holds without renewal"),
        "renewDeadline": duration("How long the leader tries to renew"),
        "retryPeriod": duration("How often to try"),
    }),
    "logLevel": string("Operator log level", enum=["debug", "info", "warn", "error"]),
    "nats": obj("How the operator reaches NATS", {
        "urls": {"type": "array", "minItems": 1, "maxItems": 16, "description": "NATS URLs",
                 "items": {"type": "string", "pattern": r"^(nats|tls|ws|wss)://[^,\s]+$"}},
        "tls": obj("NATS TLS", {
            "secretName": string("Secret with ca.crt (and tls.crt, tls.key)"),
            "clientCert": boolean("Present tls.crt/tls.key (mutual TLS)"),
        }),
        "auth": obj("NATS credentials", {
            "type": string("Kind of credentials", enum=["none", "creds", "token", "userPassword"]),
            "secretName": string("Secret holding them (release namespace)"),
        }),
    }),
    "operator": obj("Operator tuning", {
        "resyncPeriod": duration("How often each Channel is checked against NATS"),
        "workers": integer("Channels reconciled in parallel", minimum=1, maximum=64),
        "scalerWorkers": integer("Channels the autoscaler evaluates in parallel", minimum=1,
                                 maximum=64),
        "podDeletionCost": boolean("Before a scale-down, set controller.kubernetes.io/"
                                   "pod-deletion-cost on the target's pods from their reports so "
                                   "idle pods go first (adds pods patch to the RBAC)"),
        "scaleUpMaxStep": integer("Replicas added per scale-up at most (0: no limit)", minimum=0, maximum=10000),
        "scalingHeadroom": decimal("Capacity kept above the arrival rate", 1, 10,
                                   r"^(10(\.0+)?|[1-9](\.[0-9]+)?)$"),
        "scalingTolerance": decimal("Drain mode's tolerance band against flapping", 0, 0.9,
                                    r"^0(\.[0-8][0-9]*|\.90*)?$"),
        "idleWindowRelease": duration("Idle time after which the stabilization window stops "
                                      "holding replicas (0s: off)"),
        "scaleDownStepInterval": duration("Minimum time between scale-down steps"),
        "subjectGrants": {"type": "object", "description": "namespace: [subject patterns] it may use",
                          "propertyNames": DNS_LABEL,
                          "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}}},
    }),
    "sidecar": obj("The sidecar injected into worker pods", {
        "image": image("Its image"),
        "natsUrls": {"type": "array", "maxItems": 16, "description": "NATS URLs for sidecars (no credentials)",
                     "items": {"type": "string", "pattern": r"^(nats|tls|ws|wss)://[^,@\s]+$"}},
        "resources": resources("Its resources"),
    }),
    "crds": obj("The Channel CRD", {
        "install": boolean("Install and upgrade it with the chart"),
        "keep": boolean("Keep it on uninstall (helm.sh/resource-policy: keep)"),
    }),
    "podDisruptionBudget": obj("PodDisruptionBudget (only when replicaCount > 1)", {
        "enabled": boolean("Create it"),
        "minAvailable": {"description": "Pods that must stay", "anyOf": [
            {"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+%$"}]},
    }),
    "resources": resources("The operator's resources"),
    "podSecurityContext": POD_SC,
    "containerSecurityContext": CONTAINER_SC,
    "podAnnotations": string_map("Pod annotations"),
    "podLabels": string_map("Pod labels"),
    "nodeSelector": string_map("Node selector"),
    "tolerations": free_array("Tolerations"),
    "affinity": obj("Affinity", {"nodeAffinity": free_object("Node affinity"),
                                 "podAffinity": free_object("Pod affinity"),
                                 "podAntiAffinity": free_object("Pod anti-affinity")}),
    "topologySpreadConstraints": free_array("Topology spread constraints"),
    "priorityClassName": string("Priority class"),
    "extraArgs": {"type": "array", "items": {"type": "string", "pattern": "^--"},
                  "description": "Extra operator flags (--flag=value)"},
    "extraEnv": {"type": "array", "description": "Extra environment variables",
                 "items": {"type": "object", "required": ["name"],
                           "properties": {"name": string("Variable name", minLength=1)}}},
    "probes": obj("Probe timing", {"liveness": PROBE("/healthz"), "readiness": PROBE("/readyz")}),
    "metrics": METRICS("Metrics"),
    "gateway": GATEWAY,
    "test": obj("helm test", {
        "image": image("An image with the nats CLI"),
        "natsCommand": string("The nats CLI in that image", minLength=1),
    }),
})
SCHEMA = {"$schema": "https://json-schema.org/draft-07/schema#", **SCHEMA}


def main():
    text = json.dumps(SCHEMA, indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if OUT.read_text() != text:
            print(f"schema.py: {OUT.relative_to(ROOT)} is stale: run hack/chart/schema.py", file=sys.stderr)
            return 1
        print(f"schema.py: {OUT.relative_to(ROOT)} is up to date")
        return 0
    if sys.argv[1:]:
        print("usage: hack/chart/schema.py [--check]", file=sys.stderr)
        return 2
    OUT.write_text(text)
    print(f"schema.py: wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
