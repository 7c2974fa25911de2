output "namespace" {
  description = "Namespace holding the agent ServiceAccount, Roles and bindings."
  value       = local.namespace
}

output "agent_service_account_name" {
  description = "ServiceAccount the backup Jobs run as."
  value       = kubernetes_service_account_v1.agent.metadata[0].name
}

output "secret_reader_role_name" {
  description = "Role allowing get on the one MariaDB Secret."
  value       = kubernetes_role_v1.secret_reader.metadata[0].name
}

output "dispatcher_role_name" {
  description = "Role allowing create/get/list on Jobs (and, with physical_backups_enabled, the node lookup), bound to the function's identity."
  value       = kubernetes_role_v1.dispatcher.metadata[0].name
}

output "binlog_archiver_deployment_name" {
  description = "The binlog archiver Deployment (null unless binlog_archiver_enabled)."
  value       = var.binlog_archiver_enabled ? kubernetes_deployment_v1.binlog_archiver[0].metadata[0].name : null
}

