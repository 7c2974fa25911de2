output "bucket_name" {
  description = "Blob container holding the backups (the \"bucket\")."
  value       = azurerm_storage_container.backups.name
}

output "storage_account_name" {
  description = "Storage account of the backup container."
  value       = azurerm_storage_account.backups.name
}

output "function_name" {
  description = "Function App that creates the backup Jobs."
  value       = azurerm_linux_function_app.dispatcher.name
}

output "schedule_name" {
  description = "App setting holding the timer's NCRONTAB schedule (edit it in the portal)."
  value       = "BACKUP_SCHEDULE"
}

output "function_principal_id" {
  description = "Object id of the function's managed identity; bind the dispatcher Role to it as a User."
  value       = azurerm_linux_function_app.dispatcher.identity[0].principal_id
}

output "agent_client_id" {
  description = "Client id of the agent's user-assigned identity."
  value       = azurerm_user_assigned_identity.agent.client_id
}

output "agent_service_account_annotations" {
  description = "Annotations for the agent Kubernetes ServiceAccount (Azure Workload Identity)."
  value       = { "azure.workload.identity/client-id" = azurerm_user_assigned_identity.agent.client_id }
}
