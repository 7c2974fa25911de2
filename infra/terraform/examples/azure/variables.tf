variable "subscription_id" {
  description = "Azure subscription of the AKS cluster and of everything created here."
  type        = string
}

variable "resource_group_name" {
  description = "Existing resource group for the new resources."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "aks_cluster_name" {
  description = "Existing AKS cluster (OIDC issuer and workload identity enabled)."
  type        = string
}

variable "aks_resource_group_name" {
  description = "Resource group of the AKS cluster."
  type        = string
}

variable "storage_account_name" {
  description = "Name for the new backup storage account (3-24 lowercase letters and digits)."
  type        = string
}

variable "function_storage_account_name" {
  description = "Name for the Functions host's own storage account (3-24 lowercase letters and digits)."
  type        = string
}

variable "namespace" {
  description = "Namespace of the MariaDB Service and its Secret."
  type        = string
  default     = "mariadb"
}

variable "service_name" {
  description = "MariaDB Service to back up."
  type        = string
  default     = "mariadb-ha"
}

variable "secret_name" {
  description = "Secret with key root-password."
  type        = string
  default     = "mariadb-ha"
}

variable "agent_image" {
  description = "Agent image built from infra/docker/Dockerfile, ideally pinned by digest."
  type        = string
}

variable "function_zip_path" {
  description = "Zip built by `make package` at the repository root."
  type        = string
  default     = "../../../../dist/functions/azure.zip"
}

variable "backup_schedule" {
  description = "Initial NCRONTAB schedule (seconds first); change the BACKUP_SCHEDULE app setting in the portal later."
  type        = string
  default     = "0 0 4 * * *"
}

variable "aks_azure_rbac" {
  description = "True when the cluster authorizes with Azure RBAC for Kubernetes instead of Kubernetes RBAC."
  type        = bool
  default     = false
}
