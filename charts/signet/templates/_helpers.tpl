{{/* The objects' name: <release>-signet, or the release name when it contains "signet". */}}
{{- define "signet.fullname" -}}
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

{{- define "signet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object: manifests/base's, then helm's own. */}}
{{- define "signet.labels" -}}
app.kubernetes.io/name: {{ include "signet.name" . }}
app.kubernetes.io/part-of: signet
{{ include "signet.helmLabels" . }}
{{- end -}}

{{/* The labels helm's own conventions add (tests/it/helm_chart.rs ignores exactly these). */}}
{{- define "signet.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The webhook pods, as Deployment, Service, PDB and NetworkPolicy select them. */}}
{{- define "signet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signet.name" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "signet.image" -}}
{{- $image := printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- $image = printf "%s@%s" $image .Values.image.digest -}}
{{- end -}}
{{- $image -}}
{{- end -}}

{{/* The Secret with tls.crt and tls.key. */}}
{{- define "signet.tlsSecret" -}}
{{- if eq .Values.certificates.source "existingSecret" -}}
{{- required "certificates.existingSecret.name: the Secret with tls.crt and tls.key" .Values.certificates.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "signet.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "signet.policiesConfigMap" -}}
{{- if eq .Values.policies.source "existingConfigMap" -}}
{{- required "policies.existingConfigMap: the ConfigMap with your policy files" .Values.policies.existingConfigMap -}}
{{- else -}}
{{- printf "%s-policies" (include "signet.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "signet.failurePolicy" -}}
{{- if .Values.webhook.failurePolicy -}}
{{- .Values.webhook.failurePolicy -}}
{{- else if eq .Values.mode "enforce" -}}
Fail
{{- else -}}
Ignore
{{- end -}}
{{- end -}}

{{- define "signet.eventsEnabled" -}}
{{- if and .Values.events.enabled (ne .Values.mode "dry-run") -}}true{{- end -}}
{{- end -}}

{{/* Where kube-apiserver calls Signet: the Service, or webhook.url. Argument: (list . path). */}}
{{- define "signet.clientConfig" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- if $root.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path | quote }}
{{- else }}
service:
  namespace: {{ $root.Release.Namespace }}
  name: {{ include "signet.fullname" $root }}
  path: {{ $path }}
  port: 443
{{- end }}
{{- end -}}

{{/*
Namespaces never reviewed: webhook.excludedNamespaces, the release namespace, and with
cert-manager certificates cert-manager's namespace: cert-manager renews Signet's certificate, so
reviewing its pods would let an outage of Signet block its own renewal.
*/}}
{{- define "signet.excludedNamespaces" -}}
{{- $names := concat (list .Release.Namespace) .Values.webhook.excludedNamespaces -}}
{{- if eq .Values.certificates.source "certManager" -}}
{{- $names = append $names .Values.certificates.certManager.namespace -}}
{{- end -}}
{{- $names | uniq | toJson -}}
{{- end -}}

{{/* Rules, namespaceSelector and objectSelector shared by both webhooks. */}}
{{- define "signet.webhookScope" -}}
rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources:
      - pods
      - pods/ephemeralcontainers
      - replicationcontrollers
      - podtemplates
    scope: Namespaced
  - apiGroups: ["apps"]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
    scope: Namespaced
  - apiGroups: ["batch"]
    apiVersions: ["v1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["jobs", "cronjobs"]
    scope: Namespaced
{{- if .Values.webhook.namespaceSelector }}
namespaceSelector:
  {{- toYaml .Values.webhook.namespaceSelector | nindent 2 }}
{{- else }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "signet.excludedNamespaces" . }}
    {{- if .Values.webhook.honourExcludeLabel }}
    - key: signet.dev/exclude
      operator: NotIn
      values: ["true"]
    {{- end }}
{{- end }}
{{- with .Values.webhook.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The probes' port and scheme: with clientAuth.caSecret the HTTPS port asks every caller for a
client certificate, which kubelet does not have, so probes go to the metrics port (plain HTTP,
/healthz and /readyz as on 8443).
*/}}
{{- define "signet.probePort" -}}
{{- if .Values.clientAuth.caSecret }}metrics{{ else }}https{{ end }}
{{- end }}

{{- define "signet.probeScheme" -}}
{{- if .Values.clientAuth.caSecret }}HTTP{{ else }}HTTPS{{ end }}
{{- end }}

{{/* A list of strings as CEL string literals, comma-separated: 'a', 'b'. */}}
{{- define "signet.celStrings" -}}
{{- $quoted := list -}}
{{- range . -}}
{{- $quoted = append $quoted (printf "'%s'" (. | replace "\\" "\\\\" | replace "'" "\\'")) -}}
{{- end -}}
{{- join ", " $quoted -}}
{{- end -}}
