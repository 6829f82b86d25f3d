output "table_name" {
  description = "Results table name (BUCKETLENS_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "Results table ARN, for IAM policies."
  value       = aws_dynamodb_table.this.arn
}

output "label_table_name" {
  description = "Label index table name (BUCKETLENS_LABEL_TABLE)."
  value       = aws_dynamodb_table.label_index.name
}

output "label_table_arn" {
  description = "Label index table ARN, for IAM policies."
  value       = aws_dynamodb_table.label_index.arn
}

output "limiter_table_name" {
  description = "The shared Rekognition quota's table (BUCKETLENS_LIMITER_TABLE)."
  value       = aws_dynamodb_table.limiter.name
}

output "limiter_table_arn" {
  description = "The shared Rekognition quota's table ARN, for IAM policies."
  value       = aws_dynamodb_table.limiter.arn
}
