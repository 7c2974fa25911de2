variable "namespace" {
  description = "Namespace of the MariaDB Service and its Secret; the agent Jobs run here too."
  type        = string
}

variable "create_namespace" {
  description = "Create the namespace. Usually false: it already holds the MariaDB cluster."
  type        = bool
  default     = false
}

variable "secret_name" {
  description = "The one Secret (holding the root password under MARIADB_HA_SECRET_KEY, default root-password) the agent may read."
  type        = string
}

variable "agent_service_account_name" {
  description = "ServiceAccount the agent Job runs as."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "agent_service_account_annotations" {
  description = "Workload-identity annotations for the agent ServiceAccount (eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account or azure.workload.identity/client-id); the cloud module's output."
  type        = map(string)
  default     = {}
}

variable "agent_service_account_labels" {
  description = "Extra labels for the agent ServiceAccount (Azure Workload Identity wants azure.workload.identity/use)."
  type        = map(string)
  default     = {}
}

variable "dispatcher_subjects" {
  description = "Who may create the backup Jobs: the cloud function's Kubernetes identity. AWS maps its role to a Group (EKS access entry), GKE sees the Google service account's email as a User, AKS the managed identity's object id as a User."
  type = list(object({
    kind = string
    name = string
  }))

  validation {
    condition     = alltrue([for s in var.dispatcher_subjects : contains(["User", "Group"], s.kind)])
    error_message = "Each dispatcher subject kind must be User or Group."
  }
}

variable "name" {
  description = "Name prefix for the Roles and RoleBindings."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "binlog_archiver_enabled" {
  description = "Run the binlog archiver (archive-binlogs --follow) for point-in-time recovery: a one-replica Deployment in the namespace. See docs/PITR.md for the server settings it needs."
  type        = bool
  default     = false
}

variable "agent_image" {
  description = "Agent image for the binlog archiver (the backup Jobs' image, pinned by digest or version). Required when binlog_archiver_enabled."
  type        = string
  default     = ""
}

variable "mariadb_service_name" {
  description = "The MariaDB Service the archiver follows (and whose name forms the default key prefix), and whose pods physical backups read. Required when binlog_archiver_enabled or physical_backups_enabled."
  type        = string
  default     = ""
}

variable "binlog_archiver_env" {
  description = "Agent environment for the archiver: the backups' destination (CLOUD_PROVIDER and bucket, or BACKUP_URL; BACKUP_PREFIX) and BINLOG_* settings (BINLOG_UPLOAD_SECONDS, BINLOG_SOURCES, or BINLOG_SOURCES_SERVICE: then the agent's Role may also get that Service and list pods). Never a password: it comes from the Secret."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.binlog_archiver_env) : !can(regex("PASSWORD", k))])
    error_message = "binlog_archiver_env must not carry a password: the archiver reads the Secret."
  }
}

variable "drill_enabled" {
  description = "Run a restore drill on drill_schedule: a CronJob restoring the newest backup into a throwaway MariaDB server beside the agent (docs/OPERATIONS.md, Restore drills). Needs Kubernetes 1.29+ (native sidecar)."
  type        = bool
  default     = false
}

variable "drill_schedule" {
  description = "Cron schedule (UTC) of the restore drill."
  type        = string
  default     = "0 6 * * 0"
}

variable "drill_server_image" {
  description = "The MariaDB server image the drill restores into: the image (and version) production runs, pinned by digest or version."
  type        = string
  default     = ""
}

variable "drill_datadir_size_limit" {
  description = "emptyDir size for the drill server's datadir, in Gi (e.g. 20Gi): the restored data plus InnoDB's logs."
  type        = string
  default     = "20Gi"

  validation {
    condition     = can(regex("^[0-9]+Gi$", var.drill_datadir_size_limit))
    error_message = "drill_datadir_size_limit must be a whole number of Gi, such as 20Gi."
  }
}

variable "drill_recovery_target_seconds" {
  description = "Target recovery time in seconds, published beside each drill's measured restore time (alert MariaDBRecoveryTimeAboveTarget). Null: no target."
  type        = number
  default     = null
}

variable "drill_env" {
  description = "Agent environment for the drill: the backups' destination (CLOUD_PROVIDER and bucket, or BACKUP_URL; BACKUP_PREFIX), BACKUP_METRICS_PUSHGATEWAY, BACKUP_NOTIFY_URL. Never a password: the drill needs none."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.drill_env) : !can(regex("PASSWORD|SECRET", k))])
    error_message = "drill_env must not carry a password or a Secret name: the drill never reads production credentials."
  }
}

variable "physical_backups_enabled" {
  description = "Let the dispatcher create physical backup Jobs (BACKUP_METHOD=physical in its environment, docs/PHYSICAL-K8S.md): adds to the dispatcher's Role: get mariadb_service_name, list pods, get PVCs and get mariadb-operator MariaDB objects."
  type        = bool
  default     = false
}
