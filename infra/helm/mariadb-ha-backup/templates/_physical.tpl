{{/*
backup.method=physical: the dispatcher CronJob's labels and the settings it passes to `dispatch`
(shared/k8s/job_settings.py and physical_job.py read them, as they do on a cloud function).
*/}}

{{/* Not the backup's component: the dispatcher's overlap guard lists backup Jobs, never its own. */}}
{{- define "mhb.dispatcherLabels" -}}
{{- include "mhb.targetLabels" (dict "root" . "component" "dispatcher") }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Everything the dispatcher builds the backup Job from, after mhb.env's target and destination. */}}
{{- define "mhb.dispatcherEnv" -}}
{{- $v := .Values -}}
{{- $r := $v.resources -}}
{{- $pairs := list
  (list "AGENT_IMAGE" (include "mhb.image" .))
  (list "PHYSICAL_PREFERRED_PODS" (join "," $v.physical.preferredPods))
  (list "PHYSICAL_SERVER_CONTAINER" $v.physical.serverContainer)
  (list "PHYSICAL_BACKUP_IMAGE" $v.physical.image)
  (list "PHYSICAL_RUN_AS_USER" $v.physical.runAsUser)
  (list "AGENT_SERVICE_ACCOUNT" $v.serviceAccount.name)
  (list "JOB_BACKOFF_LIMIT" $v.job.backoffLimit)
  (list "JOB_ACTIVE_DEADLINE_SECONDS" $v.job.activeDeadlineSeconds)
  (list "JOB_TTL_SECONDS_AFTER_FINISHED" $v.job.ttlSecondsAfterFinished)
  (list "JOB_SPOOL_SIZE_LIMIT" $v.job.spoolSizeLimit)
  (list "JOB_TMP_SIZE_LIMIT" $v.job.tmpSizeLimit)
  (list "JOB_RUN_AS_USER" $v.job.runAsUser)
  (list "JOB_CPU_REQUEST" $r.requests.cpu)
  (list "JOB_CPU_LIMIT" $r.limits.cpu)
  (list "JOB_MEMORY_REQUEST" $r.requests.memory)
  (list "JOB_MEMORY_LIMIT" $r.limits.memory)
  (list "JOB_EPHEMERAL_STORAGE_REQUEST" (index $r.requests "ephemeral-storage"))
  (list "JOB_EPHEMERAL_STORAGE_LIMIT" (index $r.limits "ephemeral-storage"))
-}}
{{- range $pairs }}
{{- $value := index . 1 }}
{{- if not (kindIs "invalid" $value) }}{{ if ne (toString $value) "" }}
- name: {{ index . 0 }}
  value: {{ toString $value | quote }}
{{- end }}{{ end }}
{{- end }}
{{- end -}}
