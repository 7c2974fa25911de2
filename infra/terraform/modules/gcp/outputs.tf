output "bucket_name" {
  description = "GCS bucket holding the backups."
  value       = google_storage_bucket.backups.name
}

output "function_name" {
  description = "Cloud Run function that creates the backup Jobs."
  value       = google_cloudfunctions2_function.dispatcher.name
}

output "function_uri" {
  description = "HTTPS endpoint of the function (needs an identity token with run.invoker)."
  value       = google_cloudfunctions2_function.dispatcher.service_config[0].uri
}

output "schedule_name" {
  description = "Cloud Scheduler job (edit its frequency in the console)."
  value       = google_cloud_scheduler_job.backup.name
}

output "function_service_account_email" {
  description = "Identity the function presents to GKE; bind the dispatcher Role to it as a User."
  value       = google_service_account.function.email
}

output "agent_service_account_email" {
  description = "Google service account the agent acts as through Workload Identity."
  value       = google_service_account.agent.email
}

output "agent_service_account_annotations" {
  description = "Annotations for the agent Kubernetes ServiceAccount (GKE Workload Identity)."
  value       = { "iam.gke.io/gcp-service-account" = google_service_account.agent.email }
}
