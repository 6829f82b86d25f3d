output "ecr_repository_url" {
  description = "Push the worker image here, tagged with image_tag."
  value       = module.ecr.repository_url
}

output "table_name" {
  description = "DynamoDB results table."
  value       = module.results.table_name
}

output "label_table_name" {
  description = "The label index table (BUCKETLENS_LABEL_TABLE): search by label without a scan."
  value       = module.results.label_table_name
}

output "manifests_bucket_name" {
  description = "Bucket for manifests and run summaries."
  value       = module.manifests.bucket_name
}

output "results_uri" {
  description = "Where run summaries are written (<uri>/<job id>/<index>.json)."
  value       = module.manifests.runs_uri
}

output "job_queue_arn" {
  description = "Batch job queue the jobs go to (the GPU queue with gpu = true)."
  value       = local.job_queue_arn
}

output "job_definition_arn" {
  description = "Batch job definition (with revision) the jobs run (the GPU one with gpu = true)."
  value       = local.job_definition_arn
}

output "job_definition_name" {
  description = "Batch job definition name (submit a manual backfill with it; the GPU one with gpu = true)."
  value       = var.gpu ? "${var.name}-gpu-worker" : module.batch.job_definition_name
}

output "worker_log_group_name" {
  description = "CloudWatch log group of the workers."
  value       = module.batch.log_group_name
}

output "events_queue_url" {
  description = "SQS queue receiving the images bucket's events."
  value       = module.triggers.queue_url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue of events that failed repeatedly."
  value       = module.triggers.dead_letter_queue_url
}

output "inventory_bucket_name" {
  description = "Bucket receiving S3 Inventory reports (null when disabled)."
  value       = module.triggers.inventory_bucket_name
}

output "submitter_function_name" {
  description = "Submitter Lambda function."
  value       = module.submitter.function_name
}

output "submitter_log_group_name" {
  description = "CloudWatch log group of the submitter."
  value       = module.submitter.log_group_name
}

output "limiter_table_name" {
  description = "The table through which every child shares the Rekognition quota."
  value       = module.results.limiter_table_name
}

output "submitter_environment" {
  description = "The submitter's environment (BUCKETLENS_* names and values), so `make backfill` runs the submitter CLI with the deployed settings."
  value       = local.submitter_environment
}

output "schedule_function_name" {
  description = "The Custom Labels scheduler function (null without enable_schedule); invoke it with {\"action\": \"start\"} or {\"action\": \"stop\"}."
  value       = var.enable_schedule ? module.schedule[0].function_name : null
}

output "search_endpoint" {
  description = "OpenSearch endpoint (null without enable_search)."
  value       = var.enable_search ? module.search[0].domain_endpoint : null
}

output "event_route" {
  description = "How the images bucket's events reach the submitter: eventbridge or notification."
  value       = module.triggers.event_route
}

output "bucket_eventbridge_step" {
  description = "The command that turns on the images bucket's EventBridge delivery, keeping its other notifications (null when Terraform did it or the route is notification). `make deploy` runs it."
  value       = module.triggers.bucket_eventbridge_step
}

output "region" {
  description = "The region this deployment is in (from terraform.tfvars); the Makefile's commands use it. Read through module.ecr, so that make deploy's first, targeted apply already stores it."
  value       = module.ecr.region
}

output "search_index" {
  description = "The OpenSearch index (null without enable_search); python -m job search-setup --terraform-dir reads it."
  value       = var.enable_search ? var.search_index : null
}

output "worker_role_arn" {
  description = "The workers' job role (mapped to OpenSearch's bucketlens_writer: python -m job search-setup)."
  value       = module.batch.job_role_arn
}

output "submitter_role_arn" {
  description = "The submitter's execution role (mapped to OpenSearch's bucketlens_deleter)."
  value       = module.submitter.role_arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard (null without enable_alarms); make status prints it."
  value       = var.enable_alarms ? module.monitoring[0].dashboard_url : null
}

output "alarm_topic_arn" {
  description = "The SNS topic of the alarms and of the failed-job reports (null without enable_alarms)."
  value       = var.enable_alarms ? module.monitoring[0].topic_arn : null
}

output "search_admin_role_arn" {
  description = "The created search domain's master user: the role of its setup function (null without enable_search, with search_master_user_arn, or with an existing cluster)."
  value       = var.enable_search ? module.search[0].admin_role_arn : null
}

output "prompts_uri" {
  description = "The prompt list of labeler = clip and of make relabel (embedding_model.prompts_uri): the jobs may read it; upload a changed list there, then make relabel. null without one."
  value       = try(var.embedding_model.prompts_uri, null)
}

output "search_environment" {
  description = "What search and report need to find images by meaning with the deployed model (BUCKETLENS_TABLE, BUCKETLENS_LABEL_TABLE, the embedding model's files, its vector bucket and transform), so `make search` runs with them. Only the tables without embedding_model."
  value = merge(
    { BUCKETLENS_TABLE = module.results.table_name, BUCKETLENS_LABEL_TABLE = module.results.label_table_name },
    { for k, v in local.embedding_environment : k => v if k != "BUCKETLENS_PROMPTS_URI" && k != "BUCKETLENS_VECTOR_KMS_KEY_ARN" },
  )
}
