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
  description = "The one Secret (key root-password) the agent may read."
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
