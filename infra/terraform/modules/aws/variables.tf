variable "name" {
  description = "Name prefix for every resource this module creates (function, roles, schedule, queue)."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "bucket_name" {
  description = "Name of the S3 bucket the backups go to (created here)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket, the queue, the logs and the schedule. Null: AWS-managed SSE-S3/SQS encryption."
  type        = string
  default     = null
}

variable "backup_prefix" {
  description = "Key prefix the agent may write under; the agent's default prefix starts with mariadb-ha-backup/."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "expire_after_days" {
  description = "Lifecycle: delete backup objects this many days after they were written (a backstop behind the agent's own retention)."
  type        = number
  default     = 35
}

variable "noncurrent_expire_after_days" {
  description = "Lifecycle: keep overwritten or deleted versions this many days (recovery window for accidental deletes)."
  type        = number
  default     = 7
}

variable "abort_incomplete_multipart_after_days" {
  description = "Lifecycle: abort multipart uploads left by a killed agent after this many days."
  type        = number
  default     = 1
}

variable "function_zip_path" {
  description = "Path of the packaged Lambda zip built by `make package` (dist/functions/aws.zip)."
  type        = string
}

variable "function_timeout_seconds" {
  description = "Lambda timeout. Dispatch is a few Kubernetes API calls per target; 60 s leaves room for a slow API server."
  type        = number
  default     = 60
}

variable "function_memory_mb" {
  description = "Lambda memory. 256 MB keeps cold starts of the kubernetes client short."
  type        = number
  default     = 256
}

variable "function_reserved_concurrency" {
  description = "Reserved concurrency: one schedule needs one run at a time; 2 leaves room for a manual test invocation."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group."
  type        = number
  default     = 365
}

variable "subnet_ids" {
  description = "Subnets to attach the Lambda to when the EKS API endpoint is private. Empty: no VPC attachment."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the Lambda when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression, e.g. cron(0 4 * * ? *). Later console edits are kept (ignored by Terraform)."
  type        = string
  default     = "cron(0 4 * * ? *)"
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule expression is evaluated in."
  type        = string
  default     = "UTC"
}

variable "schedule_retry_attempts" {
  description = "How often EventBridge Scheduler retries a failed invocation. Safe: Job names come from the scheduled time, so a retry gets 409 instead of a second backup."
  type        = number
  default     = 3
}

variable "schedule_max_event_age_seconds" {
  description = "Give up retrying an invocation after this long (then it goes to the dead-letter queue)."
  type        = number
  default     = 3600
}

variable "eks_cluster_name" {
  description = "Name of the EKS cluster running MariaDB."
  type        = string
}

variable "eks_cluster_endpoint" {
  description = "HTTPS endpoint of the EKS API server, passed to the function."
  type        = string
}

variable "eks_cluster_ca_data" {
  description = "Base64 PEM CA bundle of the EKS API server (cluster certificate_authority[0].data), passed to the function."
  type        = string
}

variable "kubernetes_group" {
  description = "Kubernetes group the function's role is mapped to by the EKS access entry; the kubernetes module binds the dispatcher Role to it."
  type        = string
  default     = "mariadb-ha-backup-dispatchers"
}

variable "agent_identity" {
  description = "How the agent pod gets AWS credentials: pod_identity (EKS Pod Identity agent add-on) or irsa (IAM roles for service accounts)."
  type        = string
  default     = "pod_identity"

  validation {
    condition     = contains(["pod_identity", "irsa"], var.agent_identity)
    error_message = "agent_identity must be pod_identity or irsa."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (irsa only)."
  type        = string
  default     = null
}

variable "oidc_issuer_url" {
  description = "The cluster's OIDC issuer URL, https://oidc.eks.<region>.amazonaws.com/id/<id> (irsa only)."
  type        = string
  default     = null
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
  description = "ServiceAccount the agent Job runs as (must match the kubernetes module)."
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

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "object_lock_enabled" {
  description = "Create the bucket with S3 Object Lock so the agent can retain backups (BACKUP_LOCK_DAYS). Only possible at bucket creation: changing it replaces the bucket."
  type        = bool
  default     = false
}

variable "object_lock_default_days" {
  description = "With object_lock_enabled: a default retention for every new object version, in days (0: none; the agent still retains its own objects for BACKUP_LOCK_DAYS)."
  type        = number
  default     = 0
}

variable "object_lock_mode" {
  description = "Mode of the default retention: GOVERNANCE (s3:BypassGovernanceRetention can lift it) or COMPLIANCE (nobody can, not even the account root)."
  type        = string
  default     = "GOVERNANCE"
  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}
