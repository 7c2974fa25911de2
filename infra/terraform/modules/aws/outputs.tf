output "bucket_name" {
  description = "S3 bucket holding the backups."
  value       = aws_s3_bucket.backups.bucket
}

output "function_name" {
  description = "Lambda function that creates the backup Jobs (invoke it to test)."
  value       = aws_lambda_function.dispatcher.function_name
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule (edit its expression in the console)."
  value       = aws_scheduler_schedule.backup.name
}

output "dead_letter_queue_url" {
  description = "SQS queue receiving invocations that failed after all retries."
  value       = aws_sqs_queue.dead_letter.url
}

output "function_role_arn" {
  description = "IAM role of the function, mapped to kubernetes_group by the EKS access entry."
  value       = aws_iam_role.function.arn
}

output "kubernetes_group" {
  description = "Kubernetes group the function authenticates as; bind the dispatcher Role to it."
  value       = var.kubernetes_group
}

output "agent_role_arn" {
  description = "IAM role the agent pod assumes (Pod Identity or IRSA)."
  value       = aws_iam_role.agent.arn
}

output "agent_service_account_annotations" {
  description = "Annotations for the agent ServiceAccount: the IRSA role ARN, or none for Pod Identity (the association does the mapping)."
  value       = var.agent_identity == "irsa" ? { "eks.amazonaws.com/role-arn" = aws_iam_role.agent.arn } : {}
}
