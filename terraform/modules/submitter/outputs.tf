output "function_arn" {
  description = "ARN of the submitter function; available once S3 may invoke it."
  value       = aws_lambda_function.this.arn

  depends_on = [aws_lambda_permission.inventory]
}

output "function_name" {
  description = "Name of the submitter function."
  value       = aws_lambda_function.this.function_name
}

output "role_arn" {
  description = "ARN of the submitter's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the submitter's execution role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "CloudWatch log group of the submitter."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_source_mapping_uuid" {
  description = "UUID of the queue-to-function event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "package" {
  description = "Where the deployed zip is kept in S3 (bucket, key, version): what any later apply deploys from."
  value = {
    bucket  = aws_s3_object.package.bucket
    key     = aws_s3_object.package.key
    version = aws_s3_object.package.version_id
  }
}

output "package_hash" {
  description = "SHA-256 over the zip's source files (the function's source_code_hash, base64-encoded)."
  value       = local.source_hash
}

output "event_source_mapping_arn" {
  description = "ARN of the queue-to-function event source mapping."
  value       = aws_lambda_event_source_mapping.this.arn
}

output "security_group_id" {
  description = "The function's security group in the VPC (null outside a VPC)."
  value       = one(aws_security_group.this[*].id)
}
