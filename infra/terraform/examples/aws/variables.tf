variable "region" {
  description = "AWS region of the EKS cluster, bucket and function."
  type        = string
}

variable "eks_cluster_name" {
  description = "Existing EKS cluster running the MariaDB HA cluster."
  type        = string
}

variable "bucket_name" {
  description = "Name for the new S3 backup bucket (globally unique)."
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
  default     = "../../../../dist/functions/aws.zip"
}

variable "schedule_expression" {
  description = "Initial schedule (EventBridge Scheduler syntax); change it in the console later."
  type        = string
  default     = "cron(0 4 * * ? *)"
}

variable "agent_identity" {
  description = "pod_identity (needs the eks-pod-identity-agent add-on) or irsa."
  type        = string
  default     = "pod_identity"
}
