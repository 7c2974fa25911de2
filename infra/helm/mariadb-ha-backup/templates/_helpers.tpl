{{/*
Names and labels follow shared/k8s/job_spec.py so the CronJob's pods equal the dispatcher's Job pods.
*/}}
{{/* job_spec.cronjob_name: 52 characters at most (the controller appends 11), a long service name
shortened to a prefix plus 8 hex digits of its SHA-256 so two long names never collide. */}}
{{- define "mhb.cronjobName" -}}
{{- $service := .Values.mariadb.service -}}
{{- if le (len $service) 34 -}}
mariadb-ha-backup-{{ $service }}
{{- else -}}
mariadb-ha-backup-{{ trunc 25 $service | trimSuffix "-" }}-{{ sha256sum $service | trunc 8 }}
{{- end -}}
{{- end -}}

{{/* shared/k8s/archiver_spec.py archiver_name */}}
{{- define "mhb.archiverName" -}}
{{- printf "mariadb-ha-backup-binlogs-%s" .Values.mariadb.service | trunc 63 -}}
{{- end -}}

{{/* The archiver's BINLOG_* settings, sorted by name like build_archiver_deployment's binlog_env. */}}
{{- define "mhb.binlogEnv" -}}
{{- $p := .Values.pitr -}}
{{- $pairs := list -}}
{{- if not (kindIs "invalid" $p.serverId) }}{{ $pairs = append $pairs (list "BINLOG_SERVER_ID" $p.serverId) }}{{ end -}}
{{- if $p.sources }}{{ $pairs = append $pairs (list "BINLOG_SOURCES" $p.sources) }}{{ end -}}
{{- if $p.sourcesService }}{{ $pairs = append $pairs (list "BINLOG_SOURCES_SERVICE" $p.sourcesService) }}{{ end -}}
{{- if not (kindIs "invalid" $p.uploadSeconds) }}{{ $pairs = append $pairs (list "BINLOG_UPLOAD_SECONDS" $p.uploadSeconds) }}{{ end -}}
{{- toJson $pairs -}}
{{- end -}}

{{/* The labels the dispatcher puts on its Jobs and pods (target_labels); its overlap guard lists by them. */}}
{{- define "mhb.targetLabels" -}}
app.kubernetes.io/name: mariadb-ha-backup
app.kubernetes.io/component: {{ .component | default "backup" }}
app.kubernetes.io/instance: {{ .root.Values.mariadb.service }}
app.kubernetes.io/managed-by: mariadb-ha-backup
{{- end -}}

{{/* Labels on the chart's other objects. */}}
{{- define "mhb.labels" -}}
app.kubernetes.io/name: mariadb-ha-backup
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: mariadb-ha-backup
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "mhb.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* A binary quantity (Mi, Gi, Ti) in MiB. */}}
{{- define "mhb.mebibytes" -}}
{{- $n := regexFind "^[0-9]+" . | atoi -}}
{{- $unit := regexFind "[A-Za-z]+$" . -}}
{{- if eq $unit "Ti" }}{{ mul $n 1048576 }}{{ else if eq $unit "Gi" }}{{ mul $n 1024 }}{{ else }}{{ $n }}{{ end -}}
{{- end -}}

{{/* JobSettings.effective_ephemeral_storage_limit: both emptyDirs plus 1Gi of headroom, unless given. */}}
{{- define "mhb.ephemeralLimit" -}}
{{- $given := index .Values.resources.limits "ephemeral-storage" -}}
{{- if $given -}}
{{ $given }}
{{- else -}}
{{ add (include "mhb.mebibytes" .Values.job.spoolSizeLimit | atoi) (include "mhb.mebibytes" .Values.job.tmpSizeLimit | atoi) 1024 }}Mi
{{- end -}}
{{- end -}}

{{/*
The agent's environment, in the order the Job builder writes it: the target, the spool, then the
dispatcher's passthrough variables (AGENT_ENV_PASSTHROUGH) that are set.
*/}}
{{- define "mhb.env" -}}
{{- $v := .Values -}}
- name: CELL_DEFAULT_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: MARIADB_HA_SERVICE_NAME
  value: {{ $v.mariadb.service | quote }}
- name: MARIADB_HA_SECRET_NAME
  value: {{ $v.mariadb.existingSecret | quote }}
{{- if ne ($v.mariadb.secretKey | default "root-password") "root-password" }}
- name: MARIADB_HA_SECRET_KEY
  value: {{ $v.mariadb.secretKey | quote }}
{{- end }}
- name: BACKUP_TMPDIR
  value: /var/spool/mariadb-ha-backup
{{- include "mhb.passthroughEnv" . }}
{{- end -}}

