{{/* The chart's name, at most 63 characters. */}}
{{- define "mloe-worker.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's prefix for every object: the release name, unless it already holds the chart's name. */}}
{{- define "mloe-worker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "mloe-worker.labels" -}}
app.kubernetes.io/name: {{ include "mloe-worker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The service account the pods run as. */}}
{{- define "mloe-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mloe-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference. */}}
{{- define "mloe-worker.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Environment shared by workers and the codec server: Temporal, encryption. */}}
{{- define "mloe-worker.connectionEnv" -}}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- if .Values.temporal.tls.secretName }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: /etc/mloe/temporal-tls/tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: /etc/mloe/temporal-tls/tls.key
{{- if .Values.temporal.tls.serverCa }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: /etc/mloe/temporal-tls/ca.crt
{{- end }}
{{- end }}
{{- if .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKey.secretName }}
      key: {{ .Values.temporal.apiKey.key }}
{{- end }}
{{- if .Values.encryption.keysSecret }}
- name: MLOE_CODEC_KEYS
  value: dir:/etc/mloe/codec-keys
{{- if .Values.encryption.currentKeyId }}
- name: MLOE_CODEC_KEY_ID
  value: {{ .Values.encryption.currentKeyId | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volume mounts shared by workers and the codec server. */}}
{{- define "mloe-worker.secretMounts" -}}
{{- if .Values.temporal.tls.secretName }}
- name: temporal-tls
  mountPath: /etc/mloe/temporal-tls
  readOnly: true
{{- end }}
{{- if .Values.encryption.keysSecret }}
- name: codec-keys
  mountPath: /etc/mloe/codec-keys
  readOnly: true
{{- end }}
{{- end -}}

{{/* Volumes shared by workers and the codec server. */}}
{{- define "mloe-worker.secretVolumes" -}}
{{- if .Values.temporal.tls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.secretName }}
    defaultMode: 288 # 0440
{{- end }}
{{- if .Values.encryption.keysSecret }}
- name: codec-keys
  secret:
    secretName: {{ .Values.encryption.keysSecret }}
    defaultMode: 288 # 0440
{{- end }}
{{- end -}}
