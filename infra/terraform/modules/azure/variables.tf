variable "name" {
  description = "Name prefix for the function app, plan and identities."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "resource_group_name" {
  description = "Existing resource group for everything this module creates."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "storage_account_name" {
  description = "Name of the storage account for the backups (3-24 lowercase letters and digits, globally unique)."
  type        = string
}

variable "storage_replication_type" {
  description = "Replication of the backup storage account. GRS keeps a copy in the paired region."
  type        = string
  default     = "GRS"
}

variable "container_name" {
  description = "Blob container the backups go to (AZURE_STORAGE_CONTAINER)."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "backup_prefix" {
  description = "Blob name prefix of the backups; the agent's default prefix starts with mariadb-ha-backup/."
  type        = string
  default     = "mariadb-ha-backup"
}

variable "expire_after_days" {
  description = "Management policy: delete backup blobs this many days after they were written (a backstop behind the agent's own retention)."
  type        = number
  default     = 35
}

variable "noncurrent_expire_after_days" {
  description = "Management policy and soft delete: keep previous versions and deleted blobs this many days."
  type        = number
  default     = 7
}

variable "function_storage_account_name" {
  description = "Name of the storage account the Functions host needs for itself (leases, keys), kept apart from the backups."
  type        = string
}

variable "function_zip_path" {
  description = "Path of the packaged function app built by `make package` (dist/functions/azure.zip)."
  type        = string
}

variable "service_plan_sku" {
  description = "App Service plan SKU. B1 (dedicated, Always On) runs timers reliably and supports run-from-package zips."
  type        = string
  default     = "B1"
}

variable "backup_schedule" {
  description = "Initial NCRONTAB (6 fields, seconds first) for the timer, stored in the BACKUP_SCHEDULE app setting. Edit it in the portal afterwards: Terraform ignores later changes."
  type        = string
  default     = "0 0 4 * * *"
}

variable "aks_host" {
  description = "HTTPS URL of the AKS API server (kube_config[0].host), passed to the function."
  type        = string
}

variable "aks_ca_data" {
  description = "Base64 PEM CA of the AKS API server (kube_config[0].cluster_ca_certificate), passed to the function."
  type        = string
}

variable "aks_oidc_issuer_url" {
  description = "OIDC issuer of the AKS cluster (oidc_issuer_url; workload identity must be enabled)."
  type        = string
}

variable "aks_cluster_id" {
  description = "Resource id of the AKS cluster; used only when aks_azure_rbac is true."
  type        = string
  default     = null
}

variable "aks_azure_rbac" {
  description = "The cluster authorizes with Azure RBAC for Kubernetes: also grant the function a custom role limited to reading and writing Jobs in the namespace. False: Kubernetes RBAC (the kubernetes module's RoleBinding) alone decides."
  type        = bool
  default     = false
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
  description = "Extra app settings (e.g. BACKUP_FORMAT, BACKUP_KEEP_LAST); passed on to the Jobs by the dispatcher."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "object_lock_enabled" {
  description = "Create the storage account with version-level immutability so the agent can retain backups (BACKUP_LOCK_DAYS). Only possible at account creation."
  type        = bool
  default     = false
}

variable "object_lock_default_days" {
  description = "With object_lock_enabled: the account's default immutability period for every new blob version, in days (Azure requires at least 1)."
  type        = number
  default     = 1
  validation {
    condition     = var.object_lock_default_days >= 1
    error_message = "object_lock_default_days must be at least 1."
  }
}