{{/* The dispatcher's passthrough variables (AGENT_ENV_PASSTHROUGH) that are set, as env entries: the
backup pod's (mhb.env) and the drill pod's (templates/drill-cronjob.yaml) tail. */}}
{{- define "mhb.passthroughEnv" -}}
{{- $v := .Values -}}
{{- $pairs := list
  (list "CLOUD_PROVIDER" $v.storage.provider)
  (list "S3_BUCKET" (ternary $v.storage.s3.bucket "" (eq $v.storage.provider "aws")))
  (list "AWS_REGION" (ternary $v.storage.s3.region "" (eq $v.storage.provider "aws")))
  (list "GCS_BUCKET" (ternary $v.storage.gcs.bucket "" (eq $v.storage.provider "gcp")))
  (list "AZURE_STORAGE_CONTAINER" (ternary $v.storage.azure.container "" (eq $v.storage.provider "azure")))
  (list "AZURE_STORAGE_ACCOUNT" (ternary $v.storage.azure.account "" (eq $v.storage.provider "azure")))
  (list "BACKUP_URL" $v.storage.url)
  (list "BACKUP_PREFIX" $v.storage.prefix)
  (list "BACKUP_FORMAT" $v.backup.format)
  (list "BACKUP_DUMP_THREADS" $v.backup.dumpThreads)
  (list "BACKUP_METHOD" $v.backup.method)
  (list "BACKUP_FULL_EVERY" $v.backup.fullEvery)
  (list "BACKUP_COPY_THREADS" $v.backup.copyThreads)
  (list "BACKUP_KEEP_LAST" $v.retention.keepLast)
  (list "BACKUP_MAX_AGE_DAYS" $v.retention.maxAgeDays)
  (list "BACKUP_RETRY_SECONDS" $v.backup.retrySeconds)
  (list "BACKUP_RETRY_ATTEMPTS" $v.backup.retryAttempts)
  (list "BACKUP_METRICS_PUSHGATEWAY" $v.metrics.pushgateway)
  (list "BACKUP_NOTIFY_URL" $v.notifications.url)
  (list "BACKUP_ENCRYPT_RECIPIENTS" $v.encryption.recipients)
  (list "BACKUP_LOCK_DAYS" $v.objectLock.days)
  (list "BACKUP_LOCK_MODE" $v.objectLock.mode)
-}}
{{- range $pairs }}
{{- $value := index . 1 }}
{{- if not (kindIs "invalid" $value) }}{{ if ne (toString $value) "" }}
- name: {{ index . 0 }}
  value: {{ toString $value | quote }}
{{- end }}{{ end }}
{{- end }}
{{- end -}}

{{/*
The pod spec of build_pod_template. Called with (dict "root" $ "args" (list ...) "restartPolicy" "..." "resources" {...} "extraEnv" (list
(list NAME VALUE) ...)) so the binlog archiver Deployment runs the same hardened pod with other args,
as shared/k8s/archiver_spec.py does.
*/}}
{{- define "mhb.podSpec" -}}
{{- $v := .root.Values -}}
{{- $uid := int $v.job.runAsUser -}}
serviceAccountName: {{ $v.serviceAccount.name }}
restartPolicy: {{ .restartPolicy }}
enableServiceLinks: false
terminationGracePeriodSeconds: 60
securityContext:
  runAsNonRoot: true
  runAsUser: {{ $uid }}
  runAsGroup: {{ $uid }}
  fsGroup: {{ $uid }}
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: agent
    image: {{ include "mhb.image" .root | quote }}
    args: {{ toJson .args }}
    env:
      {{- include "mhb.env" .root | nindent 6 }}
      {{- range .extraEnv }}
      - name: {{ index . 0 }}
        value: {{ index . 1 | toString | quote }}
      {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities:
        drop: ["ALL"]
      seccompProfile:
        type: RuntimeDefault
    volumeMounts:
      - name: spool
        mountPath: /var/spool/mariadb-ha-backup
      - name: tmp
        mountPath: /tmp
volumes:
  - name: spool
    emptyDir:
      sizeLimit: {{ $v.job.spoolSizeLimit }}
  - name: tmp
    emptyDir:
      sizeLimit: {{ $v.job.tmpSizeLimit }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The backup container's resources, as JobSettings renders them. */}}
{{- define "mhb.backupResources" -}}
{{- $r := .Values.resources -}}
requests:
  cpu: {{ $r.requests.cpu | quote }}
  memory: {{ $r.requests.memory | quote }}
  ephemeral-storage: {{ index $r.requests "ephemeral-storage" | quote }}
limits:
  memory: {{ $r.limits.memory | quote }}
  ephemeral-storage: {{ include "mhb.ephemeralLimit" . | quote }}
  {{- if $r.limits.cpu }}
  cpu: {{ $r.limits.cpu | quote }}
  {{- end }}
{{- end -}}

{{/* AKS injects the federated token only into pods with this label (job_spec._workload_identity_labels). */}}
{{- define "mhb.podIdentityLabels" -}}
{{- if eq .Values.storage.provider "azure" -}}
azure.workload.identity/use: "true"
{{- end -}}
{{- end -}}

{{/* checkov renders charts without a namespace (so "default"); the chart always uses the release's. */}}
{{- define "mhb.namespaceSkip" -}}
checkov.io/skip0: "CKV_K8S_21=Everything goes in the release namespace (helm install -n NS); checkov renders without one"
{{- end -}}
