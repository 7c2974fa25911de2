output "bucket_name" {
  description = "Blob container holding the backups."
  value       = module.backup.bucket_name
}

output "storage_account_name" {
  description = "Storage account of the backup container."
  value       = module.backup.storage_account_name
}

output "function_name" {
  description = "Function App to call for a test run."
  value       = module.backup.function_name
}

output "schedule_name" {
  description = "App setting holding the timer schedule."
  value       = module.backup.schedule_name
}
