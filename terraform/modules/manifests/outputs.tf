output "bucket_name" {
  description = "Manifests bucket name (BUCKETLENS_MANIFESTS_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "Manifests bucket ARN, for IAM policies."
  value       = aws_s3_bucket.this.arn
}

output "versioned_bucket_name" {
  description = "The bucket's name once its versioning is on: what stores objects whose version is pinned (the submitter's package) waits for it."
  value       = aws_s3_bucket_versioning.this.bucket
}

output "manifests_prefix" {
  description = "Key prefix for manifests (BUCKETLENS_MANIFESTS_PREFIX)."
  value       = var.manifests_prefix
}

output "runs_uri" {
  description = "Where workers write run summaries (BUCKETLENS_RESULTS_URI)."
  value       = "s3://${aws_s3_bucket.this.id}/${var.runs_prefix}"
}

output "runs_prefix" {
  description = "Key prefix for run summaries."
  value       = var.runs_prefix
}
