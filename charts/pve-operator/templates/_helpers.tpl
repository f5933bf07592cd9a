{{/* The release's object name prefix: "pve-operator" for a release of that name. */}}
{{- define "pve-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pve-operator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "pve-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pve-operator.serviceAccountName" -}}
{{ include "pve-operator.fullname" . }}-controller-manager
{{- end -}}

{{- define "pve-operator.credentialsNamespace" -}}
{{ .Values.credentialsNamespace | default .Release.Namespace }}
{{- end -}}

{{- define "pve-operator.serviceAccountSubject" -}}
- kind: ServiceAccount
  name: {{ include "pve-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
