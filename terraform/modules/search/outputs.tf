output "domain_endpoint" {
  description = "https:// endpoint the worker and the submitter use (BUCKETLENS_OPENSEARCH_ENDPOINT)."
  value       = local.endpoint
}

output "domain_arn" {
  description = "ARN of the domain (null for a self-managed cluster)."
  value       = local.domain_arn
}
