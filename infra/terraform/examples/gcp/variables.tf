variable "project_id" {
  description = "Project of the GKE cluster (Workload Identity enabled) and of everything created here."
  type        = string
}

variable "region" {
  description = "Region of the function, the schedule and the bucket."
  type        = string
}

variable "gke_cluster_name" {
  description = "Existing GKE cluster running the MariaDB HA cluster."
  type        = string
}

variable "gke_cluster_location" {
  description = "Region or zone of the GKE cluster."
  type        = string
}

variable "bucket_name" {
  description = "Name for the new GCS backup bucket (globally unique)."
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
  default     = "../../../../dist/functions/gcp.zip"
}

variable "schedule" {
  description = "Initial cron schedule; change it in the console later."
  type        = string
  default     = "0 4 * * *"
}

variable "invoker_members" {
  description = "Principals allowed to invoke the function for test runs, e.g. [\"user:you@example.com\"]."
  type        = list(string)
  default     = []
}
