output "job_queue_arn" {
  description = "ARN of the job queue the submitter submits to (BUCKETLENS_JOB_QUEUE)."
  value       = aws_batch_job_queue.this.arn
}

output "job_queue_name" {
  description = "Name of the job queue."
  value       = aws_batch_job_queue.this.name
}

output "job_definition_arn" {
  description = "ARN (with revision) of the worker job definition (BUCKETLENS_JOB_DEFINITION)."
  value       = aws_batch_job_definition.this.arn
}

output "job_definition_arn_prefix" {
  description = "ARN of the worker job definition without revision, for IAM."
  value       = aws_batch_job_definition.this.arn_prefix
}

output "job_definition_name" {
  description = "Name of the worker job definition."
  value       = aws_batch_job_definition.this.name
}

output "compute_environment_arn" {
  description = "ARN of the managed compute environment."
  value       = aws_batch_compute_environment.this.arn
}

output "job_role_arn" {
  description = "ARN of the role the worker code runs as."
  value       = aws_iam_role.job.arn
}

output "job_role_name" {
  description = "Name of the role the worker code runs as."
  value       = aws_iam_role.job.name
}

output "log_group_name" {
  description = "CloudWatch log group of the workers."
  value       = aws_cloudwatch_log_group.this.name
}

output "gpu_job_queue_arn" {
  description = "ARN of the GPU job queue (the submitter's BUCKETLENS_GPU_JOB_QUEUE); null without gpu."
  value       = var.gpu ? aws_batch_job_queue.gpu[0].arn : null
}

output "gpu_job_definition_arn" {
  description = "ARN (with revision) of the GPU job definition (BUCKETLENS_GPU_JOB_DEFINITION); null without gpu."
  value       = var.gpu ? aws_batch_job_definition.gpu[0].arn : null
}

output "gpu_job_definition_arn_prefix" {
  description = "ARN of the GPU job definition without revision, for IAM; null without gpu."
  value       = var.gpu ? aws_batch_job_definition.gpu[0].arn_prefix : null
}
