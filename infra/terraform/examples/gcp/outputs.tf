output "bucket_name" {
  description = "GCS bucket holding the backups."
  value       = module.backup.bucket_name
}

output "function_name" {
  description = "Function to call for a test run."
  value       = module.backup.function_name
}

output "function_uri" {
  description = "HTTPS endpoint of the function."
  value       = module.backup.function_uri
}

output "schedule_name" {
  description = "Cloud Scheduler job to edit in the console."
  value       = module.backup.schedule_name
}
