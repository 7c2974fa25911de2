{{/* shared/k8s/drill_spec.py drill_cronjob_name: job_spec.cronjob_name with the drill's prefix (52
characters at most; a long service name shortened to a prefix plus 8 hex digits of its SHA-256). */}}
{{- define "mhb.drillCronjobName" -}}
{{- $service := .Values.mariadb.service -}}
{{- if le (len $service) 35 -}}
mariadb-ha-drill-{{ $service }}
{{- else -}}
mariadb-ha-drill-{{ trunc 26 $service | trimSuffix "-" }}-{{ sha256sum $service | trunc 8 }}
{{- end -}}
{{- end -}}
