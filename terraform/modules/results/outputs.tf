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
  value       = aws_dynamodb_table.labels.name
}

output "label_table_arn" {
  description = "Label index table ARN, for IAM policies."
  value       = aws_dynamodb_table.labels.arn
}
