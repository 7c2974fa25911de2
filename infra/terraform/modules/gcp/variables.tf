variable "project_id" {
  description = "Google Cloud project holding the bucket, function, schedule and the GKE cluster."
  type        = string
}

variable "region" {
  description = "Region of the function and the Cloud Scheduler job."
  type        = string
}

variable "name" {
  description = "Name prefix for the function, schedule and service accounts (service account ids are cut to 30 characters)."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "bucket_name" {
  description = "Name of the GCS bucket the backups go to (created here)."
  type        = string
}

variable "bucket_location" {
  description = "Location of the backup bucket (region, dual-region or multi-region)."
  type        = string
}

variable "kms_key_name" {
  description = "Cloud KMS key for the bucket. Null: Google-managed encryption."
  type        = string
  default     = null
}

variable "backup_prefix" {
  description = "Object prefix the agent may write under; the agent's default prefix starts with mariadb-ha-backup/."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "expire_after_days" {
  description = "Lifecycle: delete backup objects this many days after they were written (a backstop behind the agent's own retention)."
  type        = number
  default     = 35
}

variable "noncurrent_expire_after_days" {
  description = "Lifecycle: keep overwritten or deleted versions this many days."
  type        = number
  default     = 7
}

variable "abort_incomplete_multipart_after_days" {
  description = "Lifecycle: abort multipart (XML API) uploads left by a killed agent after this many days."
  type        = number
  default     = 1
}

variable "function_zip_path" {
  description = "Path of the packaged function source built by `make package` (dist/functions/gcp.zip)."
  type        = string
}

variable "function_ingress" {
  description = "Ingress of the function. ALLOW_INTERNAL_ONLY still admits Cloud Scheduler in the same project; ALLOW_ALL lets you call it from a workstation (IAM is still required)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.function_ingress)
    error_message = "function_ingress must be ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "function_timeout_seconds" {
  description = "Request timeout. Dispatch is a few Kubernetes API calls per target."
  type        = number
  default     = 60
}

variable "function_memory" {
  description = "Memory of the function instance."
  type        = string
  default     = "256M"
}

variable "function_max_instances" {
  description = "Maximum instances: one schedule needs one at a time; 2 leaves room for a manual run."
  type        = number
  default     = 2
}

variable "invoker_members" {
  description = "Extra principals allowed to invoke the function for test runs, e.g. [\"user:you@example.com\"]."
  type        = list(string)
  default     = []
}

variable "schedule" {
  description = "Cloud Scheduler cron expression. Later console edits are kept (ignored by Terraform)."
  type        = string
  default     = "0 4 * * *"
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule is evaluated in."
  type        = string
  default     = "Etc/UTC"
}

variable "schedule_retry_count" {
  description = "Retries of a failed invocation. Safe: Job names come from the scheduled time, so a retry gets 409."
  type        = number
  default     = 3
}

variable "gke_endpoint" {
  description = "Endpoint (IP or host, no scheme) of the GKE control plane, passed to the function."
  type        = string
}

variable "gke_ca_data" {
  description = "Base64 PEM CA of the GKE control plane (master_auth[0].cluster_ca_certificate), passed to the function."
  type        = string
}

variable "namespace" {
  description = "Namespace of the MariaDB Service and Secret, where the Jobs run (CELL_DEFAULT_NAMESPACE)."
  type        = string
}

variable "service_name" {
  description = "MariaDB Service to dump (MARIADB_HA_SERVICE_NAME)."
  type        = string
}

variable "secret_name" {
  description = "Secret holding key root-password (MARIADB_HA_SECRET_NAME)."
  type        = string
}

variable "agent_service_account_name" {
  description = "Kubernetes ServiceAccount the agent Job runs as (must match the kubernetes module)."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "agent_image" {
  description = "Container image of the agent (infra/docker/Dockerfile), pinned by digest in production."
  type        = string
}

variable "dispatch_targets" {
  description = "Optional fan-out: one Job per {namespace, service, secret}. Empty: the single target above."
  type = list(object({
    namespace = string
    service   = string
    secret    = string
  }))
  default = []
}

variable "extra_environment" {
  description = "Extra environment for the function (e.g. BACKUP_FORMAT, BACKUP_KEEP_LAST); passed on to the Jobs by the dispatcher."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels for every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "object_lock_enabled" {
  description = "Create the bucket with object retention enabled so the agent can retain backups (BACKUP_LOCK_DAYS). Only possible at bucket creation."
  type        = bool
  default     = false
}

variable "retention_policy_days" {
  description = "Bucket retention policy in days: no object can be deleted before it is this old (0: none). Keep it at or below the agent's retention (BACKUP_KEEP_LAST / BACKUP_MAX_AGE_DAYS) or prune will report kept backups."
  type        = number
  default     = 0
}
