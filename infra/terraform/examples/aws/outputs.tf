output "bucket_name" {
  description = "S3 bucket holding the backups."
  value       = module.backup.bucket_name
}

output "function_name" {
  description = "Lambda to invoke for a test run."
  value       = module.backup.function_name
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule to edit in the console."
  value       = module.backup.schedule_name
}
