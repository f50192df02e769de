{{/* The chart name, overridable. */}}
{{- define "osmosis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* release-chart (or the release name when it already contains the chart name), 63 max. */}}
{{- define "osmosis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "osmosis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "osmosis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "osmosis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "osmosis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osmosis
{{- end -}}

{{- define "osmosis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "osmosis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "osmosis.leaseName" -}}
{{- default (include "osmosis.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* registry/repository:tag or @digest; call with (dict "image" .Values.x.image "root" $). */}}
{{- define "osmosis.image" -}}
{{- $repo := .image.repository -}}
{{- if .image.registry -}}{{- $repo = printf "%s/%s" .image.registry .image.repository -}}{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces whose Channels the operator serves: watchNamespaces, or none (cluster-wide). */}}
{{- define "osmosis.namespaced" -}}
{{- if .Values.watchNamespaces -}}true{{- end -}}
{{- end -}}

{{/* Where the helm test Channel lives: the watched namespace, else the release namespace. */}}
{{- define "osmosis.testNamespace" -}}
{{- if .Values.watchNamespaces -}}{{ first .Values.watchNamespaces }}{{- else -}}{{ .Release.Namespace }}{{- end -}}
{{- end -}}

{{/* The helm test Channel's name; also its pod's, ServiceAccount's and Role's prefix. */}}
{{- define "osmosis.testName" -}}
{{- printf "%s-test" (include "osmosis.fullname" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* What every container of the helm test pod shares: NATS settings as the nats CLI reads
them, and the restricted security context. */}}
{{- define "osmosis.testContainer" -}}
{{- $auth := .Values.nats.auth -}}
{{- $tls := .Values.nats.tls -}}
env:
  - name: HOME
    value: /home/test
  - name: NATS_URL
    value: {{ join "," .Values.nats.urls | quote }}
  {{- if $tls.secretName }}
  - name: NATS_CA
    value: /etc/osmosis/nats-tls/ca.crt
  {{- if $tls.clientCert }}
  - name: NATS_CERT
    value: /etc/osmosis/nats-tls/tls.crt
  - name: NATS_KEY
    value: /etc/osmosis/nats-tls/tls.key
  {{- end }}
  {{- end }}
  {{- if eq $auth.type "creds" }}
  - name: NATS_CREDS
    value: /etc/osmosis/nats-auth/creds
  {{- else if eq $auth.type "token" }}
  - name: NATS_TOKEN
    valueFrom:
      secretKeyRef: {name: {{ $auth.secretName }}, key: token}
  {{- else if eq $auth.type "userPassword" }}
  - name: NATS_USER
    valueFrom:
      secretKeyRef: {name: {{ $auth.secretName }}, key: user}
  - name: NATS_PASSWORD
    valueFrom:
      secretKeyRef: {name: {{ $auth.secretName }}, key: password}
  {{- end }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
resources:
  requests: {cpu: 10m, memory: 16Mi}
  limits: {memory: 64Mi}
volumeMounts:
  - name: home
    mountPath: /home/test
  {{- if $tls.secretName }}
  - name: nats-tls
    mountPath: /etc/osmosis/nats-tls
    readOnly: true
  {{- end }}
  {{- if eq $auth.type "creds" }}
  - name: nats-auth
    mountPath: /etc/osmosis/nats-auth
    readOnly: true
  {{- end }}
{{- end -}}

{{/* NATS settings shared by the operator and the gateway (nats.*): the same URLs, TLS files
and credentials, always by reference (files from Secret mounts, env from secretKeyRef), never
on the command line. natsCheck fails on settings that cannot work. */}}
{{- define "osmosis.natsCheck" -}}
{{- $auth := .Values.nats.auth -}}
{{- if and (ne $auth.type "none") (not $auth.secretName) -}}
{{- fail (printf "nats.auth.type is %q: set nats.auth.secretName to the Secret that holds it" $auth.type) -}}
{{- end -}}
{{- if and .Values.nats.tls.clientCert (not .Values.nats.tls.secretName) -}}
{{- fail "nats.tls.clientCert needs nats.tls.secretName (a Secret with ca.crt, tls.crt and tls.key)" -}}
{{- end -}}
{{- end -}}

{{- define "osmosis.natsArgs" -}}
- --nats-url={{ join "," .Values.nats.urls }}
{{- if .Values.nats.tls.secretName }}
- --nats-tls-ca=/etc/osmosis/nats-tls/ca.crt
{{- if .Values.nats.tls.clientCert }}
- --nats-tls-cert=/etc/osmosis/nats-tls/tls.crt
- --nats-tls-key=/etc/osmosis/nats-tls/tls.key
{{- end }}
{{- end }}
{{- if eq .Values.nats.auth.type "creds" }}
- --nats-creds=/etc/osmosis/nats-auth/creds
{{- end }}
{{- end -}}

{{- define "osmosis.natsEnv" -}}
{{- $auth := .Values.nats.auth -}}
{{- if eq $auth.type "token" }}
- name: OSMOSIS_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secretName }}
      key: token
{{- else if eq $auth.type "userPassword" }}
- name: OSMOSIS_NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secretName }}
      key: user
- name: OSMOSIS_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secretName }}
      key: password
{{- end }}
{{- end -}}

{{- define "osmosis.natsVolumeMounts" -}}
{{- if .Values.nats.tls.secretName }}
- name: nats-tls
  mountPath: /etc/osmosis/nats-tls
  readOnly: true
{{- end }}
{{- if eq .Values.nats.auth.type "creds" }}
- name: nats-auth
  mountPath: /etc/osmosis/nats-auth
  readOnly: true
{{- end }}
{{- end -}}

{{- define "osmosis.natsVolumes" -}}
{{- if .Values.nats.tls.secretName }}
- name: nats-tls
  secret:
    secretName: {{ .Values.nats.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- if eq .Values.nats.auth.type "creds" }}
- name: nats-auth
  secret:
    secretName: {{ .Values.nats.auth.secretName }}
    defaultMode: 0440
    items:
      - key: creds
        path: creds
{{- end }}
{{- end -}}

{{/* The gateway's names and labels: its own component, so no operator selector matches it. */}}
{{- define "osmosis.gateway.fullname" -}}
{{- printf "%s-gateway" (include "osmosis.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "osmosis.gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "osmosis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "osmosis.gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "osmosis.gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osmosis
{{- end -}}

{{- define "osmosis.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (include "osmosis.gateway.fullname" .) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- required "gateway.serviceAccount.name is required when gateway.serviceAccount.create is false" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the gateway's HMAC signing key, and the key in it. */}}
{{- define "osmosis.gateway.signingKeySecret" -}}
{{- default (printf "%s-signing-key" (include "osmosis.gateway.fullname" .)) .Values.gateway.signingKey.existingSecret -}}
{{- end -}}
