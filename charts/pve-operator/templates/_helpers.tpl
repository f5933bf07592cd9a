{{/* The chart name, for app.kubernetes.io/name. */}}
{{- define "pve-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's object name prefix: "pve-operator" for a release of that name.
Truncated to 40: the longest suffix appended to it is
"-controller-manager-metrics-service".
*/}}
{{- define "pve-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "pve-operator.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The recommended labels, on every object. config/default sets the same ones
(managed-by aside) through its kustomization's `labels:`.
*/}}
{{- define "pve-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pve-operator.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: pve-operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The Deployment's selector, also the Service's and the PDB's. A Deployment's
selector is immutable, so it holds only labels that never change for a
release: no version, no chart. config/default's is the same (instance
"pve-operator", the default release name).
*/}}
{{- define "pve-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pve-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pve-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-controller-manager" (include "pve-operator.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The replica count. "replicas" is the old name of replicaCount, still
accepted so existing values files keep working.
*/}}
{{- define "pve-operator.credentialsNamespace" -}}
{{ .Values.credentialsNamespace | default .Release.Namespace }}
{{- end -}}

{{- define "pve-operator.serviceAccountSubject" -}}
- kind: ServiceAccount
  name: {{ include "pve-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
