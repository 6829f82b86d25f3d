output "domain_endpoint" {
  description = "https:// endpoint the worker and the submitter use (BUCKETLENS_OPENSEARCH_ENDPOINT)."
  value       = local.endpoint
}

output "domain_arn" {
  description = "ARN of the domain (null for a self-managed cluster)."
  value       = local.domain_arn
}

output "audit_log_policy" {
  description = "The CloudWatch Logs resource policy statements OpenSearch needs to publish audit logs (JSON; null without a created domain), for the deployment's one resource policy."
  value       = var.create_domain ? data.aws_iam_policy_document.logs[0].json : null
}

output "admin_role_arn" {
  description = "The domain's master user: the setup function's role (null when a master user was given or the cluster exists)."
  value       = one(aws_iam_role.admin[*].arn)
}
