output "ecr_repository_url" {
  description = "Push the worker image here."
  value       = module.bucketlens.ecr_repository_url
}

output "table_name" {
  description = "DynamoDB results table."
  value       = module.bucketlens.table_name
}

output "job_queue_arn" {
  description = "Batch job queue."
  value       = module.bucketlens.job_queue_arn
}

output "job_definition_name" {
  description = "Batch job definition name."
  value       = module.bucketlens.job_definition_name
}

output "events_queue_url" {
  description = "SQS queue of the images bucket's events."
  value       = module.bucketlens.events_queue_url
}
