{{/* The name of every object: the release's, or release-chart when the release name lacks the chart's. */}}
{{- define "statssummary.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "statssummary.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "statssummary.labels" -}}
{{ include "statssummary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{/* The runtime's settings: runtime.* where set, else the type's runtimeDefaults. */}}
{{- define "statssummary.runtime" -}}
{{- $d := get .Values.runtimeDefaults .Values.runtime.type -}}
{{- if not $d -}}
{{- fail (printf "runtime.type %q: want one of %s" .Values.runtime.type (keys .Values.runtimeDefaults | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $socket := .Values.runtime.socket | default $d.socket -}}
{{- if not (isAbs $socket) -}}
{{- fail (printf "runtime.socket %q: want an absolute path to a unix socket" $socket) -}}
{{- end -}}
{{- $cgroup := .Values.runtime.cgroup | default $d.cgroup -}}
{{- if eq $cgroup "-" }}{{ $cgroup = "" }}{{ end -}}
{{- toYaml (dict "socket" $socket "socketDir" (dir $socket) "storageDir" (.Values.runtime.storageDir | default $d.storageDir) "cgroup" $cgroup) -}}
{{- end -}}
